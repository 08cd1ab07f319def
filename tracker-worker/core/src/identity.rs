//! Who a job is, in each place it appears: its job_log name in pg_jobmon and its Checkmk
//! service name. One function each; ingest, rules, outputs and the SQL side all use these.

use crate::de::StrVisitor;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A job and its environment joined as pg_jobmon and the 2016 tool name a tracked job,
/// spelled as configured: `LOAD_DWH__P` (the old tool's state files, the daemon's state
/// changes).
pub fn job_key(job: &str, env: &str) -> String {
    format!("{job}__{env}")
}

/// The job_log name of a tracked job: [`job_key`] upper-cased. The ingest names a job's
/// runs by it and the monitor reads them back by it (and the SQL statements get it as a
/// parameter), so a job always sees its own events.
pub fn job_log_name(job: &str, env: &str) -> String {
    job_key(job, env).to_uppercase()
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

impl Serialize for ServiceTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
