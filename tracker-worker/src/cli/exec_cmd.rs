//! `jobmon-tracker exec`: runs a command as a tracked job. A start message goes into the
//! queue, the command runs with stdin and stdout passed through and stderr teed (its tail
//! kept for the error message), SIGTERM/SIGINT/SIGHUP are forwarded to it, and its end is
//! reported: the end keyword on exit 0, else the error keyword with the status and the tail
//! of stderr, then the end keyword. A message the queue does not take is appended to a
//! fallback file (JSON lines that `queue add -j` takes), or printed on stderr, never dropped.

use super::{note, ExecArgs};
use crate::queue::{NewMessage, Queue};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Bytes of the command's stderr kept for the error message.
pub const STDERR_TAIL: usize = 4096;
/// Bytes of the command line quoted in the start message.
const COMMAND_TEXT: usize = 512;
/// How long the tee waits for the stderr pipe to close after the command exited (a
/// background process it left may hold it open).
const DRAIN: Duration = Duration::from_secs(2);
/// Exit status when exec itself cannot work (an unreadable configuration), as env(1).
pub const EXIT_EXEC_FAILED: u8 = 125;
/// Exit status after --timeout expired, as timeout(1).
pub const EXIT_TIMEOUT: u8 = 124;

/// The child's pid once started (0 before), and a signal received before that.
static CHILD: AtomicI32 = AtomicI32::new(0);
static PENDING: AtomicI32 = AtomicI32::new(0);
/// The last signal forwarded, for the report.
static FORWARDED: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    // Only atomics and kill(2), both async-signal-safe.
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) on the pid of the child this process started.
        unsafe {
            libc::kill(pid, sig);
        }
        FORWARDED.store(sig, Ordering::SeqCst);
    } else {
        PENDING.store(sig, Ordering::SeqCst);
    }
}

fn install_forwarding() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction with a handler that only touches atomics and calls
        // kill(2); SA_RESTART keeps the blocking reads and waits of the threads going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as *const () as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {sig}"),
    };
    format!("{name} ({sig})")
}

fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The command line as text for the start message, bounded.
fn command_text(command: &[OsString]) -> String {
    let text = command
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.into_owned()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    truncate(&text, COMMAND_TEXT)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// The last [`STDERR_TAIL`] bytes of a stream, as whole lines where it was cut.
#[derive(Default)]
pub struct Tail {
    bytes: VecDeque<u8>,
    cut: bool,
}

impl Tail {
    pub fn push(&mut self, data: &[u8]) {
        let data = if data.len() > STDERR_TAIL {
            self.cut = true;
            &data[data.len() - STDERR_TAIL..]
        } else {
            data
        };
        let over = (self.bytes.len() + data.len()).saturating_sub(STDERR_TAIL);
        if over > 0 {
            self.cut = true;
            self.bytes.drain(..over);
        }
        self.bytes.extend(data);
    }

    /// The kept text: lossy UTF-8, without a partial first line when the start was cut,
    /// without trailing newlines.
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = self.bytes.iter().copied().collect();
        let mut start = 0;
        if self.cut {
            if let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
                if nl + 1 < bytes.len() {
                    start = nl + 1;
                }
            }
        }
        String::from_utf8_lossy(&bytes[start..])
            .trim_end_matches(['\n', '\r'])
            .to_owned()
    }
}

/// Where messages go.
struct Reporter {
    queue: PathBuf,
    instance: String,
    job: String,
    /// The fallback file used so far, if any.
    fallback: Option<PathBuf>,
}

impl Reporter {
    fn send(&mut self, event: &str, message: String) {
        let msg = NewMessage {
            instance: Some(self.instance.clone()),
            job: Some(self.job.clone()),
            event: Some(event.to_owned()),
            message: Some(message),
        };
        let err = match Queue::open_or_create(&self.queue).and_then(|q| q.add(&msg)) {
            Ok(_) => return,
            Err(e) => e,
        };
        let line = serde_json::json!({
            "instance": msg.instance,
            "job": msg.job,
            "event": msg.event,
            "message": msg.message,
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        })
        .to_string();
        match self.spool(&line) {
            Some(file) => note(&format!(
                "jobmon-tracker exec: {err}; the {event} message was appended to {} instead \
                 (replay: jobmon-tracker queue -f {} add -j LINE)",
                file.display(),
                self.queue.display()
            )),
            None => note(&format!(
                "jobmon-tracker exec: {err}; no fallback file was writable either, the {event} \
                 message is this line (replay: jobmon-tracker queue -f {} add -j LINE):\n{line}",
                self.queue.display()
            )),
        }
    }

