//! Interval statistics aligned to the wall clock: volumes per line, direction and class; occupancy,
//! dwell and speed per zone; queue lengths per lane. The field names follow the detector-data
//! vocabulary of NTCIP 1209 and DATEX II (volume, flow rate, occupancy, average speed, queue
//! length); the README maps them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::event::unix_ms;
use super::queue::QueueState;

/// `[cameras.stats]`: how often statistics are reported.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatsConfig {
    /// Interval length in seconds; intervals start at multiples of it since midnight UTC, so it
    /// must divide a day (60, 300, 900, …). 0 turns statistics off.
    #[serde(default = "default_interval")]
    pub interval_s: u32,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            interval_s: default_interval(),
        }
    }
}

fn default_interval() -> u32 {
    60
}

/// Frames further apart than this leave a gap in the coverage (the camera was not analysed).
pub const MAX_FRAME_GAP: Duration = Duration::from_secs(5);

/// One camera's statistics over one interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalStats {
    /// The camera's id.
    pub camera: String,
    /// Start of the interval (inclusive), ms since the Unix epoch.
    #[serde(rename = "start_ms", serialize_with = "unix_ms")]
    pub start: SystemTime,
    /// End of the interval (exclusive), ms since the Unix epoch.
    #[serde(rename = "end_ms", serialize_with = "unix_ms")]
    pub end: SystemTime,
    /// Length of the interval in seconds.
    pub interval_s: u32,
    /// Share of the interval covered by analysed frames, in percent: below 100 when the agent
    /// started during the interval or the camera was down.
    pub coverage_pct: f32,
    /// Frames analysed.
    pub frames: u64,
    /// Per counting line and direction.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineStats>,
    /// Per zone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneStats>,
    /// Per queue (lane).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueStats>,
}

/// Traffic over one line in one direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineStats {
    /// The line's id.
    pub line: String,
    /// Its lane, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The direction's configured name.
    pub direction: String,
    /// Objects that crossed (NTCIP 1209 volume; DATEX II vehicle count).
    pub volume: u32,
    /// `volume` per class.
    pub by_class: BTreeMap<String, u32>,
    /// `volume` scaled to an hour (DATEX II vehicleFlowRate, vehicles/hour).
    pub flow_rate_vph: f32,
    /// Arithmetic mean of the crossing speeds (time-mean speed; DATEX II averageVehicleSpeed),
    /// with a calibration and at least one measured crossing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_speed_kmh: Option<f32>,
}

/// Presence in one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneStats {
    /// The zone's id.
    pub zone: String,
    /// Share of the covered time with at least one object inside, percent (NTCIP 1209 occupancy).
    pub occupancy_pct: f32,
    /// Time-weighted mean number of objects inside.
    pub mean_count: f32,
    /// Most objects inside at once.
    pub max_count: u32,
    /// Objects that entered (the people count of a hall's zone).
    pub entries: u32,
    /// Objects that left.
    pub exits: u32,
    /// Mean time inside of the objects that left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_dwell_s: Option<f32>,
    /// Longest time inside of the objects that left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_dwell_s: Option<f32>,
    /// Mean over the objects inside of their mean ground speed, with a calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_speed_kmh: Option<f32>,
}

/// One lane's queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueStats {
    /// The queue's id.
    pub queue: String,
    /// Its lane, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// Most vehicles queued at once.
    pub max_vehicles: u32,
    /// Time-weighted mean of the vehicles queued.
    pub mean_vehicles: f32,
    /// Longest queue from the stop line, metres (DATEX II queueLength), with a calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length_m: Option<f32>,
}

/// A line's direction as the accumulator knows it.
#[derive(Debug, Clone)]
pub struct LineKey {
    /// Line id.
    pub line: String,
    /// Lane.
    pub lane: Option<String>,
    /// Direction name.
    pub direction: String,
}

#[derive(Debug, Clone, Default)]
struct LineAcc {
    by_class: BTreeMap<String, u32>,
    speeds: Vec<f32>,
}

#[derive(Debug, Clone, Default)]
struct ZoneAcc {
    occupied: Duration,
    count_time: f64,
    max: u32,
    entries: u32,
    dwells: Vec<f32>,
    speeds: HashMap<u64, (f32, u32)>,
}

