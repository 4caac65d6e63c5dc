//! Event snapshots: a JPEG of the event's frame with the camera's lines, zones and tracked objects
//! drawn, written off the async runtime and kept under a size bound (the oldest go first).
//!
//! A snapshot is named `{camera}/{time_ms}-{frame}.jpg` in the snapshot folder; every event of
//! that frame refers to it by this name.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

use super::board::Board;
use super::metrics::Metrics;
use super::overlay::{Overlay, draw_caption, draw_tracks};
use super::supervise::{Supervisor, catch};
use crate::types::Track;

/// Snapshots waiting for the writer; more are skipped (and counted), never waited for.
const QUEUE: usize = 4;

/// Why snapshots cannot be kept.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The folder cannot be made or read.
    #[error(
        "snapshots.dir '{}': {source} (make it writable by roadeye, or choose another folder)",
        .path.display()
    )]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread could not start.
    #[error("cannot start the snapshot writer: {0}")]
    Thread(std::io::Error),
}

/// One frame to draw and keep.
pub struct SnapshotJob {
    /// Its name in the folder (`{camera}/{time_ms}-{frame}.jpg`).
    pub name: String,
    /// The frame.
    pub frame: RgbImage,
    /// The camera's lines and zones.
    pub overlay: Arc<Overlay>,
    /// The confirmed tracks on the frame.
    pub tracks: Vec<Track>,
    /// Tracks the events are about (drawn thicker).
    pub highlight: Vec<u64>,
    /// A caption (the events and the time).
    pub caption: String,
}

/// Called with each written snapshot's name and JPEG bytes (to publish it).
pub type OnWritten = Box<dyn FnMut(&str, &[u8]) + Send>;

/// The running writer: one thread, supervised (a job that panics is logged, counted as a failure
/// of stage `snapshots`, and the writer pauses for the restart delay, skipping what comes
/// meanwhile; events never wait for it).
pub struct SnapshotWriter {
    tx: Option<SyncSender<SnapshotJob>>,
    thread: Option<JoinHandle<()>>,
    metrics: Option<Arc<Metrics>>,
    fail: Arc<Mutex<Option<String>>>,
}

/// What the writer reports to.
struct Reports {
    metrics: Option<Arc<Metrics>>,
    supervisor: Option<Supervisor>,
}

impl Reports {
    fn count(&self, outcome: &'static str) {
        if let Some(m) = &self.metrics {
            m.snapshot(outcome);
        }
    }
}

/// The snapshot name of frame `seq` of `camera` at `time_ms`.
pub fn snapshot_name(camera: &str, time_ms: u64, seq: u64) -> String {
    format!("{camera}/{time_ms}-{seq}.jpg")
}

/// Whether `name` has the shape of a snapshot name (so a request cannot leave the folder).
pub fn is_snapshot_name(name: &str) -> bool {
    let Some((camera, file)) = name.split_once('/') else {
        return false;
    };
    let Some(stem) = file.strip_suffix(".jpg") else {
        return false;
    };
    let Some((ms, seq)) = stem.split_once('-') else {
        return false;
    };
    let id_ok = !camera.is_empty()
        && camera
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    id_ok && digits(ms) && digits(seq)
}

