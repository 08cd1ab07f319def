//! The shared mode's own behaviour (a cluster with `shared_preload_libraries =
//! 'pg_jobmon'`, `max_connections = 100`, whatever JOBMON_TEST_MODE says): no client
//! connection used by logging, many sessions on few writers, group commit with one
//! failing request among others, a caller terminated while its request is queued, a
//! writer killed mid-batch, and jobmon.wait_for_commit = off.

use jobmon_tests::{
    add_job, backend_alive, backend_pid, cluster, configure_cluster, error_text, exec,
    expect_sqlstate, jobmon_client_backends, server_error, wait_until, writer_pids,
    writers_in_lock_wait, ClusterSettings, TestDb, WRITER_BACKEND_TYPE,
};
use postgres::error::SqlState;
use postgres::Client;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Tests that occupy every writer, restart the cluster or fill max_connections run alone;
/// the others share.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn setup() {
    configure_cluster(ClusterSettings {
        shared: true,
        conf: "max_connections = 100\ntrack_commit_timestamp = on\n",
    });
}

fn shared() -> RwLockReadGuard<'static, ()> {
    setup();
    EXCLUSIVE.read().unwrap_or_else(|p| p.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    setup();
    EXCLUSIVE.write().unwrap_or_else(|p| p.into_inner())
}

fn writers(c: &mut Client) -> usize {
    let n: String = c.query_one("SHOW jobmon.writers", &[]).unwrap().get(0);
    n.parse().unwrap()
}

/// Whether a backend waits in a pg_jobmon call (for its writer).
fn waits_for_a_writer(observer: &mut Client, pid: i32) -> bool {
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE pid = $1 AND wait_event_type = 'Extension'",
            &[&pid],
        )
        .map(|r| r.get::<_, i64>(0) > 0)
        .unwrap_or(false)
}

/// Every writer busy: a session holds ACCESS EXCLUSIVE on job_log and one add_job per
/// writer (with no lock bound) waits for it in a writer.
struct AllWritersBlocked {
    holder: Client,
    blockers: Vec<JoinHandle<Result<i64, postgres::Error>>>,
}

fn block_all_writers(db: &TestDb) -> AllWritersBlocked {
    let mut observer = db.connect();
    let n = writers(&mut observer);
    let mut holder = db.connect();
    exec(
        &mut holder,
        "BEGIN; LOCK TABLE jobmon.job_log IN ACCESS EXCLUSIVE MODE",
    );
    let mut blockers = Vec::new();
    for i in 0..n {
        let mut c = db.connect();
        exec(&mut c, "SET jobmon.lock_timeout = 0");
        blockers.push(std::thread::spawn(move || {
            c.query_one("SELECT jobmon.add_job($1)", &[&format!("blocker {i}")])
                .map(|r| r.get(0))
        }));
        assert!(
            wait_until(Duration::from_secs(20), || writers_in_lock_wait(
                &mut observer
            ) == i as i64 + 1),
            "{} writers wait for the lock, expected {}",
            writers_in_lock_wait(&mut observer),
            i + 1
        );
    }
    AllWritersBlocked { holder, blockers }
}

impl AllWritersBlocked {
    /// Releases the lock; the blocked add_jobs then succeed.
    fn release(mut self) {
        exec(&mut self.holder, "ROLLBACK");
        for b in self.blockers {
            let r = b.join().expect("blocker thread");
            let id = r.unwrap_or_else(|e| panic!("blocked add_job: {}", error_text(&e)));
            assert!(id > 0);
        }
    }
}

#[test]
fn mode_is_shown_as_shared_in_a_fresh_session() {
    let _g = shared();
    let db = TestDb::new("wr_mode");
    let mut c = db.connect();
    let mode: String = c.query_one("SHOW jobmon.mode", &[]).unwrap().get(0);
    assert_eq!(mode, "shared");
    let err = server_error(c.batch_execute("SET jobmon.mode = 'session'"));
    assert_eq!(err.code, "55P02", "{err:?}");
    // A writer shows in pg_stat_activity once it is connected to a database (right after
    // a call, unless it just left for another test's database: then the next call).
    let n = writers(&mut c);
    assert!(
        wait_until(Duration::from_secs(10), || {
            add_job(&mut c, "through a writer");
            let (here, all): (i64, i64) = c
                .query_one(
                    "SELECT count(*) FILTER (WHERE datname = current_database()), count(*)
                       FROM pg_stat_activity WHERE backend_type = $1",
                    &[&WRITER_BACKEND_TYPE],
                )
                .map(|r| (r.get(0), r.get(1)))
                .unwrap();
            assert!(all as usize <= n, "{all} writers");
            here >= 1
        }),
        "no writer connected to this database"
    );
}

