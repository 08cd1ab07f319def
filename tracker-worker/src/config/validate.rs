//! Checks shared by both file formats: turning what serde raised (a [`Kind`], recorded by
//! [`super::capture`]) into [`Problem`]s with a dotted key and a plain message, and the
//! cross-field rules of a [`Config`].

use super::capture::{Found, Kind};
use super::{Config, Problem, Schedule, Transport};
use std::collections::HashMap;
use std::time::Duration;

/// Turns what serde raised at `path` (serde_path_to_error's) into a problem that names the
/// offending key itself and says what was expected; `found` words a value as the format
/// does. For a key raised by its table (missing, given twice) the path ends at the table.
pub fn from_serde(
    path: &str,
    kind: &Kind,
    found: fn(&Found) -> String,
    line: Option<usize>,
) -> Problem {
    let path = if path == "." { "" } else { path };
    let join = |field: &str| {
        // serde_path_to_error includes a key it read (an unknown one), not a missing one.
        if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let (key, text) = match kind {
        Kind::UnknownField { field, expected } => {
            let allowed = match &expected[..] {
                [] => "no keys are allowed here".to_owned(),
                [one] => format!("the only allowed key here is {one}"),
                names => format!("allowed keys here: {}", names.join(", ")),
            };
            (join(field), format!("unknown key; {allowed}"))
        }
        Kind::MissingField(field) => (join(field), "required key is missing".to_owned()),
        Kind::DuplicateField(field) => (
            join(field),
            "key given twice (two spellings of the same key?)".to_owned(),
        ),
        Kind::UnknownVariant { variant, expected } => {
            let allowed = match &expected[..] {
                [a, b] => format!("{a} or {b}"),
                names => names.join(", "),
            };
            (
                path.to_owned(),
                format!("unknown value `{variant}`; expected one of: {allowed}"),
            )
        }
        Kind::InvalidType {
            found: value,
            expected,
        }
        | Kind::InvalidValue {
            found: value,
            expected,
        } => {
            let expected = match expected.as_str() {
                "u8" => "a whole number from 0 to 255",
                "u16" => "a whole number from 0 to 65535",
                "u32" => "a whole number from 0 to 4294967295",
                "u64" | "i64" => "a whole number",
                "f64" => "a number",
                other => other,
            };
            (
                path.to_owned(),
                format!("expected {expected}, found {}", found(value)),
            )
        }
        Kind::InvalidLength { .. } | Kind::Custom(_) => (path.to_owned(), kind.to_string()),
    };
    Problem {
        key,
        message: text,
        line,
    }
}

/// A problem the format itself found at `path` (a syntax error, an overflowing number),
/// in its own words.
pub fn from_format(path: &str, message: String, line: Option<usize>) -> Problem {
    Problem {
        key: if path == "." { "" } else { path }.to_owned(),
        message,
        line,
    }
}

/// How the keys checked here are spelled in the file being read (each format defines its
/// own: `file::TOML_KEYS`, `legacy::LEGACY_KEYS`).
pub struct KeyNames {
    pub keywords: [&'static str; 3],
    pub stale_after: &'static str,
    /// Where the service names come from (the template, or the prefix in the legacy file).
    pub service_name: &'static str,
    /// The key of a field of source `i`.
    pub source_field: fn(usize, SourceKey) -> String,
    /// The key of a field of job `i`.
    pub job_field: fn(usize, JobKey) -> String,
}

/// The fields of a source the checks here report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKey {
    Name,
    Queue,
    CheckmkHost,
}

/// The fields of a job the checks here report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKey {
    Name,
    Env,
    Source,
    CyclicInterval,
    Timeout,
    MinRunTime,
    MaxErrorsBeforeAlerting,
}

fn positive(problems: &mut Vec<Problem>, key: String, d: Duration) {
    if d.is_zero() {
        problems.push(Problem::new(key, "expected a duration above zero"));
    }
}

/// Cross-field rules of a model built from either file format.
pub fn check_model(config: &Config, keys: &KeyNames) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_global(config, keys, &mut problems);
    let sources = check_sources(config, keys, &mut problems);
    check_jobs(config, keys, &sources, &mut problems);
    problems
}

/// The event keywords (non-empty, distinct) and the staleness bound.
fn check_global(config: &Config, keys: &KeyNames, problems: &mut Vec<Problem>) {
    let g = &config.global;
    let keywords = [&g.start_keyword, &g.error_keyword, &g.end_keyword];
    for (i, word) in keywords.iter().enumerate() {
        if word.trim().is_empty() {
            problems.push(Problem::new(
                keys.keywords[i],
                "expected a non-empty keyword",
            ));
        } else if keywords[..i].contains(word) {
            problems.push(Problem::new(
                keys.keywords[i],
                format!("keyword `{word}` is already used by another event keyword"),
            ));
        }
    }

    if g.stale_after <= g.poll_interval {
        problems.push(Problem::new(
            keys.stale_after,
            format!(
                "expected a duration longer than poll_interval ({}), or every job would turn UNKNOWN between two polls",
                super::format_duration(g.poll_interval)
            ),
        ));
    }
}

