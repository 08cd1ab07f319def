//! pg_jobmon on a streaming hot standby of the test cluster (pg_basebackup -R): the
//! monitoring functions read there; logging calls write through a background connection
//! pointed at the primary, and without one fail with one clear error (25006), never with a
//! Rust backtrace, even when the standby's environment asks Rust for backtraces.

use jobmon_tests::{
    add_job, add_step, backend_pid, cluster, error_text, exec, expect_sqlstate, Cluster,
    ClusterSetup, TestDb,
};
use postgres::error::SqlState;
use postgres::Client;
use std::sync::OnceLock;

static STANDBY: OnceLock<Cluster> = OnceLock::new();

/// The standby of this binary's cluster, started on first use. Its environment has
/// RUST_BACKTRACE=1, as a developer's shell would give it.
fn standby() -> &'static Cluster {
    STANDBY.get_or_init(|| {
        cluster()
            .start_standby_of(ClusterSetup {
                conf: "",
                env: &[("RUST_BACKTRACE", "1")],
            })
            .unwrap_or_else(|e| panic!("cannot start a standby of the test cluster: {e}"))
    })
}

/// A test database on the primary, once the standby has it too.
fn replicated_db(label: &str) -> TestDb {
    let db = TestDb::new(label);
    cluster().wait_until_replayed_on(standby());
    db
}

