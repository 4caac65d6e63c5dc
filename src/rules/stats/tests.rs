//! Interval statistics on a synthetic clock.

use super::*;

/// 2026-11-24T15:29:55Z: five seconds before a minute boundary.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_534_195)
}

fn at(secs: f32) -> SystemTime {
    t0() + Duration::from_secs_f32(secs)
}

fn acc() -> StatsAccumulator {
    StatsAccumulator::new(
        "cam-1",
        60,
        vec![
            LineKey {
                line: "stop-n".into(),
                lane: Some("n1".into()),
                direction: "southbound".into(),
            },
            LineKey {
                line: "stop-n".into(),
                lane: Some("n1".into()),
                direction: "northbound".into(),
            },
        ],
        vec!["crossing".into()],
        vec![("q-n1".into(), Some("n1".into()))],
    )
}

/// Feeds 10 frames a second from `from` to `to` (seconds after t0), calling `each` on every frame
/// with its time and weight; returns the reports closed on the way.
fn run(
    s: &mut StatsAccumulator,
    from: f32,
    to: f32,
    mut each: impl FnMut(&mut StatsAccumulator, f32, Duration),
) -> Vec<IntervalStats> {
    let mut out = Vec::new();
    let mut i = (from * 10.0).round() as u32;
    while (i as f32) / 10.0 < to {
        let t = i as f32 / 10.0;
        out.extend(s.roll(at(t)));
        let dt = s.frame(at(t));
        each(s, t, dt);
        i += 1;
    }
    out
}

#[test]
fn intervals_are_aligned_to_the_minute_and_the_first_is_partial() {
    let mut s = acc();
    let reports = run(&mut s, 0.0, 66.0, |_, _, _| {});
    assert_eq!(reports.len(), 2, "{reports:?}");
    let (first, second) = (&reports[0], &reports[1]);
    let ms = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .expect("after epoch")
            .as_millis()
    };
    assert_eq!(ms(first.end), 1_795_534_200_000);
    assert_eq!(ms(first.start), 1_795_534_140_000);
    assert_eq!(ms(second.start), 1_795_534_200_000);
    assert!(
        (first.coverage_pct - 8.17).abs() < 0.3,
        "{}",
        first.coverage_pct
    );
    assert!(second.coverage_pct > 99.5, "{}", second.coverage_pct);
    assert_eq!(first.frames, 50);
    assert_eq!(second.frames, 600);
    // Every configured line direction is reported, with zero volume.
    assert_eq!(second.lines.len(), 2);
    assert!(
        second
            .lines
            .iter()
            .all(|l| l.volume == 0 && l.by_class.is_empty())
    );
}

#[test]
fn volumes_occupancy_dwell_and_queues() {
    let mut s = acc();
    let reports = run(&mut s, 5.0, 66.0, |s, t, dt| {
        // 3 cars and a bus southbound, one car northbound, in the minute starting at t = 5.
        if [10.0, 20.0, 30.0].contains(&t) {
            s.crossing(0, "car", Some(40.0 + t));
        }
        if t == 40.0 {
            s.crossing(0, "bus", None);
            s.crossing(1, "car", Some(35.0));
        }
        // Two people in the crossing for the first 15 s of the minute, nobody after.
        let inside = if t < 20.0 { 2 } else { 0 };
        s.zone_sample(0, inside, dt);
        if t == 5.0 {
            s.zone_enter(0);
            s.zone_enter(0);
            s.zone_speed(0, 1, 4.0);
            s.zone_speed(0, 1, 6.0);
            s.zone_speed(0, 2, 3.0);
        }
        if t == 20.0 {
            s.zone_exit(0, Duration::from_secs(15));
            s.zone_exit(0, Duration::from_secs(9));
        }
        // A queue of 4 vehicles (24 m) for the second half.
        let q = if t >= 35.0 {
            QueueState {
                vehicles: 4,
                length_m: Some(24.0),
            }
        } else {
            QueueState::default()
        };
        s.queue_sample(0, q, dt);
    });
    let r = &reports[0];
    let south = &r.lines[0];
    assert_eq!(south.direction, "southbound");
    assert_eq!(south.volume, 4);
    assert_eq!(south.by_class.get("car"), Some(&3));
    assert_eq!(south.by_class.get("bus"), Some(&1));
    assert_eq!(south.flow_rate_vph, 240.0);
    assert_eq!(south.mean_speed_kmh, Some(60.0), "measured crossings only");
    assert_eq!(r.lines[1].volume, 1);
    let z = &r.zones[0];
    assert!((z.occupancy_pct - 25.0).abs() < 0.5, "{z:?}");
    assert!((z.mean_count - 0.5).abs() < 0.02, "{z:?}");
    assert_eq!((z.max_count, z.entries, z.exits), (2, 2, 2));
    assert_eq!((z.mean_dwell_s, z.max_dwell_s), (Some(12.0), Some(15.0)));
    assert_eq!(z.mean_speed_kmh, Some(4.0), "per-track means 5 and 3");
    let q = &r.queues[0];
    assert_eq!((q.max_vehicles, q.max_length_m), (4, Some(24.0)));
    assert!((q.mean_vehicles - 2.0).abs() < 0.05, "{q:?}");
    // The next minute starts empty.
    assert_eq!(reports.len(), 1);
    let next = s.flush().expect("the minute in progress");
    assert_eq!(next.frames, 10);
    assert!(
        next.lines
            .iter()
            .all(|l| l.volume == 0 && l.mean_speed_kmh.is_none())
    );
    assert_eq!((next.zones[0].entries, next.zones[0].max_count), (0, 0));
    assert_eq!(next.queues[0].max_vehicles, 4, "the queue still stands");
}

#[test]
fn a_camera_gap_shows_in_the_coverage_and_a_timer_closes_intervals() {
    let mut s = acc();
    // Frames for the first 20 s of the minute, then nothing: the timer closes the minute.
    let mut reports = run(&mut s, 5.0, 25.0, |_, _, _| {});
    reports.extend(s.roll(at(65.0)));
    assert_eq!(reports.len(), 1);
    assert!(
        (reports[0].coverage_pct - 33.2).abs() < 0.3,
        "{}",
        reports[0].coverage_pct
    );
    // A minute without frames is still reported.
    let empty = s.roll(at(125.0)).expect("report");
    assert_eq!((empty.frames, empty.coverage_pct), (0, 0.0));
    // On shutdown the interval in progress is reported as it stands, once.
    run(&mut s, 130.0, 140.0, |_, _, _| {});
    let part = s.flush().expect("partial interval");
    assert_eq!(part.frames, 100);
    assert!(
        (part.coverage_pct - 16.5).abs() < 0.3,
        "{}",
        part.coverage_pct
    );
    assert!(s.flush().is_none());
    // Statistics off.
    let mut off = StatsAccumulator::new("c", 0, vec![], vec![], vec![]);
    assert!(off.roll(at(0.0)).is_none() && off.roll(at(1000.0)).is_none());
    let json = serde_json::to_value(&empty).expect("json");
    assert_eq!(json["start_ms"], 1_795_534_260_000u64);
    assert_eq!(json["zones"][0]["occupancy_pct"], 0.0);
}
