//! The Prometheus text exposition format (version 0.0.4), for node_exporter's textfile
//! collector: per job its state, last start, last success, run time, errors and whether it
//! is running. Jobs are labelled `job_name` and `env`: a label `job` would clash with the
//! scrape job's own label.

use super::{push_number, Report};
use chrono::{DateTime, Utc};
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
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        out.push_str(help);
        out.push_str("\n# TYPE ");
        out.push_str(name);
        out.push_str(" gauge\n");
        for ((_, eval), labels) in reports.iter().zip(&labels) {
            if let Some(v) = sample(eval) {
                out.push_str(name);
                out.push_str(labels);
                out.push(' ');
                push_number(&mut out, v);
                out.push('\n');
            }
        }
    }
    out
}
