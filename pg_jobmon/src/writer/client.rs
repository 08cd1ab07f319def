//! The calling backend's side of the shared mode: queue a request, wake a writer, wait on
//! the own latch for the result (or, with jobmon.wait_for_commit off, remember the
//! request and collect its error on a later call). A cancel or terminate withdraws a
//! request that no writer has taken yet, and cancels one that is being executed.

use super::payload::{self, ErrorText};
use super::shmem::{self, Locked, DONE, ERROR, QUEUED, TAKEN};
use crate::error::{JobmonError, Result};
use pgrx::pg_sys;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A call's result as the writer reported it.
pub struct Outcome {
    pub rows: u64,
    pub cols: [Option<i64>; 2],
}

/// How long a request may wait in the queue while no writer process exists at all
/// (none could start: max_worker_processes too small, or they keep failing).
const NO_WRITER_LIMIT: Duration = Duration::from_secs(10);

/// Requests of this session queued with wait_for_commit off: (slot, generation).
static UNCOLLECTED: Mutex<Vec<(i32, u64)>> = Mutex::new(Vec::new());
static EXIT_HOOK: std::sync::Once = std::sync::Once::new();

/// Queues one request and, when `wait`, waits for its result. `Ok(None)`: queued only.
pub fn submit(
    query: u8,
    payload: &[u8],
    wait: bool,
    lock_timeout_ms: i32,
) -> Result<Option<Outcome>> {
    EXIT_HOOK.call_once(|| unsafe {
        pg_sys::before_shmem_exit(Some(at_exit), pg_sys::Datum::from(0));
    });
    // A long payload goes into its own segment before any slot is taken, so that a
    // failure there leaves nothing behind.
    let mut inline = [0u8; shmem::INLINE];
    let handle = shmem::store_bytes(&mut inline, payload);
    let (index, generation) = allocate_slot(handle)?;
    let latch = {
        let mut q = shmem::lock();
        let slot = q.slot(index);
        slot.database = unsafe { pg_sys::MyDatabaseId };
        slot.user = unsafe { pg_sys::GetUserId() };
        slot.caller_pid = unsafe { pg_sys::MyProcPid };
        slot.caller_latch = unsafe { pg_sys::MyLatch };
        slot.query = query;
        slot.wait = wait;
        slot.lock_timeout_ms = lock_timeout_ms;
        slot.payload_len = payload.len() as u32;
        slot.payload_dsm = handle;
        if handle == 0 {
            slot.inline[..payload.len()].copy_from_slice(&inline[..payload.len()]);
        }
        q.enqueue(index);
        writer_to_wake(&mut q, unsafe { pg_sys::MyDatabaseId })
    };
    shmem::wake(latch);
    if !wait {
        lock_uncollected().push((index, generation));
        return Ok(None);
    }
    wait_for(index, generation)?;
    collect(index).map(Some)
}

fn lock_uncollected() -> std::sync::MutexGuard<'static, Vec<(i32, u64)>> {
    UNCOLLECTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A free request slot; when all are in use (many calls with wait_for_commit off), waits
/// for one, interruptibly.
fn allocate_slot(handle: u32) -> Result<(i32, u64)> {
    loop {
        {
            let mut q = shmem::lock();
            if let Some(index) = q.allocate() {
                let generation = q.slot(index).generation;
                return Ok((index, generation));
            }
        }
        if let Err(e) = sleep_interruptibly(Duration::from_millis(10)) {
            shmem::unpin([handle, 0]);
            return Err(e);
        }
    }
}

/// Waits on the latch; on an interrupt that will raise, returns Interrupted after the
/// caller had a chance to clean up (the caller raises it with CHECK_FOR_INTERRUPTS).
fn sleep_interruptibly(timeout: Duration) -> Result<()> {
    shmem::wait_own_latch(timeout);
    if crate::background::interrupt_will_raise() {
        return Err(JobmonError::Interrupted);
    }
    if unsafe { std::ptr::read_volatile(&raw const pg_sys::InterruptPending) } != 0 {
        pg_sys::check_for_interrupts!();
    }
    Ok(())
}

/// Waits until the writer reports the request done; withdraws it on an interrupt.
fn wait_for(index: i32, generation: u64) -> Result<()> {
    let mut writerless_since: Option<Instant> = None;
    loop {
        if shmem::peek_state(index) == DONE {
            return Ok(());
        }
        if let Err(e) = sleep_interruptibly(Duration::from_secs(1)) {
            withdraw(index, generation);
            return Err(e);
        }
        if shmem::peek_state(index) == QUEUED && !any_writer_alive() {
            let since = *writerless_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= NO_WRITER_LIMIT {
                withdraw(index, generation);
                return Err(JobmonError::Internal(
                    "no pg_jobmon writer process is running (see the server log; max_worker_processes must leave room for jobmon.writers)".into(),
                ));
            }
        } else {
            writerless_since = None;
        }
    }
}

fn any_writer_alive() -> bool {
    let mut q = shmem::lock();
    (0..q.nwriters()).any(|i| q.writer(i).pid != 0)
}

/// Takes a request back: one still queued leaves the queue, one being executed is
/// cancelled in its writer (it then commits nothing), one already done stays done.
fn withdraw(index: i32, generation: u64) {
    let handles = {
        let mut q = shmem::lock();
        if q.slot(index).generation != generation {
            return;
        }
        match q
            .slot(index)
            .state
            .load(std::sync::atomic::Ordering::Acquire)
        {
            QUEUED => {
                q.unlink(index);
                q.release(index)
            }
            TAKEN => {
                q.slot(index).orphan = true;
                let w = q.slot(index).writer;
                if w >= 0 {
                    let writer = q.writer(w as usize);
                    if writer.current.load(std::sync::atomic::Ordering::Acquire) == index
                        && writer.pid != 0
                    {
                        // As pg_cancel_backend: the writer's statement ends with a cancel,
                        // its subtransaction is rolled back, the writer goes on.
                        unsafe { libc::kill(writer.pid, libc::SIGINT) };
                    }
                }
                [0, 0]
            }
            DONE => q.release(index),
            _ => [0, 0],
        }
    };
    shmem::unpin(handles);
}

