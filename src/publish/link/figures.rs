//! The link's live figures, shared with the metrics and health endpoints.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::publish::outbox::Dropped;

/// Counters and gauges the writer and the session keep up to date.
#[derive(Debug, Default)]
pub struct LinkFigures {
    connected: AtomicBool,
    depth: AtomicU64,
    bytes: AtomicU64,
    delivered: AtomicU64,
    dropped_events: AtomicU64,
    dropped_stats: AtomicU64,
}

/// The figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkReading {
    /// Whether the session is connected to the broker.
    pub connected: bool,
    /// Messages in the outbox (not yet acknowledged).
    pub depth: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Outbox messages the broker acknowledged since the start.
    pub delivered: u64,
    /// Events the outbox's bounds dropped since the start.
    pub dropped_events: u64,
    /// Statistics the outbox's bounds dropped since the start.
    pub dropped_stats: u64,
}

impl LinkFigures {
    /// The figures now.
    pub fn read(&self) -> LinkReading {
        LinkReading {
            connected: self.connected.load(Ordering::Relaxed),
            depth: self.depth.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped_events: self.dropped_events.load(Ordering::Relaxed),
            dropped_stats: self.dropped_stats.load(Ordering::Relaxed),
        }
    }

    pub(super) fn set_connected(&self, on: bool) {
        self.connected.store(on, Ordering::Relaxed);
    }

    pub(super) fn set_depth(&self, depth: u64, bytes: u64) {
        self.depth.store(depth, Ordering::Relaxed);
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    pub(super) fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self, d: Dropped) {
        self.dropped_events.fetch_add(d.events, Ordering::Relaxed);
        self.dropped_stats.fetch_add(d.stats, Ordering::Relaxed);
    }
}
