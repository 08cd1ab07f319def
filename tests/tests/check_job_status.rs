//! check_job_status() as Nagios sees it, and the triggers that feed it (consecutive
//! failure bookkeeping, escalation).

use jobmon_tests::{add_job, backend_pid, error_text, exec, server_error, wait_until, TestDb};
use postgres::Client;
use std::time::Duration;

type StatusRow = (i32, String, Option<String>, String);

fn status(c: &mut Client, call: &str) -> Vec<StatusRow> {
    let sql = format!("SELECT alert_code, alert_status, job_name, alert_text FROM {call}");
    c.query(sql.as_str(), &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

fn row(code: i32, status: &str, job: &str, text: &str) -> StatusRow {
    (code, status.into(), Some(job.into()), text.into())
}

fn ok_row() -> StatusRow {
    (1, "OK".into(), None, "All jobs run successfully".into())
}

/// Runs a job to its end: `level` 1 closes it, 2 or 3 fails it at that level.
fn run_job(c: &mut Client, name: &str, level: i32) -> i64 {
    let id = add_job(c, name);
    let sql = if level == 1 {
        "SELECT jobmon.close_job($1)"
    } else {
        "SELECT jobmon.fail_job($1, $2::int)"
    };
    let res = if level == 1 {
        c.execute(sql, &[&id])
    } else {
        c.execute(sql, &[&id, &level])
    };
    res.unwrap_or_else(|e| panic!("{sql} for {name}: {}", error_text(&e)));
    id
}

fn text_of(c: &mut Client, sql: &str) -> String {
    c.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

#[test]
fn nothing_wrong_yields_the_single_ok_row() {
    let db = TestDb::new("cjs_ok");
    let mut c = db.connect();
    assert_eq!(status(&mut c, "jobmon.check_job_status()"), vec![ok_row()]);
    run_job(&mut c, "fine job", 1);
    run_job(&mut c, "failed once", 3);
    assert_eq!(status(&mut c, "jobmon.check_job_status()"), vec![ok_row()]);
    assert_eq!(
        status(&mut c, "jobmon.check_job_status('3 days')"),
        vec![ok_row()]
    );
}

#[test]
fn three_consecutive_failures_of_an_unconfigured_job_are_a_failed_run() {
    let db = TestDb::new("cjs_three_failures");
    let mut c = db.connect();
    run_job(&mut c, "flaky", 3);
    run_job(&mut c, "flaky", 3);
    run_job(&mut c, "warny", 2);
    run_job(&mut c, "warny", 2);
    assert_eq!(status(&mut c, "jobmon.check_job_status()"), vec![ok_row()]);
    run_job(&mut c, "flaky", 3);
    run_job(&mut c, "warny", 2);
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![
            row(3, "FAILED_RUN", "FLAKY", "3 consecutive CRITICAL runs"),
            row(2, "FAILED_RUN", "WARNY", "3 consecutive WARNING runs"),
        ]
    );
}

#[test]
fn a_successful_run_resets_the_consecutive_failure_count() {
    let db = TestDb::new("cjs_success_clears");
    let mut c = db.connect();
    run_job(&mut c, "bumpy", 3);
    run_job(&mut c, "bumpy", 3);
    run_job(&mut c, "bumpy", 1);
    run_job(&mut c, "bumpy", 3);
    run_job(&mut c, "bumpy", 3);
    assert_eq!(status(&mut c, "jobmon.check_job_status()"), vec![ok_row()]);
    run_job(&mut c, "bumpy", 3);
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(3, "FAILED_RUN", "BUMPY", "3 consecutive CRITICAL runs")]
    );
}

