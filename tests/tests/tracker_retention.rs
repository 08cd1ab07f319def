//! Bounded history: the tracker's retention purge of tracker_message (messages of runs that
//! are gone, messages older than `global.retention` except those of the runs the rules
//! read), job_log_clear in committed batches taking the runs' tracker messages along, and
//! neither holding up the writers that run meanwhile.

use jobmon_tests::tracker::{
    assert_ok, run_once, tempdir, write_config, SourceSpec, TrackerProcess,
};
use jobmon_tests::{add_job, add_step, error_text, TestDb};
use postgres::Client;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

/// Longest a writer may wait while a purge runs: generous for a busy 2-core machine. The
/// batches hold each lock for at most about 0.1 s here; one DELETE holds it for the whole
/// purge, which grows with the table (README: Retention, benchmark scenario 6: 10.7 s for
/// job_log_clear's 9,000,000 steps, 0.5 s for a million tracker messages).
const WRITER_BOUND: Duration = Duration::from_secs(2);

fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

/// A queue of `runs` runs of `jobs` jobs (STARTED, progress, progress, SUCCESS), one
/// second apart in queue order, ending now, so that every run has its own start time.
fn timed_queue(path: &Path, jobs: u32, runs: u32) {
    tracker_worker::queue::Queue::open_or_create(path).expect("create queue");
    let mut db = rusqlite::Connection::open(path).expect("open queue");
    let tx = db.transaction().unwrap();
    let total = jobs * runs * 4;
    let mut i = 0u32;
    for run in 0..runs {
        for job in 0..jobs {
            for event in ["STARTED", "progress", "progress", "SUCCESS"] {
                tx.execute(
                    "INSERT INTO messages(timestamp, instance, job, event, message)
                     VALUES (julianday('now') - (?1 - ?2) / 86400.0, 'p', ?3, ?4, ?5)",
                    rusqlite::params![total, i, format!("job{job}"), event, format!("run {run}")],
                )
                .unwrap();
                i += 1;
            }
        }
    }
    tx.commit().unwrap();
}

/// The test's configuration with `retention` set in [global] (or left out).
fn config_with(
    dir: &Path,
    db: &TestDb,
    queue: &Path,
    retention: Option<&str>,
) -> std::path::PathBuf {
    let path = write_config(
        dir,
        db,
        &[SourceSpec::local("dwh1", queue, false)],
        "1s",
        1000,
        "5s",
    );
    if let Some(r) = retention {
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("[global]\n", &format!("[global]\nretention = \"{r}\"\n"), 1);
        std::fs::write(&path, text).unwrap();
    }
    path
}

#[test]
fn retention_purges_messages_of_gone_runs_and_older_ones_but_keeps_newer_ones_and_the_latest_runs()
{
    let db = TestDb::new("retention");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    timed_queue(&queue, 2, 50);
    assert_ok(&run_once(BIN, &config_with(dir.path(), &db, &queue, None)));
    let mut c = db.connect();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM jobmon.tracker_message"),
        400
    );

    // job1: every message stored 10 days ago; job0: those of its first 25 runs.
    c.batch_execute(
        "UPDATE jobmon.tracker_message SET stored_at = now() - interval '10 days'
          WHERE job = 'job1' OR message IN (SELECT 'run ' || g FROM generate_series(0, 24) g);
         -- Messages of runs that are gone (deleted where the trigger did not see it).
         INSERT INTO jobmon.tracker_message (source, generation, queue_id, queued_at, job, event, job_id)
         SELECT 'dwh1', 99, g, now(), 'gone', 'STARTED', 1000000000 + g FROM generate_series(1, 3) g;",
    )
    .unwrap();
    let old =
        "SELECT count(*) FROM jobmon.tracker_message WHERE stored_at < now() - interval '1 day'";
    assert_eq!(count(&mut c, old), 200 + 100);

    // Default retention: only the messages of runs that are gone.
    assert_ok(&run_once(BIN, &config_with(dir.path(), &db, &queue, None)));
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.tracker_message WHERE job = 'gone'"
        ),
        0
    );
    assert_eq!(count(&mut c, old), 300, "old messages are kept by default");

    // retention = 1 day: older messages go, except those of each job's three latest runs.
    assert_ok(&run_once(
        BIN,
        &config_with(dir.path(), &db, &queue, Some("1day")),
    ));
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.tracker_message WHERE job = 'job0'"
        ),
        100,
        "job0's 25 newer runs stay whole"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.tracker_message WHERE job = 'job0' AND stored_at < now() - interval '1 day'"
        ),
        0
    );
    let kept: Vec<String> = c
        .query(
            "SELECT DISTINCT message FROM jobmon.tracker_message WHERE job = 'job1' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        kept,
        ["run 47", "run 48", "run 49"],
        "job1's three latest runs"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.tracker_message WHERE job = 'job1'"
        ),
        12
    );
    // The runs themselves are job_log's, untouched.
    assert_eq!(count(&mut c, "SELECT count(*) FROM jobmon.job_log"), 100);
}

