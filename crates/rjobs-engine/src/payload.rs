//! Trigger payload `data`, exactly as the original's (reference §5): the 18-key `execution`
//! object with the parsed `context` and `query`, the resource under the key named by the resource
//! type, `iterationId`, retry flags and attempt number, and the accumulator as a parsed value
//! (so `{{data.accumulator.n}}` works in templates).

use rjobs_core::engine::{AttemptInfo, Summary};
use rjobs_core::execution::{Execution, IterationRow};
use rjobs_core::jobs::ResourceJob;
use serde_json::{json, Map, Value};

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The accumulator as a parsed value (`{}` before the first one).
pub(crate) fn accumulator(text: Option<&str>) -> Value {
    text.map_or_else(|| json!({}), parsed)
}

/// The `execution` object of iteration and timeout payloads.
pub(crate) fn execution(e: &Execution) -> Map<String, Value> {
    let s = &e.settings;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("applicationId", json!(e.application_id));
    put("context", parsed(&e.template_context));
    put("id", json!(e.id));
    put("iterationDelay", json!(s.iteration_delay));
    put("iterationTimeout", json!(s.iteration_timeout));
    put(
        "maxIterationConcurrency",
        json!(s.max_iteration_concurrency),
    );
    put("maxIterationRetries", json!(s.max_iteration_retries));
    put("query", parsed(&e.query_json));
    put("resourceJobExecutionId", json!(e.id));
    put("resourceJobId", json!(e.resource_job_id));
    put("resourceType", json!(e.resource_type.as_str()));
    put("retryDelay", json!(s.retry_delay));
    put("retryOnFailure", json!(s.retry_on_failure));
    put("retryOnTimeout", json!(s.retry_on_timeout));
    put("runStartedAt", json!(e.run_started_at));
    put("sourceId", json!(e.source.id));
    put("sourceType", json!(e.source.kind));
    put("status", json!(e.status.as_str()));
    m
}

/// Job: Iteration `data`. `exec_obj` is [`execution`] of `e`, built once per start batch; the
/// accumulator is present only for serial executions.
pub(crate) fn iteration(
    e: &Execution,
    exec_obj: &Value,
    row: &IterationRow,
    resource: Value,
    serial: bool,
    acc: Option<&str>,
    info: &AttemptInfo,
) -> Map<String, Value> {
    let mut d = Map::new();
    if serial {
        d.insert("accumulator".into(), accumulator(acc));
    }
    d.insert(e.resource_type.as_str().into(), resource);
    d.insert("execution".into(), exec_obj.clone());
    d.insert("iterationId".into(), json!(row.iteration_id().to_string()));
    attempt_fields(&mut d, info);
    d
}

/// The attempt's number and whether a failure or a timeout of it will be retried (the Job:
/// Iteration and Job: Timeout triggers both carry them, last).
fn attempt_fields(d: &mut Map<String, Value>, info: &AttemptInfo) {
    d.insert("attemptNumber".into(), json!(info.attempt));
    d.insert(
        "willRetryOnFailure".into(),
        json!(info.will_retry_on_failure),
    );
    d.insert(
        "willRetryOnTimeout".into(),
        json!(info.will_retry_on_timeout),
    );
}

/// Job: Timeout `data`.
pub(crate) fn timeout(
    e: &Execution,
    row: &IterationRow,
    resource: Value,
    acc: Option<&str>,
    info: &AttemptInfo,
) -> Value {
    let mut d = Map::new();
    d.insert("accumulator".into(), accumulator(acc));
    d.insert(e.resource_type.as_str().into(), resource);
    d.insert("execution".into(), Value::Object(execution(e)));
    d.insert("iterationId".into(), json!(row.iteration_id().to_string()));
    d.insert("iterationStartedAt".into(), json!(info.started_at));
    attempt_fields(&mut d, info);
    Value::Object(d)
}

/// Job: Complete `data`: `success` is true only for `completed`.
pub(crate) fn complete(
    e: &Execution,
    job: Option<&ResourceJob>,
    s: &Summary,
    report_url: &str,
) -> Value {
    let mut ex = execution(e);
    ex.insert("executionReportUrl".into(), json!(report_url));
    ex.insert("executionSummary".into(), crate::views::summary(s));
    ex.insert("runCompletedAt".into(), json!(e.run_completed_at));
    crate::views::controls(e, &mut ex);
    let mut v = json!({
        "accumulator": accumulator(e.accumulator.as_deref()),
        "execution": Value::Object(ex),
        "resourceJob": job.map_or(Value::Null, crate::views::job),
        "success": e.status.complete_trigger_success(),
    });
    // Why the execution canceled itself (an abort threshold), when it did.
    if let (Some(r), Value::Object(m)) = (
        e.abort_reason
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok()),
        &mut v,
    ) {
        m.insert("abortReason".into(), r);
    }
    v
}
