//! Rule tests with a fixed clock: every deadline just before and after, with and without
//! grace, on both DST change days of 2026 in Europe/Berlin, plus errors, restarts,
//! disorder, clock skew, minimum run time, cron, quiet windows and the UNKNOWN cases.

use super::*;
use crate::model::{Global, Job, Output};
use crate::schedule::{CronExpr, QuietWindow, Schedule, TimeOfDay};
use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Europe::Berlin;

/// An instant given as UTC wall-clock time, `2026-03-29 01:30:00`.
fn u(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time");
    Utc.from_utc_datetime(&naive)
}

/// An instant given as Berlin wall-clock time (the earlier reading if ambiguous).
fn b(s: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test time");
    Berlin
        .from_local_datetime(&naive)
        .earliest()
        .expect("exists in Berlin")
        .with_timezone(&Utc)
}

fn tod(s: &str) -> TimeOfDay {
    TimeOfDay::parse(s).expect("test time of day")
}

fn window(from: &str, until: &str) -> QuietWindow {
    QuietWindow {
        from: tod(from),
        until: tod(until),
    }
}

fn global() -> Global {
    Global {
        time_zone: Some(Berlin),
        message_grace_period: Duration::from_secs(60),
        ..Global::default()
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn job(schedule: Schedule) -> Job {
    Job {
        name: "LOAD".into(),
        env: "P".into(),
        source: None,
        schedule,
        timeout: None,
        max_errors_before_alerting: 1,
        min_run_time: None,
        quiet_window: None,
    }
}

fn cyclic() -> Job {
    Job {
        timeout: Some(minutes(10)),
        ..job(Schedule::Cyclic {
            interval: minutes(15),
        })
    }
}

fn daily(start: &str) -> Job {
    job(Schedule::Daily {
        start: tod(start),
        start_max_delay: minutes(30),
    })
}

fn cron(expr: &str) -> Job {
    job(Schedule::Cron {
        expression: CronExpr::parse(expr).expect("test cron"),
        start_max_delay: minutes(15),
    })
}

fn start(at: DateTime<Utc>) -> Event {
    Event::new(at, EventKind::Start)
}
fn end(at: DateTime<Utc>) -> Event {
    Event::new(at, EventKind::End)
}
fn error(at: DateTime<Utc>) -> Event {
    Event::new(at, EventKind::Error).with_message("ORA-01555: snapshot too old")
}

fn run_with(job: &Job, global: &Global, events: &[Event], now: DateTime<Utc>) -> Evaluation {
    let compiled = CompiledJob::new(job, global, &Output::default());
    evaluate(&compiled, events, &SourceHealth::fresh(now), now)
}

fn run(job: &Job, events: &[Event], now: DateTime<Utc>) -> Evaluation {
    run_with(job, &global(), events, now)
}

struct Case {
    name: &'static str,
    job: Job,
    global: Global,
    events: Vec<Event>,
    now: DateTime<Utc>,
    reason: Reason,
    /// Expected `since`, where it is a defined instant.
    since: Option<DateTime<Utc>>,
}

fn case(
    name: &'static str,
    job: Job,
    events: Vec<Event>,
    now: DateTime<Utc>,
    reason: Reason,
    since: Option<DateTime<Utc>>,
) -> Case {
    Case {
        name,
        job,
        global: global(),
        events,
        now,
        reason,
        since,
    }
}

fn check(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let e = run_with(&c.job, &c.global, &c.events, c.now);
        let since_ok = c.since.is_none_or(|s| s == e.since);
        if e.reason != c.reason || !since_ok || e.state != c.reason.state() {
            failures.push(format!(
                "{}: expected {:?} since {:?}, got {:?} since {} ({})",
                c.name, c.reason, c.since, e.reason, e.since, e.text
            ));
        }
        assert!(!e.text.contains(['\n', '\r']), "{}: {}", c.name, e.text);
        assert!(
            e.text.starts_with(e.reason.as_str()),
            "{}: {}",
            c.name,
            e.text
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn no_grace() -> Global {
    Global {
        message_grace_period: Duration::ZERO,
        ..global()
    }
}

#[test]
fn cyclic_deadlines_with_and_without_grace() {
    let ran = vec![
        start(u("2026-06-01 10:00:00")),
        end(u("2026-06-01 10:05:00")),
    ];
    let running = vec![start(u("2026-06-01 10:00:00"))];
    let mut cases = vec![
        case(
            "next start not due",
            cyclic(),
            ran.clone(),
            u("2026-06-01 10:14:00"),
            Reason::Ok,
            Some(u("2026-06-01 10:05:00")),
        ),
        case(
            "interval passed, inside grace",
            cyclic(),
            ran.clone(),
            u("2026-06-01 10:16:00"),
            Reason::Ok,
            None,
        ),
        case(
            "interval and grace passed",
            cyclic(),
            ran.clone(),
            u("2026-06-01 10:16:01"),
            Reason::Delayed,
            Some(u("2026-06-01 10:16:00")),
        ),
        case(
            "missed several cycles",
            cyclic(),
            ran.clone(),
            u("2026-06-01 13:00:00"),
            Reason::Delayed,
            Some(u("2026-06-01 10:16:00")),
        ),
        case(
            "running within timeout",
            cyclic(),
            running.clone(),
            u("2026-06-01 10:10:00"),
            Reason::Running,
            Some(u("2026-06-01 10:00:00")),
        ),
        case(
            "timeout reached, inside grace",
            cyclic(),
            running.clone(),
            u("2026-06-01 10:11:00"),
            Reason::Running,
            None,
        ),
        case(
            "timeout and grace passed",
            cyclic(),
            running.clone(),
            u("2026-06-01 10:11:01"),
            Reason::Timeout,
            Some(u("2026-06-01 10:11:00")),
        ),
        case(
            "a long run with a timeout is not also late",
            cyclic(),
            running.clone(),
            u("2026-06-01 12:00:00"),
            Reason::Timeout,
            Some(u("2026-06-01 10:11:00")),
        ),
        case(
            "a timeout longer than the interval postpones the next start",
            Job {
                timeout: Some(minutes(30)),
                ..cyclic()
            },
            running.clone(),
            u("2026-06-01 10:20:00"),
            Reason::Running,
            None,
        ),
        case(
            "without a timeout a run still going after an interval is late",
            Job {
                timeout: None,
                ..cyclic()
            },
            running.clone(),
            u("2026-06-01 10:16:01"),
            Reason::Delayed,
            Some(u("2026-06-01 10:16:00")),
        ),
        case(
            "a job that sends no start is measured from its latest event",
            cyclic(),
            vec![end(u("2026-06-01 10:05:00"))],
            u("2026-06-01 10:21:01"),
            Reason::Delayed,
            Some(u("2026-06-01 10:21:00")),
        ),
    ];
    for (name, now, reason) in [
        (
            "no grace: at the deadline",
            u("2026-06-01 10:15:00"),
            Reason::Ok,
        ),
        (
            "no grace: just after",
            u("2026-06-01 10:15:01"),
            Reason::Delayed,
        ),
    ] {
        cases.push(Case {
            global: no_grace(),
            ..case(name, cyclic(), ran.clone(), now, reason, None)
        });
    }
    for (name, now, reason) in [
        (
            "no grace: timeout at the limit",
            u("2026-06-01 10:10:00"),
            Reason::Running,
        ),
        (
            "no grace: timeout just after",
            u("2026-06-01 10:10:01"),
            Reason::Timeout,
        ),
    ] {
        cases.push(Case {
            global: no_grace(),
            ..case(name, cyclic(), running.clone(), now, reason, None)
        });
    }
    check(cases);
}

#[test]
fn quiet_windows_wrap_midnight_and_silence_only_timing() {
    let night = Global {
        quiet_window: Some(window("22:00", "04:00")),
        ..global()
    };
    // Berlin is UTC+2 in June: 22:00 local is 20:00 UTC, 04:00 local is 02:00 UTC.
    let ran = vec![
        start(u("2026-06-01 18:00:00")),
        end(u("2026-06-01 18:05:00")),
    ];
    let mut cases = Vec::new();
    for (name, now, reason) in [
        (
            "before the window",
            u("2026-06-01 19:59:00"),
            Reason::Delayed,
        ),
        (
            "window opens (inclusive)",
            u("2026-06-01 20:00:00"),
            Reason::Quiet,
        ),
        ("after midnight", u("2026-06-01 23:30:00"), Reason::Quiet),
        (
            "last minute of the window",
            u("2026-06-02 01:59:59"),
            Reason::Quiet,
        ),
        (
            "window closes (exclusive)",
            u("2026-06-02 02:00:00"),
            Reason::Delayed,
        ),
    ] {
        cases.push(Case {
            global: night.clone(),
            ..case(name, cyclic(), ran.clone(), now, reason, None)
        });
    }
    cases.push(Case {
        global: night.clone(),
        ..case(
            "a timeout is silenced too",
            cyclic(),
            vec![start(u("2026-06-01 21:00:00"))],
            u("2026-06-01 23:00:00"),
            Reason::Quiet,
            Some(u("2026-06-01 21:11:00")),
        )
    });
    cases.push(Case {
        global: night.clone(),
        ..case(
            "errors are never silenced",
            cyclic(),
            vec![
                start(u("2026-06-01 21:00:00")),
                error(u("2026-06-01 21:01:00")),
            ],
            u("2026-06-01 23:00:00"),
            Reason::Error,
            Some(u("2026-06-01 21:01:00")),
        )
    });
    cases.push(Case {
        global: night.clone(),
        ..case(
            "the global window is for cyclic jobs only",
            daily("00:30"),
            vec![start(b("2026-05-31 00:31:00"))],
            b("2026-06-01 01:30:00"),
            Reason::Delayed,
            None,
        )
    });
    cases.push(case(
        "a job's own window covers any schedule",
        Job {
            quiet_window: Some(window("00:00", "02:00")),
            ..daily("00:30")
        },
        vec![start(b("2026-05-31 00:31:00"))],
        b("2026-06-01 01:30:00"),
        Reason::Quiet,
        None,
    ));
    cases.push(Case {
        global: night,
        ..case(
            "a job's own window replaces the global one",
            Job {
                quiet_window: Some(window("12:00", "13:00")),
                ..cyclic()
            },
            ran,
            u("2026-06-01 23:30:00"),
            Reason::Delayed,
            None,
        )
    });
    check(cases);
}

#[test]
fn daily_deadlines_on_ordinary_and_dst_days_in_berlin() {
    let mut cases = Vec::new();
    // 2026-03-28, CET (UTC+1): 02:30 is 01:30 UTC, due by 03:00 CET, alarm after 02:01 UTC.
    let yesterday = vec![
        start(b("2026-03-27 02:31:00")),
        end(b("2026-03-27 03:10:00")),
    ];
    let day28 = vec![
        start(b("2026-03-28 02:31:00")),
        end(b("2026-03-28 03:10:00")),
    ];
    // The run of the day before, one minute after `at` (a daily time).
    let before = |day: &str, at: &str| {
        let t = b(&format!("{day} {at}:00")) + TimeDelta::minutes(1);
        vec![start(t), end(t + TimeDelta::minutes(20))]
    };
    for (name, events, now, reason, since) in [
        (
            "ordinary day: deadline incl. grace",
            yesterday.clone(),
            u("2026-03-28 02:01:00"),
            Reason::Ok,
            None,
        ),
        (
            "ordinary day: just after",
            yesterday.clone(),
            u("2026-03-28 02:01:01"),
            Reason::Delayed,
            Some(u("2026-03-28 02:01:00")),
        ),
        (
            "ordinary day: started on time",
            vec![start(b("2026-03-28 02:29:00"))],
            u("2026-03-28 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "ordinary day: early by start_max_delay + grace",
            vec![start(b("2026-03-28 01:59:00"))],
            u("2026-03-28 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "ordinary day: earlier does not count",
            vec![start(b("2026-03-28 01:58:59"))],
            u("2026-03-28 03:00:00"),
            Reason::Delayed,
            Some(u("2026-03-28 02:01:00")),
        ),
        // 2026-03-29: 02:00-03:00 does not exist. 02:30 is read as from 03:00 CEST (01:00
        // UTC, when cron runs skipped jobs) until 03:30 CEST (01:30 UTC, 02:30 CET).
        (
            "spring gap: deadline from 03:30 CEST",
            day28.clone(),
            u("2026-03-29 02:01:00"),
            Reason::Ok,
            None,
        ),
        (
            "spring gap: just after",
            day28.clone(),
            u("2026-03-29 02:01:01"),
            Reason::Delayed,
            Some(u("2026-03-29 02:01:00")),
        ),
        (
            "spring gap: started when the gap ended",
            vec![start(u("2026-03-29 01:00:00"))],
            u("2026-03-29 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "spring gap: started at 03:30 CEST",
            vec![start(u("2026-03-29 01:30:00"))],
            u("2026-03-29 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "spring gap: earliest start counted",
            vec![start(u("2026-03-29 00:29:00"))],
            u("2026-03-29 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "spring gap: one second earlier",
            vec![start(u("2026-03-29 00:28:59"))],
            u("2026-03-29 03:00:00"),
            Reason::Delayed,
            Some(u("2026-03-29 02:01:00")),
        ),
    ] {
        cases.push(case(name, daily("02:30"), events, now, reason, since));
    }
    // Outside the gap on the spring day: 01:30 is CET (00:30 UTC), 03:30 CEST (01:30 UTC).
    cases.push(case(
        "spring day, before the gap",
        daily("01:30"),
        before("2026-03-28", "01:30"),
        u("2026-03-29 01:01:01"),
        Reason::Delayed,
        Some(u("2026-03-29 01:01:00")),
    ));
    cases.push(case(
        "spring day, before the gap, in time",
        daily("01:30"),
        before("2026-03-28", "01:30"),
        u("2026-03-29 01:01:00"),
        Reason::Ok,
        None,
    ));
    cases.push(case(
        "spring day, after the gap",
        daily("03:30"),
        before("2026-03-28", "03:30"),
        u("2026-03-29 02:01:01"),
        Reason::Delayed,
        Some(u("2026-03-29 02:01:00")),
    ));
    cases.push(case(
        "spring day, after the gap, in time",
        daily("03:30"),
        before("2026-03-28", "03:30"),
        u("2026-03-29 02:01:00"),
        Reason::Ok,
        None,
    ));

    // 2026-10-25: 02:00-03:00 happens twice (CEST, then CET). 02:30 counts from its first
    // occurrence (00:30 UTC); the deadline runs from its second (01:30 UTC).
    let day_before = vec![
        start(b("2026-10-24 02:31:00")),
        end(b("2026-10-24 03:00:00")),
    ];
    for (name, events, now, reason, since) in [
        (
            "autumn overlap: deadline from the second 02:30",
            day_before.clone(),
            u("2026-10-25 02:01:00"),
            Reason::Ok,
            None,
        ),
        (
            "autumn overlap: just after",
            day_before.clone(),
            u("2026-10-25 02:01:01"),
            Reason::Delayed,
            Some(u("2026-10-25 02:01:00")),
        ),
        (
            "autumn overlap: after the first 02:30's deadline",
            day_before.clone(),
            u("2026-10-25 01:01:01"),
            Reason::Ok,
            None,
        ),
        (
            "autumn overlap: started at the first 02:30",
            vec![start(u("2026-10-25 00:30:00"))],
            u("2026-10-25 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "autumn overlap: started at the second 02:30",
            vec![start(u("2026-10-25 01:30:00"))],
            u("2026-10-25 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "autumn overlap: earliest start counted",
            vec![start(u("2026-10-24 23:59:00"))],
            u("2026-10-25 03:00:00"),
            Reason::Running,
            None,
        ),
        (
            "autumn overlap: one second earlier",
            vec![start(u("2026-10-24 23:58:59"))],
            u("2026-10-25 03:00:00"),
            Reason::Delayed,
            Some(u("2026-10-25 02:01:00")),
        ),
    ] {
        cases.push(case(name, daily("02:30"), events, now, reason, since));
    }
    // Outside the overlap: 01:30 is still CEST (23:30 UTC the day before), 03:30 is CET.
    cases.push(case(
        "autumn day, before the overlap",
        daily("01:30"),
        before("2026-10-24", "01:30"),
        u("2026-10-25 00:01:01"),
        Reason::Delayed,
        Some(u("2026-10-25 00:01:00")),
    ));
    cases.push(case(
        "autumn day, before the overlap, in time",
        daily("01:30"),
        before("2026-10-24", "01:30"),
        u("2026-10-25 00:01:00"),
        Reason::Ok,
        None,
    ));
    cases.push(case(
        "autumn day, after the overlap, in time",
        daily("03:30"),
        before("2026-10-24", "03:30"),
        u("2026-10-25 03:01:00"),
        Reason::Ok,
        None,
    ));
    cases.push(case(
        "autumn day, after the overlap, late",
        daily("03:30"),
        before("2026-10-24", "03:30"),
        u("2026-10-25 03:01:01"),
        Reason::Delayed,
        Some(u("2026-10-25 03:01:00")),
    ));
    // A job missed yesterday stays late until it starts, also before today's time.
    cases.push(case(
        "a missed day stays DELAYED overnight",
        daily("02:30"),
        vec![
            start(b("2026-03-26 02:30:00")),
            end(b("2026-03-26 03:00:00")),
        ],
        b("2026-03-28 01:00:00"),
        Reason::Delayed,
        Some(u("2026-03-27 02:01:00")),
    ));
    check(cases);
}

#[test]
fn cron_schedules() {
    // 45 6 on weekdays, 15 minutes to start, 1 minute grace; November is CET (UTC+1).
    let weekdays = || cron("45 6 * * mon-fri");
    let friday = vec![
        start(b("2026-11-20 06:46:00")),
        end(b("2026-11-20 07:00:00")),
    ];
    check(vec![
        case(
            "Friday's run, Saturday",
            weekdays(),
            friday.clone(),
            b("2026-11-21 12:00:00"),
            Reason::Ok,
            None,
        ),
        case(
            "Friday's run, Monday in time",
            weekdays(),
            friday.clone(),
            b("2026-11-23 07:01:00"),
            Reason::Ok,
            None,
        ),
        case(
            "Friday's run, Monday late",
            weekdays(),
            friday.clone(),
            b("2026-11-23 07:01:01"),
            Reason::Delayed,
            Some(b("2026-11-23 07:01:00")),
        ),
        case(
            "Monday's run",
            weekdays(),
            vec![start(b("2026-11-23 06:50:00"))],
            b("2026-11-23 07:30:00"),
            Reason::Running,
            None,
        ),
        case(
            "every 15 minutes, one missed",
            cron("*/15 * * * *"),
            vec![
                start(b("2026-11-23 10:00:10")),
                end(b("2026-11-23 10:01:00")),
            ],
            b("2026-11-23 10:31:01"),
            Reason::Delayed,
            Some(b("2026-11-23 10:31:00")),
        ),
        case(
            "every 15 minutes: a start 8 minutes early counts",
            cron("*/15 * * * *"),
            vec![
                start(b("2026-11-23 10:07:30")),
                end(b("2026-11-23 10:08:00")),
            ],
            b("2026-11-23 10:31:01"),
            Reason::Ok,
            None,
        ),
        case(
            "every 15 minutes: nearer to the firing before, it does not",
            cron("*/15 * * * *"),
            vec![
                start(b("2026-11-23 10:07:29")),
                end(b("2026-11-23 10:08:00")),
            ],
            b("2026-11-23 10:31:01"),
            Reason::Delayed,
            None,
        ),
        case(
            "every 15 minutes, in time",
            cron("*/15 * * * *"),
            vec![
                start(b("2026-11-23 10:15:10")),
                end(b("2026-11-23 10:16:00")),
            ],
            b("2026-11-23 10:31:01"),
            Reason::Ok,
            None,
        ),
    ]);
}

#[test]
fn error_thresholds_one_and_three() {
    let three = |j: Job| Job {
        max_errors_before_alerting: 3,
        ..j
    };
    let s = u("2026-06-01 10:00:00");
    let e = |min: i64| error(s + TimeDelta::minutes(min));
    let now = u("2026-06-01 10:08:00");
    check(vec![
        case(
            "threshold 1, no error",
            cyclic(),
            vec![start(s)],
            now,
            Reason::Running,
            None,
        ),
        case(
            "threshold 1, one error",
            cyclic(),
            vec![start(s), e(1)],
            now,
            Reason::Error,
            Some(u("2026-06-01 10:01:00")),
        ),
        case(
            "threshold 3, one error",
            three(cyclic()),
            vec![start(s), e(1)],
            now,
            Reason::ErrorsBelowLimit,
            Some(u("2026-06-01 10:01:00")),
        ),
        case(
            "threshold 3, two errors",
            three(cyclic()),
            vec![start(s), e(1), e(2)],
            now,
            Reason::ErrorsBelowLimit,
            Some(u("2026-06-01 10:01:00")),
        ),
        case(
            "threshold 3, three errors",
            three(cyclic()),
            vec![start(s), e(1), e(2), e(3)],
            now,
            Reason::Error,
            Some(u("2026-06-01 10:03:00")),
        ),
        case(
            "threshold 3, four errors",
            three(cyclic()),
            vec![start(s), e(1), e(2), e(3), e(4)],
            now,
            Reason::Error,
            Some(u("2026-06-01 10:03:00")),
        ),
        case(
            "a finished run keeps its errors",
            cyclic(),
            vec![start(s), e(1), end(s + TimeDelta::minutes(2))],
            u("2026-06-01 10:14:00"),
            Reason::Error,
            None,
        ),
        case(
            "until the next run starts",
            cyclic(),
            vec![
                start(s),
                e(1),
                end(s + TimeDelta::minutes(2)),
                start(u("2026-06-01 10:15:00")),
            ],
            u("2026-06-01 10:16:00"),
            Reason::Running,
            None,
        ),
        case(
            "errors before the first start seen count too",
            cyclic(),
            vec![e(1)],
            now,
            Reason::Error,
            None,
        ),
        case(
            "an error outranks a missed start",
            cyclic(),
            vec![start(s), e(1), end(s + TimeDelta::minutes(2))],
            u("2026-06-01 11:00:00"),
            Reason::Error,
            None,
        ),
        case(
            "a missed start outranks errors below the limit",
            three(cyclic()),
            vec![start(s), e(1), end(s + TimeDelta::minutes(2))],
            u("2026-06-01 11:00:00"),
            Reason::Delayed,
            None,
        ),
    ]);
    let ev = run(
        &cyclic(),
        &[start(s), e(1), end(s + TimeDelta::minutes(2))],
        u("2026-06-01 11:00:00"),
    );
    assert!(ev.text.ends_with(" (also DELAYED)"), "{}", ev.text);
    assert!(
        ev.text.contains("last: ORA-01555: snapshot too old"),
        "{}",
        ev.text
    );
}

#[test]
fn restarts_disorder_and_clock_skew() {
    let s = u("2026-06-01 10:00:00");
    let now = u("2026-06-01 10:08:00");
    let restarted = run(
        &cyclic(),
        &[start(s), start(s + TimeDelta::minutes(5))],
        now,
    );
    assert_eq!(restarted.reason, Reason::Running);
    assert_eq!(restarted.since, s + TimeDelta::minutes(5));
    assert!(
        restarted
            .text
            .contains("restarted: the run started 2026-06-01 12:00:00 CEST did not end"),
        "{}",
        restarted.text
    );

    let ordered = [
        start(s),
        error(s + TimeDelta::minutes(1)),
        end(s + TimeDelta::minutes(2)),
        start(s + TimeDelta::minutes(5)),
    ];
    let shuffled = [
        ordered[3].clone(),
        ordered[1].clone(),
        ordered[0].clone(),
        ordered[2].clone(),
    ];
    let a = run(&cyclic(), &ordered, now);
    assert_eq!(a, run(&cyclic(), &shuffled, now));
    assert_eq!(a.reason, Reason::Running, "the new start clears the error");
    assert_eq!(a.facts.last_success, None, "the previous run had an error");

    check(vec![
        case(
            "an end up to the grace period ahead counts",
            cyclic(),
            vec![start(s), end(now + TimeDelta::seconds(60))],
            now,
            Reason::Ok,
            Some(now + TimeDelta::seconds(60)),
        ),
        case(
            "an end further ahead is ignored and flagged",
            cyclic(),
            vec![start(s), end(now + TimeDelta::seconds(61))],
            now,
            Reason::ClockSkew,
            Some(now),
        ),
        case(
            "a future start does not hide a missed one",
            cyclic(),
            vec![
                start(s),
                end(s + TimeDelta::minutes(1)),
                start(now + TimeDelta::hours(1)),
            ],
            u("2026-06-01 10:30:00"),
            Reason::Delayed,
            None,
        ),
        case(
            "only future events: no data",
            cyclic(),
            vec![start(now + TimeDelta::hours(1))],
            now,
            Reason::NoData,
            Some(now),
        ),
    ]);
    let skew = run(&cyclic(), &[start(s), end(now + TimeDelta::hours(2))], now);
    assert_eq!(
        skew.text,
        "CLOCK_SKEW: 1 event dated more than 1m ahead ignored (latest 2026-06-01 14:08:00 CEST); is the source host's clock right?"
    );
}

#[test]
fn minimum_run_time() {
    let fast = |secs: i64| {
        let s = u("2026-06-01 10:00:00");
        vec![start(s), end(s + TimeDelta::seconds(secs))]
    };
    let min30 = Job {
        min_run_time: Some(Duration::from_secs(30)),
        ..cyclic()
    };
    let now = u("2026-06-01 10:05:00");
    check(vec![
        case(
            "shorter",
            min30.clone(),
            fast(10),
            now,
            Reason::TooFast,
            Some(u("2026-06-01 10:00:10")),
        ),
        case(
            "just shorter",
            min30.clone(),
            fast(29),
            now,
            Reason::TooFast,
            None,
        ),
        case(
            "exactly the minimum",
            min30.clone(),
            fast(30),
            now,
            Reason::Ok,
            None,
        ),
        case(
            "no minimum configured",
            cyclic(),
            fast(1),
            now,
            Reason::Ok,
            None,
        ),
        case(
            "stays until the next start",
            min30.clone(),
            vec![
                start(u("2026-06-01 10:00:00")),
                end(u("2026-06-01 10:00:01")),
                start(u("2026-06-01 10:04:00")),
            ],
            now,
            Reason::Running,
            None,
        ),
    ]);
    let e = run(&min30, &fast(10), now);
    assert_eq!(
        e.text,
        "TOO_FAST: the run started 2026-06-01 12:00:00 CEST ended after 10s, expected at least 30s"
    );
}

#[test]
fn unknown_when_there_is_no_data_or_the_source_is_stale() {
    let compiled = CompiledJob::new(&cyclic(), &global(), &Output::default());
    let now = u("2026-06-01 10:08:00");
    let events = [start(u("2026-06-01 10:00:00"))];
    let eval = |events: &[Event], last_ok: Option<&str>, error: Option<&str>| {
        let health = SourceHealth {
            last_read_ok: last_ok.map(u),
            error: error.map(str::to_owned),
            watched_since: None,
        };
        evaluate(&compiled, events, &health, now)
    };
    let e = eval(&[], Some("2026-06-01 10:08:00"), None);
    assert_eq!(
        (e.state, e.reason, e.text.as_str()),
        (
            State::Unknown,
            Reason::NoData,
            "NO_DATA: no start, error or end event received yet"
        )
    );
    assert_eq!(e.metrics.len(), 0);
    let e = eval(&events, None, None);
    assert_eq!(
        (e.reason, e.text.as_str()),
        (Reason::NoData, "NO_DATA: the source has not been read yet")
    );
    let e = eval(&events, None, Some("dwh1:22: cannot connect: refused"));
    assert_eq!(
        (e.reason, e.text.as_str()),
        (
            Reason::Unreachable,
            "UNREACHABLE: dwh1:22: cannot connect: refused; never read successfully"
        )
    );
    // stale_after defaults to 5 minutes.
    let e = eval(&events, Some("2026-06-01 10:03:00"), None);
    assert_eq!(e.reason, Reason::Running, "exactly at the bound");
    let e = eval(&events, Some("2026-06-01 10:02:59"), None);
    assert_eq!(
        (e.reason, e.since),
        (Reason::Stale, u("2026-06-01 10:07:59"))
    );
    assert_eq!(
        e.text,
        "STALE: last good read 2026-06-01 12:02:59 CEST, 5m01s ago (stale after 5m)"
    );
    assert_eq!(e.facts.last_start, Some(u("2026-06-01 10:00:00")));
    let e = eval(
        &events,
        Some("2026-06-01 10:00:00"),
        Some("dwh1: timed out after 30 s (reading)\nretrying"),
    );
    assert_eq!(e.reason, Reason::Unreachable);
    assert_eq!(
        e.text,
        "UNREACHABLE: dwh1: timed out after 30 s (reading) retrying; last good read 2026-06-01 12:00:00 CEST, 8m ago (stale after 5m)"
    );
    let e = eval(&events, Some("2026-06-01 10:07:00"), Some("dwh1: refused"));
    assert_eq!(
        e.reason,
        Reason::Running,
        "one failed poll is not stale data"
    );
    assert!(
        e.text.ends_with("; last read failed: dwh1: refused"),
        "{}",
        e.text
    );
}

#[test]
fn texts_of_representative_states() {
    let now = u("2026-06-01 10:20:00");
    let cases = [
        (
            cyclic(),
            vec![start(u("2026-06-01 10:00:00")), end(u("2026-06-01 10:04:30"))],
            "OK: last run started 2026-06-01 12:00:00 CEST, ended after 4m30s; next start due by 2026-06-01 12:15:00 CEST (also DELAYED)",
        ),
        (
            cyclic(),
            vec![start(u("2026-06-01 10:15:00"))],
            "RUNNING: started 2026-06-01 12:15:00 CEST, running for 5m (timeout 10m)",
        ),
        (
            cyclic(),
            vec![start(u("2026-06-01 10:00:00"))],
            "TIMEOUT: running for 20m since 2026-06-01 12:00:00 CEST, longer than the timeout 10m",
        ),
        (
            cyclic(),
            vec![start(u("2026-06-01 09:00:00")), end(u("2026-06-01 09:01:00"))],
            "DELAYED: no start since 2026-06-01 11:00:00 CEST (every 15m, due by 2026-06-01 11:15:00 CEST)",
        ),
        (
            daily("02:30"),
            vec![start(b("2026-05-31 02:31:00")), end(b("2026-05-31 03:02:00"))],
            "DELAYED: not started by 2026-06-01 03:00:00 CEST (daily at 02:30, at the latest 30m later); last start 2026-05-31 02:31:00 CEST",
        ),
        (
            cron("45 6 * * mon-fri"),
            vec![start(b("2026-05-29 06:45:00"))],
            "DELAYED: not started by 2026-06-01 07:00:00 CEST (cron 45 6 * * mon-fri, at the latest 15m later); last start 2026-05-29 06:45:00 CEST, still running",
        ),
        (
            Job {
                max_errors_before_alerting: 3,
                ..daily("12:00")
            },
            vec![
                start(b("2026-06-01 12:00:00")),
                error(b("2026-06-01 12:03:00")),
                error(b("2026-06-01 12:04:00")).with_message("ORA-00942:\ntable or view does not exist"),
            ],
            "ERRORS_BELOW_LIMIT: 2 errors in the run started 2026-06-01 12:00:00 CEST (CRITICAL from 3); last: ORA-00942: table or view does not exist",
        ),
    ];
    let mut got = Vec::new();
    for (job, events, _) in &cases {
        got.push(run(job, events, now).text);
    }
    let expected: Vec<&str> = cases.iter().map(|c| c.2).collect();
    // The first case is OK only before its deadline; evaluate it then.
    got[0] = run(&cases[0].0, &cases[0].1, u("2026-06-01 10:14:00")).text;
    let mut expected_first = expected.clone();
    expected_first[0] = "OK: last run started 2026-06-01 12:00:00 CEST, ended after 4m30s; next start due by 2026-06-01 12:15:00 CEST";
    assert_eq!(got, expected_first);
}

#[test]
fn facts_and_metrics() {
    let job = Job {
        max_errors_before_alerting: 3,
        ..cyclic()
    };
    let events = [
        start(u("2026-06-01 09:45:00")),
        end(u("2026-06-01 09:50:00")),
        start(u("2026-06-01 10:00:00")),
        error(u("2026-06-01 10:01:00")),
    ];
    let e = run(&job, &events, u("2026-06-01 10:02:30"));
    assert_eq!(
        e.facts,
        Facts {
            last_start: Some(u("2026-06-01 10:00:00")),
            last_end: None,
            last_success: Some(u("2026-06-01 09:50:00")),
            running: true,
            run_time: Some(Duration::from_secs(150)),
            errors: 1,
            future_events: 0,
            next_due: None,
        }
    );
    let metric = |name, value, warn, crit| Metric {
        name,
        value,
        warn,
        crit,
    };
    assert_eq!(
        &e.metrics[..],
        &[
            metric("runtime", 150.0, None, Some(600.0)),
            metric("errors", 1.0, Some(1.0), Some(3.0)),
            metric("age", 150.0, None, Some(960.0)),
        ]
    );
    let ok = run(&cyclic(), &events[..2], u("2026-06-01 09:55:00"));
    assert_eq!(ok.facts.next_due, Some(u("2026-06-01 10:00:00")));
    let d = run(
        &daily("02:30"),
        &[start(b("2026-06-01 02:30:00"))],
        b("2026-06-01 05:00:00"),
    );
    assert_eq!(
        d.metrics.iter().map(|m| m.name).collect::<Vec<_>>(),
        ["runtime", "errors", "age"]
    );
    assert_eq!(
        d.metrics[2].crit, None,
        "no age limit for calendar schedules"
    );
    let next = run(
        &daily("02:30"),
        &[
            start(b("2026-06-01 02:30:00")),
            end(b("2026-06-01 02:40:00")),
        ],
        b("2026-06-01 05:00:00"),
    );
    assert_eq!(next.facts.next_due, Some(b("2026-06-02 03:00:00")));
}

#[test]
fn keywords_and_states() {
    let g = global();
    assert_eq!(EventKind::from_keyword(" started ", &g), EventKind::Start);
    assert_eq!(EventKind::from_keyword("ERROR", &g), EventKind::Error);
    assert_eq!(EventKind::from_keyword("Success", &g), EventKind::End);
    assert_eq!(
        EventKind::from_keyword("STEP", &g),
        EventKind::Other("STEP".into())
    );
    let codes: Vec<u8> = [State::Ok, State::Warning, State::Critical, State::Unknown]
        .iter()
        .map(|s| s.code())
        .collect();
    assert_eq!(codes, [0, 1, 2, 3]);
    for (reason, state) in [
        (Reason::Error, State::Critical),
        (Reason::Timeout, State::Critical),
        (Reason::Delayed, State::Critical),
        (Reason::ErrorsBelowLimit, State::Warning),
        (Reason::Stale, State::Unknown),
        (Reason::Quiet, State::Ok),
    ] {
        assert_eq!(reason.state(), state, "{reason:?}");
    }
}

#[test]
fn a_job_that_never_sends_anything_is_delayed_once_a_start_was_due_after_watching_began() {
    let watched = |job: &Job, since: &str, now: DateTime<Utc>| {
        let compiled = CompiledJob::new(job, &global(), &Output::default());
        let health = SourceHealth {
            watched_since: Some(b(since)),
            ..SourceHealth::fresh(now)
        };
        let e = evaluate(&compiled, &[], &health, now);
        (e.reason, e.text)
    };
    // Cyclic every 15 min, grace 1 min: due 15 min after watching began, late after 16.
    let since = "2026-06-01 10:00:00";
    assert_eq!(
        watched(&cyclic(), since, b("2026-06-01 10:16:00")).0,
        Reason::NoData
    );
    let (reason, text) = watched(&cyclic(), since, b("2026-06-01 10:16:01"));
    assert_eq!(reason, Reason::Delayed);
    assert_eq!(
        text,
        "DELAYED: no message received since the source was first read at 2026-06-01 10:00:00 CEST; \
         a start was due by 2026-06-01 10:15:00 CEST"
    );
    // Daily at 02:30 (max delay 30 min, grace 1 min). Watching from 01:00: late after 03:01.
    let early = "2026-06-01 01:00:00";
    assert_eq!(
        watched(&daily("02:30"), early, b("2026-06-01 03:01:00")).0,
        Reason::NoData
    );
    assert_eq!(
        watched(&daily("02:30"), early, b("2026-06-01 03:01:01")).0,
        Reason::Delayed
    );
    // Watching from 04:00: today's start was before watching began, so not until tomorrow.
    let late = "2026-06-01 04:00:00";
    assert_eq!(
        watched(&daily("02:30"), late, b("2026-06-02 03:01:00")).0,
        Reason::NoData
    );
    assert_eq!(
        watched(&daily("02:30"), late, b("2026-06-02 03:01:01")).0,
        Reason::Delayed
    );
    // Inside its quiet window a job is not called late, but said to be.
    let quiet = Job {
        quiet_window: Some(window("10:00", "11:00")),
        ..cyclic()
    };
    let (reason, text) = watched(&quiet, since, b("2026-06-01 10:30:00"));
    assert_eq!(reason, Reason::Quiet);
    assert_eq!(reason.state(), State::Ok);
    assert_eq!(
        text,
        "QUIET: would be DELAYED: no message received since the source was first read at \
         2026-06-01 10:00:00 CEST; a start was due by 2026-06-01 10:15:00 CEST; quiet window 10:00-11:00"
    );
    // Before a start is due it has nothing to be quiet about.
    assert_eq!(
        watched(&quiet, since, b("2026-06-01 10:10:00")).0,
        Reason::NoData
    );
    // After the window it is late.
    assert_eq!(
        watched(&quiet, since, b("2026-06-01 11:00:01")).0,
        Reason::Delayed
    );
    // Without knowing when watching began, nothing ever received stays NO_DATA.
    assert_eq!(
        run(&cyclic(), &[], b("2026-06-03 10:00:00")).reason,
        Reason::NoData
    );
}
