//! `/metrics`: the agent's counters in the Prometheus (OpenMetrics) text format.
//!
//! Counters the pipeline already keeps (frames, reconnects, the outbox) are read from the
//! [`Board`] at each scrape; what only passes by (events, tracks, inference times, snapshots,
//! reloads) is counted here as it happens.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::board::Board;

/// The HTTP content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type One = [(&'static str, String); 1];
type Two = [(&'static str, String); 2];
type Three = [(&'static str, String); 3];

/// Inference buckets: 5 ms to about 10 s, doubling.
fn inference_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

/// Stage buckets: 0.25 ms to about 8 s, doubling (pre- and post-processing take well under a
/// millisecond, a frame waiting for a lane or the broker can take seconds).
fn stage_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

/// The stages of a frame timed in `roadeye_stage_seconds`, in the order a frame passes them.
pub const STAGES: [&str; 7] = [
    "wait",
    "preprocess",
    "inference",
    "postprocess",
    "analysis",
    "stored",
    "delivered",
];

/// The agent's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    events: Family<Two, Counter>,
    tracks: Family<One, Gauge>,
    tracks_started: Family<One, Counter>,
    inference: Family<One, Histogram, fn() -> Histogram>,
    stages: Family<Three, Histogram, fn() -> Histogram>,
    models: std::sync::RwLock<std::collections::HashMap<String, String>>,
    snapshots: Family<One, Counter>,
    reloads: Family<One, Counter>,
    listener: std::sync::OnceLock<Listening>,
}

/// The listener, shown by name only.
struct Listening(Listener);

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

/// Hears each time recorded by [`Metrics::observe`]: stage, camera, seconds.
pub type Listener = Box<dyn Fn(&'static str, &str, f64) + Send + Sync>;

impl Metrics {
    /// Metrics over `board`'s cameras and link.
    pub fn new(board: Arc<Board>) -> Metrics {
        let mut registry = Registry::default();
        let events = Family::<Two, Counter>::default();
        let tracks = Family::<One, Gauge>::default();
        let tracks_started = Family::<One, Counter>::default();
        let inference =
            Family::<One, Histogram, fn() -> Histogram>::new_with_constructor(inference_histogram);
        let stages =
            Family::<Three, Histogram, fn() -> Histogram>::new_with_constructor(stage_histogram);
        let snapshots = Family::<One, Counter>::default();
        let reloads = Family::<One, Counter>::default();
        registry.register(
            "roadeye_events",
            "Events decided, by camera and kind",
            events.clone(),
        );
        registry.register(
            "roadeye_tracks",
            "Confirmed tracks on the camera's last analysed frame",
            tracks.clone(),
        );
        registry.register(
            "roadeye_tracks_started",
            "Tracks confirmed since the start",
            tracks_started.clone(),
        );
        registry.register(
            "roadeye_inference_seconds",
            "Time to detect objects in one frame (pre-processing, model run, decoding), by model",
            inference.clone(),
        );
        registry.register(
            "roadeye_stage_seconds",
            "Time a frame spends in each stage, by camera and model: wait (handed over until a lane takes it), preprocess, inference, postprocess, analysis (tracking and rules), stored (handed over until its events are in the outbox), delivered (handed over until the broker acknowledged its events)",
            stages.clone(),
        );
        registry.register(
            "roadeye_snapshots",
            "Event snapshots, by result (written, failed, skipped when the writer was busy)",
            snapshots.clone(),
        );
        registry.register(
            "roadeye_config_reloads",
            "Config reloads, by result (applied, rejected)",
            reloads.clone(),
        );
        registry.register_collector(Box::new(Live { board }));
        Metrics {
            registry,
            events,
            tracks,
            tracks_started,
            inference,
            stages,
            models: std::sync::RwLock::default(),
            snapshots,
            reloads,
            listener: std::sync::OnceLock::new(),
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        out
    }

    /// Counts an event of `kind` on `camera`.
    pub fn event(&self, camera: &str, kind: &str) {
        self.events
            .get_or_create(&[("camera", camera.to_string()), ("kind", kind.to_string())])
            .inc();
    }

    /// Records a camera's confirmed tracks on its last frame and how many were new.
    pub fn tracks(&self, camera: &str, live: usize, started: u64) {
        let label = [("camera", camera.to_string())];
        self.tracks
            .get_or_create(&label)
            .set(i64::try_from(live).unwrap_or(i64::MAX));
        if started > 0 {
            self.tracks_started.get_or_create(&label).inc_by(started);
        }
    }

    /// The histogram of detection times on `model` (a handle: keep it, observe per frame).
    pub fn inference(&self, model: &str) -> Histogram {
        self.inference
            .get_or_create(&[("model", model.to_string())])
            .clone()
    }

    /// The histogram of `stage` (one of [`STAGES`]) for `camera` on `model` (a handle: keep it,
    /// observe per frame); also records the camera's model for [`Metrics::observe`].
    pub fn stage(&self, stage: &'static str, model: &str, camera: &str) -> Histogram {
        self.models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(camera.to_string(), model.to_string());
        self.stages
            .get_or_create(&[
                ("stage", stage.to_string()),
                ("camera", camera.to_string()),
                ("model", model.to_string()),
            ])
            .clone()
    }

    /// Records `secs` in `stage` for `camera` (on the model its lanes were last started with).
    pub fn observe(&self, stage: &'static str, camera: &str, secs: f64) {
        let model = self
            .models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(camera)
            .cloned()
            .unwrap_or_default();
        self.stage(stage, &model, camera).observe(secs);
        if let Some(Listening(f)) = self.listener.get() {
            f(stage, camera, secs);
        }
    }

    /// Calls `f` with every time recorded by [`Metrics::observe`] (frame → stored, frame →
    /// delivered), exactly, for a bench's percentiles; once (later calls are ignored).
    pub fn listen(&self, f: Listener) {
        let _ = self.listener.set(Listening(f));
    }

    /// Counts a snapshot `result` (`written`, `failed`, `skipped`).
    pub fn snapshot(&self, result: &'static str) {
        self.snapshots
            .get_or_create(&[("result", result.to_string())])
            .inc();
    }

    /// Counts a reload `result` (`applied`, `rejected`).
    pub fn reload(&self, result: &'static str) {
        self.reloads
            .get_or_create(&[("result", result.to_string())])
            .inc();
    }
}

/// Reads the board at each scrape.
#[derive(Debug)]
struct Live {
    board: Arc<Board>,
}

/// Reads one counter of a camera's status.
type Read = fn(&crate::source::CameraStatus) -> u64;

const STATES: [&str; 6] = [
    "connecting",
    "streaming",
    "reconnecting",
    "ended",
    "stopped",
    "failed",
];

impl Collector for Live {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let reading = self.board.reading();
        let cameras: Vec<_> = reading.cameras.iter().map(|c| (&c.id, &c.status)).collect();
        let counters: [(&str, &str, Read); 5] = [
            ("roadeye_camera_frames_in", "Frames decoded", |s| {
                s.frames_in
            }),
            (
                "roadeye_camera_frames_analysed",
                "Frames analysed by the model",
                |s| s.frames_analysed,
            ),
            (
                "roadeye_camera_frames_skipped",
                "Frames passed over by the analysis-rate policy (analysis_fps)",
                |s| s.frames_skipped,
            ),
            (
                "roadeye_camera_frames_dropped",
                "Frames replaced by a newer one before inference took them (analysis slower than the video)",
                |s| s.frames_dropped,
            ),
            (
                "roadeye_camera_reconnects",
                "Times the stream was opened again after a failure",
                |s| s.reconnects,
            ),
        ];
        for (name, help, value) in counters {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (id, st) in &cameras {
                let label = [("camera", id.to_string())];
                ConstCounter::new(value(st)).encode(family.encode_family(&label)?)?;
            }
        }
        let mut family = enc.encode_descriptor(
            "roadeye_camera_state",
            "The camera's stream state: 1 for its current state, 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for c in &reading.cameras {
            for state in STATES {
                let label = [("camera", c.id.to_string()), ("state", state.to_string())];
                let on = i64::from(c.state() == state);
                ConstGauge::new(on).encode(family.encode_family(&label)?)?;
            }
        }
        let mut family = enc.encode_descriptor(
            "roadeye_camera_up",
            "1 while the camera streams (or a file has played to its end) and its analysis runs, else 0",
            None,
            MetricType::Gauge,
        )?;
        for c in &reading.cameras {
            let label = [("camera", c.id.to_string())];
            ConstGauge::new(i64::from(c.is_up())).encode(family.encode_family(&label)?)?;
        }
        let mut family = enc.encode_descriptor(
            "roadeye_stage_failures",
            "Times a supervised stage failed (exited or panicked) and was restarted: a camera's analysis, a model's inference lane, the snapshot writer or the ops endpoints",
            None,
            MetricType::Counter,
        )?;
        for ((stage, who), r) in &reading.stages {
            // A camera's analysis, a model's inference lane (`{model}/lane-{i}`); the box's own
            // stages (snapshots, endpoints) are one each.
            let mut label = vec![("stage", (*stage).to_string())];
            match *stage {
                "analysis" => label.push(("camera", who.to_string())),
                "inference" => label.push(("lane", who.to_string())),
                _ => {}
            }
            ConstCounter::new(r.failures).encode(family.encode_family(&label)?)?;
        }
        let Some(r) = reading.link else {
            return Ok(());
        };
        let gauges = [
            (
                "roadeye_mqtt_connected",
                "1 while connected to the MQTT broker",
                u64::from(r.connected),
            ),
            (
                "roadeye_outbox_messages",
                "Messages in the outbox, not yet acknowledged by the broker",
                r.depth,
            ),
            ("roadeye_outbox_bytes", "Bytes of those messages", r.bytes),
        ];
        for (name, help, v) in gauges {
            let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
            g.encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        ConstCounter::new(r.delivered).encode(enc.encode_descriptor(
            "roadeye_outbox_delivered",
            "Outbox messages the broker acknowledged",
            None,
            MetricType::Counter,
        )?)?;
        let mut family = enc.encode_descriptor(
            "roadeye_outbox_dropped",
            "Messages dropped by the outbox's size or age bound, by class",
            None,
            MetricType::Counter,
        )?;
        for (class, v) in [("event", r.dropped_events), ("stats", r.dropped_stats)] {
            let label = [("class", class.to_string())];
            ConstCounter::new(v).encode(family.encode_family(&label)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CameraState, StatusCell};

    #[test]
    fn the_text_has_every_camera_counter_and_what_was_counted() {
        let board = Arc::new(Board::default());
        let cell = Arc::new(StatusCell::default());
        cell.update(|s| {
            s.frames_in = 12;
            s.frames_analysed = 9;
            s.state = CameraState::Streaming;
        });
        board.set_cameras(vec![(Arc::from("north"), cell)]);
        let m = Metrics::new(Arc::clone(&board));
        m.event("north", "line_crossing");
        m.event("north", "line_crossing");
        m.tracks("north", 3, 5);
        m.inference("centernet").observe(0.042);
        m.stage("wait", "centernet", "north").observe(0.003);
        m.observe("stored", "north", 0.07);
        let text = m.encode();
        for line in [
            "roadeye_camera_frames_in_total{camera=\"north\"} 12",
            "roadeye_camera_frames_analysed_total{camera=\"north\"} 9",
            "roadeye_camera_state{camera=\"north\",state=\"streaming\"} 1",
            "roadeye_camera_state{camera=\"north\",state=\"connecting\"} 0",
            "roadeye_camera_up{camera=\"north\"} 1",
            "roadeye_events_total{camera=\"north\",kind=\"line_crossing\"} 2",
            "roadeye_tracks{camera=\"north\"} 3",
            "roadeye_tracks_started_total{camera=\"north\"} 5",
            "roadeye_inference_seconds_count{model=\"centernet\"} 1",
            "roadeye_inference_seconds_bucket{le=\"0.08\",model=\"centernet\"} 1",
            "roadeye_stage_seconds_count{stage=\"wait\",camera=\"north\",model=\"centernet\"} 1",
            "roadeye_stage_seconds_bucket{le=\"0.004\",stage=\"wait\",camera=\"north\",model=\"centernet\"} 1",
            "roadeye_stage_seconds_count{stage=\"stored\",camera=\"north\",model=\"centernet\"} 1",
        ] {
            assert!(text.contains(line), "no '{line}' in\n{text}");
        }
        assert!(
            !text.contains("roadeye_mqtt_connected"),
            "no link, no link metrics"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
