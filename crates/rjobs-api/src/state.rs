//! Shared state handed to every handler: the store, the clock, the id generator and settings.

use std::sync::Arc;

use rjobs_core::{Clock, IdGen};
use rjobs_store::Store;

/// Settings the API needs.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Largest accepted request body in bytes (413 above).
    pub body_limit: usize,
    /// SHA-256 of the fixed admin token from `RJOBS_ADMIN_TOKEN`, if any.
    pub fixed_admin_hash: Option<String>,
    /// Absolute base URL for links (report URLs).
    pub public_url: String,
    /// Whether `/metrics` requires a token.
    pub metrics_public: bool,
    /// Operator limits on job settings.
    pub job_limits: rjobs_core::jobs::JobLimits,
    /// A request must be answered (its response head produced) within this time; 408 after.
    pub request_timeout: std::time::Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            body_limit: 8 * 1024 * 1024,
            fixed_admin_hash: None,
            public_url: "http://127.0.0.1:7480".into(),
            metrics_public: true,
            job_limits: rjobs_core::jobs::JobLimits::default(),
            request_timeout: std::time::Duration::from_secs(120),
        }
    }
}

/// The state of the router.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Id generation.
    pub ids: Arc<IdGen>,
    /// Settings.
    pub settings: Arc<ApiSettings>,
    /// The execution engine.
    pub engine: Arc<rjobs_engine::Engine>,
}
