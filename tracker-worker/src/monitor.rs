//! The evaluation that follows every poll: each configured job's recent messages and its
//! sources' health are read from PostgreSQL, the rule engine ([`tracker_core::rules`]) judges them,
//! and the verdicts go to every configured output ([`write_files`]; the states in PostgreSQL
//! through [`Monitor::store_states`]; the Event Console through the daemon).
//!
//! The events come from PostgreSQL, not from what this tracker read itself, so every tracker
//! sharing a database judges a job by all of its messages, whichever tracker stored them.

use crate::config::{Config, Global, Output};
use crate::output::{self, OutputError, Report, TrackerFigures};
use crate::store::{StateRows, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tracker_core::rules::{self, CompiledJob, Evaluation, Event, EventKind, SourceHealth};

/// At most this many of a job's latest messages are evaluated (from its three latest runs).
/// A run with more error events than this still counts as many as fit.
pub const EVENTS_PER_JOB: i64 = 1000;

/// The configured jobs, compiled, with what the queries need.
pub struct Monitor {
    jobs: Vec<CompiledJob>,
    /// job_log names (`JOB__ENV` upper-cased), parallel to `jobs`.
    names: Vec<String>,
    /// The source a job's messages must come from, if it is restricted to one.
    owners: Vec<Option<String>>,
    sources: Vec<String>,
    /// The Checkmk host of each source (its `checkmk_host`, else its name), for piggyback.
    hosts: HashMap<String, String>,
    global: Global,
    stale_after: Duration,
}

pub use tracker_core::identity::job_log_name;

impl Monitor {
    pub fn new(config: &Config) -> Monitor {
        Monitor {
            jobs: rules::compile(config),
            names: config
                .jobs
                .iter()
                .map(|j| job_log_name(&j.name, &j.env))
                .collect(),
            owners: config.jobs.iter().map(|j| j.source.clone()).collect(),
            sources: config.sources.iter().map(|s| s.name.clone()).collect(),
            hosts: config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.checkmk_host().to_owned()))
                .collect(),
            global: config.global.clone(),
            stale_after: config.global.stale_after,
        }
    }

    pub fn jobs(&self) -> &[CompiledJob] {
        &self.jobs
    }

    /// Reads the events and the sources' health (two queries) and evaluates every job at
    /// `now`, in configuration order.
    pub async fn evaluate(
        &self,
        store: &Store,
        now: DateTime<Utc>,
    ) -> Result<Evaluated, StoreError> {
        if self.jobs.is_empty() {
            return Ok(Evaluated::default());
        }
        let rows = store
            .job_events(&self.names, &self.owners, EVENTS_PER_JOB)
            .await?;
        let health = store.source_health(&self.sources).await?;
        let mut events: Vec<Vec<Event>> = vec![Vec::new(); self.jobs.len()];
        let mut latest: Vec<Option<String>> = vec![None; self.jobs.len()];
        for row in rows {
            if let Some(l) = latest.get_mut(row.job) {
                // Rows come oldest first: the last one seen is the latest.
                *l = Some(row.source);
            }
            let (Some(list), Some(at), Some(event)) = (events.get_mut(row.job), row.at, row.event)
            else {
                continue;
            };
            list.push(Event {
                at,
                kind: EventKind::from_keyword(&event, &self.global),
                message: row.message,
            });
        }
        let by_source: HashMap<&str, SourceHealth> = health
            .iter()
            .map(|h| {
                (
                    h.source.as_str(),
                    SourceHealth {
                        last_read_ok: h.last_read_at,
                        error: h.last_error.clone(),
                        watched_since: Some(h.created_at),
                    },
                )
            })
            .collect();
        let freshest = freshest(&self.sources, &by_source);
        let evals = self
            .jobs
            .iter()
            .zip(&self.owners)
            .zip(&events)
            .map(|((job, owner), events)| {
                let source = match owner {
                    Some(s) => by_source.get(s.as_str()).cloned().unwrap_or_default(),
                    None => freshest.clone(),
                };
                rules::evaluate(job, events, &source, now)
            })
            .collect();
        Ok(Evaluated { evals, latest })
    }

    /// Every job UNKNOWN because the events cannot be read.
    pub fn unavailable(&self, error: &str, now: DateTime<Utc>) -> Evaluated {
        Evaluated {
            evals: self
                .jobs
                .iter()
                .map(|_| rules::events_unavailable(error, now))
                .collect(),
            latest: vec![None; self.jobs.len()],
        }
    }

    /// The source job `i` belongs to: its configured `source`, else the one its latest
    /// message came from, else the first configured source. The one place this is decided.
    fn source_of<'a>(&'a self, i: usize, latest: &'a [Option<String>]) -> Option<&'a str> {
        self.owners
            .get(i)
            .and_then(Option::as_deref)
            .or_else(|| latest.get(i).and_then(Option::as_deref))
            .or_else(|| self.sources.first().map(String::as_str))
    }

    /// For piggyback: the jobs whose source `held` says this tracker holds, with each one's
    /// Checkmk host (parallel), in configuration order.
    pub fn placed<'a>(
        &'a self,
        e: &'a Evaluated,
        held: impl Fn(&str) -> bool,
    ) -> (Vec<Report<'a>>, Vec<String>) {
        let mut reports = Vec::new();
        let mut hosts = Vec::new();
        for (i, report) in self.reports(&e.evals).into_iter().enumerate() {
            let Some(source) = self.source_of(i, &e.latest) else {
                continue;
            };
            if held(source) {
                reports.push(report);
                hosts.push(
                    self.hosts
                        .get(source)
                        .map_or(source, String::as_str)
                        .to_owned(),
                );
            }
        }
        (reports, hosts)
    }

    /// The jobs paired with their evaluations, for the outputs.
    pub fn reports<'a>(&'a self, evals: &'a [Evaluation]) -> Vec<Report<'a>> {
        self.jobs.iter().zip(evals).collect()
    }

    /// Stores the evaluations and the tracker's heartbeat in PostgreSQL; returns how many
    /// jobs were marked TIMEOUT or DELAYED in job_log.
    pub async fn store_states(
        &self,
        store: &Store,
        tracker: &str,
        evals: &[Evaluation],
    ) -> Result<i32, StoreError> {
        let rows = StateRows {
            tracker,
            stale_after: self.stale_after,
            names: self.names.clone(),
            jobs: self.jobs.iter().map(|j| j.name.as_str()).collect(),
            envs: self.jobs.iter().map(|j| j.env.as_str()).collect(),
            owners: self.owners.iter().map(Option::as_deref).collect(),
            states: evals.iter().map(|e| e.state.as_str()).collect(),
            reasons: evals.iter().map(|e| e.reason.as_str()).collect(),
            since: evals.iter().map(|e| e.since).collect(),
            texts: evals.iter().map(|e| e.text.as_str()).collect(),
            last_start: evals.iter().map(|e| e.facts.last_start).collect(),
            last_success: evals.iter().map(|e| e.facts.last_success).collect(),
        };
        store.store_states(&rows).await
    }
}

