//! `/applications/{applicationId}/webhooks[/{webhookId}[/deliveries]]`: signed webhooks
//! (Standard Webhooks). The secret is returned once, by the create call, and never again: not
//! by list, get or patch (the view below has no secret field), nor in any log (the record's
//! `Debug` hides it). Events are written by the store with the changes that cause them and
//! delivered by `rjobs-hooks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rjobs_core::list::{parse_uint, ListSpec};
use rjobs_core::webhooks::EventType;
use rjobs_store::webhooks::{AttemptRecord, WebhookRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use super::applications::load_app;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params, PathParams};
use crate::routes::crud::{self};
use crate::state::AppState;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "id", "url", "creationDate"],
    filter_fields: &["name", "url"],
    default_per_page: 100,
};

/// Most attempts `GET …/deliveries` returns.
const MAX_DELIVERIES: u32 = 100;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WebhookPost {
    name: String,
    url: String,
    events: Vec<String>,
    enabled: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct WebhookPatch {
    name: Option<String>,
    url: Option<String>,
    events: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// A webhook as the API shows it (never with its secret).
fn view(w: &WebhookRecord) -> Value {
    json!({
        "id": w.id,
        "webhookId": w.id,
        "applicationId": w.application_id,
        "name": w.name,
        "url": w.url,
        "events": w.events.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "enabled": w.enabled,
        "creationDate": w.creation_date,
        "lastUpdated": w.last_updated,
    })
}

fn attempt_view(a: &AttemptRecord) -> Value {
    json!({
        "eventId": a.event_id,
        "eventType": a.event_type.as_str(),
        "attempt": a.attempt,
        "statusCode": a.status_code,
        "error": a.error,
        "outcome": a.outcome,
        "at": a.at,
        "durationMs": a.duration_ms,
    })
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(ApiError::validation(
            "name: must be between 1 and 255 characters",
        ));
    }
    Ok(())
}

fn check_url(url: &str) -> ApiResult<()> {
    rjobs_hooks::target_url(url)
        .map(|_| ())
        .map_err(|e| ApiError::validation(format!("url: {e}")))
}

fn parse_events(names: &[String]) -> ApiResult<Vec<EventType>> {
    if names.is_empty() {
        return Err(ApiError::validation("events: must hold at least one event"));
    }
    let mut out = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let e = EventType::parse(n).ok_or_else(|| {
            let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            ApiError::validation(format!(
                "events[{i}]: {n:?} is not an event; expected one of {}",
                all.join(", ")
            ))
        })?;
        out.push(e);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<WebhookPost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, &path).await?;
    check_name(&body.name)?;
    check_url(&body.url)?;
    let events = parse_events(&body.events)?;
    let now = state.clock.now();
    let w = WebhookRecord {
        id: state.ids.next(now),
        application_id: app.id,
        name: body.name,
        url: body.url,
        secret: rjobs_hooks::new_secret(),
        events,
        enabled: body.enabled.unwrap_or(true),
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    state.store.insert_webhook(&w).await?;
    let mut v = view(&w);
    v["secret"] = json!(w.secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<WebhookPatch>,
) -> ApiResult<Json<Value>> {
    let w = crud::load::<WebhookRecord>(&state, &path).await?;
    let mut next = w.clone();
    if let Some(n) = body.name {
        check_name(&n)?;
        next.name = n;
    }
    if let Some(u) = body.url {
        check_url(&u)?;
        next.url = u;
    }
    if let Some(e) = body.events {
        next.events = parse_events(&e)?;
    }
    if let Some(en) = body.enabled {
        next.enabled = en;
    }
    next.last_updated = state.clock.now();
    next.version = w.version + 1;
    state.store.update_webhook(&next, w.version).await?;
    Ok(Json(view(&next)))
}

pub(crate) async fn deliveries(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let w = crud::load::<WebhookRecord>(&state, &path).await?;
    let limit = parse_uint(&q, "limit", MAX_DELIVERIES, 1, MAX_DELIVERIES)?;
    let items: Vec<Value> = state
        .store
        .webhook_attempts(&w.id, limit)
        .await?
        .iter()
        .map(attempt_view)
        .collect();
    Ok(Json(json!({
        "count": items.len(),
        "items": items,
        "webhookId": w.id,
    })))
}

crud::owned!(
    WebhookRecord,
    "Webhook",
    "webhookId",
    LIST,
    get: get_webhook,
    page(s, app, p, q): s.list_webhooks(app, p),
    delete: delete_webhook,
    view: view
);
