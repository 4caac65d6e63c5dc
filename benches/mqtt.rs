//! Events through the durable outbox to a real Mosquitto on loopback, against a limit measured in
//! the same run: a plain rumqttc QoS 1 publisher (no outbox) with the same payloads, the same 64
//! messages in flight, the same broker and the same subscriber.
//!
//! - burst: N event messages (~350 bytes of JSON, a real line-crossing event plus a `seq`) sent as
//!   fast as the sender takes them, timed from the first send to the subscriber holding all N;
//!   medians of interleaved rounds. Prints outbox events/s, baseline events/s and their ratio, and
//!   when the outbox had stored the last message (is the writer or the session behind?).
//! - latency: 200 msg/s paced in interleaved one-second slices, from the send call to the receipt
//!   by an in-process subscriber; p50 and p99 of both paths and what the outbox adds (its fsync'd
//!   redb commit, the read back, the publish), split into send → stored and stored → received.
//! - the cost of one durable redb commit on this disk, the floor under the outbox's latency.
//! - delivery: every message must arrive, counted by `seq` (duplicates and reordering are
//!   reported); a missing message fails the bench. No timing is asserted.
//!
//! The outbox file is under the build's target folder (a real disk, not a tmpfs /tmp) and commits
//! with fsync, as the agent does. Needs `mosquitto` on the PATH (scripts/setup.sh installs it).
//!
//! Run: `cargo bench --bench mqtt` (bursts of 20000, about a minute), `cargo bench --bench mqtt --
//! --quick` (bursts of 2000, a few seconds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use roadeye::publish::{Encoder, Limits, Link, LinkSettings, Message, Outbox, Topics};
use roadeye::rules::{Event, EventKind, ObjectInfo};
use rumqttc::{AsyncClient, MqttOptions, QoS};

#[allow(dead_code)]
#[path = "../tests/common/mosquitto.rs"]
mod mosquitto;

#[path = "mqtt/inbox.rs"]
mod inbox;

use inbox::{Inbox, seq_of, subscribe};

const PREFIX: &str = "roadeye/v1";
const SITE: &str = "bench";
const DEVICE: &str = "bench-box";
/// Messages in flight (published, not yet acknowledged), as the link's session allows.
const WINDOW: u16 = 64;
/// The paced rate of the latency measurement, messages per second.
const RATE: f64 = 200.0;
/// One paced slice per path and round.
const SLICE: Duration = Duration::from_secs(1);
/// How long a measurement may wait for its last message before it counts as missing.
const PATIENCE: Duration = Duration::from_secs(60);
const MAX_PACKET: usize = 1024 * 1024;

/// `n` event messages on their own topic (the camera id is `run`), `"seq"` first in each payload
/// so the subscriber can match a receipt to its send.
fn messages(enc: &mut Encoder, run: &str, n: usize) -> Vec<Message> {
    (0..n)
        .map(|seq| {
            let e = Event {
                camera: run.into(),
                time: SystemTime::now(),
                pts: Duration::ZERO,
                rule: "north-stop-line".into(),
                kind: EventKind::LineCrossing {
                    direction: "eastbound".into(),
                    lane: Some("lane-2".into()),
                    speed_kmh: Some(31.5 + (seq % 17) as f32),
                },
                object: Some(ObjectInfo {
                    track_id: 10_000 + seq as u64,
                    class: "car".into(),
                    score: Some(0.8731),
                    bbox: Some([0.4123, 0.5512, 0.4987, 0.6234]),
                }),
                snapshot: None,
            };
            let mut m = enc.event(&e).expect("encode an event");
            let mut payload = format!("{{\"seq\":{seq},").into_bytes();
            payload.extend_from_slice(&m.payload[1..]);
            m.payload = payload;
            m
        })
        .collect()
}

