//! Executing one request inside a writer's batch transaction: its statement (prepared
//! once per writer and schema, kept across transactions), run with the caller's user id
//! and lock bound, inside its own subtransaction when the batch has others, so that its
//! failure undoes only its own effects.

use super::payload::{ErrorText, Value};
use super::Statement;
use crate::error::JobmonError;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::PgTryBuilder;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CString};
use std::panic::AssertUnwindSafe;

/// What a request gave: the row count and the first row's first two columns.
pub struct Rows {
    pub count: u64,
    pub cols: [Option<i64>; 2],
}

thread_local! {
    /// Plans by statement and schema, saved with SPI_keepplan (PostgreSQL replans them
    /// when the tables change).
    static PLANS: RefCell<HashMap<(Statement, String), pg_sys::SPIPlanPtr>> = RefCell::new(HashMap::new());
    /// The lock_timeout in effect in this writer (None: unknown, after an abort).
    static LOCK_TIMEOUT: RefCell<Option<i32>> = const { RefCell::new(None) };
    /// While the writer drains its queue before exiting: the longest lock wait.
    static LOCK_TIMEOUT_CAP: RefCell<Option<i32>> = const { RefCell::new(None) };
}

/// The request as the writer executes it.
pub struct Job<'a> {
    pub statement: Statement,
    pub schema: &'a str,
    pub values: &'a [Value],
    pub user: pg_sys::Oid,
    pub lock_timeout_ms: i32,
    /// Turn "no row" into the error the caller would raise (wait_for_commit off: nobody
    /// else looks at the result).
    pub check_rows: bool,
}

/// Sets lock_timeout for the next request, outside any subtransaction so that the value
/// stays known; forgets it when the transaction aborts.
pub fn set_lock_timeout(ms: i32) {
    LOCK_TIMEOUT.with(|current| {
        if *current.borrow() == Some(ms) {
            return;
        }
        let value = CString::new(format!("{ms}")).unwrap_or_default();
        unsafe {
            pg_sys::SetConfigOption(
                c"lock_timeout".as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SUSET,
                pg_sys::GucSource::PGC_S_SESSION,
            );
        }
        *current.borrow_mut() = Some(ms);
    });
}

/// Bounds every later request's lock wait to `ms` (0, no bound, included).
pub fn cap_lock_timeout(ms: i32) {
    LOCK_TIMEOUT_CAP.with(|cap| *cap.borrow_mut() = Some(ms));
}

pub fn lock_timeout_capped() -> bool {
    LOCK_TIMEOUT_CAP.with(|cap| cap.borrow().is_some())
}

pub fn forget_lock_timeout() {
    LOCK_TIMEOUT.with(|current| *current.borrow_mut() = None);
}

/// Runs one request. With `subtransaction`, its failure is rolled back here and returned;
/// without, the caller must abort the whole transaction on `Err`.
pub fn run(job: &Job, subtransaction: bool) -> Result<Rows, ErrorText> {
    let lock_timeout = match LOCK_TIMEOUT_CAP.with(|cap| *cap.borrow()) {
        Some(cap) if job.lock_timeout_ms == 0 || job.lock_timeout_ms > cap => cap,
        _ => job.lock_timeout_ms,
    };
    set_lock_timeout(lock_timeout);
    let (saved_user, saved_context) = unsafe {
        let mut user = pg_sys::InvalidOid;
        let mut context: c_int = 0;
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        (user, context)
    };
    let outer_context = unsafe { pg_sys::CurrentMemoryContext };
    let outer_owner = unsafe { pg_sys::CurrentResourceOwner };
    if subtransaction {
        unsafe {
            pg_sys::BeginInternalSubTransaction(std::ptr::null());
            pg_sys::MemoryContextSwitchTo(outer_context);
        }
    }
    unsafe {
        pg_sys::SetUserIdAndSecContext(
            job.user,
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as c_int,
        )
    };
    let result = PgTryBuilder::new(AssertUnwindSafe(|| Ok(execute(job))))
        .catch_others(|e| Err(caught(e)))
        .execute();
    unsafe {
        pg_sys::SetUserIdAndSecContext(saved_user, saved_context);
    }
    let result = match result {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e),
    };
    if subtransaction {
        unsafe {
            pg_sys::MemoryContextSwitchTo(outer_context);
            if result.is_ok() {
                pg_sys::ReleaseCurrentSubTransaction();
            } else {
                pg_sys::RollbackAndReleaseCurrentSubTransaction();
            }
            pg_sys::MemoryContextSwitchTo(outer_context);
            pg_sys::CurrentResourceOwner = outer_owner;
        }
    }
    result
}

