//! The tracker's configuration: a TOML file (see `examples/jobmon-tracker.toml`), or the
//! 2016 job_tracker's JSON file, both turned into the same validated [`Config`].
//!
//! Every error names the file, the key as a dotted path (`jobs[3].daily.start`) and what
//! was expected; unknown keys are errors that list the allowed ones. Nothing here touches
//! the network or the database; `config check` adds file-existence warnings on top.

mod cron;
mod emit;
mod file;
mod legacy;
mod summary;
mod types;
mod validate;

pub use cron::CronExpr;
pub use cron::{place_local, Fire};
pub use emit::to_toml;
pub use summary::{spool_age, summary, warnings};
pub use types::{
    format_duration, parse_duration, HostKeyPolicy, LogLevel, QuietWindow, Reader, ServiceTemplate,
    TimeOfDay,
};

use std::fmt;
use std::path::{Path, PathBuf};
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

impl EventConsole {
    /// The message header this configuration asks for; an unset hostname becomes this
    /// machine's name.
    pub fn format(&self) -> crate::output::EcFormat {
        crate::output::EcFormat {
            hostname: self.hostname.clone().unwrap_or_else(local_hostname),
            app_name: self.app_name.clone(),
            facility: self.facility,
            service_level: self.service_level,
            host: self.host.clone(),
        }
    }
}

/// This machine's name as the kernel knows it; `-` (the syslog nil value) if unreadable.
pub fn local_hostname() -> String {
    kernel_hostname().unwrap_or_else(|| "-".into())
}

/// This machine's name as the kernel knows it, if it can be read and is not empty. The one
/// place the tracker reads it; callers choose what stands in for it.
pub fn kernel_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
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

/// Syslog facility names by number, as the Event Console shows them.
const FACILITY_NAMES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "logaudit", "logalert", "clock", "local0", "local1", "local2", "local3",
    "local4", "local5", "local6", "local7",
];

/// The accepted spellings of a facility, for error messages.
pub const FACILITY_EXPECTED: &str = "a facility name (user, daemon, local0 to local7, or kern, mail, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, logaudit, logalert, clock) or a number from 0 to 23";

/// The name of facility `code` (`local0` for 16).
pub fn facility_name(code: u8) -> Option<&'static str> {
    FACILITY_NAMES.get(usize::from(code)).copied()
}

/// The number of a facility name.
pub fn facility_code(name: &str) -> Option<u8> {
    let i = FACILITY_NAMES.iter().position(|n| *n == name)?;
    u8::try_from(i).ok()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: String,
    pub transport: Transport,
    /// Delete messages on the source once they are committed in PostgreSQL.
    pub delete_after_commit: bool,
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

#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Runs every `interval`.
    Cyclic { interval: Duration },
    /// Starts every day at `start` (local to the time zone), at the latest `start_max_delay` later.
    Daily {
        start: TimeOfDay,
        start_max_delay: Duration,
    },
    /// Starts whenever the cron expression fires, at the latest `start_max_delay` later.
    Cron {
        expression: CronExpr,
        start_max_delay: Duration,
    },
}

/// One thing wrong in a configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Dotted path of the key, e.g. `jobs[3].daily.start`; empty for the whole file.
    pub key: String,
    pub message: String,
    /// 1-based line in the file, when the parser knows it.
    pub line: Option<usize>,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            key: key.into(),
            message: message.into(),
            line: None,
        }
    }
}

/// Why a configuration file was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_problems(file, problems))]
    Invalid {
        file: PathBuf,
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            ConfigError::Read { .. } => &[],
        }
    }
}

fn render_problems(file: &Path, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| {
            let mut out = file.display().to_string();
            if let Some(line) = p.line {
                out.push_str(&format!(":{line}"));
            }
            if !p.key.is_empty() {
                out.push_str(&format!(": key `{}`", p.key));
            }
            format!("{out}: {}", p.message)
        })
        .collect();
    lines.join("\n")
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.message)
    }
}

/// Which language a configuration file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    /// The 2016 job_tracker's JSON.
    LegacyJson,
}

impl Format {
    /// JSON when the name ends in `.json`/`.cfg` (the old tool's `job_tracker.cfg`) or the
    /// text starts with `{`; TOML otherwise.
    pub fn detect(path: &Path, text: &str) -> Self {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("json") | Some("cfg") => Format::LegacyJson,
            Some("toml") => Format::Toml,
            _ if text.trim_start().starts_with('{') => Format::LegacyJson,
            _ => Format::Toml,
        }
    }
}

/// A loaded configuration and what it was written in. `notes` explain choices made when
/// converting a legacy file (what `config import` puts in its header).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub format: Format,
    pub notes: Vec<String>,
}

/// Reads and validates a configuration file in either format.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_owned(),
        source,
    })?;
    match Format::detect(path, &text) {
        Format::Toml => Ok(Loaded {
            config: parse_toml(path, &text)?,
            format: Format::Toml,
            notes: Vec::new(),
        }),
        Format::LegacyJson => {
            let (config, notes) = parse_legacy(path, &text)?;
            Ok(Loaded {
                config,
                format: Format::LegacyJson,
                notes,
            })
        }
    }
}

/// Parses TOML text; `file` is only used in error messages.
pub fn parse_toml(file: &Path, text: &str) -> Result<Config, ConfigError> {
    file::parse(text).map_err(|problems| ConfigError::Invalid {
        file: file.to_owned(),
        problems,
    })
}

/// Parses the 2016 tool's JSON; also returns notes on what the conversion decided.
pub fn parse_legacy(file: &Path, text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    legacy::parse(text).map_err(|problems| ConfigError::Invalid {
        file: file.to_owned(),
        problems,
    })
}

#[cfg(test)]
mod tests;
