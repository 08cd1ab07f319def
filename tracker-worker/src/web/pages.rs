//! The HTML pages, as maud templates (checked by the compiler, every value escaped): the
//! overview, a job, a run and the timeline. They read without JavaScript; the overview
//! reloads itself with a meta refresh.

use super::chart::{self, Bar, Lane};
use super::format::{self, Outcome};
use super::TrackedJob;
use crate::store::dashboard::{JobHead, JobRun, Overview, RunHead, Step};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use tracker_core::schedule::Zone;

/// What every page needs to show times.
#[derive(Clone, Copy)]
pub struct View {
    pub zone: Zone,
    pub now: DateTime<Utc>,
}

impl View {
    fn when(&self, t: DateTime<Utc>) -> Markup {
        html! {
            time datetime=(t.to_rfc3339()) title=(format::time(self.zone, t)) {
                (format::time(self.zone, t)) " " span.rel { "(" (format::relative(t, self.now)) ")" }
            }
        }
    }
}

/// `s` for a URL query value: everything but unreserved characters percent-encoded.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub const STATES: [&str; 4] = ["CRITICAL", "UNKNOWN", "WARNING", "OK"];

pub fn layout(title: &str, refresh: Option<u64>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(r) = refresh {
                    meta http-equiv="refresh" content=(r);
                }
                title { (title) " · jobmon" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                header {
                    nav {
                        a.brand href="/" { "jobmon" }
                        a href="/" { "Overview" }
                        a href="/timeline" { "Timeline" }
                        a href="/api/jobs" { "API" }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn error_page(status: u16, message: &str) -> Markup {
    layout(
        "Error",
        None,
        html! {
            h1 { "Error " (status) }
            p.error { (message) }
        },
    )
}

fn state_badge(state: &str) -> Markup {
    html! { span class=(format!("state {}", state.to_ascii_lowercase())) { (state) } }
}

fn job_link(name: &str) -> String {
    format!("/job?name={}", query_escape(name))
}

/// Links to the pages before and after `page` of `base` (which ends in `?` or `&`);
/// `words` name the two directions.
fn pager(base: &str, page: i64, pages: i64, words: (&str, &str)) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager aria-label="pages" {
                @if page > 1 {
                    a rel="prev" href=(format!("{base}page={}", page - 1)) { "← " (words.0) }
                }
                span { "page " (page) " of " (pages) }
                @if page < pages {
                    a rel="next" href=(format!("{base}page={}", page + 1)) { (words.1) " →" }
                }
            }
        }
    }
}

/// A tracked job's next due time from its name and last start.
pub type NextDue<'a> = &'a dyn Fn(&str, Option<DateTime<Utc>>) -> Option<DateTime<Utc>>;

pub struct OverviewPage<'a> {
    pub data: &'a Overview,
    pub name: &'a str,
    pub state: &'a str,
    pub page: i64,
    pub page_size: i64,
    pub refresh: Option<u64>,
    pub next_due: NextDue<'a>,
}

