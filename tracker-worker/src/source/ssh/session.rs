//! One SSH connection to a source host: connect within the timeout, check the host key,
//! authenticate, and run commands on exec channels with their stdin, stdout, stderr and
//! exit status. Every blocking libssh2 call is bounded by the session timeout.

use super::super::SourceError;
use super::hostkey;
use crate::config::SshSource;
use ssh2::{Channel, ErrorCode, Session};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// libssh2's code for "the session timeout expired".
const LIBSSH2_ERROR_TIMEOUT: i32 = -9;

/// How long one wait for stdout lasts before stderr is drained again (see [`Connection::exec`]).
const POLL: Duration = Duration::from_millis(50);

/// Stderr kept for error messages; the rest is read and dropped.
const STDERR_KEEP: usize = 64 * 1024;

/// Stdout larger than this is refused rather than risking the tracker's memory.
const STDOUT_MAX: usize = 1 << 30;

/// What a remote command produced.
pub(super) struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The exit status; -1 when it was killed by a signal or sent none.
    pub status: i32,
    /// Signal name when it was killed by one.
    pub signal: Option<String>,
}

pub(super) struct Connection {
    session: Session,
    host: String,
    timeout: Duration,
}

/// Where errors say the source is: `address`, with `:port` unless it is 22.
pub(super) fn host_label(config: &SshSource) -> String {
    if config.port == 22 {
        config.address.clone()
    } else {
        format!("{}:{}", config.address, config.port)
    }
}

fn timeout_ms(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis())
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Maps a libssh2 error: an expired session timeout is a [`SourceError::Timeout`].
pub(super) fn ssh_error(
    host: &str,
    timeout: Duration,
    during: &str,
    e: &ssh2::Error,
) -> SourceError {
    if e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
        return SourceError::Timeout {
            host: host.to_owned(),
            seconds: timeout.as_secs().max(1),
            during: during.to_owned(),
        };
    }
    SourceError::Ssh {
        host: host.to_owned(),
        message: format!("{during}: {}", e.message()),
    }
}

fn io_error(host: &str, timeout: Duration, during: &str, e: &io::Error) -> SourceError {
    if e.kind() == io::ErrorKind::TimedOut {
        return SourceError::Timeout {
            host: host.to_owned(),
            seconds: timeout.as_secs().max(1),
            during: during.to_owned(),
        };
    }
    SourceError::Ssh {
        host: host.to_owned(),
        message: format!("{during}: {e}"),
    }
}

