//! Workflows: documents, the trigger index, and the run log.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::{Id, Timestamp};

use super::list::{list_sql, Columns};
use super::row::{id, ts, RowExt};
use super::{expect_one, fetch_optional, rows_written, with_read, with_write, SqlStore};
use crate::{BatchStore, FlowRecord, FlowRun, FlowStore, Page, StoreError};

const COLUMNS: Columns = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
];

fn json(r: &impl RowExt, col: &str) -> Result<serde_json::Value, StoreError> {
    let t = r.text(col)?;
    serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(super) fn flow_from_row(r: &impl RowExt) -> Result<FlowRecord, StoreError> {
    let body = json(r, "body")?;
    let triggers = body
        .get("triggers")
        .and_then(|t| t.as_array())
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    let s = |k: &str| t.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    (s("type"), s("key"))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(FlowRecord {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        enabled: r.int("enabled")? != 0,
        body,
        triggers,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
        version: r.int("version")?,
    })
}

fn run_from_row(r: &impl RowExt) -> Result<FlowRun, StoreError> {
    Ok(FlowRun {
        id: id(r, "id")?,
        flow_id: id(r, "flow_id")?,
        application_id: id(r, "application_id")?,
        time: ts(r, "time")?,
        trigger_type: r.text("trigger_type")?,
        trigger_key: r.text("trigger_key")?,
        status: r.text("status")?,
        error: r.opt_text("error")?,
        debug: json(r, "debug")?,
        duration_ms: r.int("duration_ms")?,
    })
}

macro_rules! write_triggers {
    ($tx:expr, $f:expr) => {{
        sqlx::query("DELETE FROM flow_triggers WHERE flow_id = $1")
            .bind($f.id.as_str())
            .execute(&mut *$tx)
            .await?;
        for (ty, key) in &$f.triggers {
            sqlx::query(
                "INSERT INTO flow_triggers (flow_id, application_id, trigger_type, trigger_key)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind($f.id.as_str())
            .bind($f.application_id.as_str())
            .bind(ty)
            .bind(key)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

#[async_trait]
impl FlowStore for SqlStore {
    async fn insert_flow(&self, f: &FlowRecord) -> Result<(), StoreError> {
        let body = f.body.to_string();
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO flows (id, application_id, name, description, enabled, body,
                     creation_date, last_updated, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(f.id.as_str())
            .bind(f.application_id.as_str())
            .bind(&f.name)
            .bind(&f.description)
            .bind(i64::from(f.enabled))
            .bind(&body)
            .bind(f.creation_date.as_millis())
            .bind(f.last_updated.as_millis())
            .bind(f.version)
            .execute(&mut *tx)
            .await?;
            write_triggers!(tx, f);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn get_flow(&self, app: &Id, fid: &Id) -> Result<Option<FlowRecord>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM flows WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(fid.as_str()),
            flow_from_row
        )
    }

    async fn list_flows(
        &self,
        app: &Id,
        p: &ListParams,
        triggers: &[(String, String)],
    ) -> Result<Page<FlowRecord>, StoreError> {
        let mut next = 2;
        let mut trig = String::new();
        if !triggers.is_empty() {
            let mut parts = Vec::new();
            for _ in triggers {
                parts.push(format!(
                    "(t.trigger_type = ${} AND t.trigger_key = ${})",
                    next,
                    next + 1
                ));
                next += 2;
            }
            trig = format!(
                " AND id IN (SELECT t.flow_id FROM flow_triggers t WHERE t.application_id = $1 AND ({}))",
                parts.join(" OR ")
            );
        }
        let l = list_sql(p, COLUMNS, next);
        let where_ = format!("WHERE application_id = $1{trig}{}", l.filter);
        let count_sql = format!("SELECT COUNT(*) FROM flows {where_}");
        let page_sql = format!("SELECT * FROM flows {where_}{}", l.order_limit);
        with_read!(self, pool => {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(app.as_str());
            let mut q = sqlx::query(&page_sql).bind(app.as_str());
            for (ty, key) in triggers {
                count = count.bind(ty.clone()).bind(key.clone());
                q = q.bind(ty.clone()).bind(key.clone());
            }
            if let Some(pat) = &l.pattern {
                count = count.bind(pat.clone());
                q = q.bind(pat.clone());
            }
            let total = count.fetch_one(pool).await?;
            let rows = q
                .bind(i64::from(p.per_page))
                .bind(p.offset() as i64)
                .fetch_all(pool)
                .await?;
            Ok(Page {
                items: rows.iter().map(flow_from_row).collect::<Result<_, _>>()?,
                total_count: total as u64,
            })
        })
    }

    async fn update_flow(&self, f: &FlowRecord, expected: i64) -> Result<(), StoreError> {
        let body = f.body.to_string();
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE flows SET name = $1, description = $2, enabled = $3, body = $4,
                     last_updated = $5, version = $6
                 WHERE application_id = $7 AND id = $8 AND version = $9",
            )
            .bind(&f.name)
            .bind(&f.description)
            .bind(i64::from(f.enabled))
            .bind(&body)
            .bind(f.last_updated.as_millis())
            .bind(f.version)
            .bind(f.application_id.as_str())
            .bind(f.id.as_str())
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            expect_one(n)?;
            write_triggers!(tx, f);
            // A timer removed from the flow takes its claimed instant with it.
            sqlx::query(
                "DELETE FROM timer_fires WHERE flow_id = $1 AND trigger_key NOT IN (
                     SELECT trigger_key FROM flow_triggers
                     WHERE flow_id = $1 AND trigger_type = 'timer')",
            )
            .bind(f.id.as_str())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn delete_flow(&self, app: &Id, fid: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM flows WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(fid.as_str())
        );
        Ok(n > 0)
    }

    async fn flows_for_trigger(
        &self,
        app: &Id,
        ty: &str,
        key: &str,
    ) -> Result<Vec<FlowRecord>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM flows WHERE application_id = $1 AND enabled = 1 AND id IN (
                     SELECT flow_id FROM flow_triggers
                     WHERE application_id = $1 AND trigger_key = $2 AND trigger_type = $3)
                 ORDER BY id",
            )
            .bind(app.as_str())
            .bind(key)
            .bind(ty)
            .fetch_all(pool)
            .await?;
            rows.iter().map(flow_from_row).collect()
        })
    }

    async fn delete_flows_of_job(&self, app: &Id, job: &Id) -> Result<u64, StoreError> {
        let n = rows_written!(self, sqlx::query(
                "DELETE FROM flows WHERE application_id = $1 AND id IN (
                     SELECT flow_id FROM flow_triggers WHERE application_id = $1 AND trigger_key = $2
                         AND trigger_type IN ('resourceJobIteration', 'resourceJobIterationTimeout', 'resourceJobComplete'))",
            )
            .bind(app.as_str())
            .bind(job.as_str()));
        Ok(n)
    }

    async fn insert_flow_run(&self, r: &FlowRun) -> Result<(), StoreError> {
        // Through the group commit: a busy flow logs hundreds of runs per transaction.
        match self
            .submit(vec![crate::WriteOp::FlowRun(r.clone())])
            .await
            .pop()
        {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Err(StoreError::Aborted),
        }
    }

    async fn list_flow_runs(
        &self,
        flow: &Id,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<FlowRun>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM flow_runs WHERE flow_id = $1 AND time >= $2
                 ORDER BY time DESC, id DESC LIMIT $3",
            )
            .bind(flow.as_str())
            .bind(since.map_or(i64::MIN, Timestamp::as_millis))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(run_from_row).collect()
        })
    }
}
