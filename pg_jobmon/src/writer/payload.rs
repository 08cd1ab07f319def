//! What travels through shared memory: a request's arguments (the schema the extension is
//! in, then typed values) and an error's texts, as plain length-prefixed bytes.

/// One argument of a writer statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int4(i32),
    Int8(i64),
    /// A timestamptz in PostgreSQL's microseconds since 2000-01-01.
    Timestamp(i64),
    Text(Option<String>),
}

/// An error raised by a request, as the caller re-raises it.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorText {
    pub sqlstate: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.bytes.len() < n {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    fn i64(&mut self) -> Option<i64> {
        self.take(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    fn str(&mut self) -> Option<Option<String>> {
        let len = self.u32()?;
        if len == u32::MAX {
            return Some(None);
        }
        let bytes = self.take(len as usize)?;
        Some(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

pub fn encode_request(schema: &str, values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    put_str(&mut out, Some(schema));
    out.push(values.len() as u8);
    for v in values {
        match v {
            Value::Int4(i) => {
                out.push(0);
                out.extend_from_slice(&i64::from(*i).to_le_bytes());
            }
            Value::Int8(i) => {
                out.push(1);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Value::Timestamp(t) => {
                out.push(2);
                out.extend_from_slice(&t.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(3);
                put_str(&mut out, s.as_deref());
            }
        }
    }
    out
}

pub fn decode_request(bytes: &[u8]) -> Option<(String, Vec<Value>)> {
    let mut r = Reader { bytes };
    let schema = r.str()??;
    let n = r.u8()?;
    let mut values = Vec::with_capacity(n as usize);
    for _ in 0..n {
        values.push(match r.u8()? {
            0 => Value::Int4(i32::try_from(r.i64()?).ok()?),
            1 => Value::Int8(r.i64()?),
            2 => Value::Timestamp(r.i64()?),
            3 => Value::Text(r.str()?),
            _ => return None,
        });
    }
    Some((schema, values))
}

pub fn encode_error(e: &ErrorText) -> Vec<u8> {
    let mut out = Vec::new();
    put_str(&mut out, Some(&e.sqlstate));
    put_str(&mut out, Some(&e.message));
    put_str(&mut out, e.detail.as_deref());
    put_str(&mut out, e.hint.as_deref());
    out
}

pub fn decode_error(bytes: &[u8]) -> Option<ErrorText> {
    let mut r = Reader { bytes };
    Some(ErrorText {
        sqlstate: r.str()??,
        message: r.str()??,
        detail: r.str()?,
        hint: r.str()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_errors_round_trip() {
        let values = vec![
            Value::Int4(-7),
            Value::Int8(i64::MAX),
            Value::Timestamp(123),
            Value::Text(None),
            Value::Text(Some("ünïcode ' \" \0".into())),
        ];
        let bytes = encode_request("\"my schema\"", &values);
        assert_eq!(
            decode_request(&bytes),
            Some(("\"my schema\"".to_string(), values))
        );
        let e = ErrorText {
            sqlstate: "42501".into(),
            message: "permission denied for table job_log".into(),
            detail: None,
            hint: Some("h".into()),
        };
        assert_eq!(decode_error(&encode_error(&e)), Some(e));
        assert_eq!(decode_request(&bytes[..bytes.len() - 1]), None);
    }
}
