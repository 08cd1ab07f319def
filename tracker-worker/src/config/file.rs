//! The TOML file: its exact set of keys (serde, unknown keys refused) and the conversion
//! into the validated model. Each key is spelled once, as a field of its struct: problems,
//! the checks shared with the legacy format (`TOML_KEYS`) and `config import`'s hints name
//! it through [`key!`], which the compiler checks against that field.

use super::capture::{self, Found, Hints};
use super::types::{
    de_duration, de_opt_duration, de_opt_time_zone, ser_duration, ser_opt_duration,
    ser_opt_time_zone, HostKeyPolicy, LogLevel, QuietWindow, Reader, ServiceTemplate, StrVisitor,
    TimeOfDay,
};
use super::validate::{
    check_model, conninfo_has_password, from_format, from_serde, JobKey, KeyNames, SourceKey,
};
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

/// A key of the file, taken from the serde struct field that defines it (these structs rename
/// no field, so serde's key is the field's name): `key!(RawGlobal::stale_after)` is
/// `"stale_after"`, a path of fields is joined with dots (`key!(RawConfig::global,
/// RawGlobal::stale_after)` is `"global.stale_after"`). The compiler checks each field, so a
/// key renamed in its struct cannot live on under its old name in a message or a hint.
macro_rules! key {
    ($ty:ident :: $field:ident $(, $rty:ident :: $rfield:ident)*) => {{
        let _ = |r: &$ty| {
            let _ = &r.$field;
        };
        $(let _ = |r: &$rty| {
            let _ = &r.$rfield;
        };)*
        concat!(stringify!($field) $(, ".", stringify!($rfield))*)
    }};
}
pub(super) use key;

/// The keys the checks shared with the legacy format report, in this file.
const TOML_KEYS: KeyNames = KeyNames {
    keywords: [
        key!(RawConfig::global, RawGlobal::start_keyword),
        key!(RawConfig::global, RawGlobal::error_keyword),
        key!(RawConfig::global, RawGlobal::end_keyword),
    ],
    stale_after: key!(RawConfig::global, RawGlobal::stale_after),
    service_name: key!(RawConfig::output, RawOutput::service_name),
    source_field: |i, field| {
        source_key(
            i,
            match field {
                SourceKey::Name => key!(RawSource::name),
                SourceKey::Queue => key!(RawSource::queue),
                SourceKey::CheckmkHost => key!(RawSource::checkmk_host),
            },
        )
    },
    job_field: |i, field| {
        job_key(
            i,
            match field {
                JobKey::Name => key!(RawJob::name),
                JobKey::Env => key!(RawJob::env),
                JobKey::Source => key!(RawJob::source),
                JobKey::CyclicInterval => key!(RawJob::cyclic, RawCyclic::interval),
                JobKey::Timeout => key!(RawJob::timeout),
                JobKey::MinRunTime => key!(RawJob::min_run_time),
                JobKey::MaxErrorsBeforeAlerting => key!(RawJob::max_errors_before_alerting),
            },
        )
    },
};

/// `sources[i].field`.
fn source_key(i: usize, field: &str) -> String {
    format!("{}[{i}].{field}", key!(RawConfig::sources))
}

/// `jobs[i].field`, or `jobs[i]` itself for an empty `field`.
fn job_key(i: usize, field: &str) -> String {
    match field {
        "" => format!("{}[{i}]", key!(RawConfig::jobs)),
        _ => format!("{}[{i}].{field}", key!(RawConfig::jobs)),
    }
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) global: RawGlobal,
    #[serde(default)]
    pub(super) database: RawDatabase,
    #[serde(default)]
    pub(super) output: RawOutput,
    #[serde(default)]
    pub(super) sources: Vec<RawSource>,
    #[serde(default)]
    pub(super) jobs: Vec<RawJob>,
    pub(super) web: Option<super::web::RawWeb>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub(super) start_keyword: Option<String>,
    pub(super) error_keyword: Option<String>,
    pub(super) end_keyword: Option<String>,
    #[serde(
        default,
        deserialize_with = "de_opt_time_zone",
        serialize_with = "ser_opt_time_zone"
    )]
    pub(super) time_zone: Option<chrono_tz::Tz>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) poll_interval: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) message_grace_period: Option<Duration>,
    pub(super) quiet_window: Option<RawWindow>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) source_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) stale_after: Option<Duration>,
    pub(super) read_batch_size: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) retention: Option<Duration>,
    pub(super) log_level: Option<LogLevel>,
    pub(super) log_file: Option<PathBuf>,
}

