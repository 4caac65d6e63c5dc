//! `roadeye run` as a process: its stdout (the messages it stored, as JSON lines) and its log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `roadeye run`; killed when dropped.
pub struct RunningAgent {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });
    lines
}

impl RunningAgent {
    /// Starts `roadeye run --config config` with `args`.
    pub fn start(config: &Path, args: &[&str]) -> RunningAgent {
        Self::start_logging(config, args, "info")
    }

    /// The same, logging at `level` (`ROADEYE_LOG`).
    pub fn start_logging(config: &Path, args: &[&str], level: &str) -> RunningAgent {
        let mut child = super::roadeye()
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(args)
            .env("ROADEYE_LOG", level)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start roadeye run");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        RunningAgent {
            child,
            stdout,
            stderr,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JSON lines printed so far: each message once it is stored in the outbox.
    pub fn printed(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lock()
            .expect("lock")
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The ids of the messages printed so far, in order.
    pub fn printed_ids(&self) -> Vec<String> {
        self.printed()
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.stderr.lock().expect("lock").join("\n")
    }

    /// Waits up to `limit` for `done` to hold on the printed messages.
    pub fn wait_printed(
        &self,
        limit: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if done(&self.printed()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Waits up to `limit` for the log to contain `text`.
    pub fn wait_log(&self, limit: Duration, text: &str) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.log().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Sends `sig` (`TERM`, `KILL`).
    pub fn signal(&self, sig: &str) {
        super::mosquitto::signal(self.pid(), sig);
    }

    /// Waits up to `limit` for the process to exit; panics with the log if it does not.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(300));
                return s;
            }
            assert!(
                t.elapsed() < limit,
                "roadeye did not exit within {limit:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
