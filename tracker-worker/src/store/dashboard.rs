//! The dashboard's reads: SELECT only (a read-only role suffices), each statement in
//! `sql/web/`, parameterised and driven by job_log's (job_name, start_time) and
//! start_time indexes and job_detail's job_id index, so a page costs what it shows.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row, Statement};

/// One connection with the dashboard's statements prepared.
pub struct Dashboard {
    client: Client,
    overview: Statement,
    job_runs: Statement,
    job_count: Statement,
    run: Statement,
    run_steps: Statement,
    timeline: Statement,
}

/// A job on the overview.
#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub job_name: String,
    /// Evaluated by a tracker (its state from tracker_job_state).
    pub tracked: bool,
    pub state: String,
    pub state_text: String,
    pub state_since: Option<DateTime<Utc>>,
    pub last_run: Option<RunRow>,
}

/// The overview's page and the counts that the filters need.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    pub jobs: Vec<JobRow>,
    /// Jobs matching the filters (all pages).
    pub total: i64,
    /// Jobs per state matching the name filter.
    pub counts: StateCounts,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct StateCounts {
    pub ok: i64,
    pub warning: i64,
    pub critical: i64,
    pub unknown: i64,
}

/// A job_log row.
#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub job_id: i64,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub status: Option<String>,
}

/// A run on a job's page.
#[derive(Debug, Clone, Serialize)]
pub struct JobRun {
    #[serde(flatten)]
    pub run: RunRow,
    pub owner: String,
    /// Steps that ended in a status other than OK.
    pub errors: i64,
}

/// What a job's page shows besides its runs.
#[derive(Debug, Clone, Serialize)]
pub struct JobHead {
    pub runs: i64,
    pub tracked_state: Option<String>,
    pub tracked_text: Option<String>,
    pub state_since: Option<DateTime<Utc>>,
}

/// A run with its job's name.
#[derive(Debug, Clone, Serialize)]
pub struct RunHead {
    #[serde(flatten)]
    pub run: RunRow,
    pub owner: String,
    pub job_name: String,
    pub pid: i32,
}

/// A job_detail row, as show_detail returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step_id: i64,
    pub action: String,
    pub start_time: DateTime<Utc>,
    pub end_time: Option<DateTime<Utc>>,
    pub elapsed_time: Option<f32>,
    pub status: Option<String>,
    pub message: Option<String>,
}

/// A run on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineRun {
    pub job_name: String,
    #[serde(flatten)]
    pub run: RunRow,
}

/// The run in columns `first..first + 4` (job_id, start_time, end_time, status).
fn run_at(r: &Row, first: usize) -> Result<RunRow, tokio_postgres::Error> {
    Ok(RunRow {
        job_id: r.try_get(first)?,
        start_time: r.try_get(first + 1)?,
        end_time: r.try_get(first + 2)?,
        status: r.try_get(first + 3)?,
    })
}

/// The same, or `None` where the job_id is NULL (a job without runs).
fn run_row(r: &Row, first: usize) -> Result<Option<RunRow>, tokio_postgres::Error> {
    let job_id: Option<i64> = r.try_get(first)?;
    job_id.map(|_| run_at(r, first)).transpose()
}

impl Dashboard {
    /// Prepares the statements on `client`, with the extension's schema spliced in.
    pub async fn prepare(client: Client) -> Result<Dashboard, StoreError> {
        let schema = super::extension_schema(&client).await?;
        let prep = |text: &'static str| {
            let sql = text.replace("@extschema@", &schema);
            let client = &client;
            async move { client.prepare(&sql).await }
        };
        let overview = prep(include_str!("../../../sql/web/overview.sql")).await?;
        let job_runs = prep(include_str!("../../../sql/web/job_runs.sql")).await?;
        let job_count = prep(include_str!("../../../sql/web/job_count.sql")).await?;
        let run = prep(include_str!("../../../sql/web/run.sql")).await?;
        let run_steps = prep(include_str!("../../../sql/web/run_steps.sql")).await?;
        let timeline = prep(include_str!("../../../sql/web/timeline.sql")).await?;
        Ok(Dashboard {
            client,
            overview,
            job_runs,
            job_count,
            run,
            run_steps,
            timeline,
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// One page of the overview: jobs whose name contains `name` (any case), in `state`
    /// (`""`: any).
    pub async fn overview(
        &self,
        name: &str,
        state: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Overview, StoreError> {
        let rows = self
            .client
            .query(&self.overview, &[&name, &state, &limit, &offset])
            .await?;
        let mut out = Overview::default();
        for r in &rows {
            out.total = r.try_get(5)?;
            out.counts = StateCounts {
                ok: r.try_get(6)?,
                warning: r.try_get(7)?,
                critical: r.try_get(8)?,
                unknown: r.try_get(9)?,
            };
            out.jobs.push(JobRow {
                job_name: r.try_get(0)?,
                tracked: r.try_get(1)?,
                state: r.try_get(2)?,
                state_text: r.try_get(3)?,
                state_since: r.try_get(4)?,
                last_run: run_row(r, 10)?,
            });
        }
        if rows.is_empty() && offset > 0 {
            // Past the last page: the counts still matter for the filters.
            let first = Box::pin(self.overview(name, state, 1, 0)).await?;
            out.total = first.total;
            out.counts = first.counts;
        }
        Ok(out)
    }

    pub async fn job_head(&self, job_name: &str) -> Result<JobHead, StoreError> {
        let r = self.client.query_one(&self.job_count, &[&job_name]).await?;
        Ok(JobHead {
            runs: r.try_get(0)?,
            tracked_state: r.try_get(1)?,
            tracked_text: r.try_get(2)?,
            state_since: r.try_get(3)?,
        })
    }

    /// A page of a job's runs, newest first.
    pub async fn job_runs(
        &self,
        job_name: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<JobRun>, StoreError> {
        let rows = self
            .client
            .query(&self.job_runs, &[&job_name, &limit, &offset])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRun {
                    run: run_at(r, 0)?,
                    owner: r.try_get(4)?,
                    errors: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub async fn run(&self, job_id: i64) -> Result<Option<RunHead>, StoreError> {
        let Some(r) = self.client.query_opt(&self.run, &[&job_id]).await? else {
            return Ok(None);
        };
        Ok(Some(RunHead {
            run: run_at(&r, 0)?,
            owner: r.try_get(4)?,
            job_name: r.try_get(5)?,
            pid: r.try_get(6)?,
        }))
    }

    pub async fn steps(&self, job_id: i64) -> Result<Vec<Step>, StoreError> {
        let rows = self.client.query(&self.run_steps, &[&job_id]).await?;
        rows.iter()
            .map(|r| {
                Ok(Step {
                    step_id: r.try_get(0)?,
                    action: r.try_get(1)?,
                    start_time: r.try_get(2)?,
                    end_time: r.try_get(3)?,
                    elapsed_time: r.try_get(4)?,
                    status: r.try_get(5)?,
                    message: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Runs started in `[from, until)`, at most `limit` (the latest), by job and start.
    pub async fn timeline(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TimelineRun>, StoreError> {
        let rows = self
            .client
            .query(&self.timeline, &[&from, &until, &limit])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TimelineRun {
                    job_name: r.try_get(4)?,
                    run: run_at(r, 0)?,
                })
            })
            .collect()
    }
}