#[derive(Deserialize, Serialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) from: TimeOfDay,
    pub(super) until: TimeOfDay,
}

/// Accepts any value; marks that a key was present (to refuse it with a tailored message).
#[derive(Clone, Copy)]
pub(super) struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present)
    }
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) conninfo: Option<String>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    pub(super) dbname: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
    pub(super) sslcert: Option<String>,
    pub(super) sslkey: Option<String>,
    pub(super) sslcrl: Option<String>,
    #[serde(skip_serializing)]
    pub(super) password: Option<Present>,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) state_dir: Option<PathBuf>,
    pub(super) spool_file: Option<PathBuf>,
    pub(super) service_prefix: Option<String>,
    pub(super) service_name: Option<ServiceTemplate>,
    pub(super) prometheus_file: Option<PathBuf>,
    pub(super) piggyback: Option<bool>,
    pub(super) event_console: Option<RawEventConsole>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEventConsole {
    #[serde(default, deserialize_with = "de_opt_ec_target")]
    pub(super) target: Option<EcTarget>,
    pub(super) outbox: Option<PathBuf>,
    pub(super) service_level: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_facility",
        serialize_with = "ser_opt_facility"
    )]
    pub(super) facility: Option<u8>,
    pub(super) host: Option<String>,
    pub(super) hostname: Option<String>,
    pub(super) app_name: Option<String>,
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
    pub(super) name: String,
    pub(super) local_queue: Option<PathBuf>,
    pub(super) address: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    pub(super) key: Option<PathBuf>,
    pub(super) known_hosts: Option<PathBuf>,
    pub(super) host_key_policy: Option<HostKeyPolicy>,
    pub(super) queue: Option<String>,
    pub(super) reader: Option<Reader>,
    pub(super) reader_command: Option<String>,
    pub(super) delete_after_commit: Option<bool>,
    pub(super) checkmk_host: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    pub(super) name: String,
    pub(super) env: String,
    pub(super) source: Option<String>,
    pub(super) cyclic: Option<RawCyclic>,
    pub(super) daily: Option<RawDaily>,
    pub(super) cron: Option<RawCron>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) timeout: Option<Duration>,
    pub(super) max_errors_before_alerting: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de_opt_duration",
        serialize_with = "ser_opt_duration"
    )]
    pub(super) min_run_time: Option<Duration>,
    pub(super) quiet_window: Option<RawWindow>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCyclic {
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub(super) interval: Duration,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaily {
    pub(super) start: TimeOfDay,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub(super) start_max_delay: Duration,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCron {
    #[serde(deserialize_with = "de_cron")]
    pub(super) expression: CronExpr,
    #[serde(deserialize_with = "de_duration", serialize_with = "ser_duration")]
    pub(super) start_max_delay: Duration,
}

fn de_cron<'de, D: Deserializer<'de>>(d: D) -> Result<CronExpr, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: CRON_EXPECTED,
        parse: CronExpr::parse,
    })
}

