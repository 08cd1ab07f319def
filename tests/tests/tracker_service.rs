//! jobmon-tracker as a systemd service: the notification protocol spoken to a socket the
//! test opens itself (systemd is not PID 1 where tests run), the shipped unit checked by
//! `systemd-analyze verify` and `security`, and the shipped example configuration writing
//! only where the unit lets it write.

use jobmon_tests::tracker::{fill_queue, message_count, tempdir, write_config, SourceSpec};
use jobmon_tests::TestDb;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// The notifications received, with when they arrived.
type Received = Arc<Mutex<Vec<(Instant, String)>>>;

/// When the READY=1 notification arrived, by the wall clock (the one PostgreSQL uses).
type ReadyAt = Arc<Mutex<Option<std::time::SystemTime>>>;

/// Binds a datagram socket at `path` and records every notification sent to it.
fn listen(path: &Path) -> (Received, ReadyAt) {
    let socket = UnixDatagram::bind(path).expect("bind the notify socket");
    let received: Received = Arc::default();
    let ready_at: ReadyAt = Arc::default();
    let (sink, ready_sink) = (Arc::clone(&received), Arc::clone(&ready_at));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with("READY=1") {
                ready_sink
                    .lock()
                    .unwrap()
                    .get_or_insert_with(std::time::SystemTime::now);
            }
            sink.lock().unwrap().push((Instant::now(), text));
        }
    });
    (received, ready_at)
}

fn messages(r: &Received) -> Vec<(Instant, String)> {
    r.lock().unwrap().clone()
}

fn watchdog_times(r: &Received) -> Vec<Instant> {
    messages(r)
        .into_iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(t, _)| t)
        .collect()
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

struct Tracker(std::process::Child);

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(config: &Path, socket: &Path, watchdog_usec: &str, watchdog_pid: Option<&str>) -> Tracker {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-c"])
        .arg(config)
        .env("NOTIFY_SOCKET", socket)
        .env("WATCHDOG_USEC", watchdog_usec)
        .env_remove("WATCHDOG_PID")
        .env_remove("JOBMON_TRACKER_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(pid) = watchdog_pid {
        cmd.env("WATCHDOG_PID", pid);
    }
    Tracker(cmd.spawn().expect("start the tracker"))
}

/// The tracker's backend waits for a lock (its poll is blocked).
fn tracker_waits_for_a_lock(c: &mut postgres::Client, db: &str) -> bool {
    c.query_one(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = $1 AND application_name = 'jobmon-tracker'
            AND wait_event_type = 'Lock' AND wait_event = 'relation'",
        &[&db],
    )
    .map(|r| r.get::<_, i64>(0) > 0)
    .unwrap_or(false)
}

/// A database, a directory and a configuration with one local source `dwh1` holding `n`
/// messages of `jobs` jobs, polled every second.
fn tracker_setup(label: &str, n: u64, jobs: u64) -> (TestDb, tempfile::TempDir, PathBuf) {
    let db = TestDb::new(label);
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fill_queue(&queue, 0, n, jobs);
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("dwh1", &queue, false)],
        "1s",
        1000,
        "5s",
    );
    (db, dir, config)
}

