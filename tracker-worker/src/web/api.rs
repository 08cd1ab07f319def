//! The JSON API: `/api/jobs`, `/api/job`, `/api/run/{id}`, `/api/timeline`, the same rows
//! as the pages (read by the same functions of [`super::routes`]) with times in RFC 3339
//! and each run's outcome, duration and link.

use super::format::{self, Outcome};
use super::pages;
use super::routes::{
    job_data, overview_data, run_data, timeline_data, Failure, JobQuery, OverviewQuery, Shared,
    TimelineQuery,
};
use crate::store::dashboard::JobRow;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Serialize)]
struct ApiJob<'a> {
    #[serde(flatten)]
    job: &'a JobRow,
    last_run_outcome: Option<Outcome>,
    next_due: Option<DateTime<Utc>>,
    url: String,
}

pub async fn overview(
    State(app): Shared,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, Failure> {
    let d = overview_data(&app, q, true).await?;
    let jobs: Vec<ApiJob> = d
        .data
        .jobs
        .iter()
        .map(|j| ApiJob {
            job: j,
            last_run_outcome: j
                .last_run
                .as_ref()
                .map(|r| Outcome::of(r.status.as_deref(), r.end_time)),
            next_due: app.next_due(&j.job_name, j.last_run.as_ref().map(|r| r.start_time)),
            url: format!("/job?name={}", pages::query_escape(&j.job_name)),
        })
        .collect();
    Ok(Json(serde_json::json!({
        "total": d.data.total,
        "page": d.page,
        "per_page": app.web.page_size,
        "counts": d.data.counts,
        "jobs": jobs,
    }))
    .into_response())
}

pub async fn job(State(app): Shared, Query(q): Query<JobQuery>) -> Result<Response, Failure> {
    let d = job_data(&app, q, true).await?;
    let now = Utc::now();
    let tracked = app.tracked.get(&d.name);
    let runs: Vec<serde_json::Value> = d
        .runs
        .iter()
        .map(|r| {
            serde_json::json!({
                "job_id": r.run.job_id,
                "owner": r.owner,
                "start_time": r.run.start_time,
                "end_time": r.run.end_time,
                "status": r.run.status,
                "outcome": Outcome::of(r.run.status.as_deref(), r.run.end_time),
                "duration_seconds": format::seconds(r.run.start_time, r.run.end_time, now),
                "errors": r.errors,
                "url": format!("/run/{}", r.run.job_id),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "job_name": d.name,
        "runs_total": d.head.runs,
        "page": d.page,
        "per_page": app.web.page_size,
        "tracked_state": d.head.tracked_state,
        "tracked_text": d.head.tracked_text,
        "schedule": tracked.map(|t| t.schedule_words.clone()),
        "timeout_seconds": tracked.and_then(|t| t.timeout).map(|t| t.as_secs_f64()),
        "runs": runs,
    }))
    .into_response())
}

pub async fn run(State(app): Shared, Path(id): Path<String>) -> Result<Response, Failure> {
    let (head, steps) = run_data(&app, &id, true).await?;
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "failed".into(),
                    format::step_failed(s.status.as_deref()).into(),
                );
            }
            v
        })
        .collect();
    Ok(Json(serde_json::json!({
        "job_id": head.run.job_id,
        "job_name": head.job_name,
        "owner": head.owner,
        "pid": head.pid,
        "start_time": head.run.start_time,
        "end_time": head.run.end_time,
        "status": head.run.status,
        "outcome": Outcome::of(head.run.status.as_deref(), head.run.end_time),
        "duration_seconds": format::seconds(head.run.start_time, head.run.end_time, Utc::now()),
        "steps": steps,
    }))
    .into_response())
}

pub async fn timeline(
    State(app): Shared,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, Failure> {
    let d = timeline_data(&app, q, true).await?;
    let jobs: Vec<serde_json::Value> = d
        .lanes
        .iter()
        .map(|l| {
            serde_json::json!({
                "job_name": l.job_name,
                "deadlines": l.deadlines,
                "quiet_window": l.quiet.map(|q| q.to_string()),
                "runs": l.runs.iter().map(|r| serde_json::json!({
                    "job_id": r.job_id, "start_time": r.start, "end_time": r.end, "outcome": r.outcome,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "range": d.range,
        "from": d.from,
        "until": d.until,
        "truncated": d.truncated,
        "jobs": jobs,
    }))
    .into_response())
}
