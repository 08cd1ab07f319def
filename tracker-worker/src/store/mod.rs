//! The tracker's side of PostgreSQL: leases and cursors of sources, the messages table, and
//! job_log/job_detail. One [`Store`] is one connection; a batch of messages is one
//! transaction that stores the messages, their runs and steps, and the source's new cursor,
//! after checking that the cursor is still the one the batch was read from. That check (under
//! a row lock) is what keeps ingest exactly-once even when two trackers or a restarted one
//! race for a source; the leases only keep them from doing the same work twice, and share the
//! sources fairly between the live trackers ([`Store::announce`], [`Store::lease`]).

mod commit;
pub mod connect;
pub mod dashboard;
pub mod history;
mod retention;
mod service;
pub mod tls;

pub use retention::Purged;

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use tracker_core::ingest::cursor::Cursor;
use tracker_core::ingest::message::Message;
use tracker_core::ingest::runs::{OpenRun, Plan, RunRef};

/// job_log.pid of tracked runs: no backend of this server runs them.
const TRACKED_PID: i32 = 0;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {}", pg_error_text(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error(
        "the pg_jobmon extension is not installed in this database \
         (CREATE SCHEMA jobmon; CREATE EXTENSION pg_jobmon SCHEMA jobmon;)"
    )]
    NoExtension,
    #[error(
        "source `{0}` was changed by another tracker since it was read; \
         the batch was not stored and will be read again"
    )]
    CursorMoved(String),
}

impl StoreError {
    /// Whether the connection is unusable afterwards (reconnect before the next use).
    pub fn connection_lost(&self) -> bool {
        match self {
            StoreError::Db(e) => e.is_closed() || e.code().is_none(),
            _ => false,
        }
    }
}

/// The schema pg_jobmon is installed in, quoted for splicing into the statements in place
/// of `@extschema@`; [`StoreError::NoExtension`] when it is not installed.
pub async fn extension_schema(
    client: &impl tokio_postgres::GenericClient,
) -> Result<String, StoreError> {
    client
        .query_opt(include_str!("../../../sql/tracker/find_schema.sql"), &[])
        .await?
        .map(|r| r.get(0))
        .ok_or(StoreError::NoExtension)
}

/// The statements, prepared once per connection with the extension's schema spliced in.
struct Statements {
    ensure_source: Statement,
    presence: Statement,
    lease_lock: Statement,
    lease: Statement,
    leases: Statement,
    release: Statement,
    lock_cursor: Statement,
    advance_cursor: Statement,
    read_ok: Statement,
    read_failed: Statement,
    open_runs: Statement,
    next_job_ids: Statement,
    end_runs: Statement,
    copy_messages: Statement,
    copy_runs: Statement,
    add_steps: Statement,
    job_events: Statement,
    source_health: Statement,
    store_states: Statement,
    status_texts: Statement,
}

pub struct Store {
    client: Client,
    st: Statements,
}

/// A batch of one source's messages, with what they do to job_log and job_detail.
pub struct Batch<'a> {
    pub source: &'a str,
    /// The cursor the batch was read from; the commit fails if it is not current anymore.
    pub expected: Cursor,
    /// The generation the messages belong to (the expected one, or the next after a restart).
    pub generation: i64,
    /// Queue order; not empty.
    pub messages: &'a [Message],
    pub plan: &'a Plan,
}