impl Connection {
    /// Connects, checks the host key (before anything else is sent) and authenticates.
    pub(super) fn open(config: &SshSource, timeout: Duration) -> Result<Connection, SourceError> {
        let host = host_label(config);
        let started = Instant::now();
        let connect_error = |message: String| SourceError::Connect {
            host: config.address.clone(),
            port: config.port,
            message,
        };
        let addrs: Vec<_> = (config.address.as_str(), config.port)
            .to_socket_addrs()
            .map_err(|e| connect_error(format!("cannot resolve the address: {e}")))?
            .collect();
        let mut last_error = None;
        let mut stream = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_error = Some(e),
            }
        }
        let stream = match (stream, last_error) {
            (Some(s), _) => s,
            (None, Some(e)) if e.kind() == io::ErrorKind::TimedOut => {
                return Err(SourceError::Timeout {
                    host,
                    seconds: timeout.as_secs().max(1),
                    during: "connecting".into(),
                })
            }
            (None, Some(e)) => return Err(connect_error(e.to_string())),
            (None, None) => return Err(connect_error("the name resolves to no address".into())),
        };
        // Small request/response exchanges: do not let Nagle delay them.
        let _ = stream.set_nodelay(true);

        let mut session = Session::new().map_err(|e| SourceError::Ssh {
            host: host.clone(),
            message: format!("cannot create an SSH session: {e}"),
        })?;
        session.set_tcp_stream(stream);
        session.set_timeout(timeout_ms(timeout));
        session.handshake().map_err(|e| {
            if e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT) {
                ssh_error(&host, timeout, "SSH handshake", &e)
            } else {
                connect_error(format!("SSH handshake failed: {}", e.message()))
            }
        })?;
        hostkey::verify(&session, config, &host)?;
        authenticate(&session, config, &host, timeout)?;
        tracing::debug!(
            host,
            user = %config.user,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "SSH connection established"
        );
        Ok(Connection {
            session,
            host,
            timeout,
        })
    }

    /// Opens an exec channel. Failing here means the command was not started, so the caller
    /// may reconnect and try again.
    pub(super) fn open_channel(&self, command: &str) -> Result<Channel, SourceError> {
        self.session.set_timeout(timeout_ms(self.timeout));
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| ssh_error(&self.host, self.timeout, "opening a channel", &e))?;
        if let Err(e) = channel.exec(command) {
            self.abandon();
            return Err(ssh_error(
                &self.host,
                self.timeout,
                "starting the command",
                &e,
            ));
        }
        Ok(channel)
    }

    /// Makes whatever is freed next give up at once. libssh2 closes an open channel when it
    /// is freed and waits for the reply, which a silent host would stretch to a full
    /// timeout; after an error the connection is discarded anyway.
    fn abandon(&self) {
        self.session.set_timeout(1);
    }

    /// Feeds `stdin` to a started command, then collects its output and exit status.
    ///
    /// Stdout and stderr share the channel's flow-control window, so a command writing a
    /// lot to stderr while stdout is read (or the reverse) could stall both. Stdout is
    /// therefore waited for in short slices, and between them stderr is drained without
    /// blocking. `timeout` bounds every period without progress, not the whole transfer,
    /// so a large but steady read is not cut off.
    pub(super) fn run(&self, mut channel: Channel, stdin: &[u8]) -> Result<Output, SourceError> {
        let result = self.run_on(&mut channel, stdin);
        if result.is_err() {
            self.abandon();
        }
        drop(channel);
        result
    }

    fn run_on(&self, channel: &mut Channel, stdin: &[u8]) -> Result<Output, SourceError> {
        let write_error = self.send_stdin(channel, stdin)?;
        let streams = self.collect(channel)?;
        self.finish(channel, streams, write_error)
    }

    /// Writes the script and closes stdin. A command that fails at once (not installed)
    /// stops reading stdin; its stderr and status say more than the failed write, so that
    /// error is handed back to be reported only if they do not.
    fn send_stdin(
        &self,
        channel: &mut Channel,
        stdin: &[u8],
    ) -> Result<Option<io::Error>, SourceError> {
        let write_error = channel
            .write_all(stdin)
            .and_then(|()| channel.flush())
            .err();
        if write_error.is_none() {
            channel.send_eof().map_err(|e| {
                ssh_error(&self.host, self.timeout, "closing the command's stdin", &e)
            })?;
        }
        Ok(write_error)
    }

    /// Reads stdout and stderr to their ends in slices of [`POLL`], then puts the session's
    /// blocking mode and timeout back, whatever happened.
    fn collect(&self, channel: &mut Channel) -> Result<Streams, SourceError> {
        let mut streams = Streams::default();
        self.session.set_timeout(timeout_ms(POLL));
        let result = self.pump(channel, &mut streams);
        self.session.set_blocking(true);
        self.session.set_timeout(timeout_ms(self.timeout));
        result.map(|()| streams)
    }

    fn pump(&self, channel: &mut Channel, s: &mut Streams) -> Result<(), SourceError> {
        let (host, timeout) = (self.host.as_str(), self.timeout);
        let (mut out_done, mut err_done) = (false, false);
        let mut buf = vec![0u8; 256 * 1024];
        let mut last_progress = Instant::now();
        while !(out_done && err_done) {
            if !err_done {
                self.session.set_blocking(false);
                let drained = drain_stderr(channel, &mut buf, &mut s.stderr, &mut s.stderr_dropped);
                self.session.set_blocking(true);
                match drained {
                    Ok((n, eof)) => {
                        if n > 0 {
                            last_progress = Instant::now();
                        }
                        err_done = eof;
                    }
                    Err(e) => return Err(io_error(host, timeout, "reading stderr", &e)),
                }
            }
            if !out_done {
                match channel.read(&mut buf) {
                    Ok(0) => out_done = true,
                    Ok(n) => {
                        if s.stdout.len() + n > STDOUT_MAX {
                            return Err(SourceError::Protocol {
                                host: host.to_owned(),
                                message: format!(
                                    "more than {} MiB of output; lower read_batch_size",
                                    STDOUT_MAX >> 20
                                ),
                            });
                        }
                        s.stdout.extend_from_slice(&buf[..n]);
                        last_progress = Instant::now();
                    }
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                    Err(e) => return Err(io_error(host, timeout, "reading the output", &e)),
                }
            } else if !err_done {
                // Only stderr is left: wait for it in slices as well.
                match channel.stderr().read(&mut buf) {
                    Ok(0) => err_done = true,
                    Ok(n) => {
                        keep(&mut s.stderr, &mut s.stderr_dropped, &buf[..n]);
                        last_progress = Instant::now();
                    }
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                    Err(e) => return Err(io_error(host, timeout, "reading stderr", &e)),
                }
            }
            if last_progress.elapsed() > timeout {
                return Err(SourceError::Timeout {
                    host: host.to_owned(),
                    seconds: timeout.as_secs().max(1),
                    during: "waiting for the command's output".into(),
                });
            }
        }
        Ok(())
    }

    /// Waits for the command to end and takes its exit status or signal.
    fn finish(
        &self,
        channel: &mut Channel,
        mut s: Streams,
        write_error: Option<io::Error>,
    ) -> Result<Output, SourceError> {
        let (host, timeout) = (self.host.as_str(), self.timeout);
        channel
            .wait_close()
            .map_err(|e| ssh_error(host, timeout, "waiting for the command to end", &e))?;
        let signal = channel
            .exit_signal()
            .ok()
            .and_then(|s| s.exit_signal)
            .filter(|s| !s.is_empty());
        let status = match &signal {
            Some(_) => -1,
            None => channel
                .exit_status()
                .map_err(|e| ssh_error(host, timeout, "reading the exit status", &e))?,
        };
        if s.stderr_dropped > 0 {
            let note = format!("... ({} more bytes)", s.stderr_dropped);
            s.stderr.extend_from_slice(note.as_bytes());
        }
        if let (Some(e), 0, None) = (&write_error, status, &signal) {
            return Err(io_error(host, timeout, "sending the script", e));
        }
        Ok(Output {
            stdout: s.stdout,
            stderr: s.stderr,
            status,
            signal,
        })
    }
}

