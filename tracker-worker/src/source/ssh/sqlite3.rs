//! Reading and acknowledging a queue with the stock `sqlite3` shell on the source host. The
//! script goes to its stdin; its output is made exact and unambiguous by construction:
//! every field is printed as its storage class plus a rendering that loses nothing (hex
//! bytes for text and blobs, decimal for integers, mantissa and binary exponent for reals),
//! none of which can contain the separator or a newline.
//!
//! Reals are not printed with `printf('%.17g')`: SQLite before 3.43 rounds some doubles
//! wrongly that way. The recursive CTE below scales the value by powers of two (exact in
//! binary floating point) until it is an integer below 2^63, which any SQLite since 3.8.3
//! (2014) can print exactly; [`exact_real`] is the same computation in Rust.

use crate::queue::{QueueRow, SqlValue, Window};
use std::fmt::Write as _;

/// One field as `typeof|value`. `{c}` is replaced by a column name (a constant, never input).
const FIELD: &str = "typeof({c}), CASE typeof({c}) \
     WHEN 'integer' THEN CAST({c} AS TEXT) \
     WHEN 'real' THEN ({real}) \
     ELSE hex({c}) END";

/// A REAL column as `[-]<integer>p<exponent>` (value = integer * 2^exponent), or `inf`/`-inf`.
const REAL: &str = "CASE WHEN {c} >= 9e999 THEN 'inf' WHEN {c} <= -9e999 THEN '-inf' ELSE \
     (CASE WHEN {c} < 0 THEN '-' ELSE '' END) || \
     (WITH RECURSIVE d(v, e) AS (SELECT abs({c}), 0 UNION ALL \
        SELECT CASE WHEN v >= 9223372036854775808.0 THEN v / 256 ELSE v * 256 END, \
               CASE WHEN v >= 9223372036854775808.0 THEN e + 8 ELSE e - 8 END \
        FROM d WHERE v >= 9223372036854775808.0 OR v <> CAST(v AS INTEGER)) \
      SELECT CAST(v AS INTEGER) || 'p' || e FROM d \
      WHERE v < 9223372036854775808.0 AND v = CAST(v AS INTEGER)) END";

const COLUMNS: [&str; 5] = ["timestamp", "instance", "job", "event", "message"];

/// Settings every script starts with: wait like the local reader for a producer's lock,
/// and print plain `a|b|c` lines whatever the host's defaults are.
const PREAMBLE: &str = ".timeout 5000\n.headers off\n.mode list\n.separator |\n";

/// Fields up to this many bytes are compared whole when acknowledging; longer ones by
/// length, head and tail, so that the script stays small for a 10 MB message.
const WHOLE_COMPARE_MAX: usize = 64 * 1024;
const HEAD_TAIL: usize = 16 * 1024;

fn real_expr(column: &str) -> String {
    REAL.replace("{c}", column)
}

fn field_expr(column: &str) -> String {
    FIELD
        .replace("{real}", &real_expr(column))
        .replace("{c}", column)
}

/// The script that prints `M|<min id>`, then `R|id|type|value|...` per row with an id of at
/// least `from` (every row when `None`), at most `limit`, then `E` once all went well. Both
/// queries run in one transaction, so they see the same snapshot.
pub(super) fn read_script(from: Option<i64>, limit: u64) -> String {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let fields: Vec<String> = COLUMNS.iter().map(|c| field_expr(c)).collect();
    let filter = match from {
        // i64::MIN would be written as an out-of-range literal; it means "everything" anyway.
        Some(from) if from > i64::MIN => format!("WHERE id >= {from} "),
        _ => String::new(),
    };
    format!(
        "{PREAMBLE}BEGIN;\nSELECT 'M', min(id) FROM messages;\n\
         SELECT 'R', id, {} FROM messages {filter}ORDER BY id LIMIT {limit};\n\
         COMMIT;\nSELECT 'E';\n",
        fields.join(", ")
    )
}

/// Parses what [`read_script`] printed.
pub(super) fn parse_read(out: &[u8], from: Option<i64>, limit: u64) -> Result<Window, String> {
    let mut lines = out.split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    let min_id = match first.strip_prefix(b"M|") {
        Some(b"") => None,
        Some(n) => Some(parse_i64(n).ok_or_else(|| format!("bad min(id) {}", show(n)))?),
        None => return Err(format!("expected the min(id) line, got {}", show(first))),
    };
    let mut rows = Vec::new();
    let mut ended = false;
    for line in lines {
        if ended {
            if line.is_empty() {
                continue;
            }
            return Err(format!("output after the end marker: {}", show(line)));
        }
        if line == b"E" {
            ended = true;
            continue;
        }
        let row = parse_row(line)?;
        if from.is_some_and(|f| row.id < f) {
            return Err(format!("row {} is below the requested start", row.id));
        }
        if rows.last().is_some_and(|r: &QueueRow| r.id >= row.id) {
            return Err(format!("row {} is out of order", row.id));
        }
        rows.push(row);
    }
    if !ended {
        return Err("the output ended before the end marker (cut off?)".into());
    }
    if rows.len() as u64 > limit {
        return Err(format!(
            "{} rows where at most {limit} were asked for",
            rows.len()
        ));
    }
    Ok(Window { min_id, rows })
}

