//! A camera's tracking and rules, as one async task: detections in; tracks, events and
//! statistics out. A reload may hand it new rules (its tracker carries on), and it takes the
//! snapshots of the events that want one.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::{Analysed, Output, Snapshots};
use crate::ops::supervise::{Supervisor, panic_message};
use crate::ops::{Overlay, SnapshotJob, snapshot_name};
use crate::rules::{CameraRules, Event, RulesConfig};
use crate::track::{Tracker, TrackerParams};
use crate::types::ms_since_epoch;
use crate::types::{FramePixels, Tracks};

/// How often statistics intervals are checked for closing while a camera sends nothing.
const STATS_TICK: Duration = Duration::from_secs(1);

/// A change to a running camera's analysis.
pub(super) enum Control {
    /// New rules (and their drawing) from a reload; the interval in progress is reported first.
    Retune {
        rules: Box<CameraRules>,
        config: Box<RulesConfig>,
        overlay: Arc<Overlay>,
    },
    /// Fail on purpose (a panic with this text): how the supervision is tested.
    Fail(String),
}

/// Where a camera's snapshots go, and what to draw on them.
pub(super) struct Tap {
    pub policy: Arc<Snapshots>,
    pub overlay: Arc<Overlay>,
}

/// What a camera's tracking and rules are built from, again after a failure.
pub(super) struct Recipe {
    pub camera: String,
    pub tracker: TrackerParams,
    pub rules: RulesConfig,
    pub tz: jiff::tz::TimeZone,
    /// The id the camera's next new track gets, kept across restarts and reloads.
    pub next_id: Arc<AtomicU64>,
}

impl Recipe {
    /// A tracker that carries on from the camera's last id.
    pub fn tracker(&self) -> Tracker {
        Tracker::starting_at(self.tracker.clone(), self.next_id.load(Ordering::SeqCst))
    }
}

/// Everything the task owns.
pub(super) struct Analysis {
    pub recipe: Recipe,
    pub tracker: Tracker,
    pub rules: CameraRules,
    pub rx: mpsc::Receiver<Analysed>,
    pub control: mpsc::Receiver<Control>,
    pub tx: mpsc::Sender<Output>,
    /// Close statistics intervals on the wall clock (live), or on frames only (a replay).
    pub wall_clock: bool,
    pub tap: Option<Tap>,
    /// Tracking and rules time per frame (`roadeye_stage_seconds{stage="analysis"}`).
    pub timer: Option<prometheus_client::metrics::histogram::Histogram>,
    pub supervisor: Supervisor,
}

/// Runs the camera's analysis until its detections end (it stopped, or a reload removed it) or
/// the consumer is gone; a panic restarts it (fresh tracks, ids carrying on) after a delay.
pub(super) async fn supervise(mut a: Analysis) {
    loop {
        let why = match AssertUnwindSafe(run(&mut a)).catch_unwind().await {
            Ok(()) => return,
            Err(payload) => panic_message(payload.as_ref()),
        };
        let delay = a.supervisor.failed(&why);
        if !idle(&mut a, delay).await {
            return;
        }
        let r = &a.recipe;
        match CameraRules::new(&r.camera, &r.rules, r.tz.clone()) {
            Ok(rules) => a.rules = rules,
            Err(e) => {
                tracing::error!(camera = %r.camera, "its rules cannot be built again: {e}");
                return;
            }
        }
        a.tracker = a.recipe.tracker();
        a.supervisor.restarted();
    }
}

/// Waits `delay` while dropping the camera's detections (the lanes never wait on a failed
/// camera) and keeping up with reloads; false if the camera stopped meanwhile.
async fn idle(a: &mut Analysis, delay: Duration) -> bool {
    let until = tokio::time::sleep(delay);
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => return true,
            d = a.rx.recv() => if d.is_none() {
                return false;
            },
            Some(c) = a.control.recv() => if let Control::Retune { config, overlay, .. } = c {
                a.recipe.rules = *config;
                if let Some(t) = a.tap.as_mut() {
                    t.overlay = overlay;
                }
            },
        }
    }
}

