//! The MQTT link: messages are stored in the outbox first (fsync'd), then a session publishes them
//! in outbox order with QoS 1 and removes each one only when the broker has acknowledged it.
//!
//! Two tasks: the writer appends batches to the outbox and tells the session; the session keeps
//! the connection (reconnecting with a capped backoff), publishes a window of stored messages,
//! the retained status and its heartbeats, and the drop alarm once the link is back.

mod connection;
mod figures;
mod flight;
mod open;
mod origins;
mod session;

pub use origins::OnDelivered;

pub use figures::{LinkFigures, LinkReading};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use super::broker::{BrokerError, start_embedded};
use super::config::MqttConfig;
use super::message::Topics;
use super::outbox::{Limits, Message, Outbox, OutboxError};
use super::status::{BoxHealth, ConfigHealth};
use super::tls::{TlsError, client_config};

/// Batches of messages waiting for the writer. A full queue slows the producer (the cameras'
/// analysis) instead of losing a message.
const STORE_QUEUE: usize = 64;

/// Why the link could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// TLS settings are unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The embedded broker could not start.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The outbox could not be opened.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The outbox's folder could not be created.
    #[error(
        "mqtt.outbox.path: cannot create the folder '{}': {source} (create it, writable by roadeye, or choose another path)",
        .path.display()
    )]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The alarm for a damaged outbox could not be encoded.
    #[error("cannot encode the outbox alarm: {0}")]
    Alarm(#[source] serde_json::Error),
    /// The password could not be read.
    #[error("mqtt.{field}: {message}")]
    Secret {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Everything the link needs, read from the config (secrets and certificates loaded).
#[derive(Clone)]
pub struct LinkSettings {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Start the embedded broker on 127.0.0.1:`port`.
    pub embedded: bool,
    /// MQTT client id.
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// TLS settings; `None`: plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// Status heartbeat period.
    pub heartbeat: Duration,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// The topics.
    pub topics: Topics,
    /// The site's id.
    pub site: String,
    /// The box's id.
    pub device: String,
    /// The outbox file.
    pub outbox_path: PathBuf,
    /// The outbox's bounds.
    pub limits: Limits,
}

impl std::fmt::Debug for LinkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No credentials, ever.
        f.debug_struct("LinkSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl LinkSettings {
    /// The link of a (validated) `[mqtt]` section for box `device` of `site`; relative paths
    /// resolve against `base_dir` (the config's folder).
    pub fn new(
        m: &MqttConfig,
        site: &str,
        device: &str,
        base_dir: &Path,
    ) -> Result<LinkSettings, LinkError> {
        let secs = |s: f32| Duration::try_from_secs_f32(s).unwrap_or(Duration::from_secs(1));
        let tls = match &m.tls {
            Some(t) => Some(client_config(t, base_dir)?),
            None => None,
        };
        let credentials = match &m.username {
            Some(user) => Some((user.clone(), password(m, base_dir)?)),
            None => None,
        };
        let max_age = Duration::try_from_secs_f64(m.outbox.max_age_h * 3600.0)
            .unwrap_or(Duration::from_secs(72 * 3600));
        Ok(LinkSettings {
            host: if m.embedded {
                "127.0.0.1".into()
            } else {
                m.host.clone().unwrap_or_default()
            },
            port: m.port(),
            embedded: m.embedded,
            client_id: m
                .client_id
                .clone()
                .unwrap_or_else(|| format!("roadeye-{site}-{device}")),
            credentials,
            tls,
            keep_alive: Duration::from_secs(u64::from(m.keep_alive_s)),
            heartbeat: secs(m.heartbeat_s),
            reconnect_min: secs(m.reconnect_min_s),
            reconnect_max: secs(m.reconnect_max_s),
            topics: Topics::new(&m.prefix, site, device),
            site: site.to_string(),
            device: device.to_string(),
            outbox_path: base_dir.join(&m.outbox.path),
            limits: Limits {
                max_bytes: (m.outbox.max_mb * 1024.0 * 1024.0) as u64,
                max_age,
            },
        })
    }
}

/// The password from whichever source the config names (`""` when none: a user name alone).
fn password(m: &MqttConfig, base_dir: &Path) -> Result<String, LinkError> {
    if let Some(p) = &m.password {
        return Ok(p.expose().to_string());
    }
    if let Some(f) = &m.password_file {
        let path = base_dir.join(f);
        let text = std::fs::read_to_string(&path).map_err(|e| LinkError::Secret {
            field: "password_file",
            message: format!("cannot read '{}': {e}", path.display()),
        })?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Some(var) = &m.password_env {
        return std::env::var(var).map_err(|_| LinkError::Secret {
            field: "password_env",
            message: format!("the environment variable '{var}' is not set"),
        });
    }
    Ok(String::new())
}

/// Called with each message once it is durably in the outbox (e.g. to print it).
pub type OnStored = Box<dyn FnMut(&Message) + Send>;

/// The running link.
pub struct Link {
    tx: mpsc::Sender<Vec<Message>>,
    volatile: mpsc::Sender<Volatile>,
    figures: Arc<LinkFigures>,
    store: Arc<Store>,
    config: watch::Sender<Option<ConfigHealth>>,
    health: watch::Sender<BoxHealth>,
    stop: watch::Sender<Option<Duration>>,
    writer: JoinHandle<()>,
    session: JoinHandle<u64>,
}

/// Volatile messages (snapshots) waiting for the session; more are dropped.
const VOLATILE_QUEUE: usize = 4;

/// A message published once with QoS 0 while connected, never stored (a snapshot image).
#[derive(Debug)]
pub struct Volatile {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// Publishes volatile messages (see [`Link::volatile`]).
#[derive(Clone)]
pub struct VolatileSender {
    tx: mpsc::Sender<Volatile>,
    figures: Arc<LinkFigures>,
}

impl VolatileSender {
    /// Publishes `m` once with QoS 0 if the broker is connected and the session keeps up;
    /// otherwise drops it. False if it was dropped here.
    pub fn send(&self, m: Volatile) -> bool {
        // Too large for a packet, rumqttc would fail the connection: never send it.
        let fits = m.topic.len() + m.payload.len() + 16 <= session::MAX_PACKET;
        fits && self.figures.read().connected && self.tx.try_send(m).is_ok()
    }
}

/// The outbox and the figures kept with it.
pub(super) struct Store {
    outbox: Mutex<Outbox>,
    figures: Arc<LinkFigures>,
    origins: origins::Origins,
    /// A failure asked for (how the agent's watch on the link is tested): the session panics.
    fail: Mutex<Option<String>>,
}

/// How many times a failed write is retried after the producers have stopped (one per second).
const RETRIES_AT_STOP: u32 = 10;

impl Link {
    /// Opens the outbox (what it holds is sent first), starts the embedded broker if configured,
    /// and the writer and session tasks on the current tokio runtime.
    pub fn start(settings: LinkSettings, on_stored: OnStored) -> Result<Link, LinkError> {
        let outbox = open::open_outbox(&settings)?;
        if settings.embedded {
            let addr = start_embedded(settings.port)?;
            tracing::info!("embedded MQTT broker listening on {addr}");
        }
        let figures = Arc::new(LinkFigures::default());
        figures.set_depth(outbox.len(), outbox.bytes());
        let outbox = Arc::new(Store {
            outbox: Mutex::new(outbox),
            figures: Arc::clone(&figures),
            origins: origins::Origins::default(),
            fail: Mutex::new(None),
        });
        let (volatile, volatile_rx) = mpsc::channel(VOLATILE_QUEUE);
        let stored = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(STORE_QUEUE);
        let (health, health_rx) = watch::channel(BoxHealth::default());
        let (config, config_rx) = watch::channel(None);
        let (stop, stop_rx) = watch::channel(None);
        let writer = tokio::spawn(write(
            Arc::clone(&outbox),
            rx,
            Arc::clone(&stored),
            on_stored,
        ));
        let store = Arc::clone(&outbox);
        let session = tokio::spawn(
            session::Session::new(settings, outbox, stored, health_rx, config_rx, stop_rx)
                .run(volatile_rx),
        );
        Ok(Link {
            tx,
            volatile,
            figures,
            store,
            config,
            health,
            stop,
            writer,
            session,
        })
    }

    /// Stores `batch` (then it is sent); waits while the writer is behind. False if the link
    /// has stopped.
    pub async fn send(&self, batch: Vec<Message>) -> bool {
        self.tx.send(batch).await.is_ok()
    }

    /// A handle that publishes messages once with QoS 0, from any thread.
    pub fn volatile(&self) -> VolatileSender {
        VolatileSender {
            tx: self.volatile.clone(),
            figures: Arc::clone(&self.figures),
        }
    }

    /// Calls `f` with the origin of each message the broker acknowledges (those that have one).
    pub fn on_delivered(&self, f: OnDelivered) {
        self.store.origins.listen(f);
    }

    /// The link's live figures (connection, outbox depth, deliveries, drops).
    pub fn figures(&self) -> Arc<LinkFigures> {
        Arc::clone(&self.figures)
    }

    /// Which of the link's tasks has ended while it should run (a panic or a failure), if one has:
    /// the link no longer stores or sends.
    pub fn stopped(&self) -> Option<&'static str> {
        if self.writer.is_finished() {
            Some("the outbox writer")
        } else if self.session.is_finished() {
            Some("the MQTT session")
        } else {
            None
        }
    }

    /// Makes the session panic with `why`, as a bug would: how the watch on the link is tested.
    #[doc(hidden)]
    pub fn fail(&self, why: &str) {
        *self
            .store
            .fail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why.to_string());
    }

    /// The running config and the last reload's outcome; published at once.
    pub fn set_config(&self, state: ConfigHealth) {
        self.config.send_replace(Some(state));
    }

    /// The cameras' and stages' health for the next heartbeat.
    pub fn set_health(&self, health: BoxHealth) {
        self.health.send_replace(health);
    }

    /// Stores what is queued, sends what the broker takes within `grace`, publishes the
    /// `offline` status and disconnects. Returns the messages left in the outbox (sent at the
    /// next start), or `None` if a task failed.
    pub async fn shutdown(self, grace: Duration) -> Option<u64> {
        drop(self.tx);
        let wrote = self.writer.await.is_ok();
        if !wrote {
            tracing::error!("the outbox writer failed; what it had not stored is lost");
        }
        self.stop.send_replace(Some(grace));
        match self.session.await {
            Ok(left) if wrote => Some(left),
            Ok(_) => None,
            Err(e) => {
                tracing::error!("the MQTT session failed: {e}; unsent messages stay in the outbox");
                None
            }
        }
    }
}

/// Runs `f` on the outbox off the async threads (redb commits fsync).
async fn with_outbox<R: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&mut Outbox) -> R + Send + 'static,
) -> R {
    let store = Arc::clone(store);
    let job = tokio::task::spawn_blocking(move || {
        let mut guard = store.outbox.lock().unwrap_or_else(|p| p.into_inner());
        let r = f(&mut guard);
        store.figures.set_depth(guard.len(), guard.bytes());
        r
    });
    match job.await {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The writer: appends each batch durably, then reports it stored and wakes the session. A
/// failed write (a full disk) is retried every second: the batch is kept in memory meanwhile and
/// the producers wait, so nothing is lost while the process lives.
async fn write(
    outbox: Arc<Store>,
    mut rx: mpsc::Receiver<Vec<Message>>,
    stored: Arc<Notify>,
    mut on_stored: OnStored,
) {
    let mut batches = Vec::new();
    while rx.recv_many(&mut batches, STORE_QUEUE).await > 0 {
        let mut messages: Vec<Message> = batches.drain(..).flatten().collect();
        // A message the broker could never take would block the outbox: refuse it, loudly.
        messages.retain(|m| {
            let fits = m.topic.len() + m.payload.len() + 16 <= session::MAX_PACKET;
            if !fits {
                tracing::error!(
                    "a message of {} bytes for '{}' is larger than the {} bytes an MQTT packet may have here; not stored",
                    m.payload.len(),
                    m.topic,
                    session::MAX_PACKET
                );
            }
            fits
        });
        let mut failures = 0u32;
        loop {
            let (back, result) = with_outbox(&outbox, move |o| {
                let r = o.append(&messages);
                (messages, r)
            })
            .await;
            messages = back;
            match result {
                Ok((seqs, dropped)) => {
                    outbox
                        .origins
                        .stored(&seqs, messages.iter().map(|m| m.origin.as_ref()));
                    outbox.figures.dropped(dropped);
                    if !dropped.is_empty() {
                        tracing::warn!(
                            "outbox full: dropped the oldest {} statistics and {} event message(s) to make room (an alarm is published when the broker is reachable)",
                            dropped.stats,
                            dropped.events
                        );
                    }
                    break;
                }
                Err(OutboxError::TooLarge { size, max }) => {
                    tracing::error!(
                        "a message of {size} bytes cannot fit the outbox (max {max} bytes): raise mqtt.outbox.max_mb; {} message(s) not stored",
                        messages.len()
                    );
                    messages.clear();
                    break;
                }
                Err(e) if rx.is_closed() && failures >= RETRIES_AT_STOP => {
                    tracing::error!(
                        "stopping: cannot store {} message(s): {e}; they are lost",
                        messages.len()
                    );
                    messages.clear();
                    break;
                }
                Err(e) => {
                    if failures.is_multiple_of(30) {
                        tracing::error!(
                            "cannot store {} message(s): {e}; retrying every second, they are kept in memory meanwhile",
                            messages.len()
                        );
                    }
                    failures += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        for m in &messages {
            on_stored(m);
        }
        stored.notify_one();
    }
}
