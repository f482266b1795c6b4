//! `/applications` and `/applications/{applicationId}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::model::Application;
use rjobs_core::Id;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::scopes::{action, Action};
use crate::state::AppState;
use crate::views;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "id", "creationDate", "lastUpdated"],
    filter_fields: &["name"],
    default_per_page: 100,
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/applications", get(list).post(create))
        .route(
            "/applications/{applicationId}",
            get(read).patch(update).delete(remove),
        )
}

/// Authorizes `action` on the application in the path and loads it (404 if absent).
pub(crate) async fn load_app(
    state: &AppState,
    who: &Principal,
    action: &Action,
    path: &PathParams,
) -> ApiResult<Application> {
    let app_id = path.id("applicationId")?;
    who.authorize(action, Some(&app_id))?;
    state
        .store
        .get_application(&app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Application"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AppPost {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AppPatch {
    name: Option<String>,
    description: Option<String>,
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::validation(
            "name: must be between 1 and 255 characters",
        ));
    }
    Ok(())
}

fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 32767 {
        return Err(ApiError::validation(
            "description: must be at most 32767 characters",
        ));
    }
    Ok(())
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    who.authorize(&action::APPLICATIONS_GET, None)?;
    let p = ListParams::parse(&LIST, &q)?;
    let page = state.store.list_applications(&p).await?;
    let items = page.items.iter().map(views::application).collect();
    Ok(Json(views::envelope(items, page.total_count, &p, None)))
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    JsonBody(body): JsonBody<AppPost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    who.authorize(&action::APPLICATIONS_POST, None)?;
    check_name(&body.name)?;
    check_description(&body.description)?;
    let now = state.clock.now();
    let app = Application {
        id: state.ids.next(now),
        name: body.name,
        description: body.description,
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    state.store.insert_application(&app).await?;
    Ok((StatusCode::CREATED, Json(views::application(&app))))
}

async fn read(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &who, &action::APPLICATION_GET, &path).await?;
    Ok(Json(views::application(&app)))
}

async fn update(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    JsonBody(body): JsonBody<AppPatch>,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &who, &action::APPLICATION_PATCH, &path).await?;
    let mut next = app.clone();
    if let Some(n) = body.name {
        check_name(&n)?;
        next.name = n;
    }
    if let Some(d) = body.description {
        check_description(&d)?;
        next.description = d;
    }
    next.last_updated = state.clock.now();
    next.version = app.version + 1;
    state
        .store
        .update_application(&next, app.version)
        .await
        .map_err(conflict_to_retry)?;
    Ok(Json(views::application(&next)))
}

async fn remove(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let app: Id = load_app(&state, &who, &action::APPLICATION_DELETE, &path)
        .await?
        .id;
    if !state.store.delete_application(&app).await? {
        return Err(ApiError::not_found("Application"));
    }
    Ok(Json(json!({"success": true})))
}

/// A concurrent writer won the compare-and-set: tell the client to retry.
pub(crate) fn conflict_to_retry(e: rjobs_store::StoreError) -> ApiError {
    match e {
        rjobs_store::StoreError::Conflict => ApiError::new(
            crate::error::ErrorKind::Conflict,
            "The record was changed concurrently; retry the request",
        ),
        other => other.into(),
    }
}
