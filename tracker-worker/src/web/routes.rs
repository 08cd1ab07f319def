//! The routes: each page and its `/api/` twin ([`super::api`]) read the same rows through
//! the `*_data` functions here, so the JSON is what the page shows. Query parameters are
//! checked (a wrong one is a 400 naming it); a database that cannot be reached is a 503
//! with the reason.

use super::auth::Refusal;
use super::chart::{self, Lane, LaneRun};
use super::format::Outcome;
use super::pages::{self, View, RANGES, STATES};
use super::server::{self, Peer};
use super::{api, App};
use crate::monitor::Monitor;
use crate::store::dashboard::Step;
use crate::store::{Store, StoreError};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::sync::Arc;

pub(super) type Shared = State<Arc<App>>;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/job", get(job_page))
        .route("/run/{id}", get(run_page))
        .route("/timeline", get(timeline_page))
        .route("/api/jobs", get(api::overview))
        .route("/api/job", get(api::job))
        .route("/api/run/{id}", get(api::run))
        .route("/api/timeline", get(api::timeline))
        .route("/metrics", get(metrics))
        .route("/static/style.css", get(style))
        .route("/static/app.js", get(script))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .route("/healthz", get(healthz))
        .layer(middleware::from_fn(server::security_headers))
        .with_state(app)
}

/// A failed request, as HTML for pages and JSON for the API.
pub(super) struct Failure {
    status: StatusCode,
    message: String,
    json: bool,
}

impl Failure {
    fn bad_request(json: bool, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            json,
        }
    }

    fn not_found(json: bool, message: impl Into<String>) -> Failure {
        Failure {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            json,
        }
    }

    fn db(json: bool, e: StoreError) -> Failure {
        tracing::warn!(error = %e, "dashboard query failed");
        Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("the database cannot be read: {e}"),
            json,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if self.json {
            (
                self.status,
                Json(serde_json::json!({ "error": self.message })),
            )
                .into_response()
        } else {
            (
                self.status,
                Html(pages::error_page(self.status.as_u16(), &self.message).into_string()),
            )
                .into_response()
        }
    }
}

fn view(app: &App) -> View {
    View {
        zone: app.zone,
        now: Utc::now(),
    }
}

async fn authenticate(State(app): Shared, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<Peer>()
        .map(|p| p.0.ip())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if matches!(*app.auth, super::Auth::None) {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let auth = app.auth.clone();
    // Password hashes are slow on purpose: off the async threads.
    let verdict = tokio::task::spawn_blocking(move || {
        auth.check(
            |name| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            },
            peer,
        )
    })
    .await
    .unwrap_or(Err(Refusal::Forbidden));
    match verdict {
        Ok(_) => next.run(req).await,
        Err(refusal) => {
            tracing::info!(%peer, path = %req.uri().path(), ?refusal, "request refused");
            let status = match refusal {
                Refusal::NoCredentials | Refusal::WrongCredentials => StatusCode::UNAUTHORIZED,
                Refusal::Forbidden => StatusCode::FORBIDDEN,
            };
            let mut res = (status, "authentication required\n").into_response();
            if status == StatusCode::UNAUTHORIZED {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"jobmon\", charset=\"UTF-8\""),
                );
            }
            res
        }
    }
}

async fn not_found(req: Request) -> Failure {
    let json = req.uri().path().starts_with("/api/");
    Failure::not_found(json, format!("no page {}", req.uri().path()))
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/style.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
}

/// `ok` when the database answers the dashboard's statements.
async fn healthz(State(app): Shared) -> Response {
    match app.dashboard().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("database unavailable: {e}\n"),
        )
            .into_response(),
    }
}

/// The Prometheus text of the configured jobs, evaluated now as `run` evaluates them; with
/// no jobs configured, the file `output.prometheus_file` that a tracker writes.
async fn metrics(State(app): Shared) -> Response {
    let content_type = [(
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    )];
    if app.config.jobs.is_empty() {
        return match &app.config.output.prometheus_file {
            Some(f) => match std::fs::read_to_string(f) {
                Ok(text) => (content_type, text).into_response(),
                Err(e) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{}: {e}\n", f.display()),
                )
                    .into_response(),
            },
            None => (
                StatusCode::NOT_FOUND,
                "no jobs are configured and no output.prometheus_file: nothing to export\n",
            )
                .into_response(),
        };
    }
    let monitor = Monitor::new(&app.config);
    let mut slot = app.store.lock().await;
    if slot.as_ref().is_none_or(Store::is_closed) {
        match Store::connect(&app.pg).await {
            Ok(s) => *slot = Some(s),
            Err(e) => return Failure::db(false, e).into_response(),
        }
    }
    let Some(store) = slot.as_ref() else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    match monitor.evaluate(store, Utc::now()).await {
        Ok(e) => (
            content_type,
            crate::output::prometheus_text(&monitor.reports(&e.evals)),
        )
            .into_response(),
        Err(e) => Failure::db(false, e).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct OverviewQuery {
    name: Option<String>,
    state: Option<String>,
    page: Option<String>,
}

/// A `page` parameter: 1 or more.
fn page_number(json: bool, page: Option<&str>) -> Result<i64, Failure> {
    match page.filter(|p| !p.is_empty()) {
        None => Ok(1),
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|&n| (1..=1_000_000).contains(&n))
            .ok_or_else(|| {
                Failure::bad_request(json, format!("page `{p}` is not a page number (1 or more)"))
            }),
    }
}

