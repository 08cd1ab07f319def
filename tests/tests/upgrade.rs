//! `ALTER EXTENSION pg_jobmon UPDATE`: from pg_jobmon 1.5.0 (tests/fixtures, a stand-in
//! with exactly 1.5.0's objects) and from every install script kept in sql/versions, the
//! update must give the catalog a fresh `CREATE EXTENSION` gives, keep the history, the
//! sequences, the grants and the user's own objects, and apply as a whole or not at all.
//! The old versions exist only in a private copy of the test installation
//! (`PgPaths::with_extension_files`), never in a server's extension directory.

use jobmon_tests::{
    assert_no_crash, backend_pid, catalog_surface, error_text, test_installation, wait_until,
    Cluster,
};
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The install scripts kept in sql/versions: (version, file).
fn frozen_versions() -> Vec<(String, PathBuf)> {
    let dir = repo_file("sql/versions");
    let mut versions: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let version = name.strip_prefix("pg_jobmon--")?.strip_suffix(".sql")?;
            (!version.contains("--")).then(|| (version.to_string(), p.clone()))
        })
        .collect();
    versions.sort();
    assert!(
        !versions.is_empty(),
        "no install script kept in {}",
        dir.display()
    );
    versions
}

/// The version this build installs (pg_jobmon.control's default_version).
fn current_version(c: &mut Client) -> String {
    c.query_one(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'pg_jobmon'",
        &[],
    )
    .unwrap_or_else(|e| panic!("pg_available_extensions: {}", error_text(&e)))
    .get(0)
}

/// A cluster of a copy of the test installation offering, besides the current build,
/// `extra` extension files.
fn cluster_with(extra: &[(&str, &Path)]) -> Result<Cluster, String> {
    let paths = test_installation()?.with_extension_files(extra)?;
    Cluster::start(paths)
}

/// A cluster that also offers pg_jobmon 1.5.0 and every kept version other than the
/// current one (the current one is the build itself).
fn old_versions() -> &'static Cluster {
    static C: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let started = C.get_or_init(|| {
        let fixture_sql = repo_file("tests/fixtures/pg_jobmon--1.5.0.sql");
        let fixture_control = repo_file("tests/fixtures/pg_jobmon--1.5.0.control");
        let frozen = frozen_versions();
        let names: Vec<String> = frozen
            .iter()
            .map(|(v, _)| format!("pg_jobmon--{v}.sql"))
            .collect();
        let installed = test_installation()?;
        let installed_ext = installed.sharedir.join("extension");
        let mut extra: Vec<(&str, &Path)> = vec![
            ("pg_jobmon--1.5.0.sql", fixture_sql.as_path()),
            ("pg_jobmon--1.5.0.control", fixture_control.as_path()),
        ];
        for ((_, file), name) in frozen.iter().zip(&names) {
            // The current version is the build's own script, not the frozen copy.
            if !installed_ext.join(name).exists() {
                extra.push((name.as_str(), file.as_path()));
            }
        }
        cluster_with(&extra)
    });
    match started {
        Ok(c) => c,
        Err(e) => panic!("cluster with the old versions: {e}"),
    }
}

/// A new empty database in `cluster` (dropped with the cluster at the end of the run).
fn new_db(cluster: &Cluster, label: &str) -> (String, Client) {
    let name = format!("u{}_{label}", DB_COUNTER.fetch_add(1, Ordering::SeqCst));
    cluster
        .admin()
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {}", error_text(&e)));
    let client = cluster.connect(&name, &cluster.superuser);
    (name, client)
}

fn exec(c: &mut Client, sql: &str) {
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
}

/// Fails with every line that differs, or returns quietly.
fn assert_same_surface(what: &str, got: &[String], fresh: &[String]) {
    let got_set: BTreeSet<&String> = got.iter().collect();
    let fresh_set: BTreeSet<&String> = fresh.iter().collect();
    let mut differences: Vec<String> = Vec::new();
    for only in got_set.difference(&fresh_set) {
        differences.push(format!("only after {what}: {only}"));
    }
    for only in fresh_set.difference(&got_set) {
        differences.push(format!("only in a fresh install: {only}"));
    }
    assert!(
        differences.is_empty(),
        "{what} does not give the catalog of a fresh CREATE EXTENSION:\n{}",
        differences.join("\n")
    );
    assert!(
        fresh.iter().any(|l| l.starts_with("function ")),
        "the catalog surface of the fresh install lists no function: {fresh:#?}"
    );
}

