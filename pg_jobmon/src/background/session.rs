//! The background session and its retry rule: opened on first use, kept in a never-dropped
//! static, its statements prepared once, the caller's role and lock bound sent only when
//! they change, and reconnected once, transparently, when the link broke.
//!
//! After each call the idle timeout (`idle`) is armed for the session's socket; when it
//! shut the socket down, the next call replaces the session without counting that as a
//! broken link.

use super::driver::{drive, proc_die_pending, Canceller, Interrupted};
use super::idle;
use super::query::Query;
use super::socket::{self, Endpoint};
use super::target::Target;
use super::Caller;
use crate::error::{JobmonError, Result};
use crate::gucs;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::c_int;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// How long a session end waits for the background session to say goodbye.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

struct Session {
    client: Client,
    driver: tokio::task::JoinHandle<()>,
    prepared: [Option<Statement>; Query::COUNT],
    /// The quoted extension schema the prepared statements were written for.
    schema: String,
    /// The role last set with SET ROLE, so that it is sent only when it changes.
    role: Option<String>,
    lock_timeout: Duration,
    /// Its socket, for the idle timeout; open as long as the client is not closed.
    fd: RawFd,
    /// Where its socket goes, for cancel requests.
    endpoint: Endpoint,
    /// Where this session is connected (no password), for the error when it breaks.
    target: String,
    /// The role it logged in as.
    login: String,
}

struct Background {
    rt: Runtime,
    session: Option<Session>,
}

/// Never dropped: a client destroyed during process exit, after tokio's thread-local state
/// is gone, aborts the backend. The session is closed from an on_proc_exit callback instead.
static STATE: Mutex<Option<Background>> = Mutex::new(None);
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

/// Why one attempt at a call did not give rows.
enum Failure {
    /// The connection is unusable (closed, reset, terminated): worth one reconnect.
    Broken(String),
    /// The caller is being cancelled or terminated.
    Interrupted,
    /// A definite answer (an SQL error from the statement).
    Final(JobmonError),
}

/// Runs `query` on this backend's background session, opening it first if needed.
pub(super) fn call(
    query: Query,
    params: &[&(dyn ToSql + Sync)],
    caller: &Caller,
) -> Result<Vec<Row>> {
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    let bg = match state.take() {
        Some(bg) => bg,
        None => Background::new()?,
    };
    let bg = state.insert(bg);
    if idle::begin_call() {
        bg.discard();
    }
    let result = bg.call(query, params, caller);
    // A session whose client is closed has lost its socket: nothing to arm.
    let open = bg.session.as_ref().filter(|s| !s.client.is_closed());
    idle::end_call(open.map(|s| s.fd), caller.idle_timeout);
    result
}

impl Background {
    fn new() -> Result<Self> {
        // A current-thread runtime spawns no threads: the I/O and timer drivers run inside
        // block_on, on this backend's thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| JobmonError::Internal(format!("cannot create the I/O runtime: {e}")))?;
        Ok(Background { rt, session: None })
    }

    fn call(
        &mut self,
        query: Query,
        params: &[&(dyn ToSql + Sync)],
        caller: &Caller,
    ) -> Result<Vec<Row>> {
        let mut reconnected = false;
        loop {
            let stale = self
                .session
                .as_ref()
                .is_some_and(|s| s.client.is_closed() || s.schema != caller.schema);
            if stale {
                self.discard();
            }
            let session = match self.session.take() {
                Some(session) => session,
                None => connect(&self.rt, caller)?,
            };
            let session = self.session.insert(session);
            match session.attempt(&self.rt, query, params, caller) {
                Ok(rows) => return Ok(rows),
                Err(Failure::Broken(reason)) => {
                    let target = session.target.clone();
                    self.discard();
                    if reconnected {
                        return Err(JobmonError::Connection { target, reason });
                    }
                    reconnected = true;
                }
                Err(Failure::Interrupted) => {
                    if proc_die_pending() {
                        self.close();
                    }
                    return Err(JobmonError::Interrupted);
                }
                Err(Failure::Final(e)) => return Err(e),
            }
        }
    }

