//! A queue row's values as SQLite stored them, and what the ingest planners need of a row.
//! SQLite does not enforce column types, so a field may be NULL, a number, text that is not
//! UTF-8, or a blob; the tracker must see which, never a guess. Reading rows from SQLite and
//! their JSON-lines form are the queue adapter's (`tracker_worker::queue`).

use std::borrow::Cow;

/// One SQLite value with its storage class kept.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    /// TEXT that is valid UTF-8.
    Text(String),
    /// TEXT whose bytes are not valid UTF-8 (SQLite does not check what it is given).
    InvalidText(Vec<u8>),
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The value as clean text, if it is valid UTF-8 TEXT.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// A readable rendering for people and for the legacy JSON (`list`, `remove`): text and
    /// blobs as lossy UTF-8, numbers in decimal, NULL as `None`.
    pub fn lossy_text(&self) -> Option<Cow<'_, str>> {
        match self {
            SqlValue::Null => None,
            SqlValue::Integer(i) => Some(Cow::Owned(i.to_string())),
            SqlValue::Real(f) => Some(Cow::Owned(f.to_string())),
            SqlValue::Text(s) => Some(Cow::Borrowed(s)),
            SqlValue::InvalidText(b) | SqlValue::Blob(b) => Some(String::from_utf8_lossy(b)),
        }
    }
}

/// A row of the `messages` table as the ingest planners see it: its id, its five fields in
/// table order (timestamp, instance, job, event, message), and its exact written form.
pub trait Record {
    fn id(&self) -> i64;
    fn fields(&self) -> [&SqlValue; 5];
    /// The whole row as `queue read` prints it, kept beside a message whose fields could not
    /// be stored exactly as text.
    fn exact_line(&self) -> String;
}

/// What the tracker reads in one go: the lowest id in the queue (to notice ids that started
/// again) and the rows from a given id on, all from one consistent snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Window<R> {
    pub min_id: Option<i64>,
    pub rows: Vec<R>,
}

impl<R> Default for Window<R> {
    fn default() -> Self {
        Window {
            min_id: None,
            rows: Vec::new(),
        }
    }
}

/// A stable 64-bit hash of the row's content (everything but the id): FNV-1a over each
/// field's storage class and exact bytes. The tracker keeps it with its cursor to tell
/// "the row I stopped at" from a different row that got the same id after the queue was
/// emptied or recreated (SQLite reuses ids of a `messages` table without AUTOINCREMENT).
pub fn fingerprint(fields: [&SqlValue; 5]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for value in fields {
        let (tag, bytes): (u8, std::borrow::Cow<'_, [u8]>) = match value {
            SqlValue::Null => (0, Cow::Borrowed(&[])),
            SqlValue::Integer(i) => (1, Cow::Owned(i.to_le_bytes().to_vec())),
            SqlValue::Real(f) => (2, Cow::Owned(f.to_bits().to_le_bytes().to_vec())),
            SqlValue::Text(s) => (3, Cow::Borrowed(s.as_bytes())),
            SqlValue::InvalidText(b) => (3, Cow::Borrowed(b.as_slice())),
            SqlValue::Blob(b) => (4, Cow::Borrowed(b.as_slice())),
        };
        feed(&[tag]);
        feed(&(bytes.len() as u64).to_le_bytes());
        feed(&bytes);
    }
    hash
}