fn on_standby(db: &TestDb) -> Client {
    let mut c = standby().connect(&db.name, &standby().superuser);
    let in_recovery: bool = c
        .query_one("SELECT pg_catalog.pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery, "the standby is not in recovery");
    c
}

/// Every row of a query as text, for comparing the primary's answer with the standby's.
fn rows(c: &mut Client, sql: &str) -> Vec<String> {
    c.query(&format!("SELECT t::text FROM ({sql}) t"), &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn check_job_status_and_show_functions_give_the_primarys_answers_on_the_standby() {
    let db = replicated_db("standby_monitoring");
    let mut primary = db.connect();
    exec(
        &mut primary,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('NIGHTLY LOAD', '1 hour', '2 hours', true)",
    );
    let ok = add_job(&mut primary, "nightly load");
    let step = add_step(&mut primary, ok, "load");
    exec(
        &mut primary,
        &format!(
            "SELECT jobmon.update_step({step}, 'OK', 'loaded'); SELECT jobmon.close_job({ok});"
        ),
    );
    for _ in 0..3 {
        let failed = add_job(&mut primary, "flaky export");
        add_step(&mut primary, failed, "export");
        exec(&mut primary, &format!("SELECT jobmon.fail_job({failed})"));
    }
    // A job running on the standby (in a transaction, so its session is not idle), logged
    // through the primary: show_running() looks at the sessions of the server it runs on.
    let mut reporter = on_standby(&db);
    exec(
        &mut reporter,
        &format!(
            "SET jobmon.host = '127.0.0.1'; SET jobmon.port = {}; BEGIN",
            cluster().port
        ),
    );
    let running = add_job(&mut reporter, "report on the replica");
    cluster().wait_until_replayed_on(standby());

    let mut replica = on_standby(&db);
    let queries = [
        "SELECT * FROM jobmon.check_job_status()".to_string(),
        "SELECT * FROM jobmon.check_job_status('1 day')".to_string(),
        "SELECT * FROM jobmon.show_job('nightly load')".to_string(),
        "SELECT * FROM jobmon.show_job_like('FLAKY|NIGHTLY', 10)".to_string(),
        "SELECT * FROM jobmon.show_job_status('CRITICAL', 10)".to_string(),
        "SELECT * FROM jobmon.show_job_status('flaky export', 'CRITICAL', 10)".to_string(),
        format!("SELECT * FROM jobmon.show_detail({ok})"),
        "SELECT * FROM jobmon.show_detail('flaky export', 2)".to_string(),
    ];
    for sql in &queries {
        let expected = rows(&mut primary, sql);
        assert!(!expected.is_empty(), "{sql} gave no rows on the primary");
        assert_eq!(rows(&mut replica, sql), expected, "{sql}");
    }
    let on_replica = rows(&mut replica, "SELECT job_id FROM jobmon.show_running(10)");
    assert_eq!(on_replica, [format!("({running})")]);
    // Its pid is not a session of the primary (both servers share this host's pids).
    assert_eq!(
        rows(&mut primary, "SELECT job_id FROM jobmon.show_running(10)"),
        Vec::<String>::new()
    );
    // The failures are reported, not hidden behind an OK row.
    let status = rows(
        &mut replica,
        "SELECT alert_status, job_name FROM jobmon.check_job_status()",
    );
    assert!(
        status
            .iter()
            .any(|r| r.contains("FAILED_RUN") && r.contains("FLAKY EXPORT")),
        "{status:?}"
    );
}

#[test]
fn logging_on_the_standby_without_a_primary_configured_raises_read_only_sql_transaction() {
    let db = replicated_db("standby_no_primary");
    let mut replica = on_standby(&db);
    let mark = standby().log_mark();
    for call in [
        "SELECT jobmon.add_job('on the standby')",
        "SELECT jobmon.add_step(1, 'on the standby')",
        "SELECT jobmon.sql_job('on the standby', 'SELECT 1')",
    ] {
        let err = expect_sqlstate(
            replica.query_one(call, &[]),
            SqlState::READ_ONLY_SQL_TRANSACTION,
        );
        assert_eq!(
            err.message, "the server is a hot standby: point jobmon.host at the primary",
            "{call}"
        );
        assert_eq!(err.detail, None, "{call}: {err:?}");
        let hint = err.hint.unwrap_or_default();
        assert!(
            hint.contains("jobmon.host") && hint.contains("jobmon.port"),
            "{call}: hint {hint}"
        );
    }
    // The session is fine, and so is the server.
    let one: i32 = replica.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
    mark.assert_no_crash_since();
}

#[test]
fn error_raised_by_postgres_inside_the_extension_on_the_standby_carries_no_rust_backtrace() {
    let db = replicated_db("standby_no_backtrace");
    {
        // A mapping table that lost a column: reading it raises an ERROR inside the
        // extension's Rust code, which pgrx would decorate with a backtrace.
        let mut primary = db.connect();
        exec(
            &mut primary,
            "ALTER TABLE jobmon.dblink_mapping_jobmon RENAME COLUMN pwd TO password",
        );
    }
    cluster().wait_until_replayed_on(standby());
    let mut replica = on_standby(&db);
    let result = replica.query_one("SELECT jobmon.add_job('mapping without pwd')", &[]);
    let err = match result {
        Ok(row) => panic!("expected an ERROR, got {row:?}"),
        Err(e) => e,
    };
    let db_err = err
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {err}"));
    assert!(db_err.message().contains("pwd"), "{}", error_text(&err));
    for text in [db_err.detail(), db_err.hint()].into_iter().flatten() {
        assert!(
            !text.contains("backtrace")
                && !text.contains("rust_begin_unwind")
                && !text.contains(".rs:"),
            "a Rust backtrace reached the user: {text}"
        );
    }
}

#[test]
fn logging_on_the_standby_through_the_primary_lands_rows_there_and_survives_a_rollback() {
    let db = replicated_db("standby_to_primary");
    let mut replica = on_standby(&db);
    let caller_pid = backend_pid(&mut replica);
    exec(
        &mut replica,
        &format!(
            "SET jobmon.host = '127.0.0.1'; SET jobmon.port = {}",
            cluster().port
        ),
    );
    exec(&mut replica, "BEGIN");
    let job: i64 = replica
        .query_one("SELECT jobmon.add_job('report on the replica')", &[])
        .unwrap_or_else(|e| panic!("add_job on the standby: {}", error_text(&e)))
        .get(0);
    let step: i64 = replica
        .query_one("SELECT jobmon.add_step($1, 'read the replica')", &[&job])
        .unwrap_or_else(|e| panic!("add_step on the standby: {}", error_text(&e)))
        .get(0);
    exec(
        &mut replica,
        &format!(
            "SELECT jobmon.update_step({step}, 'OK', 'read'); SELECT jobmon.close_job({job}); ROLLBACK"
        ),
    );
    let mut primary = db.connect();
    let r = primary
        .query_one(
            "SELECT l.job_name, l.status, l.pid, d.status, d.message
               FROM jobmon.job_log l JOIN jobmon.job_detail d USING (job_id)
              WHERE l.job_id = $1",
            &[&job],
        )
        .unwrap_or_else(|e| panic!("the job is not on the primary: {}", error_text(&e)));
    let got: (String, String, i32, String, String) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
    assert_eq!(
        got,
        (
            "REPORT ON THE REPLICA".to_string(),
            "OK".to_string(),
            caller_pid,
            "OK".to_string(),
            "read".to_string()
        )
    );
    // The rows reach the standby by replication, like every other write.
    cluster().wait_until_replayed_on(standby());
    let seen: i64 = replica
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE job_id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);
}

#[test]
fn database_settings_made_on_the_primary_point_the_standbys_sessions_at_it() {
    let db = replicated_db("standby_db_settings");
    let mut primary = db.connect();
    // Made once on the primary, replayed by the standby; on the primary itself the same
    // settings point at the primary too.
    exec(
        &mut primary,
        &format!(
            "ALTER DATABASE \"{}\" SET jobmon.host = '127.0.0.1';
             ALTER DATABASE \"{}\" SET jobmon.port = {}",
            db.name,
            db.name,
            cluster().port
        ),
    );
    cluster().wait_until_replayed_on(standby());
    let mut replica = on_standby(&db);
    let job = add_job(&mut replica, "configured once");
    let mut primary = db.connect();
    let job_on_primary = add_job(&mut primary, "on the primary too");
    let names: Vec<String> = primary
        .query(
            "SELECT job_name FROM jobmon.job_log WHERE job_id IN ($1, $2) ORDER BY job_id",
            &[&job, &job_on_primary],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["CONFIGURED ONCE", "ON THE PRIMARY TOO"]);
}

#[test]
fn dblink_mapping_row_made_on_the_primary_points_the_standby_at_it_as_1_5_0_allowed() {
    let db = replicated_db("standby_mapping_row");
    let mut primary = db.connect();
    primary
        .execute(
            "INSERT INTO jobmon.dblink_mapping_jobmon (host, port) VALUES ('127.0.0.1', $1)",
            &[&cluster().port.to_string()],
        )
        .unwrap_or_else(|e| panic!("insert mapping: {}", error_text(&e)));
    cluster().wait_until_replayed_on(standby());
    let mut replica = on_standby(&db);
    let job = add_job(&mut replica, "through the mapping row");
    let name: String = primary
        .query_one(
            "SELECT job_name FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap_or_else(|e| panic!("the job is not on the primary: {}", error_text(&e)))
        .get(0);
    assert_eq!(name, "THROUGH THE MAPPING ROW");
}
