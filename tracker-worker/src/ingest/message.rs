//! The core's message planner ([`tracker_core::ingest::message`]) for the queue's own rows;
//! its tests read real [`crate::queue::QueueRow`]s, including the exact JSON line kept beside odd bytes.

pub use tracker_core::ingest::message::{parse, timestamp, Message, Tally};

#[cfg(test)]
use crate::queue::{QueueRow, SqlValue};

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
