//! A queue file on a source host, read over SSH (placeholder until the SSH reader lands).

use super::{QueueSource, SourceError, Window};
use crate::config::SshSource;
use crate::queue::QueueRow;
use std::time::Duration;

pub struct SshQueue {
    config: SshSource,
    timeout: Duration,
}

impl SshQueue {
    pub fn new(config: SshSource, timeout: Duration) -> Self {
        SshQueue { config, timeout }
    }
}

impl QueueSource for SshQueue {
    fn read_window(&mut self, _from: Option<i64>, _limit: u64) -> Result<Window, SourceError> {
        Err(SourceError::Ssh {
            host: self.config.address.clone(),
            message: format!("not implemented yet (timeout {:?})", self.timeout),
        })
    }

    fn ack_through(&mut self, _last: &QueueRow) -> Result<bool, SourceError> {
        Err(SourceError::Ssh {
            host: self.config.address.clone(),
            message: "not implemented yet".into(),
        })
    }
}
