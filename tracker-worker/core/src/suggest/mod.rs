//! Schedules read from history: what `jobmon-tracker config suggest` proposes for a job
//! nobody configured, from the start times and durations of its runs. Pure: runs come in,
//! a [`Suggestion`] with its evidence comes out; the command reads job_log and writes the
//! TOML stanzas and SQL statements.
//!
//! # How a schedule is found
//!
//! * Fewer than [`MIN_RUNS`] runs: none, too little to tell.
//! * A calendar schedule ([`calendar`]), tried when starts are about a day apart or more
//!   (median gap at least 20 hours): at least 90% of the starts lie within three hours
//!   after one local time of day, and each is the run of that day's firing. The weekdays
//!   with a run on at least half of their dates are the job's days: all seven is `daily`,
//!   fewer a cron expression such as `30 6 * * 1-5`, which needs two weeks of history. At
//!   most 10% of the expected days may lack a run and at most 5% of the runs fall on other
//!   days. `start_max_delay` covers the latest start after its firing, measured as the rule
//!   engine does (from the firing's later instant when DST repeats the hour).
//! * A cyclic schedule ([`cyclic`]): at least 90% of the gaps between starts lie within
//!   -20%/+25% of a period read from the median gap (a round figure near it); the interval
//!   is the period plus the longest of those gaps' excess plus a margin. A job that pauses
//!   every day (runs in the day only: at least three pauses under 20 hours, all within 16
//!   hours of each other on the clock) gets a quiet window spanning the pauses, widened to
//!   quarter hours, so they are not DELAYED; longer pauses (weekends) stay out of it.
//! * If both fit, the one that tolerates less lateness wins: a daily job in a zone with DST
//!   has 23 and 25 hour gaps (calendar), a job scheduled in UTC moves by an hour in local
//!   time (cyclic).
//! * Otherwise none, with the reason ([`NoSchedule`]).
//!
//! A bound is the largest value seen, unless that is more than twice the 99th percentile of
//! 20 or more values: then the percentile, and the values above the resulting limit are
//! named as exceptions. A margin is half the bound, at least a minute and at least a 48th
//! of the period (capped at 15 minutes). Limits are rounded up to round figures
//! ([`round_up`]).

pub mod calendar;
pub mod cyclic;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod year_tests;

use crate::schedule::Zone;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub use calendar::{Calendar, CalendarMiss};
pub use cyclic::{Cyclic, IntervalMiss, Pauses};

/// Fewer runs tell nothing about a schedule.
pub const MIN_RUNS: usize = 5;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// One run of a job, as job_log has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub start: DateTime<Utc>,
    /// `None`: still running, or never ended.
    pub end: Option<DateTime<Utc>>,
    /// Ended with another status than OK.
    pub failed: bool,
}

/// Count, smallest, median, 99th percentile and largest of some durations. The percentile
/// is the value at 99% of the way from the smallest to the largest, rounded down: of up to
/// a hundred values the second largest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub count: usize,
    pub min: Duration,
    pub median: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Spread {
    pub fn of(values: &[Duration]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_unstable();
        let n = v.len();
        let last = *v.last()?;
        let at = |q: f64| v[((q * (n - 1) as f64) as usize).min(n - 1)];
        Some(Spread {
            count: n,
            min: v[0],
            median: v[n / 2],
            p99: at(0.99),
            max: last,
        })
    }

    /// What a limit is built on: the largest value, or the 99th percentile when the
    /// largest are exceptional (see the module documentation).
    pub fn bound(&self) -> Duration {
        if self.count >= 20 && self.max > self.p99 * 2 {
            self.p99
        } else {
            self.max
        }
    }
}

/// The schedule found.
#[derive(Debug, Clone, PartialEq)]
pub enum Fit {
    Cyclic(Cyclic),
    Calendar(Calendar),
}

/// Why no schedule was found.
#[derive(Debug, Clone, PartialEq)]
pub enum NoSchedule {
    /// Fewer than [`MIN_RUNS`] runs.
    TooFewRuns,
    /// Neither kind fits: why not a fixed interval, and why not a calendar schedule (when
    /// one was tried: the starts are about a day apart or more).
    NoPattern {
        interval: IntervalMiss,
        calendar: Option<CalendarMiss>,
    },
}

/// What the history says about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub runs: usize,
    /// Runs that ended with another status than OK.
    pub failed: usize,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    /// Between consecutive starts.
    pub gaps: Option<Spread>,
    /// Of the runs that ended.
    pub durations: Option<Spread>,
    /// Suggested `timeout`: the duration bound plus half of it, at least a minute more.
    pub timeout: Option<Duration>,
    /// Runs that took longer than `timeout`.
    pub over_timeout: usize,
    pub schedule: Result<Fit, NoSchedule>,
}

