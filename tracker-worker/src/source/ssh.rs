//! A queue file on a source host, read over SSH. The tracker runs a reader program there on
//! an exec channel: the stock `sqlite3` shell (SQL on stdin, see [`sqlite3`]) or
//! `jobmon-tracker queue read/ack` (JSON lines). Host keys are checked before anything is
//! sent ([`hostkey`]); configured paths reach the remote program verbatim ([`quote`]).
//!
//! The connection is opened on first use, kept for later calls, and dropped after any
//! error so the next call starts afresh. A channel that cannot be opened on a kept
//! connection (the server closed it while idle) is retried once on a new one: nothing ran.

mod hostkey;
mod quote;
mod session;
mod sqlite3;

use super::{QueueSource, SourceError, Window};
use crate::config::{Reader, SshSource};
use crate::queue::QueueRow;
use session::{host_label, Connection, Output};
use std::time::{Duration, Instant};

/// Stderr shown in errors is cut to this many bytes.
const STDERR_SHOWN: usize = 2000;

pub struct SshQueue {
    config: SshSource,
    timeout: Duration,
    connection: Option<Connection>,
}

impl SshQueue {
    /// A reader of `config`'s queue; `timeout` bounds connecting and every wait for the
    /// network. Nothing is connected until the first call.
    pub fn new(config: SshSource, timeout: Duration) -> Self {
        SshQueue {
            config,
            timeout,
            connection: None,
        }
    }

    fn host(&self) -> String {
        host_label(&self.config)
    }

    fn queue_error(&self, problem: String) -> SourceError {
        SourceError::RemoteQueue {
            host: self.host(),
            path: self.config.queue.clone(),
            problem,
        }
    }

    /// The reader program as a quoted shell word.
    fn program(&self) -> Result<String, SourceError> {
        let default = match self.config.reader {
            Reader::Sqlite3 => "sqlite3",
            Reader::JobmonTracker => "jobmon-tracker",
        };
        let program = self.config.reader_command.as_deref().unwrap_or(default);
        quote::shell_quote(program).map_err(|e| SourceError::Remote {
            host: self.host(),
            command: program.escape_debug().to_string(),
            status: -1,
            stderr: format!("reader_command {e}"),
        })
    }

    /// `sqlite3 -batch -bail -init /dev/null 'file:///path?mode=rw'`: no ~/.sqliterc, stop at
    /// the first error, never create the file.
    fn sqlite3_command(&self) -> Result<String, SourceError> {
        let uri = quote::sqlite_uri(&self.config.queue)
            .and_then(|uri| quote::shell_quote(&uri))
            .map_err(|e| self.queue_error(format!("the path {e}")))?;
        Ok(format!(
            "{} -batch -bail -init /dev/null {uri}",
            self.program()?
        ))
    }

    /// `jobmon-tracker queue '--file=PATH' <args>`; `--file=` keeps a path starting with
    /// `-` from being read as an option.
    fn tracker_command(&self, args: &str) -> Result<String, SourceError> {
        let file = quote::shell_quote(&format!("--file={}", self.config.queue))
            .map_err(|e| self.queue_error(format!("the path {e}")))?;
        Ok(format!("{} queue {file} {args}", self.program()?))
    }

    /// Runs `command` with `stdin` on the source host, connecting first when needed.
    fn exec(&mut self, command: &str, stdin: &[u8]) -> Result<Output, SourceError> {
        let started = Instant::now();
        let reused = self.connection.is_some();
        let connection = match self.connection.take() {
            Some(c) => c,
            None => Connection::open(&self.config, self.timeout)?,
        };
        let (connection, channel) = match connection.open_channel(command) {
            Ok(channel) => (connection, channel),
            // A timeout means a silent host, not a closed connection: do not wait twice.
            Err(e) if reused && !matches!(e, SourceError::Timeout { .. }) => {
                tracing::debug!(host = %self.host(), error = %e, "kept SSH connection unusable; reconnecting");
                drop(connection);
                let fresh = Connection::open(&self.config, self.timeout)?;
                let channel = fresh.open_channel(command)?;
                (fresh, channel)
            }
            Err(e) => return Err(e),
        };
        let output = connection.run(channel, stdin)?;
        self.connection = Some(connection);
        tracing::debug!(
            host = %self.host(),
            command,
            status = output.status,
            stdout_bytes = output.stdout.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ran the queue reader"
        );
        Ok(output)
    }

