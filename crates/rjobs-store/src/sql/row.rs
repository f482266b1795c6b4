//! Uniform column access for both backends' rows, so record decoding is written once.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::StoreError;

/// Typed column getters shared by SQLite and PostgreSQL rows.
pub(crate) trait RowExt {
    fn text(&self, col: &str) -> Result<String, StoreError>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, col: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn text(&self, col: &str) -> Result<String, StoreError> {
                self.try_get::<String, _>(col).map_err(StoreError::from)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
                self.try_get::<Option<String>, _>(col)
                    .map_err(StoreError::from)
            }
            fn int(&self, col: &str) -> Result<i64, StoreError> {
                self.try_get::<i64, _>(col).map_err(StoreError::from)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
                self.try_get::<Option<i64>, _>(col)
                    .map_err(StoreError::from)
            }
        }
    };
}
impl_row_ext!(SqliteRow);
impl_row_ext!(PgRow);

/// The SQLite writer's direct connection (see `direct.rs`).
impl RowExt for rusqlite::Row<'_> {
    fn text(&self, col: &str) -> Result<String, StoreError> {
        Ok(self.get::<_, String>(col)?)
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get::<_, Option<String>>(col)?)
    }
    fn int(&self, col: &str) -> Result<i64, StoreError> {
        Ok(self.get::<_, i64>(col)?)
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.get::<_, Option<i64>>(col)?)
    }
}

/// Decodes a stored 24-hex id.
pub(crate) fn id(r: &impl RowExt, col: &str) -> Result<rjobs_core::Id, StoreError> {
    let s = r.text(col)?;
    rjobs_core::Id::parse(&s).map_err(|_| StoreError::Corrupt(format!("{col}: bad id {s:?}")))
}

/// Decodes a stored millisecond timestamp.
pub(crate) fn ts(r: &impl RowExt, col: &str) -> Result<rjobs_core::Timestamp, StoreError> {
    r.int(col).map(rjobs_core::Timestamp::from_millis)
}

/// Decodes a stored count (never negative).
pub(crate) fn count(r: &impl RowExt, col: &str) -> Result<u64, StoreError> {
    let n = r.int(col)?;
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{col}: {n}")))
}

/// Decodes an execution's counters (`n_succeeded` … `n_remaining`, on the execution's row or a
/// copy of them, as an outbox event keeps).
pub(crate) fn summary(r: &impl RowExt) -> Result<rjobs_core::engine::Summary, StoreError> {
    Ok(rjobs_core::engine::Summary {
        succeeded: count(r, "n_succeeded")?,
        failed: count(r, "n_failed")?,
        timed_out: count(r, "n_timed_out")?,
        in_progress: count(r, "n_in_progress")?,
        remaining: count(r, "n_remaining")?,
    })
}
