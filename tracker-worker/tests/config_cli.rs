//! `jobmon-tracker config check|import` as a program: summaries, errors naming file and
//! key, exit codes, and the imported TOML reading back to the same configuration.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tracker_worker::config;

const BIN: &str = env!("CARGO_BIN_EXE_jobmon-tracker");

fn tracker(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/jobmon-tracker.toml")
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("temp file written");
    path
}

const LEGACY: &str = r#"{
  "global_config": [{
    "log_level": "debug", "log_file": "/var/log/job_tracker.log",
    "monitoring_backend_based_on_event_or_status": "status",
    "monitoring_servicename_prefix_without_spaces": "odi_job_",
    "jobs_start_keyword": "STARTED", "jobs_error_keyword": "ERROR", "jobs_end_keyword": "SUCCESS",
    "job_history_entry_count": 100,
    "no_timeout_for_cyclic_jobs_from_in_hh:mm": "00:00",
    "no_timeout_for_cyclic_jobs_until_in_hh:mm": "04:00",
    "controller_interval_in_sec": 10, "controller_data_load_timeout": 5,
    "controller_message_grace_period_in_sec": 60
  }],
  "source_hosts": [
    {"hostname": "app1", "user": "oracle", "key": "/root/.ssh/id_rsa",
     "message_queue": "/home/oracle/q.sqlite", "message_queue_handler": "python /opt/message-queue.py"},
    {"hostname": "app2", "user": "oracle", "key": "", "message_queue": "/home/oracle/q.sqlite"}
  ],
  "jobs": [
    {"name": "ORDERS", "env": "P", "cyclic_or_daily": "cyclic", "cyclic_interval_in_hh:mm:ss": "00:05:00",
     "timeout_in_hh:mm:ss": "00:04:00", "max_errors_before_alerting": 3},
    {"name": "DWH", "env": "Q", "cyclic_or_daily": "daily", "daily_start_time_hh:mm": "01:15",
     "daily_start_max_delay_hh:mm:ss": "00:45:00", "timeout_hh:mm:ss": "03:00:00",
     "max_errors_before_alerting": 1}
  ]
}"#;

