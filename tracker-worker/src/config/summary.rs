//! What `config check` prints: the configuration as the tracker understood it, in words,
//! with defaults filled in, plus warnings about things that are valid but risky.

use super::types::format_duration;
use super::{
    facility_name, Config, EcTarget, EventConsole, HostKeyPolicy, Schedule, Transport, WebAuth,
};
use std::fmt::Write as _;
use std::path::Path;
use tracker_core::identity::job_log_name;

fn d(x: std::time::Duration) -> String {
    format_duration(x)
}

/// A readable account of `config`.
pub fn summary(config: &Config) -> String {
    let mut out = String::new();
    global(&mut out, config);
    database(&mut out, config);
    output(&mut out, config);
    sources(&mut out, config);
    jobs(&mut out, config);
    web(&mut out, config);
    out
}

fn web(out: &mut String, config: &Config) {
    let Some(w) = &config.web else {
        out.push_str("web: no dashboard\n");
        return;
    };
    out.push_str("web:\n");
    let scheme = if w.tls.is_some() { "https" } else { "http" };
    let _ = writeln!(out, "  dashboard at {scheme}://{}/", w.listen);
    if let Some(t) = &w.tls {
        let _ = writeln!(
            out,
            "  TLS certificate {}, key {}",
            t.cert.display(),
            t.key.display()
        );
    }
    let auth = match &w.auth {
        WebAuth::None => "none".to_owned(),
        WebAuth::UsersFile(f) => format!("HTTP Basic, users in {}", f.display()),
        WebAuth::ProxyHeader { header, proxies } => format!(
            "the user named in header {header}, from the reverse proxies {}",
            proxies
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let _ = writeln!(out, "  authentication: {auth}");
    if w.insecure {
        out.push_str(
            "  insecure = true: an address beyond loopback is served even without TLS or authentication\n",
        );
    }
    let _ = writeln!(
        out,
        "  times shown in {}; {} rows per page; overview refreshed {}",
        w.time_zone
            .or(config.global.time_zone)
            .map_or("the local time of the tracker host".to_owned(), |tz| tz
                .name()
                .to_owned()),
        w.page_size,
        if w.refresh.is_zero() {
            "never".to_owned()
        } else {
            format!("every {}", d(w.refresh))
        }
    );
}

fn global(out: &mut String, config: &Config) {
    let g = &config.global;
    out.push_str("global:\n");
    let _ = writeln!(
        out,
        "  event keywords: start {:?}, error {:?}, end {:?}",
        g.start_keyword, g.error_keyword, g.end_keyword
    );
    let _ = writeln!(
        out,
        "  time zone: {}",
        g.time_zone
            .map_or("local time of the tracker host".to_owned(), |tz| tz
                .name()
                .to_owned())
    );
    let _ = writeln!(
        out,
        "  poll every {}, read at most {} messages per source and poll, give up on a source after {}",
        d(g.poll_interval),
        g.read_batch_size,
        d(g.source_timeout)
    );
    let _ = writeln!(
        out,
        "  message grace period (clock drift): {}",
        d(g.message_grace_period)
    );
    let _ = writeln!(
        out,
        "  jobs are UNKNOWN when their source has not been read for {}",
        d(g.stale_after)
    );
    let _ = writeln!(
        out,
        "  tracker messages kept: {}",
        g.retention.map_or(
            "as long as job_log keeps their run".to_owned(),
            |r| format!("{} (and no longer than job_log keeps their run)", d(r))
        )
    );
    let _ = writeln!(
        out,
        "  quiet window for cyclic jobs: {}",
        g.quiet_window.map_or("none".to_owned(), |w| w.to_string())
    );
    let _ = writeln!(
        out,
        "  log level {}{}",
        g.log_level.as_str(),
        g.log_file
            .as_ref()
            .map_or(String::new(), |f| format!(", log file {}", f.display()))
    );
}

fn database(out: &mut String, config: &Config) {
    let db = &config.database;
    out.push_str("database:\n");
    match &db.conninfo {
        Some(c) => {
            let _ = writeln!(out, "  connection string: {c}");
        }
        None => {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(libpq default)".into());
            let _ = writeln!(
                out,
                "  host {}, port {}, user {}, dbname {}",
                opt(&db.host),
                db.port.map_or("(libpq default)".into(), |p| p.to_string()),
                opt(&db.user),
                opt(&db.dbname)
            );
        }
    }
    let _ = writeln!(
        out,
        "  password: {}",
        db.password_file.as_ref().map_or(
            "from PGPASSFILE or ~/.pgpass, if needed".to_owned(),
            |f| format!("from {}", f.display())
        )
    );
}

fn output(out: &mut String, config: &Config) {
    let o = &config.output;
    out.push_str("output:\n");
    let opt_path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or("not written".to_owned(), |p| p.display().to_string())
    };
    let _ = writeln!(out, "  state files: {}", opt_path(&o.state_dir));
    let _ = writeln!(out, "  spool file: {}", opt_path(&o.spool_file));
    let _ = writeln!(out, "  service name prefix: {:?}", o.service_prefix);
    let _ = writeln!(
        out,
        "  service names: {} (e.g. {:?})",
        o.service_name,
        config.jobs.first().map_or_else(
            || o.service_of("JOB", "ENV"),
            |j| o.service_of(&j.name, &j.env)
        )
    );
    let _ = writeln!(out, "  Prometheus file: {}", opt_path(&o.prometheus_file));
    let _ = writeln!(
        out,
        "  piggyback: {}",
        if o.piggyback {
            "on (each job on its source's Checkmk host; only the jobs of the sources this tracker holds)"
        } else {
            "off (every job on this tracker's own host)"
        }
    );
    match &o.event_console {
        None => out.push_str("  Event Console: not sent\n"),
        Some(ec) => event_console(out, ec),
    }
}

fn sources(out: &mut String, config: &Config) {
    let _ = writeln!(out, "sources ({}):", config.sources.len());
    for s in &config.sources {
        let ack = if s.delete_after_commit {
            "delete messages once stored"
        } else {
            "keep messages on the source"
        };
        let host = if config.output.piggyback || s.checkmk_host.is_some() {
            format!("; Checkmk host {}", s.checkmk_host())
        } else {
            String::new()
        };
        match &s.transport {
            Transport::Local { queue } => {
                let _ = writeln!(
                    out,
                    "  {}: local file {}; {ack}{host}",
                    s.name,
                    queue.display()
                );
            }
            Transport::Ssh(ssh) => {
                let _ = writeln!(
                    out,
                    "  {}: ssh {}@{}:{} key {}, host key {} against {}; queue {} read with {}{}; {ack}{host}",
                    s.name,
                    ssh.user,
                    ssh.address,
                    ssh.port,
                    ssh.key
                        .as_ref()
                        .map_or("from the agent or ~/.ssh/id_*".to_owned(), |k| k.display().to_string()),
                    ssh.host_key_policy.as_str(),
                    ssh.known_hosts
                        .as_ref()
                        .map_or("~/.ssh/known_hosts".to_owned(), |k| k.display().to_string()),
                    ssh.queue,
                    ssh.reader.as_str(),
                    ssh.reader_command
                        .as_ref()
                        .map_or(String::new(), |c| format!(" ({c})")),
                );
            }
        }
    }
}

/// A schedule in words ("daily at 02:00, start at the latest 30m later"), as `config
/// check` and the dashboard show it.
pub fn schedule_words(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Cyclic { interval } => format!("cyclic, every {}", d(*interval)),
        Schedule::Daily {
            start,
            start_max_delay,
        } => format!(
            "daily at {start}, start at the latest {} later",
            d(*start_max_delay)
        ),
        Schedule::Cron {
            expression,
            start_max_delay,
        } => format!(
            "cron \"{expression}\", start at the latest {} later",
            d(*start_max_delay)
        ),
    }
}

