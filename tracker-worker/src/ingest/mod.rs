//! Ingest: from queue rows to stored messages, runs and steps, exactly once. The pure parts
//! are here ([`message`]: what a row means, [`runs`]: what it does to job_log/job_detail,
//! [`cursor`]: where to continue a queue); the per-source cycle that ties a source to the
//! store is [`cycle`].

pub mod cursor;
pub mod cycle;
pub mod message;
pub mod runs;
