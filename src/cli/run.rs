//! `roadeye run --config CONFIG`: every enabled camera of the config, until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use roadeye::config::LoadedConfig;
use roadeye::infer::OrtRuntime;
use roadeye::pipeline::{Agent, Output, Summary};
use roadeye::source::CameraState;
use tokio::signal::unix::{SignalKind, signal};

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
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let Some(cfg) = super::config::load_valid(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
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
    runtime.block_on(serve(&cfg, rt, every, limit))
}

async fn serve(
    cfg: &LoadedConfig,
    rt: &OrtRuntime,
    every: Duration,
    limit: Option<Duration>,
) -> Result<ExitCode> {
    let (agent, mut outputs) = Agent::start(cfg, rt)?;
    let cameras = agent.statuses().len();
    tracing::info!(cameras, site = %cfg.config.site.id, "running; SIGINT or SIGTERM stops");
    let mut summary = Summary::default();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let deadline = tokio::time::sleep(limit.unwrap_or(Duration::from_secs(u64::from(u32::MAX))));
    tokio::pin!(deadline);
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let reason = loop {
        tokio::select! {
            Some(o) = outputs.recv() => emit(&o, &mut summary)?,
            _ = tick.tick() => {
                let statuses = agent.statuses();
                for line in summary.lines(&statuses, every) {
                    tracing::info!("{line}");
                }
                if statuses.iter().all(|(_, s)| s.state == CameraState::Ended) {
                    break "every source ended";
                }
            }
            _ = int.recv() => break "SIGINT",
            _ = term.recv() => break "SIGTERM",
            _ = &mut deadline => break "time limit reached",
        }
    };
    tracing::info!("stopping ({reason})");
    let statuses = agent.statuses();
    // Every event decided before the stop is written; the first write error is reported.
    let mut failed = None;
    agent
        .shutdown_draining(&mut outputs, |o| {
            if failed.is_none() {
                failed = emit(&o, &mut summary).err();
            }
        })
        .await;
    if let Some(e) = failed {
        return Err(e);
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

/// Events and statistics go to stdout as JSON lines (one object each, `"type"` says which);
/// tracks feed the log summaries.
fn emit(o: &Output, summary: &mut Summary) -> Result<()> {
    use std::io::Write;
    let line = match o {
        Output::Tracks(t) => {
            summary.add(t);
            return Ok(());
        }
        Output::Event(e) => json_line("event", e)?,
        Output::Stats(s) => json_line("stats", s)?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

fn json_line<T: serde::Serialize>(kind: &str, body: &T) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Line<'a, T> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(flatten)]
        body: &'a T,
    }
    serde_json::to_string(&Line { kind, body }).context("cannot encode an output")
}
