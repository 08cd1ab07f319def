//! jobmon-tracker: watches batch jobs that run outside the database. Jobs on source hosts
//! append status messages to a SQLite queue file ([`queue`]); the tracker reads those
//! queues ([`source`]: local files or over SSH) as its configuration ([`config`]) says,
//! stores them in pg_jobmon exactly once ([`ingest`], [`store`]) from the `run` daemon
//! ([`daemon`]), and evaluates timing rules ([`rules`]) into Checkmk, Event Console and
//! Prometheus formats ([`output`]).
//!
//! # Layers
//!
//! Dependencies point one way (checked by `tests/layers.rs`):
//!
//! ```text
//! commands     cli (queue, config, check, nagios)
//!    |
//!    v
//! application  daemon, ingest (the poll cycle), monitor, retention (when to purge)
//!    |
//!    v
//! adapters     config, queue, source, store, output, host, notify   (files, SQLite, SSH,
//!              PostgreSQL, systemd)
//!    |
//!    v
//! core         tracker_core: schedules, events, job identity, states, the validated
//!              configuration, rules, ingest planners (no I/O: chrono, chrono-tz, serde only)
//! ```
//!
//! Only [`store`], [`daemon`] and the `nagios` command talk to PostgreSQL; the decisions
//! are the core's, unit-tested without a server.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod host;
pub mod ingest;
pub mod monitor;
pub mod notify;
pub mod output;
pub mod queue;
pub mod retention;
pub use tracker_core::rules;
pub mod source;
pub mod store;
pub mod web;
