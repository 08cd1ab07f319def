//! Charts as server-rendered SVG (no script, nothing fetched): a job's run durations as
//! bars with its timeout as a line and failures marked, and the timeline of runs per job
//! with deadlines and quiet windows. Every text goes through maud, so it is escaped.

use super::format::{self, Outcome};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup};
use tracker_core::schedule::{QuietWindow, Zone};

/// One bar of the duration chart.
pub struct Bar {
    pub job_id: i64,
    pub start: DateTime<Utc>,
    pub seconds: f64,
    pub outcome: Outcome,
}

const W: f64 = 800.0;
const H: f64 = 220.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 12.0;

/// Durations of `bars` (oldest first) with a dashed line at `timeout` seconds.
pub fn durations(bars: &[Bar], timeout: Option<f64>, zone: Zone) -> Markup {
    let top = bars
        .iter()
        .map(|b| b.seconds)
        .chain(timeout)
        .fold(1.0_f64, f64::max)
        * 1.1;
    let plot_h = H - BOTTOM - TOP;
    let y = |s: f64| TOP + plot_h - (s / top) * plot_h;
    let slot = (W - LEFT) / bars.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    html! {
        svg.chart.durations xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}"))
            role="img" aria-label="Run durations, oldest left" {
            line.axis x1=(LEFT) y1=(y(0.0)) x2=(W) y2=(y(0.0)) {}
            @for frac in [0.0, 0.5, 1.0] {
                text.tick x=(LEFT - 6.0) y=(y(top / 1.1 * frac) + 4.0) text-anchor="end" {
                    (format::duration(top / 1.1 * frac))
                }
            }
            @for (i, b) in bars.iter().enumerate() {
                @let x = LEFT + i as f64 * slot + (slot - bar_w) / 2.0;
                @let h = (y(0.0) - y(b.seconds)).max(1.0);
                a href=(format!("/run/{}", b.job_id)) {
                    rect class=(format!("bar {}", b.outcome.class())) x=(x) y=(y(0.0) - h)
                        width=(bar_w) height=(h) {
                        title { "run " (b.job_id) ", " (format::time(zone, b.start)) ": "
                            (format::duration(b.seconds)) ", " (b.outcome.class()) }
                    }
                    @if b.outcome == Outcome::Failed {
                        circle.fail-mark cx=(x + bar_w / 2.0) cy=(y(0.0) - h - 6.0) r="4" {}
                    }
                }
            }
            @if let Some(t) = timeout {
                line.timeout x1=(LEFT) y1=(y(t)) x2=(W) y2=(y(t)) {}
                text.timeout-label x=(W - 4.0) y=(y(t) - 4.0) text-anchor="end" {
                    "timeout " (format::duration(t))
                }
            }
        }
    }
}

/// One job's row on the timeline.
pub struct Lane {
    pub job_name: String,
    pub runs: Vec<LaneRun>,
    /// Latest allowed starts within the range.
    pub deadlines: Vec<DateTime<Utc>>,
    pub quiet: Option<QuietWindow>,
}

/// A run on a lane.
pub struct LaneRun {
    pub job_id: i64,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub outcome: Outcome,
}

const LANE_H: f64 = 22.0;
const NAME_W: f64 = 220.0;

/// Runs of `lanes` between `from` and `until`, a lane per job.
pub fn timeline(
    lanes: &[Lane],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Zone,
) -> Markup {
    let span = (until - from).num_seconds().max(1) as f64;
    // A run that started just now still shows: a margin on the right.
    let plot_w = W + 200.0 - NAME_W - 12.0;
    let x = |t: DateTime<Utc>| {
        NAME_W + ((t - from).num_seconds() as f64 / span).clamp(0.0, 1.0) * plot_w
    };
    let height = lanes.len() as f64 * LANE_H + BOTTOM;
    let ticks: Vec<DateTime<Utc>> = (0..=4)
        .map(|i| from + TimeDelta::seconds((span * f64::from(i) / 4.0) as i64))
        .collect();
    html! {
        svg.chart.timeline xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {} {height}", W + 200.0)) role="img" aria-label="Runs per job" {
            @for (i, lane) in lanes.iter().enumerate() {
                @let top = i as f64 * LANE_H;
                @for (a, b) in quiet_spans(lane.quiet, from, until, zone) {
                    rect.quiet x=(x(a)) y=(top) width=((x(b) - x(a)).max(1.0)) height=(LANE_H) {
                        title { "quiet window " (lane.quiet.map(|q| q.to_string()).unwrap_or_default()) }
                    }
                }
                text.lane-name x="4" y=(top + 15.0) {
                    a href=(format!("/job?name={}", super::pages::query_escape(&lane.job_name))) { (lane.job_name) }
                }
                @for r in &lane.runs {
                    @let (id, outcome) = (r.job_id, r.outcome);
                    @let x0 = x(r.start);
                    @let x1 = x(r.end.unwrap_or(now));
                    a href=(format!("/run/{id}")) {
                        rect class=(format!("bar {}", outcome.class())) x=(x0) y=(top + 4.0)
                            width=((x1 - x0).max(3.0)) height=(LANE_H - 8.0) {
                            title { (lane.job_name) " run " (id) ": " (format::time(zone, r.start))
                                ", " (outcome.class()) }
                        }
                    }
                }
                @for d in &lane.deadlines {
                    line.deadline x1=(x(*d)) y1=(top + 1.0) x2=(x(*d)) y2=(top + LANE_H - 1.0) {
                        title { "latest start " (format::time(zone, *d)) }
                    }
                }
            }
            @for (i, t) in ticks.iter().enumerate() {
                text.tick x=(x(*t)) y=(height - 6.0)
                    text-anchor=(match i { 0 => "start", 4 => "end", _ => "middle" }) {
                    (format::time(zone, *t).get(5..16).unwrap_or(""))
                }
            }
        }
    }
}

