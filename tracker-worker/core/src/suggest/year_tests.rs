//! The suggestions must not depend on when they are made: the histories of
//! `tests/tracker_suggest.rs` (a daily 02:30 job whose history reaches 30 days before the
//! last DST change, a weekday job, a job every 15 minutes in the day), generated as of a
//! `now` every 13 hours and 7 minutes through a year (both DST changes, every weekday and
//! time of day), must each get the same kind of schedule, be judged OK by the rules at
//! every start, end and `now`, and give thresholds under which the latest run is in time
//! and a left-out one is MISSING (the in-database histories of that test, shifted as it
//! shifts them).

use super::tests::{cron_start as berlin, Lcg};
use super::*;
use crate::model::{Global, Job, Output};
use crate::rules::{evaluate, CompiledJob, Event, EventKind, Reason, SourceHealth};
use crate::schedule::Schedule;
use chrono::{Datelike, NaiveDate, Offset, TimeDelta, TimeZone, Weekday};
use chrono_tz::Europe::Berlin;

fn last_dst_change(t: DateTime<Utc>) -> NaiveDate {
    let offset = |d: NaiveDate| {
        Berlin
            .offset_from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .fix()
    };
    let mut d = t.with_timezone(&Berlin).date_naive();
    while offset(d) == offset(d.pred_opt().unwrap()) {
        d = d.pred_opt().unwrap();
    }
    d
}

fn run_of(start: DateTime<Utc>, secs: i64, v: DateTime<Utc>) -> Run {
    let end = start + TimeDelta::seconds(secs);
    Run {
        start,
        end: (end < v).then_some(end),
        failed: false,
    }
}

/// Runs at `at` Berlin time on the days from `first` that `on` takes, up to `v`.
fn calendar_runs(
    first: NaiveDate,
    v: DateTime<Utc>,
    at: (u32, u32),
    on: fn(Weekday) -> bool,
    late: (i64, u64),
    secs: (i64, u64),
) -> Vec<Run> {
    let mut rng = Lcg(2);
    first
        .iter_days()
        .filter(|d| on(d.weekday()))
        .map(|d| {
            let start =
                berlin(d, at.0, at.1) + TimeDelta::seconds(late.0 + rng.below(late.1) as i64);
            (start, secs.0 + rng.below(secs.1) as i64)
        })
        .take_while(|&(s, _)| s < v)
        .map(|(s, x)| run_of(s, x, v))
        .collect()
}

fn nightly(v: DateTime<Utc>) -> Vec<Run> {
    let first = last_dst_change(v) - TimeDelta::days(30);
    calendar_runs(first, v, (2, 30), |_| true, (5, 235), (1800, 900))
}

fn weekdays(v: DateTime<Utc>) -> Vec<Run> {
    let first = (v - TimeDelta::days(35))
        .with_timezone(&Berlin)
        .date_naive();
    let on = |w| !matches!(w, Weekday::Sat | Weekday::Sun);
    calendar_runs(first, v, (6, 30), on, (0, 120), (300, 600))
}

fn daytime(v: DateTime<Utc>) -> Vec<Run> {
    let mut rng = Lcg(5);
    let first = (v - TimeDelta::days(30))
        .with_timezone(&Berlin)
        .date_naive();
    first
        .iter_days()
        .flat_map(|d| (0..64u32).map(move |q| (d, 360 + q * 15)))
        .map(|(d, m)| {
            let start = berlin(d, m / 60, m % 60) + TimeDelta::seconds(rng.below(60) as i64);
            (start, 60 + rng.below(120) as i64)
        })
        .take_while(|&(s, _)| s < v)
        .map(|(s, x)| run_of(s, x, v))
        .collect()
}

/// The job the suggestion's stanza describes.
fn job_of(s: &Suggestion) -> Job {
    let (schedule, quiet_window) = match s.schedule.as_ref().unwrap() {
        Fit::Cyclic(c) => (
            Schedule::Cyclic {
                interval: c.interval,
            },
            c.quiet.map(|p| p.window),
        ),
        Fit::Calendar(c) if c.is_daily() => (
            Schedule::Daily {
                start: c.time,
                start_max_delay: c.start_max_delay,
            },
            None,
        ),
        Fit::Calendar(c) => (
            Schedule::Cron {
                expression: c.expression.clone(),
                start_max_delay: c.start_max_delay,
            },
            None,
        ),
    };
    Job {
        name: "J".into(),
        env: "P".into(),
        source: None,
        schedule,
        timeout: s.timeout,
        max_errors_before_alerting: 1,
        min_run_time: None,
        quiet_window,
    }
}

