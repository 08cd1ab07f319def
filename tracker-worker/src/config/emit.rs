//! Writes a [`Config`] as TOML (what `config import` prints). The keys are those of the
//! file's serde structs ([`super::file`]), the one place they are spelled: the model is
//! turned into them and serialized, then laid out as the shipped example is (a section per
//! table, schedules and windows inline, `[output.event_console]` after the keys of
//! `[output]`). Every value is written explicitly, so reading the text back gives the same
//! configuration; the tests check that.

use super::file::{key, RawConfig, RawDatabase, RawEventConsole, RawGlobal, RawJob, RawOutput};
use super::{defaults, Config, Job};
use std::fmt::Write as _;
use toml::{Table, Value};

/// The table written as a section of its own rather than inline.
const EC_SECTION: &str = key!(RawConfig::output, RawOutput::event_console);

/// Comment lines a section starts with when a key is left unset, so that a reader sees
/// what the key would do: (section, unset key or "" for an empty section, comment).
fn hints() -> [(&'static str, &'static str, String); 4] {
    let time_zone = key!(RawGlobal::time_zone);
    let hostname = key!(RawEventConsole::hostname);
    [
        (
            key!(RawConfig::global),
            time_zone,
            format!("# {time_zone} = \"Europe/Berlin\"  # unset: the tracker host's local time"),
        ),
        (
            key!(RawConfig::database),
            "",
            "# Unset keys fall back to libpq's defaults and PG* environment variables.".into(),
        ),
        (
            key!(RawConfig::database),
            "",
            format!(
                "# {} = \"host=/var/run/postgresql dbname=postgres user=jobmon\"\n# {} = \"/etc/jobmon-tracker/pgpass\"",
                key!(RawDatabase::conninfo),
                key!(RawDatabase::password_file)
            ),
        ),
        (
            EC_SECTION,
            hostname,
            format!("# {hostname} = \"tracker.example.com\"  # unset: this machine's name"),
        ),
    ]
}

/// Renders `config` as TOML; `notes` become comment lines at the top.
pub fn to_toml(config: &Config, notes: &[String]) -> String {
    let mut out = String::new();
    if !notes.is_empty() {
        out.push_str(
            "# Converted from a job_tracker (2016) JSON configuration. Review these points:\n",
        );
        for note in notes {
            let _ = writeln!(out, "# - {note}");
        }
        out.push('\n');
    }
    // Plain values, strings and tables of them always serialize; the fallback keeps this
    // total.
    let table = match Value::try_from(RawConfig::from(config)) {
        Ok(Value::Table(t)) => t,
        _ => Table::new(),
    };
    let mut first = true;
    for (key, value) in &table {
        match value {
            Value::Table(t) => section(&mut out, &mut first, &format!("[{key}]"), key, t),
            Value::Array(items) => {
                for item in items {
                    if let Value::Table(t) = item {
                        section(&mut out, &mut first, &format!("[[{key}]]"), key, t);
                    }
                }
            }
            other => {
                let _ = writeln!(out, "{key} = {other}");
            }
        }
    }
    out
}

/// One `[[jobs]]` table as `config import` writes it, schedules inline, but without
/// `max_errors_before_alerting` when it is the default (what `config suggest` prints).
pub fn job_stanza(job: &Job) -> String {
    let mut raw = RawJob::from(job);
    if raw.max_errors_before_alerting == Some(defaults::MAX_ERRORS_BEFORE_ALERTING) {
        raw.max_errors_before_alerting = None;
    }
    let mut out = format!("[[{}]]\n", key!(RawConfig::jobs));
    if let Ok(Value::Table(t)) = Value::try_from(raw) {
        for (key, value) in &t {
            let _ = writeln!(out, "{key} = {}", inline(value));
        }
    }
    out
}

/// One section: its header, the hints for its unset keys, its keys (tables inline), then
/// its sub-sections.
fn section(out: &mut String, first: &mut bool, header: &str, path: &str, t: &Table) {
    if !std::mem::take(first) {
        out.push('\n');
    }
    out.push_str(header);
    out.push('\n');
    for (_, key, hint) in hints().iter().filter(|(p, _, _)| *p == path) {
        let unset = if key.is_empty() {
            t.is_empty()
        } else {
            !t.contains_key(*key)
        };
        if unset {
            out.push_str(hint);
            out.push('\n');
        }
    }
    let mut subs = Vec::new();
    for (key, value) in t {
        let sub_path = format!("{path}.{key}");
        match value {
            Value::Table(sub) if sub_path == EC_SECTION => {
                subs.push((sub_path, sub));
            }
            other => {
                let _ = writeln!(out, "{key} = {}", inline(other));
            }
        }
    }
    for (sub_path, sub) in subs {
        section(out, first, &format!("[{sub_path}]"), &sub_path, sub);
    }
}

/// A value on one line; a table as `{ key = value, ... }`.
fn inline(value: &Value) -> String {
    match value {
        Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;
    use std::path::Path;

    /// The hints as a reader sees them, for the keys left unset.
    #[test]
    fn unset_keys_get_their_hint() {
        let text = "[[sources]]\nname = \"s\"\nlocal_queue = \"/q\"\n\n[output.event_console]\ntarget = \"udp:m\"\noutbox = \"/o\"\n";
        let config = parse_toml(Path::new("t.toml"), text).unwrap();
        let out = to_toml(&config, &[]);
        for hint in [
            "[global]\n# time_zone = \"Europe/Berlin\"  # unset: the tracker host's local time\n",
            "[database]\n# Unset keys fall back to libpq's defaults and PG* environment variables.\n# conninfo = \"host=/var/run/postgresql dbname=postgres user=jobmon\"\n# password_file = \"/etc/jobmon-tracker/pgpass\"\n",
            "[output.event_console]\n# hostname = \"tracker.example.com\"  # unset: this machine's name\ntarget = \"udp:m:514\"\n",
        ] {
            assert!(out.contains(hint), "{hint:?} missing in:\n{out}");
        }
        assert_eq!(parse_toml(Path::new("t.toml"), &out).unwrap(), config);
    }
}