#[test]
fn status_trigger_logs_alerts_and_clears_them_on_success() {
    let db = TestDb::new("cjs_trigger");
    let mut c = db.connect();
    let j1 = run_job(&mut c, "tracked", 3);
    let j2 = run_job(&mut c, "tracked", 2);
    let other = run_job(&mut c, "untouched", 3);
    let read = |c: &mut Client| -> Vec<(i64, String, i32)> {
        c.query(
            "SELECT job_id, job_name, alert_code FROM jobmon.job_check_log ORDER BY job_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    assert_eq!(
        read(&mut c),
        vec![
            (j1, "TRACKED".to_string(), 3),
            (j2, "TRACKED".to_string(), 2),
            (other, "UNTOUCHED".to_string(), 3)
        ]
    );
    // A status text that is not in job_status_text changes nothing.
    let j3 = add_job(&mut c, "tracked");
    c.execute(
        "UPDATE jobmon.job_log SET status = 'SOMETHING ELSE', end_time = now() WHERE job_id = $1",
        &[&j3],
    )
    .unwrap();
    assert_eq!(read(&mut c).len(), 3);
    run_job(&mut c, "tracked", 1);
    assert_eq!(read(&mut c), vec![(other, "UNTOUCHED".to_string(), 3)]);
}

#[test]
fn configured_sensitivity_sets_how_many_failures_are_tolerated() {
    let db = TestDb::new("cjs_sensitivity");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active, sensitivity)
         VALUES ('SENSITIVE', '1 hour', '2 hours', true, 1),
                ('TOUCHY', '1 hour', '2 hours', true, 0)",
    );
    run_job(&mut c, "touchy", 1);
    run_job(&mut c, "sensitive", 3);
    assert_eq!(status(&mut c, "jobmon.check_job_status()"), vec![ok_row()]);
    run_job(&mut c, "sensitive", 3);
    run_job(&mut c, "touchy", 2);
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![
            row(3, "FAILED_RUN", "SENSITIVE", "2 CRITICAL run(s)"),
            row(2, "FAILED_RUN", "TOUCHY", "1 WARNING run(s)"),
        ]
    );
    run_job(&mut c, "sensitive", 1);
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(2, "FAILED_RUN", "TOUCHY", "1 WARNING run(s)")]
    );
}

#[test]
fn configured_job_not_started_within_warn_threshold_is_missing_warning() {
    let db = TestDb::new("cjs_missing_warn");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('LATE', '1 hour', '3 hours', true), ('PUNCTUAL', '1 hour', '3 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'LATE', now() - interval '150 minutes', now() - interval '140 minutes', 'OK', 0),
           ('postgres', 'LATE', now() - interval '90 minutes', now() - interval '85 minutes', 'OK', 0),
           ('postgres', 'PUNCTUAL', now() - interval '10 minutes', now() - interval '9 minutes', 'OK', 0);",
    );
    let expected = text_of(
        &mut c,
        "SELECT 'Last completed run: ' || max(end_time) FROM jobmon.job_log WHERE job_name = 'LATE'",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(2, "MISSING", "LATE", &expected)]
    );
}

#[test]
fn configured_job_not_started_within_error_threshold_is_missing_critical() {
    let db = TestDb::new("cjs_missing_error");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('VERY LATE', '1 hour', '3 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'VERY LATE', now() - interval '4 hours', now() - interval '235 minutes', 'OK', 0);",
    );
    let expected = text_of(
        &mut c,
        "SELECT 'Last completed run: ' || max(end_time) FROM jobmon.job_log WHERE job_name = 'VERY LATE'",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status('1 day')"),
        vec![row(3, "MISSING", "VERY LATE", &expected)]
    );
    // The default history is the longest threshold (3 hours): the run is outside it.
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(
            3,
            "MISSING",
            "VERY LATE",
            "Has not completed a run since highest configured monitoring time period"
        )]
    );
}

#[test]
fn configured_job_that_never_ran_is_missing_critical_and_inactive_ones_are_ignored() {
    let db = TestDb::new("cjs_never_ran");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('NEVER', '1 hour', '2 hours', true), ('DORMANT', '1 hour', '2 hours', false)",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(
            3,
            "MISSING",
            "NEVER",
            "Has not completed a run since highest configured monitoring time period"
        )]
    );
}

/// Polls check_job_status() until it returns `expected` (thresholds of a second make
/// jobs late in real time); returns what it last saw.
fn wait_for_status(c: &mut Client, expected: &[StatusRow]) -> Vec<StatusRow> {
    let mut last = Vec::new();
    wait_until(Duration::from_secs(10), || {
        last = status(c, "jobmon.check_job_status()");
        last == expected
    });
    last
}

#[test]
fn configured_job_still_running_past_its_threshold_is_reported_running() {
    let db = TestDb::new("cjs_running");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('LONGRUN', '1 second', '1 hour', true), ('LONGRUN2', '1 second', '1 hour', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'LONGRUN2', now() - interval '30 minutes', now() - interval '29 minutes', 'OK', 0);",
    );
    // Both jobs are started by a session that stays connected and never ends them.
    let mut worker = db.connect();
    add_job(&mut worker, "longrun");
    add_job(&mut worker, "longrun2");
    let last = text_of(
        &mut c,
        "SELECT 'Currently running. Last completed run: ' || max(end_time)
           FROM jobmon.job_log WHERE job_name = 'LONGRUN2'",
    );
    let expected = vec![
        row(
            2,
            "RUNNING",
            "LONGRUN",
            "Currently running. Job has not had a completed run within configured monitoring time period.",
        ),
        row(2, "RUNNING", "LONGRUN2", &last),
    ];
    assert_eq!(wait_for_status(&mut c, &expected), expected);
    // Once the session is gone the jobs are just missing.
    drop(worker);
    let mut last_seen = Vec::new();
    let gone = wait_until(Duration::from_secs(10), || {
        last_seen = status(&mut c, "jobmon.check_job_status()");
        last_seen.len() == 2 && last_seen.iter().all(|r| r.1 == "MISSING")
    });
    assert!(gone, "not reported missing: {last_seen:?}");
}

