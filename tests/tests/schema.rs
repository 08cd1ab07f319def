//! The SQL surface as the catalog shows it: tables, columns, keys, indexes, seed rows,
//! the compatibility view and every function with its 1.5.0 signature.

use jobmon_tests::{error_text, server_error, TestDb};
use postgres::Client;
use std::collections::BTreeMap;

/// (column name, type, NOT NULL) in column order.
fn columns(client: &mut Client, relation: &str) -> Vec<(String, String, bool)> {
    client
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull
               FROM pg_attribute
              WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[&relation],
        )
        .unwrap_or_else(|e| panic!("columns of {relation}: {}", error_text(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn cols(spec: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    spec.iter()
        .map(|(n, t, nn)| (n.to_string(), t.to_string(), *nn))
        .collect()
}

#[test]
fn tables_have_the_columns_types_nullability_and_order_of_1_5_0() {
    let db = TestDb::new("schema_columns");
    let mut c = db.connect();
    assert_eq!(
        columns(&mut c, "jobmon.job_log"),
        cols(&[
            ("job_id", "bigint", true),
            ("owner", "text", true),
            ("job_name", "text", true),
            ("start_time", "timestamp with time zone", true),
            ("end_time", "timestamp with time zone", false),
            ("status", "text", false),
            ("pid", "integer", true),
        ])
    );
    assert_eq!(
        columns(&mut c, "jobmon.job_detail"),
        cols(&[
            ("job_id", "bigint", true),
            ("step_id", "bigint", true),
            ("action", "text", true),
            ("start_time", "timestamp with time zone", true),
            ("end_time", "timestamp with time zone", false),
            ("elapsed_time", "real", false),
            ("status", "text", false),
            ("message", "text", false),
        ])
    );
    assert_eq!(
        columns(&mut c, "jobmon.job_check_log"),
        cols(&[
            ("job_id", "bigint", true),
            ("job_name", "text", true),
            ("alert_code", "integer", true),
        ])
    );
    assert_eq!(
        columns(&mut c, "jobmon.job_check_config"),
        cols(&[
            ("job_name", "text", true),
            ("warn_threshold", "interval", true),
            ("error_threshold", "interval", true),
            ("active", "boolean", true),
            ("sensitivity", "smallint", true),
            ("escalate", "integer", false),
        ])
    );
    assert_eq!(
        columns(&mut c, "jobmon.job_status_text"),
        cols(&[
            ("alert_code", "integer", true),
            ("alert_text", "text", true)
        ])
    );
    assert_eq!(
        columns(&mut c, "jobmon.dblink_mapping_jobmon"),
        cols(&[
            ("username", "text", false),
            ("port", "text", false),
            ("pwd", "text", false),
            ("host", "text", false),
            ("hostaddr", "text", false),
        ])
    );
    let view: Vec<(String, String)> = columns(&mut c, "jobmon.job_alert_nagios")
        .into_iter()
        .map(|(n, t, _)| (n, t))
        .collect();
    assert_eq!(
        view,
        vec![
            ("error_code".to_string(), "integer".to_string()),
            ("error_text".to_string(), "text".to_string())
        ]
    );
}

#[test]
fn column_defaults_primary_keys_foreign_key_and_indexes_match_1_5_0() {
    let db = TestDb::new("schema_keys");
    let mut c = db.connect();

    let defaults: BTreeMap<String, String> = c
        .query(
            "SELECT a.attrelid::regclass::text || '.' || a.attname, pg_get_expr(d.adbin, d.adrelid)
               FROM pg_attrdef d
               JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
              WHERE a.attrelid IN ('jobmon.job_log'::regclass, 'jobmon.job_detail'::regclass,
                                   'jobmon.job_check_log'::regclass, 'jobmon.job_check_config'::regclass)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let default_of = |col: &str| {
        defaults
            .get(col)
            .unwrap_or_else(|| panic!("{col} has no default; defaults: {defaults:?}"))
            .clone()
    };
    assert!(default_of("jobmon.job_log.job_id").starts_with("nextval("));
    assert!(default_of("jobmon.job_detail.step_id").starts_with("nextval("));
    assert_eq!(default_of("jobmon.job_check_log.alert_code"), "3");
    assert_eq!(default_of("jobmon.job_check_config.active"), "false");
    assert_eq!(default_of("jobmon.job_check_config.sensitivity"), "0");

    let primary_keys: BTreeMap<String, String> = c
        .query(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid)
               FROM pg_constraint
              WHERE contype = 'p' AND connamespace = 'jobmon'::regnamespace",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected_pk: BTreeMap<String, String> = [
        ("jobmon.job_log", "PRIMARY KEY (job_id)"),
        ("jobmon.job_detail", "PRIMARY KEY (step_id)"),
        ("jobmon.job_check_config", "PRIMARY KEY (job_name)"),
        ("jobmon.job_status_text", "PRIMARY KEY (alert_code)"),
        // jobmon-tracker's own tables (not in 1.5.0).
        ("jobmon.tracker_source", "PRIMARY KEY (source)"),
        (
            "jobmon.tracker_message",
            "PRIMARY KEY (source, generation, queue_id)",
        ),
        ("jobmon.tracker_instance", "PRIMARY KEY (tracker)"),
        ("jobmon.tracker_job_state", "PRIMARY KEY (job_name)"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(primary_keys, expected_pk);

    let fk: Vec<String> = c
        .query(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
              WHERE contype = 'f' AND conrelid = 'jobmon.job_detail'::regclass",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        fk,
        vec![
            "FOREIGN KEY (job_id) REFERENCES jobmon.job_log(job_id) ON DELETE CASCADE".to_string()
        ]
    );

    // Leading column of every index per table.
    let indexed: Vec<String> = c
        .query(
            "SELECT i.indrelid::regclass::text || '.' || a.attname
               FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid IN ('jobmon.job_log'::regclass, 'jobmon.job_detail'::regclass)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for col in [
        "jobmon.job_log.job_id",
        "jobmon.job_log.job_name",
        "jobmon.job_log.start_time",
        "jobmon.job_log.status",
        "jobmon.job_log.pid",
        "jobmon.job_detail.step_id",
        "jobmon.job_detail.job_id",
    ] {
        assert!(
            indexed.iter().any(|i| i == col),
            "no index leads with {col}; indexes lead with {indexed:?}"
        );
    }
}

#[test]
fn job_status_text_is_seeded_ok_warning_critical_and_the_nagios_view_mirrors_it() {
    let db = TestDb::new("schema_status_text");
    let mut c = db.connect();
    let seeded: Vec<(i32, String)> = c
        .query(
            "SELECT alert_code, alert_text FROM jobmon.job_status_text ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = vec![
        (1, "OK".to_string()),
        (2, "WARNING".to_string()),
        (3, "CRITICAL".to_string()),
    ];
    assert_eq!(seeded, expected);
    let view: Vec<(i32, String)> = c
        .query(
            "SELECT error_code, error_text FROM jobmon.job_alert_nagios ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(view, expected);

    // The 2012-era Nagios query keeps working.
    let row = c
        .query_one(
            "SELECT c.alert_code, r.error_text, c.alert_text
               FROM jobmon.check_job_status() c
               JOIN jobmon.job_alert_nagios r ON c.alert_code = r.error_code",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, String>(1), "OK");
    assert_eq!(row.get::<_, String>(2), "All jobs run successfully");
}

/// (identity arguments or argument types, result) of every function in schema jobmon.
fn functions(client: &mut Client) -> Vec<(String, String, String, String, i16)> {
    client
        .query(
            "SELECT proname::text, pg_get_function_identity_arguments(oid),
                    oidvectortypes(proargtypes), pg_get_function_result(oid), pronargdefaults
               FROM pg_proc WHERE pronamespace = 'jobmon'::regnamespace",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

#[test]
fn every_function_of_1_5_0_exists_with_its_argument_names_types_and_result() {
    let db = TestDb::new("schema_functions");
    let mut c = db.connect();
    let all = functions(&mut c);
    let find = |name: &str, types: &str| {
        all.iter()
            .find(|f| f.0 == name && f.2 == types)
            .unwrap_or_else(|| {
                panic!(
                    "jobmon.{name}({types}) is missing; functions named {name}: {:?}",
                    all.iter().filter(|f| f.0 == name).collect::<Vec<_>>()
                )
            })
            .clone()
    };
    // Functions users call with named arguments: names, types and results pinned.
    const CHECK_OUT: &str =
        "OUT alert_code integer, OUT alert_status text, OUT job_name text, OUT alert_text text";
    let check_with_history = format!("p_history interval, {CHECK_OUT}");
    let named = [
        ("add_job", "text", "p_job_name text", "bigint"),
        (
            "add_step",
            "bigint, text",
            "p_job_id bigint, p_action text",
            "bigint",
        ),
        (
            "update_step",
            "bigint, text, text",
            "p_step_id bigint, p_status text, p_message text",
            "void",
        ),
        ("close_job", "bigint", "p_job_id bigint", "void"),
        (
            "fail_job",
            "bigint, integer",
            "p_job_id bigint, p_fail_level integer",
            "void",
        ),
        (
            "close_job",
            "bigint, text",
            "p_job_id bigint, p_config_table text",
            "void",
        ),
        (
            "fail_job",
            "bigint, text",
            "p_job_id bigint, p_config_table text",
            "void",
        ),
        ("cancel_job", "bigint", "p_job_id bigint", "boolean"),
        (
            "sql_step",
            "bigint, text, text",
            "p_job_id bigint, p_action text, p_sql text",
            "boolean",
        ),
        (
            "sql_job",
            "text, text",
            "p_job_name text, p_sql text",
            "text",
        ),
        ("job_log_clear", "interval", "p_interval interval", "void"),
        (
            "check_job_status",
            "interval",
            check_with_history.as_str(),
            "SETOF record",
        ),
        ("check_job_status", "", CHECK_OUT, "SETOF record"),
    ];
    for (name, types, identity, result) in named {
        let f = find(name, types);
        assert_eq!(f.1, identity, "arguments of jobmon.{name}({types})");
        assert_eq!(f.3, result, "result of jobmon.{name}({types})");
    }
    let cancel_cfg = find("cancel_job", "bigint, text");
    assert_eq!(cancel_cfg.1, "p_job_id bigint, p_config_table text");

    // The show_* family: argument types and row types.
    let shows = [
        ("show_job", "text, integer", "SETOF jobmon.job_log"),
        ("show_job_like", "text, integer", "SETOF jobmon.job_log"),
        ("show_job_status", "text, integer", "SETOF jobmon.job_log"),
        (
            "show_job_status",
            "text, text, integer",
            "SETOF jobmon.job_log",
        ),
        ("show_detail", "bigint", "SETOF jobmon.job_detail"),
        ("show_detail", "text, integer", "SETOF jobmon.job_detail"),
        ("show_running", "integer", "SETOF jobmon.job_log"),
    ];
    for (name, types, result) in shows {
        assert_eq!(
            find(name, types).3,
            result,
            "result of jobmon.{name}({types})"
        );
    }
    find("_set_job_status", "bigint, text");

    // Defaults callers rely on.
    for (name, types) in [
        ("fail_job", "bigint, integer"),
        ("show_job", "text, integer"),
        ("show_detail", "text, integer"),
        ("show_running", "integer"),
    ] {
        assert_eq!(
            find(name, types).4,
            1,
            "jobmon.{name}({types}) needs a default"
        );
    }
}

#[test]
fn check_job_status_returns_alert_code_alert_status_job_name_alert_text() {
    let db = TestDb::new("schema_check_columns");
    let mut c = db.connect();
    for sql in [
        "SELECT * FROM jobmon.check_job_status('1 day'::interval)",
        "SELECT * FROM jobmon.check_job_status()",
    ] {
        let stmt = c.prepare(sql).unwrap();
        let got: Vec<(String, String)> = stmt
            .columns()
            .iter()
            .map(|col| (col.name().to_string(), col.type_().name().to_string()))
            .collect();
        let want: Vec<(String, String)> = [
            ("alert_code", "int4"),
            ("alert_status", "text"),
            ("job_name", "text"),
            ("alert_text", "text"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want, "columns of {sql}");
    }
}

/// sql_step and sql_job run the caller's SQL, and the p_config_table variants resolve the
/// caller's table name, so those must see the caller's search_path: they are one-statement
/// SQL wrappers over pinned functions. Every other function pins its own.
#[test]
fn only_the_caller_path_wrappers_leave_their_search_path_unpinned() {
    let db = TestDb::new("schema_search_path");
    let mut c = db.connect();
    let unpinned: Vec<String> = c
        .query(
            "SELECT oid::regprocedure::text FROM pg_proc
              WHERE pronamespace = 'jobmon'::regnamespace
                AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) s WHERE s LIKE 'search_path=%')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let wrappers = [
        "jobmon.cancel_job(bigint,text)",
        "jobmon.close_job(bigint,text)",
        "jobmon.fail_job(bigint,text)",
        "jobmon.sql_job(text,text)",
        "jobmon.sql_step(bigint,text,text)",
    ];
    assert_eq!(unpinned, wrappers, "functions without a pinned search_path");
    let languages: Vec<String> = c
        .query(
            "SELECT DISTINCT l.lanname::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
              WHERE p.oid::regprocedure::text = ANY($1)",
            &[&wrappers.to_vec()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(languages, ["sql"], "the unpinned wrappers are plain SQL");
}

#[test]
fn sql_step_and_sql_job_run_the_callers_sql_with_the_callers_search_path() {
    let db = TestDb::new("schema_caller_path");
    let mut c = db.connect();
    c.batch_execute(
        "CREATE SCHEMA app;
         CREATE TABLE app.orders (n int);
         SET search_path = app, public;",
    )
    .unwrap();
    let job: i64 = c
        .query_one("SELECT jobmon.add_job('caller path')", &[])
        .unwrap()
        .get(0);
    let ok: bool = c
        .query_one(
            "SELECT jobmon.sql_step($1, 'unqualified insert', 'INSERT INTO orders VALUES (1), (2)')",
            &[&job],
        )
        .unwrap()
        .get(0);
    assert!(
        ok,
        "sql_step did not find app.orders through the caller's search_path"
    );
    let result: String = c
        .query_one(
            "SELECT jobmon.sql_job('caller path job', 'DELETE FROM orders WHERE n = 1')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(result.starts_with("Job logged with job id: "), "{result}");
    let left: i64 = c
        .query_one("SELECT count(*) FROM app.orders", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    // The caller's search_path is unchanged afterwards.
    let path: String = c.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "app, public");
}

#[test]
fn hostile_search_path_does_not_hijack_show_job_check_job_status_or_sql_step() {
    let db = TestDb::new("schema_hostile_path");
    let mut c = db.connect();
    let id: i64 = c
        .query_one("SELECT jobmon.add_job('hijack me')", &[])
        .unwrap()
        .get(0);
    c.batch_execute(
        "CREATE SCHEMA evil;
         CREATE FUNCTION evil.upper(text) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
         CREATE TABLE evil.job_log (LIKE jobmon.job_log);
         CREATE TABLE evil.job_check_log (LIKE jobmon.job_check_log);
         INSERT INTO evil.job_check_log VALUES (1, 'EVIL', 3), (2, 'EVIL', 3), (3, 'EVIL', 3);
         CREATE FUNCTION evil.cat(text, bigint) RETURNS text LANGUAGE sql AS $$ SELECT 'HIJACKED' $$;
         CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = bigint, FUNCTION = evil.cat);
         SET search_path = evil, pg_catalog, jobmon;",
    )
    .unwrap();
    let shown: Vec<i64> = c
        .query("SELECT job_id FROM jobmon.show_job('hijack me')", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(shown, vec![id]);
    let status: Vec<(i32, String)> = c
        .query(
            "SELECT alert_code, alert_status FROM jobmon.check_job_status()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(status, vec![(1, "OK".to_string())]);
    let id2: i64 = c
        .query_one("SELECT jobmon.add_job('second')", &[])
        .unwrap()
        .get(0);
    let row = c
        .query_one(
            "SELECT job_name FROM jobmon.job_log WHERE job_id = $1",
            &[&id2],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "SECOND");
    let ok: bool = c
        .query_one("SELECT jobmon.sql_step($1, 'one row', 'SELECT 1')", &[&id2])
        .unwrap()
        .get(0);
    assert!(ok);
    let message: Option<String> = c
        .query_one(
            "SELECT message FROM jobmon.job_detail WHERE job_id = $1",
            &[&id2],
        )
        .unwrap()
        .get(0);
    assert_eq!(message.as_deref(), Some("Rows affected: 1"));
    let evil_rows: i64 = c
        .query_one("SELECT count(*) FROM evil.job_log", &[])
        .unwrap()
        .get(0);
    assert_eq!(evil_rows, 0);
}

#[test]
fn extension_is_version_2_and_needs_no_dblink() {
    let db = TestDb::new("schema_version");
    let mut c = db.connect();
    let version: String = c
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_jobmon'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(version.starts_with("2."), "extension version {version}");
    let others: Vec<String> = c
        .query(
            "SELECT extname::text FROM pg_extension WHERE extname NOT IN ('plpgsql', 'pg_jobmon')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(others.is_empty(), "extensions pulled in: {others:?}");
    let id: i64 = c
        .query_one("SELECT jobmon.add_job('no dblink')", &[])
        .unwrap()
        .get(0);
    assert!(id > 0);
}

#[test]
fn dblink_mapping_jobmon_accepts_at_most_one_row() {
    let db = TestDb::new("schema_dblink_single_row");
    let mut c = db.connect();
    c.batch_execute("INSERT INTO jobmon.dblink_mapping_jobmon (username) VALUES (NULL)")
        .unwrap();
    let err = server_error(c.execute(
        "INSERT INTO jobmon.dblink_mapping_jobmon (username) VALUES (NULL)",
        &[],
    ));
    assert!(
        err.message
            .contains("Only a single row may exist in this table"),
        "{err:?}"
    );
    let rows: i64 = c
        .query_one("SELECT count(*) FROM jobmon.dblink_mapping_jobmon", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);
}
