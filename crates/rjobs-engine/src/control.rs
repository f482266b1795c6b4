//! The request-driven controls of an execution: execute (and its dry run and re-run), cancel,
//! pause and resume, and the abort a threshold triggers. Every status change is decided by
//! [`execution_transition`] and persisted with a compare-and-set on the status before the
//! request is answered; the owner of the execution's lease is then told to look again (a
//! signal reaches it on another node).

use rjobs_core::engine::controls::AbortReason;
use rjobs_core::engine::{
    execution_transition, ExecutionEvent, ExecutionRefusal, ExecutionStatus, IterationState,
};
use rjobs_core::execution::{Execution, Source};
use rjobs_core::jobs::{check_context, ResourceJob, ResourceType};
use rjobs_core::Id;
use rjobs_query::{ColumnType, Query, TableSchema};
use rjobs_store::{Fence, RerunOf, StoreError, TargetSpec};
use serde_json::{json, Value};

use crate::engine::Engine;
use crate::render::render;
use crate::EngineError;

/// The execute options (`resourceJobExecutionOptions`) plus who asked.
#[derive(Debug, Clone)]
pub struct ExecuteRequest {
    /// Context JSON text; the job's `defaultContext` when absent.
    pub template_context: Option<String>,
    /// Query override (template).
    pub query_json: Option<String>,
    /// Data table override (id or template).
    pub data_table_id: Option<String>,
    /// Re-run the resources an earlier execution ended in these states (extension).
    pub rerun_of: Option<RerunRequest>,
    /// Who asked.
    pub source: Source,
}

impl ExecuteRequest {
    /// A run with the job's own context, query and data table, asked by `source`.
    pub fn of(source: Source) -> Self {
        ExecuteRequest {
            template_context: None,
            query_json: None,
            data_table_id: None,
            rerun_of: None,
            source,
        }
    }
}

/// `rerunOf`: an earlier execution of the same job and the final statuses to re-drive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RerunRequest {
    /// The earlier execution.
    pub execution_id: Id,
    /// Final statuses to take (default `failed` and `timedOut`).
    pub statuses: Vec<IterationState>,
}

/// What `execute?dryRun=true` found: the target set an execution would have now.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    /// Matching resources.
    pub count: u64,
    /// Up to 10 of them, in target-set order: (id, name).
    pub sample: Vec<(Id, String)>,
    /// The rendered query.
    pub query_json: Value,
    /// The rendered data table (row jobs).
    pub data_table_id: Option<Id>,
}

/// An execution ready to be created: validated, rendered, parsed.
struct Prepared {
    exec: Execution,
    query: Query,
    query_value: Value,
}

fn column_type(c: rjobs_core::resources::table::ColumnType) -> ColumnType {
    use rjobs_core::resources::table::ColumnType as C;
    match c {
        C::String => ColumnType::String,
        C::Number => ColumnType::Number,
        C::Boolean => ColumnType::Boolean,
    }
}

fn refusal(r: ExecutionRefusal) -> EngineError {
    match r {
        ExecutionRefusal::AlreadyFinal { status }
        | ExecutionRefusal::AlreadyStopping { status } => EngineError::Validation(format!(
            "executionId: the execution is already {}",
            status.as_str()
        )),
    }
}

