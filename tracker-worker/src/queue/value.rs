//! What one queue row holds, exactly as SQLite stored it, and its JSON-lines form for
//! `queue read`. SQLite does not enforce column types, so a field may be NULL, a number,
//! text that is not UTF-8, or a blob; the tracker must see which, never a guess.
//!
//! JSON-lines encoding (one object per row, keys in this order):
//! `{"id":7,"timestamp":2457571.5,"instance":"P","job":"LOAD","event":"STARTED","message":"…"}`
//! - NULL is `null`; INTEGER a JSON integer; REAL a JSON number that always carries a `.` or
//!   an exponent (so `2457571.0` stays a REAL); valid UTF-8 TEXT a JSON string.
//! - TEXT that is not UTF-8, any BLOB, and the REAL values JSON cannot hold (±infinity) are
//!   written as a best-effort string (lossy UTF-8, or `"Infinity"`/`"-Infinity"`), and the
//!   object gets a `"raw"` member naming each such field with its storage class and, for
//!   text and blobs, the exact bytes in standard base64:
//!   `"raw":{"message":{"type":"text","base64":"Y2Fm6Q=="}}`.
//!   A reader that ignores `raw` still gets readable strings; one that honours it gets the
//!   stored bytes back bit for bit ([`QueueRow::from_json_line`]).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
pub use tracker_core::row::SqlValue;
use tracker_core::row::{self, Record};

/// A value read from SQLite, its storage class kept.
pub fn value_of(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => SqlValue::Text(s.to_owned()),
            Err(_) => SqlValue::InvalidText(bytes.to_vec()),
        },
        ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
    }
}

/// JSON for the legacy output: like Python's `json.dumps` of what its sqlite module
/// returned, except that bytes it could not decode become lossy text instead of a crash.
pub(crate) fn legacy_json(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::from(*i),
        SqlValue::Real(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        other => other
            .lossy_text()
            .map_or(Value::Null, |s| Value::String(s.into_owned())),
    }
}

/// The field value and, when JSON cannot carry the value exactly, its `raw` entry.
fn encode(v: &SqlValue) -> (Value, Option<RawEntry>) {
    match v {
        SqlValue::Null => (Value::Null, None),
        SqlValue::Integer(i) => (Value::from(*i), None),
        SqlValue::Real(f) => match Number::from_f64(*f) {
            Some(n) => (Value::Number(n), None),
            None => {
                let text = if *f > 0.0 { "Infinity" } else { "-Infinity" };
                (Value::String(text.into()), Some(RawEntry::real()))
            }
        },
        SqlValue::Text(s) => (Value::String(s.clone()), None),
        SqlValue::InvalidText(b) => (
            Value::String(String::from_utf8_lossy(b).into_owned()),
            Some(RawEntry::bytes("text", b)),
        ),
        SqlValue::Blob(b) => (
            Value::String(String::from_utf8_lossy(b).into_owned()),
            Some(RawEntry::bytes("blob", b)),
        ),
    }
}

fn decode(field: &str, value: &Value, raw: Option<&RawEntry>) -> Result<SqlValue, LineError> {
    let bad = |what: String| LineError::Field {
        field: field.to_owned(),
        message: what,
    };
    if let Some(raw) = raw {
        return match (raw.kind.as_str(), &raw.base64, value) {
            ("real", _, Value::String(s)) if s == "Infinity" => Ok(SqlValue::Real(f64::INFINITY)),
            ("real", _, Value::String(s)) if s == "-Infinity" => {
                Ok(SqlValue::Real(f64::NEG_INFINITY))
            }
            ("text", Some(b64), _) | ("blob", Some(b64), _) => {
                let bytes = BASE64
                    .decode(b64)
                    .map_err(|e| bad(format!("raw base64 is invalid: {e}")))?;
                if raw.kind == "blob" {
                    Ok(SqlValue::Blob(bytes))
                } else {
                    Ok(match String::from_utf8(bytes) {
                        Ok(s) => SqlValue::Text(s),
                        Err(e) => SqlValue::InvalidText(e.into_bytes()),
                    })
                }
            }
            (kind, _, _) => Err(bad(format!("unusable raw entry of type `{kind}`"))),
        };
    }
    match value {
        Value::Null => Ok(SqlValue::Null),
        Value::String(s) => Ok(SqlValue::Text(s.clone())),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(SqlValue::Integer(i))
            } else if n.is_u64() {
                Err(bad("integer out of range".into()))
            } else {
                n.as_f64()
                    .map(SqlValue::Real)
                    .ok_or_else(|| bad("number out of range".into()))
            }
        }
        other => Err(bad(format!(
            "expected null, a number or a string, found {other}"
        ))),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    base64: Option<String>,
}

