//! pg_jobmon: the pg_jobmon 1.5.0 SQL API in Rust. Log writes go through one persistent
//! background connection per session (background/), so they commit on their own and
//! survive the caller's rollback; everything else is SQL in ../sql.

mod background;
mod call;
mod error;
mod gucs;
mod logging;
mod writer;

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

// Tables, sequences and seed rows first; the SQL functions and the monitoring part last,
// once the Rust functions they call exist.
extension_sql_file!("../../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../../sql/functions.sql",
    name = "functions",
    requires = [
        logging::add_job,
        logging::add_step,
        logging::update_step,
        logging::close_job,
        logging::fail_job,
        logging::_set_job_status,
        logging::_job_log_clear_batch
    ]
);
extension_sql_file!("../../sql/monitoring.sql", name = "monitoring", finalize);
// jobmon-tracker's tables (needs job_log and job_status_text only).
extension_sql_file!(
    "../../sql/tracker.sql",
    name = "tracker",
    requires = ["schema"]
);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    no_rust_backtraces_in_errors();
    gucs::init();
    reserve_guc_prefix();
    if writer::preloading() {
        writer::init();
    }
}

/// pgrx adds a Rust backtrace to the DETAIL of every error that passes through Rust code
/// when the server's environment has RUST_BACKTRACE (a developer's shell, a service
/// manager's default). A user must never see one: RUST_LIB_BACKTRACE=0 turns off the
/// capture (std reads it first), while panics still report their message. Set before any
/// capture can happen (std reads the variable once), in a process with no other thread.
fn no_rust_backtraces_in_errors() {
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
}

/// Claims the `jobmon.` prefix, so that a misspelt `jobmon.*` setting is reported instead
/// of silently kept as a placeholder. The one PostgreSQL version difference in the Rust
/// code: PostgreSQL 15 renamed the call (14 only warns about existing placeholders, 15 and
/// later also remove them).
fn reserve_guc_prefix() {
    #[cfg(feature = "pg14")]
    unsafe {
        pg_sys::EmitWarningsOnPlaceholders(c"jobmon".as_ptr())
    };
    #[cfg(not(feature = "pg14"))]
    unsafe {
        pg_sys::MarkGUCPrefixReserved(c"jobmon".as_ptr())
    };
}
