//! Threshold ranges in the syntax of the Monitoring Plugins development guidelines
//! (`10`, `10:`, `~:10`, `10:20`, `@10:20`), as `jobmon-tracker nagios -w/-c` takes them:
//! a range says which values *alert*, and it is printed back unchanged in the perfdata.

use std::fmt;

/// A parsed range: alert when the value lies outside `[start, end]`, or inside it with `@`.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    inside: bool,
    text: String,
}

impl Range {
    /// Parses `[@][start:][end]`: start defaults to 0, `~` is negative infinity, an empty
    /// end (`10:`) is infinity; start must not exceed end.
    pub fn parse(s: &str) -> Result<Range, String> {
        let text = s.trim();
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let bad = |why: &str| Err(format!("`{s}` is not a threshold range: {why}"));
        if body.is_empty() {
            return bad("it is empty");
        }
        let (start, end) = match body.split_once(':') {
            Some((a, b)) => {
                let start = match a {
                    "" => 0.0,
                    "~" => f64::NEG_INFINITY,
                    a => match number(a) {
                        Some(n) => n,
                        None => return bad("the start is no number"),
                    },
                };
                let end = match b {
                    "" => f64::INFINITY,
                    b => match number(b) {
                        Some(n) => n,
                        None => return bad("the end is no number"),
                    },
                };
                (start, end)
            }
            None => match number(body) {
                Some(n) => (0.0, n),
                None => return bad("expected [@][start:][end], e.g. 10, 10:, ~:10, 10:20, @10:20"),
            },
        };
        if start > end {
            return bad("the start is greater than the end");
        }
        Ok(Range {
            start,
            end,
            inside,
            text: text.to_string(),
        })
    }

    /// Whether `value` raises the alert this range stands for.
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

/// A plain decimal number (no `inf`, `nan` or exponent games).
fn number(s: &str) -> Option<f64> {
    let plain = s
        .strip_prefix('-')
        .unwrap_or(s)
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.');
    if !plain || !s.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The range as the user wrote it, which is also its perfdata form.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(range: &str, values: &[f64]) -> Vec<bool> {
        let r = Range::parse(range).unwrap();
        values.iter().map(|v| r.alerts(*v)).collect()
    }

    #[test]
    fn the_guidelines_examples_alert_where_they_say() {
        // 10: < 0 or > 10
        assert_eq!(
            alerts("10", &[-1.0, 0.0, 10.0, 11.0]),
            [true, false, false, true]
        );
        // 10: < 10
        assert_eq!(alerts("10:", &[9.0, 10.0, 1e9]), [true, false, false]);
        // ~:10: > 10
        assert_eq!(alerts("~:10", &[-1e9, 10.0, 11.0]), [false, false, true]);
        // 10:20: outside [10, 20]
        assert_eq!(
            alerts("10:20", &[9.0, 10.0, 20.0, 21.0]),
            [true, false, false, true]
        );
        // @10:20: inside [10, 20], inclusive
        assert_eq!(
            alerts("@10:20", &[9.0, 10.0, 20.0, 21.0]),
            [false, true, true, false]
        );
        assert_eq!(
            alerts("@2:4", &[1.0, 2.0, 3.0, 4.0, 5.0]),
            [false, true, true, true, false]
        );
        assert_eq!(alerts("1.5", &[1.5, 1.6]), [false, true]);
    }

    #[test]
    fn what_is_no_range_is_rejected_and_a_range_prints_as_written() {
        for bad in [
            "",
            "@",
            "x.toml",
            "/etc/a.toml",
            "10:5",
            "1e3",
            "inf",
            "~",
            "a:b",
            "1:2:3",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Range::parse("@2:4").unwrap().to_string(), "@2:4");
        assert_eq!(Range::parse("~:10").unwrap().to_string(), "~:10");
    }
}
