//! The link to the IOC against a real Mosquitto broker (started here on free ports), watched by a
//! real `mosquitto_sub` with a persistent QoS 1 session, as an IOC would subscribe. The agent is
//! the real binary on vtest.avi with the real model.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::agent::RunningAgent;
use common::mosquitto::{Mosquitto, Subscriber};
use common::schema::Schemas;

/// A config for one camera on vtest.avi with the demo's line and zone, publishing to
/// 127.0.0.1:`port` as box `device` (one per test: a client id is unique on a broker, and a
/// stopped broker's port may be reused by another test's), `mqtt_extra` added to `[mqtt]`.
fn config(dir: &Path, device: &str, port: u16, realtime: bool, mqtt_extra: &str) -> PathBuf {
    let video = common::media("vtest.avi");
    let playback = if realtime {
        "loop = true"
    } else {
        "realtime = false"
    };
    let text = format!(
        r#"[site]
id = "test-site"
device = "{device}"
timezone = "Asia/Ho_Chi_Minh"

[runtime]
models_dir = "{models}"

[mqtt]
host = "127.0.0.1"
port = {port}
heartbeat_s = 2
reconnect_max_s = 2
outbox.path = "{outbox}"
{mqtt_extra}

[[cameras]]
id = "plaza"
url = "file://{video}"
{playback}
model = "centernet"

[cameras.detect]
classes = ["person"]
score_threshold = 0.15

{line}
[[cameras.zones]]
id = "plaza-centre"
points = [[0.58, 0.33], [0.85, 0.33], [0.85, 0.55], [0.58, 0.55]]
classes = ["person"]

[cameras.stats]
interval_s = 10
"#,
        models = common::root().join("models").display(),
        outbox = dir.join("outbox.redb").display(),
        video = video.display(),
        line = common::VTEST_LINE,
    );
    common::write(dir, "box.toml", &text)
}

/// The ids received on event and stats topics, in arrival order (redeliveries included).
fn received_ids(sub: &Subscriber) -> Vec<String> {
    sub.received()
        .iter()
        .filter(|r| r.topic.contains("/events/") || r.topic.ends_with("/stats"))
        .filter_map(|r| r.json()["id"].as_str().map(str::to_string))
        .collect()
}

/// Waits up to `limit` for every id of `ids` to have arrived.
fn all_arrive(sub: &Subscriber, ids: &[String], limit: Duration) -> bool {
    sub.wait_until(limit, |_| {
        let got: HashSet<String> = received_ids(sub).into_iter().collect();
        ids.iter().all(|i| got.contains(i))
    })
}

/// Every printed (stored) message was received; in the order they were stored (first
/// deliveries); redeliveries only of ids already received. Returns the duplicates.
fn assert_delivered_in_order(printed: &[String], received: &[String]) -> usize {
    let got: HashSet<&String> = received.iter().collect();
    let missing: Vec<&String> = printed.iter().filter(|i| !got.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} stored messages never arrived: {missing:?}",
        missing.len(),
        printed.len()
    );
    let mut seen = HashSet::new();
    let first: Vec<&String> = received.iter().filter(|i| seen.insert(*i)).collect();
    let wanted: HashSet<&String> = printed.iter().collect();
    let first: Vec<&String> = first.into_iter().filter(|i| wanted.contains(i)).collect();
    let printed_refs: Vec<&String> = printed.iter().collect();
    assert_eq!(first, printed_refs, "first deliveries are out of order");
    received.len() - seen.len()
}

