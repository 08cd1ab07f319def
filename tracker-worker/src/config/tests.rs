//! Configuration tests: the shipped example, the legacy JSON in both spellings, the
//! import round trip, and each kind of error naming the file and the key.

use super::*;
use crate::host::local_hostname;
use crate::output::EcHeader;
use std::path::Path;
use std::time::Duration;

const EXAMPLE: &str = include_str!("../../examples/jobmon-tracker.toml");

fn toml(text: &str) -> Result<Config, ConfigError> {
    parse_toml(Path::new("/etc/jt.toml"), text)
}

/// The single problem of an invalid TOML text, with the full error text.
fn problem(text: &str) -> (Problem, String) {
    let err = toml(text).expect_err("config must be rejected");
    let rendered = err.to_string();
    assert!(rendered.starts_with("/etc/jt.toml"), "{rendered}");
    (err.problems()[0].clone(), rendered)
}

const MINIMAL: &str = r#"
[[sources]]
name = "here"
local_queue = "/tmp/q.sqlite"

[[jobs]]
name = "J"
env = "P"
cyclic = { interval = "5m" }
"#;

#[test]
fn the_shipped_example_loads_with_every_key() {
    let loaded = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/jobmon-tracker.toml"))
        .expect("example is valid");
    let c = loaded.config;
    assert_eq!(loaded.format, Format::Toml);
    assert_eq!(c.global.time_zone, Some(chrono_tz::Europe::Berlin));
    assert_eq!(
        c.global.quiet_window.map(|w| w.to_string()),
        Some("00:00-04:00".into())
    );
    assert_eq!(c.sources.len(), 2);
    let Transport::Ssh(ssh) = &c.sources[0].transport else {
        panic!("first source is SSH")
    };
    assert_eq!(
        (ssh.port, ssh.reader, ssh.host_key_policy),
        (22, Reader::Sqlite3, HostKeyPolicy::Strict)
    );
    assert_eq!(
        c.sources[1].transport,
        Transport::Local {
            queue: "/var/spool/jobmon/queue.sqlite".into()
        }
    );
    assert!(!c.sources[1].delete_after_commit);
    let web = c.web.as_ref().expect("the example has a [web] table");
    assert_eq!(web.listen.to_string(), "127.0.0.1:8470");
    assert!(web.tls.is_none() && !web.insecure);
    assert_eq!(c.sources[0].checkmk_host(), "dwh1");
    assert_eq!(c.sources[1].checkmk_host, None);
    assert!(!c.output.piggyback);
    assert_eq!(c.jobs.len(), 3);
    assert_eq!(
        c.jobs[0].schedule,
        Schedule::Cyclic {
            interval: Duration::from_secs(900)
        }
    );
    assert_eq!(
        c.jobs[1].schedule,
        Schedule::Daily {
            start: TimeOfDay {
                hour: 2,
                minute: 30
            },
            start_max_delay: Duration::from_secs(1800)
        }
    );
    assert_eq!(c.jobs[2].timeout, Some(Duration::from_secs(3600)));
    assert!(
        matches!(&c.jobs[2].schedule, Schedule::Cron { expression, .. } if expression.as_str() == "45 6 * * mon-fri")
    );
    assert_eq!(c.jobs[1].max_errors_before_alerting, 3);
    assert_eq!(c.jobs[1].source, None);
    assert_eq!(c.global.stale_after, Duration::from_secs(300));
    assert_eq!(c.output.service_name.as_str(), "{prefix}{job}_{env}");
    assert_eq!(
        c.output.prometheus_file.as_deref(),
        Some(Path::new("/var/lib/prometheus/node-exporter/jobmon.prom"))
    );
    let output_warnings: Vec<String> = warnings(&c)
        .into_iter()
        .filter(|w| w.starts_with("output."))
        .collect();
    assert!(output_warnings.is_empty(), "{output_warnings:?}");
}

#[test]
fn staleness_bound_defaults_to_the_poll_rhythm() {
    let c = toml(MINIMAL).unwrap();
    assert_eq!(c.global.stale_after, Duration::from_secs(300));
    let slow = toml(&format!(
        "[global]\npoll_interval = \"5m\"\nsource_timeout = \"1m\"\n{MINIMAL}"
    ))
    .unwrap();
    assert_eq!(slow.global.stale_after, Duration::from_secs(16 * 60));
    assert_eq!(toml(&to_toml(&slow, &[])).unwrap(), slow);
    let (p, _) = problem(&format!("[global]\nstale_after = \"10s\"\n{MINIMAL}"));
    assert_eq!(p.key, "global.stale_after");
    assert!(
        p.message.contains("longer than poll_interval (10s)"),
        "{}",
        p.message
    );
    let (p, _) = problem(&format!("[global]\nstale_after = \"0s\"\n{MINIMAL}"));
    assert_eq!(p.key, "global.stale_after");
}

