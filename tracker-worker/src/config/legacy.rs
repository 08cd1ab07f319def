//! The 2016 job_tracker's JSON configuration (`job_tracker.cfg`): `global_config` (a list
//! holding one object), `source_hosts` and `jobs`. Its README and its code spelled several
//! keys differently; both spellings are accepted (giving both is an error), and so are the
//! two mixed spellings of the same keys, since files were written from either source:
//!
//! | meaning | code | README |
//! |---|---|---|
//! | quiet window start | `snooze_for_cyclic_jobs_from_hh:mm` | `no_timeout_for_cyclic_jobs_from_in_hh:mm` |
//! | quiet window end | `snooze_for_cyclic_jobs_until_hh:mm` | `no_timeout_for_cyclic_jobs_until_in_hh:mm` |
//! | cyclic interval | `cyclic_interval_hh:mm:ss` | `cyclic_interval_in_hh:mm:ss` |
//! | daily start | `daily_start_time_hh:mm` | `daily_start_time_in_hh:mm` |
//! | daily start delay | `daily_start_max_delay_hh:mm:ss` | `start_max_delay_in_hh:mm:ss` |
//! | timeout | `timeout_hh:mm:ss` | `timeout_in_hh:mm:ss` |
//!
//! Values of `""` (the old files set unused time keys to empty strings) count as absent.

