//! The box's own messages: the retained `status` (heartbeat, Last Will, clean stop) and the
//! `alarms` published when the outbox had to drop messages.

use serde::Serialize;

use super::message::SCHEMA_VERSION;
use super::outbox::{Dropped, SetAside};

/// Whether the box is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Connected and running.
    Online,
    /// Stopped, or its connection was lost (the Last Will).
    Offline,
}

/// One camera's health in a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraHealth {
    /// The camera's id.
    pub camera: String,
    /// `connecting`, `streaming`, `reconnecting`, `ended` or `stopped`.
    pub state: &'static str,
    /// Frames analysed per second over the last heartbeat period.
    pub fps: f32,
    /// Frames analysed since start.
    pub frames_analysed: u64,
    /// Frames skipped because analysis was slower than the video, since start.
    pub frames_dropped: u64,
    /// Times the stream was opened again after a failure, since start.
    pub reconnects: u64,
    /// The last stream error (credentials removed), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A supervised stage that has failed since the start, in a heartbeat: a camera's `analysis`, a
/// model's `inference` lane, the `snapshots` writer or the ops `endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageHealth {
    /// The stage: `analysis`, `inference`, `snapshots` or `endpoints`.
    pub stage: &'static str,
    /// Whose: the camera, the lane (`{model}/lane-{i}`), `writer`, or the endpoints' address.
    pub of: String,
    /// Times it failed (exited or panicked) and was restarted, since the start.
    pub failures: u64,
    /// Why it is down now; absent once it works again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
}

/// What the agent reports in each heartbeat: its cameras and its failed stages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoxHealth {
    /// Every running camera.
    pub cameras: Vec<CameraHealth>,
    /// Every supervised stage that has failed at least once.
    pub stages: Vec<StageHealth>,
}

/// Whether the box's clock is synchronised (by NTP or another source), as the kernel tells it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClockHealth {
    /// The kernel counts the clock as synchronised.
    pub synced: bool,
    /// The kernel's estimated error of the clock, ms (when synchronised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub est_error_ms: Option<f64>,
    /// The kernel's bound on the clock's error, ms (when synchronised).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_error_ms: Option<f64>,
}

/// The outbox in a heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxHealth {
    /// Messages waiting for the broker's acknowledgement.
    pub depth: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Events dropped by the outbox's bounds and not yet reported by an alarm.
    pub dropped_events: u64,
    /// Statistics dropped by the outbox's bounds and not yet reported by an alarm.
    pub dropped_stats: u64,
}

/// The retained status message. The Last Will carries only `v`, `site`, `device`, `state` and
/// `reason`, since it is fixed when the connection is made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status<'a> {
    /// Schema version.
    pub v: u32,
    /// Unique, time-ordered id (absent in the Last Will).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// The site.
    pub site: &'a str,
    /// The box.
    pub device: &'a str,
    /// When, ms since the Unix epoch (absent in the Last Will).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    /// Online or offline.
    pub state: Presence,
    /// Why it went offline: `stopped` (a clean stop) or `connection_lost` (the Last Will).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// The agent's version (heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    /// Seconds since the agent started (heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    /// Every camera's health (heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cameras: Option<&'a [CameraHealth]>,
    /// Every supervised stage that has failed since the start (heartbeats; absent when none has).
    #[serde(skip_serializing_if = "<[StageHealth]>::is_empty")]
    pub stages: &'a [StageHealth],
    /// The outbox (heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<OutboxHealth>,
    /// Heartbeats: whether the box's clock is synchronised, where the system tells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockHealth>,
    /// The running config and the last reload (heartbeats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a ConfigHealth>,
}

/// The running config in a heartbeat, and why the newest file was refused, if it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigHealth {
    /// Revision of the running config: the first 12 hex digits of its file's SHA-256.
    pub revision: String,
    /// When it was applied (the start or a reload), ms since the Unix epoch.
    pub applied_ms: u64,
    /// The newest file, when a reload refused it (the running config stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<RejectedConfig>,
    /// Sections of the running file that changed but take effect at the next start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_restart: Vec<String>,
}

/// A config file a reload refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedConfig {
    /// Its revision.
    pub revision: String,
    /// When it was refused, ms since the Unix epoch.
    pub time_ms: u64,
    /// Every problem, each with its path in the config.
    pub errors: Vec<String>,
}

impl<'a> Status<'a> {
    /// The Last Will: what the broker publishes when the connection is lost without a goodbye.
    pub fn last_will(site: &'a str, device: &'a str) -> Status<'a> {
        Status {
            v: SCHEMA_VERSION,
            id: None,
            site,
            device,
            time_ms: None,
            state: Presence::Offline,
            reason: Some("connection_lost"),
            version: None,
            uptime_s: None,
            cameras: None,
            stages: &[],
            outbox: None,
            clock: None,
            config: None,
        }
    }

    /// The message of a clean stop.
    pub fn stopped(id: &'a str, site: &'a str, device: &'a str, time_ms: u64) -> Status<'a> {
        Status {
            id: Some(id),
            time_ms: Some(time_ms),
            reason: Some("stopped"),
            ..Status::last_will(site, device)
        }
    }

    /// A heartbeat.
    pub fn online(
        id: &'a str,
        site: &'a str,
        device: &'a str,
        time_ms: u64,
        uptime_s: u64,
        health: &'a BoxHealth,
        outbox: OutboxHealth,
    ) -> Status<'a> {
        Status {
            v: SCHEMA_VERSION,
            id: Some(id),
            site,
            device,
            time_ms: Some(time_ms),
            state: Presence::Online,
            reason: None,
            version: Some(env!("CARGO_PKG_VERSION")),
            uptime_s: Some(uptime_s),
            cameras: Some(&health.cameras),
            stages: &health.stages,
            outbox: Some(outbox),
            clock: None,
            config: None,
        }
    }
}

