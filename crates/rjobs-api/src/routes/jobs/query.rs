//! Checking a job's `queryJson` against its resource type's grammar, with the data table's columns
//! for row jobs. A templated query (or a templated table) can only be checked after rendering, at
//! execute time.

use rjobs_core::jobs::{is_template, ResourceJob, ResourceType};
use rjobs_core::resources::table::DataTable;
use rjobs_core::Id;
use rjobs_query::TableSchema;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Loads the table a literal `dataTableId` names (400 if the application has no such table).
pub(crate) async fn literal_table(
    state: &AppState,
    app: &Id,
    table_ref: &str,
) -> ApiResult<Option<DataTable>> {
    let Ok(id) = Id::parse(table_ref) else {
        return Ok(None);
    };
    match state.store.get_data_table(app, &id).await? {
        Some(t) => Ok(Some(t)),
        None => Err(ApiError::validation(format!(
            "dataTableId: no data table {id} exists in this application"
        ))),
    }
}

/// Validates the job's data table reference and query (as far as templates allow).
pub(crate) async fn check_job(state: &AppState, job: &ResourceJob) -> ApiResult<()> {
    let table = match &job.data_table_id {
        Some(t) => literal_table(state, &job.application_id, t).await?,
        None => None,
    };
    // Templates are held to `rjobs_flow::bounds` already at save time (no partials, bounded nesting).
    for (field, t) in [
        ("queryJson", Some(&job.query_json)),
        ("dataTableId", job.data_table_id.as_ref()),
    ] {
        if let Some(t) = t.filter(|t| is_template(t)) {
            rjobs_flow::template::check(t)
                .map_err(|e| ApiError::validation(format!("{field}: {e}")))?;
        }
    }
    if is_template(&job.query_json) {
        return Ok(());
    }
    let schema = match (job.resource_type, &table) {
        (ResourceType::DataTableRow, Some(t)) => Some(TableSchema::of(t)),
        // A templated table: its columns are known only at execute time.
        (ResourceType::DataTableRow, None) => return Ok(()),
        _ => None,
    };
    rjobs_query::parse_str(job.resource_type, &job.query_json, schema.as_ref())
        .map_err(|e| ApiError::validation(format!("queryJson: {e}")))?;
    Ok(())
}