fn parse_row(line: &[u8]) -> Result<QueueRow, String> {
    let parts: Vec<&[u8]> = line.split(|&b| b == b'|').collect();
    let [b"R", id, rest @ ..] = parts.as_slice() else {
        return Err(format!("expected a row line, got {}", show(line)));
    };
    if rest.len() != 2 * COLUMNS.len() {
        return Err(format!(
            "row line with {} fields: {}",
            parts.len(),
            show(line)
        ));
    }
    let id = parse_i64(id).ok_or_else(|| format!("bad id {}", show(id)))?;
    let mut values = Vec::with_capacity(COLUMNS.len());
    for (column, pair) in COLUMNS.iter().zip(rest.chunks(2)) {
        let value =
            parse_value(pair[0], pair[1]).map_err(|e| format!("row {id}, column {column}: {e}"))?;
        values.push(value);
    }
    let mut values = values.into_iter();
    let mut next = || values.next().unwrap_or(SqlValue::Null);
    Ok(QueueRow {
        id,
        timestamp: next(),
        instance: next(),
        job: next(),
        event: next(),
        message: next(),
    })
}

fn parse_value(kind: &[u8], value: &[u8]) -> Result<SqlValue, String> {
    match kind {
        b"null" if value.is_empty() => Ok(SqlValue::Null),
        b"integer" => parse_i64(value)
            .map(SqlValue::Integer)
            .ok_or_else(|| format!("bad integer {}", show(value))),
        b"real" => parse_real(value)
            .map(SqlValue::Real)
            .ok_or_else(|| format!("bad real {}", show(value))),
        b"text" => {
            let bytes = unhex(value).ok_or("bad hex")?;
            Ok(match String::from_utf8(bytes) {
                Ok(s) => SqlValue::Text(s),
                Err(e) => SqlValue::InvalidText(e.into_bytes()),
            })
        }
        b"blob" => unhex(value)
            .map(SqlValue::Blob)
            .ok_or_else(|| "bad hex".into()),
        _ => Err(format!("unknown value {}|{}", show(kind), show(value))),
    }
}

