//! Five-field cron expressions (`minute hour day-of-month month day-of-week`) for jobs whose
//! start times are not one fixed time every day, e.g. `30 2 * * 1-5` (02:30 on weekdays).
//! Parsed into bit sets once, so the rule engine only tests membership.

use chrono::{Datelike, NaiveDateTime, Timelike};
use std::fmt;

pub const CRON_EXPECTED: &str =
    "a cron expression with five fields \"minute hour day-of-month month day-of-week\", e.g. \"30 2 * * 1-5\"";

/// A parsed cron expression. Semantics as in Vixie cron: when both day-of-month and
/// day-of-week are restricted, a day matches if either does.
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
        Ok(CronExpr {
            text: fields.join(" "),
            minutes,
            hours: hours as u32,
            days_of_month: (dom >> 1) as u32,
            months: (months >> 1) as u16,
            days_of_week: dow as u8,
            dom_restricted: !fields[2].starts_with('*'),
            dow_restricted: !fields[4].starts_with('*'),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the expression fires at this (local) minute.
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        let bit = |set: u64, i: u32| set & (1u64 << i) != 0;
        let dom = bit(u64::from(self.days_of_month), t.day() - 1);
        let dow = bit(
            u64::from(self.days_of_week),
            t.weekday().num_days_from_sunday(),
        );
        let day = match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        };
        bit(self.minutes, t.minute())
            && bit(u64::from(self.hours), t.hour())
            && bit(u64::from(self.months), t.month() - 1)
            && day
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
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .unwrap()
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

    impl CronExpr {
        fn clone_with_text(&self, text: &str) -> Self {
            CronExpr {
                text: text.into(),
                ..self.clone()
            }
        }
    }
}