    /// Appends `line` to the first writable fallback; the one it went to.
    fn spool(&mut self, line: &str) -> Option<PathBuf> {
        let candidates = self
            .fallback
            .clone()
            .into_iter()
            .chain(fallback_paths(&self.queue));
        for path in candidates {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path);
            let written = file.and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
            if written.is_ok() {
                self.fallback = Some(path.clone());
                return Some(path);
            }
        }
        None
    }
}

/// The fallback files in the order tried: next to the queue, then in $XDG_RUNTIME_DIR,
/// $TMPDIR and /tmp (the name there carries the uid).
pub fn fallback_paths(queue: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut beside = queue.as_os_str().to_owned();
    beside.push(".unsent.jsonl");
    paths.push(PathBuf::from(beside));
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let name = format!("jobmon-tracker-exec-unsent-{uid}.jsonl");
    for var in ["XDG_RUNTIME_DIR", "TMPDIR"] {
        if let Some(dir) = std::env::var_os(var).filter(|d| !d.is_empty()) {
            paths.push(Path::new(&dir).join(&name));
        }
    }
    paths.push(Path::new("/tmp").join(&name));
    paths
}

/// How the command ended.
enum Outcome {
    /// It did not run (or was lost track of): exit status and why.
    Failed {
        code: u8,
        why: String,
    },
    Exited(ExitStatus),
}

/// Everything the end messages say.
struct Ended {
    outcome: Outcome,
    tail: Tail,
    /// What --timeout did, if it expired.
    timed_out: Option<&'static str>,
    took: Duration,
}

pub fn run(args: ExecArgs) -> u8 {
    let keywords = match keywords(&args) {
        Ok(k) => k,
        Err(code) => return code,
    };
    install_forwarding();
    let mut reporter = Reporter {
        queue: args.queue.clone(),
        instance: args.env.clone(),
        job: args.job.clone(),
        fallback: None,
    };
    let pid = std::process::id();
    reporter.send(
        &keywords.start_keyword,
        format!("exec pid {pid}: {}", command_text(&args.command)),
    );
    let ended = execute(&args);
    let took = seconds(ended.took);
    let (code, error) = verdict(&ended, args.timeout);
    match error {
        None => reporter.send(&keywords.end_keyword, format!("exit status 0 after {took}")),
        Some(error) => {
            reporter.send(&keywords.error_keyword, error);
            reporter.send(
                &keywords.end_keyword,
                format!("end of the failed run: exit {code} after {took}"),
            );
        }
    }
    code
}

/// The keywords of the -c configuration, or the defaults; the exit status if it is unusable.
fn keywords(args: &ExecArgs) -> Result<tracker_core::model::Global, u8> {
    let Some(path) = &args.config else {
        return Ok(tracker_core::model::Global::default());
    };
    crate::config::load(path)
        .map(|loaded| loaded.config.global)
        .map_err(|e| {
            note(&format!(
                "jobmon-tracker exec: {e}; the command was not run (fix the configuration \
                 or leave -c out for the default keywords)"
            ));
            EXIT_EXEC_FAILED
        })
}

/// The exit status of exec and, unless the run succeeded, the error message.
fn verdict(ended: &Ended, timeout: Option<Duration>) -> (u8, Option<String>) {
    let took = seconds(ended.took);
    let forwarded = match FORWARDED.load(Ordering::SeqCst) {
        0 => String::new(),
        sig => format!(" (exec forwarded {} to it)", signal_name(sig)),
    };
    let timeout_text = match (ended.timed_out, timeout) {
        (Some(how), Some(limit)) => format!(
            "timeout: still running after {}, {how}; ",
            humantime::format_duration(limit)
        ),
        _ => String::new(),
    };
    let (code, error) = match &ended.outcome {
        Outcome::Failed { code, why } => (*code, why.clone()),
        Outcome::Exited(status) => match (status.code(), status.signal()) {
            (Some(0), _) if ended.timed_out.is_none() => return (0, None),
            (Some(c), _) => (
                c as u8,
                format!("{timeout_text}exit status {c} after {took}{forwarded}"),
            ),
            (None, Some(sig)) => (
                (128 + sig) as u8,
                format!(
                    "{timeout_text}killed by {} after {took}{forwarded}",
                    signal_name(sig)
                ),
            ),
            (None, None) => (1, format!("ended with {status} after {took}")),
        },
    };
    let code = if ended.timed_out.is_some() {
        EXIT_TIMEOUT
    } else {
        code
    };
    let tail = ended.tail.text();
    if tail.is_empty() {
        (code, Some(error))
    } else {
        (code, Some(format!("{error}; stderr (last lines):\n{tail}")))
    }
}

