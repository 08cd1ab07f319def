//! Who may log what, who may steer the background connection, and bad input: NULLs,
//! odd texts, hostile config table names, unknown levels and ids.

use jobmon_tests::{
    add_job, add_step, assert_shared_mode_ignores_connection_settings, backend_pid,
    background_pids, cluster, error_text, exec, expect_sqlstate, server_error, shared_mode, TestDb,
};
use postgres::error::SqlState;
use postgres::Client;

fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

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

/// A job (with one step) started by a session that has disconnected, so that
/// cancel_job on it cannot hit a live backend of the test.
fn job_of_closed_session(db: &TestDb, name: &str) -> (i64, i64) {
    let mut other = db.connect();
    let job = add_job(&mut other, name);
    let step = add_step(&mut other, job, "step of a closed session");
    (job, step)
}

#[test]
fn role_without_table_rights_gets_permission_denied_for_job_log() {
    let db = TestDb::new("priv_denied");
    let role = db.create_role("nogrants", "");
    exec(
        &mut db.connect(),
        &format!("GRANT USAGE ON SCHEMA jobmon TO \"{role}\""),
    );
    let mut c = db.connect_as(&role);
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('not allowed')", &[]),
        SqlState::INSUFFICIENT_PRIVILEGE,
    );
    assert!(
        err.message.contains("permission denied for table job_log"),
        "{err:?}"
    );
    assert_eq!(
        count(&mut db.connect(), "SELECT count(*) FROM jobmon.job_log"),
        0
    );
}

#[test]
fn granted_role_logs_a_whole_job_and_is_recorded_as_owner() {
    let db = TestDb::new("priv_granted");
    let role = db.create_role("logger", "");
    db.grant_logging_rights(&role);
    let mut c = db.connect_as(&role);
    let job = add_job(&mut c, "role job");
    let step = add_step(&mut c, job, "role step");
    c.execute(
        "SELECT jobmon.update_step($1, 'OK', 'by the role')",
        &[&step],
    )
    .unwrap_or_else(|e| panic!("update_step: {}", error_text(&e)));
    c.execute("SELECT jobmon.fail_job($1)", &[&job])
        .unwrap_or_else(|e| panic!("fail_job: {}", error_text(&e)));
    let job2 = add_job(&mut c, "role job");
    c.execute("SELECT jobmon.close_job($1)", &[&job2])
        .unwrap_or_else(|e| panic!("close_job: {}", error_text(&e)));
    let mut admin = db.connect();
    let owners: Vec<(String, Option<String>)> = admin
        .query(
            "SELECT owner, status FROM jobmon.job_log ORDER BY job_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        owners,
        vec![
            (role.clone(), Some("CRITICAL".to_string())),
            (role.clone(), Some("OK".to_string()))
        ]
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM jobmon.job_detail WHERE status = 'OK' AND message = 'by the role'"
        ),
        1
    );
}

#[test]
fn role_with_the_grants_documented_for_1_5_0_logs_a_whole_job() {
    let db = TestDb::new("priv_grants_1_5_0");
    let role = db.create_role("legacy", "");
    exec(
        &mut db.connect(),
        &format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA jobmon TO \"{role}\";
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobmon TO \"{role}\";
             GRANT ALL ON ALL SEQUENCES IN SCHEMA jobmon TO \"{role}\";"
        ),
    );
    let mut c = db.connect_as(&role);
    let failed = add_job(&mut c, "legacy job");
    let step = add_step(&mut c, failed, "legacy step");
    c.execute(
        "SELECT jobmon.update_step($1, 'CRITICAL', 'broke')",
        &[&step],
    )
    .unwrap_or_else(|e| panic!("update_step: {}", error_text(&e)));
    c.execute("SELECT jobmon.fail_job($1)", &[&failed])
        .unwrap_or_else(|e| panic!("fail_job: {}", error_text(&e)));
    let ok = add_job(&mut c, "legacy job");
    let ok_step: bool = c
        .query_one("SELECT jobmon.sql_step($1, 'noop', 'SELECT 1')", &[&ok])
        .unwrap_or_else(|e| panic!("sql_step: {}", error_text(&e)))
        .get(0);
    assert!(ok_step);
    let mut admin = db.connect();
    assert_eq!(
        job_state(&mut admin, failed),
        (Some("CRITICAL".into()), true)
    );
    assert_eq!(job_state(&mut admin, ok), (Some("OK".into()), true));
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM jobmon.job_check_log"),
        0,
        "the success clears the failure"
    );
}