#[test]
fn retention_is_unbounded_by_default_and_a_positive_duration_when_set() {
    assert_eq!(toml(MINIMAL).unwrap().global.retention, None);
    let c = toml(&format!("[global]\nretention = \"400days\"\n{MINIMAL}")).unwrap();
    assert_eq!(c.global.retention, Some(Duration::from_secs(400 * 86400)));
    assert_eq!(toml(&to_toml(&c, &[])).unwrap(), c, "written back as read");
    let (p, _) = problem(&format!("[global]\nretention = \"0s\"\n{MINIMAL}"));
    assert_eq!(p.key, "global.retention");
    let (p, _) = problem(&format!("[global]\nretention = \"forever\"\n{MINIMAL}"));
    assert_eq!(p.key, "global.retention");
}

#[test]
fn service_names_come_from_a_checked_template() {
    let two_envs = format!(
        "{MINIMAL}\n[[jobs]]\nname = \"J\"\nenv = \"Q\"\ncyclic = {{ interval = \"5m\" }}\n"
    );
    let c = toml(&format!(
        "[output]\nservice_name = \"jobs/{{env_lower}}/{{job}}\"\n{two_envs}"
    ))
    .unwrap();
    assert_eq!(c.output.service_name.render("", "J", "Q"), "jobs/q/J");
    assert_eq!(toml(&to_toml(&c, &[])).unwrap(), c);
    let (p, _) = problem(&format!(
        "[output]\nservice_name = \"{{prefix}}{{job}}\"\n{two_envs}"
    ));
    assert_eq!(p.key, "output.service_name");
    assert!(
        p.message
            .contains("jobs[0] and jobs[1] get the same Checkmk service name `J`"),
        "{}",
        p.message
    );
    let (p, _) = problem(&format!(
        "[output]\nservice_name = \"{{prefix}}{{jbo}}\"\n{MINIMAL}"
    ));
    assert_eq!(p.key, "output.service_name");
    assert!(
        p.message.contains("unknown placeholder `{jbo}`"),
        "{}",
        p.message
    );
}

#[test]
fn risky_output_paths_are_warned_about() {
    let c = toml(&format!(
        "[output]\nspool_file = \"/var/lib/check_mk_agent/spool/jobmon.txt\"\nprometheus_file = \"/tmp/jobmon.txt\"\n{MINIMAL}"
    ))
    .unwrap();
    let w = warnings(&c).join("\n");
    assert!(w.contains("does not start with an age in seconds"), "{w}");
    assert!(w.contains("does not end in .prom"), "{w}");
    let c = toml(&format!(
        "[output]\nspool_file = \"/spool/5_jobmon.txt\"\n{MINIMAL}"
    ))
    .unwrap();
    let w = warnings(&c).join("\n");
    assert!(
        w.contains("its age limit 5 s is not longer than poll_interval (10s)"),
        "{w}"
    );
}

#[test]
fn piggyback_hosts_default_to_the_source_name_and_must_fit_a_piggyback_header() {
    let on = format!("[output]\npiggyback = true\n{MINIMAL}");
    let c = toml(&on).unwrap();
    assert!(c.output.piggyback);
    assert_eq!(c.sources[0].checkmk_host(), "here");
    let text = summary(&c);
    assert!(text.contains("piggyback: on"), "{text}");
    assert!(text.contains("Checkmk host here"), "{text}");
    assert_eq!(
        toml(&to_toml(&c, &[])).unwrap(),
        c,
        "piggyback survives a round trip"
    );

    let spaced = on.replace("name = \"here\"", "name = \"my host\"");
    let (p, rendered) = problem(&spaced);
    assert_eq!(p.key, "sources[0].name");
    assert!(
        rendered.contains("the source name `my host` cannot be a Checkmk piggyback host name: it contains white space or control characters; set `checkmk_host`"),
        "{rendered}"
    );
    // Without piggyback the name is never used as a host.
    assert!(toml(&spaced.replace("piggyback = true", "piggyback = false")).is_ok());

    let bad_host = MINIMAL.replace(
        "local_queue = \"/tmp/q.sqlite\"",
        "local_queue = \"/tmp/q.sqlite\"\ncheckmk_host = \"<dwh1>\"",
    );
    let (p, rendered) = problem(&bad_host);
    assert_eq!(p.key, "sources[0].checkmk_host");
    assert!(rendered.contains("contains `<` or `>`"), "{rendered}");
}

