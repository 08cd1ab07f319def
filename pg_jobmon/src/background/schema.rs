//! The schema pg_jobmon is installed in, which the statements of the background session
//! name (`@extschema@`). Looked up on every call so that a re-created extension or a
//! renamed schema is followed, with SPI only when the extension itself changed.

use crate::error::{JobmonError, Result};
use pgrx::prelude::*;
use pgrx::spi::SpiError;
use std::ffi::CStr;
use std::sync::{Mutex, PoisonError};

/// The extension and schema OIDs last seen, so that the schema is looked up with SPI only
/// when the extension was (re-)created, not on every call.
static SCHEMA_CACHE: Mutex<Option<(pg_sys::Oid, pg_sys::Oid)>> = Mutex::new(None);

/// The quoted name of the schema pg_jobmon is installed in (two cheap catalog lookups once
/// cached).
pub(super) fn extension_schema() -> Result<String> {
    let ext = unsafe { pg_sys::get_extension_oid(c"pg_jobmon".as_ptr(), true) };
    if ext == pg_sys::InvalidOid {
        return Err(JobmonError::NotInstalled);
    }
    let cached = *SCHEMA_CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    let namespace = match cached {
        Some((cached_ext, namespace)) if cached_ext == ext => namespace,
        _ => {
            // A read-only SPI connection: Spi::get_one() would assign a transaction id,
            // which a hot standby refuses ("cannot assign TransactionIds during recovery").
            let namespace = Spi::connect(|client| {
                client
                    .select(
                        "SELECT extnamespace FROM pg_catalog.pg_extension WHERE extname = 'pg_jobmon'",
                        Some(1),
                        &[],
                    )?
                    .first()
                    .get_one::<pg_sys::Oid>()
            })
            .map_err(|e| match e {
                // No row: dropped since get_extension_oid() saw it.
                SpiError::InvalidPosition => JobmonError::NotInstalled,
                e => JobmonError::Internal(format!("cannot look up pg_jobmon's schema: {e}")),
            })?
            .ok_or(JobmonError::NotInstalled)?;
            *SCHEMA_CACHE.lock().unwrap_or_else(PoisonError::into_inner) = Some((ext, namespace));
            namespace
        }
    };
    let name = unsafe { pg_sys::get_namespace_name(namespace) };
    if name.is_null() {
        // The schema goes only with the extension (DROP SCHEMA ... CASCADE drops both).
        return Err(JobmonError::NotInstalled);
    }
    let name = unsafe { CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    Ok(pgrx::spi::quote_identifier(name))
}
