//! Whether the box's clock is synchronised: the kernel's own view (adjtimex), whichever daemon
//! keeps it (chrony, ntpd, systemd-timesyncd). Events used as evidence need a trustworthy time, so
//! the heartbeat and `roadeye check` say it.

use crate::publish::ClockHealth;

/// The clock's synchronisation as the kernel tells it; `None` where it cannot be read.
pub fn probe() -> Option<ClockHealth> {
    // SAFETY: `adjtimex` with `modes` 0 only reads the kernel's timekeeping state into the
    // `timex` we own, which is plain data (all-zero is a valid value of it).
    let (state, tx) = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut tx);
        (state, tx)
    };
    (state >= 0).then(|| from_kernel(state, tx.status, tx.esterror, tx.maxerror))
}

/// The reading of an `adjtimex` answer: its clock state, status bits and error estimates (µs).
pub fn from_kernel(state: i32, status: i32, esterror_us: i64, maxerror_us: i64) -> ClockHealth {
    let synced = state != libc::TIME_ERROR && status & libc::STA_UNSYNC == 0;
    let ms = |us: i64| (us as f64 / 100.0).round() / 10.0;
    ClockHealth {
        synced,
        est_error_ms: synced.then(|| ms(esterror_us)),
        max_error_ms: synced.then(|| ms(maxerror_us)),
    }
}

/// One line on the clock, for people.
pub fn describe(clock: Option<&ClockHealth>) -> String {
    match clock {
        Some(ClockHealth {
            synced: true,
            est_error_ms,
            max_error_ms,
        }) => format!(
            "clock: synchronised (estimated error {} ms, at most {} ms)",
            est_error_ms.unwrap_or(0.0),
            max_error_ms.unwrap_or(0.0)
        ),
        Some(_) => "clock: NOT synchronised: event times are only as good as the box's own clock; \
                    enable time synchronisation (chrony or systemd-timesyncd) and check the box \
                    reaches its NTP server"
            .into(),
        None => "clock: synchronisation unknown (the kernel did not tell)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_state_reads_as_synchronised_or_not() {
        let ok = from_kernel(libc::TIME_OK, 0, 1_234, 56_789);
        assert_eq!(
            ok,
            ClockHealth {
                synced: true,
                est_error_ms: Some(1.2),
                max_error_ms: Some(56.8),
            }
        );
        assert!(describe(Some(&ok)).contains("synchronised (estimated error 1.2 ms"));
        for (state, status) in [(libc::TIME_ERROR, 0), (libc::TIME_OK, libc::STA_UNSYNC)] {
            let c = from_kernel(state, status, 16_000_000, 16_000_000);
            assert!(!c.synced && c.est_error_ms.is_none(), "{c:?}");
            assert!(describe(Some(&c)).contains("NOT synchronised"));
        }
    }

    #[test]
    fn this_box_answers() {
        // Whatever the machine's state, the kernel answers.
        assert!(probe().is_some());
    }
}
