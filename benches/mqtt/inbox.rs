//! The bench's subscriber: every event message received, by `seq`, with the time it came.

use std::collections::HashMap;

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, oneshot};

use super::{MAX_PACKET, PATIENCE, PREFIX, SITE};

/// The `seq` a payload starts with.
pub(crate) fn seq_of(payload: &[u8]) -> Option<u64> {
    let rest = payload.strip_prefix(b"{\"seq\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// One message the subscriber received, stamped on arrival.
pub(crate) struct Receipt {
    pub(crate) topic: String,
    pub(crate) seq: u64,
    pub(crate) at: Instant,
}

/// What arrived on one topic.
#[derive(Default)]
pub(crate) struct Arrivals {
    /// First arrival of each `seq`.
    pub(crate) first: Vec<Option<Instant>>,
    pub(crate) distinct: usize,
    pub(crate) duplicates: usize,
    /// First arrivals of a `seq` lower than one already seen.
    pub(crate) out_of_order: usize,
    pub(crate) highest: Option<u64>,
}

/// The subscriber's receipts, by topic.
pub(crate) struct Inbox {
    pub(crate) rx: mpsc::UnboundedReceiver<Receipt>,
    pub(crate) topics: HashMap<String, Arrivals>,
}

impl Inbox {
    pub(crate) fn take(&mut self, r: Receipt) {
        let a = self.topics.entry(r.topic).or_default();
        let i = r.seq as usize;
        if a.first.len() <= i {
            a.first.resize(i + 1, None);
        }
        if a.first[i].is_some() {
            a.duplicates += 1;
            return;
        }
        a.first[i] = Some(r.at);
        a.distinct += 1;
        if a.highest.is_some_and(|h| r.seq < h) {
            a.out_of_order += 1;
        }
        a.highest = a.highest.max(Some(r.seq));
    }

    /// Waits for all `n` messages of `topic`; returns when each first arrived, by `seq`. Panics
    /// if some are still missing after [`PATIENCE`].
    pub(crate) async fn all(&mut self, topic: &str, n: usize) -> Vec<Instant> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.topics.get(topic).map_or(0, |a| a.distinct) < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(r)) => self.take(r),
                Ok(None) => panic!("the subscriber lost the broker (its error is above)"),
                Err(_) => {
                    let got = self.topics.get(topic).map_or(0, |a| a.distinct);
                    panic!(
                        "{topic}: {} of {n} messages never arrived ({} s)",
                        n - got,
                        PATIENCE.as_secs()
                    );
                }
            }
        }
        let a = &self.topics[topic];
        a.first[..n]
            .iter()
            .map(|t| t.expect("counted as arrived"))
            .collect()
    }

    /// Takes what else arrives within `quiet` (late duplicates).
    pub(crate) async fn drain(&mut self, quiet: Duration) {
        while let Ok(Some(r)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            self.take(r);
        }
    }
}

/// An in-process subscriber to every event topic of the site (QoS 1), stamping each receipt.
pub(crate) async fn subscribe(port: u16) -> Inbox {
    let mut o = MqttOptions::new("bench-subscriber", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    let (client, mut events) = AsyncClient::new(o, 16);
    client
        .subscribe(format!("{PREFIX}/{SITE}/+/events/#"), QoS::AtLeastOnce)
        .await
        .expect("subscribe");
    let (tx, rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        let _client = client;
        let mut ready = Some(ready_tx);
        loop {
            match events.poll().await {
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    let at = Instant::now();
                    if let Some(seq) = seq_of(&p.payload) {
                        let _ = tx.send(Receipt {
                            topic: p.topic,
                            seq,
                            at,
                        });
                    }
                }
                Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // Dropping the sender ends the run: a bench with a broken subscriber counts
                    // nothing.
                    eprintln!("subscriber: {e}");
                    return;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("the subscription is acknowledged within 10 s")
        .expect("the subscriber is running");
    Inbox {
        rx,
        topics: HashMap::new(),
    }
}
