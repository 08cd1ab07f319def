//! Scenario 4: how fast `jobmon-tracker run --once` moves a queue file's messages into
//! PostgreSQL (messages, runs, steps, cursor), against a raw binary COPY of the same rows
//! into a plain table timed in the same run; then the same over SSH from a loopback sshd.

use super::{local_source, per_sec, run_once_timed, secs, thousands, Timing, TrackerConfig, BIN};
use crate::{progress, stats, verdict, Options, Stats};
use jobmon_tests::sshd::Sshd;
use jobmon_tests::tracker::tempdir;
use jobmon_tests::{cluster, error_text, TestDb};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracker_worker::config::Reader;
use tracker_worker::queue::{NewMessage, Queue};

/// Messages per poll transaction: large enough that the per-batch statements (lease, cursor
/// lock, run lookup) and the commit's WAL flush are a small share of each batch.
const BATCH: u32 = 20_000;
/// The targets.
const TARGET_LOCAL: f64 = 100_000.0;
const TARGET_SHARE_OF_COPY: f64 = 0.5;
const TARGET_SSH: f64 = 50_000.0;
/// Job names and environments the messages spread over.
const JOBS: u64 = 8;
const ENVS: [&str; 2] = ["P", "Q"];

const CREATE_COPY_TABLE: &str =
    "CREATE TABLE public.bench_copy (id bigint, queued_at timestamptz, \
     instance text, job text, event text, message text)";
const COPY_IN: &str = "COPY public.bench_copy (id, queued_at, instance, job, event, message) \
     FROM STDIN (FORMAT binary)";
const READ_QUEUE: &str =
    "SELECT id, timestamp, instance, job, event, message FROM messages ORDER BY id";
const COPY_TYPES: [Type; 6] = [
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];

/// Sizes: the issue's, or small ones for `--quick`.
struct Sizes {
    local: u64,
    ssh: u64,
    runs: usize,
    ssh_runs: usize,
}

impl Sizes {
    fn of(options: &Options) -> Sizes {
        if options.quick {
            Sizes {
                local: 100_000,
                ssh: 20_000,
                runs: 2,
                ssh_runs: 1,
            }
        } else {
            Sizes {
                local: 1_000_000,
                ssh: 200_000,
                runs: 3,
                ssh_runs: 3,
            }
        }
    }
}

/// Fills a new queue file with `n` messages: each of the 16 jobs (8 names in 2 environments)
/// in turn gets the next message of its runs of STARTED, three progress steps and SUCCESS
/// (every seventh run has an ERROR instead of its second step); texts are `message <i>`.
/// Returns how many runs start, in chunks of 100,000 rows per transaction.
fn fill(path: &Path, n: u64) -> Result<u64, String> {
    let mut q = Queue::open_or_create(path).map_err(|e| e.to_string())?;
    let keys = JOBS * ENVS.len() as u64;
    let mut starts = 0;
    let mut first = 0;
    while first < n {
        let last = (first + 100_000).min(n);
        let msgs: Vec<NewMessage> = (first..last)
            .map(|i| {
                let key = i % keys;
                let k = i / keys;
                let run = k / 5;
                let event = match k % 5 {
                    0 => "STARTED",
                    2 if run % 7 == 3 => "ERROR",
                    4 => "SUCCESS",
                    _ => "progress",
                };
                starts += u64::from(event == "STARTED");
                NewMessage {
                    instance: Some(ENVS[(key / JOBS) as usize].into()),
                    job: Some(format!("LOAD_{}", key % JOBS)),
                    event: Some(event.into()),
                    message: Some(format!("message {i}")),
                }
            })
            .collect();
        q.add_all(&msgs).map_err(|e| e.to_string())?;
        first = last;
    }
    Ok(starts)
}

/// A queue timestamp (Julian day, UTC) as the time it stands for.
fn julian_to_time(day: f64) -> SystemTime {
    let unix = (day - 2_440_587.5) * 86_400.0;
    if unix >= 0.0 {
        UNIX_EPOCH + Duration::from_secs_f64(unix)
    } else {
        UNIX_EPOCH - Duration::from_secs_f64(-unix)
    }
}

