//! Where to continue reading a queue, given the stored cursor and what the queue holds now.
//!
//! SQLite gives a new row the highest id + 1, so ids of a `messages` table (no AUTOINCREMENT)
//! start again at 1 once it is emptied, which the tracker itself does when it deletes what it
//! stored, and also when a producer recreates the file. The cursor therefore keeps the last
//! stored row's content fingerprint next to its id, and the queue counts as restarted when
//! - the row with the cursor's id holds something else, or
//! - it is gone while rows with lower ids exist (ids went below the cursor).
//!
//! A restarted queue is read from its start as the next generation. Pure.

use crate::row::{fingerprint, Record, Window};

/// The last stored message of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub generation: i64,
    /// `None`: nothing stored yet in this generation.
    pub last: Option<(i64, u64)>,
}

impl Cursor {
    /// Where the next read starts: at the last id (to see that row again and check it).
    pub fn read_from(&self) -> Option<i64> {
        self.last.map(|(id, _)| id)
    }
}

#[derive(Debug, PartialEq)]
pub enum Decision<'w, R> {
    /// Same queue: `new` are the rows after the cursor; `confirmed` is the cursor's row when
    /// it is still there (the queue may be acknowledged through it).
    Continue {
        new: &'w [R],
        confirmed: Option<&'w R>,
    },
    /// The ids started again: read the queue from its start as generation + 1.
    Restarted { reason: String },
}

/// Decides for a window read from [`Cursor::read_from`].
pub fn decide<'w, R: Record>(cursor: &Cursor, window: &'w Window<R>) -> Decision<'w, R> {
    let Some((last_id, stored)) = cursor.last else {
        return Decision::Continue {
            new: &window.rows,
            confirmed: None,
        };
    };
    match window.rows.first() {
        Some(first) if first.id() == last_id => {
            if fingerprint(first.fields()) == stored {
                Decision::Continue {
                    new: &window.rows[1..],
                    confirmed: Some(first),
                }
            } else {
                Decision::Restarted {
                    reason: format!("the message with id {last_id} is not the one stored last"),
                }
            }
        }
        _ => match window.min_id {
            Some(min) if min < last_id => Decision::Restarted {
                reason: format!("ids start at {min} again, below the last stored id {last_id}"),
            },
            _ => Decision::Continue {
                new: &window.rows,
                confirmed: None,
            },
        },
    }
}
