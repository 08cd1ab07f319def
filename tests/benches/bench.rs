//! The benchmark of issue 5: what a logging call costs against a plain INSERT and against
//! 1.5.0's dblink mechanism (scenario 1), eight clients logging at once (2),
//! check_job_status() on a million job_log rows (3), jobmon-tracker's ingest of a queue file
//! against a raw COPY, locally and over SSH (4, in tracker/ingest.rs), and its rule engine and
//! daemon memory (5, in tracker/rules_memory.rs), and the dashboard over 10,000 jobs and
//! 10,000,000 job_log rows (8, in web/mod.rs). It starts its own cluster through the test
//! harness and prints Markdown tables of medians with min/max and ratios against baselines
//! measured in the same run. Run it as `bash tests/bench.sh [options]` (see `--help`).

mod retention;
mod tracker;
mod web;

use jobmon_tests::{
    backend_pid, background_pids, cluster, configure_cluster, error_text, jobmon_client_backends,
    psql_file, shared_mode, wait_until, writer_pids, ClusterSettings, TestDb,
};
use postgres::Client;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

const CALLS_SQL: &str = include_str!("calls.sql");
/// The plain-SQL equivalent of `add_step(1, 'bench step')` (as tests/benches/pgbench/insert.sql).
const INSERT_SQL: &str =
    "INSERT INTO jobmon.job_detail (job_id, action, start_time) VALUES (1, 'bench step', now())";
const STATUS_DATA_SQL: &str = include_str!("status_data.sql");
const CHECK_WINDOW_SQL: &str = include_str!("check_job_status_window.sql");

const USAGE: &str = "\
usage: bash tests/bench.sh [--scenarios LIST] [--runs N] [--seconds S] [--quick]
  --scenarios LIST  comma-separated scenario numbers (default 1,2,3,4,5):
                    1 logging call overhead, 2 eight clients logging, 3 check_job_status
                    on a million rows, 4 jobmon-tracker ingest (local queue and SSH),
                    5 jobmon-tracker rule engine and daemon memory; not by default:
                    6 sixty loggers at max_connections = 100, wait_for_commit = off and the
                    writers' memory (with JOBMON_TEST_MODE=shared the cluster preloads
                    pg_jobmon: scenarios 1, 2 and 6 then measure the shared writer),
                    7 job_log_clear on 10,000,000 job_detail rows and the tracker's
                    retention purge of 1,000,000 messages, each against one DELETE,
                    8 the dashboard over 10,000 jobs and 10,000,000 job_log rows against
                    the same statements in psql
  --runs N          pgbench runs per figure in scenario 1 (default 5; scenario 2 uses
                    max(3, N/2))
  --seconds S       length of one pgbench run in scenario 1 (default 2; scenario 2: 2*S)
  --quick           --runs 3 --seconds 1, and scenarios 4, 5 and 8 at a tenth of the issue's
                    sizes with fewer runs (a smoke test, not for the README)";

struct Options {
    scenarios: Vec<u32>,
    runs: usize,
    seconds: u32,
    /// Smaller sizes and fewer runs in scenarios 4 and 5.
    quick: bool,
}

