//! The rule engine: the state of one tracked job (job + environment) as a pure function of
//! its compiled configuration, its recent events, the health of its source and `now`. No
//! I/O and no clock of its own, so every rule is tested with a fixed `now`.
//!
//! # States
//!
//! | state | Checkmk | reason | when |
//! |---|---|---|---|
//! | OK | 0 | `OK` | the last run ended without errors and the next start is not due yet |
//! | OK | 0 | `RUNNING` | a run is in progress within its limits |
//! | OK | 0 | `QUIET` | a timeout or missed start, but `now` is in the job's quiet window |
//! | WARNING | 1 | `ERRORS_BELOW_LIMIT` | the current (or last) run has error events, fewer than `max_errors_before_alerting` |
//! | WARNING | 1 | `TOO_FAST` | the last run ended sooner than `min_run_time` after its start |
//! | WARNING | 1 | `CLOCK_SKEW` | events dated more than the grace period ahead of `now` were ignored |
//! | CRITICAL | 2 | `ERROR` | the current (or last) run has at least `max_errors_before_alerting` error events |
//! | CRITICAL | 2 | `TIMEOUT` | a run is in progress for longer than `timeout` + grace |
//! | CRITICAL | 2 | `DELAYED` | the expected start did not come by its deadline (see below) |
//! | UNKNOWN | 3 | `NO_DATA` | no start, error or end event yet (and no start due since the source was first read), or the source not read yet |
//! | UNKNOWN | 3 | `UNREACHABLE` | reading the source fails and its last good read is older than `stale_after` |
//! | UNKNOWN | 3 | `STALE` | the source's last good read is older than `stale_after` |
//!
//! When several apply, one is reported in this order: ERROR, TIMEOUT, DELAYED,
//! ERRORS_BELOW_LIMIT, TOO_FAST, CLOCK_SKEW, QUIET, RUNNING, OK; the other non-OK ones are
//! named at the end of the text ("(also DELAYED)"). UNKNOWN replaces everything: with
//! stale data no deadline can be judged. Intervals are elapsed time, so DST does not
//! touch cyclic jobs.
//!
//! # Runs
//!
//! Events are taken in the order of their own timestamps (equal timestamps in the order
//! passed, i.e. queue order). A start event opens a run; errors and the first end event
//! belong to the run open at their time; a start while a run is open abandons that run
//! ("restarted"). Events before the first start seen form a run of unknown start. The
//! state of a finished run (errors, too fast) stays until the next run starts. Events dated
//! up to the grace period after `now` count (clock drift); later ones are ignored until
//! their time comes, and flagged (`CLOCK_SKEW`).
//!
//! # Deadlines (all include `global.message_grace_period`, "grace")
//!
//! * timeout: a run in progress is TIMEOUT once `now > start + timeout + grace`. While a
//!   run with a timeout is in progress no start is expected, so it is never DELAYED.
//! * cyclic (`interval`): DELAYED once `now > last start + interval + grace`. A job that
//!   sends no start events is measured from its latest event.
//! * daily (`start`, `start_max_delay`) and cron: each firing is a local wall-clock time in
//!   `global.time_zone` (see [`crate::schedule::place_local`] for the DST cases). DELAYED once
//!   `now > firing + start_max_delay + grace` and the latest start is not the run for that
//!   firing. A start is the run for a firing if it is no earlier than `firing - grace`, or
//!   early by up to `start_max_delay + grace` but nearer to this firing than to the one
//!   before (so one start never counts for two firings of a frequent cron). For a
//!   time that exists twice the window opens at its first occurrence and the deadline runs
//!   from its second; for a time that does not exist (skipped hour) the window opens when
//!   the gap ends and the deadline runs from the time read with the offset before the
//!   change (02:30 on 2026-03-29 in Europe/Berlin: window from 03:00 CEST, deadline from
//!   03:30 CEST). So the job is on time whichever reading its own scheduler takes.
//! * never started: a job with no events at all is NO_DATA until a start is due after the
//!   tracker began reading its source (`SourceHealth::watched_since`), counted as above as if
//!   watching had begun with a start; then it is DELAYED (QUIET inside its quiet window).
//! * quiet windows: the global window silences timeouts and missed starts of cyclic jobs;
//!   a job's own window replaces it, for any kind of schedule. Errors are never silenced.
//!
//! # What the caller passes
//!
//! Every event of the job since its second-latest start (the current and the previous
//! run); more is harmless. With fewer, `last_success` may be unknown and a restart goes
//! unnoticed. For a job that takes messages from any source, pass the health of its
//! freshest source.