type Row = (
    i64,
    SystemTime,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn read_all(queue: &Path) -> Result<Vec<Row>, String> {
    let conn = rusqlite::Connection::open(queue).map_err(|e| e.to_string())?;
    let mut stmt = conn.prepare(READ_QUEUE).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                julian_to_time(r.get(1)?),
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// The baseline: a new plain table, then (timed) one transaction that binary-COPYs the queue
/// file's rows into it, read from SQLite as they go (`rows` = None) or from memory.
/// Returns the seconds and the rows the table then holds.
fn copy_baseline(db: &TestDb, queue: &Path, rows: Option<&[Row]>) -> Result<(f64, i64), String> {
    let mut c = db.connect();
    c.batch_execute("DROP TABLE IF EXISTS public.bench_copy")
        .and_then(|()| c.batch_execute(CREATE_COPY_TABLE))
        .and_then(|()| c.batch_execute("CHECKPOINT"))
        .map_err(|e| error_text(&e))?;
    let t = Instant::now();
    let mut tx = c.transaction().map_err(|e| error_text(&e))?;
    let sink = tx.copy_in(COPY_IN).map_err(|e| error_text(&e))?;
    let mut w = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    match rows {
        Some(rows) => {
            for (id, at, instance, job, event, message) in rows {
                let values: [&(dyn ToSql + Sync); 6] = [id, at, instance, job, event, message];
                w.write(&values).map_err(|e| error_text(&e))?;
            }
        }
        None => {
            let conn = rusqlite::Connection::open(queue).map_err(|e| e.to_string())?;
            let mut stmt = conn.prepare(READ_QUEUE).map_err(|e| e.to_string())?;
            let mut q = stmt.query([]).map_err(|e| e.to_string())?;
            while let Some(r) = q.next().map_err(|e| e.to_string())? {
                let text = |i: usize| text_at(r, i);
                let id: i64 = r.get(0).map_err(|e| e.to_string())?;
                let at = julian_to_time(r.get(1).map_err(|e| e.to_string())?);
                let (instance, job, event, message) = (text(2)?, text(3)?, text(4)?, text(5)?);
                let values: [&(dyn ToSql + Sync); 6] =
                    [&id, &at, &instance, &job, &event, &message];
                w.write(&values).map_err(|e| error_text(&e))?;
            }
        }
    }
    w.finish().map_err(|e| error_text(&e))?;
    tx.commit().map_err(|e| error_text(&e))?;
    let elapsed = t.elapsed().as_secs_f64();
    let count: i64 = c
        .query_one("SELECT count(*) FROM public.bench_copy", &[])
        .map_err(|e| error_text(&e))?
        .get(0);
    Ok((elapsed, count))
}

/// The part of the tracker's work that no design storing each message as a job_detail step
/// can avoid: a new table like job_detail (its sequence default, primary key and job_id
/// index; no foreign key, as `_tracker_add_steps` checks runs itself), then (timed) one
/// transaction that binary-COPYs the rows from memory into it as steps of runs of five.
/// Returns the seconds and the rows the table then holds.
fn steps_baseline(db: &TestDb, rows: &[Row]) -> Result<(f64, i64), String> {
    let mut c = db.connect();
    c.batch_execute(
        "DROP TABLE IF EXISTS public.bench_steps;
         CREATE TABLE public.bench_steps (LIKE jobmon.job_detail INCLUDING DEFAULTS INCLUDING INDEXES);
         CHECKPOINT",
    )
    .map_err(|e| error_text(&e))?;
    let t = Instant::now();
    let mut tx = c.transaction().map_err(|e| error_text(&e))?;
    let sink = tx
        .copy_in(
            "COPY public.bench_steps (job_id, action, start_time, end_time, elapsed_time, status, message) \
             FROM STDIN (FORMAT binary)",
        )
        .map_err(|e| error_text(&e))?;
    let types = [
        Type::INT8,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::FLOAT4,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    let elapsed = 0f32;
    for (id, at, _, _, event, message) in rows {
        let run = id / 5 + 1;
        let values: [&(dyn ToSql + Sync); 7] = [&run, event, at, at, &elapsed, event, message];
        w.write(&values).map_err(|e| error_text(&e))?;
    }
    w.finish().map_err(|e| error_text(&e))?;
    tx.commit().map_err(|e| error_text(&e))?;
    let secs = t.elapsed().as_secs_f64();
    let count: i64 = c
        .query_one("SELECT count(*) FROM public.bench_steps", &[])
        .map_err(|e| error_text(&e))?
        .get(0);
    Ok((secs, count))
}

/// A text column of a queue row, without copying it.
fn text_at<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<Option<&'a str>, String> {
    let v = r.get_ref(i).map_err(|e| e.to_string())?;
    v.as_str_or_null().map_err(|e| e.to_string())
}

/// What the tracker stored: messages, distinct queue ids, rejected ones, runs, steps.
fn stored(db: &TestDb) -> Result<[i64; 5], String> {
    let row = db
        .connect()
        .query_one(
            "SELECT (SELECT count(*) FROM jobmon.tracker_message),
                    (SELECT count(DISTINCT queue_id) FROM jobmon.tracker_message),
                    (SELECT count(*) FROM jobmon.tracker_message WHERE reject_reason IS NOT NULL),
                    (SELECT count(*) FROM jobmon.job_log),
                    (SELECT count(*) FROM jobmon.job_detail)",
            &[],
        )
        .map_err(|e| error_text(&e))?;
    Ok([row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)])
}

/// Checks that all `n` messages and `starts` runs are stored once and the queue is empty.
fn check_stored(db: &TestDb, queue: &Path, n: u64, starts: u64) -> Result<i64, String> {
    let [messages, distinct, rejected, runs, steps] = stored(db)?;
    let left = Queue::open(queue)
        .and_then(|q| q.length())
        .map_err(|e| e.to_string())?;
    let n = n as i64;
    if messages != n || distinct != n || rejected != 0 || runs != starts as i64 || left != 0 {
        return Err(format!(
            "{}: expected {n} messages stored once, none rejected, {starts} runs and an empty \
             queue; found {messages} messages ({distinct} distinct queue ids, {rejected} \
             rejected), {runs} runs, {left} messages left in the queue",
            queue.display()
        ));
    }
    Ok(steps)
}

/// Server time by statement kind in one tracker pass: (kind, seconds), largest first.
type Breakdown = Vec<(String, f64)>;

/// One timed tracker pass over a fresh copy of `template` into a fresh database. With
/// `diagnose`, the server logs the duration of every statement of the pass (which slows it
/// a little) and the pass also returns their sum by statement kind.
fn tracker_run(
    dir: &Path,
    template: &Path,
    n: u64,
    starts: u64,
    source: impl Fn(&Path) -> String,
    sshd_pid: Option<i32>,
    diagnose: bool,
) -> Result<(Timing, i64, Breakdown), String> {
    let db = TestDb::new("bench_ingest");
    let queue = dir.join("run-queue.sqlite");
    std::fs::copy(template, &queue).map_err(|e| format!("{}: {e}", queue.display()))?;
    let config = TrackerConfig {
        poll: "1s",
        batch: BATCH,
        source_timeout: "10m",
        output: None,
        sources: &[source(&queue)],
        jobs: &[],
    }
    .write(dir, &db)?;
    let mut c = db.connect();
    if diagnose {
        c.batch_execute(&format!(
            "ALTER DATABASE \"{}\" SET log_min_duration_statement = 0",
            db.name
        ))
        .map_err(|e| error_text(&e))?;
    }
    c.batch_execute("CHECKPOINT").map_err(|e| error_text(&e))?;
    drop(c);
    let mark = cluster().log_mark();
    let timing = run_once_timed(&config, sshd_pid)?;
    let breakdown = if diagnose {
        statement_times(&mark.text_since(), &db.name)
    } else {
        Vec::new()
    };
    let steps = check_stored(&db, &queue, n, starts)?;
    std::fs::remove_file(&queue).ok();
    Ok((timing, steps, breakdown))
}

/// Sums the `duration: X ms` lines the server logged for database `dbname` by statement
/// kind: each COPY by its table, the function that ends runs, COMMIT, and the rest.
fn statement_times(log: &str, dbname: &str) -> Breakdown {
    let tag = format!("@{dbname} ");
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains(&tag)) {
        let Some(rest) = line.split("duration: ").nth(1) else {
            continue;
        };
        let Some((millis, what)) = rest.split_once(" ms  ") else {
            continue;
        };
        // Extended protocol: parse, bind (which decodes the parameters: large arrays for
        // the steps) and execute are logged apart; each counts for its statement.
        let text = if let Some(t) = what.strip_prefix("statement: ") {
            t
        } else if let Some(t) = ["execute ", "bind ", "parse "]
            .iter()
            .find_map(|p| what.strip_prefix(p))
        {
            t.split_once(": ").map_or(t, |(_, t)| t)
        } else {
            continue;
        };
        let kind = if text.starts_with("COPY ") {
            format!(
                "`{}`",
                text.split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        } else if text.contains("_tracker_add_steps") {
            "`_tracker_add_steps` (the steps: job_detail rows)".to_string()
        } else if text.contains("_tracker_end_runs") {
            "`_tracker_end_runs` (ends the runs open before the batch; failure counts of the others)".to_string()
        } else if text.trim() == "COMMIT" {
            "`COMMIT` (WAL flush)".to_string()
        } else {
            "other statements (lease, cursor, run lookup, ...)".to_string()
        };
        *sums.entry(kind).or_default() += millis.parse::<f64>().unwrap_or(0.0) / 1000.0;
    }
    let mut v: Breakdown = sums.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v
}

/// Medians of a series of timed passes over `n` messages each.
struct Series {
    rate: Stats,
    wall: Stats,
    tracker_cpu: f64,
    server_cpu: f64,
    ssh_cpu: f64,
}

fn series(n: u64, timings: &[Timing]) -> Series {
    let rates: Vec<f64> = timings.iter().map(|t| n as f64 / t.wall).collect();
    let walls: Vec<f64> = timings.iter().map(|t| t.wall).collect();
    let median = |f: fn(&Timing) -> f64| stats(&timings.iter().map(f).collect::<Vec<_>>()).median;
    Series {
        rate: stats(&rates),
        wall: stats(&walls),
        tracker_cpu: median(|t| t.tracker_cpu),
        server_cpu: median(|t| t.server_cpu),
        ssh_cpu: median(|t| t.ssh_cpu),
    }
}

fn rate_cell(s: &Stats) -> String {
    format!(
        "{} ({}-{})",
        per_sec(s.median),
        thousands(s.min.round() as u64),
        thousands(s.max.round() as u64)
    )
}

pub fn scenario_4(options: &Options, report: &mut String) -> Result<(), String> {
    super::check_release_build()?;
    let sizes = Sizes::of(options);
    let dir = tempdir();
    let template = dir.path().join("queue.sqlite");
    progress(&format!(
        "scenario 4: writing {} messages into a queue file",
        thousands(sizes.local)
    ));
    let t = Instant::now();
    let starts = fill(&template, sizes.local)?;
    let fill_secs = t.elapsed().as_secs_f64();
    let file_mb = std::fs::metadata(&template).map_or(0, |m| m.len()) / 1_000_000;
    let rows = read_all(&template)?;

    let mut read_copy = Vec::new();
    let mut copy_only = Vec::new();
    let mut steps_only = Vec::new();
    let mut local = Vec::new();
    let mut steps = 0;
    let local_source = |q: &Path| local_source("local", q);
    for run in 0..sizes.runs {
        progress(&format!(
            "scenario 4, local queue, run {}/{}",
            run + 1,
            sizes.runs
        ));
        let db = TestDb::new("bench_copy");
        for (into, pre_read) in [(&mut read_copy, None), (&mut copy_only, Some(&rows[..]))] {
            let (elapsed, count) = copy_baseline(&db, &template, pre_read)?;
            if count != sizes.local as i64 {
                return Err(format!(
                    "the baseline COPY stored {count} rows, not {}",
                    sizes.local
                ));
            }
            into.push(elapsed);
        }
        let (elapsed, count) = steps_baseline(&db, &rows)?;
        if count != sizes.local as i64 {
            return Err(format!(
                "the steps baseline stored {count} rows, not {}",
                sizes.local
            ));
        }
        steps_only.push(elapsed);
        drop(db);
        let (timing, s, _) = tracker_run(
            dir.path(),
            &template,
            sizes.local,
            starts,
            local_source,
            None,
            false,
        )?;
        local.push(timing);
        steps = s;
    }
    drop(rows);
    progress("scenario 4, local queue, a pass with statement durations logged");
    let mut diagnosed = vec![(
        format!("local queue, {} messages", thousands(sizes.local)),
        tracker_run(
            dir.path(),
            &template,
            sizes.local,
            starts,
            local_source,
            None,
            true,
        )
        .map(|(t, _, b)| (t, b))?,
    )];

    // Over SSH: a smaller queue of the same kind, through each reader program.
    let ssh_template = dir.path().join("ssh-queue.sqlite");
    let ssh_starts = fill(&ssh_template, sizes.ssh)?;
    let sshd = Sshd::try_start()?;
    let sshd_pid = std::fs::read_to_string(sshd.dir().join("sshd.pid"))
        .ok()
        .and_then(|t| t.trim().parse().ok());
    let mut ssh = Vec::new();
    for (reader, command) in [(Reader::Sqlite3, None), (Reader::JobmonTracker, Some(BIN))] {
        let source = |q: &Path| {
            sshd.source_toml("remote", &q.to_string_lossy(), reader, command)
                + "delete_after_commit = true\n"
        };
        let mut timings = Vec::new();
        for run in 0..sizes.ssh_runs {
            progress(&format!(
                "scenario 4, over SSH, reader {}, run {}/{}",
                reader.as_str(),
                run + 1,
                sizes.ssh_runs
            ));
            let (timing, _, _) = tracker_run(
                dir.path(),
                &ssh_template,
                sizes.ssh,
                ssh_starts,
                source,
                sshd_pid,
                false,
            )?;
            timings.push(timing);
        }
        ssh.push((reader, series(sizes.ssh, &timings)));
        progress(&format!(
            "scenario 4, over SSH, reader {}, a pass with statement durations logged",
            reader.as_str()
        ));
        let (timing, _, breakdown) = tracker_run(
            dir.path(),
            &ssh_template,
            sizes.ssh,
            ssh_starts,
            source,
            sshd_pid,
            true,
        )?;
        diagnosed.push((
            format!(
                "SSH, `{}`, {} messages",
                reader.as_str(),
                thousands(sizes.ssh)
            ),
            (timing, breakdown),
        ));
    }
    drop(sshd);

    let n = sizes.local as f64;
    let rc = stats(&read_copy.iter().map(|s| n / s).collect::<Vec<_>>());
    let co = stats(&copy_only.iter().map(|s| n / s).collect::<Vec<_>>());
    let so = stats(&steps_only.iter().map(|s| n / s).collect::<Vec<_>>());
    let tr = series(sizes.local, &local);
    let share = tr.rate.median / rc.median;
    let ssh_n = thousands(sizes.ssh);
    let mut lines = vec![
        format!(
            "| baseline: read from SQLite + binary `COPY` into a plain table | {} | {} | | | |",
            rate_cell(&rc),
            secs(stats(&read_copy).median),
        ),
        format!(
            "| baseline: binary `COPY` only (rows read into memory beforehand) | {} | {} | | | |",
            rate_cell(&co),
            secs(stats(&copy_only).median),
        ),
        format!(
            "| the steps alone: binary `COPY` of the rows (from memory) into a table like job_detail (sequence, primary key, job_id index) | {} | {} | | | {:.2} of read + COPY |",
            rate_cell(&so),
            secs(stats(&steps_only).median),
            so.median / rc.median,
        ),
        format!(
            "| **`jobmon-tracker run --once`, local queue** | {} | {} | {} | {} | {:.2} of read + COPY; 100,000/s: {}; 0.5 of COPY: {} |",
            rate_cell(&tr.rate),
            secs(tr.wall.median),
            secs(tr.tracker_cpu),
            secs(tr.server_cpu),
            share,
            verdict(tr.rate.median >= TARGET_LOCAL),
            verdict(share >= TARGET_SHARE_OF_COPY),
        ),
    ];
    for (reader, s) in &ssh {
        lines.push(format!(
            "| `jobmon-tracker run --once`, over SSH, reader `{}` ({ssh_n} messages) | {} | {} | {} | {} + sshd side {} | 50,000/s: {} |",
            reader.as_str(),
            rate_cell(&s.rate),
            secs(s.wall.median),
            secs(s.tracker_cpu),
            secs(s.server_cpu),
            secs(s.ssh_cpu),
            verdict(s.rate.median >= TARGET_SSH),
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    writeln!(
        report,
        "### Scenario 4: tracker ingest\n\n\
         A queue file of {} messages ({} MB, written in {:.1} s): 16 jobs (8 names in 2 \
         environments) with {} runs of STARTED, three steps (every seventh run an ERROR) and \
         SUCCESS, short texts. Each run is a fresh database and a fresh copy of the file; the \
         tracker (release build, `read_batch_size = {BATCH}`, `delete_after_commit = true`, log \
         level info) is timed from process start to exit, and afterwards every message is \
         checked to be stored exactly once, every run to be in job_log and the queue to be \
         empty. It stores each message in tracker_message (primary key), each as a step in \
         job_detail ({} rows, through `_tracker_add_steps`) and each run in job_log; runs a \
         batch opens and ends are inserted ended, the others end through job_log's trigger. \
         The first two baselines write the same rows (id, timestamp, instance, job, \
         event, message) into a plain table without indexes in one transaction; the fair \
         comparison is read + COPY. The third writes them as the job_detail steps they become \
         (runs of five), into a table like job_detail without its foreign key: the part of \
         the work that storing every message as a step cannot avoid. fsync on; CHECKPOINT before each timed pass. Median (min-max) of {} \
         runs ({} for SSH); CPU seconds are medians, of the tracker process and of all \
         PostgreSQL processes ({cpus} CPUs, so at most {cpus} CPU seconds per second).\n\n\
         | pass | messages/s (min-max) | wall | tracker CPU | PostgreSQL CPU | against baseline and targets |\n\
         |---|---:|---:|---:|---:|---|\n{}\n\n\
         Over SSH: a loopback sshd on 127.0.0.1 (key authentication, strict host key \
         checking), {ssh_n} messages of the same kind, the remote reader program run once per \
         batch; the `jobmon-tracker` reader is this same release build ({}).\n",
        thousands(sizes.local),
        file_mb,
        fill_secs,
        thousands(starts),
        thousands(steps as u64),
        sizes.runs,
        sizes.ssh_runs,
        lines.join("\n"),
        BIN,
    )
    .ok();

    // Where a pass's time goes, from one more pass of each kind with statement durations
    // logged by the server.
    let mut kinds: Vec<&str> = Vec::new();
    for (_, (_, b)) in &diagnosed {
        for (kind, _) in b {
            if !kinds.contains(&kind.as_str()) {
                kinds.push(kind);
            }
        }
    }
    let cell = |secs: f64, wall: f64| format!("{secs:.2} s ({:.0}%)", 100.0 * secs / wall);
    let mut rows = Vec::new();
    for kind in &kinds {
        let cells: Vec<String> = diagnosed
            .iter()
            .map(|(_, (t, b))| {
                let v = b.iter().find(|(k, _)| k == kind).map_or(0.0, |(_, v)| *v);
                cell(v, t.wall)
            })
            .collect();
        rows.push(format!("| {kind} | {} |", cells.join(" | ")));
    }
    let total = |b: &Breakdown| b.iter().map(|(_, v)| v).sum::<f64>();
    let cells = |f: &dyn Fn(&Timing, &Breakdown) -> String| {
        diagnosed
            .iter()
            .map(|(_, (t, b))| f(t, b))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    rows.push(format!(
        "| all statements | {} |",
        cells(&|t, b| cell(total(b), t.wall))
    ));
    rows.push(format!(
        "| outside any statement: reading and deleting on the source, the tracker's own work, waits | {} |",
        cells(&|t, b| cell((t.wall - total(b)).max(0.0), t.wall))
    ));
    rows.push(format!(
        "| wall time of the pass (tracker CPU, PostgreSQL CPU) | {} |",
        cells(&|t, _| format!(
            "{} ({}, {})",
            secs(t.wall),
            secs(t.tracker_cpu),
            secs(t.server_cpu)
        ))
    ));
    let header: Vec<String> = diagnosed.iter().map(|(label, _)| label.clone()).collect();
    writeln!(
        report,
        "Where the time goes: one more pass of each kind (not in the figures above), with the \
         server logging every statement's duration (log_min_duration_statement = 0), summed \
         by statement; a COPY's time includes the tracker encoding and sending its rows.\n\n\
         | statement | {} |\n|---|{}\n{}\n",
        header.join(" | "),
        "---:|".repeat(header.len()),
        rows.join("\n")
    )
    .ok();
    Ok(())
}