impl Options {
    fn parse() -> Result<Options, String> {
        let mut options = Options {
            scenarios: vec![1, 2, 3, 4, 5],
            runs: 5,
            seconds: 2,
            quick: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match arg.as_str() {
                // cargo bench passes --bench to every bench target.
                "--bench" => {}
                "--scenarios" => {
                    let list = value("--scenarios")?;
                    options.scenarios = list
                        .split(',')
                        .map(|s| match s.trim().parse::<u32>() {
                            Ok(n) if (1..=8).contains(&n) => Ok(n),
                            _ => Err(format!("--scenarios: {s:?} is not 1 to 8\n{USAGE}")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--runs" => {
                    options.runs = value("--runs")?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("--runs needs a positive number\n{USAGE}"))?;
                }
                "--seconds" => {
                    options.seconds = value("--seconds")?
                        .parse()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("--seconds needs a positive number\n{USAGE}"))?;
                }
                "--quick" => {
                    options.runs = 3;
                    options.seconds = 1;
                    options.quick = true;
                }
                "--help" | "-h" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

fn main() {
    let options = match Options::parse() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let mut report = String::new();
    if let Err(msg) = run(&options, &mut report) {
        println!("{report}");
        eprintln!("benchmark failed: {msg}");
        std::process::exit(1);
    }
    writeln!(
        report,
        "Done in {:.0} s; load average {} at the end (other work on the machine shows up as \
         wide min-max ranges).",
        started.elapsed().as_secs_f64(),
        load_average()
    )
    .ok();
    println!("{report}");
}

/// The 1-minute load average, as a hint of how much else the machine was doing.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn progress(msg: &str) {
    eprintln!("-- {msg}");
}

fn run(options: &Options, report: &mut String) -> Result<(), String> {
    if options.scenarios.contains(&6) {
        // Debian's default, at which the sixty loggers ran out of connections.
        configure_cluster(ClusterSettings {
            shared: false,
            conf: "max_connections = 100\n",
        });
    }
    let c = cluster();
    let mut admin = c.admin();
    // The harness runs its clusters without fsync (tests only need speed); figures at
    // synchronous_commit = on mean something only with commits that reach the disk.
    for sql in [
        "ALTER SYSTEM SET fsync = on",
        "ALTER SYSTEM SET full_page_writes = on",
        "SELECT pg_reload_conf()",
    ] {
        admin.batch_execute(sql).map_err(|e| error_text(&e))?;
    }
    let settings: Vec<String> = admin
        .query(
            "SELECT name || ' = ' || current_setting(name) FROM pg_settings
              WHERE name IN ('fsync', 'shared_buffers', 'wal_sync_method', 'server_version')
              ORDER BY name",
            &[],
        )
        .map_err(|e| error_text(&e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    writeln!(
        report,
        "## pg_jobmon benchmark\n\n{} CPUs, load average {} at the start; {}; runs = {}, \
         seconds per run = {}; mode: {}\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        settings.join(", "),
        options.runs,
        options.seconds,
        if shared_mode() {
            "shared (the writer processes)"
        } else {
            "session (a background connection per session)"
        }
    )
    .ok();

    let needs_calls_db = options
        .scenarios
        .iter()
        .any(|s| *s == 1 || *s == 2 || *s == 6);
    let calls_db = if needs_calls_db {
        Some(calls_database()?)
    } else {
        None
    };
    for scenario in &options.scenarios {
        let started = Instant::now();
        match (scenario, &calls_db) {
            (1, Some(db)) => scenario_1(options, db, report)?,
            (2, Some(db)) => scenario_2(options, db, report)?,
            (3, _) => scenario_3(report)?,
            (4, _) => tracker::ingest::scenario_4(options, report)?,
            (5, _) => tracker::rules_memory::scenario_5(options, report)?,
            (6, Some(db)) => scenario_6(options, db, report)?,
            (7, _) => retention::scenario_7(report)?,
            (8, _) => web::scenario_8(options.quick, report)?,
            (n, _) => return Err(format!("no scenario {n}")),
        }
        writeln!(
            report,
            "_Scenario {scenario} took {:.0} s to run._\n",
            started.elapsed().as_secs_f64()
        )
        .ok();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// pgbench and statistics

/// One pgbench run's figures.
struct Pgbench {
    latency_ms: f64,
    tps: f64,
}

/// Runs a pgbench script (one of tests/benches/pgbench/*.sql) against `db` over the Unix
/// socket, prepared statements, no vacuum.
fn pgbench(db: &str, script: &Script, clients: u32, seconds: u32) -> Result<Pgbench, String> {
    let c = cluster();
    let path = c.file(&format!("{}.sql", script.name));
    std::fs::write(&path, script.text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = c.dir.to_string_lossy().into_owned();
    let port = c.port.to_string();
    let clients_arg = clients.to_string();
    let threads = clients.min(2).to_string();
    let secs = seconds.to_string();
    let file = path.to_string_lossy().into_owned();
    let out = c.run_tool(
        "pgbench",
        &[
            "-n",
            "-M",
            "prepared",
            "-h",
            &dir,
            "-p",
            &port,
            "-U",
            &c.superuser,
            "-c",
            &clients_arg,
            "-j",
            &threads,
            "-T",
            &secs,
            "-f",
            &file,
            db,
        ],
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |prefix: &str| -> Result<f64, String> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                format!(
                    "pgbench {}: no {prefix:?} in its output:\n{text}",
                    script.name
                )
            })
    };
    Ok(Pgbench {
        latency_ms: field("latency average = ")?,
        tps: field("tps = ")?,
    })
}

struct Script {
    name: &'static str,
    text: &'static str,
}

macro_rules! script {
    ($name:literal) => {
        Script {
            name: $name,
            text: include_str!(concat!("pgbench/", $name, ".sql")),
        }
    };
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Stats {
        median,
        min: v.first().copied().unwrap_or(f64::NAN),
        max: v.last().copied().unwrap_or(f64::NAN),
    }
}

fn ms(v: f64) -> String {
    if v.abs() >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

fn ratio(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}x")
    } else if v >= 10.0 {
        format!("{v:.1}x")
    } else {
        format!("{v:.2}x")
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios 1 and 2: the calls

fn calls_database() -> Result<TestDb, String> {
    progress("setting up the database of scenarios 1 and 2");
    let db = TestDb::new("bench_calls");
    let c = cluster();
    let path = c.file("calls.sql");
    std::fs::write(&path, CALLS_SQL).map_err(|e| format!("{}: {e}", path.display()))?;
    psql_file(&db.name, &path)?;
    // The Unix socket and peer authentication, as the background connection uses by default.
    let connstr = format!(
        "host={} port={} dbname={} user={} application_name=jobmon_bench_dblink",
        c.dir.display(),
        c.port,
        db.name,
        c.superuser
    );
    db.connect()
        .execute(
            "INSERT INTO bench.target (connstr) VALUES ($1)",
            &[&connstr],
        )
        .map_err(|e| error_text(&e))?;
    Ok(db)
}

/// Sets synchronous_commit for new sessions of `db`: the callers and the background (and
/// dblink) sessions alike, since they all connect to it.
fn set_synchronous_commit(db: &TestDb, value: &str) -> Result<(), String> {
    let sql = match value {
        "on" | "off" => format!(
            "ALTER DATABASE \"{}\" SET synchronous_commit = {value}",
            db.name
        ),
        _ => format!("ALTER DATABASE \"{}\" RESET synchronous_commit", db.name),
    };
    cluster()
        .admin()
        .batch_execute(&sql)
        .map_err(|e| error_text(&e))?;
    if shared_mode() {
        // The writers read the database's settings when they connect: make them connect
        // again (they start at once and connect on the next call).
        let mut observer = db.connect();
        let writers = writers_of(&mut observer)?;
        for pid in &writers {
            observer
                .execute("SELECT pg_terminate_backend($1)", &[pid])
                .map_err(|e| error_text(&e))?;
        }
        wait_until(Duration::from_secs(10), || {
            writers_of(&mut observer).is_ok_and(|w| w.iter().all(|p| !writers.contains(p)))
        });
    }
    Ok(())
}

/// The writer processes connected to the observer's database (shared mode).
fn writers_of(observer: &mut Client) -> Result<Vec<i32>, String> {
    Ok(observer
        .query(
            "SELECT pid FROM pg_stat_activity
              WHERE backend_type = 'pg_jobmon writer' AND datname = current_database()",
            &[],
        )
        .map_err(|e| error_text(&e))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// One line of scenario 1: a call, its plain-SQL equivalent and its 1.5.0 equivalent.
struct Family {
    label: &'static str,
    plain: Script,
    plain_label: &'static str,
    old: Script,
    old_label: &'static str,
    ours: Script,
    ours_label: &'static str,
}

fn families() -> Vec<Family> {
    vec![
        Family {
            label: "add_step",
            plain: script!("insert"),
            plain_label: "plain `INSERT` into job_detail (caller's transaction)",
            old: script!("add_step_1_5"),
            old_label: "1.5.0 mechanism: `dblink_exec`, new connection per call",
            ours: script!("add_step"),
            ours_label: "**`add_step`**",
        },
        Family {
            label: "update_step",
            plain: script!("update"),
            plain_label: "plain `UPDATE` of job_detail",
            old: script!("update_step_1_5"),
            old_label: "1.5.0 mechanism: update through `dblink_exec`",
            ours: script!("update_step"),
            ours_label: "**`update_step`**",
        },
        Family {
            label: "cycle",
            plain: script!("cycle_plain"),
            plain_label: "plain cycle: 2 `INSERT`s, 2 `UPDATE`s",
            old: script!("cycle_1_5"),
            old_label: "1.5.0 mechanism: the cycle through 4 new connections",
            ours: script!("cycle"),
            ours_label: "**cycle `add_job`, `add_step`, `update_step`, `close_job`**",
        },
    ]
}

fn scenario_1(options: &Options, db: &TestDb, report: &mut String) -> Result<(), String> {
    let select_1 = script!("select_1");
    let kept = script!("add_step_kept");
    let families = families();
    writeln!(
        report,
        "### Scenario 1: logging call overhead, one client\n\n\
         Overhead = pgbench latency (prepared statements, Unix socket) minus the latency of \
         `SELECT 1` in the same run; median, min and max of {} runs of {} s each. Ratios \
         are of medians: \"x plain\" against the plain-SQL equivalent in the caller's own \
         transaction, \"1.5.0 / this\" how many times cheaper than 1.5.0's \
         new-connection-per-call mechanism.\n",
        options.runs, options.seconds
    )
    .ok();
    let mut verdicts = Vec::new();
    for sync in ["off", "on"] {
        set_synchronous_commit(db, sync)?;
        let mut latencies: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut overheads: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for run in 0..options.runs {
            progress(&format!(
                "scenario 1, synchronous_commit = {sync}, run {}/{}",
                run + 1,
                options.runs
            ));
            let floor = pgbench(&db.name, &select_1, 1, options.seconds)?.latency_ms;
            latencies.entry(select_1.name).or_default().push(floor);
            let mut scripts: Vec<&Script> = vec![&kept];
            for f in &families {
                scripts.extend([&f.plain, &f.old, &f.ours]);
            }
            for s in scripts {
                let latency = pgbench(&db.name, s, 1, options.seconds)?.latency_ms;
                latencies.entry(s.name).or_default().push(latency);
                overheads.entry(s.name).or_default().push(latency - floor);
            }
        }
        let over = |name: &str| stats(overheads.get(name).map_or(&[][..], |v| &v[..]));
        writeln!(
            report,
            "#### synchronous_commit = {sync}\n\n\
             | call | overhead (median) | min | max | x plain | 1.5.0 / this |\n\
             |---|---:|---:|---:|---:|---:|"
        )
        .ok();
        let floor = stats(&latencies[select_1.name]);
        writeln!(
            report,
            "| `SELECT 1` latency (the floor, subtracted) | {} | {} | {} | | |",
            ms(floor.median),
            ms(floor.min),
            ms(floor.max)
        )
        .ok();
        for (i, f) in families.iter().enumerate() {
            let plain = over(f.plain.name);
            let old = over(f.old.name);
            let ours = over(f.ours.name);
            let line = |label: &str, s: Stats, x_plain: Option<f64>, old_over: Option<f64>| {
                format!(
                    "| {label} | {} | {} | {} | {} | {} |",
                    ms(s.median),
                    ms(s.min),
                    ms(s.max),
                    x_plain.map(ratio).unwrap_or_default(),
                    old_over.map(ratio).unwrap_or_default()
                )
            };
            writeln!(report, "{}", line(f.plain_label, plain, None, None)).ok();
            writeln!(
                report,
                "{}",
                line(f.old_label, old, Some(old.median / plain.median), None)
            )
            .ok();
            if i == 0 {
                let k = over(kept.name);
                writeln!(
                    report,
                    "{}",
                    line(
                        "`dblink_exec` on one persistent named connection",
                        k,
                        Some(k.median / plain.median),
                        Some(old.median / k.median)
                    )
                )
                .ok();
                // Any write made by another session costs at least the write itself plus one
                // more local round trip: the plain INSERT's overhead plus SELECT 1's latency.
                let floor: Vec<f64> = overheads[f.plain.name]
                    .iter()
                    .zip(&latencies[select_1.name])
                    .map(|(insert, round_trip)| insert + round_trip)
                    .collect();
                let floor = stats(&floor);
                writeln!(
                    report,
                    "{}",
                    line(
                        "(floor of any write by another session: plain `INSERT` + one `SELECT 1` round trip)",
                        floor,
                        Some(floor.median / plain.median),
                        Some(old.median / floor.median)
                    )
                )
                .ok();
            }
            writeln!(
                report,
                "{}",
                line(
                    f.ours_label,
                    ours,
                    Some(ours.median / plain.median),
                    Some(old.median / ours.median)
                )
            )
            .ok();
            let (max_x_plain, min_x_old) = if sync == "off" {
                (2.5, 50.0)
            } else {
                (1.3, 10.0)
            };
            let x_plain = ours.median / plain.median;
            let x_old = old.median / ours.median;
            verdicts.push(format!(
                "- {} at synchronous_commit = {sync}: {} the plain equivalent (target at most \
                 {max_x_plain}x: {}); {} cheaper than 1.5.0 (target at least {min_x_old}x: {})",
                f.label,
                ratio(x_plain),
                verdict(x_plain <= max_x_plain),
                ratio(x_old),
                verdict(x_old >= min_x_old)
            ));
            if f.label == "update_step" {
                let insert = over("insert");
                verdicts.push(format!(
                    "  (update_step against the plain `INSERT`: {})",
                    ratio(ours.median / insert.median)
                ));
            }
        }
        writeln!(report).ok();
    }
    set_synchronous_commit(db, "default")?;
    writeln!(
        report,
        "Targets (ratios of medians):\n\n{}\n",
        verdicts.join("\n")
    )
    .ok();
    first_call_and_memory(db, report)
}

/// The first call of a session (it opens the background connection) against a warm one,
/// and what the background session and the caller hold in memory.
fn first_call_and_memory(db: &TestDb, report: &mut String) -> Result<(), String> {
    progress("scenario 1: first call of a session, memory");
    const SESSIONS: usize = 15;
    let mut first = Vec::new();
    let mut warm = Vec::new();
    let mut caller_growth = Vec::new();
    let mut library_growth = Vec::new();
    // At synchronous_commit = off, so that the figures are the connection's, not the disk's.
    set_synchronous_commit(db, "off")?;
    for _ in 0..SESSIONS {
        let mut c = db.connect();
        let pid = backend_pid(&mut c);
        // A plain INSERT first, so that the caller's catalog caches are warm and what the
        // first call adds to its memory is the background connection's.
        c.execute(INSERT_SQL, &[]).map_err(|e| error_text(&e))?;
        let stmt = c
            .prepare("SELECT jobmon.add_step(1, 'first call')")
            .map_err(|e| error_text(&e))?;
        // Loading the library is what any extension costs; then what the call itself adds
        // (runtime, connection, prepared statement). pgrx's _PG_init runs at the LOAD.
        let before = private_kb(pid)?;
        c.batch_execute("LOAD 'pg_jobmon'")
            .map_err(|e| error_text(&e))?;
        let loaded = private_kb(pid)?;
        library_growth.push((loaded - before) as f64);
        let t = Instant::now();
        c.query_one(&stmt, &[]).map_err(|e| error_text(&e))?;
        first.push(t.elapsed().as_secs_f64() * 1000.0);
        caller_growth.push((private_kb(pid)? - loaded) as f64);
        let t = Instant::now();
        c.query_one(&stmt, &[]).map_err(|e| error_text(&e))?;
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    set_synchronous_commit(db, "default")?;
    let first = stats(&first);
    let warm = stats(&warm);
    let growth = stats(&caller_growth);
    let library = stats(&library_growth);

    // Sessions that have each logged 1,000 rows: ours (and its background session), one
    // logging with plain INSERTs, one through a persistent dblink connection.
    let mut ours = db.connect();
    let ours_pid = backend_pid(&mut ours);
    let mut plain = db.connect();
    let plain_pid = backend_pid(&mut plain);
    let mut kept = db.connect();
    for _ in 0..1000 {
        ours.query_one("SELECT jobmon.add_step(1, 'memory')", &[])
            .map_err(|e| error_text(&e))?;
        plain.execute(INSERT_SQL, &[]).map_err(|e| error_text(&e))?;
        kept.query_one("SELECT bench.add_step_kept(1, 'memory')", &[])
            .map_err(|e| error_text(&e))?;
    }
    let kept_remote: i32 = kept
        .query_one(
            "SELECT pid FROM public.dblink('jobmon_bench', 'SELECT pg_backend_pid()') AS t (pid int)",
            &[],
        )
        .map_err(|e| error_text(&e))?
        .get(0);
    let mut observer = db.connect();
    let background = if shared_mode() {
        writers_of(&mut observer)?
    } else {
        background_pids(&mut observer, ours_pid)
    };
    let bg_pid = match background[..] {
        [pid] => pid,
        [pid, ..] if shared_mode() => pid,
        _ => {
            return Err(format!(
            "expected one background session (or writer) for pid {ours_pid}, found {background:?}"
        ))
        }
    };
    let mut rows = Vec::new();
    for (label, pid) in [
        (
            if shared_mode() {
                "a writer process (serves every session)"
            } else {
                "our background session"
            },
            bg_pid,
        ),
        ("a session doing the same INSERTs itself", plain_pid),
        (
            "the remote session of a persistent dblink connection",
            kept_remote,
        ),
    ] {
        rows.push(format!(
            "| {label} | {} kB | {} kB |",
            private_kb(pid)?,
            context_total_kb(&mut observer, pid)?
        ));
    }

    writeln!(
        report,
        "#### First call of a session and memory\n\n\
         | figure | median | min | max |\n|---|---:|---:|---:|\n\
         | first `add_step` of a new session (session mode: opens the background connection) | {} | {} | {} |\n\
         | second call, same session | {} | {} | {} |\n\
         | caller's private dirty memory grown by loading pg_jobmon.so | {:.0} kB | {:.0} kB | {:.0} kB |\n\
         | caller's private dirty memory grown by the first call after that | {:.0} kB | {:.0} kB | {:.0} kB |\n\n\
         ({SESSIONS} new sessions at synchronous_commit = off, each warmed by a plain INSERT; \
         client-side timings with one round trip each. 1.5.0's mechanism pays about the \
         first-call price on every call.)\n\n\
         | after 1,000 logged rows | private dirty memory (smaps) | memory contexts |\n|---|---:|---:|\n{}\n",
        ms(first.median),
        ms(first.min),
        ms(first.max),
        ms(warm.median),
        ms(warm.min),
        ms(warm.max),
        library.median,
        library.min,
        library.max,
        growth.median,
        growth.min,
        growth.max,
        rows.join("\n")
    )
    .ok();
    Ok(())
}

/// Private dirty memory of a server process (its heap, stack and written data), from
/// /proc/<pid>/smaps. Clean pages are left out: the code of pg_jobmon.so counts as private
/// while a single session has the library loaded, but it is file-backed and shared by every
/// session that loads it. So is PostgreSQL's shared memory: smaps counts its pages as
/// private while only this process has touched them.
fn private_kb(pid: i32) -> Result<i64, String> {
    let path = format!("/proc/{pid}/smaps");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut shared_memory = false;
    let mut total = 0;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            // A mapping's header: address perms offset dev inode [pathname].
            let name = fields.skip(4).collect::<Vec<_>>().join(" ");
            shared_memory = name.contains("(deleted)")
                || name.starts_with("/dev/shm/")
                || name.starts_with("/SYSV")
                || name.starts_with("/memfd:");
        } else if !shared_memory && first == "Private_Dirty:" {
            total += fields
                .next()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
}

/// The "Grand total" of a backend's memory contexts, as pg_log_backend_memory_contexts
/// writes it to the server log.
fn context_total_kb(observer: &mut Client, pid: i32) -> Result<i64, String> {
    let mark = cluster().log_mark();
    observer
        .query_one("SELECT pg_log_backend_memory_contexts($1)", &[&pid])
        .map_err(|e| error_text(&e))?;
    let tag = format!("[{pid}]");
    let mut total = None;
    wait_until(Duration::from_secs(10), || {
        total = mark.text_since().lines().find_map(|line| {
            if !line.contains(&tag) {
                return None;
            }
            let rest = line.split("Grand total: ").nth(1)?;
            rest.split_whitespace().next()?.parse::<i64>().ok()
        });
        total.is_some()
    });
    total
        .map(|bytes| bytes / 1024)
        .ok_or_else(|| format!("no memory context report of pid {pid} in the server log"))
}

fn scenario_2(options: &Options, db: &TestDb, report: &mut String) -> Result<(), String> {
    const CLIENTS: u32 = 8;
    let runs = (options.runs / 2).max(3);
    let seconds = options.seconds * 2;
    let insert = script!("insert");
    let ours = script!("add_step");
    writeln!(
        report,
        "### Scenario 2: {CLIENTS} clients logging at once\n\n\
         pgbench -c {CLIENTS} -j 2, {runs} runs of {seconds} s; transactions per second \
         (each one call or one statement).\n\n\
         | synchronous_commit | plain `INSERT` tps (median, min-max) | `add_step` tps (median, min-max) | add_step / INSERT | target at least 0.60 |\n\
         |---|---:|---:|---:|---|"
    )
    .ok();
    for sync in ["off", "on"] {
        set_synchronous_commit(db, sync)?;
        let mut plain_tps = Vec::new();
        let mut ours_tps = Vec::new();
        for run in 0..runs {
            progress(&format!(
                "scenario 2, synchronous_commit = {sync}, run {}/{runs}",
                run + 1
            ));
            plain_tps.push(pgbench(&db.name, &insert, CLIENTS, seconds)?.tps);
            ours_tps.push(pgbench(&db.name, &ours, CLIENTS, seconds)?.tps);
        }
        let p = stats(&plain_tps);
        let o = stats(&ours_tps);
        let share = o.median / p.median;
        writeln!(
            report,
            "| {sync} | {:.0} ({:.0}-{:.0}) | {:.0} ({:.0}-{:.0}) | {share:.2} | {} |",
            p.median,
            p.min,
            p.max,
            o.median,
            o.min,
            o.max,
            verdict(share >= 0.6)
        )
        .ok();
    }
    set_synchronous_commit(db, "default")?;

    // What limits the throughput on a CPU-bound machine: the server CPU each call costs.
    progress("scenario 2: server CPU per call");
    set_synchronous_commit(db, "off")?;
    const CALLS: usize = 5000;
    let update = "UPDATE jobmon.job_detail
                     SET end_time = now(), elapsed_time = date_part('epoch', now() - start_time)::real,
                         status = 'OK', message = 'done'
                   WHERE step_id = $1";
    let mut rows = Vec::new();
    let mut totals = BTreeMap::new();
    for (label, sql, with_id) in [
        ("`SELECT 1`", "SELECT 1", false),
        ("plain `INSERT`", INSERT_SQL, false),
        (
            "`add_step`",
            "SELECT jobmon.add_step(1, 'bench step')",
            false,
        ),
        ("plain `UPDATE`", update, true),
        (
            "`update_step`",
            "SELECT jobmon.update_step($1, 'OK', 'done')",
            true,
        ),
    ] {
        let (caller, background) = cpu_per_call(db, sql, with_id, CALLS)?;
        totals.insert(label, caller + background);
        rows.push(format!(
            "| {label} | {caller:.1} µs | {} | {:.1} µs |",
            if background > 0.0 {
                format!("{background:.1} µs")
            } else {
                String::new()
            },
            caller + background
        ));
    }
    set_synchronous_commit(db, "default")?;
    writeln!(
        report,
        "\nServer CPU per call (one client, {CALLS} calls on a prepared statement, \
         synchronous_commit = off; from /proc/<pid>/schedstat):\n\n\
         | statement | caller's backend | {} | total |\n|---|---:|---:|---:|\n{}\n\n\
         When the {CLIENTS} clients keep both cores busy, `add_step` can reach at most about \
         {:.2} of the INSERT's throughput (CPU of plain INSERT / CPU of add_step; pgbench's own \
         CPU, the same for both, moves it a little towards 1).\n",
        if shared_mode() {
            "writers"
        } else {
            "background session"
        },
        rows.join("\n"),
        totals["plain `INSERT`"] / totals["`add_step`"]
    )
    .ok();
    Ok(())
}

/// CPU time a process has used so far, in nanoseconds (/proc/<pid>/schedstat).
fn cpu_ns(pid: i32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/schedstat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{path}: unexpected {text:?}"))
}

/// Server CPU per execution of `sql` (prepared once, executed `n` times by one client after
/// a warm-up) in microseconds: the client's backend, and its background session if it has
/// one. With `with_id`, `$1` is a step id from 1 to 100,000 in turn.
fn cpu_per_call(db: &TestDb, sql: &str, with_id: bool, n: usize) -> Result<(f64, f64), String> {
    let mut c = db.connect();
    let pid = backend_pid(&mut c);
    let stmt = c
        .prepare(sql)
        .map_err(|e| format!("{sql}: {}", error_text(&e)))?;
    let run = |c: &mut Client, i: usize| -> Result<(), String> {
        let id = (i % 100_000) as i64 + 1;
        let result = if with_id {
            c.execute(&stmt, &[&id])
        } else {
            c.execute(&stmt, &[])
        };
        result
            .map(|_| ())
            .map_err(|e| format!("{sql}: {}", error_text(&e)))
    };
    for i in 0..200 {
        run(&mut c, i)?;
    }
    let mut observer = db.connect();
    // The background session, or in the shared mode every writer of the database.
    let background = if shared_mode() {
        writers_of(&mut observer)?
    } else {
        background_pids(&mut observer, pid)
    };
    let caller0 = cpu_ns(pid)?;
    let background0: Vec<u64> = background
        .iter()
        .map(|p| cpu_ns(*p))
        .collect::<Result<_, _>>()?;
    for i in 0..n {
        run(&mut c, i)?;
    }
    let caller = (cpu_ns(pid)? - caller0) as f64 / n as f64 / 1000.0;
    let mut spent = 0u64;
    for (p, before) in background.iter().zip(background0) {
        spent += cpu_ns(*p)? - before;
    }
    Ok((caller, spent as f64 / n as f64 / 1000.0))
}

// ---------------------------------------------------------------------------------------
// Scenario 6: many sessions at max_connections = 100; the shared writer's own figures

fn scenario_6(options: &Options, db: &TestDb, report: &mut String) -> Result<(), String> {
    writeln!(
        report,
        "### Scenario 6: sixty loggers at max_connections = 100, wait_for_commit = off, the writers\n"
    )
    .ok();
    sixty_loggers(db, report)?;
    if !shared_mode() {
        writeln!(
            report,
            "(jobmon.wait_for_commit and the writers' memory: shared mode only, \
             `JOBMON_TEST_MODE=shared`.)\n"
        )
        .ok();
        return Ok(());
    }
    no_wait(options, db, report)?;
    writer_memory(db, report)
}

/// The test: sixty sessions of a role that logs, each add_job, four seconds of
/// work, add_step, close_job, all at once, on a server with max_connections = 100.
fn sixty_loggers(db: &TestDb, report: &mut String) -> Result<(), String> {
    const LOGGERS: usize = 60;
    progress("scenario 6: sixty loggers at once");
    let role = db.create_role("logger", "");
    db.grant_logging_rights(&role);
    let mut observer = db.connect();
    let max_connections: String = observer
        .query_one("SHOW max_connections", &[])
        .map_err(|e| error_text(&e))?
        .get(0);
    let handles: Vec<_> = (0..LOGGERS)
        .map(|i| {
            let name = db.name.clone();
            let role = role.clone();
            std::thread::spawn(move || -> Result<(), (bool, String)> {
                let mut c = cluster()
                    .try_connect(&name, &role)
                    .map_err(|e| (false, error_text(&e)))?;
                let fail = |e: postgres::Error| (true, error_text(&e));
                let job: i64 = c
                    .query_one("SELECT jobmon.add_job($1)", &[&format!("loader {i}")])
                    .map_err(fail)?
                    .get(0);
                std::thread::sleep(Duration::from_secs(4));
                c.query_one("SELECT jobmon.add_step($1, 'loaded')", &[&job])
                    .map_err(fail)?;
                c.execute("SELECT jobmon.close_job($1)", &[&job])
                    .map_err(fail)?;
                Ok(())
            })
        })
        .collect();
    let (mut peak_ours, mut peak_clients) = (0i64, 0i64);
    while handles.iter().any(|h| !h.is_finished()) {
        peak_ours = peak_ours.max(jobmon_client_backends(&mut observer));
        let clients: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'",
                &[],
            )
            .map_err(|e| error_text(&e))?
            .get(0);
        peak_clients = peak_clients.max(clients);
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut logged, mut no_connection, mut failed) = (0, 0, 0);
    let mut example = String::new();
    for h in handles {
        match h
            .join()
            .map_err(|_| "a logger thread panicked".to_string())?
        {
            Ok(()) => logged += 1,
            Err((in_call, text)) => {
                if in_call {
                    failed += 1;
                } else {
                    no_connection += 1;
                }
                if example.is_empty() {
                    example = text;
                }
            }
        }
    }
    writeln!(
        report,
        "#### {LOGGERS} loggers at once, max_connections = {max_connections}\n\n\
         | figure | value | target |\n|---|---:|---|\n\
         | sessions that logged their whole job | {logged} of {LOGGERS} | {LOGGERS} of {LOGGERS}: {} |\n\
         | sessions whose logging call failed | {failed} | |\n\
         | sessions that could not connect at all | {no_connection} | |\n\
         | peak client connections opened by pg_jobmon | {peak_ours} | 0: {} |\n\
         | peak client backends in all | {peak_clients} | |\n\n{}",
        verdict(logged == LOGGERS),
        verdict(peak_ours == 0),
        if example.is_empty() {
            String::new()
        } else {
            format!("First error: `{example}`\n\n")
        }
    )
    .ok();
    Ok(())
}

/// One client at synchronous_commit = off: add_step waiting for its commit and with
/// jobmon.wait_for_commit = off, against the plain INSERT, in the same run.
fn no_wait(options: &Options, db: &TestDb, report: &mut String) -> Result<(), String> {
    let nowait_db = calls_database()?;
    cluster()
        .admin()
        .batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET jobmon.wait_for_commit = off",
            nowait_db.name
        ))
        .map_err(|e| error_text(&e))?;
    set_synchronous_commit(db, "off")?;
    set_synchronous_commit(&nowait_db, "off")?;
    let select_1 = script!("select_1");
    let insert = script!("insert");
    let add_step = script!("add_step");
    let mut plain = Vec::new();
    let mut waiting = Vec::new();
    let mut queued = Vec::new();
    for run in 0..options.runs {
        progress(&format!(
            "scenario 6, wait_for_commit, run {}/{}",
            run + 1,
            options.runs
        ));
        let base = pgbench(&db.name, &select_1, 1, options.seconds)?.latency_ms;
        plain.push(pgbench(&db.name, &insert, 1, options.seconds)?.latency_ms - base);
        waiting.push(pgbench(&db.name, &add_step, 1, options.seconds)?.latency_ms - base);
        let base = pgbench(&nowait_db.name, &select_1, 1, options.seconds)?.latency_ms;
        queued.push(pgbench(&nowait_db.name, &add_step, 1, options.seconds)?.latency_ms - base);
    }
    set_synchronous_commit(db, "default")?;
    let (p, w, q) = (stats(&plain), stats(&waiting), stats(&queued));
    writeln!(
        report,
        "#### One client, synchronous_commit = off: waiting for the commit or not\n\n\
         Overhead over `SELECT 1`, median (min-max) of {} runs of {} s.\n\n\
         | call | overhead | x plain `INSERT` | target |\n|---|---:|---:|---|\n\
         | plain `INSERT` | {} ({}-{}) | 1 | |\n\
         | `add_step`, jobmon.wait_for_commit = on | {} ({}-{}) | {} | at most 2.5x: {} |\n\
         | `add_step`, jobmon.wait_for_commit = off | {} ({}-{}) | {} | below 1x: {} |\n",
        options.runs,
        options.seconds,
        ms(p.median),
        ms(p.min),
        ms(p.max),
        ms(w.median),
        ms(w.min),
        ms(w.max),
        ratio(w.median / p.median),
        verdict(w.median / p.median <= 2.5),
        ms(q.median),
        ms(q.min),
        ms(q.max),
        ratio(q.median / p.median),
        verdict(q.median < p.median)
    )
    .ok();
    Ok(())
}

/// Resident and private memory of each writer process connected to `db`, after 1,000
/// more calls (a writer shows in pg_stat_activity once connected).
fn writer_memory(db: &TestDb, report: &mut String) -> Result<(), String> {
    let mut observer = db.connect();
    for _ in 0..1000 {
        observer
            .query_one("SELECT jobmon.add_step(1, 'memory')", &[])
            .map_err(|e| error_text(&e))?;
    }
    let mut rows = Vec::new();
    for pid in writer_pids(&mut observer) {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        rows.push(format!("| {pid} | {rss} | {} kB |", private_kb(pid)?));
    }
    writeln!(
        report,
        "#### The writer processes\n\n| writer pid | resident (VmRSS, incl. shared buffers it touched) | private dirty |\n|---|---:|---:|\n{}\n",
        rows.join("\n")
    )
    .ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Scenario 3: check_job_status at scale

const JOBS: i32 = 1000;
const RUNS_PER_JOB: i32 = 1000;

type StatusRow = (i32, String, Option<String>, String);

fn status_rows(c: &mut postgres::Transaction<'_>, sql: &str) -> Result<Vec<StatusRow>, String> {
    Ok(c.query(sql, &[])
        .map_err(|e| format!("{sql}: {}", error_text(&e)))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Times a query (prepared once, 3 warm-up executions): client-side milliseconds.
fn time_query(c: &mut Client, sql: &str, iterations: usize) -> Result<Stats, String> {
    let stmt = c
        .prepare(sql)
        .map_err(|e| format!("{sql}: {}", error_text(&e)))?;
    for _ in 0..3 {
        c.query(&stmt, &[])
            .map_err(|e| format!("{sql}: {}", error_text(&e)))?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        c.query(&stmt, &[])
            .map_err(|e| format!("{sql}: {}", error_text(&e)))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(stats(&times))
}

/// Times the first execution of a query in each of `sessions` new sessions (the connection
/// itself not included): client-side milliseconds.
fn first_in_session(db: &TestDb, sql: &str, sessions: usize) -> Result<Stats, String> {
    let mut times = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut c = db.connect();
        let t = Instant::now();
        c.query(sql, &[])
            .map_err(|e| format!("{sql}: {}", error_text(&e)))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(stats(&times))
}

fn scenario_3(report: &mut String) -> Result<(), String> {
    progress("scenario 3: generating the data (about two minutes)");
    let db = TestDb::new("bench_status");
    // The session that is "running" two of the jobs; it must exist before they start.
    let mut live = db.connect();
    let live_pid = backend_pid(&mut live);
    let mut c = db.connect();
    c.query_one(
        "SELECT set_config('bench.live_pid', $1, false), set_config('bench.jobs', $2, false),
                set_config('bench.runs', $3, false)",
        &[
            &live_pid.to_string(),
            &JOBS.to_string(),
            &RUNS_PER_JOB.to_string(),
        ],
    )
    .map_err(|e| error_text(&e))?;
    let t = Instant::now();
    c.batch_execute(STATUS_DATA_SQL)
        .map_err(|e| format!("status_data.sql: {}", error_text(&e)))?;
    for table in ["job_log", "job_detail", "job_check_log", "job_check_config"] {
        c.batch_execute(&format!("VACUUM ANALYZE jobmon.{table}"))
            .map_err(|e| error_text(&e))?;
    }
    let load_secs = t.elapsed().as_secs_f64();
    c.batch_execute("CREATE SCHEMA bench")
        .map_err(|e| error_text(&e))?;
    c.batch_execute(CHECK_WINDOW_SQL)
        .map_err(|e| format!("check_job_status_window.sql: {}", error_text(&e)))?;
    let counts = c
        .query_one(
            "SELECT (SELECT count(*) FROM jobmon.job_log),
                    (SELECT count(DISTINCT job_name) FROM jobmon.job_log),
                    (SELECT count(*) FROM jobmon.job_detail),
                    (SELECT count(*) FROM jobmon.job_check_log),
                    (SELECT count(*) FROM jobmon.job_check_config WHERE active),
                    (SELECT count(*) FROM jobmon.job_log WHERE status IN ('CRITICAL', 'WARNING')),
                    (SELECT count(*) FROM jobmon.job_log WHERE end_time IS NULL)",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    let count = |i: usize| counts.get::<_, i64>(i);

    // Same transaction, same now(): the current function and the old one must agree row for row.
    progress("scenario 3: comparing check_job_status with the window-scan version");
    let mut summary = String::new();
    {
        let mut tx = c.transaction().map_err(|e| error_text(&e))?;
        for (new, old) in [
            (
                "SELECT * FROM jobmon.check_job_status()",
                "SELECT * FROM bench.check_job_status_window()",
            ),
            (
                "SELECT * FROM jobmon.check_job_status('3 days')",
                "SELECT * FROM bench.check_job_status_window('3 days')",
            ),
        ] {
            let a = status_rows(&mut tx, new)?;
            let b = status_rows(&mut tx, old)?;
            if a != b {
                return Err(format!(
                    "{new} and {old} disagree:\n{a:#?}\nagainst\n{b:#?}"
                ));
            }
            let mut kinds: BTreeMap<(i32, &str), usize> = BTreeMap::new();
            for r in &a {
                *kinds.entry((r.0, r.1.as_str())).or_default() += 1;
            }
            let kinds: Vec<String> = kinds
                .iter()
                .rev()
                .map(|((code, status), n)| format!("{n} x {code} {status}"))
                .collect();
            writeln!(
                summary,
                "- `{new}`: {} rows ({})",
                a.len(),
                kinds.join(", ")
            )
            .ok();
        }
        tx.commit().map_err(|e| error_text(&e))?;
    }

    progress("scenario 3: timing");
    const FAST: usize = 50;
    const SLOW: usize = 10;
    let timed = [
        (
            "`check_job_status()`",
            "SELECT * FROM jobmon.check_job_status()",
            "SELECT * FROM bench.check_job_status_window()",
            "33 ms",
        ),
        (
            "`check_job_status('3 days')`",
            "SELECT * FROM jobmon.check_job_status('3 days')",
            "SELECT * FROM bench.check_job_status_window('3 days')",
            "48 ms",
        ),
    ];
    let mut lines = Vec::new();
    for (label, new, old, old_1_5) in timed {
        let n = time_query(&mut c, new, FAST)?;
        let o = time_query(&mut c, old, SLOW)?;
        lines.push(format!(
            "| {label} | {} | {} | {} | {} ({}x) | {old_1_5} ({}x) | 5 ms: {} |",
            ms(n.median),
            ms(n.min),
            ms(n.max),
            ms(o.median),
            ratio_plain(o.median / n.median),
            ratio_plain(
                old_1_5
                    .trim_end_matches(" ms")
                    .parse::<f64>()
                    .unwrap_or(f64::NAN)
                    / n.median
            ),
            verdict(n.median <= 5.0)
        ));
    }
    // Nagios's check_postgres connects anew for every check: the function is then compiled
    // and planned, and the catalog caches are cold.
    let n = first_in_session(&db, "SELECT * FROM jobmon.check_job_status()", SLOW)?;
    let o = first_in_session(&db, "SELECT * FROM bench.check_job_status_window()", SLOW)?;
    lines.push(format!(
        "| `check_job_status()`, first call of a new session | {} | {} | {} | {} ({}x) | | |",
        ms(n.median),
        ms(n.min),
        ms(n.max),
        ms(o.median),
        ratio_plain(o.median / n.median),
    ));
    for (label, sql) in [
        (
            "`show_job('bench_job_0042')` (10 newest of 1,000 runs)",
            "SELECT * FROM jobmon.show_job('bench_job_0042')",
        ),
        ("`show_running()`", "SELECT * FROM jobmon.show_running()"),
    ] {
        let s = time_query(&mut c, sql, FAST)?;
        lines.push(format!(
            "| {label} | {} | {} | {} | | | 5 ms: {} |",
            ms(s.median),
            ms(s.min),
            ms(s.max),
            verdict(s.median <= 5.0)
        ));
    }
    drop(live);

    writeln!(
        report,
        "### Scenario 3: check_job_status at scale\n\n\
         {} job_log rows over {} job names in 30 days ({} failed, {} unfinished), {} job_detail \
         rows, {} job_check_log rows, {} active configurations; generated set-based in {:.0} s \
         (tests/benches/status_data.sql).\n\n\
         | query | median | min | max | before: window scan (same run) | 1.5.0 (issue's figures) | target |\n\
         |---|---:|---:|---:|---:|---:|---|\n{}\n\n\
         Client-side times, one round trip included; {FAST} executions after 3 warm-ups ({SLOW} \
         for the window scan). Output identical to the window-scan version, row for row, in one \
         transaction:\n{}",
        count(0),
        count(1),
        count(5),
        count(6),
        count(2),
        count(3),
        count(4),
        load_secs,
        lines.join("\n"),
        summary
    )
    .ok();
    Ok(())
}

fn ratio_plain(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