/// The limit: rumqttc publishing QoS 1 straight from memory, `WINDOW` in flight.
fn plain_publisher(port: u16) -> AsyncClient {
    let mut o = MqttOptions::new("bench-plain", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_inflight(WINDOW)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET);
    // The same request queue as the link's session.
    let (client, mut events) = AsyncClient::new(o, usize::from(WINDOW) * 2 + 16);
    tokio::spawn(async move {
        loop {
            if let Err(e) = events.poll().await {
                eprintln!("plain publisher: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    client
}

/// When the outbox reported each message stored, by topic and `seq`.
type StoredAt = Arc<Mutex<HashMap<String, Vec<Option<Instant>>>>>;

fn outbox_link(port: u16, dir: &std::path::Path, stored: StoredAt) -> Link {
    let settings = LinkSettings {
        host: "127.0.0.1".into(),
        port,
        embedded: false,
        client_id: format!("{DEVICE}-outbox"),
        credentials: None,
        tls: None,
        keep_alive: Duration::from_secs(30),
        heartbeat: Duration::from_secs(60),
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_secs(1),
        topics: Topics::new(PREFIX, SITE, DEVICE),
        site: SITE.into(),
        device: DEVICE.into(),
        outbox_path: dir.join("outbox.redb"),
        limits: Limits {
            max_bytes: 256 * 1024 * 1024,
            max_age: Duration::from_secs(3600),
        },
    };
    Link::start(
        settings,
        Box::new(move |m: &Message| {
            let at = Instant::now();
            if let Some(seq) = seq_of(&m.payload) {
                let mut map = stored.lock().expect("stored");
                let v = map.entry(m.topic.clone()).or_default();
                let i = seq as usize;
                if v.len() <= i {
                    v.resize(i + 1, None);
                }
                v[i].get_or_insert(at);
            }
        }),
    )
    .expect("start the link")
}

/// The two ways a message reaches the broker.
enum Path {
    /// rumqttc from memory.
    Plain(AsyncClient),
    /// roadeye's link: outbox (fsync'd) first, then the session.
    Outbox(Link),
}

impl Path {
    async fn send(&self, m: Message) {
        match self {
            Path::Plain(c) => c
                .publish(m.topic, QoS::AtLeastOnce, false, m.payload)
                .await
                .expect("publish"),
            Path::Outbox(l) => assert!(l.send(vec![m]).await, "the link stopped"),
        }
    }
}

/// Sends all of `msgs` as fast as `path` takes them; returns when it started and when the
/// subscriber had each one.
async fn burst(path: &Path, inbox: &mut Inbox, msgs: Vec<Message>) -> (Instant, Vec<Instant>) {
    let (n, topic) = (msgs.len(), msgs[0].topic.clone());
    let start = Instant::now();
    for m in msgs {
        path.send(m).await;
    }
    (start, inbox.all(&topic, n).await)
}

/// Sends `msgs` at [`RATE`]; returns when each was sent and when each arrived.
async fn paced(path: &Path, inbox: &mut Inbox, msgs: Vec<Message>) -> (Vec<Instant>, Vec<Instant>) {
    let (n, topic) = (msgs.len(), msgs[0].topic.clone());
    let period = Duration::from_secs_f64(1.0 / RATE);
    let start = tokio::time::Instant::now();
    let mut sent = Vec::with_capacity(n);
    for (i, m) in msgs.into_iter().enumerate() {
        tokio::time::sleep_until(start + period.mul_f64(i as f64)).await;
        sent.push(Instant::now());
        path.send(m).await;
    }
    (sent, inbox.all(&topic, n).await)
}

fn ms(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64() * 1e3
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The `p`-quantile (0..=1) of `v`, nearest rank.
fn quantile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Milliseconds per durable redb commit on the outbox's disk: appending `batch` messages, then
/// removing them (what the session does on acknowledgements).
fn commit_ms(dir: &std::path::Path, enc: &mut Encoder, batch: usize, rounds: usize) -> (f64, f64) {
    let limits = Limits {
        max_bytes: 256 * 1024 * 1024,
        max_age: Duration::from_secs(3600),
    };
    let file = dir.join(format!("probe-{batch}.redb"));
    let mut outbox = Outbox::open(&file, limits).expect("probe outbox");
    let msgs = messages(enc, "probe", batch);
    let (mut append, mut remove) = (Vec::new(), Vec::new());
    // The first commits grow the new file: not counted.
    for _ in 0..5 {
        let (seqs, _) = outbox.append(&msgs).expect("append");
        outbox.ack(&seqs).expect("ack");
    }
    for _ in 0..rounds {
        let t = Instant::now();
        let (seqs, _) = outbox.append(&msgs).expect("append");
        append.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        outbox.ack(&seqs).expect("ack");
        remove.push(t.elapsed().as_secs_f64() * 1e3);
    }
    (median(&mut append), median(&mut remove))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let (n, rounds, slices) = if quick { (2_000, 1, 2) } else { (20_000, 3, 5) };
    let per_slice = (RATE * SLICE.as_secs_f64()) as usize;

    // The outbox on the disk the project builds on, so fsync means what it does on a box.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary folder");
    let broker = mosquitto::Mosquitto::start(dir.path(), "");
    let mut enc = Encoder::new(PREFIX, SITE, DEVICE);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut inbox = subscribe(broker.port).await;
        let plain = Path::Plain(plain_publisher(broker.port));
        let stored: StoredAt = Arc::default();
        let outbox = Path::Outbox(outbox_link(
            broker.port,
            dir.path(),
            Arc::clone(&stored),
        ));
        let paths = [("plain", &plain), ("outbox", &outbox)];

        // Warm-up: both connected, the broker and the outbox file past their first writes.
        for (name, path) in paths {
            let msgs = messages(&mut enc, &format!("warmup-{name}"), 500);
            burst(path, &mut inbox, msgs).await;
        }

        // Bursts, interleaved; the order alternates so a slow spell hits both alike.
        let (mut plain_rate, mut outbox_rate) = (Vec::new(), Vec::new());
        let (mut all_stored_s, mut all_received_s) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (name, path) = paths[k];
                let run = format!("burst-{name}-{r}");
                let msgs = messages(&mut enc, &run, n);
                let topic = msgs[0].topic.clone();
                let (start, arrived) = burst(path, &mut inbox, msgs).await;
                let last = arrived.iter().max().copied().unwrap_or(start);
                let secs = last.saturating_duration_since(start).as_secs_f64();
                if k == 0 {
                    plain_rate.push(n as f64 / secs);
                } else {
                    outbox_rate.push(n as f64 / secs);
                    let map = stored.lock().expect("stored");
                    let last_stored = map[&topic].iter().flatten().max().copied();
                    let last_stored = last_stored.unwrap_or(start);
                    all_stored_s.push(last_stored.saturating_duration_since(start).as_secs_f64());
                    all_received_s.push(secs);
                }
            }
        }

        // Paced latency, in one-second slices alternating between the two paths.
        let (mut plain_lat, mut outbox_lat) = (Vec::new(), Vec::new());
        let (mut to_stored, mut stored_to_received) = (Vec::new(), Vec::new());
        for s in 0..slices {
            let order = if s % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let (name, path) = paths[k];
                let run = format!("paced-{name}-{s}");
                let msgs = messages(&mut enc, &run, per_slice);
                let topic = msgs[0].topic.clone();
                let (sent, arrived) = paced(path, &mut inbox, msgs).await;
                let lat = sent.iter().zip(&arrived).map(|(s, a)| ms(*s, *a));
                if k == 0 {
                    plain_lat.extend(lat);
                } else {
                    outbox_lat.extend(lat);
                    let map = stored.lock().expect("stored");
                    for ((s, a), st) in sent.iter().zip(&arrived).zip(&map[&topic]) {
                        let st = st.expect("stored before it arrived");
                        to_stored.push(ms(*s, st));
                        stored_to_received.push(ms(st, *a));
                    }
                }
            }
        }

        let Path::Outbox(link) = outbox else {
            unreachable!()
        };
        let left = link.shutdown(Duration::from_secs(5)).await.expect("the link stopped cleanly");
        inbox.drain(Duration::from_millis(500)).await;

        // The floor under the outbox's latency, on the same disk, with the link stopped.
        let probe_rounds = if quick { 20 } else { 50 };
        let (append1, remove1) = commit_ms(dir.path(), &mut enc, 1, probe_rounds);
        let (append64, remove64) = commit_ms(dir.path(), &mut enc, 64, probe_rounds);

        // Report.
        let payload = messages(&mut enc, "size", 100)
            .iter()
            .map(|m| m.payload.len())
            .sum::<usize>()
            / 100;
        println!(
            "MQTT to Mosquitto on loopback, QoS 1, {WINDOW} in flight, {payload}-byte event payloads{}",
            if quick { ", quick" } else { "" }
        );
        println!(
            "  durable redb commit (fsync) on the outbox's disk: append 1 msg {append1:.2} ms, 64 msgs {append64:.2} ms; remove 1 {remove1:.2} ms, 64 {remove64:.2} ms (medians of {probe_rounds})"
        );
        let (pr, or) = (median(&mut plain_rate), median(&mut outbox_rate));
        println!("  burst of {n}, median of {rounds} round(s), first send → subscriber has all:");
        println!("    baseline (rumqttc from memory)   {pr:9.0} events/s");
        println!("    outbox (roadeye Link, fsync on)  {or:9.0} events/s");
        println!("    outbox / baseline = {:.3}", or / pr);
        println!(
            "    outbox: all stored after {:.3} s, all received after {:.3} s (medians)",
            median(&mut all_stored_s),
            median(&mut all_received_s)
        );
        let count = plain_lat.len();
        let (b50, b99) = (quantile(&mut plain_lat, 0.5), quantile(&mut plain_lat, 0.99));
        let (o50, o99) = (quantile(&mut outbox_lat, 0.5), quantile(&mut outbox_lat, 0.99));
        println!(
            "  latency at {RATE:.0} msg/s, send call → subscriber receipt, {count} messages per path ({slices} × {:.0} s):",
            SLICE.as_secs_f64()
        );
        println!("                              p50 ms    p99 ms");
        println!("    baseline               {b50:9.2} {b99:9.2}");
        println!("    outbox                 {o50:9.2} {o99:9.2}");
        println!("    added by the outbox    {:9.2} {:9.2}", o50 - b50, o99 - b99);
        println!(
            "      send → stored        {:9.2} {:9.2}",
            quantile(&mut to_stored, 0.5),
            quantile(&mut to_stored, 0.99)
        );
        println!(
            "      stored → received    {:9.2} {:9.2}",
            quantile(&mut stored_to_received, 0.5),
            quantile(&mut stored_to_received, 0.99)
        );

        // Delivery: `all` has already failed the run if a message was missing.
        let (mut total, mut dups, mut reordered) = (0, 0, 0);
        for a in inbox.topics.values() {
            total += a.distinct;
            dups += a.duplicates;
            reordered += a.out_of_order;
        }
        println!(
            "  delivery: all {total} messages of {} runs arrived; {dups} duplicate(s); {}",
            inbox.topics.len(),
            if reordered == 0 {
                "in order".to_string()
            } else {
                format!("{reordered} OUT OF ORDER")
            }
        );
        println!("  outbox after shutdown: {left} message(s) left");
    });
    // The clients go before the broker does.
    drop(runtime);
    drop(broker);
}
