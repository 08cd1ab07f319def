//! Life cycle of the background session (opened once, reused, closed with its caller,
//! never a crash over many sessions) and pg_dump/restore of the history.

use jobmon_tests::{
    add_job, backend_alive, backend_pid, background_pids, background_pids_in_db, cluster,
    error_text, exec, jobmon_client_backends, psql_file, shared_mode, wait_until, TestDb,
};
use postgres::Client;
use std::time::Duration;

#[test]
fn background_connection_is_opened_once_per_session_and_reused() {
    let db = TestDb::new("sess_reuse");
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    assert!(
        background_pids(&mut observer, pid).is_empty(),
        "opened before the first call"
    );
    let job = add_job(&mut c, "reuse");
    let first = background_pids(&mut observer, pid);
    if shared_mode() {
        // The writers write: the session has no connection of its own, ever.
        assert!(first.is_empty(), "background sessions: {first:?}");
    } else {
        assert_eq!(first.len(), 1, "background sessions: {first:?}");
    }
    for i in 0..20 {
        let step: i64 = c
            .query_one(
                "SELECT jobmon.add_step($1, $2)",
                &[&job, &format!("step {i}")],
            )
            .unwrap()
            .get(0);
        c.execute("SELECT jobmon.update_step($1, 'OK', 'fine')", &[&step])
            .unwrap();
    }
    c.execute("SELECT jobmon.close_job($1)", &[&job]).unwrap();
    assert_eq!(background_pids(&mut observer, pid), first);
    let steps: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE job_id = $1 AND status = 'OK'",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(steps, 20);
    if shared_mode() {
        assert_eq!(jobmon_client_backends(&mut observer), 0);
        return;
    }
    let r = observer
        .query_one(
            "SELECT application_name, datname::text FROM pg_stat_activity WHERE pid = $1",
            &[&first[0]],
        )
        .unwrap();
    let app: String = r.get(0);
    assert!(app.starts_with("pg_jobmon"), "application_name {app:?}");
    assert!(app.contains(&pid.to_string()), "application_name {app:?}");
    assert_eq!(
        r.get::<_, String>(1),
        db.name,
        "connected to another database"
    );
}

#[test]
fn background_session_ends_when_its_caller_disconnects() {
    let db = TestDb::new("sess_close");
    let mut observer = db.connect();
    let mark = cluster().log_mark();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    add_job(&mut c, "short session");
    let bg = background_pids(&mut observer, pid);
    if shared_mode() {
        // Nothing of the session's own to end: the writers stay for the next sessions.
        assert!(bg.is_empty(), "background sessions: {bg:?}");
        assert_eq!(jobmon_client_backends(&mut observer), 0);
        drop(c);
        assert!(wait_until(Duration::from_secs(5), || !backend_alive(
            &mut observer,
            pid
        )));
        mark.assert_no_crash_since();
        return;
    }
    assert_eq!(bg.len(), 1);
    drop(c);
    assert!(
        wait_until(Duration::from_secs(5), || !backend_alive(
            &mut observer,
            bg[0]
        )),
        "background session {} outlived its caller",
        bg[0]
    );
    mark.assert_no_crash_since();
    // Closed from the exit callback without an error of its own.
    let tag = format!("[{pid}]");
    let errors: Vec<String> = mark
        .text_since()
        .lines()
        .filter(|l| l.contains(&tag) && (l.contains("ERROR") || l.contains("FATAL")))
        .map(str::to_string)
        .collect();
    assert!(errors.is_empty(), "the caller's exit logged: {errors:?}");
}

