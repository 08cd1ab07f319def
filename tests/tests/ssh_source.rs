//! The SSH queue reader against a real sshd on loopback: both readers (the `sqlite3` shell
//! and `jobmon-tracker queue`) must hand out exactly what the local reader sees in the same
//! file, acknowledge only unchanged rows, never let a path reach the shell, refuse unknown
//! or changed host keys before anything runs, and recover from cut or silent connections.

use jobmon_tests::proxy::Proxy;
use jobmon_tests::sshd::Sshd;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracker_worker::config::{HostKeyPolicy, Reader, SshSource};
use tracker_worker::queue::{Queue, QueueRow, SqlValue, Window};
use tracker_worker::source::{QueueSource, SourceError, SshQueue};

/// The jobmon-tracker program that plays the reader on the "remote" host (this machine):
/// the one built in this crate, or the file JOBMON_TEST_READER names
/// (tracker-worker/packaging/test.sh runs these tests with the glibc 2.17 reader it ships).
fn tracker() -> String {
    std::env::var("JOBMON_TEST_READER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_tracker").into())
}
const READERS: [Reader; 2] = [Reader::Sqlite3, Reader::JobmonTracker];
const TIMEOUT: Duration = Duration::from_secs(20);

fn source(sshd: &Sshd, queue: &Path, reader: Reader) -> SshSource {
    let mut s = sshd.ssh_source(path_str(queue), reader);
    if reader == Reader::JobmonTracker {
        s.reader_command = Some(tracker());
    }
    s
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// Short text of a value for failure messages (a 10 MB message must not flood the log).
fn brief(v: &SqlValue) -> String {
    let s = format!("{v:?}");
    if s.len() > 120 {
        format!(
            "{}... ({} chars)",
            &s[..s.floor_char_boundary(120)],
            s.len()
        )
    } else {
        s
    }
}

/// Asserts that two windows are equal, naming the first differing row and field.
fn assert_same_window(got: &Window, expected: &Window, what: &str) {
    assert_eq!(got.min_id, expected.min_id, "{what}: min_id");
    let ids = |w: &Window| w.rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(got), ids(expected), "{what}: ids");
    for (g, e) in got.rows.iter().zip(&expected.rows) {
        let fields = |r: &QueueRow| {
            [
                ("timestamp", r.timestamp.clone()),
                ("instance", r.instance.clone()),
                ("job", r.job.clone()),
                ("event", r.event.clone()),
                ("message", r.message.clone()),
            ]
        };
        for ((name, gv), (_, ev)) in fields(g).iter().zip(fields(e).iter()) {
            assert!(
                gv == ev,
                "{what}: row {} field {name}: got {}, expected {}",
                g.id,
                brief(gv),
                brief(ev)
            );
        }
    }
}

fn local_window(path: &Path, from: Option<i64>, limit: u64) -> Window {
    Queue::open(path)
        .expect("open the queue locally")
        .read_window(from, limit)
        .expect("read the queue locally")
}

fn local_ids(path: &Path) -> Vec<i64> {
    local_window(path, None, u64::MAX)
        .rows
        .iter()
        .map(|r| r.id)
        .collect()
}

