//! Checks shared by both file formats: turning serde's errors into [`Problem`]s with a
//! dotted key and a plain message, and the cross-field rules of a [`Config`].

use super::{Config, Problem, Schedule, Transport};
use std::collections::HashMap;
use std::time::Duration;

/// Rewrites a serde error (with the path where it happened) into a problem that names the
/// offending key itself and says what was expected.
pub fn from_serde(path: &str, message: &str, line: Option<usize>) -> Problem {
    let path = if path == "." { "" } else { path };
    let join = |field: &str| {
        // serde_path_to_error already includes an unknown key, but not a missing one.
        if path == field || path.ends_with(&format!(".{field}")) {
            path.to_owned()
        } else if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let backticked = |s: &str| -> Option<String> {
        let start = s.find('`')? + 1;
        let len = s[start..].find('`')?;
        Some(s[start..start + len].to_owned())
    };
    let list = |s: &str| s.replace('`', "");
    let (key, text) = if let Some(rest) = message.strip_prefix("unknown field ") {
        let field = backticked(rest).unwrap_or_default();
        let allowed = match rest.split_once(", expected one of ") {
            Some((_, names)) => format!("allowed keys here: {}", list(names)),
            None => match rest.split_once(", expected ") {
                Some((_, name)) => format!("the only allowed key here is {}", list(name)),
                None => "no keys are allowed here".to_owned(),
            },
        };
        (join(&field), format!("unknown key; {allowed}"))
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).unwrap_or_default();
        (join(&field), "required key is missing".to_owned())
    } else if let Some(rest) = message.strip_prefix("duplicate field ") {
        let field = backticked(rest).unwrap_or_default();
        (
            join(&field),
            "key given twice (two spellings of the same key?)".to_owned(),
        )
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        let value = backticked(rest).unwrap_or_default();
        let allowed = rest
            .split_once(", expected one of ")
            .or_else(|| rest.split_once(", expected "))
            .map(|(_, names)| list(names))
            .unwrap_or_default();
        (
            path.to_owned(),
            format!("unknown value `{value}`; expected one of: {allowed}"),
        )
    } else if let Some((found, expected)) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
        .and_then(|rest| rest.split_once(", expected "))
    {
        let expected = match expected {
            "u8" => "a whole number from 0 to 255",
            "u16" => "a whole number from 0 to 65535",
            "u32" => "a whole number from 0 to 4294967295",
            "u64" | "i64" => "a whole number",
            "f64" => "a number",
            other => other,
        };
        (
            path.to_owned(),
            format!("expected {expected}, found {found}"),
        )
    } else {
        (path.to_owned(), message.to_owned())
    };
    Problem {
        key,
        message: text,
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

    #[test]
    fn serde_messages_become_key_and_expectation() {
        let p = from_serde(
            "jobs[0]",
            "unknown field `tiemout`, expected one of `name`, `env`",
            Some(3),
        );
        assert_eq!(p.key, "jobs[0].tiemout");
        assert_eq!(p.message, "unknown key; allowed keys here: name, env");
        let p = from_serde("sources[1]", "missing field `name`", None);
        assert_eq!(
            (p.key.as_str(), p.message.as_str()),
            ("sources[1].name", "required key is missing")
        );
        let p = from_serde(
            "jobs[3].daily.start",
            "invalid type: integer `230`, expected a time of day",
            None,
        );
        assert_eq!(p.message, "expected a time of day, found integer `230`");
        let p = from_serde(
            "sources[0].host_key_policy",
            "unknown variant `loose`, expected one of `strict`, `accept-new`, `off`",
            None,
        );
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