#[test]
fn many_sessions_log_through_the_writers_with_no_client_connection_of_pg_jobmon() {
    let _g = shared();
    let db = TestDb::new("wr_no_client");
    let mut observer = db.connect();
    let clients: Vec<Client> = (0..20).map(|_| db.connect()).collect();
    let handles: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            std::thread::spawn(move || {
                let job = add_job(&mut c, &format!("no client {i}"));
                for s in 0..5 {
                    let step = jobmon_tests::add_step(&mut c, job, &format!("step {s}"));
                    exec(
                        &mut c,
                        &format!("SELECT jobmon.update_step({step}, 'OK', 'ok')"),
                    );
                }
                exec(&mut c, &format!("SELECT jobmon.close_job({job})"));
                c
            })
        })
        .collect();
    let clients: Vec<Client> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // All 20 sessions are still connected: none of them has a second connection.
    assert_eq!(jobmon_client_backends(&mut observer), 0);
    let backends: i64 = observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE backend_type = 'client backend' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(backends, 21, "20 callers and the observer");
    let closed: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE status = 'OK'
               AND (SELECT count(*) FROM jobmon.job_detail d
                     WHERE d.job_id = job_log.job_id AND d.status = 'OK') = 5",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(closed, 20);
    drop(clients);
}

#[test]
fn two_hundred_loggers_at_max_connections_100_all_log() {
    let _g = alone();
    let db = TestDb::new("wr_two_hundred");
    let mut observer = db.connect();
    let peak_client_conns = Arc::new(Mutex::new(0i64));
    // At most 90 at once: the 97 connection slots left to non-superusers must also hold
    // the observer; in the session mode each logger would need two.
    let slots = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
    let name = db.name.clone();
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let slots = slots.clone();
            let name = name.clone();
            std::thread::spawn(move || {
                {
                    let (m, cv) = &*slots;
                    let mut n = m.lock().unwrap();
                    while *n >= 90 {
                        n = cv.wait(n).unwrap();
                    }
                    *n += 1;
                }
                let result = (|| -> Result<(), String> {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let mut c = loop {
                        match cluster().try_connect(&name, &cluster().superuser) {
                            Ok(c) => break c,
                            Err(e) if Instant::now() < deadline => {
                                let _ = e;
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            Err(e) => return Err(error_text(&e)),
                        }
                    };
                    let job: i64 = c
                        .query_one("SELECT jobmon.add_job($1)", &[&format!("logger {i}")])
                        .map_err(|e| error_text(&e))?
                        .get(0);
                    for s in 0..3 {
                        c.query_one(
                            "SELECT jobmon.add_step($1, $2)",
                            &[&job, &format!("step {s}")],
                        )
                        .map_err(|e| error_text(&e))?;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    c.execute("SELECT jobmon.close_job($1)", &[&job])
                        .map_err(|e| error_text(&e))?;
                    Ok(())
                })();
                let (m, cv) = &*slots;
                *m.lock().unwrap() -= 1;
                cv.notify_one();
                result
            })
        })
        .collect();
    let mut most = 0i64;
    while handles.iter().any(|h| !h.is_finished()) {
        most = most.max(jobmon_client_backends(&mut observer));
        std::thread::sleep(Duration::from_millis(20));
    }
    *peak_client_conns.lock().unwrap() = most;
    let failures: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let logged: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log l WHERE status = 'OK'
               AND (SELECT count(*) FROM jobmon.job_detail d WHERE d.job_id = l.job_id) = 3",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 200);
    assert_eq!(
        *peak_client_conns.lock().unwrap(),
        0,
        "client connections used by logging"
    );
}

