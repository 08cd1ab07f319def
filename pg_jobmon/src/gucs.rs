//! Every `jobmon.*` setting. The connection parameters of the background session are
//! superuser-only: whoever may change them may point every caller's log writes elsewhere.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// Host of the background connection. Empty (the default) means this server's own Unix
/// socket directory, which needs no password and no network; a directory path (starting
/// with `/`), an IP address or a host name are accepted.
pub static HOST: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Port of the background connection. 0 (the default) means this server's own port, so a
/// cluster on a non-standard port works without configuration.
pub static PORT: GucSetting<i32> = GucSetting::<i32>::new(0);

/// Role the background connection logs in as. Empty (the default) means the bootstrap
/// superuser, which the usual `local all postgres peer` rule admits, and which may
/// `SET ROLE` to every caller so that each call runs with the caller's own rights.
pub static USER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Seconds to wait for the background connection to be established. 10 is long enough
/// for a loaded server and short enough that a misconfiguration shows up quickly.
pub static CONNECT_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10);

/// Milliseconds a logging call may wait for a lock on the jobmon tables. A caller that
/// itself holds such a lock (LOCK TABLE, an uncommitted UPDATE of job_log) would
/// otherwise wait for itself forever; 5 s is far above any normal wait for these short
/// statements. 0 disables the bound (the caller's statement_timeout still applies).
pub static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);

pub fn init() {
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
}

/// A string setting as an owned `String`, `None` when unset or empty.
pub fn string(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}
