//! The background connection: one autonomous session per calling backend, opened on first
//! use, reused for the rest of the session and reconnected once, transparently, when it
//! broke. Log writes commit there on their own, so they survive the caller's rollback.
//!
//! It is driven by tokio-postgres on a current-thread runtime on the backend's own thread
//! (no thread ever touches PostgreSQL), waking every few milliseconds so that the caller's
//! cancel, terminate and statement_timeout end a waiting call promptly.

use crate::error::{JobmonError, Result};
use crate::gucs;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_int, CStr};
use std::future::Future;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{CancelToken, Client, Config, NoTls, Row, Statement};

/// How often a waiting call looks at the backend's interrupt flags. Short enough that a
/// cancel feels immediate, long enough to cost nothing measurable.
const INTERRUPT_POLL: Duration = Duration::from_millis(5);
/// How long a cancelled call waits for the background statement to acknowledge the cancel,
/// so that the cancel can never hit the next call's statement instead.
const CANCEL_WAIT: Duration = Duration::from_secs(2);
/// How long a session end waits for the background session to say goodbye.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// The statements the background session runs, each prepared once per connection.
#[derive(Clone, Copy, Debug)]
pub enum Query {
    AddJob,
    AddStep,
    UpdateStep,
    EndJobCode,
    EndJobDiagnose,
    EndJobText,
    SetRole,
    SetLockTimeout,
}

const QUERY_COUNT: usize = 8;

impl Query {
    fn text(self) -> &'static str {
        match self {
            Query::AddJob => include_str!("../../sql/runtime/add_job.sql"),
            Query::AddStep => include_str!("../../sql/runtime/add_step.sql"),
            Query::UpdateStep => include_str!("../../sql/runtime/update_step.sql"),
            Query::EndJobCode => include_str!("../../sql/runtime/end_job_code.sql"),
            Query::EndJobDiagnose => include_str!("../../sql/runtime/end_job_diagnose.sql"),
            Query::EndJobText => include_str!("../../sql/runtime/end_job_text.sql"),
            Query::SetRole => include_str!("../../sql/runtime/set_role.sql"),
            Query::SetLockTimeout => include_str!("../../sql/runtime/set_lock_timeout.sql"),
        }
    }
}

const READ_MAPPING: &str = include_str!("../../sql/runtime/read_mapping.sql");

struct Session {
    client: Client,
    driver: tokio::task::JoinHandle<()>,
    prepared: [Option<Statement>; QUERY_COUNT],
    /// The quoted extension schema the prepared statements were written for.
    schema: String,
    /// The role last set with SET ROLE, so that it is sent only when it changes.
    role: Option<String>,
    lock_timeout_ms: i32,
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
    /// A definite answer (an SQL error from the statement, a bad configuration).
    Final(JobmonError),
}

/// What a call needs to know about its caller, read before the state is locked.
struct Caller {
    role: String,
    schema: String,
    lock_timeout_ms: i32,
}