impl SnapshotWriter {
    /// Starts the writer for `dir`, keeping at most `max_bytes` of snapshots (what is already
    /// there counts, oldest first); its failures are shown on `board`.
    pub fn start(
        dir: PathBuf,
        max_bytes: u64,
        quality: u8,
        metrics: Option<Arc<Metrics>>,
        board: Option<Arc<Board>>,
        on_written: Option<OnWritten>,
    ) -> Result<SnapshotWriter, SnapshotError> {
        let folder = |source| SnapshotError::Folder {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(folder)?;
        let kept = Retention::scan(&dir, max_bytes).map_err(folder)?;
        let (tx, rx) = sync_channel(QUEUE);
        let reports = Reports {
            metrics: metrics.clone(),
            supervisor: board.map(|b| Supervisor::new("snapshots", Arc::from("writer"), b)),
        };
        let fail = Arc::new(Mutex::new(None));
        let writer = Writer {
            dir,
            kept,
            quality,
            on_written,
            fail: Arc::clone(&fail),
        };
        let thread = std::thread::Builder::new()
            .name("snapshots".into())
            .spawn(move || serve(&rx, writer, reports))
            .map_err(SnapshotError::Thread)?;
        Ok(SnapshotWriter {
            tx: Some(tx),
            thread: Some(thread),
            metrics,
            fail,
        })
    }

    /// Makes the next job panic, as a bug would: how the supervision is tested.
    #[doc(hidden)]
    pub fn fail(&self, why: &str) {
        *self.fail.lock().unwrap_or_else(PoisonError::into_inner) = Some(why.to_string());
    }

    /// Hands `job` to the writer; false (and counted as skipped) if it is busy.
    pub fn submit(&self, job: SnapshotJob) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if let Some(m) = &self.metrics {
                    m.snapshot("skipped");
                }
                false
            }
        }
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer's state.
struct Writer {
    dir: PathBuf,
    kept: Retention,
    quality: u8,
    on_written: Option<OnWritten>,
    fail: Arc<Mutex<Option<String>>>,
}

impl Writer {
    /// Draws, writes and keeps one snapshot, and publishes it; its name.
    fn take(&mut self, job: SnapshotJob) -> Result<String, String> {
        let injected = self
            .fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(why) = injected {
            panic!("{why}");
        }
        let (name, bytes) = write(&self.dir, job, self.quality)?;
        self.kept.add(&self.dir, name.clone(), bytes.len() as u64);
        if let Some(f) = self.on_written.as_mut() {
            f(&name, &bytes);
        }
        Ok(name)
    }
}

fn serve(rx: &Receiver<SnapshotJob>, mut writer: Writer, mut reports: Reports) {
    let mut failing = false;
    while let Ok(job) = rx.recv() {
        let outcome = match catch(|| writer.take(job)) {
            Ok(Ok(_)) => {
                if failing {
                    tracing::info!("snapshots are written again");
                    failing = false;
                }
                if let Some(s) = reports.supervisor.as_mut() {
                    s.handled();
                }
                "written"
            }
            Ok(Err(e)) => {
                if !failing {
                    tracing::warn!(
                        "cannot write a snapshot: {e} (events still go out; their snapshot is missing)"
                    );
                    failing = true;
                }
                "failed"
            }
            Err(panicked) => {
                reports.count("failed");
                let delay = match reports.supervisor.as_mut() {
                    Some(s) => s.failed(&panicked),
                    None => {
                        tracing::error!("the snapshot writer {panicked}");
                        Duration::ZERO
                    }
                };
                if !pause(rx, delay, &reports) {
                    return;
                }
                if let Some(s) = reports.supervisor.as_mut() {
                    s.restarted();
                }
                continue;
            }
        };
        reports.count(outcome);
    }
}

/// Waits out a restart delay, skipping (and counting) the snapshots that come meanwhile; false if
/// the writer is stopped.
fn pause(rx: &Receiver<SnapshotJob>, delay: Duration, reports: &Reports) -> bool {
    let until = Instant::now() + delay;
    loop {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(_) => reports.count("skipped"),
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// `img` as a JPEG of `quality` (1–100).
pub fn encode_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(img)?;
    Ok(bytes)
}

/// Draws and writes one snapshot (to a temporary name, then renamed: a reader never sees half a
/// file). Returns its name and bytes.
fn write(dir: &Path, job: SnapshotJob, quality: u8) -> Result<(String, Vec<u8>), String> {
    let SnapshotJob {
        name,
        mut frame,
        overlay,
        tracks,
        highlight,
        caption,
    } = job;
    // The rule geometry goes over the boxes: at a crossing the object's box edge often lies on
    // the line, and evidence that hides the line under it would not show what was crossed.
    draw_tracks(&mut frame, &tracks, &highlight);
    overlay.draw(&mut frame);
    draw_caption(&mut frame, &caption);
    let bytes = encode_jpeg(&frame, quality).map_err(|e| format!("JPEG encoding: {e}"))?;
    let path = dir.join(&name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("'{}': {e}", parent.display()))?;
    }
    let tmp = path.with_extension("jpg.tmp");
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("'{}': {e}", path.display())
        })?;
    Ok((name, bytes))
}

