//! jobmon-tracker under faults, each counted as messages lost and duplicated (both must be
//! 0): the tracker killed with SIGKILL at random points, PostgreSQL restarted, a producer
//! appending all the time, SIGTERM, SIGHUP, and two trackers on one database.

use jobmon_tests::tracker::{
    eventually, fill_queue, lost_and_duplicated, message_count, run_once, stored_numbers, tempdir,
    write_config, SourceSpec, TrackerProcess,
};
use jobmon_tests::Lcg;
use jobmon_tests::TestDb;
use std::path::Path;
use std::time::{Duration, Instant};
use tracker_worker::queue::{NewMessage, Queue};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

fn seed() -> u64 {
    let s = std::env::var("TRACKER_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("TRACKER_FAULT_SEED={s}");
    s
}

/// Runs and steps of the fill_queue pattern, as checked after every fault: the same as an
/// undisturbed ingest would give.
fn assert_runs_are_whole(db: &TestDb, runs: i64) {
    let mut c = db.connect();
    let row = c
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE end_time IS NULL),
                    (SELECT count(*) FROM jobmon.job_detail
                      WHERE action IN ('Run not finished', 'Run without a start message'))
               FROM jobmon.job_log",
            &[],
        )
        .unwrap();
    let (total, open, repairs): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (total, open, repairs),
        (runs, 0, 0),
        "runs, open runs, repair steps"
    );
}

fn queue_length(path: &Path) -> i64 {
    Queue::open(path).unwrap().length().unwrap()
}

#[test]
fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let db = TestDb::new("fault_sigkill");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    let n = 10_000;
    fill_queue(&queue, 0, n, 4);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("dwh1", &queue, true)],
        "100ms",
        150,
        "500ms",
    );
    let log = dir.path().join("tracker.log");
    let mut rng = Lcg(seed());
    let mut c = db.connect();
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    while message_count(&mut c, "dwh1") < n as i64 && Instant::now() < deadline {
        let mut t = TrackerProcess::spawn(BIN, &config, &log);
        std::thread::sleep(Duration::from_millis(50 + rng.below(400)));
        t.signal(libc::SIGKILL);
        t.wait_exit(Duration::from_secs(5));
        kills += 1;
    }
    // Whatever is left (and whatever a killed tracker stored but did not delete) is finished
    // by a clean pass once the last lease expired.
    std::thread::sleep(Duration::from_millis(1300));
    let out = run_once(BIN, &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{kills} kills");
    assert!(kills >= 3, "the tracker was killed only {kills} times");
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "dwh1"), n);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated after {kills} kills");
    assert_runs_are_whole(&db, (n / 4) as i64);
    assert_eq!(
        queue_length(&queue),
        0,
        "everything stored is deleted from the queue"
    );
}

#[test]
fn a_producer_appending_during_ingest_loses_and_duplicates_nothing() {
    let db = TestDb::new("fault_producer");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fill_queue(&queue, 0, 4, 1);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("live", &queue, true)],
        "50ms",
        100,
        "2s",
    );
    let log = dir.path().join("tracker.log");
    let t = TrackerProcess::spawn(BIN, &config, &log);
    // The producer writes one message per transaction, as jobs do, pausing now and then so
    // that the queue runs empty (and SQLite starts its ids again) several times.
    let n = 3000u64;
    let producer_queue = queue.clone();
    let producer = std::thread::spawn(move || {
        let q = Queue::open_or_create(&producer_queue).unwrap();
        for i in 4..n {
            let k = i - 4;
            let event = ["STARTED", "progress", "progress", "SUCCESS"][(k % 4) as usize];
            q.add(&NewMessage {
                instance: Some("p".into()),
                job: Some("job1".into()),
                event: Some(event.into()),
                message: Some(format!("message {i}")),
            })
            .unwrap();
            if i % 500 == 0 {
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    });
    producer.join().unwrap();
    let mut c = db.connect();
    assert!(
        eventually(Duration::from_secs(60), || message_count(&mut c, "live")
            >= n as i64),
        "not everything stored: {}",
        t.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "live"), n);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
    let generations: i64 = c
        .query_one(
            "SELECT count(DISTINCT generation) FROM jobmon.tracker_message",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        generations > 1,
        "the queue never ran empty; the test proved less than it should"
    );
    assert_runs_are_whole(&db, (n / 4) as i64);
}