#[test]
fn printed_toml_reads_back_to_the_same_config() {
    let c = toml(EXAMPLE).unwrap();
    let again = toml(&to_toml(&c, &[])).unwrap();
    assert_eq!(again, c);
}

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    let c = toml(MINIMAL).unwrap();
    assert_eq!(c.global, Global::default());
    assert_eq!(c.global.start_keyword, "STARTED");
    assert_eq!(c.global.poll_interval, Duration::from_secs(10));
    assert_eq!(c.database, Database::default());
    assert_eq!(c.jobs[0].max_errors_before_alerting, 1);
    assert!(c.sources[0].delete_after_commit);
    assert_eq!(toml(&to_toml(&c, &[])).unwrap(), c);
}

#[test]
fn a_wrong_type_names_file_key_and_expectation() {
    let (p, text) = problem(&format!("{MINIMAL}timeout = 600\n"));
    assert_eq!(p.key, "jobs[0].timeout");
    assert!(
        p.message.starts_with("expected a duration such as"),
        "{}",
        p.message
    );
    assert!(p.message.contains("found integer `600`"), "{}", p.message);
    assert_eq!(p.line, Some(10));
    assert!(
        text.contains("/etc/jt.toml:10: key `jobs[0].timeout`: expected a duration"),
        "{text}"
    );

    let (p, _) = problem("[global]\npoll_interval = \"soon\"\n");
    assert_eq!(p.key, "global.poll_interval");
    assert!(
        p.message.contains("`soon` is not a duration"),
        "{}",
        p.message
    );
}

#[test]
fn bad_values_inside_tables_name_the_nested_key() {
    let text = MINIMAL.replace(
        "cyclic = { interval = \"5m\" }",
        "daily = { start = \"25:00\", start_max_delay = \"5m\" }",
    );
    let (p, _) = problem(&text);
    assert_eq!(p.key, "jobs[0].daily.start");
    assert!(p.message.contains("`25:00` is not HH:MM"), "{}", p.message);

    let text = MINIMAL.replace(
        "local_queue = \"/tmp/q.sqlite\"",
        "address = \"h\"\nuser = \"u\"\nqueue = \"/q\"\nhost_key_policy = \"loose\"",
    );
    let (p, _) = problem(&text);
    assert_eq!(p.key, "sources[0].host_key_policy");
    assert_eq!(
        p.message,
        "unknown value `loose`; expected one of: strict, accept-new, off"
    );

    let (p, _) = problem("[global]\ntime_zone = \"Europe/Berln\"\n");
    assert_eq!(p.key, "global.time_zone");
    assert!(
        p.message.contains("unknown time zone `Europe/Berln`"),
        "{}",
        p.message
    );

    let text = MINIMAL.replace(
        "cyclic = { interval = \"5m\" }",
        "cron = { expression = \"61 * * * *\", start_max_delay = \"5m\" }",
    );
    let (p, _) = problem(&text);
    assert_eq!(p.key, "jobs[0].cron.expression");
    assert!(p.message.contains("minute field"), "{}", p.message);
}

#[test]
fn an_unknown_key_is_named_with_the_allowed_keys() {
    let (p, text) = problem(&format!("{MINIMAL}tiemout = \"5m\"\n"));
    assert_eq!(p.key, "jobs[0].tiemout");
    assert!(
        p.message.starts_with(
            "unknown key; allowed keys here: name, env, source, cyclic, daily, cron, timeout,"
        ),
        "{}",
        p.message
    );
    assert!(text.contains("key `jobs[0].tiemout`"), "{text}");

    let (p, _) = problem("[globl]\n");
    assert_eq!(p.key, "globl");
    assert!(
        p.message
            .contains("global, database, output, sources, jobs"),
        "{}",
        p.message
    );
}

#[test]
fn a_missing_required_key_is_named() {
    let (p, text) = problem(&MINIMAL.replace("name = \"J\"\n", ""));
    assert_eq!(
        (p.key.as_str(), p.message.as_str()),
        ("jobs[0].name", "required key is missing")
    );
    assert!(text.contains("/etc/jt.toml"), "{text}");

    let (p, _) = problem(
        &MINIMAL
            .replace("{ interval = \"5m\" }", "{ }")
            .replace("cyclic", "daily"),
    );
    assert_eq!(p.key, "jobs[0].daily.start");

    let err =
        toml(&MINIMAL.replace("local_queue = \"/tmp/q.sqlite\"", "address = \"h\"")).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["sources[0].user", "sources[0].queue"]);
}