pub(super) struct OverviewData {
    pub(super) data: crate::store::dashboard::Overview,
    pub(super) name: String,
    pub(super) state: String,
    pub(super) page: i64,
}

pub(super) async fn overview_data(
    app: &App,
    q: OverviewQuery,
    json: bool,
) -> Result<OverviewData, Failure> {
    let state = q.state.unwrap_or_default().to_ascii_uppercase();
    if !state.is_empty() && !STATES.contains(&state.as_str()) {
        return Err(Failure::bad_request(
            json,
            format!("state `{state}` is not one of OK, WARNING, CRITICAL, UNKNOWN"),
        ));
    }
    let page = page_number(json, q.page.as_deref())?;
    let name = q.name.unwrap_or_default();
    let size = i64::from(app.web.page_size);
    let db = app.dashboard().await.map_err(|e| Failure::db(json, e))?;
    let data = db
        .overview(name.trim(), &state, size, (page - 1) * size)
        .await
        .map_err(|e| Failure::db(json, e))?;
    Ok(OverviewData {
        data,
        name,
        state,
        page,
    })
}

impl App {
    pub(super) fn next_due(
        &self,
        job_name: &str,
        last_start: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        self.tracked
            .get(job_name)
            .and_then(|t| t.schedule.next_due(self.zone, last_start, Utc::now()))
    }
}

async fn overview_page(
    State(app): Shared,
    Query(q): Query<OverviewQuery>,
) -> Result<Html<String>, Failure> {
    let d = overview_data(&app, q, false).await?;
    let refresh = (!app.web.refresh.is_zero()).then(|| app.web.refresh.as_secs().max(1));
    let next_due = |name: &str, last: Option<DateTime<Utc>>| app.next_due(name, last);
    Ok(Html(
        pages::overview(
            &view(&app),
            &pages::OverviewPage {
                data: &d.data,
                name: &d.name,
                state: &d.state,
                page: d.page,
                page_size: i64::from(app.web.page_size),
                refresh,
                next_due: &next_due,
            },
        )
        .into_string(),
    ))
}

#[derive(Deserialize)]
pub(super) struct JobQuery {
    name: Option<String>,
    page: Option<String>,
}

pub(super) struct JobData {
    pub(super) name: String,
    pub(super) head: crate::store::dashboard::JobHead,
    pub(super) runs: Vec<crate::store::dashboard::JobRun>,
    pub(super) page: i64,
}

pub(super) async fn job_data(app: &App, q: JobQuery, json: bool) -> Result<JobData, Failure> {
    let name = q
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Failure::bad_request(json, "the job's name is missing: ?name=JOB"))?;
    let page = page_number(json, q.page.as_deref())?;
    let size = i64::from(app.web.page_size);
    let db = app.dashboard().await.map_err(|e| Failure::db(json, e))?;
    let head = db.job_head(&name).await.map_err(|e| Failure::db(json, e))?;
    if head.runs == 0 && head.tracked_state.is_none() && !app.tracked.contains_key(&name) {
        return Err(Failure::not_found(json, format!("no job named `{name}`")));
    }
    let runs = db
        .job_runs(&name, size, (page - 1) * size)
        .await
        .map_err(|e| Failure::db(json, e))?;
    Ok(JobData {
        name,
        head,
        runs,
        page,
    })
}

async fn job_page(State(app): Shared, Query(q): Query<JobQuery>) -> Result<Html<String>, Failure> {
    let d = job_data(&app, q, false).await?;
    Ok(Html(
        pages::job(
            &view(&app),
            &pages::JobPage {
                name: &d.name,
                head: &d.head,
                runs: &d.runs,
                tracked: app.tracked.get(&d.name),
                page: d.page,
                page_size: i64::from(app.web.page_size),
            },
        )
        .into_string(),
    ))
}

pub(super) async fn run_data(
    app: &App,
    id: &str,
    json: bool,
) -> Result<(crate::store::dashboard::RunHead, Vec<Step>), Failure> {
    let id: i64 = id
        .parse()
        .map_err(|_| Failure::bad_request(json, format!("`{id}` is not a run (job_id) number")))?;
    let db = app.dashboard().await.map_err(|e| Failure::db(json, e))?;
    let head = db
        .run(id)
        .await
        .map_err(|e| Failure::db(json, e))?
        .ok_or_else(|| Failure::not_found(json, format!("no run with job_id {id}")))?;
    let steps = db.steps(id).await.map_err(|e| Failure::db(json, e))?;
    Ok((head, steps))
}

