//! The link to the IOC: messages are written to a durable outbox, then published over MQTT.

pub mod outbox;

pub use outbox::{Class, Dropped, Limits, Message, Outbox, OutboxError, Stored};
