//! A local time of day on some or all weekdays (see the parent module for the rule).

use super::{margin, round_up, Run, Spread, DAY, MINUTE};
use crate::schedule::{CronExpr, TimeOfDay, Zone};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// Bit per weekday, Sunday = bit 0 (as cron counts).
pub const EVERY_DAY: u8 = 0x7f;

/// How far after the time of day a start may lie and still be that day's run.
const WINDOW_MINUTES: f64 = 180.0;

/// A calendar schedule that fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub time: TimeOfDay,
    /// The weekdays it runs on, a bit each (Sunday = bit 0); [`EVERY_DAY`] for `daily`.
    pub days: u8,
    /// `M H * * *` or `M H * * DAYS`.
    pub expression: CronExpr,
    /// How long after its firing each run started (0 when not later).
    pub delays: Spread,
    /// Suggested `start_max_delay`: the delay bound plus a margin.
    pub start_max_delay: Duration,
    /// Starts later than `start_max_delay` after their firing (they would have been
    /// DELAYED).
    pub late: Vec<DateTime<Utc>>,
    /// Days of the job without a run.
    pub missed: Vec<NaiveDate>,
    /// How many days a run was expected on (first to last run).
    pub expected: usize,
    /// Starts that are no firing's run: reruns on the same day, starts at other times or
    /// on other days.
    pub extra: usize,
    /// The longest time between two consecutive firings (the earlier one's first instant
    /// to the later one's last), over the history and the year after it: 25 hours for a
    /// daily job where the clocks go back.
    pub longest_gap: Duration,
}

impl Calendar {
    pub fn is_daily(&self) -> bool {
        self.days == EVERY_DAY
    }
}

/// Why no calendar schedule fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarMiss {
    /// Only `held` of the `of` starts lie within three hours after `from`, the best time
    /// of day.
    TimesOfDay {
        from: TimeOfDay,
        held: usize,
        of: usize,
    },
    /// Runs on only some weekdays, but `days` days of history are too few to tell which.
    TooShort { days: i64 },
    /// `other` of the `of` days with a run are not among the weekdays it mostly runs on.
    Weekdays { other: usize, of: usize },
    /// `missed` of the `expected` days had no run.
    Missed { missed: usize, expected: usize },
}

/// The cron day-of-week field for a set of weekdays: `1-5`, `0,6`, `1,3,5`.
pub fn weekday_field(days: u8) -> String {
    let mut parts = Vec::new();
    let mut d = 0u8;
    while d < 7 {
        if days & (1 << d) == 0 {
            d += 1;
            continue;
        }
        let from = d;
        while d + 1 < 7 && days & (1 << (d + 1)) != 0 {
            d += 1;
        }
        parts.push(match d - from {
            0 => format!("{from}"),
            1 => format!("{from},{d}"),
            _ => format!("{from}-{d}"),
        });
        d += 1;
    }
    parts.join(",")
}

fn weekday_bit(d: NaiveDate) -> u8 {
    1 << d.weekday().num_days_from_sunday()
}