#[test]
fn check_prints_what_it_understood_from_the_example() {
    let o = tracker(&["config", "check", example().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for needle in [
        "jobmon-tracker.toml: valid TOML configuration",
        "event keywords: start \"STARTED\", error \"ERROR\", end \"SUCCESS\"",
        "time zone: Europe/Berlin",
        "quiet window for cyclic jobs: 00:00-04:00",
        "dwh1: ssh oracle@dwh1.example.com:22",
        "host key strict",
        "local: local file /var/spool/jobmon/queue.sqlite; keep messages on the source",
        "LOAD_ORDERS__P (from dwh1): cyclic, every 15m; timeout 10m; alert after 1 error(s); minimum run time 30s; own quiet window 22:00-02:00 (wraps midnight)",
        "LOAD_DWH__P (from any source): daily at 02:30, start at the latest 30m later; timeout 2h",
        "EXPORT_FINANCE__P (from local): cron \"45 6 * * mon-fri\"",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn check_rejects_bad_files_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[[sources]]\nname = \"s\"\nlocal_queue = \"/q\"\n\n[[jobs]]\nname = \"J\"\nenv = \"P\"\ncyclic = { interval = \"5m\" }\n";
    for (name, content, needle) in [
        ("wrong-type.toml", format!("{base}max_errors_before_alerting = \"three\"\n"),
         "wrong-type.toml:9: key `jobs[0].max_errors_before_alerting`: expected a whole number from 0 to 4294967295, found string \"three\""),
        ("unknown.toml", base.replace("env = \"P\"", "env = \"P\"\nenvironment = \"P\""),
         "unknown.toml:8: key `jobs[0].environment`: unknown key; allowed keys here: name, env, source,"),
        ("missing.toml", base.replace("env = \"P\"\n", ""),
         "missing.toml:5: key `jobs[0].env`: required key is missing"),
        ("insecure.toml", "[database]\npassword = \"x\"\n".to_owned(),
         "insecure.toml: key `database.password`: passwords do not belong in this file"),
    ] {
        let path = write(dir.path(), name, &content);
        let o = tracker(&["config", "check", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = text(&o.stderr);
        assert!(err.contains(&format!("{}", path.display())), "{err}");
        assert!(err.contains(needle), "{name}: expected {needle:?} in {err}");
        assert_eq!(text(&o.stdout), "");
    }
    let o = tracker(&["config", "check", "/nonexistent/x.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/x.toml: cannot read"));
    assert_eq!(tracker(&["config", "check"]).status.code(), Some(2));
}

#[test]
fn check_warns_about_an_insecure_host_key_policy_but_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "off.toml",
        "[[sources]]\nname = \"h\"\naddress = \"h\"\nuser = \"u\"\nqueue = \"/q\"\nhost_key_policy = \"off\"\n",
    );
    let o = tracker(&["config", "check", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stderr)
        .contains("warning: sources[0] (h): host_key_policy = \"off\" accepts any host key"));
}

#[test]
fn legacy_json_is_checked_and_imported_to_equivalent_toml() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = write(dir.path(), "job_tracker.cfg", LEGACY);
    let o = tracker(&["config", "check", legacy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("valid job_tracker (2016) JSON configuration"));
    assert!(text(&o.stderr).contains("note: the old tool ran ssh with StrictHostKeyChecking=no"));

    let o = tracker(&["config", "import", legacy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let toml = text(&o.stdout);
    assert!(toml.contains("cyclic = { interval = \"5m\" }"), "{toml}");
    assert!(
        toml.contains("daily = { start = \"01:15\", start_max_delay = \"45m\" }"),
        "{toml}"
    );
    let imported = write(dir.path(), "imported.toml", &toml);
    let o = tracker(&["config", "check", imported.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let from_json = config::load(&legacy).unwrap().config;
    let from_toml = config::load(&imported).unwrap().config;
    assert_eq!(from_toml, from_json);
    assert_eq!(from_toml.global.log_level, config::LogLevel::Debug);
    assert_eq!(from_toml.jobs[0].max_errors_before_alerting, 3);
}

#[test]
fn import_refuses_toml_and_reports_legacy_errors() {
    let o = tracker(&["config", "import", example().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("not a job_tracker JSON configuration"));

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        &LEGACY.replace(
            "\"cyclic_or_daily\": \"cyclic\"",
            "\"cyclic_or_daily\": \"hourly\"",
        ),
    );
    let o = tracker(&["config", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("bad.json: key `jobs[0].cyclic_or_daily`: unknown kind `hourly`; expected \"cyclic\" or \"daily\""),
        "{}",
        text(&o.stderr)
    );
    let broken = write(dir.path(), "broken.json", "{\"jobs\": [");
    let o = tracker(&["config", "import", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("broken.json:1:"),
        "{}",
        text(&o.stderr)
    );
}

/// `config check` of a minimal file with `database` as its `[database]` body, with `env`
/// (and no PG* variables, pgpass or HOME files of the machine); exit code and stderr.
fn check_database(database: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "t.toml",
        &format!(
            "[database]\n{database}\n[[sources]]\nname = \"s\"\nlocal_queue = \"/tmp/q.sqlite\"\n"
        ),
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["config", "check"]).arg(&file);
    for var in tracker_worker::store::connect::PG_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.env("HOME", dir.path()).env("PGPASSFILE", "/dev/null");
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("binary runs");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn config_check_validates_the_connection_settings_and_names_their_origin() {
    let (code, err) = check_database("conninfo = \"host=db1 bogus=1\"", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("unknown option `bogus`"), "{err}");
    assert!(err.contains("database.conninfo"), "{err}");

    let (code, err) = check_database(
        "host = \"db1\"\nsslmode = \"verify-full\"\nsslrootcert = \"/nonexistent/ca.crt\"",
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(
            "root certificate file \"/nonexistent/ca.crt\" (database.sslrootcert) does not exist"
        ),
        "{err}"
    );

    // A verify mode with no root certificate at all: the default file is named.
    let (code, err) = check_database("host = \"db1\"", &[("PGSSLMODE", "verify-ca")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(".postgresql/root.crt\" (the default) does not exist"),
        "{err}"
    );
    assert!(err.contains("`verify-ca` from PGSSLMODE"), "{err}");

    let (code, err) = check_database("conninfo = \"host=db1 sslcert=/nonexistent/c.crt\"", &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("database.conninfo: certificate file \"/nonexistent/c.crt\" does not exist"),
        "{err}"
    );

    let (code, err) = check_database("host = \"db1\"", &[("PGSSLMODE", "on")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("PGSSLMODE: invalid sslmode `on`"), "{err}");

    let (code, err) = check_database("host = \"db1\"\nsslmode = \"require\"", &[]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn config_check_never_prints_a_secret_of_a_service_file() {
    let dir = tempfile::tempdir().unwrap();
    let services = write(
        dir.path(),
        "services",
        "[jobs]\nhost=db1\npassword=Very-Secret\nfrobnicate=1\n",
    );
    let services = services.to_string_lossy().into_owned();
    let (code, err) = check_database(
        "conninfo = \"service=jobs\"",
        &[("PGSERVICEFILE", &services)],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("unknown or unsupported keyword `frobnicate`"),
        "{err}"
    );
    assert!(
        err.contains(&format!("service \"jobs\" in {services}")),
        "{err}"
    );
    assert!(!err.contains("Very-Secret"), "{err}");
    let out = Command::new(BIN)
        .args(["config", "check"])
        .arg(write(
            dir.path(),
            "ok.toml",
            "[database]\nconninfo = \"service=jobs\"\n",
        ))
        .env(
            "PGSERVICEFILE",
            write(dir.path(), "s2", "[jobs]\nhost=db1\npassword=Very-Secret\n"),
        )
        .env("PGPASSFILE", "/dev/null")
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("Very-Secret"), "{all}");
}