fn jobs(out: &mut String, config: &Config) {
    let o = &config.output;
    let _ = writeln!(out, "jobs ({}):", config.jobs.len());
    for j in &config.jobs {
        let schedule = schedule_words(&j.schedule);
        let _ = writeln!(
            out,
            "  {} (from {}): {schedule}; timeout {}; alert after {} error(s){}{}; service {:?}",
            job_log_name(&j.name, &j.env),
            j.source.as_deref().unwrap_or("any source"),
            j.timeout.map_or("none".to_owned(), d),
            j.max_errors_before_alerting,
            j.min_run_time
                .map_or(String::new(), |m| format!("; minimum run time {}", d(m))),
            j.quiet_window
                .map_or(String::new(), |w| format!("; own quiet window {w}")),
            o.service_of(&j.name, &j.env),
        );
    }
}

fn event_console(out: &mut String, ec: &EventConsole) {
    let _ = writeln!(
        out,
        "  Event Console: one event per state change to {}; outbox {}",
        ec.target,
        ec.outbox.display()
    );
    let _ = writeln!(
        out,
        "    facility {} ({}), service level {}, Checkmk host {}, syslog hostname {}, app name {:?}",
        facility_name(ec.facility).unwrap_or("?"),
        ec.facility,
        ec.service_level,
        ec.host
            .as_ref()
            .map_or("from the syslog hostname".to_owned(), |h| format!("{h:?}")),
        ec.hostname
            .as_ref()
            .map_or("this machine's name".to_owned(), |h| format!("{h:?}")),
        ec.app_name
    );
}