fn parse_i64(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Reads `[-]<integer>p<exponent>`, `inf` or `-inf` (see [`exact_real`]).
fn parse_real(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    match text {
        "inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = text.split_once('p')?;
    let mantissa: u64 = mantissa.parse().ok()?;
    let exponent: i32 = exponent.parse().ok()?;
    // Doubles span 2^-1074 to 2^1024; anything further out is not our output.
    if !(-1200..=1200).contains(&exponent) || mantissa >= 1 << 63 {
        return None;
    }
    // Multiplying by two is exact; each intermediate value lies between the mantissa and the
    // result, both doubles with the same significant bits, so no step rounds.
    let mut value = mantissa as f64;
    for _ in 0..exponent.unsigned_abs() {
        if exponent > 0 {
            value *= 2.0;
        } else {
            value /= 2.0;
        }
    }
    Some(if negative { -value } else { value })
}

/// The text the SQL of [`REAL`] prints for `value`, computed the same way.
pub(super) fn exact_real(value: f64) -> String {
    if value.is_nan() {
        // SQLite stores NaN as NULL, so no stored real prints like this.
        return "nan".into();
    }
    if value == f64::INFINITY {
        return "inf".into();
    }
    if value == f64::NEG_INFINITY {
        return "-inf".into();
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let sign = if value < 0.0 { "-" } else { "" };
    let mut v = value.abs();
    let mut e = 0i32;
    loop {
        if v >= TWO_63 {
            v /= 256.0;
            e += 8;
        } else if v != v.trunc() {
            v *= 256.0;
            e -= 8;
        } else {
            break;
        }
    }
    format!("{sign}{}p{e}", v as i64)
}

/// The script that deletes every row up to `last.id`, only if the row with that id still
/// holds `last`'s content, and prints `D|<rows deleted>` then `E`.
pub(super) fn ack_script(last: &QueueRow) -> String {
    let id = last.id;
    let guards: Vec<String> = COLUMNS
        .iter()
        .zip([
            &last.timestamp,
            &last.instance,
            &last.job,
            &last.event,
            &last.message,
        ])
        .map(|(column, value)| guard(column, value))
        .collect();
    format!(
        "{PREAMBLE}BEGIN IMMEDIATE;\n\
         DELETE FROM messages WHERE id <= {id} AND EXISTS \
         (SELECT 1 FROM messages WHERE id = {id} AND {});\n\
         SELECT 'D', changes();\nCOMMIT;\nSELECT 'E';\n",
        guards.join(" AND ")
    )
}

/// An SQL condition true when `column` holds exactly `value`. Only type names, hex digits,
/// integers and the output of [`exact_real`] are written into it.
fn guard(column: &str, value: &SqlValue) -> String {
    let bytes = |kind: &str, b: &[u8]| -> String {
        let n = b.len();
        let blob = format!("CAST({column} AS BLOB)");
        if n <= WHOLE_COMPARE_MAX {
            format!(
                "typeof({column}) = '{kind}' AND length({blob}) = {n} AND hex({blob}) = '{}'",
                hex(b)
            )
        } else {
            format!(
                "typeof({column}) = '{kind}' AND length({blob}) = {n} \
                 AND hex(substr({blob}, 1, {HEAD_TAIL})) = '{}' \
                 AND hex(substr({blob}, {}, {HEAD_TAIL})) = '{}'",
                hex(&b[..HEAD_TAIL]),
                n - HEAD_TAIL + 1,
                hex(&b[n - HEAD_TAIL..])
            )
        }
    };
    match value {
        SqlValue::Null => format!("typeof({column}) = 'null'"),
        SqlValue::Integer(i) => {
            format!("typeof({column}) = 'integer' AND CAST({column} AS TEXT) = '{i}'")
        }
        SqlValue::Real(f) => format!(
            "typeof({column}) = 'real' AND ({}) = '{}'",
            real_expr(column),
            exact_real(*f)
        ),
        SqlValue::Text(s) => bytes("text", s.as_bytes()),
        SqlValue::InvalidText(b) => bytes("text", b),
        SqlValue::Blob(b) => bytes("blob", b),
    }
}

/// Parses what [`ack_script`] printed: whether rows were deleted.
pub(super) fn parse_ack(out: &[u8]) -> Result<bool, String> {
    let text = std::str::from_utf8(out).map_err(|_| format!("not text: {}", show(out)))?;
    let mut lines = text.lines();
    let deleted = lines
        .next()
        .and_then(|l| l.strip_prefix("D|"))
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| format!("expected `D|<count>`, got {}", show(out)))?;
    if lines.next() != Some("E") {
        return Err(format!("the output ended early: {}", show(out)));
    }
    Ok(deleted > 0)
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'A'..=b'F' => Some(c - b'A' + 10),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    };
    text.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// A short printable excerpt of output, for error messages.
fn show(bytes: &[u8]) -> String {
    const MAX: usize = 200;
    let cut = &bytes[..bytes.len().min(MAX)];
    let mut s = format!("{:?}", String::from_utf8_lossy(cut));
    if bytes.len() > MAX {
        s.push_str(&format!(" (+{} bytes)", bytes.len() - MAX));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn sqlite3_available() -> bool {
        Command::new("sqlite3").arg("-version").output().is_ok()
    }

    fn run_sqlite3(db: &std::path::Path, script: &str) -> Vec<u8> {
        let mut child = Command::new("sqlite3")
            .args(["-batch", "-bail", "-init", "/dev/null"])
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sqlite3");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn sample_reals() -> Vec<f64> {
        let mut v = vec![
            0.0,
            1.0,
            -1.0,
            0.1,
            2457571.123456789,
            2460000.999999999,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            9.223372036854776e18,
            9.223372036854775e18,
            1.2345678901234568e17,
            1e300 * 1e10,
            -1e300 * 1e10,
        ];
        // A fixed pseudo-random spread of bit patterns (xorshift), all finite.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                v.push(f);
            }
        }
        v
    }

    #[test]
    fn exact_real_round_trips_through_parse_real() {
        for f in sample_reals() {
            let text = exact_real(f);
            let back = parse_real(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(back.to_bits(), f.to_bits(), "{f:e} -> {text}");
        }
    }

    #[test]
    fn sql_and_rust_render_reals_identically() {
        if !sqlite3_available() {
            eprintln!("sqlite3 not installed; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("reals.sqlite");
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE r(x REAL)").unwrap();
        let reals = sample_reals();
        let tx = conn.transaction().unwrap();
        for f in &reals {
            tx.execute("INSERT INTO r VALUES (?1)", [f]).unwrap();
        }
        tx.commit().unwrap();
        drop(conn);
        let script = format!(
            "{PREAMBLE}SELECT {} FROM r ORDER BY rowid;\n",
            real_expr("x")
        );
        let out = run_sqlite3(&db, &script);
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(lines.len(), reals.len());
        for (f, line) in reals.iter().zip(lines) {
            // SQLite stores -0.0 in a REAL column as the integer 0, so it reads back as 0.0.
            let f = if *f == 0.0 { 0.0 } else { *f };
            assert_eq!(line, exact_real(f), "{f:e}");
        }
    }

    #[test]
    fn read_output_is_parsed_exactly() {
        let out = b"M|3\nR|3|real|4743997422525953p-24|text|50|null||integer|-7|blob|00FF\n\
                    R|4|text||text|C3A9|text|FF|real|inf|text|7C0A\nE\n";
        let w = parse_read(out, Some(3), 10).unwrap();
        assert_eq!(w.min_id, Some(3));
        assert_eq!(w.rows.len(), 2);
        assert_eq!(
            w.rows[0].timestamp,
            SqlValue::Real(f64::from_bits(0x41B0DAA3F92F5E01))
        );
        assert_eq!(w.rows[0].instance, SqlValue::Text("P".into()));
        assert_eq!(w.rows[0].job, SqlValue::Null);
        assert_eq!(w.rows[0].event, SqlValue::Integer(-7));
        assert_eq!(w.rows[0].message, SqlValue::Blob(vec![0, 0xFF]));
        assert_eq!(w.rows[1].timestamp, SqlValue::Text(String::new()));
        assert_eq!(w.rows[1].instance, SqlValue::Text("\u{e9}".into()));
        assert_eq!(w.rows[1].job, SqlValue::InvalidText(vec![0xFF]));
        assert_eq!(w.rows[1].event, SqlValue::Real(f64::INFINITY));
        assert_eq!(w.rows[1].message, SqlValue::Text("|\n".into()));
        assert_eq!(parse_read(b"M|\nE\n", None, 10).unwrap(), Window::default());
    }

    #[test]
    fn truncated_or_garbled_read_output_is_an_error() {
        for out in [
            &b""[..],
            b"M|1\nR|1|null||null||null||null||null|\n",
            b"M|x\nE\n",
            b"M|1\nR|1|null||null||null||null|\nE\n",
            b"M|1\nR|1|text|ABC|null||null||null||null|\nE\n",
            b"M|1\nR|2|null||null||null||null||null|\nR|1|null||null||null||null||null|\nE\n",
            b"M|1\nE\nR|1|null||null||null||null||null|\n",
            b"M|1\nR|1|real|1p99999|null||null||null||null|\nE\n",
        ] {
            assert!(parse_read(out, None, 10).is_err(), "{}", show(out));
        }
        let two = b"M|1\nR|1|null||null||null||null||null|\nR|2|null||null||null||null||null|\nE\n";
        assert!(parse_read(two, None, 1).is_err());
        assert!(parse_read(two, Some(2), 10).is_err());
    }

    #[test]
    fn read_script_filters_only_with_a_start() {
        assert!(read_script(Some(5), 10).contains("WHERE id >= 5 ORDER BY id LIMIT 10;"));
        assert!(read_script(Some(-5), 10).contains("WHERE id >= -5 ORDER BY id LIMIT 10;"));
        assert!(read_script(None, u64::MAX)
            .contains(&format!("FROM messages ORDER BY id LIMIT {};", i64::MAX)));
        assert!(read_script(Some(i64::MIN), 1).contains("FROM messages ORDER BY id LIMIT 1;"));
    }

    #[test]
    fn ack_output_is_parsed() {
        assert!(parse_ack(b"D|3\nE\n").unwrap());
        assert!(!parse_ack(b"D|0\nE\n").unwrap());
        assert!(parse_ack(b"D|3\n").is_err());
        assert!(parse_ack(b"").is_err());
    }

    #[test]
    fn ack_guard_of_a_huge_field_compares_length_head_and_tail() {
        let row = QueueRow {
            id: 9,
            timestamp: SqlValue::Real(2457571.5),
            instance: SqlValue::Integer(i64::MIN),
            job: SqlValue::Null,
            event: SqlValue::Blob(vec![1, 2]),
            message: SqlValue::Text("x".repeat(10 << 20)),
        };
        let script = ack_script(&row);
        assert!(script.len() < 200_000, "{}", script.len());
        assert!(script.contains(&format!("length(CAST(message AS BLOB)) = {}", 10 << 20)));
        assert!(script.contains(&format!("CAST(instance AS TEXT) = '{}'", i64::MIN)));
        assert!(script.contains("hex(CAST(event AS BLOB)) = '0102'"));
    }
}
