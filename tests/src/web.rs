//! Running `jobmon-tracker web` in tests: the process (its URL read from the line it prints
//! when it listens, on a port the kernel chose), and a small HTTP/1.1 client over plain TCP
//! or TLS (openssl, trusting the test CA) that reads whole responses; and the history the
//! dashboard tests show: in-database jobs (a nightly job with 60 runs and one failure, one
//! failing three times, one running, one late by its job_check_config, one named like a
//! script) and tracked jobs.

use crate::tracker::{run_once, tempdir, toml_str};
use crate::{cluster, exec, TestDb};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres::Client;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tracker_worker::queue::{NewMessage, Queue};

/// A running dashboard; killed when dropped.
pub struct WebServer {
    child: Child,
    pub addr: SocketAddr,
    pub tls: bool,
    log: PathBuf,
}

/// What `web -c config` printed when it did not come up: its exit status and stderr.
#[derive(Debug)]
pub struct Failed {
    pub code: Option<i32>,
    pub stderr: String,
}

impl WebServer {
    /// Starts `bin web -c config` (stderr kept in `log`) and waits up to 30 s for its
    /// "dashboard at URL" line; `Err` with its output if it exited instead.
    pub fn start(bin: &str, config: &Path, log: &Path) -> Result<WebServer, Failed> {
        let mut child = Command::new(bin)
            .args(["web", "-c"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_remove("JOBMON_TRACKER_LOG")
            .spawn()
            .expect("start jobmon-tracker web");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel::<String>();
        let log_path = log.to_owned();
        std::thread::spawn(move || {
            let mut file = fs::File::create(&log_path).expect("web log");
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                let _ = tx.send(line);
            }
        });
        let mut seen = String::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    seen.push_str(&line);
                    seen.push('\n');
                    if let Some(url) = line.split("dashboard at ").nth(1) {
                        let (scheme, rest) = url.split_once("://").expect("URL");
                        let addr = rest.trim_end_matches('/').parse().expect("address");
                        return Ok(WebServer {
                            child,
                            addr,
                            tls: scheme == "https",
                            log: log.to_owned(),
                        });
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let code = child.wait().ok().and_then(|s| s.code());
                    return Err(Failed { code, stderr: seen });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Failed {
                        code: None,
                        stderr: format!("no URL within 30 s; stderr so far:\n{seen}"),
                    });
                }
            }
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// A plain HTTP GET.
    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path, &[])
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn request_text(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req
}

/// GET over plain TCP.
pub fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect to the dashboard");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    s.write_all(request_text(addr, path, headers).as_bytes())
        .expect("send the request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    parse(&raw).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&raw)))
}

/// GET over TLS, trusting `ca` and checking the certificate against `host`.
pub fn get_tls(
    addr: SocketAddr,
    ca: &Path,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let mut b = SslConnector::builder(SslMethod::tls()).map_err(|e| e.to_string())?;
    b.set_ca_file(ca).map_err(|e| e.to_string())?;
    b.set_verify(SslVerifyMode::PEER);
    let connector = b.build();
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut s = connector
        .connect(host, tcp)
        .map_err(|e| format!("TLS handshake: {e}"))?;
    s.write_all(request_text(addr, path, headers).as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    // A close without close_notify still leaves a whole response behind.
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

/// Sends a plain-HTTP request to `addr` and returns whatever comes back (until close).
pub fn raw_exchange(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let _ = s.write_all(request_text(addr, path, &[]).as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    raw
}

fn parse(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("no complete HTTP response")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut s: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").ok_or("bad chunk")?;
        let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..n).ok_or("short chunk")?);
        s = rest.get(n + 2..).ok_or("short chunk")?;
    }
}

/// A database with the history, and the directory of its configuration.
pub struct History {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
    bin: String,
    page_size: usize,
}

fn message(job: &str, event: &str, text: &str) -> NewMessage {
    NewMessage {
        instance: Some("p".into()),
        job: Some(job.into()),
        event: Some(event.into()),
        message: Some(text.into()),
    }
}

