//! The outbox on real files.

use super::*;

fn limits(max_bytes: u64) -> Limits {
    Limits {
        max_bytes,
        max_age: Duration::from_secs(3600),
    }
}

fn msg(class: Class, n: u64) -> Message {
    Message {
        class,
        topic: format!(
            "roadeye/v1/site/cam/{}",
            if class == Class::Stats {
                "stats"
            } else {
                "events/line_crossing"
            }
        ),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        created_ms: 1_000 * n,
        origin: None,
    }
}

fn payloads(s: &[Stored]) -> Vec<String> {
    s.iter()
        .map(|m| String::from_utf8(m.message.payload.clone()).expect("utf8"))
        .collect()
}

#[test]
fn what_is_not_acknowledged_is_pending_again_after_reopening_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("outbox.redb");
    let mut o = Outbox::open(&path, limits(1 << 20)).expect("open");
    let batch: Vec<Message> = (1..=5).map(|n| msg(Class::Event, n)).collect();
    let (seqs, dropped) = o.append(&batch).expect("append");
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert!(dropped.is_empty());
    let first = o.pending(None, 2).expect("pending");
    assert_eq!(payloads(&first), [r#"{"n":1}"#, r#"{"n":2}"#]);
    assert_eq!(first[0].message, batch[0]);
    let after = o.pending(Some(2), 10).expect("pending");
    assert_eq!(after.iter().map(|s| s.seq).collect::<Vec<_>>(), [3, 4, 5]);
    o.ack(&[1, 3]).expect("ack");
    assert_eq!(o.len(), 3);
    drop(o);
    // Reopened (after a crash): 2, 4, 5 are pending, in order, and new messages follow them.
    let mut o = Outbox::open(&path, limits(1 << 20)).expect("reopen");
    assert_eq!(o.len(), 3);
    let pending = o.pending(None, 10).expect("pending");
    assert_eq!(pending.iter().map(|s| s.seq).collect::<Vec<_>>(), [2, 4, 5]);
    let (seqs, _) = o.append(&[msg(Class::Stats, 6)]).expect("append");
    assert_eq!(seqs, [6]);
    assert_eq!(
        o.bytes(),
        pending
            .iter()
            .map(|s| s.message.encoded_len() as u64)
            .sum::<u64>()
            + msg(Class::Stats, 6).encoded_len() as u64
    );
}

#[test]
fn when_full_statistics_go_first_then_the_oldest_events_and_drops_are_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("outbox.redb");
    let size = msg(Class::Event, 1).encoded_len() as u64;
    let mut o = Outbox::open(&path, limits(size * 4)).expect("open");
    // e1 s2 e3 s4 fill it; e5 and e6 push out s2 and s4; e7 pushes out e1.
    for (n, class) in [
        (1, Class::Event),
        (2, Class::Stats),
        (3, Class::Event),
        (4, Class::Stats),
    ] {
        o.append(&[msg(class, n)]).expect("append");
    }
    let (_, d) = o
        .append(&[msg(Class::Event, 5), msg(Class::Event, 6)])
        .expect("append");
    assert_eq!(
        d,
        Dropped {
            events: 0,
            stats: 2
        }
    );
    let (_, d) = o.append(&[msg(Class::Event, 7)]).expect("append");
    assert_eq!(
        d,
        Dropped {
            events: 1,
            stats: 0
        }
    );
    let left = o.pending(None, 10).expect("pending");
    assert_eq!(
        payloads(&left),
        [r#"{"n":3}"#, r#"{"n":5}"#, r#"{"n":6}"#, r#"{"n":7}"#]
    );
    assert!(o.bytes() <= size * 4);
    // The drops survive a restart until reported.
    drop(o);
    let mut o = Outbox::open(&path, limits(size * 4)).expect("reopen");
    let d = o.unreported_drops().expect("drops");
    assert_eq!(
        d,
        Dropped {
            events: 1,
            stats: 2
        }
    );
    o.reported(d).expect("reported");
    assert!(o.unreported_drops().expect("drops").is_empty());
    // A message bigger than the whole outbox is refused, not silently dropped.
    let huge = Message {
        payload: vec![b'x'; (size * 5) as usize],
        ..msg(Class::Event, 8)
    };
    let err = o.append(&[huge]).expect_err("too large").to_string();
    assert!(err.contains("larger than the outbox's max_bytes"), "{err}");
}

#[test]
fn messages_older_than_the_age_bound_expire() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut o = Outbox::open(
        &dir.path().join("o.redb"),
        Limits {
            max_bytes: 1 << 20,
            max_age: Duration::from_secs(10),
        },
    )
    .expect("open");
    let batch: Vec<Message> = [(1, Class::Stats), (5, Class::Event), (20, Class::Event)]
        .into_iter()
        .map(|(n, c)| msg(c, n))
        .collect();
    o.append(&batch).expect("append");
    // At 16 s, the messages made at 1 s and 5 s are older than 10 s.
    let d = o.expire(16_000).expect("expire");
    assert_eq!(
        d,
        Dropped {
            events: 1,
            stats: 1
        }
    );
    assert_eq!(
        payloads(&o.pending(None, 10).expect("pending")),
        [r#"{"n":20}"#]
    );
    assert_eq!(o.unreported_drops().expect("drops"), d);
}

#[test]
fn an_unusable_path_is_named_with_the_fix() {
    let dir = tempfile::tempdir().expect("tmp");
    let err = Outbox::open(&dir.path().join("missing/folder/o.redb"), limits(1024))
        .expect_err("no folder")
        .to_string();
    assert!(
        err.contains("missing/folder/o.redb") && err.contains("check the folder is writable"),
        "{err}"
    );
    // A second agent on the same file is refused while the first holds it.
    let path = dir.path().join("o.redb");
    let _first = Outbox::open(&path, limits(1024)).expect("open");
    let err = Outbox::open(&path, limits(1024))
        .expect_err("held")
        .to_string();
    assert!(err.contains("no other roadeye uses the same file"), "{err}");
}

/// An outbox holding 50 events, closed: its bytes.
fn filled(path: &Path) -> Vec<u8> {
    let mut o = Outbox::open(path, limits(1 << 20)).expect("open");
    let batch: Vec<Message> = (1..=50).map(|n| msg(Class::Event, n)).collect();
    o.append(&batch).expect("append");
    drop(o);
    std::fs::read(path).expect("read")
}

/// The files in `dir` whose name starts with `outbox.redb.damaged-`.
fn set_aside(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("outbox.redb.damaged-"))
        })
        .collect()
}