/// Runs one statement on the background connection as the caller's current_user and
/// returns its rows. Its effects are committed when this returns Ok.
pub fn run(query: Query, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let caller = Caller {
        role: current_role(),
        schema: extension_schema()?,
        lock_timeout_ms: gucs::LOCK_TIMEOUT_MS.get(),
    };
    let result = {
        let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
        if state.is_none() {
            *state = Some(Background::new()?);
        }
        match state.as_mut() {
            Some(bg) => bg.call(query, params, &caller),
            None => Err(JobmonError::Connection("no runtime".into())),
        }
    };
    if matches!(result, Err(JobmonError::Interrupted)) {
        // The lock is released: raise the caller's own cancel / terminate now. If the
        // interrupt turns out to be held off, the caller gets a plain cancel error.
        pg_sys::check_for_interrupts!();
    }
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
            .map_err(|e| JobmonError::Connection(format!("cannot create runtime: {e}")))?;
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
            if self.session.is_none() {
                match self.connect(caller) {
                    Ok(session) => self.session = Some(session),
                    Err(Failure::Interrupted) => return Err(JobmonError::Interrupted),
                    Err(Failure::Broken(reason))
                    | Err(Failure::Final(JobmonError::Connection(reason))) => {
                        return Err(JobmonError::Connect {
                            target: describe_target(caller),
                            reason,
                        })
                    }
                    Err(Failure::Final(e)) => return Err(e),
                }
            }
            match self.attempt(query, params, caller) {
                Ok(rows) => return Ok(rows),
                Err(Failure::Broken(reason)) => {
                    self.discard();
                    if reconnected {
                        return Err(JobmonError::Connection(reason));
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

    /// One try on the current session: role and lock bound first (only when they changed),
    /// then the statement itself, prepared once per connection.
    fn attempt(
        &mut self,
        query: Query,
        params: &[&(dyn ToSql + Sync)],
        caller: &Caller,
    ) -> std::result::Result<Vec<Row>, Failure> {
        let rt = &self.rt;
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| Failure::Broken("no session".into()))?;
        if session.role.as_deref() != Some(caller.role.as_str()) {
            // Forget the old role first: should SET ROLE fail half-way, nothing may run
            // under a role the caller does not have.
            session.role = None;
            session.execute(rt, Query::SetRole, &[&caller.role])?;
            session.role = Some(caller.role.clone());
        }
        if session.lock_timeout_ms != caller.lock_timeout_ms {
            let value = format!("{}ms", caller.lock_timeout_ms);
            session.execute(rt, Query::SetLockTimeout, &[&value])?;
            session.lock_timeout_ms = caller.lock_timeout_ms;
        }
        session.execute(rt, query, params)
    }

    fn connect(&mut self, caller: &Caller) -> std::result::Result<Session, Failure> {
        let config = target_config(caller).map_err(Failure::Final)?;
        let (client, connection) = match drive(&self.rt, None, config.connect(NoTls)) {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(Failure::Broken(error_text(&e))),
            Err(Interrupted) => return Err(Failure::Interrupted),
        };
        let driver = self.rt.spawn(async move {
            // Ends when the client is dropped (after sending Terminate) or the link breaks;
            // either way the next call notices through Client::is_closed.
            let _ = connection.await;
        });
        EXIT_HOOK.call_once(|| unsafe {
            pg_sys::on_proc_exit(Some(close_at_exit), pg_sys::Datum::from(0))
        });
        Ok(Session {
            client,
            driver,
            prepared: Default::default(),
            schema: caller.schema.clone(),
            role: None,
            lock_timeout_ms: caller.lock_timeout_ms,
        })
    }

    /// Ends the session politely (Terminate message), waiting a little for it to go.
    fn close(&mut self) {
        if let Some(Session { client, driver, .. }) = self.session.take() {
            drop(client);
            let _ = self.rt.block_on(tokio::time::timeout(CLOSE_WAIT, driver));
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

impl Session {
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
                let cancel = self.client.cancel_token();
                let prepared = drive(rt, Some(&cancel), self.client.prepare(&text))
                    .map_err(|Interrupted| Failure::Interrupted)?
                    .map_err(classify)?;
                self.prepared[index] = Some(prepared.clone());
                prepared
            }
        };
        let cancel = self.client.cancel_token();
        drive(rt, Some(&cancel), self.client.query(&statement, params))
            .map_err(|Interrupted| Failure::Interrupted)?
            .map_err(classify)
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

struct Interrupted;

/// Polls `fut` to completion on the runtime, looking at the caller's interrupt flags every
/// few milliseconds. On a cancel or terminate it cancels the background statement, waits
/// briefly for that to be acknowledged, and gives up.
fn drive<F: Future>(
    rt: &Runtime,
    cancel: Option<&CancelToken>,
    fut: F,
) -> std::result::Result<F::Output, Interrupted> {
    let mut fut = std::pin::pin!(fut);
    loop {
        let done = rt.block_on(async {
            tokio::select! {
                biased;
                out = &mut fut => Some(out),
                _ = tokio::time::sleep(INTERRUPT_POLL) => None,
            }
        });
        if let Some(out) = done {
            return Ok(out);
        }
        if interrupt_will_raise() {
            if let Some(token) = cancel {
                rt.block_on(async {
                    let _ = tokio::time::timeout(CANCEL_WAIT, token.cancel_query(NoTls)).await;
                    let _ = tokio::time::timeout(CANCEL_WAIT, &mut fut).await;
                });
            }
            return Err(Interrupted);
        }
        if unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) } != 0 {
            // Harmless interrupts (catch-up, barriers, ...) are processed as PostgreSQL
            // would process them in any long-running loop.
            pg_sys::check_for_interrupts!();
        }
    }
}

/// True when ProcessInterrupts() would end the current statement or the backend.
fn interrupt_will_raise() -> bool {
    unsafe {
        if std::ptr::read_volatile(&raw const pg_sys::InterruptPending) == 0
            || std::ptr::read_volatile(&raw const pg_sys::InterruptHoldoffCount) != 0
            || std::ptr::read_volatile(&raw const pg_sys::CritSectionCount) != 0
        {
            return false;
        }
        proc_die_pending()
            || (std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0
                && std::ptr::read_volatile(&raw const pg_sys::QueryCancelHoldoffCount) == 0)
    }
}

fn proc_die_pending() -> bool {
    unsafe { std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0 }
}

#[pg_guard]
unsafe extern "C-unwind" fn close_at_exit(_code: c_int, _arg: pg_sys::Datum) {
    // The lock is held only if the backend dies in the middle of a call; then the socket
    // simply closes with the process.
    let mut state = match STATE.try_lock() {
        Ok(state) => state,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return,
    };
    if let Some(bg) = state.as_mut() {
        bg.close();
    }
}

fn current_role() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

/// The extension and schema OIDs last seen, so that the schema is looked up with SPI only
/// when the extension was (re-)created, not on every call.
static SCHEMA_CACHE: Mutex<Option<(pg_sys::Oid, pg_sys::Oid)>> = Mutex::new(None);

/// The quoted name of the schema pg_jobmon is installed in. Checked on every call (two
/// cheap catalog lookups) so that a re-created extension or a renamed schema is followed.
fn extension_schema() -> Result<String> {
    let ext = unsafe { pg_sys::get_extension_oid(c"pg_jobmon".as_ptr(), true) };
    if ext == pg_sys::InvalidOid {
        return Err(JobmonError::Connection(
            "extension pg_jobmon is not installed in this database".into(),
        ));
    }
    let cached = *SCHEMA_CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let namespace = match cached {
        Some((cached_ext, namespace)) if cached_ext == ext => namespace,
        _ => {
            let namespace = Spi::get_one::<pg_sys::Oid>(
                "SELECT extnamespace FROM pg_catalog.pg_extension WHERE extname = 'pg_jobmon'",
            )
            .ok()
            .flatten()
            .ok_or_else(|| JobmonError::Connection("the schema of pg_jobmon is missing".into()))?;
            *SCHEMA_CACHE.lock().unwrap_or_else(PoisonError::into_inner) = Some((ext, namespace));
            namespace
        }
    };
    let name = unsafe { pg_sys::get_namespace_name(namespace) };
    if name.is_null() {
        return Err(JobmonError::Connection(
            "the schema of pg_jobmon is missing".into(),
        ));
    }
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    Ok(pgrx::spi::quote_identifier(name))
}

/// The 1.5.0 `dblink_mapping_jobmon` row, when one exists.
#[derive(Default)]
struct Mapping {
    username: Option<String>,
    port: Option<String>,
    pwd: Option<String>,
    host: Option<String>,
    hostaddr: Option<String>,
}

/// Runs a closure with the extension owner's (bootstrap superuser's) rights, restoring the
/// caller's identity afterwards, also when the closure raises.
struct AsSuperuser {
    user: pg_sys::Oid,
    context: c_int,
}

impl AsSuperuser {
    fn enter() -> Self {
        let mut user = pg_sys::InvalidOid;
        let mut context: c_int = 0;
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
            pg_sys::SetUserIdAndSecContext(
                pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID),
                context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as c_int,
            );
        }
        AsSuperuser { user, context }
    }
}