#[test]
fn five_hundred_sessions_logging_one_job_each_leave_no_crash_and_no_background_session() {
    let db = TestDb::new("sess_five_hundred");
    let mark = cluster().log_mark();
    for i in 0..500 {
        let mut c = db.connect();
        let id = add_job(&mut c, &format!("session {i}"));
        assert!(id > 0);
        drop(c);
    }
    let mut observer = db.connect();
    let jobs: i64 = observer
        .query_one(
            "SELECT count(DISTINCT pid) FROM jobmon.job_log WHERE job_name LIKE 'SESSION %'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(jobs > 1, "all jobs claim one pid");
    let total: i64 = observer
        .query_one("SELECT count(*) FROM jobmon.job_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(total, 500);
    let mut left = Vec::new();
    let gone = wait_until(Duration::from_secs(5), || {
        left = background_pids_in_db(&mut observer, &db.name);
        left.is_empty()
    });
    assert!(gone, "background sessions left behind: {left:?}");
    mark.assert_no_crash_since();
    cluster().assert_log_has_no_crash();
}

/// Every row of a table as text, in primary key order.
fn rows(c: &mut Client, table: &str, order: &str) -> Vec<String> {
    let sql = format!("SELECT t::text FROM jobmon.{table} t ORDER BY {order}");
    c.query(sql.as_str(), &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

const DUMPED: &[(&str, &str)] = &[
    ("job_log", "job_id"),
    ("job_detail", "step_id"),
    ("job_check_log", "job_id, job_name, alert_code"),
    ("job_check_config", "job_name"),
    ("job_status_text", "alert_code"),
];

#[test]
fn pg_dump_and_restore_keep_history_configuration_and_id_sequences() {
    let source = TestDb::new("dump_source");
    let mut c = source.connect();
    for i in 0..5 {
        let job = add_job(&mut c, &format!("dumped job {}", i % 2));
        let step: i64 = c
            .query_one("SELECT jobmon.add_step($1, 'work')", &[&job])
            .unwrap()
            .get(0);
        c.execute(
            "SELECT jobmon.update_step($1, 'OK', 'it''s done')",
            &[&step],
        )
        .unwrap();
        if i == 3 {
            c.execute("SELECT jobmon.fail_job($1)", &[&job]).unwrap();
        } else if i != 4 {
            c.execute("SELECT jobmon.close_job($1)", &[&job]).unwrap();
        }
    }
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active, sensitivity)
         VALUES ('DUMPED JOB 0', '1 day', '2 days', true, 1),
                ('DUMPED JOB 1', '3 hours', '6 hours', false, 0);
         INSERT INTO jobmon.job_status_text (alert_code, alert_text) VALUES (4, 'UNKNOWN');",
    );
    let before: Vec<Vec<String>> = DUMPED.iter().map(|(t, o)| rows(&mut c, t, o)).collect();
    assert_eq!(before[0].len(), 5);
    assert_eq!(before[1].len(), 5);
    assert_eq!(before[2].len(), 1, "the failed run is in job_check_log");
    drop(c);

    let dump = cluster().file(&format!("{}.sql", source.name));
    let dump_arg = dump.to_string_lossy().into_owned();
    cluster()
        .run_client_tool("pg_dump", &["-f", &dump_arg, &source.name])
        .unwrap_or_else(|e| panic!("{e}"));

    let target = TestDb::empty("dump_target");
    psql_file(&target.name, &dump).unwrap_or_else(|e| panic!("restore failed: {e}"));
    let mut r = target.connect();
    let after: Vec<Vec<String>> = DUMPED.iter().map(|(t, o)| rows(&mut r, t, o)).collect();
    for (i, (table, _)) in DUMPED.iter().enumerate() {
        assert_eq!(after[i], before[i], "rows of jobmon.{table} after restore");
    }

    let max_job: i64 = r
        .query_one("SELECT max(job_id) FROM jobmon.job_log", &[])
        .unwrap()
        .get(0);
    let max_step: i64 = r
        .query_one("SELECT max(step_id) FROM jobmon.job_detail", &[])
        .unwrap()
        .get(0);
    let new_job = add_job(&mut r, "after restore");
    assert!(
        new_job > max_job,
        "new job id {new_job} <= restored {max_job}"
    );
    let new_step: i64 = r
        .query_one("SELECT jobmon.add_step($1, 'after restore')", &[&new_job])
        .unwrap_or_else(|e| panic!("add_step after restore: {}", error_text(&e)))
        .get(0);
    assert!(
        new_step > max_step,
        "new step id {new_step} <= restored {max_step}"
    );
    let _ = std::fs::remove_file(&dump);
}
