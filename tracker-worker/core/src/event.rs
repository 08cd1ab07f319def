//! Events: what a job's status message says about its run, and the configured keywords that
//! classify a message's `event` field.

use crate::model::Global;
use chrono::{DateTime, Utc};

/// What an event says about its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Start,
    Error,
    End,
    /// Any other keyword; stored, but no rule looks at it.
    Other(String),
}

impl EventKind {
    /// Classifies a queue message's `event` by the configured keywords (trimmed, ignoring
    /// ASCII case, as pg_jobmon upper-cases its statuses).
    pub fn from_keyword(word: &str, global: &Global) -> EventKind {
        let word = word.trim();
        if word.eq_ignore_ascii_case(&global.start_keyword) {
            EventKind::Start
        } else if word.eq_ignore_ascii_case(&global.error_keyword) {
            EventKind::Error
        } else if word.eq_ignore_ascii_case(&global.end_keyword) {
            EventKind::End
        } else {
            EventKind::Other(word.to_owned())
        }
    }
}

/// One status message of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened, by the source host's clock.
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The message text; the last error's text is quoted in the evaluation.
    pub message: Option<String>,
}

impl Event {
    pub fn new(at: DateTime<Utc>, kind: EventKind) -> Self {
        Event {
            at,
            kind,
            message: None,
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}