use super::capture::{self, Found, Hints};
use super::types::{
    parse_legacy_duration, LogLevel, QuietWindow, Reader, ServiceTemplate, TimeOfDay,
};
use super::validate::{check_model, from_format, from_serde, JobKey, KeyNames, SourceKey};
use super::{
    defaults, Config, Database, Global, HostKeyPolicy, Job, Output, Problem, Schedule, Source,
    SshSource, Transport,
};
use serde::Deserialize;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyFile {
    global_config: Vec<LegacyGlobal>,
    source_hosts: Vec<LegacyHost>,
    jobs: Vec<LegacyJob>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyGlobal {
    log_level: Option<String>,
    log_file: Option<String>,
    monitoring_backend_based_on_event_or_status: Option<String>,
    monitoring_servicename_prefix_without_spaces: Option<String>,
    jobs_start_keyword: Option<String>,
    jobs_error_keyword: Option<String>,
    jobs_end_keyword: Option<String>,
    job_history_entry_count: Option<u32>,
    #[serde(rename = "snooze_for_cyclic_jobs_from_hh:mm")]
    snooze_from: Option<String>,
    #[serde(rename = "snooze_for_cyclic_jobs_until_hh:mm")]
    snooze_until: Option<String>,
    #[serde(rename = "no_timeout_for_cyclic_jobs_from_in_hh:mm")]
    no_timeout_from: Option<String>,
    #[serde(rename = "no_timeout_for_cyclic_jobs_until_in_hh:mm")]
    no_timeout_until: Option<String>,
    #[serde(rename = "snooze_for_cyclic_jobs_from_in_hh:mm")]
    snooze_from_in: Option<String>,
    #[serde(rename = "snooze_for_cyclic_jobs_until_in_hh:mm")]
    snooze_until_in: Option<String>,
    #[serde(rename = "no_timeout_for_cyclic_jobs_from_hh:mm")]
    no_timeout_from_plain: Option<String>,
    #[serde(rename = "no_timeout_for_cyclic_jobs_until_hh:mm")]
    no_timeout_until_plain: Option<String>,
    controller_interval_in_sec: Option<f64>,
    controller_data_load_timeout: Option<f64>,
    controller_message_grace_period_in_sec: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyHost {
    hostname: String,
    user: String,
    key: Option<String>,
    message_queue: String,
    message_queue_handler: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegacyJob {
    name: String,
    env: String,
    cyclic_or_daily: String,
    #[serde(rename = "cyclic_interval_hh:mm:ss")]
    cyclic_interval: Option<String>,
    #[serde(rename = "cyclic_interval_in_hh:mm:ss")]
    cyclic_interval_in: Option<String>,
    #[serde(rename = "daily_start_time_hh:mm")]
    daily_start: Option<String>,
    #[serde(rename = "daily_start_time_in_hh:mm")]
    daily_start_in: Option<String>,
    #[serde(rename = "daily_start_max_delay_hh:mm:ss")]
    max_delay: Option<String>,
    #[serde(rename = "start_max_delay_in_hh:mm:ss")]
    max_delay_in: Option<String>,
    #[serde(rename = "daily_start_max_delay_in_hh:mm:ss")]
    max_delay_daily_in: Option<String>,
    #[serde(rename = "start_max_delay_hh:mm:ss")]
    max_delay_plain: Option<String>,
    #[serde(rename = "timeout_hh:mm:ss")]
    timeout: Option<String>,
    #[serde(rename = "timeout_in_hh:mm:ss")]
    timeout_in: Option<String>,
    max_errors_before_alerting: Option<u32>,
}

/// The state directory of the 2016 tool (`/var/run/<prog>`), kept so that its Checkmk
/// local check (`cat /var/run/job_tracker/*.state`) keeps working after the switch.
pub const LEGACY_STATE_DIR: &str = "/var/run/job_tracker";

const LEGACY_KEYS: KeyNames = KeyNames {
    keywords: [
        "global_config[0].jobs_start_keyword",
        "global_config[0].jobs_error_keyword",
        "global_config[0].jobs_end_keyword",
    ],
    stale_after: "global_config[0].controller_interval_in_sec",
    service_name: "global_config[0].monitoring_servicename_prefix_without_spaces",
    source_field: |i, field| match field {
        SourceKey::Queue => format!("source_hosts[{i}].message_queue"),
        SourceKey::Name | SourceKey::CheckmkHost => format!("source_hosts[{i}].hostname"),
    },
    job_field: |i, field| {
        let key = match field {
            JobKey::Name => "name",
            JobKey::Env => "env",
            JobKey::Source => "source",
            JobKey::CyclicInterval => "cyclic_interval_hh:mm:ss",
            JobKey::Timeout => "timeout_hh:mm:ss",
            JobKey::MinRunTime => "min_run_time",
            JobKey::MaxErrorsBeforeAlerting => "max_errors_before_alerting",
        };
        format!("jobs[{i}].{key}")
    },
};

/// Of several spellings of one key, the one given (non-empty) with its full key; giving
/// two spellings is a problem, since they would silently disagree.
fn spelled<'a>(
    prefix: &str,
    options: &[(&'static str, &'a Option<String>)],
    problems: &mut Vec<Problem>,
) -> Option<(String, &'a str)> {
    let mut given = options
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .filter(|(_, v)| !v.trim().is_empty());
    let (first_key, first_value) = given.next()?;
    for (other, _) in given {
        problems.push(Problem::new(
            format!("{prefix}.{other}"),
            format!("same setting as `{first_key}` (two spellings of one key); keep one"),
        ));
    }
    Some((format!("{prefix}.{first_key}"), first_value))
}

fn duration(found: Option<(String, &str)>, problems: &mut Vec<Problem>) -> Option<Duration> {
    let (key, value) = found?;
    parse_legacy_duration(value)
        .map_err(|e| problems.push(Problem::new(key, format!("{e}; expected \"hh:mm:ss\""))))
        .ok()
}

fn seconds(key: &str, value: Option<f64>, problems: &mut Vec<Problem>) -> Option<Duration> {
    let v = value?;
    Duration::try_from_secs_f64(v)
        .map_err(|_| {
            problems.push(Problem::new(
                key,
                format!("expected seconds as a number of 0 or more, found {v}"),
            ))
        })
        .ok()
}

/// Reads the file into its serde structs, or the problem that stopped it.
///
/// serde_json answers a value of the wrong type for a hint itself, before asking the
/// visitor, so its error is only English text. The file is then read a second time with the
/// visitor judging every value, which reports the same value as a [`Kind`]; the first
/// read's error keeps serde_json's position (on the opening bracket of a list or object,
/// where the second read has already stepped inside).
fn read_json(text: &str) -> Result<LegacyFile, Problem> {
    let read = |hints| {
        let mut de = serde_json::Deserializer::from_str(text);
        capture::deserialize::<_, LegacyFile>(&mut de, hints)
    };
    let failure = match read(Hints::AsGiven) {
        Ok(file) => return Ok(file),
        Err(f) => f,
    };
    let line = failure.error.as_ref().map(|e| e.line()).filter(|&l| l > 0);
    let kind = match (&failure.kind, &failure.error) {
        (None, Some(e)) if e.is_data() => match read(Hints::VisitorJudges) {
            Err(again) if again.path == failure.path => again.kind,
            _ => None,
        },
        _ => failure.kind.clone(),
    };
    Err(match (kind, failure.error) {
        (Some(kind), _) => from_serde(&failure.path, &kind, json_found, line),
        (None, Some(e)) => from_format(&failure.path, json_message(&e), line),
        (None, None) => from_format(&failure.path, String::new(), line),
    })
}

/// serde_json words `()` as `null` and floats its own way; the rest as serde does.
fn json_found(found: &Found) -> String {
    match found {
        Found::Unit => "null".to_owned(),
        Found::Float(v) => match serde_json::Number::from_f64(*v) {
            Some(n) => format!("floating point `{n}`"),
            None => found.unexpected().to_string(),
        },
        other => other.unexpected().to_string(),
    }
}

/// serde_json's message without the position it appends (the line has its own field).
fn json_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&suffix) {
        Some(m) if e.line() > 0 => m.to_owned(),
        _ => message,
    }
}