impl Store {
    pub async fn connect(config: &connect::PgConfig) -> Result<Store, StoreError> {
        let (client, connection) = config.connect().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "database connection ended");
            }
        });
        let schema = extension_schema(&client).await?;
        let prep = |sql: &'static str| {
            let sql = sql.replace("@extschema@", &schema);
            let client = &client;
            async move { client.prepare(&sql).await }
        };
        let st = Statements {
            ensure_source: prep(include_str!("../../../sql/tracker/ensure_source.sql")).await?,
            presence: prep(include_str!("../../../sql/tracker/presence.sql")).await?,
            lease_lock: prep(include_str!("../../../sql/tracker/lease_lock.sql")).await?,
            lease: prep(include_str!("../../../sql/tracker/lease.sql")).await?,
            leases: prep(include_str!("../../../sql/tracker/leases.sql")).await?,
            release: prep(include_str!("../../../sql/tracker/release.sql")).await?,
            lock_cursor: prep(include_str!("../../../sql/tracker/lock_cursor.sql")).await?,
            advance_cursor: prep(include_str!("../../../sql/tracker/advance_cursor.sql")).await?,
            read_ok: prep(include_str!("../../../sql/tracker/read_ok.sql")).await?,
            read_failed: prep(include_str!("../../../sql/tracker/read_failed.sql")).await?,
            open_runs: prep(include_str!("../../../sql/tracker/open_runs.sql")).await?,
            next_job_ids: prep(include_str!("../../../sql/tracker/next_job_ids.sql")).await?,
            end_runs: prep(include_str!("../../../sql/tracker/end_runs.sql")).await?,
            copy_messages: prep(include_str!("../../../sql/tracker/copy_messages.sql")).await?,
            copy_runs: prep(include_str!("../../../sql/tracker/copy_runs.sql")).await?,
            add_steps: prep(include_str!("../../../sql/tracker/add_steps.sql")).await?,
            job_events: prep(include_str!("../../../sql/tracker/job_events.sql")).await?,
            source_health: prep(include_str!("../../../sql/tracker/source_health.sql")).await?,
            store_states: prep(include_str!("../../../sql/tracker/store_states.sql")).await?,
            status_texts: prep(include_str!("../../../sql/tracker/status_texts.sql")).await?,
        };
        Ok(Store { client, st })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Marks this connection as one of tracker `owner`'s, for as long as it is open: the
    /// live trackers that share the sources are those with such a connection.
    pub async fn announce(&self, owner: &str) -> Result<(), StoreError> {
        self.client.execute(&self.st.presence, &[&owner]).await?;
        Ok(())
    }

    /// Takes, renews or (to balance the sources between the live trackers) gives up the
    /// lease of `source` for `ttl`; `sources` is how many sources are configured. See
    /// sql/tracker/lease.sql for the rule.
    pub async fn lease(
        &mut self,
        source: &str,
        owner: &str,
        ttl: Duration,
        sources: usize,
    ) -> Result<Lease, StoreError> {
        let sources = i64::try_from(sources).unwrap_or(i64::MAX);
        let params: [&(dyn ToSql + Sync); 4] = [&source, &owner, &ttl.as_secs_f64(), &sources];
        let tx = self.client.transaction().await?;
        tx.execute(&self.st.lease_lock, &[]).await?;
        let mut row = tx.query_opt(&self.st.lease, &params).await?;
        if row.is_none() {
            // Held by another tracker, or the source's row does not exist yet: create it
            // (a no-op in the first case) and try once more.
            tx.execute(&self.st.ensure_source, &[&source]).await?;
            row = tx.query_opt(&self.st.lease, &params).await?;
        }
        tx.commit().await?;
        Ok(match row {
            None => Lease::Busy,
            Some(r) if !r.get::<_, bool>(0) => Lease::GivenUp,
            Some(r) => Lease::Held(cursor_of(r.get(1), r.get(2), r.get(3))),
        })
    }

    /// Who holds each of `sources` (unexpired leases only), with its last read; sources never
    /// polled are absent.
    pub async fn leases(&self, sources: &[String]) -> Result<Vec<LeaseRow>, StoreError> {
        let rows = self.client.query(&self.st.leases, &[&sources]).await?;
        Ok(rows
            .into_iter()
            .map(|r| LeaseRow {
                source: r.get(0),
                owner: r.get(1),
                until: r.get(2),
                last_read_at: r.get(3),
                last_error: r.get(4),
                stored: r.get(5),
                rejected: r.get(6),
            })
            .collect())
    }

    /// Gives up leases of `owner`: of `sources`, or all when `None`.
    pub async fn release(&self, owner: &str, sources: Option<&[String]>) -> Result<(), StoreError> {
        self.client
            .execute(&self.st.release, &[&owner, &sources])
            .await?;
        Ok(())
    }

    /// Records a successful poll that found nothing new.
    pub async fn read_ok(&self, source: &str) -> Result<(), StoreError> {
        self.client.execute(&self.st.read_ok, &[&source]).await?;
        Ok(())
    }

    /// Records why a poll of `source` failed.
    pub async fn read_failed(&self, source: &str, error: &str) -> Result<(), StoreError> {
        self.client
            .execute(&self.st.read_failed, &[&source, &error])
            .await?;
        Ok(())
    }

    /// The open runs of `names` owned by `source` (absent names have none).
    pub async fn open_runs(
        &self,
        source: &str,
        names: &[String],
    ) -> Result<HashMap<String, OpenRun>, StoreError> {
        let rows = self
            .client
            .query(&self.st.open_runs, &[&names, &source])
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let errors: i32 = r.get(2);
                (
                    r.get(0),
                    OpenRun {
                        run: RunRef::Existing(r.get(1)),
                        errors: u32::try_from(errors).unwrap_or(0),
                    },
                )
            })
            .collect())
    }

    /// The rule engine's input: the messages of the latest runs of each job `names[i]`
    /// (job_log names; only runs owned by `owners[i]` where that is set), at most `limit`
    /// per job, as (i, time, event, message, source), by job, oldest first.
    pub async fn job_events(
        &self,
        names: &[String],
        owners: &[Option<String>],
        limit: i64,
    ) -> Result<Vec<JobEvent>, StoreError> {
        let rows = self
            .client
            .query(&self.st.job_events, &[&names, &owners, &limit])
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| JobEvent {
                job: usize::try_from(r.get::<_, i32>(0) - 1).unwrap_or(usize::MAX),
                at: r.get(1),
                event: r.get(2),
                message: r.get(3),
                source: r.get(4),
            })
            .collect())
    }

    /// When each of `sources` was last read successfully and why its latest read failed;
    /// sources never polled are absent.
    pub async fn source_health(&self, sources: &[String]) -> Result<Vec<SourceRow>, StoreError> {
        let rows = self
            .client
            .query(&self.st.source_health, &[&sources])
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| SourceRow {
                source: r.get(0),
                last_read_at: r.get(1),
                last_error: r.get(2),
                created_at: r.get(3),
            })
            .collect())
    }

    /// Stores one evaluation (see `_tracker_store_states` in sql/tracker.sql): the heartbeat
    /// of `tracker`, every job's state, and a job_log mark for each job that has just become
    /// TIMEOUT or DELAYED. Returns how many were marked.
    pub async fn store_states(&self, states: &StateRows<'_>) -> Result<i32, StoreError> {
        let s = states;
        let row = self
            .client
            .query_one(
                &self.st.store_states,
                &[
                    &s.tracker,
                    &s.stale_after.as_secs_f64(),
                    &s.names,
                    &s.jobs,
                    &s.envs,
                    &s.owners,
                    &s.states,
                    &s.reasons,
                    &s.since,
                    &s.texts,
                    &s.last_start,
                    &s.last_success,
                ],
            )
            .await?;
        Ok(row.get(0))
    }
}

