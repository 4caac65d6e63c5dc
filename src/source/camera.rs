//! A camera's supervisor: opens the pipeline, watches its bus and its frames, and reconnects with
//! capped exponential backoff when the stream fails, ends or goes silent. It runs on its own thread;
//! a camera fault never reaches the process or another camera.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use gstreamer as gst;

use super::{
    CameraState, CameraStatus, GstPixels, LatestFrame, Pipeline, RateGate, Signal, SourceSettings,
    StatusCell,
};
use crate::backoff::Backoff;
use crate::secret::redact;
use crate::types::{Frame, FrameMeta};

/// A running camera.
pub struct Camera {
    settings: SourceSettings,
    status: Arc<StatusCell>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A connection that has streamed this long was healthy: its failure starts a new episode (logged
/// as a warning, backoff from the start). Shorter ones are part of the same episode, so a camera
/// that sends a frame and dies is not retried at full speed forever.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// What the appsink callback shares with the supervisor.
struct Shared {
    settings: SourceSettings,
    status: Arc<StatusCell>,
    slot: Arc<LatestFrame>,
    signal: Arc<Signal>,
    /// The analysis-rate gate and the generation it was made for.
    gate: Mutex<(u64, RateGate)>,
    seq: AtomicU64,
    /// Bumped at each connection and each loop of a file (see [`FrameMeta::generation`]).
    generation: AtomicU64,
    /// Milliseconds since `epoch` of the last frame; 0 = none yet on this connection.
    last_frame_ms: AtomicU64,
    epoch: Mutex<Instant>,
    /// Wall-clock time at `epoch`: replayed files (not real time) date frames from it by pts.
    epoch_wall: Mutex<SystemTime>,
    stop: Arc<AtomicBool>,
    /// A replayed frame is waiting for analysis to take the previous one.
    waiting: AtomicBool,
}

enum Outcome {
    Stopped,
    Ended,
    Failed(String),
}

/// The supervisor's memory across connections.
struct Episode {
    backoff: Backoff,
    /// Inside a failure episode (retries are logged quietly).
    failing: bool,
}

impl Camera {
    /// Starts the camera on its own thread. Frames go to `slot`; `signal` is notified for each.
    pub fn start(settings: SourceSettings, slot: Arc<LatestFrame>, signal: Arc<Signal>) -> Camera {
        let status = Arc::new(StatusCell::default());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            gate: Mutex::new((0, RateGate::new(settings.analysis_fps))),
            settings: settings.clone(),
            status: Arc::clone(&status),
            slot,
            signal,
            seq: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            last_frame_ms: AtomicU64::new(0),
            epoch: Mutex::new(Instant::now()),
            epoch_wall: Mutex::new(SystemTime::now()),
            stop: Arc::clone(&stop),
            waiting: AtomicBool::new(false),
        });
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("cam-{}", settings.camera))
            .spawn(move || supervise(&shared, &stop_flag))
            .ok();
        if thread.is_none() {
            status.update(|s| {
                s.state = CameraState::Stopped;
                s.last_error = Some("could not start the camera thread".into());
            });
        }
        Camera {
            settings,
            status,
            stop,
            thread,
        }
    }

    /// The camera's settings.
    pub fn settings(&self) -> &SourceSettings {
        &self.settings
    }

    /// A snapshot of its state and counters.
    pub fn status(&self) -> CameraStatus {
        self.status.get()
    }

    /// The shared status cell (inference counts analysed frames into it).
    pub fn status_cell(&self) -> Arc<StatusCell> {
        Arc::clone(&self.status)
    }

    /// Stops the pipeline and waits for the supervisor to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How long a file that ended waits for inference to take its last frame.
const LAST_FRAME_WAIT: Duration = Duration::from_secs(10);

