//! Sender tests against real listeners started here: a Unix socket, a FIFO, a UDP socket
//! and a TCP listener on loopback, with real outbox files. Each asserts the exact lines
//! received and what stays queued.

use super::*;
use crate::config::{Global, Job, Output, Schedule};
use crate::rules::{evaluate, CompiledJob, Event, EventKind, Facts, Metrics, Reason, SourceHealth};
use chrono::TimeZone;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use std::thread;

const TIMEOUT: Duration = Duration::from_secs(2);

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 29, h, m, 0)
        .single()
        .expect("valid test time")
}

fn job(name: &str) -> CompiledJob {
    let job = Job {
        name: name.into(),
        env: "P".into(),
        source: None,
        schedule: Schedule::Cyclic {
            interval: Duration::from_secs(900),
        },
        timeout: Some(Duration::from_secs(600)),
        max_errors_before_alerting: 1,
        min_run_time: None,
        quiet_window: None,
    };
    let output = Output {
        service_prefix: "jobmon_".into(),
        ..Output::default()
    };
    CompiledJob::new(&job, &Global::default(), &output)
}

fn eval(reason: Reason) -> Evaluation {
    Evaluation {
        state: reason.state(),
        reason,
        since: at(9, 0),
        text: format!("{}: as the test says", reason.as_str()),
        metrics: Metrics::new(),
        facts: Facts::default(),
    }
}

fn format() -> EcFormat {
    EcFormat {
        hostname: "tracker1".into(),
        ..EcFormat::default()
    }
}

/// Records one round: `(job index, reason)` for each job reported.
fn round(
    outbox: &mut Outbox,
    jobs: &[CompiledJob],
    states: &[(usize, Reason)],
    now: DateTime<Utc>,
) -> usize {
    let evals: Vec<Evaluation> = states.iter().map(|(_, r)| eval(*r)).collect();
    let reports: Vec<Report> = states
        .iter()
        .zip(&evals)
        .map(|((i, _), e)| (&jobs[*i], e))
        .collect();
    outbox.record(&reports, &format(), now).expect("record")
}

/// The queued messages, oldest first.
fn queued(outbox: &Outbox) -> Vec<String> {
    let mut stmt = outbox
        .conn
        .prepare("SELECT message FROM ec_pending ORDER BY id")
        .expect("query");
    let rows = stmt.query_map([], |r| r.get(0)).expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

/// The MSGID (the reason) and the service (application) of a message.
fn gist(message: &str) -> String {
    let msgid = message.split(' ').nth(5).unwrap_or("?");
    let app = message
        .split("application=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("?");
    format!("{app} {msgid}")
}

fn gists(messages: &[String]) -> Vec<String> {
    messages.iter().map(|m| gist(m)).collect()
}

/// Collects the lines of every connection a stream listener accepts.
fn collect_lines<S: Read + Send + 'static>(
    accept: impl Fn() -> Option<S> + Send + 'static,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        while let Some(conn) = accept() {
            for line in BufReader::new(conn).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn receive(rx: &mpsc::Receiver<String>, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            rx.recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("line {i} of {n} did not arrive"))
        })
        .collect()
}

fn nothing_more(rx: &mpsc::Receiver<String>) {
    if let Ok(extra) = rx.recv_timeout(Duration::from_millis(200)) {
        panic!("unexpected extra line: {extra}");
    }
}

fn unix_listener(path: &Path) -> mpsc::Receiver<String> {
    let listener = UnixListener::bind(path).expect("bind unix socket");
    collect_lines(move || listener.accept().ok().map(|(s, _)| s))
}

fn tcp_listener(listener: TcpListener) -> mpsc::Receiver<String> {
    collect_lines(move || listener.accept().ok().map(|(s, _)| s))
}

fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in path");
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo: {}", io::Error::last_os_error());
}

/// The read end of a FIFO, opened without waiting for a writer; reads what is there.
struct FifoReader(File);

impl FifoReader {
    fn open(path: &Path) -> Self {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .expect("open FIFO for reading");
        FifoReader(file)
    }

