//! The session's bookkeeping, without IO: which outbox message, alarm or status each packet of
//! the current connection is, so that the broker's PUBACK removes the right outbox entry. In the
//! manner of rumqttc's own `MqttState`: the session feeds it what happened (published, given a
//! packet id, acknowledged, connection lost) and acts on what it answers.
//!
//! rumqttc gives a QoS 1 publish its packet id when it writes it (`Outgoing::Publish(pkid)`, in
//! the order the publishes were queued), so a publish waits in `awaiting_id` until then. A lost
//! connection forgets everything in flight: the outbox still holds every unacknowledged message,
//! and the next connection publishes them again from the start (duplicates, never losses; the
//! IOC drops a redelivery by its id).

use std::collections::{HashMap, VecDeque};

use crate::publish::outbox::Dropped;

/// What a published packet was, to act on its acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// An outbox message, by its sequence number.
    Outbox(u64),
    /// The drop alarm for these counts.
    Alarm(Dropped),
    /// A status message.
    Status,
}

/// The packets of the current connection.
#[derive(Debug, Default)]
pub(super) struct Flight {
    /// Published, waiting for rumqttc to give them a packet id (in publish order).
    awaiting_id: VecDeque<Sent>,
    /// Waiting for the broker's acknowledgement.
    by_pkid: HashMap<u16, Sent>,
    /// The last outbox message published on this connection.
    last_sent: Option<u64>,
    /// Outbox messages waiting for acknowledgement.
    outbox_inflight: usize,
    /// Whether an alarm is waiting for acknowledgement.
    alarm_inflight: bool,
    /// Outbox messages acknowledged (in the order of their acknowledgements) and not yet
    /// removed from the outbox; kept across a lost connection.
    acked: Vec<u64>,
}

impl Flight {
    /// `sent` was handed to rumqttc.
    pub(super) fn published(&mut self, sent: Sent) {
        match sent {
            Sent::Outbox(seq) => {
                self.outbox_inflight += 1;
                self.last_sent = Some(seq);
            }
            Sent::Alarm(_) => self.alarm_inflight = true,
            Sent::Status => {}
        }
        self.awaiting_id.push_back(sent);
    }

    /// Outbox message `seq` cannot be sent (its record is unreadable): it counts as done.
    pub(super) fn unreadable(&mut self, seq: u64) {
        self.acked.push(seq);
        self.last_sent = Some(seq);
    }

    /// rumqttc wrote the next queued QoS 1 publish with packet id `pkid`.
    pub(super) fn written(&mut self, pkid: u16) {
        if let Some(s) = self.awaiting_id.pop_front() {
            self.by_pkid.insert(pkid, s);
        }
    }

    /// The broker acknowledged `pkid`: what it was, or `None` for an id not in flight (a
    /// duplicate acknowledgement, or one from before a reconnect), which changes nothing.
    pub(super) fn acknowledged(&mut self, pkid: u16) -> Option<Sent> {
        let sent = self.by_pkid.remove(&pkid)?;
        match sent {
            Sent::Outbox(seq) => {
                self.outbox_inflight = self.outbox_inflight.saturating_sub(1);
                self.acked.push(seq);
            }
            Sent::Alarm(_) => self.alarm_inflight = false,
            Sent::Status => {}
        }
        Some(sent)
    }

    /// The connection is gone: nothing is in flight any more (acknowledged messages stay to be
    /// removed), and the next connection publishes the outbox from its start.
    pub(super) fn lost(&mut self) {
        let acked = std::mem::take(&mut self.acked);
        *self = Flight {
            acked,
            ..Flight::default()
        };
    }

    /// The last outbox message published on this connection.
    pub(super) fn last_sent(&self) -> Option<u64> {
        self.last_sent
    }

    /// Outbox messages waiting for acknowledgement.
    pub(super) fn outbox_inflight(&self) -> usize {
        self.outbox_inflight
    }

    /// Whether an alarm waits for acknowledgement.
    pub(super) fn alarm_inflight(&self) -> bool {
        self.alarm_inflight
    }