/// Parses the legacy JSON into the model; also returns notes on what changed in meaning.
pub fn parse(text: &str) -> Result<(Config, Vec<String>), Vec<Problem>> {
    let file: LegacyFile = read_json(text).map_err(|p| vec![p])?;
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let config = convert(file, &mut problems, &mut notes);
    problems.extend(check_model(&config, &LEGACY_KEYS));
    if problems.is_empty() {
        Ok((config, notes))
    } else {
        Err(problems)
    }
}

fn convert(file: LegacyFile, problems: &mut Vec<Problem>, notes: &mut Vec<String>) -> Config {
    let mut global = Global::default();
    let mut output = Output {
        state_dir: Some(LEGACY_STATE_DIR.into()),
        ..Output::default()
    };
    notes.push(format!("output.state_dir is the old tool's {LEGACY_STATE_DIR}, so its Checkmk local check keeps working"));
    if file.global_config.len() != 1 {
        problems.push(Problem::new(
            "global_config",
            format!(
                "expected a list holding exactly one object, found {} objects",
                file.global_config.len()
            ),
        ));
    }
    if let Some(g) = file.global_config.first() {
        legacy_global(g, &mut global, &mut output, problems, notes);
    }
    global.stale_after = defaults::stale_after(global.poll_interval, global.source_timeout);
    notes.push("the old tool used local time; set global.time_zone (e.g. \"Europe/Berlin\") to make daily start times independent of the tracker host".into());

    let sources: Vec<Source> = file.source_hosts.iter().map(|h| host(h, notes)).collect();
    if !sources.is_empty() {
        notes.push("the old tool ran ssh with StrictHostKeyChecking=no; host keys are now checked (host_key_policy = \"strict\"): add each host to known_hosts, verified, before starting".into());
        notes.push("the old tool read and deleted messages in one step; now they are deleted only after they are stored (delete_after_commit = true)".into());
    }
    let jobs: Vec<Job> = file
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| job(i, j, problems))
        .collect();
    output.service_name = legacy_service_names(&jobs, notes);
    Config {
        global,
        database: Database::default(),
        output,
        sources,
        jobs,
        web: None,
    }
}

/// The settings of `global_config[0]`, over the defaults.
fn legacy_global(
    g: &LegacyGlobal,
    global: &mut Global,
    output: &mut Output,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let p = "global_config[0]";
    let key = |k: &str| format!("{p}.{k}");
    for (target, value) in [
        (&mut global.start_keyword, &g.jobs_start_keyword),
        (&mut global.error_keyword, &g.jobs_error_keyword),
        (&mut global.end_keyword, &g.jobs_end_keyword),
    ] {
        if let Some(v) = value {
            *target = v.clone();
        }
    }
    global.quiet_window = quiet_window(g, problems, notes);
    legacy_intervals(g, global, problems, notes);
    if let Some(n) = g.job_history_entry_count {
        global.read_batch_size = n;
        notes.push(
            "job_history_entry_count (messages fetched per poll) became global.read_batch_size"
                .into(),
        );
    }
    if let Some(level) = &g.log_level {
        match LogLevel::from_legacy(level) {
            Some(l) => global.log_level = l,
            None => problems.push(Problem::new(
                key("log_level"),
                format!(
                    "unknown level `{level}`; expected debug, info, warning, error or critical"
                ),
            )),
        }
    }
    global.log_file = g
        .log_file
        .as_ref()
        .filter(|f| !f.is_empty())
        .map(Into::into);
    output.service_prefix = g
        .monitoring_servicename_prefix_without_spaces
        .clone()
        .unwrap_or_default();
    match g.monitoring_backend_based_on_event_or_status.as_deref().map(str::trim) {
        None | Some("status") => {}
        Some(v) if v.contains("event") => notes.push("the old tool sent events to the Checkmk Event Console; configure that output separately (it is not part of this file yet)".into()),
        Some(v) if v.contains("status") => {}
        Some(v) => problems.push(Problem::new(key("monitoring_backend_based_on_event_or_status"), format!("unknown backend `{v}`; expected \"status\" or \"event\""))),
    }
}

