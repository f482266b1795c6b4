//! The resource job object in the original's field names.

use rjobs_core::jobs::ResourceJob;
use serde_json::{json, Value};

/// A job as the API returns it.
pub(crate) fn job(j: &ResourceJob) -> Value {
    let mut v = json!({
        "id": j.id,
        "resourceJobId": j.id,
        "applicationId": j.application_id,
        "name": j.name,
        "description": j.description,
        "resourceType": j.resource_type.as_str(),
        "queryJson": j.query_json,
        "defaultContext": j.default_context,
        "maxIterationConcurrency": j.max_iteration_concurrency,
        "iterationDelay": j.iteration_delay,
        "iterationTimeout": j.iteration_timeout,
        "retryOnFailure": j.retry_on_failure,
        "retryOnTimeout": j.retry_on_timeout,
        "maxIterationRetries": j.max_iteration_retries,
        "retryDelay": j.retry_delay,
        "creationDate": j.creation_date,
        "lastUpdated": j.last_updated,
    });
    if let Value::Object(m) = &mut v {
        if let Some(t) = &j.data_table_id {
            m.insert("dataTableId".into(), json!(t));
        }
        if let Some(t) = j.last_execution_requested {
            m.insert("lastExecutionRequested".into(), json!(t));
        }
    }
    v
}
