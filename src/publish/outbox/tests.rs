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
