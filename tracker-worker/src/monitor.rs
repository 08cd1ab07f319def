//! The evaluation that follows every poll: each configured job's recent messages and its
//! sources' health are read from PostgreSQL, the rule engine ([`tracker_core::rules`]) judges them,
//! and the verdicts go to every configured output ([`write_files`]; the states in PostgreSQL
//! through [`Monitor::store_states`]; the Event Console through the daemon).
//!
//! The events come from PostgreSQL, not from what this tracker read itself, so every tracker
//! sharing a database judges a job by all of its messages, whichever tracker stored them.

use crate::config::{Config, Global, Output};
use crate::output::{self, OutputError, Report};
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
    ) -> Result<Vec<Evaluation>, StoreError> {
        if self.jobs.is_empty() {
            return Ok(Vec::new());
        }
        let rows = store
            .job_events(&self.names, &self.owners, EVENTS_PER_JOB)
            .await?;
        let health = store.source_health(&self.sources).await?;
        let mut events: Vec<Vec<Event>> = vec![Vec::new(); self.jobs.len()];
        for row in rows {
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
        Ok(self
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
            .collect())
    }

    /// Every job UNKNOWN because the events cannot be read.
    pub fn unavailable(&self, error: &str, now: DateTime<Utc>) -> Vec<Evaluation> {
        self.jobs
            .iter()
            .map(|_| rules::events_unavailable(error, now))
            .collect()
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

/// Writes the file outputs that are configured: the state files, the spool file and the
/// Prometheus file. Every one is attempted; returns what failed.
pub fn write_files(out: &Output, reports: &[Report]) -> Vec<OutputError> {
    let mut errors = Vec::new();
    if let Some(dir) = &out.state_dir {
        match output::write_state_files(dir, reports) {
            Ok(removed) => {
                for path in removed {
                    tracing::info!(file = %path.display(), "removed the state file of a job no longer configured");
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if let Some(path) = &out.spool_file {
        if let Err(e) = output::write_spool(path, reports) {
            errors.push(e);
        }
    }
    if let Some(path) = &out.prometheus_file {
        if let Err(e) = output::write_atomic(path, output::prometheus_text(reports).as_bytes()) {
            errors.push(e);
        }
    }
    errors
}