fn supervise(shared: &Arc<Shared>, stop: &AtomicBool) {
    let s = &shared.settings;
    let mut episode = Episode {
        backoff: Backoff::new(s.reconnect_min, s.reconnect_max),
        failing: false,
    };
    loop {
        shared
            .status
            .update(|st| st.state = CameraState::Connecting);
        match run_once(shared, stop, &mut episode) {
            Outcome::Stopped => break,
            Outcome::Ended => {
                // The last frame is still to be analysed: the file has ended once it is taken.
                shared.slot.wait_empty(LAST_FRAME_WAIT, stop);
                tracing::info!(camera = %s.camera, "the file ended");
                shared.status.update(|st| st.state = CameraState::Ended);
                return;
            }
            Outcome::Failed(error) => {
                let delay = episode.backoff.next_delay();
                let attempt = episode.backoff.attempts();
                // Once per episode at warn level; the retries of the same episode at debug.
                if episode.failing {
                    tracing::debug!(camera = %s.camera, attempt, retry_in = ?delay, "camera still failing: {error}");
                } else {
                    tracing::warn!(camera = %s.camera, source = %s.display, retry_in = ?delay, "camera failed: {error}");
                }
                episode.failing = true;
                shared.status.update(|st| {
                    st.state = CameraState::Reconnecting {
                        attempt,
                        retry_in: delay,
                    };
                    st.last_error = Some(error);
                    st.reconnects += 1;
                });
                if sleep_unless_stopped(delay, stop) {
                    break;
                }
            }
        }
    }
    shared.status.update(|st| st.state = CameraState::Stopped);
}

/// Sleeps `d` in short steps; returns true if asked to stop meanwhile.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    stop.load(Ordering::SeqCst)
}

/// One connection: build, play, and watch until it fails, ends or is stopped.
fn run_once(shared: &Arc<Shared>, stop: &AtomicBool, episode: &mut Episode) -> Outcome {
    let s = &shared.settings;
    shared.generation.fetch_add(1, Ordering::SeqCst);
    shared.last_frame_ms.store(0, Ordering::SeqCst);
    let cb = Arc::clone(shared);
    let pipeline = match Pipeline::build(s, move |sample| on_sample(&cb, &sample)) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let Some(bus) = pipeline.bus() else {
        return Outcome::Failed("the pipeline has no bus".into());
    };
    // One reference point for every silence measure of this connection.
    let started = Instant::now();
    *shared.epoch.lock().unwrap_or_else(PoisonError::into_inner) = started;
    *shared
        .epoch_wall
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = SystemTime::now();
    if let Err(e) = pipeline.play() {
        let detail = bus_error(&bus)
            .map(|d| redact_text(&d, s))
            .unwrap_or_default();
        return Outcome::Failed(format!("{e}{detail}"));
    }
    let mut streaming_since: Option<Instant> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Outcome::Stopped;
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            use gst::MessageView;
            match msg.view() {
                MessageView::Error(e) => {
                    if let Some(detail) = e.debug() {
                        tracing::debug!(camera = %s.camera, "GStreamer: {}", redact_text(&detail, s));
                    }
                    return Outcome::Failed(redact_text(&e.error().to_string(), s));
                }
                MessageView::Eos(_) if s.is_file() && s.looping => {
                    shared.generation.fetch_add(1, Ordering::SeqCst);
                    if let Err(e) = pipeline.rewind() {
                        return Outcome::Failed(e.to_string());
                    }
                }
                MessageView::Eos(_) if s.is_file() => return Outcome::Ended,
                MessageView::Eos(_) => return Outcome::Failed("the stream ended".into()),
                _ => {}
            }
        }
        if shared.waiting.load(Ordering::SeqCst) {
            // A replay held up by analysis is not stalled.
            let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            shared.last_frame_ms.store(now.max(1), Ordering::SeqCst);
        }
        let last = shared.last_frame_ms.load(Ordering::SeqCst);
        if last > 0 && streaming_since.is_none() {
            streaming_since = Some(Instant::now());
            if episode.failing {
                tracing::debug!(camera = %s.camera, "streaming (not yet healthy)");
            } else {
                tracing::info!(camera = %s.camera, source = %s.display, "streaming");
            }
            let duration = pipeline.duration().filter(|_| s.is_file());
            shared.status.update(|st| {
                st.state = CameraState::Streaming;
                st.duration = duration;
            });
        }
        if streaming_since.is_some_and(|t| t.elapsed() >= HEALTHY_AFTER) && episode.failing {
            tracing::info!(camera = %s.camera, attempts = episode.backoff.attempts(), "streaming again");
            episode.failing = false;
            episode.backoff.reset();
        } else if streaming_since.is_some_and(|t| t.elapsed() >= HEALTHY_AFTER) {
            episode.backoff.reset();
        }
        let since_start = started.elapsed();
        let silent_for = since_start.saturating_sub(Duration::from_millis(last));
        if silent_for > s.stall_timeout {
            let what = if last > 0 {
                "no frame for"
            } else {
                "no frame within"
            };
            return Outcome::Failed(format!("{what} {:.1} s", silent_for.as_secs_f32()));
        }
    }
}

