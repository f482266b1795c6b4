//! Planner statistics after bulk loads (PostgreSQL). A table loaded by the bulk endpoints can
//! grow from nothing to a million rows within a minute, before autovacuum's next pass: until
//! then the planner believes it is empty and picks plans that sort every match, and the
//! visibility map is unset, so every "index-only" scan still visits the heap (a 1%-tag count
//! at a million devices: 270 ms fresh, 80–90 ms after `VACUUM (ANALYZE)`; its page: 3–7 ms
//! once analyzed). So the store counts the rows it bulk-inserts per table and runs `VACUUM
//! (ANALYZE)` on a table once they reach half its size at the last analysis (and at least
//! 10,000): about log₂(growth) runs over a load. VACUUM takes no lock that blocks reads or
//! writes. SQLite's planner has no statistics unless asked; nothing to do there.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Pools, SqlStore};
use crate::StoreError;

/// Rows bulk-inserted since a table's last analysis, by table.
#[derive(Debug, Default)]
pub(crate) struct BulkStats(Mutex<HashMap<&'static str, u64>>);

/// Fewest new rows worth an analysis.
const MIN_ROWS: u64 = 10_000;

/// Whether `added` rows since the last analysis of a table estimated at `reltuples` rows
/// (negative: never analyzed) call for a new one.
pub(crate) fn stale(added: u64, reltuples: f64) -> bool {
    added >= MIN_ROWS && (reltuples < 0.0 || added as f64 * 2.0 >= reltuples)
}

impl SqlStore {
    /// Notes `rows` bulk-inserted into each of `tables`, analyzing those whose statistics are
    /// now stale (PostgreSQL). A failed analysis is logged, never the caller's error.
    pub(crate) async fn after_bulk(&self, tables: &[&'static str], rows: u64) {
        let Pools::Postgres(pool) = &self.pools else {
            return;
        };
        for t in tables {
            let added = {
                let mut m = self.stats.0.lock().unwrap_or_else(|e| e.into_inner());
                let n = m.entry(t).or_default();
                *n += rows;
                *n
            };
            if added < MIN_ROWS {
                continue;
            }
            let r: Result<(), StoreError> = async {
                let reltuples: f32 =
                    sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = $1")
                        .bind(*t)
                        .fetch_one(pool)
                        .await?;
                if stale(added, f64::from(reltuples)) {
                    // `t` is one of the store's own table names, never input.
                    sqlx::query(&format!("VACUUM (ANALYZE) {t}"))
                        .execute(pool)
                        .await?;
                    let mut m = self.stats.0.lock().unwrap_or_else(|e| e.into_inner());
                    m.insert(t, 0);
                }
                Ok(())
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(table = t, error = %e, "VACUUM (ANALYZE) after a bulk load failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stale;

    #[test]
    fn table() {
        for (added, reltuples, want) in [
            (9_999, -1.0, false),
            (10_000, -1.0, true),
            (10_000, 0.0, true),
            (10_000, 20_000.0, true),
            (10_000, 20_001.0, false),
            (500_000, 1_000_000.0, true),
            (499_999, 1_000_000.0, false),
        ] {
            assert_eq!(stale(added, reltuples), want, "{added} {reltuples}");
        }
    }
}