#[test]
fn vtest_events_arrive_on_their_topics_and_match_the_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Mosquitto::start(dir.path(), "");
    let sub = Subscriber::start(broker.port, "ioc-schema", "roadeye/#");
    let cfg = config(dir.path(), "box-schema", broker.port, false, "");
    let mut agent = RunningAgent::start(&cfg, &[]);
    // The replay ends by itself.
    let status = agent.wait(Duration::from_secs(300));
    assert!(status.success(), "{}", agent.log());
    let printed = agent.printed_ids();
    assert!(
        sub.wait_until(Duration::from_secs(10), |r| {
            r.iter().filter(|m| m.topic.contains("/plaza/")).count() >= printed.len()
        }),
        "not everything arrived"
    );
    assert_delivered_in_order(&printed, &received_ids(&sub));

    let schemas = Schemas::load();
    let mut by_topic: BTreeMap<String, usize> = BTreeMap::new();
    for m in sub.received() {
        if m.topic == "roadeye-test/ready" {
            continue;
        }
        if let Err(e) = schemas.validate(&m.topic, m.payload.as_bytes()) {
            panic!("{} does not match its schema: {e}\n{}", m.topic, m.payload);
        }
        *by_topic.entry(m.topic.clone()).or_default() += 1;
    }
    // The line's counts on one pass of the video (as established by hand and in rules_vtest).
    let crossings = sub.on("/events/line_crossing");
    let east = crossings
        .iter()
        .filter(|m| m.json()["direction"] == "eastbound")
        .count();
    assert_eq!(
        (east, crossings.len() - east),
        (7, 11),
        "line crossings by direction; topics: {by_topic:?}"
    );
    for t in [
        "roadeye/v1/test-site/plaza/events/line_crossing",
        "roadeye/v1/test-site/plaza/events/zone_enter",
        "roadeye/v1/test-site/plaza/events/zone_exit",
        "roadeye/v1/test-site/plaza/stats",
        "roadeye/v1/test-site/box-schema/status",
    ] {
        assert!(by_topic.contains_key(t), "nothing on {t}: {by_topic:?}");
    }
    // The retained status a newcomer sees: the clean stop.
    let late = Subscriber::start(broker.port, "ioc-late", "roadeye/+/+/+/status");
    assert!(
        late.wait_until(Duration::from_secs(5), |r| r.len() > 1),
        "no retained status; statuses seen: {:#?}\n{}",
        sub.on("/status")
            .iter()
            .map(|m| m.payload.clone())
            .collect::<Vec<_>>(),
        agent.log()
    );
    let status = late.on("/status")[0].json();
    assert_eq!(status["state"], "offline", "{status}");
    assert_eq!(status["reason"], "stopped", "{status}");
}

#[test]
fn a_30_s_broker_outage_loses_nothing_and_keeps_the_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Mosquitto::start(dir.path(), "");
    let sub = Subscriber::start(broker.port, "ioc-outage", "roadeye/#");
    let cfg = config(dir.path(), "box-outage", broker.port, true, "");
    let mut agent = RunningAgent::start(&cfg, &[]);
    assert!(
        sub.wait_until(Duration::from_secs(60), |r| {
            r.iter().any(|m| m.topic.contains("/events/"))
        }),
        "no event before the outage:\n{}",
        agent.log()
    );
    broker.stop();
    let before = agent.printed_ids().len();
    std::thread::sleep(Duration::from_secs(30));
    let during = agent.printed_ids().len() - before;
    assert!(
        during >= 5,
        "only {during} message(s) stored during the outage"
    );
    assert!(
        agent.log().contains("message(s) kept in the outbox"),
        "{}",
        agent.log()
    );
    broker.restart();
    assert!(
        agent.wait_log(Duration::from_secs(20), "connected to the MQTT broker"),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_secs(5));
    agent.signal("TERM");
    let status = agent.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", agent.log());
    let printed = agent.printed_ids();
    assert!(
        agent.log().contains("every message was delivered"),
        "{}",
        agent.log()
    );
    assert!(
        all_arrive(&sub, &printed, Duration::from_secs(15)),
        "not everything arrived after the outage"
    );
    let dups = assert_delivered_in_order(&printed, &received_ids(&sub));
    eprintln!(
        "outage: {} messages stored, {during} during the 30 s outage; {dups} redelivered",
        printed.len()
    );
}

#[test]
fn a_killed_agent_replays_its_outbox_and_the_broker_publishes_its_last_will() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Mosquitto::start(dir.path(), "");
    let sub = Subscriber::start(broker.port, "ioc-kill", "roadeye/#");
    let cfg = config(dir.path(), "box-kill", broker.port, true, "");

    // Connected, then SIGKILL: the broker publishes the Last Will (retained).
    let first = RunningAgent::start(&cfg, &[]);
    assert!(
        sub.wait_until(Duration::from_secs(60), |r| {
            r.iter().any(|m| m.topic.contains("/events/"))
        }),
        "no event:\n{}",
        first.log()
    );
    let wills = |r: &[common::mosquitto::Received]| {
        r.iter()
            .filter(|m| {
                m.topic == "roadeye/v1/test-site/box-kill/status"
                    && m.payload.contains("connection_lost")
            })
            .count()
    };
    assert_eq!(
        wills(&sub.received()),
        0,
        "a Last Will before the kill:\n{}",
        first.log()
    );
    first.signal("KILL");
    assert!(
        sub.wait_until(Duration::from_secs(10), |r| wills(r) == 1),
        "no Last Will after SIGKILL"
    );
    let statuses: Vec<String> = sub
        .on("box-kill/status")
        .into_iter()
        .map(|m| m.payload)
        .collect();
    let will = sub
        .on("box-kill/status")
        .last()
        .map(|m| m.json())
        .expect("status");
    assert_eq!(
        will["state"], "offline",
        "the Last Will comes last: {statuses:#?}"
    );
    let mut ids = first.printed_ids();
    drop(first);

    // The broker is down; the agent stores events, then is killed too.
    broker.stop();
    let second = RunningAgent::start(&cfg, &[]);
    assert!(
        second.wait_printed(Duration::from_secs(60), |p| p.len() >= 5),
        "nothing stored while the broker was down:\n{}",
        second.log()
    );
    second.signal("KILL");
    std::thread::sleep(Duration::from_millis(300));
    let pending = second.printed_ids();
    drop(second);
    ids.extend(pending.iter().cloned());

    // Broker back, agent restarted on the same outbox: what was pending is delivered.
    broker.restart();
    let mut third = RunningAgent::start(&cfg, &[]);
    assert!(
        third.wait_log(Duration::from_secs(60), "from before are sent first"),
        "{}",
        third.log()
    );
    assert!(
        all_arrive(&sub, &ids, Duration::from_secs(60)),
        "messages stored before the kill never arrived:\n{}",
        third.log()
    );
    third.signal("TERM");
    let status = third.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", third.log());
    ids.extend(third.printed_ids());
    let dups = assert_delivered_in_order(&ids, &received_ids(&sub));
    eprintln!(
        "kill: {} stored while the broker was down, all delivered after the restart; {dups} redelivered",
        pending.len()
    );
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for localhost signed by it, and a client certificate signed by it.
fn make_certificates(dir: &Path) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    let days = ["-days", "2"];
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=roadeye test CA",
            days[0],
            days[1],
        ],
    );
    for (name, cn) in [("server", "localhost"), ("client", "box-tls")] {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-extfile",
                &ext,
                days[0],
                days[1],
            ],
        );
    }
}

