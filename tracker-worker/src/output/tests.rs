//! Output tests: exact lines and files for representative states, escaping in every format,
//! and atomic writing that leaves no temporary file behind.

use super::*;
use crate::config::{Global, Job, Output, Schedule};
use crate::rules::{evaluate, CompiledJob, Event, EventKind, SourceHealth};
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;
use std::time::Duration;

fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, h, m, s)
        .single()
        .expect("valid test time")
}

fn compiled(name: &str, env: &str, max_errors: u32) -> CompiledJob {
    let job = Job {
        name: name.into(),
        env: env.into(),
        source: None,
        schedule: Schedule::Cyclic {
            interval: Duration::from_secs(900),
        },
        timeout: Some(Duration::from_secs(600)),
        max_errors_before_alerting: max_errors,
        min_run_time: None,
        quiet_window: None,
    };
    let global = Global {
        time_zone: Some(chrono_tz::Europe::Berlin),
        ..Global::default()
    };
    let output = Output {
        service_prefix: "odi_job_".into(),
        ..Output::default()
    };
    CompiledJob::new(&job, &global, &output)
}

/// Three jobs at 10:20 UTC: one running with an error below its limit, one late, one
/// never seen; the first has a name that needs escaping everywhere.
fn fixture() -> (Vec<CompiledJob>, Vec<Evaluation>) {
    let now = at(10, 20, 0);
    let jobs = vec![
        compiled("LOAD \"X\"\\\nY", "P", 3),
        compiled("LOAD_DWH", "P", 1),
        compiled("NEW", "Q", 1),
    ];
    let events = [
        vec![
            Event::new(at(9, 45, 0), EventKind::Start),
            Event::new(at(9, 50, 0), EventKind::End),
            Event::new(at(10, 15, 0), EventKind::Start),
            Event::new(at(10, 16, 0), EventKind::Error).with_message("disk full"),
        ],
        vec![
            Event::new(at(9, 0, 0), EventKind::Start),
            Event::new(at(9, 1, 30), EventKind::End),
        ],
        vec![],
    ];
    let evals = jobs
        .iter()
        .zip(&events)
        .map(|(j, e)| evaluate(j, e, &SourceHealth::fresh(now), now))
        .collect();
    (jobs, evals)
}

fn reports<'a>(jobs: &'a [CompiledJob], evals: &'a [Evaluation]) -> Vec<Report<'a>> {
    jobs.iter().zip(evals).collect()
}

const LINES: [&str; 3] = [
    "1 \"odi_job_LOAD 'X'\\_Y_P\" runtime=300;;600|errors=1;1;3|age=300;;960 ERRORS_BELOW_LIMIT: 1 error in the run started 2026-06-01 12:15:00 CEST (CRITICAL from 3); last: disk full",
    "2 \"odi_job_LOAD_DWH_P\" runtime=90;;600|errors=0;;1|age=4800;;960 DELAYED: no start since 2026-06-01 11:00:00 CEST (every 15m, due by 2026-06-01 11:15:00 CEST)",
    "3 \"odi_job_NEW_Q\" - NO_DATA: no start, error or end event received yet",
];

#[test]
fn local_check_lines_for_representative_states() {
    let (jobs, evals) = fixture();
    for ((job, eval), expected) in jobs.iter().zip(&evals).zip(LINES) {
        assert_eq!(local_check_line(&job.service, eval), expected);
    }
    assert_eq!(
        check_text(&reports(&jobs, &evals)),
        format!("{}\n{}\n{}\n", LINES[0], LINES[1], LINES[2])
    );
}

#[test]
fn names_and_numbers_cannot_break_the_line() {
    assert_eq!(service_name(" a \"b\"\r\nc\t "), "a 'b'__c");
    assert_eq!(metrics_field(&[]), "-");
    let m = |name, value, warn, crit| crate::rules::Metric {
        name,
        value,
        warn,
        crit,
    };
    assert_eq!(
        metrics_field(&[
            m("runtime", 1.5, None, Some(600.0)),
            m("errors", 0.0, None, None),
            m("age", 0.125, Some(1.0), None),
        ]),
        "runtime=1.5;;600|errors=0|age=0.125;1;"
    );
}