/// What a damage does to a file's bytes.
type Damage = Box<dyn Fn(&[u8]) -> Vec<u8>>;

#[test]
fn a_damaged_outbox_is_moved_aside_whole_and_a_fresh_one_opened() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("outbox.redb");
    let good = filled(&path);
    // Each damage: what it does to the bytes, and a word the reason must hold.
    let damages: Vec<(&str, Damage, &str)> = vec![
        (
            "cut in half",
            Box::new(|b| b[..b.len() / 2].to_vec()),
            "corrupted",
        ),
        (
            "cut to 100 bytes",
            Box::new(|b| b[..100].to_vec()),
            "cut short",
        ),
        (
            "a text file",
            Box::new(|_| b"[site]\nid = \"x\"\n".repeat(400)),
            "not an outbox",
        ),
        ("zeros", Box::new(|b| vec![0; b.len()]), "not an outbox"),
        (
            "its header flipped",
            Box::new(|b| flip(b, 0..64)),
            "not an outbox",
        ),
        (
            "everything after the header flipped",
            Box::new(|b| flip(b, 4096..b.len())),
            "corrupted",
        ),
    ];
    for (what, damage, word) in damages {
        let bad = damage(&good);
        std::fs::write(&path, &bad).expect("write");
        let (mut o, aside) =
            Outbox::open_or_set_aside(&path, limits(1 << 20)).unwrap_or_else(|e| {
                panic!("{what}: {e}");
            });
        let aside = aside.unwrap_or_else(|| panic!("{what}: not recognised as damaged"));
        assert!(aside.reason.contains(word), "{what}: {}", aside.reason);
        // The damaged bytes are kept, untouched, beside the fresh outbox.
        assert_eq!(
            std::fs::read(&aside.moved_to).expect("aside"),
            bad,
            "{what}"
        );
        assert!(set_aside(dir.path()).contains(&aside.moved_to), "{what}");
        assert!(o.is_empty(), "{what}");
        let (seqs, _) = o.append(&[msg(Class::Event, 1)]).expect("append");
        assert_eq!(seqs, [1], "{what}");
        drop(o);
        std::fs::remove_file(&aside.moved_to).expect("rm");
    }
}

