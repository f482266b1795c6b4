//! `execute`: durable before the 200; with `dryRun=true` a preview that writes nothing; with
//! `rerunOf` a re-run of an earlier execution's failures (extensions). The body and query
//! parameters are checked here, the rendering and the target set in the engine.

use axum::extract::State;
use rjobs_core::engine::IterationState;
use rjobs_core::jobs::check_table_ref;
use rjobs_core::Id;
use rjobs_engine::{ExecuteRequest, RerunRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::executions::source;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use crate::views::Reply;
use rjobs_core::jobs::ResourceJob;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ExecBody {
    template_context: Option<String>,
    query_json: Option<String>,
    data_table_id: Option<String>,
    /// Extension: re-run an earlier execution's failures.
    rerun_of: Option<Value>,
}

/// What `execute` answers: the new execution, or with `dryRun=true` the preview.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum Executed {
    /// `{"success": true, "executionId"}`.
    Started(Started),
    /// The dry run's preview.
    Preview(Preview),
}

/// An execution was started.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Started {
    /// Always true.
    success: bool,
    /// The new execution.
    execution_id: Id,
}

/// A dry run: the target set it would iterate over, nothing written.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Preview {
    /// Always true.
    dry_run: bool,
    /// Resources targeted.
    count: u64,
    /// The first of them.
    sample: Vec<Target>,
    /// The query, rendered.
    query_json: Value,
    /// The data table (data table jobs).
    data_table_id: Option<Id>,
}

/// One targeted resource.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Target {
    /// Its id.
    id: Id,
    /// Its name.
    name: String,
}

/// `rerunOf`: `{"executionId", "statuses": [...]}` (statuses default to failed and timedOut).
fn rerun_of(v: &Value) -> ApiResult<RerunRequest> {
    let o = v
        .as_object()
        .ok_or_else(|| ApiError::validation("rerunOf: must be an object with executionId"))?;
    if let Some(k) = o.keys().find(|k| *k != "executionId" && *k != "statuses") {
        return Err(ApiError::validation(format!(
            "rerunOf.{k}: is not a known field; expected executionId, statuses"
        )));
    }
    let raw = o.get("executionId").and_then(Value::as_str).unwrap_or("");
    let execution_id = Id::parse(raw).map_err(|_| {
        ApiError::validation(format!(
            "rerunOf.executionId: expected a 24-character hexadecimal id, got {:?}",
            o.get("executionId")
        ))
    })?;
    const FINAL: [IterationState; 4] = [
        IterationState::Failed,
        IterationState::TimedOut,
        IterationState::Succeeded,
        IterationState::NotStarted,
    ];
    let statuses = match o.get("statuses") {
        None | Some(Value::Null) => vec![IterationState::Failed, IterationState::TimedOut],
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut out = Vec::new();
            for (i, x) in a.iter().enumerate() {
                let st = x
                    .as_str()
                    .and_then(IterationState::parse)
                    .filter(|s| FINAL.contains(s))
                    .ok_or_else(|| {
                        ApiError::validation(format!(
                            "rerunOf.statuses[{i}]: must be one of failed, timedOut, succeeded, notStarted, got {x}"
                        ))
                    })?;
                if !out.contains(&st) {
                    out.push(st);
                }
            }
            out
        }
        Some(_) => {
            return Err(ApiError::validation(
                "rerunOf.statuses: must be a non-empty array of final statuses",
            ))
        }
    };
    Ok(RerunRequest {
        execution_id,
        statuses,
    })
}

pub(crate) async fn execute(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    Params(q): Params,
    JsonBody(body): JsonBody<ExecBody>,
) -> ApiResult<Reply<Executed>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let dry_run = rjobs_core::list::parse_flag(&q, "dryRun")?;
    let rerun = body.rerun_of.as_ref().map(rerun_of).transpose()?;
    if rerun.is_some() {
        if let Some(f) = [
            ("templateContext", body.template_context.is_some()),
            ("queryJson", body.query_json.is_some()),
            ("dataTableId", body.data_table_id.is_some()),
        ]
        .iter()
        .find(|f| f.1)
        {
            return Err(ApiError::validation(format!(
                "{}: cannot be combined with rerunOf (a re-run uses the original run's)",
                f.0
            )));
        }
        if dry_run {
            return Err(ApiError::validation(
                "rerunOf: cannot be combined with dryRun",
            ));
        }
    }
    if body
        .template_context
        .as_ref()
        .is_some_and(|t| t.chars().count() > 32767)
    {
        return Err(ApiError::validation(
            "templateContext: must be at most 32767 characters",
        ));
    }
    if body
        .query_json
        .as_ref()
        .is_some_and(|t| t.chars().count() > 8192)
    {
        return Err(ApiError::validation(
            "queryJson: must be at most 8192 characters",
        ));
    }
    if let Some(t) = &body.data_table_id {
        check_table_ref(t)?;
    }
    let req = ExecuteRequest {
        template_context: body.template_context,
        query_json: body.query_json,
        data_table_id: body.data_table_id,
        rerun_of: rerun,
        source: source(&who),
    };
    if dry_run {
        let d = state.engine.dry_run(&job, req).await?;
        let sample = d
            .sample
            .into_iter()
            .map(|(id, name)| Target { id, name })
            .collect();
        return Ok(Reply(Executed::Preview(Preview {
            dry_run: true,
            count: d.count,
            sample,
            query_json: d.query_json,
            data_table_id: d.data_table_id,
        })));
    }
    let id = state.engine.execute(&job, req).await?;
    Ok(Reply(Executed::Started(Started {
        success: true,
        execution_id: id,
    })))
}