fn in_database_jobs(c: &mut Client) {
    // NIGHTLY_LOAD: one run a day for 60 days, 100 + i seconds long; the run of day 50 failed
    // in its second step.
    exec(
        c,
        "INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
         SELECT 'etl', 'NIGHTLY_LOAD', now() - (60 - i) * interval '1 day',
                now() - (60 - i) * interval '1 day' + (100 + i) * interval '1 second',
                CASE WHEN i = 50 THEN 'CRITICAL' ELSE 'OK' END, 1000 + i
           FROM generate_series(0, 59) i;
         INSERT INTO jobmon.job_detail (job_id, action, start_time, end_time, elapsed_time, status, message)
         SELECT l.job_id, s.action, l.start_time, l.start_time + interval '50 seconds', 50, s.status, s.message
           FROM jobmon.job_log l
          CROSS JOIN (VALUES (1, 'extract', 'OK', '1200 rows'),
                             (2, 'transform', 'CRITICAL', 'ORA-01555: snapshot too old'),
                             (3, 'load', 'OK', 'skipped')) s(n, action, status, message)
          WHERE l.job_name = 'NIGHTLY_LOAD' AND l.status = 'CRITICAL'
          ORDER BY s.n;
         INSERT INTO jobmon.job_log (owner, job_name, start_time, end_time, status, pid)
         VALUES ('web', '<script>alert(1)</script>', now() - interval '2 hours',
                 now() - interval '2 hours' + interval '5 seconds', 'OK', 42),
                ('etl', 'LATE_JOB', now() - interval '3 hours',
                 now() - interval '3 hours' + interval '1 minute', 'OK', 43);
         INSERT INTO jobmon.job_check_config (job_name, warn_threshold, error_threshold, active)
         VALUES ('LATE_JOB', interval '1 hour', interval '2 hours', true);",
    );
    // Through the API: three failed runs in a row, and one still running.
    for _ in 0..3 {
        let id: i64 = c
            .query_one("SELECT jobmon.add_job('FAILING_JOB')", &[])
            .unwrap()
            .get(0);
        let step: i64 = c
            .query_one("SELECT jobmon.add_step($1, 'copy files')", &[&id])
            .unwrap()
            .get(0);
        c.execute(
            "SELECT jobmon.update_step($1, 'CRITICAL', 'disk full')",
            &[&step],
        )
        .unwrap();
        c.execute("SELECT jobmon.fail_job($1)", &[&id]).unwrap();
    }
    c.query_one("SELECT jobmon.add_job('RUNNING_JOB')", &[])
        .unwrap();
}

impl History {
    /// The history in a new database, the tracked jobs stored by `bin run --once`; the
    /// dashboard shows `page_size` rows per page.
    pub fn new(bin: &str, page_size: usize, label: &str) -> History {
        let db = TestDb::new(label);
        let dir = tempdir();
        in_database_jobs(&mut db.connect());
        let queue = dir.path().join("queue.sqlite");
        let mut q = Queue::open_or_create(&queue).expect("queue");
        q.add_all(&[
            message("backup", "STARTED", "begin"),
            message("backup", "ERROR", "tape <b>jammed</b>"),
            message("backup", "SUCCESS", "done"),
        ])
        .expect("fill the queue");
        let h = History {
            db,
            dir,
            bin: bin.to_owned(),
            page_size,
        };
        let config = h.config("");
        let out = run_once(bin, &config);
        assert!(
            out.status.success(),
            "run --once: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        h
    }

    /// The configuration: the database, the source and two tracked jobs (backup, with a
    /// timeout; report, daily and never started), and `[web]` with `web` added.
    pub fn config(&self, web: &str) -> PathBuf {
        let c = cluster();
        let queue = self.dir.path().join("queue.sqlite");
        let text = format!(
            "[global]\ntime_zone = \"UTC\"\n\n[database]\nhost = \"127.0.0.1\"\nport = {}\nuser = {}\ndbname = {}\n\n\
             [[sources]]\nname = \"src\"\nlocal_queue = {}\n\n\
             [[jobs]]\nname = \"backup\"\nenv = \"p\"\ntimeout = \"30m\"\ncyclic = {{ interval = \"1h\" }}\n\n\
             [[jobs]]\nname = \"report\"\nenv = \"p\"\ndaily = {{ start = \"00:01\", start_max_delay = \"10m\" }}\n\n\
             [web]\nlisten = \"127.0.0.1:0\"\npage_size = {}\n{web}\n",
            c.port,
            toml_str(&c.superuser),
            toml_str(&self.db.name),
            toml_str(&queue.to_string_lossy()),
            self.page_size,
        );
        let path = self.dir.path().join(format!("web{}.toml", web.len()));
        fs::write(&path, text).expect("write the config");
        path
    }

    /// The dashboard with `web` added to its `[web]` table.
    pub fn start(&self, web: &str) -> WebServer {
        let config = self.config(web);
        WebServer::start(&self.bin, &config, &self.dir.path().join("web.log"))
            .unwrap_or_else(|f| panic!("web did not start: {f:?}"))
    }

    /// Every job name the dashboard must list, with its state as the database says it.
    pub fn expected_states(&self) -> BTreeMap<String, Option<String>> {
        let mut c = self.db.connect();
        let mut out = BTreeMap::new();
        for r in c
            .query("SELECT DISTINCT job_name FROM jobmon.job_log", &[])
            .unwrap()
        {
            out.insert(r.get(0), None);
        }
        for r in c
            .query("SELECT job_name, state FROM jobmon.tracker_job_state", &[])
            .unwrap()
        {
            out.insert(r.get(0), Some(r.get(1)));
        }
        out
    }

    /// The latest run of `name` that ended with `status`.
    pub fn job_id(&self, name: &str, status: &str) -> i64 {
        self.db
            .connect()
            .query_one(
                "SELECT max(job_id) FROM jobmon.job_log WHERE job_name = $1 AND status = $2",
                &[&name, &status],
            )
            .unwrap()
            .get(0)
    }
}
