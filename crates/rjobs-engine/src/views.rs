//! JSON shapes shared by the API and the trigger payloads, in the original's field names: the
//! resource job object, the execution log item and the iteration item (extension). Each shape is
//! a struct deriving `Serialize` and `JsonSchema`, so the schema in `/openapi.json` is the schema
//! of what is sent; the `Value` functions are what the payload builders and webhooks merge into
//! their own objects.

use rjobs_core::engine::controls::{AbortConfigView, RolloutView};
use rjobs_core::engine::Summary;
use rjobs_core::execution::{ExecSettings, Execution, IterationRow};
use rjobs_core::jobs::ResourceJob;
use rjobs_core::resources::to_value;
use rjobs_core::{Id, Timestamp};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// A resource job as the API returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    /// Id.
    pub id: Id,
    /// The same id.
    pub resource_job_id: Id,
    /// Owning application.
    pub application_id: Id,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `device`, `dataTable`, `experienceUser` or `experienceGroup`.
    pub resource_type: &'static str,
    /// The query (JSON text).
    pub query_json: String,
    /// The default template context (JSON text).
    pub default_context: String,
    /// Concurrency, pacing, timeout and retries.
    #[serde(flatten)]
    pub settings: ExecSettings,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// The data table iterated (data table jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_table_id: Option<String>,
    /// When it was last executed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution_requested: Option<Timestamp>,
    /// Abort thresholds (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfigView>,
    /// Rollout rate (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_config: Option<RolloutView>,
}

impl JobView {
    /// The view of `j`.
    pub fn of(j: &ResourceJob) -> Self {
        JobView {
            id: j.id.clone(),
            resource_job_id: j.id.clone(),
            application_id: j.application_id.clone(),
            name: j.name.clone(),
            description: j.description.clone(),
            resource_type: j.resource_type.as_str(),
            query_json: j.query_json.clone(),
            default_context: j.default_context.clone(),
            settings: ExecSettings::of(j),
            creation_date: j.creation_date,
            last_updated: j.last_updated,
            data_table_id: j.data_table_id.clone(),
            last_execution_requested: j.last_execution_requested,
            abort_config: j.abort_config.as_ref().map(|a| a.view()),
            rollout_config: j.rollout_config.as_ref().map(|r| r.view()),
        }
    }
}

/// A resource job as the API returns it, as a JSON value.
pub fn job(j: &ResourceJob) -> Value {
    to_value(&JobView::of(j))
}

/// The operator-control fields of an execution (extensions).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlsView {
    /// Abort thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_config: Option<AbortConfigView>,
    /// Rollout rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_config: Option<RolloutView>,
    /// The rollout's rate now, starts per minute (with `rolloutConfig`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_rate_per_minute: Option<u32>,
    /// Why the execution canceled itself (an abort threshold held).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_reason: Option<Value>,
    /// The execution this one re-drives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<Value>,
}

impl ControlsView {
    /// The controls of `e`: its `abortConfig`, `rolloutConfig` with `currentRatePerMinute`,
    /// `abortReason` and `rerunOf` (both kept as JSON text, shown as JSON).
    pub fn of(e: &Execution) -> Self {
        let json = |t: &Option<String>| {
            t.as_deref()
                .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.into())))
        };
        ControlsView {
            abort_config: e.abort_config.as_ref().map(|a| a.view()),
            rollout_config: e.rollout_config.as_ref().map(|r| r.view()),
            current_rate_per_minute: e.rollout_config.map(|r| r.rate(e.summary.succeeded)),
            abort_reason: json(&e.abort_reason),
            rerun_of: json(&e.rerun_of),
        }
    }
}

/// Adds the operator-control fields of an execution ([`ControlsView`]) to `m`.
pub fn controls(e: &Execution, m: &mut Map<String, Value>) {
    if let Value::Object(c) = to_value(&ControlsView::of(e)) {
        m.extend(c);
    }
}

/// The summary object `{succeeded, failed, timedOut, inProgress, remaining}`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    /// Succeeded iterations.
    pub succeeded: u64,
    /// Failed iterations.
    pub failed: u64,
    /// Timed-out iterations.
    pub timed_out: u64,
    /// Iterations in flight.
    pub in_progress: u64,
    /// Iterations not started yet.
    pub remaining: u64,
}

impl From<&Summary> for SummaryView {
    fn from(s: &Summary) -> Self {
        SummaryView {
            succeeded: s.succeeded,
            failed: s.failed,
            timed_out: s.timed_out,
            in_progress: s.in_progress,
            remaining: s.remaining,
        }
    }
}

/// [`SummaryView`] as a JSON value.
pub fn summary(s: &Summary) -> Value {
    to_value(&SummaryView::from(s))
}

