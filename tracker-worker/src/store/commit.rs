//! Storing one batch: a transaction of named steps, read in order in [`Store::commit`].
//! The cursor is checked and locked first; runs go in before the steps (the steps' foreign
//! key needs them), then the steps, the messages, the ends in message order, and the
//! cursor advances last, so a batch is stored exactly once or not at all.

use super::{cursor_of, Batch, Statements, Store, StoreError, TRACKED_PID};
use chrono::{DateTime, Utc};
use futures_util::pin_mut;
use std::collections::HashMap;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Transaction;
use tracker_core::ingest::message::Tally;
use tracker_core::ingest::runs::{Plan, RunRef};

impl Store {
    /// Stores a batch in one transaction; returns the job ids of the runs it opened, in the
    /// order of `plan.new_runs`.
    pub async fn commit(&mut self, batch: &Batch<'_>) -> Result<Vec<i64>, StoreError> {
        let tx = self.client.transaction().await?;
        let steps = Steps {
            tx: &tx,
            st: &self.st,
            batch,
        };
        steps.lock_cursor().await?;
        let ids = steps.allocate_job_ids().await?;
        let closed = steps.runs_closed_in_batch().await?;
        steps.copy_runs(&ids, &closed).await?;
        steps.add_steps(&ids).await?;
        steps.copy_messages(&ids).await?;
        steps.end_runs(&ids, &closed).await?;
        steps.advance_cursor().await?;
        tx.commit().await?;
        Ok(ids.new)
    }
}

/// The steps of one batch's transaction.
struct Steps<'t, 'c, 'b> {
    tx: &'t Transaction<'c>,
    st: &'t Statements,
    batch: &'t Batch<'b>,
}

/// The job ids of a batch's runs: those in job_log already and those it opens.
struct JobIds {
    /// Allocated for `plan.new_runs`, in that order.
    new: Vec<i64>,
}

impl JobIds {
    fn of(&self, run: RunRef) -> i64 {
        match run {
            RunRef::Existing(id) => id,
            RunRef::New(i) => self.new[i],
        }
    }
}

/// How a run that a batch opens and ends is inserted.
#[derive(Debug, Clone)]
struct Closed {
    at: DateTime<Utc>,
    status: String,
    /// The alert code job_log's trigger would find for `status`.
    code: Option<i32>,
}

