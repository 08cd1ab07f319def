//! Sends Checkmk Event Console messages, one per state change, through a persistent outbox.
//!
//! **What is a change.** A service's state (OK, WARNING, CRITICAL, UNKNOWN) differs from
//! the last one recorded for it, or its reason differs while the state is not OK: ERROR
//! followed by TIMEOUT is news, RUNNING followed by OK is not. A service seen for the first
//! time is news only if it is not OK. A service no longer reported is forgotten without an
//! event; if it comes back it is seen for the first time again.
//!
//! **The outbox** is a SQLite file (WAL journal, `synchronous = FULL`: every commit is on
//! disk when it returns) with two tables: the last state and reason recorded per service,
//! and the messages not yet delivered, in order. [`Outbox::record`] compares a round of
//! reports with the recorded states and, in one transaction, queues a message per change
//! and records the new states; [`Outbox::deliver`] sends the queued messages in order and
//! deletes each one, in its own commit, once it has been written.
//!
//! **No duplicates.** A change is queued exactly once: the state it was compared with and
//! the message commit together, so after a restart the same reports find the state already
//! recorded and queue nothing. A queued message is sent until its deletion commits; the only
//! possible duplicate is the one message that was written but whose deletion had not
//! committed when the process died (or, on a stream, a message cut short by a write timeout,
//! which the Event Console takes as complete when the connection closes).
//!
//! **A target that is down** (no listener, no reader on the pipe, a full pipe, a refused
//! port) makes `deliver` stop at the first message it cannot write and return the error;
//! that message and the ones after it stay queued and go out, in order, on a later call.
//! The outbox holds at most [`OUTBOX_CAP`] messages: beyond that the oldest are dropped
//! (logged as a warning), since an Event Console that has missed that much is better
//! served by the recent changes.
//!
//! **Framing per transport**, as mkeventd reads them (`cmk/ec/main.py`, `EventServer.serve`
//! and `process_raw_lines`; `cmk/ec/syslog.py`, `forward_to_unix_socket`):
//! - `unix`: a stream connection; each message followed by `\n` (what Checkmk's own
//!   forwarder writes). mkeventd splits the stream at newlines.
//! - `pipe`: the FIFO opened write-only and non-blocking (no reader: `ENXIO`, the target is
//!   down rather than a hang; full: `EAGAIN`, the rest stays queued); each message and its
//!   `\n` in one `write(2)` of at most `PIPE_BUF` bytes, so that writers never interleave.
//!   A longer message is cut at a character boundary. A path that is not a FIFO is refused
//!   and never written to (nor created).
//! - `udp`: one datagram per message, no newline, cut to 4096 bytes (mkeventd reads
//!   datagrams with `recvfrom(4096)`). The socket is connected and starts with an empty
//!   datagram (to mkeventd, no line at all): a refusal the host reports (ICMP port
//!   unreachable) shows up as an error within [`UDP_PROBE_WAIT`] and counts as down.
//!   Past that, UDP confirms nothing.
//! - `tcp`: newline-terminated messages (RFC 6587 "non-transparent framing"), not octet
//!   counting: mkeventd hands its syslog TCP connections to the same code as its Unix
//!   socket connections, which splits at `\n`; a `<length> ` prefix would become part of
//!   the message text and break the parse of the RFC 5424 header.
//!
//! On streams, a connection the Event Console has closed is noticed before the next write
//! (mkeventd never writes back, so a readable connection means end of file), not only when
//! a write fails. Connect and write are bounded by the `timeout` given to `deliver`.

use super::{ec_message, EcFormat, Report};
use crate::config::EcTarget;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracker_core::rules::{Evaluation, State};

/// Most messages the outbox keeps; the oldest beyond it are dropped.
pub const OUTBOX_CAP: u64 = 100_000;

/// The size up to which a write to a pipe is atomic on Linux (POSIX: at least 512).
pub const PIPE_BUF: usize = 4096;

