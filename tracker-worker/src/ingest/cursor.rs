//! The core's cursor planner ([`tracker_core::ingest::cursor`]) for the queue's own rows and
//! windows; its tests use real [`crate::queue::QueueRow`]s.

pub use tracker_core::ingest::cursor::{decide, Cursor, Decision};

#[cfg(test)]
use crate::queue::{QueueRow, Window};

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
