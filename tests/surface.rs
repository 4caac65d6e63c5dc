//! The box's surface, attacked from outside, on the real binary: secrets never leave it (a known
//! RTSP password and MQTT password are looked for in the log at its most verbose, `/metrics`,
//! `/healthz`, every message on the broker and `roadeye check`'s output), every HTTP path refuses
//! traversal, huge headers are refused, floods of connections and clients that never finish
//! their headers leave memory and file descriptors bounded while the endpoints keep answering,
//! and endpoints bound beyond loopback are warned about.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::agent::RunningAgent;
use common::mosquitto::{Mosquitto, Subscriber, free_port};
use common::wait;
use roadeye::source::sim::CameraSim;

const RTSP_PASSWORD: &str = "Cam-Secret-4711-zq";
const MQTT_PASSWORD: &str = "Broker-Secret-0815-xv";

/// `pid`'s resident memory (MB) and open file descriptors.
fn footprint(pid: u32) -> (f64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .count();
    (kb / 1024.0, fds)
}

/// The status line of a raw `request`, or `None` if the server closed without an answer.
fn raw(port: u16, request: &[u8]) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    // A server may close while a huge request is still being written.
    let _ = s.write_all(request);
    let mut head = [0u8; 64];
    let n = s.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]).to_string();
    text.lines().next().map(str::to_string)
}