/// Starts the command and waits for it (bounded by --timeout), teeing its stderr.
fn execute(args: &ExecArgs) -> Ended {
    let started = Instant::now();
    let failed = |code, why| Ended {
        outcome: Outcome::Failed { code, why },
        tail: Tail::default(),
        timed_out: None,
        took: started.elapsed(),
    };
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        let why = format!(
            "not started: exec received {} before starting the command",
            signal_name(pending)
        );
        return failed((128 + pending) as u8, why);
    }
    let mut child = match spawn(&args.command) {
        Ok(child) => child,
        Err((code, why)) => return failed(code, why),
    };
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::SeqCst);
    let late = PENDING.swap(0, Ordering::SeqCst);
    if late != 0 {
        // SAFETY: kill(2) on our child's pid, not yet reaped.
        unsafe {
            libc::kill(pid, late);
        }
        FORWARDED.store(late, Ordering::SeqCst);
    }
    let tee = child.stderr.take().map(tee_stderr);
    let (status_tx, status_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });
    let (status, timed_out) = wait_bounded(pid, &status_rx, args.timeout, args.kill_after);
    CHILD.store(0, Ordering::SeqCst);
    let took = started.elapsed();
    let tail = match tee {
        Some((shared, done)) => {
            // The tee's last bytes: until the pipe closes, or DRAIN passes.
            let _ = done.recv_timeout(DRAIN);
            shared
                .lock()
                .map(|mut t| std::mem::take(&mut *t))
                .unwrap_or_default()
        }
        None => Tail::default(),
    };
    let outcome = match status {
        Some(Ok(status)) => Outcome::Exited(status),
        Some(Err(e)) => Outcome::Failed {
            code: 1,
            why: format!("cannot wait for the command: {e}"),
        },
        None => Outcome::Failed {
            code: 1,
            why: "lost track of the command".into(),
        },
    };
    Ended {
        outcome,
        tail,
        timed_out,
        took,
    }
}

/// Starts the command directly (no shell); on failure the shell's exit status and why.
fn spawn(command: &[OsString]) -> Result<std::process::Child, (u8, String)> {
    let program = &command[0];
    Command::new(program)
        .args(&command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let (code, what) = match e.kind() {
                io::ErrorKind::NotFound => (127, "command not found"),
                _ => (126, "command cannot be executed"),
            };
            let path = std::env::var("PATH").unwrap_or_else(|_| "(PATH not set)".into());
            let why = format!(
                "cannot start {}: {what} ({e}; PATH={path})",
                program.to_string_lossy()
            );
            note(&format!("jobmon-tracker exec: {why}"));
            (code, why)
        })
}

type SharedTail = std::sync::Arc<std::sync::Mutex<Tail>>;

/// Copies the command's stderr to ours and into a [`Tail`]; the receiver hears when the
/// pipe closed.
fn tee_stderr(mut stderr: std::process::ChildStderr) -> (SharedTail, mpsc::Receiver<()>) {
    let shared = SharedTail::default();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let teed = std::sync::Arc::clone(&shared);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut out = io::stderr();
        loop {
            match stderr.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // Our own stderr may be gone (a closed pipe); the tail is still kept.
                    let _ = out.write_all(&buf[..n]);
                    if let Ok(mut tail) = teed.lock() {
                        tail.push(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        let _ = done_tx.send(());
    });
    (shared, done_rx)
}

type WaitResult = Option<io::Result<ExitStatus>>;

/// The child's status from the waiting thread; after `timeout` SIGTERM, after `grace`
/// more SIGKILL. Also what was done when the timeout expired.
fn wait_bounded(
    pid: i32,
    status: &mpsc::Receiver<io::Result<ExitStatus>>,
    timeout: Option<Duration>,
    grace: Duration,
) -> (WaitResult, Option<&'static str>) {
    let Some(limit) = timeout else {
        return (status.recv().ok(), None);
    };
    if let Ok(s) = status.recv_timeout(limit) {
        return (Some(s), None);
    }
    // SAFETY: kill(2) on our child's pid; the waiting thread has not reported it reaped.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    if let Ok(s) = status.recv_timeout(grace) {
        return (Some(s), Some("sent SIGTERM"));
    }
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    (
        status.recv().ok(),
        Some("sent SIGTERM, then SIGKILL after the grace period"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_whole_lines_within_the_bound() {
        let mut tail = Tail::default();
        for i in 0..2000 {
            tail.push(format!("line {i}\n").as_bytes());
        }
        let text = tail.text();
        assert!(text.len() <= STDERR_TAIL, "{}", text.len());
        assert!(text.starts_with("line "), "{text}");
        assert!(text.ends_with("line 1999"), "{text}");
        let mut small = Tail::default();
        small.push(b"only\n");
        assert_eq!(small.text(), "only");
    }

    #[test]
    fn the_command_text_quotes_what_a_shell_would_split() {
        let cmd: Vec<OsString> = ["backup", "--to", "a b", "it's"].map(OsString::from).into();
        assert_eq!(command_text(&cmd), "backup --to 'a b' 'it'\\''s'");
    }
}