impl Drop for AsSuperuser {
    fn drop(&mut self) {
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) }
    }
}

fn read_mapping(schema: &str) -> Result<Option<Mapping>> {
    let query = READ_MAPPING.replace("@extschema@", schema);
    let _identity = AsSuperuser::enter();
    Spi::connect(|client| {
        let table = client.select(&query, Some(1), &[])?;
        if table.is_empty() {
            return Ok(None);
        }
        let row = table.first();
        let field = |name: &str| -> std::result::Result<Option<String>, pgrx::spi::Error> {
            Ok(row
                .get_by_name::<String, _>(name)?
                .filter(|v| !v.trim().is_empty()))
        };
        Ok(Some(Mapping {
            username: field("username")?,
            port: field("port")?,
            pwd: field("pwd")?,
            host: field("host")?,
            hostaddr: field("hostaddr")?,
        }))
    })
    .map_err(|e: pgrx::spi::Error| {
        JobmonError::Connection(format!("cannot read dblink_mapping_jobmon: {e}"))
    })
}

/// Where the background connection goes, in this order of precedence: the superuser's
/// jobmon.* settings, a dblink_mapping_jobmon row, this server's own socket and port as the
/// bootstrap superuser.
struct Target {
    user: String,
    port: u16,
    host: Host,
    password: Option<String>,
    dbname: String,
}

