//! What one queue row means: a usable message (job, environment, event keyword, time) or a
//! rejected one with the reason. Pure; the store writes both kinds.
//!
//! Accepted timestamps: a Julian day number (REAL or INTEGER, what the queue's column
//! default writes) or ISO 8601 text in UTC (`2026-03-29 02:30:00`, `...T...`, optional
//! fraction and `Z`), as SQLite's own date functions read it. Anything else, and times before
//! 1970 or after 9999, is rejected.

use crate::queue::{QueueRow, SqlValue};
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
            (Some(job), Some(env), None) => Some(format!("{job}__{env}").to_uppercase()),
            _ => None,
        }
    }
}

/// Reads a queue row. Never fails: what cannot be used is a rejected message.
pub fn parse(row: &QueueRow) -> Message {
    let mut lossy = false;
    let mut text = |v: &SqlValue| -> Option<String> {
        let (s, exact) = stored_text(v);
        lossy |= !exact;
        s
    };
    let instance = text(&row.instance);
    let job = text(&row.job);
    let event = text(&row.event);
    let message = text(&row.message);
    let queued_at = timestamp(&row.timestamp);
    let mut problems = Vec::new();
    for (name, value) in [
        ("instance", &row.instance),
        ("job", &row.job),
        ("event", &row.event),
    ] {
        if let Some(p) = required_field(name, value) {
            problems.push(p);
        }
    }
    if let Err(p) = &queued_at {
        problems.push(p.clone());
    }
    Message {
        queue_id: row.id,
        fingerprint: row.fingerprint(),
        queued_at: queued_at.ok(),
        instance,
        job,
        event,
        message,
        raw: lossy.then(|| row.to_json_line()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: SqlValue, instance: SqlValue, job: SqlValue, event: SqlValue) -> QueueRow {
        QueueRow {
            id: 7,
            timestamp: ts,
            instance,
            job,
            event,
            message: SqlValue::Text("m".into()),
        }
    }

    fn text(s: &str) -> SqlValue {
        SqlValue::Text(s.into())
    }

    #[test]
    fn a_julian_day_is_the_utc_time_sqlite_meant() {
        // SELECT julianday('2016-07-01 14:57:46.598') = 2457571.123456...
        let m = parse(&row(
            SqlValue::Real(2_457_571.123_456_0),
            text("p"),
            text("load_dwh"),
            text("STARTED"),
        ));
        assert_eq!(m.reject_reason, None);
        assert_eq!(
            m.queued_at
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string(),
            "2016-07-01 14:57:46.598"
        );
        assert_eq!(m.job_name().as_deref(), Some("LOAD_DWH__P"));
        assert_eq!(m.raw, None);
    }

    #[test]
    fn iso_text_timestamps_are_read_as_utc_and_others_rejected() {
        let at = timestamp(&text("2026-03-29 02:30:00.250")).unwrap();
        assert_eq!(at.to_rfc3339(), "2026-03-29T02:30:00.250+00:00");
        assert_eq!(
            timestamp(&text("2026-03-29T02:30:00Z"))
                .unwrap()
                .timestamp(),
            at.timestamp()
        );
        for bad in [
            text("yesterday"),
            text(""),
            SqlValue::Null,
            SqlValue::Blob(vec![1]),
        ] {
            assert!(timestamp(&bad).is_err(), "{bad:?}");
        }
        for impossible in [f64::NAN, f64::INFINITY, 0.0, -5.0, 1e12] {
            let e = timestamp(&SqlValue::Real(impossible)).unwrap_err();
            assert!(e.contains("Julian day"), "{e}");
        }
    }

    #[test]
    fn missing_or_unusable_key_fields_reject_with_every_reason() {
        let m = parse(&row(
            SqlValue::Null,
            SqlValue::Null,
            text(" "),
            SqlValue::Integer(3),
        ));
        let reason = m.reject_reason.clone().unwrap();
        assert_eq!(
            reason,
            "instance is NULL; job is empty; event is a number, expected text; timestamp is NULL"
        );
        assert_eq!(m.job_name(), None);
        let m = parse(&row(
            SqlValue::Real(2_457_571.5),
            SqlValue::InvalidText(vec![0xff]),
            text("J"),
            text("E"),
        ));
        assert_eq!(
            m.reject_reason.as_deref(),
            Some("instance is not valid UTF-8")
        );
        assert!(m.raw.is_some());
    }

    #[test]
    fn odd_message_bytes_are_kept_readable_with_the_exact_row_beside() {
        let mut r = row(
            SqlValue::Real(2_457_571.5),
            text("P"),
            text("J"),
            text("ERROR"),
        );
        r.message = SqlValue::InvalidText(b"caf\xe9 \0 'quoted'\nline".to_vec());
        let m = parse(&r);
        assert_eq!(m.reject_reason, None);
        assert_eq!(
            m.message.as_deref(),
            Some("caf\u{FFFD} \u{FFFD} 'quoted'\nline")
        );
        let raw = QueueRow::from_json_line(m.raw.as_deref().unwrap()).unwrap();
        assert_eq!(raw, r);
    }
}
