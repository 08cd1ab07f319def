//! The validated configuration as plain data: what the config adapter reads TOML and the
//! 2016 tool's JSON into, what `config import` writes back, and what the rule engine
//! compiles jobs from. No parsing of files and no I/O here.

use crate::identity::ServiceTemplate;
use crate::schedule::{QuietWindow, Schedule};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Defaults, each chosen to match the 2016 tool or a cautious reading of it.
pub mod defaults {
    use std::time::Duration;
    pub const START_KEYWORD: &str = "STARTED";
    pub const ERROR_KEYWORD: &str = "ERROR";
    pub const END_KEYWORD: &str = "SUCCESS";
    /// The old `controller_interval_in_sec` example value.
    pub const POLL_INTERVAL: Duration = Duration::from_secs(10);
    /// Clock drift tolerated between source hosts and the tracker.
    pub const MESSAGE_GRACE_PERIOD: Duration = Duration::from_secs(60);
    /// Bound on connecting to and reading one source (the old data load timeout was 5 s
    /// for connecting only; reading a large queue needs more).
    pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(30);
    pub const READ_BATCH_SIZE: u32 = 1000;
    pub const SSH_PORT: u16 = 22;
    pub const MAX_ERRORS_BEFORE_ALERTING: u32 = 1;
    /// The syslog port, UDP and TCP alike, that the Event Console listens on.
    pub const EC_SYSLOG_PORT: u16 = 514;
    /// `user`: what `logger` and most applications use; Event Console rules rarely filter
    /// on it.
    pub const EC_FACILITY: u8 = 1;
    /// No service level: the Event Console's own default.
    pub const EC_SERVICE_LEVEL: u32 = 0;
    pub const EC_APP_NAME: &str = "jobmon-tracker";
    /// Lower bound of the default staleness bound: a few missed polls are no reason to
    /// call every job UNKNOWN.
    pub const STALE_AFTER_MIN: Duration = Duration::from_secs(300);
    /// The dashboard: loopback only, so nothing is exposed until someone decides to.
    pub const WEB_LISTEN: &str = "127.0.0.1:8470";
    pub const WEB_PAGE_SIZE: u32 = 50;
    pub const WEB_REFRESH: Duration = Duration::from_secs(60);

