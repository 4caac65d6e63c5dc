//! `roadeye camera-sim FILE`: serves a video file as a live RTSP camera, looping.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use roadeye::source::sim::CameraSim;

#[derive(Args)]
pub struct SimArgs {
    /// The video file to serve (any format GStreamer decodes).
    file: PathBuf,
    /// TCP port (0: any free port).
    #[arg(long, default_value_t = 8554)]
    port: u16,
    /// Stream path.
    #[arg(long, default_value = "/camera")]
    path: String,
    /// Address to listen on (0.0.0.0 for other machines).
    #[arg(long, default_value = "127.0.0.1")]
    address: String,
    /// Require this user name (RTSP basic auth); needs --password.
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// The password for --user.
    #[arg(long, requires = "user")]
    password: Option<String>,
}

pub fn run(args: SimArgs) -> Result<ExitCode> {
    let creds = args.user.as_deref().zip(args.password.as_deref());
    let sim = CameraSim::start(&args.file, &args.address, args.port, &args.path, creds)?;
    println!(
        "serving {} at {} (H.264, looping); Ctrl-C stops",
        args.file.display(),
        sim.url()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    sim.stop();
    Ok(ExitCode::SUCCESS)
}