    /// Acknowledged messages waiting to be removed.
    pub(super) fn acked(&self) -> usize {
        self.acked.len()
    }

    /// Takes the acknowledged messages to remove them from the outbox.
    pub(super) fn take_acked(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.acked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Publishes outbox messages `seqs` and has rumqttc write them with ids from `first_pkid`.
    fn send(f: &mut Flight, seqs: &[u64], first_pkid: u16) {
        for (i, seq) in seqs.iter().enumerate() {
            f.published(Sent::Outbox(*seq));
            f.written(first_pkid + i as u16);
        }
    }

    #[test]
    fn each_acknowledgement_removes_its_own_outbox_message_in_any_order() {
        let mut f = Flight::default();
        send(&mut f, &[10, 11, 12], 1);
        assert_eq!(f.outbox_inflight(), 3);
        assert_eq!(f.acknowledged(3), Some(Sent::Outbox(12)));
        assert_eq!(f.acknowledged(1), Some(Sent::Outbox(10)));
        assert_eq!(f.acknowledged(2), Some(Sent::Outbox(11)));
        assert_eq!(f.outbox_inflight(), 0);
        assert_eq!(f.take_acked(), [12, 10, 11]);
        assert_eq!(f.last_sent(), Some(12));
    }

    #[test]
    fn a_duplicate_or_unknown_acknowledgement_changes_nothing() {
        let mut f = Flight::default();
        send(&mut f, &[5, 6], 7);
        assert_eq!(f.acknowledged(7), Some(Sent::Outbox(5)));
        assert_eq!(f.acknowledged(7), None, "a duplicate PUBACK");
        assert_eq!(f.acknowledged(99), None, "an id never used");
        assert_eq!(f.outbox_inflight(), 1);
        assert_eq!(f.take_acked(), [5]);
        assert_eq!(f.acknowledged(8), Some(Sent::Outbox(6)));
    }

    #[test]
    fn ids_are_given_in_publish_order_to_statuses_alarms_and_messages_alike() {
        let mut f = Flight::default();
        let drops = Dropped {
            events: 2,
            stats: 1,
        };
        f.published(Sent::Status);
        f.published(Sent::Outbox(40));
        f.published(Sent::Alarm(drops));
        f.written(1);
        f.written(2);
        f.written(3);
        assert!(f.alarm_inflight());
        assert_eq!(f.acknowledged(3), Some(Sent::Alarm(drops)));
        assert!(!f.alarm_inflight());
        assert_eq!(f.acknowledged(1), Some(Sent::Status));
        assert_eq!(f.acknowledged(2), Some(Sent::Outbox(40)));
        assert_eq!(f.take_acked(), [40], "only outbox messages are removed");
    }

    #[test]
    fn a_reconnect_with_publishes_queued_never_pairs_old_packets_with_new_ids() {
        let mut f = Flight::default();
        // Three published, one written and acknowledged, one written, one never written.
        send(&mut f, &[1, 2], 1);
        f.published(Sent::Outbox(3));
        assert_eq!(f.acknowledged(1), Some(Sent::Outbox(1)));
        f.lost();
        assert_eq!(f.outbox_inflight(), 0);
        assert_eq!(
            f.last_sent(),
            None,
            "the outbox is sent again from its start"
        );
        assert_eq!(f.acked(), 1, "what was acknowledged is still removed");
        // The old connection's late acknowledgement of id 2 means nothing now.
        assert_eq!(f.acknowledged(2), None);
        // The new connection numbers from 1 again: id 1 is message 2 now, not 1 or 3.
        send(&mut f, &[2, 3], 1);
        assert_eq!(f.acknowledged(1), Some(Sent::Outbox(2)));
        assert_eq!(f.acknowledged(2), Some(Sent::Outbox(3)));
        assert_eq!(f.take_acked(), [1, 2, 3]);
    }

    #[test]
    fn an_unreadable_record_is_done_without_a_packet() {
        let mut f = Flight::default();
        f.unreadable(9);
        assert_eq!(f.outbox_inflight(), 0);
        assert_eq!(f.last_sent(), Some(9));
        assert_eq!(f.take_acked(), [9]);
    }
}
