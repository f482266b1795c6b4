//! Errors of the engine, in the terms the API maps to statuses.

use rjobs_store::StoreError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Bad input (400): the message names the field.
    #[error("{0}")]
    Validation(String),
    /// Something named does not exist (404): `"<What> was not found"`.
    #[error("{0} was not found")]
    NotFound(&'static str),
    /// The iteration is not awaiting an acknowledgement, or a race was lost (409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
