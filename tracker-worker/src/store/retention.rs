//! Retention of `tracker_message`: deletes the messages of runs that are gone and, with
//! `global.retention`, the messages stored before the bound, in small batches that each
//! commit on their own, with a pause after each, so no lock is held for long and the polls
//! running meanwhile on other connections are not held up. One tracker at a time purges
//! (a session advisory lock); the others skip their pass.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

/// Messages looked at per batch (and at most deleted per transaction).
pub const PURGE_BATCH: i64 = 5000;
/// The pause after a batch is at least this, and at least as long as the batch took, so a
/// purge uses at most about half of one server process.
const MIN_PAUSE: Duration = Duration::from_millis(10);
/// Key of the advisory lock that lets one tracker purge at a time.
const PURGE_LOCK: &str = "jobmon-tracker retention";

/// What a purge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Whether this tracker purged (else another one was purging).
    pub ran: bool,
    /// Messages of runs that are gone.
    pub orphans: u64,
    /// Messages stored before the bound.
    pub aged: u64,
    pub batches: u64,
    /// The longest batch, which is the longest any row lock of the purge was held.
    pub longest_batch: Duration,
}

struct PurgeStatements {
    sources: Statement,
    by_age: Statement,
    orphans: Statement,
}

impl Store {
    /// One retention pass: messages of runs that are gone, then (with `before`) messages
    /// stored before it. Stops between batches when `stop` is set.
    pub async fn purge(
        &self,
        before: Option<DateTime<Utc>>,
        stop: &AtomicBool,
    ) -> Result<Purged, StoreError> {
        let locked: bool = self
            .client
            .query_one(
                "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext($1))",
                &[&PURGE_LOCK],
            )
            .await?
            .get(0);
        if !locked {
            return Ok(Purged::default());
        }
        let result = self.purge_locked(before, stop).await;
        let unlocked = self
            .client
            .execute(
                "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext($1))",
                &[&PURGE_LOCK],
            )
            .await;
        let purged = result?;
        unlocked?;
        Ok(purged)
    }

    async fn purge_locked(
        &self,
        before: Option<DateTime<Utc>>,
        stop: &AtomicBool,
    ) -> Result<Purged, StoreError> {
        let st = self.purge_statements().await?;
        let mut purged = Purged {
            ran: true,
            ..Purged::default()
        };
        self.purge_orphans(&st, stop, &mut purged).await?;
        if let Some(before) = before {
            let sources: Vec<String> = self
                .client
                .query(&st.sources, &[])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for source in &sources {
                self.purge_source(&st, source, before, stop, &mut purged)
                    .await?;
            }
        }
        Ok(purged)
    }

    /// The purge's statements, prepared for this pass with the extension's schema.
    async fn purge_statements(&self) -> Result<PurgeStatements, StoreError> {
        let schema = super::extension_schema(&self.client).await?;
        let prep = |sql: &'static str| {
            let sql = sql.replace("@extschema@", &schema);
            async move { self.client.prepare(&sql).await }
        };
        Ok(PurgeStatements {
            sources: prep(include_str!("../../../sql/tracker/purge_sources.sql")).await?,
            by_age: prep(include_str!("../../../sql/tracker/purge_by_age.sql")).await?,
            orphans: prep(include_str!("../../../sql/tracker/purge_orphans.sql")).await?,
        })
    }

    async fn purge_orphans(
        &self,
        st: &PurgeStatements,
        stop: &AtomicBool,
        purged: &mut Purged,
    ) -> Result<(), StoreError> {
        let mut after = i64::MIN;
        while !stop.load(Ordering::SeqCst) {
            let params: [&(dyn ToSql + Sync); 2] = [&after, &PURGE_BATCH];
            let (row, took) = timed(self.client.query_one(&st.orphans, &params)).await?;
            let scanned: i64 = row.get(0);
            let deleted: i64 = row.get(2);
            purged.record(took, deleted, false);
            match row.get::<_, Option<i64>>(1) {
                Some(last) if scanned >= PURGE_BATCH => after = last,
                _ => break,
            }
            pause(took).await;
        }
        Ok(())
    }

    /// Walks `source`'s messages in storing order until it reaches those stored at or after
    /// `before`.
    async fn purge_source(
        &self,
        st: &PurgeStatements,
        source: &str,
        before: DateTime<Utc>,
        stop: &AtomicBool,
        purged: &mut Purged,
    ) -> Result<(), StoreError> {
        let mut after = (i64::MIN, i64::MIN);
        while !stop.load(Ordering::SeqCst) {
            let params: [&(dyn ToSql + Sync); 5] =
                [&source, &after.0, &after.1, &before, &PURGE_BATCH];
            let (row, took) = timed(self.client.query_one(&st.by_age, &params)).await?;
            let scanned: i64 = row.get(0);
            let newer: i64 = row.get(1);
            let deleted: i64 = row.get(2);
            purged.record(took, deleted, true);
            let last: (Option<i64>, Option<i64>) = (row.get(3), row.get(4));
            match last {
                (Some(generation), Some(queue_id)) if scanned >= PURGE_BATCH && newer == 0 => {
                    after = (generation, queue_id);
                }
                _ => break,
            }
            pause(took).await;
        }
        Ok(())
    }
}

impl Purged {
    fn record(&mut self, took: Duration, deleted: i64, aged: bool) {
        let deleted = u64::try_from(deleted).unwrap_or(0);
        if aged {
            self.aged += deleted;
        } else {
            self.orphans += deleted;
        }
        self.batches += 1;
        self.longest_batch = self.longest_batch.max(took);
    }
}

async fn timed<T, E>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(T, Duration), StoreError>
where
    StoreError: From<E>,
{
    let started = Instant::now();
    let value = f.await?;
    Ok((value, started.elapsed()))
}

async fn pause(took: Duration) {
    tokio::time::sleep(took.max(MIN_PAUSE)).await;
}