    /// Turns a failed command into the most specific error its stderr allows.
    fn failure(&self, command: &str, output: &Output) -> SourceError {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        // Both readers' wordings: the sqlite3 shell's and jobmon-tracker's QueueError.
        let known = [
            (
                "unable to open database",
                "does not exist or cannot be opened (check the path and the user's permissions)",
            ),
            ("does not exist", "does not exist"),
            ("file is not a database", "not a SQLite database"),
            ("not a SQLite database", "not a SQLite database"),
            (
                "no such table: messages",
                "SQLite database without a `messages` table, not a job queue",
            ),
            (
                "without a `messages` table",
                "SQLite database without a `messages` table, not a job queue",
            ),
            (
                "database is locked",
                "still locked by another process after 5 s",
            ),
            ("still locked", "still locked by another process after 5 s"),
        ];
        if output.status != 0 {
            if let Some((_, problem)) = known.iter().find(|(pattern, _)| stderr.contains(pattern)) {
                return self.queue_error(format!("{problem} ({})", cap(stderr)));
            }
        }
        let mut shown = cap(stderr);
        if let Some(signal) = &output.signal {
            shown = format!("killed by signal {signal}; {shown}");
        }
        SourceError::Remote {
            host: self.host(),
            command: command.to_owned(),
            status: output.status,
            stderr: shown,
        }
    }

    /// Runs a reader command and hands back its stdout if it succeeded.
    fn run_reader(&mut self, command: &str, stdin: &[u8]) -> Result<Vec<u8>, SourceError> {
        let output = self.exec(command, stdin)?;
        if output.status != 0 || output.signal.is_some() {
            return Err(self.failure(command, &output));
        }
        Ok(output.stdout)
    }

    fn protocol(&self, message: String) -> SourceError {
        SourceError::Protocol {
            host: self.host(),
            message,
        }
    }

    fn read_sqlite3(&mut self, from: Option<i64>, limit: u64) -> Result<Window, SourceError> {
        let command = self.sqlite3_command()?;
        let script = sqlite3::read_script(from, limit);
        let stdout = self.run_reader(&command, script.as_bytes())?;
        sqlite3::parse_read(&stdout, from, limit).map_err(|m| self.protocol(m))
    }

    fn read_tracker(&mut self, from: Option<i64>, limit: u64) -> Result<Window, SourceError> {
        // `read --after A` prints ids above A. Without a start, i64::MIN: every id but
        // i64::MIN itself, which no SQLite rowid allocation ever produces.
        let after = from.map_or(i64::MIN, |f| f.saturating_sub(1));
        let command =
            self.tracker_command(&format!("read --after={after} --limit={limit} --with-min"))?;
        let stdout = self.run_reader(&command, b"")?;
        parse_tracker_read(&stdout, from, limit).map_err(|m| self.protocol(m))
    }

    fn ack_sqlite3(&mut self, last: &QueueRow) -> Result<bool, SourceError> {
        let command = self.sqlite3_command()?;
        let script = sqlite3::ack_script(last);
        let stdout = self.run_reader(&command, script.as_bytes())?;
        sqlite3::parse_ack(&stdout).map_err(|m| self.protocol(m))
    }

    fn ack_tracker(&mut self, last: &QueueRow) -> Result<bool, SourceError> {
        let command = self.tracker_command(&format!(
            "ack --through={} --fingerprint={:016x}",
            last.id,
            last.fingerprint()
        ))?;
        let stdout = self.run_reader(&command, b"")?;
        let text = String::from_utf8_lossy(&stdout);
        match text.trim() {
            "changed" => Ok(false),
            n => n
                .parse::<u64>()
                .map(|deleted| deleted > 0)
                .map_err(|_| self.protocol(format!("`ack` printed {:?}", cap(n)))),
        }
    }

    /// Runs `f`; any error drops the connection so the next call reconnects.
    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let result = f(self);
        if result.is_err() {
            self.connection = None;
        }
        result
    }
}

impl QueueSource for SshQueue {
    fn read_window(&mut self, from: Option<i64>, limit: u64) -> Result<Window, SourceError> {
        self.guarded(|s| match s.config.reader {
            Reader::Sqlite3 => s.read_sqlite3(from, limit),
            Reader::JobmonTracker => s.read_tracker(from, limit),
        })
    }

    fn ack_through(&mut self, last: &QueueRow) -> Result<bool, SourceError> {
        self.guarded(|s| match s.config.reader {
            Reader::Sqlite3 => s.ack_sqlite3(last),
            Reader::JobmonTracker => s.ack_tracker(last),
        })
    }
}