    /// `global.stale_after` when unset: five minutes, or three polls plus one source
    /// timeout when polling is slower, so one slow or failed poll never makes data stale.
    pub fn stale_after(poll_interval: Duration, source_timeout: Duration) -> Duration {
        STALE_AFTER_MIN.max(
            poll_interval
                .saturating_mul(3)
                .saturating_add(source_timeout),
        )
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub global: Global,
    pub database: Database,
    pub output: Output,
    pub sources: Vec<Source>,
    pub jobs: Vec<Job>,
    /// The `[web]` table: the dashboard's settings, if it is configured.
    pub web: Option<Web>,
}

/// The dashboard (`jobmon-tracker web`, or inside `run`): where it listens and who may
/// read it. Validated so that a non-loopback address has TLS and authentication, or says
/// `insecure` out loud.
#[derive(Debug, Clone, PartialEq)]
pub struct Web {
    pub listen: std::net::SocketAddr,
    /// Certificate chain and private key (PEM); both or neither.
    pub tls: Option<WebTls>,
    pub auth: WebAuth,
    /// Serve a non-loopback address without TLS or authentication (warned at every start).
    pub insecure: bool,
    /// Display zone; `None`: `global.time_zone`, else the host's local time.
    pub time_zone: Option<chrono_tz::Tz>,
    /// Rows per page of the overview and of a job's runs.
    pub page_size: u32,
    /// How often the overview reloads itself (0: never).
    pub refresh: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Who may read the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum WebAuth {
    None,
    /// HTTP Basic against a file of `user:hash` lines (argon2 or bcrypt hashes).
    UsersFile(PathBuf),
    /// A reverse proxy that authenticated the user names them in this header; only
    /// connections from `proxies` may send it.
    ProxyHeader {
        header: String,
        proxies: Vec<std::net::IpAddr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    pub start_keyword: String,
    pub error_keyword: String,
    pub end_keyword: String,
    /// Zone of daily start times and quiet windows; `None`: the tracker host's local zone.
    pub time_zone: Option<chrono_tz::Tz>,
    pub poll_interval: Duration,
    /// `controller_message_grace_period_in_sec` of the 2016 tool: added to every deadline.
    pub message_grace_period: Duration,
    /// Cyclic jobs raise no timeout or missed-cycle alarm inside this window.
    pub quiet_window: Option<QuietWindow>,
    pub source_timeout: Duration,
    /// A job is UNKNOWN when its source has not been read successfully for this long.
    pub stale_after: Duration,
    pub read_batch_size: u32,
    /// How long tracker_message keeps a message; `None`: as long as job_log keeps its run
    /// (only messages of runs that are gone are purged).
    pub retention: Option<Duration>,
    pub log_level: LogLevel,
    pub log_file: Option<PathBuf>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            start_keyword: defaults::START_KEYWORD.into(),
            error_keyword: defaults::ERROR_KEYWORD.into(),
            end_keyword: defaults::END_KEYWORD.into(),
            time_zone: None,
            poll_interval: defaults::POLL_INTERVAL,
            message_grace_period: defaults::MESSAGE_GRACE_PERIOD,
            quiet_window: None,
            source_timeout: defaults::SOURCE_TIMEOUT,
            stale_after: defaults::stale_after(defaults::POLL_INTERVAL, defaults::SOURCE_TIMEOUT),
            read_batch_size: defaults::READ_BATCH_SIZE,
            retention: None,
            log_level: LogLevel::default(),
            log_file: None,
        }
    }
}

/// How to reach PostgreSQL. Never a password: libpq reads it from `password_file` (a
/// pgpass file) or `PGPASSFILE`/`~/.pgpass`. Unset parameters fall back to libpq's
/// environment variables (`PGHOST`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Database {
    /// A libpq connection string (`host=... dbname=...`) or URI; excludes the fields below.
    pub conninfo: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    pub password_file: Option<PathBuf>,
    /// libpq's TLS keys (`store::tls` gives them their meaning).
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub sslcrl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Output {
    /// Directory of per-job `*.state` files (the old Checkmk local check cats them).
    pub state_dir: Option<PathBuf>,
    /// Checkmk spool file with all jobs' local-check lines; its name should start with
    /// the age in seconds after which Checkmk ignores it (`600_jobmon.txt`).
    pub spool_file: Option<PathBuf>,
    /// Prefix of Checkmk service names (the old `monitoring_servicename_prefix_without_spaces`).
    pub service_prefix: String,
    /// Pattern of each job's Checkmk service name.
    pub service_name: ServiceTemplate,
    /// Prometheus text file for node_exporter's textfile collector (`*.prom`).
    pub prometheus_file: Option<PathBuf>,
    /// Checkmk Event Console messages, one per state change; `None`: none sent.
    pub event_console: Option<EventConsole>,
    /// Write each job's service into a Checkmk piggyback section of its source's host
    /// ([`Source::checkmk_host`]) in the spool file, the state files and `check`, and report
    /// only the jobs of the sources this tracker holds; `false`: every job on the tracker's
    /// own host, as the 2016 tool did.
    pub piggyback: bool,
}

impl Output {
    /// A job's Checkmk service name: [`Output::service_name`] rendered with the prefix, not
    /// yet escaped for any format. The one place a job's service is named.
    pub fn service_of(&self, job: &str, env: &str) -> String {
        self.service_name.render(&self.service_prefix, job, env)
    }
}

/// `[output.event_console]`: where Event Console messages go and what their header says.
#[derive(Debug, Clone, PartialEq)]
pub struct EventConsole {
    pub target: EcTarget,
    /// SQLite file with the last state sent per service and the messages not yet
    /// delivered: what makes a restart send no duplicates and an outage lose nothing.
    pub outbox: PathBuf,
    /// Checkmk service level (`sl`) of every event.
    pub service_level: u32,
    /// Syslog facility, 0-23.
    pub facility: u8,
    /// Checkmk host the events belong to; `None`: the Event Console takes HOSTNAME.
    pub host: Option<String>,
    /// Syslog HOSTNAME; `None`: this machine's name, read when the format is built.
    pub hostname: Option<String>,
    /// Syslog APP-NAME.
    pub app_name: String,
}

/// Where Event Console messages are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcTarget {
    /// The Event Console's Unix event socket (`<site>/tmp/run/mkeventd/eventsocket`).
    Unix(PathBuf),
    /// Its named pipe (`<site>/tmp/run/mkeventd/events`).
    Pipe(PathBuf),
    /// Its syslog UDP port.
    Udp { host: String, port: u16 },
    /// Its syslog TCP port.
    Tcp { host: String, port: u16 },
}

