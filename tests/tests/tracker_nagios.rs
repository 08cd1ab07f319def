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
    for var in tracker_worker::store::connect::PG_ENV_VARS {
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
    // The other commands keep clap's 2; the plugin's help is UNKNOWN too (Monitoring
    // Plugins conventions, issue 15).
    let out = run(Command::new(BIN).args(["queue", "--bogus"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(&mut nagios_cmd(&["--help"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("Exit status (the state):"),
        "{}",
        stdout(&out)
    );
}

/// One perfdata item of the plugin guidelines: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, PartialEq)]
struct Perf {
    label: String,
    value: f64,
    uom: String,
    warn: String,
    crit: String,
    min: String,
    max: String,
}

/// Parses the perfdata after the first `|` of the status line strictly by the guidelines'
/// format, failing on anything else: space-separated items, a label quoted with `'` (a
/// quote doubled inside) when it has spaces or `=`, a number, a UOM from the guidelines'
/// list, up to four `;` fields that are empty, numbers or ranges.
fn perfdata(out: &Output) -> Vec<Perf> {
    let text = stdout(out);
    let first = text.lines().next().unwrap_or_default();
    let (_, perf) = first
        .split_once(" | ")
        .unwrap_or_else(|| panic!("no perfdata in {first:?}"));
    let mut items = Vec::new();
    let mut rest = perf.trim_start();
    while !rest.is_empty() {
        let (label, after) = if let Some(quoted) = rest.strip_prefix('\'') {
            let mut label = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '\'')) if quoted[i + 1..].starts_with('\'') => {
                        label.push('\'');
                        chars.next();
                    }
                    Some((i, '\'')) => break i + 1,
                    Some((_, c)) => label.push(c),
                    None => panic!("unterminated label in {perf:?}"),
                }
            };
            (label, &quoted[end..])
        } else {
            let end = rest.find('=').unwrap_or_else(|| panic!("no = in {rest:?}"));
            let label = &rest[..end];
            assert!(
                !label.contains(' '),
                "unquoted label with a space in {perf:?}"
            );
            (label.to_string(), &rest[end..])
        };
        let after = after
            .strip_prefix('=')
            .unwrap_or_else(|| panic!("no = after label {label:?} in {perf:?}"));
        let (item, next) = after.split_once(' ').unwrap_or((after, ""));
        let mut fields = item.split(';');
        let value = fields.next().unwrap_or_default();
        let digits = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .unwrap_or(value.len());
        let (number, uom) = value.split_at(digits);
        let value: f64 = number
            .parse()
            .unwrap_or_else(|_| panic!("value of {label:?} is no number: {item:?}"));
        assert!(
            ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&uom),
            "UOM {uom:?} of {label:?} is not one of the guidelines'"
        );
        let mut field = || fields.next().unwrap_or_default().to_string();
        let (warn, crit, min, max) = (field(), field(), field(), field());
        assert!(fields.next().is_none(), "more than 5 fields in {item:?}");
        for f in [&warn, &crit, &min, &max] {
            assert!(
                f.chars().all(|c| c.is_ascii_digit() || ".-~:@".contains(c)),
                "{f:?} in {item:?} is no number or range"
            );
        }
        items.push(Perf {
            label,
            value,
            uom: uom.to_string(),
            warn,
            crit,
            min,
            max,
        });
        rest = next.trim_start();
    }
    items
}

/// The perfdata as `label=value;warn;crit;min;max` without the time (which varies).
fn perf_summary(out: &Output) -> Vec<String> {
    perfdata(out)
        .iter()
        .filter(|p| p.label != "time")
        .map(|p| {
            format!(
                "{}={}{};{};{};{};{}",
                p.label, p.value, p.uom, p.warn, p.crit, p.min, p.max
            )
        })
        .collect()
}

