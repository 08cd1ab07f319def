//! The Prometheus text exposition format (version 0.0.4), for node_exporter's textfile
//! collector: per job its state, last start, last success, run time, errors and whether it
//! is running. Jobs are labelled `job_name` and `env`: a label `job` would clash with the
//! scrape job's own label. After the jobs, the tracker's own figures ([`tracker_text`]):
//! when it last polled and evaluated, what it stored and rejected, each source's errors and
//! lag.

use super::{push_number, Report};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tracker_core::rules::Evaluation;

/// A label value, escaped as the format requires: `\`, `"` and newline.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn timestamp(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

type Sample = fn(&Evaluation) -> Option<f64>;

const FAMILIES: [(&str, &str, Sample); 6] = [
    (
        "jobmon_job_state",
        "Checkmk state of the job: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        |e| Some(f64::from(e.state.code())),
    ),
    (
        "jobmon_job_running",
        "1 while a run of the job is in progress, else 0.",
        |e| Some(if e.facts.running { 1.0 } else { 0.0 }),
    ),
    (
        "jobmon_job_last_start_timestamp_seconds",
        "Start of the current or last run (Unix time).",
        |e| e.facts.last_start.map(timestamp),
    ),
    (
        "jobmon_job_last_success_timestamp_seconds",
        "End of the latest run that ended without error events (Unix time).",
        |e| e.facts.last_success.map(timestamp),
    ),
    (
        "jobmon_job_duration_seconds",
        "Run time of the current run so far, else of the last run.",
        |e| e.facts.run_time.map(|d| d.as_millis() as f64 / 1000.0),
    ),
    (
        "jobmon_job_errors",
        "Error events in the current or last run.",
        |e| Some(f64::from(e.facts.errors)),
    ),
];

/// The whole file: each family with its HELP and TYPE lines, then one sample per job that
/// has a value (a job never started has no last start).
pub fn prometheus_text(reports: &[Report]) -> String {
    let labels: Vec<String> = reports
        .iter()
        .map(|(job, _)| {
            format!(
                "{{job_name=\"{}\",env=\"{}\"}}",
                escape_label_value(&job.name),
                escape_label_value(&job.env)
            )
        })
        .collect();
    let mut out = String::with_capacity(200 + reports.len() * 6 * 64);
    for (name, help, sample) in FAMILIES {
        push_family(&mut out, name, "gauge", help);
        for ((_, eval), labels) in reports.iter().zip(&labels) {
            if let Some(v) = sample(eval) {
                push_sample(&mut out, name, labels, v);
            }
        }
    }
    out
}

/// What this tracker process did since it started, for its own metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrackerFigures {
    /// End of the latest poll in which no source failed.
    pub last_poll: Option<DateTime<Utc>>,
    /// The latest evaluation that could read the events from PostgreSQL.
    pub last_evaluation: Option<DateTime<Utc>>,
    /// How long the latest poll of all sources took.
    pub poll_duration: Option<Duration>,
    /// Per configured source, in configuration order.
    pub sources: Vec<SourceFigures>,
}

/// One source's figures, counted by this tracker process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFigures {
    pub name: String,
    pub stored: u64,
    pub rejected: u64,
    /// Polls of this source that failed.
    pub errors: u64,
    /// Whether the latest poll failed.
    pub failing: bool,
    /// Whether this tracker holds the source's lease.
    pub held: bool,
    /// Age of the oldest message not yet stored after the latest poll, where known.
    pub lag: Option<Duration>,
}

type SourceSample = fn(&SourceFigures) -> Option<f64>;

const SOURCE_FAMILIES: [(&str, &str, &str, SourceSample); 6] = [
    (
        "jobmon_tracker_messages_stored_total",
        "counter",
        "Messages of the source this tracker stored and applied since it started (rejected ones are counted apart).",
        |s| Some(s.stored as f64),
    ),
    (
        "jobmon_tracker_messages_rejected_total",
        "counter",
        "Messages of the source this tracker stored aside as unusable since it started.",
        |s| Some(s.rejected as f64),
    ),
    (
        "jobmon_tracker_source_errors_total",
        "counter",
        "Polls of the source by this tracker that failed since it started.",
        |s| Some(s.errors as f64),
    ),
    (
        "jobmon_tracker_source_failing",
        "gauge",
        "1 if this tracker's latest poll of the source failed, else 0.",
        |s| Some(if s.failing { 1.0 } else { 0.0 }),
    ),
    (
        "jobmon_tracker_source_held",
        "gauge",
        "1 if this tracker holds the source's lease (reads it), else 0.",
        |s| Some(if s.held { 1.0 } else { 0.0 }),
    ),
    (
        "jobmon_tracker_source_lag_seconds",
        "gauge",
        "Age of the oldest message of the source not stored yet after the latest poll (0: read to its end).",
        |s| s.lag.map(|d| d.as_millis() as f64 / 1000.0),
    ),
];

fn push_family(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn push_sample(out: &mut String, name: &str, labels: &str, v: f64) {
    out.push_str(name);
    out.push_str(labels);
    out.push(' ');
    push_number(out, v);
    out.push('\n');
}

/// The tracker's own metrics: its last successful poll and evaluation, the poll's duration,
/// how many sources it holds, and per source (label `source`) messages stored and rejected,
/// failed polls, whether it is failing, held, and its lag. Values not known yet (no poll
/// has succeeded) have no sample.
pub fn tracker_text(t: &TrackerFigures) -> String {
    let mut out = String::with_capacity(1000 + t.sources.len() * 6 * 64);
    let globals: [(&str, &str, Option<f64>); 4] = [
        (
            "jobmon_tracker_last_poll_success_timestamp_seconds",
            "End of the latest poll in which every source was read without error (Unix time).",
            t.last_poll.map(timestamp),
        ),
        (
            "jobmon_tracker_last_evaluation_timestamp_seconds",
            "The latest evaluation of the jobs from PostgreSQL (Unix time).",
            t.last_evaluation.map(timestamp),
        ),
        (
            "jobmon_tracker_poll_duration_seconds",
            "How long the latest poll of all sources took.",
            t.poll_duration.map(|d| d.as_millis() as f64 / 1000.0),
        ),
        (
            "jobmon_tracker_sources_held",
            "Sources this tracker holds the lease of.",
            Some(t.sources.iter().filter(|s| s.held).count() as f64),
        ),
    ];
    for (name, help, value) in globals {
        push_family(&mut out, name, "gauge", help);
        if let Some(v) = value {
            push_sample(&mut out, name, "", v);
        }
    }
    let labels: Vec<String> = t
        .sources
        .iter()
        .map(|s| format!("{{source=\"{}\"}}", escape_label_value(&s.name)))
        .collect();
    for (name, kind, help, sample) in SOURCE_FAMILIES {
        push_family(&mut out, name, kind, help);
        for (s, labels) in t.sources.iter().zip(&labels) {
            if let Some(v) = sample(s) {
                push_sample(&mut out, name, labels, v);
            }
        }
    }
    out
}
