//! The outbox on a full disk: a real size-limited tmpfs (mounting needs root; without it the test
//! says so and does nothing). A write that finds no space fails with the path and the fix named,
//! nothing stored before is lost or corrupted, and writes resume by themselves once space frees.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use roadeye::publish::{Class, Limits, Message, Outbox};

fn message(n: u64) -> Message {
    Message {
        class: Class::Event,
        topic: "roadeye/v1/t/cam/events/line_crossing".into(),
        payload: format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(300)).into_bytes(),
        created_ms: 1_796_000_000_000 + n,
        origin: None,
    }
}

/// A tmpfs of `kb` KiB mounted at `at`, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, kb: u32) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_writes_by_name_keeps_what_was_stored_and_resumes_when_space_frees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mnt = dir.path().join("tiny");
    let _fs = match Tmpfs::mount(&mnt, 512) {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs here ({why}); this test needs root");
            return;
        }
    };
    // Room that can be given back later.
    let filler = mnt.join("filler");
    std::fs::write(&filler, vec![0u8; 160 * 1024]).expect("filler");
    let path = mnt.join("outbox.redb");
    let limits = Limits {
        max_bytes: 1 << 30,
        max_age: Duration::from_secs(3600),
    };
    let mut outbox = Outbox::open(&path, limits).expect("open");
    let (mut stored, mut n) = (0u64, 0u64);
    let err = loop {
        let batch: Vec<Message> = (n..n + 20).map(message).collect();
        n += 20;
        match outbox.append(&batch) {
            Ok(_) => stored += 20,
            Err(e) => break e.to_string(),
        }
        assert!(n < 100_000, "the disk never filled");
    };
    assert!(stored > 0, "nothing fitted before the disk was full");
    assert!(
        err.contains(&path.display().to_string()) && err.contains("the disk has space"),
        "{err}"
    );
    // The failed batch left nothing half-written.
    assert_eq!(outbox.len(), stored);
    // Smaller writes go on while they fit (the store latches its I/O error, so each one after a
    // failure opens the file again), until not even one message fits.
    loop {
        match outbox.append(&[message(n)]) {
            Ok(_) => stored += 1,
            Err(_) => break,
        }
        n += 1;
        assert!(n < 100_000, "the disk never filled");
    }
    assert_eq!(outbox.len(), stored);
    // Space freed: the next write goes through, on the same outbox.
    std::fs::remove_file(&filler).expect("free space");
    let batch: Vec<Message> = (n..n + 20).map(message).collect();
    outbox
        .append(&batch)
        .expect("writes resume once space frees");
    assert_eq!(outbox.len(), stored + 20);
    drop(outbox);
    // Opened again (its integrity checked): every message stored, in order, intact.
    let outbox = Outbox::open(&path, limits).expect("reopen");
    let pending = outbox.pending(None, usize::MAX).expect("pending");
    assert_eq!(pending.len() as u64, stored + 20);
    let numbers: Vec<u64> = pending
        .iter()
        .map(|s| {
            let v: serde_json::Value = serde_json::from_slice(&s.message.payload).expect("json");
            v["n"].as_u64().expect("n")
        })
        .collect();
    // In order, each once; the numbers of the refused writes are not among them.
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert_eq!(numbers.last(), Some(&(n + 19)));
    println!(
        "{stored} message(s) stored before the 512 KiB disk was full; the write after freeing 160 KiB went through"
    );
}
