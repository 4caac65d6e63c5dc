//! The connection to the broker, driven in a task of its own: rumqttc's event loop polled to
//! completion, every packet and failure reported to the session in order, reconnects with a
//! capped backoff, and connection errors put in words with what to check.

use std::time::Duration;

use rumqttc::{ConnectReturnCode, ConnectionError, Event, EventLoop, MqttState, Packet};
use tokio::sync::mpsc;

use crate::backoff::Backoff;

/// Connection reports waiting for the session.
pub(super) const REPORTS: usize = 256;

/// What the connection driver reports, in order.
pub(super) enum Report {
    /// A packet received or sent.
    Event(Event),
    /// The connection failed or could not be made; the next attempt is in `retry_in`.
    Failed {
        error: ConnectionError,
        retry_in: Duration,
        attempt: u32,
    },
}

/// Drives rumqttc's event loop in its own task, so that a poll is never cancelled half-way (a
/// connect dropped after the broker's CONNACK closes the connection and fires the Last Will; a
/// write dropped half-way delays a publish), and reports what happens in order. After a failure
/// it starts the next connection from a clean slate: rumqttc keeps events (a publish recorded but
/// never written) and collision state across reconnects, which would shift the packet-id mapping;
/// the outbox is the only memory of what is unacknowledged.
pub(super) async fn drive(
    mut events: EventLoop,
    tx: mpsc::Sender<Report>,
    mut backoff: Backoff,
    inflight: u16,
) {
    loop {
        let report = match events.poll().await {
            Ok(event) => {
                if matches!(event, Event::Incoming(Packet::ConnAck(_))) {
                    backoff.reset();
                }
                Report::Event(event)
            }
            Err(error) => {
                events.state = MqttState::new(inflight, false);
                events.pending.clear();
                let retry_in = backoff.next_delay();
                let attempt = backoff.attempts();
                if tx
                    .send(Report::Failed {
                        error,
                        retry_in,
                        attempt,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(retry_in).await;
                continue;
            }
        };
        if tx.send(report).await.is_err() {
            return;
        }
    }
}

/// A connection error in words, with what to check.
pub(super) fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => match code {
            ConnectReturnCode::BadUserNamePassword => {
                "the broker refused the user name or password (check mqtt.username and the password)".into()
            }
            ConnectReturnCode::NotAuthorized => {
                "the broker refused: not authorised (check mqtt.username, the password and the broker's access rules)".into()
            }
            ConnectReturnCode::BadClientId => {
                "the broker refused the client id (set a unique mqtt.client_id)".into()
            }
            other => format!("the broker refused the connection ({other:?})"),
        },
        ConnectionError::Tls(t) => format!(
            "TLS failed: {t} (check mqtt.tls.ca_file, that the host matches the broker's certificate, and the client certificate)"
        ),
        other if refused_our_certificate(other) => format!(
            "{other} (the broker wants a client certificate it trusts: check mqtt.tls.cert_file and key_file)"
        ),
        other => other.to_string(),
    }
}

/// Whether the broker's TLS alert says it wants a (trusted) client certificate: the rustls error
/// inside the I/O error of the connection or of the session state.
fn refused_our_certificate(e: &ConnectionError) -> bool {
    use rumqttc::StateError;
    use rustls::AlertDescription;
    let io = match e {
        ConnectionError::Io(io)
        | ConnectionError::MqttState(StateError::Io(io))
        | ConnectionError::MqttState(StateError::Deserialization(rumqttc::mqttbytes::Error::Io(
            io,
        ))) => io,
        _ => return false,
    };
    matches!(
        io.get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        Some(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired | AlertDescription::BadCertificate
        ))
    )
}
