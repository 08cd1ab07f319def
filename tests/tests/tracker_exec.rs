//! `jobmon-tracker exec`: a command wrapped as a tracked job, run as cron runs it (no
//! terminal, PATH=/usr/bin:/bin, no HOME). Each case reads the queue with the sqlite3
//! command-line tool, then ingests it with `run --once` and checks job_log, job_detail and
//! the job's state as the tracker evaluated it.

use jobmon_tests::tracker::{assert_ok, run_once, tempdir, toml_str};
use jobmon_tests::{cluster, TestDb};
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tracker");
const STDERR_TAIL: usize = 4096;

/// `exec --job JOB --env P --queue QUEUE EXTRA... -- COMMAND...` in a cron-like
/// environment whose TMPDIR is `tmp`, fed `stdin`.
fn exec(
    tmp: &Path,
    queue: &Path,
    job: &str,
    extra: &[&str],
    command: &[&str],
    stdin: &[u8],
) -> Output {
    let mut child = Command::new(BIN)
        .args(["exec", "--job", job, "--env", "P", "--queue"])
        .arg(queue)
        .args(extra)
        .arg("--")
        .args(command)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", tmp)
        .current_dir(tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start exec");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().expect("exec output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// (job, event, message) of every queued message in id order, read with sqlite3.
fn queued(queue: &Path) -> Vec<(String, String, String)> {
    let out = Command::new("sqlite3")
        .arg("-json")
        .arg(queue)
        .arg("SELECT job, event, message, instance FROM messages ORDER BY id")
        .output()
        .expect("run sqlite3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    if s.trim().is_empty() {
        return Vec::new();
    }
    let rows: Vec<serde_json::Value> = serde_json::from_str(&s).expect("sqlite3 -json");
    rows.iter()
        .map(|r| {
            assert_eq!(r["instance"], "P", "{r}");
            let f = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (f("job"), f("event"), f("message"))
        })
        .collect()
}

fn of_job(rows: &[(String, String, String)], job: &str) -> Vec<(String, String)> {
    rows.iter()
        .filter(|r| r.0 == job)
        .map(|r| (r.1.clone(), r.2.clone()))
        .collect()
}

fn events(rows: &[(String, String)]) -> Vec<&str> {
    rows.iter().map(|r| r.0.as_str()).collect()
}

/// Ingests `queue` with one `run --once` for `jobs` (cyclic every hour); per job its state
/// and reason, its runs' job_log statuses and its job_detail (action, message) steps.
struct Ingested {
    db: TestDb,
}

impl Ingested {
    fn new(name: &str, dir: &Path, queue: &Path, jobs: &[&str]) -> Ingested {
        Self::with_global(name, dir, queue, jobs, "")
    }

    /// The same with `global` as the body of the [global] table.
    fn with_global(name: &str, dir: &Path, queue: &Path, jobs: &[&str], global: &str) -> Ingested {
        let db = TestDb::new(name);
        let config = write_config(dir, Some(&db), queue, jobs, global);
        assert_ok(&run_once(BIN, &config));
        Ingested { db }
    }

    fn state(&self, job: &str) -> (String, String) {
        let row = self
            .db
            .connect()
            .query_one(
                "SELECT state, reason FROM jobmon.tracker_job_state WHERE job = $1",
                &[&job],
            )
            .unwrap_or_else(|e| panic!("state of {job}: {e}"));
        (row.get(0), row.get(1))
    }

    fn runs(&self, job: &str) -> Vec<String> {
        self.db
            .connect()
            .query(
                "SELECT status FROM jobmon.job_log WHERE job_name = $1 ORDER BY job_id",
                &[&format!("{}__P", job.to_uppercase())],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
            .collect()
    }

    fn steps(&self, job: &str) -> Vec<(String, String)> {
        self.db
            .connect()
            .query(
                "SELECT d.action, coalesce(d.message, '') FROM jobmon.job_detail d
                   JOIN jobmon.job_log l USING (job_id)
                  WHERE l.job_name = $1 ORDER BY d.step_id",
                &[&format!("{}__P", job.to_uppercase())],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    fn rejected(&self) -> i64 {
        self.db
            .connect()
            .query_one(
                "SELECT count(*) FROM jobmon.tracker_message WHERE reject_reason IS NOT NULL",
                &[],
            )
            .unwrap()
            .get(0)
    }
}

/// A tracker configuration reading `queue` into `db` (a closed database when `None`), with
/// `jobs` (cyclic every hour) and `global` as the body of its [global] table.
fn write_config(
    dir: &Path,
    db: Option<&TestDb>,
    queue: &Path,
    jobs: &[&str],
    global: &str,
) -> PathBuf {
    let c = cluster();
    let mut toml = format!(
        "[global]\n{global}\n[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\ndbname = {}\n\
         [[sources]]\nname = \"local\"\nlocal_queue = {}\n",
        c.port,
        toml_str(&c.superuser),
        toml_str(db.map_or("none", |d| d.name.as_str())),
        toml_str(&queue.to_string_lossy())
    );
    for j in jobs {
        toml.push_str(&format!(
            "[[jobs]]\nname = {}\nenv = \"P\"\ncyclic = {{ interval = \"1h\" }}\n",
            toml_str(j)
        ));
    }
    let config = dir.join("tracker.toml");
    fs::write(&config, toml).unwrap();
    config
}

#[test]
fn success_and_failure_report_the_status_duration_and_the_stderr_tail() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let ok = exec(
        dir.path(),
        &q,
        "GOOD",
        &[],
        &["sh", "-c", "echo to-stdout"],
        b"",
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "to-stdout\n");
    // 2000 lines of stderr, far more than the 4 KB kept.
    let script = "i=0; while [ $i -lt 2000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; exit 3";
    let bad = exec(dir.path(), &q, "BAD", &[], &["sh", "-c", script], b"");
    assert_eq!(bad.status.code(), Some(3));
    let passed = text(&bad.stderr);
    assert!(
        passed.starts_with("line 0\nline 1\n"),
        "stderr is passed through whole"
    );
    assert!(passed.contains("line 1999\n"));

    let rows = queued(&q);
    let good = of_job(&rows, "GOOD");
    assert_eq!(events(&good), ["STARTED", "SUCCESS"]);
    assert!(
        good[0].1.contains("sh -c 'echo to-stdout'"),
        "{}",
        good[0].1
    );
    assert!(
        good[1].1.starts_with("exit status 0 after "),
        "{}",
        good[1].1
    );
    let bad = of_job(&rows, "BAD");
    assert_eq!(events(&bad), ["STARTED", "ERROR", "SUCCESS"]);
    let error = &bad[1].1;
    assert!(error.starts_with("exit status 3 after "), "{error}");
    let (_, tail) = error.split_once("stderr (last lines):\n").expect("a tail");
    assert!(tail.len() <= STDERR_TAIL, "{}", tail.len());
    assert!(tail.ends_with("line 1998\nline 1999"), "{tail}");
    assert!(tail.starts_with("line "), "whole lines only: {tail}");
    assert!(!tail.contains("line 0\n"));
    assert!(bad[2].1.contains("exit 3"), "{}", bad[2].1);

    let db = Ingested::new("exec_status", dir.path(), &q, &["GOOD", "BAD"]);
    assert_eq!(db.state("GOOD"), ("OK".into(), "OK".into()));
    assert_eq!(db.state("BAD"), ("CRITICAL".into(), "ERROR".into()));
    assert_eq!(db.runs("GOOD"), ["OK"]);
    assert_eq!(db.runs("BAD"), ["CRITICAL"]);
    let steps = db.steps("BAD");
    assert!(
        steps.iter().any(|(a, m)| a == "ERROR" && m == error),
        "{steps:?}"
    );
    assert_eq!(db.rejected(), 0);
}

#[test]
fn a_signal_and_a_timeout_are_errors_with_their_exit_status() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let killed = exec(
        dir.path(),
        &q,
        "KILLED",
        &[],
        &["sh", "-c", "kill -KILL $$"],
        b"",
    );
    assert_eq!(killed.status.code(), Some(128 + 9));
    let begun = Instant::now();
    let slow = exec(
        dir.path(),
        &q,
        "SLOW",
        &["--timeout", "1s"],
        &["sleep", "60"],
        b"",
    );
    assert_eq!(slow.status.code(), Some(124));
    assert!(begun.elapsed() < Duration::from_secs(30));
    // One that ignores SIGTERM gets SIGKILL after the grace period.
    let stubborn = exec(
        dir.path(),
        &q,
        "STUBBORN",
        &["--timeout", "1s", "--kill-after", "1s"],
        &["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
        b"",
    );
    assert_eq!(stubborn.status.code(), Some(124));

    let rows = queued(&q);
    let k = of_job(&rows, "KILLED");
    assert_eq!(events(&k), ["STARTED", "ERROR", "SUCCESS"]);
    assert!(
        k[1].1.starts_with("killed by SIGKILL (9) after "),
        "{}",
        k[1].1
    );
    let s = of_job(&rows, "SLOW");
    assert_eq!(events(&s), ["STARTED", "ERROR", "SUCCESS"]);
    assert!(
        s[1].1
            .starts_with("timeout: still running after 1s, sent SIGTERM; killed by SIGTERM (15)"),
        "{}",
        s[1].1
    );
    let st = of_job(&rows, "STUBBORN");
    assert!(
        st[1].1.starts_with(
            "timeout: still running after 1s, sent SIGTERM, then SIGKILL after the grace period; killed by SIGKILL (9)"
        ),
        "{}",
        st[1].1
    );

    let db = Ingested::new(
        "exec_signal",
        dir.path(),
        &q,
        &["KILLED", "SLOW", "STUBBORN"],
    );
    for job in ["KILLED", "SLOW", "STUBBORN"] {
        assert_eq!(db.state(job), ("CRITICAL".into(), "ERROR".into()), "{job}");
        assert_eq!(db.runs(job), ["CRITICAL"], "{job}");
    }
    assert!(db
        .steps("SLOW")
        .iter()
        .any(|(a, m)| a == "ERROR" && m.starts_with("timeout:")));
}

#[test]
fn a_signal_sent_to_exec_is_forwarded_to_the_command() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let ready = dir.path().join("ready");
    let script = format!("touch '{}'; exec sleep 60", ready.display());
    let child = Command::new(BIN)
        .args(["exec", "--job", "FWD", "--env", "P", "--queue"])
        .arg(&q)
        .args(["--", "sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(jobmon_tests::wait_until(Duration::from_secs(20), || ready.exists()));
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out.stderr));
    let rows = of_job(&queued(&q), "FWD");
    assert_eq!(events(&rows), ["STARTED", "ERROR", "SUCCESS"]);
    assert!(
        rows[1].1.contains("killed by SIGTERM (15)")
            && rows[1].1.contains("exec forwarded SIGTERM (15) to it"),
        "{}",
        rows[1].1
    );
}

#[test]
fn a_command_that_cannot_start_exits_127_or_126_like_a_shell() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let missing = exec(
        dir.path(),
        &q,
        "MISSING",
        &[],
        &["no-such-command-jobmon"],
        b"",
    );
    assert_eq!(missing.status.code(), Some(127));
    assert!(
        text(&missing.stderr).contains("command not found"),
        "{}",
        text(&missing.stderr)
    );
    let script = dir.path().join("not-executable.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let noexec = exec(
        dir.path(),
        &q,
        "NOEXEC",
        &[],
        &[script.to_str().unwrap()],
        b"",
    );
    assert_eq!(noexec.status.code(), Some(126), "{}", text(&noexec.stderr));

    let rows = queued(&q);
    let m = of_job(&rows, "MISSING");
    assert_eq!(events(&m), ["STARTED", "ERROR", "SUCCESS"]);
    assert!(
        m[1].1
            .starts_with("cannot start no-such-command-jobmon: command not found"),
        "{}",
        m[1].1
    );
    assert!(m[1].1.contains("PATH=/usr/bin:/bin"), "{}", m[1].1);
    let n = of_job(&rows, "NOEXEC");
    assert!(n[1].1.contains("command cannot be executed"), "{}", n[1].1);
    assert!(m[2].1.contains("exit 127") && n[2].1.contains("exit 126"));

    let db = Ingested::new("exec_nostart", dir.path(), &q, &["MISSING", "NOEXEC"]);
    for job in ["MISSING", "NOEXEC"] {
        assert_eq!(db.state(job), ("CRITICAL".into(), "ERROR".into()), "{job}");
    }
}

#[test]
fn the_command_reads_stdin() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let out = exec(
        dir.path(),
        &q,
        "CAT",
        &[],
        &["sh", "-c", "read a; read b; echo \"got $a and $b\""],
        b"first\nsecond\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "got first and second\n");
    assert_eq!(events(&of_job(&queued(&q), "CAT")), ["STARTED", "SUCCESS"]);
    let db = Ingested::new("exec_stdin", dir.path(), &q, &["CAT"]);
    assert_eq!(db.state("CAT"), ("OK".into(), "OK".into()));
    assert_eq!(db.runs("CAT"), ["OK"]);
}

#[test]
fn an_unwritable_queue_keeps_the_command_and_its_messages() {
    let dir = tempdir();
    // The queue's directory is a regular file: nothing can be created there, not even by
    // root (these tests may run as root, for whom permission bits do not count).
    let blocker = dir.path().join("not-a-directory");
    fs::write(&blocker, "").unwrap();
    let q = blocker.join("q.sqlite");
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let out = exec(
        &tmp,
        &q,
        "LOST",
        &[],
        &["sh", "-c", "echo oops >&2; exit 3"],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the command ran and its status is kept"
    );
    let err = text(&out.stderr);
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let fallback: PathBuf = tmp.join(format!("jobmon-tracker-exec-unsent-{uid}.jsonl"));
    let named = format!("appended to {} instead", fallback.display());
    assert_eq!(err.matches(&named).count(), 3, "{err}");
    let lines: Vec<String> = fs::read_to_string(&fallback)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let evs: Vec<&str> = parsed
        .iter()
        .map(|v| v["event"].as_str().unwrap())
        .collect();
    assert_eq!(evs, ["STARTED", "ERROR", "SUCCESS"]);
    assert!(parsed[1]["message"]
        .as_str()
        .unwrap()
        .ends_with("stderr (last lines):\noops"));
    assert!(parsed
        .iter()
        .all(|v| v["job"] == "LOST" && v["instance"] == "P"));

    // Replayed as the message says, into a queue the tracker reads, they make the run.
    let real = dir.path().join("real.sqlite");
    for line in &lines {
        let replay = Command::new(BIN)
            .args(["queue", "-f"])
            .arg(&real)
            .args(["add", "-j", line])
            .output()
            .unwrap();
        assert!(replay.status.success(), "{}", text(&replay.stderr));
    }
    assert_eq!(
        events(&of_job(&queued(&real), "LOST")),
        ["STARTED", "ERROR", "SUCCESS"]
    );
    // Each keeps the time it happened, not the time of the replay.
    let stamps = Command::new("sqlite3")
        .arg(&real)
        .arg("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', timestamp) FROM messages ORDER BY id")
        .output()
        .expect("run sqlite3");
    let stamps: Vec<String> = text(&stamps.stdout).lines().map(str::to_owned).collect();
    let written: Vec<&str> = parsed
        .iter()
        .map(|v| v["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(stamps, written);
    let db = Ingested::new("exec_fallback", dir.path(), &real, &["LOST"]);
    assert_eq!(db.state("LOST"), ("CRITICAL".into(), "ERROR".into()));
    assert_eq!(db.runs("LOST"), ["CRITICAL"]);
}

#[test]
fn two_concurrent_runs_of_one_job_lose_no_message() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Each run waits until the other has started: they surely overlap.
    let wait = |me: &Path, other: &Path| {
        format!(
            "touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done",
            me.display(),
            other.display()
        )
    };
    let (sa, sb) = (wait(&a, &b), wait(&b, &a));
    let outs = std::thread::scope(|s| {
        let h1 = s.spawn(|| {
            exec(
                dir.path(),
                &q,
                "TWICE",
                &["--timeout", "60s"],
                &["sh", "-c", &sa],
                b"",
            )
        });
        let h2 = s.spawn(|| {
            exec(
                dir.path(),
                &q,
                "TWICE",
                &["--timeout", "60s"],
                &["sh", "-c", &sb],
                b"",
            )
        });
        [h1.join().unwrap(), h2.join().unwrap()]
    });
    for o in &outs {
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let rows = of_job(&queued(&q), "TWICE");
    assert_eq!(events(&rows)[..2], ["STARTED", "STARTED"], "{rows:?}");
    assert_eq!(events(&rows)[2..], ["SUCCESS", "SUCCESS"], "{rows:?}");
    assert_ne!(rows[0].1, rows[1].1, "each start names its exec's pid");

    let db = Ingested::new("exec_concurrent", dir.path(), &q, &["TWICE"]);
    assert_eq!(db.rejected(), 0);
    let steps = db.steps("TWICE");
    assert_eq!(
        steps
            .iter()
            .filter(|(a, _)| a == "STARTED" || a == "SUCCESS")
            .count(),
        4,
        "{steps:?}"
    );
    // One job has one run at a time: the second start abandons the first (README, Runs).
    assert!(
        steps.iter().any(|(a, _)| a == "Run not finished"),
        "{steps:?}"
    );
}

#[test]
fn the_keywords_come_from_the_configuration_and_a_bad_one_runs_nothing() {
    let dir = tempdir();
    let q = dir.path().join("q.sqlite");
    let global = "start_keyword = \"BEGIN\"\nerror_keyword = \"FAIL\"\nend_keyword = \"DONE\"\n";
    let config = write_config(dir.path(), None, &q, &["KW"], global);
    let cfg = config.to_str().unwrap();
    let out = exec(
        dir.path(),
        &q,
        "KW",
        &["-c", cfg],
        &["sh", "-c", "exit 4"],
        b"",
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert_eq!(
        events(&of_job(&queued(&q), "KW")),
        ["BEGIN", "FAIL", "DONE"]
    );
    let db = Ingested::with_global("exec_keywords", dir.path(), &q, &["KW"], global);
    assert_eq!(db.state("KW"), ("CRITICAL".into(), "ERROR".into()));
    assert_eq!(db.runs("KW"), ["CRITICAL"]);

    // An unreadable configuration: exit 125, the command not run, nothing queued.
    let broken = dir.path().join("broken.toml");
    fs::write(&broken, "[global\n").unwrap();
    let marker = dir.path().join("ran");
    let touch = format!("touch '{}'", marker.display());
    let out = exec(
        dir.path(),
        &q,
        "KW2",
        &["-c", broken.to_str().unwrap()],
        &["sh", "-c", &touch],
        b"",
    );
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("broken.toml"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("the command was not run"));
    assert!(!marker.exists());
    assert!(of_job(&queued(&q), "KW2").is_empty());
}