#[test]
fn cross_field_rules_report_every_problem() {
    let text = r#"
[global]
end_keyword = "STARTED"
quiet_window = { from = "04:00", until = "04:00" }

[database]
conninfo = "host=db password=secret"
password = "secret"
user = "x"

[[sources]]
name = "a"
local_queue = "/q"
user = "oracle"

[[sources]]
name = "a"
local_queue = "/q2"

[[jobs]]
name = "j"
env = "p"
source = "nowhere"
cyclic = { interval = "0s" }
daily = { start = "02:00", start_max_delay = "5m" }

[[jobs]]
name = "J"
env = "P"
cyclic = { interval = "0s" }
timeout = "5m"
min_run_time = "10m"
max_errors_before_alerting = 0
"#;
    let err = toml(text).unwrap_err();
    let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
    for key in [
        "global.end_keyword",
        "global.quiet_window",
        "database.password",
        "database.conninfo",
        "database.user",
        "sources[0].user",
        "sources[1].name",
        "jobs[0]",
        "jobs[0].source",
        "jobs[1].name",
        "jobs[1].cyclic.interval",
        "jobs[1].min_run_time",
        "jobs[1].max_errors_before_alerting",
    ] {
        assert!(keys.contains(&key), "{key} missing in {keys:?}");
    }
    let rendered = err.to_string();
    assert!(
        rendered.contains("no source named `nowhere`; defined sources: a"),
        "{rendered}"
    );
    assert!(
        rendered.lines().all(|l| l.starts_with("/etc/jt.toml")),
        "{rendered}"
    );
}

#[test]
fn a_syntax_error_gives_the_line() {
    let (p, text) = problem("[global]\npoll_interval = \"10s\nx = 1\n");
    assert_eq!(p.line, Some(2));
    assert!(
        text.starts_with("/etc/jt.toml:2: TOML syntax error"),
        "{text}"
    );
}

const LEGACY_CODE_SPELLING: &str = r#"{
  "global_config": [{
    "log_level": "info",
    "log_file": "/var/log/job_tracker.log",
    "monitoring_backend_based_on_event_or_status": "status",
    "monitoring_servicename_prefix_without_spaces": "odi_job_",
    "jobs_start_keyword": "STARTED",
    "jobs_error_keyword": "ERROR",
    "jobs_end_keyword": "SUCCESS",
    "job_history_entry_count": 100,
    "snooze_for_cyclic_jobs_from_hh:mm": "22:00",
    "snooze_for_cyclic_jobs_until_hh:mm": "04:00",
    "controller_interval_in_sec": 10,
    "controller_data_load_timeout": 5,
    "controller_message_grace_period_in_sec": 30.5
  }],
  "source_hosts": [{
    "hostname": "app1-local",
    "user": "oracle",
    "key": "",
    "message_queue": "/home/oracle/oem-status-check/status/odi-jobs-status-queue.sqlite",
    "message_queue_handler": "python /home/oracle/oem-status-check/tasks/message-queue.py"
  }],
  "jobs": [
    {"name": "LOAD_ORDERS", "env": "P", "cyclic_or_daily": "cyclic",
     "cyclic_interval_hh:mm:ss": "00:15:00", "daily_start_time_hh:mm": "",
     "daily_start_max_delay_hh:mm:ss": "", "timeout_hh:mm:ss": "00:10:00",
     "max_errors_before_alerting": 2},
    {"name": "LOAD_DWH", "env": "P", "cyclic_or_daily": "daily",
     "cyclic_interval_hh:mm:ss": "", "daily_start_time_hh:mm": "02:30",
     "daily_start_max_delay_hh:mm:ss": "00:30:00", "timeout_hh:mm:ss": "02:00:00",
     "max_errors_before_alerting": 1}
  ]
}"#;

/// The same file with the keys as the old README spelled them.
fn readme_spelling() -> String {
    LEGACY_CODE_SPELLING
        .replace(
            "snooze_for_cyclic_jobs_from_hh:mm",
            "no_timeout_for_cyclic_jobs_from_in_hh:mm",
        )
        .replace(
            "snooze_for_cyclic_jobs_until_hh:mm",
            "no_timeout_for_cyclic_jobs_until_in_hh:mm",
        )
        .replace("cyclic_interval_hh:mm:ss", "cyclic_interval_in_hh:mm:ss")
        .replace("daily_start_time_hh:mm", "daily_start_time_in_hh:mm")
        .replace(
            "daily_start_max_delay_hh:mm:ss",
            "start_max_delay_in_hh:mm:ss",
        )
        .replace("timeout_hh:mm:ss", "timeout_in_hh:mm:ss")
}

fn legacy(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    parse_legacy(Path::new("/etc/job_tracker.cfg"), text)
}

