//! Queue tests against real files, including the plain `sqlite3` command-line tool as the
//! stand-in for the 2016 producer and for scripts that read the file directly.

use super::*;
use std::process::Command;

/// The DDL exactly as the 2016 `message-queue.py` executed it (whitespace included).
const LEGACY_PYTHON_DDL: &str = "CREATE TABLE IF NOT EXISTS messages(
                         id        INTEGER PRIMARY KEY,
                         timestamp REAL DEFAULT (strftime('%J', 'now')),
                         instance  TEXT,
                         job       TEXT,
                         event     TEXT,
                         message   TEXT
                    );
CREATE INDEX IF NOT EXISTS messages_by_date
                         ON messages(timestamp);";

/// Runs SQL (or dot-commands) through the sqlite3 CLI on stdin, returns its stdout.
fn sqlite3(path: &Path, sql: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sqlite3")
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin.write_all(sql.as_bytes()).expect("sql written");
    drop(stdin);
    let out = child.wait_with_output().expect("sqlite3 finishes");
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn msg(instance: &str, job: &str, event: &str, message: Option<&str>) -> NewMessage {
    NewMessage {
        instance: Some(instance.into()),
        job: Some(job.into()),
        event: Some(event.into()),
        message: message.map(Into::into),
    }
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.into())
}

#[test]
fn added_messages_are_read_back_by_sqlite3_with_the_legacy_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    let q = Queue::open_or_create(&path).unwrap();
    assert_eq!(
        q.add(&msg("P", "LOAD", "STARTED", Some("it's \"on\"")))
            .unwrap(),
        1
    );
    assert_eq!(q.add(&msg("Q", "LOAD", "SUCCESS", None)).unwrap(), 2);
    drop(q);

    let schema = sqlite3(&path, ".schema");
    assert!(schema.contains("CREATE TABLE messages(id INTEGER PRIMARY KEY,\n  timestamp REAL DEFAULT (strftime('%J','now')),\n  instance TEXT, job TEXT, event TEXT, message TEXT);"), "{schema}");
    assert!(
        schema.contains("CREATE INDEX messages_by_date ON messages(timestamp);"),
        "{schema}"
    );

    let rows = sqlite3(
        &path,
        "SELECT id, typeof(timestamp), abs(timestamp - julianday('now')) < 0.01, \
         instance, job, event, quote(message) FROM messages ORDER BY id",
    );
    assert_eq!(
        rows,
        "1|real|1|P|LOAD|STARTED|'it''s \"on\"'\n2|real|1|Q|LOAD|SUCCESS|NULL\n"
    );
}

#[test]
fn a_file_filled_by_sqlite3_with_the_legacy_ddl_is_listed_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.sqlite");
    sqlite3(
        &path,
        &format!(
            "{LEGACY_PYTHON_DDL}
             INSERT INTO messages(instance, job, event, message) VALUES ('P', 'J1', 'STARTED', '');
             INSERT INTO messages(timestamp, instance, job, event, message)
               VALUES (julianday('2016-07-01 14:57:46.598'), 'P', 'J1', 'SUCCESS', 'done');"
        ),
    );
    let q = Queue::open(&path).unwrap();
    assert_eq!(q.length().unwrap(), 2);
    let listed = q.list(None, TimeFormat::Utc).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].timestamp, text("2016-07-01T14:57:46.598Z"));
    assert_eq!(listed[1].message, text("done"));
    let rows = q.read_after(0, 100).unwrap();
    assert_eq!(rows[0].event, text("STARTED"));
    assert!(rows[0].julian_day().unwrap() > 2_457_000.0);
    let day = rows[1].julian_day().unwrap();
    // SQLite keeps times in whole milliseconds: allow 1 ms (1.2e-8 days).
    assert!((day - 2_457_571.123_456).abs() < 1.2e-8, "{day}");
}