pub fn overview(v: &View, p: &OverviewPage) -> Markup {
    let c = &p.data.counts;
    let counts = [
        ("CRITICAL", c.critical),
        ("UNKNOWN", c.unknown),
        ("WARNING", c.warning),
        ("OK", c.ok),
    ];
    let pages = (p.data.total + p.page_size - 1) / p.page_size;
    let base = format!(
        "/?name={}&state={}&",
        query_escape(p.name),
        query_escape(p.state)
    );
    let body = html! {
        h1 { "Jobs" }
        form.filters method="get" action="/" {
            label { "Name " input type="search" name="name" value=(p.name) placeholder="part of a job name"; }
            label { "State "
                select name="state" {
                    option value="" selected[p.state.is_empty()] { "any" }
                    @for s in STATES {
                        option value=(s) selected[p.state == s] { (s) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        p.counts {
            @for (s, n) in counts {
                a class=(format!("count {}", s.to_ascii_lowercase()))
                    href=(format!("/?name={}&state={s}", query_escape(p.name))) { (s) ": " (n) }
                " "
            }
            span.total { (p.data.total) " job(s) shown by the filter" }
        }
        table.jobs {
            thead { tr {
                th { "State" } th { "Job" } th { "Last start" } th { "Duration" }
                th { "Last status" } th { "Next due" } th { "Why" }
            } }
            tbody {
                @for j in &p.data.jobs {
                    @let last = j.last_run.as_ref();
                    tr class=(format!("job {}", j.state.to_ascii_lowercase())) {
                        td { (state_badge(&j.state)) @if j.tracked { " " span.tag { "tracked" } } }
                        td.name { a href=(job_link(&j.job_name)) { (j.job_name) } }
                        td { @if let Some(r) = last { a href=(format!("/run/{}", r.job_id)) { (v.when(r.start_time)) } } @else { "never" } }
                        td { @if let Some(r) = last {
                            (format::duration(format::seconds(r.start_time, r.end_time, v.now)))
                            @if r.end_time.is_none() { " (running)" }
                        } }
                        td { @if let Some(r) = last {
                            span class=(format!("outcome {}", Outcome::of(r.status.as_deref(), r.end_time).class())) {
                                (r.status.as_deref().unwrap_or("RUNNING"))
                            }
                        } }
                        td { @if let Some(t) = (p.next_due)(&j.job_name, last.map(|r| r.start_time)) { (v.when(t)) } }
                        td.why { (j.state_text) }
                    }
                }
            }
        }
        @if p.data.jobs.is_empty() { p.empty { "No job matches." } }
        (pager(&base, p.page, pages, ("previous", "next")))
    };
    layout("Jobs", p.refresh, body)
}

pub struct JobPage<'a> {
    pub name: &'a str,
    pub head: &'a JobHead,
    pub runs: &'a [JobRun],
    pub tracked: Option<&'a TrackedJob>,
    pub page: i64,
    pub page_size: i64,
}

pub fn job(v: &View, p: &JobPage) -> Markup {
    let pages = (p.head.runs + p.page_size - 1) / p.page_size;
    let bars: Vec<Bar> = p
        .runs
        .iter()
        .rev()
        .map(|r| Bar {
            job_id: r.run.job_id,
            start: r.run.start_time,
            seconds: format::seconds(r.run.start_time, r.run.end_time, v.now),
            outcome: Outcome::of(r.run.status.as_deref(), r.run.end_time),
        })
        .collect();
    let timeout = p.tracked.and_then(|t| t.timeout).map(|d| d.as_secs_f64());
    let base = format!("{}&", job_link(p.name));
    let body = html! {
        h1 { (p.name) }
        dl.facts {
            @if let Some(s) = &p.head.tracked_state {
                dt { "State" } dd { (state_badge(s)) " " (p.head.tracked_text.as_deref().unwrap_or("")) }
            }
            @if let Some(t) = p.tracked {
                dt { "Schedule" } dd.schedule { (t.schedule_words) }
                dt { "Timeout" } dd { (t.timeout.map_or("none".to_owned(), |d| format::duration(d.as_secs_f64()))) }
            }
            dt { "Runs" } dd { (p.head.runs) }
        }
        h2 { "Run time" }
        @if bars.is_empty() { p.empty { "No runs." } } @else { (chart::durations(&bars, timeout, v.zone)) }
        h2 { "Runs, newest first" }
        table.runs {
            thead { tr { th { "Run" } th { "Start" } th { "End" } th { "Duration" } th { "Status" } th { "Errors" } } }
            tbody {
                @for r in p.runs {
                    @let outcome = Outcome::of(r.run.status.as_deref(), r.run.end_time);
                    tr class=(format!("run {}", outcome.class())) {
                        td { a href=(format!("/run/{}", r.run.job_id)) { (r.run.job_id) } }
                        td { (v.when(r.run.start_time)) }
                        td { @if let Some(e) = r.run.end_time { (format::time(v.zone, e)) } @else { "running" } }
                        td { (format::duration(format::seconds(r.run.start_time, r.run.end_time, v.now))) }
                        td { span class=(format!("outcome {}", outcome.class())) { (r.run.status.as_deref().unwrap_or("RUNNING")) } }
                        td.errors { (r.errors) }
                    }
                }
            }
        }
        (pager(&base, p.page, pages, ("newer", "older")))
    };
    layout(p.name, None, body)
}

pub fn run(v: &View, head: &RunHead, steps: &[Step]) -> Markup {
    let outcome = Outcome::of(head.run.status.as_deref(), head.run.end_time);
    let first_failed = steps
        .iter()
        .position(|s| format::step_failed(s.status.as_deref()));
    let body = html! {
        h1 { "Run " (head.run.job_id) " of " a href=(job_link(&head.job_name)) { (head.job_name) } }
        dl.facts {
            dt { "Status" } dd { span class=(format!("outcome {}", outcome.class())) { (head.run.status.as_deref().unwrap_or("RUNNING")) } }
            dt { "Start" } dd { (v.when(head.run.start_time)) }
            dt { "End" } dd { @if let Some(e) = head.run.end_time { (format::time(v.zone, e)) } @else { "running" } }
            dt { "Duration" } dd { (format::duration(format::seconds(head.run.start_time, head.run.end_time, v.now))) }
            dt { "Owner" } dd { (head.owner) }
            dt { "PID" } dd { (head.pid) }
        }
        h2 { "Steps" }
        table.steps {
            thead { tr { th { "Step" } th { "Action" } th { "Start" } th { "End" } th { "Elapsed" } th { "Status" } th { "Message" } } }
            tbody {
                @for (i, s) in steps.iter().enumerate() {
                    @let failed = format::step_failed(s.status.as_deref());
                    tr class=(if failed { "step failed" } else { "step" })
                        id=[(first_failed == Some(i)).then_some("failed-step")] {
                        td { (s.step_id) }
                        td.action { (s.action) }
                        td { (format::time(v.zone, s.start_time)) }
                        td { @if let Some(e) = s.end_time { (format::time(v.zone, e)) } }
                        td { @if let Some(e) = s.elapsed_time { (format::duration(f64::from(e))) } }
                        td { (s.status.as_deref().unwrap_or("")) }
                        td.message { (s.message.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        @if steps.is_empty() { p.empty { "This run has no steps." } }
    };
    layout(&format!("Run {}", head.run.job_id), None, body)
}

pub struct TimelinePage<'a> {
    pub lanes: &'a [Lane],
    pub range: &'a str,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub truncated: bool,
}

pub const RANGES: [(&str, i64); 3] = [("6h", 6), ("24h", 24), ("7d", 168)];

pub fn timeline(v: &View, p: &TimelinePage) -> Markup {
    let body = html! {
        h1 { "Timeline" }
        p.zoom {
            "Range: "
            @for (r, _) in RANGES {
                @if r == p.range { strong { (r) } } @else { a href=(format!("/timeline?range={r}")) { (r) } }
                " "
            }
            " from " (format::time(v.zone, p.from)) " to " (format::time(v.zone, p.until))
        }
        p.legend {
            span.key.ok { "ok" } " " span.key.failed { "failed" } " " span.key.running { "running" } " "
            span.key.deadline { "latest start" } " " span.key.quiet { "quiet window" }
        }
        @if p.truncated { p.warning { "Only the latest runs of the range are shown; choose a shorter range." } }
        @if p.lanes.is_empty() { p.empty { "No run in this range." } }
        @else { (chart::timeline(p.lanes, p.from, p.until, v.now, v.zone)) }
    };
    layout("Timeline", None, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dashboard::{JobRow, RunRow, StateCounts};

    #[test]
    fn producer_text_is_escaped() {
        let data = Overview {
            jobs: vec![JobRow {
                job_name: "<script>alert(1)</script>".into(),
                tracked: false,
                state: "CRITICAL".into(),
                state_text: "FAILED_RUN: \"x\" & <b>".into(),
                state_since: None,
                last_run: Some(RunRow {
                    job_id: 7,
                    start_time: Utc::now(),
                    end_time: None,
                    status: None,
                }),
            }],
            total: 1,
            counts: StateCounts::default(),
        };
        let v = View {
            zone: Zone::Named(chrono_tz::UTC),
            now: Utc::now(),
        };
        let html = overview(
            &v,
            &OverviewPage {
                data: &data,
                name: "\"><img src=x>",
                state: "",
                page: 1,
                page_size: 50,
                refresh: Some(60),
                next_due: &|_, _| None,
            },
        )
        .into_string();
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("\"><img"));
        assert!(html.contains("/job?name=%3Cscript%3Ealert%281%29%3C%2Fscript%3E"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_escape("A B&c=d/é"), "A%20B%26c%3Dd%2F%C3%A9");
    }
}
