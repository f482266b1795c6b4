//! `/applications/{applicationId}/data-tables/{dataTableId}/rows[/{rowId}]`, `rows/query` and
//! the `rows/bulk` extension. Paging is the original's `limit`/`offset` (not `page`/`perPage`)
//! and the envelope is `dataTableRows.json`'s.
//!
//! `POST rows/query` takes the advanced query as the body, as the official clients send it; a
//! body of exactly `{"query": {...}}` is unwrapped unless the table has a column named `query`.

use std::collections::HashMap;

use axum::extract::{FromRequest, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use rjobs_core::list::{parse_uint, FieldError};
use rjobs_core::resources::{at_index, DataRow, DataTable, RowView};
use rjobs_core::Id;
use rjobs_query::{ResourceType, TableSchema};
use rjobs_store::resources::RowParams;
use serde::Serialize;
use serde_json::Value;

use super::{check_bulk_len, parse_query};
use crate::error::{ApiError, ApiResult, ErrorKind};
use crate::extract::{parse_json, JsonArray, JsonBody, NoBody, Params, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use crate::views::{success, Created, Reply, Success};

/// Default and largest `limit`.
const DEFAULT_LIMIT: u32 = 1000;
const MAX_LIMIT: u32 = 10_000;

/// The body of `POST .../rows`: one row object or an array of them.
pub(crate) struct RowBody(Value);

/// The shape [`RowBody`] accepts, for the OpenAPI document: one row (column name → cell) or an
/// array of up to 10,000 of them. Written as one schema of two types rather than an `anyOf`
/// (`additionalProperties` applies to the object, `items` to the array): the same set of
/// documents, and schemathesis' coverage phase crashed on the `anyOf` form.
pub(crate) struct RowsBody;

impl schemars::JsonSchema for RowsBody {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RowsBody".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let cell = g.subschema_for::<rjobs_core::resources::Cell>();
        let row = g.subschema_for::<RowFields>();
        schemars::json_schema!({
            "type": ["object", "array"],
            "additionalProperties": cell,
            "items": row,
            "maxItems": rjobs_core::resources::MAX_BULK,
        })
    }
}

/// A row's fields (column name → cell), for the OpenAPI document.
pub(crate) type RowFields = std::collections::BTreeMap<String, rjobs_core::resources::Cell>;

impl FromRequest<AppState> for RowBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        let limit = state.settings.body_limit;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorKind::PayloadTooLarge,
                    format!("Request body is larger than the limit of {limit} bytes"),
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::validation("A JSON body is required"));
        }
        if !json {
            return Err(ApiError::validation(
                "Content-Type must be application/json",
            ));
        }
        match parse_json::<Value>(&bytes)? {
            v @ (Value::Object(_) | Value::Array(_)) => Ok(RowBody(v)),
            _ => Err(ApiError::validation(
                "The JSON body must be a row object or an array of rows",
            )),
        }
    }
}

fn row_params(t: &DataTable, q: &HashMap<String, String>) -> Result<RowParams, FieldError> {
    let limit = parse_uint(q, "limit", DEFAULT_LIMIT, 0, MAX_LIMIT)?;
    let offset = parse_uint(q, "offset", 0, 0, u32::MAX)?;
    let sort_column = q
        .get("sortColumn")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    if let Some(c) = sort_column {
        if !matches!(c, "id" | "createdAt" | "updatedAt") && t.column(c).is_none() {
            return Err(FieldError::new(
                "sortColumn",
                format!("{c:?} is not a column of this data table"),
            ));
        }
    }
    let descending = match q
        .get("sortDirection")
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => false,
        Some(s) if s.is_empty() || s == "asc" => false,
        Some(s) if s == "desc" => true,
        Some(_) => return Err(FieldError::new("sortDirection", "must be asc or desc")),
    };
    Ok(RowParams {
        limit,
        offset: u64::from(offset),
        sort_column: sort_column.map(str::to_owned),
        descending,
    })
}

/// A page of rows: `{items, count, totalCount, limit, offset, sortColumn?, sortDirection,
/// dataTableId, applicationId, query?}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RowList {
    /// The rows.
    items: Vec<RowView>,
    /// Rows on this page.
    count: usize,
    /// Rows matching.
    total_count: u64,
    /// Page size.
    limit: u32,
    /// Rows skipped.
    offset: u64,
    /// The column sorted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    sort_column: Option<String>,
    /// `asc` or `desc`.
    sort_direction: &'static str,
    /// The table.
    data_table_id: Id,
    /// Its application.
    application_id: Id,
    /// The query, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<Value>,
}