#[test]
fn set_role_is_recorded_as_owner_and_reset_role_switches_back() {
    let db = TestDb::new("priv_set_role");
    let role = db.create_role("switched", "");
    db.grant_logging_rights(&role);
    let mut c = db.connect();
    let j0 = add_job(&mut c, "as superuser first");
    exec(&mut c, &format!("SET ROLE \"{role}\""));
    let j1 = add_job(&mut c, "as role");
    exec(&mut c, "RESET ROLE");
    let j2 = add_job(&mut c, "as superuser again");
    let owners: Vec<String> = c
        .query(
            "SELECT owner FROM jobmon.job_log WHERE job_id IN ($1, $2, $3) ORDER BY job_id",
            &[&j0, &j1, &j2],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let su = cluster().superuser.clone();
    assert_eq!(owners, vec![su.clone(), role, su]);
}

#[test]
fn logging_functions_cannot_write_what_the_caller_may_not_write() {
    let db = TestDb::new("priv_partial");
    let role = db.create_role("partial", "");
    exec(
        &mut db.connect(),
        &format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
             GRANT SELECT, INSERT, UPDATE ON jobmon.job_log TO \"{role}\";
             GRANT SELECT ON jobmon.job_detail, jobmon.job_status_text TO \"{role}\";
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA jobmon TO \"{role}\";"
        ),
    );
    let mut c = db.connect_as(&role);
    let job = add_job(&mut c, "half allowed");
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_step($1, 'not allowed')", &[&job]),
        SqlState::INSUFFICIENT_PRIVILEGE,
    );
    assert!(
        err.message
            .contains("permission denied for table job_detail"),
        "{err:?}"
    );
    assert_eq!(
        count(&mut db.connect(), "SELECT count(*) FROM jobmon.job_detail"),
        0
    );
}

