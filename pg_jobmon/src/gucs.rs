//! Every `jobmon.*` setting. The connection parameters of the background session are
//! superuser-only: whoever may change them may point every caller's log writes elsewhere.
//! The statics are private; the rest of the extension reads typed values through the
//! functions at the end, which also say what an unset value means.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;
use std::time::Duration;

/// Host of the background connection. Empty (the default) means this server's own Unix
/// socket directory, which needs no password and no network; a directory path (starting
/// with `/`), an IP address or a host name are accepted.
static HOST: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Port of the background connection. 0 (the default) means this server's own port, so a
/// cluster on a non-standard port works without configuration.
static PORT: GucSetting<i32> = GucSetting::<i32>::new(0);

/// Role the background connection logs in as. Empty (the default) means the bootstrap
/// superuser, which the usual `local all postgres peer` rule admits, and which may
/// `SET ROLE` to every caller so that each call runs with the caller's own rights.
static USER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Seconds to wait for the background connection to be established. 10 is long enough
/// for a loaded server and short enough that a misconfiguration shows up quickly.
static CONNECT_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10);

/// Milliseconds a logging call may wait for a lock on the jobmon tables. A caller that
/// itself holds such a lock (LOCK TABLE, an uncommitted UPDATE of job_log) would
/// otherwise wait for itself forever; 5 s is far above any normal wait for these short
/// statements. 0 disables the bound (the caller's statement_timeout still applies).
static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);

/// Seconds an unused background connection is kept. A pool of long-lived sessions that
/// logged once would otherwise hold a second backend each for ever; 300 s keeps the
/// connection warm for jobs that log every few seconds or minutes and gives the slot back
/// soon after the last step. 0 keeps it for the whole session.
static BACKGROUND_IDLE_TIMEOUT_S: GucSetting<i32> = GucSetting::<i32>::new(300);

/// The password file of the background connection. Empty (the default) means what libpq
/// would read in the server process: `$PGPASSFILE`, else `~/.pgpass` of the server's OS
/// user, so that a server whose pg_hba.conf asks every connection for a password works
/// without a password in a table. Superuser only: it chooses whose passwords are used.
static PASSFILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