#[test]
fn ready_after_the_first_poll_watchdog_from_the_loop_and_none_while_a_poll_is_blocked() {
    let (db, dir, config) = tracker_setup("notify", 200, 4);
    let socket = dir.path().join("notify.sock");
    let (received, ready_at) = listen(&socket);
    // 2 s: a WATCHDOG=1 at least every second.
    let mut tracker = spawn(&config, &socket, "2000000", None);
    let mut c = db.connect();

    assert!(
        wait_for(Duration::from_secs(60), || messages(&received)
            .iter()
            .any(|(_, m)| m.starts_with("READY=1"))),
        "no READY=1: {:?}",
        messages(&received)
    );
    // READY comes after the first poll: everything queued was stored before it came.
    assert_eq!(message_count(&mut c, "dwh1"), 200);
    let ready_wall = ready_at.lock().unwrap().expect("READY's time");
    let stored_last: std::time::SystemTime = c
        .query_one("SELECT max(stored_at) FROM jobmon.tracker_message", &[])
        .unwrap()
        .get(0);
    assert!(
        stored_last < ready_wall,
        "a message was stored after READY ({stored_last:?} >= {ready_wall:?})"
    );
    let all = messages(&received);
    let ready = &all
        .iter()
        .find(|(_, m)| m.starts_with("READY=1"))
        .unwrap()
        .1;
    assert!(
        ready.contains("STATUS=holding 1 of 1 sources; last poll 20"),
        "{ready}"
    );
    assert_eq!(
        all.iter().filter(|(_, m)| m.starts_with("READY=1")).count(),
        1,
        "READY once"
    );

    // Between polls: WATCHDOG=1 at least every WATCHDOG_USEC / 2, with slack for a busy
    // machine but always inside systemd's 2 s.
    let from = Instant::now();
    assert!(wait_for(Duration::from_secs(30), || watchdog_times(
        &received
    )
    .iter()
    .filter(|t| **t > from)
    .count()
        >= 5));
    let pings: Vec<Instant> = watchdog_times(&received)
        .into_iter()
        .filter(|t| *t > from)
        .collect();
    let longest = pings.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(longest < Duration::from_secs(2), "gap {longest:?}");
    let statuses = messages(&received)
        .iter()
        .filter(|(t, m)| *t > from && m.starts_with("STATUS=holding 1 of 1 sources"))
        .count();
    assert!(statuses >= 1, "STATUS after each poll");

    // A poll that cannot go on (a lock on tracker_source it needs) stops the pings.
    let mut blocker = db.connect();
    blocker
        .batch_execute("BEGIN; LOCK TABLE jobmon.tracker_source IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || tracker_waits_for_a_lock(
            &mut c, &db.name
        )),
        "the tracker's poll never waited for the lock"
    );
    let blocked_at = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let released_at = Instant::now();
    // A ping already on its way when the poll began may arrive just after it blocked.
    let during: Vec<Instant> = watchdog_times(&received)
        .into_iter()
        .filter(|t| *t > blocked_at + Duration::from_millis(200) && *t < released_at)
        .collect();
    assert!(
        tracker_waits_for_a_lock(&mut c, &db.name),
        "still blocked at the end"
    );
    assert!(during.is_empty(), "{} pings while blocked", during.len());
    blocker.batch_execute("COMMIT").unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || watchdog_times(&received)
            .iter()
            .any(|t| *t > released_at)),
        "pings resume once the poll goes on"
    );

    // SIGTERM: STOPPING=1, exit 0.
    unsafe { libc::kill(tracker.0.id() as i32, libc::SIGTERM) };
    let status = tracker.0.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert!(messages(&received)
        .iter()
        .any(|(_, m)| m.starts_with("STOPPING=1")));
}

#[test]
fn no_watchdog_pings_when_watchdog_pid_names_another_process_and_ready_on_an_abstract_socket() {
    let (db, _dir, config) = tracker_setup("notify_pid", 10, 1);
    use std::os::linux::net::SocketAddrExt;
    let name = format!("jobmon-tracker-test-{}-{}", std::process::id(), db.name);
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let _tracker = spawn(
        &config,
        Path::new(&format!("@{name}")),
        "1000000",
        Some("1"),
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(4);
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(1),
            ))
            .unwrap();
        if let Ok(n) = socket.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        if got.iter().any(|m| m.starts_with("READY=1")) && got.len() >= 3 {
            break;
        }
    }
    assert!(got.iter().any(|m| m.starts_with("READY=1")), "{got:?}");
    assert!(got.iter().all(|m| !m.contains("WATCHDOG=1")), "{got:?}");
}

/// The `systemd-analyze security` exposure the README documents for the unit.
fn documented_exposure() -> f64 {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("README.md");
    let marker = "exposure level of the shipped unit: **";
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md does not document `{marker}...**`"));
    let rest = &readme[at + marker.len()..];
    rest[..rest.find("**").expect("closing **")]
        .parse()
        .expect("a number")
}