#[test]
fn tls_with_a_client_certificate_delivers_and_without_it_keeps_the_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    make_certificates(d);
    // A plain listener for the test's subscriber, and a TLS one that requires a client
    // certificate signed by the CA for the agent.
    let tls_port = common::mosquitto::free_port();
    let extra = format!(
        "listener {tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\n",
        ca = d.join("ca.pem").display(),
        cert = d.join("server.pem").display(),
        key = d.join("server.key").display(),
    );
    let broker = Mosquitto::start(d, &extra);
    common::mosquitto::wait_for_port(tls_port);
    let sub = Subscriber::start(broker.port, "ioc-tls", "roadeye/#");

    // Without a client certificate: refused, clearly, and every event stays in the outbox.
    let no_cert = config(
        d,
        "box-tls",
        tls_port,
        true,
        "host = \"localhost\"\n[mqtt.tls]\nca_file = \"ca.pem\"",
    );
    let text = std::fs::read_to_string(&no_cert)
        .expect("config")
        .replace("host = \"127.0.0.1\"\n", "");
    std::fs::write(&no_cert, text).expect("config");
    let mut refused = RunningAgent::start(&no_cert, &[]);
    assert!(
        refused.wait_printed(Duration::from_secs(60), |p| p.len() >= 3),
        "nothing stored:\n{}",
        refused.log()
    );
    assert!(
        refused.wait_log(Duration::from_secs(20), "message(s) kept in the outbox"),
        "{}",
        refused.log()
    );
    refused.signal("TERM");
    let status = refused.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", refused.log());
    let log = refused.log();
    let stored = refused.printed_ids();
    assert!(
        log.contains("cannot connect to localhost:")
            || log.contains("lost the connection to localhost:"),
        "{log}"
    );
    assert!(log.contains("message(s) wait in the outbox"), "{log}");
    assert!(
        log.contains("the broker wants a client certificate it trusts"),
        "the refusal is not explained: {log}"
    );
    assert!(
        sub.on("/events/").is_empty() && sub.on("/status").is_empty(),
        "a message got through without a client certificate"
    );
    eprintln!(
        "without a client certificate: {}",
        log.lines().find(|l| l.contains("MQTT:")).unwrap_or("")
    );

    // With it: connected, and what was kept arrives first.
    let with_cert = d.join("box.toml");
    let text = std::fs::read_to_string(&with_cert)
        .expect("config")
        .replace(
            "ca_file = \"ca.pem\"",
            "ca_file = \"ca.pem\"\ncert_file = \"client.pem\"\nkey_file = \"client.key\"",
        );
    std::fs::write(&with_cert, text).expect("config");
    let mut agent = RunningAgent::start(&with_cert, &[]);
    assert!(
        agent.wait_log(
            Duration::from_secs(30),
            "connected to the MQTT broker localhost:"
        ),
        "{}",
        agent.log()
    );
    assert!(
        all_arrive(&sub, &stored, Duration::from_secs(30)),
        "the kept events did not arrive over TLS:\n{}",
        agent.log()
    );
    agent.signal("TERM");
    let status = agent.wait(Duration::from_secs(30));
    assert!(status.success(), "{status:?}\n{}", agent.log());
    let mut all = stored.clone();
    all.extend(agent.printed_ids());
    assert_delivered_in_order(&all, &received_ids(&sub));
}