/// mkeventd reads a syslog datagram with `recvfrom(4096)`; the rest would be cut anyway.
const UDP_MAX: usize = 4096;

/// How long a UDP target gets to refuse the probe datagram.
pub const UDP_PROBE_WAIT: Duration = Duration::from_millis(100);

/// Waiting for a lock held by another connection to the same file (`sqlite3` in a shell).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA user_version` of the tables below; a higher one is a newer tracker's file.
const SCHEMA_VERSION: i64 = 1;

/// Messages read per query while delivering.
const BATCH: i64 = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ec_recorded(
  service TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  reason TEXT NOT NULL,
  changed_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ec_pending(
  id INTEGER PRIMARY KEY,
  service TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  message TEXT NOT NULL);
";
const RECORDED: &str = "SELECT service, state, reason FROM ec_recorded";
const UPSERT: &str = "INSERT INTO ec_recorded(service, state, reason, changed_at)
  VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT(service) DO UPDATE SET state = ?2, reason = ?3, changed_at = ?4";
const FORGET: &str = "DELETE FROM ec_recorded WHERE service = ?1";
const ENQUEUE: &str = "INSERT INTO ec_pending(service, queued_at, message) VALUES (?1, ?2, ?3)";
const COUNT: &str = "SELECT count(*) FROM ec_pending";
const DROP_OLDEST: &str =
    "DELETE FROM ec_pending WHERE id IN (SELECT id FROM ec_pending ORDER BY id LIMIT ?1)";
const NEXT: &str = "SELECT id, message FROM ec_pending ORDER BY id LIMIT ?1";
const SENT: &str = "DELETE FROM ec_pending WHERE id = ?1";

/// Why the outbox could not be used or a message not sent; names the file or the target.
#[derive(Debug, thiserror::Error)]
pub enum EcError {
    #[error("{}: Event Console outbox: {source}", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{}: Event Console outbox of format version {found}; this tracker knows version {SCHEMA_VERSION} (written by a newer jobmon-tracker?)", path.display())]
    Version { path: PathBuf, found: i64 },
    #[error(
        "Event Console {target}: cannot {action}: {source} ({sent} sent, the rest stay queued)"
    )]
    Target {
        target: EcTarget,
        action: &'static str,
        /// Messages sent (and deleted from the outbox) before the failure.
        sent: usize,
        #[source]
        source: io::Error,
    },
    #[error("Event Console {target}: {} is not a named pipe (FIFO); refusing to write to it", path.display())]
    NotAFifo { target: EcTarget, path: PathBuf },
}

/// The persistent record of states sent and messages still to send.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
    cap: u64,
}

