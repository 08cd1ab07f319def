//! The non-transactional logging functions of the 1.5.0 API that write job_log and
//! job_detail. Each is one statement on the background connection; the rest of the API
//! (config-table variants, sql_step, sql_job, cancel_job, ...) is SQL in sql/functions.sql
//! built on these.

use crate::background::Query;
use crate::call::{self, Param, Reply};
use crate::error::{JobmonError, Result};
use pgrx::prelude::*;

fn required<T>(value: Option<T>, function: &'static str, argument: &'static str) -> T {
    match value {
        Some(v) => v,
        None => JobmonError::NullArgument { function, argument }.report(),
    }
}

fn or_report<T>(result: Result<T>) -> T {
    result.unwrap_or_else(|e| e.report())
}

/// The single value of the single row a RETURNING statement gave, if any.
fn returned(reply: &Reply) -> Option<i64> {
    reply.returned()
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn add_job(p_job_name: Option<&str>) -> i64 {
    let name = required(p_job_name, "add_job", "p_job_name");
    let pid = unsafe { pg_sys::MyProcPid };
    let rows = or_report(call::run(
        Query::AddJob,
        &[Param::Text(Some(name)), Param::Int4(pid)],
    ));
    or_report(
        returned(&rows).ok_or_else(|| {
            JobmonError::Internal("add_job(): the INSERT returned no job_id".into())
        }),
    )
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn add_step(p_job_id: Option<i64>, p_action: Option<&str>) -> i64 {
    let job_id = required(p_job_id, "add_step", "p_job_id");
    let action = required(p_action, "add_step", "p_action");
    let rows = or_report(call::run(
        Query::AddStep,
        &[Param::Int8(job_id), Param::Text(Some(action))],
    ));
    or_report(returned(&rows).ok_or(JobmonError::NoSuchJob(job_id)))
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn update_step(p_step_id: Option<i64>, p_status: Option<&str>, p_message: Option<&str>) {
    let step_id = required(p_step_id, "update_step", "p_step_id");
    let rows = or_report(call::run(
        Query::UpdateStep,
        &[
            Param::Int8(step_id),
            Param::Text(p_status),
            Param::Text(p_message),
        ],
    ));
    if rows.is_empty() {
        JobmonError::NoSuchStep(step_id).report();
    }
}

/// Ends a job with the text of `code` from job_status_text.
fn end_job(job_id: i64, code: i32) {
    let rows = or_report(call::run(
        Query::EndJobCode,
        &[Param::Int8(job_id), Param::Int4(code)],
    ));
    if !rows.is_empty() {
        return;
    }
    // Error path only: one more round trip to say what was missing.
    let rows = or_report(call::run(
        Query::EndJobDiagnose,
        &[Param::Int8(job_id), Param::Int4(code)],
    ));
    let job_exists = rows.first_bool(0);
    if !job_exists {
        JobmonError::NoSuchJob(job_id).report();
    }
    JobmonError::UnknownAlertCode(code).report();
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn close_job(p_job_id: Option<i64>) {
    end_job(required(p_job_id, "close_job", "p_job_id"), 1);
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn fail_job(p_job_id: Option<i64>, p_fail_level: default!(Option<i32>, 3)) {
    let job_id = required(p_job_id, "fail_job", "p_job_id");
    let level = required(p_fail_level, "fail_job", "p_fail_level");
    end_job(job_id, level);
}

/// Ends a job with a status text the caller already resolved (the p_config_table variants
/// of close_job / fail_job / cancel_job).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn _set_job_status(p_job_id: Option<i64>, p_status: Option<&str>) {
    let job_id = required(p_job_id, "_set_job_status", "p_job_id");
    let rows = or_report(call::run(
        Query::EndJobText,
        &[Param::Int8(job_id), Param::Text(p_status)],
    ));
    if rows.is_empty() {
        JobmonError::NoSuchJob(job_id).report();
    }
}

/// One batch of job_log_clear, committed when this returns (by a writer, or on the
/// background connection):
/// deletes up to `p_batch_size` of the oldest runs that started at or after `p_after` and
/// at or before `p_boundary` (never `p_keep_job_id`), and returns how many and the start
/// of the last one, where the next batch begins. Batches, each its own short transaction,
/// keep a purge of millions of runs from holding their row locks (and a DDL queued behind
/// them, and every writer behind that) for the whole purge; starting each where the last
/// ended spares it the index entries of the runs deleted before, which stay until no
/// snapshot can see them (the caller's own statement holds one for the whole purge).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn _job_log_clear_batch(
    p_boundary: Option<TimestampWithTimeZone>,
    p_keep_job_id: Option<i64>,
    p_batch_size: Option<i32>,
    p_after: Option<TimestampWithTimeZone>,
) -> TableIterator<
    'static,
    (
        name!(deleted, i64),
        name!(last_start, Option<TimestampWithTimeZone>),
    ),
> {
    let f = "_job_log_clear_batch";
    let boundary = required(p_boundary, f, "p_boundary").into_inner();
    let keep = required(p_keep_job_id, f, "p_keep_job_id");
    let batch = i64::from(required(p_batch_size, f, "p_batch_size").max(1));
    let after = required(p_after, f, "p_after").into_inner();
    let reply = or_report(call::run(
        Query::ClearBatch,
        &[
            Param::Timestamp(boundary),
            Param::Int8(keep),
            Param::Int8(batch),
            Param::Timestamp(after),
        ],
    ));
    if reply.is_empty() {
        JobmonError::Internal("job_log_clear: the batch returned no row".into()).report()
    }
    let last = reply.cols[1].map(|us| {
        or_report(TimestampWithTimeZone::try_from(us).map_err(|_| {
            JobmonError::Internal(format!("job_log_clear: timestamp {us} out of range"))
        }))
    });
    TableIterator::once((reply.cols[0].unwrap_or(0), last))
}