#[test]
fn secrets_stay_in_and_the_endpoints_hold_against_hostile_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let passwd = dir.path().join("mosquitto.passwd");
    let made = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args(["roadeye", MQTT_PASSWORD])
        .status()
        .expect("mosquitto_passwd");
    assert!(made.success());
    let broker = Mosquitto::start(dir.path(), &format!("password_file {}\n", passwd.display()));
    let sub = Subscriber::start(broker.port, "ioc-surface", "#");
    let sim = CameraSim::start(
        &common::media("vtest.avi"),
        "127.0.0.1",
        0,
        "plaza",
        Some(("viewer", RTSP_PASSWORD)),
    )
    .expect("the camera");
    let with_url = sim
        .url()
        .replace("rtsp://", &format!("rtsp://viewer:{RTSP_PASSWORD}@"));
    let ops = free_port();
    let text = format!(
        r#"[site]
id = "surface"
device = "box"
[runtime]
models_dir = "{models}"
[ops]
listen = "0.0.0.0:{ops}"
[mqtt]
host = "127.0.0.1"
port = {port}
username = "roadeye"
password = "{MQTT_PASSWORD}"
heartbeat_s = 1
outbox.path = "{outbox}"
[[cameras]]
id = "fields"
url = "{url}"
username = "viewer"
password = "{RTSP_PASSWORD}"
model = "centernet"
analysis_fps = 2
[[cameras]]
id = "in-url"
url = "{with_url}"
model = "centernet"
analysis_fps = 2
[[cameras]]
id = "wrong"
url = "{url}"
username = "viewer"
password = "{RTSP_PASSWORD}-not"
model = "centernet"
"#,
        models = common::root().join("models").display(),
        port = broker.port,
        outbox = dir.path().join("outbox.redb").display(),
        url = sim.url(),
    );
    let cfg = common::write(dir.path(), "box.toml", &text);
    // The log at its most verbose.
    let mut agent = RunningAgent::start_logging(&cfg, &[], "debug");
    let pid = agent.pid();

    // The credentials work: both good cameras stream, the broker took the login.
    let metrics = || common::http_get(ops, "/metrics").map_or(String::new(), |(_, b)| b);
    assert!(
        wait(Duration::from_secs(90), || {
            let m = metrics();
            ["fields", "in-url"].iter().all(|c| {
                m.contains(&format!(
                    "roadeye_camera_state{{camera=\"{c}\",state=\"streaming\"}} 1"
                ))
            }) && m.contains("roadeye_mqtt_connected 1")
                && m.contains("roadeye_camera_reconnects_total{camera=\"wrong\"}")
        }),
        "the cameras or the broker never came up:\n{}\n{}",
        metrics(),
        agent.log()
    );
    assert!(
        wait(Duration::from_secs(10), || !sub.on("/status").is_empty()),
        "no heartbeat"
    );
    assert!(
        agent.wait_log(
            Duration::from_secs(10),
            "is reachable beyond this box: /metrics, /healthz and the snapshots have no authentication"
        ),
        "no warning for endpoints bound beyond loopback:\n{}",
        agent.log()
    );

    // Every path that is not a snapshot's exact name is refused, and nothing outside is served.
    for path in [
        "/snapshots/../box.toml",
        "/snapshots/../../../../etc/passwd",
        "/snapshots/%2e%2e/box.toml",
        "/snapshots/fields/..%2F..%2Fbox.toml",
        "/snapshots/fields/1-2.jpg/../../../box.toml",
        "/snapshots/fields/../../box.toml",
        "/snapshots//etc/passwd",
        "/snapshots/fields/%00.jpg",
        "/metrics/../box.toml",
        "/healthz/../../box.toml",
        "/../box.toml",
        "/box.toml",
        "//etc/passwd",
    ] {
        let got = common::http_get(ops, path);
        let (code, body) = got.unwrap_or((0, String::new()));
        assert!(
            code == 404 || code == 400,
            "{path}: answered {code}: {body}"
        );
        assert!(
            !body.contains("[site]") && !body.contains("root:"),
            "{path} served a file: {body}"
        );
    }
    // Headers of 2 MB: refused with 431, and the endpoints go on.
    let mut huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 2 << 20));
    huge.extend(b"\r\n\r\n");
    let status = raw(ops, &huge);
    assert!(
        status.as_deref().is_none_or(|s| s.contains(" 431 ")),
        "huge headers: {status:?}"
    );

    // A flood: 1000 connections that never finish their headers, once the agent's memory has
    // settled (its lanes' arenas grow over the first frames).
    let mut settled = footprint(pid).0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_secs(3));
        let now = footprint(pid).0;
        if (now - settled).abs() < 2.0 {
            break;
        }
        settled = now;
    }
    let (rss_before, fds_before) = footprint(pid);
    let slow: Vec<TcpStream> = (0..1000)
        .filter_map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", ops)).ok()?;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").ok()?;
            Some(s)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let (rss_flood, fds_flood) = footprint(pid);
    println!(
        "flood of {}: RSS {rss_before:.0} → {rss_flood:.0} MB, descriptors {fds_before} → {fds_flood}",
        slow.len()
    );
    assert!(
        fds_flood <= fds_before + roadeye::ops::serve::MAX_CONNECTIONS + 8,
        "descriptors grew from {fds_before} to {fds_flood}"
    );
    assert!(
        rss_flood < rss_before + 20.0,
        "memory grew from {rss_before:.0} to {rss_flood:.0} MB"
    );
    // The slow clients are let go after the header timeout; the endpoints answer again.
    let since = Instant::now();
    assert!(
        wait(
            roadeye::ops::serve::HEADER_TIMEOUT + Duration::from_secs(5),
            || common::http_get(ops, "/healthz").is_some()
        ),
        "/healthz did not answer after the flood"
    );
    println!(
        "answered again {:.1} s after the flood",
        since.elapsed().as_secs_f64()
    );
    drop(slow);

    // What left the box, and the checker's report: no password anywhere.
    let health = common::http_get(ops, "/healthz").map_or(String::new(), |(_, b)| b);
    assert!(
        health.contains("camera 'wrong'"),
        "the wrong password is not reported: {health}"
    );
    let (_, check_out, check_err) = common::run(common::roadeye().arg("check").arg(&cfg));
    agent.signal("TERM");
    agent.wait(Duration::from_secs(20));
    let messages: String = sub
        .received()
        .iter()
        .map(|m| format!("{} {}\n", m.topic, m.payload))
        .collect();
    for (what, text) in [
        ("the log", agent.log()),
        ("/metrics", metrics()),
        ("/healthz", health),
        ("the broker's messages", messages),
        ("roadeye check", format!("{check_out}{check_err}")),
    ] {
        for secret in [RTSP_PASSWORD, MQTT_PASSWORD] {
            assert!(!text.contains(secret), "{what} holds a password:\n{text}");
        }
    }
    assert!(
        check_out.contains("is reachable beyond this box"),
        "check does not warn about the address: {check_out}"
    );
}
