//! Execution endpoints: `cancelExecution`, `pauseExecution`/`resumeExecution`, `logs`, and the
//! extensions: one execution, its iterations, the external acknowledgement, and the CSV report
//! (streamed; reachable with a bearer token or a signed link).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rjobs_core::engine::IterationState;
use rjobs_core::execution::{Execution, Source};
use rjobs_core::jobs::ResourceJob;
use rjobs_core::list::parse_uint;
use rjobs_core::Id;
use rjobs_engine::views::{ExecutionView, IterationView};
use rjobs_engine::AckRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use crate::views::{success, Reply, Success};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    success: bool,
    message: Option<String>,
    accumulator: Option<Value>,
    /// The attempt acknowledged (as the iterations listing shows it); absent: the current one.
    attempt: Option<u32>,
}

pub(super) fn source(who: &Principal) -> Source {
    let (kind, id) = who.source();
    Source {
        kind: kind.to_string(),
        id,
    }
}

fn execution_id(q: &std::collections::HashMap<String, String>) -> ApiResult<Id> {
    let raw = q
        .get("executionId")
        .ok_or_else(|| ApiError::validation("executionId: is required"))?;
    Id::parse(raw.trim()).map_err(|_| {
        ApiError::validation(format!(
            "executionId: expected a 24-character hexadecimal id, got {raw:?}"
        ))
    })
}

/// An operator's request on one execution's status.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Control {
    Cancel,
    Pause,
    Resume,
}

/// A [`Control`] as a type, so one generic handler serves the three routes
/// (`control::<Cancel>`, `control::<Pause>`, `control::<Resume>` in the route table).
pub(crate) trait ControlKind: Send + Sync + 'static {
    /// The request.
    const OP: Control;
}

macro_rules! control_kinds {
    ($($kind:ident),*) => {$(
        #[doc = concat!("`", stringify!($kind), "` as a type: see [`ControlKind`].")]
        pub(crate) struct $kind;
        impl ControlKind for $kind {
            const OP: Control = Control::$kind;
        }
    )*};
}
control_kinds!(Cancel, Pause, Resume);

/// `cancelExecution`, `pauseExecution`, `resumeExecution`: `?executionId=`, no body, 200
/// `{"success": true}` (idempotent where the status already is the one asked for).
pub(crate) async fn control<K: ControlKind>(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    Params(q): Params,
    _: NoBody,
) -> ApiResult<Reply<Success>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let exec = execution_id(&q)?;
    let (app, e) = (&job.application_id, &state.engine);
    match K::OP {
        Control::Cancel => e.cancel(app, &job.id, &exec, source(&who)).await?,
        Control::Pause => e.pause(app, &job.id, &exec).await?,
        Control::Resume => e.resume(app, &job.id, &exec).await?,
    }
    Ok(success())
}

/// The log item of an execution, with its summary and (once final) its signed report link.
fn log_item(state: &AppState, e: &Execution) -> ExecutionView {
    // The counters are columns of the execution row, kept with every transition.
    let summary = e.summary;
    let url = e.status.is_final().then(|| {
        state.engine.signer().url(
            &e.application_id,
            &e.resource_job_id,
            &e.id,
            state.clock.now(),
        )
    });
    ExecutionView::of(e, &summary, url.as_deref())
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<Vec<ExecutionView>>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let limit = parse_uint(&q, "limit", 1, 1, 100)?;
    let since = rjobs_core::list::parse_millis(&q, "since")?;
    let execs = state
        .store
        .list_executions(&job.application_id, &job.id, since, limit)
        .await?;
    let mut items = Vec::with_capacity(execs.len());
    for e in &execs {
        items.push(log_item(&state, e));
    }
    Ok(Reply(items))
}

pub(super) async fn load_execution(
    state: &AppState,
    job: &ResourceJob,
    path: &PathParams,
) -> ApiResult<Execution> {
    let id = path.id("executionId")?;
    state
        .store
        .get_execution(&job.application_id, &job.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Execution"))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Reply<ExecutionView>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let e = load_execution(&state, &job, &path).await?;
    Ok(Reply(log_item(&state, &e)))
}

/// A page of an execution's iterations.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IterationList {
    /// The iterations, in order.
    items: Vec<IterationView>,
    /// Iterations on this page.
    count: usize,
    /// Iterations matching.
    total_count: u64,
    /// Page size.
    per_page: u32,
    /// Page number, from 0.
    page: u32,
    /// The application.
    application_id: Id,
    /// The job.
    resource_job_id: Id,
    /// The execution.
    execution_id: Id,
    /// The status filtered on.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
}

