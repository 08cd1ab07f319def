use super::calendar::{weekday_field, EVERY_DAY};
use super::*;
use crate::schedule::{place_local, TimeOfDay};
use chrono::{Datelike, NaiveDate, TimeDelta, TimeZone, Weekday};
use chrono_tz::Europe::Berlin;

const BERLIN: Zone = Zone::Named(Berlin);

/// A small deterministic generator: the same runs on every machine.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    /// Uniform in 0..n.
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn run(start: DateTime<Utc>, secs: i64) -> Run {
    Run {
        start,
        end: Some(start + TimeDelta::seconds(secs)),
        failed: false,
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Cron's reading of 02:30 local on `day`: the time itself, the end of a skipped hour, the
/// first of a repeated one.
pub(super) fn cron_start(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    place_local(&Berlin, day.and_hms_opt(hour, minute, 0).unwrap()).earliest
}

/// Daily runs at `hour:minute` Berlin time from `from` for `days` days, `skip` left out,
/// starting up to 4 minutes late.
fn daily(
    from: NaiveDate,
    days: u64,
    hour: u32,
    minute: u32,
    only: fn(Weekday) -> bool,
) -> Vec<Run> {
    let mut rng = Lcg(7);
    from.iter_days()
        .take(days as usize)
        .filter(|d| only(d.weekday()))
        .map(|d| {
            let jitter = 5 + rng.below(235) as i64;
            run(
                cron_start(d, hour, minute) + TimeDelta::seconds(jitter),
                1800 + rng.below(900) as i64,
            )
        })
        .collect()
}

fn calendar_of(s: &Suggestion) -> &Calendar {
    match &s.schedule {
        Ok(Fit::Calendar(c)) => c,
        other => panic!("expected a calendar schedule, got {other:?}"),
    }
}

fn cyclic_of(s: &Suggestion) -> &Cyclic {
    match &s.schedule {
        Ok(Fit::Cyclic(c)) => c,
        other => panic!("expected a cyclic schedule, got {other:?}"),
    }
}

#[test]
fn an_hourly_job_with_jitter_is_cyclic_with_room_for_its_latest_start() {
    let mut rng = Lcg(1);
    let t0 = utc(2026, 11, 1, 0, 0);
    let runs: Vec<Run> = (0..720)
        .map(|k| {
            let start = t0 + TimeDelta::hours(k) + TimeDelta::seconds(rng.below(180) as i64);
            run(start, 120 + rng.below(180) as i64)
        })
        .collect();
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    let c = cyclic_of(&s);
    assert_eq!(c.period, HOUR);
    // The longest gap is under 1h3m: the interval covers it, with a margin, and stays
    // well under two periods (so one missed run is noticed).
    assert!(c.regular.max < HOUR + 3 * MINUTE, "{c:?}");
    assert!(
        c.interval > c.regular.max + MINUTE && c.interval <= HOUR + 10 * MINUTE,
        "{c:?}"
    );
    assert!(c.longer.is_empty() && c.shorter == 0);
    // Durations 2 to 5 minutes: the timeout is above 5 minutes and well under 10.
    let timeout = s.timeout.unwrap();
    assert!(timeout > 5 * MINUTE && timeout <= 9 * MINUTE, "{timeout:?}");
    assert_eq!(s.over_timeout, 0);
    let (warn, error) = s.thresholds().unwrap();
    assert_eq!(warn, c.interval);
    assert!(error > warn && error < 2 * HOUR - 5 * MINUTE, "{error:?}");
}

#[test]
fn a_daily_job_across_both_dst_changes_is_daily_at_its_time_not_cyclic() {
    // 2026-03-29 (02:30 does not exist) and 2026-10-25 (02:30 exists twice) inside.
    let runs = daily(
        NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        240,
        2,
        30,
        |_| true,
    );
    let s = suggest(&runs, BERLIN, utc(2026, 11, 6, 0, 0)).unwrap();
    let c = calendar_of(&s);
    assert!(c.is_daily());
    assert_eq!(
        c.time,
        TimeOfDay {
            hour: 2,
            minute: 30
        }
    );
    assert!(c.missed.is_empty() && c.extra == 0, "{c:?}");
    // Up to 4 minutes late on any day, the DST days included (the skipped hour's run at
    // 03:00 CEST is early for the deadline read from 02:30 CET).
    assert!(c.delays.max <= 4 * MINUTE, "{:?}", c.delays);
    assert!(c.start_max_delay >= 15 * MINUTE && c.start_max_delay <= 20 * MINUTE);
    assert!(c.late.is_empty());
    // Where the clocks go back, 02:30 to 02:30 is 25 hours; the warning threshold allows it.
    assert_eq!(c.longest_gap, 25 * HOUR);
    let (warn, _) = s.thresholds().unwrap();
    assert!(
        warn >= 25 * HOUR + c.start_max_delay && warn < 26 * HOUR,
        "{warn:?}"
    );
}

#[test]
fn a_daily_job_without_a_dst_change_in_its_history_still_allows_the_next_one() {
    let runs = daily(
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        30,
        2,
        30,
        |_| true,
    );
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    let c = calendar_of(&s);
    // The history has no DST change, but the year after it has 2027-10-31, where the
    // clocks go back: the thresholds of the next autumn are allowed for.
    assert!(c.is_daily());
    assert_eq!(c.longest_gap, 25 * HOUR);
    let tz_utc = Zone::Named(chrono_tz::UTC);
    let s = suggest(&runs, tz_utc, utc(2026, 12, 1, 0, 0)).unwrap();
    assert_eq!(
        calendar_of(&s).time,
        TimeOfDay {
            hour: 1,
            minute: 30
        }
    );
}

#[test]
fn a_weekday_job_gets_a_cron_expression_and_the_weekend_in_its_thresholds() {
    let runs = daily(
        NaiveDate::from_ymd_opt(2026, 9, 28).unwrap(),
        42,
        6,
        0,
        |w| !matches!(w, Weekday::Sat | Weekday::Sun),
    );
    let s = suggest(&runs, BERLIN, utc(2026, 11, 9, 12, 0)).unwrap();
    let c = calendar_of(&s);
    assert_eq!(c.expression.as_str(), "0 6 * * 1-5");
    assert_eq!(c.days & 1, 0);
    assert!(c.missed.is_empty());
    // Friday to Monday, 73 hours over the weekend the clocks go back (2026-10-25).
    assert_eq!(c.longest_gap, 73 * HOUR);
    let (warn, error) = s.thresholds().unwrap();
    assert!(warn > 73 * HOUR && error > warn);
}

#[test]
fn a_job_scheduled_in_utc_is_cyclic_where_the_local_time_moves() {
    // 01:30 UTC every day: 02:30 in winter, 03:30 in summer in Berlin.
    let mut rng = Lcg(3);
    let t0 = utc(2026, 9, 1, 1, 30);
    let runs: Vec<Run> = (0..90)
        .map(|k| {
            run(
                t0 + TimeDelta::days(k) + TimeDelta::seconds(rng.below(60) as i64),
                600,
            )
        })
        .collect();
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    let c = cyclic_of(&s);
    assert_eq!(c.period, DAY);
    assert!(c.interval <= DAY + 30 * MINUTE, "{c:?}");
    // The calendar fit would need an hour's delay in summer.
    assert!(c.interval - c.period < HOUR);
}

#[test]
fn irregular_starts_and_too_few_runs_get_no_schedule_and_the_reason() {
    let mut rng = Lcg(11);
    let mut t = utc(2026, 11, 1, 0, 0);
    let runs: Vec<Run> = (0..40)
        .map(|_| {
            t += TimeDelta::minutes(20 + rng.below(30 * 60) as i64);
            run(t, 60)
        })
        .collect();
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    match &s.schedule {
        Err(NoSchedule::NoPattern { interval, .. }) => {
            assert!(interval.near * 10 < interval.gaps * 9, "{interval:?}");
            assert_eq!(interval.gaps, 39);
        }
        other => panic!("{other:?}"),
    }
    assert!(s.thresholds().is_none());
    // Durations are still known: a timeout is offered for the record.
    assert_eq!(s.timeout, Some(2 * MINUTE));
    let few = suggest(&runs[..4], BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    assert_eq!(few.schedule, Err(NoSchedule::TooFewRuns));
    assert!(suggest(&[], BERLIN, utc(2026, 12, 1, 0, 0)).is_none());
}

#[test]
fn daily_starts_at_many_times_of_day_say_how_many_fit_the_best_window() {
    let mut rng = Lcg(5);
    let day0 = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let runs: Vec<Run> = day0
        .iter_days()
        .take(30)
        .map(|d| {
            let h = rng.below(24) as u32;
            run(cron_start(d, h, 0), 60)
        })
        .collect();
    let mut runs = runs;
    runs.sort_by_key(|r| r.start);
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    match &s.schedule {
        Err(NoSchedule::NoPattern {
            calendar: Some(CalendarMiss::TimesOfDay { held, of, .. }),
            ..
        }) => assert!(held < of),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missed_day_is_named_and_a_late_exception_does_not_widen_the_delay() {
    let mut runs = daily(
        NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        60,
        4,
        0,
        |_| true,
    );
    let gone = runs.remove(20).start;
    // One start 2 hours late among 59 that are at most 4 minutes late.
    runs[40].start += TimeDelta::hours(2);
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    let c = calendar_of(&s);
    assert_eq!(c.missed, vec![BERLIN.local(gone).date()]);
    assert!(c.start_max_delay <= 20 * MINUTE, "{c:?}");
    assert_eq!(c.late, vec![runs[40].start]);
    // An early rerun (an hour before the others) neither moves the time nor counts as late.
    runs[10].start -= TimeDelta::hours(1);
    let s = suggest(&runs, BERLIN, utc(2026, 12, 1, 0, 0)).unwrap();
    let c = calendar_of(&s);
    assert_eq!(c.time, TimeOfDay { hour: 4, minute: 0 });
    assert_eq!(c.extra, 1);
    assert_eq!(c.missed.len(), 2, "{c:?}");
}

#[test]
fn weekday_fields_and_round_figures() {
    assert_eq!(weekday_field(0b011_1110), "1-5");
    assert_eq!(weekday_field(0b100_0001), "0,6");
    assert_eq!(weekday_field(0b010_1010), "1,3,5");
    assert_eq!(weekday_field(0b001_0111), "0-2,4");
    assert_eq!(weekday_field(EVERY_DAY), "0-6");
    let r = |s: u64| round_up(Duration::from_secs(s)).as_secs();
    assert_eq!(r(0), 10);
    assert_eq!(r(61), 70);
    assert_eq!(r(121), 180);
    assert_eq!(r(3601), 4200);
    assert_eq!(r(25 * 3600 + 1), 25 * 3600 + 900);
    assert_eq!(r(3 * 86_400 + 1), 3 * 86_400 + 3600);
    assert_eq!(cyclic::period_of(Duration::from_secs(3590)), HOUR);
    assert_eq!(cyclic::period_of(Duration::from_secs(1000)).as_secs(), 1020);
}

/// Every 15 minutes from 06:00 to 21:45 Berlin time on `days` from 2026-10-01.
fn daytime(only: fn(Weekday) -> bool) -> Vec<Run> {
    let mut rng = Lcg(9);
    NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .iter_days()
        .take(45)
        .filter(|d| only(d.weekday()))
        .flat_map(|d| (0..64).map(move |q| (d, 6 * 60 + q * 15)))
        .map(|(d, m)| cron_start(d, m / 60, m % 60) + TimeDelta::seconds(rng.below(60) as i64))
        .map(|s| run(s, 120))
        .collect()
}

#[test]
fn a_job_that_pauses_every_night_gets_a_quiet_window_and_thresholds_beyond_the_pause() {
    let runs = daytime(|_| true);
    let s = suggest(&runs, BERLIN, utc(2026, 11, 20, 0, 0)).unwrap();
    let c = cyclic_of(&s);
    assert_eq!(c.period, 15 * MINUTE);
    let p = c.quiet.expect("a quiet window");
    // Due again at about 22:05 (21:45 plus the interval), back at 06:00 and a minute.
    assert_eq!(
        p.window.from,
        TimeOfDay {
            hour: 22,
            minute: 0
        }
    );
    assert_eq!(
        p.window.until,
        TimeOfDay {
            hour: 6,
            minute: 15
        }
    );
    assert_eq!(p.count, 44);
    assert!(c.longer.is_empty(), "{:?}", c.longer);
    // check_job_status() cannot be quiet: its threshold spans the night.
    let (warn, _) = s.thresholds().unwrap();
    assert!(warn > p.longest && warn < p.longest + HOUR, "{warn:?}");
}

#[test]
fn weekend_pauses_stay_outside_the_quiet_window() {
    let runs = daytime(|w| !matches!(w, Weekday::Sat | Weekday::Sun));
    let s = suggest(&runs, BERLIN, utc(2026, 11, 20, 0, 0)).unwrap();
    let c = cyclic_of(&s);
    assert!(c.quiet.is_some());
    // Friday night to Monday morning, six times in 45 days.
    assert_eq!(c.longer.len(), 6, "{:?}", c.longer);
    assert!(c.longer.iter().all(|&(_, g)| g > 50 * HOUR));
}
