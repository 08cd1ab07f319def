//! When jobs are expected: times of day, quiet windows, the three kinds of schedule
//! (cyclic, daily, cron), the zone local times are read in, and where a local time lies on
//! the time line across DST changes.

mod cron;
mod place;
mod zone;

pub use cron::{CronExpr, CRON_EXPECTED};
pub use place::{place_local, Fire};
pub(crate) use zone::push_digits;
pub use zone::Zone;

use crate::de::StrVisitor;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A time of day, minute precision (`"02:30"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

pub const TIME_OF_DAY_EXPECTED: &str = "a time of day \"HH:MM\" (00:00 to 23:59)";

impl TimeOfDay {
    /// `"H:MM"`/`"HH:MM"`; a `":00"` seconds part is tolerated (the 2016 tool ignored it).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not HH:MM");
        let parts: Vec<&str> = s.trim().split(':').collect();
        let num = |p: &str| -> Option<u8> {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let (h, m) = match parts.as_slice() {
            [h, m] | [h, m, "00"] => (num(h).ok_or_else(bad)?, num(m).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if h > 23 || m > 59 || parts[1].len() != 2 {
            return Err(bad());
        }
        Ok(TimeOfDay { hour: h, minute: m })
    }

    pub fn minutes_since_midnight(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor {
            expected: TIME_OF_DAY_EXPECTED,
            parse: TimeOfDay::parse,
        })
    }
}

/// A daily window in which cyclic jobs do not alarm: `from` inclusive, `until` exclusive,
/// wrapping midnight when `from` is later than `until` (22:00–04:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietWindow {
    pub from: TimeOfDay,
    pub until: TimeOfDay,
}

impl QuietWindow {
    pub fn wraps_midnight(&self) -> bool {
        self.from > self.until
    }

    /// Whether a local time of day (minutes since midnight) lies in the window.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        let (from, until) = (
            self.from.minutes_since_midnight(),
            self.until.minutes_since_midnight(),
        );
        if from <= until {
            from <= minute_of_day && minute_of_day < until
        } else {
            minute_of_day >= from || minute_of_day < until
        }
    }
}

impl fmt::Display for QuietWindow {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}-{}", self.from, self.until)?;
        if self.wraps_midnight() {
            f.write_str(" (wraps midnight)")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Runs every `interval`.
    Cyclic { interval: Duration },
    /// Starts every day at `start` (local to the time zone), at the latest `start_max_delay` later.
    Daily {
        start: TimeOfDay,
        start_max_delay: Duration,
    },
    /// Starts whenever the cron expression fires, at the latest `start_max_delay` later.
    Cron {
        expression: CronExpr,
        start_max_delay: Duration,
    },
}

impl Schedule {
    /// When the next start is due after `now` (what the dashboard shows): a cyclic job one
    /// interval after its last start (now, if that is past or it never started), a daily or
    /// cron job at its next firing in `zone`.
    pub fn next_due(
        &self,
        zone: Zone,
        last_start: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Schedule::Cyclic { interval } => {
                let interval = chrono::TimeDelta::from_std(*interval).ok()?;
                Some(last_start.map_or(now, |s| (s + interval).max(now)))
            }
            Schedule::Daily { start, .. } => zone
                .next_fire(&CronExpr::daily(*start), now)
                .map(|f| f.earliest),
            Schedule::Cron { expression, .. } => {
                zone.next_fire(expression, now).map(|f| f.earliest)
            }
        }
    }
}

/// An IANA time zone name, checked against the tz database compiled in (chrono-tz).
pub fn parse_time_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("unknown time zone `{s}`"))
}

pub const TIME_ZONE_EXPECTED: &str = "an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"";

/// Helpers the schedule tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{NaiveDate, NaiveDateTime};

    /// A local minute, `at(2026, 3, 29, 2, 30)`.
    pub fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_due_times() {
        use chrono::TimeZone;
        let utc = |h, m| chrono::Utc.with_ymd_and_hms(2026, 7, 1, h, m, 0).unwrap();
        let zone = Zone::Named(chrono_tz::Europe::Berlin);
        let cyclic = Schedule::Cyclic {
            interval: Duration::from_secs(3600),
        };
        assert_eq!(
            cyclic.next_due(zone, Some(utc(10, 0)), utc(10, 20)),
            Some(utc(11, 0))
        );
        // Overdue: due now, not in the past.
        assert_eq!(
            cyclic.next_due(zone, Some(utc(8, 0)), utc(10, 20)),
            Some(utc(10, 20))
        );
        assert_eq!(cyclic.next_due(zone, None, utc(10, 20)), Some(utc(10, 20)));
        let daily = Schedule::Daily {
            start: TimeOfDay::parse("02:30").unwrap(),
            start_max_delay: Duration::from_secs(600),
        };
        // 02:30 in Berlin (CEST, UTC+2) is 00:30 UTC: the next one is tomorrow's.
        let next = daily.next_due(zone, None, utc(10, 0)).unwrap();
        assert_eq!(
            next,
            chrono::Utc.with_ymd_and_hms(2026, 7, 2, 0, 30, 0).unwrap()
        );
        let cron = Schedule::Cron {
            expression: CronExpr::parse("0 12 * * *").unwrap(),
            start_max_delay: Duration::from_secs(600),
        };
        assert_eq!(cron.next_due(zone, None, utc(9, 0)), Some(utc(10, 0)));
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("2:30").unwrap().to_string(), "02:30");
        assert_eq!(TimeOfDay::parse("04:00:00").unwrap().to_string(), "04:00");
        for bad in ["24:00", "12:60", "12:5", "noon", "12:00:30", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quiet_windows_with_and_without_midnight() {
        let w = |a, b| QuietWindow {
            from: TimeOfDay::parse(a).unwrap(),
            until: TimeOfDay::parse(b).unwrap(),
        };
        let night = w("22:00", "04:00");
        assert!(night.wraps_midnight());
        assert!(night.contains(23 * 60) && night.contains(0) && night.contains(3 * 60 + 59));
        assert!(!night.contains(4 * 60) && !night.contains(21 * 60 + 59));
        let early = w("00:00", "04:00");
        assert!(!early.wraps_midnight());
        assert!(early.contains(0) && !early.contains(4 * 60) && !early.contains(23 * 60));
    }
}
