//! The TOML file: its exact set of keys (serde, unknown keys refused) and the conversion
//! into the validated model.

use super::types::{
    de_duration, de_opt_duration, de_opt_time_zone, ser_duration, ser_opt_duration,
    ser_opt_time_zone, HostKeyPolicy, LogLevel, QuietWindow, Reader, ServiceTemplate, StrVisitor,
    TimeOfDay,
};
use super::validate::{check_model, conninfo_has_password, from_serde, TOML_KEYS};
use super::{
    defaults, facility_code, facility_name, Config, Database, EcTarget, EventConsole, Global, Job,
    Output, Problem, Schedule, Source, SshSource, Transport, EC_TARGET_EXPECTED, FACILITY_EXPECTED,
};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use tracker_core::schedule::{CronExpr, CRON_EXPECTED};

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    global: RawGlobal,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    sources: Vec<RawSource>,
    #[serde(default)]
    jobs: Vec<RawJob>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    start_keyword: Option<String>,
    error_keyword: Option<String>,
    end_keyword: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_time_zone",
        serialize_with = "ser_opt_time_zone"
    )]
    time_zone: Option<chrono_tz::Tz>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    poll_interval: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    message_grace_period: Option<Duration>,
    quiet_window: Option<RawWindow>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    source_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    stale_after: Option<Duration>,
    read_batch_size: Option<u32>,
    log_level: Option<LogLevel>,
    log_file: Option<PathBuf>,
}

#[derive(Deserialize, Serialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    from: TimeOfDay,
    until: TimeOfDay,
}

/// Accepts any value; marks that a key was present (to refuse it with a tailored message).
#[derive(Clone, Copy)]
struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present)
    }
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    conninfo: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    dbname: Option<String>,
    password_file: Option<PathBuf>,
    #[serde(skip_serializing)]
    password: Option<Present>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    state_dir: Option<PathBuf>,
    spool_file: Option<PathBuf>,
    service_prefix: Option<String>,
    service_name: Option<ServiceTemplate>,
    prometheus_file: Option<PathBuf>,
    event_console: Option<RawEventConsole>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEventConsole {
    #[serde(default, deserialize_with = "de_opt_ec_target")]
    target: Option<EcTarget>,
    outbox: Option<PathBuf>,
    service_level: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_facility",
        serialize_with = "ser_opt_facility"
    )]
    facility: Option<u8>,
    host: Option<String>,
    hostname: Option<String>,
    app_name: Option<String>,
}

fn de_opt_ec_target<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EcTarget>, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: EC_TARGET_EXPECTED,
        parse: EcTarget::parse,
    })
    .map(Some)
}

/// A facility: a name (`local0`) or its number (16).
struct FacilityVisitor;

