//! What goes on the wire: topics and the message envelope (schema version, a unique time-ordered
//! id, the site) around the rules' events and statistics.

use std::time::SystemTime;

use serde::Serialize;

use super::outbox::{Class, Message};
use crate::rules::{Event, IntervalStats};

/// The schema version every message carries as `v`.
pub const SCHEMA_VERSION: u32 = 1;

/// The default topic prefix.
pub const DEFAULT_PREFIX: &str = "roadeye/v1";

/// The topics of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
    site: String,
    device: String,
}

impl Topics {
    /// Topics under `prefix` (no trailing `/`) for `site` and `device`.
    pub fn new(prefix: &str, site: &str, device: &str) -> Topics {
        Topics {
            prefix: prefix.trim_end_matches('/').to_string(),
            site: site.to_string(),
            device: device.to_string(),
        }
    }

    /// `{prefix}/{site}/{camera}/events/{kind}`.
    pub fn event(&self, camera: &str, kind: &str) -> String {
        format!("{}/{}/{camera}/events/{kind}", self.prefix, self.site)
    }

    /// `{prefix}/{site}/{camera}/stats`.
    pub fn stats(&self, camera: &str) -> String {
        format!("{}/{}/{camera}/stats", self.prefix, self.site)
    }

    /// `{prefix}/{site}/{camera}/snapshots/{time_ms}-{frame}` for the snapshot named
    /// `{camera}/{time_ms}-{frame}.jpg`.
    pub fn snapshot(&self, name: &str) -> String {
        let stem = name.strip_suffix(".jpg").unwrap_or(name);
        match stem.split_once('/') {
            Some((camera, file)) => {
                format!("{}/{}/{camera}/snapshots/{file}", self.prefix, self.site)
            }
            None => format!("{}/{}/snapshots/{stem}", self.prefix, self.site),
        }
    }

    /// `{prefix}/{site}/{device}/status` (retained; the Last Will's topic).
    pub fn status(&self) -> String {
        format!("{}/{}/{}/status", self.prefix, self.site, self.device)
    }

    /// `{prefix}/{site}/{device}/alarms`: the box's own alarms (the outbox dropped messages).
    pub fn alarms(&self) -> String {
        format!("{}/{}/{}/alarms", self.prefix, self.site, self.device)
    }
}

/// Unique, time-ordered message ids: ULIDs (the `ulid` crate: 26 characters of Crockford
/// base32, 48 bits of milliseconds since the Unix epoch, then 80 bits), whose low 80 bits start at
/// a per-process random value and count up, so ids sort by time and stay unique within a
/// millisecond and across restarts.
#[derive(Debug, Clone)]
pub struct IdGen {
    last: ulid::Ulid,
}

/// The low bits of an id.
const LOW_BITS: u32 = 80;

impl IdGen {
    /// A generator seeded with `seed` (e.g. from the clock, the process id and the device id).
    pub fn new(seed: u64) -> IdGen {
        // SplitMix64 twice spreads the seed over the 80 low bits.
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (a, b) = (mix(seed), mix(seed ^ 0xA5A5_A5A5_A5A5_A5A5));
        // Leave headroom so counting up does not run out within a millisecond.
        let low = ((u128::from(a) << 16) ^ u128::from(b)) & ((1u128 << (LOW_BITS - 1)) - 1);
        IdGen {
            last: ulid::Ulid::from_parts(0, low),
        }
    }

    /// A generator seeded from the clock, the process id and `device`.
    pub fn for_device(device: &str) -> IdGen {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let name = device.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        });
        IdGen::new(nanos ^ (u64::from(std::process::id()) << 32) ^ name)
    }

    /// The next id for a message made at `ms` (ms since the Unix epoch). Ids never go backwards,
    /// even if the clock does.
    pub fn next(&mut self, ms: u64) -> String {
        let last = self.last;
        let ms = ms.max(last.timestamp_ms());
        self.last = if ms == last.timestamp_ms() {
            // The same millisecond: count up (into the next one if the low bits ran out).
            last.increment()
                .unwrap_or_else(|| ulid::Ulid::from_parts(ms.saturating_add(1), 0))
        } else {
            ulid::Ulid::from_parts(ms, last.random())
        };
        self.last.to_string()
    }
}

