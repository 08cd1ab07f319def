//! The one place where a logging call chooses its path: the shared writers when the
//! library was preloaded (writer/), else this session's background connection
//! (background/). Both give the same reply: a row count and the first row's values.

use crate::background::{self, Query};
use crate::error::Result;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// An argument of a logging statement.
pub enum Param<'a> {
    Int4(i32),
    Int8(i64),
    Text(Option<&'a str>),
}

/// What a logging statement returned: its row count and the first two columns of its
/// first row (booleans as 0 and 1).
pub struct Reply {
    pub rows: u64,
    pub cols: [Option<i64>; 2],
}

impl Reply {
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The single value of the single row a RETURNING statement gave, if any.
    pub fn returned(&self) -> Option<i64> {
        if self.is_empty() {
            None
        } else {
            self.cols[0]
        }
    }

    pub fn first_bool(&self, col: usize) -> bool {
        !self.is_empty() && self.cols[col] == Some(1)
    }
}

/// Runs one logging statement as the caller's current_user; its effects are committed
/// when this returns Ok (with jobmon.wait_for_commit off in the shared mode: queued).
pub fn run(query: Query, params: &[Param]) -> Result<Reply> {
    if crate::writer::active() {
        return crate::writer::run(query, params);
    }
    let values: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| match p {
            Param::Int4(i) => i as &(dyn ToSql + Sync),
            Param::Int8(i) => i as &(dyn ToSql + Sync),
            Param::Text(s) => s as &(dyn ToSql + Sync),
        })
        .collect();
    let rows = background::run(query, &values)?;
    Ok(from_rows(query, &rows))
}

fn from_rows(query: Query, rows: &[Row]) -> Reply {
    let first = rows.first();
    let col = |i: usize| -> Option<i64> {
        let row = first?;
        if matches!(query, Query::EndJobDiagnose) {
            row.try_get::<_, bool>(i).ok().map(i64::from)
        } else if i == 0 {
            row.try_get::<_, i64>(i).ok()
        } else {
            None
        }
    };
    Reply {
        rows: rows.len() as u64,
        cols: [col(0), col(1)],
    }
}
