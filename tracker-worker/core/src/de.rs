//! Serde helpers the core's value types deserialize with (and the config adapter reuses).

use serde::de::{self, Visitor};
use std::fmt;

/// A visitor that accepts only strings and reports anything else with `expected`.
pub struct StrVisitor<T> {
    pub expected: &'static str,
    pub parse: fn(&str) -> Result<T, String>,
}

impl<T> Visitor<'_> for StrVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(|msg| E::custom(format!("{msg}; expected {}", self.expected)))
    }
}
