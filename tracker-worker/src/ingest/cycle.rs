//! One poll of one source: take the lease, read a window, decide where the new rows start,
//! store them with their runs and steps and the new cursor in one transaction, then (if so
//! configured) delete them on the source. Repeats while full windows come back.
//!
//! Whatever dies when, nothing is lost or stored twice: the cursor moves only with the
//! rows it covers, rows are deleted only after that commit and only if the cursor row is
//! still the same message, and a read of rows that another tracker stored meanwhile fails
//! its commit and is read again.

use super::cursor::{decide, Cursor, Decision};
use super::message::{self, Message, Tally};
use super::runs::{self, Keywords, OpenRun, RunRef};
use crate::config::Source;
use crate::queue::{QueueRow, Window};
use crate::source::{self, QueueSource, SourceError};
use crate::store::{Batch, Lease, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every source's poll shares.
pub struct Settings {
    /// This tracker's lease owner id (host, pid and a random part).
    pub owner: String,
    pub keywords: Keywords,
    pub batch_size: u64,
    pub lease_ttl: Duration,
    /// How many sources are configured (the live trackers share them).
    pub sources: usize,
    /// Set on SIGTERM: finish the batch being stored, start no new one.
    pub stop: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reader task failed: {0}")]
    Task(String),
}

/// What a poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Polled {
    /// Whether this tracker held the source's lease (else another tracker reads it).
    pub leased: bool,
    /// Whether this tracker gave the lease up to balance the sources between the trackers.
    pub gave_up: bool,
    pub stored: u64,
    pub rejected: u64,
    pub batches: u64,
    /// Set when the queue's ids started again and it was read from its start.
    pub restarted: Option<String>,
}

type Reader = Arc<Mutex<Box<dyn QueueSource>>>;
/// Work on the source running on tokio's blocking pool.
type Task<T> = tokio::task::JoinHandle<Result<T, SourceError>>;
/// A window read ahead, with its rows parsed.
type Parsed = (Window, Vec<Message>);
/// The read ahead: where it starts, and the task reading and parsing it.
type Prefetch = (Option<i64>, Task<Parsed>);

/// The window a batch is made of, resolved against the cursor.
struct Resolved {
    /// The generation its rows belong to.
    generation: i64,
    /// The rows after the cursor, in queue order.
    rows: Vec<QueueRow>,
    /// Their messages, when the read ahead parsed them already.
    messages: Option<Vec<Message>>,
    /// The cursor's own row, when it is still in the queue.
    confirmed: Option<QueueRow>,
}

/// A configured source with its reader (and its open SSH session) and what it knows of the
/// jobs' open runs, kept across polls.
pub struct SourceWorker {
    pub config: Source,
    reader: Reader,
    /// The open run of each job seen, as committed.
    open: HashMap<String, Option<OpenRun>>,
    /// The cursor after this worker's last commit; a different one at the next lease means
    /// someone else wrote meanwhile and `open` is stale.
    seen: Option<Cursor>,
    /// The delete of the last stored batch on the source (its last row's id), running while
    /// the next batch is stored.
    acking: Option<(i64, Task<bool>)>,
    /// Whether the last lease attempt left the source with this tracker.
    held: bool,
    /// The oldest message of a window read but not stored yet (known when it has a time).
    unread_since: Option<DateTime<Utc>>,
    /// Whether the last poll read the source to its end.
    caught_up: bool,
    /// Age of the oldest unread message after the last poll, where known.
    lag: Option<Duration>,
}

