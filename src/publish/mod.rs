//! The link to the IOC: messages are written to a durable outbox, then published over MQTT.

pub mod broker;
pub mod link;
pub mod message;
pub mod outbox;
pub mod status;
pub mod tls;

pub use link::{Link, LinkError, LinkSettings, OnStored};
pub use message::{Encoder, IdGen, SCHEMA_VERSION, Topics, envelope_json};
pub use outbox::{Class, Dropped, Limits, Message, Outbox, OutboxError, Stored};
pub use status::{Alarm, CameraHealth, OutboxHealth, Presence, Status};
