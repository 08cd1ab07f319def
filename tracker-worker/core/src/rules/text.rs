//! The one-line texts of evaluations. They start with the reason, say what was expected and
//! what happened, with times in the job's zone; appended by hand, as this runs per job.

use super::{CompiledJob, Facts, Finding, Plan, Reason, Run, Scan, SourceHealth};
use crate::schedule::push_digits;
use chrono::{DateTime, TimeDelta, Utc};

pub(super) struct Context<'a, 'e> {
    pub job: &'a CompiledJob,
    pub run: &'a Run<'e>,
    pub scan: &'a Scan<'e>,
    pub facts: &'a Facts,
    /// The latest start, else the latest event.
    pub reference: DateTime<Utc>,
    /// The passed deadline and its firing, when a start is overdue.
    pub missed: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    pub now: DateTime<Utc>,
}

/// Appends `s` without control characters (each becomes a space), cut at `max` bytes
/// on a character boundary with `...`.
pub fn push_clean(out: &mut String, s: &str, max: usize) {
    let s = s.trim();
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.extend(
        s[..end]
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    if end < s.len() {
        out.push_str("...");
    }
}

/// Appends a duration compactly, to the two largest units: `2d3h`, `1h05m`, `4m30s`,
/// `12s`; negative durations count as zero.
pub fn push_duration(out: &mut String, d: TimeDelta) {
    let secs = d.num_seconds().max(0) as u64;
    let (days, hours, minutes, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut unit = |n: u64, u: char, pad: bool| {
        push_digits(
            out,
            n.min(u64::from(u32::MAX)) as u32,
            if pad { 2 } else { 1 },
        );
        out.push(u);
    };
    if days > 0 {
        unit(days, 'd', false);
        if hours > 0 {
            unit(hours, 'h', false);
        }
    } else if hours > 0 {
        unit(hours, 'h', false);
        if minutes > 0 {
            unit(minutes, 'm', true);
        }
    } else if minutes > 0 {
        unit(minutes, 'm', false);
        if s > 0 {
            unit(s, 's', true);
        }
    } else {
        unit(s, 's', false);
    }
}

fn push_count(out: &mut String, n: u32) {
    push_digits(out, n, 1);
}

impl Context<'_, '_> {
    fn time(&self, out: &mut String, t: DateTime<Utc>) {
        self.job.zone.write_time(out, t);
    }

    fn schedule(&self, out: &mut String) {
        match &self.job.plan {
            Plan::Every(interval) => {
                out.push_str("every ");
                push_duration(out, *interval);
            }
            Plan::Calendar {
                cron,
                max_delay,
                daily,
            } => {
                match daily {
                    Some(t) => {
                        out.push_str("daily at ");
                        push_digits(out, u32::from(t.hour), 2);
                        out.push(':');
                        push_digits(out, u32::from(t.minute), 2);
                    }
                    None => {
                        out.push_str("cron ");
                        out.push_str(cron.as_str());
                    }
                }
                out.push_str(", at the latest ");
                push_duration(out, *max_delay);
                out.push_str(" later");
            }
        }
    }

    fn run_start(&self, out: &mut String) {
        match self.run.start {
            Some(s) => {
                out.push_str("the run started ");
                self.time(out, s);
            }
            None => out.push_str("the run before the first start seen"),
        }
    }

    fn errors(&self, out: &mut String) {
        push_count(out, self.run.errors);
        out.push_str(if self.run.errors == 1 {
            " error in "
        } else {
            " errors in "
        });
        self.run_start(out);
        out.push_str(" (CRITICAL from ");
        push_count(out, self.job.max_errors);
        out.push(')');
        if let Some(msg) = self.run.last_error.and_then(|e| e.message.as_deref()) {
            if !msg.trim().is_empty() {
                out.push_str("; last: ");
                push_clean(out, msg, 120);
            }
        }
    }

    fn timeout(&self, out: &mut String) {
        out.push_str("running for ");
        push_duration(out, self.now - self.reference);
        out.push_str(" since ");
        self.time(out, self.reference);
        if let Some(t) = self.job.timeout {
            out.push_str(", longer than the timeout ");
            push_duration(out, t);
        }
    }

    fn delayed(&self, out: &mut String) {
        let Some((deadline, firing)) = self.missed else {
            return;
        };
        match firing {
            Some(_) => {
                out.push_str("not started by ");
                self.time(out, deadline - self.job.grace);
                out.push_str(" (");
                self.schedule(out);
                out.push_str("); last ");
                out.push_str(if self.run.start.is_some() {
                    "start "
                } else {
                    "event "
                });
                self.time(out, self.reference);
                if self.run.running() {
                    out.push_str(", still running");
                }
            }
            None => {
                if self.run.running() {
                    out.push_str("the run started ");
                    self.time(out, self.reference);
                    out.push_str(" is still running and no new start came (");
                } else {
                    out.push_str(if self.run.start.is_some() {
                        "no start since "
                    } else {
                        "no event since "
                    });
                    self.time(out, self.reference);
                    out.push_str(" (");
                }
                self.schedule(out);
                out.push_str(", due by ");
                self.time(out, deadline - self.job.grace);
                out.push(')');
            }
        }
    }

    fn next_due(&self, out: &mut String) {
        if let Some(due) = self.facts.next_due {
            out.push_str("; next start due by ");
            self.time(out, due);
        }
    }
}

/// The text of an evaluated job. Long because it is one arm per reason, each a sentence
/// or two, read like the module documentation's table; split up, the texts would be
/// harder to compare with one another.
pub(super) fn describe(out: &mut String, c: &Context, reason: Reason) {
    out.push_str(reason.as_str());
    out.push_str(": ");
    match reason {
        Reason::Ok => {
            match (c.run.start, c.run.end) {
                (Some(start), Some(end)) => {
                    out.push_str("last run started ");
                    c.time(out, start);
                    out.push_str(", ended after ");
                    push_duration(out, end - start);
                }
                (None, Some(end)) => {
                    out.push_str("last run ended ");
                    c.time(out, end);
                }
                _ => {
                    out.push_str("last event ");
                    c.time(out, c.reference);
                }
            }
            c.next_due(out);
        }
        Reason::Running => {
            out.push_str("started ");
            c.time(out, c.reference);
            out.push_str(", running for ");
            push_duration(out, c.now - c.reference);
            if let Some(t) = c.job.timeout {
                out.push_str(" (timeout ");
                push_duration(out, t);
                out.push(')');
            }
            if let Some(prev) = c.run.abandoned {
                out.push_str("; restarted: the run started ");
                c.time(out, prev);
                out.push_str(" did not end");
            }
        }
        Reason::Quiet => {
            if c.missed.is_some() {
                out.push_str("would be DELAYED: ");
                c.delayed(out);
            } else {
                out.push_str("would be TIMEOUT: ");
                c.timeout(out);
            }
            quiet_window(out, c.job);
        }
        Reason::ErrorsBelowLimit | Reason::Error => c.errors(out),
        Reason::TooFast => {
            c.run_start(out);
            out.push_str(" ended after ");
            if let (Some(s), Some(e)) = (c.run.start, c.run.end) {
                push_duration(out, e - s);
            }
            out.push_str(", expected at least ");
            if let Some(min) = c.job.min_run_time {
                push_duration(out, min);
            }
        }
        Reason::ClockSkew => {
            push_count(out, c.scan.future);
            out.push_str(if c.scan.future == 1 {
                " event dated"
            } else {
                " events dated"
            });
            out.push_str(" more than ");
            push_duration(out, c.job.grace);
            out.push_str(" ahead ignored (latest ");
            if let Some(t) = c.scan.latest_future {
                c.time(out, t);
            }
            out.push_str("); is the source host's clock right?");
        }
        Reason::Timeout => c.timeout(out),
        Reason::Delayed => c.delayed(out),
        Reason::NoData | Reason::Unreachable | Reason::Stale => {}
    }
}

/// The text when the events are judged unusable because of the source.
pub(super) fn unknown(
    out: &mut String,
    job: &CompiledJob,
    source: &SourceHealth,
    finding: Finding,
    now: DateTime<Utc>,
) {
    out.push_str(finding.reason.as_str());
    out.push_str(": ");
    match (finding.reason, source.last_read_ok) {
        (Reason::NoData, _) => out.push_str("the source has not been read yet"),
        (_, Some(ok)) => {
            if let Some(err) = &source.error {
                push_clean(out, err, 200);
                out.push_str("; ");
            }
            out.push_str("last good read ");
            job.zone.write_time(out, ok);
            out.push_str(", ");
            push_duration(out, now - ok);
            out.push_str(" ago (stale after ");
            push_duration(out, job.stale_after);
            out.push(')');
        }
        (_, None) => {
            if let Some(err) = &source.error {
                push_clean(out, err, 200);
                out.push_str("; ");
            }
            out.push_str("never read successfully");
        }
    }
}

/// DELAYED for a job that never sent anything: `deadline` (with grace) passed after the
/// tracker began reading its source at `watched`.
pub(super) fn never_started(
    out: &mut String,
    job: &CompiledJob,
    watched: DateTime<Utc>,
    deadline: DateTime<Utc>,
    quiet: bool,
) {
    if quiet {
        out.push_str("QUIET: would be ");
    }
    out.push_str("DELAYED: no message received since the source was first read at ");
    job.zone.write_time(out, watched);
    out.push_str("; a start was due by ");
    job.zone.write_time(out, deadline - job.grace);
    if quiet {
        quiet_window(out, job);
    }
}

/// `; quiet window HH:MM-HH:MM`, the job's window that silenced a finding.
fn quiet_window(out: &mut String, job: &CompiledJob) {
    if let Some(w) = job.quiet {
        out.push_str("; quiet window ");
        push_digits(out, u32::from(w.from.hour), 2);
        out.push(':');
        push_digits(out, u32::from(w.from.minute), 2);
        out.push('-');
        push_digits(out, u32::from(w.until.hour), 2);
        out.push(':');
        push_digits(out, u32::from(w.until.minute), 2);
    }
}

/// The text when there is nothing to judge yet.
pub(super) fn no_data(out: &mut String, job: &CompiledJob, scan: &Scan) {
    out.push_str("NO_DATA: no start, error or end event received yet");
    if scan.future > 0 {
        out.push_str(" (");
        push_count(out, scan.future);
        out.push_str(" dated more than ");
        push_duration(out, job.grace);
        out.push_str(" ahead ignored)");
    }
}
