//! A writer process (a background worker): waits until a database needs it, connects to
//! it, then loops: take every queued request of that database (up to MAX_BATCH), execute
//! each in its own subtransaction, commit once, hand each caller its result. It leaves
//! (exits, and the postmaster starts it again free) when another database needs a writer
//! and its own has nothing queued.

use super::client::writer_to_wake;
use super::exec::{self, Job};
use super::payload::{self, ErrorText, Value};
use super::shmem::{self, DONE, ERROR, OK, TAKEN};
use super::Statement;
use pgrx::pg_sys;
use pgrx::PgTryBuilder;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Requests per transaction: below PostgreSQL's 64 cached subtransaction ids per
/// backend, past which every other session's snapshots get slower.
const MAX_BATCH: usize = 60;
/// How long an idle writer sleeps between looks at its duties (a latch wakes it sooner).
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// One taken request, as this writer holds it.
struct Taken {
    index: i32,
    generation: u64,
    statement: Option<Statement>,
    user: pg_sys::Oid,
    caller_pid: i32,
    lock_timeout_ms: i32,
    wait: bool,
    decoded: Option<(String, Vec<Value>)>,
}

/// An error's encoded texts, its inline copy and the dsm handle of a long one.
type StoredError = (Vec<u8>, [u8; shmem::INLINE], u32);

enum Outcome {
    Rows(exec::Rows),
    Failed(ErrorText),
    /// Cancelled although its caller still waits (a cancel meant for another request):
    /// queued again.
    Again,
    /// Its caller withdrew before it ran.
    Skipped,
}

static mut MY_INDEX: usize = 0;
/// This process's taken requests, for the exit callback.
static TAKEN_NOW: std::sync::Mutex<Vec<(i32, u64)>> = std::sync::Mutex::new(Vec::new());

#[pgrx::pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_jobmon_writer_main(arg: pg_sys::Datum) {
    let me = arg.value();
    unsafe {
        MY_INDEX = me;
        // Terminate (shutdown, pg_terminate_backend, DROP DATABASE ... FORCE) cancels the
        // statement being executed (its request goes back to the queue) and makes the
        // writer write what is queued without a waiting caller, then exit; SIGINT cancels
        // the statement being executed (a caller that gave up).
        pqsignal(pg_sys::SIGTERM as i32, Some(on_sigterm));
        pqsignal(pg_sys::SIGINT as i32, Some(StatementCancelHandler));
        pqsignal(pg_sys::SIGHUP as i32, Some(SignalHandlerForConfigReload));
        pg_sys::BackgroundWorkerUnblockSignals();
        pg_sys::before_shmem_exit(Some(at_exit), pg_sys::Datum::from(0));
    }
    let db = wait_for_database(me);
    unsafe {
        pg_sys::BackgroundWorkerInitializeConnectionByOid(db, pg_sys::InvalidOid, 0);
        for (name, value) in [
            (c"search_path", c"pg_catalog"),
            (c"statement_timeout", c"0"),
            (c"idle_in_transaction_session_timeout", c"0"),
        ] {
            pg_sys::SetConfigOption(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SUSET,
                pg_sys::GucSource::PGC_S_OVERRIDE,
            );
        }
    }
    {
        let mut q = shmem::lock();
        let w = q.writer(me);
        w.database = db;
        w.attaching = pg_sys::InvalidOid;
    }
    loop {
        if stopping() {
            drain(me, db);
            // Terminated on purpose: started again at once, without the pause after a
            // failure.
            shmem::lock().writer(me).planned_exit = true;
            unsafe { pg_sys::proc_exit(1) };
        }
        let batch = take(me, db, false);
        if batch.is_empty() {
            idle(me, db);
            continue;
        }
        run_batch(me, batch);
        if another_database_waits_and_mine_has_another_writer(me, db) {
            unsafe { pg_sys::proc_exit(1) };
        }
    }
}