#[test]
fn list_renders_the_three_time_formats_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.sqlite");
    Queue::open_or_create(&path).unwrap();
    sqlite3(
        &path,
        "INSERT INTO messages(timestamp, instance, job, event, message) \
         VALUES (julianday('2016-07-01 14:57:46.598'), 'P', 'J', 'STARTED', 'm')",
    );
    let q = Queue::open(&path).unwrap();
    let json = |f| to_python_json(&q.list(None, f).unwrap()).unwrap();
    assert_eq!(
        json(TimeFormat::Utc),
        r#"[{"_id": 1, "timestamp": "2016-07-01T14:57:46.598Z", "instance": "P", "job": "J", "event": "STARTED", "message": "m"}]"#
    );
    assert!(json(TimeFormat::Epoche).contains(r#""timestamp": "1467385066""#));
    // LOCALTIME follows the process's TZ; the binary tests pin TZ and check the value.
    let local = json(TimeFormat::Localtime);
    assert!(
        local.contains(r#""timestamp": "2016-0"#) && local.contains(":57:46\""),
        "{local}"
    );
}

#[test]
fn list_limits_and_keeps_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open_or_create(&dir.path().join("q")).unwrap();
    for i in 0..15 {
        q.add(&msg("P", &format!("J{i}"), "STARTED", None)).unwrap();
    }
    let ids = |l: Option<u64>| -> Vec<i64> {
        q.list(l, TimeFormat::Utc)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(
        ids(Some(LEGACY_DEFAULT_MAX_ITEMS)),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(ids(Some(0)), Vec::<i64>::new());
    assert_eq!(ids(None).len(), 15);
}

#[test]
fn read_after_and_ack_through() {
    let dir = tempfile::tempdir().unwrap();
    let q = Queue::open_or_create(&dir.path().join("q")).unwrap();
    for i in 0..5 {
        q.add(&msg("P", "J", "STARTED", Some(&i.to_string())))
            .unwrap();
    }
    let ids = |rows: Vec<QueueRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(q.read_after(0, 2).unwrap()), vec![1, 2]);
    assert_eq!(ids(q.read_after(2, 100).unwrap()), vec![3, 4, 5]);
    assert_eq!(q.ack_through(3).unwrap(), 3);
    assert_eq!(q.ack_through(3).unwrap(), 0);
    assert_eq!(ids(q.read_after(0, 100).unwrap()), vec![4, 5]);
    assert_eq!(q.length().unwrap(), 2);
}

#[test]
fn odd_rows_are_kept_exactly_by_read_and_readable_by_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    Queue::open_or_create(&path).unwrap();
    let huge = "x".repeat(1 << 20);
    sqlite3(
        &path,
        &format!(
            "INSERT INTO messages(timestamp, instance, job, event, message) VALUES (NULL, NULL, NULL, NULL, NULL);
             INSERT INTO messages(timestamp, instance, job, event, message) VALUES ('yesterday noon', 'P', 'J', 'ERROR', 'a''b\"c\nd\\e');
             INSERT INTO messages(instance, job, event, message) VALUES ('P', 'J', 'ERROR', CAST(x'636166e9' AS TEXT));
             INSERT INTO messages(instance, job, event, message) VALUES ('P', 'J', 'ERROR', x'00ff');
             INSERT INTO messages(instance, job, event, message) VALUES ('P', 'J', 'ERROR', '{huge}');"
        ),
    );
    let q = Queue::open(&path).unwrap();
    let rows = q.read_after(0, 100).unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].timestamp, SqlValue::Null);
    assert_eq!(rows[0].message, SqlValue::Null);
    assert_eq!(rows[1].timestamp, text("yesterday noon"));
    assert_eq!(rows[1].message, text("a'b\"c\nd\\e"));
    assert_eq!(rows[2].message, SqlValue::InvalidText(b"caf\xe9".to_vec()));
    assert_eq!(rows[3].message, SqlValue::Blob(vec![0, 0xff]));
    assert_eq!(rows[4].message, SqlValue::Text(huge.clone()));
    for row in &rows {
        assert_eq!(&QueueRow::from_json_line(&row.to_json_line()).unwrap(), row);
    }

    let listed = q.list(None, TimeFormat::Utc).unwrap();
    assert_eq!(
        listed[1].timestamp,
        SqlValue::Null,
        "unreadable time gives null"
    );
    let json = to_python_json(&listed).unwrap();
    assert!(
        json.contains(r#""message": "a'b\"c\nd\\e""#),
        "quotes and newlines escaped"
    );
    assert!(
        json.contains(r#""message": "caf\ufffd""#),
        "non-UTF-8 becomes lossy text"
    );
    assert!(
        json.contains(r#""message": "\u0000\ufffd""#),
        "blob becomes lossy text"
    );
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[4]["message"].as_str().map(str::len), Some(1 << 20));
}

#[test]
fn remove_takes_the_oldest_and_deletes_only_after_emitting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    Queue::open_or_create(&path).unwrap();
    sqlite3(
        &path,
        "INSERT INTO messages(timestamp, instance, job, event) VALUES (2457600.5, 'P', 'late', 'STARTED');
         INSERT INTO messages(timestamp, instance, job, event) VALUES (2457500.5, 'P', 'early', 'STARTED');
         INSERT INTO messages(timestamp, instance, job, event) VALUES (2457550.5, 'P', 'middle', 'STARTED');",
    );
    let mut q = Queue::open(&path).unwrap();

    let failed = q.remove(Some(2), TimeFormat::Epoche, |_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ))
    });
    assert!(matches!(failed, Err(QueueError::Output { .. })));
    assert_eq!(q.length().unwrap(), 3, "nothing lost when output fails");

    let mut seen = Vec::new();
    let removed = q
        .remove(Some(2), TimeFormat::Utc, |rows| {
            seen.extend(rows.iter().map(|r| r.job.clone()));
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, vec![text("early"), text("middle")]);
    assert_eq!(removed.len(), 2);
    assert_eq!(removed[0].timestamp, text("2016-04-22T00:00:00.000Z"));
    assert_eq!(q.length().unwrap(), 1);
    assert_eq!(
        q.remove(None, TimeFormat::Utc, |_| Ok(())).unwrap().len(),
        1
    );
    assert_eq!(q.length().unwrap(), 0);
}

