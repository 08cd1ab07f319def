//! jobmon-tracker while PostgreSQL restarts under it. A test binary of its own: the restart
//! would break the connections of every other test sharing the cluster.

use jobmon_tests::tracker::{
    eventually, fill_queue, lost_and_duplicated, message_count, stored_numbers, tempdir,
    write_config, SourceSpec, TrackerProcess,
};
use jobmon_tests::{cluster, TestDb};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

#[test]
fn a_postgresql_restart_during_ingest_loses_and_duplicates_nothing() {
    let db = TestDb::new("fault_pg_restart");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    let n = 10_000;
    fill_queue(&queue, 0, n, 4);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("dwh1", &queue, true)],
        "100ms",
        100,
        "500ms",
    );
    let log = dir.path().join("tracker.log");
    let mut t = TrackerProcess::spawn(BIN, &config, &log);
    let mut c = db.connect();
    assert!(eventually(Duration::from_secs(60), || message_count(
        &mut c, "dwh1"
    ) > 500));
    cluster().restart().expect("restart PostgreSQL");
    let mut c = db.connect();
    assert!(
        eventually(Duration::from_secs(120), || message_count(&mut c, "dwh1")
            >= n as i64),
        "ingest did not resume after the restart: {}",
        t.log_text()
    );
    t.signal(libc::SIGTERM);
    assert_eq!(
        t.wait_exit(Duration::from_secs(30)).and_then(|s| s.code()),
        Some(0)
    );
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "dwh1"), n);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
    let runs: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE end_time IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, (n / 4) as i64);
    assert!(
        t.log_text().contains("source not read"),
        "the outage is logged"
    );
}
