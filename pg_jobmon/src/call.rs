//! The one place where a logging call chooses its path: the shared writers when the
//! library was preloaded (writer/), else this session's background connection
//! (background/). Both give the same reply: a row count and the first row's values.

use crate::background::{self, Query};
use crate::error::Result;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// An argument of a logging statement.
pub enum Param<'a> {
    Int4(i32),
    Int8(i64),
    Text(Option<&'a str>),
    /// A timestamptz as PostgreSQL keeps it: microseconds since 2000-01-01 UTC, with
    /// i64::MAX and i64::MIN for `infinity` and `-infinity`.
    Timestamp(i64),
}

/// What a logging statement returned: its row count and the first two columns of its
/// first row (booleans as 0 and 1).
pub struct Reply {
    pub rows: u64,
    pub cols: [Option<i64>; 2],
}

impl Reply {
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The single value of the single row a RETURNING statement gave, if any.
    pub fn returned(&self) -> Option<i64> {
        if self.is_empty() {
            None
        } else {
            self.cols[0]
        }
    }

    pub fn first_bool(&self, col: usize) -> bool {
        !self.is_empty() && self.cols[col] == Some(1)
    }
}

/// Runs one logging statement as the caller's current_user; its effects are committed
/// when this returns Ok (with jobmon.wait_for_commit off in the shared mode: queued).
pub fn run(query: Query, params: &[Param]) -> Result<Reply> {
    if crate::writer::active() {
        return crate::writer::run(query, params);
    }
    let times: Vec<SystemTime> = params
        .iter()
        .filter_map(|p| match p {
            Param::Timestamp(us) => Some(system_time(*us)),
            _ => None,
        })
        .collect();
    let mut next_time = times.iter();
    let values: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .filter_map(|p| match p {
            Param::Int4(i) => Some(i as &(dyn ToSql + Sync)),
            Param::Int8(i) => Some(i as &(dyn ToSql + Sync)),
            Param::Text(s) => Some(s as &(dyn ToSql + Sync)),
            Param::Timestamp(_) => next_time.next().map(|t| t as &(dyn ToSql + Sync)),
        })
        .collect();
    let rows = background::run(query, &values)?;
    Ok(from_rows(query, &rows))
}

fn from_rows(query: Query, rows: &[Row]) -> Reply {
    let first = rows.first();
    let col = |i: usize| -> Option<i64> {
        let row = first?;
        if matches!(query, Query::EndJobDiagnose) {
            row.try_get::<_, bool>(i).ok().map(i64::from)
        } else if matches!(query, Query::ClearBatch) && i == 1 {
            row.try_get::<_, Option<SystemTime>>(i)
                .ok()
                .flatten()
                .map(pg_micros)
        } else if i == 0 {
            row.try_get::<_, i64>(i).ok()
        } else {
            None
        }
    };
    Reply {
        rows: rows.len() as u64,
        cols: [col(0), col(1)],
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

/// A timestamptz for the background session, exact to the microsecond; the infinities as
/// the first and last timestamps PostgreSQL has.
fn system_time(us: i64) -> SystemTime {
    let us = us.clamp(FIRST_TIMESTAMP_US, LAST_FINITE_TIMESTAMP_US);
    let offset = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        pg_epoch() + offset
    } else {
        pg_epoch() - offset
    }
}

/// A time the background session returned, as PostgreSQL's microseconds.
fn pg_micros(t: SystemTime) -> i64 {
    let us = match t.duration_since(pg_epoch()) {
        Ok(d) => i64::try_from(d.as_micros()),
        Err(e) => i64::try_from(e.duration().as_micros()).map(|us| -us),
    };
    us.unwrap_or(i64::MAX)
}
