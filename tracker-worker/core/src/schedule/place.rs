//! Where a cron firing, a local wall-clock minute in a zone, lies on the time line when a
//! DST change makes it exist twice or not at all ([`place_local`]), and the firings before
//! and after an instant that the rule engine measures deadlines from.

use super::CronExpr;
use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};

impl CronExpr {
    /// The firing before `t`: the latest one (in local order) whose [`Fire::latest`]
    /// instant lies strictly before `t`. `None` if it never fired in the last eight years.
    pub fn prev_fire<Z: TimeZone>(&self, zone: &Z, t: DateTime<Utc>) -> Option<Fire> {
        // A local minute later than t's own local time always lies after t (its latest
        // instant is taken after any fall-back), so the walk starts there.
        let mut cursor = t.with_timezone(zone).naive_local();
        for _ in 0..MAX_STEPS {
            let local = self.prev_local(cursor)?;
            let fire = place_local(zone, local);
            if fire.latest < t {
                return Some(fire);
            }
            cursor = local - TimeDelta::minutes(1);
        }
        None
    }

    /// The firing at or after `t`: the first one (in local order) whose [`Fire::latest`]
    /// instant is not before `t`.
    pub fn next_fire<Z: TimeZone>(&self, zone: &Z, t: DateTime<Utc>) -> Option<Fire> {
        let local = t.with_timezone(zone).naive_local();
        // Near an offset change an earlier local minute can still lie after t (the
        // repeated hour); start far enough back to see it.
        let offset = |u: DateTime<Utc>| zone.offset_from_utc_datetime(&u.naive_utc()).fix();
        let margin = TimeDelta::hours(3);
        // Zones change offset at most once within hours, so equal offsets on both sides
        // mean none in between.
        let steady = offset(t - margin) == offset(t + margin);
        let mut cursor = if steady { local } else { local - margin };
        for _ in 0..MAX_STEPS {
            let local = self.next_local(cursor)?;
            let fire = place_local(zone, local);
            if fire.latest >= t {
                return Some(fire);
            }
            cursor = local + TimeDelta::minutes(1);
        }
        None
    }
}

/// Candidate minutes tried per search; only DST changes need more than a couple.
const MAX_STEPS: u32 = 2 * 24 * 60;

/// A local time of day placed on the time line: the instants it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fire {
    /// The wall-clock time, as configured.
    pub local: NaiveDateTime,
    /// The first instant it can mean: a start at or after it (less the grace period)
    /// counts as the start for this firing.
    pub earliest: DateTime<Utc>,
    /// The last instant it can mean: deadlines are counted from here.
    pub latest: DateTime<Utc>,
}

/// Places a local wall-clock time in `zone`, defining the DST cases so that whichever
/// reading a job's own scheduler takes, the job is neither early nor late:
///
/// * a time that exists once: both instants are that time;
/// * a time that exists twice (autumn, 02:30 in Europe/Berlin on 2026-10-25): `earliest`
///   is its first occurrence (02:30 CEST = 00:30 UTC), `latest` its second (02:30 CET =
///   01:30 UTC);
/// * a time that does not exist (spring, 02:30 in Europe/Berlin on 2026-03-29): `earliest`
///   is the end of the gap (03:00 CEST = 01:00 UTC, when cron runs skipped jobs), `latest`
///   the time read with the offset before the change (02:30 CET = 03:30 CEST = 01:30 UTC,
///   the time shifted by the length of the gap).
pub fn place_local<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> Fire {
    let utc = |t: DateTime<Z>| t.with_timezone(&Utc);
    let (earliest, latest) = match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => (utc(t.clone()), utc(t)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (utc(a), utc(b));
            (a.min(b), a.max(b))
        }
        LocalResult::None => gap(zone, local),
    };
    Fire {
        local,
        earliest,
        latest,
    }
}

