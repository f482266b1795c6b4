//! [`WebhookStore`] for [`SqlStore`]: subscriptions (with their event types mirrored into
//! `webhook_events` for the outbox join), the delivery claim with a lease, and the record of
//! attempts. The event inserts themselves are in `outbox.rs`.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::webhooks::{EventType, NextStep};
use rjobs_core::{Id, Timestamp};

use super::list::{list_page, Columns};
use super::row::{id, summary, ts, RowExt};
use super::{expect_one, fetch_optional, rows_written, with_read, with_write, SqlStore};
use crate::webhooks::{
    AttemptRecord, Delivery, DeliveryClaim, IterationSnapshot, OutboxCounts, WebhookRecord,
    WebhookSecret, WebhookStore,
};
use crate::{Backend, Page, StoreError};

const COLUMNS: Columns = &[
    ("name", "name"),
    ("id", "id"),
    ("url", "url"),
    ("creationDate", "creation_date"),
];

fn event_type(s: &str) -> Result<EventType, StoreError> {
    EventType::parse(s).ok_or_else(|| StoreError::Corrupt(format!("event type {s:?}")))
}

fn webhook_from_row(r: &impl RowExt) -> Result<WebhookRecord, StoreError> {
    let text = r.text("events")?;
    let names: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("webhooks.events: {e}")))?;
    Ok(WebhookRecord {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        url: r.text("url")?,
        secret: WebhookSecret::new(r.text("secret")?),
        events: names
            .iter()
            .map(|n| event_type(n))
            .collect::<Result<_, _>>()?,
        enabled: r.int("enabled")? != 0,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
        version: r.int("version")?,
    })
}

fn small(n: i64, col: &str) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{col}: {n}")))
}

fn delivery_from_row(r: &impl RowExt) -> Result<Delivery, StoreError> {
    let iteration = match r.opt_int("iteration_seq")? {
        Some(seq) => Some(IterationSnapshot {
            seq,
            resource_id: id(r, "resource_id")?,
            resource_name: r.opt_text("resource_name")?.unwrap_or_default(),
            attempts: small(r.opt_int("attempt")?.unwrap_or(0), "attempt")?,
            message: r.opt_text("message")?,
        }),
        None => None,
    };
    Ok(Delivery {
        event_id: r.text("event_id")?,
        webhook_id: id(r, "webhook_id")?,
        application_id: id(r, "application_id")?,
        event_type: event_type(&r.text("event_type")?)?,
        event_at: Timestamp::from_millis(r.opt_int("event_at")?.unwrap_or(0)),
        execution_id: id(r, "execution_id")?,
        resource_job_id: id(r, "resource_job_id")?,
        status: r.text("status")?,
        summary: summary(r)?,
        iteration,
        attempts: small(r.int("attempts")?, "attempts")?,
        url: r.text("url")?,
        secret: WebhookSecret::new(r.text("secret")?),
    })
}

fn attempt_from_row(r: &impl RowExt) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        webhook_id: id(r, "webhook_id")?,
        event_id: r.text("event_id")?,
        event_type: event_type(&r.text("event_type")?)?,
        attempt: small(r.int("attempt")?, "attempt")?,
        status_code: r
            .opt_int("status_code")?
            .map(|c| u16::try_from(c).map_err(|_| StoreError::Corrupt(format!("status {c}"))))
            .transpose()?,
        error: r.opt_text("error")?,
        at: ts(r, "at")?,
        duration_ms: r.int("duration_ms")?,
        outcome: r.text("outcome")?,
    })
}

fn events_text(w: &WebhookRecord) -> String {
    serde_json::Value::from(
        w.events
            .iter()
            .map(|e| e.as_str().to_string())
            .collect::<Vec<_>>(),
    )
    .to_string()
}

