//! `/applications/{applicationId}/data-tables[/{dataTableId}]` (rows are in `rows.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::resources::{DataTable, TablePatch, TablePost};
use serde_json::Value;

use super::success;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::routes::applications::load_app;
use crate::state::AppState;
use crate::views;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "id", "creationDate", "lastUpdated"],
    filter_fields: &["name"],
    default_per_page: 100,
};

/// Authorizes `a`, loads the application and the table in the path (404 naming which).
pub(crate) async fn load_table(state: &AppState, path: &PathParams) -> ApiResult<DataTable> {
    let app = load_app(state, path).await?;
    let id = path.id("dataTableId")?;
    state
        .store
        .get_data_table(&app.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Data table"))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &path).await?;
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

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<TablePost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let t = body.into_table(state.ids.next(now), app.id, now)?;
    state.store.insert_data_table(&t).await?;
    Ok((StatusCode::CREATED, Json(t.to_json())))
}

pub(crate) async fn read(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &path).await?;
    Ok(Json(t.to_json()))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<TablePatch>,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &path).await?;
    let next = body.apply(&t, state.clock.now())?;
    if !state.store.update_data_table(&next).await? {
        return Err(ApiError::not_found("Data table"));
    }
    Ok(Json(next.to_json()))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let t = load_table(&state, &path).await?;
    if !state
        .store
        .delete_data_table(&t.application_id, &t.id)
        .await?
    {
        return Err(ApiError::not_found("Data table"));
    }
    Ok(Json(success()))
}
