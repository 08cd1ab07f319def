//! A synthetic workload for timing the rule engine (scenario 5): built once, then
//! [`evaluate_all`] is timed by `rules_memory`. No timing happens here. It lives with the
//! benchmark, not in the tracker's library.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use std::time::Duration;
use tracker_worker::config::{
    Config, CronExpr, Database, Global, Job, Output, QuietWindow, Schedule, TimeOfDay,
};
use tracker_worker::rules::{
    compile, evaluate, CompiledJob, Event, EventKind, SourceHealth, State,
};

/// Jobs with their recent events, all evaluated at `now`.
pub struct Workload {
    pub jobs: Vec<CompiledJob>,
    pub events: Vec<Vec<Event>>,
    pub source: SourceHealth,
    pub now: DateTime<Utc>,
}

/// `n` jobs in Europe/Berlin: half cyclic (every 5 to 60 minutes), a third daily, the rest
/// cron; each with its current and previous run. Most are on time (ended or running); one
/// in ten each failed, missed its last start, or runs past its timeout; some events arrive
/// out of order or restart a run. Evaluated at a fixed time on the autumn DST change day.
pub fn workload(n: usize) -> Workload {
    workload_in(n, Some(chrono_tz::Europe::Berlin))
}

/// [`workload`] with `global.time_zone` set to `zone` (`None`: the host's zone).
pub fn workload_in(n: usize, zone: Option<chrono_tz::Tz>) -> Workload {
    let now = Utc
        .with_ymd_and_hms(2026, 10, 25, 9, 17, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let crons = [
        "*/15 * * * *",
        "45 6 * * mon-fri",
        "0 */4 * * *",
        "30 2 1 * *",
    ]
    .map(|c| CronExpr::parse(c).unwrap_or_else(|e| unreachable!("{e}")));
    let mut jobs = Vec::with_capacity(n);
    let mut events = Vec::with_capacity(n);
    for i in 0..n {
        let schedule = match i % 6 {
            0..=2 => Schedule::Cyclic {
                interval: Duration::from_secs(300 * (1 + (i as u64 % 12))),
            },
            3 | 4 => Schedule::Daily {
                start: TimeOfDay {
                    hour: (i % 24) as u8,
                    minute: (i % 60) as u8,
                },
                start_max_delay: Duration::from_secs(1800),
            },
            _ => Schedule::Cron {
                expression: crons[i % crons.len()].clone(),
                start_max_delay: Duration::from_secs(600),
            },
        };
        jobs.push(Job {
            name: format!("JOB_{i}"),
            env: ["P", "Q", "I"][i % 3].to_owned(),
            source: None,
            schedule,
            timeout: (i % 4 != 0).then_some(Duration::from_secs(3600)),
            max_errors_before_alerting: 1 + (i % 3) as u32,
            min_run_time: (i % 5 == 0).then_some(Duration::from_secs(20)),
            quiet_window: (i % 7 == 0).then_some(QuietWindow {
                from: TimeOfDay {
                    hour: 22,
                    minute: 0,
                },
                until: TimeOfDay { hour: 4, minute: 0 },
            }),
        });
        // When the latest run started: on time for most jobs, overdue for one in ten.
        let on_time = match &jobs[i].schedule {
            Schedule::Cyclic { interval } => {
                now - TimeDelta::seconds((i as i64 * 37) % interval.as_secs() as i64)
            }
            Schedule::Daily { start, .. } => {
                let cron = CronExpr::parse(&format!("{} {} * * *", start.minute, start.hour))
                    .unwrap_or_else(|e| unreachable!("{e}"));
                last_firing(&cron, now)
            }
            Schedule::Cron { expression, .. } => last_firing(expression, now),
        };
        let last = if i % 10 == 8 {
            on_time - TimeDelta::days(1)
        } else {
            on_time
        };
        let at = |mins: i64| last + TimeDelta::minutes(mins);
        let mut run = vec![
            Event::new(at(-90), EventKind::Start),
            Event::new(at(-60), EventKind::End),
            Event::new(last, EventKind::Start),
        ];
        match i % 10 {
            0..=3 => run.push(Event::new(at(1).min(now), EventKind::End)),
            4 => run.swap(0, 2), // arrives out of order, still running
            5 => run.push(Event::new(last, EventKind::Start)), // restarted
            6 => {}              // running
            7 => run.push(
                Event::new(at(1).min(now), EventKind::Error)
                    .with_message("ORA-01555: snapshot too old"),
            ),
            8 => run.push(Event::new(at(2), EventKind::End)),
            _ => run[2].at = now - TimeDelta::hours(2), // running past its timeout
        }
        events.push(run);
    }
    let config = Config {
        global: Global {
            time_zone: zone,
            ..Global::default()
        },
        database: Database::default(),
        output: Output {
            service_prefix: "odi_job_".into(),
            ..Output::default()
        },
        sources: Vec::new(),
        jobs,
        web: None,
    };
    Workload {
        jobs: compile(&config),
        events,
        source: SourceHealth::fresh(now),
        now,
    }
}

/// The start of the latest firing of `cron` before `now`, in Berlin, plus a minute.
fn last_firing(cron: &CronExpr, now: DateTime<Utc>) -> DateTime<Utc> {
    cron.prev_fire(&chrono_tz::Europe::Berlin, now)
        .map_or(now, |f| (f.latest + TimeDelta::minutes(1)).min(now))
}

/// Evaluates every job of `w` once; returns how many are in each state (OK, WARNING,
/// CRITICAL, UNKNOWN), so the work cannot be optimised away.
pub fn evaluate_all(w: &Workload) -> [usize; 4] {
    let mut counts = [0; 4];
    for (job, events) in w.jobs.iter().zip(&w.events) {
        let e = evaluate(job, events, &w.source, w.now);
        counts[usize::from(e.state.code())] += 1;
        debug_assert!(e.state != State::Unknown);
    }
    counts
}
