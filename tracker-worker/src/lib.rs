//! jobmon-tracker: watches batch jobs that run outside the database. Jobs on source hosts
//! append status messages to a SQLite queue file ([`queue`]); the tracker reads those
//! queues, as its configuration ([`config`]) says, into pg_jobmon and evaluates timing rules.
//!
//! Everything here is plain Rust without PostgreSQL, so it is unit-tested with `cargo test`.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod ingest;
pub mod output;
pub mod queue;
pub mod rules;
pub mod source;
pub mod store;
