//! The link to the IOC: messages are written to a durable outbox, then published over MQTT.

pub mod broker;
pub mod config;
pub mod link;
pub mod message;
pub mod outbox;
pub mod status;
pub mod tls;

pub use link::{
    Link, LinkError, LinkFigures, LinkReading, LinkSettings, OnStored, Volatile, VolatileSender,
};
pub use message::{Encoder, IdGen, SCHEMA_VERSION, Topics, envelope_json};
pub use outbox::{Class, Dropped, Limits, Message, Origin, Outbox, OutboxError, SetAside, Stored};
pub use status::{
    Alarm, BoxHealth, CameraHealth, ClockHealth, ConfigHealth, OutboxHealth, Presence,
    RejectedConfig, StageHealth, Status,
};
