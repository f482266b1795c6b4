//! `/applications` and `/applications/{applicationId}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::model::Application;
use rjobs_core::Id;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::state::AppState;
use crate::views;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "id", "creationDate", "lastUpdated"],
    filter_fields: &["name"],
    default_per_page: 100,
};

/// The application in the path (404 if absent); its guard has authorized the caller.
pub(crate) async fn load_app(state: &AppState, path: &PathParams) -> ApiResult<Application> {
    let app_id = path.id("applicationId")?;
    state
        .store
        .get_application(&app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Application"))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppPost {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppPatch {
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

pub(crate) async fn list(
    State(state): State<AppState>,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let p = ListParams::parse(&LIST, &q)?;
    let page = state.store.list_applications(&p).await?;
    let items = page.items.iter().map(views::application).collect();
    Ok(Json(views::envelope(items, page.total_count, &p, None)))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AppPost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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

pub(crate) async fn read(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &path).await?;
    Ok(Json(views::application(&app)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<AppPatch>,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &path).await?;
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
    state.store.update_application(&next, app.version).await?;
    Ok(Json(views::application(&next)))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let app: Id = load_app(&state, &path).await?.id;
    if !state.store.delete_application(&app).await? {
        return Err(ApiError::not_found("Application"));
    }
    Ok(Json(json!({"success": true})))
}
