//! `roadeye run --config CONFIG`: every enabled camera of the config, until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use roadeye::config::LoadedConfig;
use roadeye::infer::OrtRuntime;
use roadeye::ops::{Board, HttpServer, Metrics, SnapshotWriter};
use roadeye::pipeline::{Agent, Hooks, Output, Snapshots, Summary};
use roadeye::publish::{
    CameraHealth, Encoder, Link, LinkSettings, Message, Origin, Topics, Volatile, VolatileSender,
};
use roadeye::source::{CameraState, CameraStatus};
use roadeye::types::CameraId;
use tokio::signal::unix::{SignalKind, signal};

use super::reload::{Reloader, revision};

/// How often the config file is checked for a change.
const WATCH_EVERY: Duration = Duration::from_secs(2);

#[derive(Args)]
pub struct RunArgs {
    /// The config file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// Stop after this many seconds (default: run until SIGINT or SIGTERM).
    #[arg(long = "for", value_name = "SECONDS")]
    duration: Option<f64>,
    /// Seconds between track summaries in the log.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    summary_every: f64,
    /// At a stop, seconds to keep sending what the broker has not acknowledged yet (the rest
    /// stays in the outbox for the next start).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    flush_for: f64,
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let Some(cfg) = super::config::load_valid(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    // The revision of what is validated and run (a change while starting is a reload).
    let rev = revision(&std::fs::read(&args.config).unwrap_or_default());
    let rt = OrtRuntime::init(cfg.onnxruntime().as_deref())?;
    let every = Duration::try_from_secs_f64(args.summary_every.max(0.1))
        .context("--summary-every must be a number of seconds")?;
    let limit = args
        .duration
        .map(|s| Duration::try_from_secs_f64(s.max(0.0)))
        .transpose()
        .context("--for must be a number of seconds")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let flush = Duration::try_from_secs_f64(args.flush_for.max(0.0))
        .context("--flush-for must be a number of seconds")?;
    runtime.block_on(serve(
        &cfg,
        rev,
        rt,
        Timing {
            every,
            limit,
            flush,
        },
    ))
}

/// The topic prefix of the config.
fn prefix(cfg: &LoadedConfig) -> &str {
    cfg.config
        .mqtt
        .as_ref()
        .map_or(roadeye::publish::message::DEFAULT_PREFIX, |m| {
            m.prefix.as_str()
        })
}

/// Where events and statistics go: the MQTT link (which prints each once it is stored), or
/// stdout alone.
struct Sink {
    encoder: Encoder,
    link: Option<Link>,
    metrics: Arc<Metrics>,
    /// When each camera's last analysed frame arrived: the origin of the events that follow it.
    arrived: std::collections::HashMap<CameraId, std::time::Instant>,
}

impl Sink {
    fn start(cfg: &LoadedConfig, metrics: Arc<Metrics>) -> Result<Sink> {
        let site = &cfg.config.site;
        let prefix = prefix(cfg);
        let link = match LinkSettings::from_config(cfg)? {
            Some(settings) => {
                let (host, port) = (settings.host.clone(), settings.port);
                let m2 = Arc::clone(&metrics);
                let link = Link::start(
                    settings,
                    Box::new(move |m: &Message| {
                        if let Some(o) = &m.origin {
                            m2.observe("stored", &o.camera, o.at.elapsed().as_secs_f64());
                        }
                        if let Err(e) = print(m) {
                            tracing::debug!("cannot print a stored message: {e}");
                        }
                    }),
                )?;
                let m3 = Arc::clone(&metrics);
                link.on_delivered(Box::new(move |o: &Origin| {
                    m3.observe("delivered", &o.camera, o.at.elapsed().as_secs_f64());
                }));
                tracing::info!("publishing to MQTT at {host}:{port}");
                Some(link)
            }
            None => None,
        };
        Ok(Sink {
            encoder: Encoder::new(prefix, &site.id, &site.device),
            link,
            metrics,
            arrived: std::collections::HashMap::new(),
        })
    }

