//! The pure core of jobmon-tracker: everything that decides, nothing that reads or writes.
//! Its only dependencies are chrono, chrono-tz and serde, so no module here can open a file,
//! a socket or a database; the adapters of `tracker-worker` (config files, queue, sources,
//! store, outputs) depend on it, never the other way round.
//!
//! - [`schedule`]: times of day, quiet windows, cyclic/daily/cron schedules, the zone local
//!   times are read in, and where a local time lies across DST changes;
//! - [`event`]: what a status message says about its run, and the keywords that classify it;
//! - [`identity`]: a job's job_log name and its service name;
//! - [`state`]: the check states OK/WARNING/CRITICAL/UNKNOWN;
//! - [`threshold`]: Nagios threshold ranges (`-w`/`-c` of the plugin);
//! - [`model`]: the validated configuration as plain data;
//! - [`rules`]: the rule engine, a pure function of (job, events, source health, now);
//! - [`suggest`]: schedules read from the history of a job nobody configured;
//! - [`row`] and [`ingest`]: a queue row's values and the planners that turn rows into
//!   messages, runs and steps, and decide where to continue a queue.
//!
//! The one environment the core reads is the host's time zone, through chrono's `Local`,
//! when `global.time_zone` is unset (as the 2016 tool did).

pub mod de;
pub mod event;
pub mod identity;
pub mod ingest;
pub mod model;
pub mod row;
pub mod rules;
pub mod schedule;
pub mod state;
pub mod suggest;
pub mod threshold;
