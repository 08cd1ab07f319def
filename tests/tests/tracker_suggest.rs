//! `jobmon-tracker config suggest` on generated histories: an hourly job, a daily 02:30 job
//! in Europe/Berlin whose history crosses a DST change, a job on weekdays only and a job
//! with irregular starts, once as tracked jobs (queue messages ingested by `run --once`)
//! and once as in-database jobs (job_log rows as add_job leaves them).
//!
//! A fifth tracked job runs every 15 minutes in the day only: it must get a quiet window
//! for its nights.
//!
//! Tracked: the suggested stanzas must pass `config check`, and the rule engine, replayed
//! over the whole history (just before and after every start, before every end, every 20
//! minutes), must find each job OK; with a run left out it must find it DELAYED; `check`
//! must report the jobs OK now.
//!
//! In-database: check_job_status() compares with now(), which a test cannot move, and a
//! threshold can only notice a missed run some time after it was due (a weekday job's
//! threshold spans the weekend). So each in-database history is generated as of a moment V
//! at a fixed point of its schedule (V: 12 hours after a daily run, Monday 12:30 for the
//! weekday job) and stored shifted by now - V: gaps, durations and the DST change's 23 or
//! 25 hours are kept, the times of day move. The suggested INSERTs, run as printed, must
//! give check_job_status()'s OK row, and MISSING for each job once its latest run is left
//! out.

use chrono::{DateTime, Datelike, Duration as Delta, NaiveDate, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Berlin;
use jobmon_tests::tracker::{assert_ok, run_once, tempdir, write_config, SourceSpec};
use jobmon_tests::{Lcg, TestDb};
use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Output};
use tracker_worker::config::{self, Config, Schedule};
use tracker_worker::rules::{self, Event, EventKind, Reason, SourceHealth};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

#[derive(Debug, Clone, Copy)]
struct GenRun {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// A run of `secs` from `start`, open if that end is not reached by `now`.
fn gen_run(start: DateTime<Utc>, secs: i64, now: DateTime<Utc>) -> GenRun {
    let end = start + Delta::seconds(secs);
    GenRun {
        start,
        end: (end < now).then_some(end),
    }
}

/// When cron starts a job set for `hour:minute` Berlin time on `day`: that time; the first
/// of a repeated one; the end of the gap for one that is skipped.
fn berlin(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let mut local = day.and_hms_opt(hour, minute, 0).unwrap();
    loop {
        match Berlin.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                return t.with_timezone(&Utc)
            }
            chrono::LocalResult::None => local += Delta::minutes(1),
        }
    }
}

/// The last day before `t` on which Berlin changed its UTC offset.
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

/// Every hour for 30 days, up to 3 minutes late, 2 to 5 minutes long; the latest start
/// 40 minutes before `v`.
fn hourly(v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
    let mut rng = Lcg(seed);
    let mut runs: Vec<GenRun> = (0..720)
        .map(|k| {
            let start =
                v - Delta::minutes(40) - Delta::hours(k) + Delta::seconds(rng.below(180) as i64);
            gen_run(start, 120 + rng.below(180) as i64, v)
        })
        .collect();
    runs.reverse();
    runs
}

/// A job cron starts at `at` (hour, minute) Berlin time on the days from `first` that
/// `on` accepts, up to `v`: each start up to `late` seconds (a tuple: least, span) after
/// its time, each run `secs` (least, span) long.
struct CalendarJob {
    at: (u32, u32),
    on: fn(Weekday) -> bool,
    late: (i64, u64),
    secs: (i64, u64),
}

impl CalendarJob {
    fn runs(&self, first: NaiveDate, v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
        let mut rng = Lcg(seed);
        first
            .iter_days()
            .filter(|d| (self.on)(d.weekday()))
            .map(|d| {
                let late = self.late.0 + rng.below(self.late.1) as i64;
                let start = berlin(d, self.at.0, self.at.1) + Delta::seconds(late);
                (start, self.secs.0 + rng.below(self.secs.1) as i64)
            })
            .take_while(|&(s, _)| s < v)
            .map(|(s, secs)| gen_run(s, secs, v))
            .collect()
    }
}