impl RawEntry {
    fn real() -> Self {
        RawEntry {
            kind: "real".into(),
            base64: None,
        }
    }
    fn bytes(kind: &str, bytes: &[u8]) -> Self {
        RawEntry {
            kind: kind.into(),
            base64: Some(BASE64.encode(bytes)),
        }
    }
}

/// One row of the `messages` table, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: i64,
    /// Julian day number (UTC) when the producer used the column default; anything else a
    /// producer managed to store otherwise.
    pub timestamp: SqlValue,
    pub instance: SqlValue,
    pub job: SqlValue,
    pub event: SqlValue,
    pub message: SqlValue,
}

/// A `queue read` line that cannot be turned back into a row.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("not a queue row in JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
}

const FIELDS: [&str; 5] = ["timestamp", "instance", "job", "event", "message"];

/// The written form: keys in table order (serde_json's own map would sort them).
struct Line<'a> {
    id: i64,
    values: &'a [Value],
    raw: &'a [(&'static str, RawEntry)],
}

impl Serialize for Line<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        for (name, value) in FIELDS.iter().zip(self.values) {
            map.serialize_entry(name, value)?;
        }
        if !self.raw.is_empty() {
            map.serialize_entry("raw", &RawMap(self.raw))?;
        }
        map.end()
    }
}