mod text;

#[cfg(test)]
mod tests;

pub use crate::event::{Event, EventKind};
pub use crate::schedule::Zone;
pub use crate::state::State;

use crate::model::{Config, Global, Job, Output};
use crate::schedule::{CronExpr, Fire, QuietWindow, Schedule, TimeOfDay};
use chrono::{DateTime, TimeDelta, Utc};
use std::time::Duration;

/// How current the job's data is: when its source was last read successfully, and why
/// the latest read failed (if it did).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceHealth {
    pub last_read_ok: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// When the tracker began reading the source (its first poll). A job that has sent
    /// nothing since is DELAYED once a start was due after that, instead of NO_DATA for ever.
    pub watched_since: Option<DateTime<Utc>>,
}

impl SourceHealth {
    /// Read successfully at `at`.
    pub fn fresh(at: DateTime<Utc>) -> Self {
        SourceHealth {
            last_read_ok: Some(at),
            error: None,
            watched_since: None,
        }
    }
}

/// Why a job is in its state; see the module documentation for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Ok,
    Running,
    Quiet,
    ErrorsBelowLimit,
    TooFast,
    ClockSkew,
    Error,
    Timeout,
    Delayed,
    NoData,
    Unreachable,
    Stale,
}

impl Reason {
    pub fn state(self) -> State {
        match self {
            Reason::Ok | Reason::Running | Reason::Quiet => State::Ok,
            Reason::ErrorsBelowLimit | Reason::TooFast | Reason::ClockSkew => State::Warning,
            Reason::Error | Reason::Timeout | Reason::Delayed => State::Critical,
            Reason::NoData | Reason::Unreachable | Reason::Stale => State::Unknown,
        }
    }

    /// The upper-case word that starts the text (and is the syslog MSGID).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "OK",
            Reason::Running => "RUNNING",
            Reason::Quiet => "QUIET",
            Reason::ErrorsBelowLimit => "ERRORS_BELOW_LIMIT",
            Reason::TooFast => "TOO_FAST",
            Reason::ClockSkew => "CLOCK_SKEW",
            Reason::Error => "ERROR",
            Reason::Timeout => "TIMEOUT",
            Reason::Delayed => "DELAYED",
            Reason::NoData => "NO_DATA",
            Reason::Unreachable => "UNREACHABLE",
            Reason::Stale => "STALE",
        }
    }

    /// Which of several applicable reasons is reported (higher wins).
    fn precedence(self) -> u8 {
        match self {
            Reason::Ok => 0,
            Reason::Running => 1,
            Reason::Quiet => 2,
            Reason::ClockSkew => 3,
            Reason::TooFast => 4,
            Reason::ErrorsBelowLimit => 5,
            Reason::Delayed => 6,
            Reason::Timeout => 7,
            Reason::Error => 8,
            Reason::NoData | Reason::Unreachable | Reason::Stale => 9,
        }
    }
}

/// A performance value with its bounds, in seconds or counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// `runtime` (s), `errors` (count) or `age` (s since the last start).
    pub name: &'static str,
    pub value: f64,
    pub warn: Option<f64>,
    pub crit: Option<f64>,
}

/// Up to three metrics, without a heap allocation per job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    items: [Metric; 3],
    len: usize,
}

impl Metrics {
    const EMPTY: Metric = Metric {
        name: "",
        value: 0.0,
        warn: None,
        crit: None,
    };

    pub fn new() -> Self {
        Metrics {
            items: [Self::EMPTY; 3],
            len: 0,
        }
    }

    fn push(&mut self, m: Metric) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = m;
            self.len += 1;
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::ops::Deref for Metrics {
    type Target = [Metric];
    fn deref(&self) -> &[Metric] {
        &self.items[..self.len]
    }
}

/// What the events say, whatever the state: for metrics and the Prometheus file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Facts {
    /// Start of the current (or last) run.
    pub last_start: Option<DateTime<Utc>>,
    /// End of the current run, if it has ended.
    pub last_end: Option<DateTime<Utc>>,
    /// End of the latest run (current or previous) that ended without error events.
    pub last_success: Option<DateTime<Utc>>,
    pub running: bool,
    /// Duration of the current run so far, else of the last run.
    pub run_time: Option<Duration>,
    /// Error events of the current (or last) run.
    pub errors: u32,
    /// Events dated more than the grace period ahead, ignored.
    pub future_events: u32,
    /// Deadline (without grace) of the next expected start; set in the OK states.
    pub next_due: Option<DateTime<Utc>>,
}