#[test]
fn job_log_clear_commits_batch_by_batch_and_takes_the_runs_steps_and_tracker_messages_along() {
    let db = TestDb::new("clear_batches");
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
         SELECT 'o', 'OLD', now() - interval '10 days' + g * interval '1 second', now(), 'OK', 0
           FROM generate_series(1, 2500) g;
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
         SELECT 'o', 'NEW', now() - g * interval '1 second', now(), 'OK', 0
           FROM generate_series(1, 500) g;
         INSERT INTO jobmon.job_detail (job_id, action, start_time)
         SELECT job_id, 'step', start_time FROM jobmon.job_log, generate_series(1, 2);
         INSERT INTO jobmon.tracker_message (source, generation, queue_id, queued_at, job, event, job_id)
         SELECT 's', 1, job_id, start_time, job_name, 'x', job_id FROM jobmon.job_log;",
    )
    .unwrap();
    // A run of the second batch (the 1,000 oldest go first) is locked, so the purge waits
    // there with its first batch committed.
    let mut holder = db.connect();
    holder
        .batch_execute(
            "BEGIN;
             SELECT 1 FROM jobmon.job_log
              WHERE job_id = (SELECT job_id FROM jobmon.job_log WHERE job_name = 'OLD'
                               ORDER BY start_time OFFSET 1500 LIMIT 1)
                FOR KEY SHARE",
        )
        .unwrap();
    let name = db.name.clone();
    let purge = std::thread::spawn(move || {
        let mut c = jobmon_tests::cluster().connect(&name, &jobmon_tests::cluster().superuser);
        // In a transaction that is rolled back: the batches are committed on their own.
        c.batch_execute("BEGIN; SELECT jobmon.job_log_clear('1 day'); ROLLBACK;")
            .map_err(|e| error_text(&e))
    });
    let old_runs = "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'OLD'";
    let mut observer = db.connect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut waited_with = None;
    while Instant::now() < deadline {
        let waiting = count(
            &mut observer,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%doomed%'",
        );
        if waiting > 0 {
            waited_with = Some(count(&mut observer, old_runs));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    holder.batch_execute("COMMIT").unwrap();
    purge.join().unwrap().expect("job_log_clear");
    assert_eq!(
        waited_with,
        Some(1500),
        "the first batch (1,000 runs) was committed while the second waited"
    );
    assert_eq!(
        count(&mut c, old_runs),
        0,
        "the caller's rollback undid nothing"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.job_log WHERE job_name = 'NEW'"
        ),
        500
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.job_detail WHERE action = 'step'"
        ),
        1000
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM jobmon.tracker_message"),
        500,
        "the old runs' messages went with them"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.job_detail WHERE message = 'Deleted 2500 rows from job_log and associated rows in job_detail'"
        ),
        1
    );
    // A DELETE of your own takes the messages along too.
    c.batch_execute("DELETE FROM jobmon.job_log WHERE job_name = 'NEW'")
        .unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM jobmon.tracker_message"),
        0
    );
}

/// Worst latency of each kind of call made while `running`.
#[derive(Default, Debug)]
struct Latencies {
    add_step: Duration,
    ingest: Duration,
    lock: Duration,
    samples: usize,
}

