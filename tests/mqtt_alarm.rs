//! The outbox's size bound on the real link: while a real Mosquitto is down, a full outbox drops
//! the oldest statistics first, then the oldest events; once the broker is back, one alarm counts
//! them, the heartbeat shows no unreported drops any more, and what was kept arrives in order.
//! A damaged outbox file is set aside whole at start and its alarm is delivered first.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::mosquitto::{Mosquitto, Subscriber};
use roadeye::publish::{Class, Limits, Link, LinkSettings, Message, Topics};

fn message(class: Class, n: usize) -> Message {
    let (topic, kind) = match class {
        Class::Event => ("roadeye/v1/t/cam/events/zone_enter", "event"),
        Class::Stats => ("roadeye/v1/t/cam/stats", "stats"),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Message {
        class,
        topic: topic.into(),
        // About 200 bytes, numbered so arrivals can be checked.
        payload: format!(r#"{{"n":{n},"kind":"{kind}","pad":"{}"}}"#, "x".repeat(160)).into_bytes(),
        created_ms: now,
        origin: None,
    }
}

fn settings(port: u16, dir: &std::path::Path, max_bytes: u64) -> LinkSettings {
    LinkSettings {
        host: "127.0.0.1".into(),
        port,
        embedded: false,
        client_id: "roadeye-alarm-test".into(),
        credentials: None,
        tls: None,
        keep_alive: Duration::from_secs(30),
        heartbeat: Duration::from_secs(60),
        reconnect_min: Duration::from_millis(200),
        reconnect_max: Duration::from_millis(500),
        topics: Topics::new("roadeye/v1", "t", "box"),
        site: "t".into(),
        device: "box".into(),
        outbox_path: dir.join("outbox.redb"),
        limits: Limits {
            max_bytes,
            max_age: Duration::from_secs(3600),
        },
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn a_full_outbox_drops_stats_first_and_reports_the_drops_once_the_broker_is_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Mosquitto::start(dir.path(), "");
    let sub = Subscriber::start(broker.port, "ioc-alarm", "roadeye/#");
    broker.stop();
    // Room for about 50 messages.
    let settings = settings(broker.port, dir.path(), 12_000);
    let left = runtime().block_on(async {
        let link = Link::start(settings, Box::new(|_: &Message| {})).expect("link");
        // 10 statistics, then 100 events, while the broker is down.
        for n in 0..10 {
            assert!(link.send(vec![message(Class::Stats, n)]).await);
        }
        for n in 0..100 {
            assert!(link.send(vec![message(Class::Event, n)]).await);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        broker.restart();
        let arrived = tokio::task::spawn_blocking(move || {
            let ok = sub.wait_until(Duration::from_secs(30), |r| {
                r.iter().any(|m| m.topic.ends_with("/alarms"))
                    && r.iter().any(|m| m.payload.contains(r#""n":99"#))
            });
            (ok, sub)
        })
        .await
        .expect("wait");
        let left = link.shutdown(Duration::from_secs(5)).await;
        (arrived, left)
    });
    let ((arrived, sub), left) = left;
    assert!(
        arrived,
        "no alarm or not the newest event: {:?}",
        sub.received()
    );
    assert_eq!(left, Some(0), "everything kept was delivered");

    let alarms = sub.on("/alarms");
    assert_eq!(alarms.len(), 1, "one alarm: {alarms:?}");
    let alarm = alarms[0].json();
    assert_eq!(alarm["kind"], "outbox_overflow");
    assert_eq!(
        alarm["dropped_stats"], 10,
        "every statistics message went first: {alarm}"
    );
    let dropped = alarm["dropped_events"].as_u64().expect("count");
    // The events that arrived are the newest ones, in order, and with the drops they add up.
    let events: Vec<u64> = sub
        .on("/events/")
        .iter()
        .map(|m| m.json()["n"].as_u64().expect("n"))
        .collect();
    assert!(sub.on("/stats").is_empty(), "a statistics message survived");
    assert!(dropped > 0 && !events.is_empty(), "{alarm}");
    let expected: Vec<u64> = (dropped..100).collect();
    assert_eq!(
        events, expected,
        "the oldest events dropped, the rest in order"
    );
    // The alarm is valid against the published schema.
    let schemas = common::schema::Schemas::load();
    schemas
        .validate(&alarms[0].topic, alarms[0].payload.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_damaged_outbox_is_set_aside_whole_and_its_alarm_arrives_before_what_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "");
    let sub = Subscriber::start(broker.port, "ioc-damaged", "roadeye/#");
    let settings = settings(broker.port, dir.path(), 1 << 20);
    // An outbox of an earlier run holding 20 undelivered events, then damaged on the disk
    // (every byte after its header flipped).
    let path = settings.outbox_path.clone();
    {
        let mut o = roadeye::publish::Outbox::open(&path, settings.limits).expect("outbox");
        let batch: Vec<Message> = (0..20).map(|n| message(Class::Event, n)).collect();
        o.append(&batch).expect("append");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    for b in &mut bytes[4096..] {
        *b ^= 0xFF;
    }
    std::fs::write(&path, &bytes).expect("damage");

    let done = runtime().block_on(async {
        let link = Link::start(settings, Box::new(|_: &Message| {})).expect("the link starts");
        assert!(link.send(vec![message(Class::Event, 100)]).await);
        let sub = tokio::task::spawn_blocking(move || {
            sub.wait_until(Duration::from_secs(20), |r| {
                r.iter().any(|m| m.payload.contains(r#""n":100"#))
            });
            sub
        })
        .await
        .expect("wait");
        (link.shutdown(Duration::from_secs(5)).await, sub)
    });
    let (left, sub) = done;
    assert_eq!(left, Some(0), "the fresh outbox delivered everything");
    let alarms = sub.on("/alarms");
    assert_eq!(alarms.len(), 1, "one alarm: {:?}", sub.received());
    let alarm = alarms[0].json();
    assert_eq!(alarm["kind"], "outbox_damaged", "{alarm}");
    assert_eq!(alarm["file"], path.display().to_string());
    assert!(
        alarm["reason"]
            .as_str()
            .is_some_and(|r| r.contains("corrupted")),
        "{alarm}"
    );
    // The damaged file is kept whole where the alarm says.
    let moved = std::path::PathBuf::from(alarm["moved_to"].as_str().expect("moved_to"));
    assert_eq!(moved.parent(), path.parent());
    assert_eq!(std::fs::read(&moved).expect("the damaged file"), bytes);
    // The alarm came first, then what was decided after the start; nothing of the damaged file.
    let received = sub.received();
    let topics: Vec<&str> = received
        .iter()
        .filter(|m| m.topic.starts_with("roadeye/v1/") && !m.topic.ends_with("/status"))
        .map(|m| m.topic.as_str())
        .collect();
    assert_eq!(
        topics,
        [
            "roadeye/v1/t/box/alarms",
            "roadeye/v1/t/cam/events/zone_enter"
        ],
        "{received:?}"
    );
    common::schema::Schemas::load()
        .validate(&alarms[0].topic, alarms[0].payload.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
}