/// A server error as its message (with its detail) and SQLSTATE; anything else (a refused
/// connection, a timeout) with the chain of its causes. tokio-postgres alone says only
/// `db error` or `error connecting to server`.
pub fn pg_error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(": {detail}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        // tokio-postgres already prints its direct cause after the kind.
        if !text.ends_with(&part) {
            text.push_str(&format!(": {part}"));
        }
        source = s.source();
    }
    text
}

/// One message of a tracked job, for the rule engine.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    /// Index of the job in the request.
    pub job: usize,
    pub at: Option<DateTime<Utc>>,
    pub event: Option<String>,
    pub message: Option<String>,
    /// The source it came from.
    pub source: String,
}

/// What a lease attempt gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// The lease is ours; the source's cursor.
    Held(Cursor),
    /// Another tracker holds it.
    Busy,
    /// It was ours and was given up just now: this tracker holds more than its share while
    /// another holds less.
    GivenUp,
}

/// A source's lease as `check --sources` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRow {
    pub source: String,
    /// The holder's owner id (`host:pid:random`); `None` when no lease runs.
    pub owner: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub last_read_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub stored: i64,
    pub rejected: i64,
}

/// A source's health as stored by the pollers.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    pub source: String,
    pub last_read_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// When a tracker first polled it.
    pub created_at: DateTime<Utc>,
}

/// One evaluation of every job, as parallel columns (one element per job).
pub struct StateRows<'a> {
    pub tracker: &'a str,
    /// check_job_status() reports the tracker when it has not stored states for this long.
    pub stale_after: Duration,
    pub names: Vec<String>,
    pub jobs: Vec<&'a str>,
    pub envs: Vec<&'a str>,
    pub owners: Vec<Option<&'a str>>,
    pub states: Vec<&'static str>,
    pub reasons: Vec<&'static str>,
    pub since: Vec<DateTime<Utc>>,
    pub texts: Vec<&'a str>,
    pub last_start: Vec<Option<DateTime<Utc>>>,
    pub last_success: Vec<Option<DateTime<Utc>>>,
}

fn cursor_of(generation: i64, last_id: Option<i64>, fingerprint: Option<i64>) -> Cursor {
    Cursor {
        generation,
        last: last_id.zip(fingerprint).map(|(id, fp)| (id, fp as u64)),
    }
}
