//! Where the messages in the outbox came from (which camera's frame, handed over when), kept in
//! memory only, so that the time from a frame to its PUBACK can be measured. Bounded: messages that
//! leave the outbox without an acknowledgement (dropped when it is full, expired, or from a run
//! before this one) never take more than [`MAX_TRACKED`] entries.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::super::outbox::Origin;

/// The most origins kept; the oldest go first.
pub const MAX_TRACKED: usize = 4096;

/// Told of each acknowledged message that has an origin.
pub type OnDelivered = Box<dyn Fn(&Origin) + Send + Sync>;

/// Origins by outbox sequence number.
#[derive(Default)]
pub struct Origins {
    by_seq: Mutex<BTreeMap<u64, Origin>>,
    on_delivered: Mutex<Option<OnDelivered>>,
}

impl Origins {
    /// Remembers the origins of messages just stored as `seqs`.
    pub fn stored<'a>(&self, seqs: &[u64], origins: impl Iterator<Item = Option<&'a Origin>>) {
        let mut map = self.by_seq.lock().unwrap_or_else(PoisonError::into_inner);
        for (seq, origin) in seqs.iter().zip(origins) {
            if let Some(o) = origin {
                map.insert(*seq, o.clone());
            }
        }
        while map.len() > MAX_TRACKED {
            map.pop_first();
        }
    }

    /// The broker acknowledged `seq`: tells the listener its origin, if it had one.
    pub fn delivered(&self, seq: u64) {
        let origin = self
            .by_seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&seq);
        if let Some(o) = origin
            && let Some(f) = &*self
                .on_delivered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        {
            f(&o);
        }
    }

    /// Sets the listener.
    pub fn listen(&self, f: OnDelivered) {
        *self
            .on_delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(f);
    }

    /// Origins held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    fn origin(cam: &str) -> Origin {
        Origin {
            camera: Arc::from(cam),
            at: Instant::now(),
        }
    }

    #[test]
    fn each_acknowledged_origin_is_told_once() {
        let o = Origins::default();
        let told = Arc::new(Mutex::new(Vec::new()));
        let t = Arc::clone(&told);
        o.listen(Box::new(move |or: &Origin| {
            t.lock().expect("lock").push(or.camera.to_string());
        }));
        let (a, b) = (origin("a"), origin("b"));
        o.stored(&[7, 8, 9], [Some(&a), None, Some(&b)].into_iter());
        assert_eq!(o.len(), 2);
        o.delivered(9);
        o.delivered(8);
        o.delivered(9);
        o.delivered(7);
        assert_eq!(*told.lock().expect("lock"), vec!["b", "a"]);
        assert!(o.is_empty());
    }

    #[test]
    fn what_is_never_acknowledged_is_bounded() {
        let o = Origins::default();
        let a = origin("a");
        let seqs: Vec<u64> = (0..(MAX_TRACKED as u64 + 10)).collect();
        o.stored(&seqs, seqs.iter().map(|_| Some(&a)));
        assert_eq!(o.len(), MAX_TRACKED);
    }
}