/// The verdict on one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: State,
    pub reason: Reason,
    /// When the condition began (a deadline, the start of the run, the error that reached
    /// the limit); `now` where there is no such moment (`NO_DATA`, `CLOCK_SKEW`). Compare
    /// `(state, reason)` to detect a change, not `since`.
    pub since: DateTime<Utc>,
    /// One line starting with the reason, e.g. `DELAYED: not started by ...`; no control
    /// characters.
    pub text: String,
    pub metrics: Metrics,
    pub facts: Facts,
}

/// When a job is expected to start.
#[derive(Debug, Clone, PartialEq)]
enum Plan {
    Every(TimeDelta),
    Calendar {
        cron: CronExpr,
        max_delay: TimeDelta,
        /// Set for `daily` schedules, for the text.
        daily: Option<TimeOfDay>,
    },
}

/// A job's configuration prepared for evaluation: durations converted, zone and quiet
/// window resolved, service name rendered. Build once per configuration load.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledJob {
    pub name: String,
    pub env: String,
    /// The Checkmk service name (`output.service_name`), not yet escaped for any format.
    pub service: String,
    plan: Plan,
    timeout: Option<TimeDelta>,
    grace: TimeDelta,
    max_errors: u32,
    min_run_time: Option<TimeDelta>,
    quiet: Option<QuietWindow>,
    zone: Zone,
    stale_after: TimeDelta,
}

/// Durations beyond a century are "never"; this keeps all date arithmetic in range.
fn delta(d: Duration) -> TimeDelta {
    const CENTURY: Duration = Duration::from_secs(100 * 366 * 86_400);
    TimeDelta::from_std(d.min(CENTURY)).unwrap_or(TimeDelta::MAX)
}

fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

impl CompiledJob {
    pub fn new(job: &Job, global: &Global, output: &Output) -> Self {
        let plan = match &job.schedule {
            Schedule::Cyclic { interval } => Plan::Every(delta(*interval)),
            Schedule::Daily {
                start,
                start_max_delay,
            } => Plan::Calendar {
                cron: CronExpr::daily(*start),
                max_delay: delta(*start_max_delay),
                daily: Some(*start),
            },
            Schedule::Cron {
                expression,
                start_max_delay,
            } => Plan::Calendar {
                cron: expression.clone(),
                max_delay: delta(*start_max_delay),
                daily: None,
            },
        };
        let quiet = match (&job.quiet_window, &plan) {
            (Some(own), _) => Some(*own),
            (None, Plan::Every(_)) => global.quiet_window,
            (None, Plan::Calendar { .. }) => None,
        };
        CompiledJob {
            name: job.name.clone(),
            env: job.env.clone(),
            service: output.service_of(&job.name, &job.env),
            plan,
            timeout: job.timeout.map(delta),
            grace: delta(global.message_grace_period),
            max_errors: job.max_errors_before_alerting.max(1),
            min_run_time: job.min_run_time.map(delta),
            quiet,
            zone: Zone::from(global.time_zone),
            stale_after: delta(global.stale_after),
        }
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    pub fn max_errors(&self) -> u32 {
        self.max_errors
    }
}

/// Every job of a configuration, compiled, in configuration order.
pub fn compile(config: &Config) -> Vec<CompiledJob> {
    config
        .jobs
        .iter()
        .map(|j| CompiledJob::new(j, &config.global, &config.output))
        .collect()
}

/// One run, as far as the events tell.
#[derive(Debug, Default)]
struct Run<'a> {
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    errors: u32,
    first_error: Option<DateTime<Utc>>,
    /// When the error count reached the job's limit.
    limit_reached: Option<DateTime<Utc>>,
    last_error: Option<&'a Event>,
    /// Start of the run it replaced without that run having ended.
    abandoned: Option<DateTime<Utc>>,
}

impl Run<'_> {
    fn running(&self) -> bool {
        self.start.is_some() && self.end.is_none()
    }

    fn success(&self) -> Option<DateTime<Utc>> {
        self.end.filter(|_| self.errors == 0)
    }
}

