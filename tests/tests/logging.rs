//! The logging functions: what each writes, that the writes survive the caller's
//! rollback (non-transactional), sql_step/sql_job, job_log_clear and the show_* readers.

use jobmon_tests::{
    add_job, add_step, backend_alive, backend_pid, error_text, exec, shared_mode, wait_until,
    TestDb,
};
use postgres::Client;
use std::time::Duration;

/// (status, end_time IS NOT NULL) of a job.
fn job_state(c: &mut Client, job: i64) -> (Option<String>, bool) {
    let r = c
        .query_one(
            "SELECT status, end_time IS NOT NULL FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

/// (action, status, message) of a job's steps in step order.
fn steps(c: &mut Client, job: i64) -> Vec<(String, Option<String>, Option<String>)> {
    c.query(
        "SELECT action, status, message FROM jobmon.job_detail WHERE job_id = $1 ORDER BY step_id",
        &[&job],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

fn step(action: &str, status: &str, message: &str) -> (String, Option<String>, Option<String>) {
    (
        action.to_string(),
        Some(status.to_string()),
        Some(message.to_string()),
    )
}

#[test]
fn show_jobmon_mode_tells_how_the_session_logs_and_cannot_be_set() {
    let db = TestDb::new("log_mode");
    let mut c = db.connect();
    add_job(&mut c, "loads the library");
    let mode: String = c.query_one("SHOW jobmon.mode", &[]).unwrap().get(0);
    assert_eq!(mode, if shared_mode() { "shared" } else { "session" });
    assert!(c.batch_execute("SET jobmon.mode = 'shared'").is_err());
    let wait: String = c
        .query_one("SHOW jobmon.wait_for_commit", &[])
        .unwrap()
        .get(0);
    assert_eq!(wait, "on");
}

#[test]
fn add_job_records_upper_cased_name_current_user_start_time_and_caller_pid() {
    let db = TestDb::new("log_add_job");
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    let id = add_job(&mut c, "nightly_Load");
    let r = c
        .query_one(
            "SELECT owner, job_name, pid, end_time IS NULL, status IS NULL,
                    abs(extract(epoch FROM clock_timestamp() - start_time)) < 60
               FROM jobmon.job_log WHERE job_id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), jobmon_tests::cluster().superuser);
    assert_eq!(r.get::<_, String>(1), "NIGHTLY_LOAD");
    assert_eq!(r.get::<_, i32>(2), pid);
    assert!(r.get::<_, bool>(3), "end_time must be NULL");
    assert!(r.get::<_, bool>(4), "status must be NULL");
    assert!(r.get::<_, bool>(5), "start_time must be now");
}

#[test]
fn add_step_records_the_action_with_start_time_and_no_end() {
    let db = TestDb::new("log_add_step");
    let mut c = db.connect();
    let job = add_job(&mut c, "stepper");
    let s1 = add_step(&mut c, job, "first action");
    let s2 = add_step(&mut c, job, "second action");
    assert!(s2 > s1, "step ids increase: {s1} then {s2}");
    let rows = c
        .query(
            "SELECT step_id, job_id, action, end_time IS NULL, elapsed_time IS NULL, status IS NULL,
                    message IS NULL, abs(extract(epoch FROM clock_timestamp() - start_time)) < 60
               FROM jobmon.job_detail ORDER BY step_id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (row, (id, action)) in rows
        .iter()
        .zip([(s1, "first action"), (s2, "second action")])
    {
        assert_eq!(row.get::<_, i64>(0), id);
        assert_eq!(row.get::<_, i64>(1), job);
        assert_eq!(row.get::<_, String>(2), action);
        for col in 3..8 {
            assert!(row.get::<_, bool>(col), "column {col} of step {id}");
        }
    }
}

#[test]
fn update_step_sets_status_message_end_time_and_elapsed_seconds() {
    let db = TestDb::new("log_update_step");
    let mut c = db.connect();
    let job = add_job(&mut c, "timed");
    let s = add_step(&mut c, job, "slow step");
    exec(&mut c, "SELECT pg_sleep(1.2)");
    c.execute("SELECT jobmon.update_step($1, 'OK', 'done it')", &[&s])
        .unwrap();
    let r = c
        .query_one(
            "SELECT status, message, elapsed_time, end_time >= start_time,
                    abs(extract(epoch FROM end_time - start_time) - elapsed_time) < 0.2
               FROM jobmon.job_detail WHERE step_id = $1",
            &[&s],
        )
        .unwrap();
    assert_eq!(r.get::<_, Option<String>>(0).as_deref(), Some("OK"));
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("done it"));
    let elapsed: f32 = r.get::<_, Option<f32>>(2).expect("elapsed_time is set");
    assert!(
        (1.1..30.0).contains(&elapsed),
        "elapsed_time {elapsed} is not the seconds since the step started"
    );
    assert!(r.get::<_, bool>(3));
    assert!(
        r.get::<_, bool>(4),
        "elapsed_time matches end_time - start_time"
    );
}

#[test]
fn close_job_ends_the_job_with_status_ok() {
    let db = TestDb::new("log_close_job");
    let mut c = db.connect();
    let job = add_job(&mut c, "closer");
    c.execute("SELECT jobmon.close_job($1)", &[&job]).unwrap();
    assert_eq!(job_state(&mut c, job), (Some("OK".into()), true));
}

#[test]
fn fail_job_defaults_to_critical_and_level_2_gives_warning() {
    let db = TestDb::new("log_fail_job");
    let mut c = db.connect();
    let j1 = add_job(&mut c, "failer");
    let j2 = add_job(&mut c, "warner");
    c.execute("SELECT jobmon.fail_job($1)", &[&j1]).unwrap();
    c.execute("SELECT jobmon.fail_job($1, 2)", &[&j2]).unwrap();
    assert_eq!(job_state(&mut c, j1), (Some("CRITICAL".into()), true));
    assert_eq!(job_state(&mut c, j2), (Some("WARNING".into()), true));
}

#[test]
fn config_table_variants_take_status_texts_from_the_user_table() {
    let db = TestDb::new("log_config_table");
    let mut c = db.connect();
    exec(
        &mut c,
        "CREATE TABLE public.my_status (alert_code int PRIMARY KEY, alert_text text NOT NULL);
         INSERT INTO public.my_status VALUES (1, 'FINE'), (2, 'MEH'), (3, 'BAD');",
    );
    let j1 = add_job(&mut c, "custom close");
    let j2 = add_job(&mut c, "custom fail");
    c.execute("SELECT jobmon.close_job($1, 'public.my_status')", &[&j1])
        .unwrap();
    c.execute("SELECT jobmon.fail_job($1, 'public.my_status')", &[&j2])
        .unwrap();
    assert_eq!(job_state(&mut c, j1), (Some("FINE".into()), true));
    assert_eq!(job_state(&mut c, j2), (Some("BAD".into()), true));

    // cancel_job with a config table, on a job of a session that has gone away.
    let j3 = {
        let mut other = db.connect();
        let j = add_job(&mut other, "custom cancel");
        add_step(&mut other, j, "working");
        j
    };
    // The session is gone, so only the log changes (what pg_cancel_backend returned
    // for a vanished pid is not pinned here).
    c.execute("SELECT jobmon.cancel_job($1, 'public.my_status')", &[&j3])
        .unwrap();
    assert_eq!(job_state(&mut c, j3), (Some("BAD".into()), true));
    let s = steps(&mut c, j3);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1.as_deref(), Some("BAD"));
    let msg = s[0].2.clone().unwrap_or_default();
    assert!(
        msg.starts_with("Manually cancelled via call to jobmon.cancel_job() by "),
        "{msg}"
    );
}

/// 1.5.0 spliced the name into its query, so an unqualified name was found through the
/// caller's search_path; jobs written for 1.5.0 pass such names.
#[test]
fn config_table_name_is_resolved_through_the_callers_search_path() {
    let db = TestDb::new("log_config_unqualified");
    let mut c = db.connect();
    exec(
        &mut c,
        "CREATE SCHEMA app;
         CREATE TABLE app.my_status (alert_code int PRIMARY KEY, alert_text text NOT NULL);
         INSERT INTO app.my_status VALUES (1, 'FINE'), (2, 'MEH'), (3, 'BAD');
         SET search_path = app, public;",
    );
    let j1 = add_job(&mut c, "unqualified close");
    let j2 = add_job(&mut c, "unqualified fail");
    c.execute("SELECT jobmon.close_job($1, 'my_status')", &[&j1])
        .unwrap_or_else(|e| panic!("close_job with 'my_status': {}", error_text(&e)));
    c.execute("SELECT jobmon.fail_job($1, 'my_status')", &[&j2])
        .unwrap_or_else(|e| panic!("fail_job with 'my_status': {}", error_text(&e)));
    assert_eq!(job_state(&mut c, j1), (Some("FINE".into()), true));
    assert_eq!(job_state(&mut c, j2), (Some("BAD".into()), true));
}

#[test]
fn rows_logged_inside_a_rolled_back_transaction_survive() {
    let db = TestDb::new("log_rollback");
    let mut c = db.connect();
    exec(&mut c, "BEGIN");
    let job = add_job(&mut c, "rolled back");
    let s = add_step(&mut c, job, "inside the transaction");
    c.execute("SELECT jobmon.update_step($1, 'OK', 'kept')", &[&s])
        .unwrap();
    exec(&mut c, "ROLLBACK");
    let mut other = db.connect();
    let name: String = other
        .query_one(
            "SELECT job_name FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(name, "ROLLED BACK");
    assert_eq!(
        steps(&mut other, job),
        vec![step("inside the transaction", "OK", "kept")]
    );
}

#[test]
fn logged_rows_are_visible_to_other_sessions_before_the_caller_commits() {
    let db = TestDb::new("log_visible_at_once");
    let mut c = db.connect();
    let mut other = db.connect();
    exec(&mut c, "BEGIN");
    let job = add_job(&mut c, "visible");
    let seen: i64 = other
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);
    exec(&mut c, "COMMIT");
}

#[test]
fn plpgsql_function_that_raises_keeps_every_row_logged_before_the_error() {
    let db = TestDb::new("log_plpgsql_raise");
    let mut c = db.connect();
    exec(
        &mut c,
        r#"
        CREATE TABLE public.target (n int);
        CREATE FUNCTION public.my_job() RETURNS void LANGUAGE plpgsql AS $f$
        DECLARE
            v_job bigint;
            v_step bigint;
        BEGIN
            v_job := jobmon.add_job('plpgsql job');
            v_step := jobmon.add_step(v_job, 'load rows');
            INSERT INTO public.target SELECT generate_series(1, 3);
            PERFORM jobmon.update_step(v_step, 'OK', 'loaded 3');
            v_step := jobmon.add_step(v_job, 'bad division');
            PERFORM jobmon.sql_step(v_job, 'divide by zero', 'SELECT 1/0');
            RAISE EXCEPTION 'job blew up';
        END
        $f$;
        "#,
    );
    let err = c.batch_execute("SELECT public.my_job()").unwrap_err();
    assert!(
        error_text(&err).contains("job blew up"),
        "{}",
        error_text(&err)
    );
    let job: i64 = c
        .query_one(
            "SELECT job_id FROM jobmon.job_log WHERE job_name = 'PLPGSQL JOB'",
            &[],
        )
        .unwrap()
        .get(0);
    let s = steps(&mut c, job);
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(s[0], step("load rows", "OK", "loaded 3"));
    assert_eq!(s[1], ("bad division".to_string(), None, None));
    assert_eq!(
        s[2],
        step("divide by zero", "CRITICAL", "ERROR: division by zero")
    );
    // The caller's own work was rolled back.
    let n: i64 = c
        .query_one("SELECT count(*) FROM public.target", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn sql_step_success_records_rows_affected_and_closes_the_job() {
    let db = TestDb::new("log_sql_step_ok");
    let mut c = db.connect();
    exec(&mut c, "CREATE TABLE public.target (n int)");
    let job = add_job(&mut c, "sql step job");
    let ok: bool = c
        .query_one(
            "SELECT jobmon.sql_step($1, 'insert five', 'INSERT INTO public.target SELECT generate_series(1, 5)')",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert!(ok);
    assert_eq!(
        steps(&mut c, job),
        vec![step("insert five", "OK", "Rows affected: 5")]
    );
    assert_eq!(job_state(&mut c, job), (Some("OK".into()), true));
    let n: i64 = c
        .query_one("SELECT count(*) FROM public.target", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
}

#[test]
fn sql_step_failure_returns_false_and_leaves_the_step_critical_with_the_error() {
    let db = TestDb::new("log_sql_step_fail");
    let mut c = db.connect();
    let job = add_job(&mut c, "sql step fails");
    let ok: bool = c
        .query_one(
            "SELECT jobmon.sql_step($1, 'select missing', 'SELECT * FROM public.no_such_table')",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert!(!ok);
    assert_eq!(
        steps(&mut c, job),
        vec![step(
            "select missing",
            "CRITICAL",
            "ERROR: relation \"public.no_such_table\" does not exist"
        )]
    );
    assert_eq!(job_state(&mut c, job), (None, false));
}

#[test]
fn sql_job_logs_one_step_closes_the_job_and_returns_its_id() {
    let db = TestDb::new("log_sql_job_ok");
    let mut c = db.connect();
    exec(
        &mut c,
        "CREATE TABLE public.target (n int); INSERT INTO public.target VALUES (1), (2), (3);",
    );
    let sql = "UPDATE public.target SET n = n + 1 WHERE n < 10 AND 'it''s' <> ''";
    let result: String = c
        .query_one("SELECT jobmon.sql_job('my sql job', $1)", &[&sql])
        .unwrap()
        .get(0);
    let job: i64 = c
        .query_one(
            "SELECT job_id FROM jobmon.job_log WHERE job_name = 'MY SQL JOB'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(result, format!("Job logged with job id: {job}"));
    let action: String = c
        .query_one("SELECT 'Running sql: ' || quote_literal($1::text)", &[&sql])
        .unwrap()
        .get(0);
    assert_eq!(
        steps(&mut c, job),
        vec![step(&action, "OK", "Rows affected: 3")]
    );
    assert_eq!(job_state(&mut c, job), (Some("OK".into()), true));
}

#[test]
fn sql_job_failure_fails_the_job_and_returns_the_failure_text() {
    let db = TestDb::new("log_sql_job_fail");
    let mut c = db.connect();
    let result: String = c
        .query_one("SELECT jobmon.sql_job('bad sql job', 'SELECT 1/0')", &[])
        .unwrap()
        .get(0);
    let job: i64 = c
        .query_one(
            "SELECT job_id FROM jobmon.job_log WHERE job_name = 'BAD SQL JOB'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        result,
        format!("Job ID {job} failed. See job_detail table for more details")
    );
    assert_eq!(
        steps(&mut c, job),
        vec![step(
            "Running sql: 'SELECT 1/0'",
            "CRITICAL",
            "ERROR: division by zero"
        )]
    );
    assert_eq!(job_state(&mut c, job), (Some("CRITICAL".into()), true));
}

#[test]
fn sql_job_with_its_advisory_lock_held_elsewhere_reports_a_concurrent_job_and_runs_nothing() {
    let db = TestDb::new("log_sql_job_locked");
    let mut c = db.connect();
    exec(&mut c, "CREATE TABLE public.target (n int)");
    let mut holder = db.connect();
    exec(
        &mut holder,
        "SELECT pg_advisory_lock(hashtext('sql_log'), hashtext('locked job'))",
    );
    let result: String = c
        .query_one(
            "SELECT jobmon.sql_job('locked job', 'INSERT INTO public.target VALUES (1)')",
            &[],
        )
        .unwrap_or_else(|e| panic!("sql_job with the lock held elsewhere: {}", error_text(&e)))
        .get(0);
    assert!(
        result.starts_with("Concurrent job found"),
        "unexpected result {result:?}"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM public.target", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the SQL must not run without the lock");
    let job: i64 = c
        .query_one(
            "SELECT job_id FROM jobmon.job_log WHERE job_name = 'LOCKED JOB'",
            &[],
        )
        .unwrap()
        .get(0);
    let s = steps(&mut c, job);
    assert_eq!(s.len(), 1, "{s:?}");
    assert!(
        s[0].0.starts_with("Obtaining advisory lock for job: ")
            && s[0].0.to_lowercase().contains("locked job"),
        "{s:?}"
    );
    assert_eq!(s[0].1.as_deref(), Some("OK"));
    assert_eq!(
        s[0].2.as_deref(),
        Some("Found concurrent job. Exiting gracefully")
    );
    assert_eq!(job_state(&mut c, job), (Some("OK".into()), true));
}

#[test]
fn job_log_clear_deletes_old_jobs_with_their_steps_and_logs_itself() {
    let db = TestDb::new("log_clear");
    let mut c = db.connect();
    let old1 = add_job(&mut c, "old one");
    let old2 = add_job(&mut c, "old two");
    let fresh = add_job(&mut c, "fresh");
    add_step(&mut c, old1, "old step");
    add_step(&mut c, fresh, "fresh step");
    c.execute(
        "UPDATE jobmon.job_log SET start_time = now() - interval '10 days' WHERE job_id IN ($1, $2)",
        &[&old1, &old2],
    )
    .unwrap();
    c.execute("SELECT jobmon.job_log_clear('7 days')", &[])
        .unwrap();
    let left: Vec<String> = c
        .query("SELECT job_name FROM jobmon.job_log ORDER BY job_id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], "FRESH");
    assert!(
        left[1].starts_with("PURGING PG_JOBMON JOB LOGS OLDER THAN "),
        "{left:?}"
    );
    let details: Vec<i64> = c
        .query(
            "SELECT job_id FROM jobmon.job_detail WHERE job_id IN ($1, $2, $3)",
            &[&old1, &old2, &fresh],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(details, vec![fresh], "steps of deleted jobs go with them");
    let purge: i64 = c
        .query_one(
            "SELECT job_id FROM jobmon.job_log WHERE job_name LIKE 'PURGING%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(job_state(&mut c, purge), (Some("OK".into()), true));
    let s = steps(&mut c, purge);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s[0].1.as_deref(), Some("OK"));
    assert_eq!(
        s[0].2.as_deref(),
        Some("Deleted 2 rows from job_log and associated rows in job_detail")
    );
}

#[test]
fn job_ids_and_step_ids_go_past_2_pow_31() {
    let db = TestDb::new("log_bigint_ids");
    let mut c = db.connect();
    exec(
        &mut c,
        "SELECT setval(pg_get_serial_sequence('jobmon.job_log', 'job_id'), 2147483650);
         SELECT setval(pg_get_serial_sequence('jobmon.job_detail', 'step_id'), 3000000000);",
    );
    let job = add_job(&mut c, "big ids");
    assert_eq!(job, 2_147_483_651);
    let s = add_step(&mut c, job, "big step");
    assert_eq!(s, 3_000_000_001);
    c.execute("SELECT jobmon.update_step($1, 'OK', 'fine')", &[&s])
        .unwrap();
    c.execute("SELECT jobmon.close_job($1)", &[&job]).unwrap();
    assert_eq!(job_state(&mut c, job), (Some("OK".into()), true));
}

fn ids(c: &mut Client, sql: &str) -> Vec<i64> {
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn show_job_show_job_like_and_show_job_status_list_newest_first_with_limits() {
    let db = TestDb::new("log_show_job");
    let mut c = db.connect();
    let a1 = add_job(&mut c, "report daily");
    let b1 = add_job(&mut c, "report weekly");
    let a2 = add_job(&mut c, "report daily");
    let a3 = add_job(&mut c, "Report Daily");
    c.execute("SELECT jobmon.close_job($1)", &[&a1]).unwrap();
    c.execute("SELECT jobmon.fail_job($1)", &[&a2]).unwrap();
    c.execute("SELECT jobmon.close_job($1)", &[&b1]).unwrap();

    assert_eq!(
        ids(&mut c, "SELECT job_id FROM jobmon.show_job('report daily')"),
        vec![a3, a2, a1]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT job_id FROM jobmon.show_job('REPORT DAILY', 2)"
        ),
        vec![a3, a2]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT job_id FROM jobmon.show_job_like('report', 10)"
        ),
        vec![a3, a2, b1, a1]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT job_id FROM jobmon.show_job_like('week|^report d.*y$', 2)"
        ),
        vec![a3, a2]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT job_id FROM jobmon.show_job_status('OK', 10)"
        ),
        vec![b1, a1]
    );
    assert_eq!(
        ids(&mut c, "SELECT job_id FROM jobmon.show_job_status('OK', 1)"),
        vec![b1]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT job_id FROM jobmon.show_job_status('report daily', 'CRITICAL', 10)"
        ),
        vec![a2]
    );
    // Whole job_log rows come back.
    let r = c
        .query_one(
            "SELECT job_name, status, owner FROM jobmon.show_job('report weekly')",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "REPORT WEEKLY");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("OK"));
}

#[test]
fn show_detail_by_id_and_by_name_lists_steps_of_the_newest_jobs() {
    let db = TestDb::new("log_show_detail");
    let mut c = db.connect();
    let j1 = add_job(&mut c, "detailed");
    let s11 = add_step(&mut c, j1, "one");
    let s12 = add_step(&mut c, j1, "two");
    let j2 = add_job(&mut c, "detailed");
    let s21 = add_step(&mut c, j2, "three");
    let j3 = add_job(&mut c, "other");
    add_step(&mut c, j3, "elsewhere");

    assert_eq!(
        ids(
            &mut c,
            &format!("SELECT step_id FROM jobmon.show_detail({j1}::bigint)")
        ),
        vec![s11, s12]
    );
    assert_eq!(
        ids(&mut c, "SELECT step_id FROM jobmon.show_detail('detailed')"),
        vec![s21]
    );
    assert_eq!(
        ids(
            &mut c,
            "SELECT step_id FROM jobmon.show_detail('Detailed', 2)"
        ),
        vec![s21, s11, s12]
    );
    let r = c
        .query_one(
            &format!("SELECT job_id, action FROM jobmon.show_detail({j2}::bigint)"),
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), j2);
    assert_eq!(r.get::<_, String>(1), "three");
}

#[test]
fn show_running_lists_unfinished_jobs_of_live_sessions_only() {
    let db = TestDb::new("log_show_running");
    let mut c = db.connect();
    let mut observer = db.connect();
    let dead_job = {
        let mut gone = db.connect();
        let pid = backend_pid(&mut gone);
        let j = add_job(&mut gone, "from a closed session");
        drop(gone);
        assert!(
            wait_until(Duration::from_secs(10), || !backend_alive(
                &mut observer,
                pid
            )),
            "closed session {pid} still listed"
        );
        j
    };
    let running1 = add_job(&mut c, "running one");
    let finished = add_job(&mut c, "finished");
    let running2 = add_job(&mut c, "running two");
    c.execute("SELECT jobmon.close_job($1)", &[&finished])
        .unwrap();
    let shown = ids(&mut c, "SELECT job_id FROM jobmon.show_running()");
    assert_eq!(
        shown,
        vec![running2, running1],
        "dead job {dead_job} or finished job shown"
    );
    assert_eq!(
        ids(&mut c, "SELECT job_id FROM jobmon.show_running(1)"),
        vec![running2]
    );
}
