//! Every stage supervised, tested on the library's agent in this process (vtest.avi, the real
//! model, a real Mosquitto): a stage made to fail as a bug would is reported in `/healthz` (503
//! with the reason), counted in `/metrics`, shown in the heartbeat, restarted after its delay,
//! and works again.

mod common;

use std::time::Duration;

use common::library::{Running, one_camera, one_camera_with};
use common::mosquitto::Subscriber;
use common::wait;
use roadeye::agent::Command;

#[test]
fn a_failed_analysis_is_reported_counted_restarted_and_flows_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/box/status");
    agent.wait_healthy(Duration::from_secs(60));
    assert!(
        wait(Duration::from_secs(60), || !agent
            .seen()
            .ids("plaza", None)
            .is_empty()),
        "the camera made no tracks"
    );
    let before = agent
        .seen()
        .ids("plaza", None)
        .into_iter()
        .max()
        .unwrap_or(0);
    let (failed_at, body) = agent.fail(Command::FailAnalysis {
        camera: "plaza".into(),
        why: "injected fault".into(),
    });
    assert!(
        body.contains("camera 'plaza' is failed: analysis failed: panicked: injected fault"),
        "the reason is not in /healthz: {body}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    for line in [
        "roadeye_stage_failures_total{stage=\"analysis\",camera=\"plaza\"} 1",
        "roadeye_camera_state{camera=\"plaza\",state=\"failed\"} 1",
        "roadeye_camera_up{camera=\"plaza\"} 0",
    ] {
        assert!(metrics.contains(line), "no '{line}' in\n{metrics}");
    }
    assert!(
        sub.wait_until(Duration::from_secs(10), |r| r
            .iter()
            .any(
                |m| m.topic.ends_with("/status") && m.json()["cameras"][0]["state"] == "failed"
            )),
        "no heartbeat said the camera failed"
    );
    // Restarted after its delay: healthy again, with new tracks whose ids carry on.
    agent.wait_healthy(Duration::from_secs(30));
    let recovered = failed_at.elapsed();
    assert!(
        wait(Duration::from_secs(30), || !agent
            .seen()
            .ids("plaza", Some(failed_at + recovered))
            .is_empty()),
        "no tracks after the restart"
    );
    let after = agent.seen().ids("plaza", Some(failed_at + recovered));
    assert!(
        after.iter().all(|id| *id > before),
        "track ids were reused after the restart: before up to {before}, after {after:?}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("roadeye_stage_failures_total{stage=\"analysis\",camera=\"plaza\"} 1"),
        "the failure is no longer counted:\n{metrics}"
    );
    agent.stop();
}

#[test]
fn a_failed_inference_lane_is_reported_restarted_and_the_other_lane_carries_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/box/status");
    agent.wait_healthy(Duration::from_secs(60));
    let (failed_at, body) = agent.fail(Command::FailInference {
        model: "centernet".into(),
        why: "injected lane fault".into(),
    });
    assert!(
        body.contains("inference 'centernet/lane-")
            && body.contains("failed: panicked: injected lane fault"),
        "the reason is not in /healthz: {body}"
    );
    let metrics = common::http_get(agent.ops, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("roadeye_stage_failures_total{stage=\"inference\",lane=\"centernet/lane-"),
        "the lane's failure is not counted:\n{metrics}"
    );
    assert!(
        heartbeat_stage(&sub, Duration::from_secs(10), "inference", |s| s["of"]
            .as_str()
            .is_some_and(|o| o.starts_with("centernet/lane-"))),
        "no heartbeat named the failed lane"
    );
    // The other lane serves the camera meanwhile.
    let frames = |a: &Running| {
        a.seen()
            .frames("plaza")
            .into_iter()
            .filter(|t| *t > failed_at)
            .count()
    };
    assert!(
        wait(Duration::from_secs(2), || frames(&agent) > 3),
        "the camera's frames stopped while one lane was down"
    );
    agent.wait_healthy(Duration::from_secs(30));
    agent.stop();
}