#[test]
fn non_superuser_cannot_change_background_connection_settings_but_may_set_lock_timeout() {
    let db = TestDb::new("priv_gucs");
    let role = db.create_role("plain", "");
    db.grant_logging_rights(&role);
    let mut c = db.connect_as(&role);
    // Calling the extension loads it, so the settings are defined in this session.
    add_job(&mut c, "load the library");
    // set_config, because USER is a reserved word: `SET jobmon.user` does not parse.
    for (name, value) in [
        ("jobmon.host", "/tmp"),
        ("jobmon.port", "5432"),
        ("jobmon.user", "somebody"),
        ("jobmon.connect_timeout", "3"),
        ("jobmon.background_idle_timeout", "0"),
        ("jobmon.passfile", "/tmp/somebody-elses-pgpass"),
    ] {
        let err = expect_sqlstate(
            c.query_one("SELECT set_config($1, $2, false)", &[&name, &value]),
            SqlState::INSUFFICIENT_PRIVILEGE,
        );
        assert!(
            err.message.contains("permission denied to set parameter"),
            "{name}: {err:?}"
        );
    }
    let err = expect_sqlstate(
        c.batch_execute("SET jobmon.host = '/tmp'"),
        SqlState::INSUFFICIENT_PRIVILEGE,
    );
    assert!(
        err.message.contains("jobmon.host"),
        "SET jobmon.host: {err:?}"
    );
    exec(&mut c, "SET jobmon.lock_timeout = 2000");
    let setting: String = c
        .query_one(
            "SELECT setting FROM pg_settings WHERE name = 'jobmon.lock_timeout'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(setting, "2000");
    // The logging calls still work with the new bound.
    add_job(&mut c, "after set");
}

#[test]
fn settings_have_their_documented_defaults_and_contexts() {
    let db = TestDb::new("priv_guc_defaults");
    let mut c = db.connect();
    add_job(&mut c, "load the library");
    let settings: Vec<(String, String, String)> = c
        .query(
            "SELECT name, setting, context FROM pg_settings WHERE name LIKE 'jobmon.%' ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let get = |n: &str| {
        settings
            .iter()
            .find(|s| s.0 == n)
            .unwrap_or_else(|| panic!("{n} not defined; settings: {settings:?}"))
            .clone()
    };
    assert_eq!(get("jobmon.host").1, "");
    assert_eq!(get("jobmon.port").1, "0");
    assert_eq!(get("jobmon.user").1, "");
    assert_eq!(get("jobmon.lock_timeout").1, "5000");
    assert_eq!(get("jobmon.background_idle_timeout").1, "300");
    assert_eq!(get("jobmon.passfile").1, "");
    for n in [
        "jobmon.host",
        "jobmon.port",
        "jobmon.user",
        "jobmon.connect_timeout",
        "jobmon.background_idle_timeout",
        "jobmon.passfile",
    ] {
        assert_eq!(get(n).2, "superuser", "context of {n}");
    }
    assert_eq!(get("jobmon.lock_timeout").2, "user");
}

/// (user name, client address) of the background session serving `caller_pid`.
fn background_login(observer: &mut Client, caller_pid: i32) -> (String, Option<String>) {
    let pids = background_pids(observer, caller_pid);
    assert_eq!(
        pids.len(),
        1,
        "background sessions of {caller_pid}: {pids:?}"
    );
    let r = observer
        .query_one(
            "SELECT usename::text, host(client_addr) FROM pg_stat_activity WHERE pid = $1",
            &[&pids[0]],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn default_background_connection_is_the_bootstrap_superuser_over_the_unix_socket() {
    let db = TestDb::new("priv_default_login");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(&db, "SELECT 1");
    }
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    add_job(&mut c, "default login");
    assert_eq!(
        background_login(&mut observer, pid),
        (cluster().superuser.clone(), None)
    );
}

#[test]
fn superuser_settings_redirect_the_background_connection() {
    let db = TestDb::new("priv_guc_redirect");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(
            &db,
            "SET jobmon.host = '127.0.0.1'; SET jobmon.port = 1; SET jobmon.\"user\" = 'nobody'",
        );
    }
    let bg_role = db.create_role("bg", "SUPERUSER");
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    exec(
        &mut c,
        &format!(
            "SET jobmon.host = '127.0.0.1'; SET jobmon.port = {}; SET jobmon.\"user\" = '{bg_role}';",
            cluster().port
        ),
    );
    let job = add_job(&mut c, "redirected");
    assert_eq!(
        background_login(&mut observer, pid),
        (bg_role, Some("127.0.0.1".to_string()))
    );
    let owner: String = c
        .query_one(
            "SELECT owner FROM jobmon.job_log WHERE job_id = $1",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, cluster().superuser, "the caller stays the owner");
}

#[test]
fn dblink_mapping_row_is_honoured_and_its_password_never_shows() {
    let db = TestDb::new("priv_dblink_mapping");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(&db, "INSERT INTO jobmon.dblink_mapping_jobmon (username, port, pwd, hostaddr) VALUES ('nobody', '1', 'pw', '127.0.0.1')");
    }
    let bg_role = db.create_role("mapped", "SUPERUSER");
    let password = format!("Pw-{}-never-logged", db.name);
    let mark = cluster().log_mark();
    {
        let mut setup = db.connect();
        setup
            .execute(
                "INSERT INTO jobmon.dblink_mapping_jobmon (username, port, pwd, host, hostaddr)
                 VALUES ($1, $2, $3, NULL, '127.0.0.1')",
                &[&bg_role, &cluster().port.to_string(), &password],
            )
            .unwrap();
    }
    let mut observer = db.connect();
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    add_job(&mut c, "mapped");
    assert_eq!(
        background_login(&mut observer, pid),
        (bg_role, Some("127.0.0.1".to_string()))
    );
    let shown = count(
        &mut observer,
        &format!(
            "SELECT count(*) FROM pg_stat_activity
              WHERE application_name LIKE '%{password}%' OR query LIKE '%{password}%'"
        ),
    );
    // The observer's own query contains the text once.
    assert_eq!(shown, 1, "the password shows in pg_stat_activity");
    assert!(
        !mark.text_since().contains(&password),
        "the password appears in the server log"
    );
}

