//! The SQLite queue file that jobs on source hosts append status messages to, in the format
//! of the 2016 job_tracker's `message-queue.py`: one table `messages`, timestamps as Julian
//! day numbers (UTC) filled in by SQLite's column default.
//!
//! Behaviour follows the original producer where it was explicit, and is safer where it
//! was not:
//! - `add` inserts only instance/job/event/message, so SQLite fills `timestamp` exactly as
//!   before; the table and index are created when missing (the original created them only
//!   for a file that did not exist yet, so an empty file broke it).
//! - `list` prints the first N rows in id order (default 10, as before) in the original
//!   JSON shape; the timestamp is rendered by SQLite with the original expressions:
//!   `UTC` = `strftime('%Y-%m-%dT%H:%M:%fZ', timestamp)` e.g. `"2016-07-01T14:57:46.598Z"`,
//!   `EPOCHE` = `strftime('%s', timestamp)` e.g. `"1467385066"` (a string, as before),
//!   `LOCALTIME` = `datetime(timestamp, 'localtime')` e.g. `"2016-07-01 16:57:46"` (the
//!   process's `TZ`). A timestamp SQLite cannot read as a time gives `null`.
//! - `remove` takes the N oldest rows (by stored timestamp, then id), prints them like
//!   `list` and deletes them in one transaction; the rows are deleted only after they were
//!   written to stdout, so a broken pipe loses nothing (the original deleted first).
//! - Text that is not UTF-8 or blobs are printed as lossy text by `list`/`remove` (the
//!   original crashed on them); `read` keeps them exact (see [`value`]).
//! - No journal mode is forced (the legacy producer uses the default rollback journal);
//!   every connection waits up to [`BUSY_TIMEOUT`] for a writer's lock.

mod pyjson;
mod value;

pub use pyjson::to_python_json;
pub use value::{LineError, QueueRow, SqlValue};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The DDL of DESIGN.md section 5 (the 2016 table and index), without its SQL comment.
pub const SCHEMA: &str = include_str!("schema.sql");

/// How long a call waits for another process's lock before giving up. Producers hold
/// their write lock for one insert, so 5 s only runs out when something is stuck.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `list` and `remove` without `-i` handle 10 rows, as the 2016 tool did.
pub const LEGACY_DEFAULT_MAX_ITEMS: u64 = 10;

const HAS_TABLE: &str =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'";
const INSERT: &str = "INSERT INTO messages(instance, job, event, message) VALUES (?1, ?2, ?3, ?4)";
const INSERT_AT: &str =
    "INSERT INTO messages(timestamp, instance, job, event, message) VALUES (?1, ?2, ?3, ?4, ?5)";
const LENGTH: &str = "SELECT count(id) FROM messages";
const READ_AFTER: &str = "SELECT id, timestamp, instance, job, event, message FROM messages \
                          WHERE id > ?1 ORDER BY id LIMIT ?2";
const READ_FROM: &str = "SELECT id, timestamp, instance, job, event, message FROM messages \
                         WHERE id >= ?1 ORDER BY id LIMIT ?2";
const MIN_ID: &str = "SELECT min(id) FROM messages";
const ROW_BY_ID: &str = "SELECT id, timestamp, instance, job, event, message FROM messages \
                         WHERE id = ?1";
const ACK_THROUGH: &str = "DELETE FROM messages WHERE id <= ?1";
const DELETE_ONE: &str = "DELETE FROM messages WHERE id = ?1";
// One constant per time format: the expressions are the 2016 tool's, and no SQL text is
// ever assembled at run time.
const LIST_UTC: &str =
    "SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), instance, job, event, message \
                        FROM messages ORDER BY id LIMIT ?1";
const LIST_EPOCHE: &str = "SELECT id, strftime('%s', timestamp), instance, job, event, message \
                           FROM messages ORDER BY id LIMIT ?1";
const LIST_LOCALTIME: &str =
    "SELECT id, datetime(timestamp, 'localtime'), instance, job, event, message \
                              FROM messages ORDER BY id LIMIT ?1";