/// The accepted spellings of an [`EcTarget`], for error messages.
pub const EC_TARGET_EXPECTED: &str = "\"unix:/path\" (the Event Console's event socket), \"pipe:/path\" (its named pipe), \"udp:host[:port]\" or \"tcp:host[:port]\" (its syslog port, 514 if omitted; an IPv6 address in brackets: \"udp:[::1]:514\")";

impl EcTarget {
    /// Parses `unix:/path`, `pipe:/path`, `udp:host[:port]` or `tcp:host[:port]`.
    pub fn parse(s: &str) -> Result<EcTarget, String> {
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(format!(
                "`{s}` does not start with unix:, pipe:, udp: or tcp:"
            ));
        };
        match scheme {
            "unix" | "pipe" => {
                // A relative path would depend on the directory the daemon started in.
                if !rest.starts_with('/') || rest.contains('\0') {
                    return Err(format!(
                        "`{s}`: expected an absolute path after `{scheme}:`"
                    ));
                }
                let path = PathBuf::from(rest);
                Ok(if scheme == "unix" {
                    EcTarget::Unix(path)
                } else {
                    EcTarget::Pipe(path)
                })
            }
            "udp" | "tcp" => {
                let (host, port) = host_port(rest).map_err(|why| format!("`{s}`: {why}"))?;
                Ok(if scheme == "udp" {
                    EcTarget::Udp { host, port }
                } else {
                    EcTarget::Tcp { host, port }
                })
            }
            other => Err(format!("`{s}`: unknown transport `{other}`")),
        }
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to the syslog port.
fn host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or("an IPv6 address needs its closing `]`")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{host}` in brackets is not an IPv6 address"));
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or("expected `:port` after `]`")?,
                ),
            ),
        }
    } else {
        match s.split_once(':') {
            None => (s, None),
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            Some(_) => return Err("write an IPv6 address in brackets, e.g. `[::1]:514`".into()),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err("expected a host name or address".into());
    }
    let port = match port {
        None => defaults::EC_SYSLOG_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("`{p}` is not a port from 1 to 65535"))?,
    };
    Ok((host.to_owned(), port))
}

/// Written as it is read: `udp:host:port`, `unix:/path`, ...
impl Serialize for EcTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for EcTarget {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let host_port = |f: &mut fmt::Formatter, scheme: &str, host: &str, port: u16| {
            if host.contains(':') {
                write!(f, "{scheme}:[{host}]:{port}")
            } else {
                write!(f, "{scheme}:{host}:{port}")
            }
        };
        match self {
            EcTarget::Unix(path) => write!(f, "unix:{}", path.display()),
            EcTarget::Pipe(path) => write!(f, "pipe:{}", path.display()),
            EcTarget::Udp { host, port } => host_port(f, "udp", host, *port),
            EcTarget::Tcp { host, port } => host_port(f, "tcp", host, *port),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub transport: Transport,
    /// Delete messages on the source once they are committed in PostgreSQL.
    pub delete_after_commit: bool,
    /// The Checkmk host its jobs' services belong to with `output.piggyback`; `None`: the
    /// source's name.
    pub checkmk_host: Option<String>,
}

impl Source {
    /// The Checkmk host of this source's jobs: `checkmk_host`, else the source's name.
    pub fn checkmk_host(&self) -> &str {
        self.checkmk_host.as_deref().unwrap_or(&self.name)
    }
}

/// Why `name` cannot be a Checkmk host name in a piggyback header (`<<<<name>>>>`), or
/// `None` if it can: empty, or with white space, `<`, `>` or control characters.
pub fn piggyback_host_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains white space or control characters")
    } else if name.contains(['<', '>']) {
        Some("contains `<` or `>`")
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    /// A queue file on the tracker's own host.
    Local {
        queue: PathBuf,
    },
    Ssh(SshSource),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SshSource {
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Private key file; `None`: the SSH agent, then the default identity files
    /// (`~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`) as plain `ssh` and the 2016 tool used.
    pub key: Option<PathBuf>,
    /// known_hosts file; `None`: `~/.ssh/known_hosts` of the user running the tracker.
    pub known_hosts: Option<PathBuf>,
    pub host_key_policy: HostKeyPolicy,
    /// Path of the queue file on the source host.
    pub queue: String,
    pub reader: Reader,
    /// Path of the reader program on the source host; `None`: found through its `PATH`.
    pub reader_command: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    /// The environment (`instance` in queue messages), e.g. I, Q, P.
    pub env: String,
    /// Only messages from this source count; `None`: any source (as in the 2016 tool).
    pub source: Option<String>,
    pub schedule: Schedule,
    /// A run longer than this is a TIMEOUT; `None`: never.
    pub timeout: Option<Duration>,
    pub max_errors_before_alerting: u32,
    /// A run that ends sooner than this is suspicious (reported as WARNING).
    pub min_run_time: Option<Duration>,
    /// Replaces the global quiet window for this job.
    pub quiet_window: Option<QuietWindow>,
}

/// How the SSH host key of a source is checked against its known_hosts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// The host must be listed with a matching key (default).
    #[default]
    Strict,
    /// An unknown host's key is added on first contact; a changed key is refused.
    AcceptNew,
    /// No check at all. Must be written out explicitly; the tracker warns about it.
    Off,
}

impl HostKeyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
            HostKeyPolicy::Off => "off",
        }
    }
}

/// The program the tracker runs on a source host (over the SSH exec channel) to read and
/// acknowledge the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Reader {
    /// The SQLite command-line tool, usually one package away on any host (default).
    #[default]
    #[serde(rename = "sqlite3")]
    Sqlite3,
    /// `jobmon-tracker queue read/ack` installed on the source host; exact for any byte.
    #[serde(rename = "jobmon-tracker")]
    JobmonTracker,
}

impl Reader {
    pub fn as_str(self) -> &'static str {
        match self {
            Reader::Sqlite3 => "sqlite3",
            Reader::JobmonTracker => "jobmon-tracker",
        }
    }
}

/// Log verbosity of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// The 2016 tool's Python logging level names.
    pub fn from_legacy(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "critical" | "fatal" | "error" => LogLevel::Error,
            "warning" | "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "notset" | "trace" => LogLevel::Trace,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::parse_time_zone;

    #[test]
    fn zones_and_levels() {
        assert_eq!(
            parse_time_zone("Europe/Berlin").unwrap(),
            chrono_tz::Europe::Berlin
        );
        assert!(parse_time_zone("Europe/Berln").is_err());
        assert_eq!(LogLevel::from_legacy("WARNING"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::from_legacy("loud"), None);
    }
}