#[test]
fn null_required_arguments_raise_null_value_not_allowed_naming_the_argument() {
    let db = TestDb::new("bad_null_required");
    let mut c = db.connect();
    let job = add_job(&mut c, "existing");
    let before = count(&mut c, "SELECT count(*) FROM jobmon.job_log")
        + count(&mut c, "SELECT count(*) FROM jobmon.job_detail");
    let cases = [
        ("SELECT jobmon.add_job(NULL)".to_string(), "p_job_name"),
        ("SELECT jobmon.add_step(NULL, 'a')".to_string(), "p_job_id"),
        (format!("SELECT jobmon.add_step({job}, NULL)"), "p_action"),
        (
            "SELECT jobmon.update_step(NULL, 'OK', 'm')".to_string(),
            "p_step_id",
        ),
        (
            "SELECT jobmon.close_job(NULL::bigint)".to_string(),
            "p_job_id",
        ),
        (
            "SELECT jobmon.fail_job(NULL::bigint)".to_string(),
            "p_job_id",
        ),
        (
            "SELECT jobmon.fail_job(NULL::bigint, 3)".to_string(),
            "p_job_id",
        ),
    ];
    for (sql, argument) in cases {
        let err = server_error(c.batch_execute(&sql));
        assert_eq!(err.code, "22004", "{sql}: {err:?}");
        assert!(
            err.message.contains(argument),
            "{sql}: message does not name {argument}: {err:?}"
        );
    }
    let after = count(&mut c, "SELECT count(*) FROM jobmon.job_log")
        + count(&mut c, "SELECT count(*) FROM jobmon.job_detail");
    assert_eq!(before, after, "a rejected call wrote rows");
    assert_eq!(job_state(&mut c, job), (None, false));
}

#[test]
fn update_step_accepts_null_status_and_message() {
    let db = TestDb::new("bad_null_optional");
    let mut c = db.connect();
    let job = add_job(&mut c, "optional nulls");
    let step = add_step(&mut c, job, "nothing to say");
    c.execute("SELECT jobmon.update_step($1, NULL, NULL)", &[&step])
        .unwrap_or_else(|e| panic!("update_step with NULLs: {}", error_text(&e)));
    let r = c
        .query_one(
            "SELECT status IS NULL, message IS NULL, end_time IS NOT NULL
               FROM jobmon.job_detail WHERE step_id = $1",
            &[&step],
        )
        .unwrap();
    assert!(r.get::<_, bool>(0) && r.get::<_, bool>(1) && r.get::<_, bool>(2));
}

/// A valid literal for an argument, chosen by its name and type.
fn sample_value(name: &str, ty: &str, job: i64, step: i64) -> String {
    match (name, ty) {
        ("p_step_id", _) => step.to_string(),
        (_, "bigint") => job.to_string(),
        ("p_fail_level", _) => "3".into(),
        (_, "integer") => "10".into(),
        (_, "smallint") => "1".into(),
        (_, "interval") => "'1 week'".into(),
        (_, "boolean") => "true".into(),
        ("p_config_table", _) => "'jobmon.job_status_text'".into(),
        ("p_sql", _) => "'SELECT 1'".into(),
        ("p_status", _) => "'OK'".into(),
        _ => "'null test'".into(),
    }
}

