//! `/applications/{applicationId}/data-tables[/{dataTableId}]` (rows are in `rows.rs`).

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::ListSpec;
use rjobs_core::resources::{DataTable, TablePatch, TablePost, TableView};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use crate::routes::applications::load_app;
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::Reply;

const LIST: ListSpec = crud::named_list!([], ["name"]);

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<TablePost>,
) -> ApiResult<(StatusCode, Reply<TableView>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let t = body.into_table(state.ids.next(now), app.id, now)?;
    state.store.insert_data_table(&t).await?;
    Ok((StatusCode::CREATED, Reply(t.view())))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<TablePatch>,
) -> ApiResult<Reply<TableView>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    let next = body.apply(&t, state.clock.now())?;
    if !state.store.update_data_table(&next).await? {
        return Err(ApiError::not_found("Data table"));
    }
    Ok(Reply(next.view()))
}

crud::owned!(
    DataTable,
    "Data table",
    "dataTableId",
    LIST,
    get: get_data_table,
    page(s, app, p, q): s.list_data_tables(app, p),
    delete: delete_data_table,
    view(TableView): DataTable::view
);
