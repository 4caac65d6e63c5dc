//! Zones: polygons in which objects enter, dwell, loiter, exit and gather.
//!
//! An anchor must be clearly inside (or outside) — more than `hysteresis` from the edge — to change
//! a track's state, so a box on the boundary does not flicker in and out. A track that is no longer
//! reported is taken to have left after `exit_grace_s` (it may come back from a short occlusion).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::geometry::{Point, boundary_crossings, distance_to_segment, point_in_polygon};
use super::line::Anchor;
use super::schedule::{LocalTime, TimeWindow, active};
use crate::types::{FrameMeta, Track};

/// A zone as configured.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Rule id, unique per camera.
    pub id: String,
    /// The polygon, at least three points, not self-intersecting, in normalised frame coordinates.
    pub points: Vec<Point>,
    /// Consider only these classes (empty: all).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Which point of the box must be in the zone.
    #[serde(default)]
    pub anchor: Anchor,
    /// Distance (fraction of the frame) from the edge before inside/outside changes.
    #[serde(default = "default_hysteresis")]
    pub hysteresis: f32,
    /// Seconds after which an object still inside is loitering (one event per stay); unset: never.
    #[serde(default)]
    pub loiter_after_s: Option<f32>,
    /// Crowding: at least `count` objects inside for at least `for_s` seconds.
    #[serde(default)]
    pub crowd: Option<CrowdConfig>,
    /// Seconds an unreported track still counts as inside (occlusion) before it has left.
    #[serde(default = "default_grace")]
    pub exit_grace_s: f32,
    /// Intrusion: objects of chosen classes inside during chosen time windows.
    #[serde(default)]
    pub intrusion: Option<IntrusionConfig>,
}

/// When presence in a zone is an intrusion.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntrusionConfig {
    /// Classes that intrude (empty: every class the zone considers).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Local-time windows in which the zone is armed (empty: always).
    #[serde(default)]
    pub windows: Vec<TimeWindow>,
}

/// When a zone is crowded.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdConfig {
    /// Objects inside at least.
    pub count: usize,
    /// For at least this many seconds.
    pub for_s: f32,
}

fn default_hysteresis() -> f32 {
    0.01
}
fn default_grace() -> f32 {
    2.0
}

/// What happened in a zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ZoneEventKind {
    /// A track came in.
    Enter {
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
    },
    /// A track left after `dwell`.
    Exit {
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
        /// Time it spent inside.
        dwell: Duration,
    },
    /// A track has been inside longer than `loiter_after_s`.
    Loitering {
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
        /// Time inside so far.
        dwell: Duration,
    },
    /// A track of an intrusion class is inside while the zone is armed (once per stay).
    Intrusion {
        /// The track.
        track_id: u64,
        /// Its class.
        class: String,
    },
    /// At least `crowd.count` objects have been inside for `crowd.for_s`.
    CrowdStart {
        /// Objects inside now.
        count: usize,
    },
    /// The crowd fell below `crowd.count`.
    CrowdEnd {
        /// Objects inside now.
        count: usize,
    },
}

/// An event of a zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneEvent {
    /// The zone's id.
    pub zone: String,
    /// Stream time of the frame it was decided on.
    pub pts: Duration,
    /// What happened.
    #[serde(flatten)]
    pub kind: ZoneEventKind,
}

#[derive(Debug, Clone)]
struct Stay {
    class: String,
    since: Duration,
    last_seen: Duration,
    loitering: bool,
    intruded: bool,
}

/// Forget a track's last position this long after it was last seen.
const FORGET_AFTER: Duration = Duration::from_secs(30);

/// The state of one zone on one camera. Pure.
#[derive(Debug, Clone)]
pub struct ZoneMonitor {
    cfg: ZoneConfig,
    inside: HashMap<u64, Stay>,
    /// Each track's last anchor and when, to place entries and exits on its path between frames.
    last: HashMap<u64, (Point, Duration)>,
    crowd_since: Option<Duration>,
    crowded: bool,
    generation: Option<u64>,
}