/// A queue with the 2016 schema and `n` messages (ids 1..=n, timestamps by SQLite).
fn standard_queue(path: &Path, n: usize, message_len: usize) {
    drop(Queue::open_or_create(path).expect("create queue"));
    let mut c = Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    for i in 1..=n {
        let mut message = format!("message {i} 'q' \"dq\" |\n");
        while message.len() < message_len {
            message.push_str(&format!("{i:08}|"));
        }
        tx.execute(
            "INSERT INTO messages(instance, job, event, message) VALUES ('P', ?1, 'STARTED', ?2)",
            rusqlite::params![format!("JOB_{}", i % 7), message],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// A `messages` table without column types, so that every storage class can occur in
/// every column (producers other than ours may have made such a table).
fn typeless_queue(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE messages(id INTEGER PRIMARY KEY, timestamp, instance, job, event, message)",
    )
    .unwrap();
    c
}

fn insert(c: &Connection, id: i64, values: [Value; 5]) {
    let [a, b, d, e, f] = values;
    c.execute(
        "INSERT INTO messages VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![id, a, b, d, e, f],
    )
    .unwrap();
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// A "reader" wrapper that records that it ran, then runs `sqlite3`.
fn recording_reader(dir: &Path) -> (PathBuf, PathBuf) {
    let marker = dir.join("reader-ran");
    let script = dir.join("recording-sqlite3");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho ran >> '{}'\nexec sqlite3 \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script, marker)
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path_str(&path).to_owned()
}

#[test]
fn both_readers_read_windows_exactly_as_stored() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exact.sqlite");
    let c = typeless_queue(&path);
    insert(
        &c,
        -5,
        [
            Value::Real(2457571.123456789),
            text("P"),
            text("LOAD"),
            text("STARTED"),
            text(""),
        ],
    );
    insert(
        &c,
        1,
        [
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ],
    );
    insert(
        &c,
        2,
        [
            Value::Integer(i64::MIN),
            Value::Integer(i64::MAX),
            Value::Integer(0),
            Value::Integer(-1),
            Value::Real(0.1),
        ],
    );
    insert(
        &c,
        3,
        [
            Value::Real(5e-324),
            Value::Real(f64::MAX),
            Value::Real(f64::NEG_INFINITY),
            Value::Real(f64::INFINITY),
            Value::Real(-2.5),
        ],
    );
    insert(
        &c,
        4,
        [
            text("2016-07-01 12:00:00"),
            text("it's \"quoted\" | piped\nnew line\r\n\ttab"),
            text("\u{fc}n\u{ef}c\u{f8}d\u{e9} \u{1F600}"),
            text("'; DROP TABLE messages; --"),
            text("nul \0 inside"),
        ],
    );
    insert(
        &c,
        5,
        [
            Value::Real(1.2345678901234567e300),
            Value::Blob(vec![0, 0xff, b'|', b'\n']),
            Value::Blob(vec![]),
            text("E|"),
            Value::Real(2460000.999999999),
        ],
    );
    c.execute(
        "INSERT INTO messages VALUES (6, CAST(?1 AS TEXT), CAST(?2 AS TEXT), 'SUCCESS', NULL, ?3)",
        rusqlite::params![
            vec![0xffu8, 0, 0xc3],
            vec![b'c', b'a', b'f', 0xe9],
            vec![7u8; 1 << 20]
        ],
    )
    .unwrap();
    let big: String = (0..10 << 20)
        .map(|i| char::from(b" !\"'|\n0123456789abcdefXYZ\\"[i % 26]))
        .collect();
    insert(
        &c,
        10,
        [
            Value::Integer(2457571),
            text("Q"),
            text("BIG"),
            text("SUCCESS"),
            Value::Text(big),
        ],
    );
    drop(c);

    // The expected rows, checked once here so that a local misreading cannot hide one.
    let all = local_window(&path, None, 100);
    assert_eq!(all.min_id, Some(-5));
    assert_eq!(all.rows.len(), 8);
    assert_eq!(all.rows[2].instance, SqlValue::Integer(i64::MAX));
    assert_eq!(all.rows[3].timestamp, SqlValue::Real(5e-324));
    assert_eq!(
        all.rows[6].timestamp,
        SqlValue::InvalidText(vec![0xff, 0, 0xc3])
    );
    assert_eq!(
        all.rows[7].message.lossy_text().map(|m| m.len()),
        Some(10 << 20)
    );

    for reader in READERS {
        let mut q = SshQueue::new(source(&sshd, &path, reader), TIMEOUT);
        let started = Instant::now();
        let window = q.read_window(None, 100).unwrap();
        eprintln!(
            "{}: 8 rows incl. 11 MB in {:?}",
            reader.as_str(),
            started.elapsed()
        );
        assert_same_window(&window, &all, reader.as_str());
        for (from, limit) in [
            (Some(-5), 1),
            (Some(2), 2),
            (Some(4), 3),
            (Some(7), 10),
            (Some(10), 10),
            (Some(11), 10),
            (Some(i64::MIN + 1), 2),
            (Some(1), 0),
            (None, 3),
        ] {
            let got = q.read_window(from, limit).unwrap();
            let what = format!("{} from {from:?} limit {limit}", reader.as_str());
            assert_same_window(&got, &local_window(&path, from, limit), &what);
        }
        // `from` is inclusive and skips gaps; min_id is reported with every window.
        let w = q.read_window(Some(7), 10).unwrap();
        assert_eq!((w.min_id, w.rows[0].id), (Some(-5), 10));
        assert!(q.read_window(Some(11), 10).unwrap().rows.is_empty());
    }

    let empty = dir.path().join("empty.sqlite");
    drop(Queue::open_or_create(&empty).unwrap());
    for reader in READERS {
        let mut q = SshQueue::new(source(&sshd, &empty, reader), TIMEOUT);
        assert_eq!(q.read_window(None, 10).unwrap(), Window::default());
    }
}

#[test]
fn ten_thousand_messages_in_windows_of_1000_arrive_once_and_in_order() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("10k.sqlite");
    standard_queue(&path, 10_000, 80);
    let expected = local_window(&path, None, u64::MAX).rows;
    for reader in READERS {
        let mut q = SshQueue::new(source(&sshd, &path, reader), TIMEOUT);
        let started = Instant::now();
        let mut got: Vec<QueueRow> = Vec::new();
        let mut from = None;
        let mut windows = 0;
        loop {
            let w = q.read_window(from, 1000).unwrap();
            assert_eq!(w.min_id, Some(1));
            let Some(last) = w.rows.last() else { break };
            from = Some(last.id + 1);
            windows += 1;
            got.extend(w.rows);
        }
        let elapsed = started.elapsed();
        eprintln!(
            "{}: 10000 rows in {windows} windows of 1000 in {elapsed:?} = {:.0} rows/s",
            reader.as_str(),
            10_000.0 / elapsed.as_secs_f64()
        );
        assert_eq!(windows, 10);
        let got = Window {
            min_id: Some(1),
            rows: got,
        };
        let expected = Window {
            min_id: Some(1),
            rows: expected.clone(),
        };
        assert_same_window(&got, &expected, reader.as_str());
    }
}