/// Whether a heartbeat within `limit` lists the failed `stage` as `check` wants it.
fn heartbeat_stage(
    sub: &Subscriber,
    limit: Duration,
    stage: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> bool {
    sub.wait_until(limit, |r| {
        r.iter().filter(|m| m.topic.ends_with("/status")).any(|m| {
            m.json()["stages"]
                .as_array()
                .is_some_and(|all| all.iter().any(|s| s["stage"] == stage && check(s)))
        })
    })
}

/// `/metrics`' value of the series `series` (0 when absent).
fn counter(agent: &Running, series: &str) -> f64 {
    common::http_get(agent.ops, "/metrics")
        .map(|(_, text)| text)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_failed_snapshot_writer_is_reported_counted_restarted_and_writes_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snaps = dir.path().join("snaps");
    let extra = format!(
        "[snapshots]\nkinds = [\"line_crossing\"]\ndir = \"{}\"\n",
        snaps.display()
    );
    let (_broker, sub, agent) = one_camera_with(dir.path(), "roadeye/+/lib/box/status", &extra);
    let written = "roadeye_snapshots_total{result=\"written\"}";
    assert!(
        wait(Duration::from_secs(90), || counter(&agent, written) >= 1.0),
        "no snapshot was written"
    );
    agent.send(Command::FailSnapshots("injected snapshot fault".into()));
    // It fails at the next crossing's snapshot; events go on meanwhile.
    let mut body = String::new();
    assert!(
        wait(Duration::from_secs(60), || {
            body = agent.health().map(|(_, b)| b).unwrap_or_default();
            body.contains("snapshots 'writer' failed: panicked: injected snapshot fault")
        }),
        "the writer's failure is not in /healthz: {body}"
    );
    assert_eq!(agent.health().map(|(c, _)| c), Some(503), "{body}");
    assert_eq!(
        counter(&agent, "roadeye_stage_failures_total{stage=\"snapshots\"}"),
        1.0,
        "the failure is not counted"
    );
    assert!(
        heartbeat_stage(
            &sub,
            Duration::from_secs(10),
            "snapshots",
            |s| s["failures"] == 1
        ),
        "no heartbeat named the failed writer"
    );
    // Restarted after its delay, it writes the next crossing's snapshot and is well again.
    let before = counter(&agent, written);
    agent.wait_healthy(Duration::from_secs(90));
    assert!(
        counter(&agent, written) > before,
        "healthy again without a new snapshot"
    );
    let files = std::fs::read_dir(snaps.join("plaza")).expect("the camera's folder");
    assert!(files.count() >= 2, "the snapshots are not on disk");
    agent.stop();
}

#[test]
fn failed_endpoints_are_counted_shown_in_the_heartbeat_and_listen_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_broker, sub, agent) = one_camera(dir.path(), "roadeye/+/lib/box/status");
    agent.wait_healthy(Duration::from_secs(60));
    agent.send(Command::FailEndpoints("injected endpoints fault".into()));
    // The endpoints cannot tell of their own failure while they are down; the heartbeat does.
    assert!(
        heartbeat_stage(&sub, Duration::from_secs(15), "endpoints", |s| s["down"]
            .as_str()
            .is_some_and(|d| d.contains("panicked: injected endpoints fault"))),
        "no heartbeat said the endpoints failed"
    );
    // They listen again on the same address after the delay, and count the failure.
    agent.wait_healthy(Duration::from_secs(30));
    assert_eq!(
        counter(&agent, "roadeye_stage_failures_total{stage=\"endpoints\"}"),
        1.0
    );
    assert!(
        sub.wait_until(Duration::from_secs(10), |r| r
            .iter()
            .rfind(|m| m.topic.ends_with("/status"))
            .is_some_and(|m| {
                let j = m.json();
                j["stages"][0]["stage"] == "endpoints"
                    && j["stages"][0]["failures"] == 1
                    && j["stages"][0].get("down").is_none()
            })),
        "the heartbeat still says the endpoints are down"
    );
    agent.stop();
}
