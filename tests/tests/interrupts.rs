//! cancel_job, and the background connection under interrupts: a logging call stuck on
//! a lock its own caller holds must end within jobmon.lock_timeout, the caller's
//! statement_timeout, pg_cancel_backend or pg_terminate_backend, without crashing; a
//! terminated background session is replaced transparently.

use jobmon_tests::{
    add_job, backend_alive, backend_pid, background_pids, cluster, error_text, exec,
    expect_sqlstate, server_error, shared_mode, wait_until, writer_pids, writers_in_lock_wait,
    TestDb,
};
use postgres::error::SqlState;
use postgres::Client;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A call running in its own thread: its elapsed time and outcome when joined.
type RunningCall = JoinHandle<(Duration, Result<(), postgres::Error>)>;

/// Runs `sql` on `client` in a thread; the result is the elapsed time and the outcome.
fn spawn_call(mut client: Client, sql: &'static str) -> RunningCall {
    std::thread::spawn(move || {
        let start = Instant::now();
        let r = client.batch_execute(sql);
        (start.elapsed(), r)
    })
}

/// Waits until the background session serving `caller_pid` (shared mode: a writer of
/// the observer's database) waits for a lock.
fn wait_for_background_lock_wait(observer: &mut Client, caller_pid: i32) -> bool {
    if shared_mode() {
        return wait_until(Duration::from_secs(10), || {
            writers_in_lock_wait(observer) > 0
        });
    }
    wait_until(Duration::from_secs(10), || {
        observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE application_name ~ $1 AND pid <> $2 AND wait_event_type = 'Lock'",
                &[
                    &jobmon_tests::background_app_pattern(caller_pid),
                    &caller_pid,
                ],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    })
}

/// A caller that holds ACCESS EXCLUSIVE on job_log in an open transaction and then calls
/// `sql` (with no lock bound), so that its own background session waits for that lock
/// forever; returns once that wait is observed, with the caller's pid and its running call.
fn call_blocked_by_its_own_lock(
    db: &TestDb,
    observer: &mut Client,
    sql: &'static str,
) -> (i32, RunningCall) {
    let mut caller = db.connect();
    let caller_pid = backend_pid(&mut caller);
    exec(
        &mut caller,
        "SET jobmon.lock_timeout = 0;
         BEGIN;
         LOCK TABLE jobmon.job_log IN ACCESS EXCLUSIVE MODE;",
    );
    let call = spawn_call(caller, sql);
    let waiting = wait_for_background_lock_wait(observer, caller_pid);
    assert!(
        !call.is_finished(),
        "the call ended before it was interrupted"
    );
    assert!(
        waiting,
        "no background session of {caller_pid} waits for the lock"
    );
    (caller_pid, call)
}

