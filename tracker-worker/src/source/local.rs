//! A queue file on the tracker's own host, read with rusqlite. The file is opened on first
//! use and again after any error, so a file that appears later or is replaced is picked up.

use super::{QueueSource, SourceError, Window};
use crate::queue::{Queue, QueueRow};
use std::path::PathBuf;

pub struct LocalSource {
    path: PathBuf,
    queue: Option<Queue>,
}

impl LocalSource {
    pub fn new(path: PathBuf) -> Self {
        LocalSource { path, queue: None }
    }

    /// Runs `f` on the open queue; an error closes it so the next call reopens the file.
    fn with_queue<T>(
        &mut self,
        f: impl FnOnce(&mut Queue) -> Result<T, crate::queue::QueueError>,
    ) -> Result<T, SourceError> {
        let queue = match &mut self.queue {
            Some(q) => q,
            None => self.queue.insert(Queue::open(&self.path)?),
        };
        let result = f(queue);
        if result.is_err() {
            self.queue = None;
        }
        Ok(result?)
    }
}

impl QueueSource for LocalSource {
    fn read_window(&mut self, from: Option<i64>, limit: u64) -> Result<Window, SourceError> {
        self.with_queue(|q| q.read_window(from, limit))
    }

    fn ack_through(&mut self, last: &QueueRow) -> Result<bool, SourceError> {
        let fingerprint = last.fingerprint();
        self.with_queue(|q| q.ack_through_if(last.id, fingerprint))
            .map(|deleted| deleted.is_some())
    }
}
