//! What the tracker publishes: Checkmk local-check lines (per-job state files, a spool file,
//! the `check` command), Checkmk Event Console messages (RFC 5424) and the Prometheus text
//! format. Formatting is pure; [`write_atomic`] is the only I/O, so a reader (the Checkmk
//! agent, node_exporter) sees a whole old file or a whole new one, never half of one.

mod atomic;
mod checkmk;
mod ec_sender;
mod event_console;
mod prometheus;

#[cfg(test)]
mod tests;

pub use atomic::{write_atomic, write_replace};
pub use checkmk::{
    check_text, local_check_line, metrics_field, piggyback_text, service_name, spool_text,
    state_file_name, write_spool, write_state_files, PIGGYBACK_END, SPOOL_HEADER,
};
pub use ec_sender::{EcError, Outbox, OUTBOX_CAP, PIPE_BUF, UDP_PROBE_WAIT};
pub use event_console::{ec_message, sd_escape, syslog_severity, EcFormat, EcHeader};
pub use prometheus::{
    escape_label_value, prometheus_text, tracker_text, SourceFigures, TrackerFigures,
};

use std::path::PathBuf;
use tracker_core::rules::{CompiledJob, Evaluation};

/// A job with its evaluation: what every output is made of.
pub type Report<'a> = (&'a CompiledJob, &'a Evaluation);

/// A file that could not be written (or an old state file not removed); names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: cannot {action}: {source}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    pub action: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// Writes a number the way Checkmk and Prometheus both read: an integer without a point,
/// else up to three decimals.
fn push_number(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if !v.is_finite() {
        out.push_str(if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let start = out.len();
        let _ = write!(out, "{v:.3}");
        let trimmed = out[start..].trim_end_matches('0').len();
        out.truncate(start + trimmed);
    }
}