const OLDEST_UTC: &str =
    "SELECT id, strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), instance, job, event, message \
                          FROM messages ORDER BY messages.timestamp, id LIMIT ?1";
const OLDEST_EPOCHE: &str = "SELECT id, strftime('%s', timestamp), instance, job, event, message \
                             FROM messages ORDER BY messages.timestamp, id LIMIT ?1";
const OLDEST_LOCALTIME: &str =
    "SELECT id, datetime(timestamp, 'localtime'), instance, job, event, message \
                                FROM messages ORDER BY messages.timestamp, id LIMIT ?1";

/// Everything that can go wrong with a queue file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue file {}: does not exist", path.display())]
    Missing { path: PathBuf },
    #[error("queue file {}: not a SQLite database", path.display())]
    NotSqlite { path: PathBuf },
    #[error("queue file {}: SQLite database without a `messages` table, not a job queue", path.display())]
    NoTable { path: PathBuf },
    #[error("queue file {}: still locked by another process after {} s", path.display(), BUSY_TIMEOUT.as_secs())]
    Busy { path: PathBuf },
    #[error("queue file {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("queue file {}: rows not removed because writing them failed: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How `list` and `remove` render the timestamp (the original `-t` choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// ISO 8601 in UTC with milliseconds: `2016-07-01T14:57:46.598Z`.
    #[default]
    Utc,
    /// Unix seconds as a decimal string: `"1467385066"`.
    Epoche,
    /// Local time of the process (`TZ`): `2016-07-01 16:57:46`.
    Localtime,
}

/// A message to append. `None` fields are stored as NULL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewMessage {
    pub instance: Option<String>,
    pub job: Option<String>,
    pub event: Option<String>,
    pub message: Option<String>,
}

/// One element of the JSON array `list` and `remove` print, in the original's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyMessage {
    pub id: i64,
    pub timestamp: SqlValue,
    pub instance: SqlValue,
    pub job: SqlValue,
    pub event: SqlValue,
    pub message: SqlValue,
}

impl Serialize for LegacyMessage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("LegacyMessage", 6)?;
        st.serialize_field("_id", &self.id)?;
        st.serialize_field("timestamp", &value::legacy_json(&self.timestamp))?;
        st.serialize_field("instance", &value::legacy_json(&self.instance))?;
        st.serialize_field("job", &value::legacy_json(&self.job))?;
        st.serialize_field("event", &value::legacy_json(&self.event))?;
        st.serialize_field("message", &value::legacy_json(&self.message))?;
        st.end()
    }
}

/// What the tracker reads of a queue in one go (see [`tracker_core::row::Window`]).
pub type Window = tracker_core::row::Window<QueueRow>;

/// An open queue file.
pub struct Queue {
    conn: Connection,
    path: PathBuf,
}