#[test]
fn a_request_lacking_rights_fails_alone_in_a_batch_that_commits_the_others_at_once() {
    let _g = alone();
    let db = TestDb::new("wr_batch_rights");
    let granted = db.create_role("granted", "");
    db.grant_logging_rights(&granted);
    let denied = db.create_role("denied", "");
    exec(
        &mut db.connect(),
        &format!("GRANT USAGE ON SCHEMA jobmon TO \"{denied}\""),
    );
    let mut observer = db.connect();
    let blocked = block_all_writers(&db);
    let roles = [&granted, &denied, &granted, &granted];
    let mut callers = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let mut c = db.connect_as(role);
        let pid = backend_pid(&mut c);
        callers.push((
            pid,
            std::thread::spawn(move || {
                c.query_one("SELECT jobmon.add_job($1)", &[&format!("batched {i}")])
                    .map(|r| r.get::<_, i64>(0))
            }),
        ));
    }
    for (pid, _) in &callers {
        assert!(
            wait_until(Duration::from_secs(10), || waits_for_a_writer(
                &mut observer,
                *pid
            )),
            "caller {pid} does not wait for a writer"
        );
    }
    blocked.release();
    let results: Vec<Result<i64, postgres::Error>> = callers
        .into_iter()
        .map(|(_, h)| h.join().unwrap())
        .collect();
    let mut ids = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        if i == 1 {
            let err = expect_sqlstate(r, SqlState::INSUFFICIENT_PRIVILEGE);
            assert_eq!(err.message, "permission denied for table job_log");
        } else {
            ids.push(r.unwrap_or_else(|e| panic!("caller {i}: {}", error_text(&e))));
        }
    }
    let rows = observer
        .query(
            "SELECT owner, pg_catalog.pg_xact_commit_timestamp(xmin)::text
               FROM jobmon.job_log WHERE job_id = ANY($1)",
            &[&ids],
        )
        .unwrap();
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r.get::<_, String>(0), granted);
    }
    let commits: std::collections::BTreeSet<String> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(
        commits.len(),
        1,
        "the three were not committed at once: {commits:?}"
    );
    let denied_rows: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'BATCHED 1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(denied_rows, 0);
}

#[test]
fn caller_terminated_while_its_request_is_queued_writes_nothing() {
    let _g = alone();
    let db = TestDb::new("wr_terminate_queued");
    let mark = cluster().log_mark();
    let mut observer = db.connect();
    let blocked = block_all_writers(&db);
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    let call = std::thread::spawn(move || {
        let start = Instant::now();
        let r = c.query_one("SELECT jobmon.add_job('terminated while queued')", &[]);
        (start, r.map(|r| r.get::<_, i64>(0)))
    });
    assert!(
        wait_until(Duration::from_secs(10), || waits_for_a_writer(
            &mut observer,
            pid
        )),
        "the caller does not wait for a writer"
    );
    let sent = Instant::now();
    exec(
        &mut observer,
        &format!("SELECT pg_terminate_backend({pid})"),
    );
    let (_, result) = call.join().unwrap();
    assert!(result.is_err(), "the terminated call succeeded");
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "ended {:?} after the terminate",
        sent.elapsed()
    );
    assert!(wait_until(Duration::from_secs(10), || !backend_alive(
        &mut observer,
        pid
    )));
    blocked.release();
    // The writers are free again; one more call goes through after the blockers.
    add_job(&mut observer, "after the release");
    let rows: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'TERMINATED WHILE QUEUED'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "a withdrawn request was written");
    let blockers: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name LIKE 'BLOCKER %'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(blockers as usize, writers(&mut observer));
    mark.assert_no_crash_since();
}

