//! Timer triggers: the timer flows and the forward-only claim of an instant (see
//! [`TimerStore`]). The same statements run on both backends: `ON CONFLICT ... DO UPDATE ...
//! WHERE` is an atomic upsert on PostgreSQL (the conflicting row is locked) and SQLite (one
//! writer), and its row count says who won.

use async_trait::async_trait;
use rjobs_core::Id;

use super::flows::flow_from_row;
use super::row::{id, ts, RowExt};
use super::{with_read, with_write, SqlStore};
use crate::{FlowRecord, StoreError, TimerFire, TimerStore};

fn fire_from_row(r: &impl RowExt) -> Result<TimerFire, StoreError> {
    Ok(TimerFire {
        flow_id: id(r, "flow_id")?,
        trigger_key: r.text("trigger_key")?,
        instant: ts(r, "instant")?,
        node_id: r.text("node_id")?,
        claimed_at: ts(r, "claimed_at")?,
    })
}

#[async_trait]
impl TimerStore for SqlStore {
    async fn timer_flows(&self) -> Result<Vec<FlowRecord>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM flows WHERE enabled = 1 AND id IN (
                     SELECT flow_id FROM flow_triggers WHERE trigger_type = 'timer')
                 ORDER BY id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(flow_from_row).collect()
        })
    }

    async fn timer_fires_of(&self, flow: &Id) -> Result<Vec<TimerFire>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM timer_fires WHERE flow_id = $1 ORDER BY trigger_key",
            )
            .bind(flow.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(fire_from_row).collect()
        })
    }

    async fn claim_timer_instant(&self, f: &TimerFire) -> Result<bool, StoreError> {
        let res = with_write!(self, pool => {
            sqlx::query(
                "INSERT INTO timer_fires (flow_id, trigger_key, instant, node_id, claimed_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (flow_id, trigger_key) DO UPDATE SET
                     instant = excluded.instant,
                     node_id = excluded.node_id,
                     claimed_at = excluded.claimed_at
                 WHERE timer_fires.instant < excluded.instant",
            )
            .bind(f.flow_id.as_str())
            .bind(&f.trigger_key)
            .bind(f.instant.as_millis())
            .bind(&f.node_id)
            .bind(f.claimed_at.as_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match res {
            Ok(n) => Ok(n == 1),
            // The flow was deleted meanwhile: nothing to fire.
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
