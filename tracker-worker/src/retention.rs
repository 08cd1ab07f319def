//! When the daemon purges tracker_message (`global.retention`, README: Retention): a pass
//! right after the first poll, then once an hour, each as a task on a connection of its
//! own (not announced as a lease holder), so polls go on meanwhile. The batches themselves
//! are the store's (`store/retention.rs`).

use crate::config::Config;
use crate::store::connect::{pg_config, ProcessEnv};
use crate::store::Store;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often the retention pass runs.
pub const PURGE_PERIOD: Duration = Duration::from_secs(3600);

/// The running pass, and when the next one is due.
#[derive(Default)]
pub struct Purger {
    running: Option<JoinHandle<()>>,
    next: Option<Instant>,
}

impl Purger {
    /// Starts a pass if one is due and the last one has finished; it stops after its
    /// current batch once `stop` is set.
    pub fn start(&mut self, config: &Config, stop: &Arc<AtomicBool>) {
        let now = Instant::now();
        if self.running.as_ref().is_some_and(|h| !h.is_finished())
            || self.next.is_some_and(|next| now < next)
        {
            return;
        }
        self.next = Some(now + PURGE_PERIOD);
        let Ok(pg) = pg_config(&config.database, &ProcessEnv) else {
            return;
        };
        let before = config.global.retention.and_then(|r| {
            chrono::TimeDelta::from_std(r)
                .ok()
                .and_then(|r| chrono::Utc::now().checked_sub_signed(r))
        });
        let stop = Arc::clone(stop);
        self.running = Some(tokio::spawn(async move {
            let store = match Store::connect(&pg).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "retention: cannot connect to the database; retried in an hour");
                    return;
                }
            };
            match store.purge(before, &stop).await {
                Ok(p) if !p.ran => tracing::debug!("retention: another tracker is purging"),
                Ok(p) => tracing::info!(
                    orphans = p.orphans,
                    aged = p.aged,
                    batches = p.batches,
                    longest_batch_ms =
                        u64::try_from(p.longest_batch.as_millis()).unwrap_or(u64::MAX),
                    "retention: tracker messages purged"
                ),
                Err(e) => tracing::warn!(error = %e, "retention: purge failed; retried in an hour"),
            }
        }));
    }

    /// Waits for the running pass, if any.
    pub async fn finish(&mut self) {
        if let Some(h) = self.running.take() {
            if let Err(e) = h.await {
                tracing::error!(error = %e, "retention task failed");
            }
        }
    }
}