/// The parts of `[from, until)` inside `window`, to a resolution of five minutes.
pub fn quiet_spans(
    window: Option<QuietWindow>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    zone: Zone,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let Some(w) = window else {
        return Vec::new();
    };
    let step = TimeDelta::minutes(5);
    let mut spans = Vec::new();
    let mut open: Option<DateTime<Utc>> = None;
    let mut t = from;
    while t < until {
        let inside = w.contains(zone.minute_of_day(t));
        match (inside, open) {
            (true, None) => open = Some(t),
            (false, Some(a)) => {
                spans.push((a, t));
                open = None;
            }
            _ => {}
        }
        t += step;
    }
    if let Some(a) = open {
        spans.push((a, until));
    }
    spans
}

/// Where a cyclic job's next start was due, as the rules see it (one interval after each
/// start, before grace): the marks inside `[from, until)`, in order.
pub fn cyclic_deadlines(
    starts: impl IntoIterator<Item = DateTime<Utc>>,
    interval: TimeDelta,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut due: Vec<DateTime<Utc>> = starts
        .into_iter()
        .map(|s| s + interval)
        .filter(|d| *d >= from && *d < until)
        .collect();
    due.sort();
    due.dedup();
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use tracker_core::schedule::TimeOfDay;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 7, 1, h, m, 0).unwrap()
    }

    #[test]
    fn one_bar_per_run_failures_marked_and_the_timeout_line() {
        let bars = [
            Bar {
                job_id: 1,
                start: at(1, 0),
                seconds: 60.0,
                outcome: Outcome::Ok,
            },
            Bar {
                job_id: 2,
                start: at(2, 0),
                seconds: 90.0,
                outcome: Outcome::Failed,
            },
            Bar {
                job_id: 3,
                start: at(3, 0),
                seconds: 30.0,
                outcome: Outcome::Running,
            },
        ];
        let svg = durations(&bars, Some(120.0), Zone::Named(chrono_tz::UTC)).into_string();
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 3);
        assert_eq!(svg.matches("class=\"fail-mark\"").count(), 1);
        assert!(svg.contains("href=\"/run/2\""));
        assert!(svg.contains("class=\"timeout\""));
        assert!(svg.contains("timeout 2 min 00 s"));
        let none = durations(&bars, None, Zone::Named(chrono_tz::UTC)).into_string();
        assert!(!none.contains("class=\"timeout\""));
    }

    #[test]
    fn quiet_spans_follow_the_window() {
        let w = QuietWindow {
            from: TimeOfDay::parse("02:00").unwrap(),
            until: TimeOfDay::parse("03:00").unwrap(),
        };
        let spans = quiet_spans(Some(w), at(0, 0), at(6, 0), Zone::Named(chrono_tz::UTC));
        assert_eq!(spans, vec![(at(2, 0), at(3, 0))]);
        assert!(quiet_spans(None, at(0, 0), at(6, 0), Zone::Named(chrono_tz::UTC)).is_empty());
    }

    #[test]
    fn cyclic_deadlines_fall_one_interval_after_each_start_inside_the_range() {
        let hour = TimeDelta::hours(1);
        let starts = [at(3, 10), at(0, 30), at(1, 10), at(5, 40)];
        // 00:30 -> 01:30 and 01:10 -> 02:10 and 03:10 -> 04:10 are inside [01:00, 06:00);
        // 05:40 -> 06:40 is after it.
        assert_eq!(
            cyclic_deadlines(starts, hour, at(1, 0), at(6, 0)),
            vec![at(1, 30), at(2, 10), at(4, 10)]
        );
        assert!(cyclic_deadlines([at(0, 0)], hour, at(2, 0), at(3, 0)).is_empty());
    }
}
