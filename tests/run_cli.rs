//! `roadeye run` as a technician starts it: the real binary on the demo config, stopped by SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the child if the test ends early, so a failure never leaves an agent running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn run_streams_logs_tracks_and_stops_cleanly_on_sigterm() {
    let child = common::roadeye()
        .args([
            "run",
            "--config",
            "configs/demo.toml",
            "--summary-every",
            "1",
        ])
        .env("ROADEYE_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("roadeye run");
    let mut child = KillOnDrop(child);
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    // Wait (up to 90 s) for a summary line that shows a tracked person.
    let tracked = loop {
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(line) => {
                let hit = line.contains("plaza: streaming") && line.contains(" person");
                log.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let pid = child.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    // A clean shutdown takes well under a second; 30 s means it hangs.
    let mut status = None;
    for _ in 0..300 {
        status = child.0.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = status.expect("roadeye run did not stop within 30 s of SIGTERM");
    log.extend(rx.try_iter());
    let text = log.join("\n");
    assert!(tracked, "no tracked person in the log:\n{text}");
    assert!(status.success(), "exit {status:?}:\n{text}");
    assert!(text.contains("stopping (SIGTERM)"), "{text}");
    assert!(
        text.contains("track(s) in all"),
        "final summary missing:\n{text}"
    );
}