impl Visitor<'_> for FacilityVisitor {
    type Value = u8;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(FACILITY_EXPECTED)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u8, E> {
        facility_code(v).ok_or_else(|| {
            E::custom(format!(
                "unknown facility `{v}`; expected {FACILITY_EXPECTED}"
            ))
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u8, E> {
        u8::try_from(v).ok().filter(|&n| n <= 23).ok_or_else(|| {
            E::custom(format!(
                "facility {v} is out of range; expected {FACILITY_EXPECTED}"
            ))
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u8, E> {
        self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

fn de_opt_facility<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    d.deserialize_any(FacilityVisitor).map(Some)
}

/// A facility by its name where it has one, else its number.
fn ser_opt_facility<S: Serializer>(f: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
    match f.map(|f| (f, facility_name(f))) {
        Some((_, Some(name))) => s.serialize_str(name),
        Some((f, None)) => s.serialize_u8(f),
        None => s.serialize_none(),
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    name: String,
    local_queue: Option<PathBuf>,
    address: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    host_key_policy: Option<HostKeyPolicy>,
    queue: Option<String>,
    reader: Option<Reader>,
    reader_command: Option<String>,
    delete_after_commit: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    name: String,
    env: String,
    source: Option<String>,
    cyclic: Option<RawCyclic>,
    daily: Option<RawDaily>,
    cron: Option<RawCron>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    timeout: Option<Duration>,
    max_errors_before_alerting: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    min_run_time: Option<Duration>,
    quiet_window: Option<RawWindow>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCyclic {
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    interval: Duration,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaily {
    start: TimeOfDay,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    start_max_delay: Duration,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCron {
    #[serde(deserialize_with = "de_cron")]
    expression: CronExpr,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    start_max_delay: Duration,
}

fn de_cron<'de, D: Deserializer<'de>>(d: D) -> Result<CronExpr, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: CRON_EXPECTED,
        parse: CronExpr::parse,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

/// Parses and validates TOML text.
pub fn parse(text: &str) -> Result<Config, Vec<Problem>> {
    let syntax = |e: toml::de::Error| {
        let line = e.span().map(|s| line_of(text, s.start));
        vec![Problem {
            key: String::new(),
            message: format!("TOML syntax error: {}", e.message()),
            line,
        }]
    };
    let de = toml::de::Deserializer::parse(text).map_err(syntax)?;
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let line = e.inner().span().map(|s| line_of(text, s.start));
        vec![from_serde(&e.path().to_string(), e.inner().message(), line)]
    })?;
    let mut problems = Vec::new();
    let config = convert(raw, &mut problems);
    problems.extend(check_model(&config, &TOML_KEYS));
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

fn window(raw: Option<RawWindow>, key: &str, problems: &mut Vec<Problem>) -> Option<QuietWindow> {
    let w = raw?;
    if w.from == w.until {
        problems.push(Problem::new(
            key,
            "`from` and `until` are equal; expected a window of at least one minute (omit the key for none)",
        ));
        return None;
    }
    Some(QuietWindow {
        from: w.from,
        until: w.until,
    })
}

fn positive(d: Option<Duration>, key: &str, problems: &mut Vec<Problem>) {
    if d.is_some_and(|d| d.is_zero()) {
        problems.push(Problem::new(key, "expected a duration above zero"));
    }
}

fn convert(raw: RawConfig, problems: &mut Vec<Problem>) -> Config {
    let global = global(raw.global, problems);
    let database = database(raw.database, problems);
    let output = output(raw.output, problems);
    let sources = raw
        .sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| source(i, s, problems))
        .collect();
    let jobs = raw
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| job(i, j, problems))
        .collect();
    Config {
        global,
        database,
        output,
        sources,
        jobs,
    }
}

fn global(g: RawGlobal, problems: &mut Vec<Problem>) -> Global {
    positive(g.poll_interval, "global.poll_interval", problems);
    positive(g.source_timeout, "global.source_timeout", problems);
    positive(g.stale_after, "global.stale_after", problems);
    if g.read_batch_size == Some(0) {
        problems.push(Problem::new("global.read_batch_size", "expected 1 or more"));
    }
    let poll_interval = g.poll_interval.unwrap_or(defaults::POLL_INTERVAL);
    let source_timeout = g.source_timeout.unwrap_or(defaults::SOURCE_TIMEOUT);
    Global {
        start_keyword: g
            .start_keyword
            .unwrap_or_else(|| defaults::START_KEYWORD.into()),
        error_keyword: g
            .error_keyword
            .unwrap_or_else(|| defaults::ERROR_KEYWORD.into()),
        end_keyword: g
            .end_keyword
            .unwrap_or_else(|| defaults::END_KEYWORD.into()),
        time_zone: g.time_zone,
        poll_interval,
        message_grace_period: g
            .message_grace_period
            .unwrap_or(defaults::MESSAGE_GRACE_PERIOD),
        quiet_window: window(g.quiet_window, "global.quiet_window", problems),
        source_timeout,
        stale_after: g
            .stale_after
            .unwrap_or_else(|| defaults::stale_after(poll_interval, source_timeout)),
        read_batch_size: g.read_batch_size.unwrap_or(defaults::READ_BATCH_SIZE),
        log_level: g.log_level.unwrap_or_default(),
        log_file: g.log_file,
    }
}

/// The connection settings; passwords are refused, here and inside `conninfo`.
fn database(d: RawDatabase, problems: &mut Vec<Problem>) -> Database {
    if d.password.is_some() {
        problems.push(Problem::new(
            "database.password",
            "passwords do not belong in this file; put it in a pgpass file named by `password_file` (or PGPASSFILE / ~/.pgpass)",
        ));
    }
    if let Some(conninfo) = &d.conninfo {
        if conninfo_has_password(conninfo) {
            problems.push(Problem::new(
                "database.conninfo",
                "contains a password; put it in a pgpass file named by `password_file` instead",
            ));
        }
        for (key, set) in [
            ("host", d.host.is_some()),
            ("port", d.port.is_some()),
            ("user", d.user.is_some()),
            ("dbname", d.dbname.is_some()),
        ] {
            if set {
                problems.push(Problem::new(
                    format!("database.{key}"),
                    "not allowed together with `conninfo`; put it into the connection string",
                ));
            }
        }
    }
    Database {
        conninfo: d.conninfo,
        host: d.host,
        port: d.port,
        user: d.user,
        dbname: d.dbname,
        password_file: d.password_file,
    }
}

fn output(o: RawOutput, problems: &mut Vec<Problem>) -> Output {
    Output {
        state_dir: o.state_dir,
        spool_file: o.spool_file,
        service_prefix: o.service_prefix.unwrap_or_default(),
        service_name: o.service_name.unwrap_or_default(),
        prometheus_file: o.prometheus_file,
        event_console: o.event_console.and_then(|ec| event_console(ec, problems)),
    }
}

/// A syslog header field (RFC 5424 HOSTNAME, APP-NAME): 1 to `max` printable ASCII
/// characters. Refused rather than mangled, so the Event Console shows what was configured.
fn header_field(value: &Option<String>, key: &str, max: usize, problems: &mut Vec<Problem>) {
    if let Some(v) = value {
        if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_graphic()) {
            problems.push(Problem::new(
                format!("output.event_console.{key}"),
                format!("expected 1 to {max} printable ASCII characters without spaces, as an RFC 5424 header field allows"),
            ));
        }
    }
}

fn event_console(raw: RawEventConsole, problems: &mut Vec<Problem>) -> Option<EventConsole> {
    let key = |k: &str| format!("output.event_console.{k}");
    if raw.target.is_none() {
        problems.push(Problem::new(
            key("target"),
            format!("required key is missing; expected {EC_TARGET_EXPECTED}"),
        ));
    }
    if raw.outbox.is_none() {
        problems.push(Problem::new(
            key("outbox"),
            "required key is missing: name a file (e.g. /var/lib/jobmon-tracker/ec-outbox.sqlite) where the tracker keeps the last state sent per service and the events not yet delivered, so that a restart sends no duplicates and an Event Console outage loses no events",
        ));
    }
    header_field(&raw.hostname, "hostname", 255, problems);
    header_field(&raw.app_name, "app_name", 48, problems);
    if raw
        .host
        .as_ref()
        .is_some_and(|h| h.trim().is_empty() || h.contains(char::is_control))
    {
        problems.push(Problem::new(
            key("host"),
            "expected a Checkmk host name (omit the key to let the Event Console take the syslog HOSTNAME)",
        ));
    }
    Some(EventConsole {
        target: raw.target?,
        outbox: raw.outbox?,
        service_level: raw.service_level.unwrap_or(defaults::EC_SERVICE_LEVEL),
        facility: raw.facility.unwrap_or(defaults::EC_FACILITY),
        host: raw.host,
        hostname: raw.hostname,
        app_name: raw.app_name.unwrap_or_else(|| defaults::EC_APP_NAME.into()),
    })
}

fn source(i: usize, s: RawSource, problems: &mut Vec<Problem>) -> Source {
    let key = |k: &str| format!("sources[{i}].{k}");
    let transport = if let Some(queue) = s.local_queue {
        let ssh_keys = [
            ("address", s.address.is_some()),
            ("port", s.port.is_some()),
            ("user", s.user.is_some()),
            ("key", s.key.is_some()),
            ("known_hosts", s.known_hosts.is_some()),
            ("host_key_policy", s.host_key_policy.is_some()),
            ("queue", s.queue.is_some()),
            ("reader", s.reader.is_some()),
            ("reader_command", s.reader_command.is_some()),
        ];
        for (k, _) in ssh_keys.iter().filter(|(_, set)| *set) {
            problems.push(Problem::new(
                key(k),
                "applies only to SSH sources; this source reads the local file `local_queue`",
            ));
        }
        Transport::Local { queue }
    } else {
        let mut required = |value: Option<String>, k: &str| {
            value.unwrap_or_else(|| {
                problems.push(Problem::new(
                    key(k),
                    "required key is missing (an SSH source needs address, user and queue; a file on this host needs `local_queue` instead)",
                ));
                String::new()
            })
        };
        let address = required(s.address, "address");
        let user = required(s.user, "user");
        let queue = required(s.queue, "queue");
        Transport::Ssh(SshSource {
            address,
            port: s.port.unwrap_or(defaults::SSH_PORT),
            user,
            key: s.key,
            known_hosts: s.known_hosts,
            host_key_policy: s.host_key_policy.unwrap_or_default(),
            queue,
            reader: s.reader.unwrap_or_default(),
            reader_command: s.reader_command,
        })
    };
    if s.port == Some(0) {
        problems.push(Problem::new(key("port"), "expected a port from 1 to 65535"));
    }
    Source {
        name: s.name,
        transport,
        delete_after_commit: s.delete_after_commit.unwrap_or(true),
    }
}

fn job(i: usize, j: RawJob, problems: &mut Vec<Problem>) -> Job {
    let key = |k: &str| format!("jobs[{i}].{k}");
    let mut schedules = Vec::new();
    if let Some(c) = j.cyclic {
        schedules.push(Schedule::Cyclic {
            interval: c.interval,
        });
    }
    if let Some(d) = j.daily {
        schedules.push(Schedule::Daily {
            start: d.start,
            start_max_delay: d.start_max_delay,
        });
    }
    if let Some(c) = j.cron {
        schedules.push(Schedule::Cron {
            expression: c.expression,
            start_max_delay: c.start_max_delay,
        });
    }
    if schedules.len() != 1 {
        problems.push(Problem::new(
            format!("jobs[{i}]"),
            format!(
                "expected exactly one schedule table: `cyclic` (interval), `daily` (start, start_max_delay) or `cron` (expression, start_max_delay); found {}",
                schedules.len()
            ),
        ));
    }
    // With a problem reported the config is discarded; the placeholder only keeps the
    // indices of later jobs aligned with the file for the remaining checks.
    let schedule = schedules.into_iter().next().unwrap_or(Schedule::Cyclic {
        interval: Duration::from_secs(1),
    });
    let quiet_window = window(j.quiet_window, &key("quiet_window"), problems);
    Job {
        name: j.name,
        env: j.env,
        source: j.source,
        schedule,
        timeout: j.timeout,
        max_errors_before_alerting: j
            .max_errors_before_alerting
            .unwrap_or(defaults::MAX_ERRORS_BEFORE_ALERTING),
        min_run_time: j.min_run_time,
        quiet_window,
    }
}

/// The file that reads back as `config`, every value written out (what `config import`
/// prints, through [`super::emit::to_toml`]).
impl From<&Config> for RawConfig {
    fn from(c: &Config) -> Self {
        let g = &c.global;
        let d = &c.database;
        let o = &c.output;
        RawConfig {
            global: RawGlobal {
                start_keyword: Some(g.start_keyword.clone()),
                error_keyword: Some(g.error_keyword.clone()),
                end_keyword: Some(g.end_keyword.clone()),
                time_zone: g.time_zone,
                poll_interval: Some(g.poll_interval),
                message_grace_period: Some(g.message_grace_period),
                quiet_window: g.quiet_window.map(RawWindow::from),
                source_timeout: Some(g.source_timeout),
                stale_after: Some(g.stale_after),
                read_batch_size: Some(g.read_batch_size),
                log_level: Some(g.log_level),
                log_file: g.log_file.clone(),
            },
            database: RawDatabase {
                conninfo: d.conninfo.clone(),
                host: d.host.clone(),
                port: d.port,
                user: d.user.clone(),
                dbname: d.dbname.clone(),
                password_file: d.password_file.clone(),
                password: None,
            },
            output: RawOutput {
                state_dir: o.state_dir.clone(),
                spool_file: o.spool_file.clone(),
                service_prefix: Some(o.service_prefix.clone()),
                service_name: Some(o.service_name.clone()),
                prometheus_file: o.prometheus_file.clone(),
                event_console: o.event_console.as_ref().map(|ec| RawEventConsole {
                    target: Some(ec.target.clone()),
                    outbox: Some(ec.outbox.clone()),
                    service_level: Some(ec.service_level),
                    facility: Some(ec.facility),
                    host: ec.host.clone(),
                    hostname: ec.hostname.clone(),
                    app_name: Some(ec.app_name.clone()),
                }),
            },
            sources: c.sources.iter().map(RawSource::from).collect(),
            jobs: c.jobs.iter().map(RawJob::from).collect(),
        }
    }
}

impl From<QuietWindow> for RawWindow {
    fn from(w: QuietWindow) -> Self {
        RawWindow {
            from: w.from,
            until: w.until,
        }
    }
}

impl From<&Source> for RawSource {
    fn from(s: &Source) -> Self {
        let mut raw = RawSource {
            name: s.name.clone(),
            local_queue: None,
            address: None,
            port: None,
            user: None,
            key: None,
            known_hosts: None,
            host_key_policy: None,
            queue: None,
            reader: None,
            reader_command: None,
            delete_after_commit: Some(s.delete_after_commit),
        };
        match &s.transport {
            Transport::Local { queue } => raw.local_queue = Some(queue.clone()),
            Transport::Ssh(ssh) => {
                raw.address = Some(ssh.address.clone());
                raw.port = Some(ssh.port);
                raw.user = Some(ssh.user.clone());
                raw.key = ssh.key.clone();
                raw.known_hosts = ssh.known_hosts.clone();
                raw.host_key_policy = Some(ssh.host_key_policy);
                raw.queue = Some(ssh.queue.clone());
                raw.reader = Some(ssh.reader);
                raw.reader_command = ssh.reader_command.clone();
            }
        }
        raw
    }
}

impl From<&Job> for RawJob {
    fn from(j: &Job) -> Self {
        let (mut cyclic, mut daily, mut cron) = (None, None, None);
        match &j.schedule {
            Schedule::Cyclic { interval } => {
                cyclic = Some(RawCyclic {
                    interval: *interval,
                })
            }
            Schedule::Daily {
                start,
                start_max_delay,
            } => {
                daily = Some(RawDaily {
                    start: *start,
                    start_max_delay: *start_max_delay,
                })
            }
            Schedule::Cron {
                expression,
                start_max_delay,
            } => {
                cron = Some(RawCron {
                    expression: expression.clone(),
                    start_max_delay: *start_max_delay,
                })
            }
        }
        RawJob {
            name: j.name.clone(),
            env: j.env.clone(),
            source: j.source.clone(),
            cyclic,
            daily,
            cron,
            timeout: j.timeout,
            max_errors_before_alerting: Some(j.max_errors_before_alerting),
            min_run_time: j.min_run_time,
            quiet_window: j.quiet_window.map(RawWindow::from),
        }
    }
}
