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
    /// The Argon2id cost of experience users' password hashes.
    pub password_cost: PasswordCost,
}

/// The Argon2id cost of a password hash (setting `argon2`, e.g. `RJOBS_ARGON2__M_KIB`).
/// The defaults are the argon2 crate's recommendation (19 MiB, 2 passes, 1 lane); tests and
/// benchmarks lower them, production keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordCost {
    /// Memory, in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost {
            m_kib: argon2::Params::DEFAULT_M_COST,
            t: argon2::Params::DEFAULT_T_COST,
            p: argon2::Params::DEFAULT_P_COST,
        }
    }
}

impl PasswordCost {
    /// The argon2 parameters; an error names what argon2 refuses (checked when settings load).
    pub fn params(&self) -> Result<argon2::Params, argon2::Error> {
        argon2::Params::new(self.m_kib, self.t, self.p, None)
    }
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
            password_cost: PasswordCost::default(),
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