#[test]
fn null_in_any_argument_of_any_function_never_crashes_the_backend() {
    let db = TestDb::new("bad_null_everywhere");
    let mark = cluster().log_mark();
    let (job, step) = job_of_closed_session(&db, "null target");
    let mut c = db.connect();
    let functions: Vec<(String, Vec<String>, Vec<String>)> = c
        .query(
            "SELECT p.proname::text,
                    ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[])
                          WITH ORDINALITY AS u(t, n) ORDER BY n),
                    coalesce(p.proargnames, '{}')
               FROM pg_proc p
              WHERE p.pronamespace = 'jobmon'::regnamespace AND p.prokind = 'f'
                AND p.prorettype <> 'trigger'::regtype
              ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(functions.len() >= 20, "functions found: {functions:?}");
    let mut calls = 0;
    for (name, types, names) in &functions {
        for null_at in 0..types.len() {
            let args: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(i, ty)| {
                    let arg_name = names.get(i).map(String::as_str).unwrap_or("");
                    let value = if i == null_at {
                        "NULL".to_string()
                    } else {
                        sample_value(arg_name, ty, job, step)
                    };
                    format!("{value}::{ty}")
                })
                .collect();
            let sql = format!("SELECT jobmon.{name}({})", args.join(", "));
            calls += 1;
            if let Err(e) = c.batch_execute(&sql) {
                let Some(db_err) = e.as_db_error() else {
                    panic!("{sql}: the connection failed: {e}");
                };
                let code = db_err.code().code();
                assert!(
                    !code.starts_with("XX") && !code.starts_with("58"),
                    "{sql}: internal error {}",
                    error_text(&e)
                );
            }
            c.batch_execute("SELECT 1")
                .unwrap_or_else(|e| panic!("session unusable after {sql}: {e}"));
        }
    }
    assert!(calls >= 30, "only {calls} calls made");
    mark.assert_no_crash_since();
}