/// A message body in its envelope: `v`, `id`, `site`, then the body's own fields.
#[derive(Debug, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    /// Schema version.
    pub v: u32,
    /// Unique, time-ordered id: the IOC drops redeliveries with an id it has seen.
    pub id: &'a str,
    /// The site.
    pub site: &'a str,
    /// The body.
    #[serde(flatten)]
    pub body: &'a T,
}

/// The JSON of a message body (an [`Event`], [`IntervalStats`]) in its envelope.
pub fn envelope_json<T: Serialize>(
    id: &str,
    site: &str,
    body: &T,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Envelope {
        v: SCHEMA_VERSION,
        id,
        site,
        body,
    })
}

pub use crate::types::ms_since_epoch;

/// Turns the rules' events and statistics into outbox messages: topic, id, envelope.
#[derive(Debug, Clone)]
pub struct Encoder {
    topics: Topics,
    site: String,
    ids: IdGen,
}

impl Encoder {
    /// An encoder for `site`'s box `device` publishing under `prefix`.
    pub fn new(prefix: &str, site: &str, device: &str) -> Encoder {
        Encoder {
            topics: Topics::new(prefix, site, device),
            site: site.to_string(),
            ids: IdGen::for_device(device),
        }
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// An event on `{prefix}/{site}/{camera}/events/{kind}`; its id is from the event's time.
    pub fn event(&mut self, e: &Event) -> Result<Message, serde_json::Error> {
        let id = self.ids.next(ms_since_epoch(e.time));
        Ok(Message {
            class: Class::Event,
            topic: self.topics.event(&e.camera, e.kind.name()),
            payload: envelope_json(&id, &self.site, e)?,
            created_ms: ms_since_epoch(SystemTime::now()),
            origin: None,
        })
    }

    /// Interval statistics on `{prefix}/{site}/{camera}/stats`; the id is from the interval's end.
    pub fn stats(&mut self, s: &IntervalStats) -> Result<Message, serde_json::Error> {
        let id = self.ids.next(ms_since_epoch(s.end));
        Ok(Message {
            class: Class::Stats,
            topic: self.topics.stats(&s.camera),
            payload: envelope_json(&id, &self.site, s)?,
            created_ms: ms_since_epoch(SystemTime::now()),
            origin: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_stable_layout() {
        let t = Topics::new("roadeye/v1/", "hn-caugiay", "box-01");
        assert_eq!(
            t.event("north", "line_crossing"),
            "roadeye/v1/hn-caugiay/north/events/line_crossing"
        );
        assert_eq!(t.stats("north"), "roadeye/v1/hn-caugiay/north/stats");
        assert_eq!(t.status(), "roadeye/v1/hn-caugiay/box-01/status");
        assert_eq!(t.alarms(), "roadeye/v1/hn-caugiay/box-01/alarms");
    }

    const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    #[test]
    fn ids_are_unique_sorted_by_time_and_never_go_backwards() {
        let mut g = IdGen::new(42);
        let ids: Vec<String> = [
            1_795_534_200_000u64,
            1_795_534_200_000,
            1_795_534_200_001,
            1_795_534_199_000,
        ]
        .iter()
        .map(|ms| g.next(*ms))
        .collect();
        assert!(
            ids.iter()
                .all(|i| i.len() == 26 && i.bytes().all(|b| CROCKFORD.contains(&b))),
            "{ids:?}"
        );
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted, ids,
            "strictly increasing, even when the clock steps back"
        );
        // The first 10 characters are the time: a later millisecond sorts after, whatever the seed.
        let later = IdGen::new(7).next(1_795_534_200_002);
        assert!(later > ids[2]);
        assert_eq!(&ids[0][..10], &ids[1][..10]);
        // Two generators (two runs of the agent) in the same millisecond do not collide.
        assert_ne!(IdGen::new(1).next(5), IdGen::new(2).next(5));
    }

    #[test]
    fn the_envelope_leads_with_version_id_and_site() {
        let e = crate::rules::Event {
            camera: "north".into(),
            time: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_795_534_200_123),
            pts: std::time::Duration::ZERO,
            rule: "depot".into(),
            kind: crate::rules::EventKind::Intrusion,
            object: None,
            snapshot: None,
        };
        let json =
            String::from_utf8(envelope_json("01ABC", "hn", &e).expect("json")).expect("utf8");
        assert_eq!(
            json,
            r#"{"v":1,"id":"01ABC","site":"hn","camera":"north","time_ms":1795534200123,"rule":"depot","kind":"intrusion"}"#
        );
    }
}
