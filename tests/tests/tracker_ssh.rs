//! jobmon-tracker reading queues over SSH from a real sshd on 127.0.0.1 (generated keys):
//! 10,000 messages through each reader exactly once, a host that is down, a wrong host key,
//! and the SSH link cut mid-read.

use jobmon_tests::sshd::Sshd;
use jobmon_tests::tracker::{
    fill_queue, lost_and_duplicated, message_count, run_once, stored_numbers, tempdir,
    write_config, SourceSpec,
};
use jobmon_tests::TestDb;
use tracker_worker::config::Reader;
use tracker_worker::queue::Queue;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn last_error(c: &mut postgres::Client, source: &str) -> Option<String> {
    c.query_one(
        "SELECT last_error FROM jobmon.tracker_source WHERE source = $1",
        &[&source],
    )
    .unwrap()
    .get(0)
}

#[test]
fn ssh_ingest_of_10000_messages_through_either_reader_stores_each_once() {
    let sshd = Sshd::start();
    let db = TestDb::new("ssh_ingest");
    let dir = tempdir();
    let q_sqlite3 = dir.path().join("via sqlite3.sqlite");
    let q_tracker = dir.path().join("via-tracker.sqlite");
    fill_queue(&q_sqlite3, 0, 10_000, 10);
    fill_queue(&q_tracker, 0, 10_000, 10);
    let s1 = sshd.source_toml(
        "ssh-sqlite3",
        &q_sqlite3.to_string_lossy(),
        Reader::Sqlite3,
        None,
    ) + "delete_after_commit = true\n";
    let s2 = sshd.source_toml(
        "ssh-tracker",
        &q_tracker.to_string_lossy(),
        Reader::JobmonTracker,
        Some(BIN),
    ) + "delete_after_commit = true\n";
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::Raw(s1), SourceSpec::Raw(s2)],
        "1s",
        1000,
        "10s",
    );
    let out = run_once(BIN, &config);
    assert!(
        out.status.success(),
        "{}\nsshd: {}",
        stderr(&out),
        sshd.log()
    );
    let mut c = db.connect();
    for source in ["ssh-sqlite3", "ssh-tracker"] {
        let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, source), 10_000);
        assert_eq!((lost, dup), (0, 0), "{source}: lost, duplicated");
    }
    let runs: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE end_time IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, 2 * 2500);
    assert_eq!(Queue::open(&q_sqlite3).unwrap().length().unwrap(), 0);
    assert_eq!(Queue::open(&q_tracker).unwrap().length().unwrap(), 0);
}

#[test]
fn a_source_host_that_is_down_is_reported_and_the_others_keep_flowing() {
    let mut sshd = Sshd::start();
    let db = TestDb::new("ssh_down");
    let dir = tempdir();
    let remote = dir.path().join("remote.sqlite");
    let local = dir.path().join("local.sqlite");
    fill_queue(&remote, 0, 100, 1);
    fill_queue(&local, 0, 100, 1);
    let ssh = sshd.source_toml("down", &remote.to_string_lossy(), Reader::Sqlite3, None);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::Raw(ssh), SourceSpec::local("up", &local, false)],
        "1s",
        1000,
        "3s",
    );
    sshd.stop();
    let started = std::time::Instant::now();
    let out = run_once(BIN, &config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let mut c = db.connect();
    assert_eq!(message_count(&mut c, "up"), 100);
    assert_eq!(message_count(&mut c, "down"), 0);
    let e = last_error(&mut c, "down").expect("the failure is recorded");
    assert!(e.contains("cannot connect"), "{e}");
    assert!(stderr(&out).contains("source not read"), "{}", stderr(&out));
    // Back up: the next pass reads it and clears the error.
    sshd.restart();
    let out = run_once(BIN, &config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(message_count(&mut c, "down"), 100);
    assert_eq!(last_error(&mut c, "down"), None);
}

#[test]
fn a_wrong_host_key_is_refused_reported_and_nothing_is_read() {
    let sshd = Sshd::start();
    let db = TestDb::new("ssh_wrong_key");
    let dir = tempdir();
    let remote = dir.path().join("remote.sqlite");
    fill_queue(&remote, 0, 50, 1);
    let good_known_hosts = sshd.known_hosts().to_string_lossy().into_owned();
    let wrong = sshd.known_hosts_wrong_key().to_string_lossy().into_owned();
    let ssh = sshd
        .source_toml("spoofed", &remote.to_string_lossy(), Reader::Sqlite3, None)
        .replace(&good_known_hosts, &wrong)
        + "delete_after_commit = true\n";
    assert!(ssh.contains(&wrong));
    let config = write_config(dir.path(), &db, &[SourceSpec::Raw(ssh)], "1s", 1000, "5s");
    let out = run_once(BIN, &config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut c = db.connect();
    assert_eq!(message_count(&mut c, "spoofed"), 0);
    assert_eq!(
        Queue::open(&remote).unwrap().length().unwrap(),
        50,
        "nothing deleted"
    );
    let e = last_error(&mut c, "spoofed").expect("the refusal is recorded");
    assert!(e.contains("host key"), "{e}");
    assert!(e.contains(sshd.host_key_fingerprint()), "{e}");
}

#[test]
fn cutting_the_ssh_link_again_and_again_loses_and_duplicates_nothing() {
    use jobmon_tests::proxy::Proxy;
    use jobmon_tests::tracker::{eventually, TrackerProcess};
    use std::time::{Duration, Instant};

    let sshd = Sshd::start();
    let proxy = Proxy::start(sshd.port());
    let db = TestDb::new("ssh_cut");
    let dir = tempdir();
    let remote = dir.path().join("remote.sqlite");
    let n = 10_000;
    fill_queue(&remote, 0, n, 4);
    // The source goes through the proxy; its known_hosts names the proxy's port.
    let via_proxy = sshd.ssh_source_on_port(proxy.port(), "unused", Reader::Sqlite3);
    let known_hosts = via_proxy
        .known_hosts
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let ssh = sshd
        .source_toml("cut", &remote.to_string_lossy(), Reader::Sqlite3, None)
        .replace(
            &format!("port = {}", sshd.port()),
            &format!("port = {}", proxy.port()),
        )
        .replace(
            &sshd.known_hosts().to_string_lossy().into_owned(),
            &known_hosts,
        )
        + "delete_after_commit = true\n";
    let config = write_config(dir.path(), &db, &[SourceSpec::Raw(ssh)], "50ms", 250, "3s");
    let t = TrackerProcess::spawn(BIN, &config, &dir.path().join("tracker.log"));
    let mut c = db.connect();
    let mut cuts = 0;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until && message_count(&mut c, "cut") < n as i64 {
        std::thread::sleep(Duration::from_millis(40 + (cuts * 17) % 60));
        proxy.cut_all();
        cuts += 1;
    }
    assert!(
        eventually(Duration::from_secs(60), || message_count(&mut c, "cut")
            >= n as i64),
        "{}",
        t.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let (lost, dup) = lost_and_duplicated(&stored_numbers(&mut c, "cut"), n);
    assert_eq!((lost, dup), (0, 0), "lost, duplicated after {cuts} cuts");
    assert!(
        proxy.connections() > 1,
        "the tracker reconnected after the cuts"
    );
    assert!(
        eventually(Duration::from_secs(10), || Queue::open(&remote)
            .unwrap()
            .length()
            .unwrap()
            == 0),
        "everything stored is deleted on the source"
    );
    eprintln!("{cuts} cuts, {} connections", proxy.connections());
}
