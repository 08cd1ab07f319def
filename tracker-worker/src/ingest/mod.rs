//! Ingest: from queue rows to stored messages, runs and steps, exactly once. The pure
//! planners are the core's ([`tracker_core::ingest`]: what a row means, what it does to
//! job_log/job_detail, where to continue a queue), applied here to the queue's rows; the
//! per-source cycle that ties a source to the store is [`cycle`].

pub mod cursor;
pub mod cycle;
pub mod message;
pub use tracker_core::ingest::runs;