/// The catalog of a fresh install of the current build into `schema`.
fn fresh_surface(cluster: &Cluster, schema: &str) -> Vec<String> {
    let (_, mut c) = new_db(cluster, "fresh");
    exec(
        &mut c,
        &format!("CREATE SCHEMA {schema}; CREATE EXTENSION pg_jobmon SCHEMA {schema};"),
    );
    catalog_surface(&mut c)
}

#[test]
fn each_kept_version_updated_in_place_gives_the_catalog_of_a_fresh_install() {
    let cluster = old_versions();
    let mut admin = cluster.admin();
    let current = current_version(&mut admin);
    let fresh = fresh_surface(cluster, "jobmon");
    let mut versions: Vec<String> = vec!["1.5.0".into()];
    versions.extend(frozen_versions().into_iter().map(|(v, _)| v));
    assert!(
        versions.contains(&current),
        "the current version {current} has no install script kept in sql/versions: copy the \
         generated pg_jobmon--{current}.sql there when releasing it"
    );
    for version in versions.iter().filter(|v| **v != current) {
        let (_, mut c) = new_db(cluster, "kept");
        exec(
            &mut c,
            &format!(
                "CREATE SCHEMA jobmon;
                 CREATE EXTENSION pg_jobmon VERSION '{version}' SCHEMA jobmon CASCADE;"
            ),
        );
        exec(&mut c, "ALTER EXTENSION pg_jobmon UPDATE");
        let got = catalog_surface(&mut c);
        assert_same_surface(&format!("updating {version} to {current}"), &got, &fresh);
    }
}

#[test]
fn the_current_versions_kept_install_script_gives_the_catalog_of_the_build() {
    let mut admin = old_versions().admin();
    let current = current_version(&mut admin);
    let frozen = frozen_versions();
    let (_, file) = frozen
        .iter()
        .find(|(v, _)| *v == current)
        .unwrap_or_else(|| {
            panic!(
                "the current version {current} has no install script kept in sql/versions: \
                 copy the generated pg_jobmon--{current}.sql there when releasing it"
            )
        });
    let name = format!("pg_jobmon--{current}.sql");
    let kept = cluster_with(&[(name.as_str(), file.as_path())])
        .unwrap_or_else(|e| panic!("cluster with the kept {name}: {e}"));
    let got = fresh_surface(&kept, "jobmon");
    let built = fresh_surface(old_versions(), "jobmon");
    assert_same_surface(
        &format!(
            "installing the kept {name} (a schema change needs a new version: bump \
             pg_jobmon/Cargo.toml's version, keep the new install script in sql/versions and \
             add update scripts to sql/upgrade)"
        ),
        &got,
        &built,
    );
}

