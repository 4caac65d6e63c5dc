//! Where the agent's outputs go. Every output — the MQTT link, stdout, a bench's probe — is one
//! [`Sink`]: it takes each camera's tracks, events and statistics in order, hears the agent's
//! health and config, and is closed last, after the cameras have stopped.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::pipeline::Output;
use crate::publish::{BoxHealth, Class, ConfigHealth, Encoder, Message};

/// A sink's future: awaiting it is the backpressure (a full outbox slows the cameras' analysis,
/// it never loses an output).
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Why an output could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The message could not be encoded.
    #[error("cannot encode an output: {0}")]
    Encode(#[from] serde_json::Error),
    /// Standard output is closed or full.
    #[error("cannot write to stdout: {0}")]
    Stdout(#[from] std::io::Error),
    /// The MQTT link's tasks have stopped.
    #[error("the MQTT link stopped")]
    LinkStopped,
    /// The MQTT link failed while stopping.
    #[error("the MQTT link failed while stopping (see the errors above)")]
    LinkFailed,
    /// An output's task ended while the agent ran.
    #[error(
        "{0} stopped while running; what was not acknowledged stays in the outbox for the next start"
    )]
    Stopped(&'static str),
}

/// One output of the agent.
pub trait Sink: Send {
    /// Takes a frame's tracks, an event or statistics (in order per camera).
    fn emit<'a>(&'a mut self, o: &'a Output) -> SinkFuture<'a>;

    /// The cameras' and the failed stages' health, once per summary period.
    fn health(&mut self, _health: &BoxHealth) {}

    /// The running config and the last reload's outcome, at the start and after each reload.
    fn config(&mut self, _config: &ConfigHealth) {}

    /// Which of its tasks has ended while it should run, if one has (checked once per summary
    /// period: the agent then stops with an error, so that the service manager restarts it).
    fn stopped(&self) -> Option<&'static str> {
        None
    }

    /// Fails on purpose, as a bug would: how the watch on the outputs is tested.
    #[doc(hidden)]
    fn fail(&self, _why: &str) {}

    /// Stops after sending what it can within `grace`.
    fn close(self: Box<Self>, grace: Duration) -> SinkFuture<'static>;
}

/// Events and statistics printed on stdout as JSON lines (no MQTT link).
pub struct Stdout {
    encoder: Encoder,
}

impl Stdout {
    /// Prints what `encoder` makes (its topics and envelopes).
    pub fn new(encoder: Encoder) -> Stdout {
        Stdout { encoder }
    }
}

impl Sink for Stdout {
    fn emit<'a>(&'a mut self, o: &'a Output) -> SinkFuture<'a> {
        let message = match o {
            Output::Tracks(_) => None,
            Output::Event(e) => Some(self.encoder.event(e)),
            Output::Stats(s) => Some(self.encoder.stats(s)),
        };
        Box::pin(async move {
            if let Some(m) = message {
                print(&m?)?;
            }
            Ok(())
        })
    }

    fn close(self: Box<Self>, _grace: Duration) -> SinkFuture<'static> {
        Box::pin(async { Ok(()) })
    }
}

/// One message on stdout as a JSON line: `type` (event, stats), `topic`, then the payload's own
/// fields (`v`, `id`, `site`, …).
pub fn print(m: &Message) -> std::io::Result<()> {
    use std::io::Write;
    let kind = match m.class {
        Class::Event => "event",
        Class::Stats => "stats",
    };
    let topic = serde_json::to_string(&m.topic).unwrap_or_default();
    let body = m.payload.strip_prefix(b"{").unwrap_or(&m.payload);
    let mut out = std::io::stdout().lock();
    write!(out, "{{\"type\":\"{kind}\",\"topic\":{topic},")?;
    out.write_all(body)?;
    out.write_all(b"\n")?;
    out.flush()
}