impl Outbox {
    /// Opens or creates the outbox file (SQLite in WAL mode, every commit synced to disk).
    pub fn open(path: &Path) -> Result<Outbox, EcError> {
        let wrap = |source| EcError::Outbox {
            path: path.to_owned(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(wrap)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(wrap)?;
        // WAL: a commit is one append and one fsync; where WAL is impossible SQLite keeps
        // its rollback journal, which is as safe, only slower.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(wrap)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(wrap)?;
        if found > SCHEMA_VERSION {
            return Err(EcError::Version {
                path: path.to_owned(),
                found,
            });
        }
        conn.execute_batch(SCHEMA).map_err(wrap)?;
        if found < SCHEMA_VERSION {
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(wrap)?;
        }
        Ok(Outbox {
            conn,
            path: path.to_owned(),
            cap: OUTBOX_CAP,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, source: rusqlite::Error) -> EcError {
        EcError::Outbox {
            path: self.path.clone(),
            source,
        }
    }

    /// Compares each report with the last state recorded for its service and, in one
    /// transaction, queues one message (`ec_message(format, &job.service, eval, now)`) per
    /// change and records the new states. Returns how many messages were queued. Services
    /// no longer in `reports` are forgotten (no event).
    pub fn record(
        &mut self,
        reports: &[Report],
        format: &EcFormat,
        now: DateTime<Utc>,
    ) -> Result<usize, EcError> {
        let cap = self.cap;
        let run = |conn: &mut Connection| -> rusqlite::Result<(usize, u64)> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut recorded: HashMap<String, (String, String)> = HashMap::new();
            {
                let mut stmt = tx.prepare(RECORDED)?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
                for row in rows {
                    let (service, last) = row?;
                    recorded.insert(service, last);
                }
            }
            let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
            let mut seen: HashSet<&str> = HashSet::with_capacity(reports.len());
            let mut queued = 0;
            {
                let mut upsert = tx.prepare_cached(UPSERT)?;
                let mut enqueue = tx.prepare_cached(ENQUEUE)?;
                for (job, eval) in reports {
                    // Service names are unique by configuration; should two reports share
                    // one anyway, the first speaks for it.
                    if !seen.insert(job.service.as_str()) {
                        continue;
                    }
                    let last = recorded
                        .get(&job.service)
                        .map(|(s, r)| (s.as_str(), r.as_str()));
                    if is_news(last, eval) {
                        let message = ec_message(format, &job.service, eval, now);
                        enqueue.execute(params![job.service, stamp, message])?;
                        queued += 1;
                    }
                    let current = (eval.state.as_str(), eval.reason.as_str());
                    if last != Some(current) {
                        upsert.execute(params![job.service, current.0, current.1, stamp])?;
                    }
                }
            }
            {
                let mut forget = tx.prepare_cached(FORGET)?;
                for service in recorded.keys().filter(|s| !seen.contains(s.as_str())) {
                    forget.execute([service])?;
                }
            }
            let pending: i64 = tx.query_row(COUNT, [], |r| r.get(0))?;
            let excess = u64::try_from(pending).unwrap_or(0).saturating_sub(cap);
            if excess > 0 {
                tx.execute(DROP_OLDEST, [i64::try_from(excess).unwrap_or(i64::MAX)])?;
            }
            tx.commit()?;
            Ok((queued, excess))
        };
        let (queued, dropped) = run(&mut self.conn).map_err(|e| self.error(e))?;
        if dropped > 0 {
            tracing::warn!(
                outbox = %self.path.display(),
                dropped,
                cap,
                "Event Console outbox full: dropped the {dropped} oldest undelivered message(s); the Event Console misses those changes"
            );
        }
        Ok(queued)
    }

    /// Sends the queued messages in order; each is deleted once written. Stops at the
    /// first failure and returns it, with the messages not sent still queued (they go out
    /// on a later call). `Ok(n)`: `n` sent. Nothing queued: no connection is made.
    pub fn deliver(&mut self, target: &EcTarget, timeout: Duration) -> Result<usize, EcError> {
        let timeout = timeout.max(Duration::from_millis(1));
        let mut sent = 0;
        let mut link: Option<Link> = None;
        loop {
            let batch = self.next_batch()?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for (id, message) in batch {
                let out = match &mut link {
                    Some(out) => out,
                    None => link.insert(
                        Link::open(target, timeout).map_err(|f| f.into_error(target, sent))?,
                    ),
                };
                out.send(&message).map_err(|f| f.into_error(target, sent))?;
                self.conn.execute(SENT, [id]).map_err(|e| self.error(e))?;
                sent += 1;
            }
        }
    }

    fn next_batch(&self) -> Result<Vec<(i64, String)>, EcError> {
        let read = || -> rusqlite::Result<Vec<(i64, String)>> {
            let mut stmt = self.conn.prepare_cached(NEXT)?;
            let rows = stmt.query_map([BATCH], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        read().map_err(|e| self.error(e))
    }

    /// Messages waiting.
    pub fn pending(&self) -> Result<u64, EcError> {
        let n: i64 = self
            .conn
            .query_row(COUNT, [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Whether `eval` is news given the last `(state, reason)` recorded for its service.
fn is_news(last: Option<(&str, &str)>, eval: &Evaluation) -> bool {
    match last {
        None => eval.state != State::Ok,
        Some((state, reason)) => {
            state != eval.state.as_str()
                || (eval.state != State::Ok && reason != eval.reason.as_str())
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What went wrong on the way to the target, before it is tied to a target and a count.
enum Failure {
    Io {
        action: &'static str,
        source: io::Error,
    },
    NotAFifo(PathBuf),
}

impl Failure {
    fn io(action: &'static str) -> impl FnOnce(io::Error) -> Failure {
        move |source| Failure::Io { action, source }
    }

    fn into_error(self, target: &EcTarget, sent: usize) -> EcError {
        match self {
            Failure::Io { action, source } => EcError::Target {
                target: target.clone(),
                action,
                sent,
                source,
            },
            Failure::NotAFifo(path) => EcError::NotAFifo {
                target: target.clone(),
                path,
            },
        }
    }
}

/// An open way to the Event Console, for one `deliver` call.
enum Link {
    Unix(UnixStream),
    Tcp(TcpStream),
    Pipe(File),
    Udp(UdpSocket),
}

impl Link {
    fn open(target: &EcTarget, timeout: Duration) -> Result<Link, Failure> {
        match target {
            EcTarget::Unix(path) => {
                let stream = connect_unix(path, timeout).map_err(Failure::io("connect"))?;
                Ok(Link::Unix(stream))
            }
            EcTarget::Tcp { host, port } => {
                let stream = connect_tcp(host, *port, timeout)?;
                stream
                    .set_write_timeout(Some(timeout))
                    .map_err(Failure::io("connect"))?;
                Ok(Link::Tcp(stream))
            }
            EcTarget::Pipe(path) => open_fifo(path).map(Link::Pipe),
            EcTarget::Udp { host, port } => connect_udp(host, *port, timeout).map(Link::Udp),
        }
    }

    fn send(&mut self, message: &str) -> Result<(), Failure> {
        match self {
            Link::Unix(stream) => {
                still_open(stream).map_err(Failure::io("write"))?;
                write_line(stream, message).map_err(Failure::io("write"))
            }
            Link::Tcp(stream) => {
                still_open(stream).map_err(Failure::io("write"))?;
                write_line(stream, message).map_err(Failure::io("write"))
            }
            Link::Pipe(file) => write_pipe(file, message),
            Link::Udp(socket) => {
                // A refusal that arrived since the last datagram (ICMP) is reported here.
                if let Some(refused) = socket.take_error().map_err(Failure::io("send"))? {
                    return Err(Failure::io("send")(refused));
                }
                socket
                    .send(cut(message, UDP_MAX).as_bytes())
                    .map(drop)
                    .map_err(Failure::io("send"))
            }
        }
    }
}

/// A stream whose peer never writes: readable means closed.
trait QuietStream {
    fn set_nonblocking(&self, on: bool) -> io::Result<()>;
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl QuietStream for UnixStream {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        UnixStream::set_nonblocking(self, on)
    }
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl QuietStream for TcpStream {
    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// Fails if the Event Console has closed (or reset) the connection: a write would still
/// succeed once, into a buffer nobody reads.
fn still_open(stream: &impl QuietStream) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    let mut byte = [0u8; 1];
    let state = stream.read_some(&mut byte);
    stream.set_nonblocking(false)?;
    match state {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the Event Console closed the connection",
        )),
        // It never writes; whatever it did write means nothing to us.
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

fn write_line(stream: &mut impl Write, message: &str) -> io::Result<()> {
    let mut line = Vec::with_capacity(message.len() + 1);
    line.extend_from_slice(message.as_bytes());
    line.push(b'\n');
    stream.write_all(&line)
}

/// Connects to a Unix stream socket, waiting at most `timeout` when the listener's
/// backlog is full (mkeventd hung): std's `UnixStream::connect` would wait forever.
fn connect_unix(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;

    let bytes = path.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain old data, for which all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a Unix socket path has at most {} bytes",
                addr.sun_path.len() - 1
            ),
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: socket(2) with constant arguments; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just created by this function and owned by nothing else.
    let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // SO_SNDTIMEO, which Linux's connect(2) on a Unix socket also honours.
    stream.set_write_timeout(Some(timeout))?;
    loop {
        // SAFETY: `addr` is an initialised sockaddr_un and `len` does not exceed its size.
        let rc = unsafe {
            libc::connect(
                stream.as_raw_fd(),
                (&addr as *const libc::sockaddr_un).cast::<libc::sockaddr>(),
                len as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(stream);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(Failure::io("resolve the host"))?
        .collect();
    if addrs.is_empty() {
        return Err(Failure::io("resolve the host")(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        )));
    }
    Ok(addrs)
}

/// Tries each address of `host` in turn; the last refusal is the one reported.
fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in resolve(host, port)? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(Failure::io("connect")(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "no address to connect to")
    })))
}

/// A connected UDP socket whose target did not refuse the probe.
fn connect_udp(host: &str, port: u16, timeout: Duration) -> Result<UdpSocket, Failure> {
    let mut last = None;
    for addr in resolve(host, port)? {
        let local: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let attempt = || -> io::Result<UdpSocket> {
            let socket = UdpSocket::bind(local)?;
            socket.connect(addr)?;
            socket.set_write_timeout(Some(timeout))?;
            probe(&socket, timeout)?;
            Ok(socket)
        };
        match attempt() {
            Ok(socket) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(Failure::io("reach the syslog port")(last.unwrap_or_else(
        || io::Error::new(io::ErrorKind::NotFound, "no address to send to"),
    )))
}

/// Sends an empty datagram (to mkeventd: no line, nothing) and waits briefly for the
/// refusal a closed port provokes, which a connected socket reports on its next receive.
fn probe(socket: &UdpSocket, timeout: Duration) -> io::Result<()> {
    socket.send(&[])?;
    socket.set_read_timeout(Some(UDP_PROBE_WAIT.min(timeout)))?;
    let mut buf = [0u8; 1];
    match socket.recv(&mut buf) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Opens an existing FIFO for writing without waiting for a reader; anything that is not a
/// FIFO is refused, before and after opening (the path may change in between), so no
/// regular file is ever written, and none is created.
fn open_fifo(path: &Path) -> Result<File, Failure> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};

    let is_fifo = |meta: std::fs::Metadata| meta.file_type().is_fifo();
    let meta = std::fs::metadata(path).map_err(Failure::io("open the pipe"))?;
    if !is_fifo(meta) {
        return Err(Failure::NotAFifo(path.to_owned()));
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            let e = if e.raw_os_error() == Some(libc::ENXIO) {
                io::Error::new(
                    e.kind(),
                    "nobody reads the pipe (is the Event Console running?)",
                )
            } else {
                e
            };
            Failure::io("open the pipe")(e)
        })?;
    if !is_fifo(file.metadata().map_err(Failure::io("open the pipe"))?) {
        return Err(Failure::NotAFifo(path.to_owned()));
    }
    Ok(file)
}

/// One `write(2)` of the message and its newline, at most [`PIPE_BUF`] bytes: atomic,
/// so it is all in the pipe or, when full (`EAGAIN`), not at all.
fn write_pipe(file: &mut File, message: &str) -> Result<(), Failure> {
    let mut line = Vec::with_capacity(message.len().min(PIPE_BUF));
    line.extend_from_slice(cut(message, PIPE_BUF - 1).as_bytes());
    line.push(b'\n');
    loop {
        match file.write(&line) {
            Ok(n) if n == line.len() => return Ok(()),
            Ok(n) => {
                return Err(Failure::io("write")(io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("only {n} of {} bytes written", line.len()),
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(Failure::io("write (the pipe is full)")(e))
            }
            Err(e) => return Err(Failure::io("write")(e)),
        }
    }
}

#[cfg(test)]
#[path = "ec_sender_tests.rs"]
mod tests;