/// The first error waiting on the bus, as `: message`.
fn bus_error(bus: &gst::Bus) -> Option<String> {
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_mseconds(500),
        &[gst::MessageType::Error],
    )?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(format!(": {}", e.error())),
        _ => None,
    }
}

/// GStreamer messages may quote the URL; never let credentials through.
fn redact_text(text: &str, s: &SourceSettings) -> String {
    let mut out = text.replace(&s.uri, &s.display);
    // The user name is not secret (and short names would mangle words); the password is.
    if let Some(secret) = s.password.as_deref().filter(|p| !p.is_empty()) {
        out = out.replace(secret, "***");
    }
    if out.contains("://") {
        out = out
            .split(' ')
            .map(|w| {
                if w.contains("://") {
                    redact(w)
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    out
}

/// The appsink callback: timestamps the frame and hands it over. Runs in GStreamer's thread.
fn on_sample(shared: &Shared, sample: &gst::Sample) {
    let epoch = *shared.epoch.lock().unwrap_or_else(PoisonError::into_inner);
    let since = u64::try_from(epoch.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    shared.last_frame_ms.store(since, Ordering::SeqCst);
    let pts = running_time(sample).unwrap_or_else(|| epoch.elapsed());
    shared.status.update(|st| {
        st.frames_in += 1;
        st.position = pts;
    });
    let generation = shared.generation.load(Ordering::SeqCst);
    let admitted = {
        let mut gate = shared.gate.lock().unwrap_or_else(PoisonError::into_inner);
        if gate.0 != generation {
            *gate = (generation, RateGate::new(shared.settings.analysis_fps));
        }
        gate.1.admit(pts)
    };
    if !admitted {
        shared.status.update(|st| st.frames_skipped += 1);
        return;
    }
    let Some((pixels, (width, height))) = GstPixels::from_sample(sample) else {
        return;
    };
    let replay = shared.settings.is_replay();
    let frame = Frame {
        meta: FrameMeta {
            camera: Arc::clone(&shared.settings.camera),
            seq: shared.seq.fetch_add(1, Ordering::SeqCst),
            pts,
            generation,
            captured_at: if replay {
                *shared
                    .epoch_wall
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    + pts
            } else {
                SystemTime::now()
            },
            arrived: std::time::Instant::now(),
            width,
            height,
        },
        pixels: Box::new(pixels),
    };
    if replay {
        // Every frame is analysed: wait for the previous one to be taken. Waiting on analysis is
        // not a silent source (see the stall watchdog).
        shared.waiting.store(true, Ordering::SeqCst);
        let put = shared.slot.put_when_free(frame, &shared.stop);
        shared.waiting.store(false, Ordering::SeqCst);
        if put {
            shared.signal.notify();
        }
        return;
    }
    if shared.slot.put(frame) {
        shared.status.update(|st| st.frames_dropped += 1);
    }
    shared.signal.notify();
}

/// The buffer's running time (continuous within a connection; restarts when a file loops).
fn running_time(sample: &gst::Sample) -> Option<Duration> {
    let pts = sample.buffer()?.pts()?;
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let rt = segment.to_running_time(pts)?;
    Some(Duration::from_nanos(rt.nseconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gstreamer_messages_never_carry_credentials() {
        let uri = "rtsp://admin:pa55@10.0.0.9/live".to_string();
        let s = SourceSettings {
            camera: crate::types::CameraId::from("c"),
            display: redact(&uri),
            uri,
            transport: crate::source::Transport::default(),
            latency: Duration::ZERO,
            username: Some("op".into()),
            password: Some("s3cr%t".into()),
            looping: false,
            realtime: true,
            analysis_fps: None,
            analysis_width: None,
            stall_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(30),
        };
        let text = "Could not open resource (gstrtspsrc.c: rtsp://admin:pa55@10.0.0.9/live) as op with s3cr%t; \
                    redirected to 'rtsp://admin:pa55@10.0.0.10/live'";
        let clean = redact_text(text, &s);
        for secret in ["pa55", "s3cr%t", "admin:"] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(clean.contains("rtsp://***@10.0.0.9/live"), "{clean}");
        assert!(clean.starts_with("Could not open resource"), "{clean}");
        assert!(!format!("{s:?}").contains("pa55") && !format!("{s:?}").contains("s3cr%t"));
    }
}