impl Engine {
    /// Renders and validates the context, query and table of an execution of `job`; writes
    /// nothing.
    async fn prepare(
        &self,
        job: &ResourceJob,
        req: &ExecuteRequest,
    ) -> Result<Prepared, EngineError> {
        let (ctx_field, ctx_text) = match &req.template_context {
            Some(t) => ("templateContext", t.clone()),
            None => ("defaultContext", job.default_context.clone()),
        };
        let context = check_context(ctx_field, &ctx_text)
            .map_err(|e| EngineError::Validation(e.to_string()))?;
        let query_template = req.query_json.as_deref().unwrap_or(&job.query_json);
        let query_text =
            render("queryJson", query_template, &context).map_err(EngineError::from)?;
        let query_value: Value = serde_json::from_str(&query_text).map_err(|e| {
            EngineError::Validation(format!("queryJson: rendered query is not valid JSON: {e}"))
        })?;
        let app = &job.application_id;
        let (table_id, schema) = if job.resource_type == ResourceType::DataTableRow {
            let table_ref = req
                .data_table_id
                .as_deref()
                .or(job.data_table_id.as_deref())
                .ok_or_else(|| EngineError::Validation("dataTableId: is required".into()))?;
            let rendered = render("dataTableId", table_ref, &context).map_err(EngineError::from)?;
            let id = Id::parse(rendered.trim()).map_err(|_| {
                EngineError::Validation(format!(
                    "dataTableId: rendered to {rendered:?}, which is not a 24-character hexadecimal id"
                ))
            })?;
            let table = self.store.get_data_table(app, &id).await?.ok_or_else(|| {
                EngineError::Validation(format!(
                    "dataTableId: no data table {id} exists in this application"
                ))
            })?;
            let schema = TableSchema {
                columns: table
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), column_type(c.data_type)))
                    .collect(),
            };
            (Some(id), Some(schema))
        } else {
            (None, None)
        };
        let rt = job.resource_type;
        let query = rjobs_query::parse(rt, &query_value, schema.as_ref())
            .map_err(|e| EngineError::Validation(format!("queryJson: {e}")))?;
        let now = self.clock.now();
        let exec = Execution {
            data_table_id: table_id,
            query_json: query_text,
            template_context: ctx_text,
            ..Execution::of_job(self.ids.next(now), job, req.source.clone(), now)
        };
        Ok(Prepared {
            exec,
            query,
            query_value,
        })
    }

    /// Starts an execution of `job`: renders and validates the context, query and table, then
    /// durably creates the execution and its target set. Nothing is created on a 400.
    ///
    /// With `rerun_of`, the target set is the resources that ended the earlier execution in
    /// one of the given statuses and still exist, run with the earlier execution's context,
    /// query and table (the request's own overrides are refused by the API).
    pub async fn execute(&self, job: &ResourceJob, req: ExecuteRequest) -> Result<Id, EngineError> {
        let earlier = match &req.rerun_of {
            Some(r) => Some(
                self.store
                    .get_execution(&job.application_id, &job.id, &r.execution_id)
                    .await?
                    .ok_or(EngineError::NotFound(crate::Missing::Execution))?,
            ),
            None => None,
        };
        let req = match &earlier {
            Some(e) => ExecuteRequest {
                template_context: Some(e.template_context.clone()),
                query_json: Some("{}".into()),
                data_table_id: e.data_table_id.as_ref().map(|t| t.to_string()),
                ..req
            },
            None => req,
        };
        let mut p = self.prepare(job, &req).await?;
        if let (Some(e), Some(r)) = (&earlier, &req.rerun_of) {
            p.exec.query_json = e.query_json.clone();
            let statuses: Vec<&str> = r.statuses.iter().map(|s| s.as_str()).collect();
            p.exec.rerun_of = Some(json!({"executionId": e.id, "statuses": statuses}).to_string());
        }
        let rerun = req.rerun_of.as_ref().map(|r| RerunOf {
            execution: &r.execution_id,
            states: &r.statuses,
        });
        let target = TargetSpec {
            rt: job.resource_type,
            table: p.exec.data_table_id.as_ref(),
            query: &p.query,
            rerun,
        };
        let total = match self.store.create_execution(&p.exec, &target).await {
            Ok(n) => n,
            Err(StoreError::EmptyTarget) => {
                let r = req.rerun_of.as_ref();
                let listed: Vec<&str> = r
                    .map(|r| r.statuses.iter().map(|s| s.as_str()).collect())
                    .unwrap_or_default();
                return Err(EngineError::Validation(format!(
                    "rerunOf: no iteration of execution {} ended {} with its resource still present",
                    r.map_or(String::new(), |r| r.execution_id.to_string()),
                    listed.join(" or ")
                )));
            }
            Err(other) => return Err(other.into()),
        };
        let id = p.exec.id;
        tracing::info!(execution_id = %id, resource_job_id = %job.id, total, "execution created");
        self.cluster.want_claim();
        self.cluster.send(rjobs_store::Signal::Claim);
        self.wake();
        Ok(id)
    }

    /// What an execution of `job` would iterate over now (`execute?dryRun=true`): validated
    /// exactly as [`Self::execute`]; nothing is written and no trigger fires.
    pub async fn dry_run(
        &self,
        job: &ResourceJob,
        req: ExecuteRequest,
    ) -> Result<DryRun, EngineError> {
        let p = self.prepare(job, &req).await?;
        let rt = job.resource_type;
        let table = p.exec.data_table_id.as_ref();
        let count = self
            .store
            .count_resources(&job.application_id, rt, table, Some(&p.query))
            .await?;
        let sample = self
            .store
            .page_resource_ids(&job.application_id, rt, table, Some(&p.query), None, 10)
            .await?;
        Ok(DryRun {
            count,
            sample,
            query_json: p.query_value,
            data_table_id: p.exec.data_table_id,
        })
    }

    /// Marks an execution for cancellation (idempotent while canceling/canceled).
    pub async fn cancel(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        by: Source,
    ) -> Result<(), EngineError> {
        self.request(app, job, exec, ExecutionEvent::CancelRequested, Some(by))
            .await
    }

    /// Pauses an execution: nothing new starts until [`Self::resume`] (idempotent).
    pub async fn pause(&self, app: &Id, job: &Id, exec: &Id) -> Result<(), EngineError> {
        self.request(app, job, exec, ExecutionEvent::PauseRequested, None)
            .await
    }

    /// Resumes a paused execution (idempotent on one in progress).
    pub async fn resume(&self, app: &Id, job: &Id, exec: &Id) -> Result<(), EngineError> {
        self.request(app, job, exec, ExecutionEvent::ResumeRequested, None)
            .await
    }

    /// Applies an operator's event to the execution's status (a compare-and-set, retried a
    /// few times if the row changes meanwhile).
    async fn request(
        &self,
        app: &Id,
        job: &Id,
        exec: &Id,
        ev: ExecutionEvent,
        by: Option<Source>,
    ) -> Result<(), EngineError> {
        for _ in 0..5 {
            let e = self
                .store
                .get_execution(app, job, exec)
                .await?
                .ok_or(EngineError::NotFound(crate::Missing::Execution))?;
            let next = execution_transition(e.status, &ev).map_err(refusal)?;
            if next == e.status {
                return Ok(());
            }
            let mut updated = e.clone();
            updated.status = next;
            let abandon = matches!(next, ExecutionStatus::Canceling);
            if abandon {
                updated.cancel_source = by.clone();
            }
            match self
                .store
                .update_execution(&updated, e.status, abandon, None)
                .await
            {
                Ok(()) => {
                    tracing::info!(execution_id = %exec, status = next.as_str(), "execution status changed");
                    self.after_status_change(exec);
                    return Ok(());
                }
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(EngineError::Conflict(
            "the execution kept changing; retry".into(),
        ))
    }

    /// The status changed: the owner re-reads the row and the timers (a resume re-arms the
    /// retries a pause held).
    fn after_status_change(&self, exec: &Id) {
        if self.views.stale(exec) || self.cluster.owns(exec) {
            self.wake();
        } else {
            self.cluster
                .send(rjobs_store::Signal::Work(vec![exec.clone()]));
        }
    }

    /// An abort threshold holds: the lease holder cancels the execution with the reason (the
    /// pending and retrying iterations become `notStarted` in the same transaction).
    pub(crate) async fn abort(
        &self,
        e: &mut Execution,
        fence: &Fence,
        reason: &AbortReason,
    ) -> Result<(), EngineError> {
        let Ok(next) = execution_transition(e.status, &ExecutionEvent::CancelRequested) else {
            return Ok(());
        };
        let before = e.status;
        e.status = next;
        e.cancel_source = Some(Source {
            kind: "abortConfig".into(),
            id: None,
        });
        e.abort_reason = Some(reason.to_json().to_string());
        match self
            .store
            .update_execution(e, before, true, Some(fence))
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => {
                tracing::warn!(execution_id = %e.id, reason = %reason.to_json(), "abort threshold reached: canceling");
                self.views.stale(&e.id);
                self.wake();
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}
