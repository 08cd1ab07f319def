//! The non-transactional logging functions of the 1.5.0 API that write job_log and
//! job_detail. Each is one statement on the background connection; the rest of the API
//! (config-table variants, sql_step, sql_job, cancel_job, ...) is SQL in sql/functions.sql
//! built on these.

use crate::background::{self, Query};
use crate::error::{JobmonError, Result};
use pgrx::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::Row;

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
fn returned(rows: &[Row]) -> Option<i64> {
    rows.first().map(|row| row.get::<_, i64>(0))
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn add_job(p_job_name: Option<&str>) -> i64 {
    let name = required(p_job_name, "add_job", "p_job_name");
    let pid = unsafe { pg_sys::MyProcPid };
    let rows = or_report(background::run(Query::AddJob, &[&name, &pid]));
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
    let rows = or_report(background::run(Query::AddStep, &[&job_id, &action]));
    or_report(returned(&rows).ok_or(JobmonError::NoSuchJob(job_id)))
}

#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn update_step(p_step_id: Option<i64>, p_status: Option<&str>, p_message: Option<&str>) {
    let step_id = required(p_step_id, "update_step", "p_step_id");
    let rows = or_report(background::run(
        Query::UpdateStep,
        &[&step_id, &p_status, &p_message],
    ));
    if rows.is_empty() {
        JobmonError::NoSuchStep(step_id).report();
    }
}

/// Ends a job with the text of `code` from job_status_text.
fn end_job(job_id: i64, code: i32) {
    let rows = or_report(background::run(Query::EndJobCode, &[&job_id, &code]));
    if !rows.is_empty() {
        return;
    }
    // Error path only: one more round trip to say what was missing.
    let rows = or_report(background::run(Query::EndJobDiagnose, &[&job_id, &code]));
    let job_exists = rows.first().is_some_and(|r| r.get::<_, bool>(0));
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
    let rows = or_report(background::run(Query::EndJobText, &[&job_id, &p_status]));
    if rows.is_empty() {
        JobmonError::NoSuchJob(job_id).report();
    }
}

/// Seconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// Microseconds after PostgreSQL's epoch of its latest finite timestamp (294276-12-31
/// 23:59:59.999999 UTC): `infinity` compares as that.
const LAST_FINITE_TIMESTAMP_US: i64 = 9_223_371_331_199_999_999;

/// Microseconds after PostgreSQL's epoch of its earliest timestamp (4714-11-24 00:00 BC
/// UTC): `-infinity` compares as that.
const FIRST_TIMESTAMP_US: i64 = -211_813_488_000_000_000;

fn pg_epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS)
}

/// `t` for the background session, exact to the microsecond; the infinities as the
/// first and last timestamps PostgreSQL has.
fn system_time(t: TimestampWithTimeZone) -> SystemTime {
    let us = if t.is_infinity() {
        LAST_FINITE_TIMESTAMP_US
    } else if t.is_neg_infinity() {
        FIRST_TIMESTAMP_US
    } else {
        t.into_inner()
    };
    let offset = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        pg_epoch() + offset
    } else {
        pg_epoch() - offset
    }
}

/// A time the background session returned, back as a PostgreSQL value.
fn timestamp(t: SystemTime) -> Result<TimestampWithTimeZone> {
    let us = match t.duration_since(pg_epoch()) {
        Ok(d) => i64::try_from(d.as_micros()),
        Err(e) => i64::try_from(e.duration().as_micros()).map(|us| -us),
    };
    us.ok()
        .and_then(|us| TimestampWithTimeZone::try_from(us).ok())
        .ok_or_else(|| JobmonError::Internal(format!("timestamp {t:?} out of range")))
}

/// One batch of job_log_clear on the background connection, committed when this returns:
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
    let boundary = system_time(required(p_boundary, f, "p_boundary"));
    let keep = required(p_keep_job_id, f, "p_keep_job_id");
    let batch = i64::from(required(p_batch_size, f, "p_batch_size").max(1));
    let after = system_time(required(p_after, f, "p_after"));
    let rows = or_report(background::run(
        Query::ClearBatch,
        &[&boundary, &keep, &batch, &after],
    ));
    let Some(row) = rows.first() else {
        JobmonError::Internal("job_log_clear: the batch returned no row".into()).report()
    };
    let last: Option<SystemTime> = row.get(1);
    let last = last.map(|t| or_report(timestamp(t)));
    TableIterator::once((row.get::<_, i64>(0), last))
}
