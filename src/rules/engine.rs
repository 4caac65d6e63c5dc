//! One camera's rules together: tracks in, typed events and interval statistics out. Pure: the
//! wall clock comes from the frames (and from [`CameraRules::tick`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind, ObjectInfo};
use super::homography::{CalibrationConfig, Homography, SpeedEstimator};
use super::line::{Anchor, Direction, LineConfig, LineCounter};
use super::queue::{QueueConfig, QueueMonitor};
use super::schedule::LocalTime;
use super::stats::{IntervalStats, LineKey, StatsAccumulator, StatsConfig};
use super::traffic::{StoppedConfig, StoppedVehicles, TrafficEvent, WrongWay, WrongWayConfig};
use super::zone::{ZoneConfig, ZoneEventKind, ZoneMonitor};
use crate::types::{FrameMeta, Track, Tracks};

/// Every rule of one camera, as configured (the `[[cameras.lines]]`, `[[cameras.zones]]`, …
/// tables of its `[[cameras]]` entry).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Counting lines.
    pub lines: Vec<LineConfig>,
    /// Zones.
    pub zones: Vec<ZoneConfig>,
    /// Lanes with a direction of travel.
    pub wrong_way: Vec<WrongWayConfig>,
    /// No-stopping zones.
    pub stopped: Vec<StoppedConfig>,
    /// Queue areas.
    pub queues: Vec<QueueConfig>,
    /// Ground calibration for speeds and queue lengths.
    pub calibration: Option<CalibrationConfig>,
    /// Statistics interval.
    pub stats: StatsConfig,
}

/// Why a camera's rules cannot run.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The calibration's points are degenerate.
    #[error(
        "calibration: the four image points (or ground points) are degenerate — no three may lie on one line"
    )]
    Calibration,
}

/// A track unseen this long is forgotten by the speed estimator.
const FORGET: Duration = Duration::from_secs(30);

/// The rules of one camera and their state.
#[derive(Debug)]
pub struct CameraRules {
    camera: String,
    tz: jiff::tz::TimeZone,
    lines: Vec<LineCounter>,
    zones: Vec<ZoneMonitor>,
    wrong_way: Vec<WrongWay>,
    stopped: Vec<StoppedVehicles>,
    queues: Vec<QueueMonitor>,
    ground: Option<Homography>,
    speeds: HashMap<u64, (SpeedEstimator, Duration)>,
    stats: StatsAccumulator,
    generation: Option<u64>,
    armed_zones: bool,
}

impl CameraRules {
    /// The rules `cfg` of `camera`, with schedules read in `tz`.
    pub fn new(
        camera: &str,
        cfg: &RulesConfig,
        tz: jiff::tz::TimeZone,
    ) -> Result<CameraRules, RulesError> {
        let ground = match &cfg.calibration {
            Some(c) => {
                Some(Homography::from_points(&c.image, &c.ground).ok_or(RulesError::Calibration)?)
            }
            None => None,
        };
        let line_keys = cfg
            .lines
            .iter()
            .flat_map(|l| {
                [&l.forward, &l.backward].map(|d| LineKey {
                    line: l.id.clone(),
                    lane: l.lane.clone(),
                    direction: d.clone(),
                })
            })
            .collect();
        let stats = StatsAccumulator::new(
            camera,
            cfg.stats.interval_s,
            line_keys,
            cfg.zones.iter().map(|z| z.id.clone()).collect(),
            cfg.queues
                .iter()
                .map(|q| (q.id.clone(), q.lane.clone()))
                .collect(),
        );
        Ok(CameraRules {
            camera: camera.to_string(),
            tz,
            lines: cfg.lines.iter().cloned().map(LineCounter::new).collect(),
            zones: cfg.zones.iter().cloned().map(ZoneMonitor::new).collect(),
            wrong_way: cfg.wrong_way.iter().cloned().map(WrongWay::new).collect(),
            stopped: cfg
                .stopped
                .iter()
                .cloned()
                .map(StoppedVehicles::new)
                .collect(),
            queues: cfg.queues.iter().cloned().map(QueueMonitor::new).collect(),
            ground,
            speeds: HashMap::new(),
            stats,
            generation: None,
            armed_zones: cfg.zones.iter().any(|z| z.intrusion.is_some()),
        })
    }

    /// Closes the statistics interval if the wall clock `now` is past its end. Call it on a timer
    /// (every second or so) so that intervals close while the camera is down.
    pub fn tick(&mut self, now: SystemTime) -> Option<IntervalStats> {
        self.stats.roll(now)
    }

    /// The statistics of the interval in progress, on shutdown (see [`StatsAccumulator::flush`]).
    pub fn flush(&mut self) -> Option<IntervalStats> {
        self.stats.flush()
    }

