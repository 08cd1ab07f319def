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

    /// Runs `f` on the open queue, then gives back the pages it read (the file stays open
    /// between polls, and a daemon reads many); an error closes it so the next call reopens
    /// the file.
    fn with_queue<T>(
        &mut self,
        f: impl FnOnce(&mut Queue) -> Result<T, crate::queue::QueueError>,
    ) -> Result<T, SourceError> {
        let queue = match &mut self.queue {
            Some(q) => q,
            None => self.queue.insert(Queue::open(&self.path)?),
        };
        let result = f(queue).and_then(|v| queue.release_memory().map(|()| v));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::NewMessage;

    #[test]
    fn a_read_window_leaves_no_page_cache_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.sqlite");
        let msgs: Vec<NewMessage> = (0..20_000)
            .map(|i| NewMessage {
                instance: Some("P".into()),
                job: Some(format!("job_{}", i % 10)),
                event: Some("STEP".into()),
                message: Some(format!("message number {i} with some text")),
            })
            .collect();
        Queue::open_or_create(&path)
            .unwrap()
            .add_all(&msgs)
            .unwrap();

        // What SQLite keeps without the release: the pages of the window.
        let mut plain = Queue::open(&path).unwrap();
        assert_eq!(plain.read_window(None, 20_001).unwrap().rows.len(), 20_000);
        let kept = plain.cache_bytes();
        assert!(kept > 1_000_000, "a plain read keeps {kept} bytes");

        let mut source = LocalSource::new(path.clone());
        assert_eq!(source.read_window(None, 20_001).unwrap().rows.len(), 20_000);
        let left = source.queue.as_ref().unwrap().cache_bytes();
        assert!(
            left < kept / 10,
            "{left} bytes left after the read, {kept} without the release"
        );
    }
}
