//! The durable outbox: every message for the IOC is written here (fsync'd) before it is sent, and
//! removed only when the broker has acknowledged it, so nothing is lost while the link or the
//! broker is down, or when the agent is killed.
//!
//! It is a redb database (one file, ACID, crash-safe copy-on-write B-trees, a stable format, pure
//! Rust): messages keyed by a sequence number, so they replay in the order they were written. It
//! is bounded by size and age; when full, the oldest statistics are dropped first, then the oldest
//! events. Drops are counted (kept in the file too) until reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

/// Messages by sequence number.
const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// Sequence numbers of the statistics messages (dropped first when full).
const STATS: TableDefinition<u64, ()> = TableDefinition::new("stats");
/// Counters that survive restarts.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// redb's page cache (its default is 1 GiB): messages are written once and read once, so a small
/// cache serves them as well.
const CACHE_BYTES: usize = 8 << 20;

/// Bytes of a stored message besides its topic and payload.
const HEADER: usize = 1 + 8 + 2;

/// What a message is, for the drop policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// An event: kept longest.
    Event,
    /// Interval statistics: thinned out first.
    Stats,
}

/// A message waiting for the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its class.
    pub class: Class,
    /// MQTT topic.
    pub topic: String,
    /// The payload.
    pub payload: Vec<u8>,
    /// When it was made, ms since the Unix epoch (for the age bound).
    pub created_ms: u64,
    /// The frame it came from, for the per-stage timings; kept in memory only, never stored.
    pub origin: Option<Origin>,
}

/// The camera frame a message came from, and when the frame was handed over by its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The camera.
    pub camera: std::sync::Arc<str>,
    /// When its frame arrived.
    pub at: std::time::Instant,
}

impl Message {
    fn encoded_len(&self) -> usize {
        HEADER + self.topic.len() + self.payload.len()
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.encoded_len());
        v.push(match self.class {
            Class::Event => 0,
            Class::Stats => 1,
        });
        v.extend_from_slice(&self.created_ms.to_le_bytes());
        let topic = self.topic.as_bytes();
        let len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(&topic[..usize::from(len)]);
        v.extend_from_slice(&self.payload);
        v
    }

    fn decode(b: &[u8]) -> Option<Message> {
        let (class, created_ms) = header(b)?;
        let len = usize::from(u16::from_le_bytes(b.get(9..11)?.try_into().ok()?));
        let topic = String::from_utf8(b.get(11..11 + len)?.to_vec()).ok()?;
        Some(Message {
            class,
            topic,
            payload: b.get(11 + len..)?.to_vec(),
            created_ms,
            origin: None,
        })
    }
}

/// The class and creation time of an encoded message.
fn header(b: &[u8]) -> Option<(Class, u64)> {
    let class = match *b.first()? {
        0 => Class::Event,
        1 => Class::Stats,
        _ => return None,
    };
    Some((class, u64::from_le_bytes(b.get(1..9)?.try_into().ok()?)))
}

/// A stored message with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its place in the outbox: messages are sent in this order.
    pub seq: u64,
    /// The message.
    pub message: Message,
}

/// How big and how old the outbox may grow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Bytes of messages kept at most.
    pub max_bytes: u64,
    /// Messages older than this are dropped.
    pub max_age: Duration,
}

/// Messages dropped by the bounds, by class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Events dropped.
    pub events: u64,
    /// Statistics dropped.
    pub stats: u64,
}

impl Dropped {
    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.events == 0 && self.stats == 0
    }
}

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The file could not be opened, read or written (a full disk, a read-only folder, another
    /// agent holding it).
    #[error(
        "outbox '{}': {source} (check the folder is writable, the disk has space, and no other roadeye uses the same file)",
        .path.display()
    )]
    Store {
        /// The outbox file.
        path: PathBuf,
        /// The store's error.
        #[source]
        source: redb::Error,
    },
    /// A damaged outbox file could not be moved aside.
    #[error(
        "outbox '{}' is damaged: {reason}; it could not be moved aside to '{}': {source} (move or delete the file, then start again)",
        .path.display(),
        .moved_to.display()
    )]
    SetAside {
        /// The outbox file.
        path: PathBuf,
        /// Where it was to go.
        moved_to: PathBuf,
        /// What is damaged.
        reason: String,
        /// Why the move failed.
        #[source]
        source: std::io::Error,
    },
    /// A message is larger than the whole outbox may be.
    #[error("a message of {size} bytes is larger than the outbox's max_bytes {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The bound.
        max: u64,
    },
}

