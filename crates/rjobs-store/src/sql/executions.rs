//! Executions: creation with the target set materialised by one `INSERT ... SELECT` over the
//! compiled query (the set never passes through memory), reads, and the status compare-and-set.

use async_trait::async_trait;
use rjobs_core::engine::{ExecutionStatus, Summary};
use rjobs_core::execution::{ExecSettings, Execution, Source};
use rjobs_core::jobs::ResourceType;
use rjobs_core::{Id, Timestamp};

use rjobs_core::webhooks::{execution_event, EventType};

use super::leases::check_fence;
use super::outbox::Outbox;
use super::qbuild::{bind_all, SqlBuf};
use super::row::{id, summary, ts, RowExt};
use super::{expect_one, fetch_optional, with_read, with_write, SqlStore};
use crate::{ExecutionStore, Fence, StoreError, TargetSpec};

fn table_of(rt: rjobs_query::ResourceType) -> (&'static str, &'static str) {
    match rt {
        rjobs_query::ResourceType::Device => ("devices", "name"),
        rjobs_query::ResourceType::DataTableRow => ("data_table_rows", "id"),
        rjobs_query::ResourceType::ExperienceGroup => ("experience_groups", "name"),
        rjobs_query::ResourceType::ExperienceUser => ("experience_users", "email"),
    }
}

fn opt_id(r: &impl RowExt, col: &str) -> Result<Option<Id>, StoreError> {
    r.opt_text(col)?
        .map(|s| Id::parse(&s).map_err(|_| StoreError::Corrupt(format!("{col}: {s:?}"))))
        .transpose()
}

/// The settings snapshot's columns, in [`ExecSettings`] field order.
pub(crate) const SETTINGS_COLS: [&str; 7] = [
    "max_iteration_concurrency",
    "iteration_delay",
    "iteration_timeout",
    "retry_on_failure",
    "retry_on_timeout",
    "max_iteration_retries",
    "retry_delay",
];

/// The settings snapshot read from columns named `cols` (the row's own, or aliases of a join).
pub(crate) fn settings_from_row(
    r: &impl RowExt,
    cols: &[&str; 7],
) -> Result<ExecSettings, StoreError> {
    Ok(ExecSettings {
        max_iteration_concurrency: r.int(cols[0])?,
        iteration_delay: r.int(cols[1])?,
        iteration_timeout: r.int(cols[2])?,
        retry_on_failure: r.int(cols[3])? != 0,
        retry_on_timeout: r.int(cols[4])? != 0,
        max_iteration_retries: r.int(cols[5])?,
        retry_delay: r.int(cols[6])?,
    })
}

pub(crate) fn exec_from_row(r: &impl RowExt) -> Result<Execution, StoreError> {
    let status = r.text("status")?;
    let rt = r.text("resource_type")?;
    Ok(Execution {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        resource_job_id: id(r, "resource_job_id")?,
        status: ExecutionStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        resource_type: ResourceType::parse(&rt)
            .ok_or_else(|| StoreError::Corrupt(format!("resource_type {rt:?}")))?,
        data_table_id: opt_id(r, "data_table_id")?,
        query_json: r.text("query_json")?,
        template_context: r.text("template_context")?,
        source: Source {
            kind: r.text("source_type")?,
            id: opt_id(r, "source_id")?,
        },
        cancel_source: match r.opt_text("cancel_source_type")? {
            Some(kind) => Some(Source {
                kind,
                id: opt_id(r, "cancel_source_id")?,
            }),
            None => None,
        },
        settings: settings_from_row(r, &SETTINGS_COLS)?,
        abort_config: super::resource_jobs::abort_config(r)?,
        rollout_config: super::resource_jobs::rollout_config(r)?,
        abort_reason: r.opt_text("abort_reason")?,
        rerun_of: r.opt_text("rerun_of")?,
        run_started_at: ts(r, "run_started_at")?,
        run_completed_at: r.opt_int("run_completed_at")?.map(Timestamp::from_millis),
        accumulator: r.opt_text("accumulator")?,
        error_message: r.opt_text("error_message")?,
        last_start_at: r.opt_int("last_start_at")?.map(Timestamp::from_millis),
        total: r.int("total")?,
        version: r.int("version")?,
        summary: summary(r)?,
    })
}

