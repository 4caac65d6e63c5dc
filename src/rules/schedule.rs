//! Weekly time windows in the site's local time (`[site] timezone`), for rules that are armed only
//! at certain hours, e.g. intrusion into a depot at night.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A moment of the week in local time: what schedules are evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// Seconds since local midnight.
    pub secs: u32,
}

impl LocalTime {
    /// A local time; `weekday` 0 = Monday.
    pub const fn new(weekday: u8, hour: u32, minute: u32, second: u32) -> LocalTime {
        LocalTime {
            weekday: weekday % 7,
            secs: hour * 3600 + minute * 60 + second,
        }
    }

    /// The local time of `at` in `tz`.
    pub fn of(at: std::time::SystemTime, tz: &jiff::tz::TimeZone) -> LocalTime {
        let ts = jiff::Timestamp::try_from(at).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let dt = tz.to_datetime(ts);
        let clamp = |v: i8| u32::try_from(v).unwrap_or(0);
        LocalTime {
            weekday: u8::try_from(dt.weekday().to_monday_zero_offset()).unwrap_or(0),
            secs: clamp(dt.hour()) * 3600 + clamp(dt.minute()) * 60 + clamp(dt.second()),
        }
    }
}

/// A day of the week, written `mon` … `sun` (or in full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    #[serde(alias = "monday")]
    Mon,
    #[serde(alias = "tuesday")]
    Tue,
    #[serde(alias = "wednesday")]
    Wed,
    #[serde(alias = "thursday")]
    Thu,
    #[serde(alias = "friday")]
    Fri,
    #[serde(alias = "saturday")]
    Sat,
    #[serde(alias = "sunday")]
    Sun,
}

impl Day {
    fn index(self) -> u8 {
        self as u8
    }
}

/// A time of day written `HH:MM` or `HH:MM:SS`, from `00:00` to `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeOfDay(u32);

impl TimeOfDay {
    /// Seconds since midnight.
    pub fn secs(self) -> u32 {
        self.0
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a time of day: write HH:MM or HH:MM:SS, 00:00 to 24:00");
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let nums: Vec<u32> = parts
            .iter()
            .map(|p| p.parse::<u32>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let (h, m, sec) = (nums[0], nums[1], nums.get(2).copied().unwrap_or(0));
        let secs = h * 3600 + m * 60 + sec;
        if m > 59 || sec > 59 || secs > 24 * 3600 {
            return Err(bad());
        }
        Ok(TimeOfDay(secs))
    }
}

impl From<TimeOfDay> for String {
    fn from(t: TimeOfDay) -> String {
        t.to_string()
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

/// One weekly window: from `from` to `to` local time on each of `days`. A window whose `to` is
/// earlier than its `from` runs past midnight into the next day (`days` names the day it starts).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// The days the window starts on (empty: every day).
    #[serde(default)]
    pub days: Vec<Day>,
    /// Start, inclusive.
    pub from: TimeOfDay,
    /// End, exclusive.
    pub to: TimeOfDay,
}

impl TimeWindow {
    fn on(&self, weekday: u8) -> bool {
        self.days.is_empty() || self.days.iter().any(|d| d.index() == weekday)
    }

    /// Whether `t` falls in the window.
    pub fn contains(&self, t: LocalTime) -> bool {
        let (from, to) = (self.from.secs(), self.to.secs());
        if from < to {
            self.on(t.weekday) && (from..to).contains(&t.secs)
        } else {
            // Past midnight: the evening part today, the morning part on the day after a start day.
            (self.on(t.weekday) && t.secs >= from) || (self.on((t.weekday + 6) % 7) && t.secs < to)
        }
    }

    /// What is wrong with the window, if anything.
    pub fn problem(&self) -> Option<String> {
        (self.from == self.to).then(|| {
            format!(
                "from and to are both {}: an empty window (write from = \"00:00\", to = \"24:00\" for the whole day)",
                self.from
            )
        })
    }
}

/// Whether `t` is in any of `windows`; no windows means always.
pub fn active(windows: &[TimeWindow], t: LocalTime) -> bool {
    windows.is_empty() || windows.iter().any(|w| w.contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(text: &str) -> TimeWindow {
        toml::from_str(text).expect("window")
    }

    #[test]
    fn windows_by_day_and_across_midnight() {
        let night = window("from = \"22:00\"\nto = \"06:00\"\ndays = [\"fri\"]");
        let fri = 4;
        assert!(night.contains(LocalTime::new(fri, 22, 0, 0)));
        assert!(
            night.contains(LocalTime::new(fri + 1, 5, 59, 59)),
            "saturday morning"
        );
        assert!(!night.contains(LocalTime::new(fri + 1, 6, 0, 0)));
        assert!(
            !night.contains(LocalTime::new(fri, 5, 0, 0)),
            "friday morning belongs to thursday"
        );
        assert!(!night.contains(LocalTime::new(fri, 21, 59, 59)));
        let office = window("from = \"07:30\"\nto = \"17:00:30\"");
        assert!(office.contains(LocalTime::new(6, 7, 30, 0)));
        assert!(office.contains(LocalTime::new(6, 17, 0, 29)));
        assert!(!office.contains(LocalTime::new(6, 17, 0, 30)));
        let all_day = window("from = \"00:00\"\nto = \"24:00\"\ndays = [\"sunday\"]");
        assert!(all_day.contains(LocalTime::new(6, 23, 59, 59)));
        assert!(!all_day.contains(LocalTime::new(0, 0, 0, 0)));
        assert!(active(&[], LocalTime::new(2, 12, 0, 0)));
        assert!(
            window("from = \"08:00\"\nto = \"08:00\"")
                .problem()
                .is_some()
        );
    }

    #[test]
    fn bad_times_are_named() {
        for bad in ["8:00", "24:01", "12:60", "noon", "12:00:00:00"] {
            let err = toml::from_str::<TimeWindow>(&format!("from = \"{bad}\"\nto = \"10:00\""))
                .expect_err(bad)
                .to_string();
            assert!(
                err.contains(&format!("'{bad}' is not a time of day")),
                "{err}"
            );
        }
        assert!(
            toml::from_str::<TimeWindow>("from = \"08:00\"\nto = \"10:00\"\ndays = [\"funday\"]")
                .is_err()
        );
    }

    #[test]
    fn local_time_in_a_timezone() {
        let tz = jiff::tz::TimeZone::get("Asia/Ho_Chi_Minh").expect("bundled tzdb");
        // 2026-11-24T15:30:00Z is a Tuesday, 22:30 in Hanoi (UTC+7).
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_534_200);
        assert_eq!(LocalTime::of(at, &tz), LocalTime::new(1, 22, 30, 0));
        assert_eq!(
            LocalTime::of(at, &jiff::tz::TimeZone::UTC),
            LocalTime::new(1, 15, 30, 0)
        );
    }
}