#[test]
fn cancel_job_cancels_the_job_running_in_another_session_and_records_the_cancel_step() {
    let db = TestDb::new("int_cancel_job");
    let mut c = db.connect();
    let mut worker = db.connect();
    let worker_pid = backend_pid(&mut worker);
    let job = add_job(&mut worker, "victim");
    let step: i64 = worker
        .query_one(
            "SELECT jobmon.add_step($1, 'sleeping a long time')",
            &[&job],
        )
        .unwrap()
        .get(0);
    let sleeping = spawn_call(worker, "SELECT pg_sleep(120)");
    assert!(
        wait_until(Duration::from_secs(10), || {
            c.query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'PgSleep'",
                &[&worker_pid],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
        }),
        "the worker never started sleeping"
    );
    let cancelled: bool = c
        .query_one("SELECT jobmon.cancel_job($1)", &[&job])
        .unwrap_or_else(|e| panic!("cancel_job: {}", error_text(&e)))
        .get(0);
    assert!(cancelled);
    let (elapsed, result) = sleeping.join().expect("worker thread");
    expect_sqlstate(result, SqlState::QUERY_CANCELED);
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");

    let r = c
        .query_one(
            "SELECT status, end_time IS NOT NULL FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap();
    assert_eq!(r.get::<_, Option<String>>(0).as_deref(), Some("CRITICAL"));
    assert!(r.get::<_, bool>(1));
    let s = c
        .query_one(
            "SELECT status, message, end_time IS NOT NULL FROM jobmon.job_detail WHERE step_id = $1",
            &[&step],
        )
        .unwrap();
    assert_eq!(s.get::<_, Option<String>>(0).as_deref(), Some("CRITICAL"));
    assert_eq!(
        s.get::<_, Option<String>>(1),
        Some(format!(
            "Manually cancelled via call to jobmon.cancel_job() by {}",
            cluster().superuser
        ))
    );
    assert!(s.get::<_, bool>(2));
}

#[test]
fn logging_call_blocked_by_a_lock_its_caller_holds_errors_within_jobmon_lock_timeout() {
    let db = TestDb::new("int_lock_timeout");
    let mark = cluster().log_mark();
    let mut c = db.connect();
    exec(
        &mut c,
        "SET jobmon.lock_timeout = 1000;
         BEGIN;
         LOCK TABLE jobmon.job_log IN ACCESS EXCLUSIVE MODE;",
    );
    let start = Instant::now();
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('self deadlock')", &[]),
        SqlState::LOCK_NOT_AVAILABLE,
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "ERROR came after {elapsed:?}: {err:?}"
    );
    exec(&mut c, "ROLLBACK");
    // The session and its background connection still work.
    let id = add_job(&mut c, "after the error");
    assert!(id > 0);
    mark.assert_no_crash_since();
}

#[test]
fn statement_timeout_cancels_a_logging_call_blocked_by_its_callers_lock() {
    let db = TestDb::new("int_statement_timeout");
    let mark = cluster().log_mark();
    let mut c = db.connect();
    exec(
        &mut c,
        "SET jobmon.lock_timeout = 0;
         SET statement_timeout = 500;
         BEGIN;
         LOCK TABLE jobmon.job_log IN ACCESS EXCLUSIVE MODE;",
    );
    let start = Instant::now();
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('waits forever')", &[]),
        SqlState::QUERY_CANCELED,
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(4),
        "cancelled after {elapsed:?}: {err:?}"
    );
    exec(&mut c, "ROLLBACK; RESET statement_timeout;");
    let id = add_job(&mut c, "after the timeout");
    let name: String = c
        .query_one(
            "SELECT job_name FROM jobmon.job_log WHERE job_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(name, "AFTER THE TIMEOUT");
    let stray: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'WAITS FOREVER'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stray, 0,
        "a cancelled add_job must not commit its row later"
    );
    mark.assert_no_crash_since();
}

#[test]
fn pg_cancel_backend_of_the_caller_ends_a_blocked_logging_call() {
    let db = TestDb::new("int_cancel_caller");
    let mark = cluster().log_mark();
    let mut observer = db.connect();
    let (caller_pid, call) =
        call_blocked_by_its_own_lock(&db, &mut observer, "SELECT jobmon.add_job('cancel me')");
    let sent = Instant::now();
    let signalled: bool = observer
        .query_one("SELECT pg_cancel_backend($1)", &[&caller_pid])
        .unwrap()
        .get(0);
    assert!(signalled);
    let (_, result) = call.join().expect("caller thread");
    let after_cancel = sent.elapsed();
    expect_sqlstate(result, SqlState::QUERY_CANCELED);
    assert!(
        after_cancel < Duration::from_secs(4),
        "ended {after_cancel:?} after the cancel"
    );
    mark.assert_no_crash_since();
}

