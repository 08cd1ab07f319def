//! jobmon-tracker end to end, from queue files to every output: five jobs (one succeeds,
//! one errors, one runs past its timeout, one never starts, one on a host that is down)
//! through `run --once` into the state files, the spool file, the Prometheus file,
//! `check`, PostgreSQL (`check_job_status()`, the marks in job_log) and `nagios`; the
//! Event Console over a real Unix socket, TCP and UDP listener; and the tracker's own
//! heartbeat in `check_job_status()`.

use jobmon_tests::tracker::{grant_tracker_rights, tempdir, toml_str};
use jobmon_tests::{cluster, TestDb};
use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tracker_worker::queue::Queue;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

/// Appends a message dated `ago` before now (an SQLite modifier such as `-2 hours`).
fn message(queue: &Path, job: &str, event: &str, text: Option<&str>, ago: &str) {
    drop(Queue::open_or_create(queue).expect("queue"));
    let c = rusqlite::Connection::open(queue).expect("open queue");
    c.execute(
        "INSERT INTO messages (timestamp, instance, job, event, message)
         VALUES (julianday('now', ?1), 'P', ?2, ?3, ?4)",
        rusqlite::params![ago, job, event, text],
    )
    .expect("insert message");
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    queue: PathBuf,
}

impl Setup {
    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("600_jobmon.txt")
    }
    fn prom(&self) -> PathBuf {
        self.dir.path().join("jobmon.prom")
    }
}

/// The five jobs, `output_extra` appended to `[output]` (e.g. an Event Console table).
fn setup(db: &TestDb, output_extra: &str) -> Setup {
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    fs::create_dir(dir.path().join("state")).expect("state dir");
    let c = cluster();
    let text = format!(
        r#"[global]
time_zone = "UTC"
poll_interval = "1s"
message_grace_period = "5s"
source_timeout = "3s"
stale_after = "10m"
log_level = "debug"

[database]
host = "127.0.0.1"
port = {port}
user = {user}
dbname = {dbname}

[output]
state_dir = {state}
spool_file = {spool}
prometheus_file = {prom}
service_prefix = "job "
{output_extra}

[[sources]]
name = "local"
local_queue = {queue}

[[sources]]
name = "down"
address = "127.0.0.1"
port = {down_port}
user = "nobody"
known_hosts = {known_hosts}
host_key_policy = "accept-new"
queue = "/var/tmp/queue.sqlite"

[[jobs]]
name = "GOOD"
env = "P"
source = "local"
cyclic = {{ interval = "1h" }}

[[jobs]]
name = "BAD"
env = "P"
source = "local"
cyclic = {{ interval = "1h" }}

[[jobs]]
name = "SLOW"
env = "P"
source = "local"
cyclic = {{ interval = "1d" }}
timeout = "10m"

[[jobs]]
name = "NEVER"
env = "P"
source = "local"
cyclic = {{ interval = "15m" }}

[[jobs]]
name = "REMOTE"
env = "P"
source = "down"
cyclic = {{ interval = "1h" }}
"#,
        port = c.port,
        user = toml_str(&c.superuser),
        dbname = toml_str(&db.name),
        state = toml_str(&dir.path().join("state").to_string_lossy()),
        spool = toml_str(&dir.path().join("600_jobmon.txt").to_string_lossy()),
        prom = toml_str(&dir.path().join("jobmon.prom").to_string_lossy()),
        queue = toml_str(&queue.to_string_lossy()),
        down_port = closed_port(),
        known_hosts = toml_str(&dir.path().join("known_hosts").to_string_lossy()),
    );
    let config = dir.path().join("tracker.toml");
    fs::write(&config, text).expect("config");
    message(&queue, "GOOD", "STARTED", None, "-2 minutes");
    message(&queue, "GOOD", "SUCCESS", Some("42 rows"), "-1 minutes");
    message(&queue, "BAD", "STARTED", None, "-3 minutes");
    message(
        &queue,
        "BAD",
        "ERROR",
        Some("ORA-01555: snapshot too old"),
        "-2 minutes",
    );
    message(&queue, "SLOW", "STARTED", None, "-2 hours");
    Setup { dir, config, queue }
}