#[test]
fn guarded_ack_deletes_through_the_id_and_refuses_a_changed_or_missing_row() {
    let sshd = Sshd::start();
    for reader in READERS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ack.sqlite");
        standard_queue(&path, 10, 40);
        let c = Connection::open(&path).unwrap();
        // Row 9 carries a 10 MB message, compared by length, head and tail by sqlite3.
        c.execute(
            "UPDATE messages SET message = ?1 WHERE id = 9",
            [format!("{}END", "m".repeat(10 << 20))],
        )
        .unwrap();
        let mut q = SshQueue::new(source(&sshd, &path, reader), TIMEOUT);
        let w = q.read_window(None, 100).unwrap();
        let name = reader.as_str();

        assert!(q.ack_through(&w.rows[4]).unwrap(), "{name}");
        assert_eq!(local_ids(&path), (6..=10).collect::<Vec<_>>(), "{name}");

        // The same id with other content: the queue was refilled since it was read.
        c.execute("UPDATE messages SET message = 'replaced' WHERE id = 7", [])
            .unwrap();
        assert!(!q.ack_through(&w.rows[6]).unwrap(), "{name}");
        // A timestamp one bit away.
        let ts = match w.rows[7].timestamp {
            SqlValue::Real(f) => f,
            ref other => panic!("timestamp {other:?}"),
        };
        c.execute(
            "UPDATE messages SET timestamp = ?1 WHERE id = 8",
            [f64::from_bits(ts.to_bits() + 1)],
        )
        .unwrap();
        assert!(!q.ack_through(&w.rows[7]).unwrap(), "{name}");
        // The last byte of the 10 MB message.
        c.execute(
            "UPDATE messages SET message = ?1 WHERE id = 9",
            [format!("{}ENX", "m".repeat(10 << 20))],
        )
        .unwrap();
        assert!(!q.ack_through(&w.rows[8]).unwrap(), "{name}");
        // A row that is gone.
        assert!(!q.ack_through(&w.rows[2]).unwrap(), "{name}");
        assert_eq!(local_ids(&path), (6..=10).collect::<Vec<_>>(), "{name}");

        c.execute(
            "UPDATE messages SET message = ?1 WHERE id = 9",
            [format!("{}END", "m".repeat(10 << 20))],
        )
        .unwrap();
        assert!(q.ack_through(&w.rows[8]).unwrap(), "{name}");
        assert_eq!(local_ids(&path), vec![10], "{name}");
        assert!(q.ack_through(&w.rows[9]).unwrap(), "{name}");
        assert!(local_ids(&path).is_empty(), "{name}");
    }
}