/// The statement, then the check of its row count. An `Err` here is a pg_jobmon error
/// (no row), not a PostgreSQL one: nothing was changed.
fn execute(job: &Job) -> Result<Rows, ErrorText> {
    let rows = execute_plan(job.statement, job.schema, job.values);
    if !job.check_rows || rows.count > 0 {
        return Ok(rows);
    }
    let id = match job.values.first() {
        Some(Value::Int8(id)) => *id,
        _ => 0,
    };
    let error = match job.statement {
        Statement::UpdateStep => JobmonError::NoSuchStep(id),
        Statement::EndJobCode => {
            let code = match job.values.get(1) {
                Some(Value::Int4(code)) => *code,
                _ => 0,
            };
            let diagnosis = execute_plan(
                Statement::EndJobDiagnose,
                job.schema,
                &job.values[..2.min(job.values.len())],
            );
            if diagnosis.cols[0] == Some(1) {
                JobmonError::UnknownAlertCode(code)
            } else {
                JobmonError::NoSuchJob(id)
            }
        }
        _ => JobmonError::NoSuchJob(id),
    };
    let (sqlstate, message, hint) = error.parts();
    Err(ErrorText {
        sqlstate,
        message,
        detail: None,
        hint,
    })
}

fn execute_plan(statement: Statement, schema: &str, values: &[Value]) -> Rows {
    let plan = plan(statement, schema, values);
    let mut datums: Vec<pg_sys::Datum> = Vec::with_capacity(values.len());
    let mut nulls: Vec<c_char> = Vec::with_capacity(values.len());
    for v in values {
        let (datum, null) = match v {
            Value::Int4(i) => (pg_sys::Datum::from(*i), false),
            Value::Int8(i) | Value::Timestamp(i) => (pg_sys::Datum::from(*i), false),
            Value::Text(None) => (pg_sys::Datum::from(0), true),
            Value::Text(Some(s)) => (
                pg_sys::Datum::from(unsafe {
                    pg_sys::cstring_to_text_with_len(s.as_ptr() as *const c_char, s.len() as c_int)
                }),
                false,
            ),
        };
        datums.push(datum);
        nulls.push(if null { b'n' as c_char } else { b' ' as c_char });
    }
    unsafe {
        let rc = pg_sys::SPI_execute_plan(plan, datums.as_mut_ptr(), nulls.as_ptr(), false, 0);
        if rc < 0 {
            pgrx::error!("pg_jobmon writer: SPI_execute_plan failed with code {rc}");
        }
        let count = pg_sys::SPI_processed;
        let mut cols = [None, None];
        let table = pg_sys::SPI_tuptable;
        if count > 0 && !table.is_null() {
            let tuple = *(*table).vals;
            let desc = (*table).tupdesc;
            let natts = (*desc).natts;
            for (i, col) in cols.iter_mut().enumerate() {
                if (i as c_int) < natts {
                    let mut isnull = false;
                    let datum = pg_sys::SPI_getbinval(tuple, desc, i as c_int + 1, &mut isnull);
                    if !isnull {
                        *col = Some(if statement == Statement::EndJobDiagnose {
                            i64::from(datum.value() as u8 != 0)
                        } else {
                            datum.value() as i64
                        });
                    }
                }
            }
        }
        Rows { count, cols }
    }
}

fn plan(statement: Statement, schema: &str, values: &[Value]) -> pg_sys::SPIPlanPtr {
    let key = (statement, schema.to_string());
    if let Some(plan) = PLANS.with(|p| p.borrow().get(&key).copied()) {
        return plan;
    }
    let text = CString::new(statement.text().replace("@extschema@", schema)).unwrap_or_default();
    let mut types: Vec<pg_sys::Oid> = values
        .iter()
        .map(|v| match v {
            Value::Int4(_) => pg_sys::INT4OID,
            Value::Int8(_) => pg_sys::INT8OID,
            Value::Timestamp(_) => pg_sys::TIMESTAMPTZOID,
            Value::Text(_) => pg_sys::TEXTOID,
        })
        .collect();
    unsafe {
        let plan = pg_sys::SPI_prepare(text.as_ptr(), types.len() as c_int, types.as_mut_ptr());
        if plan.is_null() {
            pgrx::error!("pg_jobmon writer: SPI_prepare failed");
        }
        pg_sys::SPI_keepplan(plan);
        PLANS.with(|p| p.borrow_mut().insert(key, plan));
        plan
    }
}

/// A caught PostgreSQL error as the caller will re-raise it.
pub fn caught(e: CaughtError) -> ErrorText {
    match e {
        CaughtError::PostgresError(report)
        | CaughtError::ErrorReport(report)
        | CaughtError::RustPanic {
            ereport: report, ..
        } => ErrorText {
            sqlstate: crate::error::sqlstate_text(report.sql_error_code() as i32),
            message: report.message().to_string(),
            detail: report.detail().map(str::to_string),
            hint: report.hint().map(str::to_string),
        },
    }
}
