//! Errors of the engine, in the terms the API maps to statuses.

use rjobs_store::StoreError;

/// What an engine call did not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The execution (or its job) does not exist.
    Execution,
    /// The iteration does not exist in that execution.
    Iteration,
}

impl Missing {
    /// The name in a 404's message: `"<name> was not found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Execution => "Execution",
            Missing::Iteration => "Iteration",
        }
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong. Matched exhaustively by the API's status mapping, so a new variant cannot
/// fall through to a 500 unnoticed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Bad input (400): the message names the field.
    #[error("{0}")]
    Validation(String),
    /// Something named does not exist (404): `"<What> was not found"`.
    #[error("{0} was not found")]
    NotFound(Missing),
    /// The iteration is not awaiting an acknowledgement, or a race was lost (409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