pub fn init() {
    init_writer();
    GucRegistry::define_string_guc(
        c"jobmon.host",
        c"Host of pg_jobmon's background connection (empty: this server's Unix socket).",
        c"A socket directory, an IP address or a host name. Superuser only.",
        &HOST,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_int_guc(
        c"jobmon.port",
        c"Port of pg_jobmon's background connection (0: this server's port).",
        c"Superuser only.",
        &PORT,
        0,
        65535,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"jobmon.user",
        c"Role pg_jobmon's background connection logs in as (empty: the bootstrap superuser).",
        c"The role must be able to SET ROLE to every role that logs jobs. Superuser only.",
        &USER,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_int_guc(
        c"jobmon.connect_timeout",
        c"Seconds to wait for pg_jobmon's background connection to be established.",
        c"Superuser only.",
        &CONNECT_TIMEOUT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S | GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_int_guc(
        c"jobmon.lock_timeout",
        c"Longest wait of a pg_jobmon logging call for a lock on the jobmon tables.",
        c"Turns a caller that holds a lock the log write needs into an ERROR instead of a hang. 0 disables the bound.",
        &LOCK_TIMEOUT_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"jobmon.background_idle_timeout",
        c"Seconds an unused pg_jobmon background connection is kept open (0: for the whole session).",
        c"The next logging call after it opens a new one. Superuser only.",
        &BACKGROUND_IDLE_TIMEOUT_S,
        0,
        MAX_IDLE_TIMEOUT_S,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_string_guc(
        c"jobmon.passfile",
        c"Password file of pg_jobmon's background connection (empty: $PGPASSFILE, else ~/.pgpass of the server's OS user).",
        c"The format and permission rules of libpq's .pgpass. Superuser only.",
        &PASSFILE,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY,
    );
}

/// The server's idle_session_timeout, which closes the idle background session, is in
/// milliseconds and an int.
const MAX_IDLE_TIMEOUT_S: i32 = i32::MAX / 1000;

/// `jobmon.host`: `None` means this server's own Unix socket.
pub fn host() -> Option<String> {
    string(&HOST)
}

/// `jobmon.port`: `None` means this server's own port. The setting's bounds (0 to 65535)
/// are enforced by PostgreSQL when it is set, so every other value is a port.
pub fn port() -> Option<u16> {
    u16::try_from(PORT.get()).ok().filter(|p| *p != 0)
}

/// `jobmon.user`: `None` means the bootstrap superuser.
pub fn user() -> Option<String> {
    string(&USER)
}

/// `jobmon.connect_timeout` (at least one second, as the setting's lower bound says).
pub fn connect_timeout() -> Duration {
    Duration::from_secs(u64::try_from(CONNECT_TIMEOUT.get()).unwrap_or(1).max(1))
}

/// `jobmon.lock_timeout`; zero means no bound, as for PostgreSQL's own lock_timeout.
pub fn lock_timeout() -> Duration {
    Duration::from_millis(u64::try_from(LOCK_TIMEOUT_MS.get()).unwrap_or(0))
}

/// `jobmon.background_idle_timeout`; `None` means keep the connection for the session.
pub fn background_idle_timeout() -> Option<Duration> {
    u64::try_from(BACKGROUND_IDLE_TIMEOUT_S.get())
        .ok()
        .filter(|s| *s != 0)
        .map(Duration::from_secs)
}

/// `jobmon.passfile`: `None` means libpq's default.
pub fn passfile() -> Option<String> {
    string(&PASSFILE)
}

/// A string setting as an owned `String`, `None` when unset or empty.
fn string(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

// The shared writer (writer/): read only when pg_jobmon is in shared_preload_libraries.

/// How many writer processes the shared mode starts. Two keep one writer collecting the
/// next batch while the other commits, and cost two of `max_worker_processes` (default 8);
/// more only help with several databases logging at once (a writer serves one database).
static WRITERS: GucSetting<i32> = GucSetting::<i32>::new(2);

/// Whether a logging call in the shared mode waits until its row is committed. On (the
/// default) keeps the guarantee of the session mode; off trades it for speed.
static WAIT_FOR_COMMIT: GucSetting<bool> = GucSetting::<bool>::new(true);

/// `jobmon.mode`, fixed when the library is loaded: the one of the two statics registered.
static MODE_SHARED: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"shared"));
static MODE_SESSION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"session"));

fn init_writer() {
    let shared = crate::writer::preloading();
    GucRegistry::define_string_guc(
        c"jobmon.mode",
        c"How pg_jobmon writes its log rows: shared (the writer processes) or session (a background connection per session).",
        c"shared when pg_jobmon is in shared_preload_libraries, else session. Read only.",
        if shared { &MODE_SHARED } else { &MODE_SESSION },
        GucContext::Internal,
        GucFlags::DISALLOW_IN_FILE,
    );
    GucRegistry::define_bool_guc(
        c"jobmon.wait_for_commit",
        c"Whether a logging call waits until its row is committed (shared mode only).",
        c"off: the call returns once its request is queued; rows still queued when the server crashes are lost, and errors are reported in the server log and on the session's next call.",
        &WAIT_FOR_COMMIT,
        GucContext::Userset,
        GucFlags::default(),
    );
    if shared {
        GucRegistry::define_int_guc(
            c"jobmon.writers",
            c"Number of pg_jobmon writer processes (shared mode; needs a restart).",
            c"Each is a background worker: count them in max_worker_processes.",
            &WRITERS,
            1,
            crate::writer::MAX_WRITERS as i32,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
}

/// `jobmon.writers`.
pub fn writers() -> usize {
    usize::try_from(WRITERS.get()).unwrap_or(1).max(1)
}

/// `jobmon.wait_for_commit`.
pub fn wait_for_commit() -> bool {
    WAIT_FOR_COMMIT.get()
}
