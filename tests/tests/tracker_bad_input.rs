//! jobmon-tracker on bad input: odd rows are stored aside with a reason (or exactly, when
//! usable), a broken or missing queue file is reported without stopping the other sources,
//! and a broken configuration stops the start with the file and key named.

use jobmon_tests::tracker::{message_count, run_once, tempdir, write_config, SourceSpec};
use jobmon_tests::TestDb;
use rusqlite::types::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tracker");

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// What each row of the bad-input queue is, and what the tracker must make of it:
/// `None` = applied, `Some(reason)` = rejected with that reason.
fn odd_rows() -> Vec<([Value; 5], Option<&'static str>)> {
    let now = Value::Real(2_461_000.25); // 2025-12-06 18:00 UTC
    let huge = "x".repeat(5 * 1024 * 1024);
    let non_utf8 = Value::Blob(b"caf\xe9".to_vec()); // inserted as TEXT below
    vec![
        (
            [
                now.clone(),
                text("P"),
                text("ok_job"),
                text("STARTED"),
                text("plain"),
            ],
            None,
        ),
        (
            [
                now.clone(),
                Value::Null,
                text("j"),
                text("STARTED"),
                Value::Null,
            ],
            Some("instance is NULL"),
        ),
        (
            [
                now.clone(),
                text("P"),
                Value::Null,
                text("STARTED"),
                Value::Null,
            ],
            Some("job is NULL"),
        ),
        (
            [now.clone(), text("P"), text("j"), Value::Null, Value::Null],
            Some("event is NULL"),
        ),
        (
            [
                Value::Null,
                text("P"),
                text("j"),
                text("STARTED"),
                Value::Null,
            ],
            Some("timestamp is NULL"),
        ),
        (
            [
                text("2026-11-20 10:00:00"),
                text("P"),
                text("iso_job"),
                text("STARTED"),
                text("iso"),
            ],
            None,
        ),
        (
            [
                text("yesterday"),
                text("P"),
                text("j"),
                text("STARTED"),
                Value::Null,
            ],
            Some("timestamp `yesterday` is neither a Julian day number nor ISO 8601 text in UTC"),
        ),
        (
            [
                now.clone(),
                text("P"),
                text("ok_job"),
                text("progress"),
                text(&huge),
            ],
            None,
        ),
        (
            [
                now.clone(),
                text("P"),
                text("ok_job"),
                text("progress"),
                text("it's \"quoted\"\nline two; DROP TABLE x;--"),
            ],
            None,
        ),
        (
            [
                now.clone(),
                text("P"),
                text("ok_job"),
                text("progress"),
                non_utf8.clone(),
            ],
            None,
        ),
        (
            [
                now.clone(),
                text("P"),
                non_utf8,
                text("STARTED"),
                Value::Null,
            ],
            Some("job is not valid UTF-8"),
        ),
        (
            [
                now.clone(),
                text("P"),
                text("ok_job"),
                text("progress"),
                Value::Blob(vec![0, 1, 2]),
            ],
            None,
        ),
        (
            [
                now.clone(),
                text("P"),
                text("j"),
                // A number would become text in the TEXT column; a blob stays a blob.
                Value::Blob(vec![1, 2]),
                Value::Null,
            ],
            Some("event is a blob, expected text"),
        ),
        (
            [
                Value::Real(1e12),
                text("P"),
                text("j"),
                text("STARTED"),
                Value::Null,
            ],
            Some("timestamp 1000000000000 is not a Julian day number between 1970 and 9999"),
        ),
        (
            [
                now,
                text("P"),
                text("ok_job"),
                text("SUCCESS"),
                text("done"),
            ],
            None,
        ),
    ]
}

