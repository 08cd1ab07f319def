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
    /// Classifies a queue message's `event` by the configured keywords (see [`classify`]).
    pub fn from_keyword(word: &str, global: &Global) -> EventKind {
        let class = classify(
            word,
            &global.start_keyword,
            &global.error_keyword,
            &global.end_keyword,
        );
        match class {
            Keyword::Start => EventKind::Start,
            Keyword::Error => EventKind::Error,
            Keyword::End => EventKind::End,
            Keyword::Other => EventKind::Other(word.trim().to_owned()),
        }
    }
}

/// Which configured keyword an `event` field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Start,
    Error,
    End,
    Other,
}

/// The one rule for keywords: the field trimmed, compared ignoring ASCII case (pg_jobmon
/// upper-cases its statuses), start before error before end. The ingest (runs and steps)
/// and the rule engine (events) both classify with it.
pub fn classify(word: &str, start: &str, error: &str, end: &str) -> Keyword {
    let word = word.trim();
    if word.eq_ignore_ascii_case(start) {
        Keyword::Start
    } else if word.eq_ignore_ascii_case(error) {
        Keyword::Error
    } else if word.eq_ignore_ascii_case(end) {
        Keyword::End
    } else {
        Keyword::Other
    }
}

/// The event keywords of the configuration.
#[derive(Debug, Clone)]
pub struct Keywords {
    pub start: String,
    pub error: String,
    pub end: String,
}

impl Keywords {
    pub fn of(global: &Global) -> Self {
        Keywords {
            start: global.start_keyword.clone(),
            error: global.error_keyword.clone(),
            end: global.end_keyword.clone(),
        }
    }

    pub fn class(&self, event: &str) -> Keyword {
        classify(event, &self.start, &self.error, &self.end)
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
