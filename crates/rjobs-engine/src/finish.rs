//! How an execution ends: the final status once nothing is in flight (then Job: Complete),
//! and the error that stops it when its data table is deleted mid-run. Split from `tick.rs`,
//! which decides when these happen.

use rjobs_core::engine::{execution_transition, ExecutionEvent};
use rjobs_core::execution::Execution;
use rjobs_core::Timestamp;
use rjobs_store::{Fence, StoreError};

use crate::engine::{Engine, TickReport};
use crate::sink::TriggerKind;
use crate::tick::Outcome;
use crate::view::View;
use crate::{payload, EngineError};

impl Engine {
    pub(crate) async fn table_exists(&self, e: &Execution) -> Result<bool, EngineError> {
        Ok(match &e.data_table_id {
            Some(t) => self
                .store
                .get_data_table(&e.application_id, t)
                .await?
                .is_some(),
            None => false,
        })
    }

    pub(crate) async fn error_execution(
        &self,
        e: &mut Execution,
        fence: &Fence,
        message: &str,
    ) -> Result<(), EngineError> {
        let ev = ExecutionEvent::ErrorRaised {
            message: message.to_string(),
        };
        let Ok(next) = execution_transition(e.status, &ev) else {
            return Ok(());
        };
        let before = e.status;
        e.status = next;
        e.error_message = Some(message.to_string());
        match self
            .store
            .update_execution(e, before, true, Some(fence))
            .await
        {
            Ok(()) | Err(StoreError::Conflict) => {
                // The abandon recounted the row: read it afresh at the next step.
                self.views.stale(&e.id);
                self.wake();
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Nothing in flight and nothing pending (read afresh to be sure): the final status, then
    /// Job: Complete.
    pub(crate) async fn finish(
        &self,
        e: Execution,
        fence: &Fence,
        now: Timestamp,
        report: &mut TickReport,
    ) -> Result<Outcome, EngineError> {
        let Some(mut e) = self.store.load_execution(&e.id).await? else {
            return Ok(Outcome::Done);
        };
        if !e.summary.is_drained(e.status) {
            // Something changed since the view was read: step again with the fresh row.
            self.views.stale(&e.id);
            return Ok(Outcome::Keep(Box::new(View {
                exec: e,
                next_timer: None,
                wake_at: Some(now),
            })));
        }
        let Ok(next) = execution_transition(e.status, &ExecutionEvent::Drained) else {
            return Ok(Outcome::Done);
        };
        let before = e.status;
        e.status = next;
        e.run_completed_at = Some(now);
        match self
            .store
            .update_execution(&e, before, false, Some(fence))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                self.views.stale(&e.id);
                return Ok(Outcome::Keep(Box::new(View {
                    exec: e,
                    next_timer: None,
                    wake_at: Some(now),
                })));
            }
            Err(other) => return Err(other.into()),
        }
        report.completed += 1;
        let summary = e.summary;
        tracing::info!(execution_id = %e.id, status = e.status.as_str(), ?summary, "execution finished");
        let job = self
            .store
            .get_job(&e.application_id, &e.resource_job_id)
            .await?;
        let url = self
            .signer
            .url(&e.application_id, &e.resource_job_id, &e.id, now);
        let data = payload::complete(&e, job.as_ref(), &summary, &url);
        self.fire(&e, TriggerKind::Complete, data).await;
        Ok(Outcome::Done)
    }
}