/// At 02:30 Berlin time every day from 30 days before the last DST change before `v` up
/// to `v` (enough runs for the exceptions rule where the in-database test's shift moves one
/// start by the hour the clocks changed; the core's `year_tests` replays this through a year), 5 s to 4 min late, 30 to 45 minutes long.
fn nightly(v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
    let job = CalendarJob {
        at: (2, 30),
        on: |_| true,
        late: (5, 235),
        secs: (1800, 900),
    };
    job.runs(last_dst_change(v) - Delta::days(30), v, seed)
}

/// At 06:30 Berlin time Monday to Friday for five weeks up to `v`, up to 2 minutes late,
/// 5 to 15 minutes long.
fn weekdays(v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
    let job = CalendarJob {
        at: (6, 30),
        on: |w| !matches!(w, Weekday::Sat | Weekday::Sun),
        late: (0, 120),
        secs: (300, 600),
    };
    job.runs(
        (v - Delta::days(35)).with_timezone(&Berlin).date_naive(),
        v,
        seed,
    )
}

/// Every 15 minutes from 06:00 to 21:45 Berlin time for 30 days up to `v`, up to a minute
/// late, 1 to 3 minutes long: a job that pauses every night.
fn daytime(v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
    let mut rng = Lcg(seed);
    let first = (v - Delta::days(30)).with_timezone(&Berlin).date_naive();
    first
        .iter_days()
        .flat_map(|d| (0..64u32).map(move |q| (d, 6 * 60 + q * 15)))
        .map(|(d, m)| {
            let start = berlin(d, m / 60, m % 60) + Delta::seconds(rng.below(60) as i64);
            (start, 60 + rng.below(120) as i64)
        })
        .take_while(|&(s, _)| s < v)
        .map(|(s, secs)| gen_run(s, secs, v))
        .collect()
}

/// Starts 20 minutes to 30 hours apart over 30 days.
fn irregular(v: DateTime<Utc>, seed: u64) -> Vec<GenRun> {
    let mut rng = Lcg(seed);
    let mut t = v - Delta::days(30);
    let mut runs = Vec::new();
    loop {
        t += Delta::minutes(20 + rng.below(30 * 60) as i64);
        if t > v - Delta::hours(1) {
            return runs;
        }
        runs.push(gen_run(t, 60 + rng.below(540) as i64, v));
    }
}

