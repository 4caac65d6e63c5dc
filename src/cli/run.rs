//! `roadeye run --config CONFIG`: the library's agent on every enabled camera of the config, until
//! SIGINT/SIGTERM. Here are only the arguments, the signals and the progress bars.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use roadeye::agent::{Agent, Command, Settings};
use roadeye::infer::OrtRuntime;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

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

fn seconds(s: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(s.max(0.0))
        .with_context(|| format!("{what} must be a number of seconds"))
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let Some(cfg) = super::config::load_valid(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let rt = OrtRuntime::init(cfg.onnxruntime().as_deref())?;
    let settings = Settings {
        summary_every: seconds(args.summary_every.max(0.1), "--summary-every")?,
        flush: seconds(args.flush_for, "--flush-for")?,
        print_stored: true,
    };
    let limit = args.duration.map(|s| seconds(s, "--for")).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Signals first: a stop asked for while the cameras start is a clean stop too.
        let (tx, rx) = mpsc::channel(8);
        let signals = watch_signals(tx.clone(), limit)?;
        let agent = Agent::start(&cfg, rt, settings).await?;
        tracing::info!("SIGINT or SIGTERM stops, SIGHUP reloads the config");
        let played: Vec<String> = cfg
            .config
            .cameras
            .iter()
            .filter(|c| c.enabled && c.url.starts_with("file:") && !c.looping)
            .map(|c| c.id.clone())
            .collect();
        let bars = super::progress::FileBars::new(&played);
        let board = agent.board();
        let drawing = (!bars.is_empty()).then(|| {
            let bars = bars.clone();
            tokio::spawn(async move {
                let mut redraw = tokio::time::interval(Duration::from_millis(500));
                loop {
                    redraw.tick().await;
                    bars.update(&board.cameras());
                }
            })
        });
        let report = agent.run(rx).await;
        signals.abort();
        if let Some(d) = drawing {
            d.abort();
        }
        bars.finish();
        report?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Turns SIGTERM, SIGINT, SIGHUP and the time limit into commands.
fn watch_signals(
    tx: mpsc::Sender<Command>,
    limit: Option<Duration>,
) -> Result<tokio::task::JoinHandle<()>> {
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    Ok(tokio::spawn(async move {
        let deadline =
            tokio::time::sleep(limit.unwrap_or(Duration::from_secs(u64::from(u32::MAX))));
        tokio::pin!(deadline);
        loop {
            let c = tokio::select! {
                _ = hup.recv() => Command::Reload("SIGHUP".into()),
                _ = int.recv() => Command::Stop("SIGINT".into()),
                _ = term.recv() => Command::Stop("SIGTERM".into()),
                () = &mut deadline => Command::Stop("time limit reached".into()),
            };
            let stop = matches!(c, Command::Stop(_));
            if tx.send(c).await.is_err() || stop {
                return;
            }
        }
    }))
}