#[test]
fn configured_job_waiting_on_a_lock_is_reported_blocked() {
    let db = TestDb::new("cjs_blocked");
    let mut c = db.connect();
    exec(
        &mut c,
        "CREATE TABLE public.contended (n int);
         INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('BLOCKEDJOB', '1 second', '1 hour', true);",
    );
    let mut blocker = db.connect();
    exec(
        &mut blocker,
        "BEGIN; LOCK TABLE public.contended IN ACCESS EXCLUSIVE MODE;",
    );
    let mut worker = db.connect();
    let worker_pid = backend_pid(&mut worker);
    add_job(&mut worker, "blockedjob");
    let waiting = std::thread::spawn(move || {
        let r = worker.query_one("SELECT count(*) FROM public.contended", &[]);
        r.map(|row| row.get::<_, i64>(0))
            .map_err(|e| error_text(&e))
    });
    assert!(
        wait_until(Duration::from_secs(10), || {
            c.query_one(
                "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted",
                &[&worker_pid],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
        }),
        "the job's session never waited for the lock"
    );
    let expected = vec![row(
        2,
        "BLOCKED",
        "BLOCKEDJOB",
        "Another transaction has a lock that blocking this job from completing",
    )];
    let rows = wait_for_status(&mut c, &expected);
    exec(&mut blocker, "COMMIT");
    let counted = waiting.join().expect("worker thread");
    assert_eq!(counted, Ok(0));
    assert_eq!(rows, expected);
}

#[test]
fn escalation_raises_the_alert_code_after_the_configured_number_of_alerts() {
    let db = TestDb::new("cjs_escalate");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active, sensitivity, escalate)
         VALUES ('ESC', '1 day', '2 days', true, 0, 2)",
    );
    let j1 = run_job(&mut c, "esc", 2);
    let j2 = run_job(&mut c, "esc", 2);
    let logged: Vec<(i64, i32)> = c
        .query(
            "SELECT job_id, alert_code FROM jobmon.job_check_log ORDER BY job_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(logged, vec![(j1, 2), (j2, 3)]);
    let st: Option<String> = c
        .query_one(
            "SELECT status FROM jobmon.job_log WHERE job_id = $1",
            &[&j2],
        )
        .unwrap()
        .get(0);
    assert_eq!(st.as_deref(), Some("ESCALATED"));
    let escalation_steps: Vec<(String, Option<String>)> = c
        .query(
            "SELECT action, status FROM jobmon.job_detail WHERE job_id = $1 ORDER BY step_id",
            &[&j2],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        escalation_steps,
        vec![("ALERT ESCALATION".to_string(), Some("ESCALATE".to_string()))]
    );
    let st1: Option<String> = c
        .query_one(
            "SELECT status FROM jobmon.job_log WHERE job_id = $1",
            &[&j1],
        )
        .unwrap()
        .get(0);
    assert_eq!(st1.as_deref(), Some("WARNING"));
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![
            row(3, "FAILED_RUN", "ESC", "1 CRITICAL run(s)"),
            row(2, "FAILED_RUN", "ESC", "1 WARNING run(s)"),
        ]
    );
}

#[test]
fn history_shorter_than_the_longest_threshold_is_rejected() {
    let db = TestDb::new("cjs_history_short");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('WEEKLY', '1 day', '8 days', true)",
    );
    let err = server_error(c.query("SELECT * FROM jobmon.check_job_status('1 day')", &[]));
    assert_eq!(
        err.message,
        "Input argument must be greater than or equal to the longest threshold in job_check_config table"
    );
    // Exactly the longest threshold is accepted.
    let rows = status(&mut c, "jobmon.check_job_status('8 days')");
    assert_eq!(
        rows,
        vec![row(
            3,
            "MISSING",
            "WEEKLY",
            "Has not completed a run since highest configured monitoring time period"
        )]
    );
}

