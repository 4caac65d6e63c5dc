//! Keeping a camera's frames in order when several lanes analyse them side by side: each frame
//! gets a ticket when a lane takes it, results come back in any order, and they leave in ticket
//! order. A frame that failed leaves a gap that is closed, not waited for. Pure.

use std::collections::BTreeMap;

/// The tickets of one camera's frames and the results waiting for an earlier one.
#[derive(Debug)]
pub struct Reorder<T> {
    next_ticket: u64,
    next_out: u64,
    waiting: BTreeMap<u64, Option<T>>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            next_ticket: 0,
            next_out: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> Reorder<T> {
    /// The ticket of the next frame taken.
    pub fn ticket(&mut self) -> u64 {
        let t = self.next_ticket;
        self.next_ticket += 1;
        t
    }

    /// Records the result of `ticket` (`None`: the frame failed, nothing to hand on).
    pub fn done(&mut self, ticket: u64, result: Option<T>) {
        if ticket >= self.next_out {
            self.waiting.insert(ticket, result);
        }
    }

    /// The next result in ticket order, once every earlier ticket is done; failed frames are
    /// skipped.
    pub fn pop(&mut self) -> Option<T> {
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() != self.next_out {
                return None;
            }
            self.next_out += 1;
            if let Some(v) = entry.remove() {
                return Some(v);
            }
        }
        None
    }

    /// Frames taken whose result has not left yet.
    pub fn in_flight(&self) -> u64 {
        self.next_ticket - self.next_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut Reorder<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| r.pop()).collect()
    }

    #[test]
    fn results_leave_in_the_order_frames_were_taken() {
        let mut r = Reorder::default();
        let (a, b, c) = (r.ticket(), r.ticket(), r.ticket());
        r.done(c, Some("c"));
        r.done(b, Some("b"));
        assert!(drain(&mut r).is_empty(), "a is still in a lane");
        assert_eq!(r.in_flight(), 3);
        r.done(a, Some("a"));
        assert_eq!(drain(&mut r), vec!["a", "b", "c"]);
        assert_eq!(r.in_flight(), 0);
    }

    #[test]
    fn a_failed_frame_does_not_hold_the_others() {
        let mut r = Reorder::default();
        let (a, b) = (r.ticket(), r.ticket());
        r.done(b, Some("b"));
        r.done(a, None);
        assert_eq!(drain(&mut r), vec!["b"]);
        let c = r.ticket();
        r.done(c, Some("c"));
        assert_eq!(drain(&mut r), vec!["c"]);
    }

    #[test]
    fn a_ticket_reported_twice_or_late_is_ignored() {
        let mut r = Reorder::default();
        let a = r.ticket();
        r.done(a, Some("a"));
        assert_eq!(drain(&mut r), vec!["a"]);
        r.done(a, Some("again"));
        assert!(drain(&mut r).is_empty());
    }
}