/// Fits a time of day and weekdays to `runs` in `zone`.
pub fn fit(runs: &[Run], zone: Zone, now: DateTime<Utc>) -> Result<Calendar, CalendarMiss> {
    let n = runs.len();
    let minutes: Vec<f64> = runs
        .iter()
        .map(|r| f64::from(zone.local(r.start).num_seconds_from_midnight()) / 60.0)
        .collect();
    let after = |m: f64, c: f64| (m - c).rem_euclid(1440.0);
    // The time of day with the most starts in a window after it; of equals, the one
    // closest before them (so it is the earliest start's minute). Narrow windows first, so
    // that the dense core decides and an early rerun does not move the time.
    let best_in = |window: f64| {
        let mut best = (0usize, f64::MAX, 0.0f64);
        for &m in &minutes {
            let c = m.floor();
            let (held, spread) = minutes
                .iter()
                .map(|&x| after(x, c))
                .filter(|&o| o < window)
                .fold((0usize, 0.0f64), |(k, s), o| (k + 1, s.max(o)));
            if held > best.0 || (held == best.0 && spread < best.1) {
                best = (held, spread, c);
            }
        }
        best
    };
    let fits = |held: usize| held * 10 >= n * 9;
    let (held, _, c) = [30.0, 60.0, 120.0]
        .into_iter()
        .map(best_in)
        .find(|&(held, _, _)| fits(held))
        .unwrap_or_else(|| best_in(WINDOW_MINUTES));
    // Starts a minute or two after a multiple of five minutes are that multiple's.
    let mut c = c as u16;
    if c % 5 <= 2 {
        c -= c % 5;
    }
    let time = TimeOfDay {
        hour: (c / 60) as u8,
        minute: (c % 60) as u8,
    };
    if !fits(held) {
        return Err(CalendarMiss::TimesOfDay {
            from: time,
            held,
            of: n,
        });
    }
    // The run of each day: its first start in the window.
    let mut by_day: BTreeMap<NaiveDate, DateTime<Utc>> = BTreeMap::new();
    let mut extra = 0usize;
    for (r, &m) in runs.iter().zip(&minutes) {
        let offset = after(m, f64::from(c));
        if offset >= WINDOW_MINUTES + 5.0 {
            extra += 1;
            continue;
        }
        let day = (zone.local(r.start) - TimeDelta::seconds((offset * 60.0) as i64)).date();
        match by_day.entry(day) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(r.start);
            }
            std::collections::btree_map::Entry::Occupied(_) => extra += 1,
        }
    }
    let (Some(&first), Some(&last)) = (by_day.keys().next(), by_day.keys().next_back()) else {
        return Err(CalendarMiss::TimesOfDay {
            from: time,
            held: 0,
            of: n,
        });
    };
    let span = (last - first).num_days() + 1;
    let span_days: Vec<NaiveDate> = first.iter_days().take(span as usize).collect();
    let mut occurs = [0usize; 7];
    let mut ran = [0usize; 7];
    for d in &span_days {
        occurs[d.weekday().num_days_from_sunday() as usize] += 1;
    }
    for d in by_day.keys() {
        ran[d.weekday().num_days_from_sunday() as usize] += 1;
    }
    let mut days = (0..7)
        .filter(|&w| occurs[w] > 0 && ran[w] * 2 >= occurs[w])
        .fold(0u8, |b, w| b | 1 << w);
    // Under a week of history that has a run on every weekday it saw: daily.
    let seen = (0..7)
        .filter(|&w| occurs[w] > 0)
        .fold(0u8, |b, w| b | 1 << w);
    if days == seen {
        days = EVERY_DAY;
    }
    if days != EVERY_DAY && span < 14 {
        return Err(CalendarMiss::TooShort { days: span });
    }
    let other = by_day
        .keys()
        .filter(|&&d| days & weekday_bit(d) == 0)
        .count();
    if other * 20 > by_day.len() {
        return Err(CalendarMiss::Weekdays {
            other,
            of: by_day.len(),
        });
    }
    extra += other;
    let expected: Vec<NaiveDate> = span_days
        .iter()
        .copied()
        .filter(|&d| days & weekday_bit(d) != 0)
        .collect();
    let missed: Vec<NaiveDate> = expected
        .iter()
        .copied()
        .filter(|d| !by_day.contains_key(d))
        .collect();
    if missed.len() * 10 > expected.len() {
        return Err(CalendarMiss::Missed {
            missed: missed.len(),
            expected: expected.len(),
        });
    }
    let expression = if days == EVERY_DAY {
        CronExpr::daily(time)
    } else {
        let text = format!("{} {} * * {}", time.minute, time.hour, weekday_field(days));
        CronExpr::parse(&text).map_err(|_| CalendarMiss::Weekdays { other, of: n })?
    };
    let at = |d: NaiveDate| {
        d.and_hms_opt(u32::from(time.hour), u32::from(time.minute), 0)
            .map(|l| zone.place(l))
    };
    let delayed: Vec<(DateTime<Utc>, Duration)> = by_day
        .iter()
        .filter(|(d, _)| days & weekday_bit(**d) != 0)
        .filter_map(|(d, &start)| {
            let fire = at(*d)?;
            Some((start, (start - fire.latest).to_std().unwrap_or_default()))
        })
        .collect();
    let delay_values: Vec<Duration> = delayed.iter().map(|&(_, d)| d).collect();
    let delays = Spread::of(&delay_values).ok_or(CalendarMiss::Missed {
        missed: missed.len(),
        expected: expected.len(),
    })?;
    let bound = delays.bound();
    let start_max_delay = round_up(bound + margin(DAY, bound));
    let late = delayed
        .iter()
        .filter(|&&(_, d)| d > start_max_delay)
        .map(|&(s, _)| s)
        .collect();
    Ok(Calendar {
        time,
        days,
        longest_gap: longest_gap(&expression, zone, runs[0].start, now),
        expression,
        delays,
        start_max_delay,
        late,
        missed,
        expected: expected.len(),
        extra,
    })
}

/// The longest time between consecutive firings from `from` to a year after `now`.
fn longest_gap(cron: &CronExpr, zone: Zone, from: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let end = zone.local(now + TimeDelta::days(366));
    let mut cursor = zone.local(from - TimeDelta::days(1));
    let mut prev = None;
    let mut longest = Duration::ZERO;
    while let Some(local) = cron.next_local(cursor) {
        if local > end {
            break;
        }
        let fire = zone.place(local);
        if let Some(p) = prev {
            let gap: TimeDelta = fire.latest - p;
            longest = longest.max(gap.to_std().unwrap_or_default());
        }
        prev = Some(fire.earliest);
        cursor = local + TimeDelta::minutes(1);
    }
    longest.max(MINUTE)
}
