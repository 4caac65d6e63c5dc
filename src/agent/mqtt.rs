//! The MQTT output: each event and statistics message is stored in the durable outbox (then
//! printed on stdout) and published from there; the heartbeat carries the cameras' health and
//! the running config.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::sink::{self, Sink, SinkError, SinkFuture};
use crate::ops::Metrics;
use crate::pipeline::Output;
use crate::publish::{
    BoxHealth, ConfigHealth, Encoder, Link, LinkError, LinkSettings, Message, Origin,
    VolatileSender,
};
use crate::types::CameraId;

/// The MQTT link as a sink.
pub struct Mqtt {
    link: Link,
    encoder: Encoder,
    /// When each camera's last analysed frame arrived: the origin of the events that follow it.
    arrived: HashMap<CameraId, Instant>,
}

impl Mqtt {
    /// Starts the link (and the embedded broker if configured); times frame → stored and frame
    /// → acknowledged in `metrics`; prints each stored message on stdout if `print`.
    pub fn start(
        settings: LinkSettings,
        encoder: Encoder,
        metrics: &Arc<Metrics>,
        print: bool,
    ) -> Result<Mqtt, LinkError> {
        let (host, port) = (settings.host.clone(), settings.port);
        let stored = Arc::clone(metrics);
        let link = Link::start(
            settings,
            Box::new(move |m: &Message| {
                if let Some(o) = &m.origin {
                    stored.observe("stored", &o.camera, o.at.elapsed().as_secs_f64());
                }
                if print && let Err(e) = sink::print(m) {
                    tracing::debug!("cannot print a stored message: {e}");
                }
            }),
        )?;
        let delivered = Arc::clone(metrics);
        link.on_delivered(Box::new(move |o: &Origin| {
            delivered.observe("delivered", &o.camera, o.at.elapsed().as_secs_f64());
        }));
        tracing::info!("publishing to MQTT at {host}:{port}");
        Ok(Mqtt {
            link,
            encoder,
            arrived: HashMap::new(),
        })
    }

    /// The link (its figures, its volatile publisher).
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// A publisher of volatile messages (snapshots).
    pub fn volatile(&self) -> VolatileSender {
        self.link.volatile()
    }
}

impl Sink for Mqtt {
    fn emit<'a>(&'a mut self, o: &'a Output) -> SinkFuture<'a> {
        let message = match o {
            Output::Tracks(t) => {
                self.arrived
                    .insert(Arc::clone(&t.meta.camera), t.meta.arrived);
                return Box::pin(async { Ok(()) });
            }
            Output::Event(e) => {
                let origin = self.arrived.get(e.camera.as_str()).map(|at| Origin {
                    camera: Arc::from(e.camera.as_str()),
                    at: *at,
                });
                self.encoder.event(e).map(|m| Message { origin, ..m })
            }
            Output::Stats(s) => self.encoder.stats(s),
        };
        Box::pin(async move {
            if self.link.send(vec![message?]).await {
                Ok(())
            } else {
                Err(SinkError::LinkStopped)
            }
        })
    }

    fn health(&mut self, health: &BoxHealth) {
        self.link.set_health(health.clone());
    }

    fn config(&mut self, config: &ConfigHealth) {
        self.link.set_config(config.clone());
    }

    fn stopped(&self) -> Option<&'static str> {
        self.link.stopped()
    }

    fn fail(&self, why: &str) {
        self.link.fail(why);
    }

    fn close(self: Box<Self>, grace: Duration) -> SinkFuture<'static> {
        Box::pin(async move {
            match self.link.shutdown(grace).await {
                Some(0) => {
                    tracing::info!("every message was delivered to the broker");
                    Ok(())
                }
                Some(left) => {
                    tracing::warn!(
                        "{left} message(s) wait in the outbox for the broker; they are sent at the next start"
                    );
                    Ok(())
                }
                None => Err(SinkError::LinkFailed),
            }
        })
    }
}
