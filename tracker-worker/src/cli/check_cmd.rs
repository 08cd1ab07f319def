//! `jobmon-tracker check`: evaluates every configured job once from what PostgreSQL holds
//! and prints the Checkmk local-check lines. Reads only: nothing is polled, stored, written
//! or sent, so it can run next to the daemon (e.g. as the Checkmk agent's local check).
//! `--sources` prints the sources' leases instead: which tracker reads which source.

use super::{print, CheckArgs, CliError};
use crate::config::{self, Config};
use crate::daemon::owner_host;
use crate::monitor::{Evaluated, Monitor};
use crate::output::{check_text, piggyback_text, SPOOL_HEADER};
use crate::store::connect::{pg_config, ProcessEnv};
use crate::store::{LeaseRow, Store};
use std::future::Future;

pub fn run(args: CheckArgs) -> Result<(), CliError> {
    let loaded = config::load(&args.config).map_err(|e| CliError::Runtime(e.to_string()))?;
    let config = loaded.config;
    if args.sources {
        let leases = with_store(&config, args.timeout, |store, sources| async move {
            store.leases(&sources).await
        })
        .map_err(CliError::Runtime)?;
        return print(&sources_table(&config, &leases));
    }
    let monitor = Monitor::new(&config);
    let now = chrono::Utc::now();
    let read = with_store(&config, args.timeout, |store, sources| {
        let monitor = &monitor;
        async move {
            let evaluated = monitor.evaluate(&store, now).await?;
            let leases = store.leases(&sources).await?;
            Ok((evaluated, leases))
        }
    });
    let (evaluated, leases) = match read {
        Ok((e, l)) => (e, Some(l)),
        Err(e) => (monitor.unavailable(&e, now), None),
    };
    let mut text = String::new();
    if args.header {
        text.push_str(SPOOL_HEADER);
        text.push('\n');
    }
    if config.output.piggyback {
        text.push_str(&piggyback(
            &monitor,
            &evaluated,
            leases.as_deref(),
            args.header,
        ));
    } else {
        text.push_str(&check_text(&monitor.reports(&evaluated.evals)));
    }
    print(&text)
}

/// The jobs of the sources held by a tracker on this host, each in a piggyback section of
/// its host; every job when the leases could not be read (so an outage is seen). Run as a
/// local check (no header), the output ends with the local header again for the local
/// checks the agent runs after it.
fn piggyback(
    monitor: &Monitor,
    evaluated: &Evaluated,
    leases: Option<&[LeaseRow]>,
    header: bool,
) -> String {
    let here = crate::host::kernel_hostname().unwrap_or_default();
    let held = |source: &str| match leases {
        None => true,
        Some(rows) => rows.iter().any(|r| {
            r.source == source && r.owner.as_deref().is_some_and(|o| owner_host(o) == here)
        }),
    };
    let (reports, hosts) = monitor.placed(evaluated, held);
    piggyback_text(&reports, &hosts, !header)
}

/// Connects with the configuration's `[database]` settings and runs `work` on the store with
/// the configured source names, all within `timeout`.
fn with_store<T, F, Fut>(
    config: &Config,
    timeout: std::time::Duration,
    work: F,
) -> Result<T, String>
where
    F: FnOnce(Store, Vec<String>) -> Fut,
    Fut: Future<Output = Result<T, crate::store::StoreError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let sources: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    runtime.block_on(async {
        let pg = pg_config(&config.database, &ProcessEnv).map_err(|e| e.to_string())?;
        let all = async {
            let store = Store::connect(&pg).await?;
            work(store, sources).await
        };
        match tokio::time::timeout(timeout, all).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no answer within {}",
                config::format_duration(timeout)
            )),
        }
    })
}

/// One line per configured source, in configuration order: who holds it and until when,
/// its last read, counts and last error, in aligned columns.
fn sources_table(config: &Config, leases: &[LeaseRow]) -> String {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or("-".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
    };
    let mut rows = vec![[
        "SOURCE".to_owned(),
        "HELD BY".to_owned(),
        "LEASE UNTIL".to_owned(),
        "LAST READ".to_owned(),
        "STORED".to_owned(),
        "REJECTED".to_owned(),
        "LAST ERROR".to_owned(),
    ]];
    for s in &config.sources {
        let row = leases.iter().find(|r| r.source == s.name);
        rows.push(match row {
            None => [
                s.name.clone(),
                "-".into(),
                "-".into(),
                "never polled".into(),
                "0".into(),
                "0".into(),
                "-".into(),
            ],
            Some(r) => [
                s.name.clone(),
                r.owner.clone().unwrap_or_else(|| "nobody".into()),
                time(r.until),
                time(r.last_read_at),
                r.stored.to_string(),
                r.rejected.to_string(),
                r.last_error
                    .as_deref()
                    .map_or("-".into(), |e| e.replace(['\n', '\r'], " ")),
            ],
        });
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
