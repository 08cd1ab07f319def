//! What one queue row means: a usable message (job, environment, event keyword, time) or a
//! rejected one with the reason. Pure; the store writes both kinds.
//!
//! Accepted timestamps: a Julian day number (REAL or INTEGER, what the queue's column
//! default writes) or ISO 8601 text in UTC (`2026-03-29 02:30:00`, `...T...`, optional
//! fraction and `Z`), as SQLite's own date functions read it. Anything else, and times before
//! 1970 or after 9999, is rejected.

use crate::identity::job_log_name;
use crate::row::{Record, SqlValue};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Julian day number of 1970-01-01T00:00:00Z.
const UNIX_EPOCH_JULIAN_DAY: f64 = 2_440_587.5;
/// 9999-12-31T23:59:59Z as Unix seconds.
const LATEST_UNIX_SECONDS: f64 = 253_402_300_799.0;

/// A row, read, in the form the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub queue_id: i64,
    pub fingerprint: u64,
    pub queued_at: Option<DateTime<Utc>>,
    pub instance: Option<String>,
    pub job: Option<String>,
    pub event: Option<String>,
    pub message: Option<String>,
    /// The whole row as `queue read` prints it, when a field could not be kept exactly as
    /// text (bytes that are not UTF-8, NUL bytes, blobs, numbers in text fields).
    pub raw: Option<String>,
    /// Why the message is not applied; `None`: it is.
    pub reject_reason: Option<String>,
}

impl Message {
    /// `JOB__ENV`, upper-cased: the job_log name of a usable message.
    pub fn job_name(&self) -> Option<String> {
        match (&self.job, &self.instance, &self.reject_reason) {
            (Some(job), Some(env), None) => Some(job_log_name(job, env)),
            _ => None,
        }
    }
}

/// How a batch of messages splits: usable ones, and rejected ones stored aside. The store's
/// cursor counters and the poll's figures both count with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub stored: u64,
    pub rejected: u64,
}

impl Tally {
    pub fn of(messages: &[Message]) -> Self {
        let rejected = messages
            .iter()
            .filter(|m| m.reject_reason.is_some())
            .count() as u64;
        Tally {
            stored: messages.len() as u64 - rejected,
            rejected,
        }
    }
}

/// Reads a queue row. Never fails: what cannot be used is a rejected message.
pub fn parse(row: &impl Record) -> Message {
    let [stamp, instance, job, event, message] = row.fields();
    let mut lossy = false;
    let mut text = |v: &SqlValue| -> Option<String> {
        let (s, exact) = stored_text(v);
        lossy |= !exact;
        s
    };
    let queued_at = timestamp(stamp);
    let mut problems = Vec::new();
    for (name, value) in [("instance", instance), ("job", job), ("event", event)] {
        if let Some(p) = required_field(name, value) {
            problems.push(p);
        }
    }
    if let Err(p) = &queued_at {
        problems.push(p.clone());
    }
    Message {
        queue_id: row.id(),
        fingerprint: crate::row::fingerprint(row.fields()),
        queued_at: queued_at.ok(),
        instance: text(instance),
        job: text(job),
        event: text(event),
        message: text(message),
        raw: lossy.then(|| row.exact_line()),
        reject_reason: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// The text PostgreSQL can store for a value, and whether it is exact. PostgreSQL text
/// cannot hold NUL bytes; they become U+FFFD like other undecodable bytes.
fn stored_text(v: &SqlValue) -> (Option<String>, bool) {
    match v {
        SqlValue::Null => (None, true),
        SqlValue::Text(s) if !s.contains('\0') => (Some(s.clone()), true),
        other => (
            other.lossy_text().map(|s| s.replace('\0', "\u{FFFD}")),
            false,
        ),
    }
}

/// Why a key field cannot be used, if it cannot.
fn required_field(name: &str, v: &SqlValue) -> Option<String> {
    match v {
        SqlValue::Null => Some(format!("{name} is NULL")),
        SqlValue::Text(s) if s.trim().is_empty() => Some(format!("{name} is empty")),
        SqlValue::Text(s) if s.contains('\0') || s.chars().any(char::is_control) => {
            Some(format!("{name} contains control characters"))
        }
        SqlValue::Text(_) => None,
        SqlValue::InvalidText(_) => Some(format!("{name} is not valid UTF-8")),
        SqlValue::Blob(_) => Some(format!("{name} is a blob, expected text")),
        SqlValue::Integer(_) | SqlValue::Real(_) => {
            Some(format!("{name} is a number, expected text"))
        }
    }
}

/// The message's own time, or why it has none.
pub fn timestamp(v: &SqlValue) -> Result<DateTime<Utc>, String> {
    let julian = match v {
        SqlValue::Real(f) => *f,
        SqlValue::Integer(i) => *i as f64,
        SqlValue::Text(s) => return iso_timestamp(s),
        SqlValue::Null => return Err("timestamp is NULL".into()),
        SqlValue::InvalidText(_) | SqlValue::Blob(_) => {
            return Err("timestamp is neither a Julian day number nor ISO 8601 text".into())
        }
    };
    let unix = (julian - UNIX_EPOCH_JULIAN_DAY) * 86_400.0;
    if !unix.is_finite() || !(0.0..=LATEST_UNIX_SECONDS).contains(&unix) {
        return Err(format!(
            "timestamp {julian} is not a Julian day number between 1970 and 9999"
        ));
    }
    let micros = (unix * 1e6).round() as i64;
    Utc.timestamp_micros(micros)
        .single()
        .ok_or_else(|| format!("timestamp {julian} is out of range"))
}

fn iso_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            let at = naive.and_utc();
            if at.timestamp() >= 0 {
                return Ok(at);
            }
        }
    }
    Err(format!(
        "timestamp `{}` is neither a Julian day number nor ISO 8601 text in UTC",
        s.chars().take(64).collect::<String>()
    ))
}