#[test]
fn hostile_queue_paths_run_nothing_and_read_the_file_of_that_exact_name() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let base = path_str(dir.path()).to_owned();
    let marker = dir.path().join("pwned");
    let m = path_str(&marker).to_owned();
    let names = [
        format!("{base}/x'; touch {m}; echo '.sqlite"),
        format!("{base}/$(touch {m}).sqlite"),
        format!("{base}/`touch {m}`.sqlite"),
        format!("{base}/line1\ntouch {m}\n.sqlite"),
        format!("{base}/with spaces & semi;colon > out.sqlite"),
        format!("{base}/q?mode=memory#frag%20.sqlite"),
        format!("{base}/-dash \\ back\"slash.sqlite"),
    ];
    for name in &names {
        let path = Path::new(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let queue = Queue::open_or_create(path).unwrap();
        queue
            .add(&tracker_worker::queue::NewMessage {
                instance: Some("P".into()),
                job: Some("JOB".into()),
                event: Some("STARTED".into()),
                message: Some(name.clone()),
            })
            .unwrap();
    }
    let before: Vec<_> = walk(dir.path());
    for reader in READERS {
        for name in &names {
            let mut q = SshQueue::new(source(&sshd, Path::new(name), reader), TIMEOUT);
            let w = q
                .read_window(None, 10)
                .unwrap_or_else(|e| panic!("{} {name:?}: {e}", reader.as_str()));
            assert_eq!(w.rows.len(), 1, "{name:?}");
            assert_eq!(w.rows[0].message, SqlValue::Text(name.clone()));
            assert!(q.ack_through(&w.rows[0]).unwrap(), "{name:?}");
            assert!(local_ids(Path::new(name)).is_empty(), "{name:?}");
            assert!(
                !marker.exists(),
                "{} ran a command from {name:?}",
                reader.as_str()
            );
            // Put the message back for the other reader.
            Connection::open(name)
                .unwrap()
                .execute(
                    "INSERT INTO messages(instance, job, event, message) VALUES ('P', 'JOB', 'STARTED', ?1)",
                    [name],
                )
                .unwrap();
        }
    }
    assert_eq!(walk(dir.path()), before, "files were created or removed");
}

/// The login user's home directory, where sshd starts the reader.
fn login_home() -> PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage or NULL; it is read at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        assert!(!pw.is_null(), "no passwd entry for the test user");
        PathBuf::from(
            std::ffi::CStr::from_ptr((*pw).pw_dir)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

#[test]
fn a_relative_queue_path_is_relative_to_the_login_home() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rel.sqlite");
    standard_queue(&path, 2, 10);
    // "../../tmp/.tmpXYZ/rel.sqlite" as seen from the home directory.
    let ups = login_home().components().count() - 1;
    let relative = format!("{}{}", "../".repeat(ups), &path_str(&path)[1..]);
    for reader in READERS {
        let mut q = SshQueue::new(source(&sshd, Path::new(&relative), reader), TIMEOUT);
        let w = q.read_window(None, 10).unwrap();
        assert_same_window(&w, &local_window(&path, None, 10), reader.as_str());
        let missing = format!("{relative}.missing");
        let mut q = SshQueue::new(source(&sshd, Path::new(&missing), reader), TIMEOUT);
        let problem = remote_queue_problem(q.read_window(None, 10));
        assert!(problem.contains("does not exist"), "{problem}");
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Every path under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            // SQLite's journal may come and go; it is not a file we care about.
            if !p.to_string_lossy().ends_with("-journal") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn remote_queue_problem(result: Result<Window, SourceError>) -> String {
    match result {
        Err(SourceError::RemoteQueue { problem, .. }) => problem,
        other => panic!("expected a RemoteQueue error, got {other:?}"),
    }
}

#[test]
fn missing_queue_file_is_an_error_and_is_not_created() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    for path in [
        dir.path().join("missing.sqlite"),
        dir.path().join("no-such-dir/missing.sqlite"),
    ] {
        for reader in READERS {
            let mut q = SshQueue::new(source(&sshd, &path, reader), TIMEOUT);
            let problem = remote_queue_problem(q.read_window(None, 10));
            assert!(problem.contains("does not exist"), "{problem}");
            let row = QueueRow {
                id: 1,
                timestamp: SqlValue::Null,
                instance: SqlValue::Null,
                job: SqlValue::Null,
                event: SqlValue::Null,
                message: SqlValue::Null,
            };
            assert!(q.ack_through(&row).is_err());
            assert!(
                !path.exists(),
                "{} created {}",
                reader.as_str(),
                path.display()
            );
        }
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_file_that_is_not_a_queue_gives_a_clear_error() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let not_sqlite = dir.path().join("notes.txt");
    let text = "this is not a database\n".repeat(100);
    fs::write(&not_sqlite, &text).unwrap();
    let other_db = dir.path().join("other.sqlite");
    Connection::open(&other_db)
        .unwrap()
        .execute_batch("CREATE TABLE things(x)")
        .unwrap();
    for reader in READERS {
        let mut q = SshQueue::new(source(&sshd, &not_sqlite, reader), TIMEOUT);
        let problem = remote_queue_problem(q.read_window(None, 10));
        assert!(problem.contains("not a SQLite database"), "{problem}");
        assert_eq!(fs::read_to_string(&not_sqlite).unwrap(), text);

        let mut q = SshQueue::new(source(&sshd, &other_db, reader), TIMEOUT);
        let problem = remote_queue_problem(q.read_window(None, 10));
        assert!(problem.contains("without a `messages` table"), "{problem}");
    }
}

fn host_key_error(result: Result<Window, SourceError>) -> String {
    match result {
        Err(e @ SourceError::HostKey { .. }) => e.to_string(),
        other => panic!("expected a HostKey error, got {other:?}"),
    }
}

/// A source whose reader records that it ran, with the given known_hosts and policy.
fn policy_source(
    sshd: &Sshd,
    queue: &Path,
    reader: &Path,
    known_hosts: PathBuf,
    policy: HostKeyPolicy,
) -> SshQueue {
    let mut s = sshd.ssh_source(path_str(queue), Reader::Sqlite3);
    s.reader_command = Some(path_str(reader).to_owned());
    s.known_hosts = Some(known_hosts);
    s.host_key_policy = policy;
    SshQueue::new(s, TIMEOUT)
}

#[test]
fn strict_host_keys_read_with_the_right_key_plain_or_hashed() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, marker) = recording_reader(dir.path());
    for kh in [sshd.known_hosts(), sshd.known_hosts_hashed()] {
        let mut q = policy_source(&sshd, &queue, &reader, kh, HostKeyPolicy::Strict);
        assert_eq!(q.read_window(None, 10).unwrap().rows.len(), 3);
    }
    assert!(marker.exists());
}