/// Reads a done request's result and frees its slot.
fn collect(index: i32) -> Result<Outcome> {
    let (outcome, error_len, handles, inline) = {
        let mut q = shmem::lock();
        let slot = q.slot(index);
        let outcome = Outcome {
            rows: slot.rows,
            cols: [
                (!slot.cols_null[0]).then_some(slot.cols[0]),
                (!slot.cols_null[1]).then_some(slot.cols[1]),
            ],
        };
        let is_error = slot.result == ERROR;
        let error_len = slot.error_len;
        let error_dsm = slot.error_dsm;
        let inline = if is_error && error_dsm == 0 {
            Some(slot.inline)
        } else {
            None
        };
        let handles = q.release(index);
        (
            outcome,
            is_error.then_some((error_len, error_dsm)),
            handles,
            inline,
        )
    };
    let result = match error_len {
        None => Ok(outcome),
        Some((len, dsm)) => {
            let bytes = match &inline {
                Some(inline) => shmem::load_bytes(inline, len, 0),
                None => shmem::load_bytes(&[0u8; shmem::INLINE], len, dsm),
            };
            Err(remote_error(payload::decode_error(&bytes), None))
        }
    };
    shmem::unpin(handles);
    result
}

fn remote_error(e: Option<ErrorText>, earlier: Option<&str>) -> JobmonError {
    match e {
        Some(e) => JobmonError::Remote {
            sqlstate: e.sqlstate,
            message: e.message,
            detail: match earlier {
                None => e.detail,
                Some(what) => Some(
                    format!("This is the error of an earlier call of this session ({what}), which returned before its row was written because jobmon.wait_for_commit is off.")
                        + &e.detail.map(|d| format!(" {d}")).unwrap_or_default(),
                ),
            },
            hint: e.hint,
        },
        None => JobmonError::Internal("a pg_jobmon writer reported an unreadable error".into()),
    }
}

/// Raises the first error of this session's earlier calls with wait_for_commit off that
/// failed in the writer; forgets those that succeeded.
pub fn report_earlier_errors() -> Result<()> {
    let mut list = lock_uncollected();
    if list.is_empty() {
        return Ok(());
    }
    let mut failed: Option<(i32, u8)> = None;
    {
        let mut q = shmem::lock();
        list.retain(|&(index, generation)| {
            let slot = q.slot(index);
            if slot.generation != generation {
                return false;
            }
            if failed.is_none() && slot.state.load(std::sync::atomic::Ordering::Acquire) == DONE {
                failed = Some((index, slot.query));
                return false;
            }
            true
        });
    }
    drop(list);
    match failed {
        None => Ok(()),
        Some((index, query)) => match collect(index) {
            Err(JobmonError::Remote {
                sqlstate,
                message,
                detail,
                hint,
            }) => Err(remote_error(
                Some(ErrorText {
                    sqlstate,
                    message,
                    detail,
                    hint,
                }),
                Some(super::query_name(query)),
            )),
            Err(e) => Err(e),
            Ok(_) => Ok(()),
        },
    }
}

/// Which writer to wake for a new request of `db` (under the lock): an idle one of that
/// database; none while one of its writers is busy but not stuck (it takes the request
/// with its next batch: one writer per database groups the most commits); else a free
/// one, which then connects to it; else, when no writer serves it at all, an idle writer
/// of a database with nothing queued is asked to give its place.
pub fn writer_to_wake(q: &mut Locked, db: pg_sys::Oid) -> *mut pg_sys::Latch {
    let n = q.nwriters();
    let mut served = false;
    for i in 0..n {
        let w = q.writer(i);
        if w.pid != 0 && (w.database == db || w.attaching == db) {
            if !w.busy {
                return w.latch;
            }
            if shmem::takes_soon(w) {
                return std::ptr::null_mut();
            }
            served = true;
        }
    }
    for i in 0..n {
        let w = q.writer(i);
        if w.pid != 0 && w.database == pg_sys::InvalidOid && w.attaching == pg_sys::InvalidOid {
            w.attaching = db;
            return w.latch;
        }
    }
    if served {
        return std::ptr::null_mut();
    }
    let queued: Vec<pg_sys::Oid> = q.queued().into_iter().map(|i| q.slot(i).database).collect();
    for i in 0..n {
        let w = q.writer(i);
        if w.pid != 0
            && !w.busy
            && !w.detach
            && w.database != pg_sys::InvalidOid
            && !queued.contains(&w.database)
        {
            w.detach = true;
            return w.latch;
        }
    }
    std::ptr::null_mut()
}

/// At session end: results nobody will collect are freed, requests still on their way
/// are left to the writer, which frees them when done.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn at_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let list = std::mem::take(&mut *lock_uncollected());
    if list.is_empty() {
        return;
    }
    let mut handles = Vec::new();
    {
        let mut q = shmem::lock();
        for (index, generation) in list {
            if q.slot(index).generation != generation {
                continue;
            }
            if q.slot(index)
                .state
                .load(std::sync::atomic::Ordering::Acquire)
                == DONE
            {
                handles.push(q.release(index));
            } else {
                q.slot(index).orphan = true;
            }
        }
    }
    for h in handles {
        shmem::unpin(h);
    }
}
