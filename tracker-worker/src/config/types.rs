//! The value types of the configuration (durations, times of day, windows, zones, enums),
//! each with the parser and printer that the TOML file, the legacy JSON and the summary
//! share, so that every spelling accepted is also what `config import` writes back.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// What a duration value may look like, for error messages.
pub const DURATION_EXPECTED: &str =
    "a duration such as \"90s\", \"15m\", \"1h30m\" or \"01:30:00\" (HH:MM:SS)";

/// Parses `"15m"`, `"1h 30m"`, `"1h30m"` (humantime) or `"HH:MM:SS"` (hours may exceed 24).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            return Err(format!("`{s}` is not HH:MM:SS"));
        }
        return clock_duration(&parts).ok_or_else(|| format!("`{s}` is not HH:MM:SS"));
    }
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration ({e})"))
}

/// Parses the 2016 tool's `"hh:mm:ss"` or `"hh:mm"` durations.
pub fn parse_legacy_duration(s: &str) -> Result<Duration, String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(format!("`{s}` is not hh:mm:ss or hh:mm"));
    }
    clock_duration(&parts).ok_or_else(|| format!("`{s}` is not hh:mm:ss or hh:mm"))
}

/// `[h, m]` or `[h, m, s]`, minutes and seconds below 60.
fn clock_duration(parts: &[&str]) -> Option<Duration> {
    let num = |p: &str| -> Option<u64> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let h = num(parts.first()?)?;
    let m = num(parts.get(1)?)?;
    let s = match parts.get(2) {
        Some(p) => num(p)?,
        None => 0,
    };
    if m > 59 || s > 59 {
        return None;
    }
    h.checked_mul(3600)?
        .checked_add(m * 60 + s)
        .map(Duration::from_secs)
}

/// Prints a duration compactly in a form [`parse_duration`] reads back: `"1h30m"`, `"45s"`,
/// `"2m500ms"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let parts = [
        (secs / 3600, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
        (u64::from(d.subsec_nanos() % 1_000_000), "ns"),
    ];
    let out: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if out.is_empty() {
        "0s".into()
    } else {
        out
    }
}

/// Deserializes a duration string (serde `deserialize_with`).
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: DURATION_EXPECTED,
        parse: parse_duration,
    })
}

/// Deserializes an optional duration string.
pub fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// A visitor that accepts only strings and reports anything else with `expected`.
pub struct StrVisitor<T> {
    pub expected: &'static str,
    pub parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(|msg| E::custom(format!("{msg}; expected {}", self.expected)))
    }
}

/// A time of day, minute precision (`"02:30"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

pub const TIME_OF_DAY_EXPECTED: &str = "a time of day \"HH:MM\" (00:00 to 23:59)";

impl TimeOfDay {
    /// `"H:MM"`/`"HH:MM"`; a `":00"` seconds part is tolerated (the 2016 tool ignored it).
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not HH:MM");
        let parts: Vec<&str> = s.trim().split(':').collect();
        let num = |p: &str| -> Option<u8> {
            (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let (h, m) = match parts.as_slice() {
            [h, m] | [h, m, "00"] => (num(h).ok_or_else(bad)?, num(m).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        if h > 23 || m > 59 || parts[1].len() != 2 {
            return Err(bad());
        }
        Ok(TimeOfDay { hour: h, minute: m })
    }

    pub fn minutes_since_midnight(self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor {
            expected: TIME_OF_DAY_EXPECTED,
            parse: TimeOfDay::parse,
        })
    }
}

/// A daily window in which cyclic jobs do not alarm: `from` inclusive, `until` exclusive,
/// wrapping midnight when `from` is later than `until` (22:00–04:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietWindow {
    pub from: TimeOfDay,
    pub until: TimeOfDay,
}

impl QuietWindow {
    pub fn wraps_midnight(&self) -> bool {
        self.from > self.until
    }

    /// Whether a local time of day (minutes since midnight) lies in the window.
    pub fn contains(&self, minute_of_day: u16) -> bool {
        let (from, until) = (
            self.from.minutes_since_midnight(),
            self.until.minutes_since_midnight(),
        );
        if from <= until {
            from <= minute_of_day && minute_of_day < until
        } else {
            minute_of_day >= from || minute_of_day < until
        }
    }
}

impl fmt::Display for QuietWindow {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}-{}", self.from, self.until)?;
        if self.wraps_midnight() {
            f.write_str(" (wraps midnight)")?;
        }
        Ok(())
    }
}

/// The Checkmk service name of each job, as a pattern. Placeholders: `{prefix}`
/// (`output.service_prefix`), `{job}` and `{env}` as configured, `{job_lower}`,
/// `{env_lower}`, `{job_upper}`, `{env_upper}`; `{{` and `}}` stand for braces. It must
/// name the job (`{job}`, `{job_lower}` or `{job_upper}`), or every job would share one
/// service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTemplate {
    text: String,
    parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    Text(String),
    Prefix,
    Job,
    Env,
    JobLower,
    EnvLower,
    JobUpper,
    EnvUpper,
}

pub const SERVICE_TEMPLATE_EXPECTED: &str =
    "a service name pattern such as \"{prefix}{job}_{env}\" (placeholders {prefix}, {job}, {env}, {job_lower}, {env_lower}, {job_upper}, {env_upper})";