/// A busy writer gives its place to a database that has no writer when its own database
/// keeps another one (so that a constant load on one database cannot starve the others).
fn another_database_waits_and_mine_has_another_writer(me: usize, db: pg_sys::Oid) -> bool {
    let mut q = shmem::lock();
    if starving_database(&mut q).is_none() {
        return false;
    }
    let others = (0..q.nwriters())
        .filter(|&i| i != me && q.writer(i).pid != 0 && q.writer(i).database == db)
        .count();
    if others == 0 {
        return false;
    }
    q.writer(me).planned_exit = true;
    true
}

static STOP: AtomicBool = AtomicBool::new(false);

fn stopping() -> bool {
    STOP.load(Ordering::Relaxed)
}

unsafe extern "C-unwind" fn on_sigterm(_signal: std::ffi::c_int) {
    let saved = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    STOP.store(true, Ordering::Relaxed);
    unsafe {
        std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 1);
        std::ptr::write_volatile(&raw mut pg_sys::InterruptPending, 1);
        pg_sys::SetLatch(pg_sys::MyLatch);
        *libc::__errno_location() = saved;
    }
}

/// Before the writer exits: writes what is queued for its database with nobody waiting
/// (calls made with jobmon.wait_for_commit off), each lock wait bounded to a second so that
/// a shutdown cannot hang on it. Calls whose callers wait stay queued for the next writer.
fn drain(me: usize, db: pg_sys::Oid) {
    exec::cap_lock_timeout(1000);
    loop {
        unsafe { std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 0) };
        let batch = take(me, db, true);
        if batch.is_empty() {
            return;
        }
        run_batch(me, batch);
    }
}

// PostgreSQL's own signal handlers, as C function pointers (pg_sys wraps them as Rust
// functions, which cannot be handlers).
extern "C-unwind" {
    fn StatementCancelHandler(signal: std::ffi::c_int);
    fn SignalHandlerForConfigReload(signal: std::ffi::c_int);
}

unsafe fn pqsignal(signal: i32, handler: pg_sys::pqsigfunc) {
    #[cfg(not(feature = "pg18"))]
    unsafe {
        pg_sys::pqsignal(signal, handler);
    }
    #[cfg(feature = "pg18")]
    unsafe {
        pg_sys::pqsignal_be(signal, handler);
    }
}

/// Registers this process in its slot and waits until some database needs a writer.
fn wait_for_database(me: usize) -> pg_sys::Oid {
    let (failed_db, restarted_after_failure) = {
        let mut q = shmem::lock();
        let w = q.writer(me);
        let failed_db = if w.planned_exit {
            pg_sys::InvalidOid
        } else {
            w.attaching
        };
        let after_failure = !w.planned_exit && !w.latch.is_null();
        w.pid = unsafe { pg_sys::MyProcPid };
        w.latch = unsafe { pg_sys::MyLatch };
        w.database = pg_sys::InvalidOid;
        w.attaching = pg_sys::InvalidOid;
        w.busy = false;
        w.detach = false;
        w.planned_exit = false;
        w.current.store(-1, Ordering::Release);
        (failed_db, after_failure)
    };
    if failed_db != pg_sys::InvalidOid {
        // The previous process of this slot died connecting to it (dropped meanwhile, or
        // not accepting connections): its queued requests can never be written.
        fail_queued(
            failed_db,
            &ErrorText {
                sqlstate: "08006".into(),
                message: format!(
                    "pg_jobmon's writer could not connect to the database with OID {}",
                    failed_db.to_u32()
                ),
                detail: None,
                hint: Some("See the server log for the writer's error.".into()),
            },
        );
    }
    if restarted_after_failure {
        // A writer that fails at once must not be restarted in a tight loop.
        std::thread::sleep(Duration::from_millis(500));
    }
    loop {
        {
            let mut q = shmem::lock();
            let attaching = q.writer(me).attaching;
            if attaching != pg_sys::InvalidOid {
                return attaching;
            }
            if let Some(db) = database_without_idle_writer(&mut q) {
                q.writer(me).attaching = db;
                return db;
            }
        }
        wait_latch(IDLE_WAIT);
    }
}

