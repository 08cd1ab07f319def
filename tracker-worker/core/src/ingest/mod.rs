//! The pure ingest planners: what a queue row means ([`message`]), what a batch of messages
//! does to job_log/job_detail ([`runs`]), and where to continue reading a queue ([`cursor`]).
//! The store writes their plans; the poll cycle ties them together.

pub mod cursor;
pub mod message;
pub mod runs;