#[test]
fn the_spool_file_has_the_local_header() {
    let (jobs, evals) = fixture();
    let text = spool_text(&reports(&jobs, &evals), None);
    assert_eq!(
        text,
        format!(
            "<<<local:sep(0)>>>\n{}\n{}\n{}\n",
            LINES[0], LINES[1], LINES[2]
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("600_jobmon.txt");
    write_spool(&path, &reports(&jobs, &evals), None).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(names_in(dir.path()), ["600_jobmon.txt"]);
    assert_eq!(crate::config::spool_age("600_jobmon.txt"), Some(600));
    assert_eq!(crate::config::spool_age("jobmon.txt"), None);
}

#[test]
fn state_file_names_are_the_old_tools() {
    assert_eq!(state_file_name("LOAD_DWH", "P"), "LOAD_DWH__P.state");
    assert_eq!(state_file_name("load_dwh", "p"), "load_dwh__p.state");
    assert_eq!(state_file_name("../etc/x", "P"), "_._etc_x__P.state");
    assert_eq!(state_file_name(".hidden", "P"), "_hidden__P.state");
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn state_files_are_written_and_those_of_removed_jobs_deleted() {
    let (jobs, evals) = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("OLD_JOB__P.state"), "0 old - OK\n").unwrap();
    std::fs::write(dir.path().join("README"), "not ours\n").unwrap();
    let removed = write_state_files(dir.path(), &reports(&jobs[1..], &evals[1..]), None).unwrap();
    assert_eq!(removed, [dir.path().join("OLD_JOB__P.state")]);
    assert_eq!(
        names_in(dir.path()),
        ["LOAD_DWH__P.state", "NEW__Q.state", "README"]
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("LOAD_DWH__P.state")).unwrap(),
        format!("{}\n", LINES[1])
    );
    // What the old local check does: `cat *.state`.
    let mut cat = String::new();
    for name in names_in(dir.path())
        .iter()
        .filter(|n| n.ends_with(".state"))
    {
        cat.push_str(&std::fs::read_to_string(dir.path().join(name)).unwrap());
    }
    assert_eq!(cat, format!("{}\n{}\n", LINES[1], LINES[2]));
}

#[test]
fn atomic_writes_replace_whole_files_and_leave_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobmon.prom");
    write_atomic(&path, b"first\n").unwrap();
    write_atomic(&path, b"second\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
    assert_eq!(names_in(dir.path()), ["jobmon.prom"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0o044 & !umask_of(dir.path()),
            "readable by all"
        );
    }

    // A target that cannot be replaced (a non-empty directory): the error names it and
    // the temporary file is gone.
    let blocker = dir.path().join("busy");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("x"), "").unwrap();
    let err = write_atomic(&blocker, b"data").unwrap_err();
    assert_eq!(err.path, blocker);
    assert!(err.to_string().contains("cannot rename"), "{err}");
    assert_eq!(names_in(dir.path()), ["busy", "jobmon.prom"]);

    let missing = dir.path().join("no/such/dir/file");
    let err = write_atomic(&missing, b"data").unwrap_err();
    assert!(
        err.to_string().starts_with(&missing.display().to_string()),
        "{err}"
    );
}

/// The group/other bits the umask removes, seen on a file created the ordinary way.
#[cfg(unix)]
fn umask_of(dir: &Path) -> u32 {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let probe = dir.join("probe");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&probe)
        .unwrap();
    let mode = std::fs::metadata(&probe).unwrap().permissions().mode();
    std::fs::remove_file(&probe).unwrap();
    !mode & 0o066
}

