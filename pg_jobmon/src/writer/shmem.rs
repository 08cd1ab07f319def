//! The writer's shared memory: one LWLock, the writer processes' slots and a fixed array
//! of request slots with a free list and one FIFO queue. Everything here is plain data
//! (`repr(C)`, no pointers into process memory except latches, which live in shared
//! memory themselves); every field is read and written under the lock, except `current`
//! and the request `state`, which are atomics for cheap peeks.

use pgrx::pg_sys;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};

/// A writer busy with one batch for longer than this (µs) is taken to be stuck (a lock
/// wait): a second writer then joins its database. Shorter, the requests wait for its
/// next batch, so that one writer per database commits them together.
pub const STUCK_US: i64 = 20_000;

/// Whether a writer can be counted on to take new requests of its database soon: idle,
/// or busy for less than STUCK_US.
pub fn takes_soon(w: &Writer) -> bool {
    !w.busy || unsafe { pg_sys::GetCurrentTimestamp() } - w.busy_since < STUCK_US
}

/// Upper bound of `jobmon.writers` (the slots are a fixed array).
pub const MAX_WRITERS: usize = 32;
/// Bytes of arguments (or of an error's texts) stored in the slot itself; longer ones go
/// into a dynamic shared memory segment of their own.
pub const INLINE: usize = 1024;

const NAME: &std::ffi::CStr = c"pg_jobmon writer";
const TRANCHE: &std::ffi::CStr = c"pg_jobmon";

/// Request states.
pub const FREE: u32 = 0;
pub const QUEUED: u32 = 1;
pub const TAKEN: u32 = 2;
pub const DONE: u32 = 3;

/// Result kinds.
pub const OK: u8 = 0;
pub const ERROR: u8 = 1;

#[repr(C)]
pub struct Writer {
    /// 0: no process (not started yet, or exited).
    pub pid: i32,
    pub latch: *mut pg_sys::Latch,
    /// The database this writer is connected to (InvalidOid: none yet).
    pub database: pg_sys::Oid,
    /// A database this writer was told to connect to, or is connecting to.
    pub attaching: pg_sys::Oid,
    /// Running a batch (not waiting for work).
    pub busy: bool,
    /// When it took its current batch (GetCurrentTimestamp), to tell a writer that is
    /// about to take new requests from one that waits for a lock.
    pub busy_since: i64,
    /// Asked to exit so that it restarts free for another database.
    pub detach: bool,
    /// The last exit was one the writer chose (detach), not a failure.
    pub planned_exit: bool,
    /// The request slot being executed right now (-1: none), for the cancel of a caller.
    pub current: AtomicI32,
}

#[repr(C)]
pub struct Request {
    pub state: AtomicU32,
    /// Bumped each time the slot is handed out, so a stale index is recognised.
    pub generation: u64,
    pub next: i32,
    pub database: pg_sys::Oid,
    pub user: pg_sys::Oid,
    pub caller_pid: i32,
    pub caller_latch: *mut pg_sys::Latch,
    /// Index of the writer that took it (-1: none).
    pub writer: i32,
    pub query: u8,
    /// The caller waits for the result (jobmon.wait_for_commit on).
    pub wait: bool,
    /// Nobody will collect the result: the caller withdrew or ended.
    pub orphan: bool,
    /// How often a writer took it and then exited before committing.
    pub attempts: u8,
    pub lock_timeout_ms: i32,
    pub payload_len: u32,
    /// dsm_handle of the payload, 0 when it is in `inline`.
    pub payload_dsm: u32,
    pub result: u8,
    pub rows: u64,
    pub cols: [i64; 2],
    pub cols_null: [bool; 2],
    pub error_len: u32,
    pub error_dsm: u32,
    pub inline: [u8; INLINE],
}

#[repr(C)]
pub struct Header {
    pub nwriters: u32,
    pub nslots: u32,
    pub free_head: i32,
    pub queue_head: i32,
    pub queue_tail: i32,
    pub writers: [Writer; MAX_WRITERS],
}

// Set in the postmaster's shmem_startup_hook, inherited by every forked process.
static HEADER: AtomicPtr<Header> = AtomicPtr::new(std::ptr::null_mut());
static SLOTS: AtomicPtr<Request> = AtomicPtr::new(std::ptr::null_mut());
static LOCK: AtomicPtr<pg_sys::LWLock> = AtomicPtr::new(std::ptr::null_mut());

fn header_ptr() -> *mut Header {
    HEADER.load(Ordering::Relaxed)
}

fn slot_ptr(index: i32) -> *mut Request {
    // SAFETY: indexes come from the queue's own lists, all below nslots.
    unsafe { SLOTS.load(Ordering::Relaxed).add(index as usize) }
}

fn lock_ptr() -> *mut pg_sys::LWLock {
    LOCK.load(Ordering::Relaxed)
}
static mut PREV_STARTUP: pg_sys::shmem_startup_hook_type = None;
#[cfg(not(feature = "pg14"))]
static mut PREV_REQUEST: pg_sys::shmem_request_hook_type = None;