/// The events folded into the current and previous run.
#[derive(Debug, Default)]
struct Scan<'a> {
    current: Option<Run<'a>>,
    previous: Option<Run<'a>>,
    /// The latest start, error or end.
    latest: Option<DateTime<Utc>>,
    future: u32,
    latest_future: Option<DateTime<Utc>>,
}

impl<'a> Scan<'a> {
    fn fold(
        events: impl Iterator<Item = &'a Event>,
        max_errors: u32,
        accept_until: DateTime<Utc>,
    ) -> Self {
        let mut scan = Scan::default();
        for e in events {
            if e.at > accept_until {
                scan.future += 1;
                scan.latest_future = scan.latest_future.max(Some(e.at));
                continue;
            }
            match e.kind {
                EventKind::Start => {
                    let abandoned = scan
                        .current
                        .as_ref()
                        .filter(|r| r.running())
                        .and_then(|r| r.start);
                    scan.previous = scan.current.replace(Run {
                        start: Some(e.at),
                        abandoned,
                        ..Run::default()
                    });
                }
                EventKind::Error => {
                    let run = scan.current.get_or_insert_with(Run::default);
                    run.errors += 1;
                    if run.errors == 1 {
                        run.first_error = Some(e.at);
                    }
                    if run.errors == max_errors {
                        run.limit_reached = Some(e.at);
                    }
                    run.last_error = Some(e);
                }
                EventKind::End => {
                    let run = scan.current.get_or_insert_with(Run::default);
                    if run.end.is_none() {
                        run.end = Some(e.at);
                    }
                }
                EventKind::Other(_) => continue,
            }
            scan.latest = scan.latest.max(Some(e.at));
        }
        scan
    }
}

/// A condition found, with when it began.
#[derive(Debug, Clone, Copy)]
struct Finding {
    reason: Reason,
    since: DateTime<Utc>,
}

/// Evaluates one job at `now`. `events` may be in any order; see the module
/// documentation for which events to pass.
pub fn evaluate(
    job: &CompiledJob,
    events: &[Event],
    source: &SourceHealth,
    now: DateTime<Utc>,
) -> Evaluation {
    let scan = scan(job, events, now);
    let mut facts = facts_of(&scan, now);
    let metrics = metrics_of(job, &scan, &facts, now);
    let mut text = String::with_capacity(160);

    if let Some(unknown) = source_problem(job, source, now) {
        text::unknown(&mut text, job, source, unknown, now);
        return verdict(unknown, text, metrics, facts);
    }
    let quiet = job
        .quiet
        .is_some_and(|w| w.contains(job.zone.minute_of_day(now)));
    let Some(run) = &scan.current else {
        let found = nothing_received(job, source, &scan, quiet, now, &mut text);
        return verdict(found, text, metrics, facts);
    };

    let found = Findings::of(job, run, &scan, quiet, now);
    let primary = found.primary();
    if primary.reason.state() == State::Ok {
        facts.next_due = next_due(job, found.reference, now);
    }
    text::describe(
        &mut text,
        &text::Context {
            job,
            run,
            scan: &scan,
            facts: &facts,
            reference: found.reference,
            missed: found.missed,
            now,
        },
        primary.reason,
    );
    found.name_the_others(&mut text, primary.reason);
    if let Some(err) = &source.error {
        text.push_str("; last read failed: ");
        text::push_clean(&mut text, err, 160);
    }
    verdict(primary, text, metrics, facts)
}

fn verdict(found: Finding, text: String, metrics: Metrics, facts: Facts) -> Evaluation {
    Evaluation {
        state: found.reason.state(),
        reason: found.reason,
        since: found.since,
        text,
        metrics,
        facts,
    }
}

/// The events folded into runs, in the order of their timestamps.
fn scan<'e>(job: &CompiledJob, events: &'e [Event], now: DateTime<Utc>) -> Scan<'e> {
    let accept_until = now + job.grace;
    if events.is_sorted_by_key(|e| e.at) {
        Scan::fold(events.iter(), job.max_errors, accept_until)
    } else {
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|e| e.at); // stable: equal timestamps keep queue order
        Scan::fold(sorted.into_iter(), job.max_errors, accept_until)
    }
}