#[test]
fn event_console_messages_are_rfc_5424_with_checkmk_data() {
    let (jobs, evals) = fixture();
    let format = EcFormat {
        hostname: "tracker.example.com".into(),
        service_level: 20,
        host: Some("dwh1".into()),
        ..EcFormat::default()
    };
    assert_eq!(
        ec_message(&format, &jobs[1].service, &evals[1], at(10, 20, 0)),
        "<10>1 2026-06-01T10:20:00Z tracker.example.com jobmon-tracker - DELAYED [Checkmk@18662 sl=\"20\" application=\"odi_job_LOAD_DWH_P\" host=\"dwh1\"] CRITICAL - DELAYED: no start since 2026-06-01 11:00:00 CEST (every 15m, due by 2026-06-01 11:15:00 CEST)"
    );
    assert_eq!(
        ec_message(&EcFormat::default(), &jobs[0].service, &evals[0], at(10, 20, 0)),
        "<12>1 2026-06-01T10:20:00Z - jobmon-tracker - ERRORS_BELOW_LIMIT [Checkmk@18662 sl=\"0\" application=\"odi_job_LOAD \\\"X\\\"\\\\ Y_P\"] WARNING - ERRORS_BELOW_LIMIT: 1 error in the run started 2026-06-01 12:15:00 CEST (CRITICAL from 3); last: disk full"
    );
    let local0 = EcFormat {
        facility: 16,
        hostname: "host with spaces\u{e9}".into(),
        ..EcFormat::default()
    };
    let msg = ec_message(
        &local0,
        "s",
        &evals[2],
        at(10, 20, 0) + chrono::TimeDelta::milliseconds(250),
    );
    assert!(
        msg.starts_with("<131>1 2026-06-01T10:20:00.250Z hostwithspaces_ jobmon-tracker - NO_DATA [Checkmk@18662 sl=\"0\" application=\"s\"] UNKNOWN - NO_DATA:"),
        "{msg}"
    );
    assert_eq!(sd_escape(r#"a"b\c]d[e"#), r#"a\"b\\c\]d[e"#);
    assert_eq!(sd_escape("two\nlines"), "two lines");
    let severities: Vec<u8> = [State::Ok, State::Warning, State::Critical, State::Unknown]
        .into_iter()
        .map(syslog_severity)
        .collect();
    assert_eq!(severities, [5, 4, 2, 3]);
}

use crate::rules::State;

#[test]
fn prometheus_text_format() {
    let (jobs, evals) = fixture();
    assert_eq!(
        prometheus_text(&reports(&jobs, &evals)),
        r#"# HELP jobmon_job_state Checkmk state of the job: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
# TYPE jobmon_job_state gauge
jobmon_job_state{job_name="LOAD \"X\"\\\nY",env="P"} 1
jobmon_job_state{job_name="LOAD_DWH",env="P"} 2
jobmon_job_state{job_name="NEW",env="Q"} 3
# HELP jobmon_job_running 1 while a run of the job is in progress, else 0.
# TYPE jobmon_job_running gauge
jobmon_job_running{job_name="LOAD \"X\"\\\nY",env="P"} 1
jobmon_job_running{job_name="LOAD_DWH",env="P"} 0
jobmon_job_running{job_name="NEW",env="Q"} 0
# HELP jobmon_job_last_start_timestamp_seconds Start of the current or last run (Unix time).
# TYPE jobmon_job_last_start_timestamp_seconds gauge
jobmon_job_last_start_timestamp_seconds{job_name="LOAD \"X\"\\\nY",env="P"} 1780308900
jobmon_job_last_start_timestamp_seconds{job_name="LOAD_DWH",env="P"} 1780304400
# HELP jobmon_job_last_success_timestamp_seconds End of the latest run that ended without error events (Unix time).
# TYPE jobmon_job_last_success_timestamp_seconds gauge
jobmon_job_last_success_timestamp_seconds{job_name="LOAD \"X\"\\\nY",env="P"} 1780307400
jobmon_job_last_success_timestamp_seconds{job_name="LOAD_DWH",env="P"} 1780304490
# HELP jobmon_job_duration_seconds Run time of the current run so far, else of the last run.
# TYPE jobmon_job_duration_seconds gauge
jobmon_job_duration_seconds{job_name="LOAD \"X\"\\\nY",env="P"} 300
jobmon_job_duration_seconds{job_name="LOAD_DWH",env="P"} 90
# HELP jobmon_job_errors Error events in the current or last run.
# TYPE jobmon_job_errors gauge
jobmon_job_errors{job_name="LOAD \"X\"\\\nY",env="P"} 1
jobmon_job_errors{job_name="LOAD_DWH",env="P"} 0
jobmon_job_errors{job_name="NEW",env="Q"} 0
"#
    );
    assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

#[test]
fn piggyback_groups_the_lines_by_host_in_order_of_their_first_job() {
    let (jobs, evals) = fixture();
    let hosts = ["dwh1".to_owned(), "dwh2".to_owned(), "dwh1".to_owned()];
    let spool = spool_text(&reports(&jobs, &evals), Some(&hosts));
    assert_eq!(
        spool,
        format!(
            "<<<<dwh1>>>>\n<<<local:sep(0)>>>\n{}\n{}\n<<<<>>>>\n<<<<dwh2>>>>\n<<<local:sep(0)>>>\n{}\n<<<<>>>>\n",
            LINES[0], LINES[2], LINES[1]
        )
    );
    // Inside the agent's own local section (a local check), the section is reopened.
    assert_eq!(
        piggyback_text(&reports(&jobs, &evals), &hosts, true),
        format!("{spool}<<<local:sep(0)>>>\n")
    );
    assert_eq!(piggyback_text(&[], &[], true), "");

    let dir = tempfile::tempdir().unwrap();
    write_state_files(
        dir.path(),
        &reports(&jobs[1..2], &evals[1..2]),
        Some(&hosts[1..2]),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("LOAD_DWH__P.state")).unwrap(),
        format!(
            "<<<<dwh2>>>>\n<<<local:sep(0)>>>\n{}\n<<<<>>>>\n<<<local:sep(0)>>>\n",
            LINES[1]
        )
    );
}

#[test]
fn the_trackers_own_metrics_have_counters_and_leave_out_what_is_unknown() {
    let figures = TrackerFigures {
        last_poll: None,
        last_evaluation: Some(at(10, 20, 0)),
        poll_duration: Some(std::time::Duration::from_millis(1250)),
        sources: vec![
            SourceFigures {
                name: "dwh\"1".into(),
                stored: 17,
                rejected: 2,
                errors: 0,
                failing: false,
                held: true,
                lag: Some(std::time::Duration::ZERO),
            },
            SourceFigures {
                name: "dwh2".into(),
                errors: 3,
                failing: true,
                ..SourceFigures::default()
            },
        ],
    };
    let text = tracker_text(&figures);
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        samples,
        [
            "jobmon_tracker_last_evaluation_timestamp_seconds 1780309200",
            "jobmon_tracker_poll_duration_seconds 1.25",
            "jobmon_tracker_sources_held 1",
            "jobmon_tracker_messages_stored_total{source=\"dwh\\\"1\"} 17",
            "jobmon_tracker_messages_stored_total{source=\"dwh2\"} 0",
            "jobmon_tracker_messages_rejected_total{source=\"dwh\\\"1\"} 2",
            "jobmon_tracker_messages_rejected_total{source=\"dwh2\"} 0",
            "jobmon_tracker_source_errors_total{source=\"dwh\\\"1\"} 0",
            "jobmon_tracker_source_errors_total{source=\"dwh2\"} 3",
            "jobmon_tracker_source_failing{source=\"dwh\\\"1\"} 0",
            "jobmon_tracker_source_failing{source=\"dwh2\"} 1",
            "jobmon_tracker_source_held{source=\"dwh\\\"1\"} 1",
            "jobmon_tracker_source_held{source=\"dwh2\"} 0",
            "jobmon_tracker_source_lag_seconds{source=\"dwh\\\"1\"} 0",
        ]
    );
    assert!(text.contains("# TYPE jobmon_tracker_messages_stored_total counter\n"));
    assert!(text.contains("# TYPE jobmon_tracker_source_lag_seconds gauge\n"));
    assert!(text.contains("# TYPE jobmon_tracker_last_poll_success_timestamp_seconds gauge\n"));
}