/// An execution log item (`GET .../logs`, and the one-execution extension).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    /// Id.
    pub id: Id,
    /// The same id.
    pub resource_job_execution_id: Id,
    /// The job executed.
    pub resource_job_id: Id,
    /// Owning application.
    pub application_id: Id,
    /// `inProgress`, `paused`, `completed`, `canceling`, `canceled`, `erroring` or
    /// `errored`.
    pub status: &'static str,
    /// The query (JSON text).
    pub query_json: String,
    /// The resource type.
    pub resource_type: &'static str,
    /// The template context (JSON text).
    pub template_context: String,
    /// Who started it.
    pub source_type: String,
    /// Its id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<Id>,
    /// Who canceled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_source_type: Option<String>,
    /// Its id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_source_id: Option<Id>,
    /// Start instant.
    pub run_started_at: Timestamp,
    /// End instant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_completed_at: Option<Timestamp>,
    /// The signed report link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_report_url: Option<String>,
    /// The counters.
    pub execution_summary: SummaryView,
    /// The accumulator (JSON text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accumulator: Option<String>,
    /// The data table iterated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_table_id: Option<Id>,
    /// Why it errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The settings it runs with (the job's, when it started).
    #[serde(flatten)]
    pub settings: ExecSettings,
    /// Operator controls (extensions).
    #[serde(flatten)]
    pub controls: ControlsView,
}

impl ExecutionView {
    /// The view of `e` with the counters `s` and the report link, if any.
    pub fn of(e: &Execution, s: &Summary, report_url: Option<&str>) -> Self {
        ExecutionView {
            id: e.id.clone(),
            resource_job_execution_id: e.id.clone(),
            resource_job_id: e.resource_job_id.clone(),
            application_id: e.application_id.clone(),
            status: e.status.as_str(),
            query_json: e.query_json.clone(),
            resource_type: e.resource_type.as_str(),
            template_context: e.template_context.clone(),
            source_type: e.source.kind.clone(),
            source_id: e.source.id.clone(),
            cancel_source_type: e.cancel_source.as_ref().map(|c| c.kind.clone()),
            cancel_source_id: e.cancel_source.as_ref().and_then(|c| c.id.clone()),
            run_started_at: e.run_started_at,
            run_completed_at: e.run_completed_at,
            execution_report_url: report_url.map(str::to_string),
            execution_summary: s.into(),
            accumulator: e.accumulator.clone(),
            data_table_id: e.data_table_id.clone(),
            error_message: e.error_message.clone(),
            settings: e.settings,
            controls: ControlsView::of(e),
        }
    }
}

/// [`ExecutionView`] as a JSON value.
pub fn execution_log(e: &Execution, s: &Summary, report_url: Option<&str>) -> Value {
    to_value(&ExecutionView::of(e, s, report_url))
}

/// An attempt handed to an external worker by a claim (extension).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedView {
    /// The iteration (`<executionId>-<resourceId>`), to acknowledge.
    pub id: String,
    /// The resource iterated.
    pub resource_id: Id,
    /// Its name.
    pub resource_name: String,
    /// The attempt number, to acknowledge with (`attempt`).
    pub attempt: u32,
    /// When the attempt times out.
    pub deadline: Option<Timestamp>,
    /// The Job: Iteration trigger's `data` for this attempt.
    pub payload: Map<String, Value>,
}

/// An iteration item of the iterations listing (extension).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IterationView {
    /// `<executionId>-<resourceId>`.
    pub id: String,
    /// The resource iterated.
    pub resource_id: Id,
    /// Its name.
    pub resource_name: String,
    /// `pending`, `inProgress`, `retrying`, `succeeded`, `failed`, `timedOut`, `notStarted`.
    pub status: &'static str,
    /// Attempts so far.
    pub attempts: u32,
    /// Start of the last attempt.
    pub started_at: Option<Timestamp>,
    /// End.
    pub completed_at: Option<Timestamp>,
    /// The last message.
    pub message: Option<String>,
    /// The accumulator (JSON text).
    pub accumulator: Option<String>,
}

impl From<&IterationRow> for IterationView {
    fn from(r: &IterationRow) -> Self {
        let rec = &r.record;
        IterationView {
            id: r.iteration_id().to_string(),
            resource_id: r.resource_id.clone(),
            resource_name: r.resource_name.clone(),
            status: rec.state.as_str(),
            attempts: rec.attempt,
            started_at: rec.started_at,
            completed_at: rec.completed_at,
            message: rec.message.clone(),
            accumulator: rec.accumulator.clone(),
        }
    }
}

/// [`IterationView`] as a JSON value.
pub fn iteration(r: &IterationRow) -> Value {
    to_value(&IterationView::from(r))
}
