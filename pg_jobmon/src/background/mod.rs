//! The background connection: one autonomous session per calling backend, opened on first
//! use, reused for the rest of the session and reconnected once, transparently, when it
//! broke. Log writes commit there on their own, so they survive the caller's rollback.
//!
//! It is driven by tokio-postgres on a current-thread runtime on the backend's own thread
//! (no thread ever touches PostgreSQL), waking every few milliseconds so that the caller's
//! cancel, terminate and statement_timeout end a waiting call promptly.
//!
//! - `query`: the statements (sql/runtime/) and the size of the prepared-statement table;
//! - `session`: the session, its prepared statements and the one-reconnect retry rule;
//! - `driver`: polls a future to completion while watching the caller's interrupts;
//! - `schema`: the schema the extension is installed in, followed across re-creation;
//! - `target`: where the connection goes (settings, dblink_mapping_jobmon, defaults);
//! - `passfile`: the password file, with libpq's rules;
//! - `socket`: the connection's socket, opened by pg_jobmon so that its descriptor is known;
//! - `idle`: closes a connection left idle, with a timer, while the caller does nothing.

mod driver;
mod idle;
mod passfile;
mod query;
mod schema;
mod session;
mod socket;
mod target;

pub use query::Query;

/// For the shared writers (writer/): the same extension lookup and interrupt rule.
pub(crate) use driver::interrupt_will_raise;

/// The quoted name of the schema pg_jobmon is installed in (42704 when it is not).
pub(crate) fn extension_schema() -> Result<String> {
    schema::extension_schema()
}

use crate::error::{JobmonError, Result};
use crate::gucs;
use pgrx::pg_sys;
use std::ffi::CStr;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// What a call needs to know about its caller, read before the state is locked.
struct Caller {
    role: String,
    schema: String,
    lock_timeout: Duration,
    /// `None`: keep the connection for the whole session.
    idle_timeout: Option<Duration>,
}

/// Runs one statement on the background connection as the caller's current_user and
/// returns its rows. Its effects are committed when this returns Ok.
pub fn run(query: Query, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
    let caller = Caller {
        role: current_role(),
        schema: schema::extension_schema()?,
        lock_timeout: gucs::lock_timeout(),
        idle_timeout: gucs::background_idle_timeout(),
    };
    let result = session::call(query, params, &caller);
    if matches!(result, Err(JobmonError::Interrupted)) {
        // The lock is released: raise the caller's own cancel / terminate now. If the
        // interrupt turns out to be held off, the caller gets a plain cancel error.
        pg_sys::check_for_interrupts!();
    }
    result
}

fn current_role() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}
