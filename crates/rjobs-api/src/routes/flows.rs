//! `/applications/{applicationId}/flows[/{flowId}]` and `.../flows/{flowId}/logs`: the workflows
//! that resource job and timer triggers run. A timer saved without a `key` gets a generated one
//! (its `triggerId`), as in the original. Documents are the original's flow JSON, validated by
//! `rjobs-flow` (unsupported trigger or node types, dangling outputs, cycles, bad config fields
//! are 400s naming the culprit).

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::{parse_uint, ListParams, ListSpec};
use rjobs_core::{Id, Timestamp};
use rjobs_store::FlowRecord;
use serde::Serialize;
use serde_json::{Map, Value};

use super::applications::load_app;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params, PathParams};
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::{List, Reply};

const LIST: ListSpec = crud::named_list!([], ["name"]);

fn record_of(def: &rjobs_flow::FlowDef, base: FlowRecord) -> FlowRecord {
    let body = rjobs_flow::flow_json(def);
    FlowRecord {
        name: def.name.clone(),
        description: def.description.clone(),
        enabled: def.enabled,
        triggers: def
            .triggers
            .iter()
            .map(|t| (t.trigger_type.clone(), t.key.clone()))
            .collect(),
        body,
        ..base
    }
}

/// The flow as the API returns it: the document plus id, flowId, applicationId and dates.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowView {
    /// The workflow document (name, description, enabled, triggers, nodes, …), as `rjobs-flow`
    /// renders it. First, so that the fields below win over any of the same name.
    #[serde(flatten)]
    document: Map<String, Value>,
    /// Id.
    id: Id,
    /// The same id.
    flow_id: Id,
    /// Owning application.
    application_id: Id,
    /// Always `cloud`.
    flow_class: &'static str,
    /// Creation instant.
    creation_date: Timestamp,
    /// Last change.
    last_updated: Timestamp,
}

fn view(f: &FlowRecord) -> FlowView {
    FlowView {
        document: f.body.as_object().cloned().unwrap_or_default(),
        id: f.id.clone(),
        flow_id: f.id.clone(),
        application_id: f.application_id.clone(),
        flow_class: "cloud",
        creation_date: f.creation_date,
        last_updated: f.last_updated,
    }
}

/// One run of a workflow, in `GET .../flows/{flowId}/logs`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FlowRunView {
    /// Id.
    id: Id,
    /// The workflow.
    flow_id: Id,
    /// Its application.
    application_id: Id,
    /// When it ran.
    time: Timestamp,
    /// What triggered it.
    trigger_type: String,
    /// The trigger's key.
    trigger_id: String,
    /// How it ended.
    status: String,
    /// Why it failed.
    error: Option<String>,
    /// What debug nodes recorded.
    debug: Value,
    /// How long it took.
    duration_ms: i64,
}

fn flow_error(e: rjobs_flow::FlowError) -> ApiError {
    ApiError::validation(e.to_string())
}

/// `triggerFilter[i][type]` / `triggerFilter[i][key]` (how both official clients send it).
fn trigger_filter(
    q: &std::collections::HashMap<String, String>,
) -> ApiResult<Vec<(String, String)>> {
    let mut by_index: std::collections::BTreeMap<u32, (Option<String>, Option<String>)> =
        Default::default();
    for (k, v) in q {
        let Some(rest) = k.strip_prefix("triggerFilter[") else {
            continue;
        };
        let (idx, field) = rest
            .split_once("][")
            .and_then(|(i, f)| Some((i.parse::<u32>().ok()?, f.strip_suffix(']')?)))
            .ok_or_else(|| {
                ApiError::validation(format!("{k}: expected triggerFilter[<n>][type|key]"))
            })?;
        let e = by_index.entry(idx).or_default();
        match field {
            "type" => e.0 = Some(v.clone()),
            "key" => e.1 = Some(v.clone()),
            _ => return Err(ApiError::validation(format!("{k}: expected type or key"))),
        }
    }
    if by_index.len() > 100 {
        return Err(ApiError::validation("triggerFilter: at most 100 items"));
    }
    by_index
        .into_iter()
        .map(|(i, (t, k))| match (t, k) {
            (Some(t), Some(k)) => Ok((t, k)),
            _ => Err(ApiError::validation(format!(
                "triggerFilter[{i}]: both type and key are required"
            ))),
        })
        .collect()
}

pub(crate) async fn list(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<List<FlowView>>> {
    let app = load_app(&state, &path).await?;
    let p = ListParams::parse(&LIST, &q)?;
    let triggers = trigger_filter(&q)?;
    let page = state.store.list_flows(&app.id, &p, &triggers).await?;
    let items = page.items.iter().map(view).collect();
    Ok(Reply(List::new(items, page.total_count, &p, Some(&app.id))))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Reply<FlowView>)> {
    let app = load_app(&state, &path).await?;
    let mut def = rjobs_flow::parse_flow(&body).map_err(flow_error)?;
    let now = state.clock.now();
    rjobs_flow::timer::assign_keys(&mut def, || state.ids.next(now).to_string());
    let base = FlowRecord {
        id: state.ids.next(now),
        application_id: app.id,
        name: String::new(),
        description: String::new(),
        enabled: true,
        body: Value::Null,
        triggers: vec![],
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    let rec = record_of(&def, base);
    state.store.insert_flow(&rec).await?;
    Ok((StatusCode::CREATED, Reply(view(&rec))))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Reply<FlowView>> {
    let cur = crud::load::<FlowRecord>(&state, &path).await?;
    let def = rjobs_flow::parse_flow(&cur.body).map_err(|e| ApiError::internal(&e))?;
    let mut next_def = rjobs_flow::patch_flow(&def, &body).map_err(flow_error)?;
    let now = state.clock.now();
    rjobs_flow::timer::assign_keys(&mut next_def, || state.ids.next(now).to_string());
    let mut next = record_of(&next_def, cur.clone());
    next.last_updated = now;
    next.version = cur.version + 1;
    state.store.update_flow(&next, cur.version).await?;
    Ok(Reply(view(&next)))
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<Vec<FlowRunView>>> {
    let f = crud::load::<FlowRecord>(&state, &path).await?;
    let limit = parse_uint(&q, "limit", 1, 1, 1000)?;
    let since = rjobs_core::list::parse_millis(&q, "since")?;
    let runs = state.store.list_flow_runs(&f.id, since, limit).await?;
    let items = runs
        .into_iter()
        .map(|r| FlowRunView {
            id: r.id,
            flow_id: r.flow_id,
            application_id: r.application_id,
            time: r.time,
            trigger_type: r.trigger_type,
            trigger_id: r.trigger_key,
            status: r.status,
            error: r.error,
            debug: r.debug,
            duration_ms: r.duration_ms,
        })
        .collect();
    Ok(Reply(items))
}

crud::owned!(
    FlowRecord,
    "Flow",
    "flowId",
    LIST,
    get: get_flow,
    page(s, app, p, q): s.list_flows(app, p, &[]),
    delete: delete_flow,
    view(FlowView): view
);
