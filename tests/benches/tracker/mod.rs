//! What scenarios 4 and 5 share: the jobmon-tracker program under test (the release build
//! cargo bench makes of the tests crate's `tracker` binary), its configuration file, and the
//! CPU time a process tree used, so that a figure can say whether the tracker, PostgreSQL or
//! the SSH side was the busy one.

pub mod ingest;
pub mod rules_memory;
pub mod workload;

use jobmon_tests::tracker::toml_str;
use jobmon_tests::{cluster, TestDb};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// jobmon-tracker, built by `cargo bench` with the bench profile (release settings) from the
/// same code as tracker-worker's `jobmon-tracker` (tests/src/bin/tracker.rs).
pub const BIN: &str = env!("CARGO_BIN_EXE_tracker");

/// Refuses to time a debug build (a `cargo test` build in the wrong place, say).
pub fn check_release_build() -> Result<(), String> {
    if BIN.contains("/release/") {
        Ok(())
    } else {
        Err(format!(
            "{BIN} is not a release build; run the benchmark through `bash tests/bench.sh`"
        ))
    }
}

/// A tracker configuration for a test database: `sources` and `jobs` are complete
/// `[[sources]]`/`[[jobs]]` table bodies; `output` is a directory for the state files, the
/// Checkmk spool file and the Prometheus file.
pub struct TrackerConfig<'a> {
    pub poll: &'a str,
    pub batch: u32,
    pub source_timeout: &'a str,
    pub output: Option<&'a Path>,
    pub sources: &'a [String],
    pub jobs: &'a [String],
}

impl TrackerConfig<'_> {
    /// Writes the file `tracker.toml` into `dir`. Log level info: the debug level of the
    /// tests' configurations writes lines per batch that production does not pay for.
    pub fn write(&self, dir: &Path, db: &TestDb) -> Result<PathBuf, String> {
        let c = cluster();
        let mut text = format!(
            "[global]\npoll_interval = {}\nread_batch_size = {}\nsource_timeout = {}\n\
             log_level = \"info\"\n\n[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\n\
             dbname = {}\n\n",
            toml_str(self.poll),
            self.batch,
            toml_str(self.source_timeout),
            c.port,
            toml_str(&c.superuser),
            toml_str(&db.name)
        );
        if let Some(out) = self.output {
            text.push_str(&format!(
                "[output]\nstate_dir = {}\nspool_file = {}\nprometheus_file = {}\n\n",
                toml_str(&out.join("state").to_string_lossy()),
                toml_str(&out.join("600_jobmon.txt").to_string_lossy()),
                toml_str(&out.join("jobmon.prom").to_string_lossy()),
            ));
            let state = out.join("state");
            std::fs::create_dir_all(&state).map_err(|e| format!("{}: {e}", state.display()))?;
        }
        for s in self.sources {
            text.push_str("[[sources]]\n");
            text.push_str(s);
            text.push('\n');
        }
        for j in self.jobs {
            text.push_str("[[jobs]]\n");
            text.push_str(j);
            text.push('\n');
        }
        let path = dir.join("tracker.toml");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }
}

/// The body of a local source's `[[sources]]` table (deleting what it stored, the default).
pub fn local_source(name: &str, queue: &Path) -> String {
    format!(
        "name = {}\nlocal_queue = {}\ndelete_after_commit = true\n",
        toml_str(name),
        toml_str(&queue.to_string_lossy())
    )
}

/// Wall-clock and CPU seconds of one tracker process from its start to its exit.
#[derive(Clone, Copy, Default)]
pub struct Timing {
    pub wall: f64,
    /// The tracker process (all its threads).
    pub tracker_cpu: f64,
    /// Every PostgreSQL process (the tracker's backends, the WAL writer, the checkpointer).
    pub server_cpu: f64,
    /// The sshd serving the tracker and the reader programs it runs, for SSH sources.
    pub ssh_cpu: f64,
}

/// `jobmon-tracker run --once -c config`, timed from process start to exit; fails with its
/// log when it exits non-zero. `sshd_pid` adds that server's CPU to the figures.
pub fn run_once_timed(config: &Path, sshd_pid: Option<i32>) -> Result<Timing, String> {
    let pm = postmaster_pid()?;
    let server0 = tree_cpu(pm);
    let ssh0 = sshd_pid.map(tree_cpu).unwrap_or(0.0);
    let children0 = children_cpu();
    let t = Instant::now();
    let out = Command::new(BIN)
        .args(["run", "--once", "-c"])
        .arg(config)
        .env_remove("JOBMON_TRACKER_LOG")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {BIN}: {e}"))?;
    let wall = t.elapsed().as_secs_f64();
    let tracker_cpu = children_cpu() - children0;
    let server_cpu = tree_cpu(pm) - server0;
    let ssh_cpu = sshd_pid.map(tree_cpu).unwrap_or(0.0) - ssh0;
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        return Err(format!(
            "jobmon-tracker run --once exited with {}; its log ends with:\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(Timing {
        wall,
        tracker_cpu,
        server_cpu,
        ssh_cpu,
    })
}

/// The PostgreSQL postmaster of the benchmark's cluster.
pub fn postmaster_pid() -> Result<i32, String> {
    let path = cluster().data_dir.join("postmaster.pid");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("{}: no pid in {text:?}", path.display()))
}

/// CPU seconds used so far by the children this process has waited for (getrusage).
pub fn children_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass; a zeroed rusage is a valid value.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// CPU seconds of a process tree: each process's own time and that of its children it has
/// reaped. A process that ends moves its time into its parent's, so the difference of two
/// readings is the tree's CPU in between, including processes that came and went.
pub fn tree_cpu(root: i32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut parent_of: HashMap<i32, i32> = HashMap::new();
    let mut time_of: HashMap<i32, u64> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may contain spaces and parentheses; the fields after it do not.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // After the name: state, ppid, ..., utime (12th), stime, cutime, cstime.
        if let Some(ppid) = fields.get(1).and_then(|v| v.parse().ok()) {
            parent_of.insert(pid, ppid);
        }
        time_of.insert(pid, num(11) + num(12) + num(13) + num(14));
    }
    let mut total = 0u64;
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        total += time_of.get(&pid).copied().unwrap_or(0);
        stack.extend(
            parent_of
                .iter()
                .filter(|(_, &p)| p == pid)
                .map(|(&child, _)| child),
        );
    }
    total as f64 / ticks
}

/// Seconds with a unit, to one decimal place.
pub fn secs(v: f64) -> String {
    format!("{v:.1} s")
}

/// A rate with thousands separators: `123,456/s`.
pub fn per_sec(v: f64) -> String {
    format!("{}/s", thousands(v.round() as u64))
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