#[test]
fn updating_1_5_0_in_another_schema_gives_a_fresh_install_of_that_schema() {
    let cluster = old_versions();
    let schema = "\"Batch Monitoring\"";
    let (_, mut c) = new_db(cluster, "schema");
    exec(
        &mut c,
        &format!(
            "CREATE SCHEMA {schema};
             CREATE EXTENSION pg_jobmon VERSION '1.5.0' SCHEMA {schema} CASCADE;
             INSERT INTO {schema}.job_log (owner, job_name, start_time, pid)
             VALUES ('etl', 'KEPT', now(), 1);
             ALTER EXTENSION pg_jobmon UPDATE;"
        ),
    );
    let got = catalog_surface(&mut c);
    assert_same_surface(
        "updating 1.5.0 in schema \"Batch Monitoring\"",
        &got,
        &fresh_surface(cluster, schema),
    );
    let kept: String = c
        .query_one(&format!("SELECT job_name FROM {schema}.job_log"), &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(kept, "KEPT");
    let job: i64 = c
        .query_one(&format!("SELECT {schema}.add_job('after')"), &[])
        .unwrap_or_else(|e| panic!("add_job after the update: {}", error_text(&e)))
        .get(0);
    assert_eq!(job, 2, "ids continue after the old ones");
}

/// A database holding pg_jobmon 1.5.0 in schema jobmon with tests/fixtures' history, and
/// what a DBA adds over the years: a role with 1.5.0-style grants, a view over job_log, a
/// function that logs through jobmon.add_job, a table with a foreign key to job_log, a
/// trigger of their own on job_detail, and a job that is running now.
struct OldDatabase {
    name: String,
    client: Client,
    role: String,
}

fn old_database(label: &str) -> OldDatabase {
    let cluster = old_versions();
    let (name, mut client) = new_db(cluster, label);
    let role = format!("{name}_etl");
    exec(
        &mut client,
        &format!(
            "CREATE SCHEMA jobmon;
             CREATE EXTENSION pg_jobmon VERSION '1.5.0' SCHEMA jobmon CASCADE;
             CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA jobmon TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA jobmon TO {role};
             GRANT USAGE ON ALL SEQUENCES IN SCHEMA jobmon TO {role};
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobmon TO {role};"
        ),
    );
    exec(&mut client, include_str!("../fixtures/history_1_5_0.sql"));
    exec(
        &mut client,
        &format!(
            "CREATE VIEW public.job_summary AS
                 SELECT job_name, count(*) AS runs, max(end_time) AS last_end
                   FROM jobmon.job_log GROUP BY job_name;
             CREATE TABLE public.load_audit (
                 job_id bigint NOT NULL REFERENCES jobmon.job_log (job_id), note text);
             INSERT INTO public.load_audit SELECT min(job_id), 'first run' FROM jobmon.job_log;
             CREATE TABLE public.step_count (n bigint NOT NULL);
             INSERT INTO public.step_count VALUES (0);
             CREATE FUNCTION public.count_step() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN UPDATE public.step_count SET n = n + 1; RETURN NULL; END $$;
             CREATE TRIGGER count_step AFTER INSERT ON jobmon.job_detail
                 FOR EACH ROW EXECUTE FUNCTION public.count_step();
             GRANT SELECT, UPDATE ON public.step_count TO {role};
             CREATE FUNCTION public.nightly_load() RETURNS bigint LANGUAGE plpgsql AS $$
             DECLARE v_job bigint; v_step bigint;
             BEGIN
                 v_job := jobmon.add_job('nightly load');
                 v_step := jobmon.add_step(v_job, 'Load orders');
                 PERFORM jobmon.update_step(v_step, 'OK', 'Rows loaded: 3');
                 PERFORM jobmon.close_job(v_job);
                 RETURN v_job;
             END $$;"
        ),
    );
    // The running job: its session logged its start and is busy with its work (sleeping
    // here) for the rest of the test process.
    let mut runner = cluster.connect(&name, &cluster.superuser);
    let pid = backend_pid(&mut runner);
    exec(
        &mut runner,
        "INSERT INTO jobmon.job_log (owner, job_name, start_time, pid)
         VALUES ('etl', 'JOB_RUNNING', now(), pg_backend_pid())",
    );
    std::thread::spawn(move || {
        let _ = runner.batch_execute("SELECT pg_sleep(600)");
    });
    let busy = wait_until(Duration::from_secs(10), || {
        client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&pid],
            )
            .map(|r| r.get::<_, i64>(0) == 1)
            .unwrap_or(false)
    });
    assert!(busy, "the running job's session did not start its work");
    OldDatabase { name, client, role }
}

/// What must be the same before and after the update: every row of the six 1.5.0 tables
/// (as an ordered digest), the tables' OIDs and ACLs, the sequences, check_job_status(),
/// the running jobs, the user's view.
#[derive(Debug, PartialEq)]
struct Kept {
    rows: Vec<(String, i64, String)>,
    oids_and_acls: Vec<String>,
    sequences: Vec<(String, i64)>,
    check_job_status: Vec<(i32, String, Option<String>, Option<String>)>,
    running: Vec<String>,
    view: String,
    function_acl: Option<String>,
}

const TABLES: [&str; 6] = [
    "job_log",
    "job_detail",
    "job_check_log",
    "job_check_config",
    "job_status_text",
    "dblink_mapping_jobmon",
];