pub(crate) async fn iterations(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<IterationList>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let e = load_execution(&state, &job, &path).await?;
    let status = match q.get("status").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(IterationState::parse(s).ok_or_else(|| {
            ApiError::validation(format!(
                "status: must be one of pending, inProgress, retrying, succeeded, failed, timedOut, notStarted, got {s:?}"
            ))
        })?),
    };
    let page = parse_uint(&q, "page", 0, 0, u32::MAX)?;
    let per_page = parse_uint(&q, "perPage", 100, 1, 1000)?;
    let res = state
        .store
        .list_iterations(
            &e.id,
            status,
            u64::from(page) * u64::from(per_page),
            per_page,
        )
        .await?;
    let items: Vec<IterationView> = res.items.iter().map(IterationView::from).collect();
    Ok(Reply(IterationList {
        count: items.len(),
        items,
        total_count: res.total_count,
        per_page,
        page,
        application_id: job.application_id,
        resource_job_id: job.id,
        execution_id: e.id,
        status: status.map(IterationState::as_str),
    }))
}

/// `GET …/iterations/{iterationId}` (extension): one iteration as the iterations list shows it.
pub(crate) async fn iteration(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Reply<IterationView>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let e = load_execution(&state, &job, &path).await?;
    let raw = path.0.get("iterationId").map_or("", String::as_str);
    let id = rjobs_core::engine::IterationId::parse(raw)
        .map_err(|err| ApiError::validation(format!("iterationId: {err}, got {raw:?}")))?;
    let row = match id.execution_id() == &e.id {
        true => state.store.get_iteration(&e.id, id.key()).await?,
        false => None,
    };
    let row = row.ok_or_else(|| ApiError::not_found("Iteration"))?;
    Ok(Reply(IterationView::from(&row)))
}

pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<AckBody>,
) -> ApiResult<Reply<Success>> {
    let job = crud::load::<ResourceJob>(&state, &path).await?;
    let exec = path.id("executionId")?;
    let iteration_id = path.0.get("iterationId").cloned().unwrap_or_default();
    state
        .engine
        .ack(
            &job.application_id,
            &job.id,
            &exec,
            AckRequest {
                iteration_id,
                success: body.success,
                message: body.message,
                accumulator: body.accumulator,
                attempt: body.attempt,
            },
        )
        .await?;
    Ok(success())
}

/// The CSV report: with a valid signed link (`expires`, `signature`) no token is needed.
pub(crate) async fn report(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Response> {
    let app = path.id("applicationId")?;
    let job_id = path.id("resourceJobId")?;
    let exec_id = path.id("executionId")?;
    let e = if let Some(sig) = q.get("signature") {
        let expires = q
            .get("expires")
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| {
                ApiError::validation("expires: expected milliseconds since the epoch")
            })?;
        if !state
            .engine
            .signer()
            .verify(&app, &job_id, &exec_id, expires, sig, state.clock.now())
        {
            return Err(ApiError::new(
                crate::error::ErrorKind::Forbidden,
                "The report link is invalid or has expired",
            ));
        }
        state
            .store
            .get_execution(&app, &job_id, &exec_id)
            .await?
            .ok_or_else(|| ApiError::not_found("Execution"))?
    } else {
        let job = crud::load::<ResourceJob>(&state, &path).await?;
        load_execution(&state, &job, &path).await?
    };
    let store = state.store.clone();
    let first = futures_util::stream::once(async {
        Ok::<Bytes, std::io::Error>(Bytes::from(rjobs_engine::report::header_csv()))
    });
    let rows = futures_util::stream::unfold(Some(0i64), move |after| {
        let store = store.clone();
        let exec = e.id.clone();
        async move {
            let after = after?;
            match store.iterations_after(&exec, after, 1000).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map_or(after, |r| r.seq);
                    let bytes = Bytes::from(rjobs_engine::report::rows_csv(&rows));
                    Some((Ok(bytes), Some(last)))
                }
                Err(err) => {
                    tracing::error!(error = %err, "report stream failed");
                    Some((Err(std::io::Error::other("report stream failed")), None))
                }
            }
        }
    });
    let body = Body::from_stream(futures_util::StreamExt::chain(first, rows));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"execution-{exec_id}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}