/// The two readings of a local time inside a gap: the instant the gap ends, and the time
/// read with the offset in force before the gap.
fn gap<Z: TimeZone>(zone: &Z, local: NaiveDateTime) -> (DateTime<Utc>, DateTime<Utc>) {
    let offset_at = |t: NaiveDateTime| {
        TimeDelta::seconds(i64::from(
            zone.offset_from_utc_datetime(&t).fix().local_minus_utc(),
        ))
    };
    let day = TimeDelta::days(1);
    let (before, after) = (offset_at(local - day), offset_at(local + day));
    let as_utc = |t: NaiveDateTime| Utc.from_utc_datetime(&t);
    let latest = as_utc(local - before);
    if after <= before {
        // Not a simple forward jump (the zone's data is odd here): one reading only.
        return (latest, latest);
    }
    // Bisect for the change of offset between the two readings, to the second.
    let (mut lo, mut hi) = (local - after, local - before);
    while hi - lo > TimeDelta::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if offset_at(mid) == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (as_utc(hi), latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::test_support::at;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&at(y, mo, d, h, mi))
    }

    #[test]
    fn local_times_on_both_dst_change_days_in_berlin() {
        let berlin = chrono_tz::Europe::Berlin;
        let cases = [
            // (local time, earliest, latest)
            (
                at(2026, 3, 28, 2, 30),
                utc(2026, 3, 28, 1, 30),
                utc(2026, 3, 28, 1, 30),
            ),
            // spring gap 02:00-03:00: from the end of the gap to 02:30 read as CET
            (
                at(2026, 3, 29, 2, 30),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 29, 1, 30),
            ),
            (
                at(2026, 3, 29, 2, 0),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 29, 1, 0),
            ),
            (
                at(2026, 3, 29, 3, 0),
                utc(2026, 3, 29, 1, 0),
                utc(2026, 3, 29, 1, 0),
            ),
            (
                at(2026, 3, 29, 1, 59),
                utc(2026, 3, 29, 0, 59),
                utc(2026, 3, 29, 0, 59),
            ),
            // autumn overlap 02:00-03:00: first as CEST, then as CET
            (
                at(2026, 10, 25, 2, 30),
                utc(2026, 10, 25, 0, 30),
                utc(2026, 10, 25, 1, 30),
            ),
            (
                at(2026, 10, 25, 3, 0),
                utc(2026, 10, 25, 2, 0),
                utc(2026, 10, 25, 2, 0),
            ),
            (
                at(2026, 10, 25, 1, 59),
                utc(2026, 10, 24, 23, 59),
                utc(2026, 10, 24, 23, 59),
            ),
        ];
        for (local, earliest, latest) in cases {
            let f = place_local(&berlin, local);
            assert_eq!((f.earliest, f.latest), (earliest, latest), "{local}");
        }
    }

    #[test]
    fn fires_in_a_zone_across_dst() {
        let berlin = chrono_tz::Europe::Berlin;
        let daily = CronExpr::parse("30 2 * * *").unwrap();
        // Spring: the 02:30 of 2026-03-29 lasts until 01:30 UTC.
        let f = daily.prev_fire(&berlin, utc(2026, 3, 29, 1, 31)).unwrap();
        assert_eq!(f.local, at(2026, 3, 29, 2, 30));
        let f = daily.prev_fire(&berlin, utc(2026, 3, 29, 1, 30)).unwrap();
        assert_eq!(f.local, at(2026, 3, 28, 2, 30), "strictly before");
        let f = daily.next_fire(&berlin, utc(2026, 3, 29, 1, 30)).unwrap();
        assert_eq!(f.local, at(2026, 3, 29, 2, 30));
        // Autumn: the first 02:30 (00:30 UTC) has passed, but the firing still lies ahead.
        let f = daily.next_fire(&berlin, utc(2026, 10, 25, 1, 0)).unwrap();
        assert_eq!(
            (f.local, f.earliest),
            (at(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30))
        );
        let f = daily.prev_fire(&berlin, utc(2026, 10, 25, 1, 0)).unwrap();
        assert_eq!(f.local, at(2026, 10, 24, 2, 30));
        let quarter = CronExpr::parse("*/15 * * * *").unwrap();
        let f = quarter
            .next_fire(&berlin, utc(2026, 10, 25, 0, 50))
            .unwrap();
        assert_eq!(
            f.local,
            at(2026, 10, 25, 2, 0),
            "the repeated 02:00 is still ahead"
        );
        let f = quarter.prev_fire(&berlin, utc(2026, 6, 1, 10, 7)).unwrap();
        assert_eq!(f.latest, utc(2026, 6, 1, 10, 0));
    }
}
