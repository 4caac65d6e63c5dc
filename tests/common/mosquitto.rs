//! A real Mosquitto broker on free loopback ports, and a real `mosquitto_sub` watching it.
//! Both come from Debian's `mosquitto` and `mosquitto-clients` (installed by scripts/setup.sh).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1, never handed out twice in one test process: a broker stopped
/// for an outage keeps its port for its own restart, and the agents of other tests never find
/// it.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut given = GIVEN.lock().expect("ports");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "'{tool}' is not installed: run scripts/setup.sh (it installs mosquitto and mosquitto-clients)"
    );
}

/// The user running the tests: run as root, Mosquitto would otherwise switch to its own user,
/// which cannot write the test's folders.
fn current_user() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

/// A Mosquitto broker with persistence (sessions and queued QoS 1 messages survive a restart).
pub struct Mosquitto {
    /// The plain listener's port.
    pub port: u16,
    conf: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    /// Starts a broker in `dir` on a free port; `extra` is appended to its config (more
    /// listeners, TLS).
    pub fn start(dir: &Path, extra: &str) -> Mosquitto {
        require("mosquitto");
        let port = free_port();
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).expect("broker data folder");
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "user {user}\nper_listener_settings false\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\nlistener {port} 127.0.0.1\n{extra}\n",
                data.display(),
                user = current_user()
            ),
        )
        .expect("broker config");
        let mut m = Mosquitto {
            port,
            conf,
            child: None,
        };
        m.restart();
        m
    }

    /// Starts the broker again (after [`stop`](Self::stop)) on the same ports and data.
    pub fn restart(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        wait_for_port(self.port);
    }

    /// Stops the broker the clean way (SIGTERM: it saves its sessions) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            let _ = c.wait();
        }
    }

    /// The broker's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `sig` (e.g. `TERM`, `KILL`) to `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} {pid}");
}

/// Waits (up to 10 s) until something accepts connections on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nothing listens on port {port} after 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One message a subscriber received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: String,
}

impl Received {
    /// The payload as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.payload).unwrap_or_else(|e| {
            panic!(
                "payload on {} is not JSON ({e}): {}",
                self.topic, self.payload
            )
        })
    }
}

/// `mosquitto_sub` with a persistent session (`-c`, QoS 1): what is published while it is
/// away (the broker restarting) is queued for it, as for an IOC's subscriber.
pub struct Subscriber {
    child: Child,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Subscriber {
    /// Subscribes to `filter` on the broker at `port` with the client id `id`; returns once the
    /// subscription is in place.
    pub fn start(port: u16, id: &str, filter: &str) -> Subscriber {
        require("mosquitto_sub");
        let mut child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-i",
                id,
                "-c",
                "-q",
                "1",
            ])
            .args(["-v", "-t", filter, "-t", "roadeye-test/ready"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let out = child.stdout.take().expect("stdout");
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some((topic, payload)) = line.split_once(' ') {
                    sink.lock().expect("lock").push(Received {
                        topic: topic.to_string(),
                        payload: payload.to_string(),
                    });
                }
            }
        });
        let sub = Subscriber { child, got };
        // Publish to ourselves until it arrives: then the subscription is live.
        let t = Instant::now();
        loop {
            let _ = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
                .args(["-t", "roadeye-test/ready", "-m", "ready"])
                .status();
            std::thread::sleep(Duration::from_millis(200));
            if sub
                .received()
                .iter()
                .any(|r| r.topic == "roadeye-test/ready")
            {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "mosquitto_sub did not subscribe"
            );
        }
        sub
    }

    /// Everything received so far (but the readiness probe), in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// The messages received on topics containing `part`.
    pub fn on(&self, part: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.topic.contains(part))
            .collect()
    }

    /// Waits up to `limit` for `done` to hold on what was received; returns whether it did.
    pub fn wait_until(&self, limit: Duration, done: impl Fn(&[Received]) -> bool) -> bool {
        let t = Instant::now();
        loop {
            if done(&self.received()) {
                return true;
            }
            if t.elapsed() > limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