/// Source names (non-empty, unique) and SSH queue paths; returns each name's entry.
fn check_sources<'c>(
    config: &'c Config,
    keys: &KeyNames,
    problems: &mut Vec<Problem>,
) -> HashMap<&'c str, usize> {
    let mut sources: HashMap<&str, usize> = HashMap::new();
    for (i, source) in config.sources.iter().enumerate() {
        let key = (keys.source_field)(i, SourceKey::Name);
        if source.name.trim().is_empty() {
            problems.push(Problem::new(key, "expected a non-empty name"));
        } else if let Some(first) = sources.insert(&source.name, i) {
            problems.push(Problem::new(
                key,
                format!(
                    "source name `{}` is already used by entry {first}",
                    source.name
                ),
            ));
        }
        check_piggyback_host(config, source, i, keys, problems);
        if let Transport::Ssh(ssh) = &source.transport {
            if ssh.queue.contains(['\0', '\n']) {
                problems.push(Problem::new(
                    (keys.source_field)(i, SourceKey::Queue),
                    "expected a path without NUL or newline characters",
                ));
            }
        }
    }
    sources
}

/// The Checkmk host of a source's jobs must fit into a piggyback header: an explicit
/// `checkmk_host` always, the source's name when `output.piggyback` uses it.
fn check_piggyback_host(
    config: &Config,
    source: &crate::config::Source,
    i: usize,
    keys: &KeyNames,
    problems: &mut Vec<Problem>,
) {
    let (key, what, fix) = match &source.checkmk_host {
        Some(_) => (SourceKey::CheckmkHost, "checkmk_host", ""),
        None if config.output.piggyback => (
            SourceKey::Name,
            "the source name",
            "; set `checkmk_host` to the host's name in Checkmk",
        ),
        None => return,
    };
    let host = source.checkmk_host();
    if let Some(why) = tracker_core::model::piggyback_host_problem(host) {
        problems.push(Problem::new(
            (keys.source_field)(i, key),
            format!("{what} `{host}` cannot be a Checkmk piggyback host name: it {why}{fix}"),
        ));
    }
}

