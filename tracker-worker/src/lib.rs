//! jobmon-tracker: watches batch jobs that run outside the database. Jobs on source hosts
//! append status messages to a SQLite queue file ([`queue`]); the tracker reads those
//! queues ([`source`]: local files or over SSH) as its configuration ([`config`]) says,
//! stores them in pg_jobmon exactly once ([`ingest`], [`store`]) from the `run` daemon
//! ([`daemon`]), and evaluates timing rules ([`rules`]) into Checkmk, Event Console and
//! Prometheus formats ([`output`]).
//!
//! Only [`store`] and [`daemon`] talk to PostgreSQL; everything else is plain Rust that the
//! unit tests reach without a server.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod host;
pub mod ingest;
pub mod monitor;
pub mod output;
pub mod queue;
pub use tracker_core::rules;
pub mod source;
pub mod store;