    /// Ends the session politely (Terminate message), waiting a little for it to go.
    fn close(&mut self) {
        if let Some(Session { client, driver, .. }) = self.session.take() {
            drop(client);
            // The timer must be made inside the runtime: tokio::time::timeout() outside
            // it panics (no reactor).
            let _ = self
                .rt
                .block_on(async { tokio::time::timeout(CLOSE_WAIT, driver).await });
        }
    }

    /// Forgets a session that is already broken.
    fn discard(&mut self) {
        if let Some(Session { client, driver, .. }) = self.session.take() {
            drop(client);
            driver.abort();
        }
    }
}

/// Opens a session to the target, resolved here once; a failure names that target.
fn connect(rt: &Runtime, caller: &Caller) -> Result<Session> {
    let target = Target::resolve(&caller.schema)?;
    let config = target.config(caller.lock_timeout);
    let endpoint = target.endpoint();
    let limit = gucs::connect_timeout();
    let opened = drive(rt, None, async {
        // Made inside the runtime: a tokio timer made outside it panics.
        tokio::time::timeout(limit, async {
            let stream = socket::open(&endpoint)
                .await
                .map_err(|e| ConnectFailure::Socket(e.to_string()))?;
            let fd = stream.as_raw_fd();
            let (client, connection) = config
                .connect_raw(stream, NoTls)
                .await
                .map_err(ConnectFailure::Server)?;
            Ok((client, connection, fd))
        })
        .await
    });
    let (client, connection, fd) = match opened {
        Ok(Ok(Ok(opened))) => opened,
        Ok(Ok(Err(failure))) => return Err(connect_error(&target, failure)),
        Ok(Err(_elapsed)) => {
            return Err(connect_error(
                &target,
                ConnectFailure::Socket(format!(
                    "no answer within jobmon.connect_timeout ({} s)",
                    limit.as_secs()
                )),
            ))
        }
        Err(Interrupted) => return Err(JobmonError::Interrupted),
    };
    let driver = rt.spawn(async move {
        // Ends when the client is dropped (after sending Terminate) or the link breaks;
        // either way the next call notices through Client::is_closed.
        let _ = connection.await;
    });
    EXIT_HOOK
        .call_once(|| unsafe { pg_sys::on_proc_exit(Some(close_at_exit), pg_sys::Datum::from(0)) });
    Ok(Session {
        client,
        driver,
        prepared: Default::default(),
        schema: caller.schema.clone(),
        role: None,
        lock_timeout: caller.lock_timeout,
        fd,
        endpoint,
        target: target.to_string(),
        login: target.user().to_string(),
    })
}

impl Session {
    /// One try: role and session bounds first (only when they changed), then the statement.
    fn attempt(
        &mut self,
        rt: &Runtime,
        query: Query,
        params: &[&(dyn ToSql + Sync)],
        caller: &Caller,
    ) -> std::result::Result<Vec<Row>, Failure> {
        if self.role.as_deref() != Some(caller.role.as_str()) {
            // Forget the old role first: should SET ROLE fail half-way, nothing may run
            // under a role the caller does not have.
            self.role = None;
            self.execute(rt, Query::SetRole, &[&caller.role])
                .map_err(|f| self.explain_set_role(f, &caller.role))?;
            self.role = Some(caller.role.clone());
        }
        if self.lock_timeout != caller.lock_timeout {
            let value = format!("{}ms", caller.lock_timeout.as_millis());
            self.execute(rt, Query::SetLockTimeout, &[&value])?;
            self.lock_timeout = caller.lock_timeout;
        }
        self.execute(rt, query, params)
    }