/// Per job: names, uniqueness of job and service, its source, its durations and limits.
fn check_jobs(
    config: &Config,
    keys: &KeyNames,
    sources: &HashMap<&str, usize>,
    problems: &mut Vec<Problem>,
) {
    let mut services: HashMap<String, usize> = HashMap::new();
    let mut jobs: HashMap<(String, String), usize> = HashMap::new();
    for (i, job) in config.jobs.iter().enumerate() {
        let key = |field: JobKey| (keys.job_field)(i, field);
        for (field, value) in [(JobKey::Name, &job.name), (JobKey::Env, &job.env)] {
            if value.trim().is_empty() {
                problems.push(Problem::new(key(field), "expected a non-empty string"));
            }
        }
        // pg_jobmon stores the job as upper(JOB__ENV), so case alone does not separate jobs.
        let id = (job.name.to_uppercase(), job.env.to_uppercase());
        if let Some(first) = jobs.insert(id, i) {
            problems.push(Problem::new(
                key(JobKey::Name),
                format!(
                    "job `{}` in env `{}` is already defined by jobs[{first}]",
                    job.name, job.env
                ),
            ));
        }
        let service = config.output.service_of(&job.name, &job.env);
        if let Some(first) = services.insert(service.clone(), i) {
            problems.push(Problem::new(
                keys.service_name,
                format!(
                    "jobs[{first}] and jobs[{i}] get the same Checkmk service name `{service}` from `{}`; add {{env}} or rename a job",
                    config.output.service_name
                ),
            ));
        }
        if let Some(name) = &job.source {
            if !sources.contains_key(name.as_str()) {
                let mut known: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
                known.sort_unstable();
                problems.push(Problem::new(
                    key(JobKey::Source),
                    format!(
                        "no source named `{name}`; defined sources: {}",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        if let Schedule::Cyclic { interval } = job.schedule {
            positive(problems, key(JobKey::CyclicInterval), interval);
        }
        if let Some(timeout) = job.timeout {
            positive(problems, key(JobKey::Timeout), timeout);
            if let Some(min) = job.min_run_time {
                if min >= timeout && !timeout.is_zero() {
                    problems.push(Problem::new(
                        key(JobKey::MinRunTime),
                        "expected a minimum run time shorter than the timeout",
                    ));
                }
            }
        }
        if job.max_errors_before_alerting == 0 {
            problems.push(Problem::new(
                key(JobKey::MaxErrorsBeforeAlerting),
                "expected 1 or more",
            ));
        }
    }
}

/// Finds a password in a libpq connection string (`password=` or `user:secret@` in a URI).
pub fn conninfo_has_password(conninfo: &str) -> bool {
    let s = conninfo.trim();
    if let Some(rest) = s
        .strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
    {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let userinfo = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
        return userinfo.contains(':') || rest.contains("password=");
    }
    s.split_whitespace().any(|kv| {
        kv.split('=')
            .next()
            .is_some_and(|k| k.trim().eq_ignore_ascii_case("password"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The errors serde raises in the cases the old message parser was tested with, as the
    /// wrapper records them (each checked to be the error whose serde text was that case's
    /// input), give the same key and expectation. An unknown key among two allowed ones
    /// lists both like any other list (the old parser, reading serde's "`a` or `b`", said
    /// "the only allowed key here is a or b").
    #[test]
    fn serde_messages_become_key_and_expectation() {
        let found = |f: &Found| f.unexpected().to_string();
        let unknown = Kind::UnknownField {
            field: "tiemout".into(),
            expected: &["name", "env"],
        };
        let p = from_serde("jobs[0]", &unknown, found, Some(3));
        assert_eq!(p.key, "jobs[0].tiemout");
        assert_eq!(p.message, "unknown key; allowed keys here: name, env");
        let missing = Kind::MissingField("name");
        assert_eq!(missing.to_string(), "missing field `name`");
        let p = from_serde("sources[1]", &missing, found, None);
        assert_eq!(
            (p.key.as_str(), p.message.as_str()),
            ("sources[1].name", "required key is missing")
        );
        let wrong_type = Kind::InvalidType {
            found: Found::Signed(230),
            expected: "a time of day".into(),
        };
        assert_eq!(
            wrong_type.to_string(),
            "invalid type: integer `230`, expected a time of day"
        );
        let p = from_serde("jobs[3].daily.start", &wrong_type, found, None);
        assert_eq!(p.message, "expected a time of day, found integer `230`");
        let variant = Kind::UnknownVariant {
            variant: "loose".into(),
            expected: &["strict", "accept-new", "off"],
        };
        assert_eq!(
            variant.to_string(),
            "unknown variant `loose`, expected one of `strict`, `accept-new`, `off`"
        );
        let p = from_serde("sources[0].host_key_policy", &variant, found, None);
        assert_eq!(
            p.message,
            "unknown value `loose`; expected one of: strict, accept-new, off"
        );
    }

    /// The same cases read from a file, where a file can give them: the key, and the
    /// expectation with the real lists and descriptions.
    #[test]
    fn serde_errors_in_a_file_become_key_and_expectation() {
        let problem = |text: &str| {
            let err = crate::config::parse_toml(std::path::Path::new("t.toml"), text)
                .expect_err("config must be rejected");
            err.problems()[0].clone()
        };
        let job = "[[jobs]]\nname = \"J\"\nenv = \"P\"\n";
        let p = problem(&format!("{job}tiemout = \"5m\"\n"));
        assert_eq!(p.key, "jobs[0].tiemout");
        assert_eq!(p.line, Some(4));
        assert_eq!(
            p.message,
            "unknown key; allowed keys here: name, env, source, cyclic, daily, cron, timeout, max_errors_before_alerting, min_run_time, quiet_window"
        );
        let p = problem(
            "[[sources]]\nname = \"a\"\nlocal_queue = \"/q\"\n[[sources]]\nlocal_queue = \"/q\"\n",
        );
        assert_eq!(
            (p.key.as_str(), p.message.as_str(), p.line),
            ("sources[1].name", "required key is missing", Some(4))
        );
        let p = problem(&format!(
            "{job}{job}{job}{job}daily = {{ start = 230, start_max_delay = \"5m\" }}\n"
        ));
        assert_eq!(p.key, "jobs[3].daily.start");
        assert_eq!(
            p.message,
            "expected a time of day \"HH:MM\" (00:00 to 23:59), found integer `230`"
        );
        let p = problem("[[sources]]\nname = \"h\"\naddress = \"h\"\nuser = \"u\"\nqueue = \"/q\"\nhost_key_policy = \"loose\"\n");
        assert_eq!(p.key, "sources[0].host_key_policy");
        assert_eq!(
            p.message,
            "unknown value `loose`; expected one of: strict, accept-new, off"
        );
    }

    #[test]
    fn passwords_in_conninfo_are_found() {
        assert!(conninfo_has_password("host=db password=secret"));
        assert!(conninfo_has_password("host=db PASSWORD = secret"));
        assert!(conninfo_has_password(
            "postgresql://jobmon:secret@db/jobmon"
        ));
        assert!(conninfo_has_password("postgres://db/jobmon?password=x"));
        assert!(!conninfo_has_password(
            "host=db user=jobmon passfile=/etc/pgpass"
        ));
        assert!(!conninfo_has_password("postgresql://jobmon@db:5432/jobmon"));
    }
}
