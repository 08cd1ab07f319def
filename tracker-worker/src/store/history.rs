//! What `config suggest` reads: the runs in job_log since a time, how the tracked ones'
//! messages spell their job and environment, and the jobs job_check_config already has. All
//! in one read-only transaction, so the command cannot change the database.

use super::connect::PgConfig;
use super::StoreError;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One run of job_log.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    /// Shared by the runs of one owner (few: the sources, the roles that log).
    pub owner: Arc<str>,
    /// Stored by the tracker (its owner is the source).
    pub tracked: bool,
    pub job_id: i64,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    /// Its status is OK.
    pub ok: bool,
}

/// The runs of one job, by start.
#[derive(Debug, Default)]
pub struct JobHistory {
    pub job_name: String,
    pub runs: Vec<HistoryRun>,
}

#[derive(Debug, Default)]
pub struct History {
    /// The extension's schema, quoted as an identifier.
    pub schema: String,
    /// By job name.
    pub jobs: Vec<JobHistory>,
    /// `(job, instance)` as the messages of a tracked run spell them, by its job_id; for
    /// the latest run of each tracked job.
    pub spellings: HashMap<i64, (String, String)>,
    /// Job names with a job_check_config row.
    pub configured: HashSet<String>,
}

/// Reads the runs started since `since`.
pub async fn read(config: &PgConfig, since: DateTime<Utc>) -> Result<History, StoreError> {
    let (mut client, connection) = config.connect().await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection ended");
        }
    });
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await?;
    let schema = super::extension_schema(&tx).await?;
    let sql = |text: &str| text.replace("@extschema@", &schema);
    // Streamed: a million runs in the window are a million rows, not to be held twice.
    let statement = tx
        .prepare(&sql(include_str!("../../../sql/tracker/suggest_runs.sql")))
        .await?;
    let rows = tx.query_raw(&statement, [&since]).await?;
    let mut rows = std::pin::pin!(rows);
    let mut jobs: Vec<JobHistory> = Vec::new();
    let mut owners: HashMap<String, Arc<str>> = HashMap::new();
    while let Some(r) = rows.try_next().await? {
        let name: &str = r.try_get(0)?;
        if jobs.last().is_none_or(|j| j.job_name != name) {
            jobs.push(JobHistory {
                job_name: name.to_owned(),
                runs: Vec::new(),
            });
        }
        let owner: &str = r.try_get(1)?;
        let owner = match owners.get(owner) {
            Some(o) => o.clone(),
            None => {
                let o: Arc<str> = owner.into();
                owners.insert(owner.to_owned(), o.clone());
                o
            }
        };
        let status: Option<&str> = r.try_get(6)?;
        let run = HistoryRun {
            owner,
            tracked: r.try_get(2)?,
            job_id: r.try_get(3)?,
            start: r.try_get(4)?,
            end: r.try_get(5)?,
            ok: status == Some("OK"),
        };
        if let Some(job) = jobs.last_mut() {
            job.runs.push(run);
        }
    }
    // The latest tracked run of each job.
    let ids: Vec<i64> = jobs
        .iter()
        .filter_map(|j| j.runs.iter().rev().find(|r| r.tracked).map(|r| r.job_id))
        .collect();
    let spellings = tx
        .query(
            &sql(include_str!("../../../sql/tracker/suggest_spellings.sql")),
            &[&ids],
        )
        .await?
        .iter()
        .filter_map(|r| {
            let job: Option<String> = r.get(1);
            let instance: Option<String> = r.get(2);
            Some((r.get(0), (job?, instance?)))
        })
        .collect();
    let configured = tx
        .query(
            &sql(include_str!("../../../sql/tracker/suggest_configured.sql")),
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.rollback().await?;
    Ok(History {
        schema,
        jobs,
        spellings,
        configured,
    })
}
