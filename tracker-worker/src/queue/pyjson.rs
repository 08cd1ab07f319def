//! JSON text as the 2016 tool printed it with Python's `json.dumps(obj)`: `", "` between
//! items, `": "` after keys, and every character outside printable ASCII escaped as
//! `\uXXXX` (`ensure_ascii`). Old scripts parse it as JSON, but some grep it, so the bytes
//! stay the same as before.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, Serializer};
use std::io::{self, Write};

struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already split off the characters it escapes itself (quotes,
        // backslash, control characters); what remains non-ASCII is escaped here as Python
        // does, in UTF-16 code units.
        for ch in fragment.chars() {
            if (' '..='~').contains(&ch) {
                let mut buf = [0u8; 4];
                w.write_all(ch.encode_utf8(&mut buf).as_bytes())?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(w, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        // Python writes the short escapes for these and \u00XX for the other controls,
        // which is what serde_json does too.
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"\\/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(byte) => return write!(w, "\\u{byte:04x}"),
        };
        w.write_all(s)
    }
}

/// Serializes `value` the way Python 2's `json.dumps(value)` wrote it.
pub fn to_python_json<T: Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut ser)?;
    // Only ASCII is ever written.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn separators_and_escapes_match_python() {
        let v = json!([{"_id": 1, "message": "é \"x\"\n\u{1F600}\u{7f}"}, {"_id": 2}]);
        assert_eq!(
            to_python_json(&v).unwrap(),
            r#"[{"_id": 1, "message": "\u00e9 \"x\"\n\ud83d\ude00\u007f"}, {"_id": 2}]"#
        );
        assert_eq!(to_python_json(&json!([])).unwrap(), "[]");
    }
}