impl Steps<'_, '_, '_> {
    fn plan(&self) -> &Plan {
        self.batch.plan
    }

    /// Locks the source's cursor; the batch must have been read from where it stands.
    async fn lock_cursor(&self) -> Result<(), StoreError> {
        let row = self
            .tx
            .query_one(&self.st.lock_cursor, &[&self.batch.source])
            .await?;
        let current = cursor_of(row.get(0), row.get(1), row.get(2));
        if current != self.batch.expected {
            return Err(StoreError::CursorMoved(self.batch.source.to_owned()));
        }
        Ok(())
    }

    /// One job_log id per run the batch opens.
    async fn allocate_job_ids(&self) -> Result<JobIds, StoreError> {
        let runs = &self.plan().new_runs;
        if runs.is_empty() {
            return Ok(JobIds { new: Vec::new() });
        }
        let n = i32::try_from(runs.len()).unwrap_or(i32::MAX);
        let new = self
            .tx
            .query(&self.st.next_job_ids, &[&n])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(JobIds { new })
    }

    /// Runs the batch opens and also ends are inserted ended: no UPDATE for them. Each
    /// gets its end, its status text and the alert code of that text (what job_log's
    /// trigger would look up: the lowest code with that text, none if no code has it).
    async fn runs_closed_in_batch(&self) -> Result<Vec<Option<Closed>>, StoreError> {
        let plan = self.plan();
        let mut closed: Vec<Option<Closed>> = vec![None; plan.new_runs.len()];
        if !plan.ends.iter().any(|e| matches!(e.run, RunRef::New(_))) {
            return Ok(closed);
        }
        let texts: HashMap<i32, String> = self
            .tx
            .query(&self.st.status_texts, &[])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for e in &plan.ends {
            if let RunRef::New(i) = e.run {
                let status = texts
                    .get(&e.code)
                    .cloned()
                    .unwrap_or_else(|| "CRITICAL".to_owned());
                let code = texts
                    .iter()
                    .filter(|(_, text)| **text == status)
                    .map(|(code, _)| *code)
                    .min();
                closed[i] = Some(Closed {
                    at: e.at,
                    status,
                    code,
                });
            }
        }
        Ok(closed)
    }

    /// The runs the batch opens, ended already where the batch ends them.
    async fn copy_runs(&self, ids: &JobIds, closed: &[Option<Closed>]) -> Result<(), StoreError> {
        let plan = self.plan();
        if plan.new_runs.is_empty() {
            return Ok(());
        }
        let sink = self.tx.copy_in(&self.st.copy_runs).await?;
        let w = BinaryCopyInWriter::new(
            sink,
            &[
                Type::INT8,
                Type::TEXT,
                Type::TEXT,
                Type::TIMESTAMPTZ,
                Type::INT4,
                Type::TIMESTAMPTZ,
                Type::TEXT,
            ],
        );
        pin_mut!(w);
        for ((run, id), end) in plan.new_runs.iter().zip(&ids.new).zip(closed) {
            let end_time = end.as_ref().map(|c| c.at);
            let status = end.as_ref().map(|c| c.status.as_str());
            w.as_mut()
                .write(&[
                    id,
                    &self.batch.source,
                    &run.job_name,
                    &run.start,
                    &TRACKED_PID,
                    &end_time,
                    &status,
                ])
                .await?;
        }
        w.finish().await?;
        Ok(())
    }

    /// Every message's job_detail step, written by `_tracker_add_steps`.
    async fn add_steps(&self, ids: &JobIds) -> Result<(), StoreError> {
        let steps = &self.plan().steps;
        if steps.is_empty() {
            return Ok(());
        }
        let run_ids: Vec<i64> = steps.iter().map(|s| ids.of(s.run)).collect();
        let actions: Vec<&str> = steps.iter().map(|s| s.action.as_str()).collect();
        let times: Vec<DateTime<Utc>> = steps.iter().map(|s| s.at).collect();
        let statuses: Vec<&str> = steps.iter().map(|s| s.status.as_str()).collect();
        let messages: Vec<Option<&str>> = steps.iter().map(|s| s.message.as_deref()).collect();
        self.tx
            .execute(
                &self.st.add_steps,
                &[&run_ids, &actions, &times, &statuses, &messages],
            )
            .await?;
        Ok(())
    }

    /// The messages themselves, usable and rejected, each with the run it went to.
    async fn copy_messages(&self, ids: &JobIds) -> Result<(), StoreError> {
        let batch = self.batch;
        let sink = self.tx.copy_in(&self.st.copy_messages).await?;
        let w = BinaryCopyInWriter::new(
            sink,
            &[
                Type::TEXT,
                Type::INT8,
                Type::INT8,
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::TEXT,
                Type::BYTEA,
                Type::TEXT,
                Type::INT8,
            ],
        );
        pin_mut!(w);
        for (m, run) in batch.messages.iter().zip(&self.plan().message_runs) {
            let raw = m.raw.as_deref().map(str::as_bytes);
            let run_id = run.map(|r| ids.of(r));
            let values: [&(dyn ToSql + Sync); 11] = [
                &batch.source,
                &batch.generation,
                &m.queue_id,
                &m.queued_at,
                &m.instance,
                &m.job,
                &m.event,
                &m.message,
                &raw,
                &m.reject_reason,
                &run_id,
            ];
            w.as_mut().write(&values).await?;
        }
        w.finish().await?;
        Ok(())
    }

    /// Ends the runs that were open before the batch, in message order (job_log's failure
    /// counting relies on it), and passes the runs it opened and closed with their alert
    /// codes, in one `_tracker_end_runs` call.
    async fn end_runs(&self, ids: &JobIds, closed: &[Option<Closed>]) -> Result<(), StoreError> {
        let plan = self.plan();
        if plan.ends.is_empty() {
            return Ok(());
        }
        let open_before = plan
            .ends
            .iter()
            .filter(|e| matches!(e.run, RunRef::Existing(_)));
        let run_ids: Vec<i64> = open_before.clone().map(|e| ids.of(e.run)).collect();
        let times: Vec<DateTime<Utc>> = open_before.clone().map(|e| e.at).collect();
        let codes: Vec<i32> = open_before.map(|e| e.code).collect();
        let mut closed_ids: Vec<i64> = Vec::new();
        let mut closed_names: Vec<&str> = Vec::new();
        let mut closed_codes: Vec<Option<i32>> = Vec::new();
        for e in &plan.ends {
            if let RunRef::New(i) = e.run {
                closed_ids.push(ids.new[i]);
                closed_names.push(&plan.new_runs[i].job_name);
                closed_codes.push(closed[i].as_ref().and_then(|c| c.code));
            }
        }
        self.tx
            .execute(
                &self.st.end_runs,
                &[
                    &run_ids,
                    &times,
                    &codes,
                    &closed_ids,
                    &closed_names,
                    &closed_codes,
                ],
            )
            .await?;
        Ok(())
    }

    /// Moves the cursor to the batch's last message and counts what was stored.
    async fn advance_cursor(&self) -> Result<(), StoreError> {
        let batch = self.batch;
        let last = batch.messages.last().map(|m| (m.queue_id, m.fingerprint));
        let (last_id, last_fp) = match last {
            Some((id, fp)) => (Some(id), Some(fp as i64)),
            None => (None, None),
        };
        let tally = Tally::of(batch.messages);
        let (stored, rejected) = (tally.stored as i64, tally.rejected as i64);
        self.tx
            .execute(
                &self.st.advance_cursor,
                &[
                    &batch.source,
                    &batch.generation,
                    &last_id,
                    &last_fp,
                    &stored,
                    &rejected,
                ],
            )
            .await?;
        Ok(())
    }
}
