//! Capped exponential backoff: for reconnecting a camera or the broker, and restarting a stage.

use std::time::Duration;

/// Delays `initial, 2·initial, 4·initial, …` up to `max`; [`Backoff::reset`] once a stream is
/// healthy again.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over from `initial`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(4));
        let got: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(got, vec![500, 1000, 2000, 4000, 4000, 4000]);
        assert_eq!(b.attempts(), 6);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn survives_many_attempts_without_overflow() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        for _ in 0..1000 {
            b.next_delay();
        }
        assert_eq!(b.next_delay(), Duration::from_secs(8), "still the cap");
        assert_eq!(b.attempts(), 1001);
        // A cap below the first delay is raised to it.
        let mut c = Backoff::new(Duration::from_secs(3), Duration::from_secs(1));
        assert_eq!(
            (c.next_delay(), c.next_delay()),
            (Duration::from_secs(3), Duration::from_secs(3))
        );
    }
}