fn tracker(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("JOBMON_TRACKER_LOG")
        .output()
        .expect("run jobmon-tracker")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `--since` covering every run of `runs` with a day to spare.
fn since_for(now: DateTime<Utc>, runs: &[&[GenRun]]) -> String {
    let first = runs
        .iter()
        .flat_map(|r| r.first())
        .map(|r| r.start)
        .min()
        .unwrap();
    format!("{}d", (now - first).num_days() + 2)
}

/// The comment block and stanza `config suggest` printed for `job`: from its `# JOB (`
/// line to the next blank line.
fn block<'a>(text: &'a str, head: &str) -> &'a str {
    let at = text
        .find(head)
        .unwrap_or_else(|| panic!("no {head:?} in:\n{text}"));
    let rest = &text[at..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// The state reasons the engine finds for `job`'s runs at moments through the history.
fn replay(
    config: &Config,
    job: &str,
    runs: &[GenRun],
    at: &[DateTime<Utc>],
) -> Vec<(DateTime<Utc>, Reason, String)> {
    let compiled = rules::compile(config);
    let cj = compiled
        .iter()
        .find(|j| j.name == job)
        .unwrap_or_else(|| panic!("{job} is not configured"));
    at.iter()
        .map(|&t| {
            // The runs started by t, the latest three (the engine needs the last two).
            let upto = runs.partition_point(|r| r.start <= t);
            let mut events = Vec::new();
            for r in &runs[upto.saturating_sub(3)..upto] {
                events.push(Event::new(r.start, EventKind::Start));
                if let Some(e) = r.end.filter(|&e| e <= t) {
                    events.push(Event::new(e, EventKind::End));
                }
            }
            let e = rules::evaluate(cj, &events, &SourceHealth::fresh(t), t);
            (t, e.reason, e.text)
        })
        .collect()
}

/// Moments to judge a history at: just before and after each start from the second on,
/// just before each end, and every 20 minutes.
fn moments(runs: &[GenRun], now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut at = Vec::new();
    for r in &runs[1..] {
        at.push(r.start - Delta::seconds(1));
        at.push(r.start + Delta::seconds(1));
        if let Some(e) = r.end {
            at.push(e - Delta::seconds(1));
        }
    }
    let mut t = runs[1].start;
    while t < now {
        at.push(t);
        t += Delta::minutes(20);
    }
    at.sort();
    at
}

/// The queue as the jobs would have filled it: a STARTED and (if it ended) a SUCCESS
/// message per run of each job (env P), every message at its time, in time order.
fn write_queue(queue: &std::path::Path, jobs: &[(&str, &[GenRun])]) {
    let mut messages: Vec<(DateTime<Utc>, &str, &str)> = Vec::new();
    for (job, runs) in jobs {
        for r in *runs {
            messages.push((r.start, job, "STARTED"));
            if let Some(e) = r.end {
                messages.push((e, job, "SUCCESS"));
            }
        }
    }
    messages.sort();
    tracker_worker::queue::Queue::open_or_create(queue).expect("create the queue");
    let mut q = rusqlite::Connection::open(queue).unwrap();
    let tx = q.transaction().unwrap();
    for (t, job, event) in &messages {
        let julian = t.timestamp_millis() as f64 / 86_400_000.0 + 2_440_587.5;
        tx.execute(
            "INSERT INTO messages (timestamp, instance, job, event, message) VALUES (?1, 'P', ?2, ?3, '')",
            rusqlite::params![julian, job, event],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn tracked_histories_get_stanzas_that_pass_config_check_and_judge_the_history_ok() {
    let now = Utc::now();
    let db = TestDb::new("suggest_tracked");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    let jobs: Vec<(&str, Vec<GenRun>)> = vec![
        ("HOURLY_EXPORT", hourly(now + Delta::minutes(10), 1)),
        ("NIGHTLY_LOAD", nightly(now, 2)),
        ("WEEKDAY_REPORT", weekdays(now, 3)),
        ("ODD_JOBS", irregular(now, 4)),
        ("DAYTIME_SYNC", daytime(now, 5)),
    ];
    let all: Vec<(&str, &[GenRun])> = jobs.iter().map(|(j, r)| (*j, r.as_slice())).collect();
    write_queue(&queue, &all);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("app01", &queue, false)],
        "1s",
        1000,
        "10s",
    );
    let base = fs::read_to_string(&config)
        .unwrap()
        .replace("[global]\n", "[global]\ntime_zone = \"Europe/Berlin\"\n");
    fs::write(&config, &base).unwrap();
    assert_ok(&run_once(BIN, &config));

    let runs_of: BTreeMap<&str, &[GenRun]> = jobs.iter().map(|(j, r)| (*j, r.as_slice())).collect();
    let since = since_for(now, &runs_of.values().copied().collect::<Vec<_>>());
    let path = config.to_str().unwrap();
    let out = tracker(&[
        "config", "suggest", "-c", path, "--since", &since, "--only", "toml",
    ]);
    assert_ok(&out);
    let text = stdout(&out);
    assert!(
        !text.contains("INSERT INTO"),
        "--only toml printed SQL:\n{text}"
    );
    // The four jobs, nothing else: three with a schedule, ODD_JOBS without one and why.
    let odd = block(&text, "# ODD_JOBS (env P) from source app01:");
    assert!(
        odd.contains("No schedule: the gaps between its starts range from"),
        "{odd}"
    );
    assert!(odd.contains("\n# [[jobs]]\n# name = \"ODD_JOBS\""), "{odd}");
    assert!(
        block(&text, "# NIGHTLY_LOAD (env P) from source app01:").contains("Starts daily at 02:30")
    );
    assert!(block(&text, "# WEEKDAY_REPORT (env P)").contains("Monday to Friday"));
    assert!(block(&text, "# DAYTIME_SYNC (env P)").contains("It pauses every day"));

    // Without --only both parts, the TOML first.
    let both = stdout(&tracker(&[
        "config", "suggest", "-c", path, "--since", &since,
    ]));
    let sql_at = both.find("-- ---- In-database jobs without a job_check_config row: 0 ----");
    assert!(
        sql_at.is_some_and(|at| at > both.find("[[jobs]]").unwrap()),
        "{both}"
    );

    // Appended to the configuration, the stanzas pass `config check`.
    let combined = format!("{base}\n{text}");
    let combined_path = dir.path().join("with-suggestions.toml");
    fs::write(&combined_path, &combined).unwrap();
    let check = tracker(&["config", "check", combined_path.to_str().unwrap()]);
    assert_ok(&check);
    let parsed = config::parse_toml(&combined_path, &combined).expect("the suggestions parse");
    let names: Vec<&str> = parsed.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "DAYTIME_SYNC",
            "HOURLY_EXPORT",
            "NIGHTLY_LOAD",
            "WEEKDAY_REPORT"
        ]
    );
    for j in &parsed.jobs {
        assert_eq!(j.env, "P");
        assert_eq!(j.source.as_deref(), Some("app01"));
        assert!(j.timeout.is_some(), "{j:?}");
    }
    let minutes = |d: std::time::Duration| d.as_secs() / 60;
    let daytime = &parsed.jobs[0];
    match &daytime.schedule {
        Schedule::Cyclic { interval } => {
            assert!((16..=25).contains(&minutes(*interval)), "{interval:?}")
        }
        other => panic!("DAYTIME_SYNC: {other:?}"),
    }
    let quiet = daytime
        .quiet_window
        .expect("DAYTIME_SYNC gets a quiet window");
    // Due again at about 22:05, back at 06:00: the window spans the night, no more.
    assert_eq!(quiet.from.to_string(), "22:00", "{quiet}");
    assert_eq!(quiet.until.to_string(), "06:15", "{quiet}");
    match &parsed.jobs[1].schedule {
        Schedule::Cyclic { interval } => {
            assert!((61..=75).contains(&minutes(*interval)), "{interval:?}")
        }
        other => panic!("HOURLY_EXPORT: {other:?}"),
    }
    match &parsed.jobs[2].schedule {
        Schedule::Daily {
            start,
            start_max_delay,
        } => {
            assert_eq!(start.to_string(), "02:30");
            assert!(
                (5..=30).contains(&minutes(*start_max_delay)),
                "{start_max_delay:?}"
            );
        }
        other => panic!("NIGHTLY_LOAD: {other:?}"),
    }
    match &parsed.jobs[3].schedule {
        Schedule::Cron { expression, .. } => assert_eq!(expression.as_str(), "30 6 * * 1-5"),
        other => panic!("WEEKDAY_REPORT: {other:?}"),
    }

    // Fed back, the rules find each history OK throughout; with a run left out, DELAYED.
    for job in [
        "DAYTIME_SYNC",
        "HOURLY_EXPORT",
        "NIGHTLY_LOAD",
        "WEEKDAY_REPORT",
    ] {
        let runs = runs_of[job];
        let judged = replay(&parsed, job, runs, &moments(runs, now));
        let bad: Vec<_> = judged
            .iter()
            .filter(|(_, r, _)| !matches!(r, Reason::Ok | Reason::Running | Reason::Quiet))
            .collect();
        assert!(
            bad.is_empty(),
            "{job}: {} of {} moments not OK, e.g. {:?}",
            bad.len(),
            judged.len(),
            &bad[..bad.len().min(3)]
        );
        // A run from the middle whose neighbours are a usual gap away (not across a pause
        // or a weekend).
        let usual = {
            let mut gaps: Vec<Delta> = runs.windows(2).map(|w| w[1].start - w[0].start).collect();
            gaps.sort();
            gaps[gaps.len() / 2] * 3 / 2
        };
        let k = (runs.len() / 2..runs.len() - 1)
            .find(|&k| {
                runs[k].start - runs[k - 1].start < usual
                    && runs[k + 1].start - runs[k].start < usual
            })
            .unwrap();
        let mut gapped = runs.to_vec();
        let left_out = gapped.remove(k);
        let limit = match &parsed.jobs.iter().find(|j| j.name == job).unwrap().schedule {
            Schedule::Cyclic { interval } => {
                runs[k - 1].start + Delta::from_std(*interval).unwrap()
            }
            // An hour more: where the clocks go back the deadline counts from the second 02:30.
            Schedule::Daily {
                start_max_delay, ..
            }
            | Schedule::Cron {
                start_max_delay, ..
            } => left_out.start + Delta::from_std(*start_max_delay).unwrap() + Delta::hours(1),
        };
        let t = limit + Delta::seconds(60 + 120);
        assert!(t < runs[k + 1].start, "{job}: the next run comes first");
        let judged = replay(&parsed, job, &gapped, &[t]);
        assert_eq!(
            judged[0].1,
            Reason::Delayed,
            "{job} without its run at {}: {:?}",
            left_out.start,
            judged[0]
        );
    }

    // And `check` reports the four jobs OK now.
    let check = tracker(&["check", "-c", combined_path.to_str().unwrap()]);
    assert_ok(&check);
    let lines = stdout(&check);
    assert_eq!(lines.lines().count(), 4, "{lines}");
    for line in lines.lines() {
        assert!(line.starts_with("0 "), "not OK: {line}");
    }
}