#[test]
fn missing_file_is_named_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.sqlite");
    let err = Queue::open(&path).err().unwrap();
    assert!(matches!(err, QueueError::Missing { .. }));
    assert_eq!(
        err.to_string(),
        format!("queue file {}: does not exist", path.display())
    );
    assert!(!path.exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_reported_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is a text file, long enough to have a header ........................................................").unwrap();
    for result in [Queue::open(&path).err(), Queue::open_or_create(&path).err()] {
        let err = result.unwrap();
        assert!(matches!(err, QueueError::NotSqlite { .. }), "{err:?}");
        assert!(err.to_string().contains("notes.txt"));
    }
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("this is a text file"));
}

#[test]
fn sqlite_file_without_the_table_is_not_a_queue_but_can_become_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    sqlite3(&path, "CREATE TABLE t(x)");
    assert!(matches!(
        Queue::open(&path).err().unwrap(),
        QueueError::NoTable { .. }
    ));
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        Queue::open_or_create(&empty)
            .unwrap()
            .add(&msg("P", "J", "STARTED", None))
            .unwrap(),
        1
    );
}

#[test]
fn a_writer_holding_the_lock_briefly_only_delays_add() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q");
    Queue::open_or_create(&path).unwrap();
    let blocker = Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        blocker.execute_batch("COMMIT").unwrap();
    });
    let q = Queue::open_or_create(&path).unwrap();
    assert_eq!(q.add(&msg("P", "J", "STARTED", None)).unwrap(), 1);
    release.join().unwrap();
}