#[async_trait]
impl ExecutionStore for SqlStore {
    async fn create_execution(
        &self,
        e: &Execution,
        target: &TargetSpec<'_>,
    ) -> Result<i64, StoreError> {
        let (table, display) = table_of(target.rt);
        let mut b = SqlBuf::new(self.backend_kind());
        b.push(
            "INSERT INTO iterations (execution_id, seq, resource_id, resource_name, state, attempt) SELECT ",
        )
        .text(e.id.as_str())
        .push(&format!(
            ", ROW_NUMBER() OVER (ORDER BY id), id, {display}, 'pending', 0 FROM {table} WHERE application_id = "
        ))
        .text(e.application_id.as_str());
        if target.rt == rjobs_query::ResourceType::DataTableRow {
            b.push(" AND data_table_id = ")
                .text(target.table.map(Id::as_str).unwrap_or(""));
        }
        b.query(Some(target.query), table, &e.application_id);
        if let Some(r) = target.rerun {
            b.push(" AND id IN (SELECT resource_id FROM iterations WHERE execution_id = ")
                .text(r.execution.as_str())
                .push(" AND state IN (");
            if r.states.is_empty() {
                b.push("NULL");
            }
            for (i, st) in r.states.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                b.text(st.as_str());
            }
            b.push("))");
        }
        let s = &e.settings;
        let (abort, rollout) =
            super::resource_jobs::controls_text(e.abort_config.as_ref(), e.rollout_config.as_ref());
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO executions (id, application_id, resource_job_id, status, resource_type,
                     data_table_id, query_json, template_context, source_type, source_id,
                     max_iteration_concurrency, iteration_delay, iteration_timeout,
                     retry_on_failure, retry_on_timeout, max_iteration_retries, retry_delay,
                     run_started_at, total, version, abort_config, rollout_config, rerun_of)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, 0, 1, $19, $20, $21)",
            )
            .bind(e.id.as_str())
            .bind(e.application_id.as_str())
            .bind(e.resource_job_id.as_str())
            .bind(e.status.as_str())
            .bind(e.resource_type.as_str())
            .bind(e.data_table_id.as_ref().map(Id::as_str))
            .bind(&e.query_json)
            .bind(&e.template_context)
            .bind(&e.source.kind)
            .bind(e.source.id.as_ref().map(Id::as_str))
            .bind(s.max_iteration_concurrency)
            .bind(s.iteration_delay)
            .bind(s.iteration_timeout)
            .bind(i64::from(s.retry_on_failure))
            .bind(i64::from(s.retry_on_timeout))
            .bind(s.max_iteration_retries)
            .bind(s.retry_delay)
            .bind(e.run_started_at.as_millis())
            .bind(abort)
            .bind(rollout)
            .bind(e.rerun_of.as_deref())
            .execute(&mut *tx)
            .await?;
            let total = bind_all!(sqlx::query(&b.sql), &b.params)
                .execute(&mut *tx)
                .await?
                .rows_affected() as i64;
            if total == 0 && target.rerun.is_some() {
                // Dropping the transaction rolls the execution back.
                return Err(StoreError::EmptyTarget);
            }
            sqlx::query("UPDATE executions SET total = $1, n_remaining = $1 WHERE id = $2")
                .bind(total)
                .bind(e.id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE resource_jobs SET last_execution_requested = $1
                 WHERE id = $2 AND application_id = $3",
            )
            .bind(e.run_started_at.as_millis())
            .bind(e.resource_job_id.as_str())
            .bind(e.application_id.as_str())
            .execute(&mut *tx)
            .await?;
            // Webhooks: `execution.started`, in this transaction (see `outbox.rs`).
            Outbox::execution_event(&mut *tx, &e.id, EventType::ExecutionStarted, Some(e.run_started_at)).await?;
            tx.commit().await?;
            Ok(total)
        })
    }

    async fn get_execution(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
    ) -> Result<Option<Execution>, StoreError> {
        fetch_optional!(self, sqlx::query(
                "SELECT * FROM executions WHERE application_id = $1 AND resource_job_id = $2 AND id = $3",
            )
            .bind(app.as_str())
            .bind(job.as_str())
            .bind(exec.as_str()), exec_from_row)
    }

    async fn executions_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        with_read!(self, pool => {
            Ok(sqlx::query_as("SELECT status, COUNT(*) FROM executions GROUP BY status")
                .fetch_all(pool)
                .await?)
        })
    }

    async fn load_execution(&self, exec: &Id) -> Result<Option<Execution>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM executions WHERE id = $1").bind(exec.as_str()),
            exec_from_row
        )
    }

    async fn summary(&self, exec: &Id) -> Result<Summary, StoreError> {
        Ok(self
            .load_execution(exec)
            .await?
            .map(|e| e.summary)
            .unwrap_or_default())
    }

    async fn list_executions(
        &self,
        app: &Id,
        job: &Id,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<Execution>, StoreError> {
        with_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM executions WHERE application_id = $1 AND resource_job_id = $2
                     AND run_started_at >= $3
                 ORDER BY run_started_at DESC, id DESC LIMIT $4",
            )
            .bind(app.as_str())
            .bind(job.as_str())
            .bind(since.map_or(i64::MIN, Timestamp::as_millis))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(exec_from_row).collect()
        })
    }

    async fn update_execution(
        &self,
        e: &Execution,
        expected: ExecutionStatus,
        abandon: bool,
        fence: Option<&Fence>,
    ) -> Result<(), StoreError> {
        let cancel = e.cancel_source.as_ref();
        // The accumulator is not written here: only an ack's transaction sets it, so a status
        // change made from an older copy of the execution cannot roll it back.
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            check_fence!(tx, e.id, fence);
            let n = sqlx::query(
                "UPDATE executions SET status = $1, cancel_source_type = $2, cancel_source_id = $3,
                     run_completed_at = $4, error_message = $5, version = version + 1,
                     abort_reason = $6
                 WHERE id = $7 AND status = $8",
            )
            .bind(e.status.as_str())
            .bind(cancel.map(|c| c.kind.as_str()))
            .bind(cancel.and_then(|c| c.id.as_ref()).map(Id::as_str))
            .bind(e.run_completed_at.map(Timestamp::as_millis))
            .bind(e.error_message.as_deref())
            .bind(e.abort_reason.as_deref())
            .bind(e.id.as_str())
            .bind(expected.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            expect_one(n)?;
            // Webhooks: the status change's event, in this transaction (see `outbox.rs`).
            if let Some(ty) = execution_event(e.status) {
                Outbox::execution_event(&mut *tx, &e.id, ty, e.run_completed_at).await?;
            }
            if abandon {
                sqlx::query(
                    "UPDATE iterations SET state = 'notStarted', retry_at = NULL
                     WHERE execution_id = $1 AND state IN ('pending', 'retrying')",
                )
                .bind(e.id.as_str())
                .execute(&mut *tx)
                .await?;
                // Rare (a cancel or an error): recount the two buckets the abandon moved.
                sqlx::query(
                    "UPDATE executions SET
                         n_in_progress = (SELECT COUNT(*) FROM iterations WHERE execution_id = $1
                             AND state IN ('inProgress', 'retrying')),
                         n_remaining = (SELECT COUNT(*) FROM iterations WHERE execution_id = $1
                             AND state IN ('pending', 'notStarted'))
                     WHERE id = $1",
                )
                .bind(e.id.as_str())
                .execute(&mut *tx)
                .await?;
            }
            if e.status.is_final() {
                sqlx::query("DELETE FROM leases WHERE execution_id = $1")
                    .bind(e.id.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
