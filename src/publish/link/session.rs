//! The MQTT session: connect (and reconnect with a capped backoff), publish the outbox in order
//! with QoS 1, remove what the broker acknowledged, keep the retained status up to date.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rumqttc::{
    AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use tokio::sync::{Notify, mpsc, watch};

use super::connection::{REPORTS, Report, describe, drive};
use super::flight::{Flight, Sent};
use super::{LinkSettings, Store, Volatile, with_outbox};
use crate::backoff::Backoff;
use crate::publish::message::IdGen;
use crate::publish::outbox::Dropped;
use crate::publish::status::{Alarm, BoxHealth, ConfigHealth, OutboxHealth, Status};
use crate::types::ms_since_epoch;

/// Outbox messages published and not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Acknowledged messages are removed from the outbox in batches of this many, or at each tick.
const ACK_BATCH: usize = 256;
/// How often acknowledged messages are removed and the alarm checked.
const HOUSEKEEPING: Duration = Duration::from_millis(50);
/// How often an idle session looks for stored messages it has not published.
const RETRY: Duration = Duration::from_secs(1);
/// How often messages past the age bound are dropped.
const EXPIRY: Duration = Duration::from_secs(60);
/// The largest message roadeye sends or accepts.
pub(super) const MAX_PACKET: usize = 1024 * 1024;
/// rumqttc's in-flight limit: the window plus room for status and alarm messages.
const INFLIGHT: u16 = WINDOW as u16 + 8;

/// An alarm published and not yet acknowledged: sent again with the same id and counts after a
/// reconnect, so the IOC can drop a redelivery by id instead of counting the drops twice.
#[derive(Debug, Clone)]
struct PendingAlarm {
    id: String,
    time_ms: u64,
    drops: Dropped,
}

pub(super) struct Session {
    settings: LinkSettings,
    outbox: Arc<Store>,
    stored: Arc<Notify>,
    health: watch::Receiver<BoxHealth>,
    config: watch::Receiver<Option<ConfigHealth>>,
    stop: watch::Receiver<Option<Duration>>,
    ids: IdGen,
    started: Instant,
    flight: Flight,
    connected: bool,
    alarm: Option<PendingAlarm>,
}

impl Session {
    pub(super) fn new(
        settings: LinkSettings,
        outbox: Arc<Store>,
        stored: Arc<Notify>,
        health: watch::Receiver<BoxHealth>,
        config: watch::Receiver<Option<ConfigHealth>>,
        stop: watch::Receiver<Option<Duration>>,
    ) -> Session {
        Session {
            ids: IdGen::for_device(&settings.device),
            settings,
            outbox,
            stored,
            health,
            config,
            stop,
            started: Instant::now(),
            flight: Flight::default(),
            connected: false,
            alarm: None,
        }
    }