#[test]
fn strict_host_keys_refuse_an_unknown_host_and_run_nothing() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, marker) = recording_reader(dir.path());
    let empty = dir.path().join("empty_known_hosts");
    fs::write(&empty, "# nothing yet\n").unwrap();
    let missing = dir.path().join("missing_known_hosts");
    for kh in [empty.clone(), missing.clone()] {
        let mut q = policy_source(&sshd, &queue, &reader, kh.clone(), HostKeyPolicy::Strict);
        let message = host_key_error(q.read_window(None, 10));
        assert!(message.contains(sshd.host_key_fingerprint()), "{message}");
        assert!(message.contains("ssh-ed25519"), "{message}");
        let keyscan = format!(
            "ssh-keyscan -p {} 127.0.0.1 >> {}",
            sshd.port(),
            kh.display()
        );
        assert!(message.contains(&keyscan), "{message}");
    }
    assert!(
        !marker.exists(),
        "the reader ran although the host was unknown"
    );
    assert!(
        !missing.exists(),
        "strict checking created the known_hosts file"
    );
    assert_eq!(fs::read_to_string(&empty).unwrap(), "# nothing yet\n");
    assert_eq!(local_ids(&queue), vec![1, 2, 3]);
}

#[test]
fn strict_and_accept_new_refuse_a_changed_host_key_and_run_nothing() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, marker) = recording_reader(dir.path());
    let wrong = sshd.known_hosts_wrong_key();
    let before = fs::read_to_string(&wrong).unwrap();
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let mut q = policy_source(&sshd, &queue, &reader, wrong.clone(), policy);
        let message = host_key_error(q.read_window(None, 10));
        assert!(message.contains("HOST KEY CHANGED"), "{message}");
        assert!(message.contains(sshd.host_key_fingerprint()), "{message}");
    }
    assert!(
        !marker.exists(),
        "the reader ran although the host key changed"
    );
    assert_eq!(fs::read_to_string(&wrong).unwrap(), before);
}