/// The shipped unit with ExecStart pointing at the built program (verify wants it to exist).
fn unit_copy(dir: &Path) -> PathBuf {
    let unit = std::fs::read_to_string(repo_file("tracker-worker/systemd/jobmon-tracker.service"))
        .expect("the unit");
    assert!(unit.contains("ExecStart=/usr/local/bin/jobmon-tracker run "));
    let text = unit.replace(
        "ExecStart=/usr/local/bin/jobmon-tracker ",
        &format!("ExecStart={BIN} "),
    );
    let path = dir.join("jobmon-tracker.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_shipped_unit_verifies_and_is_as_hardened_as_documented() {
    let dir = tempdir();
    let unit = unit_copy(dir.path());
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .expect("systemd-analyze (package systemd) is needed by this test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify: {text}");
    assert!(!text.contains("jobmon-tracker.service"), "verify: {text}");

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&unit)
        .output()
        .expect("systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level for jobmon-tracker.service:"))
        .unwrap_or_else(|| panic!("no overall exposure level: {text}"));
    let level: f64 = line
        .rsplit(':')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {line}"));
    let documented = documented_exposure();
    assert!(
        level <= documented,
        "exposure {level} above the {documented} in the README: {text}"
    );
    for key in [
        "Type=notify",
        "WatchdogSec=",
        "StateDirectory=jobmon-tracker",
        "LogsDirectory=jobmon-tracker",
        "RuntimeDirectory=job_tracker",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "SystemCallFilter=@system-service",
        "ProtectSystem=strict",
    ] {
        let unit = std::fs::read_to_string(&unit).unwrap();
        assert!(unit.contains(key), "the unit lacks {key:?}");
    }
}

/// The directories the unit lets the service write: its State/Logs/RuntimeDirectory and
/// its ReadWritePaths (the rest of the file system is read-only under ProtectSystem=strict,
/// /tmp is private and /home is hidden).
fn writable_dirs(unit: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for line in unit.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let bases: &[&str] = match key {
            "StateDirectory" => &["/var/lib"],
            "LogsDirectory" => &["/var/log"],
            "RuntimeDirectory" => &["/run", "/var/run"],
            "ReadWritePaths" => &[""],
            _ => continue,
        };
        for item in value.split_whitespace() {
            let item = item.trim_start_matches('-');
            for base in bases {
                dirs.push(PathBuf::from(format!(
                    "{base}{}{item}",
                    if base.is_empty() { "" } else { "/" }
                )));
            }
        }
    }
    dirs
}

#[test]
fn every_file_the_example_configuration_writes_is_inside_the_units_writable_paths() {
    let unit = std::fs::read_to_string(repo_file("tracker-worker/systemd/jobmon-tracker.service"))
        .unwrap();
    let dirs = writable_dirs(&unit);
    let loaded =
        tracker_worker::config::load(&repo_file("tracker-worker/examples/jobmon-tracker.toml"))
            .expect("the example configuration loads");
    let c = loaded.config;
    let mut written: Vec<PathBuf> = Vec::new();
    written.extend(c.global.log_file.clone());
    written.extend(c.output.state_dir.clone().map(|d| d.join("X__P.state")));
    written.extend(c.output.spool_file.clone());
    written.extend(c.output.prometheus_file.clone());
    written.extend(c.output.event_console.as_ref().map(|e| e.outbox.clone()));
    for s in &c.sources {
        if let tracker_worker::config::Transport::Local { queue: q } = &s.transport {
            written.push(q.clone());
        }
    }
    assert!(written.len() >= 5, "{written:?}");
    // The outbox is commented out in the example; where the README tells to put it must fit.
    written.push(PathBuf::from("/var/lib/jobmon-tracker/ec-outbox.sqlite"));
    for file in &written {
        assert!(
            dirs.iter().any(|d| file.starts_with(d)),
            "{} is outside the unit's writable paths {dirs:?}",
            file.display()
        );
    }
}
