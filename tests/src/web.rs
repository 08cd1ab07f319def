//! Running `jobmon-tracker web` in tests: the process (its URL read from the line it prints
//! when it listens, on a port the kernel chose), and a small HTTP/1.1 client over plain TCP
//! or TLS (openssl, trusting the test CA) that reads whole responses.

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
