//! The `roadeye` command: argument parsing, logging, and the subcommands in `cli/`.

mod cli;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ROADEYE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("warn,roadeye=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Detect(args) => cli::detect::run(args),
        Command::Check(args) => cli::check::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