#[test]
fn legacy_json_in_both_spellings_gives_the_same_config() {
    let (code, notes) = legacy(LEGACY_CODE_SPELLING).unwrap();
    let (readme, _) = legacy(&readme_spelling()).unwrap();
    assert_eq!(code, readme);
    let g = &code.global;
    assert_eq!(
        g.quiet_window.map(|w| w.to_string()),
        Some("22:00-04:00 (wraps midnight)".into())
    );
    assert_eq!(g.message_grace_period, Duration::from_millis(30_500));
    assert_eq!(
        (g.poll_interval, g.source_timeout),
        (Duration::from_secs(10), Duration::from_secs(5))
    );
    assert_eq!(g.read_batch_size, 100);
    assert_eq!(code.output.service_prefix, "odi_job_");
    assert_eq!(
        code.output.state_dir.as_deref(),
        Some(Path::new("/var/run/job_tracker"))
    );
    let Transport::Ssh(ssh) = &code.sources[0].transport else {
        panic!("SSH source")
    };
    assert_eq!(
        (ssh.address.as_str(), ssh.key.as_ref()),
        ("app1-local", None)
    );
    assert_eq!(ssh.host_key_policy, HostKeyPolicy::Strict);
    assert_eq!(
        code.jobs[0].schedule,
        Schedule::Cyclic {
            interval: Duration::from_secs(900)
        }
    );
    assert_eq!(code.jobs[0].max_errors_before_alerting, 2);
    assert_eq!(
        code.jobs[1].schedule,
        Schedule::Daily {
            start: TimeOfDay {
                hour: 2,
                minute: 30
            },
            start_max_delay: Duration::from_secs(1800)
        }
    );
    assert!(
        notes.iter().any(|n| n.contains("StrictHostKeyChecking=no")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("message-queue.py")),
        "{notes:?}"
    );
    // The old service names (prefix + job in lower case) are kept.
    assert_eq!(code.output.service_name.as_str(), "{prefix}{job_lower}");
    assert_eq!(
        code.output
            .service_name
            .render(&code.output.service_prefix, "LOAD_DWH", "P"),
        "odi_job_load_dwh"
    );
    assert_eq!(code.global.stale_after, Duration::from_secs(300));
}

#[test]
fn legacy_jobs_in_two_environments_get_one_service_each() {
    let two = LEGACY_CODE_SPELLING.replace(
        "{\"name\": \"LOAD_DWH\", \"env\": \"P\"",
        "{\"name\": \"load_orders\", \"env\": \"Q\"",
    );
    let (config, notes) = legacy(&two).unwrap();
    assert_eq!(config.output.service_name.as_str(), "{prefix}{job}_{env}");
    assert!(
        notes.iter().any(|n| n.contains("rediscover the services")),
        "{notes:?}"
    );
}

#[test]
fn imported_toml_parses_back_to_the_same_config() {
    let (config, notes) = legacy(LEGACY_CODE_SPELLING).unwrap();
    let text = to_toml(&config, &notes);
    assert!(text.starts_with("# Converted from a job_tracker (2016) JSON configuration."));
    assert_eq!(toml(&text).unwrap(), config, "{text}");
}

#[test]
fn legacy_errors_name_the_legacy_key() {
    let both = LEGACY_CODE_SPELLING.replace(
        "\"timeout_hh:mm:ss\": \"00:10:00\",",
        "\"timeout_hh:mm:ss\": \"00:10:00\", \"timeout_in_hh:mm:ss\": \"00:20:00\",",
    );
    let err = legacy(&both).unwrap_err();
    assert_eq!(err.problems()[0].key, "jobs[0].timeout_in_hh:mm:ss");
    assert!(err.to_string().starts_with("/etc/job_tracker.cfg: key `jobs[0].timeout_in_hh:mm:ss`: same setting as `timeout_hh:mm:ss`"), "{err}");

    let wrong_type = LEGACY_CODE_SPELLING.replace(
        "\"max_errors_before_alerting\": 2",
        "\"max_errors_before_alerting\": \"2\"",
    );
    let err = legacy(&wrong_type).unwrap_err();
    let p = &err.problems()[0];
    assert_eq!(p.key, "jobs[0].max_errors_before_alerting");
    assert!(
        p.message
            .starts_with("expected a whole number from 0 to 4294967295, found string \"2\""),
        "{}",
        p.message
    );
    assert!(p.line.is_some());

    let unknown = LEGACY_CODE_SPELLING.replace(
        "\"user\": \"oracle\",",
        "\"user\": \"oracle\", \"port\": 2222,",
    );
    let p = &legacy(&unknown).unwrap_err().problems()[0].clone();
    assert_eq!(p.key, "source_hosts[0].port");
    assert!(
        p.message.contains(
            "allowed keys here: hostname, user, key, message_queue, message_queue_handler"
        ),
        "{}",
        p.message
    );

    let missing = LEGACY_CODE_SPELLING.replace("\"hostname\": \"app1-local\",", "");
    assert_eq!(
        legacy(&missing).unwrap_err().problems()[0].key,
        "source_hosts[0].hostname"
    );

    let bad_time = LEGACY_CODE_SPELLING.replace("\"00:15:00\"", "\"15 minutes\"");
    let p = &legacy(&bad_time).unwrap_err().problems()[0].clone();
    assert_eq!(p.key, "jobs[0].cyclic_interval_hh:mm:ss");
    assert!(p.message.contains("expected \"hh:mm:ss\""), "{}", p.message);

    let no_interval =
        LEGACY_CODE_SPELLING.replace("\"cyclic_interval_hh:mm:ss\": \"00:15:00\",", "");
    assert_eq!(
        legacy(&no_interval).unwrap_err().problems()[0].key,
        "jobs[0].cyclic_interval_hh:mm:ss"
    );

    let half_window =
        LEGACY_CODE_SPELLING.replace("\"snooze_for_cyclic_jobs_until_hh:mm\": \"04:00\",", "");
    assert_eq!(
        legacy(&half_window).unwrap_err().problems()[0].key,
        "global_config[0].snooze_for_cyclic_jobs_from_hh:mm"
    );
}