/// Number of request slots: two per possible session plus a margin, so that waiting
/// calls never run short and calls with wait_for_commit off can queue a few each.
fn nslots() -> usize {
    let (conns, workers) = unsafe { (pg_sys::MaxConnections, pg_sys::max_worker_processes) };
    64 + 2 * usize::try_from(conns + workers).unwrap_or(100)
}

fn size() -> usize {
    std::mem::size_of::<Header>() + nslots() * std::mem::size_of::<Request>()
}

/// Called from _PG_init under shared_preload_libraries.
pub fn install_hooks() {
    unsafe {
        #[cfg(feature = "pg14")]
        request();
        #[cfg(not(feature = "pg14"))]
        {
            PREV_REQUEST = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(shmem_request);
        }
        PREV_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(shmem_startup);
    }
}

unsafe fn request() {
    unsafe {
        pg_sys::RequestAddinShmemSpace(size());
        pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
    }
}

#[cfg(not(feature = "pg14"))]
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    unsafe {
        if let Some(prev) = PREV_REQUEST {
            prev();
        }
        request();
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    unsafe {
        if let Some(prev) = PREV_STARTUP {
            prev();
        }
        let init_lock = add_in_shmem_init_lock();
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let base = pg_sys::ShmemInitStruct(NAME.as_ptr(), size(), &mut found);
        let header = base as *mut Header;
        let slots = (base as *mut u8).add(std::mem::size_of::<Header>()) as *mut Request;
        if !found {
            std::ptr::write_bytes(base as *mut u8, 0, size());
            let n = nslots();
            (*header).nwriters = crate::gucs::writers().min(MAX_WRITERS) as u32;
            (*header).nslots = n as u32;
            (*header).queue_head = -1;
            (*header).queue_tail = -1;
            for i in 0..n {
                let slot = &mut *slots.add(i);
                slot.next = if i + 1 < n { (i + 1) as i32 } else { -1 };
                slot.writer = -1;
            }
            (*header).free_head = 0;
            for w in (*header).writers.iter_mut() {
                w.current = AtomicI32::new(-1);
            }
        }
        HEADER.store(header, Ordering::Relaxed);
        SLOTS.store(slots, Ordering::Relaxed);
        LOCK.store(
            &raw mut (*pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr())).lock,
            Ordering::Relaxed,
        );
        pg_sys::LWLockRelease(init_lock);
    }
}

/// AddinShmemInitLock, a macro in C: the individual LWLock number 21 on every supported
/// major (lwlocknames.txt).
unsafe fn add_in_shmem_init_lock() -> *mut pg_sys::LWLock {
    unsafe { &raw mut (*pg_sys::MainLWLockArray.add(21)).lock }
}

/// Whether the shared memory exists in this process (the library was preloaded).
pub fn available() -> bool {
    !header_ptr().is_null()
}

/// The queue, locked exclusively until the guard is dropped. Raising an ERROR while it is
/// held is fine: PostgreSQL releases LWLocks on abort (the guard's drop then skips).
pub struct Locked {
    _private: (),
}

pub fn lock() -> Locked {
    unsafe {
        pg_sys::LWLockAcquire(lock_ptr(), pg_sys::LWLockMode::LW_EXCLUSIVE);
    }
    Locked { _private: () }
}

impl Drop for Locked {
    fn drop(&mut self) {
        unsafe {
            let lock = lock_ptr();
            if pg_sys::LWLockHeldByMe(lock) {
                pg_sys::LWLockRelease(lock);
            }
        }
    }
}

impl Locked {
    pub fn header(&mut self) -> &mut Header {
        unsafe { &mut *header_ptr() }
    }

    pub fn slot(&mut self, index: i32) -> &mut Request {
        unsafe { &mut *slot_ptr(index) }
    }

    pub fn writer(&mut self, index: usize) -> &mut Writer {
        &mut self.header().writers[index]
    }

    pub fn nwriters(&mut self) -> usize {
        self.header().nwriters as usize
    }

    /// A free slot, marked with a new generation; `None` when all are in use.
    pub fn allocate(&mut self) -> Option<i32> {
        let index = self.header().free_head;
        if index < 0 {
            return None;
        }
        let slot = self.slot(index);
        let next = slot.next;
        let generation = slot.generation + 1;
        // SAFETY: the slot is plain data; zero is a valid value for every field.
        unsafe { std::ptr::write_bytes(slot as *mut Request as *mut u8, 0, INLINE_OFFSET) };
        slot.generation = generation;
        slot.next = -1;
        slot.writer = -1;
        self.header().free_head = next;
        Some(index)
    }

    /// Returns a slot to the free list; the dsm handles it still holds are returned, to be
    /// unpinned once the lock is released.
    pub fn release(&mut self, index: i32) -> [u32; 2] {
        let free_head = self.header().free_head;
        let slot = self.slot(index);
        let handles = [slot.payload_dsm, slot.error_dsm];
        slot.payload_dsm = 0;
        slot.error_dsm = 0;
        slot.state.store(FREE, Ordering::Release);
        slot.next = free_head;
        self.header().free_head = index;
        handles
    }