/// Replaces the webhook's rows in `webhook_events` (expanded once per backend).
macro_rules! put_events {
    ($tx:expr, $w:expr) => {{
        sqlx::query("DELETE FROM webhook_events WHERE webhook_id = $1")
            .bind($w.id.as_str())
            .execute(&mut *$tx)
            .await?;
        for e in &$w.events {
            sqlx::query(
                "INSERT INTO webhook_events (webhook_id, application_id, event_type)
                 VALUES ($1, $2, $3)",
            )
            .bind($w.id.as_str())
            .bind($w.application_id.as_str())
            .bind(e.as_str())
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// The claim: a CTE picks the due rows (on PostgreSQL locking them, skipping rows another
/// claim holds; a CTE runs once, where an `IN (subquery … LIMIT)` may be re-run per row and
/// exceed the limit), then the update leases them.
fn claim_sql(postgres: bool) -> String {
    format!(
        "WITH due AS (
             SELECT event_id, webhook_id FROM webhook_outbox
             WHERE state = 'pending' AND next_attempt_at <= $3
                 AND (lease_until IS NULL OR lease_until <= $3)
             ORDER BY next_attempt_at LIMIT $4{})
         UPDATE webhook_outbox SET lease_owner = $1, lease_until = $2,
             event_at = COALESCE(event_at, $3)
         FROM due
         WHERE webhook_outbox.event_id = due.event_id
             AND webhook_outbox.webhook_id = due.webhook_id",
        if postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    )
}

const CLAIMED_SQL: &str = "SELECT o.*, w.url, w.secret FROM webhook_outbox o
     JOIN webhooks w ON w.id = o.webhook_id
     WHERE o.lease_owner = $1 ORDER BY o.next_attempt_at, o.event_id";

#[async_trait]
impl WebhookStore for SqlStore {
    async fn insert_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError> {
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO webhooks (id, application_id, name, url, secret, events, enabled,
                     creation_date, last_updated, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(w.id.as_str())
            .bind(w.application_id.as_str())
            .bind(&w.name)
            .bind(&w.url)
            .bind(w.secret.expose())
            .bind(events_text(w))
            .bind(i64::from(w.enabled))
            .bind(w.creation_date.as_millis())
            .bind(w.last_updated.as_millis())
            .bind(w.version)
            .execute(&mut *tx)
            .await?;
            put_events!(tx, w);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn get_webhook(&self, app: &Id, wid: &Id) -> Result<Option<WebhookRecord>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM webhooks WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(wid.as_str()),
            webhook_from_row
        )
    }

    async fn list_webhooks(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<WebhookRecord>, StoreError> {
        list_page!(self, "webhooks", Some(app), COLUMNS, p, webhook_from_row)
    }

    async fn update_webhook(&self, w: &WebhookRecord, expected: i64) -> Result<(), StoreError> {
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE webhooks SET name = $1, url = $2, events = $3, enabled = $4,
                     last_updated = $5, version = $6
                 WHERE id = $7 AND application_id = $8 AND version = $9",
            )
            .bind(&w.name)
            .bind(&w.url)
            .bind(events_text(w))
            .bind(i64::from(w.enabled))
            .bind(w.last_updated.as_millis())
            .bind(w.version)
            .bind(w.id.as_str())
            .bind(w.application_id.as_str())
            .bind(expected)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            expect_one(n)?;
            put_events!(tx, w);
            tx.commit().await?;
        });
        Ok(())
    }

    async fn delete_webhook(&self, app: &Id, wid: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM webhooks WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(wid.as_str())
        );
        Ok(n > 0)
    }

    async fn webhook_attempts(
        &self,
        webhook: &Id,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM webhook_attempts WHERE webhook_id = $1
                 ORDER BY at DESC, event_id DESC, attempt DESC LIMIT $2",
            )
            .bind(webhook.as_str())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(attempt_from_row).collect()
        })
    }

    async fn claim_deliveries(&self, c: &DeliveryClaim) -> Result<Vec<Delivery>, StoreError> {
        let sql = claim_sql(self.backend_kind() == Backend::Postgres);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(&sql)
                .bind(&c.owner)
                .bind(c.until.as_millis())
                .bind(c.now.as_millis())
                .bind(i64::from(c.limit))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(Vec::new());
            }
            let rows = sqlx::query(CLAIMED_SQL)
                .bind(&c.owner)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows.iter().map(delivery_from_row).collect()
        })
    }

    async fn finish_delivery(
        &self,
        d: &Delivery,
        owner: &str,
        a: &AttemptRecord,
        next: NextStep,
        keep: u32,
    ) -> Result<bool, StoreError> {
        let attempts = i64::from(a.attempt);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = match next {
                NextStep::Delivered => sqlx::query(
                    "DELETE FROM webhook_outbox
                     WHERE event_id = $1 AND webhook_id = $2 AND lease_owner = $3",
                )
                .bind(&d.event_id)
                .bind(d.webhook_id.as_str())
                .bind(owner)
                .execute(&mut *tx)
                .await?,
                NextStep::RetryAt(at) => sqlx::query(
                    "UPDATE webhook_outbox SET attempts = $4, next_attempt_at = $5,
                         lease_owner = NULL, lease_until = NULL, last_error = $6
                     WHERE event_id = $1 AND webhook_id = $2 AND lease_owner = $3",
                )
                .bind(&d.event_id)
                .bind(d.webhook_id.as_str())
                .bind(owner)
                .bind(attempts)
                .bind(at.as_millis())
                .bind(a.error.as_deref())
                .execute(&mut *tx)
                .await?,
                NextStep::Failed => sqlx::query(
                    "UPDATE webhook_outbox SET state = 'failed', attempts = $4,
                         lease_owner = NULL, lease_until = NULL, last_error = $5
                     WHERE event_id = $1 AND webhook_id = $2 AND lease_owner = $3",
                )
                .bind(&d.event_id)
                .bind(d.webhook_id.as_str())
                .bind(owner)
                .bind(attempts)
                .bind(a.error.as_deref())
                .execute(&mut *tx)
                .await?,
            }
            .rows_affected();
            if n == 0 {
                // The lease moved (it expired and another claim took the row): the other
                // claimer reports its own attempt.
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO webhook_attempts (webhook_id, event_id, event_type, attempt,
                     status_code, error, at, duration_ms, outcome)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
            )
            .bind(a.webhook_id.as_str())
            .bind(&a.event_id)
            .bind(a.event_type.as_str())
            .bind(attempts)
            .bind(a.status_code.map(i64::from))
            .bind(a.error.as_deref())
            .bind(a.at.as_millis())
            .bind(a.duration_ms)
            .bind(&a.outcome)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM webhook_attempts WHERE webhook_id = $1 AND at < (
                     SELECT at FROM webhook_attempts WHERE webhook_id = $1
                     ORDER BY at DESC LIMIT 1 OFFSET $2)",
            )
            .bind(a.webhook_id.as_str())
            .bind(i64::from(keep.max(1)) - 1)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        with_read!(self, pool => {
            let rows: Vec<(String, i64)> = sqlx::query_as(
                "SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state",
            )
            .fetch_all(pool)
            .await?;
            let mut c = OutboxCounts::default();
            for (state, n) in rows {
                let n = u64::try_from(n).unwrap_or(0);
                match state.as_str() {
                    "pending" => c.pending = n,
                    "failed" => c.failed = n,
                    other => return Err(StoreError::Corrupt(format!("outbox state {other:?}"))),
                }
            }
            Ok(c)
        })
    }
}
