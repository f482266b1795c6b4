//! The outbox writes: each event is inserted by the transaction that makes its cause durable,
//! with one `INSERT … SELECT` per change (an execution's status) or per round of iteration
//! writes, joined with the application's enabled webhooks that subscribe to the event type.
//!
//! Why here and set-based: the group commit is the engine's hot path. An iteration round adds
//! nothing unless one of its won writes is a final failure (checked in memory first); then one
//! statement covers the round, and for an application without webhooks it finds no subscriber
//! through the `webhook_events (application_id, event_type)` index and inserts nothing.
//!
//! Event ids are derived from the change, so a retried transaction cannot duplicate an event
//! (`ON CONFLICT DO NOTHING`): `evt_<execution>_v<version>` for a status change (the version
//! the compare-and-set produced) and `evt_<execution>_i<seq>` for an iteration's final failure
//! (it has one). A status change without a time of its own (a pause) leaves `event_at` empty;
//! the first claim stamps it with the claimer's clock.

use std::collections::HashSet;

use rjobs_core::webhooks::{iteration_event, EventType};
use rjobs_core::{Id, Timestamp};
use sqlx::{PgConnection, SqliteConnection};

use super::batch_plan::RoundWrite;
use crate::StoreError;

/// Columns of an outbox row that the inserts fill (the rest keep their defaults).
const COLS: &str = "event_id, webhook_id, application_id, event_type, event_at, execution_id,
     resource_job_id, status, iteration_seq, resource_id, resource_name, attempt, message,
     n_succeeded, n_failed, n_timed_out, n_in_progress, n_remaining, next_attempt_at";

/// `$1` execution, `$2` event time (or NULL), `$3` event type.
fn execution_sql() -> String {
    format!(
        "INSERT INTO webhook_outbox ({COLS})
         SELECT 'evt_' || e.id || '_v' || e.version, w.id, e.application_id, we.event_type, $2,
             e.id, e.resource_job_id, e.status, NULL, NULL, NULL, NULL, NULL,
             e.n_succeeded, e.n_failed, e.n_timed_out, e.n_in_progress, e.n_remaining,
             COALESCE($2, 0)
         FROM executions e
         JOIN webhook_events we ON we.application_id = e.application_id AND we.event_type = $3
         JOIN webhooks w ON w.id = we.webhook_id AND w.enabled = 1
         WHERE e.id = $1
         ON CONFLICT DO NOTHING"
    )
}

/// The iteration events' select over a source `v(execution_id, seq, event_type, at)`.
fn iteration_sql(source: &str) -> String {
    format!(
        "INSERT INTO webhook_outbox ({COLS})
         SELECT 'evt_' || i.execution_id || '_i' || i.seq, w.id, e.application_id, v.event_type,
             v.at, e.id, e.resource_job_id, i.state, i.seq, i.resource_id, i.resource_name,
             i.attempt, i.message,
             e.n_succeeded, e.n_failed, e.n_timed_out, e.n_in_progress, e.n_remaining,
             COALESCE(v.at, 0)
         FROM {source}
         JOIN executions e ON e.id = v.execution_id
         JOIN webhook_events we ON we.application_id = e.application_id
             AND we.event_type = v.event_type
         JOIN webhooks w ON w.id = we.webhook_id AND w.enabled = 1
         JOIN iterations i ON i.execution_id = v.execution_id AND i.seq = v.seq
         WHERE 1 = 1
         ON CONFLICT DO NOTHING"
    )
}

/// One iteration event of a round.
struct Ev<'a> {
    exec: &'a Id,
    seq: i64,
    ty: EventType,
    at: Option<i64>,
}

/// The round's writes that won and end an iteration in failure.
fn events<'a>(writes: &'a [RoundWrite], won: &HashSet<(Id, i64)>) -> Vec<Ev<'a>> {
    writes
        .iter()
        .filter_map(|rw| {
            let ty = iteration_event(rw.w.record.state)?;
            won.contains(&(rw.exec.clone(), rw.w.seq)).then_some(Ev {
                exec: &rw.exec,
                seq: rw.w.seq,
                ty,
                at: rw.w.record.completed_at.map(Timestamp::as_millis),
            })
        })
        .collect()
}

/// Outbox inserts on a transaction's connection.
pub(crate) trait Outbox {
    /// The event of an execution's status change (or creation) `ty`, after the change.
    async fn execution_event(
        &mut self,
        exec: &Id,
        ty: EventType,
        at: Option<Timestamp>,
    ) -> Result<(), StoreError>;
}

/// Implements [`Outbox`] for a backend's connection.
macro_rules! outbox_impl {
    ($conn:ty) => {
        impl Outbox for $conn {
            async fn execution_event(
                &mut self,
                exec: &Id,
                ty: EventType,
                at: Option<Timestamp>,
            ) -> Result<(), StoreError> {
                sqlx::query(&execution_sql())
                    .bind(exec.as_str())
                    .bind(at.map(Timestamp::as_millis))
                    .bind(ty.as_str())
                    .execute(&mut *self)
                    .await?;
                Ok(())
            }
        }
    };
}
outbox_impl!(SqliteConnection);
outbox_impl!(PgConnection);

/// The events of a round's iteration writes that won, on a PostgreSQL transaction (see the
/// module docs; SQLite's are [`iteration_events_direct`]).
pub(crate) async fn iteration_events_pg(
    c: &mut PgConnection,
    writes: &[RoundWrite],
    won: &HashSet<(Id, i64)>,
) -> Result<(), StoreError> {
    insert_postgres(c, &events(writes, won)).await
}

async fn insert_postgres(c: &mut PgConnection, evs: &[Ev<'_>]) -> Result<(), StoreError> {
    if evs.is_empty() {
        return Ok(());
    }
    let sql = iteration_sql(
        "UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[])
                 AS v(execution_id, seq, event_type, at)",
    );
    sqlx::query(&sql)
        .bind(evs.iter().map(|e| e.exec.to_string()).collect::<Vec<_>>())
        .bind(evs.iter().map(|e| e.seq).collect::<Vec<_>>())
        .bind(
            evs.iter()
                .map(|e| e.ty.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .bind(evs.iter().map(|e| e.at).collect::<Vec<_>>())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The round's iteration events on the SQLite writer's direct connection (see `direct.rs`): one
/// cached single-row statement per event.
pub(crate) fn iteration_events_direct(
    c: &rusqlite::Connection,
    writes: &[RoundWrite],
    won: &HashSet<(Id, i64)>,
) -> Result<(), StoreError> {
    let evs = events(writes, won);
    if evs.is_empty() {
        return Ok(());
    }
    let sql =
        iteration_sql("(SELECT ?1 AS execution_id, ?2 AS seq, ?3 AS event_type, ?4 AS at) AS v");
    let mut st = c.prepare_cached(&sql)?;
    for e in evs {
        st.execute(rusqlite::params![
            e.exec.as_str(),
            e.seq,
            e.ty.as_str(),
            e.at
        ])?;
    }
    Ok(())
}