impl Queue {
    /// Opens an existing queue file; it must be SQLite and hold the `messages` table.
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        if !path.exists() {
            return Err(QueueError::Missing {
                path: path.to_owned(),
            });
        }
        let queue = Self::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let tables: i64 = queue
            .conn
            .query_row(HAS_TABLE, [], |r| r.get(0))
            .map_err(|e| queue.error(e))?;
        if tables == 0 {
            return Err(QueueError::NoTable {
                path: path.to_owned(),
            });
        }
        Ok(queue)
    }

    /// Opens a queue file for appending, creating the file, table and index when missing.
    pub fn open_or_create(path: &Path) -> Result<Self, QueueError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let queue = Self::connect(path, flags)?;
        queue
            .conn
            .execute_batch(SCHEMA)
            .map_err(|e| queue.error(e))?;
        Ok(queue)
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Self, QueueError> {
        let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let wrap = |source| QueueError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open_with_flags(path, flags).map_err(wrap)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(wrap)?;
        Ok(Queue {
            conn,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives back the memory of this connection's page cache. SQLite keeps the pages it read
    /// until the connection closes, up to 2 MB per queue file: measured, 100 connections
    /// that each read a window of 20,000 rows hold 137 MB, and 4 MB after this.
    pub fn release_memory(&self) -> Result<(), QueueError> {
        self.conn
            .execute_batch("PRAGMA shrink_memory")
            .map_err(|e| self.error(e))
    }

    /// Bytes this connection's page cache holds now.
    #[cfg(test)]
    pub(crate) fn cache_bytes(&self) -> i32 {
        let (mut current, mut highwater) = (0, 0);
        // SAFETY: the handle is this open connection's; the status call only reads counters
        // into the two integers it is given.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                self.conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut current,
                &mut highwater,
                0,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        current
    }

    fn error(&self, source: rusqlite::Error) -> QueueError {
        map_error(&self.path, source)
    }

    /// Appends a message and returns its id.
    pub fn add(&self, msg: &NewMessage) -> Result<i64, QueueError> {
        self.conn
            .execute(
                INSERT,
                params![msg.instance, msg.job, msg.event, msg.message],
            )
            .map_err(|e| self.error(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Appends a message stamped `at` instead of now (a message kept elsewhere while the
    /// queue could not be written, replayed); returns its id.
    pub fn add_at(
        &self,
        msg: &NewMessage,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, QueueError> {
        // The Julian day number SQLite's strftime('%J') gives, to the millisecond.
        let julian = at.timestamp_millis() as f64 / 86_400_000.0 + 2_440_587.5;
        self.conn
            .execute(
                INSERT_AT,
                params![julian, msg.instance, msg.job, msg.event, msg.message],
            )
            .map_err(|e| self.error(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Appends messages in one transaction (one disk sync for all); returns the last id.
    pub fn add_all(&mut self, msgs: &[NewMessage]) -> Result<i64, QueueError> {
        let path = self.path.clone();
        let run = |conn: &mut Connection| -> rusqlite::Result<i64> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(INSERT)?;
                for m in msgs {
                    insert.execute(params![m.instance, m.job, m.event, m.message])?;
                }
            }
            let last = tx.last_insert_rowid();
            tx.commit()?;
            Ok(last)
        };
        run(&mut self.conn).map_err(|e| map_error(&path, e))
    }

    /// Number of messages in the queue.
    pub fn length(&self) -> Result<i64, QueueError> {
        self.conn
            .query_row(LENGTH, [], |r| r.get(0))
            .map_err(|e| self.error(e))
    }

    /// The first `limit` messages in id order (`None`: all), timestamps rendered as `format`.
    pub fn list(
        &self,
        limit: Option<u64>,
        format: TimeFormat,
    ) -> Result<Vec<LegacyMessage>, QueueError> {
        let sql = match format {
            TimeFormat::Utc => LIST_UTC,
            TimeFormat::Epoche => LIST_EPOCHE,
            TimeFormat::Localtime => LIST_LOCALTIME,
        };
        legacy_rows(&self.conn, sql, limit).map_err(|e| self.error(e))
    }

    /// Removes the `limit` oldest messages (`None`: all). `emit` receives them before the
    /// deletion is committed; if it fails, nothing is removed.
    pub fn remove<E>(
        &mut self,
        limit: Option<u64>,
        format: TimeFormat,
        emit: E,
    ) -> Result<Vec<LegacyMessage>, QueueError>
    where
        E: FnOnce(&[LegacyMessage]) -> std::io::Result<()>,
    {
        let sql = match format {
            TimeFormat::Utc => OLDEST_UTC,
            TimeFormat::Epoche => OLDEST_EPOCHE,
            TimeFormat::Localtime => OLDEST_LOCALTIME,
        };
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_error(&path, e))?;
        let rows = legacy_rows(&tx, sql, limit).map_err(|e| map_error(&path, e))?;
        {
            let mut delete = tx.prepare(DELETE_ONE).map_err(|e| map_error(&path, e))?;
            for row in &rows {
                delete.execute([row.id]).map_err(|e| map_error(&path, e))?;
            }
        }
        emit(&rows).map_err(|source| QueueError::Output {
            path: path.clone(),
            source,
        })?;
        tx.commit().map_err(|e| map_error(&path, e))?;
        Ok(rows)
    }

    /// Up to `limit` rows with an id above `after`, in id order, exactly as stored. The read
    /// is one statement, so it sees one consistent snapshot even while a producer appends.
    pub fn read_after(&self, after: i64, limit: u64) -> Result<Vec<QueueRow>, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let run = || -> rusqlite::Result<Vec<QueueRow>> {
            let mut stmt = self.conn.prepare(READ_AFTER)?;
            let rows = stmt.query_map(params![after, limit], queue_row)?;
            rows.collect()
        };
        run().map_err(|e| self.error(e))
    }

    /// The lowest id and up to `limit` rows with an id of at least `from` (all rows when
    /// `None`), in id order, read in one transaction so a producer appending meanwhile
    /// cannot make the two disagree.
    pub fn read_window(&mut self, from: Option<i64>, limit: u64) -> Result<Window, QueueError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let path = self.path.clone();
        let run = |conn: &mut Connection| -> rusqlite::Result<Window> {
            let tx = conn.transaction()?;
            let min_id: Option<i64> = tx.query_row(MIN_ID, [], |r| r.get(0))?;
            let rows = {
                let mut stmt = tx.prepare_cached(READ_FROM)?;
                let rows = stmt.query_map(params![from.unwrap_or(i64::MIN), limit], queue_row)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok(Window { min_id, rows })
        };
        run(&mut self.conn).map_err(|e| map_error(&path, e))
    }

    /// Deletes every message with an id up to and including `id`, but only if the row with
    /// that id still has content `fingerprint` (see [`QueueRow::fingerprint`]): a queue that
    /// was emptied and refilled meanwhile is left alone. `None` when the row differed or was
    /// gone, else how many rows were deleted.
    pub fn ack_through_if(
        &mut self,
        id: i64,
        fingerprint: u64,
    ) -> Result<Option<usize>, QueueError> {
        let path = self.path.clone();
        let run = |conn: &mut Connection| -> rusqlite::Result<Option<usize>> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row = {
                let mut stmt = tx.prepare(ROW_BY_ID)?;
                let mut rows = stmt.query_map([id], queue_row)?;
                rows.next().transpose()?
            };
            if row.map(|r| r.fingerprint()) != Some(fingerprint) {
                return Ok(None);
            }
            let deleted = tx.execute(ACK_THROUGH, [id])?;
            tx.commit()?;
            Ok(Some(deleted))
        };
        run(&mut self.conn).map_err(|e| map_error(&path, e))
    }

    /// Deletes every message with an id up to and including `id`; returns how many.
    pub fn ack_through(&self, id: i64) -> Result<usize, QueueError> {
        self.conn
            .execute(ACK_THROUGH, [id])
            .map_err(|e| self.error(e))
    }
}

fn map_error(path: &Path, source: rusqlite::Error) -> QueueError {
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => QueueError::NotSqlite { path },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            QueueError::Busy { path }
        }
        _ => QueueError::Sqlite { path, source },
    }
}

fn legacy_rows(
    conn: &Connection,
    sql: &str,
    limit: Option<u64>,
) -> rusqlite::Result<Vec<LegacyMessage>> {
    // SQLite reads a negative LIMIT as "no limit".
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([limit], |r| {
        let QueueRow {
            id,
            timestamp,
            instance,
            job,
            event,
            message,
        } = queue_row(r)?;
        Ok(LegacyMessage {
            id,
            timestamp,
            instance,
            job,
            event,
            message,
        })
    })?;
    rows.collect()
}

/// One row of a query selecting (id, timestamp, instance, job, event, message), every
/// value kept with the type SQLite stored it as.
fn queue_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueRow> {
    Ok(QueueRow {
        id: r.get(0)?,
        timestamp: value::value_of(r.get_ref(1)?),
        instance: value::value_of(r.get_ref(2)?),
        job: value::value_of(r.get_ref(3)?),
        event: value::value_of(r.get_ref(4)?),
        message: value::value_of(r.get_ref(5)?),
    })
}

#[cfg(test)]
mod tests;