struct RawMap<'a>(&'a [(&'static str, RawEntry)]);

impl Serialize for RawMap<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, entry) in self.0 {
            map.serialize_entry(name, entry)?;
        }
        map.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRow {
    id: i64,
    timestamp: Value,
    instance: Value,
    job: Value,
    event: Value,
    message: Value,
    #[serde(default)]
    raw: Map<String, Value>,
}

impl QueueRow {
    pub fn fields(&self) -> [&SqlValue; 5] {
        [
            &self.timestamp,
            &self.instance,
            &self.job,
            &self.event,
            &self.message,
        ]
    }

    /// A stable 64-bit hash of the row's content (everything but the id): see
    /// [`tracker_core::row::fingerprint`].
    pub fn fingerprint(&self) -> u64 {
        row::fingerprint(self.fields())
    }

    /// The timestamp as a Julian day number, if it is stored as a finite number.
    pub fn julian_day(&self) -> Option<f64> {
        match self.timestamp {
            SqlValue::Real(f) if f.is_finite() => Some(f),
            // Integers up to 2^53 convert exactly; larger ones are not plausible day numbers.
            SqlValue::Integer(i) => Some(i as f64),
            _ => None,
        }
    }

    /// The JSON-lines form described in the module documentation (no trailing newline).
    pub fn to_json_line(&self) -> String {
        let mut values = Vec::with_capacity(FIELDS.len());
        let mut raw = Vec::new();
        for (name, value) in FIELDS.iter().zip(self.fields()) {
            let (json, raw_entry) = encode(value);
            values.push(json);
            if let Some(entry) = raw_entry {
                raw.push((*name, entry));
            }
        }
        let line = Line {
            id: self.id,
            values: &values,
            raw: &raw,
        };
        // Plain JSON values with string keys always serialize; the fallback keeps this total.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Parses one line written by [`QueueRow::to_json_line`] (for example by
    /// `jobmon-tracker queue read` on a source host).
    pub fn from_json_line(line: &str) -> Result<Self, LineError> {
        let wire: WireRow = serde_json::from_str(line)?;
        let mut raw = std::collections::BTreeMap::new();
        for (name, entry) in &wire.raw {
            if !FIELDS.contains(&name.as_str()) {
                return Err(LineError::Field {
                    field: format!("raw.{name}"),
                    message: "not a message field".into(),
                });
            }
            let entry: RawEntry =
                serde_json::from_value(entry.clone()).map_err(|e| LineError::Field {
                    field: format!("raw.{name}"),
                    message: e.to_string(),
                })?;
            raw.insert(name.as_str(), entry);
        }
        let decode = |name: &str, value: &Value| decode(name, value, raw.get(name));
        Ok(QueueRow {
            id: wire.id,
            timestamp: decode("timestamp", &wire.timestamp)?,
            instance: decode("instance", &wire.instance)?,
            job: decode("job", &wire.job)?,
            event: decode("event", &wire.event)?,
            message: decode("message", &wire.message)?,
        })
    }
}

impl Record for QueueRow {
    fn id(&self) -> i64 {
        self.id
    }
    fn fields(&self) -> [&SqlValue; 5] {
        QueueRow::fields(self)
    }
    fn exact_line(&self) -> String {
        self.to_json_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(timestamp: SqlValue, message: SqlValue) -> QueueRow {
        QueueRow {
            id: 42,
            timestamp,
            instance: SqlValue::Text("P".into()),
            job: SqlValue::Null,
            event: SqlValue::Text("STARTED".into()),
            message,
        }
    }

    #[test]
    fn plain_row_has_no_raw_member_and_keeps_key_order() {
        let r = row(
            SqlValue::Real(2457571.5),
            SqlValue::Text("a \"q\"\nb".into()),
        );
        assert_eq!(
            r.to_json_line(),
            r#"{"id":42,"timestamp":2457571.5,"instance":"P","job":null,"event":"STARTED","message":"a \"q\"\nb"}"#
        );
    }

    #[test]
    fn whole_real_stays_real_and_integer_stays_integer() {
        let r = row(SqlValue::Real(2457571.0), SqlValue::Integer(7));
        let line = r.to_json_line();
        assert!(line.contains(r#""timestamp":2457571.0"#), "{line}");
        assert!(line.contains(r#""message":7"#), "{line}");
        assert_eq!(QueueRow::from_json_line(&line).unwrap(), r);
    }

    #[test]
    fn invalid_utf8_and_blobs_round_trip_through_raw() {
        let r = row(
            SqlValue::Blob(vec![0, 159, 146, 150]),
            SqlValue::InvalidText(b"caf\xe9".to_vec()),
        );
        let line = r.to_json_line();
        assert!(line.contains("\"message\":\"caf\u{fffd}\""), "{line}");
        assert!(line.contains(r#""raw":{"timestamp":{"type":"blob","base64":"AJ+Slg=="},"message":{"type":"text","base64":"Y2Fm6Q=="}}"#), "{line}");
        assert_eq!(QueueRow::from_json_line(&line).unwrap(), r);
    }

    #[test]
    fn infinity_and_text_timestamps_round_trip() {
        for ts in [
            SqlValue::Real(f64::INFINITY),
            SqlValue::Real(f64::NEG_INFINITY),
            SqlValue::Text("2016-07-01 12:00:00".into()),
        ] {
            let r = row(ts, SqlValue::Null);
            assert_eq!(QueueRow::from_json_line(&r.to_json_line()).unwrap(), r);
        }
    }

    #[test]
    fn julian_day_only_for_numbers() {
        assert_eq!(
            row(SqlValue::Real(2.5), SqlValue::Null).julian_day(),
            Some(2.5)
        );
        assert_eq!(
            row(SqlValue::Integer(3), SqlValue::Null).julian_day(),
            Some(3.0)
        );
        assert_eq!(
            row(SqlValue::Text("x".into()), SqlValue::Null).julian_day(),
            None
        );
        assert_eq!(
            row(SqlValue::Real(f64::INFINITY), SqlValue::Null).julian_day(),
            None
        );
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for line in [
            "",
            "[]",
            r#"{"id":1}"#,
            r#"{"id":1,"timestamp":true,"instance":null,"job":null,"event":null,"message":null}"#,
            r#"{"id":1,"timestamp":null,"instance":null,"job":null,"event":null,"message":null,"raw":{"message":{"type":"text","base64":"!!"}}}"#,
            r#"{"id":1,"timestamp":null,"instance":null,"job":null,"event":null,"message":null,"raw":{"other":{"type":"blob"}}}"#,
        ] {
            assert!(QueueRow::from_json_line(line).is_err(), "{line}");
        }
    }
}