fn judge(job: &CompiledJob, runs: &[Run], t: DateTime<Utc>) -> Reason {
    let upto = runs.partition_point(|r| r.start <= t);
    let mut events = Vec::new();
    for r in &runs[upto.saturating_sub(3)..upto] {
        events.push(Event::new(r.start, EventKind::Start));
        if let Some(e) = r.end.filter(|&e| e <= t) {
            events.push(Event::new(e, EventKind::End));
        }
    }
    evaluate(job, &events, &SourceHealth::fresh(t), t).reason
}

/// What kind of schedule was found: `daily`, a cron expression, `cyclic` or `cyclic+quiet`.
fn kind(s: &Suggestion) -> String {
    match &s.schedule {
        Ok(Fit::Cyclic(c)) if c.quiet.is_some() => "cyclic+quiet".into(),
        Ok(Fit::Cyclic(_)) => "cyclic".into(),
        Ok(Fit::Calendar(c)) if c.is_daily() => format!("daily {}", c.time),
        Ok(Fit::Calendar(c)) => c.expression.as_str().to_owned(),
        Err(e) => format!("none: {e:?}"),
    }
}

#[test]
fn the_same_histories_get_the_same_schedules_whenever_they_are_read() {
    let zone = Zone::Named(Berlin);
    let global = Global {
        time_zone: Some(Berlin),
        ..Global::default()
    };
    let output = Output::default();
    let end = Utc.with_ymd_and_hms(2027, 1, 5, 0, 0, 0).unwrap();
    let mut now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 17, 0).unwrap();
    while now < end {
        for (name, runs, want) in [
            ("nightly", nightly(now), "daily 02:30"),
            ("weekday", weekdays(now), "30 6 * * 1-5"),
            ("daytime", daytime(now), "cyclic+quiet"),
        ] {
            let s = suggest(&runs, zone, now).unwrap();
            assert_eq!(kind(&s), want, "{name} as of {now}");
            let job = CompiledJob::new(&job_of(&s), &global, &output);
            let mut moments = vec![now];
            for r in &runs[1..] {
                moments.push(r.start - TimeDelta::seconds(1));
                moments.push(r.start + TimeDelta::seconds(1));
                moments.extend(r.end.map(|e| e - TimeDelta::seconds(1)));
            }
            for t in moments {
                let reason = judge(&job, &runs, t);
                assert!(
                    matches!(reason, Reason::Ok | Reason::Running | Reason::Quiet),
                    "{name} as of {now}: {reason:?} at {t}"
                );
            }
        }
        // The in-database histories: as of V, stored shifted by now - V.
        let after_nightly = {
            let mut d = (now - TimeDelta::hours(12))
                .with_timezone(&Berlin)
                .date_naive();
            while berlin(d, 2, 30) + TimeDelta::hours(12) > now {
                d = d.pred_opt().unwrap();
            }
            berlin(d, 2, 30) + TimeDelta::hours(12)
        };
        let monday_noon = {
            let mut d = now.with_timezone(&Berlin).date_naive();
            while d.weekday() != Weekday::Mon || berlin(d, 12, 30) > now {
                d = d.pred_opt().unwrap();
            }
            berlin(d, 12, 30)
        };
        for (name, v, hours) in [
            ("nightly", after_nightly, 25..27),
            ("weekday", monday_noon, 72..80),
        ] {
            let runs = if name == "nightly" {
                nightly(v)
            } else {
                weekdays(v)
            };
            let shift = now - v;
            let shifted: Vec<Run> = runs
                .iter()
                .map(|r| Run {
                    start: r.start + shift,
                    end: r.end.map(|e| e + shift),
                    failed: false,
                })
                .collect();
            let s = suggest(&shifted, zone, now).unwrap();
            let (warn, _) = s
                .thresholds()
                .unwrap_or_else(|| panic!("{name} as of {now}: {:?}", s.schedule));
            assert!(
                hours.contains(&(warn.as_secs() / 3600)),
                "{name} as of {now}: {warn:?}"
            );
            let ago = |r: &Run| (now - r.start).to_std().unwrap();
            let n = shifted.len();
            assert!(ago(&shifted[n - 1]) < warn, "{name} as of {now}: late");
            assert!(
                ago(&shifted[n - 2]) > warn,
                "{name} as of {now}: not missing"
            );
        }
        now += TimeDelta::hours(13) + TimeDelta::minutes(7);
    }
}