/// What creating rows answers: the row, or the rows of an array body.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub(crate) enum RowsCreated {
    /// One row.
    One(RowView),
    /// The rows, in the order of the body.
    Many(Vec<RowView>),
}

async fn page(
    state: &AppState,
    t: &DataTable,
    q: &HashMap<String, String>,
    query: Option<Value>,
) -> ApiResult<Reply<RowList>> {
    let p = row_params(t, q)?;
    let parsed = match &query {
        Some(v) => Some(parse_query(
            ResourceType::DataTableRow,
            v,
            Some(&TableSchema::of(t)),
        )?),
        None => None,
    };
    let page = state.store.query_rows(t, &p, parsed.as_ref()).await?;
    let items: Vec<RowView> = page.items.iter().map(DataRow::view).collect();
    Ok(Reply(RowList {
        count: items.len(),
        items,
        total_count: page.total_count,
        limit: p.limit,
        offset: p.offset,
        sort_column: p.sort_column,
        sort_direction: if p.descending { "desc" } else { "asc" },
        data_table_id: t.id.clone(),
        application_id: t.application_id.clone(),
        query,
    }))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<RowList>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    page(&state, &t, &q, None).await
}

pub(crate) async fn query(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
    JsonBody(mut v): JsonBody<Value>,
) -> ApiResult<Reply<RowList>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    if let Value::Object(m) = &v {
        if m.len() == 1 && t.column("query").is_none() {
            if let Some(inner @ Value::Object(_)) = m.get("query") {
                v = inner.clone();
            }
        }
    }
    page(&state, &t, &q, Some(v)).await
}

fn new_rows(
    state: &AppState,
    t: &DataTable,
    bodies: &[Value],
    indexed: bool,
) -> ApiResult<Vec<DataRow>> {
    let now = state.clock.now();
    bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let data = t
                .new_row(b)
                .map_err(|e| if indexed { at_index(i, e) } else { e })?;
            Ok(DataRow {
                id: state.ids.next(now),
                application_id: t.application_id.clone(),
                data_table_id: t.id.clone(),
                data,
                created_at: now,
                updated_at: now,
            })
        })
        .collect()
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    RowBody(v): RowBody,
) -> ApiResult<(StatusCode, Reply<RowsCreated>)> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    match v {
        Value::Array(items) => {
            check_bulk_len(items.len())?;
            let rows = new_rows(&state, &t, &items, true)?;
            state.store.insert_rows(&t, &rows).await?;
            let out = rows.iter().map(DataRow::view).collect();
            Ok((StatusCode::CREATED, Reply(RowsCreated::Many(out))))
        }
        other => {
            let mut rows = new_rows(&state, &t, std::slice::from_ref(&other), false)?;
            state.store.insert_rows(&t, &rows).await?;
            let row = rows
                .pop()
                .ok_or_else(|| ApiError::internal(&"no row created"))?;
            Ok((StatusCode::CREATED, Reply(RowsCreated::One(row.view()))))
        }
    }
}

pub(crate) async fn bulk(
    State(state): State<AppState>,
    path: PathParams,
    JsonArray(items): JsonArray<Value>,
) -> ApiResult<(StatusCode, Reply<Created>)> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    check_bulk_len(items.len())?;
    let rows = new_rows(&state, &t, &items, true)?;
    state.store.insert_rows(&t, &rows).await?;
    Ok((StatusCode::CREATED, Created::of(rows.iter().map(|r| &r.id))))
}

async fn load_row(state: &AppState, t: &DataTable, path: &PathParams) -> ApiResult<DataRow> {
    let id = path.id("rowId")?;
    state
        .store
        .get_row(&t.application_id, &t.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Data table row"))
}

pub(crate) async fn read(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Reply<RowView>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    Ok(Reply(load_row(&state, &t, &path).await?.view()))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Reply<RowView>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    let row = load_row(&state, &t, &path).await?;
    let mut next = row.clone();
    next.data = t.patch_row(&row.data, &v)?;
    next.updated_at = state.clock.now();
    if !state.store.update_row(&t, &next).await? {
        return Err(ApiError::not_found("Data table row"));
    }
    Ok(Reply(next.view()))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Reply<Success>> {
    let t = crud::load::<DataTable>(&state, &path).await?;
    let id = path.id("rowId")?;
    if !state
        .store
        .delete_row(&t.application_id, &t.id, &id)
        .await?
    {
        return Err(ApiError::not_found("Data table row"));
    }
    Ok(success())
}