enum Host {
    Socket(String),
    Address { name: String, addr: IpAddr },
}

fn resolve_target(caller: &Caller) -> Result<Target> {
    let mapping = read_mapping(&caller.schema)?.unwrap_or_default();
    let user = gucs::string(&gucs::USER)
        .or(mapping.username)
        .unwrap_or_else(bootstrap_superuser);
    let port = match gucs::PORT.get() {
        0 => match mapping.port {
            Some(p) => p.trim().parse::<u16>().map_err(|_| {
                JobmonError::Connection(format!(
                    "dblink_mapping_jobmon.port {p:?} is not a port number"
                ))
            })?,
            None => unsafe { pg_sys::PostPortNumber as u16 },
        },
        p => p as u16,
    };
    let host = match gucs::string(&gucs::HOST) {
        Some(h) => host_from(&h, None)?,
        None => match (mapping.host, mapping.hostaddr) {
            (None, None) => local_socket(),
            (Some(h), addr) => host_from(&h, addr.as_deref())?,
            (None, Some(addr)) => host_from(&addr, Some(&addr))?,
        },
    };
    Ok(Target {
        user,
        port,
        host,
        password: mapping.pwd,
        dbname: current_database(),
    })
}

/// Host names are resolved here, synchronously on this thread: tokio's resolver would
/// start a thread inside the backend.
fn host_from(host: &str, hostaddr: Option<&str>) -> Result<Host> {
    let host = host.trim();
    if host.starts_with('/') {
        return Ok(Host::Socket(host.to_string()));
    }
    let literal = hostaddr.unwrap_or(host).trim();
    if let Ok(addr) = literal.parse::<IpAddr>() {
        return Ok(Host::Address {
            name: host.to_string(),
            addr,
        });
    }
    let addr = (literal, 0u16)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| JobmonError::Connection(format!("cannot resolve host {literal:?}")))?;
    Ok(Host::Address {
        name: host.to_string(),
        addr: addr.ip(),
    })
}

/// The first of this server's unix_socket_directories, or the loopback address when the
/// server listens on TCP only.
fn local_socket() -> Host {
    let dirs = unsafe {
        let value = pg_sys::GetConfigOption(c"unix_socket_directories".as_ptr(), true, false);
        if value.is_null() {
            String::new()
        } else {
            CStr::from_ptr(value).to_string_lossy().into_owned()
        }
    };
    let first = dirs
        .split(',')
        .map(|d| d.trim().trim_matches('"').trim_matches('\'').to_string())
        .find(|d| !d.is_empty());
    match first {
        Some(dir) => Host::Socket(dir),
        None => Host::Address {
            name: "127.0.0.1".into(),
            addr: IpAddr::from([127, 0, 0, 1]),
        },
    }
}

fn bootstrap_superuser() -> String {
    unsafe {
        let name =
            pg_sys::GetUserNameFromId(pg_sys::Oid::from(pg_sys::BOOTSTRAP_SUPERUSERID), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

fn current_database() -> String {
    unsafe {
        let name = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

fn target_config(caller: &Caller) -> Result<Config> {
    let target = resolve_target(caller)?;
    let mut config = Config::new();
    config
        .user(&target.user)
        .dbname(&target.dbname)
        .port(target.port)
        .application_name(format!("pg_jobmon background for pid {}", unsafe {
            pg_sys::MyProcPid
        }))
        .options(format!(
            "-c lock_timeout={}ms -c search_path=pg_catalog",
            caller.lock_timeout_ms
        ))
        .connect_timeout(Duration::from_secs(
            gucs::CONNECT_TIMEOUT.get().max(1) as u64
        ));
    match &target.host {
        Host::Socket(dir) => {
            config.host_path(dir);
        }
        Host::Address { name, addr } => {
            config.host(name).hostaddr(*addr);
        }
    }
    if let Some(password) = &target.password {
        config.password(password);
    }
    Ok(config)
}

/// The target without its password, for error messages.
fn describe_target(caller: &Caller) -> String {
    match resolve_target(caller) {
        Ok(t) => {
            let host = match &t.host {
                Host::Socket(dir) => dir.clone(),
                Host::Address { name, addr } => format!("{name} ({addr})"),
            };
            format!(
                "user={} host={} port={} dbname={}",
                t.user, host, t.port, t.dbname
            )
        }
        Err(e) => e.to_string(),
    }
}
