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
    #[error("pg_jobmon could not open its background connection ({target}): {reason}")]
    Connect { target: String, reason: String },
    #[error("pg_jobmon background connection failed: {0}")]
    Connection(String),
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
}

impl JobmonError {
    fn code(&self) -> PgSqlErrorCode {
        match self {
            JobmonError::NullArgument { .. } => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            JobmonError::NoSuchJob(_) | JobmonError::NoSuchStep(_) => {
                PgSqlErrorCode::ERRCODE_NO_DATA_FOUND
            }
            JobmonError::UnknownAlertCode(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            JobmonError::Connect { .. } => {
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION
            }
            JobmonError::Connection(_) => PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
            JobmonError::Remote { sqlstate, .. } => sqlstate_code(sqlstate),
            JobmonError::Interrupted => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
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
            JobmonError::Connect { .. } => Some(
                "By default pg_jobmon connects to this server's Unix socket as the bootstrap superuser; \
                 pg_hba.conf must admit that (e.g. `local all postgres peer`). \
                 The superuser settings jobmon.host, jobmon.port and jobmon.user change the target."
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