/// What is odd about an Event Console target or outbox as seen from this machine.
fn event_console_warnings(ec: &EventConsole, out: &mut Vec<String>) {
    use std::os::unix::fs::FileTypeExt;
    match &ec.target {
        EcTarget::Unix(p) if !p.exists() => out.push(format!(
            "output.event_console.target: the event socket {} does not exist on this machine; events stay in the outbox until it does",
            p.display()
        )),
        EcTarget::Pipe(p) => match std::fs::metadata(p) {
            Err(_) => out.push(format!(
                "output.event_console.target: the pipe {} does not exist on this machine; events stay in the outbox until it does",
                p.display()
            )),
            Ok(m) if !m.file_type().is_fifo() => out.push(format!(
                "output.event_console.target: {} is not a named pipe; the tracker refuses to write to it",
                p.display()
            )),
            Ok(_) => {}
        },
        _ => {}
    }
    let dir = ec.outbox.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|d| !d.is_dir()) {
        out.push(format!(
            "output.event_console.outbox: directory {} does not exist on this machine; the outbox cannot be created there",
            dir.display()
        ));
    }
}

/// Valid but worth a look: insecure host key checks, files that are not there (on this
/// machine), nothing to do.
pub fn warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let missing = |p: &Path| !p.exists();
    if config.sources.is_empty() {
        out.push("no sources: the tracker would read nothing".to_owned());
    }
    if config.jobs.is_empty() {
        out.push("no jobs: messages are stored but no job is checked".to_owned());
    }
    for (i, s) in config.sources.iter().enumerate() {
        if let Transport::Ssh(ssh) = &s.transport {
            if ssh.host_key_policy == HostKeyPolicy::Off {
                out.push(format!(
                    "sources[{i}] ({}): host_key_policy = \"off\" accepts any host key; anyone who can redirect the connection can feed false job states",
                    s.name
                ));
            }
            for (key, file) in [("key", &ssh.key), ("known_hosts", &ssh.known_hosts)] {
                if let Some(f) = file.as_deref().filter(|f| missing(f)) {
                    out.push(format!(
                        "sources[{i}].{key}: {} does not exist on this machine",
                        f.display()
                    ));
                }
            }
        }
    }
    let o = &config.output;
    if let Some(spool) = &o.spool_file {
        let name = spool.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref().and_then(spool_age) {
            None => out.push(format!(
                "output.spool_file: {} does not start with an age in seconds (e.g. 600_jobmon.txt); Checkmk would keep showing its last contents if the tracker stopped",
                spool.display()
            )),
            Some(age) if u128::from(age) * 1000 <= config.global.poll_interval.as_millis() => out.push(format!(
                "output.spool_file: its age limit {age} s is not longer than poll_interval ({}); Checkmk would ignore it between two writes",
                d(config.global.poll_interval)
            )),
            Some(_) => {}
        }
    }
    if let Some(f) = &o.prometheus_file {
        if f.extension().and_then(|e| e.to_str()) != Some("prom") {
            out.push(format!(
                "output.prometheus_file: {} does not end in .prom; node_exporter's textfile collector reads only *.prom files",
                f.display()
            ));
        }
    }
    if let Some(ec) = &o.event_console {
        event_console_warnings(ec, &mut out);
    }
    if let Some(w) = &config.web {
        if w.insecure && !w.listen.ip().is_loopback() {
            out.push(format!(
                "web.insecure = true: the dashboard on {} may be served without TLS or authentication",
                w.listen
            ));
        }
        let files = [
            ("web.tls_cert", w.tls.as_ref().map(|t| &t.cert)),
            ("web.tls_key", w.tls.as_ref().map(|t| &t.key)),
            (
                "web.users_file",
                match &w.auth {
                    WebAuth::UsersFile(f) => Some(f),
                    _ => None,
                },
            ),
        ];
        for (key, file) in files {
            if let Some(f) = file.filter(|f| missing(f)) {
                out.push(format!(
                    "{key}: {} does not exist on this machine",
                    f.display()
                ));
            }
        }
    }
    if let Some(f) = config
        .database
        .password_file
        .as_deref()
        .filter(|f| missing(f))
    {
        out.push(format!(
            "database.password_file: {} does not exist on this machine",
            f.display()
        ));
    }
    out
}

/// The age limit a Checkmk spool file name starts with (`600_jobmon.txt`: 600 s); the
/// agent takes the leading digits of the name, whatever follows them.
pub fn spool_age(file_name: &str) -> Option<u64> {
    let digits = file_name.bytes().take_while(u8::is_ascii_digit).count();
    file_name[..digits].parse().ok()
}