/// The outbox file and its bookkeeping.
pub struct Outbox {
    db: Database,
    path: PathBuf,
    limits: Limits,
    next_seq: u64,
    count: u64,
    bytes: u64,
    /// A write failed on an I/O error (a full disk): redb refuses every later write until the
    /// file is opened again, so the next write opens it first (see `damage.rs`).
    stale: bool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("path", &self.path)
            .field("count", &self.count)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// Opens (or creates) the outbox file at `path`; what it holds is pending again.
    pub fn open(path: &Path, limits: Limits) -> Result<Outbox, OutboxError> {
        Outbox::open_verified(path, limits, true)
    }

    /// Opens the file, verifying every page's checksum when `verify`.
    fn open_verified(path: &Path, limits: Limits, verify: bool) -> Result<Outbox, OutboxError> {
        let fail = |e: redb::Error| OutboxError::Store {
            path: path.to_path_buf(),
            source: e,
        };
        // Every page's checksum is verified at open: a file altered outside redb is reported as
        // corrupted instead of trusted until a later write trips over it.
        let db = Database::builder()
            .set_check_integrity_on_open(verify)
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| fail(e.into()))?;
        let mut outbox = Outbox {
            db,
            path: path.to_path_buf(),
            limits,
            next_seq: 1,
            count: 0,
            bytes: 0,
            stale: false,
        };
        outbox.scan().map_err(fail)?;
        Ok(outbox)
    }

    fn err(&self, e: impl Into<redb::Error>) -> OutboxError {
        OutboxError::Store {
            path: self.path.clone(),
            source: e.into(),
        }
    }

    /// Creates the tables and counts what is stored.
    fn scan(&mut self) -> Result<(), redb::Error> {
        let tx = self.db.begin_write()?;
        {
            let messages = tx.open_table(MESSAGES)?;
            tx.open_table(STATS)?;
            tx.open_table(META)?;
            self.count = messages.len()?;
            self.bytes = 0;
            for entry in messages.iter()? {
                let (_, v) = entry?;
                self.bytes += v.value().len() as u64;
            }
            self.next_seq = messages.last()?.map_or(1, |(k, _)| k.value() + 1);
        }
        tx.commit()?;
        Ok(())
    }

    /// Messages stored.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes stored.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `messages` in one durable transaction (fsync'd when it returns), applying the size
    /// bound; returns their sequence numbers and what the bound dropped to make room.
    pub fn append(&mut self, messages: &[Message]) -> Result<(Vec<u64>, Dropped), OutboxError> {
        self.guarded(|o| o.append_once(messages))
    }

    fn append_once(&mut self, messages: &[Message]) -> Result<(Vec<u64>, Dropped), OutboxError> {
        if let Some(m) = messages
            .iter()
            .find(|m| m.encoded_len() as u64 > self.limits.max_bytes)
        {
            return Err(OutboxError::TooLarge {
                size: m.encoded_len(),
                max: self.limits.max_bytes,
            });
        }
        let (mut count, mut bytes, mut seq) = (self.count, self.bytes, self.next_seq);
        let mut seqs = Vec::with_capacity(messages.len());
        let mut dropped = Dropped::default();
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(MESSAGES).map_err(|e| self.err(e))?;
            let mut stats = tx.open_table(STATS).map_err(|e| self.err(e))?;
            for m in messages {
                let v = m.encode();
                table.insert(seq, v.as_slice()).map_err(|e| self.err(e))?;
                if m.class == Class::Stats {
                    stats.insert(seq, ()).map_err(|e| self.err(e))?;
                }
                seqs.push(seq);
                seq += 1;
                count += 1;
                bytes += v.len() as u64;
            }
            // Over the bound: the oldest statistics go first, then the oldest events.
            while bytes > self.limits.max_bytes {
                let victim = match stats.pop_first().map_err(|e| self.err(e))? {
                    Some((k, _)) => {
                        dropped.stats += 1;
                        k.value()
                    }
                    None => {
                        let first = table.first().map_err(|e| self.err(e))?;
                        let Some(k) = first.map(|(k, _)| k.value()) else {
                            break;
                        };
                        dropped.events += 1;
                        k
                    }
                };
                if let Some(v) = table.remove(victim).map_err(|e| self.err(e))? {
                    bytes -= v.value().len() as u64;
                    count -= 1;
                }
            }
            if !dropped.is_empty() {
                add_dropped(&tx, dropped).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        (self.count, self.bytes, self.next_seq) = (count, bytes, seq);
        Ok((seqs, dropped))
    }

    /// Up to `limit` pending messages after sequence number `after` (from the start: `None`), in
    /// order.
    pub fn pending(&self, after: Option<u64>, limit: usize) -> Result<Vec<Stored>, OutboxError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = tx.open_table(MESSAGES).map_err(|e| self.err(e))?;
        let from = after.map_or(0, |a| a.saturating_add(1));
        let mut out = Vec::new();
        for entry in table.range(from..).map_err(|e| self.err(e))?.take(limit) {
            let (k, v) = entry.map_err(|e| self.err(e))?;
            // A record that does not decode cannot be sent: it comes back with an empty topic, for
            // the sender to acknowledge away.
            let message = Message::decode(v.value()).unwrap_or(Message {
                class: Class::Event,
                topic: String::new(),
                payload: Vec::new(),
                created_ms: 0,
                origin: None,
            });
            out.push(Stored {
                seq: k.value(),
                message,
            });
        }
        Ok(out)
    }

    /// Removes the acknowledged messages `seqs`.
    pub fn ack(&mut self, seqs: &[u64]) -> Result<(), OutboxError> {
        self.guarded(|o| o.remove(seqs, Dropped::default()))
    }

    /// Drops the messages older than the age bound at `now_ms`; returns what it dropped.
    /// Sequence order is creation order, so the scan stops at the first message young enough.
    pub fn expire(&mut self, now_ms: u64) -> Result<Dropped, OutboxError> {
        let max_age = u64::try_from(self.limits.max_age.as_millis()).unwrap_or(u64::MAX);
        let cutoff = now_ms.saturating_sub(max_age);
        let mut old = Vec::new();
        let mut dropped = Dropped::default();
        {
            let tx = self.db.begin_read().map_err(|e| self.err(e))?;
            let table = tx.open_table(MESSAGES).map_err(|e| self.err(e))?;
            for entry in table.iter().map_err(|e| self.err(e))? {
                let (k, v) = entry.map_err(|e| self.err(e))?;
                // An unreadable record counts as an old event.
                let (class, created_ms) = header(v.value()).unwrap_or((Class::Event, 0));
                if created_ms >= cutoff {
                    break;
                }
                match class {
                    Class::Event => dropped.events += 1,
                    Class::Stats => dropped.stats += 1,
                }
                old.push(k.value());
            }
        }
        if !old.is_empty() {
            self.guarded(|o| o.remove(&old, dropped))?;
        }
        Ok(dropped)
    }

    /// Removes `seqs` and counts `dropped` in one durable transaction.
    fn remove(&mut self, seqs: &[u64], dropped: Dropped) -> Result<(), OutboxError> {
        let (mut count, mut bytes) = (self.count, self.bytes);
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = tx.open_table(MESSAGES).map_err(|e| self.err(e))?;
            let mut stats = tx.open_table(STATS).map_err(|e| self.err(e))?;
            for &s in seqs {
                if let Some(v) = table.remove(s).map_err(|e| self.err(e))? {
                    bytes -= v.value().len() as u64;
                    count -= 1;
                }
                stats.remove(s).map_err(|e| self.err(e))?;
            }
        }
        if !dropped.is_empty() {
            add_dropped(&tx, dropped).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        (self.count, self.bytes) = (count, bytes);
        Ok(())
    }

    /// Drops since the last [`reported`](Self::reported) call, kept across restarts (the alarm
    /// the link publishes once it is back).
    pub fn unreported_drops(&self) -> Result<Dropped, OutboxError> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = tx.open_table(META).map_err(|e| self.err(e))?;
        let get = |k: &str| -> Result<u64, OutboxError> {
            Ok(meta
                .get(k)
                .map_err(|e| self.err(e))?
                .map_or(0, |v| v.value()))
        };
        Ok(Dropped {
            events: get("dropped_events")?,
            stats: get("dropped_stats")?,
        })
    }

    /// The drops `d` have been reported: they no longer count as unreported.
    pub fn reported(&mut self, d: Dropped) -> Result<(), OutboxError> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = tx.open_table(META).map_err(|e| self.err(e))?;
            for (k, n) in [("dropped_events", d.events), ("dropped_stats", d.stats)] {
                let now = meta
                    .get(k)
                    .map_err(|e| self.err(e))?
                    .map_or(0, |v| v.value());
                meta.insert(k, now.saturating_sub(n))
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

fn add_dropped(tx: &redb::WriteTransaction, d: Dropped) -> Result<(), redb::Error> {
    let mut meta = tx.open_table(META)?;
    for (k, n) in [("dropped_events", d.events), ("dropped_stats", d.stats)] {
        let now = meta.get(k)?.map_or(0, |v| v.value());
        meta.insert(k, now + n)?;
    }
    Ok(())
}

mod damage;
pub use damage::SetAside;

#[cfg(test)]
mod tests;