impl Suggestion {
    /// `job_check_config` thresholds for an in-database job, `(warn, error)`:
    /// check_job_status() reports it MISSING once its last start is older than `warn`
    /// (WARNING), `error` (CRITICAL). Warn is the longest time between two starts the
    /// schedule allows (a cyclic interval; for a calendar schedule the longest time between
    /// two firings over the history and the next year, DST included, plus the start delay;
    /// for a cyclic job with a daily pause the longest gap across a pause plus a margin, as
    /// check_job_status() has no quiet window); error a tenth more, at least five minutes.
    pub fn thresholds(&self) -> Option<(Duration, Duration)> {
        let warn = match self.schedule.as_ref().ok()? {
            // check_job_status() has no quiet window: a daily pause must fit in.
            Fit::Cyclic(Cyclic {
                interval,
                quiet: Some(p),
                ..
            }) => round_up((*interval).max(p.longest + margin(p.longest, Duration::ZERO))),
            Fit::Cyclic(c) => c.interval,
            Fit::Calendar(c) => round_up(c.longest_gap + c.start_max_delay),
        };
        let error = round_up(warn + (warn / 10).max(5 * MINUTE));
        Some((warn, error))
    }
}

/// Reads a schedule from `runs` (sorted by start); local times are read in `zone`, and
/// calendar schedules are checked up to a year after `now`. `None` without runs.
pub fn suggest(runs: &[Run], zone: Zone, now: DateTime<Utc>) -> Option<Suggestion> {
    let first = runs.first()?.start;
    let last = runs.last()?.start;
    let durations: Vec<Duration> = runs
        .iter()
        .filter_map(|r| (r.end? - r.start).to_std().ok())
        .collect();
    let duration_spread = Spread::of(&durations);
    let timeout = duration_spread.map(|d| {
        let b = d.bound();
        round_up(b + (b / 2).max(MINUTE))
    });
    let over_timeout = timeout.map_or(0, |t| durations.iter().filter(|&&d| d > t).count());
    let gaps: Vec<Duration> = runs
        .windows(2)
        .map(|w| (w[1].start - w[0].start).to_std().unwrap_or_default())
        .collect();
    let gap_spread = Spread::of(&gaps);
    let schedule = match gap_spread {
        Some(g) if runs.len() >= MIN_RUNS => choose(runs, &gaps, g, zone, now),
        _ => Err(NoSchedule::TooFewRuns),
    };
    Some(Suggestion {
        runs: runs.len(),
        failed: runs.iter().filter(|r| r.failed).count(),
        first,
        last,
        gaps: gap_spread,
        durations: duration_spread,
        timeout,
        over_timeout,
        schedule,
    })
}

fn choose(
    runs: &[Run],
    gaps: &[Duration],
    spread: Spread,
    zone: Zone,
    now: DateTime<Utc>,
) -> Result<Fit, NoSchedule> {
    let cyclic = cyclic::fit(runs, gaps, zone);
    let calendar = (spread.median >= 20 * HOUR).then(|| calendar::fit(runs, zone, now));
    match (calendar, cyclic) {
        (Some(Ok(cal)), Ok(cyc)) => {
            if cyc.interval.saturating_sub(cyc.period) < cal.start_max_delay {
                Ok(Fit::Cyclic(cyc))
            } else {
                Ok(Fit::Calendar(cal))
            }
        }
        (Some(Ok(cal)), Err(_)) => Ok(Fit::Calendar(cal)),
        (_, Ok(cyc)) => Ok(Fit::Cyclic(cyc)),
        (calendar, Err(interval)) => Err(NoSchedule::NoPattern {
            interval,
            calendar: calendar.and_then(Result::err),
        }),
    }
}

/// The margin added to a bound: half of it, at least a minute and at least a 48th of the
/// period (at most 15 minutes).
fn margin(period: Duration, bound: Duration) -> Duration {
    let floor = (period / 48).min(15 * MINUTE);
    (bound / 2).max(MINUTE).max(floor)
}

/// Rounds up to a round figure: 10 s steps up to 2 minutes, then 1 minute up to 10,
/// 5 minutes up to an hour, 10 minutes up to 6 hours, 15 minutes up to 2 days, then hours.
pub fn round_up(d: Duration) -> Duration {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    let step = match s {
        0..=120 => 10,
        121..=600 => 60,
        601..=3600 => 300,
        3601..=21_600 => 600,
        21_601..=172_800 => 900,
        _ => 3600,
    };
    Duration::from_secs(s.div_ceil(step).max(1) * step)
}
