//! `/applications/{applicationId}/data-tables[/{dataTableId}]` (rows are in `rows.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::resources::{DataTable, TablePatch, TablePost};
use serde_json::Value;

use super::success;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::routes::applications::load_app;
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
        .route(
            "/applications/{applicationId}/data-tables",
            get(list).post(create),
        )
        .route(
            "/applications/{applicationId}/data-tables/{dataTableId}",
            get(read).patch(update).delete(remove),
        )
}

/// Authorizes `a`, loads the application and the table in the path (404 naming which).
pub(crate) async fn load_table(
    state: &AppState,
    who: &Principal,
    a: &Action,
    path: &PathParams,
) -> ApiResult<DataTable> {
    let app = load_app(state, who, a, path).await?;
    let id = path.id("dataTableId")?;
    state
        .store
        .get_data_table(&app.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Data table"))
}

async fn list(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &who, &action::DATA_TABLES_GET, &path).await?;
    let p = ListParams::parse(&LIST, &q)?;
    let page = state.store.list_data_tables(&app.id, &p).await?;
    let items = page.items.iter().map(DataTable::to_json).collect();
    Ok(Json(views::envelope(
        items,
        page.total_count,
        &p,
        Some(&app.id),
    )))
}

async fn create(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    JsonBody(body): JsonBody<TablePost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, &who, &action::DATA_TABLES_POST, &path).await?;
    let now = state.clock.now();
    let t = body.into_table(state.ids.next(now), app.id, now)?;
    state.store.insert_data_table(&t).await?;
    Ok((StatusCode::CREATED, Json(t.to_json())))
}

async fn read(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &who, &action::DATA_TABLE_GET, &path).await?;
    Ok(Json(t.to_json()))
}

async fn update(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    JsonBody(body): JsonBody<TablePatch>,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &who, &action::DATA_TABLE_PATCH, &path).await?;
    let next = body.apply(&t, state.clock.now())?;
    if !state.store.update_data_table(&next).await? {
        return Err(ApiError::not_found("Data table"));
    }
    Ok(Json(next.to_json()))
}

async fn remove(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &who, &action::DATA_TABLE_DELETE, &path).await?;
    if !state
        .store
        .delete_data_table(&t.application_id, &t.id)
        .await?
    {
        return Err(ApiError::not_found("Data table"));
    }
    Ok(Json(success()))
}