#[test]
fn writer_killed_mid_batch_restarts_the_cluster_keeps_every_acknowledged_row_and_hangs_nobody() {
    let _g = alone();
    let db = TestDb::new("wr_sigkill");
    let job = add_job(&mut db.connect(), "sigkill");
    let acknowledged = Arc::new(Mutex::new(Vec::<i64>::new()));
    let loggers: Vec<_> = (0..8)
        .map(|i| {
            let mut c = db.connect();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || loop {
                match c.query_one(
                    "SELECT jobmon.add_step($1, $2)",
                    &[&job, &format!("logger {i}")],
                ) {
                    Ok(r) => acknowledged.lock().unwrap().push(r.get(0)),
                    Err(e) => return error_text(&e),
                }
            })
        })
        .collect();
    assert!(wait_until(Duration::from_secs(10), || acknowledged
        .lock()
        .unwrap()
        .len()
        > 500));
    let mut observer = db.connect();
    let victims = writer_pids(&mut observer);
    let victim = *victims.first().expect("a writer process");
    drop(observer);
    // SAFETY: kill has no memory-safety preconditions; the pid is a writer of our cluster.
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);
    let started = Instant::now();
    for l in loggers {
        // Every caller gets an error (the postmaster ends all sessions), none hangs.
        let text = l.join().expect("logger thread");
        assert!(!text.is_empty());
    }
    assert!(started.elapsed() < Duration::from_secs(30), "callers hung");
    let mut c = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            c = cluster().try_connect(&db.name, &cluster().superuser).ok();
            c.is_some()
        }),
        "the cluster did not come back"
    );
    let mut c = c.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let found: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE step_id = ANY($1)",
            &[&acknowledged],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        found as usize,
        acknowledged.len(),
        "acknowledged steps lost"
    );
    // Logging works again after the restart.
    let after: i64 = c
        .query_one("SELECT jobmon.add_step($1, 'after the restart')", &[&job])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert!(after > 0);
    assert!(cluster()
        .log_text()
        .contains("all server processes terminated; reinitializing"));
}

#[test]
fn wait_for_commit_off_returns_ids_at_once_rows_arrive_and_errors_come_with_the_next_call() {
    let _g = shared();
    let db = TestDb::new("wr_no_wait");
    let mut c = db.connect();
    let mut observer = db.connect();
    exec(&mut c, "SET jobmon.wait_for_commit = off");
    let job = add_job(&mut c, "fire and forget");
    let step = jobmon_tests::add_step(&mut c, job, "first");
    exec(
        &mut c,
        &format!("SELECT jobmon.update_step({step}, 'OK', 'done')"),
    );
    exec(&mut c, &format!("SELECT jobmon.close_job({job})"));
    assert!(
        wait_until(Duration::from_secs(10), || observer
            .query_one(
                "SELECT count(*) FROM jobmon.job_log l JOIN jobmon.job_detail d USING (job_id)
                  WHERE l.job_id = $1 AND d.step_id = $2 AND l.status = 'OK'
                    AND d.status = 'OK' AND l.job_name = 'FIRE AND FORGET'",
                &[&job, &step],
            )
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false)),
        "the rows of the returned ids did not arrive"
    );
    let mark = cluster().log_mark();
    exec(
        &mut c,
        "SELECT jobmon.update_step(987654321, 'OK', 'no such step')",
    );
    assert!(
        wait_until(Duration::from_secs(10), || mark
            .text_since()
            .contains("step_id 987654321 does not exist in job_detail")),
        "the failure is not in the server log: {}",
        mark.text_since()
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_step($1, 'next call')", &[&job]),
        SqlState::NO_DATA_FOUND,
    );
    assert_eq!(
        err.message,
        "step_id 987654321 does not exist in job_detail"
    );
    assert!(
        err.detail.unwrap_or_default().contains("earlier call"),
        "detail names the earlier call"
    );
    // Reported once: the call after that works.
    let again = jobmon_tests::add_step(&mut c, job, "after the report");
    assert!(again > step);
}

#[test]
fn a_terminated_writer_hands_its_uncommitted_request_to_the_next_writer() {
    let _g = alone();
    let db = TestDb::new("wr_terminate_writer");
    let mark = cluster().log_mark();
    let mut observer = db.connect();
    let blocked = block_all_writers(&db);
    let n = writers(&mut observer);
    let victim: i32 = observer
        .query_one(
            "SELECT pid FROM pg_stat_activity
              WHERE backend_type = $1 AND wait_event_type = 'Lock'
                AND datname = current_database() LIMIT 1",
            &[&WRITER_BACKEND_TYPE],
        )
        .unwrap()
        .get(0);
    exec(
        &mut observer,
        &format!("SELECT pg_terminate_backend({victim})"),
    );
    assert!(wait_until(Duration::from_secs(10), || !backend_alive(
        &mut observer,
        victim
    )));
    // The request it was executing waits for the lock again, in the writer started anew.
    assert!(
        wait_until(Duration::from_secs(20), || writers_in_lock_wait(
            &mut observer
        ) == n as i64),
        "the terminated writer's request was not taken up again"
    );
    blocked.release();
    let rows: i64 = observer
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_name LIKE 'BLOCKER %'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, n, "each blocked call written exactly once");
    mark.assert_no_crash_since();
}