/// A job with no start, error or end event at all: late once a start was due after
/// watching began (only said inside a quiet window, as for a job that has run), else
/// `NO_DATA`.
fn nothing_received(
    job: &CompiledJob,
    source: &SourceHealth,
    scan: &Scan,
    quiet: bool,
    now: DateTime<Utc>,
    text: &mut String,
) -> Finding {
    let missed = source
        .watched_since
        .and_then(|w| overdue(job, w, now).map(|m| (w, m)));
    if let Some((watched, (deadline, _))) = missed {
        let reason = if quiet {
            Reason::Quiet
        } else {
            Reason::Delayed
        };
        text::never_started(text, job, watched, deadline, quiet);
        return Finding {
            reason,
            since: deadline,
        };
    }
    text::no_data(text, job, scan);
    Finding {
        reason: Reason::NoData,
        since: now,
    }
}

/// Every condition that applies to the current run, in the order they are named.
struct Findings {
    found: [Option<Finding>; 5],
    /// `RUNNING` or `OK`: what the run is when nothing else applies.
    base: Finding,
    /// The start deadlines count from: the run's start, else the latest event.
    reference: DateTime<Utc>,
    /// The deadline missed (and its firing, for calendar schedules), if one was.
    missed: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
}

impl Findings {
    fn of(job: &CompiledJob, run: &Run, scan: &Scan, quiet: bool, now: DateTime<Utc>) -> Self {
        let mut found: [Option<Finding>; 5] = [None; 5];
        let mut add = |f: Finding| {
            if let Some(slot) = found.iter_mut().find(|s| s.is_none()) {
                *slot = Some(f);
            }
        };
        let silenced = |reason| if quiet { Reason::Quiet } else { reason };

        if run.errors >= job.max_errors {
            let since = run.limit_reached.unwrap_or(now);
            add(Finding {
                reason: Reason::Error,
                since,
            });
        } else if let Some(since) = run.first_error {
            add(Finding {
                reason: Reason::ErrorsBelowLimit,
                since,
            });
        }
        let reference = run.start.or(scan.latest).unwrap_or(now);
        let timed = run.running() && job.timeout.is_some();
        let mut missed = None;
        if let (true, Some(start), Some(timeout)) = (timed, run.start, job.timeout) {
            let deadline = start + timeout + job.grace;
            if now > deadline {
                add(Finding {
                    reason: silenced(Reason::Timeout),
                    since: deadline,
                });
            }
        } else {
            // No run with a timeout in progress, so a start is expected on schedule.
            missed = overdue(job, reference, now);
            if let Some((deadline, _)) = missed {
                add(Finding {
                    reason: silenced(Reason::Delayed),
                    since: deadline,
                });
            }
        }
        if let (Some(start), Some(end), Some(min)) = (run.start, run.end, job.min_run_time) {
            if end - start < min {
                add(Finding {
                    reason: Reason::TooFast,
                    since: end,
                });
            }
        }
        if scan.future > 0 {
            add(Finding {
                reason: Reason::ClockSkew,
                since: now,
            });
        }
        let base = if run.running() {
            Finding {
                reason: Reason::Running,
                since: run.start.unwrap_or(now),
            }
        } else {
            Finding {
                reason: Reason::Ok,
                since: run.end.unwrap_or(reference),
            }
        };
        add(base);
        Findings {
            found,
            base,
            reference,
            missed,
        }
    }

    /// The one reported: the highest precedence.
    fn primary(&self) -> Finding {
        self.found
            .iter()
            .flatten()
            .copied()
            .max_by_key(|f| f.reason.precedence())
            .unwrap_or(self.base)
    }

    /// The other non-OK conditions, as " (also DELAYED)".
    fn name_the_others(&self, text: &mut String, primary: Reason) {
        for also in self.found.iter().flatten() {
            if also.reason != primary && also.reason.state() != State::Ok {
                text.push_str(" (also ");
                text.push_str(also.reason.as_str());
                text.push(')');
            }
        }
    }
}

/// `UNREACHABLE` / `STALE` / not read yet, judged from the source alone.
fn source_problem(job: &CompiledJob, source: &SourceHealth, now: DateTime<Utc>) -> Option<Finding> {
    match (source.last_read_ok, &source.error) {
        (None, Some(_)) => Some(Finding {
            reason: Reason::Unreachable,
            since: now,
        }),
        (None, None) => Some(Finding {
            reason: Reason::NoData,
            since: now,
        }),
        (Some(ok), error) if now - ok > job.stale_after => Some(Finding {
            reason: if error.is_some() {
                Reason::Unreachable
            } else {
                Reason::Stale
            },
            since: ok + job.stale_after,
        }),
        (Some(_), _) => None,
    }
}