    /// Appends a slot to the queue.
    pub fn enqueue(&mut self, index: i32) {
        self.slot(index).next = -1;
        self.slot(index).state.store(QUEUED, Ordering::Release);
        let tail = self.header().queue_tail;
        if tail < 0 {
            self.header().queue_head = index;
        } else {
            self.slot(tail).next = index;
        }
        self.header().queue_tail = index;
    }

    /// Puts slots back at the head of the queue, in the given order.
    pub fn requeue_front(&mut self, indexes: &[i32]) {
        for &index in indexes.iter().rev() {
            let head = self.header().queue_head;
            let slot = self.slot(index);
            slot.next = head;
            slot.writer = -1;
            slot.state.store(QUEUED, Ordering::Release);
            self.header().queue_head = index;
            if head < 0 {
                self.header().queue_tail = index;
            }
        }
    }

    /// Removes a queued slot from the queue; false if it is not there.
    pub fn unlink(&mut self, index: i32) -> bool {
        let mut prev = -1;
        let mut cur = self.header().queue_head;
        while cur >= 0 {
            let next = self.slot(cur).next;
            if cur == index {
                if prev < 0 {
                    self.header().queue_head = next;
                } else {
                    self.slot(prev).next = next;
                }
                if self.header().queue_tail == index {
                    self.header().queue_tail = prev;
                }
                self.slot(index).next = -1;
                return true;
            }
            prev = cur;
            cur = next;
        }
        false
    }

    /// The queued slots, oldest first.
    pub fn queued(&mut self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut cur = self.header().queue_head;
        while cur >= 0 {
            out.push(cur);
            cur = self.slot(cur).next;
        }
        out
    }

    /// Pids with a request taken by a writer other than `me` (their later requests must
    /// wait until it is committed, to keep each session's order).
    pub fn in_flight_elsewhere(&mut self, me: i32) -> Vec<i32> {
        let n = self.header().nslots as i32;
        let mut pids = Vec::new();
        for i in 0..n {
            let slot = self.slot(i);
            if slot.state.load(Ordering::Relaxed) == TAKEN && slot.writer != me {
                pids.push(slot.caller_pid);
            }
        }
        pids
    }
}

/// Offset of `inline` in a request: everything before it is reset on allocation.
const INLINE_OFFSET: usize = std::mem::offset_of!(Request, inline);

/// Unpins dsm segments a released slot still held (outside the lock).
pub fn unpin(handles: [u32; 2]) {
    for h in handles {
        if h != 0 {
            unsafe { pg_sys::dsm_unpin_segment(h) };
        }
    }
}

/// Sleeps on this process's latch until it is set or `timeout` passes (the process ends
/// if the postmaster dies), and resets it.
pub fn wait_own_latch(timeout: std::time::Duration) {
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            timeout.as_millis() as _,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
}

/// Wakes a process through its latch (null: nobody to wake).
pub fn wake(latch: *mut pg_sys::Latch) {
    if !latch.is_null() {
        unsafe { pg_sys::SetLatch(latch) };
    }
}

/// Whether a request's caller withdrew, read without the lock (it only ever turns true
/// while a writer holds the request).
pub fn peek_orphan(index: i32) -> bool {
    unsafe { std::ptr::read_volatile(&raw const (*slot_ptr(index)).orphan) }
}

/// The writer's "request being executed" marker, read by callers without the lock.
pub fn writer_current(me: usize) -> &'static AtomicI32 {
    unsafe { &(*header_ptr()).writers[me].current }
}

/// Reads a request's state without the lock.
pub fn peek_state(index: i32) -> u32 {
    unsafe { (*slot_ptr(index)).state.load(Ordering::Acquire) }
}

/// Stores `bytes` for another process: in `inline` when they fit, else in a pinned dsm
/// segment whose handle is returned (0 when inline).
pub fn store_bytes(inline: &mut [u8; INLINE], bytes: &[u8]) -> u32 {
    if bytes.len() <= INLINE {
        inline[..bytes.len()].copy_from_slice(bytes);
        return 0;
    }
    unsafe {
        let seg = pg_sys::dsm_create(bytes.len(), 0);
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            pg_sys::dsm_segment_address(seg) as *mut u8,
            bytes.len(),
        );
        pg_sys::dsm_pin_segment(seg);
        let handle = pg_sys::dsm_segment_handle(seg);
        pg_sys::dsm_detach(seg);
        handle
    }
}

/// Reads what `store_bytes` stored; a dsm segment is read, and left pinned (the slot's
/// release unpins it).
pub fn load_bytes(inline: &[u8; INLINE], len: u32, handle: u32) -> Vec<u8> {
    let len = len as usize;
    if handle == 0 {
        return inline[..len.min(INLINE)].to_vec();
    }
    unsafe {
        let seg = pg_sys::dsm_attach(handle);
        if seg.is_null() {
            return Vec::new();
        }
        let mut out = vec![0u8; len];
        std::ptr::copy_nonoverlapping(
            pg_sys::dsm_segment_address(seg) as *const u8,
            out.as_mut_ptr(),
            len,
        );
        pg_sys::dsm_detach(seg);
        out
    }
}
