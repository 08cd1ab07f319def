//! The interrupt-aware driver: runs a tokio-postgres future to completion on the
//! current-thread runtime, on the backend's own thread, and gives up promptly when the
//! caller is cancelled, terminated or hits its statement_timeout.

use super::socket::{self, Endpoint};
use pgrx::pg_sys;
use std::future::Future;
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio_postgres::{CancelToken, NoTls};

/// How often a waiting call looks at the backend's interrupt flags. Short enough that a
/// cancel feels immediate, long enough to cost nothing measurable.
const INTERRUPT_POLL: Duration = Duration::from_millis(5);
/// How long a cancelled call waits for the background statement to acknowledge the cancel,
/// so that the cancel can never hit the next call's statement instead.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

/// The caller is being cancelled or terminated; the future was abandoned.
pub(super) struct Interrupted;

/// How to cancel the statement in flight: the session's key, sent on a new socket to the
/// same endpoint (the connection's socket is opened by pg_jobmon, so tokio-postgres does
/// not know where it goes).
pub(super) struct Canceller<'a> {
    pub token: CancelToken,
    pub endpoint: &'a Endpoint,
}

impl Canceller<'_> {
    async fn cancel(&self) {
        if let Ok(stream) = socket::open(self.endpoint).await {
            let _ = self.token.cancel_query_raw(stream, NoTls).await;
        }
    }
}

/// Polls `fut` to completion on the runtime, looking at the caller's interrupt flags every
/// few milliseconds. On a cancel or terminate it cancels the background statement, waits
/// briefly for that to be acknowledged, and gives up.
pub(super) fn drive<F: Future>(
    rt: &Runtime,
    cancel: Option<&Canceller<'_>>,
    fut: F,
) -> Result<F::Output, Interrupted> {
    let mut fut = std::pin::pin!(fut);
    loop {
        let done = rt.block_on(async {
            tokio::select! {
                biased;
                out = &mut fut => Some(out),
                _ = tokio::time::sleep(INTERRUPT_POLL) => None,
            }
        });
        if let Some(out) = done {
            return Ok(out);
        }
        if interrupt_will_raise() {
            if let Some(canceller) = cancel {
                rt.block_on(async {
                    let _ = tokio::time::timeout(CANCEL_WAIT, canceller.cancel()).await;
                    let _ = tokio::time::timeout(CANCEL_WAIT, &mut fut).await;
                });
            }
            return Err(Interrupted);
        }
        if unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) } != 0 {
            // Harmless interrupts (catch-up, barriers, ...) are processed as PostgreSQL
            // would process them in any long-running loop.
            pg_sys::check_for_interrupts!();
        }
    }
}

/// True when ProcessInterrupts() would end the current statement or the backend.
pub(crate) fn interrupt_will_raise() -> bool {
    unsafe {
        if std::ptr::read_volatile(&raw const pg_sys::InterruptPending) == 0
            || std::ptr::read_volatile(&raw const pg_sys::InterruptHoldoffCount) != 0
            || std::ptr::read_volatile(&raw const pg_sys::CritSectionCount) != 0
        {
            return false;
        }
        proc_die_pending()
            || (std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0
                && std::ptr::read_volatile(&raw const pg_sys::QueryCancelHoldoffCount) == 0)
    }
}

/// True when the backend is being terminated (pg_terminate_backend, shutdown).
pub(super) fn proc_die_pending() -> bool {
    unsafe { std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0 }
}