    /// Encodes an event or statistics; stores it in the outbox, or prints it.
    async fn emit(&mut self, o: &Output, summary: &mut Summary) -> Result<()> {
        let message = match o {
            Output::Tracks(t) => {
                let before = summary.total_tracks(&t.meta.camera);
                summary.add(t);
                let started = summary.total_tracks(&t.meta.camera).saturating_sub(before);
                self.metrics
                    .tracks(&t.meta.camera, t.tracks.len(), started as u64);
                self.arrived
                    .insert(Arc::clone(&t.meta.camera), t.meta.arrived);
                return Ok(());
            }
            Output::Event(e) => {
                self.metrics.event(&e.camera, e.kind.name());
                let origin = self.arrived.get(e.camera.as_str()).map(|at| Origin {
                    camera: Arc::from(e.camera.as_str()),
                    at: *at,
                });
                self.encoder.event(e).map(|m| Message { origin, ..m })
            }
            Output::Stats(s) => self.encoder.stats(s),
        }
        .context("cannot encode an output")?;
        match &self.link {
            Some(link) => {
                if !link.send(vec![message]).await {
                    anyhow::bail!("the MQTT link stopped");
                }
                Ok(())
            }
            None => print(&message).context("cannot write to stdout"),
        }
    }
}

/// The run's clocks.
struct Timing {
    every: Duration,
    limit: Option<Duration>,
    flush: Duration,
}

/// The snapshot writer, publishing each snapshot when the config asks and there is a link.
fn snapshots(
    cfg: &LoadedConfig,
    metrics: &Arc<Metrics>,
    link: Option<&Link>,
) -> Result<Option<Arc<Snapshots>>> {
    let s = &cfg.config.snapshots;
    if s.kinds.is_empty() {
        return Ok(None);
    }
    let publish = match (s.publish, link) {
        (true, Some(link)) => {
            let site = &cfg.config.site;
            let topics = Topics::new(prefix(cfg), &site.id, &site.device);
            let tx: VolatileSender = link.volatile();
            let f: roadeye::ops::snapshot::OnWritten = Box::new(move |name: &str, jpeg: &[u8]| {
                tx.send(Volatile {
                    topic: topics.snapshot(name),
                    payload: jpeg.to_vec(),
                });
            });
            Some(f)
        }
        (true, None) => {
            tracing::warn!(
                "snapshots.publish is set but there is no [mqtt] link: snapshots are only kept on disk"
            );
            None
        }
        _ => None,
    };
    let dir = s.dir_in(&cfg.base_dir);
    let writer = SnapshotWriter::start(
        dir.clone(),
        s.max_mb.saturating_mul(1024 * 1024),
        s.quality,
        Some(Arc::clone(metrics)),
        publish,
    )?;
    tracing::info!(
        "snapshots of [{}] events kept in '{}' (at most {} MB)",
        s.kinds.join(", "),
        dir.display(),
        s.max_mb
    );
    Ok(Some(Arc::new(Snapshots {
        writer,
        kinds: s.kinds.clone(),
    })))
}

async fn serve(
    cfg: &LoadedConfig,
    rev: String,
    rt: &'static OrtRuntime,
    timing: Timing,
) -> Result<ExitCode> {
    let Timing {
        every,
        limit,
        flush,
    } = timing;
    // Signals first: a stop asked for while the cameras start is a clean stop too.
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let board = Arc::new(Board::default());
    let metrics = Arc::new(Metrics::new(Arc::clone(&board)));
    let mut sink = Sink::start(cfg, Arc::clone(&metrics))?;
    if let Some(link) = &sink.link {
        board.set_link(link.figures());
    }
    let snaps = snapshots(cfg, &metrics, sink.link.as_ref())?;
    let http = match cfg.config.ops.listen_addr().map_err(anyhow::Error::msg)? {
        Some(addr) => {
            let dir = snaps
                .as_ref()
                .map(|_| cfg.config.snapshots.dir_in(&cfg.base_dir));
            // Events matter more than metrics: a taken port leaves the endpoints off, loudly.
            match HttpServer::start(addr, Arc::clone(&metrics), Arc::clone(&board), dir) {
                Ok(server) => {
                    tracing::info!(
                        "metrics on http://{0}/metrics, health on http://{0}/healthz",
                        server.addr()
                    );
                    Some(server)
                }
                Err(e) => {
                    tracing::error!("{e}; running without metrics and health endpoints");
                    None
                }
            }
        }
        None => None,
    };
    let hooks = Hooks {
        metrics: Some(Arc::clone(&metrics)),
        snapshots: snaps,
        board: Arc::clone(&board),
    };
    let (mut agent, mut outputs) = Agent::start_with(cfg, rt, hooks)?;
    let mut reloader = Reloader::new(cfg, rev);
    let cameras = agent.statuses().len();
    tracing::info!(cameras, site = %cfg.config.site.id, config = %reloader.health().revision, "running; SIGINT or SIGTERM stops, SIGHUP reloads the config");
    let mut summary = Summary::default();
    let mut rates = Rates::default();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut watch = tokio::time::interval(WATCH_EVERY);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watching = cfg.config.ops.watch_config;
    let played: Vec<String> = cfg
        .config
        .cameras
        .iter()
        .filter(|c| c.enabled && c.url.starts_with("file:") && !c.looping)
        .map(|c| c.id.clone())
        .collect();
    let bars = super::progress::FileBars::new(&played);
    let mut redraw = tokio::time::interval(Duration::from_millis(500));
    let deadline = tokio::time::sleep(limit.unwrap_or(Duration::from_secs(u64::from(u32::MAX))));
    tokio::pin!(deadline);
    if let Some(link) = &sink.link {
        link.set_config(reloader.health().clone());
        link.set_health(rates.health(&agent.statuses()));
    }
    let reason = loop {
        let why = tokio::select! {
            Some(o) = outputs.recv() => {
                sink.emit(&o, &mut summary).await?;
                continue;
            }
            _ = tick.tick() => {
                let statuses = agent.statuses();
                for line in summary.lines(&statuses, every) {
                    tracing::info!("{line}");
                }
                if let Some(link) = &sink.link {
                    link.set_health(rates.health(&statuses));
                }
                if !statuses.is_empty() && statuses.iter().all(|(_, s)| s.state == CameraState::Ended) {
                    break "every source ended";
                }
                continue;
            }
            _ = redraw.tick(), if !bars.is_empty() => {
                bars.update(&agent.statuses());
                continue;
            }
            _ = watch.tick(), if watching => {
                if !reloader.changed() {
                    continue;
                }
                "the config file changed"
            }
            _ = hup.recv() => "SIGHUP",
            _ = int.recv() => break "SIGINT",
            _ = term.recv() => break "SIGTERM",
            _ = &mut deadline => break "time limit reached",
        };
        reloader.reload(&mut agent, &metrics, why).await;
        if let Some(link) = &sink.link {
            link.set_config(reloader.health().clone());
        }
    };
    bars.finish();
    tracing::info!("stopping ({reason})");
    let statuses = agent.statuses();
    // Every event decided before the stop is stored (and sent if the broker takes it in time).
    let mut last = Vec::new();
    agent
        .shutdown_draining(&mut outputs, |o| last.push(o))
        .await;
    for o in &last {
        sink.emit(o, &mut summary).await?;
    }
    if let Some(link) = sink.link.take() {
        match link.shutdown(flush).await {
            Some(0) => tracing::info!("every message was delivered to the broker"),
            Some(left) => tracing::warn!(
                "{left} message(s) wait in the outbox for the broker; they are sent at the next start"
            ),
            None => anyhow::bail!("the MQTT link failed while stopping (see the errors above)"),
        }
    }
    if let Some(h) = http {
        h.shutdown().await;
    }
    for (id, st) in &statuses {
        tracing::info!(
            "{id}: {} track(s) in all, {} frame(s) analysed, {} dropped, {} reconnect(s)",
            summary.total_tracks(id),
            st.frames_analysed,
            st.frames_dropped,
            st.reconnects
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Analysed frames per second per camera, between heartbeats.
#[derive(Default)]
struct Rates {
    last: std::collections::HashMap<CameraId, (u64, std::time::Instant)>,
}

impl Rates {
    fn health(&mut self, statuses: &[(CameraId, CameraStatus)]) -> Vec<CameraHealth> {
        let now = std::time::Instant::now();
        statuses
            .iter()
            .map(|(id, st)| {
                let (frames, since) = self
                    .last
                    .insert(id.clone(), (st.frames_analysed, now))
                    .unwrap_or((st.frames_analysed, now));
                let secs = now.duration_since(since).as_secs_f32();
                let fps = if secs > 0.0 {
                    (st.frames_analysed.saturating_sub(frames)) as f32 / secs
                } else {
                    0.0
                };
                CameraHealth {
                    camera: id.to_string(),
                    state: st.state.name(),
                    fps: (fps * 10.0).round() / 10.0,
                    frames_analysed: st.frames_analysed,
                    frames_dropped: st.frames_dropped,
                    reconnects: st.reconnects,
                    last_error: st.last_error.clone(),
                }
            })
            .collect()
    }
}

/// One stored message on stdout as a JSON line: `type` (event, stats), `topic`, then the payload's
/// own fields (`v`, `id`, `site`, …).
fn print(m: &Message) -> std::io::Result<()> {
    use std::io::Write;
    let kind = match m.class {
        roadeye::publish::Class::Event => "event",
        roadeye::publish::Class::Stats => "stats",
    };
    let topic = serde_json::to_string(&m.topic).unwrap_or_default();
    let body = m.payload.strip_prefix(b"{").unwrap_or(&m.payload);
    let mut out = std::io::stdout().lock();
    write!(out, "{{\"type\":\"{kind}\",\"topic\":{topic},")?;
    out.write_all(body)?;
    out.write_all(b"\n")?;
    out.flush()
}
