//! How times, durations and outcomes read on the dashboard: absolute times in the display
//! zone, relative ones ("5 min ago"), durations ("1 h 02 min"), and the one rule for
//! whether a run failed.

use chrono::{DateTime, Utc};
use tracker_core::schedule::Zone;

/// `2026-03-29 03:30:00 CEST`.
pub fn time(zone: Zone, t: DateTime<Utc>) -> String {
    let mut out = String::new();
    zone.write_time(&mut out, t);
    out
}

/// `t` relative to `now`: "just now", "5 min ago", "in 3 h", "2 d ago".
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let a = secs.unsigned_abs();
    if a < 45 {
        return "just now".into();
    }
    let amount = if a < 90 * 60 {
        format!("{} min", (a + 30) / 60)
    } else if a < 36 * 3600 {
        format!("{} h", (a + 1800) / 3600)
    } else {
        format!("{} d", (a + 43_200) / 86_400)
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A run time: "0.4 s", "42 s", "3 min 05 s", "1 h 02 min".
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        return format!("{secs:.1} s");
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Seconds from `start` to `end` (or to `now` for a run still open).
pub fn seconds(start: DateTime<Utc>, end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> f64 {
    (end.unwrap_or(now) - start).num_milliseconds().max(0) as f64 / 1000.0
}

/// What became of a run, the one rule the pages, the chart and the API share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Running,
    Ok,
    Failed,
}

impl Outcome {
    /// Open (no end time): running; ended with status OK: ok; any other end: failed.
    pub fn of(status: Option<&str>, end: Option<DateTime<Utc>>) -> Outcome {
        match (end, status) {
            (None, _) => Outcome::Running,
            (Some(_), Some("OK")) => Outcome::Ok,
            (Some(_), _) => Outcome::Failed,
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
        }
    }
}

/// Whether a step ended in trouble (the same statuses job_runs.sql counts as errors).
pub fn step_failed(status: Option<&str>) -> bool {
    status.is_some_and(|s| s != "OK" && s != "RUNNING")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn relative_times() {
        let now = t(0);
        for (at, text) in [
            (t(-10), "just now"),
            (t(-300), "5 min ago"),
            (t(600), "in 10 min"),
            (t(-3 * 3600), "3 h ago"),
            (t(2 * 86_400), "in 2 d"),
        ] {
            assert_eq!(relative(at, now), text);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0.42), "0.4 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(3720.0), "1 h 02 min");
        assert_eq!(duration(-1.0), "-");
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(None, None), Outcome::Running);
        assert_eq!(Outcome::of(Some("OK"), Some(t(0))), Outcome::Ok);
        assert_eq!(Outcome::of(Some("CRITICAL"), Some(t(0))), Outcome::Failed);
        assert_eq!(Outcome::of(None, Some(t(0))), Outcome::Failed);
        assert!(step_failed(Some("CRITICAL")) && !step_failed(Some("OK")) && !step_failed(None));
    }

    #[test]
    fn times_in_a_named_zone() {
        let zone = Zone::Named(chrono_tz::Europe::Berlin);
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(time(zone, at), "2026-07-01 14:00:00 CEST");
    }
}