#[test]
fn accept_new_records_an_unknown_host_key_then_reads() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, _) = recording_reader(dir.path());
    let kh = dir.path().join("fresh/.ssh/known_hosts");
    let mut q = policy_source(&sshd, &queue, &reader, kh.clone(), HostKeyPolicy::AcceptNew);
    assert_eq!(q.read_window(None, 10).unwrap().rows.len(), 3);
    assert_eq!(
        fs::read_to_string(&kh).unwrap(),
        format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_key())
    );
    assert_eq!(
        fs::metadata(&kh).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The recorded entry is what strict checking needs, and it is not added twice.
    let mut strict = policy_source(&sshd, &queue, &reader, kh.clone(), HostKeyPolicy::Strict);
    assert_eq!(strict.read_window(None, 10).unwrap().rows.len(), 3);
    let mut again = policy_source(&sshd, &queue, &reader, kh.clone(), HostKeyPolicy::AcceptNew);
    assert_eq!(again.read_window(None, 10).unwrap().rows.len(), 3);
    assert_eq!(fs::read_to_string(&kh).unwrap().lines().count(), 1);
}

#[test]
fn policy_off_reads_whatever_the_known_hosts_say() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, _) = recording_reader(dir.path());
    let missing = dir.path().join("missing_known_hosts");
    for kh in [sshd.known_hosts_wrong_key(), missing.clone()] {
        let mut q = policy_source(&sshd, &queue, &reader, kh, HostKeyPolicy::Off);
        assert_eq!(q.read_window(None, 10).unwrap().rows.len(), 3);
    }
    assert!(!missing.exists());
}

#[test]
fn a_key_the_server_does_not_accept_is_an_auth_error_and_runs_nothing() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 3, 10);
    let (reader, marker) = recording_reader(dir.path());
    for key in [sshd.stranger_key(), dir.path().join("no-such-key")] {
        let mut s = sshd.ssh_source(path_str(&queue), Reader::Sqlite3);
        s.reader_command = Some(path_str(&reader).to_owned());
        s.key = Some(key.clone());
        let mut q = SshQueue::new(s, TIMEOUT);
        match q.read_window(None, 10) {
            Err(SourceError::Auth { user, message, .. }) => {
                assert_eq!(user, sshd.user());
                assert!(message.contains(path_str(&key)), "{message}");
            }
            other => panic!("expected an Auth error, got {other:?}"),
        }
    }
    assert!(!marker.exists());
}

#[test]
fn a_port_nobody_listens_on_is_a_connect_error_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sshd = Sshd::start();
    let mut s = sshd.ssh_source("/tmp/q.sqlite", Reader::Sqlite3);
    s.port = port;
    let started = Instant::now();
    let mut q = SshQueue::new(s, Duration::from_secs(5));
    match q.read_window(None, 10) {
        Err(SourceError::Connect { host, port: p, .. }) => {
            assert_eq!((host.as_str(), p), ("127.0.0.1", port));
        }
        other => panic!("expected a Connect error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

fn expect_timeout(result: Result<Window, SourceError>) {
    match result {
        Err(SourceError::Timeout { .. }) => {}
        other => panic!("expected a Timeout error, got {other:?}"),
    }
}

#[test]
fn a_silent_host_times_out_after_about_the_timeout_and_is_read_again_once_back() {
    let sshd = Sshd::start();
    let proxy = Proxy::start(sshd.port());
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 5, 10);
    let timeout = Duration::from_secs(2);
    for reader in READERS {
        let mut s = sshd.ssh_source_on_port(proxy.port(), path_str(&queue), reader);
        if reader == Reader::JobmonTracker {
            s.reader_command = Some(tracker());
        }
        // Down before the first contact: the handshake never gets an answer.
        proxy.set_down(true);
        let mut q = SshQueue::new(s, timeout);
        let started = Instant::now();
        expect_timeout(q.read_window(None, 10));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
            "{took:?}"
        );

        // Up: read; then silent in the middle of a kept connection.
        proxy.set_down(false);
        assert_eq!(q.read_window(None, 10).unwrap().rows.len(), 5);
        proxy.set_down(true);
        let started = Instant::now();
        expect_timeout(q.read_window(None, 10));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
            "{took:?}"
        );
        proxy.set_down(false);
        proxy.cut_all();
        assert_eq!(q.read_window(None, 10).unwrap().rows.len(), 5);
    }
}