/// The `controller_*` timings: the poll interval, the source timeout, the grace period.
fn legacy_intervals(
    g: &LegacyGlobal,
    global: &mut Global,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) {
    let key = |k: &str| format!("global_config[0].{k}");
    if let Some(d) = seconds(
        &key("controller_interval_in_sec"),
        g.controller_interval_in_sec,
        problems,
    ) {
        if d.is_zero() {
            problems.push(Problem::new(
                key("controller_interval_in_sec"),
                "expected seconds above zero",
            ));
        }
        global.poll_interval = d;
    }
    if let Some(d) = seconds(
        &key("controller_data_load_timeout"),
        g.controller_data_load_timeout,
        problems,
    ) {
        global.source_timeout = d.max(Duration::from_secs(1));
        notes.push(format!(
            "controller_data_load_timeout (the ssh connect timeout) became global.source_timeout = {}, which bounds connecting and reading",
            super::format_duration(global.source_timeout)
        ));
    }
    if let Some(d) = seconds(
        &key("controller_message_grace_period_in_sec"),
        g.controller_message_grace_period_in_sec,
        problems,
    ) {
        global.message_grace_period = d;
    }
}

/// The quiet window for cyclic jobs, from whichever of its spellings is used.
fn quiet_window(
    g: &LegacyGlobal,
    problems: &mut Vec<Problem>,
    notes: &mut Vec<String>,
) -> Option<QuietWindow> {
    let p = "global_config[0]";
    let from = spelled(
        p,
        &[
            ("snooze_for_cyclic_jobs_from_hh:mm", &g.snooze_from),
            (
                "no_timeout_for_cyclic_jobs_from_in_hh:mm",
                &g.no_timeout_from,
            ),
            ("snooze_for_cyclic_jobs_from_in_hh:mm", &g.snooze_from_in),
            (
                "no_timeout_for_cyclic_jobs_from_hh:mm",
                &g.no_timeout_from_plain,
            ),
        ],
        problems,
    );
    let until = spelled(
        p,
        &[
            ("snooze_for_cyclic_jobs_until_hh:mm", &g.snooze_until),
            (
                "no_timeout_for_cyclic_jobs_until_in_hh:mm",
                &g.no_timeout_until,
            ),
            ("snooze_for_cyclic_jobs_until_in_hh:mm", &g.snooze_until_in),
            (
                "no_timeout_for_cyclic_jobs_until_hh:mm",
                &g.no_timeout_until_plain,
            ),
        ],
        problems,
    );
    let time = |found: &Option<(String, &str)>, problems: &mut Vec<Problem>| {
        let (k, v) = found.as_ref()?;
        TimeOfDay::parse(v)
            .map_err(|e| problems.push(Problem::new(k.clone(), format!("{e}; expected \"hh:mm\""))))
            .ok()
    };
    match (time(&from, problems), time(&until, problems), &from, &until) {
        (Some(from), Some(until), _, _) if from == until => notes.push(format!(
            "the quiet window {from}-{until} is empty, so there is none"
        )),
        (Some(from), Some(until), _, _) => return Some(QuietWindow { from, until }),
        (None, None, None, None) => {}
        (_, _, Some((k, _)), None) | (_, _, None, Some((k, _))) => problems.push(Problem::new(
            k.clone(),
            "the quiet window needs both its start and its end",
        )),
        _ => {} // a value that did not parse is already reported
    }
    None
}

/// The old tool named each service `<prefix><job in lower case>`; keeping that keeps the
/// Checkmk services (and their history) across the switch, unless two environments of one
/// job would then share a service, which the old tool silently allowed.
fn legacy_service_names(jobs: &[Job], notes: &mut Vec<String>) -> ServiceTemplate {
    let mut seen = std::collections::HashSet::new();
    let clash = jobs.iter().find(|j| !seen.insert(j.name.to_lowercase()));
    match (clash, ServiceTemplate::parse(ServiceTemplate::LEGACY)) {
        (None, Ok(legacy)) => {
            notes.push(format!(
                "output.service_name = \"{}\" keeps the old tool's Checkmk service names; the default \"{}\" adds the environment",
                ServiceTemplate::LEGACY,
                ServiceTemplate::DEFAULT
            ));
            legacy
        }
        (Some(j), _) => {
            notes.push(format!(
                "job {} runs in several environments, which shared one Checkmk service in the old tool; services are now named \"{}\" (one per environment): rediscover the services in Checkmk",
                j.name,
                ServiceTemplate::DEFAULT
            ));
            ServiceTemplate::default()
        }
        (None, Err(_)) => ServiceTemplate::default(),
    }
}