    fn drain(&mut self) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read FIFO: {e}"),
            }
        }
        String::from_utf8(out).expect("UTF-8 from the pipe")
    }

    fn lines(&mut self) -> Vec<String> {
        self.drain().lines().map(str::to_owned).collect()
    }
}

/// A port on loopback that nothing listens on (just released by a listener).
fn closed_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Datagrams received, without the empty probes.
fn udp_receive(socket: &UdpSocket, n: usize) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < n {
        let len = socket.recv(&mut buf).expect("datagram did not arrive");
        if len > 0 {
            out.push(String::from_utf8(buf[..len].to_vec()).expect("UTF-8 datagram"));
        }
    }
    out
}

#[test]
fn the_same_reports_twice_queue_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("LOAD")];
    assert_eq!(
        round(&mut outbox, &jobs, &[(0, Reason::Error)], at(10, 0)),
        1
    );
    assert_eq!(
        round(&mut outbox, &jobs, &[(0, Reason::Error)], at(10, 1)),
        0
    );
    assert_eq!(outbox.pending().unwrap(), 1);
    assert_eq!(
        queued(&outbox),
        ["<10>1 2026-03-29T10:00:00Z tracker1 jobmon-tracker - ERROR [Checkmk@18662 sl=\"0\" application=\"jobmon_LOAD_P\"] CRITICAL - ERROR: as the test says"]
    );
}

#[test]
fn a_change_is_a_new_state_or_a_new_reason_while_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("A"), job("B")];
    let mut r =
        |states: &[(usize, Reason)], minute| round(&mut outbox, &jobs, states, at(10, minute));
    // First seen: only a job that is not OK is news.
    assert_eq!(r(&[(0, Reason::Running), (1, Reason::Error)], 0), 1);
    // RUNNING -> OK is no news; ERROR -> TIMEOUT is.
    assert_eq!(r(&[(0, Reason::Ok), (1, Reason::Timeout)], 1), 1);
    // OK -> WARNING is news; the same CRITICAL TIMEOUT again is not.
    assert_eq!(r(&[(0, Reason::TooFast), (1, Reason::Timeout)], 2), 1);
    // WARNING with another reason is news; CRITICAL -> OK (recovery) is news.
    assert_eq!(
        r(&[(0, Reason::ErrorsBelowLimit), (1, Reason::Running)], 3),
        2
    );
    // OK with another reason is no news.
    assert_eq!(
        r(&[(0, Reason::ErrorsBelowLimit), (1, Reason::Quiet)], 4),
        0
    );
    // A job no longer reported is forgotten without an event ...
    assert_eq!(r(&[(1, Reason::Quiet)], 5), 0);
    // ... and is new when it comes back: news only if not OK.
    assert_eq!(
        r(&[(0, Reason::ErrorsBelowLimit), (1, Reason::Quiet)], 6),
        1
    );
    assert_eq!(
        gists(&queued(&outbox)),
        [
            "jobmon_B_P ERROR",
            "jobmon_B_P TIMEOUT",
            "jobmon_A_P TOO_FAST",
            "jobmon_A_P ERRORS_BELOW_LIMIT",
            "jobmon_B_P RUNNING",
            "jobmon_A_P ERRORS_BELOW_LIMIT",
        ]
    );
}

#[test]
fn evaluated_reports_are_queued_with_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("LOAD")];
    let started = [Event::new(at(9, 0), EventKind::Start)];
    let now = at(9, 30);
    let timeout = evaluate(&jobs[0], &started, &SourceHealth::fresh(now), now);
    assert_eq!(timeout.reason, Reason::Timeout);
    let reports: Vec<Report> = vec![(&jobs[0], &timeout)];
    assert_eq!(outbox.record(&reports, &format(), now).unwrap(), 1);
    assert_eq!(
        queued(&outbox),
        [ec_message(&format(), "jobmon_LOAD_P", &timeout, now)]
    );
    assert!(queued(&outbox)[0].contains(
        " TIMEOUT [Checkmk@18662 sl=\"0\" application=\"jobmon_LOAD_P\"] CRITICAL - TIMEOUT"
    ));
}

