//! [`LeaseStore`](crate::LeaseStore) for [`SqlStore`](super::SqlStore): membership rows, lease
//! claims, the fence check, and `LISTEN`/`NOTIFY` on PostgreSQL.
//!
//! A handed-back lease keeps its owner and epoch and gets `expires_at = 0`: it is claimable at
//! once, is not renewed by its former owner's next heartbeat, and the next claim still bumps the
//! epoch (epochs only grow, so a fence can never match an older lease).

use async_trait::async_trait;
use rjobs_core::{Id, Timestamp};
use sqlx::postgres::PgListener;

use super::row::{id, ts, RowExt};
use super::{with_read, with_write, Pools, SqlStore};
use crate::cluster::{ClusterLoad, Lease, NodeRow, Signal, SignalStream, CHANNEL};
use crate::{LeaseStore, StoreError};

/// Checks, inside transaction `$tx`, that `$fence` (an `Option<&Fence>`) still holds the lease
/// of execution `$exec`, locking the lease row until the transaction ends (so a concurrent claim
/// waits for this write, and a claim that committed first makes this write fail). Returns
/// [`StoreError::Fenced`] from the enclosing function otherwise.
macro_rules! check_fence {
    ($tx:expr, $exec:expr, $fence:expr) => {
        if let Some(f) = $fence {
            let n = sqlx::query(
                "UPDATE leases SET epoch = epoch WHERE execution_id = $1 AND owner = $2 AND epoch = $3",
            )
            .bind($exec.as_str())
            .bind(f.owner.as_str())
            .bind(f.epoch)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err($crate::StoreError::Fenced);
            }
        }
    };
}
pub(crate) use check_fence;

/// The statuses whose executions need a lease holder: every one that is not final (a paused
/// execution still takes acknowledgements and times out), as an SQL list.
static ACTIVE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let names: Vec<String> = rjobs_core::engine::ExecutionStatus::ALL
        .into_iter()
        .filter(|s| !s.is_final())
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
});

fn lease_from_row(r: &impl RowExt) -> Result<Lease, StoreError> {
    Ok(Lease {
        execution_id: id(r, "execution_id")?,
        owner: r.text("owner")?,
        epoch: r.int("epoch")?,
        expires_at: ts(r, "expires_at")?,
    })
}

fn node_from_row(r: &impl RowExt) -> Result<NodeRow, StoreError> {
    Ok(NodeRow {
        id: r.text("id")?,
        started_at: ts(r, "started_at")?,
        heartbeat_at: ts(r, "heartbeat_at")?,
        expires_at: ts(r, "expires_at")?,
        dispatched: r.int("dispatched")?,
    })
}

/// Membership rows of nodes gone for longer than this are pruned.
const FORGET_NODES_MS: i64 = 24 * 3600 * 1000;

struct PgSignals(PgListener);

#[async_trait]
impl SignalStream for PgSignals {
    async fn next(&mut self) -> Result<Signal, StoreError> {
        Ok(match self.0.try_recv().await? {
            Some(n) => Signal::decode(n.payload()),
            // The connection dropped and will be re-established: signals may have been missed.
            None => Signal::Everything,
        })
    }
}

