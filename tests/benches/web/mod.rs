//! Scenario 8: the dashboard at scale. 10,000 jobs over 10,000,000 job_log rows
//! (tests/benches/web/data.sql); each page timed through `jobmon-tracker web` (a release
//! build, over loopback HTTP, rendering included) against the same statements of
//! `sql/web/` run by psql (`PREPARE`/`EXECUTE` with `\timing`) in the same run: the
//! baseline is what the database alone costs. Targets: the overview under 200 ms, a job's
//! page under 50 ms.

use super::tracker::{check_release_build, BIN};
use super::{ms, progress, ratio, stats, verdict, Stats};
use jobmon_tests::tracker::toml_str;
use jobmon_tests::web::{get, WebServer};
use jobmon_tests::{cluster, error_text, psql_file, TestDb};
use std::fmt::Write as _;
use std::time::Instant;

const WEB_DATA_SQL: &str = include_str!("data.sql");
const OVERVIEW_SQL: &str = include_str!("../../../sql/web/overview.sql");
const JOB_COUNT_SQL: &str = include_str!("../../../sql/web/job_count.sql");
const JOB_RUNS_SQL: &str = include_str!("../../../sql/web/job_runs.sql");
const RUN_SQL: &str = include_str!("../../../sql/web/run.sql");
const RUN_STEPS_SQL: &str = include_str!("../../../sql/web/run_steps.sql");
const PAGE_SIZE: u32 = 50;
const WARMUP: usize = 3;

/// One page and the statements it runs, as psql `EXECUTE`s (one iteration's worth).
struct Case {
    label: String,
    path: String,
    executes: Vec<String>,
    target_ms: Option<f64>,
}

pub fn scenario_8(quick: bool, report: &mut String) -> Result<(), String> {
    check_release_build()?;
    let (jobs, runs, iterations) = if quick {
        (1_000, 1_000, 10)
    } else {
        (10_000, 1_000, 30)
    };
    progress(&format!(
        "scenario 8: generating {jobs} jobs x {runs} runs (several minutes at full size)"
    ));
    let db = TestDb::new("bench_web");
    let mut c = db.connect();
    let t = Instant::now();
    c.query_one(
        "SELECT set_config('bench.jobs', $1, false), set_config('bench.runs', $2, false)",
        &[&jobs.to_string(), &runs.to_string()],
    )
    .map_err(|e| error_text(&e))?;
    c.batch_execute(WEB_DATA_SQL)
        .map_err(|e| format!("web/data.sql: {}", error_text(&e)))?;
    for table in ["job_log", "job_detail", "job_check_log", "job_check_config"] {
        c.batch_execute(&format!("VACUUM ANALYZE jobmon.{table}"))
            .map_err(|e| error_text(&e))?;
    }
    let load_secs = t.elapsed().as_secs_f64();
    let counts = c
        .query_one(
            "SELECT (SELECT count(*) FROM jobmon.job_log), (SELECT count(*) FROM jobmon.job_detail),
                    (SELECT count(*) FROM jobmon.job_check_log),
                    (SELECT max(job_id) FROM jobmon.job_log
                      WHERE job_name = 'BENCH_JOB_00100' AND status IS NULL)",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    let rows: i64 = counts.get(0);
    let steps: i64 = counts.get(1);
    let check_rows: i64 = counts.get(2);
    let open_run: Option<i64> = counts.get(3);
    let run_id = open_run.ok_or("no open run of BENCH_JOB_00100")?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("web.toml");
    let cl = cluster();
    std::fs::write(
        &config,
        format!(
            "[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\ndbname = {}\n\n\
             [web]\nlisten = \"127.0.0.1:0\"\npage_size = {PAGE_SIZE}\n",
            cl.port,
            toml_str(&cl.superuser),
            toml_str(&db.name)
        ),
    )
    .map_err(|e| e.to_string())?;
    let web = WebServer::start(BIN, &config, &dir.path().join("web.log"))
        .map_err(|f| format!("the dashboard did not start: {f:?}"))?;

    let job = format!("BENCH_JOB_{:05}", jobs / 2);
    let overview =
        |name: &str, state: &str| format!("EXECUTE overview('{name}', '{state}', {PAGE_SIZE}, 0);");
    let cases = [
        Case {
            label: format!("overview, all {jobs} jobs, page 1"),
            path: "/".into(),
            executes: vec![overview("", "")],
            target_ms: Some(200.0),
        },
        Case {
            label: "overview, state CRITICAL".into(),
            path: "/?state=CRITICAL".into(),
            executes: vec![overview("", "CRITICAL")],
            target_ms: Some(200.0),
        },
        Case {
            label: "overview, name contains `job_0042`".into(),
            path: "/?name=job_0042".into(),
            executes: vec![overview("job_0042", "")],
            target_ms: Some(200.0),
        },
        Case {
            label: "`/api/jobs` (the overview as JSON)".into(),
            path: "/api/jobs".into(),
            executes: vec![overview("", "")],
            target_ms: Some(200.0),
        },
        Case {
            label: format!("job page, newest {PAGE_SIZE} of {runs} runs"),
            path: format!("/job?name={job}"),
            executes: vec![
                format!("EXECUTE job_count('{job}');"),
                format!("EXECUTE job_runs('{job}', {PAGE_SIZE}, 0);"),
            ],
            target_ms: Some(50.0),
        },
        Case {
            label: "job page 10".into(),
            path: format!("/job?name={job}&page=10"),
            executes: vec![
                format!("EXECUTE job_count('{job}');"),
                format!("EXECUTE job_runs('{job}', {PAGE_SIZE}, {});", 9 * PAGE_SIZE),
            ],
            target_ms: Some(50.0),
        },
        Case {
            label: "run page (3 steps)".into(),
            path: format!("/run/{run_id}"),
            executes: vec![
                format!("EXECUTE run({run_id});"),
                format!("EXECUTE run_steps({run_id});"),
            ],
            target_ms: None,
        },
    ];

    let mut lines = Vec::new();
    for case in &cases {
        progress(&format!("scenario 8: {}", case.label));
        let page = time_page(&web, &case.path, iterations)?;
        let base = time_psql(&db, &case.executes, iterations)?;
        lines.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            case.label,
            ms(page.median),
            ms(page.min),
            ms(page.max),
            ms(base.median),
            ratio(page.median / base.median),
            case.target_ms.map_or(String::new(), |t| format!(
                "{t:.0} ms: {}",
                verdict(page.median <= t)
            )),
        ));
    }
    writeln!(
        report,
        "### Scenario 8: the dashboard at scale\n\n\
         {rows} job_log rows over {jobs} job names in 60 days, {steps} job_detail rows, \
         {check_rows} job_check_log rows, 500 active configurations; generated set-based in \
         {load_secs:.0} s (tests/benches/web/data.sql).\n\n\
         | page | median | min | max | psql, same statements (baseline) | ratio | target |\n\
         |---|---:|---:|---:|---:|---:|---|\n{}\n\n\
         Dashboard: a whole HTTP request over loopback (connect, queries, rendering), \
         {iterations} after {WARMUP} warm-ups. Baseline: the page's statements of sql/web/ \
         prepared and executed by psql with `\\timing` (server work plus one round trip each), \
         as many times.\n",
        lines.join("\n")
    )
    .ok();
    Ok(())
}

