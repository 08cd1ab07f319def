//! Durations and zones as the configuration spells them, with the parser and printer that
//! the TOML file, the legacy JSON and the summary share, so that every spelling accepted is
//! also what `config import` writes back. The other value types (times of day, windows,
//! service names, enums) are the core's.

use serde::de::Deserializer;
use serde::Serializer;
use std::time::Duration;
pub use tracker_core::de::StrVisitor;
pub use tracker_core::identity::ServiceTemplate;
pub use tracker_core::model::{HostKeyPolicy, LogLevel, Reader};
pub use tracker_core::schedule::{parse_time_zone, QuietWindow, TimeOfDay, TIME_ZONE_EXPECTED};

/// What a duration value may look like, for error messages.
pub const DURATION_EXPECTED: &str =
    "a duration such as \"90s\", \"15m\", \"1h30m\" or \"01:30:00\" (HH:MM:SS)";

/// Parses `"15m"`, `"1h 30m"`, `"1h30m"` (humantime) or `"HH:MM:SS"` (hours may exceed 24).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 3 {
            return Err(format!("`{s}` is not HH:MM:SS"));
        }
        return clock_duration(&parts).ok_or_else(|| format!("`{s}` is not HH:MM:SS"));
    }
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration ({e})"))
}

/// Parses the 2016 tool's `"hh:mm:ss"` or `"hh:mm"` durations.
pub fn parse_legacy_duration(s: &str) -> Result<Duration, String> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return Err(format!("`{s}` is not hh:mm:ss or hh:mm"));
    }
    clock_duration(&parts).ok_or_else(|| format!("`{s}` is not hh:mm:ss or hh:mm"))
}

/// `[h, m]` or `[h, m, s]`, minutes and seconds below 60.
fn clock_duration(parts: &[&str]) -> Option<Duration> {
    let num = |p: &str| -> Option<u64> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let h = num(parts.first()?)?;
    let m = num(parts.get(1)?)?;
    let s = match parts.get(2) {
        Some(p) => num(p)?,
        None => 0,
    };
    if m > 59 || s > 59 {
        return None;
    }
    h.checked_mul(3600)?
        .checked_add(m * 60 + s)
        .map(Duration::from_secs)
}

/// Prints a duration compactly in a form [`parse_duration`] reads back: `"1h30m"`, `"45s"`,
/// `"2m500ms"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let parts = [
        (secs / 3600, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
        (u64::from(d.subsec_nanos() % 1_000_000), "ns"),
    ];
    let out: String = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if out.is_empty() {
        "0s".into()
    } else {
        out
    }
}

/// Deserializes a duration string (serde `deserialize_with`).
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: DURATION_EXPECTED,
        parse: parse_duration,
    })
}

/// Writes a duration as [`format_duration`] spells it (serde `serialize_with`).
pub fn ser_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_duration(*d))
}

/// Writes an optional duration; `None` is left out.
pub fn ser_opt_duration<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

/// Writes a zone by its IANA name; `None` is left out.
pub fn ser_opt_time_zone<S: Serializer>(
    tz: &Option<chrono_tz::Tz>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match tz {
        Some(tz) => s.serialize_str(tz.name()),
        None => s.serialize_none(),
    }
}

/// Deserializes an optional duration string.
pub fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

pub fn de_opt_time_zone<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono_tz::Tz>, D::Error> {
    d.deserialize_any(StrVisitor {
        expected: TIME_ZONE_EXPECTED,
        parse: parse_time_zone,
    })
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_both_notations_and_back() {
        let cases = [
            ("15m", 900),
            ("1h30m", 5400),
            ("1h 30m", 5400),
            ("01:30:00", 5400),
            ("36:00:00", 129_600),
            ("0s", 0),
        ];
        for (text, secs) in cases {
            let d = parse_duration(text).unwrap();
            assert_eq!(d, Duration::from_secs(secs), "{text}");
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(2500)), "2s500ms");
        for bad in ["", "15", "1:30", "01:60:00", "fast", "-5m", "1:2:3:4"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn legacy_durations_take_hh_mm_too() {
        assert_eq!(
            parse_legacy_duration("00:15").unwrap(),
            Duration::from_secs(900)
        );
        assert_eq!(
            parse_legacy_duration("01:00:30").unwrap(),
            Duration::from_secs(3630)
        );
        assert!(parse_legacy_duration("15m").is_err());
    }
}
