//! What a logging call says when the background connection cannot be had: each cause with
//! its own SQLSTATE (08xxx only when connecting itself failed) and a hint naming what to
//! correct; and the session works again once the cause is gone.

use jobmon_tests::{
    add_job, assert_shared_mode_ignores_connection_settings, closed_port, cluster, error_text,
    exec, expect_sqlstate, shared_mode, TestDb,
};
use postgres::error::SqlState;
use postgres::Client;

fn job_count(c: &mut Client) -> i64 {
    c.query_one("SELECT count(*) FROM jobmon.job_log", &[])
        .unwrap_or_else(|e| panic!("count job_log: {}", error_text(&e)))
        .get(0)
}

/// A superuser session with the library loaded, so that jobmon.* settings are checked.
fn loaded_session(db: &TestDb) -> Client {
    let mut c = db.connect();
    exec(&mut c, "LOAD 'pg_jobmon'");
    c
}

#[test]
fn library_called_where_the_extension_is_not_installed_raises_undefined_object_with_a_hint() {
    let db = TestDb::new("connerr_not_installed");
    let mut c = db.connect();
    // The library's add_job reached without the extension's own function, as a hand-made
    // C function does once the extension is dropped.
    exec(
        &mut c,
        "CREATE FUNCTION public.raw_add_job(text) RETURNS bigint
             AS 'pg_jobmon', 'add_job_wrapper' LANGUAGE c",
    );
    let job: i64 = c
        .query_one("SELECT public.raw_add_job('while installed')", &[])
        .unwrap_or_else(|e| panic!("raw_add_job: {}", error_text(&e)))
        .get(0);
    assert!(job > 0);
    exec(&mut c, "DROP EXTENSION pg_jobmon CASCADE");
    let err = expect_sqlstate(
        c.query_one("SELECT public.raw_add_job('after DROP EXTENSION')", &[]),
        SqlState::UNDEFINED_OBJECT,
    );
    assert_eq!(
        err.message, "extension \"pg_jobmon\" is not installed in this database",
        "{err:?}"
    );
    let hint = err.hint.unwrap_or_default();
    assert!(hint.contains("CREATE EXTENSION pg_jobmon"), "hint: {hint}");
}

#[test]
fn bad_dblink_mapping_port_raises_invalid_parameter_value_naming_the_field() {
    let db = TestDb::new("connerr_mapping_port");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(
            &db,
            "INSERT INTO jobmon.dblink_mapping_jobmon (port) VALUES ('not-a-port')",
        );
    }
    let mut c = loaded_session(&db);
    for bad in ["not-a-port", "0", "70000"] {
        exec(&mut c, "DELETE FROM jobmon.dblink_mapping_jobmon");
        c.execute(
            "INSERT INTO jobmon.dblink_mapping_jobmon (port) VALUES ($1)",
            &[&bad],
        )
        .unwrap_or_else(|e| panic!("insert mapping: {}", error_text(&e)));
        let err = expect_sqlstate(
            c.query_one("SELECT jobmon.add_job('bad mapping port')", &[]),
            SqlState::INVALID_PARAMETER_VALUE,
        );
        assert_eq!(
            err.message,
            format!("dblink_mapping_jobmon.port \"{bad}\" is not a port number (1 to 65535)"),
            "{err:?}"
        );
        let hint = err.hint.unwrap_or_default();
        assert!(
            hint.contains("dblink_mapping_jobmon") && hint.contains("jobmon.port"),
            "hint: {hint}"
        );
    }
    assert_eq!(job_count(&mut c), 0, "a rejected call wrote a row");
    // jobmon.port takes precedence, so the bad field is not even read.
    let port = cluster().port;
    exec(&mut c, &format!("SET jobmon.port = {port}"));
    add_job(&mut c, "jobmon.port overrides the mapping");
    assert_eq!(job_count(&mut c), 1);
}

#[test]
fn out_of_range_jobmon_port_is_refused_by_set_naming_the_setting() {
    let db = TestDb::new("connerr_guc_port");
    let mut c = loaded_session(&db);
    let err = expect_sqlstate(
        c.batch_execute("SET jobmon.port = 70000"),
        SqlState::INVALID_PARAMETER_VALUE,
    );
    assert!(err.message.contains("jobmon.port"), "{err:?}");
    add_job(&mut c, "the old value still applies");
}

