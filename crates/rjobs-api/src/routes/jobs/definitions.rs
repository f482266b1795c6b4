//! List, create, get, patch and delete resource job definitions, exactly as the original: create
//! answers 201, and so does patch (sic); delete answers `{"success": true}` and takes
//! `includeWorkflows`.

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::engine::controls::{AbortConfig, RolloutConfig};
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::list::ListSpec;
use serde::Deserialize;
use serde_json::Value;

use super::query::check_job;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::routes::applications::load_app;
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::{success, Reply, Success};
use rjobs_engine::views::JobView;

const LIST: ListSpec = crud::named_list!(
    ["lastExecutionRequested", "resourceType"],
    ["name", "resourceType"]
);

/// The settable fields (create and patch). `resourceType` is taken only on create.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct JobBody {
    name: Option<String>,
    description: Option<String>,
    resource_type: Option<String>,
    data_table_id: Option<String>,
    query_json: Option<String>,
    default_context: Option<String>,
    max_iteration_concurrency: Option<i64>,
    iteration_delay: Option<i64>,
    iteration_timeout: Option<i64>,
    retry_on_failure: Option<bool>,
    retry_on_timeout: Option<bool>,
    max_iteration_retries: Option<i64>,
    retry_delay: Option<i64>,
    /// Extension; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    abort_config: Option<Value>,
    /// Extension; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    rollout_config: Option<Value>,
}

/// A field that is present (even as `null`) is `Some`; an absent one is `None`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl JobBody {
    fn apply(self, j: &mut ResourceJob) -> ApiResult<()> {
        if let Some(v) = &self.abort_config {
            j.abort_config = AbortConfig::parse(v)?;
        }
        if let Some(v) = &self.rollout_config {
            j.rollout_config = RolloutConfig::parse(v)?;
        }
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { j.$f = v; } )* };
        }
        set!(
            name,
            description,
            query_json,
            default_context,
            max_iteration_concurrency,
            iteration_delay,
            iteration_timeout,
            retry_on_failure,
            retry_on_timeout,
            max_iteration_retries,
            retry_delay
        );
        if let Some(t) = self.data_table_id {
            j.data_table_id = Some(t);
        }
        Ok(())
    }
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<JobBody>,
) -> ApiResult<(StatusCode, Reply<JobView>)> {
    let app = load_app(&state, &path).await?;
    let name = body
        .name
        .clone()
        .ok_or_else(|| ApiError::validation("name: is required"))?;
    let rt_text = body
        .resource_type
        .as_deref()
        .ok_or_else(|| ApiError::validation("resourceType: is required"))?;
    let rt = ResourceType::parse(rt_text).ok_or_else(|| {
        ApiError::validation(format!(
            "resourceType: must be one of device, dataTableRow, experienceGroup, experienceUser, got {rt_text:?}"
        ))
    })?;
    let now = state.clock.now();
    let mut job = ResourceJob::with_defaults(state.ids.next(now), app.id, name, rt, now);
    body.apply(&mut job)?;
    job.validate(&state.settings.job_limits)?;
    check_job(&state, &job).await?;
    state.store.insert_job(&job).await?;
    Ok((StatusCode::CREATED, Reply(JobView::of(&job))))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<JobBody>,
) -> ApiResult<(StatusCode, Reply<JobView>)> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    if body.resource_type.is_some() {
        return Err(ApiError::validation(
            "resourceType: cannot be changed after creation",
        ));
    }
    let mut next = job.clone();
    body.apply(&mut next)?;
    next.validate(&state.settings.job_limits)?;
    check_job(&state, &next).await?;
    next.last_updated = state.clock.now();
    next.version = job.version + 1;
    state.store.update_job(&next, job.version).await?;
    Ok((StatusCode::CREATED, Reply(JobView::of(&next))))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
    _: NoBody,
) -> ApiResult<Reply<Success>> {
    let include_workflows = rjobs_core::list::parse_flag(&q, "includeWorkflows")?;
    // Executions, iterations and reports go with the job (cascade): in-flight iterations are
    // abandoned and later acks find nothing.
    let job = crud::delete::<ResourceJob>(&state, &path).await?;
    if include_workflows {
        let n = state
            .store
            .delete_flows_of_job(&job.application_id, &job.id)
            .await?;
        tracing::info!(resource_job_id = %job.id, flows = n, "deleted the job's workflows");
    }
    Ok(success())
}

crud::owned!(
    ResourceJob,
    "Resource job",
    "resourceJobId",
    LIST,
    get: get_job,
    page(s, app, p, q): s.list_jobs(app, p),
    delete: delete_job,
    view(JobView): JobView::of
);