fn tracker(args: &[&str], config: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("-c")
        .arg(config)
        .env_remove("JOBMON_TRACKER_LOG")
        .output()
        .expect("run jobmon-tracker")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first reason word of each line's text, by service: `"job GOOD_P" -> (0, "OK")`.
fn local_checks(text: &str) -> BTreeMap<String, (u8, String)> {
    text.lines()
        .filter(|l| !l.starts_with("<<<"))
        .map(|line| {
            let state: u8 = line[..1].parse().expect("state digit");
            let rest = &line[3..];
            let end = rest.find('"').expect("closing quote");
            let service = rest[..end].to_owned();
            let after: Vec<&str> = rest[end + 2..].splitn(2, ' ').collect();
            let reason = after[1].split(':').next().unwrap_or("").to_owned();
            (service, (state, reason))
        })
        .collect()
}

fn expected() -> BTreeMap<String, (u8, String)> {
    [
        ("job BAD_P", 2, "ERROR"),
        ("job GOOD_P", 0, "OK"),
        ("job NEVER_P", 2, "DELAYED"),
        ("job REMOTE_P", 3, "UNREACHABLE"),
        ("job SLOW_P", 2, "TIMEOUT"),
    ]
    .iter()
    .map(|(s, c, r)| (s.to_string(), (*c, r.to_string())))
    .collect()
}

/// The tracker first polled its sources an hour ago (so NEVER has missed its starts).
fn backdate_watching(c: &mut postgres::Client) {
    c.execute(
        "UPDATE jobmon.tracker_source SET created_at = now() - interval '1 hour'",
        &[],
    )
    .unwrap();
}

fn check_job_status(c: &mut postgres::Client) -> Vec<(i32, String, Option<String>, String)> {
    c.query("SELECT * FROM jobmon.check_job_status()", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[test]
fn five_jobs_reach_every_output_with_their_states() {
    let db = TestDb::new("alerts_e2e");
    let s = setup(&db, "");
    // First pass: the sources are new, so NEVER is not late yet.
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the down host fails --once: {}",
        stderr(&out)
    );
    let mut c = db.connect();
    let first = local_checks(&fs::read_to_string(s.spool()).unwrap());
    assert_eq!(first["job NEVER_P"], (3, "NO_DATA".to_string()));

    backdate_watching(&mut c);
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // State files: one per job, named as the 2016 tool named them.
    let mut files: Vec<String> = fs::read_dir(s.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "BAD__P.state",
            "GOOD__P.state",
            "NEVER__P.state",
            "REMOTE__P.state",
            "SLOW__P.state"
        ]
    );
    let mut from_files = String::new();
    for f in &files {
        from_files.push_str(&fs::read_to_string(s.state_dir().join(f)).unwrap());
    }
    assert_eq!(local_checks(&from_files), expected());

    // The spool file: header, then the same lines.
    let spool = fs::read_to_string(s.spool()).unwrap();
    assert!(spool.starts_with("<<<local:sep(0)>>>\n"), "{spool}");
    assert_eq!(local_checks(&spool), expected());
    assert!(
        spool.contains("ORA-01555: snapshot too old"),
        "the error's text is quoted: {spool}"
    );
    assert!(
        spool.contains("runtime=") && spool.contains(";;600"),
        "{spool}"
    );

    // `check` evaluates by itself and prints the same states.
    let out = tracker(&["check"], &s.config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(local_checks(&stdout(&out)), expected());
    let out = tracker(&["check", "--header"], &s.config);
    assert!(stdout(&out).starts_with("<<<local:sep(0)>>>\n"));

    // Prometheus: every job's state.
    let prom = fs::read_to_string(s.prom()).unwrap();
    for (job, state) in [
        ("GOOD", 0),
        ("BAD", 2),
        ("SLOW", 2),
        ("NEVER", 2),
        ("REMOTE", 3),
    ] {
        let line = format!("jobmon_job_state{{job_name=\"{job}\",env=\"P\"}} {state}\n");
        assert!(prom.contains(&line), "{line} missing in {prom}");
    }

    // PostgreSQL: check_job_status() reports the four problems once each, with the state.
    let rows = check_job_status(&mut c);
    let summary: Vec<(i32, &str, &str, &str)> = rows
        .iter()
        .map(|(code, status, name, text)| {
            (
                *code,
                status.as_str(),
                name.as_deref().unwrap_or(""),
                text.split(':').next().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "CRITICAL", "BAD__P", "ERROR"),
            (3, "CRITICAL", "NEVER__P", "DELAYED"),
            (3, "UNKNOWN", "REMOTE__P", "UNREACHABLE"),
            (3, "CRITICAL", "SLOW__P", "TIMEOUT"),
        ]
    );

    // The TIMEOUT and the DELAYED are marked in job_log, once.
    let marks: Vec<(String, String, bool)> = c
        .query(
            "SELECT l.job_name, l.status, l.end_time IS NULL
               FROM jobmon.job_log l
              WHERE l.status IN ('TIMEOUT', 'DELAYED')
              ORDER BY l.job_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        marks,
        vec![
            ("NEVER__P".to_string(), "DELAYED".to_string(), false),
            ("SLOW__P".to_string(), "TIMEOUT".to_string(), true),
        ]
    );
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1));
    let steps: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_detail WHERE action IN ('TIMEOUT', 'DELAYED')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(steps, 2, "a third pass marks nothing again");

    // Nagios: CRITICAL, with the counts.
    let out = tracker(&["nagios"], &s.config);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let first_line = stdout(&out).lines().next().unwrap_or("").to_owned();
    assert!(first_line.starts_with("JOBMON CRITICAL - "), "{first_line}");
    assert!(
        first_line.contains("critical=3 warning=0 unknown=1"),
        "{first_line}"
    );

    // The job that timed out ends; the failed job runs again and succeeds.
    message(&s.queue, "SLOW", "SUCCESS", None, "-0 seconds");
    message(&s.queue, "BAD", "STARTED", None, "-0 seconds");
    message(&s.queue, "BAD", "SUCCESS", None, "-0 seconds");
    message(&s.queue, "NEVER", "STARTED", None, "-0 seconds");
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1));
    let rows = check_job_status(&mut c);
    let names: Vec<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
    assert_eq!(names, vec!["REMOTE__P"], "{rows:?}");
    let slow_status: String = c
        .query_one(
            "SELECT status FROM jobmon.job_log WHERE job_name = 'SLOW__P' AND pid = 0
              ORDER BY start_time DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        slow_status, "CRITICAL",
        "a run that was marked TIMEOUT ends failed even when it then succeeds"
    );
}