/// What a command wrote, as far as it was kept.
#[derive(Default)]
struct Streams {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// Stderr bytes beyond what is kept.
    stderr_dropped: usize,
}

/// Reads whatever stderr has without waiting; returns the bytes read and whether it ended.
fn drain_stderr(
    channel: &mut Channel,
    buf: &mut [u8],
    kept: &mut Vec<u8>,
    dropped: &mut usize,
) -> io::Result<(usize, bool)> {
    let mut total = 0;
    loop {
        match channel.stderr().read(buf) {
            Ok(0) => return Ok((total, true)),
            Ok(n) => {
                keep(kept, dropped, &buf[..n]);
                total += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((total, false)),
            Err(e) => return Err(e),
        }
    }
}

fn keep(kept: &mut Vec<u8>, dropped: &mut usize, data: &[u8]) {
    let room = STDERR_KEEP.saturating_sub(kept.len()).min(data.len());
    kept.extend_from_slice(&data[..room]);
    *dropped += data.len() - room;
}

/// Public-key authentication: the configured key file, else every key of the SSH agent,
/// then the default identity files, as `ssh` does. No passwords, no key contents logged.
fn authenticate(
    session: &Session,
    config: &SshSource,
    host: &str,
    timeout: Duration,
) -> Result<(), SourceError> {
    let user = config.user.as_str();
    let fail = |message: String| SourceError::Auth {
        host: host.to_owned(),
        user: user.to_owned(),
        message,
    };
    let timed_out = |e: &ssh2::Error| e.code() == ErrorCode::Session(LIBSSH2_ERROR_TIMEOUT);
    if let Some(key) = &config.key {
        return match session.userauth_pubkey_file(user, None, key, None) {
            Ok(()) if session.authenticated() => Ok(()),
            Ok(()) => Err(fail(format!("key {} was not accepted", key.display()))),
            Err(e) if timed_out(&e) => Err(ssh_error(host, timeout, "authenticating", &e)),
            Err(e) => Err(fail(format!(
                "key {} was not accepted: {}",
                key.display(),
                e.message()
            ))),
        };
    }
    let mut tried = Vec::new();
    if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        match try_agent(session, user) {
            Ok(true) => return Ok(()),
            Ok(false) => tried.push("the SSH agent's keys".to_string()),
            Err(e) if timed_out(&e) => return Err(ssh_error(host, timeout, "authenticating", &e)),
            Err(e) => tried.push(format!("the SSH agent ({})", e.message())),
        }
    }
    for file in default_identities() {
        if !file.exists() {
            continue;
        }
        match session.userauth_pubkey_file(user, None, &file, None) {
            Ok(()) if session.authenticated() => return Ok(()),
            Err(e) if timed_out(&e) => return Err(ssh_error(host, timeout, "authenticating", &e)),
            _ => tried.push(file.display().to_string()),
        }
    }
    if tried.is_empty() {
        return Err(fail(
            "no key to offer: set `key` for this source, or provide an SSH agent \
             (SSH_AUTH_SOCK) or ~/.ssh/id_ed25519, id_ecdsa or id_rsa"
                .into(),
        ));
    }
    Err(fail(format!(
        "no key was accepted (tried {})",
        tried.join(", ")
    )))
}

fn try_agent(session: &Session, user: &str) -> Result<bool, ssh2::Error> {
    let mut agent = session.agent()?;
    agent.connect()?;
    agent.list_identities()?;
    for identity in agent.identities()? {
        if agent.userauth(user, &identity).is_ok() && session.authenticated() {
            let _ = agent.disconnect();
            return Ok(true);
        }
    }
    let _ = agent.disconnect();
    Ok(false)
}

fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|name| Path::new(&home).join(".ssh").join(name))
        .collect()
}