/// The analysis proper.
async fn run(a: &mut Analysis) {
    let mut generation = None;
    let mut controlled = true;
    // The last frame's tracks, to show new rules what is already there.
    let mut last: Option<Tracks> = None;
    let mut tick = tokio::time::interval(STATS_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wall_clock = a.wall_clock;
    let ticks = async |tick: &mut tokio::time::Interval| {
        if wall_clock {
            tick.tick().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    loop {
        let (outputs, more) = tokio::select! {
            d = a.rx.recv() => match d {
                Some(Analysed { detections: d, pixels }) => {
                    // A new connection or a loop of a file: earlier tracks belong to another stream.
                    if generation.replace(d.meta.generation) != Some(d.meta.generation) {
                        a.tracker.reset();
                    }
                    let started = std::time::Instant::now();
                    let frame = Tracks {
                        tracks: a.tracker.update(d.meta.pts, &d.detections),
                        meta: d.meta,
                    };
                    a.recipe.next_id.store(a.tracker.next_id(), Ordering::SeqCst);
                    let (mut events, stats) = a.rules.update(&frame);
                    if let Some(h) = &a.timer {
                        h.observe(started.elapsed().as_secs_f64());
                    }
                    if let (Some(tap), Some(pixels)) = (&a.tap, pixels) {
                        snapshot(tap, &frame, pixels.as_ref(), &mut events);
                    }
                    a.supervisor.handled();
                    let mut out = Vec::with_capacity(events.len() + 2);
                    out.extend(stats.map(Output::Stats));
                    last = Some(frame.clone());
                    out.push(Output::Tracks(frame));
                    out.extend(events.into_iter().map(Output::Event));
                    (out, true)
                }
                // The camera stopped: report the interval in progress.
                None => (a.rules.flush().map(Output::Stats).into_iter().collect(), false),
            },
            c = a.control.recv(), if controlled => match c {
                Some(Control::Retune { rules: new, config, overlay }) => {
                    let closing = a.rules.flush();
                    let mut new = *new;
                    // Objects already inside a zone or past a line are not news: the new rules
                    // see the last frame first, and what they decide on it is dropped (events
                    // and statistics alike).
                    if let Some(frame) = &last {
                        let _ = new.update(frame);
                        let _ = new.flush();
                    }
                    a.rules = new;
                    a.recipe.rules = *config;
                    if let Some(t) = a.tap.as_mut() {
                        t.overlay = overlay;
                    }
                    (closing.map(Output::Stats).into_iter().collect(), true)
                }
                Some(Control::Fail(why)) => panic!("{why}"),
                None => {
                    controlled = false;
                    (Vec::new(), true)
                }
            },
            () = ticks(&mut tick) => (a.rules.tick(SystemTime::now()).map(Output::Stats).into_iter().collect(), true),
        };
        for o in outputs {
            if a.tx.send(o).await.is_err() {
                return;
            }
        }
        if !more {
            return;
        }
    }
}

/// Takes the frame's snapshot if an event wants one, and names it in those events.
fn snapshot(tap: &Tap, frame: &Tracks, pixels: &dyn FramePixels, events: &mut [Event]) {
    let wants = |e: &Event| tap.policy.kinds.iter().any(|k| k == e.kind.name());
    if !events.iter().any(wants) {
        return;
    }
    let Some(image) = pixels.view().and_then(|v| v.to_rgb_image()) else {
        return;
    };
    let meta = &frame.meta;
    let name = snapshot_name(&meta.camera, ms_since_epoch(meta.captured_at), meta.seq);
    let chosen: Vec<&Event> = events.iter().filter(|e| wants(e)).collect();
    let what: Vec<String> = chosen
        .iter()
        .map(|e| match &e.object {
            Some(o) => format!("{} {} #{}", e.kind.name(), e.rule, o.track_id),
            None => format!("{} {}", e.kind.name(), e.rule),
        })
        .collect();
    let time = jiff::Timestamp::try_from(meta.captured_at)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let job = SnapshotJob {
        name: name.clone(),
        frame: image,
        overlay: Arc::clone(&tap.overlay),
        tracks: frame.tracks.clone(),
        highlight: chosen
            .iter()
            .filter_map(|e| e.object.as_ref().map(|o| o.track_id))
            .collect(),
        caption: format!("{} {time} {}", meta.camera, what.join(", ")),
    };
    if tap.policy.writer.submit(job) {
        for e in events.iter_mut().filter(|e| wants(e)) {
            e.snapshot = Some(name.clone());
        }
    }
}
