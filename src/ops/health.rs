//! `/healthz`: whether the box does its job, in one word and a few figures.

use serde::Serialize;

use crate::publish::LinkReading;
use crate::source::{CameraState, CameraStatus};
use crate::types::CameraId;

/// The health report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    /// `ok`: every camera streams (or its file ended) and the broker, if any, is connected;
    /// `degraded` otherwise.
    pub status: &'static str,
    /// Every camera's state and last error.
    pub cameras: Vec<CameraHealth>,
    /// The MQTT link, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<MqttHealth>,
    /// What is wrong, in words (empty when `ok`).
    pub problems: Vec<String>,
}

/// One camera in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraHealth {
    /// The camera's id.
    pub id: String,
    /// Its state (`streaming`, `reconnecting`, …).
    pub state: &'static str,
    /// Its last error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
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
    /// The report for these cameras and this link.
    pub fn of(cameras: &[(CameraId, CameraStatus)], link: Option<LinkReading>) -> Health {
        let mut problems = Vec::new();
        let cameras = cameras
            .iter()
            .map(|(id, st)| {
                if !matches!(st.state, CameraState::Streaming | CameraState::Ended) {
                    let why = st.last_error.as_deref().unwrap_or("no frame yet");
                    problems.push(format!("camera '{id}' is {}: {why}", st.state.name()));
                }
                CameraHealth {
                    id: id.to_string(),
                    state: st.state.name(),
                    last_error: st.last_error.clone(),
                }
            })
            .collect();
        let mqtt = link.map(|r| {
            if !r.connected {
                problems.push(format!(
                    "not connected to the MQTT broker; {} message(s) wait in the outbox",
                    r.depth
                ));
            }
            MqttHealth {
                connected: r.connected,
                outbox_depth: r.depth,
            }
        });
        Health {
            status: if problems.is_empty() {
                "ok"
            } else {
                "degraded"
            },
            cameras,
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

    fn camera(id: &str, state: CameraState, error: Option<&str>) -> (CameraId, CameraStatus) {
        let st = CameraStatus {
            state,
            last_error: error.map(String::from),
            ..CameraStatus::default()
        };
        (Arc::from(id), st)
    }

    #[test]
    fn streaming_cameras_and_a_connected_broker_are_ok() {
        let h = Health::of(
            &[
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
        let h = Health::of(
            &[camera(
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
        let h = Health::of(&[camera("a", CameraState::Connecting, None)], None);
        assert_eq!(h.problems, ["camera 'a' is connecting: no frame yet"]);
        assert!(h.mqtt.is_none());
    }
}