/// Parses `queue read --with-min` output: `{"min_id":N|null}`, then one row per line.
fn parse_tracker_read(out: &[u8], from: Option<i64>, limit: u64) -> Result<Window, String> {
    let text = std::str::from_utf8(out).map_err(|e| format!("output is not UTF-8: {e}"))?;
    let mut lines = text.lines();
    let first = lines.next().ok_or("no output at all")?;
    let header: serde_json::Value =
        serde_json::from_str(first).map_err(|e| format!("bad first line {:?}: {e}", cap(first)))?;
    let min_id = match header.get("min_id") {
        Some(serde_json::Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| format!("bad min_id in {:?}", cap(first)))?,
        ),
        None => return Err(format!("expected {{\"min_id\":...}}, got {:?}", cap(first))),
    };
    let mut rows: Vec<QueueRow> = Vec::new();
    for line in lines {
        let row = QueueRow::from_json_line(line)
            .map_err(|e| format!("bad row line {:?}: {e}", cap(line)))?;
        if from.is_some_and(|f| row.id < f) || rows.last().is_some_and(|r| r.id >= row.id) {
            return Err(format!(
                "row {} out of order or below the requested start",
                row.id
            ));
        }
        rows.push(row);
    }
    if rows.len() as u64 > limit {
        return Err(format!(
            "{} rows where at most {limit} were asked for",
            rows.len()
        ));
    }
    Ok(Window { min_id, rows })
}

/// `text` cut to [`STDERR_SHOWN`] bytes (on a character boundary).
fn cap(text: &str) -> String {
    if text.len() <= STDERR_SHOWN {
        return text.to_owned();
    }
    let mut end = STDERR_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} more bytes)", &text[..end], text.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostKeyPolicy;
    use crate::queue::SqlValue;

    fn config(queue: &str, reader: Reader, reader_command: Option<&str>) -> SshSource {
        SshSource {
            address: "db1".into(),
            port: 22,
            user: "u".into(),
            key: None,
            known_hosts: None,
            host_key_policy: HostKeyPolicy::Strict,
            queue: queue.into(),
            reader,
            reader_command: reader_command.map(str::to_owned),
        }
    }

    #[test]
    fn commands_quote_every_configured_string() {
        let q = SshQueue::new(
            config(
                "/tmp/x'; touch /tmp/pwned; echo '.sqlite",
                Reader::Sqlite3,
                None,
            ),
            Duration::from_secs(1),
        );
        assert_eq!(
            q.sqlite3_command().unwrap(),
            "'sqlite3' -batch -bail -init /dev/null \
             'file:///tmp/x%27%3B%20touch%20/tmp/pwned%3B%20echo%20%27.sqlite?mode=rw'"
        );
        let q = SshQueue::new(
            config(
                "$(touch /tmp/pwned)",
                Reader::JobmonTracker,
                Some("/opt/my bin/jt"),
            ),
            Duration::from_secs(1),
        );
        assert_eq!(
            q.tracker_command("read --after=0").unwrap(),
            "'/opt/my bin/jt' queue '--file=$(touch /tmp/pwned)' read --after=0"
        );
    }

    #[test]
    fn nul_in_a_path_is_refused_before_anything_runs() {
        let mut q = SshQueue::new(
            config("/tmp/a\0b", Reader::Sqlite3, None),
            Duration::from_secs(1),
        );
        // Refused while building the command, so no connection is even attempted
        // (the host `db1` does not exist).
        match q.read_window(None, 10) {
            Err(SourceError::RemoteQueue { problem, .. }) => assert!(problem.contains("NUL")),
            other => panic!("{other:?}"),
        }
        let mut q = SshQueue::new(
            config("/tmp/q", Reader::JobmonTracker, Some("jt\0x")),
            Duration::from_secs(1),
        );
        assert!(matches!(
            q.read_window(None, 10),
            Err(SourceError::Remote { .. })
        ));
    }

    #[test]
    fn tracker_read_output_is_parsed() {
        let row = QueueRow {
            id: 7,
            timestamp: SqlValue::Real(2457571.5),
            instance: SqlValue::Text("P".into()),
            job: SqlValue::InvalidText(vec![0xff]),
            event: SqlValue::Null,
            message: SqlValue::Blob(vec![0, 1]),
        };
        let out = format!("{{\"min_id\":3}}\n{}\n", row.to_json_line());
        let w = parse_tracker_read(out.as_bytes(), Some(7), 1).unwrap();
        assert_eq!(w.min_id, Some(3));
        assert_eq!(w.rows, vec![row.clone()]);
        assert_eq!(
            parse_tracker_read(b"{\"min_id\":null}\n", None, 5).unwrap(),
            Window::default()
        );
        assert!(parse_tracker_read(out.as_bytes(), Some(8), 1).is_err());
        assert!(parse_tracker_read(out.as_bytes(), None, 0).is_err());
        assert!(parse_tracker_read(b"", None, 5).is_err());
        assert!(parse_tracker_read(b"[]\n", None, 5).is_err());
    }

    #[test]
    fn long_stderr_is_capped_on_a_character_boundary() {
        let long = "\u{e9}".repeat(STDERR_SHOWN);
        let capped = cap(&long);
        assert!(capped.len() < STDERR_SHOWN + 40, "{}", capped.len());
        assert!(capped.ends_with("more bytes)"));
    }
}
