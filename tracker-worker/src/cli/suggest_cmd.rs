//! `jobmon-tracker config suggest`: reads job_log's history, sorts its jobs into tracked
//! jobs the configuration lacks and in-database jobs without job_check_config thresholds,
//! lets the core read a schedule from each one's runs and prints the stanzas and
//! statements. It changes nothing: the configuration is only read, the database only in a
//! read-only transaction.

use super::{print, CliError, SuggestArgs, SuggestPart};
use crate::config::suggest::{sql_text, toml_text, Context, DatabaseJob, TrackedJob};
use crate::config::{self, format_duration};
use crate::store::connect::{pg_config, ProcessEnv};
use crate::store::history::{self, History, HistoryRun};
use chrono::{TimeDelta, Utc};
use std::collections::{BTreeSet, HashSet};
use tracker_core::identity::job_log_name;
use tracker_core::schedule::Zone;
use tracker_core::suggest::{suggest, Run};

pub fn run(args: SuggestArgs) -> Result<(), CliError> {
    let loaded = config::load(&args.config).map_err(|e| CliError::Runtime(e.to_string()))?;
    let config = loaded.config;
    let now = Utc::now();
    let since = now - TimeDelta::from_std(args.since).unwrap_or(TimeDelta::MAX);
    let history = read(&config, since, args.timeout)?;
    let zone = Zone::from(config.global.time_zone);
    let since_text = match args.since.as_secs() {
        s if s % 86_400 == 0 && args.since.subsec_nanos() == 0 => format!("{}d", s / 86_400),
        _ => format_duration(args.since),
    };
    let config_file = args.config.display().to_string();
    let cx = Context {
        zone,
        zone_name: config.global.time_zone.map_or_else(
            || "this host's local time (global.time_zone is unset)".to_owned(),
            |tz| format!("{} (global.time_zone)", tz.name()),
        ),
        since,
        since_text: &since_text,
        now,
        config_file: &config_file,
    };
    let sorted = sort(&config, &history, zone, now);
    let mut out = String::new();
    if args.only != Some(SuggestPart::Sql) {
        out.push_str(&toml_text(&cx, &sorted.tracked, &sorted.notes));
    }
    if args.only.is_none() {
        out.push('\n');
    }
    if args.only != Some(SuggestPart::Toml) {
        out.push_str(&sql_text(&cx, &history.schema, &sorted.database));
    }
    print(&out)
}

fn read(
    config: &config::Config,
    since: chrono::DateTime<Utc>,
    timeout: std::time::Duration,
) -> Result<History, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let pg = pg_config(&config.database, &ProcessEnv).map_err(CliError::Runtime)?;
        let failed = |why: String| CliError::Runtime(format!("{}: {why}", pg.target()));
        match tokio::time::timeout(timeout, history::read(&pg, since)).await {
            Ok(result) => result.map_err(|e| failed(e.to_string())),
            Err(_) => Err(failed(format!(
                "the history was not read within {} (--timeout)",
                format_duration(timeout)
            ))),
        }
    })
}

struct Sorted {
    tracked: Vec<TrackedJob>,
    database: Vec<DatabaseJob>,
    notes: Vec<String>,
}

/// Splits the history by job: tracked jobs from configured sources without a `[[jobs]]`
/// entry, and in-database jobs without a job_check_config row; each with its suggestion.
fn sort(config: &config::Config, h: &History, zone: Zone, now: chrono::DateTime<Utc>) -> Sorted {
    let configured: HashSet<String> = config
        .jobs
        .iter()
        .map(|j| job_log_name(&j.name, &j.env))
        .collect();
    let sources: HashSet<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = Sorted {
        tracked: Vec::new(),
        database: Vec::new(),
        notes: Vec::new(),
    };
    let mut elsewhere = Vec::new();
    for job in &h.jobs {
        let (name, runs) = (&job.job_name, &job.runs);
        let tracked: Vec<&HistoryRun> = runs.iter().filter(|r| r.tracked).collect();
        if tracked.is_empty() {
            if h.configured.contains(name) {
                continue;
            }
            if let Some(suggestion) = suggest(&core_runs(runs.iter()), zone, now) {
                sorted.database.push(DatabaseJob {
                    name: name.clone(),
                    suggestion,
                });
            }
            continue;
        }
        if configured.contains(name) {
            continue;
        }
        let from: Vec<&HistoryRun> = tracked
            .iter()
            .copied()
            .filter(|r| sources.contains(&*r.owner))
            .collect();
        if from.is_empty() {
            elsewhere.push(name.clone());
            continue;
        }
        let names: BTreeSet<String> = from.iter().map(|r| r.owner.to_string()).collect();
        let (job, env) = from
            .iter()
            .rev()
            .find_map(|r| h.spellings.get(&r.job_id).cloned())
            .unwrap_or_else(|| split_name(name));
        if let Some(suggestion) = suggest(&core_runs(from.iter().copied()), zone, now) {
            sorted.tracked.push(TrackedJob {
                job,
                env,
                sources: names.into_iter().collect(),
                suggestion,
            });
        }
    }
    if !elsewhere.is_empty() {
        sorted.notes.push(format!(
            "{} only from sources this configuration does not have, left out: {}.",
            if elsewhere.len() == 1 {
                "1 tracked job came".to_owned()
            } else {
                format!("{} tracked jobs came", elsewhere.len())
            },
            elsewhere.join(", ")
        ));
    }
    sorted
}

/// Runs as the core reads them: failed if they ended with another status than OK.
fn core_runs<'a>(runs: impl Iterator<Item = &'a HistoryRun>) -> Vec<Run> {
    runs.map(|r| Run {
        start: r.start,
        end: r.end,
        failed: r.end.is_some() && !r.ok,
    })
    .collect()
}

/// `JOB__ENV` as job and environment, when no message spells them.
fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once("__") {
        Some((job, env)) => (job.to_owned(), env.to_owned()),
        None => (name.to_owned(), String::new()),
    }
}
