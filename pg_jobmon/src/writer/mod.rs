//! The shared mode: with `shared_preload_libraries = 'pg_jobmon'`, log writes go through
//! a fixed pool of writer processes (background workers, `jobmon.writers`) fed through
//! shared memory, instead of a background connection per session. A writer serves one
//! database at a time and commits every request it took in one transaction (group
//! commit), each in its own subtransaction, as the caller's user.
//!
//! - `shmem`: the queue and the writers' slots in shared memory;
//! - `payload`: a request's arguments and an error's texts as bytes;
//! - `client`: the calling backend's side (queue, wake, wait, withdraw);
//! - `worker`: the writer process's loop and its batches;
//! - `exec`: one request's statement in a writer.

mod client;
mod exec;
mod payload;
mod shmem;
mod worker;

pub use shmem::MAX_WRITERS;

use crate::background::Query;
use crate::call::{Param, Reply};
use crate::error::{JobmonError, Result};
use crate::gucs;
use payload::Value;
use pgrx::bgworkers::{BackgroundWorkerBuilder, BgWorkerStartTime};
use pgrx::pg_sys;
use std::time::Duration;

/// The statements a writer runs (sql/runtime/writer/), with the caller's time of call
/// as a parameter instead of the writer's now().
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Statement {
    AddJob,
    AddJobWithId,
    AddStep,
    AddStepWithId,
    UpdateStep,
    EndJobCode,
    EndJobDiagnose,
    EndJobText,
    ClearBatch,
}

impl Statement {
    const ALL: [Statement; 9] = [
        Statement::AddJob,
        Statement::AddJobWithId,
        Statement::AddStep,
        Statement::AddStepWithId,
        Statement::UpdateStep,
        Statement::EndJobCode,
        Statement::EndJobDiagnose,
        Statement::EndJobText,
        Statement::ClearBatch,
    ];

    fn code(self) -> u8 {
        Statement::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }

    fn from_code(code: u8) -> Option<Statement> {
        Statement::ALL.get(code as usize).copied()
    }

    fn text(self) -> &'static str {
        match self {
            Statement::AddJob => include_str!("../../../sql/runtime/writer/add_job.sql"),
            Statement::AddJobWithId => {
                include_str!("../../../sql/runtime/writer/add_job_with_id.sql")
            }
            Statement::AddStep => include_str!("../../../sql/runtime/writer/add_step.sql"),
            Statement::AddStepWithId => {
                include_str!("../../../sql/runtime/writer/add_step_with_id.sql")
            }
            Statement::UpdateStep => include_str!("../../../sql/runtime/writer/update_step.sql"),
            Statement::EndJobCode => include_str!("../../../sql/runtime/writer/end_job_code.sql"),
            Statement::EndJobDiagnose => include_str!("../../../sql/runtime/end_job_diagnose.sql"),
            Statement::EndJobText => include_str!("../../../sql/runtime/writer/end_job_text.sql"),
            Statement::ClearBatch => include_str!("../../../sql/runtime/clear_batch.sql"),
        }
    }
}

/// The SQL function a request came from, for messages.
fn query_name(code: u8) -> &'static str {
    match Statement::from_code(code) {
        Some(Statement::AddJob | Statement::AddJobWithId) => "add_job",
        Some(Statement::AddStep | Statement::AddStepWithId) => "add_step",
        Some(Statement::UpdateStep) => "update_step",
        Some(Statement::EndJobCode | Statement::EndJobDiagnose) => "close_job or fail_job",
        Some(Statement::EndJobText) => "close_job, fail_job or cancel_job",
        Some(Statement::ClearBatch) => "job_log_clear",
        None => "a logging call",
    }
}

/// True while _PG_init runs from shared_preload_libraries (the shared mode).
pub fn preloading() -> bool {
    unsafe { pg_sys::process_shared_preload_libraries_in_progress }
}

/// Whether this backend logs through the writers.
pub fn active() -> bool {
    shmem::available()
}

/// From _PG_init under shared_preload_libraries (after the GUCs): shared memory and
/// the writer processes.
pub fn init() {
    shmem::install_hooks();
    for i in 0..gucs::writers().min(MAX_WRITERS) {
        BackgroundWorkerBuilder::new(&format!("pg_jobmon writer {}", i + 1))
            .set_type("pg_jobmon writer")
            .set_library("pg_jobmon")
            .set_function("pg_jobmon_writer_main")
            .set_argument(Some(pg_sys::Datum::from(i)))
            .enable_spi_access()
            // On a hot standby too, so that a call there fails as it would in a
            // read-only session instead of waiting for a writer.
            .set_start_time(BgWorkerStartTime::ConsistentState)
            // Restarted at once after an exit (a writer leaves to change databases);
            // one that fails at start waits a little itself.
            .set_restart_time(Some(Duration::ZERO))
            .load();
    }
}