/// A database with queued requests and no writer free to take them (none, or all busy):
/// what a free writer connects to. (A new request wakes one itself; this finds requests
/// given back by a writer that exited.)
fn database_without_idle_writer(q: &mut shmem::Locked) -> Option<pg_sys::Oid> {
    let n = q.nwriters();
    let mut free: Vec<pg_sys::Oid> = Vec::new();
    for i in 0..n {
        let w = q.writer(i);
        if w.pid != 0 && (shmem::takes_soon(w) || w.attaching != pg_sys::InvalidOid) {
            free.extend([w.database, w.attaching]);
        }
    }
    q.queued()
        .into_iter()
        .map(|i| q.slot(i).database)
        .find(|db| !free.contains(db))
}

/// A database with queued requests that no writer serves or is connecting to.
fn starving_database(q: &mut shmem::Locked) -> Option<pg_sys::Oid> {
    let n = q.nwriters();
    let mut served: Vec<pg_sys::Oid> = Vec::new();
    for i in 0..n {
        let w = q.writer(i);
        if w.pid != 0 {
            served.extend([w.database, w.attaching]);
        }
    }
    q.queued()
        .into_iter()
        .map(|i| q.slot(i).database)
        .find(|db| !served.contains(db))
}

fn wait_latch(timeout: Duration) {
    shmem::wait_own_latch(timeout);
    unsafe {
        if std::ptr::read_volatile(&raw const pg_sys::ConfigReloadPending) != 0 {
            std::ptr::write_volatile(&raw mut pg_sys::ConfigReloadPending, 0);
            pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
        }
    }
    absorb_interrupts();
}

/// Processes pending interrupts between requests (barriers, catch-up), except a cancel:
/// one that arrives there was meant for a request that is done, or is the stop signal's.
fn absorb_interrupts() {
    unsafe { pg_sys::QueryCancelHoldoffCount += 1 };
    pg_sys::check_for_interrupts!();
    unsafe {
        pg_sys::QueryCancelHoldoffCount -= 1;
        std::ptr::write_volatile(&raw mut pg_sys::QueryCancelPending, 0);
    }
}

/// Nothing queued for this writer: leave if another database waits for a writer (or we
/// were asked to), else sleep until woken.
fn idle(me: usize, db: pg_sys::Oid) {
    let leave = {
        let mut q = shmem::lock();
        let asked = q.writer(me).detach;
        let leave = asked || starving_database(&mut q).is_some();
        if leave {
            let w = q.writer(me);
            w.planned_exit = true;
            w.detach = false;
        } else {
            q.writer(me).busy = false;
        }
        leave
    };
    if leave {
        // Exit code 1: the postmaster starts this writer again, free for any database.
        unsafe { pg_sys::proc_exit(1) };
    }
    if probe_due() && database_wanted_exclusively(db) {
        // DROP DATABASE, CREATE DATABASE ... TEMPLATE or a rename waits for this
        // database's sessions to end: this writer is one of them.
        {
            let mut q = shmem::lock();
            q.writer(me).planned_exit = true;
        }
        unsafe { pg_sys::proc_exit(1) };
    }
    wait_latch(IDLE_WAIT);
}

/// Whether it is time to look at the database's lock again: at most every 200 ms (well
/// within the 5 s that DROP DATABASE waits for other sessions), not after every request.
fn probe_due() -> bool {
    use std::sync::Mutex;
    static LAST: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
    if due {
        *last = Some(std::time::Instant::now());
    }
    due
}

/// Whether another session holds (or waits for) a lock on this database that conflicts
/// with a connected session's: the lock DROP DATABASE and friends take before they wait
/// for the database's sessions to end.
fn database_wanted_exclusively(db: pg_sys::Oid) -> bool {
    let tag = pg_sys::LOCKTAG {
        locktag_field1: 0,
        locktag_field2: pg_sys::DatabaseRelationId.to_u32(),
        locktag_field3: db.to_u32(),
        locktag_field4: 0,
        locktag_type: pg_sys::LockTagType::LOCKTAG_OBJECT as u8,
        locktag_lockmethodid: 1, // DEFAULT_LOCKMETHOD
    };
    let mode = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
    unsafe {
        let got = pg_sys::LockAcquire(&tag, mode, true, true);
        if got == pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL {
            return true;
        }
        pg_sys::LockRelease(&tag, mode, true);
    }
    false
}

