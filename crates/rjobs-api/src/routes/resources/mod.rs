//! The resources of SPEC §3 at the original API's paths: devices, data tables and rows,
//! experience groups and users, plus the bulk-creation extension (`POST .../bulk`).
//!
//! Handlers follow the house pattern — authorize and load the application, validate with the
//! `rjobs_core::resources` bodies, one store call, render with the records' typed views — and the
//! pieces every resource shares live here: parsing the `query` parameter into a compiled-later
//! advanced query and the bulk-body rules.

use std::collections::HashMap;

use rjobs_core::list::FieldError;
use rjobs_core::resources::{at_index, MAX_BULK};
use rjobs_query::{Query, QueryError, ResourceType, TableSchema};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

pub(crate) mod data_tables;
pub(crate) mod devices;
pub(crate) mod groups;
mod password;
pub(crate) mod rows;
pub(crate) mod users;

/// A query-language error as a 400 naming the offending part (`query.$or[2].tags: ...`).
pub(crate) fn query_error(e: QueryError) -> ApiError {
    if e.path.is_empty() {
        ApiError::validation(e.to_string())
    } else {
        ApiError::validation(format!("query.{}: {}", e.path, e.message))
    }
}

/// Parses an advanced query given as a JSON value.
pub(crate) fn parse_query(
    rt: ResourceType,
    v: &Value,
    table: Option<&TableSchema>,
) -> ApiResult<Query> {
    rjobs_query::parse(rt, v, table).map_err(query_error)
}

/// The `query` list parameter (a JSON string), parsed; with the JSON to echo in the envelope.
pub(crate) fn list_query(
    rt: ResourceType,
    q: &HashMap<String, String>,
) -> ApiResult<Option<(Query, Value)>> {
    let Some(raw) = q.get("query").filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::validation(format!("query: is not valid JSON: {e}")))?;
    if let Some((path, c)) = rjobs_core::text::find_control(&v) {
        let field = if path.is_empty() {
            "query".to_string()
        } else {
            format!("query.{path}")
        };
        return Err(ApiError::validation(rjobs_core::text::control_message(
            &field, c,
        )));
    }
    Ok(Some((parse_query(rt, &v, None)?, v)))
}

/// Checks a bulk body's size.
pub(crate) fn check_bulk_len(n: usize) -> ApiResult<()> {
    if n == 0 || n > MAX_BULK {
        return Err(ApiError::validation(format!(
            "body: a bulk call takes between 1 and {MAX_BULK} items, got {n}"
        )));
    }
    Ok(())
}

/// Validates every item with `f`, naming the index of the first bad one.
pub(crate) fn validate_all<B, T>(
    items: Vec<B>,
    mut f: impl FnMut(B) -> Result<T, FieldError>,
) -> ApiResult<Vec<T>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, b)| f(b).map_err(|e| ApiError::from(at_index(i, e))))
        .collect()
}