/// Inserts `runs` of `job` shifted by `shift`, as add_job and close_job leave them.
fn insert_runs(db: &TestDb, job: &str, runs: &[GenRun], shift: Delta) {
    let epoch = |t: DateTime<Utc>| (t + shift).timestamp_millis() as f64 / 1000.0;
    let starts: Vec<f64> = runs.iter().map(|r| epoch(r.start)).collect();
    let ends: Vec<Option<f64>> = runs.iter().map(|r| r.end.map(epoch)).collect();
    db.connect()
        .execute(
            "INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
             SELECT 'etl', $1, to_timestamp(s), to_timestamp(e),
                    CASE WHEN e IS NULL THEN NULL ELSE 'OK' END, 4242
               FROM unnest($2::float8[], $3::float8[]) AS r(s, e)",
            &[&job, &starts, &ends],
        )
        .expect("insert runs");
}

fn check_job_status(db: &TestDb) -> Vec<(i32, String, Option<String>)> {
    db.connect()
        .query(
            "SELECT alert_code, alert_status, job_name FROM jobmon.check_job_status()",
            &[],
        )
        .expect("check_job_status()")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[test]
fn in_database_histories_get_thresholds_that_check_job_status_keeps_ok_and_missing_once_a_run_is_left_out(
) {
    let now = Utc::now();
    let db = TestDb::new("suggest_in_db");
    // V for each job: a point of its schedule where a missed run is visible to a threshold.
    let after_nightly = {
        let mut d = (now - Delta::hours(12)).with_timezone(&Berlin).date_naive();
        while berlin(d, 2, 30) + Delta::hours(12) > now {
            d = d.pred_opt().unwrap();
        }
        berlin(d, 2, 30) + Delta::hours(12)
    };
    let monday_noon = {
        let mut d = now.with_timezone(&Berlin).date_naive();
        while d.weekday() != Weekday::Mon || berlin(d, 12, 30) > now {
            d = d.pred_opt().unwrap();
        }
        berlin(d, 12, 30)
    };
    let jobs: Vec<(&str, Vec<GenRun>, Delta)> = vec![
        ("HOURLY_DB", hourly(now, 11), Delta::zero()),
        (
            "NIGHTLY_DB",
            nightly(after_nightly, 12),
            now - after_nightly,
        ),
        ("WEEKDAY_DB", weekdays(monday_noon, 13), now - monday_noon),
        ("ODD_DB", irregular(now, 14), Delta::zero()),
    ];
    for (job, runs, shift) in &jobs {
        insert_runs(&db, job, runs, *shift);
    }
    // A role with SELECT rights only: the command needs no more, and so cannot write.
    let reader = db.create_role("suggest_reader", "");
    db.connect()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{reader}\";
             GRANT SELECT ON jobmon.job_log, jobmon.tracker_message, jobmon.job_check_config TO \"{reader}\";"
        ))
        .unwrap();
    let dir = tempdir();
    let config = write_config(dir.path(), &db, &[], "1s", 1000, "10s");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("[global]\n", "[global]\ntime_zone = \"Europe/Berlin\"\n")
        .replace(
            &format!("user = \"{}\"", jobmon_tests::cluster().superuser),
            &format!("user = \"{reader}\""),
        );
    fs::write(&config, &text).unwrap();
    let before = fs::read(&config).unwrap();
    let since = since_for(
        now,
        &jobs
            .iter()
            .map(|(_, r, _)| r.as_slice())
            .collect::<Vec<_>>(),
    );
    let out = tracker(&[
        "config",
        "suggest",
        "-c",
        config.to_str().unwrap(),
        "--since",
        &since,
        "--only",
        "sql",
    ]);
    assert_ok(&out);
    assert_eq!(
        fs::read(&config).unwrap(),
        before,
        "the configuration file changed"
    );
    let sql = stdout(&out);
    assert!(!sql.contains("[[jobs]]"), "--only sql printed TOML:\n{sql}");
    for job in ["HOURLY_DB", "NIGHTLY_DB", "WEEKDAY_DB"] {
        assert_eq!(
            sql.matches(&format!("VALUES ('{job}', ")).count(),
            1,
            "{job}:\n{sql}"
        );
    }
    let odd = block(&sql, "-- ODD_DB:");
    assert!(
        odd.contains("No schedule: the gaps between its starts range from"),
        "{odd}"
    );
    assert!(odd.contains("No thresholds suggested"), "{odd}");
    assert!(!sql.contains("'ODD_DB'"), "{sql}");
    let nothing: i64 = db
        .connect()
        .query_one("SELECT count(*) FROM jobmon.job_check_config", &[])
        .unwrap()
        .get(0);
    assert_eq!(nothing, 0, "suggest wrote to job_check_config");

    // Run as printed: the thresholds fit the schedules...
    db.connect()
        .batch_execute(&sql)
        .expect("the suggested SQL runs");
    let thresholds: BTreeMap<String, (f64, f64)> = db
        .connect()
        .query(
            "SELECT job_name, extract(epoch FROM warn_threshold)::float8 / 3600,
                    extract(epoch FROM error_threshold)::float8 / 3600
               FROM jobmon.job_check_config WHERE active",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(thresholds.len(), 3, "{thresholds:?}");
    let (warn, error) = thresholds["HOURLY_DB"];
    assert!(warn > 1.0 && error > warn && error < 1.6, "{thresholds:?}");
    let (warn, _) = thresholds["NIGHTLY_DB"];
    assert!(
        (25.0..27.0).contains(&warn),
        "a DST change makes a day 25 hours: {thresholds:?}"
    );
    let (warn, _) = thresholds["WEEKDAY_DB"];
    assert!(
        (72.0..80.0).contains(&warn),
        "Friday to Monday: {thresholds:?}"
    );
    // ...check_job_status() gives its OK row on the history...
    assert_eq!(check_job_status(&db), [(1, "OK".to_owned(), None)]);
    // ...and MISSING for each job once its latest run is left out.
    db.connect()
        .batch_execute(
            "DELETE FROM jobmon.job_log l
              WHERE l.job_id IN (SELECT DISTINCT ON (job_name) job_id FROM jobmon.job_log
                                  ORDER BY job_name, start_time DESC)
                AND l.job_name <> 'ODD_DB'",
        )
        .unwrap();
    let missing: Vec<String> = check_job_status(&db)
        .into_iter()
        .filter(|(code, status, _)| *code > 1 && status == "MISSING")
        .filter_map(|(_, _, job)| job)
        .collect();
    assert_eq!(missing, ["HOURLY_DB", "NIGHTLY_DB", "WEEKDAY_DB"]);
}