#[test]
fn refused_connection_raises_unable_to_establish_naming_the_target_once() {
    let db = TestDb::new("connerr_refused");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(
            &db,
            &format!(
                "SET jobmon.host = '127.0.0.1'; SET jobmon.port = {}",
                closed_port()
            ),
        );
    }
    let mut c = loaded_session(&db);
    let port = closed_port();
    exec(
        &mut c,
        &format!("SET jobmon.host = '127.0.0.1'; SET jobmon.port = {port}"),
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('refused')", &[]),
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    );
    let target = format!(
        "user={} host=127.0.0.1 port={port} dbname={}",
        cluster().superuser,
        db.name
    );
    assert!(
        err.message.starts_with(&format!(
            "pg_jobmon could not open its background connection to {target}: "
        )),
        "{err:?}"
    );
    assert_eq!(err.message.matches("127.0.0.1").count(), 1, "{err:?}");
    assert_eq!(err.message.matches(&port.to_string()).count(), 1, "{err:?}");
    assert!(err.message.contains("refused"), "{err:?}");
    let hint = err.hint.unwrap_or_default();
    assert!(
        hint.contains("jobmon.host")
            && hint.contains("jobmon.port")
            && !hint.contains("jobmon.user"),
        "hint: {hint}"
    );
    // Once the settings are reset, the same session connects.
    exec(&mut c, "RESET jobmon.host; RESET jobmon.port");
    add_job(&mut c, "default target again");
    assert_eq!(job_count(&mut c), 1);
}

#[test]
fn unresolvable_host_raises_unable_to_establish_naming_the_setting() {
    let db = TestDb::new("connerr_dns");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(
            &db,
            "SET jobmon.host = 'no-such-host.invalid'",
        );
    }
    let mut c = loaded_session(&db);
    exec(&mut c, "SET jobmon.host = 'no-such-host.invalid'");
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('unresolvable')", &[]),
        SqlState::SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
    );
    assert!(
        err.message.starts_with(
            "pg_jobmon could not open its background connection: \
             cannot resolve host name \"no-such-host.invalid\" (from jobmon.host): "
        ),
        "{err:?}"
    );
    let hint = err.hint.unwrap_or_default();
    assert!(hint.contains("Correct jobmon.host"), "hint: {hint}");
}

#[test]
fn dblink_mapping_table_of_another_shape_raises_object_not_in_prerequisite_state() {
    let db = TestDb::new("connerr_mapping_shape");
    if shared_mode() {
        return assert_shared_mode_ignores_connection_settings(&db, "ALTER TABLE jobmon.dblink_mapping_jobmon ALTER COLUMN port TYPE integer USING port::integer;
             INSERT INTO jobmon.dblink_mapping_jobmon (port) VALUES (5432)");
    }
    let mut c = loaded_session(&db);
    exec(
        &mut c,
        "ALTER TABLE jobmon.dblink_mapping_jobmon ALTER COLUMN port TYPE integer USING port::integer;
         INSERT INTO jobmon.dblink_mapping_jobmon (port) VALUES (5432)",
    );
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('odd mapping')", &[]),
        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
    );
    assert!(
        err.message
            .starts_with("pg_jobmon cannot read dblink_mapping_jobmon: "),
        "{err:?}"
    );
    let hint = err.hint.unwrap_or_default();
    assert!(hint.contains("all text"), "hint: {hint}");
    assert_eq!(job_count(&mut c), 0);
}

#[test]
fn background_session_terminated_again_after_the_reconnect_raises_connection_failure() {
    let db = TestDb::new("connerr_broken_twice");
    let mark = cluster().log_mark();
    let mut c = db.connect();
    // A trigger that makes the background session terminate itself, on every try.
    exec(
        &mut c,
        "CREATE FUNCTION public.die_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.job_name = 'DIE' THEN
                 PERFORM pg_terminate_backend(pg_backend_pid());
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER die_on_insert BEFORE INSERT ON jobmon.job_log
             FOR EACH ROW EXECUTE FUNCTION public.die_on_insert();",
    );
    if shared_mode() {
        // The writer that runs it terminates itself, the next writer too: the call fails
        // once its request took down two writers, and the next call works.
        let err = expect_sqlstate(
            c.query_one("SELECT jobmon.add_job('die')", &[]),
            SqlState::ADMIN_SHUTDOWN,
        );
        assert_eq!(
            err.message,
            "pg_jobmon's writer process exited twice while writing this call"
        );
        add_job(&mut c, "the next call is written");
        assert_eq!(job_count(&mut c), 1, "the terminated tries wrote nothing");
        mark.assert_no_crash_since();
        return;
    }
    let err = expect_sqlstate(
        c.query_one("SELECT jobmon.add_job('die')", &[]),
        SqlState::CONNECTION_FAILURE,
    );
    assert!(
        err.message.starts_with(&format!(
            "pg_jobmon's background connection to user={} host=",
            cluster().superuser
        )),
        "{err:?}"
    );
    assert_eq!(
        err.message.matches(&format!("dbname={}", db.name)).count(),
        1,
        "{err:?}"
    );
    let hint = err.hint.unwrap_or_default();
    assert!(
        hint.contains("The next call opens a new one"),
        "hint: {hint}"
    );
    add_job(&mut c, "the next call reconnects");
    assert_eq!(job_count(&mut c), 1, "the terminated tries wrote nothing");
    mark.assert_no_crash_since();
}
