//! Resource job definitions.

use async_trait::async_trait;
use rjobs_core::engine::controls::{AbortConfig, RolloutConfig};
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::list::ListParams;
use rjobs_core::{Id, Timestamp};

use super::list::{list_page, Columns};
use super::row::{id, ts, RowExt};
use super::{expect_one, fetch_optional, rows_written, with_write, SqlStore};
use crate::{JobStore, Page, StoreError};

const COLUMNS: Columns = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
    ("lastExecutionRequested", "last_execution_requested"),
    ("resourceType", "resource_type"),
];

fn json_col(r: &impl RowExt, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    r.opt_text(col)?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{col}: {e}"))))
        .transpose()
}

/// `abort_config` (JSON text, validated when it was saved).
pub(crate) fn abort_config(r: &impl RowExt) -> Result<Option<AbortConfig>, StoreError> {
    match json_col(r, "abort_config")? {
        Some(v) => AbortConfig::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(None),
    }
}

/// `rollout_config` (JSON text, validated when it was saved).
pub(crate) fn rollout_config(r: &impl RowExt) -> Result<Option<RolloutConfig>, StoreError> {
    match json_col(r, "rollout_config")? {
        Some(v) => RolloutConfig::parse(&v).map_err(|e| StoreError::Corrupt(e.to_string())),
        None => Ok(None),
    }
}

/// The stored text of the controls.
pub(crate) fn controls_text(
    a: Option<&AbortConfig>,
    r: Option<&RolloutConfig>,
) -> (Option<String>, Option<String>) {
    (
        a.map(|a| a.to_json().to_string()),
        r.map(|r| r.to_json().to_string()),
    )
}

pub(crate) fn job_from_row(r: &impl RowExt) -> Result<ResourceJob, StoreError> {
    let rt = r.text("resource_type")?;
    Ok(ResourceJob {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        resource_type: ResourceType::parse(&rt)
            .ok_or_else(|| StoreError::Corrupt(format!("resource_type {rt:?}")))?,
        data_table_id: r.opt_text("data_table_id")?,
        query_json: r.text("query_json")?,
        default_context: r.text("default_context")?,
        max_iteration_concurrency: r.int("max_iteration_concurrency")?,
        iteration_delay: r.int("iteration_delay")?,
        iteration_timeout: r.int("iteration_timeout")?,
        retry_on_failure: r.int("retry_on_failure")? != 0,
        retry_on_timeout: r.int("retry_on_timeout")? != 0,
        max_iteration_retries: r.int("max_iteration_retries")?,
        retry_delay: r.int("retry_delay")?,
        abort_config: abort_config(r)?,
        rollout_config: rollout_config(r)?,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
        last_execution_requested: r
            .opt_int("last_execution_requested")?
            .map(Timestamp::from_millis),
        version: r.int("version")?,
    })
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_job(&self, j: &ResourceJob) -> Result<(), StoreError> {
        let (abort, rollout) = controls_text(j.abort_config.as_ref(), j.rollout_config.as_ref());
        with_write!(self, pool => {
            sqlx::query(
                "INSERT INTO resource_jobs (id, application_id, name, description, resource_type,
                     data_table_id, query_json, default_context, max_iteration_concurrency,
                     iteration_delay, iteration_timeout, retry_on_failure, retry_on_timeout,
                     max_iteration_retries, retry_delay, creation_date, last_updated,
                     last_execution_requested, version, abort_config, rollout_config)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21)",
            )
            .bind(j.id.as_str())
            .bind(j.application_id.as_str())
            .bind(&j.name)
            .bind(&j.description)
            .bind(j.resource_type.as_str())
            .bind(j.data_table_id.as_deref())
            .bind(&j.query_json)
            .bind(&j.default_context)
            .bind(j.max_iteration_concurrency)
            .bind(j.iteration_delay)
            .bind(j.iteration_timeout)
            .bind(i64::from(j.retry_on_failure))
            .bind(i64::from(j.retry_on_timeout))
            .bind(j.max_iteration_retries)
            .bind(j.retry_delay)
            .bind(j.creation_date.as_millis())
            .bind(j.last_updated.as_millis())
            .bind(j.last_execution_requested.map(Timestamp::as_millis))
            .bind(j.version)
            .bind(abort)
            .bind(rollout)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn get_job(&self, app: &Id, jid: &Id) -> Result<Option<ResourceJob>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM resource_jobs WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(jid.as_str()),
            job_from_row
        )
    }

    async fn list_jobs(&self, app: &Id, p: &ListParams) -> Result<Page<ResourceJob>, StoreError> {
        list_page!(self, "resource_jobs", Some(app), COLUMNS, p, job_from_row)
    }

    async fn update_job(&self, j: &ResourceJob, expected: i64) -> Result<(), StoreError> {
        let (abort, rollout) = controls_text(j.abort_config.as_ref(), j.rollout_config.as_ref());
        let n = rows_written!(
            self,
            sqlx::query(
                "UPDATE resource_jobs SET name = $1, description = $2, data_table_id = $3,
                     query_json = $4, default_context = $5, max_iteration_concurrency = $6,
                     iteration_delay = $7, iteration_timeout = $8, retry_on_failure = $9,
                     retry_on_timeout = $10, max_iteration_retries = $11, retry_delay = $12,
                     last_updated = $13, last_execution_requested = $14, version = $15,
                     abort_config = $16, rollout_config = $17
                 WHERE application_id = $18 AND id = $19 AND version = $20",
            )
            .bind(&j.name)
            .bind(&j.description)
            .bind(j.data_table_id.as_deref())
            .bind(&j.query_json)
            .bind(&j.default_context)
            .bind(j.max_iteration_concurrency)
            .bind(j.iteration_delay)
            .bind(j.iteration_timeout)
            .bind(i64::from(j.retry_on_failure))
            .bind(i64::from(j.retry_on_timeout))
            .bind(j.max_iteration_retries)
            .bind(j.retry_delay)
            .bind(j.last_updated.as_millis())
            .bind(j.last_execution_requested.map(Timestamp::as_millis))
            .bind(j.version)
            .bind(abort)
            .bind(rollout)
            .bind(j.application_id.as_str())
            .bind(j.id.as_str())
            .bind(expected)
        );
        expect_one(n)
    }

    async fn delete_job(&self, app: &Id, jid: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM resource_jobs WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(jid.as_str())
        );
        Ok(n > 0)
    }
}
