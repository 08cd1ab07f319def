//! The text `config suggest` prints: a `[[jobs]]` stanza for each tracked job the
//! configuration lacks and an `INSERT INTO job_check_config` for each in-database job
//! without thresholds, each under comments giving the evidence (runs seen, the spread of
//! gaps, delays and durations, what the limits allow). Jobs without a schedule get the
//! reason and a commented-out stanza. The TOML part is valid TOML and the SQL part valid
//! SQL, so each can be appended or piped as it is.

use super::emit::job_stanza;
use super::types::format_duration;
use super::{Job, Schedule};
use chrono::{DateTime, NaiveDate, Utc};
use std::fmt::Write as _;
use std::time::Duration;
use tracker_core::schedule::Zone;
use tracker_core::suggest::{
    round_up, Calendar, CalendarMiss, Cyclic, Fit, NoSchedule, Spread, Suggestion,
};

/// When and where the history was read.
pub struct Context<'a> {
    pub zone: Zone,
    /// How the zone is named in the text: `Europe/Berlin`, or "this host's local time".
    pub zone_name: String,
    pub since: DateTime<Utc>,
    /// `--since` as given (`30d`).
    pub since_text: &'a str,
    pub now: DateTime<Utc>,
    /// The configuration file the stanzas are for.
    pub config_file: &'a str,
}

/// A tracked job (messages from configured sources) without a `[[jobs]]` entry.
pub struct TrackedJob {
    /// As its latest run's messages spell them.
    pub job: String,
    pub env: String,
    /// The sources its runs came from, sorted.
    pub sources: Vec<String>,
    pub suggestion: Suggestion,
}

/// A job logged through add_job without a job_check_config row.
pub struct DatabaseJob {
    pub name: String,
    pub suggestion: Suggestion,
}

