//! Scenario 7 (issue 16): bounded history. job_log_clear on 1,000,000 runs with 10,000,000
//! job_detail rows (90% of them older than the interval), in its committed batches against
//! the baseline of 1.5.0's single DELETE; and the tracker's retention purge of 1,000,000
//! tracker_message rows against one DELETE. For each: the time, and what writers running
//! meanwhile saw: the longest wait of a DDL lock on the table (what CREATE INDEX or
//! ALTER EXTENSION UPDATE takes; it waits for the longest lock the purge holds, and every
//! writer queues behind it) and the slowest logging call (add_job + add_step).

use jobmon_tests::{add_job, add_step, cluster, error_text, TestDb};
use postgres::Client;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

fn exec(c: &mut Client, sql: &str) -> Result<(), String> {
    c.batch_execute(sql)
        .map_err(|e| format!("{sql:.80}: {}", error_text(&e)))
}

/// What the writers saw while a purge ran.
#[derive(Default, Clone, Copy)]
struct Seen {
    lock_wait: Duration,
    call: Duration,
    calls: u64,
}

/// Runs `purge` while a DDL-lock probe on `table` (every 200 ms) and a logging client
/// (add_job + add_step, every 20 ms) run beside it; returns the purge's time and what they saw.
fn watched(
    db: &TestDb,
    table: &'static str,
    purge: impl FnOnce() -> Result<(), String>,
) -> Result<(Duration, Seen), String> {
    let running = Arc::new(AtomicBool::new(true));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut threads = Vec::new();
    for kind in 0..2 {
        let running = Arc::clone(&running);
        let seen = Arc::clone(&seen);
        let name = db.name.clone();
        threads.push(std::thread::spawn(move || {
            let c = cluster();
            let mut client = c.connect(&name, &c.superuser);
            // Wait as long as it takes (the default bound, 5 s, would end a call with an
            // error instead of showing how long it was held up).
            client
                .batch_execute("SET jobmon.lock_timeout = 0")
                .expect("SET jobmon.lock_timeout");
            while running.load(Ordering::SeqCst) {
                let started = Instant::now();
                if kind == 0 {
                    client
                        .batch_execute(&format!(
                            "BEGIN; LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE; COMMIT"
                        ))
                        .expect("lock probe");
                } else {
                    let job = add_job(&mut client, "bench_writer");
                    add_step(&mut client, job, "while purging");
                }
                let took = started.elapsed();
                let mut s = seen.lock().unwrap();
                if kind == 0 {
                    s.lock_wait = s.lock_wait.max(took);
                } else {
                    s.call = s.call.max(took);
                    s.calls += 1;
                }
                drop(s);
                std::thread::sleep(Duration::from_millis(if kind == 0 { 200 } else { 20 }));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let result = purge();
    let took = started.elapsed();
    running.store(false, Ordering::SeqCst);
    for t in threads {
        t.join()
            .map_err(|_| "a writer thread panicked".to_string())?;
    }
    result?;
    let seen = *seen.lock().unwrap();
    Ok((took, seen))
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// 1,000,000 runs of 10 steps; 900,000 of them started 30 days ago or earlier.
const HISTORY_SQL: &str = "
    INSERT INTO jobmon.job_log (job_id, owner, job_name, start_time, end_time, status, pid)
    SELECT g, 'bench', 'JOB' || (g % 100),
           now() - interval '100 days' + g * interval '8.64 seconds',
           now() - interval '100 days' + g * interval '8.64 seconds', 'OK', 0
      FROM generate_series(1, 1000000) g;
    SELECT setval('jobmon.job_log_job_id_seq', 1000000);
    ALTER TABLE jobmon.job_detail DROP CONSTRAINT job_detail_job_id_fkey;
    DROP INDEX jobmon.job_detail_job_id_idx;
    INSERT INTO jobmon.job_detail (job_id, step_id, action, start_time, end_time, elapsed_time, status, message)
    SELECT l.job_id, (l.job_id - 1) * 10 + s, 'step ' || s, l.start_time, l.start_time, 0, 'OK', 'done'
      FROM jobmon.job_log l, generate_series(1, 10) s;
    SELECT setval('jobmon.job_detail_step_id_seq', 10000000);
    CREATE INDEX job_detail_job_id_idx ON jobmon.job_detail (job_id);
    ALTER TABLE jobmon.job_detail ADD CONSTRAINT job_detail_job_id_fkey FOREIGN KEY (job_id)
        REFERENCES jobmon.job_log (job_id) ON DELETE CASCADE;";

const MESSAGES_SQL: &str = "
    INSERT INTO jobmon.tracker_source (source) VALUES ('bulk') ON CONFLICT DO NOTHING;
    INSERT INTO jobmon.tracker_message
           (source, generation, queue_id, queued_at, job, event, message, stored_at)
    SELECT 'bulk', 1, g, now() - interval '30 days', 'bulk', 'x', 'message ' || g,
           now() - interval '30 days'
      FROM generate_series(1, 1000000) g;";

fn messages_db(label: &str) -> Result<TestDb, String> {
    let db = TestDb::new(label);
    let mut c = db.connect();
    exec(&mut c, MESSAGES_SQL)?;
    exec(&mut c, "VACUUM ANALYZE jobmon.tracker_message")?;
    // An autovacuum of the table would hold the DDL lock up for deadlock_timeout (then it
    // is cancelled): the figures are to show the purge's own locks.
    exec(
        &mut c,
        "ALTER TABLE jobmon.tracker_message SET (autovacuum_enabled = off)",
    )?;
    Ok(db)
}

fn history_db(label: &str) -> Result<TestDb, String> {
    let db = TestDb::new(label);
    let mut c = db.connect();
    let started = Instant::now();
    exec(&mut c, HISTORY_SQL)?;
    exec(&mut c, "VACUUM ANALYZE jobmon.job_log, jobmon.job_detail")?;
    eprintln!(
        "-- {label}: 10,000,000 job_detail rows made in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(db)
}

pub fn scenario_7(report: &mut String) -> Result<(), String> {
    writeln!(
        report,
        "### 6. Bounded history: job_log_clear and the tracker's retention\n\n\
         While each purge runs, a client logs (add_job + add_step every 20 ms) and another \
         takes the DDL lock SHARE ROW EXCLUSIVE on the table (every 200 ms), as CREATE \
         INDEX or ALTER EXTENSION UPDATE would: it waits for the longest lock the purge \
         holds, and the writers queue behind it.\n\n\
         | purge | rows | time | longest DDL-lock wait | slowest logging call | calls |\n\
         |---|---|---|---|---|---|"
    )
    .ok();

    // job_log_clear: 900,000 runs and 9,000,000 steps are older than 30 days.
    let db = history_db("clear_batched")?;
    let (took, seen) = watched(&db, "jobmon.job_log", || {
        let mut c = db.connect();
        exec(&mut c, "SELECT jobmon.job_log_clear('30 days')")
    })?;
    row(
        report,
        "job_log_clear (batches of 1,000 runs)",
        "900,000 runs, 9,000,000 steps",
        took,
        seen,
    );
    drop(db);
    let db = history_db("clear_single")?;
    let (took, seen) = watched(&db, "jobmon.job_log", || {
        let mut c = db.connect();
        exec(
            &mut c,
            "DELETE FROM jobmon.job_log WHERE start_time <= now() - interval '30 days'",
        )
    })?;
    row(
        report,
        "baseline: one DELETE (1.5.0's job_log_clear)",
        "900,000 runs, 9,000,000 steps",
        took,
        seen,
    );
    drop(db);

    // The tracker's retention: 1,000,000 messages older than the bound.
    let db = messages_db("purge_batched")?;
    let dir = jobmon_tests::tracker::tempdir();
    let queue = dir.path().join("queue.sqlite");
    tracker_worker::queue::Queue::open_or_create(&queue).map_err(|e| e.to_string())?;
    let config = jobmon_tests::tracker::write_config(
        dir.path(),
        &db,
        &[jobmon_tests::tracker::SourceSpec::local(
            "local", &queue, false,
        )],
        "10s",
        1000,
        "5s",
    );
    let text = std::fs::read_to_string(&config).map_err(|e| e.to_string())?;
    std::fs::write(
        &config,
        text.replacen("[global]\n", "[global]\nretention = \"1day\"\n", 1),
    )
    .map_err(|e| e.to_string())?;
    let longest: Mutex<Option<u64>> = Mutex::new(None);
    let (took, seen) = watched(&db, "jobmon.tracker_message", || {
        let out = jobmon_tests::tracker::run_once(BIN, &config);
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            return Err(log);
        }
        *longest.lock().unwrap() = log
            .split("longest_batch_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
        let left: i64 = db
            .connect()
            .query_one("SELECT count(*) FROM jobmon.tracker_message", &[])
            .map_err(|e| error_text(&e))?
            .get(0);
        if left != 0 {
            return Err(format!("{left} messages left after the purge"));
        }
        Ok(())
    })?;
    let longest = longest
        .into_inner()
        .map_err(|_| "poisoned".to_string())?
        .ok_or("the tracker logged no longest_batch_ms")?;
    row(
        report,
        &format!("tracker retention (batches of 5,000, pauses; longest batch {longest} ms)"),
        "1,000,000 messages",
        took,
        seen,
    );
    drop(db);
    let db = messages_db("purge_single")?;
    let (took, seen) = watched(&db, "jobmon.tracker_message", || {
        exec(
            &mut db.connect(),
            "DELETE FROM jobmon.tracker_message WHERE stored_at < now() - interval '1 day'",
        )
    })?;
    row(
        report,
        "baseline: one DELETE",
        "1,000,000 messages",
        took,
        seen,
    );
    writeln!(report).ok();
    Ok(())
}

fn row(report: &mut String, what: &str, rows: &str, took: Duration, seen: Seen) {
    eprintln!("-- {what}: {:.1} s", took.as_secs_f64());
    writeln!(
        report,
        "| {what} | {rows} | {:.1} s | {} | {} | {} |",
        took.as_secs_f64(),
        ms(seen.lock_wait),
        ms(seen.call),
        seen.calls
    )
    .ok();
}