#[test]
fn suggest_refuses_a_bad_since_and_an_unreadable_database_with_the_reason() {
    let dir = tempdir();
    let config = dir.path().join("tracker.toml");
    fs::write(
        &config,
        "[database]\nhost = \"127.0.0.1\"\nport = 1\ndbname = \"x\"\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let out = tracker(&["config", "suggest", "-c", path, "--since", "5m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("too short"),
        "{out:?}"
    );
    let out = tracker(&["config", "suggest", "-c", path, "--timeout", "5s"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("jobmon-tracker: ") && err.contains("127.0.0.1"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn hostile_job_names_stay_inside_their_strings_and_comments() {
    let now = Utc::now();
    let db = TestDb::new("suggest_names");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    // A line break in a name would end its comment line and make the rest TOML or SQL; the
    // ingest refuses control characters in tracked names (tracker_bad_input), so the
    // tracked one has quotes, brackets, a hash and a backslash.
    let tracked = "EVIL\" ] # [[jobs]] \\ x";
    let in_db = "X'); DROP TABLE jobmon.job_log; --\n; DROP TABLE jobmon.job_log; --\\";
    let runs: Vec<GenRun> = hourly(now, 21).into_iter().rev().take(12).rev().collect();
    write_queue(&queue, &[(tracked, &runs)]);
    insert_runs(&db, in_db, &runs, Delta::zero());
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("app01", &queue, false)],
        "1s",
        1000,
        "10s",
    );
    assert_ok(&run_once(BIN, &config));
    let path = config.to_str().unwrap();
    let out = tracker(&["config", "suggest", "-c", path, "--only", "toml"]);
    assert_ok(&out);
    let toml = stdout(&out);
    let base = fs::read_to_string(&config).unwrap();
    let combined = format!("{base}\n{toml}");
    let parsed = config::parse_toml(&config, &combined)
        .unwrap_or_else(|e| panic!("the suggestions do not parse: {e}\n{toml}"));
    let names: Vec<&str> = parsed.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, [tracked], "{toml}");

    let out = tracker(&["config", "suggest", "-c", path, "--only", "sql"]);
    assert_ok(&out);
    let sql = stdout(&out);
    db.connect()
        .batch_execute(&sql)
        .expect("the suggested SQL runs");
    let mut c = db.connect();
    let runs_left: i64 = c
        .query_one("SELECT count(*) FROM jobmon.job_log", &[])
        .expect("job_log is still there")
        .get(0);
    assert!(runs_left >= 24, "{runs_left}");
    let rows: Vec<String> = c
        .query("SELECT job_name FROM jobmon.job_check_config", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, [in_db], "{sql}");
}
