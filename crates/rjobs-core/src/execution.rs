//! Execution and iteration records as the store keeps them. An execution snapshots the job's
//! settings at execute time, so editing a job never changes a run already under way.

use crate::engine::controls::{AbortConfig, RolloutConfig};
use crate::engine::{ExecutionStatus, IterationId, IterationRecord, RetryPolicy, Summary};
use crate::jobs::{ResourceJob, ResourceType};
use crate::{Id, Timestamp};

/// The job settings an execution runs with (serialized as in the API, where a job and an
/// execution both show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecSettings {
    /// `maxIterationConcurrency`.
    pub max_iteration_concurrency: i64,
    /// `iterationDelay` (ms).
    pub iteration_delay: i64,
    /// `iterationTimeout` (ms).
    pub iteration_timeout: i64,
    /// `retryOnFailure`.
    pub retry_on_failure: bool,
    /// `retryOnTimeout`.
    pub retry_on_timeout: bool,
    /// `maxIterationRetries`.
    pub max_iteration_retries: i64,
    /// `retryDelay` (ms).
    pub retry_delay: i64,
}

impl ExecSettings {
    /// The job's current settings.
    pub fn of(job: &ResourceJob) -> Self {
        ExecSettings {
            max_iteration_concurrency: job.max_iteration_concurrency,
            iteration_delay: job.iteration_delay,
            iteration_timeout: job.iteration_timeout,
            retry_on_failure: job.retry_on_failure,
            retry_on_timeout: job.retry_on_timeout,
            max_iteration_retries: job.max_iteration_retries,
            retry_delay: job.retry_delay,
        }
    }

    /// The retry policy of the iteration state machine.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            retry_on_failure: self.retry_on_failure,
            retry_on_timeout: self.retry_on_timeout,
            max_retries: u32::try_from(self.max_iteration_retries).unwrap_or(1),
            retry_delay_ms: self.retry_delay,
            timeout_ms: self.iteration_timeout,
        }
    }

    /// Whether the job runs serially (and so carries an accumulator).
    pub fn serial(&self) -> bool {
        self.max_iteration_concurrency <= 1
    }
}

/// Who asked for (or canceled) an execution: `apiToken`, `user` or `flow`, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `apiToken`, `user`, `flow`.
    pub kind: String,
    /// The token, admin or flow id, when known.
    pub id: Option<Id>,
}

impl Source {
    /// A request by a user (the dashboard, the CLI, tests), no id known.
    pub fn user() -> Self {
        Source {
            kind: "user".into(),
            id: None,
        }
    }
}

/// One execution of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// Id (also `resourceJobExecutionId`).
    pub id: Id,
    /// Application.
    pub application_id: Id,
    /// Job.
    pub resource_job_id: Id,
    /// Status.
    pub status: ExecutionStatus,
    /// Resource type iterated.
    pub resource_type: ResourceType,
    /// The (rendered) data table, for row jobs.
    pub data_table_id: Option<Id>,
    /// The rendered query.
    pub query_json: String,
    /// The context (JSON object text).
    pub template_context: String,
    /// Who asked.
    pub source: Source,
    /// Who canceled.
    pub cancel_source: Option<Source>,
    /// Settings snapshot.
    pub settings: ExecSettings,
    /// `abortConfig` snapshot.
    pub abort_config: Option<AbortConfig>,
    /// `rolloutConfig` snapshot.
    pub rollout_config: Option<RolloutConfig>,
    /// Why the execution canceled itself (`abortReason`, JSON object text).
    pub abort_reason: Option<String>,
    /// The execution a re-run re-drives (`rerunOf`, JSON object text).
    pub rerun_of: Option<String>,
    /// When it was requested (and the target set fixed).
    pub run_started_at: Timestamp,
    /// When it reached a final status.
    pub run_completed_at: Option<Timestamp>,
    /// The latest accumulator (serial jobs): the final one once completed.
    pub accumulator: Option<String>,
    /// Why the execution errored.
    pub error_message: Option<String>,
    /// When the last iteration attempt started (pacing by `iterationDelay`).
    pub last_start_at: Option<Timestamp>,
    /// Number of iterations (size of the target set).
    pub total: i64,
    /// Compare-and-set token of the execution row.
    pub version: i64,
    /// The counters by outcome, kept by the store in the same transaction as every iteration
    /// transition (so they always equal the records).
    pub summary: Summary,
}

impl Execution {
    /// A new run of `job` with the job's settings, query and default context, `inProgress`,
    /// started at `now`, before its target set is counted. The data table is left unset: the
    /// caller resolves the job's (which may be gone).
    pub fn of_job(id: Id, job: &ResourceJob, source: Source, now: Timestamp) -> Self {
        Execution {
            id,
            application_id: job.application_id.clone(),
            resource_job_id: job.id.clone(),
            status: ExecutionStatus::InProgress,
            resource_type: job.resource_type,
            data_table_id: None,
            query_json: job.query_json.clone(),
            template_context: job.default_context.clone(),
            source,
            cancel_source: None,
            settings: ExecSettings::of(job),
            abort_config: job.abort_config.clone(),
            rollout_config: job.rollout_config,
            abort_reason: None,
            rerun_of: None,
            run_started_at: now,
            run_completed_at: None,
            accumulator: None,
            error_message: None,
            last_start_at: None,
            total: 0,
            version: 1,
            summary: Summary::default(),
        }
    }
}

/// One iteration as stored: its place in the target set and its state-machine record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IterationRow {
    /// The execution.
    pub execution_id: Id,
    /// Position in the target set (1-based, id order).
    pub seq: i64,
    /// The resource.
    pub resource_id: Id,
    /// Device or group name, user email, row id.
    pub resource_name: String,
    /// State machine record.
    pub record: IterationRecord,
}

impl IterationRow {
    /// `<executionId>-<resourceId>`.
    pub fn iteration_id(&self) -> IterationId {
        IterationId::new(self.execution_id.clone(), self.resource_id.clone())
    }
}
