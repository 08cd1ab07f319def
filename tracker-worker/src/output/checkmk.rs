//! Checkmk local checks: one line per job, `<0-3> "<service>" <metrics|-> <text>`, written
//! as per-job state files (the 2016 tool's `<JOB>__<ENV>.state`, which its local check
//! cats), as a spool file with a `<<<local:sep(0)>>>` header, and printed by `check`. With
//! piggyback, each job's line goes into a `<<<<host>>>>` ... `<<<<>>>>` section of the host
//! it runs on, so Checkmk files it there whichever agent delivers it.

use super::{push_number, write_atomic, write_replace, OutputError, Report};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use tracker_core::identity::job_key;
use tracker_core::rules::{Evaluation, Metric};

/// First line of a spool file: a local-check section whose lines are not split at spaces.
pub const SPOOL_HEADER: &str = "<<<local:sep(0)>>>";

/// A service name that cannot break the line: Checkmk reads it up to the next double
/// quote, so `"` becomes `'`; control characters (newlines) become `_`.
pub fn service_name(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => '_',
            c => c,
        })
        .collect()
}

fn push_bound(out: &mut String, v: Option<f64>) {
    out.push(';');
    if let Some(v) = v {
        push_number(out, v);
    }
}

/// Checkmk's metrics field: `name=value;warn;crit` joined by `|`, or `-` without metrics.
pub fn metrics_field(metrics: &[Metric]) -> String {
    let mut out = String::new();
    for m in metrics {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(m.name);
        out.push('=');
        push_number(&mut out, m.value);
        if m.warn.is_some() || m.crit.is_some() {
            push_bound(&mut out, m.warn);
            push_bound(&mut out, m.crit);
        }
    }
    if out.is_empty() {
        out.push('-');
    }
    out
}

/// One local-check line, without the newline. The text is one line already; any control
/// character left is replaced, so a line is always one line.
pub fn local_check_line(service: &str, eval: &Evaluation) -> String {
    let mut line = String::with_capacity(64 + service.len() + eval.text.len());
    line.push(char::from(b'0' + eval.state.code()));
    line.push_str(" \"");
    line.push_str(&service_name(service));
    line.push_str("\" ");
    line.push_str(&metrics_field(&eval.metrics));
    line.push(' ');
    line.extend(
        eval.text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    line
}

/// The state file of a job: `<job>__<env>.state` with name and environment spelled as in
/// the configuration, exactly as the 2016 tool named them (so its files are replaced, not
/// duplicated). `/`, NUL and a leading dot, which would escape the directory or hide the
/// file from `cat *.state`, become `_`.
pub fn state_file_name(job: &str, env: &str) -> String {
    let mut name: String = job_key(job, env)
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if name.starts_with('.') {
        name.replace_range(..1, "_");
    }
    name.push_str(".state");
    name
}

/// End of a piggyback section: what follows belongs to the agent's own host again.
pub const PIGGYBACK_END: &str = "<<<<>>>>";

/// The spool file's contents: the header, then one line per job; with `hosts` (one per
/// report) each host's lines in a piggyback section of their own instead.
pub fn spool_text(reports: &[Report], hosts: Option<&[String]>) -> String {
    match hosts {
        Some(hosts) => piggyback_text(reports, hosts, false),
        None => {
            let mut out = String::from(SPOOL_HEADER);
            out.push('\n');
            out.push_str(&check_text(reports));
            out
        }
    }
}

/// The lines of `reports` grouped by host (`hosts[i]` is report i's), hosts in the order of
/// their first job, each as `<<<<host>>>>`, the local section's header, its lines and
/// `<<<<>>>>`. `reopen_local` adds the local header once more at the end, for output that
/// the agent prints inside its own local section (a local check, the state files), so the
/// local checks after it stay on the agent's host.
pub fn piggyback_text(reports: &[Report], hosts: &[String], reopen_local: bool) -> String {
    let mut order: Vec<&str> = Vec::new();
    for h in hosts {
        if !order.contains(&h.as_str()) {
            order.push(h);
        }
    }
    let mut out = String::new();
    for host in order {
        let mine: Vec<Report> = reports
            .iter()
            .zip(hosts)
            .filter(|(_, h)| h.as_str() == host)
            .map(|(r, _)| *r)
            .collect();
        out.push_str("<<<<");
        out.push_str(host);
        out.push_str(">>>>\n");
        out.push_str(SPOOL_HEADER);
        out.push('\n');
        out.push_str(&check_text(&mine));
        out.push_str(PIGGYBACK_END);
        out.push('\n');
    }
    if reopen_local && !out.is_empty() {
        out.push_str(SPOOL_HEADER);
        out.push('\n');
    }
    out
}

/// What `jobmon-tracker check` prints: one local-check line per job, in configuration
/// order. Without a header, so the command can itself serve as a Checkmk local check.
pub fn check_text(reports: &[Report]) -> String {
    let mut out = String::new();
    for (job, eval) in reports {
        out.push_str(&local_check_line(&job.service, eval));
        out.push('\n');
    }
    out
}

/// Writes the spool file atomically. Its name should start with its age limit in seconds
/// (`600_jobmon.txt`), so Checkmk drops the services if the tracker stops writing.
pub fn write_spool(
    path: &Path,
    reports: &[Report],
    hosts: Option<&[String]>,
) -> Result<(), OutputError> {
    write_atomic(path, spool_text(reports, hosts).as_bytes())
}

/// Writes one state file per job into `dir`, each atomically (not fsync'd: they are
/// rewritten on every poll), and removes the `*.state`
/// files of jobs no longer configured (else `cat *.state` would report them forever).
/// Every file is attempted; the first failure is returned. Returns the removed files.
/// With `hosts` (one per report) each file holds its line in a piggyback section of its
/// host, followed by the local header again for the files `cat` prints after it.
pub fn write_state_files(
    dir: &Path,
    reports: &[Report],
    hosts: Option<&[String]>,
) -> Result<Vec<PathBuf>, OutputError> {
    let mut first_error = None;
    let mut keep = HashSet::with_capacity(reports.len());
    for (i, report) in reports.iter().enumerate() {
        let (job, eval) = report;
        let name = state_file_name(&job.name, &job.env);
        let line = match hosts.and_then(|h| h.get(i)) {
            Some(host) => piggyback_text(&[*report], std::slice::from_ref(host), true),
            None => {
                let mut line = local_check_line(&job.service, eval);
                line.push('\n');
                line
            }
        };
        if let Err(e) = write_replace(&dir.join(&name), line.as_bytes()) {
            first_error.get_or_insert(e);
        }
        keep.insert(name);
    }
    let mut removed = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let stale = name.ends_with(".state")
                    && !keep.contains(&name)
                    && entry.file_type().is_ok_and(|t| t.is_file());
                if !stale {
                    continue;
                }
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => removed.push(path),
                    Err(source) => {
                        first_error.get_or_insert(OutputError {
                            path,
                            action: "remove the state file of a job no longer configured",
                            source,
                        });
                    }
                }
            }
        }
        Err(source) => {
            first_error.get_or_insert(OutputError {
                path: dir.to_owned(),
                action: "list the state directory",
                source,
            });
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}
