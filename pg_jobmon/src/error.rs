//! The extension's one error type and its single conversion into a PostgreSQL ERROR
//! with a real SQLSTATE (and a hint wherever the user can do something about it).

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

#[derive(thiserror::Error, Debug)]
pub enum JobmonError {
    #[error("{function}(): argument {argument} must not be NULL")]
    NullArgument {
        function: &'static str,
        argument: &'static str,
    },
    #[error("job_id {0} does not exist in job_log")]
    NoSuchJob(i64),
    #[error("step_id {0} does not exist in job_detail")]
    NoSuchStep(i64),
    #[error("alert code {0} is not defined in job_status_text")]
    UnknownAlertCode(i32),
    /// A pg_jobmon function was called in a database without the extension (a C function
    /// created by hand on the library, or a concurrent DROP EXTENSION).
    #[error("extension \"pg_jobmon\" is not installed in this database")]
    NotInstalled,
    /// A setting or a dblink_mapping_jobmon field that cannot be used as it is.
    #[error("{setting} {value:?} is not {expected}")]
    BadSetting {
        setting: &'static str,
        value: String,
        expected: &'static str,
    },
    /// dblink_mapping_jobmon no longer has the shape pg_jobmon 1.5.0 gave it.
    #[error("pg_jobmon cannot read dblink_mapping_jobmon: {0}")]
    MappingUnreadable(String),
    /// The host name of the target does not resolve; `setting` says where it came from.
    #[error("pg_jobmon could not open its background connection: cannot resolve host name {host:?} (from {setting}): {reason}")]
    UnresolvedHost {
        host: String,
        setting: &'static str,
        reason: String,
    },
    /// Connecting to the resolved target failed. `overrides` are the settings that chose
    /// the target (empty: the default one), for the hint.
    #[error("pg_jobmon could not open its background connection to {target}: {reason}")]
    Connect {
        target: String,
        reason: String,
        overrides: Vec<&'static str>,
    },
    /// The server has no free connection slot for the background session.
    #[error("pg_jobmon could not open its background connection to {target}: {reason}")]
    TooManyConnections { target: String, reason: String },
    /// The server asked for a password and neither dblink_mapping_jobmon nor the password
    /// file gave one; `why` says what was found where.
    #[error("pg_jobmon could not open its background connection to {target}: the server asks for a password, and {why}")]
    NoPassword {
        target: String,
        why: String,
        passfile: Option<String>,
    },
    /// The password file may be read or written by others; libpq would ignore it.
    #[error("pg_jobmon will not read the password file \"{path}\": it is accessible to group or others (mode {mode:04o})")]
    PassfileInsecure { path: String, mode: u32 },
    /// The local server is a hot standby and the target is the local server, which cannot
    /// write the log rows.
    #[error("the server is a hot standby: point jobmon.host at the primary")]
    HotStandby,
    /// The established connection broke again right after the one transparent reconnect.
    #[error("pg_jobmon's background connection to {target} failed: {reason}")]
    Connection { target: String, reason: String },
    /// An error raised by the statement in the background session, passed on as is.
    #[error("{message}")]
    Remote {
        sqlstate: String,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// The caller was cancelled or terminated while waiting; the interrupt itself is the
    /// error the caller sees.
    #[error("canceling statement due to user request")]
    Interrupted,
    /// Something pg_jobmon itself got wrong or could not set up; not the user's doing.
    #[error("pg_jobmon internal error: {0}")]
    Internal(String),
}

impl JobmonError {
    fn code(&self) -> PgSqlErrorCode {
        match self {
            JobmonError::NullArgument { .. } => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            JobmonError::NoSuchJob(_) | JobmonError::NoSuchStep(_) => {
                PgSqlErrorCode::ERRCODE_NO_DATA_FOUND
            }
            JobmonError::UnknownAlertCode(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            // As PostgreSQL's own get_extension_oid() reports a missing extension.
            JobmonError::NotInstalled => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            JobmonError::BadSetting { .. } => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            JobmonError::MappingUnreadable(_) => {
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
            }
            // A host name that does not resolve is a connection that cannot be established,
            // as dblink and postgres_fdw report it (libpq fails the same way).
            JobmonError::UnresolvedHost { .. } | JobmonError::Connect { .. } => {
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            }
            JobmonError::NoPassword { .. } => {
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            }
            // What the server itself says when it has no slot left.
            JobmonError::TooManyConnections { .. } => PgSqlErrorCode::ERRCODE_TOO_MANY_CONNECTIONS,
            // The password file is a configuration file the superuser must correct.
            JobmonError::PassfileInsecure { .. } => PgSqlErrorCode::ERRCODE_CONFIG_FILE_ERROR,
            // What a standby says to any write.
            JobmonError::HotStandby => PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            JobmonError::Connection { .. } => PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
            JobmonError::Remote { sqlstate, .. } => sqlstate_code(sqlstate),
            JobmonError::Interrupted => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
            JobmonError::Internal(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            JobmonError::NoSuchJob(_) => {
                Some("Use the job_id returned by add_job(); the job may have been removed by job_log_clear().".into())
            }
            JobmonError::NoSuchStep(_) => Some("Use the step_id returned by add_step().".into()),
            JobmonError::UnknownAlertCode(_) => {
                Some("Use one of the alert_code values in job_status_text (1 OK, 2 WARNING, 3 CRITICAL by default).".into())
            }
            JobmonError::NotInstalled => Some(
                "Run CREATE EXTENSION pg_jobmon in this database and call the functions it installs."
                    .into(),
            ),
            JobmonError::BadSetting { setting, .. } => Some(setting_hint(setting)),
            JobmonError::MappingUnreadable(_) => Some(
                "dblink_mapping_jobmon must keep the columns of pg_jobmon 1.5.0 (username, port, pwd, host, hostaddr, all text). \
                 Restore them, or drop and re-create the extension."
                    .into(),
            ),
            JobmonError::UnresolvedHost { setting, .. } => Some(format!(
                "Correct {setting}; an IP address or a socket directory (a path starting with /) needs no name lookup."
            )),
            JobmonError::Connect { overrides, .. } if overrides.is_empty() => Some(
                "By default pg_jobmon connects to this server's Unix socket as the bootstrap superuser; \
                 pg_hba.conf must admit that (e.g. `local all postgres peer`). \
                 The superuser settings jobmon.host, jobmon.port and jobmon.user change the target."
                    .into(),
            ),
            JobmonError::Connect { overrides, .. } => Some(format!(
                "This target comes from {} (everything else is the default: this server's Unix socket and port, \
                 the bootstrap superuser). Correct or reset those settings; pg_hba.conf must admit the connection.",
                overrides.join(", ")
            )),
            JobmonError::TooManyConnections { .. } => Some(connection_slots_hint()),
            JobmonError::NoPassword { passfile, .. } => Some(format!(
                "Add a line host:port:database:user:password for this target to {}, \
                 or name another file in the superuser setting jobmon.passfile; \
                 or let pg_hba.conf admit the connection without a password (peer for the local socket).",
                passfile.as_deref().map_or("a password file (mode 0600)".to_string(), |p| format!("\"{p}\" (mode 0600, owned by the server's OS user)"))
            )),
            JobmonError::PassfileInsecure { path, .. } => Some(format!(
                "Run chmod 0600 \"{path}\": as libpq, pg_jobmon uses a password file only if no one but its owner (the server's OS user) can read it."
            )),
            JobmonError::HotStandby => Some(
                "Log rows cannot be written on a standby, and pg_jobmon's background connection goes to this server by default. \
                 Set jobmon.host and jobmon.port to the primary (e.g. ALTER DATABASE ... SET on the primary, which its standbys replay), \
                 or put the primary in dblink_mapping_jobmon. check_job_status() and the show_* functions work here as they are."
                    .into(),
            ),
            JobmonError::Connection { .. } => Some(
                "The background session ended twice in a row (terminated, or the server restarted). \
                 The next call opens a new one."
                    .into(),
            ),
            JobmonError::Remote { sqlstate, hint, .. } if sqlstate == "55P03" => Some(
                "pg_jobmon's background connection waited jobmon.lock_timeout for a lock on the jobmon tables. \
                 If the calling transaction itself holds that lock (LOCK TABLE, an uncommitted change of the same rows), \
                 the log write can never proceed: commit first or log outside that transaction."
                    .to_string()
                    + &hint.as_ref().map(|h| format!(" {h}")).unwrap_or_default(),
            ),
            JobmonError::Remote { hint, .. } => hint.clone(),
            _ => None,
        }
    }

    /// The SQLSTATE, message and hint this error is raised with (for a writer, which
    /// hands them to the caller instead of raising them itself).
    pub fn parts(&self) -> (String, String, Option<String>) {
        (
            sqlstate_text(self.code() as i32),
            self.to_string(),
            self.hint(),
        )
    }

    /// Raise this error in the calling backend. Never returns.
    pub fn report(self) -> ! {
        let code = self.code();
        let hint = self.hint();
        let detail = match &self {
            JobmonError::Remote { detail, .. } => detail.clone(),
            _ => None,
        };
        let mut report = ErrorReport::new(code, self.to_string(), "pg_jobmon");
        if let Some(detail) = detail {
            report = report.set_detail(detail);
        }
        if let Some(hint) = hint {
            report = report.set_hint(hint);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ereport(ERROR) returned")
    }
}

/// How many connection slots the server has, and what to change.
fn connection_slots_hint() -> String {
    let setting = |name: &std::ffi::CStr| unsafe {
        let value = pgrx::pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!value.is_null()).then(|| {
            std::ffi::CStr::from_ptr(value)
                .to_string_lossy()
                .into_owned()
        })
    };
    let mut slots = format!(
        "The server has max_connections = {}, of which superuser_reserved_connections = {}",
        setting(c"max_connections").unwrap_or_default(),
        setting(c"superuser_reserved_connections").unwrap_or_default(),
    );
    // PostgreSQL 16 and later also reserve slots for pg_use_reserved_connections.
    if let Some(reserved) = setting(c"reserved_connections") {
        slots.push_str(&format!(" and reserved_connections = {reserved}"));
    }
    slots
        + " are kept for privileged roles; each session that logs holds one more for its background connection. \
           Raise max_connections, lower jobmon.background_idle_timeout so that idle background connections are given back sooner, \
           or close idle sessions."
}

/// Where a bad setting can be corrected.
fn setting_hint(setting: &str) -> String {
    match setting.split_once('.') {
        Some(("dblink_mapping_jobmon", field)) => format!(
            "Correct or delete the row in dblink_mapping_jobmon (its {field}), \
             or override it with the superuser setting jobmon.{}.",
            match field {
                "username" => "user",
                "hostaddr" => "host",
                other => other,
            }
        ),
        _ => format!("Correct {setting}."),
    }
}

/// PostgreSQL's packed error code as its five characters (PGUNSIXBIT).
pub fn sqlstate_text(code: i32) -> String {
    (0..5)
        .map(|i| (((code >> (6 * i)) & 0x3F) as u8 + b'0') as char)
        .collect()
}

/// The five-character SQLSTATE as PostgreSQL's packed error code (MAKE_SQLSTATE).
fn sqlstate_code(sqlstate: &str) -> PgSqlErrorCode {
    let bytes = sqlstate.as_bytes();
    if bytes.len() != 5 {
        return PgSqlErrorCode::ERRCODE_INTERNAL_ERROR;
    }
    let packed = bytes.iter().enumerate().fold(0i32, |acc, (i, b)| {
        acc + ((((*b as i32) - ('0' as i32)) & 0x3F) << (6 * i))
    });
    PgSqlErrorCode::from(packed)
}

pub type Result<T> = std::result::Result<T, JobmonError>;
