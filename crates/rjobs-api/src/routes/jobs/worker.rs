//! The worker API (extensions): `iterations/claim` hands started attempts to an external
//! worker, long-polling up to `waitMs`; `acknowledge` applies up to 1,000 outcomes in one
//! commit, each with its own result. Both take the scopes of the single acknowledge.

use std::time::Duration;

use axum::extract::State;
use rjobs_engine::{AckRequest, EngineError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use crate::views::Reply;
use rjobs_core::jobs::ResourceJob;

/// Most iterations one claim or one batch acknowledgement carries.
const MAX_ITEMS: usize = 1000;
/// Longest long-poll of a claim.
const MAX_WAIT_MS: u64 = 30_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ClaimBody {
    limit: Option<u32>,
    wait_ms: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchBody {
    items: Vec<BatchItem>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BatchItem {
    iteration_id: String,
    attempt: Option<u32>,
    success: bool,
    message: Option<String>,
    accumulator: Option<Value>,
}

/// `{items}`: the claimed attempts, each `{id, resourceId, resourceName, attempt, deadline,
/// payload}` with the trigger payload of the iteration (built by the engine).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Claimed {
    /// The attempts handed out.
    items: Vec<rjobs_engine::views::ClaimedView>,
}

/// `{results}`: one result per acknowledgement, in the order of the body.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct BatchResults {
    /// The results.
    results: Vec<BatchResult>,
}

/// The result of one acknowledgement of a batch.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchResult {
    /// The iteration.
    iteration_id: String,
    /// `applied`, `conflict` or `notFound`.
    status: &'static str,
    /// Why it was not applied.
    message: Option<String>,
}

pub(crate) async fn claim(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<ClaimBody>,
) -> ApiResult<Reply<Claimed>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let exec = path.id("executionId")?;
    let limit = body.limit.unwrap_or(100);
    if !(1..=MAX_ITEMS as u32).contains(&limit) {
        return Err(ApiError::validation(format!(
            "limit: must be between 1 and {MAX_ITEMS}, got {limit}"
        )));
    }
    let wait = body.wait_ms.unwrap_or(0);
    if wait > MAX_WAIT_MS {
        return Err(ApiError::validation(format!(
            "waitMs: must be between 0 and {MAX_WAIT_MS}, got {wait}"
        )));
    }
    let items = state
        .engine
        .claim(
            &job.application_id,
            &job.id,
            &exec,
            limit,
            Duration::from_millis(wait),
        )
        .await?;
    Ok(Reply(Claimed { items }))
}

pub(crate) async fn acknowledge_batch(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<BatchBody>,
) -> ApiResult<Reply<BatchResults>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let exec = path.id("executionId")?;
    if body.items.is_empty() || body.items.len() > MAX_ITEMS {
        return Err(ApiError::validation(format!(
            "items: must hold between 1 and {MAX_ITEMS} acknowledgements, got {}",
            body.items.len()
        )));
    }
    let ids: Vec<String> = body.items.iter().map(|i| i.iteration_id.clone()).collect();
    let reqs = body
        .items
        .into_iter()
        .map(|i| AckRequest {
            iteration_id: i.iteration_id,
            success: i.success,
            message: i.message,
            accumulator: i.accumulator,
            attempt: i.attempt,
        })
        .collect();
    let outs = state
        .engine
        .ack_many(&job.application_id, Some(&job.id), Some(&exec), reqs)
        .await;
    let mut results = Vec::with_capacity(outs.len());
    for (id, out) in ids.into_iter().zip(outs) {
        let (status, message) = match out {
            Ok(()) => ("applied", None),
            Err(EngineError::Conflict(m)) => ("conflict", Some(m)),
            Err(EngineError::NotFound(what)) => ("notFound", Some(format!("{what} was not found"))),
            // Storage failed for this item alone: the request fails, as a single ack would.
            Err(other) => return Err(other.into()),
        };
        results.push(BatchResult {
            iteration_id: id,
            status,
            message,
        });
    }
    Ok(Reply(BatchResults { results }))
}
