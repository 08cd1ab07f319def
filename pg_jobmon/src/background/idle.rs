//! The idle timeout of the background connection, kept while the caller does nothing at
//! all (idle in its client's pool, no call that could look at the clock). A PostgreSQL
//! timeout (timeout.c, SIGALRM) is armed after each call; its handler runs inside the
//! signal handler, so it only does what is async-signal-safe: it shuts the socket down
//! (shutdown(2), the descriptor stays open and owned by tokio) and raises a flag. The
//! server sees end-of-file and ends the background session without a word in its log;
//! the next call sees the flag and opens a new connection.
//!
//! The handler never touches a socket in use: a call marks itself as running first, and
//! a timeout that fires during a call does nothing (the call re-arms it when it ends).

use pgrx::pg_sys::ffi::pg_guard_ffi_boundary;
use std::ffi::c_int;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

// timeout.h, which pgrx does not bind. TimeoutId is a C enum (an int). Called through
// pg_guard_ffi_boundary, as pgrx's own bindings are: they may raise.
extern "C-unwind" {
    fn RegisterTimeout(id: c_int, handler: Option<unsafe extern "C-unwind" fn()>) -> c_int;
    fn enable_timeout_after(id: c_int, delay_ms: c_int);
    fn disable_timeout(id: c_int, keep_indicator: bool);
}

/// `USER_TIMEOUT` of timeout.h: RegisterTimeout() given it picks a free slot for an
/// extension. Each major added predefined reasons before it.
#[cfg(feature = "pg14")]
const USER_TIMEOUT: c_int = 10;
#[cfg(any(feature = "pg15", feature = "pg16"))]
const USER_TIMEOUT: c_int = 12;
#[cfg(any(feature = "pg17", feature = "pg18"))]
const USER_TIMEOUT: c_int = 13;

/// A call is running: the handler must leave the socket alone.
static IN_CALL: AtomicBool = AtomicBool::new(false);
/// The socket the armed timeout may shut down; -1 when none.
static ARMED_FD: AtomicI32 = AtomicI32::new(-1);
/// The handler shut the socket down since the last call.
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);
/// The registered timeout, -1 until the first connection of this backend. Registered
/// lazily: a backend's start-up resets every timeout (InitializeTimeouts()), also one
/// registered by a _PG_init() that ran in the postmaster.
static TIMEOUT_ID: AtomicI32 = AtomicI32::new(-1);

/// Marks a call as running and says whether the idle timeout shut its connection down
/// meanwhile (the connection is then unusable and must be replaced).
pub(super) fn begin_call() -> bool {
    IN_CALL.store(true, Ordering::SeqCst);
    // Until the call ends and names the socket that stays open, the handler has none: a
    // call that raises leaves it so, and the descriptor it last had may be closed and
    // reused by then.
    ARMED_FD.store(-1, Ordering::SeqCst);
    SHUT_DOWN.swap(false, Ordering::SeqCst)
}

/// Marks the call as ended and arms the idle timeout for `fd`, the connection that stays
/// open (none: nothing to arm). Not reached when the call raised: then the timeout stays
/// disarmed until the next call ends, which errs on the side of keeping the connection.
pub(super) fn end_call(fd: Option<RawFd>, timeout: Option<Duration>) {
    let armed = match (fd, timeout) {
        (Some(fd), Some(timeout)) => {
            let id = timeout_id();
            let millis = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
            ARMED_FD.store(fd, Ordering::SeqCst);
            // Re-arming an active timeout replaces it.
            unsafe { pg_guard_ffi_boundary(|| enable_timeout_after(id, millis)) };
            true
        }
        _ => false,
    };
    if !armed {
        ARMED_FD.store(-1, Ordering::SeqCst);
        let id = TIMEOUT_ID.load(Ordering::SeqCst);
        if id >= 0 {
            unsafe { pg_guard_ffi_boundary(|| disable_timeout(id, false)) };
        }
    }
    IN_CALL.store(false, Ordering::SeqCst);
}

/// Keeps the handler away from the socket for the rest of this process (its exit).
pub(super) fn stop() {
    IN_CALL.store(true, Ordering::SeqCst);
    ARMED_FD.store(-1, Ordering::SeqCst);
}

fn timeout_id() -> c_int {
    let id = TIMEOUT_ID.load(Ordering::SeqCst);
    if id >= 0 {
        return id;
    }
    let id =
        unsafe { pg_guard_ffi_boundary(|| RegisterTimeout(USER_TIMEOUT, Some(on_idle_timeout))) };
    TIMEOUT_ID.store(id, Ordering::SeqCst);
    id
}

/// Runs inside the SIGALRM handler: atomics and one system call, nothing else.
unsafe extern "C-unwind" fn on_idle_timeout() {
    if IN_CALL.load(Ordering::SeqCst) {
        return;
    }
    let fd = ARMED_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        SHUT_DOWN.store(true, Ordering::SeqCst);
    }
}