/// The deadline that has passed without a start, with the firing it belonged to
/// (calendar schedules), if any.
fn overdue(
    job: &CompiledJob,
    reference: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    match &job.plan {
        Plan::Every(interval) => {
            let deadline = reference + *interval + job.grace;
            (now > deadline).then_some((deadline, None))
        }
        Plan::Calendar {
            cron, max_delay, ..
        } => {
            let slack = *max_delay + job.grace;
            let fire = job.zone.prev_fire(cron, now - slack)?;
            (!started_for(job, cron, slack, reference, &fire))
                .then_some((fire.latest + slack, Some(fire.latest)))
        }
    }
}

/// Whether a run started at `start` is the run for `fire`: not earlier than grace before
/// it, or early by at most `slack` (start_max_delay + grace) and nearer to it than to the
/// firing before, so that one start never counts for two firings.
fn started_for(
    job: &CompiledJob,
    cron: &CronExpr,
    slack: TimeDelta,
    start: DateTime<Utc>,
    fire: &Fire,
) -> bool {
    if start >= fire.earliest - job.grace {
        return true;
    }
    if start < fire.earliest - slack {
        return false;
    }
    match job.zone.prev_fire(cron, fire.latest) {
        Some(before) => start - before.latest >= fire.earliest - start,
        None => true,
    }
}

/// When the next start is due (without grace), for the text of the OK states.
fn next_due(
    job: &CompiledJob,
    reference: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match &job.plan {
        Plan::Every(interval) => Some(reference + *interval),
        Plan::Calendar {
            cron, max_delay, ..
        } => {
            let slack = *max_delay + job.grace;
            let mut fire = job.zone.next_fire(cron, now - slack)?;
            if started_for(job, cron, slack, reference, &fire) {
                // This firing's run has started already; the one after is next.
                fire = job
                    .zone
                    .next_fire(cron, fire.latest + TimeDelta::seconds(1))?;
            }
            Some(fire.latest + *max_delay)
        }
    }
}

fn facts_of(scan: &Scan, now: DateTime<Utc>) -> Facts {
    let Some(run) = &scan.current else {
        return Facts {
            future_events: scan.future,
            ..Facts::default()
        };
    };
    let run_time = run.start.and_then(|s| {
        let until = run.end.unwrap_or(now);
        (until - s).max(TimeDelta::zero()).to_std().ok()
    });
    Facts {
        last_start: run.start,
        last_end: run.end,
        last_success: run
            .success()
            .or_else(|| scan.previous.as_ref().and_then(Run::success)),
        running: run.running(),
        run_time,
        errors: run.errors,
        future_events: scan.future,
        next_due: None,
    }
}

fn metrics_of(job: &CompiledJob, scan: &Scan, facts: &Facts, now: DateTime<Utc>) -> Metrics {
    let mut m = Metrics::new();
    let Some(run) = &scan.current else {
        return m;
    };
    if let Some(rt) = facts.run_time {
        m.push(Metric {
            name: "runtime",
            value: rt.as_millis() as f64 / 1000.0,
            warn: None,
            crit: job.timeout.map(seconds),
        });
    }
    m.push(Metric {
        name: "errors",
        value: f64::from(run.errors),
        warn: (job.max_errors > 1).then_some(1.0),
        crit: Some(f64::from(job.max_errors)),
    });
    if let Some(reference) = run.start.or(scan.latest) {
        let crit = match job.plan {
            Plan::Every(interval) => Some(seconds(interval + job.grace)),
            Plan::Calendar { .. } => None,
        };
        m.push(Metric {
            name: "age",
            value: seconds((now - reference).max(TimeDelta::zero())),
            warn: None,
            crit,
        });
    }
    m
}

/// The verdict when the events cannot be read at all (PostgreSQL is unreachable): UNKNOWN
/// with reason `UNREACHABLE` and `error` in the text, so a monitoring system sees that the
/// tracker is blind rather than an old state.
pub fn events_unavailable(error: &str, now: DateTime<Utc>) -> Evaluation {
    let mut text = String::from("UNREACHABLE: cannot read the events from PostgreSQL: ");
    text::push_clean(&mut text, error, 200);
    Evaluation {
        state: State::Unknown,
        reason: Reason::Unreachable,
        since: now,
        text,
        metrics: Metrics::new(),
        facts: Facts::default(),
    }
}