    /// Feeds one frame's tracks: the events decided on it, and the statistics of the interval it
    /// closed, if it closed one.
    pub fn update(&mut self, frame: &Tracks) -> (Vec<Event>, Option<IntervalStats>) {
        let (meta, tracks) = (&frame.meta, frame.tracks.as_slice());
        let closed = self.stats.roll(meta.captured_at);
        let dt = self.stats.frame(meta.captured_at);
        if self.generation.replace(meta.generation) != Some(meta.generation) {
            self.speeds.clear();
        }
        let speeds = self.measure_speeds(meta, tracks);
        let mut events = Vec::new();
        let event = |rule: &str, kind: EventKind, object: Option<ObjectInfo>| Event {
            camera: self.camera.clone(),
            time: meta.captured_at,
            pts: meta.pts,
            rule: rule.to_string(),
            kind,
            object,
            snapshot: None,
        };
        let object = |id: u64, class: &str| Some(ObjectInfo::find(id, class, meta, tracks));
        for (i, line) in self.lines.iter_mut().enumerate() {
            for c in line.update(meta, tracks) {
                let speed = speeds.get(&c.track_id).copied();
                let slot = 2 * i + usize::from(c.direction == Direction::Backward);
                self.stats.crossing(slot, &c.class, speed);
                let kind = EventKind::LineCrossing {
                    direction: c.direction_name,
                    lane: line.config().lane.clone(),
                    speed_kmh: speed,
                };
                events.push(event(&c.line, kind, object(c.track_id, &c.class)));
            }
        }
        let local = self
            .armed_zones
            .then(|| LocalTime::of(meta.captured_at, &self.tz));
        for (i, zone) in self.zones.iter_mut().enumerate() {
            let mut zone_events = zone.update(meta, tracks);
            if let Some(local) = local {
                zone_events.extend(zone.intrusions(meta.pts, local));
            }
            self.stats.zone_sample(i, zone.occupancy(), dt);
            for id in zone.inside() {
                if let Some(s) = speeds.get(&id) {
                    self.stats.zone_speed(i, id, *s);
                }
            }
            for e in zone_events {
                let (kind, obj) = match e.kind {
                    ZoneEventKind::Enter { track_id, class } => {
                        self.stats.zone_enter(i);
                        (EventKind::ZoneEnter, object(track_id, &class))
                    }
                    ZoneEventKind::Exit {
                        track_id,
                        class,
                        dwell,
                    } => {
                        self.stats.zone_exit(i, dwell);
                        let dwell_s = secs(dwell);
                        (EventKind::ZoneExit { dwell_s }, object(track_id, &class))
                    }
                    ZoneEventKind::Loitering {
                        track_id,
                        class,
                        dwell,
                    } => {
                        let dwell_s = secs(dwell);
                        (EventKind::Loitering { dwell_s }, object(track_id, &class))
                    }
                    ZoneEventKind::Intrusion { track_id, class } => {
                        (EventKind::Intrusion, object(track_id, &class))
                    }
                    ZoneEventKind::CrowdStart { count } => (EventKind::CrowdStart { count }, None),
                    ZoneEventKind::CrowdEnd { count } => (EventKind::CrowdEnd { count }, None),
                };
                events.push(event(&e.zone, kind, obj));
            }
        }
        let traffic = self
            .wrong_way
            .iter_mut()
            .flat_map(|w| w.update(meta, tracks))
            .chain(self.stopped.iter_mut().flat_map(|s| s.update(meta, tracks)))
            .collect::<Vec<_>>();
        for t in traffic {
            let e = match t {
                TrafficEvent::WrongWay {
                    rule,
                    track_id,
                    class,
                    distance,
                    ..
                } => {
                    let kind = EventKind::WrongWay {
                        distance: (distance * 1000.0).round() / 1000.0,
                        speed_kmh: speeds.get(&track_id).copied(),
                    };
                    event(&rule, kind, object(track_id, &class))
                }
                TrafficEvent::Stopped {
                    rule,
                    track_id,
                    class,
                    duration,
                    ..
                } => {
                    let kind = EventKind::StoppedVehicle {
                        duration_s: secs(duration),
                    };
                    event(&rule, kind, object(track_id, &class))
                }
            };
            events.push(e);
        }
        for (i, q) in self.queues.iter_mut().enumerate() {
            let state = q.update(meta, tracks, self.ground.as_ref());
            self.stats.queue_sample(i, state, dt);
        }
        (events, closed)
    }

    /// Ground speeds (km/h, one decimal) of the tracks on this frame that have one.
    fn measure_speeds(&mut self, meta: &FrameMeta, tracks: &[Track]) -> HashMap<u64, f32> {
        let Some(h) = &self.ground else {
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for t in tracks {
            let p = Anchor::BottomCenter.of(t, meta.width, meta.height);
            let Some(g) = h.to_ground(p) else { continue };
            let (est, seen) = self.speeds.entry(t.id).or_default();
            est.push(meta.pts, g);
            *seen = meta.pts;
            if let Some(kmh) = est.kmh() {
                out.insert(t.id, ((kmh * 10.0).round() / 10.0) as f32);
            }
        }
        let now = meta.pts;
        self.speeds
            .retain(|_, (_, seen)| now.saturating_sub(*seen) <= FORGET);
        out
    }
}

fn secs(d: Duration) -> f32 {
    (d.as_secs_f32() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests;