#[test]
fn a_restart_queues_no_duplicate_and_keeps_the_undelivered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let jobs = [job("A"), job("B")];
    let states = [(0, Reason::Delayed), (1, Reason::Ok)];
    {
        let mut outbox = Outbox::open(&path).unwrap();
        assert_eq!(round(&mut outbox, &jobs, &states, at(10, 0)), 1);
    }
    let mut outbox = Outbox::open(&path).unwrap();
    assert_eq!(round(&mut outbox, &jobs, &states, at(10, 1)), 0);
    assert_eq!(gists(&queued(&outbox)), ["jobmon_A_P DELAYED"]);

    let socket = dir.path().join("eventsocket");
    let rx = unix_listener(&socket);
    let target = EcTarget::Unix(socket);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 1);
    drop(outbox);
    let mut outbox = Outbox::open(&path).unwrap();
    assert_eq!(round(&mut outbox, &jobs, &states, at(10, 2)), 0);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 0);
    assert_eq!(gists(&receive(&rx, 1)), ["jobmon_A_P DELAYED"]);
    nothing_more(&rx);
}

#[test]
fn unix_socket_down_keeps_messages_and_sends_them_in_order_later() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let socket = dir.path().join("eventsocket");
    let target = EcTarget::Unix(socket.clone());
    let jobs = [job("A")];
    round(&mut outbox, &jobs, &[(0, Reason::Error)], at(10, 0));
    round(&mut outbox, &jobs, &[(0, Reason::Timeout)], at(10, 1));
    let err = outbox.deliver(&target, TIMEOUT).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "Event Console unix:{}: cannot connect:",
            socket.display()
        )),
        "{text}"
    );
    assert!(text.ends_with("(0 sent, the rest stay queued)"), "{text}");
    round(&mut outbox, &jobs, &[(0, Reason::Running)], at(10, 2));
    assert_eq!(outbox.pending().unwrap(), 3);

    let rx = unix_listener(&socket);
    let expected = queued(&outbox);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 3);
    assert_eq!(receive(&rx, 3), expected);
    assert_eq!(
        gists(&expected),
        [
            "jobmon_A_P ERROR",
            "jobmon_A_P TIMEOUT",
            "jobmon_A_P RUNNING"
        ]
    );
    assert_eq!(outbox.pending().unwrap(), 0);
    nothing_more(&rx);
}

#[test]
fn a_unix_socket_whose_backlog_is_full_times_out() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("eventsocket");
    // Never accepts, with a backlog of one connection: full after the first delivery, as
    // mkeventd's would be if it hung.
    let listener = UnixListener::bind(&socket).unwrap();
    // SAFETY: listen(2) again on a socket this test owns only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let target = EcTarget::Unix(socket);
    let jobs = [job("A")];
    round(&mut outbox, &jobs, &[(0, Reason::Error)], at(10, 0));
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 1);
    round(&mut outbox, &jobs, &[(0, Reason::Ok)], at(10, 1));
    let started = std::time::Instant::now();
    let err = outbox
        .deliver(&target, Duration::from_millis(300))
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            EcError::Target {
                action: "connect",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "waited {waited:?}"
    );
    assert_eq!(outbox.pending().unwrap(), 1);
}

#[test]
fn pipe_without_reader_keeps_messages_then_delivers_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events");
    mkfifo(&fifo);
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("A"), job("B")];
    round(
        &mut outbox,
        &jobs,
        &[(0, Reason::Error), (1, Reason::Stale)],
        at(10, 0),
    );
    let target = EcTarget::Pipe(fifo.clone());
    let err = outbox.deliver(&target, TIMEOUT).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot open the pipe: nobody reads the pipe"),
        "{err}"
    );
    assert_eq!(outbox.pending().unwrap(), 2);
    round(
        &mut outbox,
        &jobs,
        &[(0, Reason::Timeout), (1, Reason::Stale)],
        at(10, 1),
    );

    let mut reader = FifoReader::open(&fifo);
    let expected = queued(&outbox);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 3);
    assert_eq!(reader.lines(), expected);
    assert_eq!(
        gists(&expected),
        ["jobmon_A_P ERROR", "jobmon_B_P STALE", "jobmon_A_P TIMEOUT"]
    );
    assert_eq!(outbox.pending().unwrap(), 0);
}