#[test]
fn a_connection_cut_mid_read_is_an_error_and_the_next_call_reconnects() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("big.sqlite");
    standard_queue(&queue, 40, 1 << 20);
    let expected = local_window(&queue, None, 1000);
    for reader in READERS {
        let proxy = Proxy::start(sshd.port());
        let mut s = sshd.ssh_source_on_port(proxy.port(), path_str(&queue), reader);
        if reader == Reader::JobmonTracker {
            s.reader_command = Some(tracker());
        }
        let mut q = SshQueue::new(s, TIMEOUT);
        // Connect first, so that the bytes counted below are the read's.
        q.read_window(Some(1_000_000), 1).unwrap();
        let base = proxy.bytes_from_target();
        let reading = std::thread::spawn(move || {
            let r = q.read_window(None, 1000);
            (q, r)
        });
        assert!(
            jobmon_tests::wait_until(Duration::from_secs(20), || proxy.bytes_from_target()
                > base + (2 << 20)),
            "the read did not start"
        );
        // Freeze, so that the read cannot finish before the cut, then cut.
        proxy.set_down(true);
        proxy.cut_all();
        proxy.set_down(false);
        let (mut q, cut) = reading.join().unwrap();
        assert!(
            cut.is_err(),
            "{}: a cut read returned {:?}",
            reader.as_str(),
            cut.map(|w| w.rows.len())
        );
        let again = q.read_window(None, 1000).unwrap();
        assert_same_window(&again, &expected, reader.as_str());
        assert_eq!(proxy.connections(), 2, "{}", reader.as_str());
    }
}

#[test]
fn one_connection_serves_consecutive_calls_and_survives_an_sshd_restart() {
    let mut sshd = Sshd::start();
    let proxy = Proxy::start(sshd.port());
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 10, 10);
    let mut q = SshQueue::new(
        sshd.ssh_source_on_port(proxy.port(), path_str(&queue), Reader::Sqlite3),
        TIMEOUT,
    );
    let w = q.read_window(None, 3).unwrap();
    q.read_window(Some(4), 3).unwrap();
    assert!(q.ack_through(&w.rows[2]).unwrap());
    q.read_window(None, 3).unwrap();
    assert_eq!(proxy.connections(), 1);

    // A server restart drops the kept connection; the next call opens a new one by
    // itself instead of failing once.
    sshd.restart();
    assert_eq!(q.read_window(None, 100).unwrap().rows.len(), 7);
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn megabytes_on_stderr_do_not_stall_the_read_and_are_capped_in_errors() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 200, 20_000);
    let chatty = script(
        dir.path(),
        "chatty-sqlite3",
        "head -c 5000000 /dev/zero | tr '\\0' x >&2\nexec sqlite3 \"$@\"",
    );
    let mut s = sshd.ssh_source(path_str(&queue), Reader::Sqlite3);
    s.reader_command = Some(chatty);
    let mut q = SshQueue::new(s, Duration::from_secs(10));
    let got = q.read_window(None, 1000).unwrap();
    assert_same_window(&got, &local_window(&queue, None, 1000), "chatty stderr");

    let failing = script(
        dir.path(),
        "failing-sqlite3",
        "head -c 3000000 /dev/zero | tr '\\0' y >&2\nexit 3",
    );
    let mut s = sshd.ssh_source(path_str(&queue), Reader::Sqlite3);
    s.reader_command = Some(failing.clone());
    let mut q = SshQueue::new(s, Duration::from_secs(10));
    match q.read_window(None, 10) {
        Err(SourceError::Remote {
            status,
            stderr,
            command,
            ..
        }) => {
            assert_eq!(status, 3);
            assert!(
                stderr.starts_with("yyyy") && stderr.len() < 3000,
                "{}",
                stderr.len()
            );
            assert!(command.starts_with(&format!("'{failing}' ")), "{command}");
        }
        other => panic!("expected a Remote error, got {other:?}"),
    }
}

#[test]
fn a_reader_that_is_not_installed_is_a_remote_error_naming_it() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("q.sqlite");
    standard_queue(&queue, 1, 10);
    for reader in READERS {
        let mut s = sshd.ssh_source(path_str(&queue), reader);
        s.reader_command = Some("/nonexistent/bin/reader".into());
        let mut q = SshQueue::new(s, TIMEOUT);
        match q.read_window(None, 10) {
            Err(SourceError::Remote { status, stderr, .. }) => {
                assert_eq!(status, 127, "{stderr}");
                assert!(stderr.contains("/nonexistent/bin/reader"), "{stderr}");
            }
            other => panic!("expected a Remote error, got {other:?}"),
        }
    }
}
