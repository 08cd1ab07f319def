//! Writes a [`Config`] as TOML (what `config import` prints). Every value is written
//! explicitly, so reading the text back gives the same configuration; the tests check that.

use super::types::format_duration;
use super::{
    facility_name, Config, Database, EventConsole, Job, QuietWindow, Schedule, Source, Transport,
};
use std::fmt::Write as _;
use std::path::Path;

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

fn duration(d: std::time::Duration) -> String {
    quote(&format_duration(d))
}

fn window(w: &QuietWindow) -> String {
    format!("{{ from = \"{}\", until = \"{}\" }}", w.from, w.until)
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
    let g = &config.global;
    out.push_str("[global]\n");
    let _ = writeln!(out, "start_keyword = {}", quote(&g.start_keyword));
    let _ = writeln!(out, "error_keyword = {}", quote(&g.error_keyword));
    let _ = writeln!(out, "end_keyword = {}", quote(&g.end_keyword));
    match g.time_zone {
        Some(tz) => {
            let _ = writeln!(out, "time_zone = {}", quote(tz.name()));
        }
        None => out
            .push_str("# time_zone = \"Europe/Berlin\"  # unset: the tracker host's local time\n"),
    }
    let _ = writeln!(out, "poll_interval = {}", duration(g.poll_interval));
    let _ = writeln!(
        out,
        "message_grace_period = {}",
        duration(g.message_grace_period)
    );
    if let Some(w) = &g.quiet_window {
        let _ = writeln!(out, "quiet_window = {}", window(w));
    }
    let _ = writeln!(out, "source_timeout = {}", duration(g.source_timeout));
    let _ = writeln!(out, "stale_after = {}", duration(g.stale_after));
    let _ = writeln!(out, "read_batch_size = {}", g.read_batch_size);
    let _ = writeln!(out, "log_level = {}", quote(g.log_level.as_str()));
    if let Some(f) = &g.log_file {
        let _ = writeln!(out, "log_file = {}", path(f));
    }

    out.push_str("\n[database]\n");
    database(&mut out, &config.database);

    let o = &config.output;
    out.push_str("\n[output]\n");
    if let Some(d) = &o.state_dir {
        let _ = writeln!(out, "state_dir = {}", path(d));
    }
    if let Some(f) = &o.spool_file {
        let _ = writeln!(out, "spool_file = {}", path(f));
    }
    let _ = writeln!(out, "service_prefix = {}", quote(&o.service_prefix));
    let _ = writeln!(out, "service_name = {}", quote(o.service_name.as_str()));
    if let Some(f) = &o.prometheus_file {
        let _ = writeln!(out, "prometheus_file = {}", path(f));
    }
    if let Some(ec) = &o.event_console {
        event_console(&mut out, ec);
    }

    for s in &config.sources {
        source(&mut out, s);
    }
    for j in &config.jobs {
        job(&mut out, j);
    }
    out
}

fn database(out: &mut String, d: &Database) {
    let empty = d == &Database::default();
    if empty {
        out.push_str("# Unset keys fall back to libpq's defaults and PG* environment variables.\n");
        out.push_str("# conninfo = \"host=/var/run/postgresql dbname=postgres user=jobmon\"\n");
        out.push_str("# password_file = \"/etc/jobmon-tracker/pgpass\"\n");
    }
    for (key, value) in [
        ("conninfo", &d.conninfo),
        ("host", &d.host),
        ("user", &d.user),
        ("dbname", &d.dbname),
    ] {
        if let Some(v) = value {
            let _ = writeln!(out, "{key} = {}", quote(v));
        }
    }
    if let Some(p) = d.port {
        let _ = writeln!(out, "port = {p}");
    }
    if let Some(f) = &d.password_file {
        let _ = writeln!(out, "password_file = {}", path(f));
    }
}

/// A sub-table of `[output]`: written last in that table, so the keys above stay in it.
fn event_console(out: &mut String, ec: &EventConsole) {
    out.push_str("\n[output.event_console]\n");
    let _ = writeln!(out, "target = {}", quote(&ec.target.to_string()));
    let _ = writeln!(out, "outbox = {}", path(&ec.outbox));
    let _ = writeln!(out, "service_level = {}", ec.service_level);
    let _ = match facility_name(ec.facility) {
        Some(name) => writeln!(out, "facility = {}", quote(name)),
        None => writeln!(out, "facility = {}", ec.facility),
    };
    if let Some(h) = &ec.host {
        let _ = writeln!(out, "host = {}", quote(h));
    }
    match &ec.hostname {
        Some(h) => {
            let _ = writeln!(out, "hostname = {}", quote(h));
        }
        None => {
            out.push_str("# hostname = \"tracker.example.com\"  # unset: this machine's name\n")
        }
    }
    let _ = writeln!(out, "app_name = {}", quote(&ec.app_name));
}

fn source(out: &mut String, s: &Source) {
    out.push_str("\n[[sources]]\n");
    let _ = writeln!(out, "name = {}", quote(&s.name));
    match &s.transport {
        Transport::Local { queue } => {
            let _ = writeln!(out, "local_queue = {}", path(queue));
        }
        Transport::Ssh(ssh) => {
            let _ = writeln!(out, "address = {}", quote(&ssh.address));
            let _ = writeln!(out, "port = {}", ssh.port);
            let _ = writeln!(out, "user = {}", quote(&ssh.user));
            if let Some(k) = &ssh.key {
                let _ = writeln!(out, "key = {}", path(k));
            }
            if let Some(k) = &ssh.known_hosts {
                let _ = writeln!(out, "known_hosts = {}", path(k));
            }
            let _ = writeln!(
                out,
                "host_key_policy = {}",
                quote(ssh.host_key_policy.as_str())
            );
            let _ = writeln!(out, "queue = {}", quote(&ssh.queue));
            let _ = writeln!(out, "reader = {}", quote(ssh.reader.as_str()));
            if let Some(c) = &ssh.reader_command {
                let _ = writeln!(out, "reader_command = {}", quote(c));
            }
        }
    }
    let _ = writeln!(out, "delete_after_commit = {}", s.delete_after_commit);
}

fn job(out: &mut String, j: &Job) {
    out.push_str("\n[[jobs]]\n");
    let _ = writeln!(out, "name = {}", quote(&j.name));
    let _ = writeln!(out, "env = {}", quote(&j.env));
    if let Some(s) = &j.source {
        let _ = writeln!(out, "source = {}", quote(s));
    }
    let _ = match &j.schedule {
        Schedule::Cyclic { interval } => {
            writeln!(out, "cyclic = {{ interval = {} }}", duration(*interval))
        }
        Schedule::Daily {
            start,
            start_max_delay,
        } => writeln!(
            out,
            "daily = {{ start = \"{start}\", start_max_delay = {} }}",
            duration(*start_max_delay)
        ),
        Schedule::Cron {
            expression,
            start_max_delay,
        } => writeln!(
            out,
            "cron = {{ expression = {}, start_max_delay = {} }}",
            quote(expression.as_str()),
            duration(*start_max_delay)
        ),
    };
    if let Some(t) = j.timeout {
        let _ = writeln!(out, "timeout = {}", duration(t));
    }
    let _ = writeln!(
        out,
        "max_errors_before_alerting = {}",
        j.max_errors_before_alerting
    );
    if let Some(t) = j.min_run_time {
        let _ = writeln!(out, "min_run_time = {}", duration(t));
    }
    if let Some(w) = &j.quiet_window {
        let _ = writeln!(out, "quiet_window = {}", window(w));
    }
}