#[test]
fn a_full_pipe_stops_delivery_and_the_rest_follows_later() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events");
    mkfifo(&fifo);
    let mut reader = FifoReader::open(&fifo);
    // SAFETY: fcntl on a descriptor this test owns; the smallest pipe is one page.
    let size = unsafe {
        use std::os::fd::AsRawFd;
        libc::fcntl(reader.0.as_raw_fd(), libc::F_SETPIPE_SZ, 4096)
    };
    assert!(size >= 4096, "F_SETPIPE_SZ: {}", io::Error::last_os_error());
    let size = usize::try_from(size).unwrap();

    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs: Vec<CompiledJob> = (0..80).map(|i| job(&format!("J{i:02}"))).collect();
    let states: Vec<(usize, Reason)> = (0..80).map(|i| (i, Reason::Error)).collect();
    assert_eq!(round(&mut outbox, &jobs, &states, at(10, 0)), 80);
    let expected = queued(&outbox);
    let bytes: usize = expected.iter().map(|m| m.len() + 1).sum();
    assert!(bytes > size, "the test needs more than one pipe full");

    let target = EcTarget::Pipe(fifo);
    let err = outbox.deliver(&target, TIMEOUT).unwrap_err();
    let EcError::Target { action, sent, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*action, "write (the pipe is full)");
    let first = reader.lines();
    assert_eq!(first.len(), *sent);
    assert_eq!(outbox.pending().unwrap(), (80 - sent) as u64);
    let mut got = first;
    while outbox.pending().unwrap() > 0 {
        let _ = outbox.deliver(&target, TIMEOUT);
        got.extend(reader.lines());
    }
    assert_eq!(got, expected);
}

#[test]
fn a_long_message_is_cut_to_one_atomic_pipe_write() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events");
    mkfifo(&fifo);
    let mut reader = FifoReader::open(&fifo);
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("A")];
    let mut long = eval(Reason::Error);
    long.text = "Fehler: Überlauf ".repeat(400);
    let reports: Vec<Report> = vec![(&jobs[0], &long)];
    outbox.record(&reports, &format(), at(10, 0)).unwrap();
    let full = queued(&outbox).remove(0);
    assert!(full.len() > PIPE_BUF);
    outbox.deliver(&EcTarget::Pipe(fifo), TIMEOUT).unwrap();
    let got = reader.drain();
    assert!(got.len() <= PIPE_BUF, "{} bytes", got.len());
    assert!(got.len() > PIPE_BUF - 4, "{} bytes", got.len());
    let line = got.strip_suffix('\n').expect("newline-terminated");
    assert!(!line.contains('\n'));
    assert!(full.starts_with(line));
}

