//! Five-field cron expressions (`minute hour day-of-month month day-of-week`) for jobs whose
//! start times are not one fixed time every day, e.g. `30 2 * * 1-5` (02:30 on weekdays).
//! Parsed into bit sets once, so the rule engine only tests membership and walks days.
//!
//! Firings are local wall-clock minutes; where they lie on the time line is
//! [`super::place`]'s business.

use super::TimeOfDay;
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use std::fmt;

pub const CRON_EXPECTED: &str =
    "a cron expression with five fields \"minute hour day-of-month month day-of-week\", e.g. \"30 2 * * 1-5\"";

/// A parsed cron expression. Semantics as in Vixie cron: when both day-of-month and
/// day-of-week are restricted (neither starts with `*`), a day matches if either does;
/// otherwise it must match both (so `*/2` in day-of-month still means every other day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    text: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    dom_restricted: bool,
    dow_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl CronExpr {
    pub fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "`{text}` has {} fields, a cron expression has 5",
                fields.len()
            ));
        }
        let field = |i: usize, name: &str, min: u32, max: u32, names: &[&str]| {
            parse_field(fields[i], min, max, names)
                .map_err(|e| format!("`{text}`: {name} field `{}`: {e}", fields[i]))
        };
        let minutes = field(0, "minute", 0, 59, &[])?;
        let hours = field(1, "hour", 0, 23, &[])?;
        let dom = field(2, "day-of-month", 1, 31, &[])?;
        let months = field(3, "month", 1, 12, &MONTHS)?;
        // 7 is Sunday too; fold it onto 0.
        let dow = field(4, "day-of-week", 0, 7, &DAYS)?;
        let dow = (dow | (dow >> 7)) & 0x7f;
        let dom_restricted = !fields[2].starts_with('*');
        let dow_restricted = !fields[4].starts_with('*');
        // With the day of week unrestricted, a day of month no month has (Feb 30, Apr 31)
        // would make a job that is never due and never late: refuse it.
        let some_day_exists = (1..=12u32).any(|m| {
            let days_in_month = match m {
                2 => 29,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            months & (1 << m) != 0 && (dom >> 1) & ((1u64 << days_in_month) - 1) != 0
        });
        let day_of_month_required = !(dom_restricted && dow_restricted);
        if day_of_month_required && !some_day_exists {
            return Err(format!(
                "`{text}` never fires: no selected month has the selected days of month"
            ));
        }
        Ok(CronExpr {
            text: fields.join(" "),
            minutes,
            hours: hours as u32,
            days_of_month: (dom >> 1) as u32,
            months: (months >> 1) as u16,
            days_of_week: dow as u8,
            dom_restricted,
            dow_restricted,
        })
    }

    /// Every day at `at`: the expression `M H * * *`, built directly.
    pub fn daily(at: TimeOfDay) -> Self {
        CronExpr {
            text: format!("{} {} * * *", at.minute, at.hour),
            minutes: 1 << at.minute,
            hours: 1 << at.hour,
            days_of_month: (1 << 31) - 1,
            months: (1 << 12) - 1,
            days_of_week: (1 << 7) - 1,
            dom_restricted: false,
            dow_restricted: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the expression fires at this (local) minute.
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        bit(self.minutes, t.minute())
            && bit(u64::from(self.hours), t.hour())
            && self.day_matches(t.date())
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        if !bit(u64::from(self.months), d.month0()) {
            return false;
        }
        let dom = bit(u64::from(self.days_of_month), d.day0());
        let dow = bit(
            u64::from(self.days_of_week),
            d.weekday().num_days_from_sunday(),
        );
        if self.dom_restricted && self.dow_restricted {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The latest local minute at or before `t` at which the expression fires.
    pub fn prev_local(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let mut date = t.date();
        let (mut last_hour, mut last_minute) = (t.hour(), t.minute());
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(date) {
                let mut hours = u64::from(self.hours) & up_to(last_hour);
                while hours != 0 {
                    let h = 63 - hours.leading_zeros();
                    let limit = if h == last_hour { last_minute } else { 59 };
                    let minutes = self.minutes & up_to(limit);
                    if minutes != 0 {
                        return date.and_hms_opt(h, 63 - minutes.leading_zeros(), 0);
                    }
                    hours &= !(1 << h);
                }
            }
            date = date.pred_opt()?;
            (last_hour, last_minute) = (23, 59);
        }
        None
    }

    /// The earliest local minute at or after `t` (rounded up to a whole minute) at which
    /// the expression fires.
    pub fn next_local(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let t = if t.second() > 0 || t.nanosecond() > 0 {
            t.with_second(0)?.with_nanosecond(0)? + TimeDelta::minutes(1)
        } else {
            t
        };
        let mut date = t.date();
        let (mut first_hour, mut first_minute) = (t.hour(), t.minute());
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(date) {
                let mut hours = u64::from(self.hours) & from(first_hour);
                while hours != 0 {
                    let h = hours.trailing_zeros();
                    let start = if h == first_hour { first_minute } else { 0 };
                    let minutes = self.minutes & from(start);
                    if minutes != 0 {
                        return date.and_hms_opt(h, minutes.trailing_zeros(), 0);
                    }
                    hours &= !(1 << h);
                }
            }
            date = date.succ_opt()?;
            (first_hour, first_minute) = (0, 0);
        }
        None
    }
}

/// How far the searches look: the rarest expression that passes [`CronExpr::parse`]
/// fires on 29 February, which can be eight years apart (2096 to 2104).
const SEARCH_DAYS: u32 = 8 * 366 + 1;

fn bit(set: u64, i: u32) -> bool {
    set & (1u64 << i) != 0
}

/// Bits 0..=n.
fn up_to(n: u32) -> u64 {
    if n >= 63 {
        u64::MAX
    } else {
        (1u64 << (n + 1)) - 1
    }
}