#[test]
fn rows_are_ordered_by_alert_code_descending_then_job_name() {
    let db = TestDb::new("cjs_order");
    let mut c = db.connect();
    for _ in 0..3 {
        run_job(&mut c, "zed", 3);
        run_job(&mut c, "mid", 2);
        run_job(&mut c, "alpha", 3);
    }
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('BETA', '1 hour', '2 hours', true)",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![
            row(3, "FAILED_RUN", "ALPHA", "3 consecutive CRITICAL runs"),
            row(
                3,
                "MISSING",
                "BETA",
                "Has not completed a run since highest configured monitoring time period"
            ),
            row(3, "FAILED_RUN", "ZED", "3 consecutive CRITICAL runs"),
            row(2, "FAILED_RUN", "MID", "3 consecutive WARNING runs"),
        ]
    );
}

#[test]
fn check_job_status_works_in_a_read_only_transaction() {
    let db = TestDb::new("cjs_read_only");
    let mut c = db.connect();
    for _ in 0..3 {
        run_job(&mut c, "broken", 3);
    }
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('NEVER', '1 hour', '2 hours', true)",
    );
    exec(&mut c, "BEGIN TRANSACTION READ ONLY");
    let with_arg = status(&mut c, "jobmon.check_job_status('1 day')");
    let default = status(&mut c, "jobmon.check_job_status()");
    exec(&mut c, "COMMIT");
    let expected = vec![
        row(3, "FAILED_RUN", "BROKEN", "3 consecutive CRITICAL runs"),
        row(
            3,
            "MISSING",
            "NEVER",
            "Has not completed a run since highest configured monitoring time period",
        ),
    ];
    assert_eq!(with_arg, expected);
    assert_eq!(default, expected);
    let temp_tables: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relpersistence = 't'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(temp_tables, 0);
}

#[test]
fn missing_job_reports_the_last_end_in_the_window_even_from_an_earlier_longer_run() {
    let db = TestDb::new("cjs_last_end");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('OVERRUN', '1 hour', '3 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'OVERRUN', now() - interval '150 minutes', now() - interval '80 minutes', 'OK', 0),
           ('postgres', 'OVERRUN', now() - interval '90 minutes', now() - interval '85 minutes', 'OK', 0);",
    );
    // The later run started last but the earlier one ended last.
    let expected = text_of(
        &mut c,
        "SELECT 'Last completed run: ' || end_time FROM jobmon.job_log
          WHERE job_name = 'OVERRUN' ORDER BY start_time LIMIT 1",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(2, "MISSING", "OVERRUN", &expected)]
    );
}

#[test]
fn thresholds_in_months_compare_as_30_days() {
    let db = TestDb::new("cjs_months");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('MONTHLY ON TIME', '1 mon', '2 mons', true),
                ('MONTHLY LATE', '1 mon', '2 mons', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'MONTHLY ON TIME', now() - interval '29 days 12 hours',
            now() - interval '29 days 11 hours', 'OK', 0),
           ('postgres', 'MONTHLY LATE', now() - interval '30 days 12 hours',
            now() - interval '30 days 11 hours', 'OK', 0);",
    );
    // now() - start is compared with '1 mon' as 30 days, whatever the calendar month.
    let expected = text_of(
        &mut c,
        "SELECT 'Last completed run: ' || end_time FROM jobmon.job_log
          WHERE job_name = 'MONTHLY LATE'",
    );
    assert_eq!(
        status(&mut c, "jobmon.check_job_status()"),
        vec![row(2, "MISSING", "MONTHLY LATE", &expected)]
    );
}

#[test]
fn an_earlier_run_still_running_makes_a_late_job_running_after_a_later_run_finished() {
    let db = TestDb::new("cjs_overlap");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('OVERLAP', '1 second', '1 hour', true)",
    );
    // A session starts a run and stays connected without ending it; a later run finishes.
    let mut worker = db.connect();
    add_job(&mut worker, "overlap");
    exec(
        &mut c,
        "INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
         VALUES ('postgres', 'OVERLAP', clock_timestamp(), clock_timestamp(), 'OK', 0)",
    );
    let last = text_of(
        &mut c,
        "SELECT 'Currently running. Last completed run: ' || max(end_time)
           FROM jobmon.job_log WHERE job_name = 'OVERLAP'",
    );
    let expected = vec![row(2, "RUNNING", "OVERLAP", &last)];
    assert_eq!(wait_for_status(&mut c, &expected), expected);
}