async fn run_page(State(app): Shared, Path(id): Path<String>) -> Result<Html<String>, Failure> {
    let (head, steps) = run_data(&app, &id, false).await?;
    Ok(Html(pages::run(&view(&app), &head, &steps).into_string()))
}

#[derive(Deserialize)]
pub(super) struct TimelineQuery {
    range: Option<String>,
}

/// At most this many runs on the timeline (the latest of the range).
const TIMELINE_RUNS: i64 = 5000;

pub(super) struct TimelineData {
    pub(super) range: String,
    pub(super) from: DateTime<Utc>,
    pub(super) until: DateTime<Utc>,
    pub(super) lanes: Vec<Lane>,
    pub(super) truncated: bool,
}

pub(super) async fn timeline_data(
    app: &App,
    q: TimelineQuery,
    json: bool,
) -> Result<TimelineData, Failure> {
    let range = q.range.unwrap_or_else(|| "24h".into());
    let hours = RANGES
        .iter()
        .find(|(r, _)| *r == range)
        .map(|(_, h)| *h)
        .ok_or_else(|| {
            Failure::bad_request(json, format!("range `{range}` is not one of 6h, 24h, 7d"))
        })?;
    let until = Utc::now();
    let from = until - TimeDelta::hours(hours);
    let db = app.dashboard().await.map_err(|e| Failure::db(json, e))?;
    let runs = db
        .timeline(from, until, TIMELINE_RUNS)
        .await
        .map_err(|e| Failure::db(json, e))?;
    let truncated = runs.len() as i64 >= TIMELINE_RUNS;
    let mut lanes: Vec<Lane> = Vec::new();
    for r in runs {
        if lanes.last().is_none_or(|l| l.job_name != r.job_name) {
            lanes.push(lane(app, &r.job_name, from, until));
        }
        if let Some(l) = lanes.last_mut() {
            l.runs.push(LaneRun {
                job_id: r.run.job_id,
                start: r.run.start_time,
                end: r.run.end_time,
                outcome: Outcome::of(r.run.status.as_deref(), r.run.end_time),
            });
        }
    }
    // Cyclic jobs: the next start was due one interval after each start.
    for l in &mut lanes {
        let Some(crate::config::Schedule::Cyclic { interval }) =
            app.tracked.get(&l.job_name).map(|t| &t.schedule)
        else {
            continue;
        };
        if let Ok(interval) = TimeDelta::from_std(*interval) {
            l.deadlines =
                chart::cyclic_deadlines(l.runs.iter().map(|r| r.start), interval, from, until);
        }
    }
    // Tracked jobs without a run in the range still show their deadlines.
    for name in app.tracked.keys() {
        if !lanes.iter().any(|l| &l.job_name == name) {
            lanes.push(lane(app, name, from, until));
        }
    }
    lanes.sort_by(|a, b| a.job_name.cmp(&b.job_name));
    Ok(TimelineData {
        range,
        from,
        until,
        lanes,
        truncated,
    })
}

/// A job's lane with its deadlines (latest starts of daily and cron jobs; a cyclic job's
/// follow from its runs) and quiet window.
fn lane(app: &App, job_name: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> Lane {
    let tracked = app.tracked.get(job_name);
    let mut deadlines = Vec::new();
    if let Some(t) = tracked {
        let delay = match &t.schedule {
            crate::config::Schedule::Daily {
                start_max_delay, ..
            }
            | crate::config::Schedule::Cron {
                start_max_delay, ..
            } => TimeDelta::from_std(*start_max_delay).ok(),
            crate::config::Schedule::Cyclic { .. } => None,
        };
        if let Some(delay) = delay {
            let mut at = from - delay;
            // Bounded: a cron job firing every minute over 7 days is 10,080 marks at most.
            while let Some(fire) = t.schedule.next_due(app.zone, None, at) {
                if fire + delay >= until || deadlines.len() >= 10_080 {
                    break;
                }
                deadlines.push(fire + delay);
                at = fire + TimeDelta::minutes(1);
            }
        }
    }
    Lane {
        job_name: job_name.to_owned(),
        runs: Vec::new(),
        deadlines,
        quiet: tracked.and_then(|t| t.quiet),
    }
}

async fn timeline_page(
    State(app): Shared,
    Query(q): Query<TimelineQuery>,
) -> Result<Html<String>, Failure> {
    let d = timeline_data(&app, q, false).await?;
    Ok(Html(
        pages::timeline(
            &view(&app),
            &pages::TimelinePage {
                lanes: &d.lanes,
                range: &d.range,
                from: d.from,
                until: d.until,
                truncated: d.truncated,
            },
        )
        .into_string(),
    ))
}