#[test]
fn the_perfdata_follows_the_guidelines_format_with_and_without_thresholds() {
    let db = TestDb::new("nagios_perfdata");
    let out = check(&db, &[]);
    let perf = perfdata(&out);
    assert_eq!(
        perf_summary(&out),
        [
            "critical=0;;;;",
            "warning=0;;;;",
            "unknown=0;;;;",
            "problems=0;;;;"
        ]
    );
    let time = perf.iter().find(|p| p.label == "time").expect("time");
    assert_eq!(time.uom, "s");
    assert!((0.0..10.0).contains(&time.value), "{time:?}");
    let mut c = db.connect();
    for _ in 0..3 {
        run_job(&mut c, "broken", 3);
    }
    let out = check(&db, &["-w", "@2:4", "-c", "10:"]);
    assert_eq!(
        perf_summary(&out),
        [
            "critical=1;;;;",
            "warning=0;;;;",
            "unknown=0;;;;",
            "problems=1;@2:4;10:;0;"
        ]
    );
}

#[test]
fn thresholds_on_the_number_of_problems_decide_the_state_at_the_range_boundaries() {
    let db = TestDb::new("nagios_thresholds");
    let mut c = db.connect();
    // (problems, exit with -w 1 -c 3, exit with -w @2:4): -w 1 alerts above 1, -c 3 above
    // 3, @2:4 inside 2..4 inclusive. Every problem is a CRITICAL row, which without
    // thresholds would make each check CRITICAL.
    let expected = [
        (0, 0, 0),
        (1, 0, 0),
        (2, 1, 1),
        (3, 1, 1),
        (4, 2, 1),
        (5, 2, 0),
    ];
    for (n, with_w1_c3, with_at) in expected {
        let out = check(&db, &["-w", "1", "-c", "3"]);
        assert_eq!(
            code(&out).0,
            Some(with_w1_c3),
            "{n} problems: {}",
            code(&out).1
        );
        let word = ["OK", "WARNING", "CRITICAL"][with_w1_c3 as usize];
        assert!(
            stdout(&out).starts_with(&format!("JOBMON {word} - ")),
            "{n} problems: {}",
            stdout(&out)
        );
        assert!(
            perf_summary(&out).contains(&format!("problems={n};1;3;0;")),
            "{n} problems: {}",
            stdout(&out)
        );
        let out = check(&db, &["--warning", "@2:4"]);
        assert_eq!(
            code(&out).0,
            Some(with_at),
            "{n} problems: {}",
            code(&out).1
        );
        let out = check(&db, &[]);
        let plain = if n == 0 { 0 } else { 2 };
        assert_eq!(code(&out).0, Some(plain), "{n} problems: {}", code(&out).1);
        for _ in 0..3 {
            run_job(&mut c, &format!("job {n}"), 3);
        }
    }
    // The plugin's own failure stays UNKNOWN whatever the ranges say.
    let out = run(&mut nagios_cmd(&[
        "-H",
        "127.0.0.1",
        "-P",
        &closed_port().to_string(),
        "-d",
        "appdb",
        "-U",
        "nagios",
        "-w",
        "~:0",
        "-c",
        "@0:100",
    ]));
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    // A value that is no range is a wrong command line.
    let out = check(&db, &["-w", "1:x"]);
    assert_eq!(code(&out).0, Some(3), "{}", code(&out).1);
    assert!(
        stdout(&out).starts_with(
            "JOBMON UNKNOWN - invalid command line: invalid value '1:x' for '--warning <RANGE>'"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn job_and_like_report_only_the_jobs_asked_for() {
    let db = TestDb::new("nagios_job_filter");
    let mut c = db.connect();
    for _ in 0..3 {
        run_job(&mut c, "broken", 3);
        run_job(&mut c, "wobbly", 2);
        run_job(&mut c, "dwh load", 2);
    }
    let out = check(&db, &["--job", "WOBBLY"]);
    assert_eq!(code(&out).0, Some(1), "{}", code(&out).1);
    assert_eq!(
        status_line(&out).0,
        "JOBMON WARNING - 1 problem: WOBBLY (FAILED_RUN) | critical=0 warning=1 unknown=0 problems=1"
    );
    assert_eq!(
        long_output(&out),
        ["WARNING - WOBBLY (FAILED_RUN): 3 consecutive WARNING runs"]
    );
    // Acknowledging BROKEN's service leaves the others' services alerting.
    let out = check(&db, &["--job", "WOBBLY", "--job", "BROKEN"]);
    assert_eq!(code(&out).0, Some(2), "{}", code(&out).1);
    assert!(
        status_line(&out).0.starts_with(
            "JOBMON CRITICAL - 2 problems: BROKEN (FAILED_RUN), WOBBLY (FAILED_RUN) |"
        ),
        "{}",
        stdout(&out)
    );
    let out = check(&db, &["--like", "DWH%"]);
    assert_eq!(code(&out).0, Some(1), "{}", code(&out).1);
    assert_eq!(long_output(&out).len(), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("DWH LOAD (FAILED_RUN)"),
        "{}",
        stdout(&out)
    );
    // --job and --like together: a row matching either.
    let out = check(
        &db,
        &["--like", "DWH%", "--job", "BROKEN", "-w", "1", "-c", "2"],
    );
    assert_eq!(code(&out).0, Some(1), "{}", code(&out).1);
    assert!(perf_summary(&out).contains(&"problems=2;1;2;0;".to_string()));
    // A job without problems, and a name that is only a prefix, are OK.
    for args in [&["--job", "QUIET"][..], &["--job", "WOBBL"][..]] {
        let out = check(&db, args);
        assert_eq!(code(&out).0, Some(0), "{args:?}: {}", code(&out).1);
        assert_eq!(
            status_line(&out).0,
            "JOBMON OK - No problem in the selected jobs | critical=0 warning=0 unknown=0 problems=0"
        );
    }
    // The names are parameters, not SQL.
    let out = check(
        &db,
        &[
            "--like",
            "x' OR true OR job_name LIKE '%",
            "--job",
            "' OR ''='",
        ],
    );
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    // -v says what was checked, after the alerts.
    let out = check(&db, &["--job", "WOBBLY", "-v"]);
    let lines = long_output(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].starts_with("checked host=127.0.0.1 ")
            && lines[1].contains(": 3 rows from check_job_status(), 1 selected by --job/--like; warning range none, critical range none"),
        "{lines:?}"
    );
}

#[test]
fn help_and_version_exit_with_their_states_and_old_spellings_still_work_with_a_note() {
    for args in [&["-h"][..], &["--help"][..]] {
        let out = run(&mut nagios_cmd(args));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", code(&out).1);
        let text = stdout(&out);
        for option in [
            "-H, --hostname",
            "-P, --port",
            "-w, --warning",
            "-c, --critical",
            "--job",
            "--like",
            "Exit status (the state):",
        ] {
            assert!(text.contains(option), "{args:?} lacks {option:?}: {text}");
        }
    }
    for args in [&["-V"][..], &["--version"][..]] {
        let out = run(&mut nagios_cmd(args));
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", code(&out).1);
        assert_eq!(
            stdout(&out),
            format!("jobmon-tracker-nagios {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    let db = TestDb::new("nagios_old_spellings");
    let cl = cluster();
    let dir = tempdir();
    let config = write_config(dir.path(), &db, &[], "1s", 100, "5s");
    let expected =
        "JOBMON OK - All jobs run successfully | critical=0 warning=0 unknown=0 problems=0";
    let out = run(nagios_cmd(&["-c"]).arg(&config));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert_eq!(status_line(&out).0, expected);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "jobmon-tracker nagios: -c FILE is deprecated (-c is the critical range now): use --config FILE\n"
    );
    let out = run(nagios_cmd(&["--config"]).arg(&config).args(["-c", "0"]));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert!(out.stderr.is_empty(), "{}", code(&out).1);
    let port = cl.port.to_string();
    let out = run(&mut nagios_cmd(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-l",
        &cl.superuser,
        "--dbname",
        &db.name,
    ]));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "jobmon-tracker nagios: -h HOST is deprecated (-h is the help now): use -H/--hostname\n"
    );
    let out = run(&mut nagios_cmd(&[
        "--hostname",
        "127.0.0.1",
        "--port",
        &port,
        "--logname",
        &cl.superuser,
        "--database",
        &db.name,
    ]));
    assert_eq!(code(&out).0, Some(0), "{}", code(&out).1);
    assert!(out.stderr.is_empty(), "{}", code(&out).1);
}
