//! ByteTrack-class multi-object tracker. Pure: detections and their stream time in, tracks out.
//!
//! Each frame: predict every track to the frame's time; match high-score detections to tracked and
//! lost tracks (Hungarian on 1 − IoU, same class only); match low-score detections to the tracked
//! ones still unmatched; confirm tentative tracks after `min_hits` consecutive matches; start tracks
//! from unmatched confident detections; forget lost tracks after `lost_timeout_s`.

use std::sync::Arc;
use std::time::Duration;

use super::TrackerParams;
use super::assign::assign;
use super::kalman::Kalman;
use crate::types::{BBox, Detection, Track};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Seen, not yet confirmed.
    Tentative,
    /// Confirmed and seen on the last frame it was matched.
    Tracked,
    /// Confirmed, missed since `last_seen`.
    Lost,
}

#[derive(Debug, Clone)]
struct Tracklet {
    id: u64,
    class_id: u16,
    label: Arc<str>,
    kf: Kalman,
    score: f32,
    phase: Phase,
    hits: u32,
    first_seen: Duration,
    last_seen: Duration,
}

/// The tracker of one camera.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackerParams,
    tracks: Vec<Tracklet>,
    next_id: u64,
    last_time: Option<Duration>,
}

impl Tracker {
    /// A tracker with no tracks; ids start at 1.
    pub fn new(params: TrackerParams) -> Tracker {
        Tracker {
            params,
            tracks: Vec::new(),
            next_id: 1,
            last_time: None,
        }
    }

    /// Forgets every track (ids keep counting up, so an id is never reused).
    pub fn reset(&mut self) {
        self.tracks.clear();
        self.last_time = None;
    }

    /// Number of tracks held, in any phase.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether no track is held.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// Feeds the detections of the frame at stream time `time`; returns the confirmed tracks seen on
    /// this frame, by id. Time going backwards (a stream restart or a loop) starts afresh.
    pub fn update(&mut self, time: Duration, dets: &[Detection]) -> Vec<Track> {
        if self.last_time.is_some_and(|t| time < t) {
            self.reset();
        }
        let dt = self.last_time.map_or(0.0, |t| (time - t).as_secs_f32());
        self.last_time = Some(time);
        for t in &mut self.tracks {
            if t.phase != Phase::Tracked {
                t.kf.freeze_height();
            }
            t.kf.predict(dt);
        }
        let p = self.params.clone();
        let (high, low): (Vec<&Detection>, Vec<&Detection>) = dets
            .iter()
            .filter(|d| d.score >= p.low_threshold)
            .partition(|d| d.score >= p.high_threshold);

        // 1. High-score detections against confirmed tracks, tracked or lost.
        let confirmed: Vec<usize> = self.indices(|ph| ph != Phase::Tentative);
        let (m1, left_tracks, left_high) = self.associate(&confirmed, &high, p.match_iou);
        for (ti, di) in m1 {
            self.hit(ti, high[di], time);
        }
        // 2. Low-score detections against the tracks that were tracked and are still unmatched.
        let still_tracked: Vec<usize> = left_tracks
            .into_iter()
            .filter(|&i| self.tracks[i].phase == Phase::Tracked)
            .collect();
        let (m2, unmatched, _) = self.associate(&still_tracked, &low, p.low_match_iou);
        for (ti, di) in m2 {
            self.hit(ti, low[di], time);
        }
        for i in unmatched {
            self.tracks[i].phase = Phase::Lost;
        }
        // 3. Remaining high-score detections against tentative tracks; a miss ends a tentative track.
        let tentative: Vec<usize> = self.indices(|ph| ph == Phase::Tentative);
        let high_left: Vec<&Detection> = left_high.iter().map(|&i| high[i]).collect();
        let (m3, dead, new_dets) = self.associate(&tentative, &high_left, p.match_iou);
        for (ti, di) in m3 {
            self.hit(ti, high_left[di], time);
        }
        let dead: Vec<u64> = dead.iter().map(|&i| self.tracks[i].id).collect();
        self.tracks.retain(|t| !dead.contains(&t.id));
        // 4. New tracks from confident detections nobody claimed.
        for di in new_dets {
            let d = high_left[di];
            if d.score >= p.new_track_threshold {
                self.start(d, time);
            }
        }
        // 5. Lost tracks wait `lost_timeout_s`, then go.
        let timeout =
            Duration::try_from_secs_f32(p.lost_timeout_s.max(0.0)).unwrap_or(Duration::MAX);
        self.tracks
            .retain(|t| t.phase != Phase::Lost || time.saturating_sub(t.last_seen) <= timeout);

        let mut out: Vec<Track> = self
            .tracks
            .iter()
            .filter(|t| t.phase == Phase::Tracked && t.last_seen == time)
            .map(|t| Track {
                id: t.id,
                class_id: t.class_id,
                label: Arc::clone(&t.label),
                bbox: t.kf.bbox(),
                score: t.score,
                velocity: t.kf.velocity(),
                first_seen: t.first_seen,
                hits: t.hits,
            })
            .collect();
        out.sort_by_key(|t| t.id);
        out
    }

    fn indices(&self, keep: impl Fn(Phase) -> bool) -> Vec<usize> {
        (0..self.tracks.len())
            .filter(|&i| keep(self.tracks[i].phase))
            .collect()
    }

    /// Matches `tracks` (indices) with `dets` at IoU ≥ `min_iou`, same class only. Returns the
    /// matched (track index, detection index) pairs, the unmatched track indices and the
    /// unmatched detection indices.
    fn associate(
        &self,
        tracks: &[usize],
        dets: &[&Detection],
        min_iou: f32,
    ) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
        let predicted: Vec<BBox> = tracks.iter().map(|&i| self.tracks[i].kf.bbox()).collect();
        let mut cost = Vec::with_capacity(tracks.len() * dets.len());
        for (k, &ti) in tracks.iter().enumerate() {
            for d in dets {
                cost.push(if d.class_id == self.tracks[ti].class_id {
                    1.0 - predicted[k].iou(&d.bbox)
                } else {
                    f32::INFINITY
                });
            }
        }
        let a = assign(&cost, tracks.len(), dets.len(), 1.0 - min_iou);
        (
            a.matches.iter().map(|&(r, c)| (tracks[r], c)).collect(),
            a.unmatched_rows.iter().map(|&r| tracks[r]).collect(),
            a.unmatched_cols,
        )
    }

    fn hit(&mut self, i: usize, d: &Detection, time: Duration) {
        let min_hits = self.params.min_hits;
        let t = &mut self.tracks[i];
        t.kf.update(&d.bbox);
        t.score = d.score;
        t.last_seen = time;
        t.hits += 1;
        t.phase = match t.phase {
            Phase::Tentative if t.hits < min_hits => Phase::Tentative,
            _ => Phase::Tracked,
        };
    }

    fn start(&mut self, d: &Detection, time: Duration) {
        let phase = if self.params.min_hits <= 1 {
            Phase::Tracked
        } else {
            Phase::Tentative
        };
        self.tracks.push(Tracklet {
            id: self.next_id,
            class_id: d.class_id,
            label: Arc::clone(&d.label),
            kf: Kalman::new(&d.bbox),
            score: d.score,
            phase,
            hits: 1,
            first_seen: time,
            last_seen: time,
        });
        self.next_id += 1;
    }
}