#[derive(Debug, Clone, Default)]
struct QueueAcc {
    max: u32,
    vehicle_time: f64,
    max_m: Option<f32>,
}

/// Accumulates one camera's statistics and closes intervals on the wall clock. Pure: every call
/// says what time it is.
#[derive(Debug, Clone)]
pub struct StatsAccumulator {
    camera: String,
    interval: Duration,
    start: Option<SystemTime>,
    last_frame: Option<SystemTime>,
    covered: Duration,
    frames: u64,
    line_keys: Vec<LineKey>,
    lines: Vec<LineAcc>,
    zone_ids: Vec<String>,
    zones: Vec<ZoneAcc>,
    queue_keys: Vec<(String, Option<String>)>,
    queues: Vec<QueueAcc>,
}

impl StatsAccumulator {
    /// An accumulator for `camera` with its line directions, zones and queues, in the order the
    /// engine will refer to them by index. `interval_s` 0: never reports.
    pub fn new(
        camera: &str,
        interval_s: u32,
        line_keys: Vec<LineKey>,
        zone_ids: Vec<String>,
        queue_keys: Vec<(String, Option<String>)>,
    ) -> StatsAccumulator {
        StatsAccumulator {
            camera: camera.to_string(),
            interval: Duration::from_secs(u64::from(interval_s)),
            start: None,
            last_frame: None,
            covered: Duration::ZERO,
            frames: 0,
            lines: vec![LineAcc::default(); line_keys.len()],
            line_keys,
            zones: vec![ZoneAcc::default(); zone_ids.len()],
            zone_ids,
            queues: vec![QueueAcc::default(); queue_keys.len()],
            queue_keys,
        }
    }