fn time_page(web: &WebServer, path: &str, iterations: usize) -> Result<Stats, String> {
    let mut times = Vec::new();
    for i in 0..WARMUP + iterations {
        let t = Instant::now();
        let r = get(web.addr, path, &[]);
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        if r.status != 200 {
            return Err(format!("{path}: HTTP {}: {}", r.status, r.body));
        }
        if i >= WARMUP {
            times.push(elapsed);
        }
    }
    Ok(stats(&times))
}

/// The summed `\timing` of `executes`, per iteration, in one psql session.
fn time_psql(db: &TestDb, executes: &[String], iterations: usize) -> Result<Stats, String> {
    let schema = |sql: &str| sql.replace("@extschema@", "jobmon");
    let mut script = format!(
        "\\o /dev/null\n\
         PREPARE overview(text, text, bigint, bigint) AS {};\n\
         PREPARE job_count(text) AS {};\n\
         PREPARE job_runs(text, bigint, bigint) AS {};\n\
         PREPARE run(bigint) AS {};\n\
         PREPARE run_steps(bigint) AS {};\n\
         \\timing on\n",
        schema(OVERVIEW_SQL),
        schema(JOB_COUNT_SQL),
        schema(JOB_RUNS_SQL),
        schema(RUN_SQL),
        schema(RUN_STEPS_SQL),
    );
    for _ in 0..WARMUP + iterations {
        for e in executes {
            script.push_str(e);
            script.push('\n');
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("baseline.sql");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let out = psql_file(&db.name, &file)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    if times.len() != (WARMUP + iterations) * executes.len() {
        return Err(format!(
            "psql printed {} timings, expected {}: {text}",
            times.len(),
            (WARMUP + iterations) * executes.len()
        ));
    }
    let per_iteration: Vec<f64> = times
        .chunks(executes.len())
        .skip(WARMUP)
        .map(|c| c.iter().sum())
        .collect();
    Ok(stats(&per_iteration))
}
