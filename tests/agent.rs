//! The library's agent, started in this process (no subprocess) on vtest.avi with the real model,
//! publishing to a real Mosquitto: events arrive; reloads keep track ids rising and the other
//! cameras' outputs flowing; a dead MQTT session stops the agent and loses nothing.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::library::{Running, Seen, camera, load, one_camera, played, write_config};
use common::mosquitto::{Mosquitto, Subscriber};
use common::wait;
use roadeye::agent::Command;
use roadeye::pipeline::Output;

#[test]
fn the_library_agent_publishes_events_to_mosquitto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/#");
    assert!(
        sub.wait_until(Duration::from_secs(90), |r| {
            r.iter()
                .any(|m| m.topic.contains("/plaza/events/line_crossing"))
        }),
        "no line crossing reached the broker: {:?}",
        sub.received().iter().map(|r| &r.topic).collect::<Vec<_>>()
    );
    let status: Vec<_> = sub
        .on("/status")
        .into_iter()
        .filter(|m| m.topic.ends_with("/status"))
        .collect();
    assert!(
        status
            .iter()
            .any(|m| m.json()["cameras"][0]["state"] == "streaming"),
        "no heartbeat with the camera streaming: {:?}",
        status.iter().map(|m| m.json()).collect::<Vec<_>>()
    );
    // Each heartbeat says whether the box's clock is synchronised, as this machine's kernel does.
    let kernel = roadeye::clock::probe().expect("the kernel's clock state");
    assert!(
        status
            .iter()
            .filter(|m| m.json()["state"] == "online")
            .all(|m| m.json()["clock"]["synced"] == kernel.synced),
        "a heartbeat without the clock's state: {:?}",
        status.iter().map(|m| m.json()).collect::<Vec<_>>()
    );
    let report = agent.stop();
    assert_eq!(report.reason, "the test is done");
}

/// East is replayed as fast as the lanes go, so that its outputs during a reload of a tenth of a
/// second can be counted.
const FAST: &str = "realtime = false";

#[test]
fn reloads_keep_track_ids_rising_and_other_cameras_flowing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "");
    let (port, ops) = (broker.port, common::mosquitto::free_port());
    let path = write_config(
        dir.path(),
        port,
        ops,
        &[
            played("east", "centernet", 0.15, FAST),
            camera("west", "centernet", 0.15),
        ],
    );
    let agent = Running::start(&load(&path));
    assert!(
        wait(Duration::from_secs(60), || agent
            .seen()
            .ids("east", None)
            .len()
            > 20),
        "east made no tracks"
    );
    // Writes the file with east's threshold and west's model, asks for a reload and waits for
    // it to be applied: when it was asked and when applied.
    let reload = |east_score: f32, west_model: &str| {
        write_config(
            dir.path(),
            port,
            ops,
            &[
                played("east", "centernet", east_score, FAST),
                camera("west", west_model, 0.15),
            ],
        );
        let asked = Instant::now();
        agent.send(Command::Reload("the test edited the file".into()));
        let applied = || {
            agent
                .seen()
                .configs
                .iter()
                .find(|(t, c)| *t > asked && c.rejected.is_none())
                .map(|(t, _)| *t)
        };
        assert!(
            wait(Duration::from_secs(60), || applied().is_some()),
            "the reload was not applied: {:?}",
            agent
                .seen()
                .configs
                .iter()
                .map(|(_, c)| c)
                .collect::<Vec<_>>()
        );
        (asked, applied().expect("applied"))
    };
    // A new score threshold restarts east's pipeline: its ids carry on above the old ones.
    let (_, done) = reload(0.2, "centernet");
    let before = agent.seen().ids("east", None);
    let old_max = agent
        .seen()
        .outputs
        .iter()
        .filter(|(t, _)| *t < done)
        .filter_map(|(_, o)| match o {
            Output::Tracks(t) if &*t.meta.camera == "east" => t.tracks.iter().map(|k| k.id).max(),
            _ => None,
        })
        .max()
        .expect("east's ids before the reload");
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("east", Some(done))
            .is_empty()),
        "east made no tracks after its restart ({} before)",
        before.len()
    );
    let new = agent.seen().ids("east", Some(done));
    assert!(
        new.iter().all(|id| *id > old_max),
        "east's ids after the reload {new:?} do not carry on from {old_max}"
    );
    // West switches to CenterNet int8: while its model loads, east's outputs keep coming.
    let (asked, done) = reload(0.2, "centernet-int8");
    let during = agent
        .seen()
        .frames("east")
        .into_iter()
        .filter(|t| *t > asked && *t < done)
        .count();
    println!(
        "the model switch took {:.2} s; east delivered {during} frame(s) meanwhile",
        done.duration_since(asked).as_secs_f64()
    );
    assert!(
        during > 0,
        "no output of east while west's model loaded ({:.2} s)",
        done.duration_since(asked).as_secs_f64()
    );
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("west", Some(done))
            .is_empty()),
        "west made no tracks with CenterNet int8"
    );
    agent.stop();
}

/// The (rule or kind, time) of each event and statistics message a probe saw after `after`.
fn sent_after(seen: &Seen, after: Instant) -> Vec<(String, u64)> {
    seen.outputs
        .iter()
        .filter(|(t, _)| *t > after)
        .filter_map(|(_, o)| match o {
            Output::Event(e) => Some((e.rule.clone(), roadeye::types::ms_since_epoch(e.time))),
            Output::Stats(s) => Some(("stats".into(), roadeye::types::ms_since_epoch(s.start))),
            Output::Tracks(_) => None,
        })
        .collect()
}

/// The same of each message the broker delivered.
fn delivered(sub: &Subscriber) -> Vec<(String, u64)> {
    sub.received()
        .iter()
        .filter_map(|r| {
            if r.topic.ends_with("/stats") {
                Some(("stats".into(), r.json()["start_ms"].as_u64()?))
            } else if r.topic.contains("/events/") {
                let j = r.json();
                Some((j["rule"].as_str()?.to_string(), j["time_ms"].as_u64()?))
            } else {
                None
            }
        })
        .collect()
}

#[test]
fn a_dead_mqtt_session_stops_the_agent_with_an_error_and_its_messages_wait_in_the_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/+/#");
    assert!(
        sub.wait_until(Duration::from_secs(60), |r| r
            .iter()
            .any(|m| m.topic.contains("/events/"))),
        "no event reached the broker"
    );
    agent.send(Command::FailOutputs("injected session fault".into()));
    let failed_at = Instant::now();
    let seen = Arc::clone(&agent.seen);
    let ended = agent.ended(Duration::from_secs(30));
    let err = ended.expect_err("the run must end with an error");
    assert!(
        err.contains("the MQTT session stopped while running"),
        "the error does not name the session: {err}"
    );
    // What was decided after the session died (at least the interval in progress, reported at
    // the stop) waits in the outbox and reaches the broker after a restart.
    let kept = sent_after(&seen.lock().expect("lock"), failed_at);
    assert!(!kept.is_empty(), "nothing was decided after the failure");
    let path = dir.path().join("box.toml");
    let again = Running::start(&load(&path));
    assert!(
        sub.wait_until(Duration::from_secs(60), |_| {
            let got = delivered(&sub);
            kept.iter().all(|k| got.contains(k))
        }),
        "lost after the session died: {:?} not in {:?}",
        kept,
        delivered(&sub)
    );
    again.stop();
    drop(broker);
}
