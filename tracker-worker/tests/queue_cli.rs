//! `jobmon-tracker queue ...` as a program: output bytes, exit codes and files, checked
//! against the plain `sqlite3` tool and the 2016 tool's formats.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use tracker_worker::queue::{QueueRow, SqlValue};

const BIN: &str = env!("CARGO_BIN_EXE_jobmon-tracker");

fn tracker(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("binary runs")
}

fn queue(file: &Path, args: &[&str]) -> Output {
    let mut all = vec!["queue", "-f", file.to_str().expect("utf-8 temp path")];
    all.extend_from_slice(args);
    tracker(&all)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sqlite3(path: &Path, sql: &str) -> String {
    let mut child = Command::new("sqlite3")
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(sql.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("sqlite3 ends");
    assert!(out.status.success());
    stdout(&out)
}

const LEGACY_DDL: &str = "CREATE TABLE IF NOT EXISTS messages(
  id INTEGER PRIMARY KEY, timestamp REAL DEFAULT (strftime('%J', 'now')),
  instance TEXT, job TEXT, event TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS messages_by_date ON messages(timestamp);";

#[test]
fn add_prints_ids_and_sqlite3_reads_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sqlite");
    let o = queue(
        &file,
        &[
            "add",
            "--instance",
            "P",
            "--job",
            "LOAD",
            "--event",
            "STARTED",
        ],
    );
    assert_eq!(
        (o.status.code(), stdout(&o).as_str()),
        (Some(0), "1\n"),
        "{}",
        stderr(&o)
    );
    let o = queue(
        &file,
        &[
            "add",
            "-j",
            r#"{"instance": "P", "job": "LOAD", "event": "SUCCESS", "message": "42 rows"}"#,
        ],
    );
    assert_eq!(stdout(&o), "2\n");
    let mut child = Command::new(BIN)
        .args(["queue", "-f", file.to_str().unwrap(), "add", "-j", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"instance": "Q", "job": "LOAD", "event": "ERROR", "message": null}"#)
        .unwrap();
    assert_eq!(stdout(&child.wait_with_output().unwrap()), "3\n");

    assert_eq!(
        sqlite3(
            &file,
            "SELECT id, typeof(timestamp), instance, job, event, quote(message) FROM messages;"
        ),
        "1|real|P|LOAD|STARTED|''\n2|real|P|LOAD|SUCCESS|'42 rows'\n3|real|Q|LOAD|ERROR|''\n"
    );
}

#[test]
fn a_file_made_by_sqlite3_is_listed_in_the_three_legacy_time_formats() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("legacy.sqlite");
    sqlite3(
        &file,
        &format!(
            "{LEGACY_DDL}
             INSERT INTO messages(timestamp, instance, job, event, message)
               VALUES (julianday('2016-07-01 14:57:46.598'), 'P', 'LOAD', 'STARTED', 'héllo');"
        ),
    );
    let list = |args: &[&str], tz: &str| {
        let mut all = vec!["queue", "-f", file.to_str().unwrap(), "list"];
        all.extend_from_slice(args);
        let o = Command::new(BIN).args(&all).env("TZ", tz).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        list(&[], "UTC"),
        "[{\"_id\": 1, \"timestamp\": \"2016-07-01T14:57:46.598Z\", \"instance\": \"P\", \"job\": \"LOAD\", \"event\": \"STARTED\", \"message\": \"h\\u00e9llo\"}]\n"
    );
    assert!(list(&["-t", "EPOCHE"], "UTC").contains(r#""timestamp": "1467385066""#));
    assert!(list(&["-t", "LOCALTIME"], "Europe/Berlin")
        .contains(r#""timestamp": "2016-07-01 16:57:46""#));
    assert!(list(&["-t", "localtime"], "America/New_York")
        .contains(r#""timestamp": "2016-07-01 10:57:46""#));
    let parsed: serde_json::Value = serde_json::from_str(&list(&["-i", "5"], "UTC")).unwrap();
    assert_eq!(parsed[0]["message"], "héllo");
}

#[test]
fn list_length_remove_follow_the_old_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q");
    for i in 0..12 {
        queue(
            &file,
            &[
                "add",
                "--instance",
                "P",
                "--job",
                &format!("J{i}"),
                "--event",
                "STARTED",
            ],
        );
    }
    let count = |o: Output| {
        serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout)
            .unwrap()
            .len()
    };
    assert_eq!(count(queue(&file, &["list"])), 10);
    assert_eq!(count(queue(&file, &["list", "-i3"])), 3);
    assert_eq!(count(queue(&file, &["list", "--all"])), 12);
    assert_eq!(stdout(&queue(&file, &["length"])), "12\n");
    assert_eq!(
        count(queue(&file, &["remove", "-i", "5", "-t", "EPOCHE"])),
        5
    );
    assert_eq!(stdout(&queue(&file, &["length"])), "7\n");
    assert_eq!(count(queue(&file, &["remove"])), 7);
    let o = queue(&file, &["remove"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), ""));
    assert_eq!(stdout(&queue(&file, &["list"])), "[]\n");
}

#[test]
fn read_prints_exact_json_lines_and_ack_deletes_through_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q");
    queue(
        &file,
        &["add", "--instance", "P", "--job", "J", "--event", "STARTED"],
    );
    sqlite3(
        &file,
        "INSERT INTO messages(timestamp, instance, job, event, message) VALUES ('noon', NULL, 'J', 'ERROR', CAST(x'6f6be9' AS TEXT));
         INSERT INTO messages(instance, job, event, message) VALUES ('P', 'J', 'SUCCESS', 'line1\nline2 \"q\"');",
    );
    let o = queue(&file, &["read", "--after", "0"]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with(r#"{"id":1,"timestamp":24"#),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "{\"id\":2,\"timestamp\":\"noon\",\"instance\":null,\"job\":\"J\",\"event\":\"ERROR\",\"message\":\"ok\u{fffd}\",\"raw\":{\"message\":{\"type\":\"text\",\"base64\":\"b2vp\"}}}"
    );
    let row = QueueRow::from_json_line(lines[1]).unwrap();
    assert_eq!(row.message, SqlValue::InvalidText(b"ok\xe9".to_vec()));
    assert_eq!(
        QueueRow::from_json_line(lines[2]).unwrap().message,
        SqlValue::Text("line1\nline2 \"q\"".into())
    );

    assert_eq!(
        stdout(&queue(&file, &["read", "--after", "1", "--limit", "1"]))
            .lines()
            .count(),
        1
    );
    assert_eq!(stdout(&queue(&file, &["ack", "--through", "2"])), "2\n");
    assert_eq!(sqlite3(&file, "SELECT id FROM messages;"), "3\n");
    assert_eq!(stdout(&queue(&file, &["read", "--after", "3"])), "");
}

#[test]
fn errors_name_the_file_and_use_exit_codes_1_and_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    for cmd in [
        &["list"][..],
        &["read"],
        &["length"],
        &["remove"],
        &["ack", "--through", "1"],
    ] {
        let o = queue(&missing, cmd);
        assert_eq!(o.status.code(), Some(1), "{cmd:?}");
        assert!(
            stderr(&o).contains(&format!("queue file {}: does not exist", missing.display())),
            "{}",
            stderr(&o)
        );
    }
    assert!(!missing.exists(), "reading never creates the file");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, just some text that is long enough for a header ...................................").unwrap();
    for cmd in [
        &["list"][..],
        &["add", "--instance", "P", "--job", "J", "--event", "E"],
    ] {
        let o = queue(&text, cmd);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("notes.txt: not a SQLite database"),
            "{}",
            stderr(&o)
        );
    }

    let file = dir.path().join("q");
    for (args, needle) in [
        (&["add", "-j", "{not json"][..], "-j: not valid JSON"),
        (&["add", "-j", "[1]"], "-j: expected a JSON object"),
        (
            &["add", "-j", r#"{"instance": "P", "job": 7, "event": "E"}"#],
            "field \"job\" must be a string",
        ),
        (
            &["add", "--instance", "P", "--event", "E"],
            "message field \"job\" is required",
        ),
        (&["add", "-j", "{}", "--job", "J"], "cannot be used with"),
        (
            &[
                "add",
                "-j",
                r#"{"instance": "P", "job": "J", "event": "E", "timestamp": "yesterday"}"#,
            ],
            "field \"timestamp\" is not a time such as",
        ),
        (&["list", "-t", "GMT"], "invalid value 'GMT'"),
        (&["ack"], "--through <ID>"),
    ] {
        let o = queue(&file, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    assert!(!file.exists(), "failed adds create nothing");
}

#[test]
fn add_keeps_a_json_timestamp_and_list_prints_what_add_takes_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sqlite");
    let at = "2026-03-29T01:30:00.250Z";
    let o = queue(
        &file,
        &[
            "add",
            "-j",
            &format!(r#"{{"instance": "P", "job": "J", "event": "STARTED", "timestamp": "{at}"}}"#),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Another zone's offset names the same instant.
    let o = queue(
        &file,
        &[
            "add",
            "-j",
            r#"{"instance": "P", "job": "J", "event": "SUCCESS", "timestamp": "2026-03-29T04:00:00+02:00"}"#,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        sqlite3(
            &file,
            "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', timestamp) FROM messages ORDER BY id;"
        ),
        format!("{at}\n2026-03-29T02:00:00.000Z\n")
    );
    // `list` prints the objects in a form `add -j` takes back with their times.
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&queue(&file, &["list"]))).unwrap();
    let copy = dir.path().join("copy.sqlite");
    for item in listed.as_array().unwrap() {
        let o = queue(&copy, &["add", "-j", &item.to_string()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    assert_eq!(
        sqlite3(
            &copy,
            "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', timestamp), event FROM messages ORDER BY id;"
        ),
        format!("{at}|STARTED\n2026-03-29T02:00:00.000Z|SUCCESS\n")
    );
}

#[test]
fn a_closed_stdout_neither_panics_nor_loses_removed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q");
    queue(
        &file,
        &["add", "--instance", "P", "--job", "J", "--event", "STARTED"],
    );
    for cmd in ["list", "remove", "read"] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = Command::new(BIN)
            .args(["queue", "-f", file.to_str().unwrap(), cmd])
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        assert!(!stderr(&o).contains("panicked"), "{cmd}: {}", stderr(&o));
    }
    assert_eq!(sqlite3(&file, "SELECT count(*) FROM messages;"), "1\n");
}

#[test]
fn help_and_version_answer() {
    let o = tracker(&["--version"]);
    assert_eq!(
        stdout(&o),
        format!("jobmon-tracker {}\n", env!("CARGO_PKG_VERSION"))
    );
    for (args, needle) in [
        (&["--help"][..], "queue"),
        (&["queue", "--help"], "msg-queue.sqlite"),
        (&["queue", "add", "--help"], "--instance"),
        (&["queue", "list", "--help"], "LOCALTIME"),
        (&["queue", "remove", "--help"], "--max-items"),
        (&["queue", "read", "--help"], "base64"),
        (&["queue", "ack", "--help"], "--through"),
        (&["queue", "length", "--help"], "number of messages"),
        (&["config", "check", "--help"], "jobs[3].daily.start"),
        (&["config", "import", "--help"], "TOML"),
    ] {
        let o = tracker(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).contains(needle), "{args:?}: {}", stdout(&o));
    }
    assert_eq!(tracker(&["queue", "frobnicate"]).status.code(), Some(2));
}
