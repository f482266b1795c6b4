//! `/applications/{applicationId}/flows[/{flowId}]` and `.../flows/{flowId}/logs`: the workflows
//! that resource job and timer triggers run. A timer saved without a `key` gets a generated one
//! (its `triggerId`), as in the original. Documents are the original's flow JSON, validated by
//! `rjobs-flow` (unsupported trigger or node types, dangling outputs, cycles, bad config fields
//! are 400s naming the culprit).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rjobs_core::list::{parse_uint, ListParams, ListSpec};
use rjobs_store::FlowRecord;
use serde_json::{json, Value};

use super::applications::load_app;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params, PathParams};
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "id", "creationDate", "lastUpdated"],
    filter_fields: &["name"],
    default_per_page: 100,
};

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
fn view(f: &FlowRecord) -> Value {
    let mut v = f.body.clone();
    if let Value::Object(m) = &mut v {
        m.insert("id".into(), json!(f.id));
        m.insert("flowId".into(), json!(f.id));
        m.insert("applicationId".into(), json!(f.application_id));
        m.insert("flowClass".into(), json!("cloud"));
        m.insert("creationDate".into(), json!(f.creation_date));
        m.insert("lastUpdated".into(), json!(f.last_updated));
    }
    v
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
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &path).await?;
    let p = ListParams::parse(&LIST, &q)?;
    let triggers = trigger_filter(&q)?;
    let page = state.store.list_flows(&app.id, &p, &triggers).await?;
    let items = page.items.iter().map(view).collect();
    Ok(Json(views::envelope(
        items,
        page.total_count,
        &p,
        Some(&app.id),
    )))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    Ok((StatusCode::CREATED, Json(view(&rec))))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let cur = crud::load::<FlowRecord>(&state, &path).await?;
    let def = rjobs_flow::parse_flow(&cur.body).map_err(|e| ApiError::internal(&e))?;
    let mut next_def = rjobs_flow::patch_flow(&def, &body).map_err(flow_error)?;
    let now = state.clock.now();
    rjobs_flow::timer::assign_keys(&mut next_def, || state.ids.next(now).to_string());
    let mut next = record_of(&next_def, cur.clone());
    next.last_updated = now;
    next.version = cur.version + 1;
    state.store.update_flow(&next, cur.version).await?;
    Ok(Json(view(&next)))
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let f = crud::load::<FlowRecord>(&state, &path).await?;
    let limit = parse_uint(&q, "limit", 1, 1, 1000)?;
    let since = rjobs_core::list::parse_millis(&q, "since")?;
    let runs = state.store.list_flow_runs(&f.id, since, limit).await?;
    let items: Vec<Value> = runs
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "flowId": r.flow_id,
                "applicationId": r.application_id,
                "time": r.time,
                "triggerType": r.trigger_type,
                "triggerId": r.trigger_key,
                "status": r.status,
                "error": r.error,
                "debug": r.debug,
                "durationMs": r.duration_ms,
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

crud::owned!(
    FlowRecord,
    "Flow",
    "flowId",
    LIST,
    get: get_flow,
    page(s, app, p, q): s.list_flows(app, p, &[]),
    delete: delete_flow,
    view: view
);