#[test]
fn odd_rows_are_stored_exactly_or_set_aside_with_their_reason() {
    let db = TestDb::new("bad_rows");
    let dir = tempdir();
    let queue = dir.path().join("queue.sqlite");
    let rows = odd_rows();
    {
        let conn = rusqlite::Connection::open(&queue).unwrap();
        conn.execute_batch(tracker_worker::queue::SCHEMA).unwrap();
        for (i, (values, _)) in rows.iter().enumerate() {
            // Non-UTF-8 text must be stored as TEXT, which only a CAST of a blob does.
            let sql = if matches!(&values[4], Value::Blob(b) if b == b"caf\xe9")
                || matches!(&values[2], Value::Blob(_))
            {
                "INSERT INTO messages(id, timestamp, instance, job, event, message) VALUES (?1, ?2, ?3, CAST(?4 AS TEXT), ?5, CAST(?6 AS TEXT))"
            } else {
                "INSERT INTO messages(id, timestamp, instance, job, event, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            };
            let [a, b, c, d, e] = values.clone();
            conn.execute(sql, rusqlite::params![i as i64 + 1, a, b, c, d, e])
                .unwrap();
        }
    }
    let config = write_config(
        dir.path(),
        &db,
        &[SourceSpec::local("odd", &queue, false)],
        "1s",
        1000,
        "5s",
    );
    let out = run_once(BIN, &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut c = db.connect();
    let stored: Vec<(i64, Option<String>)> = c
        .query(
            "SELECT queue_id, reject_reason FROM jobmon.tracker_message ORDER BY queue_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected: Vec<(i64, Option<String>)> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, r))| (i as i64 + 1, r.map(str::to_owned)))
        .collect();
    assert_eq!(stored, expected);
    let (ok, rejected): (i64, i64) = c
        .query_one(
            "SELECT messages_stored, messages_rejected FROM jobmon.tracker_source",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((ok, rejected), (7, 8));

    // The usable ones became one run of OK_JOB__P (closed OK) and one of ISO_JOB__P.
    let runs: Vec<(String, Option<String>, String)> = c
        .query(
            "SELECT job_name, status, start_time::text FROM jobmon.job_log ORDER BY job_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let tz: String = c.query_one("SHOW TimeZone", &[]).unwrap().get(0);
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].0, "ISO_JOB__P");
    assert_eq!(
        (runs[1].0.as_str(), runs[1].1.as_deref()),
        ("OK_JOB__P", Some("OK"))
    );
    let iso_start: bool = c
        .query_one(
            "SELECT start_time = '2026-11-20 10:00:00+00' FROM jobmon.job_log WHERE job_name = 'ISO_JOB__P'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(iso_start, "text timestamps are UTC (server zone {tz})");
    // Messages arrive byte for byte where PostgreSQL can hold them, readable where not,
    // with the exact row kept in `raw`.
    let messages: Vec<(Option<String>, Option<Vec<u8>>)> = c
        .query(
            "SELECT d.message, m.raw FROM jobmon.job_detail d
               JOIN jobmon.tracker_message m ON m.job_id = d.job_id AND m.queue_id IN (8, 9, 10, 12)
                AND d.step_id = (SELECT min(step_id) FROM jobmon.job_detail d2
                                  WHERE d2.job_id = d.job_id AND d2.message IS NOT DISTINCT FROM m.message)
              ORDER BY m.queue_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[0].0.as_ref().map(String::len),
        Some(5 * 1024 * 1024)
    );
    assert_eq!(
        messages[1].0.as_deref(),
        Some("it's \"quoted\"\nline two; DROP TABLE x;--")
    );
    assert_eq!(messages[2].0.as_deref(), Some("caf\u{FFFD}"));
    let raw = String::from_utf8(messages[2].1.clone().expect("raw kept")).unwrap();
    let row = tracker_worker::queue::QueueRow::from_json_line(&raw).unwrap();
    assert_eq!(
        row.message,
        tracker_worker::queue::SqlValue::InvalidText(b"caf\xe9".to_vec())
    );
    assert_eq!(messages[3].0.as_deref(), Some("\u{FFFD}\u{1}\u{2}"));
    assert!(messages[3].1.is_some());
}

#[test]
fn a_missing_or_non_sqlite_queue_is_reported_and_the_other_sources_keep_flowing() {
    let db = TestDb::new("bad_files");
    let dir = tempdir();
    let good = dir.path().join("good.sqlite");
    jobmon_tests::tracker::fill_queue(&good, 0, 40, 2);
    let not_sqlite = dir.path().join("notes.sqlite");
    std::fs::write(&not_sqlite, "this is not a database\n".repeat(100)).unwrap();
    let missing = dir.path().join("missing.sqlite");
    let config = write_config(
        dir.path(),
        &db,
        &[
            SourceSpec::local("good", &good, false),
            SourceSpec::local("notsqlite", &not_sqlite, false),
            SourceSpec::local("missing", &missing, false),
        ],
        "1s",
        1000,
        "5s",
    );
    let out = run_once(BIN, &config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2 source(s) could not be read"), "{stderr}");
    assert!(
        !missing.exists(),
        "a missing queue file must not be created"
    );
    let mut c = db.connect();
    assert_eq!(message_count(&mut c, "good"), 40);
    let errors: Vec<(String, Option<String>)> = c
        .query(
            "SELECT source, last_error FROM jobmon.tracker_source ORDER BY source",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(errors[0], ("good".into(), None));
    assert_eq!(errors[1].0, "missing");
    assert!(
        errors[1]
            .1
            .as_deref()
            .unwrap()
            .ends_with("missing.sqlite: does not exist"),
        "{errors:?}"
    );
    assert_eq!(errors[2].0, "notsqlite");
    assert!(
        errors[2]
            .1
            .as_deref()
            .unwrap()
            .ends_with("notes.sqlite: not a SQLite database"),
        "{errors:?}"
    );
}

#[test]
fn a_broken_configuration_stops_run_with_the_file_and_key_named() {
    let dir = tempdir();
    let cases = [
        ("[global]\npoll_interval = 5\n", "global.poll_interval"),
        ("[global]\npol_interval = \"5s\"\n", "pol_interval"),
        (
            "[[sources]]\nlocal_queue = \"/tmp/q.sqlite\"\n",
            "sources[0]",
        ),
    ];
    for (text, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(BIN)
            .args(["run", "-c"])
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
        assert!(
            stderr.contains(key),
            "{text}: expected key {key} in: {stderr}"
        );
    }
}