/// A name for a comment line: control characters (a line break would end the comment and
/// turn the rest of a job's name into TOML or SQL) written as escapes, `\n`, `\u{7}`.
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A duration for reading: whole seconds (milliseconds below ten seconds).
fn d(x: Duration) -> String {
    if x < Duration::from_secs(10) {
        format_duration(Duration::from_millis(x.as_millis() as u64))
    } else {
        format_duration(Duration::from_secs(x.as_secs()))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Context<'_> {
    fn time(&self, t: DateTime<Utc>) -> String {
        self.zone.local(t).format("%Y-%m-%d %H:%M").to_string()
    }

    fn header(&self, c: &str, what: &str) -> String {
        format!(
            "{c} Suggested by `jobmon-tracker config suggest` on {} from the runs in job_log\n\
             {c} started since {} (--since {}). Times are {}.\n\
             {c} Nothing was changed. {what}\n",
            self.time(self.now),
            self.time(self.since),
            self.since_text,
            self.zone_name,
        )
    }

    /// Up to five instants as local `YYYY-MM-DD HH:MM`, then "and N more".
    fn times(&self, ts: impl Iterator<Item = DateTime<Utc>>) -> String {
        list(ts.map(|t| self.time(t)))
    }
}

/// Up to five items, then "and N more".
fn list(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    let mut out = all.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > 5 {
        let _ = write!(out, " and {} more", all.len() - 5);
    }
    out
}

fn dates(ds: &[NaiveDate]) -> String {
    list(ds.iter().map(|d| d.format("%Y-%m-%d").to_string()))
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The weekdays of a set (Sunday = bit 0): "Monday to Friday", "Sat, Sun", "Mon, Wed".
fn weekdays(days: u8) -> String {
    if days == 0b011_1110 {
        return "Monday to Friday".into();
    }
    // Monday first, as people read a week.
    [1, 2, 3, 4, 5, 6, 0]
        .iter()
        .filter(|&&w| days & (1 << w) != 0)
        .map(|&w| WEEKDAYS[w])
        .collect::<Vec<_>>()
        .join(", ")
}

fn spread(s: &Spread) -> String {
    format!(
        "{} to {} (median {}, p99 {})",
        d(s.min),
        d(s.max),
        d(s.median),
        d(s.p99)
    )
}

/// The evidence lines of one suggestion, without comment markers.
fn evidence(cx: &Context, s: &Suggestion) -> Vec<String> {
    let mut lines = vec![format!(
        "{} from {} to {}{}.",
        plural(s.runs, "run", "runs"),
        cx.time(s.first),
        cx.time(s.last),
        match s.failed {
            0 => String::new(),
            n => format!(", {} of them failed", n),
        }
    )];
    match &s.schedule {
        Ok(Fit::Cyclic(c)) => cyclic_lines(cx, c, &mut lines),
        Ok(Fit::Calendar(c)) => calendar_lines(cx, c, &mut lines),
        Err(why) => lines.push(format!("No schedule: {}.", no_schedule(why))),
    }
    match (&s.durations, s.timeout) {
        (Some(ds), Some(timeout)) => {
            lines.push(format!(
                "Durations {}; the timeout {} allows the longest and half as much again.",
                spread(ds),
                d(timeout)
            ));
            if s.over_timeout > 0 {
                lines.push(format!(
                    "{} took longer than that (an exception kept out of the limit).",
                    plural(s.over_timeout, "run", "runs")
                ));
            }
        }
        _ => lines.push("No run has ended yet: no timeout suggested.".into()),
    }
    lines
}

fn cyclic_lines(cx: &Context, c: &Cyclic, lines: &mut Vec<String>) {
    lines.push(format!(
        "Starts every {}: {} {}; the interval {} allows the longest and a margin.",
        d(c.period),
        plural(c.regular.count, "gap", "gaps"),
        spread(&c.regular),
        d(c.interval)
    ));
    if let Some(p) = &c.quiet {
        lines.push(format!(
            "It pauses every day ({}, the longest gap {}): quiet_window {} keeps the pauses from being DELAYED.",
            plural(p.count, "pause", "pauses"),
            d(p.longest),
            p.window
        ));
    }
    if !c.longer.is_empty() {
        lines.push(format!(
            "{} longer, when it would have been DELAYED: after the starts at {}.",
            plural(c.longer.len(), "gap was", "gaps were"),
            cx.times(c.longer.iter().map(|&(t, _)| t))
        ));
    }
    if c.shorter > 0 {
        lines.push(format!(
            "{} shorter (extra runs).",
            plural(c.shorter, "gap was", "gaps were")
        ));
    }
}

fn calendar_lines(cx: &Context, c: &Calendar, lines: &mut Vec<String>) {
    let when = if c.is_daily() {
        format!("daily at {}", c.time)
    } else {
        format!(
            "at {} on {} (cron \"{}\")",
            c.time,
            weekdays(c.days),
            c.expression
        )
    };
    lines.push(format!(
        "Starts {when}: on {} of {} days, {} after {}; start_max_delay {} allows the latest and a margin.",
        c.expected - c.missed.len(),
        c.expected,
        spread(&c.delays),
        c.time,
        d(c.start_max_delay)
    ));
    if !c.missed.is_empty() {
        lines.push(format!("No run on {}.", dates(&c.missed)));
    }
    if !c.late.is_empty() {
        lines.push(format!(
            "Started later than that (exceptions kept out of the limit): {}.",
            cx.times(c.late.iter().copied())
        ));
    }
    if c.extra > 0 {
        lines.push(format!(
            "{} to no day's run (reruns, other times or days).",
            plural(c.extra, "start belongs", "starts belong")
        ));
    }
}

fn no_schedule(why: &NoSchedule) -> String {
    match why {
        NoSchedule::TooFewRuns => format!(
            "fewer than {} runs, too few to tell one",
            tracker_core::suggest::MIN_RUNS
        ),
        NoSchedule::NoPattern { interval, calendar } => {
            let mut out = format!(
                "the gaps between its starts range from {} to {} (median {}), and only {} of {} lie near the median, so no interval fits",
                d(interval.min),
                d(interval.max),
                d(interval.median),
                interval.near,
                interval.gaps
            );
            if let Some(miss) = calendar {
                out.push_str("; ");
                out.push_str(&match miss {
                    CalendarMiss::TimesOfDay { from, held, of } => format!(
                        "its starts keep no time of day (the busiest three hours, from {from}, hold {held} of {of})"
                    ),
                    CalendarMiss::TooShort { days } => format!(
                        "it runs on some weekdays only, but {days} days of history are too few to tell which"
                    ),
                    CalendarMiss::Weekdays { other, of } => format!(
                        "{other} of its {of} days are not among the weekdays it mostly runs on"
                    ),
                    CalendarMiss::Missed { missed, expected } => format!(
                        "{missed} of the {expected} days it would run on have no run"
                    ),
                });
            }
            out
        }
    }
}

/// The `[[jobs]]` table of a fitted schedule.
fn schedule_of(fit: &Fit) -> Schedule {
    match fit {
        Fit::Cyclic(c) => Schedule::Cyclic {
            interval: c.interval,
        },
        Fit::Calendar(c) if c.is_daily() => Schedule::Daily {
            start: c.time,
            start_max_delay: c.start_max_delay,
        },
        Fit::Calendar(c) => Schedule::Cron {
            expression: c.expression.clone(),
            start_max_delay: c.start_max_delay,
        },
    }
}

fn commented(text: &str, c: &str) -> String {
    text.lines().map(|l| format!("{c} {l}\n")).collect()
}

/// The TOML part: one stanza per job, with its evidence.
pub fn toml_text(cx: &Context, jobs: &[TrackedJob], notes: &[String]) -> String {
    let mut out = cx.header(
        "#",
        &format!(
            "Review each entry, then append the [[jobs]] stanzas you want to\n# {}.",
            comment_safe(cx.config_file)
        ),
    );
    for n in notes {
        let _ = writeln!(out, "# Note: {}", comment_safe(n));
    }
    let _ = writeln!(
        out,
        "\n# ---- Tracked jobs without a [[jobs]] entry: {} ----",
        jobs.len()
    );
    for j in jobs {
        out.push('\n');
        let from = match j.sources.as_slice() {
            [one] => format!("from source {}", comment_safe(one)),
            many => format!(
                "from sources {} (any source counts)",
                comment_safe(&many.join(", "))
            ),
        };
        let _ = writeln!(
            out,
            "# {} (env {}) {from}:",
            comment_safe(&j.job),
            comment_safe(&j.env)
        );
        for line in evidence(cx, &j.suggestion) {
            let _ = writeln!(out, "#   {line}");
        }
        let source = match j.sources.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        let quiet = match &j.suggestion.schedule {
            Ok(Fit::Cyclic(c)) => c.quiet.map(|p| p.window),
            _ => None,
        };
        let job = |schedule: Schedule| Job {
            name: j.job.clone(),
            env: j.env.clone(),
            source: source.clone(),
            schedule,
            timeout: j.suggestion.timeout,
            max_errors_before_alerting: super::defaults::MAX_ERRORS_BEFORE_ALERTING,
            min_run_time: None,
            quiet_window: quiet,
        };
        match &j.suggestion.schedule {
            Ok(fit) => out.push_str(&job_stanza(&job(schedule_of(fit)))),
            Err(_) => {
                // A stanza to start from: an interval beyond the longest gap only catches a
                // job that stops altogether.
                let longest = j.suggestion.gaps.map_or(Duration::ZERO, |g| g.max);
                let interval = round_up(longest + longest / 4).max(Duration::from_secs(3600));
                let _ = writeln!(
                    out,
                    "#   Add it with a schedule of your choosing; the interval below, above its longest gap ({}), only notices that it stopped:",
                    d(longest)
                );
                out.push_str(&commented(
                    &job_stanza(&job(Schedule::Cyclic { interval })),
                    "#",
                ));
            }
        }
    }
    out
}

/// A SQL string literal: `'...'` with quotes doubled; with a backslash in it an escape
/// string `E'...'` with backslashes doubled too, which means the same whatever
/// standard_conforming_strings is.
fn sql_literal(s: &str) -> String {
    let quoted = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// An interval literal `'HH:MM:SS'`; hours may exceed 24.
fn sql_interval(x: Duration) -> String {
    let s = x.as_secs();
    format!("'{}:{:02}:{:02}'", s / 3600, s / 60 % 60, s % 60)
}

/// The SQL part: one INSERT per job with a schedule, comments only for the others.
pub fn sql_text(cx: &Context, schema: &str, jobs: &[DatabaseJob]) -> String {
    let mut out = cx.header(
        "--",
        "Review each statement, then run the ones you want in psql (ON CONFLICT\n-- leaves a row added meanwhile alone).",
    );
    let _ = writeln!(
        out,
        "\n-- ---- In-database jobs without a job_check_config row: {} ----\n\
         -- check_job_status() reports a job MISSING once its last start is older than\n\
         -- warn_threshold (WARNING), then error_threshold (CRITICAL).",
        jobs.len()
    );
    for j in jobs {
        out.push('\n');
        let _ = writeln!(out, "-- {}:", comment_safe(&j.name));
        for line in evidence(cx, &j.suggestion) {
            let _ = writeln!(out, "--   {line}");
        }
        let Some((warn, error)) = j.suggestion.thresholds() else {
            let _ = writeln!(
                out,
                "--   No thresholds suggested: a threshold below its longest gap would report it MISSING when it is not."
            );
            continue;
        };
        let allows = match &j.suggestion.schedule {
            Ok(Fit::Calendar(c)) => format!(
                "the longest time between two of its firings ({}, DST changes of the coming year included) plus start_max_delay",
                d(c.longest_gap)
            ),
            Ok(Fit::Cyclic(Cyclic { quiet: Some(p), .. })) => format!(
                "above its longest gap across a daily pause ({}): check_job_status() has no quiet window, so a run missed in the day is noticed only that late",
                d(p.longest)
            ),
            _ => "the interval its schedule allows between starts".into(),
        };
        let _ = writeln!(
            out,
            "--   warn_threshold {} is {allows}; error_threshold {} a tenth more (at least 5 minutes).",
            d(warn),
            d(error)
        );
        let _ = writeln!(
            out,
            "INSERT INTO {schema}.job_check_config (job_name, warn_threshold, error_threshold, active)\n\
             VALUES ({}, {}, {}, true)\n\
             ON CONFLICT (job_name) DO NOTHING;",
            sql_literal(&j.name),
            sql_interval(warn),
            sql_interval(error)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_weekdays() {
        assert_eq!(sql_literal("O'Brien"), "'O''Brien'");
        assert_eq!(sql_literal("a\\'b"), "E'a\\\\''b'");
        assert_eq!(comment_safe("X\n[[jobs]]\r\u{7}"), "X\\n[[jobs]]\\r\\u{7}");
        assert_eq!(
            sql_interval(Duration::from_secs(25 * 3600 + 15 * 60)),
            "'25:15:00'"
        );
        assert_eq!(weekdays(0b011_1110), "Monday to Friday");
        assert_eq!(weekdays(0b100_0001), "Sat, Sun");
        assert_eq!(
            list((1..=7).map(|i| i.to_string())),
            "1, 2, 3, 4, 5 and 2 more"
        );
    }
}
