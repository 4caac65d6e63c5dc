//! `/healthz`: whether the box does its job, in one word and a few figures.

use serde::Serialize;

use super::board::Reading;
use crate::publish::CameraHealth;

/// The health report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `ok`: every camera streams (or its file ended), its analysis runs, and the broker, if
    /// any, is connected; `degraded` otherwise.
    pub status: &'static str,
    /// Every camera, as the heartbeat reports it.
    pub cameras: Vec<CameraHealth>,
    /// The MQTT link, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<MqttHealth>,
    /// What is wrong, in words (empty when `ok`).
    pub problems: Vec<String>,
}

/// The link in the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MqttHealth {
    /// Whether the broker is connected.
    pub connected: bool,
    /// Messages waiting in the outbox.
    pub outbox_depth: u64,
}

impl Health {
    /// The report of the telemetry `r`.
    pub fn of(r: &Reading) -> Health {
        let mut problems = Vec::new();
        for c in r.cameras.iter().filter(|c| !c.is_up()) {
            let why = c
                .down
                .as_deref()
                .or(c.status.last_error.as_deref())
                .unwrap_or("no frame yet");
            problems.push(format!("camera '{}' is {}: {why}", c.id, c.state()));
        }
        // Stages that are not a camera's (a model's inference lane).
        for ((stage, who), rec) in &r.stages {
            if let Some(why) = &rec.down
                && !r.cameras.iter().any(|c| &c.id == who)
            {
                problems.push(format!("{stage} '{who}' failed: {why}"));
            }
        }
        let mqtt = r.link.map(|l| {
            if !l.connected {
                problems.push(format!(
                    "not connected to the MQTT broker; {} message(s) wait in the outbox",
                    l.depth
                ));
            }
            MqttHealth {
                connected: l.connected,
                outbox_depth: l.depth,
            }
        });
        Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "degraded"
            },
            cameras: r.cameras.iter().map(|c| c.health()).collect(),
            mqtt,
            problems,
        }
    }

    /// Whether everything is well.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ops::board::CameraReading;
    use crate::publish::LinkReading;
    use crate::source::{CameraState, CameraStatus};

    fn camera(id: &str, state: CameraState, error: Option<&str>) -> CameraReading {
        let status = CameraStatus {
            state,
            last_error: error.map(String::from),
            ..CameraStatus::default()
        };
        CameraReading {
            id: Arc::from(id),
            status,
            down: None,
            fps: 0.0,
        }
    }

    fn health(cameras: Vec<CameraReading>, link: Option<LinkReading>) -> Health {
        Health::of(&Reading {
            cameras,
            stages: Vec::new(),
            link,
        })
    }

    #[test]
    fn streaming_cameras_and_a_connected_broker_are_ok() {
        let h = health(
            vec![
                camera("a", CameraState::Streaming, None),
                camera("b", CameraState::Ended, None),
            ],
            Some(LinkReading {
                connected: true,
                ..LinkReading::default()
            }),
        );
        assert!(h.is_ok());
        assert_eq!(h.status, "ok");
    }

    #[test]
    fn a_reconnecting_camera_or_a_lost_broker_is_degraded_and_says_why() {
        let h = health(
            vec![camera(
                "gate",
                CameraState::Reconnecting {
                    attempt: 2,
                    retry_in: std::time::Duration::from_secs(4),
                },
                Some("connection refused"),
            )],
            Some(LinkReading {
                connected: false,
                depth: 7,
                ..LinkReading::default()
            }),
        );
        assert_eq!(h.status, "degraded");
        assert_eq!(
            h.problems,
            [
                "camera 'gate' is reconnecting: connection refused",
                "not connected to the MQTT broker; 7 message(s) wait in the outbox"
            ]
        );
    }

    #[test]
    fn without_a_link_only_cameras_count() {
        let h = health(vec![camera("a", CameraState::Connecting, None)], None);
        assert_eq!(h.problems, ["camera 'a' is connecting: no frame yet"]);
        assert!(h.mqtt.is_none());
    }

    #[test]
    fn a_camera_whose_analysis_is_down_is_failed_and_says_why() {
        let mut cam = camera("gate", CameraState::Streaming, None);
        cam.down = Some("analysis failed: panicked: boom".into());
        let h = health(vec![cam], None);
        assert_eq!(h.status, "degraded");
        assert_eq!(
            h.problems,
            ["camera 'gate' is failed: analysis failed: panicked: boom"]
        );
        assert_eq!(h.cameras[0].state, "failed");
    }
}
