//! `/applications/{applicationId}/resource-jobs[...]`: job definitions here; the execution
//! endpoints (execute, cancelExecution, logs, and the extensions) join this router with the engine.

use axum::routing::get;
use axum::Router;

use crate::state::AppState;

mod definitions;
pub(crate) mod query;
pub(crate) mod view;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/applications/{applicationId}/resource-jobs",
            get(definitions::list).post(definitions::create),
        )
        .route(
            "/applications/{applicationId}/resource-jobs/{resourceJobId}",
            get(definitions::read)
                .patch(definitions::update)
                .delete(definitions::remove),
        )
}
