//! The typed events rules produce: what the IOC acts on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::types::{FrameMeta, Track};

/// One event of one camera.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// The camera's id.
    pub camera: String,
    /// Wall-clock time of the frame it was decided on, in milliseconds since the Unix epoch (UTC).
    #[serde(rename = "time_ms", serialize_with = "unix_ms")]
    pub time: SystemTime,
    /// Stream time of that frame (for replaying a recording; not part of the message).
    #[serde(skip)]
    pub pts: Duration,
    /// Id of the rule (line, zone, lane) that fired.
    pub rule: String,
    /// What happened, with what that kind needs.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The object, when the event is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectInfo>,
    /// The name of the event's annotated snapshot (`{camera}/{file}.jpg` in the snapshot
    /// folder), when snapshots are on for its kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// An object crossed a counting line.
    LineCrossing {
        /// The configured name of the direction it crossed in.
        direction: String,
        /// The line's lane, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        lane: Option<String>,
        /// Its ground speed, with a calibration.
        #[serde(skip_serializing_if = "Option::is_none")]
        speed_kmh: Option<f32>,
    },
    /// An object entered a zone.
    ZoneEnter,
    /// An object left a zone.
    ZoneExit {
        /// Seconds it spent inside.
        dwell_s: f32,
    },
    /// An object has stayed in a zone longer than the zone's `loiter_after_s`.
    Loitering {
        /// Seconds inside so far.
        dwell_s: f32,
    },
    /// An object of an intrusion class is inside an armed zone.
    Intrusion,
    /// A zone became crowded.
    CrowdStart {
        /// Objects inside.
        count: usize,
    },
    /// A zone is no longer crowded.
    CrowdEnd {
        /// Objects inside.
        count: usize,
    },
    /// A vehicle travelled against its lane's direction.
    WrongWay {
        /// Distance travelled against the direction, as a fraction of the frame.
        distance: f32,
        /// Its ground speed, with a calibration.
        #[serde(skip_serializing_if = "Option::is_none")]
        speed_kmh: Option<f32>,
    },
    /// A vehicle has stood still in a no-stopping zone.
    StoppedVehicle {
        /// Seconds it has stood.
        duration_s: f32,
    },
}

impl EventKind {
    /// Every kind's name, in declaration order.
    pub const NAMES: [&'static str; 9] = [
        "line_crossing",
        "zone_enter",
        "zone_exit",
        "loitering",
        "intrusion",
        "crowd_start",
        "crowd_end",
        "wrong_way",
        "stopped_vehicle",
    ];

    /// The kind's name, as serialised (`line_crossing`, `zone_enter`, …): an MQTT topic segment.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::LineCrossing { .. } => "line_crossing",
            EventKind::ZoneEnter => "zone_enter",
            EventKind::ZoneExit { .. } => "zone_exit",
            EventKind::Loitering { .. } => "loitering",
            EventKind::Intrusion => "intrusion",
            EventKind::CrowdStart { .. } => "crowd_start",
            EventKind::CrowdEnd { .. } => "crowd_end",
            EventKind::WrongWay { .. } => "wrong_way",
            EventKind::StoppedVehicle { .. } => "stopped_vehicle",
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectInfo {
    /// Its track id, unique per camera while the agent runs.
    pub track_id: u64,
    /// Its class label.
    pub class: String,
    /// Its detection score on the event's frame (absent when it is no longer seen, e.g. the exit
    /// of an object that vanished).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Its box on the event's frame, `[x1, y1, x2, y2]` as fractions of the frame's width and
    /// height (absent when it is no longer seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f32; 4]>,
}

impl ObjectInfo {
    /// The object of track `id` of `class`, with its score and normalised box if it is among
    /// `tracks` on the frame `meta`.
    pub fn find(id: u64, class: &str, meta: &FrameMeta, tracks: &[Track]) -> ObjectInfo {
        let seen = tracks.iter().find(|t| t.id == id);
        let (w, h) = (meta.width.max(1) as f32, meta.height.max(1) as f32);
        let round = |v: f32| (v * 10_000.0).round() / 10_000.0;
        ObjectInfo {
            track_id: id,
            class: class.to_string(),
            score: seen.map(|t| round(t.score)),
            bbox: seen.map(|t| {
                let b = &t.bbox;
                [
                    round((b.x1 / w).clamp(0.0, 1.0)),
                    round((b.y1 / h).clamp(0.0, 1.0)),
                    round((b.x2 / w).clamp(0.0, 1.0)),
                    round((b.y2 / h).clamp(0.0, 1.0)),
                ]
            }),
        }
    }
}

/// Serialises a wall-clock time as whole milliseconds since the Unix epoch.
pub fn unix_ms<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    s.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_compactly_with_only_what_the_kind_needs() {
        let meta = crate::rules::fixtures::frame(1.0, 200, 100);
        let t = crate::rules::fixtures::object(7, "car", (0.5, 0.5), (20.0, 10.0), (200, 100));
        let e = Event {
            camera: "cam-1".into(),
            time: UNIX_EPOCH + Duration::from_millis(1_795_534_200_123),
            pts: meta.pts,
            rule: "north-in".into(),
            kind: EventKind::LineCrossing {
                direction: "northbound".into(),
                lane: None,
                speed_kmh: Some(42.5),
            },
            object: Some(ObjectInfo::find(7, "car", &meta, &[t])),
            snapshot: None,
        };
        let json = serde_json::to_string(&e).expect("json");
        assert_eq!(
            json,
            r#"{"camera":"cam-1","time_ms":1795534200123,"rule":"north-in","kind":"line_crossing","direction":"northbound","speed_kmh":42.5,"object":{"track_id":7,"class":"car","score":0.9,"bbox":[0.45,0.4,0.55,0.5]}}"#
        );
        let gone = ObjectInfo::find(8, "person", &meta, &[]);
        let exit = Event {
            kind: EventKind::ZoneExit { dwell_s: 3.5 },
            object: Some(gone),
            snapshot: None,
            ..e
        };
        let json = serde_json::to_string(&exit).expect("json");
        assert!(
            json.ends_with(
                r#""kind":"zone_exit","dwell_s":3.5,"object":{"track_id":8,"class":"person"}}"#
            ),
            "{json}"
        );
        assert_eq!(exit.kind.name(), "zone_exit");
    }
}