/// One logging statement through a writer: its result once committed, or (with
/// jobmon.wait_for_commit off) at once, with the id taken here from the sequence.
pub fn run(query: Query, params: &[Param]) -> Result<Reply> {
    client::report_earlier_errors()?;
    let schema = crate::background::extension_schema()?;
    let now = unsafe { pg_sys::GetCurrentTimestamp() };
    let mut values: Vec<Value> = params
        .iter()
        .map(|p| match p {
            Param::Int4(i) => Value::Int4(*i),
            Param::Int8(i) => Value::Int8(*i),
            Param::Text(s) => Value::Text(s.map(str::to_string)),
            Param::Timestamp(us) => Value::Timestamp(*us),
        })
        .collect();
    let statement = match query {
        Query::AddJob => Statement::AddJob,
        Query::AddStep => Statement::AddStep,
        Query::UpdateStep => Statement::UpdateStep,
        Query::EndJobCode => Statement::EndJobCode,
        Query::EndJobDiagnose => Statement::EndJobDiagnose,
        Query::EndJobText => Statement::EndJobText,
        Query::ClearBatch => Statement::ClearBatch,
        other => {
            return Err(JobmonError::Internal(format!(
                "{other:?} is not a writer statement"
            )))
        }
    };
    // A job_log_clear batch has no time of call; its caller reads what it returns.
    let reads_reply = matches!(statement, Statement::EndJobDiagnose | Statement::ClearBatch);
    if !reads_reply {
        values.push(Value::Timestamp(now));
    }
    // A read-only transaction may not call nextval(): such a call waits.
    let wait = gucs::wait_for_commit() || reads_reply || unsafe { pg_sys::XactReadOnly };
    let lock_timeout_ms = i32::try_from(gucs::lock_timeout().as_millis()).unwrap_or(i32::MAX);
    let (statement, id) = match (wait, statement) {
        (false, Statement::AddJob) => {
            let id = sequences::next(&schema, "job_log_job_id_seq")?;
            values.push(Value::Int8(id));
            (Statement::AddJobWithId, Some(id))
        }
        (false, Statement::AddStep) => {
            let id = sequences::next(&schema, "job_detail_step_id_seq")?;
            values.push(Value::Int8(id));
            (Statement::AddStepWithId, Some(id))
        }
        (_, s) => (s, None),
    };
    let bytes = payload::encode_request(&schema, &values);
    match client::submit(statement.code(), &bytes, wait, lock_timeout_ms) {
        Ok(Some(outcome)) => Ok(Reply {
            rows: outcome.rows,
            cols: outcome.cols,
        }),
        // Queued only: the call reports success, with the id it took.
        Ok(None) => Ok(Reply {
            rows: 1,
            cols: [
                id.or(values.first().and_then(|v| match v {
                    Value::Int8(i) => Some(*i),
                    _ => None,
                })),
                None,
            ],
        }),
        Err(JobmonError::Interrupted) => {
            // The request is withdrawn: raise the caller's own cancel or terminate.
            pg_sys::check_for_interrupts!();
            Err(JobmonError::Interrupted)
        }
        Err(e) => Err(e),
    }
}

mod sequences {
    //! nextval() of the extension's sequences in the caller (wait_for_commit off), with
    //! the caller's rights, as the column default would take it.
    use crate::error::{JobmonError, Result};
    use pgrx::prelude::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// Sequence OIDs by (extension OID, qualified name): a re-created extension has new ones.
    static OIDS: Mutex<Option<HashMap<(pg_sys::Oid, String), pg_sys::Oid>>> = Mutex::new(None);

    pub fn next(schema: &str, sequence: &str) -> Result<i64> {
        let extension = unsafe { pg_sys::get_extension_oid(c"pg_jobmon".as_ptr(), true) };
        let name = format!("{schema}.{sequence}");
        let key = (extension, name.clone());
        let cached = OIDS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(HashMap::new)
            .get(&key)
            .copied();
        let oid = match cached {
            Some(oid) => oid,
            None => {
                let oid = Spi::get_one_with_args::<pg_sys::Oid>(
                    "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
                    &[name.as_str().into()],
                )
                .map_err(|e| JobmonError::Internal(format!("cannot look up {name}: {e}")))?
                .ok_or(JobmonError::NotInstalled)?;
                OIDS.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(HashMap::new)
                    .insert(key, oid);
                oid
            }
        };
        unsafe { pgrx::direct_function_call::<i64>(pg_sys::nextval_oid, &[oid.into_datum()]) }
            .ok_or_else(|| JobmonError::Internal("nextval() returned NULL".into()))
    }
}