#[async_trait]
impl LeaseStore for SqlStore {
    async fn heartbeat(&self, node: &NodeRow) -> Result<Vec<Lease>, StoreError> {
        let exp = node.expires_at.as_millis();
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO nodes (id, started_at, heartbeat_at, expires_at, dispatched)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                     expires_at = excluded.expires_at, dispatched = excluded.dispatched",
            )
            .bind(&node.id)
            .bind(node.started_at.as_millis())
            .bind(node.heartbeat_at.as_millis())
            .bind(exp)
            .bind(node.dispatched)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM nodes WHERE expires_at < $1")
                .bind(node.heartbeat_at.as_millis() - FORGET_NODES_MS)
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query(
                "UPDATE leases SET expires_at = $1 WHERE owner = $2 AND expires_at > 0
                 RETURNING execution_id, owner, epoch, expires_at",
            )
            .bind(exp)
            .bind(&node.id)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows.iter().map(lease_from_row).collect()
        })
    }

    async fn adopt_leases(
        &self,
        node: &str,
        expires_at: Timestamp,
    ) -> Result<Vec<Lease>, StoreError> {
        with_write!(self, pool => {
            let rows = sqlx::query(
                "UPDATE leases SET epoch = epoch + 1, expires_at = $1 WHERE owner = $2 AND expires_at > 0
                 RETURNING execution_id, owner, epoch, expires_at",
            )
            .bind(expires_at.as_millis())
            .bind(node)
            .fetch_all(pool)
            .await?;
            rows.iter().map(lease_from_row).collect()
        })
    }

    async fn cluster_load(&self, node: &str, now: Timestamp) -> Result<ClusterLoad, StoreError> {
        let now = now.as_millis();
        with_read!(self, pool => {
            let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes WHERE expires_at > $1")
                .bind(now)
                .fetch_one(pool)
                .await?;
            let active: i64 = sqlx::query_scalar(&format!(
                "SELECT COUNT(*) FROM executions WHERE status IN {}",
                *ACTIVE
            ))
            .fetch_one(pool)
            .await?;
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(expires_at) FROM leases WHERE owner <> $1 AND expires_at > $2",
            )
            .bind(node)
            .bind(now)
            .fetch_one(pool)
            .await?;
            Ok(ClusterLoad {
                live_nodes: live.max(0) as u64,
                active_executions: active.max(0) as u64,
                next_foreign_expiry: next.map(Timestamp::from_millis),
            })
        })
    }

    async fn claim_leases(
        &self,
        node: &str,
        now: Timestamp,
        expires_at: Timestamp,
        limit: u32,
        steal: bool,
    ) -> Result<Vec<Lease>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Rows another node holds locked (a claim in progress, or an owner inside a dispatch
        // write) are skipped, never waited for: a node frozen mid-transaction must not stall the
        // claimer's loop (and with it the claimer's own heartbeats).
        let skip = match self.pools {
            Pools::Postgres(_) => " SKIP LOCKED",
            Pools::Sqlite { .. } => "",
        };
        let lock_e = if skip.is_empty() {
            ""
        } else {
            " FOR UPDATE OF e"
        };
        let pick = format!(
            "SELECT e.id, l.execution_id IS NOT NULL AS leased
             FROM executions e LEFT JOIN leases l ON l.execution_id = e.id
             WHERE e.status IN {}
                 AND (l.execution_id IS NULL OR l.expires_at <= $1 OR ($3 AND l.owner <> $4))
             ORDER BY e.run_started_at, e.id LIMIT $2{lock_e}{skip}",
            *ACTIVE
        );
        let lock_l = if skip.is_empty() { "" } else { " FOR UPDATE" };
        let take = format!(
            "SELECT epoch FROM leases WHERE execution_id = $1
                 AND (expires_at <= $2 OR ($3 AND owner <> $4)){lock_l}{skip}"
        );
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let picked: Vec<(String, bool)> = sqlx::query_as(&pick)
                .bind(now.as_millis())
                .bind(i64::from(limit))
                .bind(steal)
                .bind(node)
                .fetch_all(&mut *tx)
                .await?;
            let mut claimed = Vec::with_capacity(picked.len());
            for (e, leased) in picked {
                let epoch: Option<i64> = if leased {
                    let held: Option<i64> = sqlx::query_scalar(&take)
                        .bind(&e)
                        .bind(now.as_millis())
                        .bind(steal)
                        .bind(node)
                        .fetch_optional(&mut *tx)
                        .await?;
                    match held {
                        Some(old) => {
                            sqlx::query(
                                "UPDATE leases SET owner = $1, epoch = $2, expires_at = $3
                                 WHERE execution_id = $4",
                            )
                            .bind(node)
                            .bind(old + 1)
                            .bind(expires_at.as_millis())
                            .bind(&e)
                            .execute(&mut *tx)
                            .await?;
                            Some(old + 1)
                        }
                        None => None,
                    }
                } else {
                    sqlx::query_scalar(
                        "INSERT INTO leases (execution_id, owner, epoch, expires_at)
                         VALUES ($1, $2, 1, $3)
                         ON CONFLICT (execution_id) DO NOTHING RETURNING epoch",
                    )
                    .bind(&e)
                    .bind(node)
                    .bind(expires_at.as_millis())
                    .fetch_optional(&mut *tx)
                    .await?
                };
                if let Some(epoch) = epoch {
                    claimed.push(Lease {
                        execution_id: Id::parse(&e)
                            .map_err(|_| StoreError::Corrupt(format!("execution id {e:?}")))?,
                        owner: node.to_string(),
                        epoch,
                        expires_at,
                    });
                }
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    async fn release_leases(
        &self,
        node: &str,
        executions: Option<&[Id]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            match executions {
                Some(ids) => {
                    for e in ids {
                        sqlx::query(
                            "UPDATE leases SET expires_at = 0 WHERE owner = $1 AND execution_id = $2",
                        )
                        .bind(node)
                        .bind(e.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                None => {
                    sqlx::query("UPDATE leases SET expires_at = 0 WHERE owner = $1")
                        .bind(node)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE nodes SET expires_at = $1 WHERE id = $2")
                        .bind(now.as_millis())
                        .bind(node)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn cluster_view(&self) -> Result<(Vec<NodeRow>, Vec<Lease>), StoreError> {
        with_read!(self, pool => {
            let nodes = sqlx::query("SELECT * FROM nodes ORDER BY started_at, id")
                .fetch_all(pool)
                .await?;
            let leases = sqlx::query("SELECT * FROM leases ORDER BY execution_id")
                .fetch_all(pool)
                .await?;
            Ok((
                nodes.iter().map(node_from_row).collect::<Result<_, _>>()?,
                leases.iter().map(lease_from_row).collect::<Result<_, _>>()?,
            ))
        })
    }

    async fn signal(&self, s: &Signal) -> Result<(), StoreError> {
        if let Pools::Postgres(pool) = &self.pools {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(s.encode())
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    async fn listen(&self) -> Result<Option<Box<dyn SignalStream>>, StoreError> {
        match &self.pools {
            Pools::Postgres(pool) => {
                let mut l = PgListener::connect_with(pool).await?;
                l.listen(CHANNEL).await?;
                Ok(Some(Box::new(PgSignals(l))))
            }
            Pools::Sqlite { .. } => Ok(None),
        }
    }
}