impl SourceWorker {
    pub fn new(config: Source, global: &crate::config::Global) -> Self {
        let reader = source::open(&config, global);
        SourceWorker {
            config,
            reader: Arc::new(Mutex::new(reader)),
            open: HashMap::new(),
            seen: None,
            acking: None,
            held: false,
            unread_since: None,
            caught_up: false,
            lag: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether this tracker holds the source's lease (as of its last poll).
    pub fn held(&self) -> bool {
        self.held
    }

    /// After the last poll: 0 if it read the source to its end, else the age of the oldest
    /// message read and not stored; `None` when unknown (not read, or held by another
    /// tracker).
    pub fn lag(&self) -> Option<Duration> {
        self.lag
    }

    /// Polls the source until it has nothing new (or `stop` is set).
    pub async fn poll(&mut self, store: &mut Store, s: &Settings) -> Result<Polled, CycleError> {
        let mut polled = Polled::default();
        self.unread_since = None;
        self.caught_up = false;
        let mut result = self.poll_inner(store, s, &mut polled).await;
        let now = Utc::now();
        self.lag = if self.caught_up {
            Some(Duration::ZERO)
        } else {
            self.unread_since
                .map(|t| (now - t).to_std().unwrap_or_default())
        };
        // The poll is over when its last delete is.
        let acked = self.finish_ack().await;
        if result.is_ok() {
            result = acked;
        }
        if result.is_err() {
            // What we knew may be half-way through a failed transaction.
            self.open.clear();
            self.seen = None;
        }
        result.map(|()| polled)
    }

    /// The poll's loop: lease, resolve the window, plan, store, acknowledge, until the
    /// source has nothing new.
    async fn poll_inner(
        &mut self,
        store: &mut Store,
        s: &Settings,
        polled: &mut Polled,
    ) -> Result<(), CycleError> {
        let name = self.config.name.clone();
        // The next window, read and parsed while the batch before it is stored.
        let mut prefetch: Option<Prefetch> = None;
        loop {
            let lease = store.lease(&name, &s.owner, s.lease_ttl, s.sources).await;
            let cursor = match lease {
                Ok(Lease::Held(cursor)) => cursor,
                Ok(other) => {
                    self.held = false;
                    polled.gave_up = other == Lease::GivenUp;
                    return Ok(());
                }
                // Whether the lease still runs is unknown: `held` stays as it was, so the
                // outputs keep reporting this source's jobs (as UNKNOWN, when PostgreSQL is
                // gone) rather than dropping them.
                Err(e) => return Err(e.into()),
            };
            self.held = true;
            polled.leased = true;
            if self.seen != Some(cursor) {
                self.open.clear();
            }
            let limit = s.batch_size;
            let w = self
                .resolve_window(&cursor, prefetch.take(), limit, polled)
                .await?;
            if w.rows.is_empty() {
                if let (true, Some(row)) = (self.config.delete_after_commit, w.confirmed) {
                    // Stored before, but not yet deleted (a crash between commit and delete).
                    self.start_ack(row).await?;
                }
                store.read_ok(&name).await?;
                self.caught_up = true;
                return Ok(());
            }
            let full = w.rows.len() as u64 >= limit;
            let messages: Vec<Message> = w
                .messages
                .unwrap_or_else(|| w.rows.iter().map(message::parse).collect());
            self.unread_since = messages.iter().filter_map(|m| m.queued_at).min();
            self.load_open_runs(store, &messages).await?;
            let plan = runs::plan(&name, &messages, &s.keywords, &self.open);
            if full && !s.stop.load(Ordering::SeqCst) {
                prefetch = Some(self.read_ahead(&messages, limit));
            }
            let batch = Batch {
                source: &name,
                expected: cursor,
                generation: w.generation,
                messages: &messages,
                plan: &plan,
            };
            let new_ids = store.commit(&batch).await?;
            self.unread_since = None;
            self.committed(plan, &new_ids, w.generation, &messages, polled);
            if self.config.delete_after_commit {
                if let Some(row) = w.rows.into_iter().last() {
                    // Runs while the next batch is stored.
                    self.start_ack(row).await?;
                }
            }
            if !full {
                self.caught_up = true;
                return Ok(());
            }
            if s.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }

    /// Resolves the window to store from the cursor: the read ahead if it starts where the
    /// cursor stands, else a fresh read; the rows after the cursor's own row (kept aside as
    /// `confirmed`, to acknowledge through), or the queue from its start as the next
    /// generation if its ids started again.
    async fn resolve_window(
        &mut self,
        cursor: &Cursor,
        prefetch: Option<Prefetch>,
        limit: u64,
        polled: &mut Polled,
    ) -> Result<Resolved, CycleError> {
        let from = cursor.read_from();
        let (window, parsed) = match prefetch {
            // Read after the rows of the last commit, which the cursor still ends with.
            Some((start, task)) if start == from => {
                let (window, parsed) = joined(task).await?;
                (window, Some(parsed))
            }
            // Someone else stored meanwhile: that read is of no use.
            _ => {
                let window = self
                    .blocking(move |r| r.read_window(from, limit + 1))
                    .await?;
                (window, None)
            }
        };
        // Where the new rows start in the window, and whether the cursor's row is there.
        let decision = match decide(cursor, &window) {
            Decision::Continue { new, confirmed } => {
                Ok((window.rows.len() - new.len(), confirmed.is_some()))
            }
            Decision::Restarted { reason } => Err(reason),
        };
        match decision {
            Ok((skip, has_confirmed)) => {
                let mut rows = window.rows;
                let new = rows.split_off(skip);
                Ok(Resolved {
                    generation: cursor.generation,
                    confirmed: if has_confirmed { rows.pop() } else { None },
                    rows: new,
                    messages: parsed.map(|mut p| p.split_off(skip)),
                })
            }
            Err(reason) => {
                let name = &self.config.name;
                if self.config.delete_after_commit {
                    tracing::debug!(source = %name, %reason, "queue ids started again; reading it from its start");
                } else {
                    tracing::warn!(source = %name, %reason, "queue was recreated; reading it from its start");
                }
                polled.restarted = Some(reason);
                let restart_window = self.blocking(move |r| r.read_window(None, limit)).await?;
                Ok(Resolved {
                    generation: cursor.generation + 1,
                    rows: restart_window.rows,
                    messages: None,
                    confirmed: None,
                })
            }
        }
    }

    /// Starts reading the next window while PostgreSQL stores this one. It starts at this
    /// batch's last row, where the cursor will be once this commits; if the commit fails the
    /// read is dropped with the rest of the poll.
    fn read_ahead(&self, messages: &[Message], limit: u64) -> Prefetch {
        let next = messages.last().map(|m| m.queue_id);
        let task = self.spawn(move |r| {
            let window = r.read_window(next, limit + 1)?;
            let parsed = window.rows.iter().map(message::parse).collect();
            Ok((window, parsed))
        });
        (next, task)
    }

    /// Takes in what a commit made true: the jobs' open runs with their new job ids, the
    /// cursor this worker wrote, the poll's figures, and a warning per rejected message.
    fn committed(
        &mut self,
        plan: runs::Plan,
        new_ids: &[i64],
        generation: i64,
        messages: &[Message],
        polled: &mut Polled,
    ) {
        for (job, state) in plan.open_after {
            let committed = state.map(|o| OpenRun {
                run: match o.run {
                    RunRef::New(i) => RunRef::Existing(new_ids[i]),
                    existing => existing,
                },
                errors: o.errors,
            });
            self.open.insert(job, committed);
        }
        let last = messages.last().map(|m| (m.queue_id, m.fingerprint));
        self.seen = Some(Cursor { generation, last });
        let tally = Tally::of(messages);
        polled.rejected += tally.rejected;
        polled.stored += tally.stored;
        polled.batches += 1;
        let name = &self.config.name;
        for m in messages.iter().filter(|m| m.reject_reason.is_some()) {
            tracing::warn!(source = %name, queue_id = m.queue_id, reason = m.reject_reason.as_deref().unwrap_or(""), "message rejected (stored aside, not applied)");
        }
    }

    /// Starts deleting the source's rows through `row` (stored already), after the delete
    /// before it has finished.
    async fn start_ack(&mut self, row: QueueRow) -> Result<(), CycleError> {
        self.finish_ack().await?;
        let id = row.id;
        let task = self.spawn(move |r| r.ack_through(&row));
        self.acking = Some((id, task));
        Ok(())
    }

    /// Waits for the delete started last, if any. A delete that found the queue changed is
    /// only logged: the rows are seen, checked against the cursor and deleted again next time.
    async fn finish_ack(&mut self) -> Result<(), CycleError> {
        let Some((id, task)) = self.acking.take() else {
            return Ok(());
        };
        if !joined(task).await? {
            tracing::info!(source = %self.config.name, id, "not deleted: the queue changed since it was read");
        }
        Ok(())
    }

    /// Fills `open` for every job of `messages` it does not know yet.
    async fn load_open_runs(
        &mut self,
        store: &Store,
        messages: &[Message],
    ) -> Result<(), StoreError> {
        let mut missing: Vec<String> = messages
            .iter()
            .filter_map(Message::job_name)
            .filter(|n| !self.open.contains_key(n))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        let found = store.open_runs(&self.config.name, &missing).await?;
        for name in missing {
            let run = found.get(&name).copied();
            self.open.insert(name, run);
        }
        Ok(())
    }

    /// Runs `f` on the reader on tokio's blocking pool and waits for it.
    async fn blocking<T, F>(&self, f: F) -> Result<T, CycleError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn QueueSource) -> Result<T, SourceError> + Send + 'static,
    {
        joined(self.spawn(f)).await
    }

    /// Starts `f` on the reader on tokio's blocking pool. Work on one source runs one at a
    /// time, in the order it gets the reader.
    fn spawn<T, F>(&self, f: F) -> Task<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn QueueSource) -> Result<T, SourceError> + Send + 'static,
    {
        let reader = Arc::clone(&self.reader);
        tokio::task::spawn_blocking(move || {
            let mut guard = reader.lock().unwrap_or_else(|p| p.into_inner());
            f(guard.as_mut())
        })
    }
}

/// The result of work started with [`SourceWorker::spawn`].
async fn joined<T>(task: Task<T>) -> Result<T, CycleError> {
    match task.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(CycleError::Task(e.to_string())),
    }
}
