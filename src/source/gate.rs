//! The analysis-rate policy: which frames of a stream are analysed (e.g. 5 of 25 fps), by PTS.

use std::time::Duration;

/// Lets through at most `fps` frames per second of stream time, keeping a steady cadence.
#[derive(Debug, Clone)]
pub struct RateGate {
    period: Option<Duration>,
    next_due: Option<Duration>,
}

impl RateGate {
    /// A gate for `fps` analysed frames per second; `None` (or 0) lets every frame through.
    pub fn new(fps: Option<f32>) -> RateGate {
        let period = fps
            .filter(|f| *f > 0.0 && f.is_finite())
            .and_then(|f| Duration::try_from_secs_f64(1.0 / f64::from(f)).ok());
        RateGate {
            period,
            next_due: None,
        }
    }

    /// Whether the frame at stream time `pts` is analysed.
    pub fn admit(&mut self, pts: Duration) -> bool {
        let Some(period) = self.period else {
            return true;
        };
        // A frame up to a tenth of a period early still counts (timestamp jitter); time going
        // backwards (a loop or a reconnect) restarts the cadence.
        let slack = period / 10;
        match self.next_due {
            Some(due) if pts + slack < due && pts + period >= due => false,
            Some(due) if pts + slack >= due => {
                self.next_due = Some((due + period).max(pts + period - slack));
                true
            }
            _ => {
                self.next_due = Some(pts + period);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn five_of_twenty_five() {
        let mut g = RateGate::new(Some(5.0));
        let admitted: Vec<u64> = (0..50)
            .map(|i| i * 40)
            .filter(|&t| g.admit(ms(t)))
            .collect();
        assert_eq!(
            admitted,
            vec![0, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 1800]
        );
    }

    #[test]
    fn jitter_does_not_drift_the_cadence() {
        let mut g = RateGate::new(Some(5.0));
        let times = [0, 41, 79, 121, 159, 199, 239, 281, 321, 361, 398, 441];
        let admitted: Vec<u64> = times.iter().copied().filter(|&t| g.admit(ms(t))).collect();
        assert_eq!(admitted, vec![0, 199, 398]);
    }

    #[test]
    fn no_limit_and_restarts() {
        let mut all = RateGate::new(None);
        assert!((0..10).all(|i| all.admit(ms(i))));
        let mut g = RateGate::new(Some(2.0));
        assert!(g.admit(ms(5000)));
        assert!(!g.admit(ms(5100)));
        // The stream restarted at 0.
        assert!(g.admit(ms(0)));
        assert!(!g.admit(ms(100)));
    }
}
