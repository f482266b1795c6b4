//! `/applications/{applicationId}/webhooks[/{webhookId}[/deliveries]]`: signed webhooks
//! (Standard Webhooks). The secret is returned once, by the create call, and never again: not
//! by list, get or patch (the view below has no secret field), nor in any log (the record's
//! `Debug` hides it). Events are written by the store with the changes that cause them and
//! delivered by `rjobs-hooks`.

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::{parse_uint, ListSpec};
use rjobs_core::webhooks::EventType;
use rjobs_core::{Id, Timestamp};
use rjobs_store::webhooks::{AttemptRecord, WebhookRecord};
use serde::{Deserialize, Serialize};

use super::applications::load_app;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params, PathParams};
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::Reply;

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
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhookView {
    /// Id.
    id: Id,
    /// The same id.
    webhook_id: Id,
    /// Owning application.
    application_id: Id,
    /// Name.
    name: String,
    /// Where events are posted.
    url: String,
    /// The event types sent (`execution.started`, …).
    events: Vec<&'static str>,
    /// Whether events are sent.
    enabled: bool,
    /// Creation instant.
    creation_date: Timestamp,
    /// Last change.
    last_updated: Timestamp,
}

fn view(w: &WebhookRecord) -> WebhookView {
    WebhookView {
        id: w.id.clone(),
        webhook_id: w.id.clone(),
        application_id: w.application_id.clone(),
        name: w.name.clone(),
        url: w.url.clone(),
        events: w.events.iter().map(|e| e.as_str()).collect(),
        enabled: w.enabled,
        creation_date: w.creation_date,
        last_updated: w.last_updated,
    }
}

/// A new webhook: the view plus its signing secret, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct WebhookCreated {
    #[serde(flatten)]
    view: WebhookView,
    /// The signing secret (`whsec_…`).
    secret: String,
}

/// One delivery attempt.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttemptView {
    /// The event (`webhook-id`).
    event_id: String,
    /// Its type.
    event_type: &'static str,
    /// Attempt number, from 1.
    attempt: u32,
    /// The receiver's status, when it answered.
    status_code: Option<u16>,
    /// Why the attempt failed.
    error: Option<String>,
    /// How it ended.
    outcome: String,
    /// When.
    at: Timestamp,
    /// How long it took.
    duration_ms: i64,
}

fn attempt_view(a: AttemptRecord) -> AttemptView {
    AttemptView {
        event_id: a.event_id,
        event_type: a.event_type.as_str(),
        attempt: a.attempt,
        status_code: a.status_code,
        error: a.error,
        outcome: a.outcome,
        at: a.at,
        duration_ms: a.duration_ms,
    }
}

/// `GET …/deliveries`: `{count, items, webhookId}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Deliveries {
    /// Attempts listed.
    count: usize,
    /// The attempts, newest first.
    items: Vec<AttemptView>,
    /// The webhook.
    webhook_id: Id,
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
) -> ApiResult<(StatusCode, Reply<WebhookCreated>)> {
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
    let created = WebhookCreated {
        view: view(&w),
        secret: w.secret.expose().to_string(),
    };
    Ok((StatusCode::CREATED, Reply(created)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<WebhookPatch>,
) -> ApiResult<Reply<WebhookView>> {
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
    Ok(Reply(view(&next)))
}

pub(crate) async fn deliveries(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<Deliveries>> {
    let w = crud::load::<WebhookRecord>(&state, &path).await?;
    let limit = parse_uint(&q, "limit", MAX_DELIVERIES, 1, MAX_DELIVERIES)?;
    let items: Vec<AttemptView> = state
        .store
        .webhook_attempts(&w.id, limit)
        .await?
        .into_iter()
        .map(attempt_view)
        .collect();
    Ok(Reply(Deliveries {
        count: items.len(),
        items,
        webhook_id: w.id,
    }))
}

crud::owned!(
    WebhookRecord,
    "Webhook",
    "webhookId",
    LIST,
    get: get_webhook,
    page(s, app, p, q): s.list_webhooks(app, p),
    delete: delete_webhook,
    view(WebhookView): view
);