impl ServiceTemplate {
    /// The default: prefix, job and environment as configured (`odi_job_LOAD_DWH_P`).
    pub const DEFAULT: &'static str = "{prefix}{job}_{env}";
    /// The 2016 tool's service names: prefix and the job name in lower case, no environment.
    pub const LEGACY: &'static str = "{prefix}{job_lower}";

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
                continue;
            }
            if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
                continue;
            }
            if tail.starts_with('}') {
                return Err(format!("`{text}`: a lone `}}` (write `}}}}` for a brace)"));
            }
            let Some(end) = tail.find('}') else {
                return Err(format!("`{text}`: `{{` without a closing `}}`"));
            };
            let part = match &tail[1..end] {
                "prefix" => TemplatePart::Prefix,
                "job" => TemplatePart::Job,
                "env" => TemplatePart::Env,
                "job_lower" => TemplatePart::JobLower,
                "env_lower" => TemplatePart::EnvLower,
                "job_upper" => TemplatePart::JobUpper,
                "env_upper" => TemplatePart::EnvUpper,
                other => return Err(format!("`{text}`: unknown placeholder `{{{other}}}`")),
            };
            if !literal.is_empty() {
                parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &tail[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(literal));
        }
        let names_job = parts.iter().any(|p| {
            matches!(
                p,
                TemplatePart::Job | TemplatePart::JobLower | TemplatePart::JobUpper
            )
        });
        if !names_job {
            return Err(format!(
                "`{text}` does not contain the job name ({{job}}, {{job_lower}} or {{job_upper}}), so all jobs would share one service"
            ));
        }
        Ok(ServiceTemplate {
            text: text.to_owned(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The service name of one job; the caller makes it safe for its output format.
    pub fn render(&self, prefix: &str, job: &str, env: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(t) => out.push_str(t),
                TemplatePart::Prefix => out.push_str(prefix),
                TemplatePart::Job => out.push_str(job),
                TemplatePart::Env => out.push_str(env),
                TemplatePart::JobLower => out.push_str(&job.to_lowercase()),
                TemplatePart::EnvLower => out.push_str(&env.to_lowercase()),
                TemplatePart::JobUpper => out.push_str(&job.to_uppercase()),
                TemplatePart::EnvUpper => out.push_str(&env.to_uppercase()),
            }
        }
        out
    }
}

impl Default for ServiceTemplate {
    fn default() -> Self {
        ServiceTemplate::parse(Self::DEFAULT).unwrap_or_else(|_| unreachable!())
    }
}

impl fmt::Display for ServiceTemplate {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for ServiceTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor {
            expected: SERVICE_TEMPLATE_EXPECTED,
            parse: ServiceTemplate::parse,
        })
    }
}

/// An IANA time zone name, checked against the tz database compiled in (chrono-tz).
pub fn parse_time_zone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("unknown time zone `{s}`"))
}

pub const TIME_ZONE_EXPECTED: &str = "an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"";

pub fn de_opt_time_zone<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono_tz::Tz>, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: TIME_ZONE_EXPECTED,
        parse: parse_time_zone,
    })
    .map(Some)
}

/// How the SSH host key of a source is checked against its known_hosts file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
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

    #[test]
    fn durations_in_both_notations_and_back() {
        let cases = [
            ("15m", 900),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("01:30:00", 5400),
            ("36:00:00", 129_600),
            ("0s", 0),
        ];
        for (text, secs) in cases {
            let d = parse_duration(text).unwrap();
            assert_eq!(d, Duration::from_secs(secs), "{text}");
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2s500ms");
        for bad in ["", "15", "1:30", "01:60:00", "fast", "-5m", "1:2:3:4"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_durations_take_hh_mm_too() {
        assert_eq!(
            parse_legacy_duration("00:15").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            parse_legacy_duration("01:00:30").unwrap(),
            Duration::from_secs(3630)
        );
        assert!(parse_legacy_duration("15m").is_err());
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("2:30").unwrap().to_string(), "02:30");
        assert_eq!(TimeOfDay::parse("04:00:00").unwrap().to_string(), "04:00");
        for bad in ["24:00", "12:60", "12:5", "noon", "12:00:30", ""] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quiet_windows_with_and_without_midnight() {
        let w = |a, b| QuietWindow {
            from: TimeOfDay::parse(a).unwrap(),
            until: TimeOfDay::parse(b).unwrap(),
        };
        let night = w("22:00", "04:00");
        assert!(night.wraps_midnight());
        assert!(night.contains(23 * 60) && night.contains(0) && night.contains(3 * 60 + 59));
        assert!(!night.contains(4 * 60) && !night.contains(21 * 60 + 59));
        let early = w("00:00", "04:00");
        assert!(!early.wraps_midnight());
        assert!(early.contains(0) && !early.contains(4 * 60) && !early.contains(23 * 60));
    }

    #[test]
    fn service_templates() {
        let t = ServiceTemplate::default();
        assert_eq!(t.render("odi_job_", "LOAD_DWH", "P"), "odi_job_LOAD_DWH_P");
        let legacy = ServiceTemplate::parse(ServiceTemplate::LEGACY).unwrap();
        assert_eq!(
            legacy.render("odi_job_", "LOAD_DWH", "P"),
            "odi_job_load_dwh"
        );
        let t = ServiceTemplate::parse("{{{env_upper}}} {job_upper}/{env_lower}}}").unwrap();
        assert_eq!(t.render("", "Load", "Qa"), "{QA} LOAD/qa}");
        for (bad, needle) in [
            ("{prefix}{env}", "does not contain the job name"),
            ("{job}{nme}", "unknown placeholder `{nme}`"),
            ("{job", "without a closing"),
            ("{job}}", "a lone `}`"),
        ] {
            let err = ServiceTemplate::parse(bad).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

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