#[test]
fn format_is_detected_from_name_then_content() {
    assert_eq!(Format::detect(Path::new("a.json"), ""), Format::LegacyJson);
    assert_eq!(
        Format::detect(Path::new("job_tracker.cfg"), ""),
        Format::LegacyJson
    );
    assert_eq!(Format::detect(Path::new("a.toml"), "{"), Format::Toml);
    assert_eq!(
        Format::detect(Path::new("conf"), "  {\"jobs\": []}"),
        Format::LegacyJson
    );
    assert_eq!(Format::detect(Path::new("conf"), "[global]"), Format::Toml);
}

#[test]
fn an_unreadable_file_is_named() {
    let err = load(Path::new("/nonexistent/jobmon.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/jobmon.toml: cannot read:"),
        "{err}"
    );
}

fn with_ec(table: &str) -> String {
    format!("{MINIMAL}\n[output.event_console]\n{table}")
}

/// The event console table of a valid text.
fn ec(table: &str) -> EventConsole {
    toml(&with_ec(table))
        .unwrap_or_else(|e| panic!("{e}"))
        .output
        .event_console
        .expect("event console configured")
}

#[test]
fn event_console_targets_in_every_form() {
    let cases = [
        (
            "unix:/omd/sites/mysite/tmp/run/mkeventd/eventsocket",
            EcTarget::Unix("/omd/sites/mysite/tmp/run/mkeventd/eventsocket".into()),
            "unix:/omd/sites/mysite/tmp/run/mkeventd/eventsocket",
        ),
        (
            "pipe:/omd/sites/mysite/tmp/run/mkeventd/events",
            EcTarget::Pipe("/omd/sites/mysite/tmp/run/mkeventd/events".into()),
            "pipe:/omd/sites/mysite/tmp/run/mkeventd/events",
        ),
        (
            "udp:monitor.example.com",
            EcTarget::Udp {
                host: "monitor.example.com".into(),
                port: 514,
            },
            "udp:monitor.example.com:514",
        ),
        (
            "udp:10.0.0.5:1514",
            EcTarget::Udp {
                host: "10.0.0.5".into(),
                port: 1514,
            },
            "udp:10.0.0.5:1514",
        ),
        (
            "tcp:[::1]:6514",
            EcTarget::Tcp {
                host: "::1".into(),
                port: 6514,
            },
            "tcp:[::1]:6514",
        ),
        (
            "tcp:[fe80::1]",
            EcTarget::Tcp {
                host: "fe80::1".into(),
                port: 514,
            },
            "tcp:[fe80::1]:514",
        ),
    ];
    for (text, target, shown) in cases {
        let c = ec(&format!(
            "target = \"{text}\"\noutbox = \"/var/lib/jobmon-tracker/ec.sqlite\"\n"
        ));
        assert_eq!(c.target, target, "{text}");
        assert_eq!(c.target.to_string(), shown);
        assert_eq!(EcTarget::parse(shown), Ok(target));
    }
}

#[test]
fn event_console_defaults_and_round_trip() {
    let c = ec("target = \"udp:monitor\"\noutbox = \"/var/lib/jobmon-tracker/ec.sqlite\"\n");
    assert_eq!(
        c,
        EventConsole {
            target: EcTarget::Udp {
                host: "monitor".into(),
                port: 514
            },
            outbox: "/var/lib/jobmon-tracker/ec.sqlite".into(),
            service_level: 0,
            facility: 1,
            host: None,
            hostname: None,
            app_name: "jobmon-tracker".into(),
        }
    );
    let full = toml(&with_ec(
        r#"target = "tcp:[::1]"
outbox = "/var/lib/jobmon-tracker/ec.sqlite"
service_level = 20
facility = "local3"
host = "dwh-prod"
hostname = "tracker1.example.com"
app_name = "jobs"
"#,
    ))
    .unwrap();
    let c = full.output.event_console.clone().unwrap();
    assert_eq!(
        (c.facility, c.service_level, c.host.as_deref()),
        (19, 20, Some("dwh-prod"))
    );
    let text = to_toml(&full, &[]);
    assert!(
        text.contains("[output.event_console]\ntarget = \"tcp:[::1]:514\"\n"),
        "{text}"
    );
    assert!(text.contains("facility = \"local3\"\n"), "{text}");
    assert_eq!(toml(&text).unwrap(), full);
    let minimal = toml(&with_ec(
        "target = \"pipe:/run/ec/events\"\noutbox = \"ec.sqlite\"\nfacility = 16\n",
    ))
    .unwrap();
    assert_eq!(minimal.output.event_console.as_ref().unwrap().facility, 16);
    assert_eq!(toml(&to_toml(&minimal, &[])).unwrap(), minimal);
    assert_eq!(toml(MINIMAL).unwrap().output.event_console, None);
}