/// The snapshots on disk, oldest first, and their total size.
struct Retention {
    files: VecDeque<(String, u64)>,
    bytes: u64,
    max_bytes: u64,
}

impl Retention {
    /// What `dir` already holds (snapshot names only).
    fn scan(dir: &Path, max_bytes: u64) -> std::io::Result<Retention> {
        let mut found: Vec<(u64, String, u64)> = Vec::new();
        for cam in std::fs::read_dir(dir)? {
            let cam = cam?;
            if !cam.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(cam.path())? {
                let f = f?;
                let name = format!(
                    "{}/{}",
                    cam.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                );
                if !is_snapshot_name(&name) {
                    continue;
                }
                let ms = name
                    .split_once('/')
                    .and_then(|(_, file)| file.split_once('-'))
                    .and_then(|(ms, _)| ms.parse().ok())
                    .unwrap_or(0);
                found.push((ms, name, f.metadata()?.len()));
            }
        }
        found.sort();
        let mut r = Retention {
            files: VecDeque::new(),
            bytes: 0,
            max_bytes,
        };
        for (_, name, size) in found {
            r.files.push_back((name, size));
            r.bytes += size;
        }
        r.trim(dir);
        Ok(r)
    }

    fn add(&mut self, dir: &Path, name: String, size: u64) {
        self.files.push_back((name, size));
        self.bytes += size;
        self.trim(dir);
    }

    /// Deletes the oldest snapshots until the total fits (the newest one always stays).
    fn trim(&mut self, dir: &Path) {
        while self.bytes > self.max_bytes && self.files.len() > 1 {
            let Some((name, size)) = self.files.pop_front() else {
                break;
            };
            self.bytes -= size;
            if let Err(e) = std::fs::remove_file(dir.join(&name))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("cannot delete the old snapshot '{name}': {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_so_a_request_stays_in_the_folder() {
        assert!(is_snapshot_name(&snapshot_name(
            "plaza-1",
            1_795_534_200_123,
            42
        )));
        for bad in [
            "../etc/passwd",
            "plaza/../../x-1.jpg",
            "plaza/123-4.png",
            "plaza/abc-4.jpg",
            "/123-4.jpg",
            "a/b/123-4.jpg",
            "plaza/123.jpg",
        ] {
            assert!(!is_snapshot_name(bad), "{bad}");
        }
    }

    fn job(name: &str) -> SnapshotJob {
        SnapshotJob {
            name: name.into(),
            frame: RgbImage::from_pixel(64, 48, image::Rgb([90, 90, 90])),
            overlay: Arc::new(Overlay::default()),
            tracks: Vec::new(),
            highlight: Vec::new(),
            caption: "test".into(),
        }
    }

    #[test]
    fn the_oldest_snapshots_go_first_when_the_bound_is_passed() {
        let dir = tempfile::tempdir().unwrap();
        let (name, bytes) = write(dir.path(), job("cam/1000-1.jpg"), 80).unwrap();
        let size = bytes.len() as u64;
        assert_eq!(name, "cam/1000-1.jpg");
        // Room for two snapshots and a half.
        let writer =
            SnapshotWriter::start(dir.path().into(), size * 5 / 2, 80, None, None, None).unwrap();
        for n in 2..=4 {
            assert!(writer.submit(job(&format!("cam/{}-{n}.jpg", 1000 * n))));
            // One at a time, so none is skipped.
            while !dir
                .path()
                .join(format!("cam/{}-{n}.jpg", 1000 * n))
                .exists()
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        drop(writer);
        let mut left: Vec<_> = std::fs::read_dir(dir.path().join("cam"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["3000-3.jpg", "4000-4.jpg"]);
        let img = image::open(dir.path().join("cam/4000-4.jpg")).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }
}
