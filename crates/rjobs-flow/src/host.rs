//! What the runner needs from the server: the [`FlowHost`] trait and its one error type.
//!
//! Why a typed error: a node that calls the host decides what to do with a refusal — write
//! `{error: {type, message}}` at its result or error path, or end the run — and the `type` it
//! writes is the API's error type (`NotFound`, `Validation`, `Conflict`, ...), so a flow sees
//! the same failure a REST client would. Strings would lose that distinction.
//!
//! Every resource method is scoped by the implementor to the flow's own application: a flow
//! names devices, tables and rows by id only, and an id of another application is simply
//! not found. Writes are validated exactly as the REST API validates them and are durable
//! before the method returns.

use async_trait::async_trait;
use serde_json::Value;

/// A refusal or failure of a host call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The thing named does not exist in the flow's application.
    #[error("{what} {id:?} was not found")]
    NotFound { what: &'static str, id: String },
    /// Bad input; `field` names it as the REST API would (`tags[0].key`, `query.$or`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A state conflict: an iteration not awaiting an ack, a duplicate unique column.
    #[error("{0}")]
    Conflict(String),
    /// The service is not there: no broker configured or connected, the engine shutting down.
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed (details are in the server log).
    #[error("{0}")]
    Internal(String),
}

impl HostError {
    /// The error `type` written to a payload, after the REST API's error types.
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::NotFound { .. } => "NotFound",
            HostError::Invalid { .. } => "Validation",
            HostError::Conflict(_) => "Conflict",
            HostError::Unavailable(_) => "Unavailable",
            HostError::Internal(_) => "InternalError",
        }
    }

    /// An [`HostError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> HostError {
        HostError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One page of devices or rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    /// The REST shapes (`device.json`, `dataTableRow.json`).
    pub items: Vec<Value>,
    /// Everything that matched.
    pub total_count: u64,
}

/// Paging of a device search (the Device: Get node's `resultsPerPage`, `resultsPage`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePage {
    /// 1..=1000.
    pub per_page: u32,
    /// Zero-based.
    pub page: u32,
    /// `name`, `id`, `creationDate` or `lastUpdated`.
    pub sort_field: &'static str,
    pub descending: bool,
}

/// Paging of a row query (the Table: Get Rows node's `limitTemplate`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowPage {
    /// 0..=10000.
    pub limit: u32,
    pub offset: u64,
    /// `id`, `createdAt`, `updatedAt` or a column (the host checks it); `None` = id.
    pub sort_column: Option<String>,
    pub descending: bool,
}

/// One iteration acknowledgement (the Job: Acknowledge node), as the host hands it to the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Acknowledgement {
    pub iteration_id: String,
    /// The attempt the payload was built for (`data.attemptNumber`), if it says.
    pub attempt: Option<u32>,
    pub success: bool,
    pub message: Option<String>,
    /// The new accumulator, if the node sets one.
    pub accumulator: Option<Value>,
}

/// One MQTT message to publish: what the Device: Command and MQTT nodes hand to
/// [`FlowHost::publish`], and what the server's broker connection sends (the same type all the
/// way down, so the four fields are named once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub topic: String,
    pub payload: Vec<u8>,
    /// 0, 1 or 2.
    pub qos: u8,
    pub retain: bool,
}

impl Publish {
    /// The Device: Command node's message to one device: `losant/<id>/command`, QoS 1, not
    /// retained (what the original product's devices subscribe to).
    pub fn command(device_id: &str, payload: Vec<u8>) -> Publish {
        Publish {
            topic: format!("losant/{device_id}/command"),
            payload,
            qos: 1,
            retain: false,
        }
    }
}

/// What a publish answers when the server has no broker configured.
pub const NO_BROKER: &str =
    "no MQTT broker is configured: set mqtt.url (RJOBS_MQTT__URL, e.g. mqtt://127.0.0.1:1883)";

/// What a resource method answers on a host without resources.
const NO_RESOURCES: &str = "this host has no devices or data tables";

/// What the runner needs from the server.
#[async_trait]
pub trait FlowHost: Send + Sync {
    /// Acknowledge an iteration (the Job: Acknowledge node).
    async fn acknowledge(&self, ack: Acknowledgement) -> Result<(), HostError>;
    /// Execute a job (the Job: Execute node); context JSON text or None for the job's default.
    /// Returns the execution id.
    async fn execute_job(&self, job_id: &str, context: Option<String>)
        -> Result<String, HostError>;
    /// The current time as ISO-8601 text (`completedAt`, Debug entries). The default reads the
    /// system clock; the server should answer from its `rjobs_core::Clock`.
    fn now_iso(&self) -> String {
        rjobs_core::Clock::now(&rjobs_core::SystemClock).to_rfc3339()
    }
    /// Publish one MQTT message (the Device: Command and MQTT nodes). Fails when it cannot be
    /// handed to a connected broker; the default has no broker.
    async fn publish(&self, message: Publish) -> Result<(), HostError> {
        let _ = message;
        Err(HostError::Unavailable(NO_BROKER.into()))
    }
    /// One device of the flow's application (`None`: no such device).
    async fn get_device(&self, device_id: &str) -> Result<Option<Value>, HostError> {
        let _ = device_id;
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
    /// Devices matching an advanced query (`queryJson` syntax), one page.
    async fn find_devices(&self, query: &Value, page: &DevicePage) -> Result<Found, HostError> {
        let _ = (query, page);
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
    /// Applies a `devicePatch.json` body (validated as `PATCH .../devices/{id}`); the device.
    async fn update_device(&self, device_id: &str, patch: &Value) -> Result<Value, HostError> {
        let _ = (device_id, patch);
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
    /// Rows of a data table matching an advanced query, one page.
    async fn query_rows(
        &self,
        table_id: &str,
        query: &Value,
        page: &RowPage,
    ) -> Result<Found, HostError> {
        let _ = (table_id, query, page);
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
    /// Inserts one row (validated as `POST .../rows`); the row. With `text`, the values are
    /// strings to convert to their columns' types first (`"5"` → 5, `"true"` → true, `""` →
    /// no value), as the node's individual fields are.
    async fn insert_row(
        &self,
        table_id: &str,
        row: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        let _ = (table_id, row, text);
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
    /// Patches one row (validated as `PATCH .../rows/{id}`); the row. `text` as for
    /// [`FlowHost::insert_row`].
    async fn update_row(
        &self,
        table_id: &str,
        row_id: &str,
        patch: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        let _ = (table_id, row_id, patch, text);
        Err(HostError::Unavailable(NO_RESOURCES.into()))
    }
}
