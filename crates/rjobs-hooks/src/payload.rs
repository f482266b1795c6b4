//! The delivered body, `{"type", "timestamp", "data"}`, built from the outbox row's snapshot:
//! for execution events the execution view (as `GET …/executions/{id}` shows it) with the
//! status and summary as they were when the event was written; for iteration events the
//! iteration (id, resourceId, resourceName, attempts, message, status) with its execution and
//! job ids.

use rjobs_core::engine::ExecutionStatus;
use rjobs_core::engine::IterationId;
use rjobs_core::execution::Execution;
use rjobs_store::webhooks::Delivery;
use serde_json::{json, Value};

/// The body of delivery `d`; `exec` is its execution as loaded now (`None` if it is gone).
pub fn body(d: &Delivery, exec: Option<&Execution>) -> Value {
    let data = match &d.iteration {
        Some(it) => json!({
            "id": IterationId::new(d.execution_id.clone(), it.resource_id.clone()).to_string(),
            "resourceId": it.resource_id,
            "resourceName": it.resource_name,
            "status": d.status,
            "attempts": it.attempts,
            "message": it.message,
            "executionId": d.execution_id,
            "resourceJobId": d.resource_job_id,
            "applicationId": d.application_id,
        }),
        None => match exec {
            Some(e) => {
                let mut e = e.clone();
                if let Some(st) = ExecutionStatus::parse(&d.status) {
                    e.status = st;
                }
                rjobs_engine::views::execution_log(&e, &d.summary, None)
            }
            None => json!({
                "id": d.execution_id,
                "resourceJobExecutionId": d.execution_id,
                "resourceJobId": d.resource_job_id,
                "applicationId": d.application_id,
                "status": d.status,
                "executionSummary": rjobs_engine::views::summary(&d.summary),
            }),
        },
    };
    json!({
        "type": d.event_type.as_str(),
        "timestamp": d.event_at,
        "data": data,
    })
}