#[test]
fn a_pipe_path_that_is_a_regular_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events");
    std::fs::write(&file, "precious\n").unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    round(&mut outbox, &[job("A")], &[(0, Reason::Error)], at(10, 0));
    let err = outbox
        .deliver(&EcTarget::Pipe(file.clone()), TIMEOUT)
        .unwrap_err();
    assert!(matches!(err, EcError::NotAFifo { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "Event Console pipe:{0}: {0} is not a named pipe (FIFO); refusing to write to it",
            file.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious\n");
    assert_eq!(outbox.pending().unwrap(), 1);

    let missing = dir.path().join("no-such-pipe");
    let err = outbox
        .deliver(&EcTarget::Pipe(missing.clone()), TIMEOUT)
        .unwrap_err();
    assert!(
        matches!(&err, EcError::Target { action: "open the pipe", source, .. } if source.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(!missing.exists(), "a missing pipe must not be created");
}

#[test]
fn udp_sends_one_datagram_per_message_and_a_refusal_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("A"), job("B")];
    round(
        &mut outbox,
        &jobs,
        &[(0, Reason::Error), (1, Reason::NoData)],
        at(10, 0),
    );

    // Nothing listens: loopback answers the probe with "port unreachable".
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let target = EcTarget::Udp {
        host: "127.0.0.1".into(),
        port,
    };
    let err = outbox.deliver(&target, TIMEOUT).unwrap_err();
    assert!(
        matches!(&err, EcError::Target { action: "reach the syslog port", source, .. } if source.kind() == io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert_eq!(outbox.pending().unwrap(), 2);
    round(
        &mut outbox,
        &jobs,
        &[(0, Reason::Ok), (1, Reason::NoData)],
        at(10, 1),
    );

    let server = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let expected = queued(&outbox);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 3);
    assert_eq!(udp_receive(&server, 3), expected);
    assert_eq!(
        gists(&expected),
        ["jobmon_A_P ERROR", "jobmon_B_P NO_DATA", "jobmon_A_P OK"]
    );
}

#[test]
fn tcp_sends_newline_terminated_lines_and_a_closed_port_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let jobs = [job("A")];
    round(&mut outbox, &jobs, &[(0, Reason::Delayed)], at(10, 0));
    let port = closed_tcp_port();
    let target = EcTarget::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let err = outbox.deliver(&target, TIMEOUT).unwrap_err();
    assert!(
        matches!(&err, EcError::Target { action: "connect", source, .. } if source.kind() == io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "Event Console tcp:127.0.0.1:{port}: cannot connect:"
        )),
        "{err}"
    );
    round(&mut outbox, &jobs, &[(0, Reason::Running)], at(10, 1));
    assert_eq!(outbox.pending().unwrap(), 2);

    let rx = tcp_listener(TcpListener::bind(("127.0.0.1", port)).unwrap());
    let expected = queued(&outbox);
    assert_eq!(outbox.deliver(&target, TIMEOUT).unwrap(), 2);
    assert_eq!(receive(&rx, 2), expected);
    assert_eq!(
        gists(&expected),
        ["jobmon_A_P DELAYED", "jobmon_A_P RUNNING"]
    );
    nothing_more(&rx);
}

#[test]
fn a_connection_the_event_console_closed_is_not_written_into() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("eventsocket");
    let listener = UnixListener::bind(&socket).unwrap();
    let mut link =
        Link::open(&EcTarget::Unix(socket), TIMEOUT).unwrap_or_else(|_| panic!("connect"));
    let (accepted, _) = listener.accept().unwrap();
    link.send("first").unwrap_or_else(|_| panic!("send"));
    drop(accepted);
    // The close arrives with the next look, before anything is written.
    let err = link.send("second");
    assert!(
        matches!(err, Err(Failure::Io { action: "write", ref source }) if source.kind() == io::ErrorKind::ConnectionAborted || source.kind() == io::ErrorKind::ConnectionReset),
    );
}

#[test]
fn the_outbox_keeps_the_newest_messages_up_to_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    outbox.cap = 5;
    let jobs: Vec<CompiledJob> = (0..8).map(|i| job(&format!("J{i}"))).collect();
    let states: Vec<(usize, Reason)> = (0..8).map(|i| (i, Reason::Error)).collect();
    assert_eq!(round(&mut outbox, &jobs, &states, at(10, 0)), 8);
    assert_eq!(outbox.pending().unwrap(), 5);
    let kept: Vec<String> = (3..8).map(|i| format!("jobmon_J{i}_P ERROR")).collect();
    assert_eq!(gists(&queued(&outbox)), kept);

    let socket = dir.path().join("eventsocket");
    let rx = unix_listener(&socket);
    assert_eq!(outbox.deliver(&EcTarget::Unix(socket), TIMEOUT).unwrap(), 5);
    assert_eq!(gists(&receive(&rx, 5)), kept);
    assert_eq!(OUTBOX_CAP, 100_000);
}

#[test]
fn a_file_that_is_not_an_outbox_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-sqlite");
    std::fs::write(&path, "this is not a database\n".repeat(100)).unwrap();
    let err = Outbox::open(&path).err().expect("refused");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: Event Console outbox:", path.display())),
        "{err}"
    );
    let newer = dir.path().join("newer.sqlite");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    assert!(matches!(
        Outbox::open(&newer),
        Err(EcError::Version { found: 2, .. })
    ));
}

#[test]
fn nothing_queued_means_no_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut outbox = Outbox::open(&dir.path().join("outbox.sqlite")).unwrap();
    let down = EcTarget::Unix(dir.path().join("nobody"));
    assert_eq!(outbox.deliver(&down, TIMEOUT).unwrap(), 0);
}
