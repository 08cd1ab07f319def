//! A fixed interval between starts (see the parent module for the rule).

use super::{margin, round_up, Run, Spread};
use chrono::{DateTime, Utc};
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
    /// Gaps longer than the interval (missed runs, pauses): the start before each and the
    /// gap. The job would have been DELAYED in them.
    pub longer: Vec<(DateTime<Utc>, Duration)>,
    /// Gaps shorter than the period allows (extra runs).
    pub shorter: usize,
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

/// Fits a fixed interval to `gaps` (between consecutive starts of `runs`).
pub fn fit(runs: &[Run], gaps: &[Duration]) -> Result<Cyclic, IntervalMiss> {
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
    let longer = runs
        .windows(2)
        .zip(gaps)
        .filter(|(_, &g)| g > interval)
        .map(|(w, &g)| (w[0].start, g))
        .collect();
    Ok(Cyclic {
        period,
        interval,
        regular: regular_spread,
        longer,
        shorter: gaps.iter().filter(|&&g| g < lo).count(),
    })
}