fn odd_texts() -> Vec<String> {
    [
        "it's a 'quoted' name",
        "back\\slash \\' \\\\",
        "100% %s %d %n %%",
        "new\nline\r\nand\ttab",
        "ünïcödé ✓ 日本語 ﷽ 🚀",
        "$1 $$dollar$$ ; DROP TABLE jobmon.job_log; --",
        "\"double quoted\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn odd_names_and_a_one_megabyte_message_round_trip_byte_for_byte() {
    let db = TestDb::new("bad_round_trip");
    let mut c = db.connect();
    for text in odd_texts() {
        let job = add_job(&mut c, &text);
        let upper: String = c.query_one("SELECT upper($1)", &[&text]).unwrap().get(0);
        let stored: String = c
            .query_one(
                "SELECT job_name FROM jobmon.job_log WHERE job_id = $1",
                &[&job],
            )
            .unwrap()
            .get(0);
        assert_eq!(stored, upper, "job_name of {text:?}");
        let shown: Vec<i64> = c
            .query("SELECT job_id FROM jobmon.show_job($1)", &[&text])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(shown, vec![job], "show_job({text:?})");
        let step = add_step(&mut c, job, &text);
        c.execute(
            "SELECT jobmon.update_step($1, $2, $3)",
            &[&step, &text, &text],
        )
        .unwrap_or_else(|e| panic!("update_step with {text:?}: {}", error_text(&e)));
        let r = c
            .query_one(
                "SELECT action, status, message FROM jobmon.job_detail WHERE step_id = $1",
                &[&step],
            )
            .unwrap();
        assert_eq!(r.get::<_, String>(0), text);
        assert_eq!(r.get::<_, String>(1), text);
        assert_eq!(r.get::<_, String>(2), text);
    }

    let unit = odd_texts().join(" | ");
    let mut big = String::new();
    while big.len() < 1024 * 1024 {
        big.push_str(&unit);
    }
    let job = add_job(&mut c, "big message");
    let step = add_step(&mut c, job, "big");
    c.execute("SELECT jobmon.update_step($1, 'OK', $2)", &[&step, &big])
        .unwrap_or_else(|e| panic!("update_step with 1 MB: {}", error_text(&e)));
    let stored: String = c
        .query_one(
            "SELECT message FROM jobmon.job_detail WHERE step_id = $1",
            &[&step],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored.len(), big.len());
    assert!(stored == big, "the 1 MB message changed");
}

#[test]
fn config_table_that_does_not_exist_is_an_error_and_changes_nothing() {
    let db = TestDb::new("bad_config_missing");
    let (job, step) = job_of_closed_session(&db, "config missing");
    let mut c = db.connect();
    for sql in [
        "SELECT jobmon.close_job($1, 'public.no_such_status_table')",
        "SELECT jobmon.fail_job($1, 'no_such_status_table')",
        "SELECT jobmon.cancel_job($1, 'nowhere.no_such_status_table')",
    ] {
        let err = server_error(c.execute(sql, &[&job]));
        assert!(!err.code.starts_with("XX"), "{sql}: {err:?}");
        assert_eq!(
            job_state(&mut c, job),
            (None, false),
            "{sql} changed the job"
        );
    }
    let step_status: Option<String> = c
        .query_one(
            "SELECT status FROM jobmon.job_detail WHERE step_id = $1",
            &[&step],
        )
        .unwrap()
        .get(0);
    assert_eq!(step_status, None);
}

#[test]
fn config_table_carrying_sql_is_rejected_and_executes_nothing() {
    let db = TestDb::new("bad_config_injection");
    let (job, step) = job_of_closed_session(&db, "config injection");
    let mut c = db.connect();
    let payloads = [
        "job_status_text; DROP TABLE jobmon.job_log",
        "jobmon.job_status_text; DROP TABLE jobmon.job_log",
        "jobmon.job_status_text WHERE false; DELETE FROM jobmon.job_status_text; --",
        "(SELECT 1 AS alert_code, 'x' AS alert_text) s; DROP TABLE jobmon.job_log; --",
        "jobmon.job_status_text'; DROP TABLE jobmon.job_log; --",
    ];
    for payload in payloads {
        for function in ["close_job", "fail_job", "cancel_job"] {
            let sql = format!("SELECT jobmon.{function}($1, $2)");
            let err = server_error(c.execute(sql.as_str(), &[&job, &payload]));
            assert!(
                !err.code.starts_with("XX"),
                "{function}({payload:?}): {err:?}"
            );
            assert_eq!(
                count(
                    &mut c,
                    "SELECT count(*) FROM pg_class WHERE oid = to_regclass('jobmon.job_log')"
                ),
                1,
                "{function}({payload:?}) dropped job_log"
            );
            assert_eq!(
                count(&mut c, "SELECT count(*) FROM jobmon.job_status_text"),
                3,
                "{function}({payload:?}) deleted status texts"
            );
            assert_eq!(
                job_state(&mut c, job),
                (None, false),
                "{function}({payload:?}) changed the job"
            );
        }
    }
    let step_status: Option<String> = c
        .query_one(
            "SELECT status FROM jobmon.job_detail WHERE step_id = $1",
            &[&step],
        )
        .unwrap()
        .get(0);
    assert_eq!(step_status, None);
}

#[test]
fn unknown_fail_level_is_invalid_parameter_value_and_changes_nothing() {
    let db = TestDb::new("bad_fail_level");
    let mut c = db.connect();
    let job = add_job(&mut c, "odd level");
    for level in [7, 0, -1] {
        let err = expect_sqlstate(
            c.execute("SELECT jobmon.fail_job($1, $2::int)", &[&job, &level]),
            SqlState::INVALID_PARAMETER_VALUE,
        );
        assert!(!err.message.is_empty());
        assert_eq!(job_state(&mut c, job), (None, false));
    }
}

#[test]
fn missing_step_or_job_ids_raise_no_data_found_naming_the_id() {
    let db = TestDb::new("bad_missing_ids");
    let mut c = db.connect();
    let missing: i64 = 987_654_321;
    for sql in [
        "SELECT jobmon.update_step($1, 'OK', 'nothing there')",
        "SELECT jobmon.close_job($1)",
        "SELECT jobmon.fail_job($1)",
    ] {
        let err = expect_sqlstate(c.execute(sql, &[&missing]), SqlState::NO_DATA_FOUND);
        assert!(
            err.message.contains("987654321"),
            "{sql}: message does not name the id: {err:?}"
        );
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM jobmon.job_log"), 0);
}

#[test]
fn add_step_of_a_missing_job_is_a_foreign_key_violation() {
    let db = TestDb::new("bad_missing_job");
    let mut c = db.connect();
    expect_sqlstate(
        c.query_one("SELECT jobmon.add_step(987654321, 'orphan')", &[]),
        SqlState::FOREIGN_KEY_VIOLATION,
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM jobmon.job_detail"), 0);
}