/// An alarm of the box itself, on the alarms topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm<'a> {
    /// Schema version.
    pub v: u32,
    /// Unique, time-ordered id.
    pub id: &'a str,
    /// The site.
    pub site: &'a str,
    /// The box.
    pub device: &'a str,
    /// When, ms since the Unix epoch.
    pub time_ms: u64,
    /// What happened, with its own fields.
    #[serde(flatten)]
    pub kind: AlarmKind,
}

/// What an alarm is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlarmKind {
    /// The outbox dropped messages to stay within its bounds (published once the link is back;
    /// the counts are those since the last alarm).
    OutboxOverflow {
        /// Events dropped.
        dropped_events: u64,
        /// Statistics dropped.
        dropped_stats: u64,
    },
    /// The outbox file was found damaged at start, moved aside, and a fresh one opened: what it
    /// held was not sent.
    OutboxDamaged {
        /// The outbox file.
        file: String,
        /// Where the damaged file is now.
        moved_to: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl<'a> Alarm<'a> {
    /// The alarm for `dropped`.
    pub fn overflow(
        id: &'a str,
        site: &'a str,
        device: &'a str,
        time_ms: u64,
        dropped: Dropped,
    ) -> Alarm<'a> {
        let kind = AlarmKind::OutboxOverflow {
            dropped_events: dropped.events,
            dropped_stats: dropped.stats,
        };
        Alarm::new(id, site, device, time_ms, kind)
    }

    /// The alarm for the damaged outbox `file`, set aside as `aside`.
    pub fn damaged(
        id: &'a str,
        site: &'a str,
        device: &'a str,
        time_ms: u64,
        file: &std::path::Path,
        aside: &SetAside,
    ) -> Alarm<'a> {
        let kind = AlarmKind::OutboxDamaged {
            file: file.display().to_string(),
            moved_to: aside.moved_to.display().to_string(),
            reason: aside.reason.clone(),
        };
        Alarm::new(id, site, device, time_ms, kind)
    }

    fn new(id: &'a str, site: &'a str, device: &'a str, time_ms: u64, kind: AlarmKind) -> Self {
        Alarm {
            v: SCHEMA_VERSION,
            id,
            site,
            device,
            time_ms,
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_will_is_fixed_and_small() {
        let json = serde_json::to_string(&Status::last_will("hn", "box-01")).expect("json");
        assert_eq!(
            json,
            r#"{"v":1,"site":"hn","device":"box-01","state":"offline","reason":"connection_lost"}"#
        );
    }

    #[test]
    fn a_heartbeat_carries_cameras_failed_stages_and_the_outbox() {
        let cams = vec![CameraHealth {
            camera: "north".into(),
            state: "streaming",
            fps: 9.5,
            frames_analysed: 950,
            frames_dropped: 3,
            reconnects: 1,
            last_error: None,
        }];
        let mut health = BoxHealth {
            cameras: cams,
            stages: Vec::new(),
        };
        let out = OutboxHealth {
            depth: 2,
            bytes: 600,
            dropped_events: 0,
            dropped_stats: 1,
        };
        let json = serde_json::to_value(Status::online("01A", "hn", "b", 5, 100, &health, out))
            .expect("json");
        assert!(json.get("stages").is_none(), "no failed stage, no list");
        health.stages.push(StageHealth {
            stage: "snapshots",
            of: "writer".into(),
            failures: 2,
            down: Some("panicked: boom".into()),
        });
        let with = serde_json::to_value(Status::online("01B", "hn", "b", 6, 101, &health, out))
            .expect("json");
        assert_eq!(with["stages"][0]["stage"], "snapshots");
        assert_eq!(with["stages"][0]["failures"], 2);
        assert_eq!(with["stages"][0]["down"], "panicked: boom");
        assert_eq!(json["state"], "online");
        assert_eq!(json["uptime_s"], 100);
        assert_eq!(json["cameras"][0]["fps"], 9.5);
        assert_eq!(json["outbox"]["dropped_stats"], 1);
        assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
        assert!(json.get("reason").is_none());
    }

    #[test]
    fn an_alarm_counts_drops_by_class() {
        let d = Dropped {
            events: 4,
            stats: 20,
        };
        let json = serde_json::to_string(&Alarm::overflow("01A", "hn", "b", 7, d)).expect("json");
        assert_eq!(
            json,
            r#"{"v":1,"id":"01A","site":"hn","device":"b","time_ms":7,"kind":"outbox_overflow","dropped_events":4,"dropped_stats":20}"#
        );
    }

    #[test]
    fn a_damaged_outbox_alarm_names_both_files_and_the_reason() {
        let aside = SetAside {
            moved_to: "/var/lib/roadeye/outbox.redb.damaged-7".into(),
            reason: "it is cut short".into(),
        };
        let a = Alarm::damaged(
            "01A",
            "hn",
            "b",
            7,
            std::path::Path::new("/var/lib/roadeye/outbox.redb"),
            &aside,
        );
        assert_eq!(
            serde_json::to_string(&a).expect("json"),
            r#"{"v":1,"id":"01A","site":"hn","device":"b","time_ms":7,"kind":"outbox_damaged","file":"/var/lib/roadeye/outbox.redb","moved_to":"/var/lib/roadeye/outbox.redb.damaged-7","reason":"it is cut short"}"#
        );
    }
}
