//! The time zone of daily start times, cron expressions and quiet windows: a named IANA
//! zone, or the tracker host's own zone when `global.time_zone` is unset.

use super::{place_local, CronExpr, Fire};
use chrono::{
    DateTime, Datelike, Local, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc,
};
use chrono_tz::{OffsetName, Tz};

/// Where local times are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(Tz),
    /// The host's zone (`TZ`, else `/etc/localtime`), as the 2016 tool used.
    HostLocal,
}

impl From<Option<Tz>> for Zone {
    fn from(tz: Option<Tz>) -> Self {
        tz.map_or(Zone::HostLocal, Zone::Named)
    }
}

impl Zone {
    /// The wall-clock time at `t`.
    pub fn local(self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Named(tz) => t.with_timezone(&tz).naive_local(),
            Zone::HostLocal => t.with_timezone(&Local).naive_local(),
        }
    }

    /// Minutes since local midnight at `t` (what quiet windows compare).
    pub fn minute_of_day(self, t: DateTime<Utc>) -> u16 {
        let l = self.local(t);
        (l.hour() * 60 + l.minute()) as u16
    }

    /// Where a local wall-clock time lies on the time line (see [`place_local`]).
    pub fn place(self, local: NaiveDateTime) -> Fire {
        match self {
            Zone::Named(tz) => place_local(&tz, local),
            Zone::HostLocal => place_local(&Local, local),
        }
    }

    pub(crate) fn prev_fire(self, cron: &CronExpr, t: DateTime<Utc>) -> Option<Fire> {
        match self {
            Zone::Named(tz) => cron.prev_fire(&tz, t),
            Zone::HostLocal => cron.prev_fire(&Local, t),
        }
    }

    pub(crate) fn next_fire(self, cron: &CronExpr, t: DateTime<Utc>) -> Option<Fire> {
        match self {
            Zone::Named(tz) => cron.next_fire(&tz, t),
            Zone::HostLocal => cron.next_fire(&Local, t),
        }
    }

    /// Appends `t` as `2026-03-29 03:30:00 CEST` (the zone's abbreviation, else its UTC
    /// offset); written by hand because this runs for every job on every evaluation.
    pub fn write_time(self, out: &mut String, t: DateTime<Utc>) {
        match self {
            Zone::Named(tz) => {
                let off = tz.offset_from_utc_datetime(&t.naive_utc());
                let secs = off.fix().local_minus_utc();
                push_naive(out, t.naive_utc() + TimeDelta::seconds(i64::from(secs)));
                // Some zones only have numeric names ("+03"); those read like offsets.
                match off
                    .abbreviation()
                    .filter(|a| a.starts_with(char::is_alphabetic))
                {
                    Some(a) => out.push_str(a),
                    None => push_offset(out, secs),
                }
            }
            Zone::HostLocal => {
                let l = t.with_timezone(&Local);
                push_naive(out, l.naive_local());
                push_offset(out, l.offset().fix().local_minus_utc());
            }
        }
    }
}

/// `2026-03-29 03:30:00 `, built in a buffer and appended at once.
fn push_naive(out: &mut String, local: NaiveDateTime) {
    let year = local.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&local.format("%Y-%m-%d %H:%M:%S ").to_string());
        return;
    }
    let mut buf = *b"0000-00-00 00:00:00 ";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, local.month());
    put(8, 2, local.day());
    put(11, 2, local.hour());
    put(14, 2, local.minute());
    put(17, 2, local.second());
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// `+02:00`
fn push_offset(out: &mut String, secs: i32) {
    out.push(if secs < 0 { '-' } else { '+' });
    let m = secs.unsigned_abs() / 60;
    push_digits(out, m / 60, 2);
    out.push(':');
    push_digits(out, m % 60, 2);
}

/// Appends `n` with at least `width` digits, zero-padded.
pub(crate) fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(buf.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}
