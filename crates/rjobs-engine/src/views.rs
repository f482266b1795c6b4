//! JSON shapes shared by the API and the trigger payloads, in the original's field names: the
//! resource job object, the execution log item and the iteration item (extension).

use rjobs_core::engine::Summary;
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::jobs::ResourceJob;
use serde_json::{json, Map, Value};

/// A resource job as the API returns it.
pub fn job(j: &ResourceJob) -> Value {
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
        if let Some(a) = &j.abort_config {
            m.insert("abortConfig".into(), a.to_json());
        }
        if let Some(r) = &j.rollout_config {
            m.insert("rolloutConfig".into(), r.to_json());
        }
    }
    v
}

/// The operator-control fields of an execution (extensions): its `abortConfig`,
/// `rolloutConfig` with `currentRatePerMinute`, `abortReason` and `rerunOf`.
pub fn controls(e: &Execution, m: &mut Map<String, Value>) {
    if let Some(a) = &e.abort_config {
        m.insert("abortConfig".into(), a.to_json());
    }
    if let Some(r) = &e.rollout_config {
        m.insert("rolloutConfig".into(), r.to_json());
        m.insert(
            "currentRatePerMinute".into(),
            json!(r.rate(e.summary.succeeded)),
        );
    }
    for (key, text) in [("abortReason", &e.abort_reason), ("rerunOf", &e.rerun_of)] {
        if let Some(t) = text {
            m.insert(
                key.into(),
                serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
            );
        }
    }
}

/// The summary object `{succeeded, failed, timedOut, inProgress, remaining}`.
pub fn summary(s: &Summary) -> Value {
    json!({
        "succeeded": s.succeeded,
        "failed": s.failed,
        "timedOut": s.timed_out,
        "inProgress": s.in_progress,
        "remaining": s.remaining,
    })
}

/// An execution log item (`GET .../logs`, and the one-execution extension).
pub fn execution_log(e: &Execution, s: &Summary, report_url: Option<&str>) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(e.id));
    put("resourceJobExecutionId", json!(e.id));
    put("resourceJobId", json!(e.resource_job_id));
    put("applicationId", json!(e.application_id));
    put("status", json!(e.status.as_str()));
    put("queryJson", json!(e.query_json));
    put("resourceType", json!(e.resource_type.as_str()));
    put("templateContext", json!(e.template_context));
    put("sourceType", json!(e.source.kind));
    if let Some(id) = &e.source.id {
        put("sourceId", json!(id));
    }
    if let Some(c) = &e.cancel_source {
        put("cancelSourceType", json!(c.kind));
        if let Some(id) = &c.id {
            put("cancelSourceId", json!(id));
        }
    }
    put("runStartedAt", json!(e.run_started_at));
    if let Some(t) = e.run_completed_at {
        put("runCompletedAt", json!(t));
    }
    if let Some(u) = report_url {
        put("executionReportUrl", json!(u));
    }
    put("executionSummary", summary(s));
    if let Some(a) = &e.accumulator {
        put("accumulator", json!(a));
    }
    if let Some(t) = &e.data_table_id {
        put("dataTableId", json!(t));
    }
    if let Some(msg) = &e.error_message {
        put("errorMessage", json!(msg));
    }
    let st = &e.settings;
    put(
        "maxIterationConcurrency",
        json!(st.max_iteration_concurrency),
    );
    put("iterationDelay", json!(st.iteration_delay));
    put("iterationTimeout", json!(st.iteration_timeout));
    put("retryOnFailure", json!(st.retry_on_failure));
    put("retryOnTimeout", json!(st.retry_on_timeout));
    put("maxIterationRetries", json!(st.max_iteration_retries));
    put("retryDelay", json!(st.retry_delay));
    controls(e, &mut m);
    Value::Object(m)
}

/// An iteration item of the iterations listing (extension).
pub fn iteration(r: &IterationRow) -> Value {
    let rec = &r.record;
    json!({
        "id": r.iteration_id().to_string(),
        "resourceId": r.resource_id,
        "resourceName": r.resource_name,
        "status": rec.state.as_str(),
        "attempts": rec.attempt,
        "startedAt": rec.started_at,
        "completedAt": rec.completed_at,
        "message": rec.message,
        "accumulator": rec.accumulator,
    })
}
