//! `/applications/{applicationId}/resource-jobs[...]`: job definitions, executions (execute,
//! cancelExecution, logs) and the extensions (one execution, its event stream, its iterations,
//! acknowledge, report, and the worker API: claim and batch acknowledge).

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

mod definitions;
mod execute;
mod executions;
pub(crate) mod query;
mod worker;

// The execution event stream (kept apart so merges with new modules stay clean).
mod events;

const JOB: &str = "/applications/{applicationId}/resource-jobs/{resourceJobId}";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/applications/{applicationId}/resource-jobs",
            get(definitions::list).post(definitions::create),
        )
        .route(
            JOB,
            get(definitions::read)
                .patch(definitions::update)
                .delete(definitions::remove),
        )
        .route(&format!("{JOB}/execute"), post(execute::execute))
        .route(&format!("{JOB}/cancelExecution"), post(executions::cancel))
        .route(&format!("{JOB}/pauseExecution"), post(executions::pause))
        .route(&format!("{JOB}/resumeExecution"), post(executions::resume))
        .route(&format!("{JOB}/logs"), get(executions::logs))
        .route(
            &format!("{JOB}/executions/{{executionId}}"),
            get(executions::one),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/events"),
            get(events::events),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/iterations"),
            get(executions::iterations),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/iterations/{{iterationId}}/acknowledge"),
            post(executions::acknowledge),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/iterations/claim"),
            post(worker::claim),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/acknowledge"),
            post(worker::acknowledge_batch),
        )
        .route(
            &format!("{JOB}/executions/{{executionId}}/report.csv"),
            get(executions::report),
        )
}
