//! A camera's tracking and rules, as one async task: detections in; tracks, events and
//! statistics out. A reload may hand it new rules (its tracker carries on), and it takes the
//! snapshots of the events that want one.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::{Analysed, Output, Snapshots};
use crate::ops::{Overlay, SnapshotJob, snapshot_name};
use crate::publish::message::ms_since_epoch;
use crate::rules::{CameraRules, Event};
use crate::track::Tracker;
use crate::types::{FramePixels, Tracks};

/// How often statistics intervals are checked for closing while a camera sends nothing.
const STATS_TICK: Duration = Duration::from_secs(1);

/// A change to a running camera's analysis.
pub(super) enum Control {
    /// New rules (and their drawing) from a reload; the interval in progress is reported first.
    Retune {
        rules: Box<CameraRules>,
        overlay: Arc<Overlay>,
    },
}

/// Where a camera's snapshots go, and what to draw on them.
pub(super) struct Tap {
    pub policy: Arc<Snapshots>,
    pub overlay: Arc<Overlay>,
}

/// Everything the task owns.
pub(super) struct Analysis {
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
}

/// Runs until the camera's detections end (it stopped, or a reload removed it).
pub(super) async fn run(a: Analysis) {
    let Analysis {
        mut tracker,
        mut rules,
        mut rx,
        mut control,
        tx,
        wall_clock,
        mut tap,
        timer,
    } = a;
    let mut generation = None;
    let mut controlled = true;
    // The last frame's tracks, to show new rules what is already there.
    let mut last: Option<Tracks> = None;
    let mut tick = tokio::time::interval(STATS_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ticks = async |tick: &mut tokio::time::Interval| {
        if wall_clock {
            tick.tick().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    loop {
        let (outputs, more) = tokio::select! {
            d = rx.recv() => match d {
                Some(Analysed { detections: d, pixels }) => {
                    // A new connection or a loop of a file: earlier tracks belong to another stream.
                    if generation.replace(d.meta.generation) != Some(d.meta.generation) {
                        tracker.reset();
                    }
                    let started = std::time::Instant::now();
                    let frame = Tracks {
                        tracks: tracker.update(d.meta.pts, &d.detections),
                        meta: d.meta,
                    };
                    let (mut events, stats) = rules.update(&frame);
                    if let Some(h) = &timer {
                        h.observe(started.elapsed().as_secs_f64());
                    }
                    if let (Some(tap), Some(pixels)) = (&tap, pixels) {
                        snapshot(tap, &frame, pixels.as_ref(), &mut events);
                    }
                    let mut out = Vec::with_capacity(events.len() + 2);
                    out.extend(stats.map(Output::Stats));
                    last = Some(frame.clone());
                    out.push(Output::Tracks(frame));
                    out.extend(events.into_iter().map(Output::Event));
                    (out, true)
                }
                // The camera stopped: report the interval in progress.
                None => (rules.flush().map(Output::Stats).into_iter().collect(), false),
            },
            c = control.recv(), if controlled => match c {
                Some(Control::Retune { rules: new, overlay }) => {
                    let closing = rules.flush();
                    let mut new = *new;
                    // Objects already inside a zone or past a line are not news: the new rules
                    // see the last frame first, and what they decide on it is dropped (events
                    // and statistics alike).
                    if let Some(frame) = &last {
                        let _ = new.update(frame);
                        let _ = new.flush();
                    }
                    rules = new;
                    if let Some(t) = tap.as_mut() {
                        t.overlay = overlay;
                    }
                    (closing.map(Output::Stats).into_iter().collect(), true)
                }
                None => {
                    controlled = false;
                    (Vec::new(), true)
                }
            },
            () = ticks(&mut tick) => (rules.tick(SystemTime::now()).map(Output::Stats).into_iter().collect(), true),
        };
        for o in outputs {
            if tx.send(o).await.is_err() {
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
    let Some(image) = pixels.view().map(|v| v.to_image()) else {
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