impl ZoneMonitor {
    /// A monitor for `cfg`.
    pub fn new(cfg: ZoneConfig) -> ZoneMonitor {
        ZoneMonitor {
            cfg,
            inside: HashMap::new(),
            last: HashMap::new(),
            crowd_since: None,
            crowded: false,
            generation: None,
        }
    }

    /// Objects inside now.
    pub fn occupancy(&self) -> usize {
        self.inside.len()
    }

    /// The tracks inside now, in no particular order.
    pub fn inside(&self) -> impl Iterator<Item = u64> + '_ {
        self.inside.keys().copied()
    }

    /// Feeds one frame's tracks; returns the zone's events on it.
    pub fn update(&mut self, meta: &FrameMeta, tracks: &[Track]) -> Vec<ZoneEvent> {
        if self.generation.replace(meta.generation) != Some(meta.generation) {
            self.inside.clear();
            self.last.clear();
            self.crowd_since = None;
        }
        let now = meta.pts;
        let mut events = Vec::new();
        for t in tracks {
            if !super::wanted(&self.cfg.classes, t) {
                continue;
            }
            let p = self.cfg.anchor.of(t, meta.width, meta.height);
            let clearly = self.clearly(p);
            // Entries and exits are dated where the path since the last frame crossed the zone's
            // edge (fractions of the way), so dwell times do not depend on the frame rate.
            let prev = self.last.insert(t.id, (p, now));
            let when = |f: f32| prev.map_or(now, |(_, at)| at + now.saturating_sub(at).mul_f32(f));
            let cuts = || {
                prev.map(|(from, _)| boundary_crossings(from, p, &self.cfg.points))
                    .unwrap_or_default()
            };
            match (self.inside.get_mut(&t.id), clearly) {
                (None, Some(true)) => {
                    self.inside.insert(
                        t.id,
                        Stay {
                            class: t.label.to_string(),
                            since: cuts().last().map_or(now, |&f| when(f)),
                            last_seen: now,
                            loitering: false,
                            intruded: false,
                        },
                    );
                    events.push(ZoneEventKind::Enter {
                        track_id: t.id,
                        class: t.label.to_string(),
                    });
                }
                (Some(stay), Some(false)) => {
                    let left = cuts().last().map_or(now, |&f| when(f));
                    events.push(ZoneEventKind::Exit {
                        track_id: t.id,
                        class: stay.class.clone(),
                        dwell: left.saturating_sub(stay.since),
                    });
                    self.inside.remove(&t.id);
                }
                (Some(stay), _) => stay.last_seen = now,
                // Clearly outside now and on the last frame, but the path between cut through the
                // zone (a fast object, a low analysis rate): it went in and out between frames.
                (None, Some(false)) => {
                    let Some((from, _)) =
                        prev.filter(|(from, _)| self.clearly(*from) == Some(false))
                    else {
                        continue;
                    };
                    let c = cuts();
                    if let (Some(&a), Some(&b)) = (c.first(), c.last())
                        && self.runs_inside(from, p, &c)
                    {
                        let class = t.label.to_string();
                        events.push(ZoneEventKind::Enter {
                            track_id: t.id,
                            class: class.clone(),
                        });
                        events.push(ZoneEventKind::Exit {
                            track_id: t.id,
                            class,
                            dwell: when(b).saturating_sub(when(a)),
                        });
                    }
                }
                (None, None) => {}
            }
        }
        self.last
            .retain(|_, (_, at)| now.saturating_sub(*at) <= FORGET_AFTER);
        // Tracks no longer reported have left once the grace period is over.
        let grace =
            Duration::try_from_secs_f32(self.cfg.exit_grace_s.max(0.0)).unwrap_or(Duration::MAX);
        let mut gone: Vec<u64> = self
            .inside
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_seen) > grace)
            .map(|(id, _)| *id)
            .collect();
        // In id order, like every other event list (the map's order is random).
        gone.sort_unstable();
        for id in gone {
            if let Some(stay) = self.inside.remove(&id) {
                events.push(ZoneEventKind::Exit {
                    track_id: id,
                    class: stay.class,
                    dwell: stay.last_seen.saturating_sub(stay.since),
                });
            }
        }
        if let Some(after) = self
            .cfg
            .loiter_after_s
            .and_then(|s| Duration::try_from_secs_f32(s).ok())
        {
            let mut loiterers: Vec<(&u64, &mut Stay)> = self
                .inside
                .iter_mut()
                .filter(|(_, s)| !s.loitering && now.saturating_sub(s.since) >= after)
                .collect();
            loiterers.sort_by_key(|(id, _)| **id);
            for (id, stay) in loiterers {
                stay.loitering = true;
                events.push(ZoneEventKind::Loitering {
                    track_id: *id,
                    class: stay.class.clone(),
                    dwell: now.saturating_sub(stay.since),
                });
            }
        }
        if let Some(crowd) = &self.cfg.crowd {
            let count = self.inside.len();
            if count >= crowd.count {
                let since = *self.crowd_since.get_or_insert(now);
                let long_enough = now.saturating_sub(since).as_secs_f32() >= crowd.for_s;
                if long_enough && !self.crowded {
                    self.crowded = true;
                    events.push(ZoneEventKind::CrowdStart { count });
                }
            } else {
                self.crowd_since = None;
                if self.crowded {
                    self.crowded = false;
                    events.push(ZoneEventKind::CrowdEnd { count });
                }
            }
        }
        events
            .into_iter()
            .map(|kind| ZoneEvent {
                zone: self.cfg.id.clone(),
                pts: now,
                kind,
            })
            .collect()
    }

    /// Intrusions at local time `local`: tracks of the intrusion classes seen inside on the frame
    /// at `pts` (call after [`update`](Self::update) for that frame) while a window is open, once per
    /// stay. Nothing if the zone has no `intrusion`.
    pub fn intrusions(&mut self, pts: Duration, local: LocalTime) -> Vec<ZoneEvent> {
        let Some(cfg) = &self.cfg.intrusion else {
            return Vec::new();
        };
        if !active(&cfg.windows, local) {
            return Vec::new();
        }
        let mut hits: Vec<(&u64, &mut Stay)> = self
            .inside
            .iter_mut()
            .filter(|(_, s)| {
                !s.intruded
                    && s.last_seen == pts
                    && (cfg.classes.is_empty() || cfg.classes.contains(&s.class))
            })
            .collect();
        hits.sort_by_key(|(id, _)| **id);
        hits.into_iter()
            .map(|(id, stay)| {
                stay.intruded = true;
                ZoneEvent {
                    zone: self.cfg.id.clone(),
                    pts,
                    kind: ZoneEventKind::Intrusion {
                        track_id: *id,
                        class: stay.class.clone(),
                    },
                }
            })
            .collect()
    }

    /// Whether the straight path `a → b` runs clearly inside the zone somewhere between two of its
    /// crossings of the edge, `cuts` (fractions of the way, in order).
    fn runs_inside(&self, a: Point, b: Point, cuts: &[f32]) -> bool {
        cuts.windows(2).any(|w| {
            let m = (w[0] + w[1]) / 2.0;
            let p = Point::new(a.x + (b.x - a.x) * m, a.y + (b.y - a.y) * m);
            self.clearly(p) == Some(true)
        })
    }

    /// `Some(true)` clearly inside, `Some(false)` clearly outside, `None` on the edge.
    fn clearly(&self, p: Point) -> Option<bool> {
        let pts = &self.cfg.points;
        let n = pts.len();
        let edge = (0..n)
            .map(|i| distance_to_segment(p, pts[i], pts[(i + 1) % n]))
            .fold(f32::INFINITY, f32::min);
        (edge > self.cfg.hysteresis).then(|| point_in_polygon(p, pts))
    }
}

#[cfg(test)]
mod tests;
