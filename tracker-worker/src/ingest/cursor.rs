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

use crate::queue::{QueueRow, Window};

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
pub enum Decision<'w> {
    /// Same queue: `new` are the rows after the cursor; `confirmed` is the cursor's row when
    /// it is still there (the queue may be acknowledged through it).
    Continue {
        new: &'w [QueueRow],
        confirmed: Option<&'w QueueRow>,
    },
    /// The ids started again: read the queue from its start as generation + 1.
    Restarted { reason: String },
}

/// Decides for a window read from [`Cursor::read_from`].
pub fn decide<'w>(cursor: &Cursor, window: &'w Window) -> Decision<'w> {
    let Some((last_id, fingerprint)) = cursor.last else {
        return Decision::Continue {
            new: &window.rows,
            confirmed: None,
        };
    };
    match window.rows.first() {
        Some(first) if first.id == last_id => {
            if first.fingerprint() == fingerprint {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::SqlValue;

    fn row(id: i64, ts: f64) -> QueueRow {
        QueueRow {
            id,
            timestamp: SqlValue::Real(ts),
            instance: SqlValue::Text("P".into()),
            job: SqlValue::Text("J".into()),
            event: SqlValue::Text("STARTED".into()),
            message: SqlValue::Null,
        }
    }

    fn window(rows: Vec<QueueRow>, min_id: Option<i64>) -> Window {
        Window { min_id, rows }
    }

    #[test]
    fn a_fresh_cursor_takes_everything() {
        let w = window(vec![row(1, 1.0), row(2, 2.0)], Some(1));
        let c = Cursor {
            generation: 1,
            last: None,
        };
        assert_eq!(c.read_from(), None);
        assert_eq!(
            decide(&c, &w),
            Decision::Continue {
                new: &w.rows[..],
                confirmed: None
            }
        );
    }

    #[test]
    fn the_cursor_row_is_confirmed_and_skipped() {
        let last = row(5, 5.0);
        let c = Cursor {
            generation: 3,
            last: Some((5, last.fingerprint())),
        };
        let w = window(vec![last, row(6, 6.0)], Some(1));
        assert_eq!(
            decide(&c, &w),
            Decision::Continue {
                new: &w.rows[1..],
                confirmed: Some(&w.rows[0])
            }
        );
    }

    #[test]
    fn rows_after_an_acknowledged_cursor_continue() {
        let c = Cursor {
            generation: 3,
            last: Some((5, row(5, 5.0).fingerprint())),
        };
        let w = window(vec![row(6, 6.0)], Some(6));
        assert_eq!(
            decide(&c, &w),
            Decision::Continue {
                new: &w.rows[..],
                confirmed: None
            }
        );
        let empty = window(vec![], None);
        assert_eq!(
            decide(&c, &empty),
            Decision::Continue {
                new: &[],
                confirmed: None
            }
        );
    }

    #[test]
    fn ids_below_the_cursor_or_a_different_cursor_row_mean_a_restart() {
        let c = Cursor {
            generation: 3,
            last: Some((5, row(5, 5.0).fingerprint())),
        };
        // Emptied and refilled with fewer rows than before.
        let w = window(vec![], Some(1));
        assert!(matches!(decide(&c, &w), Decision::Restarted { .. }));
        // Refilled past the old cursor: row 5 is another message.
        let w = window(vec![row(5, 9.0), row(6, 9.5)], Some(1));
        match decide(&c, &w) {
            Decision::Restarted { reason } => assert!(reason.contains("id 5"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }
}