/// Every job's evaluation, with the source each job's latest message came from.
#[derive(Debug, Clone, Default)]
pub struct Evaluated {
    pub evals: Vec<Evaluation>,
    /// Parallel to `evals`; `None` for a job without messages.
    pub latest: Vec<Option<String>>,
}

/// The health of the source read most recently, for jobs that take messages from any
/// source (sources never read: the first one's error, UNREACHABLE, or nothing, NO_DATA),
/// watched since the first source was polled.
fn freshest(sources: &[String], health: &HashMap<&str, SourceHealth>) -> SourceHealth {
    let known = sources.iter().filter_map(|s| health.get(s.as_str()));
    let watched_since = known.clone().filter_map(|h| h.watched_since).min();
    let best = known
        .clone()
        .filter(|h| h.last_read_ok.is_some())
        .max_by_key(|h| h.last_read_ok);
    match best {
        Some(h) => SourceHealth {
            watched_since,
            ..h.clone()
        },
        None => SourceHealth {
            last_read_ok: None,
            error: known.filter_map(|h| h.error.clone()).next(),
            watched_since,
        },
    }
}

/// The name a tracker registers with in PostgreSQL (`tracker_instance`): its host's name.
pub fn tracker_name() -> String {
    crate::host::kernel_hostname().unwrap_or_else(|| "localhost".into())
}

/// The Checkmk lines to write: every job on the agent's own host, or (piggyback) the jobs
/// this tracker reports, each with its host.
pub enum Placement<'r, 'a> {
    Own(&'r [Report<'a>]),
    Piggyback(&'r [Report<'a>], &'r [String]),
}

/// Writes the file outputs that are configured: the state files and the spool file (the
/// jobs `checkmk` places), and the Prometheus file (every job in `all`, then the tracker's
/// own `figures`). Every one is attempted; returns what failed.
pub fn write_files(
    out: &Output,
    all: &[Report],
    checkmk: Placement,
    figures: &TrackerFigures,
) -> Vec<OutputError> {
    let (reports, hosts) = match checkmk {
        Placement::Own(r) => (r, None),
        Placement::Piggyback(r, h) => (r, Some(h)),
    };
    let mut errors = Vec::new();
    if let Some(dir) = &out.state_dir {
        match output::write_state_files(dir, reports, hosts) {
            Ok(removed) => {
                for path in removed {
                    tracing::info!(file = %path.display(), "removed the state file of a job this tracker does not report");
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(path) = &out.spool_file {
        if let Err(e) = output::write_spool(path, reports, hosts) {
            errors.push(e);
        }
    }
    if let Some(path) = &out.prometheus_file {
        let mut text = output::prometheus_text(all);
        text.push_str(&output::tracker_text(figures));
        if let Err(e) = output::write_atomic(path, text.as_bytes()) {
            errors.push(e);
        }
    }
    errors
}