/// toml words a value as serde does.
fn toml_found(found: &Found) -> String {
    found.unexpected().to_string()
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
    // toml passes every value to the visitor, so the hints need not be changed.
    let raw: RawConfig = capture::deserialize(de, Hints::AsGiven).map_err(|f| {
        let line = f
            .error
            .as_ref()
            .and_then(|e| e.span())
            .map(|s| line_of(text, s.start));
        vec![match (&f.kind, &f.error) {
            (Some(kind), _) => from_serde(&f.path, kind, toml_found, line),
            (None, error) => from_format(
                &f.path,
                error
                    .as_ref()
                    .map(|e| e.message().to_owned())
                    .unwrap_or_default(),
                line,
            ),
        }]
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
    let web = super::web::convert(raw.web, problems);
    Config {
        global,
        database,
        output,
        sources,
        jobs,
        web,
    }
}

fn global(g: RawGlobal, problems: &mut Vec<Problem>) -> Global {
    positive(
        g.poll_interval,
        key!(RawConfig::global, RawGlobal::poll_interval),
        problems,
    );
    positive(
        g.source_timeout,
        key!(RawConfig::global, RawGlobal::source_timeout),
        problems,
    );
    positive(
        g.stale_after,
        key!(RawConfig::global, RawGlobal::stale_after),
        problems,
    );
    positive(
        g.retention,
        key!(RawConfig::global, RawGlobal::retention),
        problems,
    );
    if g.read_batch_size == Some(0) {
        problems.push(Problem::new(
            key!(RawConfig::global, RawGlobal::read_batch_size),
            "expected 1 or more",
        ));
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
        quiet_window: window(
            g.quiet_window,
            key!(RawConfig::global, RawGlobal::quiet_window),
            problems,
        ),
        source_timeout,
        stale_after: g
            .stale_after
            .unwrap_or_else(|| defaults::stale_after(poll_interval, source_timeout)),
        read_batch_size: g.read_batch_size.unwrap_or(defaults::READ_BATCH_SIZE),
        retention: g.retention,
        log_level: g.log_level.unwrap_or_default(),
        log_file: g.log_file,
    }
}

/// The connection settings; passwords are refused, here and inside `conninfo`.
fn database(d: RawDatabase, problems: &mut Vec<Problem>) -> Database {
    if d.password.is_some() {
        problems.push(Problem::new(
            key!(RawConfig::database, RawDatabase::password),
            "passwords do not belong in this file; put it in a pgpass file named by `password_file` (or PGPASSFILE / ~/.pgpass)",
        ));
    }
    if let Some(conninfo) = &d.conninfo {
        if conninfo_has_password(conninfo) {
            problems.push(Problem::new(
                key!(RawConfig::database, RawDatabase::conninfo),
                "contains a password; put it in a pgpass file named by `password_file` instead",
            ));
        }
        for (key, set) in [
            (key!(RawDatabase::host), d.host.is_some()),
            (key!(RawDatabase::port), d.port.is_some()),
            (key!(RawDatabase::user), d.user.is_some()),
            (key!(RawDatabase::dbname), d.dbname.is_some()),
            (key!(RawDatabase::sslmode), d.sslmode.is_some()),
            (key!(RawDatabase::sslrootcert), d.sslrootcert.is_some()),
            (key!(RawDatabase::sslcert), d.sslcert.is_some()),
            (key!(RawDatabase::sslkey), d.sslkey.is_some()),
            (key!(RawDatabase::sslcrl), d.sslcrl.is_some()),
        ] {
            if set {
                problems.push(Problem::new(
                    format!("{}.{key}", key!(RawConfig::database)),
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
        sslmode: d.sslmode,
        sslrootcert: d.sslrootcert,
        sslcert: d.sslcert,
        sslkey: d.sslkey,
        sslcrl: d.sslcrl,
    }
}

fn output(o: RawOutput, problems: &mut Vec<Problem>) -> Output {
    Output {
        state_dir: o.state_dir,
        spool_file: o.spool_file,
        service_prefix: o.service_prefix.unwrap_or_default(),
        service_name: o.service_name.unwrap_or_default(),
        prometheus_file: o.prometheus_file,
        piggyback: o.piggyback.unwrap_or(false),
        event_console: o.event_console.and_then(|ec| event_console(ec, problems)),
    }
}

/// `output.event_console.field`.
fn ec_key(field: &str) -> String {
    format!(
        "{}.{field}",
        key!(RawConfig::output, RawOutput::event_console)
    )
}

/// A syslog header field (RFC 5424 HOSTNAME, APP-NAME): 1 to `max` printable ASCII
/// characters. Refused rather than mangled, so the Event Console shows what was configured.
fn header_field(value: &Option<String>, key: &str, max: usize, problems: &mut Vec<Problem>) {
    if let Some(v) = value {
        if v.is_empty() || v.len() > max || !v.bytes().all(|b| b.is_ascii_graphic()) {
            problems.push(Problem::new(
                ec_key(key),
                format!("expected 1 to {max} printable ASCII characters without spaces, as an RFC 5424 header field allows"),
            ));
        }
    }
}

fn event_console(raw: RawEventConsole, problems: &mut Vec<Problem>) -> Option<EventConsole> {
    if raw.target.is_none() {
        problems.push(Problem::new(
            ec_key(key!(RawEventConsole::target)),
            format!("required key is missing; expected {EC_TARGET_EXPECTED}"),
        ));
    }
    if raw.outbox.is_none() {
        problems.push(Problem::new(
            ec_key(key!(RawEventConsole::outbox)),
            "required key is missing: name a file (e.g. /var/lib/jobmon-tracker/ec-outbox.sqlite) where the tracker keeps the last state sent per service and the events not yet delivered, so that a restart sends no duplicates and an Event Console outage loses no events",
        ));
    }
    header_field(
        &raw.hostname,
        key!(RawEventConsole::hostname),
        255,
        problems,
    );
    header_field(&raw.app_name, key!(RawEventConsole::app_name), 48, problems);
    if raw
        .host
        .as_ref()
        .is_some_and(|h| h.trim().is_empty() || h.contains(char::is_control))
    {
        problems.push(Problem::new(
            ec_key(key!(RawEventConsole::host)),
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
    let key = |k: &str| source_key(i, k);
    let transport = if let Some(queue) = s.local_queue {
        let ssh_keys = [
            (key!(RawSource::address), s.address.is_some()),
            (key!(RawSource::port), s.port.is_some()),
            (key!(RawSource::user), s.user.is_some()),
            (key!(RawSource::key), s.key.is_some()),
            (key!(RawSource::known_hosts), s.known_hosts.is_some()),
            (
                key!(RawSource::host_key_policy),
                s.host_key_policy.is_some(),
            ),
            (key!(RawSource::queue), s.queue.is_some()),
            (key!(RawSource::reader), s.reader.is_some()),
            (key!(RawSource::reader_command), s.reader_command.is_some()),
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
        let address = required(s.address, key!(RawSource::address));
        let user = required(s.user, key!(RawSource::user));
        let queue = required(s.queue, key!(RawSource::queue));
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
        problems.push(Problem::new(
            key(key!(RawSource::port)),
            "expected a port from 1 to 65535",
        ));
    }
    Source {
        name: s.name,
        transport,
        delete_after_commit: s.delete_after_commit.unwrap_or(true),
        checkmk_host: s.checkmk_host,
    }
}

fn job(i: usize, j: RawJob, problems: &mut Vec<Problem>) -> Job {
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
            job_key(i, ""),
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
    let quiet_window = window(
        j.quiet_window,
        &job_key(i, key!(RawJob::quiet_window)),
        problems,
    );
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
                retention: g.retention,
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
                sslmode: d.sslmode.clone(),
                sslrootcert: d.sslrootcert.clone(),
                sslcert: d.sslcert.clone(),
                sslkey: d.sslkey.clone(),
                sslcrl: d.sslcrl.clone(),
                password: None,
            },
            output: RawOutput {
                state_dir: o.state_dir.clone(),
                spool_file: o.spool_file.clone(),
                service_prefix: Some(o.service_prefix.clone()),
                service_name: Some(o.service_name.clone()),
                prometheus_file: o.prometheus_file.clone(),
                piggyback: Some(o.piggyback),
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
            web: c.web.as_ref().map(super::web::RawWeb::from),
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
            checkmk_host: s.checkmk_host.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `key!` names a field as serde reads it: a bad value written under each key is
    /// reported by serde at that key.
    #[test]
    fn keys_are_the_names_serde_reads() {
        let keys = [
            TOML_KEYS.keywords[0],
            TOML_KEYS.keywords[1],
            TOML_KEYS.keywords[2],
            TOML_KEYS.stale_after,
            TOML_KEYS.service_name,
            key!(RawConfig::global, RawGlobal::poll_interval),
            key!(RawConfig::global, RawGlobal::source_timeout),
            key!(RawConfig::global, RawGlobal::read_batch_size),
            key!(RawConfig::global, RawGlobal::retention),
            key!(RawConfig::global, RawGlobal::quiet_window),
            key!(RawConfig::global, RawGlobal::time_zone),
            key!(RawConfig::database, RawDatabase::conninfo),
            key!(RawConfig::database, RawDatabase::host),
            key!(RawConfig::database, RawDatabase::port),
            key!(RawConfig::database, RawDatabase::user),
            key!(RawConfig::database, RawDatabase::dbname),
            key!(RawConfig::database, RawDatabase::password_file),
            key!(RawConfig::database, RawDatabase::sslmode),
            key!(RawConfig::database, RawDatabase::sslrootcert),
            key!(RawConfig::database, RawDatabase::sslcert),
            key!(RawConfig::database, RawDatabase::sslkey),
            key!(RawConfig::database, RawDatabase::sslcrl),
            key!(RawConfig::output, RawOutput::event_console),
        ];
        for key in keys {
            let problems = parse(&format!("{key} = [[]]\n")).expect_err(key);
            assert!(problems[0].key.starts_with(key), "{key}: {problems:?}");
        }
        assert_eq!(
            TOML_KEYS.stale_after, "global.stale_after",
            "a path is joined with dots"
        );
    }
}