#[test]
fn event_console_bad_targets_name_the_key_and_the_accepted_forms() {
    let cases = [
        (
            "eventsocket",
            "`eventsocket` does not start with unix:, pipe:, udp: or tcp:",
        ),
        ("syslog:host", "`syslog:host`: unknown transport `syslog`"),
        (
            "unix:run/eventsocket",
            "expected an absolute path after `unix:`",
        ),
        ("pipe:", "expected an absolute path after `pipe:`"),
        ("udp:", "expected a host name or address"),
        ("udp:host:0", "`0` is not a port from 1 to 65535"),
        ("tcp:host:70000", "`70000` is not a port from 1 to 65535"),
        ("tcp:host:syslog", "`syslog` is not a port from 1 to 65535"),
        ("udp:::1:514", "write an IPv6 address in brackets"),
        ("tcp:[::1", "needs its closing `]`"),
        ("tcp:[::1]514", "expected `:port` after `]`"),
        (
            "udp:[monitor]:514",
            "`monitor` in brackets is not an IPv6 address",
        ),
    ];
    for (value, why) in cases {
        let (p, text) = problem(&with_ec(&format!(
            "target = \"{value}\"\noutbox = \"/tmp/ec.sqlite\"\n"
        )));
        assert_eq!(p.key, "output.event_console.target", "{value}");
        assert!(p.message.contains(why), "{value}: {}", p.message);
        assert!(
            p.message.contains(
                "expected \"unix:/path\" (the Event Console's event socket), \"pipe:/path\""
            ),
            "{value}: {}",
            p.message
        );
        assert!(text.contains("key `output.event_console.target`"), "{text}");
    }
    let (p, _) = problem(&with_ec("target = 514\noutbox = \"/tmp/ec.sqlite\"\n"));
    assert_eq!(p.key, "output.event_console.target");
    assert!(p.message.contains("found integer `514`"), "{}", p.message);
    let (p, _) = problem(&with_ec("outbox = \"/tmp/ec.sqlite\"\n"));
    assert_eq!(p.key, "output.event_console.target");
    assert!(
        p.message
            .starts_with("required key is missing; expected \"unix:/path\""),
        "{}",
        p.message
    );
}

#[test]
fn event_console_other_bad_values_are_named() {
    let (p, _) = problem(&with_ec("target = \"udp:monitor\"\n"));
    assert_eq!(p.key, "output.event_console.outbox");
    assert!(
        p.message.contains("keeps the last state sent per service and the events not yet delivered, so that a restart sends no duplicates"),
        "{}",
        p.message
    );
    let base = "target = \"udp:monitor\"\noutbox = \"/tmp/ec.sqlite\"\n";
    let (p, _) = problem(&with_ec(&format!("{base}facility = \"local8\"\n")));
    assert_eq!(p.key, "output.event_console.facility");
    assert!(
        p.message.starts_with(
            "unknown facility `local8`; expected a facility name (user, daemon, local0 to local7"
        ),
        "{}",
        p.message
    );
    let (p, _) = problem(&with_ec(&format!("{base}facility = 24\n")));
    assert_eq!(p.key, "output.event_console.facility");
    assert!(
        p.message.contains("facility 24 is out of range")
            && p.message.contains("a number from 0 to 23"),
        "{}",
        p.message
    );
    let (p, _) = problem(&with_ec(&format!("{base}service_level = -1\n")));
    assert_eq!(p.key, "output.event_console.service_level");
    let (p, _) = problem(&with_ec(&format!("{base}hostname = \"my host\"\n")));
    assert_eq!(p.key, "output.event_console.hostname");
    assert!(
        p.message.contains("1 to 255 printable ASCII characters"),
        "{}",
        p.message
    );
    let (p, _) = problem(&with_ec(&format!(
        "{base}app_name = \"{}\"\n",
        "a".repeat(49)
    )));
    assert_eq!(p.key, "output.event_console.app_name");
    assert!(p.message.contains("1 to 48"), "{}", p.message);
    let (p, _) = problem(&with_ec(&format!("{base}host = \" \"\n")));
    assert_eq!(p.key, "output.event_console.host");
    let (p, _) = problem(&with_ec(&format!("{base}sevice_level = 10\n")));
    assert_eq!(p.key, "output.event_console.sevice_level");
    assert_eq!(
        p.message,
        "unknown key; allowed keys here: target, outbox, service_level, facility, host, hostname, app_name"
    );
}

