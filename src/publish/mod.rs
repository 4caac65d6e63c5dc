//! The link to the IOC: messages are written to a durable outbox, then published over MQTT.

pub mod message;
pub mod outbox;
pub mod status;

pub use message::{IdGen, SCHEMA_VERSION, Topics};
pub use outbox::{Class, Dropped, Limits, Message, Outbox, OutboxError, Stored};
pub use status::{Alarm, CameraHealth, OutboxHealth, Presence, Status};
