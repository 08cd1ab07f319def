//! Where queue rows come from: a queue file on the tracker's own host ([`local`]) or one on
//! a source host read over SSH ([`ssh`]). Both hand out the same [`Window`] of rows and
//! honour the same guarded acknowledgement, so the ingest loop does not care which it has.
//!
//! Sources are blocking (rusqlite, libssh2); the daemon runs them on tokio's blocking pool.

mod local;
mod ssh;

pub use crate::queue::Window;
pub use local::LocalSource;
pub use ssh::SshQueue;

use crate::config::{Global, Source, Transport};
use crate::queue::{QueueError, QueueRow};

/// A queue the tracker can read and acknowledge.
pub trait QueueSource: Send {
    /// The lowest id in the queue and up to `limit` rows with an id of at least `from`
    /// (every row when `None`), in id order, from one consistent snapshot.
    fn read_window(&mut self, from: Option<i64>, limit: u64) -> Result<Window, SourceError>;

    /// Deletes every row with an id up to `last.id`, provided the row with that id still
    /// has `last`'s content (else the queue was emptied and refilled since it was read, and
    /// nothing is deleted). Returns whether it deleted.
    fn ack_through(&mut self, last: &QueueRow) -> Result<bool, SourceError>;
}

/// Why a source could not be read or acknowledged. Each names the source's file or host.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("{host}:{port}: cannot connect: {message}")]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error("{host}: host key not accepted: {message}")]
    HostKey { host: String, message: String },
    #[error("{host}: authentication as `{user}` failed: {message}")]
    Auth {
        host: String,
        user: String,
        message: String,
    },
    #[error("{host}: timed out after {seconds} s ({during})")]
    Timeout {
        host: String,
        seconds: u64,
        during: String,
    },
    #[error("{host}: `{command}` failed (exit status {status}): {stderr}")]
    Remote {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },
    #[error("{host}: unexpected output from the queue reader: {message}")]
    Protocol { host: String, message: String },
    /// The queue file on a source host is missing, unreadable or not a job queue (or its
    /// configured path cannot be passed on at all).
    #[error("{host}: queue file {path}: {problem}")]
    RemoteQueue {
        host: String,
        path: String,
        problem: String,
    },
    #[error("{host}: SSH: {message}")]
    Ssh { host: String, message: String },
}

/// The reader of a configured source. Opening connects nothing; the first read does.
pub fn open(source: &Source, global: &Global) -> Box<dyn QueueSource> {
    match &source.transport {
        Transport::Local { queue } => Box::new(LocalSource::new(queue.clone())),
        Transport::Ssh(ssh) => Box::new(SshQueue::new(ssh.clone(), global.source_timeout)),
    }
}