    fn options(&self) -> MqttOptions {
        let s = &self.settings;
        let mut o = MqttOptions::new(&s.client_id, &s.host, s.port);
        o.set_keep_alive(s.keep_alive)
            .set_clean_session(true)
            .set_inflight(INFLIGHT)
            .set_max_packet_size(MAX_PACKET, MAX_PACKET);
        let will = serde_json::to_vec(&Status::last_will(&s.site, &s.device)).unwrap_or_default();
        o.set_last_will(LastWill::new(
            s.topics.status(),
            will,
            QoS::AtLeastOnce,
            true,
        ));
        if let Some((user, pass)) = &s.credentials {
            o.set_credentials(user, pass);
        }
        if let Some(tls) = &s.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                Arc::clone(tls),
            )));
        }
        o
    }

    /// Runs until stopped; returns the messages left in the outbox.
    pub(super) async fn run(mut self, mut volatile: mpsc::Receiver<Volatile>) -> u64 {
        let (client, events) = AsyncClient::new(self.options(), WINDOW * 2 + 16);
        let backoff = Backoff::new(self.settings.reconnect_min, self.settings.reconnect_max);
        let (report_tx, mut reports) = mpsc::channel(REPORTS);
        let driver = tokio::spawn(drive(events, report_tx, backoff, INFLIGHT));
        let mut heartbeat = tokio::time::interval(self.settings.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING);
        let mut last_expiry: Option<Instant> = None;
        let mut last_retry = Instant::now();
        let mut deadline: Option<tokio::time::Instant> = None;
        let endpoint = format!("{}:{}", self.settings.host, self.settings.port);
        loop {
            if let Some(d) = deadline {
                self.remove_acked().await;
                let empty = self.depth().await.0 == 0;
                if empty || tokio::time::Instant::now() >= d || !self.connected {
                    break;
                }
            }
            tokio::select! {
                report = reports.recv() => match report {
                    None => break,
                    Some(Report::Event(Event::Incoming(Packet::ConnAck(_)))) => {
                        self.connected = true;
                        self.outbox.figures.set_connected(true);
                        tracing::info!("connected to the MQTT broker {endpoint}");
                        self.publish_status(&client).await;
                        self.publish_alarm(&client).await;
                        self.fill(&client).await;
                    }
                    // QoS 0 publishes (snapshots) have no packet id and no acknowledgement.
                    Some(Report::Event(Event::Outgoing(Outgoing::Publish(pkid)))) if pkid != 0 => {
                        self.flight.written(pkid);
                    }
                    Some(Report::Event(Event::Incoming(Packet::PubAck(ack)))) => {
                        self.acknowledged(ack.pkid).await;
                        // Refilling costs an outbox read: wait until half the window is free.
                        if self.flight.outbox_inflight() <= WINDOW / 2 {
                            self.fill(&client).await;
                        }
                    }
                    Some(Report::Event(_)) => {}
                    Some(Report::Failed { error, retry_in, attempt }) => {
                        let was = std::mem::replace(&mut self.connected, false);
                        self.outbox.figures.set_connected(false);
                        self.flight.lost();
                        self.remove_acked().await;
                        if deadline.is_some() {
                            break;
                        }
                        let (depth, _) = self.depth().await;
                        let what = if was { "lost the connection to" } else { "cannot connect to" };
                        tracing::warn!(
                            "MQTT: {what} {endpoint}: {}; {depth} message(s) kept in the outbox; retry {attempt} in {:.1} s",
                            describe(&error),
                            retry_in.as_secs_f32()
                        );
                    }
                },
                _ = self.stored.notified() => self.fill(&client).await,
                Some(v) = volatile.recv() => {
                    if self.connected
                        && let Err(e) = client.try_publish(v.topic, QoS::AtMostOnce, false, v.payload)
                    {
                        tracing::debug!("a snapshot was not published: {e}");
                    }
                }
                _ = heartbeat.tick() => self.publish_status(&client).await,
                // A reload's outcome is published at once.
                Ok(()) = self.config.changed() => self.publish_status(&client).await,
                _ = housekeeping.tick() => {
                    let fail = self
                        .outbox
                        .fail
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .take();
                    if let Some(why) = fail {
                        panic!("{why}");
                    }
                    self.remove_acked().await;
                    if last_expiry.is_none_or(|t| t.elapsed() >= EXPIRY) {
                        last_expiry = Some(Instant::now());
                        self.expire().await;
                    }
                    self.publish_alarm(&client).await;
                    // A publish deferred by a full request queue is retried here at the latest.
                    if self.flight.outbox_inflight() == 0 && last_retry.elapsed() >= RETRY {
                        last_retry = Instant::now();
                        self.fill(&client).await;
                    }
                }
                r = self.stop.changed(), if deadline.is_none() => {
                    let grace = if r.is_ok() { *self.stop.borrow() } else { None };
                    deadline = Some(tokio::time::Instant::now() + grace.unwrap_or_default());
                    self.fill(&client).await;
                }
            }
        }
        self.remove_acked().await;
        if self.connected {
            self.goodbye(&client, &mut reports).await;
        }
        driver.abort();
        self.outbox.figures.set_connected(false);
        self.depth().await.0
    }

    /// Publishes stored messages until the window is full.
    async fn fill(&mut self, client: &AsyncClient) {
        while self.connected && self.flight.outbox_inflight() < WINDOW {
            let after = self.flight.last_sent();
            let want = WINDOW - self.flight.outbox_inflight();
            let batch = match with_outbox(&self.outbox, move |o| o.pending(after, want)).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("cannot read the outbox: {e}");
                    return;
                }
            };
            if batch.is_empty() {
                return;
            }
            for s in batch {
                if s.message.topic.is_empty() {
                    // A record that cannot be decoded cannot be sent: it is removed.
                    tracing::error!("outbox message {} is unreadable; removed", s.seq);
                    self.flight.unreadable(s.seq);
                } else if let Err(e) =
                    client.try_publish(s.message.topic, QoS::AtLeastOnce, false, s.message.payload)
                {
                    tracing::debug!("publish deferred: {e}");
                    return;
                } else {
                    self.flight.published(Sent::Outbox(s.seq));
                }
            }
        }
    }

    async fn acknowledged(&mut self, pkid: u16) {
        match self.flight.acknowledged(pkid) {
            Some(Sent::Outbox(seq)) => {
                self.outbox.figures.delivered();
                self.outbox.origins.delivered(seq);
                if self.flight.acked() >= ACK_BATCH {
                    self.remove_acked().await;
                }
            }
            Some(Sent::Alarm(d)) => {
                self.alarm = None;
                if let Err(e) = with_outbox(&self.outbox, move |o| o.reported(d)).await {
                    tracing::error!("cannot record the alarm as sent: {e}");
                }
            }
            Some(Sent::Status) | None => {}
        }
    }

    /// Removes the acknowledged messages from the outbox.
    async fn remove_acked(&mut self) {
        if self.flight.acked() == 0 {
            return;
        }
        let seqs = self.flight.take_acked();
        if let Err(e) = with_outbox(&self.outbox, move |o| o.ack(&seqs)).await {
            // They stay in the outbox and are sent again after a reconnect: duplicates, not
            // losses (the IOC drops them by id).
            tracing::error!("cannot remove delivered messages from the outbox: {e}");
        }
    }

    async fn expire(&mut self) {
        let now = ms_since_epoch(SystemTime::now());
        let result = with_outbox(&self.outbox, move |o| o.expire(now)).await;
        if let Ok(d) = &result {
            self.outbox.figures.dropped(*d);
        }
        match result {
            Ok(d) if !d.is_empty() => tracing::warn!(
                "outbox: dropped {} event and {} statistics message(s) older than mqtt.outbox.max_age_h (an alarm follows)",
                d.events,
                d.stats
            ),
            Ok(_) => {}
            Err(e) => tracing::error!("cannot drop expired outbox messages: {e}"),
        }
    }

    /// Messages and bytes in the outbox.
    async fn depth(&self) -> (u64, u64) {
        with_outbox(&self.outbox, |o| (o.len(), o.bytes())).await
    }

    /// Publishes the retained heartbeat.
    async fn publish_status(&mut self, client: &AsyncClient) {
        if !self.connected {
            return;
        }
        let (depth, bytes, drops) = with_outbox(&self.outbox, |o| {
            (o.len(), o.bytes(), o.unreported_drops().unwrap_or_default())
        })
        .await;
        let now = ms_since_epoch(SystemTime::now());
        let id = self.ids.next(now);
        let health = self.health.borrow().clone();
        let config = self.config.borrow_and_update().clone();
        let s = &self.settings;
        let mut status = Status::online(
            &id,
            &s.site,
            &s.device,
            now,
            self.started.elapsed().as_secs(),
            &health,
            OutboxHealth {
                depth,
                bytes,
                dropped_events: drops.events,
                dropped_stats: drops.stats,
            },
        );
        status.config = config.as_ref();
        status.clock = crate::clock::probe();
        publish(
            &mut self.flight,
            client,
            s.topics.status(),
            true,
            &status,
            Sent::Status,
        );
    }

    /// Publishes the drop alarm if the outbox dropped messages that were not reported yet.
    async fn publish_alarm(&mut self, client: &AsyncClient) {
        if !self.connected || self.flight.alarm_inflight() {
            return;
        }
        let pending = match self.alarm.clone() {
            Some(p) => p,
            None => {
                let drops = match with_outbox(&self.outbox, |o| o.unreported_drops()).await {
                    Ok(d) if !d.is_empty() => d,
                    _ => return,
                };
                let time_ms = ms_since_epoch(SystemTime::now());
                let p = PendingAlarm {
                    id: self.ids.next(time_ms),
                    time_ms,
                    drops,
                };
                self.alarm = Some(p.clone());
                p
            }
        };
        let (drops, s) = (pending.drops, &self.settings);
        let alarm = Alarm::overflow(&pending.id, &s.site, &s.device, pending.time_ms, drops);
        tracing::warn!(
            "outbox: publishing the alarm for {} event and {} statistics message(s) dropped by its size or age bound",
            drops.events,
            drops.stats
        );
        let topic = s.topics.alarms();
        publish(
            &mut self.flight,
            client,
            topic,
            false,
            &alarm,
            Sent::Alarm(drops),
        );
    }
}