fn kept(c: &mut Client) -> Kept {
    let one = |c: &mut Client, sql: &str| -> String {
        c.query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
            .get(0)
    };
    let rows = TABLES
        .iter()
        .map(|t| {
            let digest = one(
                c,
                &format!(
                    "SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-')
                       FROM jobmon.{t} x"
                ),
            );
            let (count, digest) = digest.split_once(' ').unwrap_or(("0", "-"));
            (t.to_string(), count.parse().unwrap_or(-1), digest.to_string())
        })
        .collect();
    let oids_and_acls = TABLES
        .iter()
        .map(|t| {
            one(
                c,
                &format!(
                    "SELECT c.oid::text || ' ' || coalesce(c.relacl::text, '-')
                       FROM pg_class c WHERE c.oid = 'jobmon.{t}'::regclass"
                ),
            )
        })
        .collect();
    let sequences = ["job_log_job_id_seq", "job_detail_step_id_seq"]
        .iter()
        .map(|s| {
            let v: i64 = c
                .query_one(&format!("SELECT last_value FROM jobmon.{s}"), &[])
                .unwrap_or_else(|e| panic!("{s}: {}", error_text(&e)))
                .get(0);
            (s.to_string(), v)
        })
        .collect();
    let check_job_status = c
        .query("SELECT * FROM jobmon.check_job_status()", &[])
        .unwrap_or_else(|e| panic!("check_job_status(): {}", error_text(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let running = c
        .query("SELECT job_name FROM jobmon.show_running(10)", &[])
        .unwrap_or_else(|e| panic!("show_running: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    let view = one(
        c,
        "SELECT md5(string_agg(v::text, '|' ORDER BY v::text)) FROM public.job_summary v",
    );
    let function_acl = c
        .query_one(
            "SELECT proacl::text FROM pg_proc WHERE oid = 'jobmon.add_job(text)'::regprocedure",
            &[],
        )
        .unwrap_or_else(|e| panic!("proacl: {}", error_text(&e)))
        .get(0);
    Kept {
        rows,
        oids_and_acls,
        sequences,
        check_job_status,
        running,
        view,
        function_acl,
    }
}

#[test]
fn updating_1_5_0_keeps_history_sequences_grants_and_user_objects_and_logs_afterwards() {
    let cluster = old_versions();
    let mark = cluster.log_mark();
    let mut db = old_database("history");
    let before = kept(&mut db.client);
    // 99 jobs x 30 nights, less JOB_10's last two, and the running job.
    assert_eq!(
        before.rows[0].1,
        99 * 30 - 2 + 1,
        "the 1.5.0 history was not loaded: {before:#?}"
    );
    let statuses: Vec<(i32, &str, Option<&str>)> = before
        .check_job_status
        .iter()
        .map(|r| (r.0, r.1.as_str(), r.2.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        [
            (3, "MISSING", Some("JOB_11")),
            (3, "FAILED_RUN", Some("JOB_7")),
            (2, "MISSING", Some("JOB_10")),
            (2, "FAILED_RUN", Some("JOB_8")),
        ],
        "the fixture's 1.5.0 check_job_status() on the history: {:#?}",
        before.check_job_status
    );
    assert_eq!(before.running, ["JOB_RUNNING"]);

    let started = Instant::now();
    exec(&mut db.client, "ALTER EXTENSION pg_jobmon UPDATE");
    eprintln!(
        "ALTER EXTENSION pg_jobmon UPDATE took {:?}",
        started.elapsed()
    );

    let after = kept(&mut db.client);
    assert_eq!(after, before, "the update changed what it must keep");
    assert_same_surface(
        "updating a 1.5.0 database with history",
        &catalog_surface(&mut db.client),
        &fresh_surface(cluster, "jobmon"),
    );
    let requires: Vec<String> = db
        .client
        .query(
            "SELECT r.extname::text FROM pg_depend d
               JOIN pg_extension e ON e.oid = d.objid
               JOIN pg_extension r ON r.oid = d.refobjid
              WHERE e.extname = 'pg_jobmon' AND d.classid = 'pg_extension'::regclass
                AND d.refclassid = 'pg_extension'::regclass",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(requires.is_empty(), "pg_jobmon still requires {requires:?}");
    let dblink: i64 = db
        .client
        .query_one(
            "SELECT count(*) FROM pg_extension WHERE extname = 'dblink'",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(dblink, 1, "dblink must stay installed");

    // The role with 1.5.0's grants logs through the background connection now: its rows
    // survive its rollback, and the ids continue after the old ones.
    let mut etl = cluster.connect(&db.name, &db.role);
    let mut tx = etl
        .transaction()
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let job: i64 = tx
        .query_one("SELECT jobmon.add_job('after update')", &[])
        .unwrap_or_else(|e| panic!("add_job as {}: {}", db.role, error_text(&e)))
        .get(0);
    let step: i64 = tx
        .query_one("SELECT jobmon.add_step($1, 'step')", &[&job])
        .unwrap_or_else(|e| panic!("add_step as {}: {}", db.role, error_text(&e)))
        .get(0);
    tx.execute("SELECT jobmon.update_step($1, 'OK', 'done')", &[&step])
        .unwrap_or_else(|e| panic!("update_step: {}", error_text(&e)));
    tx.execute("SELECT jobmon.close_job($1)", &[&job])
        .unwrap_or_else(|e| panic!("close_job: {}", error_text(&e)));
    tx.rollback()
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(
        job,
        before.sequences[0].1 + 1,
        "job ids continue after 1.5.0's"
    );
    assert_eq!(
        step,
        before.sequences[1].1 + 1,
        "step ids continue after 1.5.0's"
    );
    let (owner, status): (String, Option<String>) = {
        let r = db
            .client
            .query_one(
                "SELECT owner, status FROM jobmon.job_log WHERE job_id = $1",
                &[&job],
            )
            .unwrap_or_else(|e| panic!("the job logged after the update: {}", error_text(&e)));
        (r.get(0), r.get(1))
    };
    assert_eq!(
        (owner.as_str(), status.as_deref()),
        (db.role.as_str(), Some("OK"))
    );

    // The user's function, foreign key and trigger go on working.
    let steps_before: i64 = db
        .client
        .query_one("SELECT n FROM public.step_count", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    let nightly: i64 = db
        .client
        .query_one("SELECT public.nightly_load()", &[])
        .unwrap_or_else(|e| panic!("the user's function after the update: {}", error_text(&e)))
        .get(0);
    assert_eq!(nightly, job + 1);
    let steps_after: i64 = db
        .client
        .query_one("SELECT n FROM public.step_count", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(
        steps_after,
        steps_before + 1,
        "the user's trigger on job_detail"
    );
    let orphan = db.client.execute(
        "INSERT INTO public.load_audit VALUES (-1, 'no such job')",
        &[],
    );
    assert_eq!(
        orphan.err().and_then(|e| e.code().cloned()),
        Some(postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "the user's foreign key to job_log"
    );
    assert_no_crash(&mark.text_since());
}

#[test]
fn an_updated_database_dumps_and_restores_with_its_history() {
    let cluster = old_versions();
    let mut db = old_database("dump");
    exec(&mut db.client, "ALTER EXTENSION pg_jobmon UPDATE");
    let before = kept(&mut db.client);
    let dump = cluster.dir.join(format!("{}.dump", db.name));
    let dump_arg = dump.display().to_string();
    cluster
        .run_client_tool("pg_dump", &["-Fc", "-f", &dump_arg, &db.name])
        .unwrap_or_else(|e| panic!("{e}"));
    let (restored, _) = new_db(cluster, "restored");
    cluster
        .run_client_tool("pg_restore", &["-d", &restored, &dump_arg])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut c = cluster.connect(&restored, &cluster.superuser);
    let after = kept(&mut c);
    assert_eq!(after.rows, before.rows, "rows after pg_dump/pg_restore");
    assert_eq!(
        after.sequences, before.sequences,
        "sequences after pg_dump/pg_restore"
    );
    assert_eq!(
        after.view, before.view,
        "the user's view after pg_dump/pg_restore"
    );
}

#[test]
fn a_stored_password_is_kept_and_warned_about_without_being_shown() {
    let cluster = old_versions();
    let (name, mut c) = new_db(cluster, "password");
    let password = "Sup3r-Secret-Pw";
    let port = cluster.port.to_string();
    exec(
        &mut c,
        "CREATE SCHEMA jobmon; CREATE EXTENSION pg_jobmon VERSION '1.5.0' SCHEMA jobmon CASCADE;",
    );
    c.execute(
        "INSERT INTO jobmon.dblink_mapping_jobmon (username, port, pwd) VALUES ($1, $2, $3)",
        &[&cluster.superuser, &port, &password],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = notices.clone();
    let mut updater = postgres::Config::new()
        .host("127.0.0.1")
        .port(cluster.port)
        .user(&cluster.superuser)
        .dbname(&name)
        .notice_callback(move |n| {
            let mut text = format!("{}: {}", n.severity(), n.message());
            if let Some(d) = n.detail() {
                text.push_str(&format!(" DETAIL: {d}"));
            }
            if let Some(h) = n.hint() {
                text.push_str(&format!(" HINT: {h}"));
            }
            seen.lock().unwrap_or_else(|p| p.into_inner()).push(text);
        })
        .connect(NoTls)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mark = cluster.log_mark();
    exec(&mut updater, "ALTER EXTENSION pg_jobmon UPDATE");
    let notices = notices.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let warning = notices
        .iter()
        .find(|n| n.contains("password in plain text"))
        .unwrap_or_else(|| panic!("no warning about the stored password: {notices:?}"));
    assert!(warning.starts_with("WARNING"), "{warning}");
    assert!(
        warning.contains("pgpass") || warning.contains(".pgpass"),
        "{warning}"
    );
    assert!(warning.contains("delete the row"), "{warning}");
    for text in notices.iter().chain(std::iter::once(&mark.text_since())) {
        assert!(!text.contains(password), "the password was shown: {text}");
    }
    let kept: String = c
        .query_one("SELECT pwd FROM jobmon.dblink_mapping_jobmon", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(kept, password, "the mapping row is kept");
    // The row is honoured: logging goes through it (peer authentication here).
    let job: i64 = c
        .query_one("SELECT jobmon.add_job('through the mapping')", &[])
        .unwrap_or_else(|e| panic!("add_job with the mapping row: {}", error_text(&e)))
        .get(0);
    assert_eq!(job, 1);
}

#[test]
fn a_session_logging_during_the_update_waits_or_fails_clearly_and_nothing_is_half_applied() {
    let cluster = old_versions();
    let db = old_database("load");
    let stop = Arc::new(AtomicBool::new(false));
    let logged = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let logger = {
        let (stop, logged, errors) = (stop.clone(), logged.clone(), errors.clone());
        let mut c = cluster.connect(&db.name, &db.role);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let result = c
                    .query_one("SELECT jobmon.add_job('logging during the update')", &[])
                    .and_then(|row| {
                        let job: i64 = row.get(0);
                        c.execute("SELECT jobmon.close_job($1)", &[&job])
                    });
                match result {
                    Ok(_) => {
                        logged.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => errors
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(error_text(&e)),
                }
            }
        })
    };
    let mut client = db.client;
    // Let the logger run on 1.5.0 first, then update while it runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while logged.load(Ordering::SeqCst) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    exec(&mut client, "ALTER EXTENSION pg_jobmon UPDATE");
    let at_update = logged.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(10);
    while logged.load(Ordering::SeqCst) < at_update + 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    logger
        .join()
        .unwrap_or_else(|_| panic!("the logging thread panicked"));
    let logged = logged.load(Ordering::SeqCst);
    assert!(
        logged >= at_update + 20,
        "logging stopped after the update: {logged} calls, {at_update} at the update"
    );
    let errors = errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for e in &errors {
        assert!(
            e.starts_with("ERROR") && !e.contains("panicked"),
            "a call during the update failed without a clear error: {e}"
        );
    }
    // Every call that returned success has its row, ended.
    let rows: i64 = client
        .query_one(
            "SELECT count(*) FROM jobmon.job_log
              WHERE job_name = 'LOGGING DURING THE UPDATE' AND status = 'OK'",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(
        rows, logged as i64,
        "calls that succeeded against rows logged (errors: {errors:?})"
    );
    assert_same_surface(
        "updating under load",
        &catalog_surface(&mut client),
        &fresh_surface(cluster, "jobmon"),
    );
}
