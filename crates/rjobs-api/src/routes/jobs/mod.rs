//! `/applications/{applicationId}/resource-jobs[...]`: job definitions, executions (execute,
//! cancelExecution, logs) and the extensions (one execution, its event stream, its iterations,
//! acknowledge, report, and the worker API: claim and batch acknowledge). Their routes are rows
//! of [`super::table`].

pub(crate) mod definitions;
pub(crate) mod execute;
pub(crate) mod executions;
pub(crate) mod query;
pub(crate) mod worker;

// The execution event stream (kept apart so merges with new modules stay clean).
pub(crate) mod events;