/// Publishes `body` with QoS 1 and notes what it was; false if it could not be queued.
fn publish<T: serde::Serialize>(
    flight: &mut Flight,
    client: &AsyncClient,
    topic: String,
    retain: bool,
    body: &T,
    sent: Sent,
) -> bool {
    let Ok(payload) = serde_json::to_vec(body) else {
        return false;
    };
    match client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
        Ok(()) => {
            flight.published(sent);
            true
        }
        Err(e) => {
            tracing::debug!("status not published: {e}");
            false
        }
    }
}

impl Session {
    /// The clean stop: the retained `offline` status, then DISCONNECT (so the broker drops the
    /// Last Will).
    async fn goodbye(&mut self, client: &AsyncClient, reports: &mut mpsc::Receiver<Report>) {
        let now = ms_since_epoch(SystemTime::now());
        let id = self.ids.next(now);
        let s = &self.settings;
        let status = Status::stopped(&id, &s.site, &s.device, now);
        let topic = s.topics.status();
        publish(&mut self.flight, client, topic, true, &status, Sent::Status);
        if client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match reports.recv().await {
                    Some(Report::Event(Event::Outgoing(Outgoing::Disconnect)))
                    | Some(Report::Failed { .. })
                    | None => break,
                    Some(Report::Event(_)) => {}
                }
            }
        })
        .await;
    }
}
