//! A fixed interval between starts (see the parent module for the rule).

use super::{margin, round_up, Run, Spread};
use crate::schedule::{QuietWindow, TimeOfDay, Zone};
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use std::time::Duration;

/// A cyclic schedule that fits.
#[derive(Debug, Clone, PartialEq)]
pub struct Cyclic {
    /// The period read from the median gap.
    pub period: Duration,
    /// Suggested `cyclic.interval`: the period plus the longest regular gap's excess plus
    /// a margin.
    pub interval: Duration,
    /// The gaps near the period.
    pub regular: Spread,
    /// Gaps longer than the interval that the quiet window does not cover (missed runs,
    /// pauses of a day or more): the start before each and the gap. The job would have
    /// been DELAYED in them.
    pub longer: Vec<(DateTime<Utc>, Duration)>,
    /// A daily pause (a job that runs in the day only): the local window that covers it,
    /// how many pauses it covers and the longest of those gaps.
    pub quiet: Option<Pauses>,
    /// Gaps shorter than the period allows (extra runs).
    pub shorter: usize,
}

/// The daily pauses of a cyclic job, covered by a quiet window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pauses {
    pub window: QuietWindow,
    pub count: usize,
    /// The longest gap between starts across a pause.
    pub longest: Duration,
}

/// Why no fixed interval fits: only `near` of the `gaps` lie near the median gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalMiss {
    pub median: Duration,
    pub near: usize,
    pub gaps: usize,
    pub min: Duration,
    pub max: Duration,
}

/// Periods people schedule at, in seconds; a median within 3% of one is read as it.
const ROUND_PERIODS: [u64; 26] = [
    10, 15, 20, 30, 60, 120, 180, 240, 300, 360, 600, 720, 900, 1200, 1800, 3600, 5400, 7200,
    10_800, 14_400, 21_600, 28_800, 43_200, 86_400, 172_800, 604_800,
];

/// The period a median gap stands for: a round period within 3%, else the median to the
/// second (below 2 minutes), the minute (below 2 hours) or five minutes.
pub fn period_of(median: Duration) -> Duration {
    let s = median.as_secs_f64();
    if let Some(&r) = ROUND_PERIODS
        .iter()
        .find(|&&r| (s - r as f64).abs() <= r as f64 * 0.03)
    {
        return Duration::from_secs(r);
    }
    let step = if s < 120.0 {
        1.0
    } else if s < 7200.0 {
        60.0
    } else {
        300.0
    };
    Duration::from_secs(((s / step).round() * step).max(1.0) as u64)
}

/// Fits a fixed interval to `gaps` (between consecutive starts of `runs`); local times of
/// day (for a quiet window) are read in `zone`.
pub fn fit(runs: &[Run], gaps: &[Duration], zone: Zone) -> Result<Cyclic, IntervalMiss> {
    let spread = Spread::of(gaps).unwrap_or(Spread {
        count: 0,
        min: Duration::ZERO,
        median: Duration::ZERO,
        p99: Duration::ZERO,
        max: Duration::ZERO,
    });
    let miss = |near: usize| IntervalMiss {
        median: spread.median,
        near,
        gaps: gaps.len(),
        min: spread.min,
        max: spread.max,
    };
    if spread.median.is_zero() {
        return Err(miss(0));
    }
    let period = period_of(spread.median);
    let (lo, hi) = (period * 4 / 5, period * 5 / 4);
    let regular: Vec<Duration> = gaps
        .iter()
        .copied()
        .filter(|g| (lo..=hi).contains(g))
        .collect();
    if regular.len() * 10 < gaps.len() * 9 {
        return Err(miss(regular.len()));
    }
    let Some(regular_spread) = Spread::of(&regular) else {
        return Err(miss(0));
    };
    let excess = regular_spread.bound().saturating_sub(period);
    let interval = round_up(period + excess + margin(period, excess));
    let mut longer: Vec<(DateTime<Utc>, Duration)> = runs
        .windows(2)
        .zip(gaps)
        .filter(|(_, &g)| g > interval)
        .map(|(w, &g)| (w[0].start, g))
        .collect();
    let quiet = pauses(&longer, interval, zone);
    if let Some(p) = &quiet {
        longer.retain(|&(start, gap)| {
            gap >= DAILY_PAUSE_MAX || !covers(&p.window, &pause_arc(start, gap, interval, zone))
        });
    }
    Ok(Cyclic {
        period,
        interval,
        regular: regular_spread,
        longer,
        quiet,
        shorter: gaps.iter().filter(|&&g| g < lo).count(),
    })
}

/// Pauses this long or longer (weekends, outages) are not daily and stay DELAYED.
const DAILY_PAUSE_MAX: Duration = Duration::from_secs(20 * 3600);

/// A pause as local minutes of the day: from when the job would have been due (the start
/// before it plus the interval) to its restart, as (start, length).
fn pause_arc(start: DateTime<Utc>, gap: Duration, interval: Duration, zone: Zone) -> (f64, f64) {
    let minute = |t: DateTime<Utc>| f64::from(zone.local(t).num_seconds_from_midnight()) / 60.0;
    let due = start + TimeDelta::from_std(interval).unwrap_or_default();
    let restart = start + TimeDelta::from_std(gap).unwrap_or_default();
    let from = minute(due);
    (from, (minute(restart) - from).rem_euclid(1440.0))
}

/// Whether `window` (on the clock, wrapping midnight) holds the whole arc.
fn covers(window: &QuietWindow, arc: &(f64, f64)) -> bool {
    let from = f64::from(window.from.minutes_since_midnight());
    let len = (f64::from(window.until.minutes_since_midnight()) - from).rem_euclid(1440.0);
    let start = (arc.0 - from).rem_euclid(1440.0);
    start + arc.1 <= len
}

/// The quiet window of a job that pauses every day: at least three pauses under 20 hours
/// whose arcs on the clock lie within 16 hours of each other; the window spans them,
/// widened to quarter hours (and ten minutes at its end).
fn pauses(longer: &[(DateTime<Utc>, Duration)], interval: Duration, zone: Zone) -> Option<Pauses> {
    let daily: Vec<(Duration, (f64, f64))> = longer
        .iter()
        .filter(|&&(_, gap)| gap < DAILY_PAUSE_MAX)
        .map(|&(start, gap)| (gap, pause_arc(start, gap, interval, zone)))
        .collect();
    if daily.len() < 3 {
        return None;
    }
    // Offsets from the first pause's start, each taken within half a day of it.
    let r = daily[0].1 .0;
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for (_, (a, len)) in &daily {
        let mut s = (a - r).rem_euclid(1440.0);
        if s > 720.0 {
            s -= 1440.0;
        }
        lo = lo.min(s);
        hi = hi.max(s + len);
    }
    if hi - lo > 16.0 * 60.0 {
        return None;
    }
    let quarter = |m: f64| {
        let m = (m.rem_euclid(1440.0) as u16) % 1440;
        TimeOfDay {
            hour: (m / 60) as u8,
            minute: (m % 60) as u8,
        }
    };
    // Ten minutes more at the end: a restart a little later than any seen is not DELAYED.
    let from = ((r + lo) / 15.0).floor() * 15.0;
    let until = ((r + hi + 10.0) / 15.0).ceil() * 15.0;
    let window = QuietWindow {
        from: quarter(from),
        until: quarter(until),
    };
    (window.from != window.until).then(|| Pauses {
        window,
        count: daily.len(),
        longest: daily.iter().map(|&(g, _)| g).max().unwrap_or_default(),
    })
}
