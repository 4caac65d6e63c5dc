//! `roadeye run` as a technician starts it: the real binary on the demo config, stopped by SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn run_streams_logs_tracks_and_stops_cleanly_on_sigterm() {
    let mut child = common::roadeye()
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
    let stderr = child.stderr.take().expect("stderr");
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
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("wait");
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
