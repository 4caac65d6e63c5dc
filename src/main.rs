//! The `roadeye` command: argument parsing, logging, and the subcommands in `cli/`.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// roadeye: edge video analytics — cameras in, traffic and security events out.
#[derive(Parser)]
#[command(name = "roadeye", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect objects in images: print them, optionally write annotated copies.
    Detect(cli::detect::DetectArgs),
    /// Check a config file and the models it names; print every problem and exit non-zero if any.
    Check(cli::check::CheckArgs),
    /// Run every enabled camera of a config until SIGINT or SIGTERM.
    Run(cli::run::RunArgs),
    /// Serve a video file as a live RTSP camera (H.264, looping), for testing without a camera.
    CameraSim(cli::sim::SimArgs),
    /// Grab one live frame of a camera with its detections, lines and zones drawn (JPEG).
    Snapshot(cli::snapshot::SnapshotArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ROADEYE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,roadeye=info,rumqttd=off")),
        )
        .with_writer(cli::progress::LogWriter::default)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Detect(args) => cli::detect::run(args),
        Command::Check(args) => cli::check::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::CameraSim(args) => cli::sim::run(args),
        Command::Snapshot(args) => cli::snapshot::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