fn host(h: &LegacyHost, notes: &mut Vec<String>) -> Source {
    if let Some(handler) = h.message_queue_handler.as_deref().filter(|s| !s.is_empty()) {
        notes.push(format!(
            "source {}: message_queue_handler `{handler}` is replaced by reader = \"sqlite3\" (or install jobmon-tracker there and set reader = \"jobmon-tracker\")",
            h.hostname
        ));
    }
    Source {
        name: h.hostname.clone(),
        transport: Transport::Ssh(SshSource {
            address: h.hostname.clone(),
            port: defaults::SSH_PORT,
            user: h.user.clone(),
            key: h.key.as_ref().filter(|k| !k.is_empty()).map(Into::into),
            known_hosts: None,
            host_key_policy: HostKeyPolicy::Strict,
            queue: h.message_queue.clone(),
            reader: Reader::Sqlite3,
            reader_command: None,
        }),
        delete_after_commit: true,
        checkmk_host: None,
    }
}

fn job(i: usize, j: &LegacyJob, problems: &mut Vec<Problem>) -> Job {
    let p = format!("jobs[{i}]");
    let interval = spelled(
        &p,
        &[
            ("cyclic_interval_hh:mm:ss", &j.cyclic_interval),
            ("cyclic_interval_in_hh:mm:ss", &j.cyclic_interval_in),
        ],
        problems,
    );
    let start = spelled(
        &p,
        &[
            ("daily_start_time_hh:mm", &j.daily_start),
            ("daily_start_time_in_hh:mm", &j.daily_start_in),
        ],
        problems,
    );
    let delay = spelled(
        &p,
        &[
            ("daily_start_max_delay_hh:mm:ss", &j.max_delay),
            ("start_max_delay_in_hh:mm:ss", &j.max_delay_in),
            ("daily_start_max_delay_in_hh:mm:ss", &j.max_delay_daily_in),
            ("start_max_delay_hh:mm:ss", &j.max_delay_plain),
        ],
        problems,
    );
    let timeout = spelled(
        &p,
        &[
            ("timeout_hh:mm:ss", &j.timeout),
            ("timeout_in_hh:mm:ss", &j.timeout_in),
        ],
        problems,
    );
    let schedule = schedule(&p, &j.cyclic_or_daily, interval, start, delay, problems);
    Job {
        name: j.name.clone(),
        env: j.env.clone(),
        source: None,
        schedule,
        timeout: duration(timeout, problems),
        max_errors_before_alerting: j
            .max_errors_before_alerting
            .unwrap_or(defaults::MAX_ERRORS_BEFORE_ALERTING),
        min_run_time: None,
        quiet_window: None,
    }
}

/// The schedule of a legacy job: `cyclic_or_daily` and the keys that kind needs.
fn schedule(
    p: &str,
    cyclic_or_daily: &str,
    interval: Option<(String, &str)>,
    start: Option<(String, &str)>,
    delay: Option<(String, &str)>,
    problems: &mut Vec<Problem>,
) -> Schedule {
    let missing = |problems: &mut Vec<Problem>, what: &str, key: &str| {
        problems.push(Problem::new(
            format!("{p}.{key}"),
            format!("required for a {what} job (\"hh:mm:ss\")"),
        ));
    };
    let kind = cyclic_or_daily.to_ascii_lowercase();
    // The old code tested `'cyclic' in cyclic_or_daily` and treated everything else as daily.
    if kind.contains("cyclic") {
        if interval.is_none() {
            missing(problems, "cyclic", "cyclic_interval_hh:mm:ss");
        }
        Schedule::Cyclic {
            interval: duration(interval, problems).unwrap_or(Duration::from_secs(1)),
        }
    } else if kind.contains("daily") {
        let start = match start {
            Some((key, v)) => TimeOfDay::parse(v)
                .map_err(|e| problems.push(Problem::new(key, format!("{e}; expected \"hh:mm\""))))
                .ok(),
            None => {
                problems.push(Problem::new(
                    format!("{p}.daily_start_time_hh:mm"),
                    "required for a daily job (\"hh:mm\")",
                ));
                None
            }
        };
        if delay.is_none() {
            missing(problems, "daily", "daily_start_max_delay_hh:mm:ss");
        }
        Schedule::Daily {
            start: start.unwrap_or(TimeOfDay { hour: 0, minute: 0 }),
            start_max_delay: duration(delay, problems).unwrap_or_default(),
        }
    } else {
        problems.push(Problem::new(
            format!("{p}.cyclic_or_daily"),
            format!(
                "unknown kind `{}`; expected \"cyclic\" or \"daily\"",
                cyclic_or_daily
            ),
        ));
        Schedule::Cyclic {
            interval: Duration::from_secs(1),
        }
    }
}
