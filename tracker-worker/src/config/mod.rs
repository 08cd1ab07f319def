//! The tracker's configuration: a TOML file (see `examples/jobmon-tracker.toml`), or the
//! 2016 job_tracker's JSON file, both turned into the same validated [`Config`].
//!
//! Every error names the file, the key as a dotted path (`jobs[3].daily.start`) and what
//! was expected; unknown keys are errors that list the allowed ones. The key comes from
//! serde_path_to_error's path, what was expected from the error serde raised, recorded as
//! data by [`capture`] (the allowed keys as serde lists them, the value found, ...), and the
//! line from the format's own error (toml's span, serde_json's line). Nothing here touches
//! the network or the database; `config check` adds file-existence warnings on top.

mod capture;
mod emit;
mod file;
mod legacy;
pub mod suggest;
mod summary;
mod types;
mod validate;
mod web;

pub use emit::to_toml;
pub use summary::{schedule_words, spool_age, summary, warnings};
pub use tracker_core::identity::ServiceTemplate;
pub use tracker_core::model::{
    defaults, Config, Database, EcTarget, EventConsole, Global, HostKeyPolicy, Job, LogLevel,
    Output, Reader, Source, SshSource, Transport, Web, WebAuth, WebTls, EC_TARGET_EXPECTED,
};
pub use tracker_core::schedule::{CronExpr, QuietWindow, Schedule, TimeOfDay};
pub use types::{format_duration, parse_duration};

use std::fmt;
use std::path::{Path, PathBuf};

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
