//! The crate's one error type.

/// Errors of webhook delivery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] rjobs_store::StoreError),
    /// A stored secret is not `whsec_` + base64.
    #[error("invalid webhook secret")]
    Secret,
    /// The body could not be signed (it is not UTF-8).
    #[error("cannot sign: {0}")]
    Sign(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Client(String),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