/// Bits n..=63.
fn from(n: u32) -> u64 {
    !((1u64 << n) - 1)
}

impl serde::Serialize for CronExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// One field: comma-separated items of `*`, `N`, `N-M`, each optionally `/step`.
/// Returns a bit set indexed by value.
fn parse_field(field: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |s: &str| -> Result<u32, String> {
        let lower = s.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names count from 1, day names from 0 (Sunday).
            return Ok(i as u32 + min);
        }
        let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut set = 0u64;
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| format!("bad step `{s}`"))?;
                if step == 0 {
                    return Err("step 0".into());
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            // `N/step` means from N to the end, as in Vixie cron.
            (v, if step > 1 { max } else { v })
        };
        if lo > hi {
            return Err(format!("range {lo}-{hi} is reversed"));
        }
        for v in (lo..=hi).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::test_support::at;

    #[test]
    fn a_daily_time_is_the_expression_minute_hour_every_day() {
        for (h, m) in [(0, 0), (2, 30), (23, 59), (9, 5)] {
            let at = TimeOfDay { hour: h, minute: m };
            assert_eq!(
                CronExpr::daily(at),
                CronExpr::parse(&format!("{m} {h} * * *")).unwrap(),
                "{at}"
            );
        }
    }

    #[test]
    fn weekdays_at_half_past_two() {
        let c = CronExpr::parse("30 2 * * 1-5").unwrap();
        assert!(c.matches(at(2026, 11, 20, 2, 30))); // Friday
        assert!(!c.matches(at(2026, 11, 21, 2, 30))); // Saturday
        assert!(!c.matches(at(2026, 11, 20, 2, 31)));
    }

    #[test]
    fn steps_names_lists_and_sunday_as_seven() {
        let c = CronExpr::parse("*/15 8-18/2 * jan,JUL sun").unwrap();
        assert!(c.matches(at(2026, 7, 5, 10, 45))); // a Sunday in July
        assert!(!c.matches(at(2026, 7, 5, 9, 45)));
        assert!(!c.matches(at(2026, 8, 2, 10, 45)));
        assert_eq!(
            CronExpr::parse("0 0 * * 7").unwrap(),
            CronExpr::parse("0 0 * * 0")
                .unwrap()
                .clone_with_text("0 0 * * 7")
        );
    }

    #[test]
    fn day_of_month_or_day_of_week() {
        let c = CronExpr::parse("0 6 1 * mon").unwrap();
        assert!(c.matches(at(2026, 12, 1, 6, 0))); // the 1st, a Tuesday
        assert!(c.matches(at(2026, 12, 7, 6, 0))); // a Monday
        assert!(!c.matches(at(2026, 12, 8, 6, 0)));
    }

    #[test]
    fn bad_expressions_say_which_field() {
        for (text, needle) in [
            ("* * * *", "4 fields"),
            ("60 * * * *", "minute field"),
            ("* 5-2 * * *", "reversed"),
            ("* * 0 * *", "day-of-month"),
            ("* * * foo *", "month field"),
            ("*/0 * * * *", "step 0"),
        ] {
            let err = CronExpr::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn a_step_in_day_of_month_is_honoured_and_impossible_days_refused() {
        let c = CronExpr::parse("0 0 */2 * *").unwrap();
        assert!(c.matches(at(2026, 5, 1, 0, 0)));
        assert!(!c.matches(at(2026, 5, 2, 0, 0)));
        for never in ["0 0 30 2 *", "0 0 31 4,6,9,11 *"] {
            let err = CronExpr::parse(never).unwrap_err();
            assert!(err.contains("never fires"), "{never}: {err}");
        }
        // Either field may match when both are restricted, so this one fires on Mondays.
        assert!(CronExpr::parse("0 0 30 2 mon").is_ok());
        assert!(CronExpr::parse("0 0 29 2 *").is_ok());
    }

    #[test]
    fn previous_and_next_local_minutes() {
        let c = CronExpr::parse("30 2 * * 1-5").unwrap();
        // Saturday 2026-11-21 10:00: the last firing was Friday 02:30, the next Monday's.
        let sat = at(2026, 11, 21, 10, 0);
        assert_eq!(c.prev_local(sat), Some(at(2026, 11, 20, 2, 30)));
        assert_eq!(c.next_local(sat), Some(at(2026, 11, 23, 2, 30)));
        // Both searches include the minute itself; next rounds seconds up.
        let fri = at(2026, 11, 20, 2, 30);
        assert_eq!(c.prev_local(fri), Some(fri));
        assert_eq!(c.next_local(fri), Some(fri));
        let just_after = fri + TimeDelta::seconds(1);
        assert_eq!(c.next_local(just_after), Some(at(2026, 11, 23, 2, 30)));
        let every = CronExpr::parse("*/15 * * * *").unwrap();
        assert_eq!(
            every.prev_local(at(2026, 1, 1, 0, 14)),
            Some(at(2026, 1, 1, 0, 0))
        );
        assert_eq!(
            every.prev_local(at(2026, 1, 1, 0, 0) - TimeDelta::minutes(1)),
            Some(at(2025, 12, 31, 23, 45))
        );
        let leap = CronExpr::parse("0 12 29 2 *").unwrap();
        assert_eq!(
            leap.next_local(at(2097, 1, 1, 0, 0)),
            Some(at(2104, 2, 29, 12, 0))
        );
        assert_eq!(
            leap.prev_local(at(2104, 1, 1, 0, 0)),
            Some(at(2096, 2, 29, 12, 0))
        );
    }

    impl CronExpr {
        fn clone_with_text(&self, text: &str) -> Self {
            CronExpr {
                text: text.into(),
                ..self.clone()
            }
        }
    }
}