#[test]
fn sigterm_finishes_the_batch_and_exits_0_and_sighup_reloads_only_a_valid_config() {
    let db = TestDb::new("fault_signals");
    let dir = tempdir();
    let q1 = dir.path().join("one.sqlite");
    let q2 = dir.path().join("two.sqlite");
    fill_queue(&q1, 0, 2000, 2);
    fill_queue(&q2, 0, 100, 1);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("one", &q1, false)],
        "100ms",
        50,
        "2s",
    );
    let log = dir.path().join("tracker.log");
    let mut t = TrackerProcess::spawn(BIN, &config, &log);
    let mut c = db.connect();
    assert!(eventually(Duration::from_secs(30), || message_count(
        &mut c, "one"
    ) >= 2000));

    // An invalid configuration is reported and the running one kept.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace("read_batch_size = 50", "read_batch_size = \"many\""),
    )
    .unwrap();
    t.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || t
        .log_text()
        .contains("configuration not reloaded")));
    assert!(
        t.child.try_wait().unwrap().is_none(),
        "the tracker must keep running"
    );

    // A valid one with a second source takes effect.
    let two = format!(
        "{good}\n[[sources]]\nname = \"two\"\nlocal_queue = {}\ndelete_after_commit = false\n",
        jobmon_tests::tracker::toml_str(&q2.to_string_lossy())
    );
    std::fs::write(&config, two).unwrap();
    t.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(20), || message_count(&mut c, "two")
            >= 100),
        "{}",
        t.log_text()
    );

    t.signal(libc::SIGTERM);
    let status = t
        .wait_exit(Duration::from_secs(30))
        .expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(t.log_text().contains("jobmon-tracker stopped"));
    // Its leases were given up at once.
    let held: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.tracker_source WHERE lease_owner IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(held, 0);
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "one"), 2000);
    assert_eq!((lost, dup), (0, 0));
}

#[test]
fn two_trackers_share_sources_without_duplicates_and_one_takes_over_when_the_other_dies() {
    let db = TestDb::new("fault_two_trackers");
    let dir = tempdir();
    let names = ["s0", "s1", "s2", "s3"];
    let queues: Vec<_> = names
        .iter()
        .map(|n| dir.path().join(format!("{n}.sqlite")))
        .collect();
    for q in &queues {
        fill_queue(q, 0, 2000, 2);
    }
    let sources: Vec<_> = names
        .iter()
        .zip(&queues)
        .map(|(n, q)| SourceSpec::local(n, q, true))
        .collect();
    let config = write_config(dir.path(), &db, &sources, "100ms", 100, "500ms");
    let mut trackers = vec![
        TrackerProcess::spawn(BIN, &config, &dir.path().join("a.log")),
        TrackerProcess::spawn(BIN, &config, &dir.path().join("b.log")),
    ];
    let mut c = db.connect();
    let all_stored =
        |c: &mut postgres::Client, n: i64| names.iter().all(|s| message_count(c, s) >= n);
    assert!(eventually(Duration::from_secs(60), || all_stored(
        &mut c, 2000
    )));
    for s in names {
        let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, s), 2000);
        assert_eq!(
            (lost, dup),
            (0, 0),
            "source {s} with two trackers: lost, duplicated"
        );
    }

    // Kill the holder of s0 (whichever it is) and feed every source again: the survivor
    // must take s0 over once the dead one's lease runs out.
    let holder: String = c
        .query_one(
            "SELECT lease_owner FROM jobmon.tracker_source WHERE source = 's0'",
            &[],
        )
        .unwrap()
        .get(0);
    let dead = trackers
        .iter()
        .position(|t| holder.contains(&format!(":{}:", t.pid())))
        .expect("s0 is leased by one of the two trackers");
    let mut victim = trackers.remove(dead);
    victim.signal(libc::SIGKILL);
    victim.wait_exit(Duration::from_secs(5));
    for q in &queues {
        fill_queue(q, 2000, 2000, 2);
    }
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(30), || all_stored(&mut c, 4000)),
        "{}",
        trackers[0].log_text()
    );
    // Lease 2 x (100 ms + 500 ms) plus polling: well inside the bound.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let survivor = format!(":{}:", trackers[0].pid());
    let owners: Vec<String> = c
        .query(
            "SELECT lease_owner FROM jobmon.tracker_source ORDER BY source",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(owners.iter().all(|o| o.contains(&survivor)), "{owners:?}");
    for s in names {
        let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, s), 4000);
        assert_eq!((lost, dup), (0, 0), "source {s}: lost, duplicated");
    }
    assert_runs_are_whole(&db, (names.len() * 4000 / 4) as i64);
}