    /// A SET ROLE the login role has no right to, with the grant that would allow it.
    fn explain_set_role(&self, failure: Failure, role: &str) -> Failure {
        match failure {
            Failure::Final(JobmonError::Remote {
                sqlstate,
                message,
                detail,
                hint: None,
            }) if sqlstate == "42501" => Failure::Final(JobmonError::Remote {
                sqlstate,
                message,
                detail,
                hint: Some(format!(
                    "pg_jobmon's background connection logs in as {login} (jobmon.user) and runs each call as the caller's role; \
                     {login} must be able to SET ROLE to every role that logs: GRANT \"{role}\" TO \"{login}\" \
                     (WITH SET TRUE on PostgreSQL 16 and later). A superuser caller needs a superuser jobmon.user.",
                    login = self.login
                )),
            }),
            other => other,
        }
    }

    /// Runs one statement, preparing it first on this connection's first use of it.
    fn execute(
        &mut self,
        rt: &Runtime,
        query: Query,
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, Failure> {
        let index = query as usize;
        let statement = match &self.prepared[index] {
            Some(statement) => statement.clone(),
            None => {
                let text = query.text().replace("@extschema@", &self.schema);
                let cancel = self.canceller();
                let prepared = drive(rt, Some(&cancel), self.client.prepare(&text))
                    .map_err(|Interrupted| Failure::Interrupted)?
                    .map_err(classify)?;
                self.prepared[index] = Some(prepared.clone());
                prepared
            }
        };
        let cancel = self.canceller();
        drive(rt, Some(&cancel), self.client.query(&statement, params))
            .map_err(|Interrupted| Failure::Interrupted)?
            .map_err(classify)
    }

    fn canceller(&self) -> Canceller<'_> {
        Canceller {
            token: self.client.cancel_token(),
            endpoint: &self.endpoint,
        }
    }
}

/// Why a connection could not be opened.
enum ConnectFailure {
    /// No socket to the server (refused, unreachable, timed out).
    Socket(String),
    /// The server (or the start-up exchange with it) said no.
    Server(tokio_postgres::Error),
}

/// Why connecting failed, in the terms the user can act on.
fn connect_error(target: &Target, failure: ConnectFailure) -> JobmonError {
    let e = match failure {
        ConnectFailure::Socket(reason) => {
            return JobmonError::Connect {
                target: target.to_string(),
                reason,
                overrides: target.overrides(),
            }
        }
        ConnectFailure::Server(e) => e,
    };
    let e = &e;
    match e.as_db_error() {
        Some(db) if db.code() == &SqlState::TOO_MANY_CONNECTIONS => {
            JobmonError::TooManyConnections {
                target: target.to_string(),
                reason: db.message().to_string(),
            }
        }
        // tokio-postgres's only word for "the server asked for a password and the
        // configuration has none" (an error of kind Config, no server error).
        None if error_text(e) == "invalid configuration: password missing" => {
            target.password_error()
        }
        _ => JobmonError::Connect {
            target: target.to_string(),
            reason: error_text(e),
            overrides: target.overrides(),
        },
    }
}

/// Sorts an error of the background session into "reconnect and retry once" (the link is
/// gone, the statement cannot have run) and "report to the caller".
fn classify(e: tokio_postgres::Error) -> Failure {
    match e.as_db_error() {
        Some(db) => {
            let fatal = matches!(db.severity(), "FATAL" | "PANIC");
            let code = db.code().code();
            if fatal || code.starts_with("08") || code.starts_with("57P") {
                Failure::Broken(db.message().to_string())
            } else {
                Failure::Final(JobmonError::Remote {
                    sqlstate: code.to_string(),
                    message: db.message().to_string(),
                    detail: db.detail().map(str::to_string),
                    hint: db.hint().map(str::to_string),
                })
            }
        }
        None => Failure::Broken(error_text(&e)),
    }
}

/// The error and its chain of causes, on one line.
fn error_text(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[pg_guard]
unsafe extern "C-unwind" fn close_at_exit(_code: c_int, _arg: pg_sys::Datum) {
    // The lock is held only if the backend dies in the middle of a call; then the socket
    // simply closes with the process.
    idle::stop();
    let mut state = match STATE.try_lock() {
        Ok(state) => state,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    if let Some(bg) = state.as_mut() {
        bg.close();
    }
}
