//! What `config suggest` reads: the runs in job_log since a time, how the tracked ones'
//! messages spell their job and environment, and the jobs job_check_config already has. All
//! in one read-only transaction, so the command cannot change the database.

use super::connect::PgConfig;
use super::StoreError;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// One run of job_log.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    pub job_name: String,
    pub owner: String,
    /// Stored by the tracker (its owner is the source).
    pub tracked: bool,
    pub job_id: i64,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub status: Option<String>,
}

#[derive(Debug, Default)]
pub struct History {
    /// The extension's schema, quoted as an identifier.
    pub schema: String,
    /// By job name, then start.
    pub runs: Vec<HistoryRun>,
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
    let schema: Option<String> = tx
        .query_opt(include_str!("../../../sql/tracker/find_schema.sql"), &[])
        .await?
        .map(|r| r.get(0));
    let schema = schema.ok_or(StoreError::NoExtension)?;
    let sql = |text: &str| text.replace("@extschema@", &schema);
    let runs: Vec<HistoryRun> = tx
        .query(
            &sql(include_str!("../../../sql/tracker/suggest_runs.sql")),
            &[&since],
        )
        .await?
        .iter()
        .map(|r| HistoryRun {
            job_name: r.get(0),
            owner: r.get(1),
            tracked: r.get(2),
            job_id: r.get(3),
            start: r.get(4),
            end: r.get(5),
            status: r.get(6),
        })
        .collect();
    // The latest run of each tracked job: runs are ordered by name and start.
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for r in runs.iter().filter(|r| r.tracked) {
        latest.insert(&r.job_name, r.job_id);
    }
    let ids: Vec<i64> = latest.into_values().collect();
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
        runs,
        spellings,
        configured,
    })
}