#[test]
fn a_database_without_a_tracker_keeps_the_1_5_0_output_and_a_stale_tracker_is_critical() {
    let db = TestDb::new("alerts_heartbeat");
    let mut c = db.connect();
    let ok = vec![(
        1,
        "OK".to_string(),
        None,
        "All jobs run successfully".to_string(),
    )];
    assert_eq!(check_job_status(&mut c), ok);

    // A tracker whose jobs are all fine: still the single OK row.
    let dir = tempdir();
    let queue = dir.path().join("q.sqlite");
    message(&queue, "FINE", "STARTED", None, "-2 minutes");
    message(&queue, "FINE", "SUCCESS", None, "-1 minutes");
    let cl = cluster();
    let config = dir.path().join("t.toml");
    fs::write(
        &config,
        format!(
            "[global]\nstale_after = \"5m\"\n[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\ndbname = {}\n\
             [[sources]]\nname = \"local\"\nlocal_queue = {}\n\
             [[jobs]]\nname = \"FINE\"\nenv = \"P\"\ncyclic = {{ interval = \"1h\" }}\n",
            cl.port,
            toml_str(&cl.superuser),
            toml_str(&db.name),
            toml_str(&queue.to_string_lossy())
        ),
    )
    .unwrap();
    let out = tracker(&["run", "--once"], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(check_job_status(&mut c), ok);
    let tracker_name: String = c
        .query_one("SELECT tracker FROM jobmon.tracker_instance", &[])
        .unwrap()
        .get(0);

    // It stops evaluating: after its bound it is CRITICAL itself.
    c.execute(
        "UPDATE jobmon.tracker_instance SET evaluated_at = now() - interval '6 minutes'",
        &[],
    )
    .unwrap();
    let rows = check_job_status(&mut c);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (code, status, name, text) = &rows[0];
    assert_eq!((*code, status.as_str()), (3, "CRITICAL"));
    assert_eq!(
        name.as_deref(),
        Some(format!("jobmon-tracker {tracker_name}").as_str())
    );
    assert!(
        text.contains("has not evaluated its 1 job(s) since"),
        "{text}"
    );

    // Its next evaluation clears it; retiring it (deleting its row) takes its jobs along.
    let out = tracker(&["run", "--once"], &config);
    assert!(out.status.success());
    assert_eq!(check_job_status(&mut c), ok);
    c.execute("DELETE FROM jobmon.tracker_instance", &[])
        .unwrap();
    let left: i64 = c
        .query_one("SELECT count(*) FROM jobmon.tracker_job_state", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn check_reports_every_job_unknown_when_the_database_is_unreachable() {
    let dir = tempdir();
    let config = dir.path().join("t.toml");
    fs::write(
        &config,
        format!(
            "[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"x\"\ndbname = \"x\"\n\
             [[sources]]\nname = \"local\"\nlocal_queue = \"/nonexistent/q.sqlite\"\n\
             [[jobs]]\nname = \"A\"\nenv = \"P\"\ncyclic = {{ interval = \"1h\" }}\n\
             [[jobs]]\nname = \"B\"\nenv = \"Q\"\ndaily = {{ start = \"02:00\", start_max_delay = \"1h\" }}\n",
            closed_port()
        ),
    )
    .unwrap();
    let out = tracker(&["check", "--timeout", "3s"], &config);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, service) in lines.iter().zip(["A_P", "B_Q"]) {
        let prefix =
            format!("3 \"{service}\" - UNREACHABLE: cannot read the events from PostgreSQL: ");
        assert!(line.starts_with(&prefix), "{line}");
    }
}

#[test]
fn the_tracker_evaluates_and_marks_as_a_role_with_only_the_documented_grants() {
    let db = TestDb::new("alerts_role");
    let role = db.create_role("tracker", "");
    // The README's grants ("The database role").
    grant_tracker_rights(&db, &role);
    let s = setup(&db, "");
    let text = fs::read_to_string(&s.config).unwrap();
    let superuser = format!("user = {}", toml_str(&cluster().superuser));
    fs::write(
        &s.config,
        text.replace(&superuser, &format!("user = {}", toml_str(&role))),
    )
    .unwrap();
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut c = db.connect();
    backdate_watching(&mut c);
    let out = tracker(&["run", "--once"], &s.config);
    assert!(
        !stderr(&out).contains("could not store"),
        "{}",
        stderr(&out)
    );
    let problems: Vec<Option<String>> = check_job_status(&mut c).into_iter().map(|r| r.2).collect();
    assert_eq!(problems.len(), 4, "{problems:?}");
    let marked: i64 = c
        .query_one(
            "SELECT count(*) FROM jobmon.job_log WHERE status IN ('TIMEOUT', 'DELAYED')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(marked, 2);

    // A monitoring role with 1.5.0's grants only still runs check_job_status().
    let monitor = db.create_role("monitor", "");
    db.connect()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{monitor}\";
             GRANT SELECT ON jobmon.job_log, jobmon.job_check_log, jobmon.job_check_config,
                   jobmon.job_status_text TO \"{monitor}\";"
        ))
        .unwrap();
    let rows = db
        .connect_as(&monitor)
        .query("SELECT job_name FROM jobmon.check_job_status()", &[])
        .unwrap();
    assert_eq!(rows.len(), 4);
}

/// Lines received by a listener thread.
#[derive(Clone, Default)]
struct Received(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Received {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Reads newline-terminated lines from every connection accepted (a real Unix or TCP
    /// syslog listener, as the Event Console runs).
    fn collect_stream<S: std::io::Read + Send + 'static>(&self, stream: S) {
        let lines = self.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                lines.0.lock().unwrap().push(line);
            }
        });
    }

    /// Waits until `n` lines arrived (or 10 s passed); then a little longer for extras.
    fn wait_for(&self, n: usize) -> Vec<String> {
        jobmon_tests::tracker::eventually(std::time::Duration::from_secs(10), || {
            self.0.lock().unwrap().len() >= n
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.take()
    }
}

/// `(MSGID, application, state word)` of each Event Console message, checking its frame.
fn ec_events(lines: &[String]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .map(|l| {
            assert!(l.starts_with('<') && l.contains(">1 "), "not RFC 5424: {l}");
            let fields: Vec<&str> = l.splitn(7, ' ').collect();
            let msgid = fields[5].to_owned();
            let app_start = l.find("application=\"").expect("application") + 13;
            let app_end = app_start + l[app_start..].find('"').expect("end quote");
            let after_sd = &l[l.find("] ").expect("end of structured data") + 2..];
            let state = after_sd.split(' ').next().unwrap_or("").to_owned();
            assert!(l.contains("[Checkmk@18662 sl=\"20\" "), "{l}");
            (msgid, l[app_start..app_end].to_owned(), state)
        })
        .collect()
}

fn ev(msgid: &str, app: &str, state: &str) -> (String, String, String) {
    (msgid.into(), app.into(), state.into())
}

#[test]
fn event_console_over_a_unix_socket_gets_one_event_per_change_and_none_twice() {
    let db = TestDb::new("alerts_ec_unix");
    let dir = tempdir();
    let socket = dir.path().join("eventsocket");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let received = Received::default();
    let r = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            r.collect_stream(stream);
        }
    });
    let ec = format!(
        "\n[output.event_console]\ntarget = {}\noutbox = {}\nservice_level = 20\n",
        toml_str(&format!("unix:{}", socket.display())),
        toml_str(&dir.path().join("outbox.sqlite").to_string_lossy())
    );
    let s = setup(&db, &ec);
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut first = ec_events(&received.wait_for(4));
    first.sort();
    assert_eq!(
        first,
        vec![
            ev("ERROR", "job BAD_P", "CRITICAL"),
            ev("NO_DATA", "job NEVER_P", "UNKNOWN"),
            ev("TIMEOUT", "job SLOW_P", "CRITICAL"),
            ev("UNREACHABLE", "job REMOTE_P", "UNKNOWN"),
        ],
        "the jobs that are not OK, GOOD (OK from the start) not"
    );

    // A restarted tracker with nothing changed sends nothing.
    let out = tracker(&["run", "--once"], &s.config);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(received.wait_for(1), Vec::<String>::new());

    // NEVER becomes DELAYED: one event; then BAD recovers: one OK event.
    backdate_watching(&mut db.connect());
    tracker(&["run", "--once"], &s.config);
    assert_eq!(
        ec_events(&received.wait_for(1)),
        vec![ev("DELAYED", "job NEVER_P", "CRITICAL")]
    );
    message(&s.queue, "BAD", "STARTED", None, "-0 seconds");
    message(&s.queue, "BAD", "SUCCESS", None, "-0 seconds");
    tracker(&["run", "--once"], &s.config);
    assert_eq!(
        ec_events(&received.wait_for(1)),
        vec![ev("OK", "job BAD_P", "OK")]
    );
}