/// Takes every queued request of `db` that may run now (oldest first, up to MAX_BATCH): a
/// session whose earlier request another writer is still committing waits for it.
fn take(me: usize, db: pg_sys::Oid, only_unwaited: bool) -> Vec<Taken> {
    let mut batch = Vec::new();
    {
        let mut q = shmem::lock();
        let mut blocked = q.in_flight_elsewhere(me as i32);
        for index in q.queued() {
            if batch.len() >= MAX_BATCH {
                break;
            }
            let slot = q.slot(index);
            if slot.database != db {
                continue;
            }
            if blocked.contains(&slot.caller_pid) {
                continue;
            }
            if only_unwaited && slot.wait {
                // Its session's later requests must stay behind it.
                blocked.push(slot.caller_pid);
                continue;
            }
            let bytes = shmem::load_bytes(&slot.inline, slot.payload_len, 0);
            let handle = slot.payload_dsm;
            let taken = Taken {
                index,
                generation: slot.generation,
                statement: Statement::from_code(slot.query),
                user: slot.user,
                caller_pid: slot.caller_pid,
                lock_timeout_ms: slot.lock_timeout_ms,
                wait: slot.wait,
                decoded: if handle == 0 {
                    payload::decode_request(&bytes)
                } else {
                    None
                },
            };
            slot.writer = me as i32;
            slot.state.store(TAKEN, Ordering::Release);
            q.unlink(index);
            batch.push((taken, handle, q.slot(index).payload_len));
        }
        if !batch.is_empty() {
            let w = q.writer(me);
            w.busy = true;
            w.busy_since = unsafe { pg_sys::GetCurrentTimestamp() };
        }
        *TAKEN_NOW.lock().unwrap_or_else(|p| p.into_inner()) = batch
            .iter()
            .map(|(t, _, _)| (t.index, t.generation))
            .collect();
    }
    batch
        .into_iter()
        .map(|(mut taken, handle, len)| {
            if handle != 0 {
                let bytes = shmem::load_bytes(&[0u8; shmem::INLINE], len, handle);
                taken.decoded = payload::decode_request(&bytes);
            }
            taken
        })
        .collect()
}

fn orphaned(index: i32) -> bool {
    shmem::peek_orphan(index)
}

/// One transaction for the whole batch; each request in its own subtransaction when
/// there are several (one alone needs none: its failure aborts only itself).
fn run_batch(me: usize, batch: Vec<Taken>) {
    let several = batch.len() > 1;
    let count = batch.len();
    let body = AssertUnwindSafe(|| {
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(count);
        unsafe {
            pg_sys::SetCurrentStatementStartTimestamp();
            pg_sys::StartTransactionCommand();
            pg_sys::SPI_connect();
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        }
        let mut failed_alone = false;
        for t in &batch {
            let outcome = run_one(me, t, several);
            if !several && matches!(outcome, Outcome::Failed(_) | Outcome::Again) {
                failed_alone = true;
            }
            outcomes.push(outcome);
        }
        unsafe {
            // The commit and the hand-over of its results are one step: a cancel (meant
            // for a request) or a terminate in between must not separate them.
            pg_sys::InterruptHoldoffCount += 1;
            if failed_alone {
                // A lone request that failed without a subtransaction: the abort cleans
                // up SPI and the snapshot as after any error.
                pg_sys::AbortCurrentTransaction();
                exec::forget_lock_timeout();
            } else {
                pg_sys::PopActiveSnapshot();
                pg_sys::SPI_finish();
                pg_sys::CommitTransactionCommand();
            }
        }
        outcomes
    });
    let outcomes = PgTryBuilder::new(body)
        .catch_others(|e| {
            let error = exec::caught(e);
            unsafe {
                pg_sys::AbortCurrentTransaction();
                pg_sys::InterruptHoldoffCount += 1;
            }
            exec::forget_lock_timeout();
            // Whatever ran is rolled back: every request of the batch gets this error.
            (0..count).map(|_| Outcome::Failed(error.clone())).collect()
        })
        .execute();
    hand_over(&batch, outcomes);
    unsafe {
        pg_sys::InterruptHoldoffCount = pg_sys::InterruptHoldoffCount.saturating_sub(1);
    }
    absorb_interrupts();
}