#[test]
fn event_console_format_takes_the_header_fields() {
    let c = ec(
        "target = \"udp:monitor\"\noutbox = \"/tmp/ec.sqlite\"\nhostname = \"tracker1\"\nfacility = \"daemon\"\nservice_level = 10\nhost = \"dwh\"\n",
    );
    assert_eq!(
        c.format(),
        crate::output::EcFormat {
            hostname: "tracker1".into(),
            app_name: "jobmon-tracker".into(),
            facility: 3,
            service_level: 10,
            host: Some("dwh".into()),
        }
    );
    let unset = ec("target = \"udp:monitor\"\noutbox = \"/tmp/ec.sqlite\"\n");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(unset.format().hostname, kernel.trim());
    assert_eq!(local_hostname(), kernel.trim());
}

#[test]
fn config_check_shows_the_event_console_and_warns_about_missing_files() {
    let dir = std::env::temp_dir();
    let c = toml(&with_ec(&format!(
        "target = \"unix:{0}/jobmon-no-such-dir/eventsocket\"\noutbox = \"{0}/jobmon-no-such-dir/ec.sqlite\"\nfacility = \"local0\"\n",
        dir.display()
    )))
    .unwrap();
    let text = summary(&c);
    assert!(
        text.contains(&format!(
            "  Event Console: one event per state change to unix:{0}/jobmon-no-such-dir/eventsocket; outbox {0}/jobmon-no-such-dir/ec.sqlite\n    facility local0 (16), service level 0, Checkmk host from the syslog hostname, syslog hostname this machine's name, app name \"jobmon-tracker\"\n",
            dir.display()
        )),
        "{text}"
    );
    let w = warnings(&c).join("\n");
    assert!(w.contains("the event socket"), "{w}");
    assert!(
        w.contains("does not exist on this machine; events stay in the outbox"),
        "{w}"
    );
    assert!(w.contains("output.event_console.outbox: directory"), "{w}");
    assert!(summary(&toml(MINIMAL).unwrap()).contains("  Event Console: not sent\n"));

    let file = tempfile::NamedTempFile::new().unwrap();
    let c = toml(&with_ec(&format!(
        "target = \"pipe:{}\"\noutbox = \"ec.sqlite\"\n",
        file.path().display()
    )))
    .unwrap();
    let w = warnings(&c).join("\n");
    assert!(
        w.contains("is not a named pipe; the tracker refuses to write to it"),
        "{w}"
    );
    assert!(!w.contains("outbox"), "{w}");
}

#[test]
fn an_unknown_key_in_a_two_key_table_lists_both() {
    let (p, _) = problem(&format!(
        "[global]\nquiet_window = {{ from = \"01:00\", until = \"02:00\", x = 1 }}\n{MINIMAL}"
    ));
    assert_eq!(p.key, "global.quiet_window.x");
    assert_eq!(p.message, "unknown key; allowed keys here: from, until");
}

#[test]
fn legacy_errors_word_values_as_json_and_keep_serde_jsons_line() {
    let problem = |text: &str| legacy(text).unwrap_err().problems()[0].clone();
    let p = problem(&LEGACY_CODE_SPELLING.replace("\"key\": \"\"", "\"key\": 2.5"));
    assert_eq!(p.key, "source_hosts[0].key");
    assert_eq!(p.message, "expected a string, found floating point `2.5`");
    let p = problem(&LEGACY_CODE_SPELLING.replace("\"name\": \"LOAD_ORDERS\"", "\"name\": null"));
    assert_eq!(p.message, "expected a string, found null");
    // A list or object of the wrong type is reported where it opens, as serde_json does.
    let object = LEGACY_CODE_SPELLING
        .replace("\"global_config\": [{", "\"global_config\": {")
        .replace("  }],\n  \"source_hosts\"", "  },\n  \"source_hosts\"");
    let p = problem(&object);
    assert_eq!(
        (p.key.as_str(), p.message.as_str(), p.line),
        ("global_config", "expected a sequence, found map", Some(2))
    );
    let p = problem("{\"jobs\": [");
    assert_eq!(
        (p.key.as_str(), p.message.as_str(), p.line),
        ("jobs", "EOF while parsing a list", Some(1))
    );
}
