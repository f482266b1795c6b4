//! Persistence of workflows: the flow documents, an index of their resource-job triggers, and
//! the run log.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::{Id, Timestamp};

use crate::{Page, StoreError};

/// A stored flow: the document (the original's flow JSON without id/dates) plus metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// Id.
    pub id: Id,
    /// Application.
    pub application_id: Id,
    /// Name (also inside `body`).
    pub name: String,
    /// Description.
    pub description: String,
    /// Whether triggers run it.
    pub enabled: bool,
    /// The flow document.
    pub body: serde_json::Value,
    /// `(triggerType, key)` of every trigger.
    pub triggers: Vec<(String, String)>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// Compare-and-set token.
    pub version: i64,
}

impl FlowRecord {
    /// A new flow (version 1, no description) saved at `now`, with its `(trigger type, key)`
    /// pairs.
    pub fn new(
        id: Id,
        application_id: Id,
        name: &str,
        body: serde_json::Value,
        triggers: &[(&str, &str)],
        enabled: bool,
        now: Timestamp,
    ) -> Self {
        FlowRecord {
            id,
            application_id,
            name: name.into(),
            description: String::new(),
            enabled,
            body,
            triggers: triggers
                .iter()
                .map(|(t, k)| (t.to_string(), k.to_string()))
                .collect(),
            creation_date: now,
            last_updated: now,
            version: 1,
        }
    }
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRun {
    /// Id.
    pub id: Id,
    /// Flow.
    pub flow_id: Id,
    /// Application.
    pub application_id: Id,
    /// When it started.
    pub time: Timestamp,
    /// Trigger type and key that started it.
    pub trigger_type: String,
    /// Trigger key.
    pub trigger_key: String,
    /// `success` or `error`.
    pub status: String,
    /// The error, for failed runs.
    pub error: Option<String>,
    /// DebugNode outputs.
    pub debug: serde_json::Value,
    /// Run time.
    pub duration_ms: i64,
}

/// Flow persistence.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Inserts a flow and its trigger index.
    async fn insert_flow(&self, f: &FlowRecord) -> Result<(), StoreError>;
    /// One flow.
    async fn get_flow(&self, app: &Id, id: &Id) -> Result<Option<FlowRecord>, StoreError>;
    /// A page of flows, optionally only those with one of `triggers` (type, key).
    async fn list_flows(
        &self,
        app: &Id,
        p: &ListParams,
        triggers: &[(String, String)],
    ) -> Result<Page<FlowRecord>, StoreError>;
    /// Compare-and-set replace of a flow (and its trigger index).
    async fn update_flow(&self, f: &FlowRecord, expected_version: i64) -> Result<(), StoreError>;
    /// Deletes a flow.
    async fn delete_flow(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
    /// Enabled flows with a trigger of `trigger_type` keyed `key`.
    async fn flows_for_trigger(
        &self,
        app: &Id,
        trigger_type: &str,
        key: &str,
    ) -> Result<Vec<FlowRecord>, StoreError>;
    /// Deletes every flow with a resource-job trigger keyed to `job`; returns how many.
    async fn delete_flows_of_job(&self, app: &Id, job: &Id) -> Result<u64, StoreError>;
    /// Records a run (keeping the newest 1,000 per flow).
    async fn insert_flow_run(&self, r: &FlowRun) -> Result<(), StoreError>;
    /// Recent runs of a flow, newest first, at or after `since`.
    async fn list_flow_runs(
        &self,
        flow: &Id,
        since: Option<Timestamp>,
        limit: u32,
    ) -> Result<Vec<FlowRun>, StoreError>;
}