#[test]
fn a_database_of_another_program_is_set_aside() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("outbox.redb");
    {
        // The same table name with other types: not an outbox.
        let other: TableDefinition<&str, &str> = TableDefinition::new("messages");
        let db = Database::create(&path).expect("create");
        let tx = db.begin_write().expect("tx");
        tx.open_table(other)
            .expect("table")
            .insert("k", "v")
            .expect("insert");
        tx.commit().expect("commit");
    }
    let (_o, aside) = Outbox::open_or_set_aside(&path, limits(1 << 20)).expect("open");
    let aside = aside.expect("set aside");
    assert!(aside.reason.contains("another program"), "{}", aside.reason);
}

#[test]
fn a_sound_or_held_outbox_is_never_moved() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("outbox.redb");
    filled(&path);
    let (o, aside) = Outbox::open_or_set_aside(&path, limits(1 << 20)).expect("open");
    assert_eq!((o.len(), aside), (50, None));
    // Held by another agent: an error, and the file stays where it is.
    let err = Outbox::open_or_set_aside(&path, limits(1 << 20))
        .expect_err("held")
        .to_string();
    assert!(err.contains("no other roadeye uses the same file"), "{err}");
    assert!(set_aside(dir.path()).is_empty());
    drop(o);
    assert_eq!(
        Outbox::open(&path, limits(1 << 20)).expect("reopen").len(),
        50
    );
}

fn flip(b: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = b.to_vec();
    for x in &mut out[range] {
        *x ^= 0xFF;
    }
    out
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// The bytes of a sound outbox holding 50 events, made once.
    fn sound() -> &'static [u8] {
        static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BYTES.get_or_init(|| {
            let dir = tempfile::tempdir().expect("tmp");
            filled(&dir.path().join("outbox.redb"))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Bytes flipped anywhere and the file cut anywhere: the outbox opens (set aside when
        /// damaged) and takes new messages; never a panic, never a refusal to start.
        #[test]
        fn any_damage_opens_a_usable_outbox(
            flips in prop::collection::vec((0usize..1 << 20, 1u8..=255), 0..64),
            cut in prop::option::of(0usize..1 << 20),
        ) {
            let mut bytes = sound().to_vec();
            for (at, x) in flips {
                let n = bytes.len();
                bytes[at % n] ^= x;
            }
            if let Some(cut) = cut {
                let n = bytes.len();
                bytes.truncate(cut % n);
            }
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("outbox.redb");
            std::fs::write(&path, &bytes).expect("write");
            let (mut o, aside) = Outbox::open_or_set_aside(&path, limits(1 << 20))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match &aside {
                Some(a) => prop_assert_eq!(std::fs::read(&a.moved_to).expect("aside"), bytes),
                None => prop_assert!(o.len() <= 50),
            }
            prop_assert!(o.append(&[msg(Class::Event, 51)]).is_ok());
        }
    }
}
