//! `roadeye snapshot --config C --camera X --out F.jpg`: one live frame of a camera with what it
//! detects and its configured lines and zones drawn: the tool for placing them on a new
//! intersection.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use roadeye::infer::{Detector, LoadedSpec, OrtRuntime};
use roadeye::ops::annotate::draw_detections;
use roadeye::ops::overlay::draw_caption;
use roadeye::ops::{Overlay, snapshot::encode_jpeg};
use roadeye::source::{Camera, CameraState, LatestFrame, Signal};

#[derive(Args)]
pub struct SnapshotArgs {
    /// The config file (TOML).
    #[arg(long, short)]
    config: PathBuf,
    /// The camera's id in the config.
    #[arg(long)]
    camera: String,
    /// Where to write the JPEG.
    #[arg(long, short)]
    out: PathBuf,
    /// Seconds to wait for a frame.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    timeout: f64,
    /// Draw only the lines and zones, without detecting objects.
    #[arg(long)]
    no_detect: bool,
}

pub fn run(args: SnapshotArgs) -> Result<ExitCode> {
    let Some(cfg) = super::config::load_valid(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(cam) = cfg.config.cameras.iter().find(|c| c.id == args.camera) else {
        let ids: Vec<&str> = cfg.config.cameras.iter().map(|c| c.id.as_str()).collect();
        bail!(
            "no camera '{}' in '{}': its cameras are {}",
            args.camera,
            args.config.display(),
            ids.join(", ")
        );
    };
    let timeout = Duration::try_from_secs_f64(args.timeout.max(0.1))
        .context("--timeout must be a number of seconds")?;
    let detector = if args.no_detect {
        None
    } else {
        let rt = OrtRuntime::init(cfg.onnxruntime().as_deref())?;
        let spec = LoadedSpec::load(&cfg.model_spec_path(cam))?;
        Some(Detector::new(
            rt,
            spec,
            &cfg.config.runtime.inference,
            &cam.detect,
        )?)
    };
    roadeye::source::init()?;
    let settings = cam.source_settings(&cfg.base_dir)?;
    let slot = Arc::new(LatestFrame::default());
    let signal = Arc::new(Signal::default());
    let camera = Camera::start(settings, Arc::clone(&slot), Arc::clone(&signal));
    let started = Instant::now();
    let frame = loop {
        if let Some(f) = slot.take() {
            break f;
        }
        let st = camera.status();
        if st.state == CameraState::Ended || started.elapsed() >= timeout {
            let why = st.last_error.unwrap_or_else(|| st.state.name().to_string());
            camera.stop();
            bail!(
                "camera '{}' gave no frame within {:.0} s ({why}): check its url and that it is reachable from this box",
                cam.id,
                timeout.as_secs_f64()
            );
        }
        signal.wait(Duration::from_millis(200));
    };
    camera.stop();
    let view = frame.pixels.view().context("the frame could not be read")?;
    let mut img = view
        .to_rgb_image()
        .context("the frame could not be converted to RGB")?;
    let found = match detector {
        Some(mut d) => {
            let dets = d.detect(view)?;
            draw_detections(&mut img, &dets);
            Some(dets.len())
        }
        None => None,
    };
    drop(frame);
    let overlay = Overlay::of(cam);
    overlay.draw(&mut img);
    let caption = format!("{} {}x{}", cam.id, img.width(), img.height());
    draw_caption(&mut img, &caption);
    let jpeg = encode_jpeg(&img, 90)?;
    std::fs::write(&args.out, jpeg)
        .with_context(|| format!("cannot write '{}'", args.out.display()))?;
    println!(
        "{}: {}x{} frame of camera '{}' with {} line(s) and {} area(s){}",
        args.out.display(),
        img.width(),
        img.height(),
        cam.id,
        overlay.lines.len(),
        overlay.zones.len(),
        found
            .map(|n| format!(" and {n} detection(s)"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}