#[test]
fn pg_terminate_backend_of_the_caller_ends_a_blocked_logging_call_without_a_crash() {
    let db = TestDb::new("int_terminate_caller");
    let mark = cluster().log_mark();
    let mut observer = db.connect();
    let (caller_pid, call) =
        call_blocked_by_its_own_lock(&db, &mut observer, "SELECT jobmon.add_job('terminate me')");
    let background = background_pids(&mut observer, caller_pid);
    let sent = Instant::now();
    let signalled: bool = observer
        .query_one("SELECT pg_terminate_backend($1)", &[&caller_pid])
        .unwrap()
        .get(0);
    assert!(signalled);
    let (_, result) = call.join().expect("caller thread");
    let after_terminate = sent.elapsed();
    assert!(result.is_err(), "the terminated call succeeded");
    assert!(
        after_terminate < Duration::from_secs(4),
        "ended {after_terminate:?} after pg_terminate_backend"
    );
    // The caller and its background session go away, and the lock with them.
    assert!(
        wait_until(Duration::from_secs(10), || {
            !backend_alive(&mut observer, caller_pid)
                && background
                    .iter()
                    .all(|pid| !backend_alive(&mut observer, *pid))
        }),
        "caller {caller_pid} or background sessions {background:?} still there"
    );
    exec(&mut observer, "SET jobmon.lock_timeout = 3000");
    let id = add_job(&mut observer, "after the terminate");
    assert!(id > 0);
    let stray: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'TERMINATE ME'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stray, 0);
    // Give the postmaster time to log a crash if there was one.
    std::thread::sleep(Duration::from_millis(500));
    mark.assert_no_crash_since();
}

/// The process that writes for a session (its background session, or in the shared mode
/// the writers) is terminated twice between calls: each next call just works.
#[test]
fn terminated_background_session_is_replaced_transparently_on_the_next_call() {
    let db = TestDb::new("int_reconnect");
    let mark = cluster().log_mark();
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    let job = add_job(&mut c, "reconnecting");
    // The background session of the caller, or the writers connected to the database
    // (one may have left for another test's database since the last call: the observer's
    // own call brings one back).
    let writing = |observer: &mut Client, round: usize| {
        if shared_mode() {
            for _ in 0..20 {
                let pids = writer_pids(observer);
                if !pids.is_empty() {
                    return pids;
                }
                add_job(observer, "a writer for this database");
            }
            return Vec::new();
        }
        let pids = background_pids(observer, pid);
        assert_eq!(pids.len(), 1, "round {round}: background sessions {pids:?}");
        pids
    };
    for round in 0..2 {
        let before = writing(&mut observer, round);
        assert!(!before.is_empty(), "round {round}: no writer process");
        for victim in &before {
            let killed: bool = observer
                .query_one("SELECT pg_terminate_backend($1)", &[victim])
                .unwrap()
                .get(0);
            assert!(killed);
        }
        assert!(
            wait_until(Duration::from_secs(10), || before
                .iter()
                .all(|p| !backend_alive(&mut observer, *p))),
            "processes {before:?} did not exit"
        );
        let step: i64 = c
            .query_one("SELECT jobmon.add_step($1, 'after a terminate')", &[&job])
            .unwrap_or_else(|e| panic!("round {round}: add_step: {}", error_text(&e)))
            .get(0);
        assert!(step > 0);
        let after = writing(&mut observer, round);
        assert!(
            after.iter().all(|p| !before.contains(p)),
            "{before:?} -> {after:?}"
        );
    }
    c.execute("SELECT jobmon.close_job($1)", &[&job]).unwrap();
    let steps: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE job_id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(steps, 2);
    mark.assert_no_crash_since();
}

#[test]
fn add_step_blocked_by_the_callers_lock_on_job_detail_fails_with_lock_not_available() {
    let db = TestDb::new("int_lock_timeout_detail");
    let mut c = db.connect();
    let job = add_job(&mut c, "holder");
    exec(
        &mut c,
        "SET jobmon.lock_timeout = 500;
         BEGIN;
         LOCK TABLE jobmon.job_detail IN ACCESS EXCLUSIVE MODE;",
    );
    let err = server_error(c.query_one("SELECT jobmon.add_step($1, 'blocked step')", &[&job]));
    assert_eq!(err.code, "55P03", "{err:?}");
    exec(&mut c, "ROLLBACK");
    let n: i64 = c
        .query_one("SELECT count(*) FROM jobmon.job_detail", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}
