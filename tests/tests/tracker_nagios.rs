//! `jobmon-tracker nagios` against a real database: the status line (state word, problem
//! list, perfdata), the long output and the exit status of each Nagios state, including
//! UNKNOWN for an unreachable server, a timeout, a missing extension and a bad command line.

use jobmon_tests::tracker::{tempdir, write_config};
use jobmon_tests::{add_job, cluster, error_text, exec, TestDb};
use postgres::Client;
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

/// The plugin with `args`, in an environment without PG* variables (so only the options
/// given count) and without a pgpass file (the test cluster trusts TCP connections).
fn nagios_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("nagios").args(args);
    for var in [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSFILE",
        "PGSERVICE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("PGPASSFILE", "/dev/null");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run jobmon-tracker nagios")
}

/// Runs the plugin against `db` with psql-like options plus `extra`.
fn check(db: &TestDb, extra: &[&str]) -> Output {
    let c = cluster();
    let port = c.port.to_string();
    let mut args = vec![
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        &c.superuser,
        "-d",
        &db.name,
    ];
    args.extend_from_slice(extra);
    run(&mut nagios_cmd(&args))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The exit status, and stdout and stderr for the failure message.
fn code(out: &Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        format!(
            "stdout:\n{}stderr:\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Splits the status line into the part before `time=` and the time's value, checking
/// that the time is a number of seconds (the only part that varies between runs).
fn status_line(out: &Output) -> (String, f64) {
    let text = stdout(out);
    let first = text.lines().next().unwrap_or_default().to_string();
    let (head, time) = first
        .rsplit_once(" time=")
        .unwrap_or_else(|| panic!("no time= perfdata in {first:?}"));
    let secs = time
        .strip_suffix('s')
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("time perfdata is not seconds: {first:?}"));
    (head.to_string(), secs)
}

fn long_output(out: &Output) -> Vec<String> {
    stdout(out).lines().skip(1).map(str::to_string).collect()
}

/// Runs a job to its end: `level` 1 closes it, 2 or 3 fails it at that level.
fn run_job(c: &mut Client, name: &str, level: i32) {
    let id = add_job(c, name);
    let res = if level == 1 {
        c.execute("SELECT jobmon.close_job($1)", &[&id])
    } else {
        c.execute("SELECT jobmon.fail_job($1, $2::int)", &[&id, &level])
    };
    res.unwrap_or_else(|e| panic!("ending {name} at level {level}: {}", error_text(&e)));
}

/// A local TCP port with nothing listening on it.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = l.local_addr().expect("local address").port();
    drop(l);
    port
}

#[test]
fn a_clean_database_is_ok_with_exit_0_and_zero_counts() {
    let db = TestDb::new("nagios_ok");
    let out = check(&db, &[]);
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    let (head, secs) = status_line(&out);
    assert_eq!(
        head,
        "JOBMON OK - All jobs run successfully | critical=0 warning=0 unknown=0 problems=0"
    );
    assert!((0.0..10.0).contains(&secs), "time={secs}");
    assert!(long_output(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn three_consecutive_failed_runs_are_critical_with_exit_2_and_the_job_named() {
    let db = TestDb::new("nagios_critical");
    let mut c = db.connect();
    run_job(&mut c, "nightly load", 3);
    run_job(&mut c, "nightly load", 3);
    // Two failures are tolerated.
    assert_eq!(check(&db, &[]).status.code(), Some(0));
    run_job(&mut c, "nightly load", 3);
    let out = check(&db, &[]);
    assert_eq!(code(&out).0, Some(2), "{}", code(&out).1);
    assert_eq!(
        status_line(&out).0,
        "JOBMON CRITICAL - 1 problem: NIGHTLY LOAD (FAILED_RUN) \
         | critical=1 warning=0 unknown=0 problems=1"
    );
    assert_eq!(
        long_output(&out),
        ["CRITICAL - NIGHTLY LOAD (FAILED_RUN): 3 consecutive CRITICAL runs"]
    );
}

#[test]
fn a_configured_job_late_past_its_warning_threshold_only_is_a_warning_with_exit_1() {
    let db = TestDb::new("nagios_warning");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('LATE', '1 hour', '3 hours', true), ('PUNCTUAL', '1 hour', '3 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'LATE', now() - interval '90 minutes', now() - interval '85 minutes', 'OK', 0),
           ('postgres', 'PUNCTUAL', now() - interval '10 minutes', now() - interval '9 minutes', 'OK', 0);",
    );
    let out = check(&db, &[]);
    assert_eq!(code(&out).0, Some(1), "{}", code(&out).1);
    assert_eq!(
        status_line(&out).0,
        "JOBMON WARNING - 1 problem: LATE (MISSING) | critical=0 warning=1 unknown=0 problems=1"
    );
    let lines = long_output(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("WARNING - LATE (MISSING): Last completed run: "),
        "{lines:?}"
    );
}

#[test]
fn critical_outranks_warning_and_every_problem_is_listed_worst_first() {
    let db = TestDb::new("nagios_mixed");
    let mut c = db.connect();
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('LATE', '1 hour', '3 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'LATE', now() - interval '90 minutes', now() - interval '85 minutes', 'OK', 0);",
    );
    for _ in 0..3 {
        run_job(&mut c, "broken", 3);
        run_job(&mut c, "wobbly", 2);
    }
    let out = check(&db, &[]);
    assert_eq!(code(&out).0, Some(2), "{}", code(&out).1);
    assert_eq!(
        status_line(&out).0,
        "JOBMON CRITICAL - 3 problems: BROKEN (FAILED_RUN), LATE (MISSING), WOBBLY (FAILED_RUN) \
         | critical=1 warning=2 unknown=0 problems=3"
    );
    let lines = long_output(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[0],
        "CRITICAL - BROKEN (FAILED_RUN): 3 consecutive CRITICAL runs"
    );
    assert!(
        lines[1].starts_with("WARNING - LATE (MISSING): "),
        "{lines:?}"
    );
    assert_eq!(
        lines[2],
        "WARNING - WOBBLY (FAILED_RUN): 3 consecutive WARNING runs"
    );
}

#[test]
fn history_is_passed_to_check_job_status() {
    let db = TestDb::new("nagios_history");
    let mut c = db.connect();
    // The last run is five hours old: outside the default window (the longest threshold,
    // two hours), inside a three-day one. The texts tell which window was used.
    exec(
        &mut c,
        "INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('SLOW', '1 hour', '2 hours', true);
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid) VALUES
           ('postgres', 'SLOW', now() - interval '5 hours', now() - interval '295 minutes', 'OK', 0);",
    );
    let expect_critical = |out: &Output, text: &str| {
        assert_eq!(code(out).0, Some(2), "{}", code(out).1);
        assert_eq!(
            status_line(out).0,
            "JOBMON CRITICAL - 1 problem: SLOW (MISSING) | critical=1 warning=0 unknown=0 problems=1"
        );
        let lines = long_output(out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!("CRITICAL - SLOW (MISSING): {text}")),
            "{lines:?}"
        );
    };
    expect_critical(
        &check(&db, &[]),
        "Has not completed a run since highest configured monitoring time period",
    );
    expect_critical(
        &check(&db, &["--history", "3 days"]),
        "Last completed run: ",
    );
    // A window shorter than the longest threshold is the server's error: UNKNOWN.
    let out = check(&db, &["--history", "30 minutes"]);
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert_eq!(
        stdout(&out),
        "JOBMON UNKNOWN - check_job_status() failed: Input argument must be greater than or \
         equal to the longest threshold in job_check_config table (SQLSTATE P0001)\n"
    );
    // Text that is no interval is passed as a parameter, not spliced into SQL.
    let out = check(
        &db,
        &["--history", "3 days'); DROP TABLE jobmon.job_log; --"],
    );
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert!(
        stdout(&out).starts_with(
            "JOBMON UNKNOWN - check_job_status() failed: invalid input syntax for type interval"
        ),
        "{}",
        stdout(&out)
    );
    c.query_one("SELECT count(*) FROM jobmon.job_log", &[])
        .expect("job_log is still there");
}

#[test]
fn the_tracker_configuration_and_a_conninfo_and_the_pg_environment_all_connect() {
    let db = TestDb::new("nagios_connect");
    run_job(&mut db.connect(), "flaky", 3);
    let expected =
        "JOBMON OK - All jobs run successfully | critical=0 warning=0 unknown=0 problems=0";
    let cl = cluster();

    let dir = tempdir();
    let config = write_config(dir.path(), &db, &[], "1s", 100, "5s");
    let out = run(nagios_cmd(&["-c"]).arg(&config));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert_eq!(status_line(&out).0, expected);

    let conninfo = format!(
        "host=127.0.0.1 port={} user={} dbname={}",
        cl.port, cl.superuser, db.name
    );
    let out = run(&mut nagios_cmd(&["-d", &conninfo]));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert_eq!(status_line(&out).0, expected);

    let uri = format!(
        "postgresql://{}@127.0.0.1:{}/{}",
        cl.superuser, cl.port, db.name
    );
    let out = run(&mut nagios_cmd(&["--dbname", &uri, "--timeout", "5s"]));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);

    let out = run(nagios_cmd(&[])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", cl.port.to_string())
        .env("PGUSER", &cl.superuser)
        .env("PGDATABASE", &db.name));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert_eq!(status_line(&out).0, expected);
}

#[test]
fn an_unreachable_database_is_unknown_with_exit_3_and_no_password_shown() {
    let port = closed_port();
    let out = run(&mut nagios_cmd(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "nagios",
        "-d",
        "appdb",
    ]));
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert_eq!(
        stdout(&out),
        format!(
            "JOBMON UNKNOWN - cannot connect to the database: error connecting to server: \
             Connection refused (os error 111) (host=127.0.0.1 port={port} dbname=appdb user=nagios)\n"
        )
    );

    let uri = format!("postgresql://nagios:s3cr3t-pw@127.0.0.1:{port}/appdb");
    let out = run(&mut nagios_cmd(&["-d", &uri]));
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    let text = stdout(&out);
    assert!(
        text.starts_with("JOBMON UNKNOWN - cannot connect to the database: "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("s3cr3t"));
}

#[test]
fn a_server_that_does_not_answer_is_unknown_once_the_timeout_passes() {
    // Accepts connections (the kernel's backlog) but never speaks.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port().to_string();
    let started = Instant::now();
    let out = run(&mut nagios_cmd(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "nagios",
        "-d",
        "appdb",
        "-t",
        "1",
    ]));
    let took = started.elapsed();
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert!(
        stdout(&out).starts_with("JOBMON UNKNOWN - timed out after 1s connecting to the database"),
        "{}",
        stdout(&out)
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    drop(silent);
}

#[test]
fn a_database_without_the_extension_is_unknown() {
    let db = TestDb::empty("nagios_no_ext");
    let out = check(&db, &[]);
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert_eq!(
        stdout(&out),
        "JOBMON UNKNOWN - the pg_jobmon extension is not installed in this database\n"
    );
}

#[test]
fn a_wrong_command_line_is_unknown_with_exit_3_not_2() {
    for (args, reason) in [
        (&["--bogus"][..], "unexpected argument '--bogus' found"),
        (
            &["-p", "notaport"][..],
            "invalid value 'notaport' for '--port <PORT>'",
        ),
        (
            &["-c", "x.toml", "-d", "appdb"][..],
            "the argument '--config <FILE>' cannot be used with",
        ),
        (
            &["--timeout", "0"][..],
            "invalid value '0' for '--timeout <DURATION>'",
        ),
    ] {
        let out = run(&mut nagios_cmd(args));
        assert_eq!(code(&out).0, Some(3), "{args:?}: {}", code(&out).1);
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("JOBMON UNKNOWN - invalid command line: {reason}")),
            "{args:?}: {text}"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with(&format!("error: {reason}")),
            "{args:?}: {}",
            code(&out).1
        );
    }
    // The other commands keep clap's 2, and help is still 0.
    let out = run(Command::new(BIN).args(["queue", "--bogus"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut nagios_cmd(&["--help"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("Exit status (the state):"),
        "{}",
        stdout(&out)
    );
}
