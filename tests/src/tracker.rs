//! Running jobmon-tracker in tests: a configuration pointing at a test database, queue files
//! filled fast, the tracker as a real process (it is killed, signalled and run twice), and
//! queries of what it stored.

use crate::{cluster, TestDb};
use postgres::Client;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tracker_worker::queue::{NewMessage, Queue};

/// A temporary directory for a tracker test's queue files, configuration and logs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("jobmon-tracker-test-")
        .tempdir()
        .expect("tempdir")
}

/// A source section of the configuration.
pub enum SourceSpec {
    Local {
        name: String,
        queue: PathBuf,
        delete: bool,
    },
    /// A complete `[[sources]]` table body (for SSH sources built by the sshd fixture).
    Raw(String),
}

impl SourceSpec {
    pub fn local(name: &str, queue: &Path, delete: bool) -> Self {
        SourceSpec::Local {
            name: name.into(),
            queue: queue.into(),
            delete,
        }
    }

    fn toml(&self) -> String {
        match self {
            SourceSpec::Local {
                name,
                queue,
                delete,
            } => format!(
                "[[sources]]\nname = {}\nlocal_queue = {}\ndelete_after_commit = {delete}\n",
                toml_str(name),
                toml_str(&queue.to_string_lossy())
            ),
            SourceSpec::Raw(body) => format!("[[sources]]\n{body}\n"),
        }
    }
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A tracker configuration file for `db` in `dir`: poll interval, batch size and source
/// timeout small enough for tests.
pub fn write_config(
    dir: &Path,
    db: &TestDb,
    sources: &[SourceSpec],
    poll: &str,
    batch: u32,
    source_timeout: &str,
) -> PathBuf {
    let c = cluster();
    let mut text = format!(
        "[global]\npoll_interval = {}\nread_batch_size = {batch}\nsource_timeout = {}\nlog_level = \"debug\"\n\n\
         [database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\ndbname = {}\n\n",
        toml_str(poll),
        toml_str(source_timeout),
        c.port,
        toml_str(&c.superuser),
        toml_str(&db.name)
    );
    for s in sources {
        text.push_str(&s.toml());
        text.push('\n');
    }
    let path = dir.join("tracker.toml");
    fs::write(&path, text).expect("write tracker config");
    path
}

/// A running tracker process; killed when dropped.
pub struct TrackerProcess {
    pub child: Child,
    pub log: PathBuf,
}

impl TrackerProcess {
    /// Starts `bin run -c config`, its stderr going to `log`.
    pub fn spawn(bin: &str, config: &Path, log: &Path) -> TrackerProcess {
        let err = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("tracker log file");
        let child = Command::new(bin)
            .args(["run", "-c"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .env_remove("JOBMON_TRACKER_LOG")
            .spawn()
            .expect("start the tracker");
        TrackerProcess {
            child,
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TrackerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails with the tracker's stderr unless it exited 0.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "tracker failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `bin run -c config --once`, to completion.
pub fn run_once(bin: &str, config: &Path) -> Output {
    Command::new(bin)
        .args(["run", "--once", "-c"])
        .arg(config)
        .env_remove("JOBMON_TRACKER_LOG")
        .output()
        .expect("run the tracker")
}

/// Appends `n` messages to a queue file (created if needed) in one transaction: runs of
/// `STARTED`, `n_steps` steps, `SUCCESS` (every seventh run has an `ERROR` instead of one
/// step), spread over `jobs` job names; message texts carry their sequence number `first+i`.
pub fn fill_queue(path: &Path, first: u64, n: u64, jobs: u64) -> Vec<NewMessage> {
    let msgs: Vec<NewMessage> = (first..first + n)
        .map(|i| {
            let job = format!("job{}", i % jobs);
            // Position inside this job's own sequence of messages.
            let k = i / jobs;
            let run = k / 4;
            let event = match k % 4 {
                0 => "STARTED",
                1 if run % 7 == 3 => "ERROR",
                1 | 2 => "progress",
                _ => "SUCCESS",
            };
            NewMessage {
                instance: Some("p".into()),
                job: Some(job),
                event: Some(event.into()),
                message: Some(format!("message {i}")),
            }
        })
        .collect();
    let mut q = Queue::open_or_create(path).expect("open queue");
    q.add_all(&msgs).expect("fill queue");
    msgs
}

/// The numbers in the `message N` texts stored for `source`, sorted, with duplicates kept.
pub fn stored_numbers(c: &mut Client, source: &str) -> Vec<u64> {
    let mut v: Vec<u64> = c
        .query(
            "SELECT message FROM jobmon.tracker_message WHERE source = $1 AND message LIKE 'message %'",
            &[&source],
        )
        .expect("read tracker_message")
        .iter()
        .filter_map(|r| {
            let m: String = r.get(0);
            m.strip_prefix("message ")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    v
}

/// Counts of what `expected` (0..n) lacks and holds twice in `stored`.
pub fn lost_and_duplicated(stored: &[u64], n: u64) -> (u64, u64) {
    let mut counts = vec![0u32; n as usize];
    let mut foreign = 0u64;
    for &x in stored {
        match counts.get_mut(x as usize) {
            Some(c) => *c += 1,
            None => foreign += 1,
        }
    }
    let lost = counts.iter().filter(|&&c| c == 0).count() as u64;
    let dup = counts
        .iter()
        .map(|&c| u64::from(c.saturating_sub(1)))
        .sum::<u64>()
        + foreign;
    (lost, dup)
}

/// Polls `f` every 50 ms until it is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Number of tracker_message rows of `source`.
pub fn message_count(c: &mut Client, source: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM jobmon.tracker_message WHERE source = $1",
        &[&source],
    )
    .map(|r| r.get(0))
    .unwrap_or(-1)
}

/// Grants `role` exactly what the README's "The database role" section lists for the
/// tracker, so tests run it with no more rights than users give it.
pub fn grant_tracker_rights(db: &TestDb, role: &str) {
    db.connect()
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA jobmon TO \"{role}\";
             GRANT SELECT, INSERT, UPDATE ON jobmon.job_log, jobmon.job_detail,
                   jobmon.tracker_source TO \"{role}\";
             GRANT SELECT, INSERT, UPDATE, DELETE ON jobmon.tracker_message,
                   jobmon.tracker_instance, jobmon.tracker_job_state TO \"{role}\";
             GRANT SELECT, INSERT, DELETE ON jobmon.job_check_log TO \"{role}\";
             GRANT SELECT ON jobmon.job_status_text, jobmon.job_check_config TO \"{role}\";
             GRANT USAGE ON SEQUENCE jobmon.job_log_job_id_seq, jobmon.job_detail_step_id_seq TO \"{role}\";
             GRANT EXECUTE ON FUNCTION jobmon._tracker_add_steps(bigint[], text[], timestamptz[], text[], text[]) TO \"{role}\";"
        ))
        .expect("grant the tracker's rights");
}