    fn aligned(&self, t: SystemTime) -> SystemTime {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let n = since.as_secs() / self.interval.as_secs().max(1);
        UNIX_EPOCH + self.interval * u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Closes the current interval if `now` is past its end and returns its statistics. Call it
    /// before feeding a frame taken at `now`, and on a timer so intervals close while a camera
    /// is down.
    pub fn roll(&mut self, now: SystemTime) -> Option<IntervalStats> {
        if self.interval.is_zero() {
            return None;
        }
        let Some(start) = self.start else {
            self.start = Some(self.aligned(now));
            return None;
        };
        let end = start + self.interval;
        if now < end {
            return None;
        }
        let report = self.report(start, end);
        // After a stall longer than an interval, start again at the current one.
        self.start = Some(if now < end + self.interval {
            end
        } else {
            self.aligned(now)
        });
        report
    }

    /// The statistics of the interval in progress so far (on shutdown: its `coverage_pct` shows
    /// it is partial), if it analysed any frame; the interval then starts over empty.
    pub fn flush(&mut self) -> Option<IntervalStats> {
        let start = self
            .start
            .filter(|_| self.frames > 0 && !self.interval.is_zero())?;
        self.report(start, start + self.interval)
    }

    /// A frame taken at `at`; returns the weight (time since the previous frame, capped at
    /// [`MAX_FRAME_GAP`]) its state is counted with.
    pub fn frame(&mut self, at: SystemTime) -> Duration {
        let dt = self
            .last_frame
            .and_then(|l| at.duration_since(l).ok())
            .filter(|d| *d <= MAX_FRAME_GAP)
            .unwrap_or(Duration::ZERO);
        self.last_frame = Some(at);
        self.frames += 1;
        self.covered += dt;
        dt
    }

    /// A crossing of line direction `i` by an object of `class`, at `speed` if measured.
    pub fn crossing(&mut self, i: usize, class: &str, speed_kmh: Option<f32>) {
        if let Some(acc) = self.lines.get_mut(i) {
            *acc.by_class.entry(class.to_string()).or_default() += 1;
            acc.speeds.extend(speed_kmh);
        }
    }

    /// Zone `i` held `count` objects for `dt`.
    pub fn zone_sample(&mut self, i: usize, count: usize, dt: Duration) {
        if let Some(acc) = self.zones.get_mut(i) {
            if count > 0 {
                acc.occupied += dt;
            }
            acc.count_time += count as f64 * dt.as_secs_f64();
            acc.max = acc.max.max(u32::try_from(count).unwrap_or(u32::MAX));
        }
    }

    /// An object entered zone `i`.
    pub fn zone_enter(&mut self, i: usize) {
        if let Some(acc) = self.zones.get_mut(i) {
            acc.entries += 1;
        }
    }

    /// An object left zone `i` after `dwell`.
    pub fn zone_exit(&mut self, i: usize, dwell: Duration) {
        if let Some(acc) = self.zones.get_mut(i) {
            acc.dwells.push(dwell.as_secs_f32());
        }
    }

    /// Track `id` moved at `speed_kmh` inside zone `i`.
    pub fn zone_speed(&mut self, i: usize, id: u64, speed_kmh: f32) {
        if let Some(acc) = self.zones.get_mut(i) {
            let e = acc.speeds.entry(id).or_default();
            e.0 += speed_kmh;
            e.1 += 1;
        }
    }

    /// Queue `i` was `state` for `dt`.
    pub fn queue_sample(&mut self, i: usize, state: QueueState, dt: Duration) {
        if let Some(acc) = self.queues.get_mut(i) {
            acc.max = acc
                .max
                .max(u32::try_from(state.vehicles).unwrap_or(u32::MAX));
            acc.vehicle_time += state.vehicles as f64 * dt.as_secs_f64();
            if let Some(m) = state.length_m {
                acc.max_m = Some(acc.max_m.unwrap_or(0.0).max(m as f32));
            }
        }
    }

    fn report(&mut self, start: SystemTime, end: SystemTime) -> Option<IntervalStats> {
        let secs = self.interval.as_secs_f32();
        let covered = std::mem::take(&mut self.covered).as_secs_f32();
        let pct = |part: f32, whole: f32| {
            if whole > 0.0 {
                round2(100.0 * part / whole)
            } else {
                0.0
            }
        };
        let mean =
            |v: &[f32]| (!v.is_empty()).then(|| round2(v.iter().sum::<f32>() / v.len() as f32));
        let lines = self
            .line_keys
            .iter()
            .zip(self.lines.iter_mut())
            .map(|(k, acc)| {
                let acc = std::mem::take(acc);
                let volume = acc.by_class.values().sum::<u32>();
                LineStats {
                    line: k.line.clone(),
                    lane: k.lane.clone(),
                    direction: k.direction.clone(),
                    volume,
                    by_class: acc.by_class,
                    flow_rate_vph: round2(volume as f32 * 3600.0 / secs),
                    mean_speed_kmh: mean(&acc.speeds),
                }
            })
            .collect();
        let zones = self
            .zone_ids
            .iter()
            .zip(self.zones.iter_mut())
            .map(|(id, acc)| {
                let acc = std::mem::take(acc);
                let per_track: Vec<f32> = acc.speeds.values().map(|(s, n)| s / *n as f32).collect();
                ZoneStats {
                    zone: id.clone(),
                    occupancy_pct: pct(acc.occupied.as_secs_f32(), covered),
                    mean_count: if covered > 0.0 {
                        round2((acc.count_time / f64::from(covered)) as f32)
                    } else {
                        0.0
                    },
                    max_count: acc.max,
                    entries: acc.entries,
                    exits: u32::try_from(acc.dwells.len()).unwrap_or(u32::MAX),
                    mean_dwell_s: mean(&acc.dwells),
                    max_dwell_s: acc.dwells.iter().copied().reduce(f32::max).map(round2),
                    mean_speed_kmh: mean(&per_track),
                }
            })
            .collect();
        let queues = self
            .queue_keys
            .iter()
            .zip(self.queues.iter_mut())
            .map(|((id, lane), acc)| {
                let acc = std::mem::take(acc);
                QueueStats {
                    queue: id.clone(),
                    lane: lane.clone(),
                    max_vehicles: acc.max,
                    mean_vehicles: if covered > 0.0 {
                        round2((acc.vehicle_time / f64::from(covered)) as f32)
                    } else {
                        0.0
                    },
                    max_length_m: acc.max_m.map(round2),
                }
            })
            .collect();
        let frames = std::mem::take(&mut self.frames);
        Some(IntervalStats {
            camera: self.camera.clone(),
            start,
            end,
            interval_s: u32::try_from(self.interval.as_secs()).unwrap_or(u32::MAX),
            coverage_pct: pct(covered, secs).min(100.0),
            frames,
            lines,
            zones,
            queues,
        })
    }
}

fn round2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests;
