//! `roadeye run` as a technician starts it: the real binary on the demo config, stopped by SIGTERM.
//! Logs go to stderr; events and statistics to stdout, one JSON object per line.

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

/// Sends each line of `r` on the returned channel, from a thread.
fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
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
        .stdout(Stdio::piped())
        .spawn()
        .expect("roadeye run");
    let mut child = KillOnDrop(child);
    let rx = lines(child.0.stderr.take().expect("stderr"));
    let out = lines(child.0.stdout.take().expect("stdout"));
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
    // The demo's zone sees people within seconds: wait for a first event on stdout.
    let mut printed = Vec::new();
    while let Ok(line) = out.recv_timeout(Duration::from_secs(60)) {
        printed.push(line);
        if printed.iter().any(|l| l.contains(r#""type":"event""#)) {
            break;
        }
    }
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
    // Stdout: JSON lines only, events of the demo's rules, and the interval in progress reported
    // on the way out.
    printed.extend(out.iter());
    let values: Vec<serde_json::Value> = printed
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let event = values
        .iter()
        .find(|v| v["type"] == "event")
        .unwrap_or_else(|| panic!("no event printed: {printed:?}"));
    assert_eq!(event["camera"], "plaza");
    assert!(
        ["plaza-x", "plaza-centre"].contains(&event["rule"].as_str().unwrap_or("")),
        "{event}"
    );
    assert!(
        event["time_ms"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000),
        "{event}"
    );
    let last = values.last().expect("output");
    assert_eq!(
        last["type"], "stats",
        "the partial interval comes last: {printed:?}"
    );
    assert!(
        last["coverage_pct"]
            .as_f64()
            .is_some_and(|c| c > 0.0 && c < 100.0),
        "{last}"
    );
    assert_eq!(last["zones"][0]["zone"], "plaza-centre", "{last}");
}