fn run_one(me: usize, t: &Taken, several: bool) -> Outcome {
    if orphaned(t.index) {
        return Outcome::Skipped;
    }
    let (Some(statement), Some((schema, values))) = (t.statement, &t.decoded) else {
        return Outcome::Failed(ErrorText {
            sqlstate: "XX000".into(),
            message: "pg_jobmon internal error: a writer could not read a request".into(),
            detail: None,
            hint: None,
        });
    };
    let job = Job {
        statement,
        schema,
        values,
        user: t.user,
        lock_timeout_ms: t.lock_timeout_ms,
        check_rows: !t.wait,
    };
    let current = shmem::writer_current(me);
    current.store(t.index, Ordering::Release);
    let result = exec::run(&job, several);
    current.store(-1, Ordering::Release);
    match result {
        Ok(rows) => Outcome::Rows(rows),
        Err(e) if e.sqlstate == "57014" => {
            if orphaned(t.index) || exec::lock_timeout_capped() {
                Outcome::Failed(e)
            } else {
                Outcome::Again
            }
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// Writes each result into its slot and wakes its caller; frees what nobody collects;
/// queues again what was cancelled by mistake.
fn hand_over(batch: &[Taken], outcomes: Vec<Outcome>) {
    // Error texts are stored before the lock is taken (a long one needs a segment).
    let stored: Vec<Option<StoredError>> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Failed(e) => {
                let bytes = payload::encode_error(e);
                let mut inline = [0u8; shmem::INLINE];
                let handle = shmem::store_bytes(&mut inline, &bytes);
                Some((bytes, inline, handle))
            }
            _ => None,
        })
        .collect();
    let mut to_log: Vec<(i32, ErrorText)> = Vec::new();
    let mut unpins = Vec::new();
    let mut again = Vec::new();
    let mut wake = Vec::new();
    {
        let mut q = shmem::lock();
        for ((t, outcome), stored) in batch.iter().zip(outcomes).zip(stored) {
            if q.slot(t.index).generation != t.generation {
                continue;
            }
            if matches!(outcome, Outcome::Again) {
                if stopping() {
                    // Cancelled because this writer is told to stop: one more writer tries.
                    q.slot(t.index).attempts += 1;
                }
                if q.slot(t.index).attempts < 2 {
                    again.push(t.index);
                    continue;
                }
                let bytes = payload::encode_error(&exited_twice());
                let slot = q.slot(t.index);
                slot.result = ERROR;
                slot.error_len = bytes.len() as u32;
                slot.inline[..bytes.len()].copy_from_slice(&bytes);
                slot.error_dsm = 0;
                slot.writer = -1;
                if t.wait && !slot.orphan {
                    slot.state.store(DONE, Ordering::Release);
                    wake.push(slot.caller_latch);
                } else {
                    unpins.push(q.release(t.index));
                }
                continue;
            }
            let orphan = q.slot(t.index).orphan;
            if let Outcome::Failed(e) = &outcome {
                if !t.wait || orphan {
                    to_log.push((t.caller_pid, e.clone()));
                }
            }
            let keep = !orphan && (t.wait || matches!(outcome, Outcome::Failed(_)));
            if !keep {
                unpins.push(q.release(t.index));
                if let Some((_, _, handle)) = stored {
                    unpins.push([handle, 0]);
                }
                continue;
            }
            let slot = q.slot(t.index);
            match outcome {
                Outcome::Rows(rows) => {
                    slot.result = OK;
                    slot.rows = rows.count;
                    for i in 0..2 {
                        slot.cols[i] = rows.cols[i].unwrap_or(0);
                        slot.cols_null[i] = rows.cols[i].is_none();
                    }
                }
                _ => {
                    slot.result = ERROR;
                    if let Some((bytes, inline, handle)) = stored {
                        slot.error_len = bytes.len() as u32;
                        slot.error_dsm = handle;
                        if handle == 0 {
                            slot.inline = inline;
                        }
                    }
                }
            }
            slot.writer = -1;
            slot.state.store(DONE, Ordering::Release);
            wake.push(slot.caller_latch);
        }
        if !again.is_empty() {
            q.requeue_front(&again);
            let db = q.slot(again[0]).database;
            wake.push(writer_to_wake(&mut q, db));
        }
        TAKEN_NOW.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
    for latch in wake {
        shmem::wake(latch);
    }
    for h in unpins {
        shmem::unpin(h);
    }
    for (pid, e) in to_log {
        pgrx::warning!(
            "pg_jobmon: a logging call of the session with pid {pid} failed after it returned (jobmon.wait_for_commit = off): {} (SQLSTATE {}){}",
            e.message,
            e.sqlstate,
            e.detail.map(|d| format!(" DETAIL: {d}")).unwrap_or_default()
        );
    }
}

/// Fails every queued request of `db` with `error` and wakes their callers.
fn fail_queued(db: pg_sys::Oid, error: &ErrorText) {
    let bytes = payload::encode_error(error);
    let mut wake = Vec::new();
    let mut unpins = Vec::new();
    {
        let mut q = shmem::lock();
        for index in q.queued() {
            if q.slot(index).database != db {
                continue;
            }
            q.unlink(index);
            if !q.slot(index).wait || q.slot(index).orphan {
                unpins.push(q.release(index));
                continue;
            }
            let slot = q.slot(index);
            slot.result = ERROR;
            slot.error_len = bytes.len().min(shmem::INLINE) as u32;
            slot.inline[..slot.error_len as usize]
                .copy_from_slice(&bytes[..slot.error_len as usize]);
            slot.error_dsm = 0;
            slot.state.store(DONE, Ordering::Release);
            wake.push(slot.caller_latch);
        }
    }
    for latch in wake {
        shmem::wake(latch);
    }
    for h in unpins {
        shmem::unpin(h);
    }
}

/// The error of a request that two writers in a row exited (or were told to) while
/// writing it.
fn exited_twice() -> ErrorText {
    ErrorText {
        sqlstate: "57P01".into(),
        message: "pg_jobmon's writer process exited twice while writing this call".into(),
        detail: None,
        hint: Some("See the server log for why the writer exited.".into()),
    }
}

/// On any exit: the slot is freed, and requests taken but not handed over go back to the
/// head of the queue for the next writer (their transaction was not committed: an exit
/// between commit and hand-over is held off). A request whose writer exited twice fails.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn at_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    unsafe { pg_sys::LWLockReleaseAll() };
    let me = unsafe { MY_INDEX };
    let taken = std::mem::take(&mut *TAKEN_NOW.lock().unwrap_or_else(|p| p.into_inner()));
    let mut again = Vec::new();
    let mut wake = Vec::new();
    let mut unpins = Vec::new();
    let error = payload::encode_error(&exited_twice());
    let mut q = shmem::lock();
    for (index, generation) in taken {
        if q.slot(index).generation != generation
            || q.slot(index).state.load(Ordering::Acquire) != TAKEN
        {
            continue;
        }
        let slot = q.slot(index);
        slot.attempts += 1;
        if slot.orphan {
            unpins.push(q.release(index));
        } else if slot.attempts >= 2 {
            slot.result = ERROR;
            slot.error_len = error.len() as u32;
            slot.inline[..error.len()].copy_from_slice(&error);
            slot.error_dsm = 0;
            slot.writer = -1;
            if slot.wait {
                slot.state.store(DONE, Ordering::Release);
                wake.push(slot.caller_latch);
            } else {
                unpins.push(q.release(index));
            }
        } else {
            again.push(index);
        }
    }
    q.requeue_front(&again);
    let w = q.writer(me);
    w.pid = 0;
    w.busy = false;
    w.detach = false;
    w.database = pg_sys::InvalidOid;
    w.current.store(-1, Ordering::Release);
    if !again.is_empty() {
        let db = q.slot(again[0]).database;
        wake.push(writer_to_wake(&mut q, db));
    }
    drop(q);
    for latch in wake {
        shmem::wake(latch);
    }
    for h in unpins {
        shmem::unpin(h);
    }
}
