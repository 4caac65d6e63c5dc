//! `roadeye detect IMAGE…`: detections as a table or JSON lines, and annotated JPEGs.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use roadeye::infer::picture::{self, PictureError};
use roadeye::infer::{
    Detector, InferenceOptions, OptLevel, OrtRuntime, PostprocessOverride, Provider,
};
use roadeye::ops::annotate;
use roadeye::types::{Detection, RgbView};
use serde::Serialize;

#[derive(Args)]
pub struct DetectArgs {
    /// Images to analyse (JPEG, PNG, BMP, WebP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Model: a spec file (models/<name>.toml) or a model name; default: centernet.
    #[arg(long, short)]
    model: Option<PathBuf>,
    /// Print one JSON object per image (JSON lines) instead of a table.
    #[arg(long)]
    json: bool,
    /// Write annotated JPEGs (boxes and labels) into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Minimum score (overrides the model spec's default).
    #[arg(long)]
    score: Option<f32>,
    /// Keep only these classes, comma-separated (e.g. person,car,bus).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Threads per inference (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Graph optimisation level.
    #[arg(long, value_enum, default_value_t = OptLevel::All)]
    optimization: OptLevel,
    /// Execution providers in order of preference.
    #[arg(long = "provider", value_enum, default_values_t = [Provider::Cpu])]
    providers: Vec<Provider>,
    /// Path of libonnxruntime.so (default: searched, see README).
    #[arg(long)]
    onnxruntime: Option<PathBuf>,
}

/// One image's result as printed with `--json`.
#[derive(Serialize)]
struct ImageResult<'a> {
    image: String,
    width: u32,
    height: u32,
    model: &'a str,
    inference_ms: f64,
    detections: Vec<JsonDetection<'a>>,
}

#[derive(Serialize)]
struct JsonDetection<'a> {
    class: &'a str,
    class_id: u16,
    score: f32,
    /// `[x1, y1, x2, y2]` in image pixels.
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

pub fn run(args: DetectArgs) -> Result<ExitCode> {
    let spec = super::model::load_spec(args.model.as_deref())?;
    let rt = OrtRuntime::init(args.onnxruntime.as_deref())?;
    tracing::debug!(runtime = %rt.path().display(), "ONNX Runtime loaded");
    let opts = InferenceOptions {
        lanes: 1,
        intra_threads: args.threads,
        optimization: args.optimization,
        memory_pattern: false,
        execution_providers: args.providers.clone(),
    };
    let over = PostprocessOverride {
        score_threshold: args.score,
        classes: args.classes.clone(),
        ..PostprocessOverride::default()
    };
    let mut detector = Detector::new(rt, spec, &opts, &over)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder '{}'", dir.display()))?;
    }
    let mut written = HashSet::new();
    let (mut failed, mut total, mut busy) = (0usize, 0usize, Duration::ZERO);
    let stdout = std::io::stdout();
    let bar = super::progress::images(args.images.len());
    for path in &args.images {
        match detect_one(&mut detector, path, &args, &mut written) {
            Ok(result) => {
                total += result.detections.len();
                busy += result.took;
                bar.suspend(|| {
                    let mut out = stdout.lock();
                    if args.json {
                        print_json(&mut out, &detector, path, &result)
                    } else {
                        print_table(&mut out, path, &result)
                    }
                })?;
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("error: {e:#}"));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let done = args.images.len() - failed;
    if !args.json && done > 0 {
        eprintln!(
            "{done} image(s), {total} detection(s), {:.1} ms per image{}",
            busy.as_secs_f64() * 1000.0 / done as f64,
            args.out
                .as_ref()
                .map(|d| format!("; annotated images in {}", d.display()))
                .unwrap_or_default()
        );
    }
    if failed > 0 {
        eprintln!("error: {failed} of {} image(s) failed", args.images.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// What one image gave.
struct Outcome {
    detections: Vec<Detection>,
    width: u32,
    height: u32,
    took: Duration,
}

fn detect_one(
    detector: &mut Detector,
    path: &Path,
    args: &DetectArgs,
    written: &mut HashSet<PathBuf>,
) -> Result<Outcome> {
    let mut img = read_image(path)?;
    let view = RgbView::packed(img.width(), img.height(), img.as_raw())
        .with_context(|| format!("image '{}' has no pixels", path.display()))?;
    let (dets, t) = detector.detect_timed(view)?;
    let outcome = Outcome {
        width: img.width(),
        height: img.height(),
        took: t.preprocess + t.run + t.postprocess,
        detections: dets,
    };
    if let Some(dir) = &args.out {
        annotate::draw_detections(&mut img, &outcome.detections);
        let target = unique_name(dir, path, written);
        if same_file(&target, path) {
            anyhow::bail!(
                "'{}' would overwrite the input image: choose another --out folder",
                target.display()
            );
        }
        img.save_with_format(&target, image::ImageFormat::Jpeg)
            .with_context(|| format!("cannot write '{}'", target.display()))?;
    }
    Ok(outcome)
}

/// Decodes an image file, with an error that says which of missing, unreadable or corrupt it is.
fn read_image(path: &Path) -> Result<RgbImage> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read image '{}'", path.display()))?;
    picture::decode(&bytes).map_err(|e| match e {
        PictureError::NotAnImage => anyhow::anyhow!("'{}' is {e}", path.display()),
        e => anyhow::anyhow!("image '{}' is {e}", path.display()),
    })
}

/// `<out>/<stem>.jpg`, with `-2`, `-3`… when two inputs share a stem.
fn unique_name(dir: &Path, input: &Path, written: &mut HashSet<PathBuf>) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy().into_owned());
    let mut candidate = dir.join(format!("{stem}.jpg"));
    let mut n = 2;
    while !written.insert(candidate.clone()) {
        candidate = dir.join(format!("{stem}-{n}.jpg"));
        n += 1;
    }
    candidate
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn print_json(out: &mut impl Write, detector: &Detector, path: &Path, r: &Outcome) -> Result<()> {
    let result = ImageResult {
        image: path.display().to_string(),
        width: r.width,
        height: r.height,
        model: &detector.spec().spec.name,
        inference_ms: (r.took.as_secs_f64() * 1e5).round() / 100.0,
        detections: r
            .detections
            .iter()
            .map(|d| JsonDetection {
                class: &d.label,
                class_id: d.class_id,
                score: round(d.score, 4),
                bbox: d.bbox.to_array().map(|v| round(v, 2)),
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &result)?;
    writeln!(out)?;
    Ok(())
}

fn round(v: f32, digits: i32) -> f32 {
    let f = 10f32.powi(digits);
    (v * f).round() / f
}

fn print_table(out: &mut impl Write, path: &Path, r: &Outcome) -> Result<()> {
    let dets = &r.detections;
    writeln!(
        out,
        "{}  {}x{}  {} detection(s)  {:.1} ms",
        path.display(),
        r.width,
        r.height,
        dets.len(),
        r.took.as_secs_f64() * 1000.0
    )?;
    if !dets.is_empty() {
        writeln!(
            out,
            "  {:<16} {:>6} {:>8} {:>8} {:>8} {:>8}",
            "class", "score", "x1", "y1", "x2", "y2"
        )?;
    }
    for d in dets {
        let b = d.bbox;
        writeln!(
            out,
            "  {:<16} {:>6.3} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            d.label, d.score, b.x1, b.y1, b.x2, b.y2
        )?;
    }
    Ok(())
}