#[test]
fn event_console_over_tcp_gets_the_changes_it_missed_while_down_and_udp_gets_datagrams() {
    let db = TestDb::new("alerts_ec_tcp");
    let dir = tempdir();
    let port = closed_port();
    let ec = format!(
        "\n[output.event_console]\ntarget = \"tcp:127.0.0.1:{port}\"\noutbox = {}\nservice_level = 20\n",
        toml_str(&dir.path().join("outbox.sqlite").to_string_lossy())
    );
    let s = setup(&db, &ec);
    // The Event Console is down for two evaluations with a change in between.
    let out = tracker(&["run", "--once"], &s.config);
    assert!(
        stderr(&out).contains("Event Console not reached"),
        "{}",
        stderr(&out)
    );
    backdate_watching(&mut db.connect());
    tracker(&["run", "--once"], &s.config);

    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    let received = Received::default();
    let r = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            r.collect_stream(stream);
        }
    });
    tracker(&["run", "--once"], &s.config);
    let events = ec_events(&received.wait_for(5));
    // In the order they happened: the four of the first evaluation (in configuration
    // order), then NEVER's change to DELAYED.
    assert_eq!(
        events,
        vec![
            ev("ERROR", "job BAD_P", "CRITICAL"),
            ev("TIMEOUT", "job SLOW_P", "CRITICAL"),
            ev("NO_DATA", "job NEVER_P", "UNKNOWN"),
            ev("UNREACHABLE", "job REMOTE_P", "UNKNOWN"),
            ev("DELAYED", "job NEVER_P", "CRITICAL"),
        ]
    );
    tracker(&["run", "--once"], &s.config);
    assert_eq!(received.wait_for(1), Vec::<String>::new(), "nothing twice");

    // The same jobs to a syslog UDP listener: one datagram per event.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let text = fs::read_to_string(&s.config).unwrap().replace(
        &format!("tcp:127.0.0.1:{port}"),
        &format!("udp:127.0.0.1:{}", udp.local_addr().unwrap().port()),
    );
    let text = text.replace("outbox.sqlite", "outbox-udp.sqlite");
    fs::write(&s.config, text).unwrap();
    tracker(&["run", "--once"], &s.config);
    let mut datagrams = Vec::new();
    let mut buf = [0u8; 4096];
    while datagrams.len() < 4 {
        let n = udp.recv(&mut buf).expect("a datagram within 10 s");
        if n > 0 {
            // (empty datagrams are the sender's reachability probes)
            datagrams.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let mut events = ec_events(&datagrams);
    events.sort();
    assert_eq!(
        events,
        vec![
            ev("DELAYED", "job NEVER_P", "CRITICAL"),
            ev("ERROR", "job BAD_P", "CRITICAL"),
            ev("TIMEOUT", "job SLOW_P", "CRITICAL"),
            ev("UNREACHABLE", "job REMOTE_P", "UNKNOWN"),
        ]
    );
}