#[test]
fn a_purge_of_a_million_messages_holds_no_writer_up_for_long() {
    let db = TestDb::new("retention_1m");
    let mut c = db.connect();
    c.batch_execute(
        "INSERT INTO jobmon.tracker_source (source) VALUES ('bulk');
         INSERT INTO jobmon.tracker_message
                (source, generation, queue_id, queued_at, job, event, message, job_id, stored_at)
         SELECT 'bulk', 1, g, now() - interval '30 days', 'bulk', 'x', 'message ' || g,
                NULL, now() - interval '30 days'
           FROM generate_series(1, 1000000) g;
         ANALYZE jobmon.tracker_message;",
    )
    .unwrap();
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    timed_queue(&queue, 1, 5);
    let config = config_with(dir.path(), &db, &queue, Some("1day"));

    let running = Arc::new(AtomicBool::new(true));
    let worst = Arc::new(Mutex::new(Latencies::default()));
    let job = add_job(&mut c, "retention_probe");
    let mut probes = Vec::new();
    for kind in 0..3 {
        let running = Arc::clone(&running);
        let worst = Arc::clone(&worst);
        let name = db.name.clone();
        probes.push(std::thread::spawn(move || {
            let cl = jobmon_tests::cluster();
            let mut c = cl.connect(&name, &cl.superuser);
            let mut k = 0i64;
            while running.load(Ordering::SeqCst) {
                let started = Instant::now();
                match kind {
                    0 => {
                        add_step(&mut c, job, "during the purge");
                    }
                    // What the tracker's ingest does to tracker_message.
                    1 => {
                        k += 1;
                        c.execute(
                            "INSERT INTO jobmon.tracker_message (source, generation, queue_id, queued_at, job, event)
                             VALUES ('ingest', 1, $1, now(), 'j', 'STARTED')",
                            &[&k],
                        )
                        .unwrap();
                    }
                    // A DDL (CREATE INDEX takes this lock): it waits for the purge's
                    // transaction, and every writer queues behind it.
                    _ => {
                        c.batch_execute(
                            "BEGIN; LOCK TABLE jobmon.tracker_message IN SHARE MODE; COMMIT",
                        )
                        .unwrap();
                    }
                }
                let took = started.elapsed();
                let mut w = worst.lock().unwrap();
                let slot = match kind {
                    0 => &mut w.add_step,
                    1 => &mut w.ingest,
                    _ => &mut w.lock,
                };
                *slot = (*slot).max(took);
                w.samples += 1;
                drop(w);
                std::thread::sleep(Duration::from_millis(if kind == 2 { 300 } else { 20 }));
            }
        }));
    }

    let mut tracker = TrackerProcess::spawn(BIN, &config, &dir.path().join("tracker.log"));
    let bulk = "SELECT count(*) FROM jobmon.tracker_message WHERE source = 'bulk'";
    let started = Instant::now();
    let mut seen_partial = false;
    let mut left = count(&mut c, bulk);
    while left > 0 && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_millis(200));
        left = count(&mut c, bulk);
        seen_partial |= left > 0 && left < 1_000_000;
    }
    let purge_took = started.elapsed();
    running.store(false, Ordering::SeqCst);
    for p in probes {
        p.join().unwrap();
    }
    tracker.signal(libc::SIGTERM);
    tracker.wait_exit(Duration::from_secs(30));
    assert_eq!(
        left,
        0,
        "purge not done in 10 minutes: {}",
        tracker.log_text()
    );
    assert!(seen_partial, "the purge was watched while it ran");
    let w = worst.lock().unwrap();
    assert!(
        w.samples > 30,
        "calls made during the {purge_took:?} purge: {}",
        w.samples
    );
    assert!(
        w.add_step < WRITER_BOUND,
        "add_step waited {:?} ({w:?})",
        w.add_step
    );
    assert!(
        w.ingest < WRITER_BOUND,
        "ingest waited {:?} ({w:?})",
        w.ingest
    );
    assert!(
        w.lock < WRITER_BOUND,
        "the lock waited {:?} ({w:?})",
        w.lock
    );
    let log = tracker.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("retention: tracker messages purged"))
        .unwrap_or_else(|| panic!("no purge logged: {log}"));
    let field = |name: &str| -> u64 {
        line.split(&format!("{name}="))
            .nth(1)
            .and_then(|r| r.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line}"))
    };
    assert_eq!(field("aged"), 1_000_000, "{line}");
    // Committed in batches of at most 5,000 messages, none held for long.
    assert!(field("batches") >= 200, "{line}");
    assert!(
        u128::from(field("longest_batch_ms")) < WRITER_BOUND.as_millis(),
        "{line}"
    );
    // The messages of the tracker's own source, stored now, stay.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM jobmon.tracker_message WHERE source = 'dwh1'"
        ),
        20
    );
}
