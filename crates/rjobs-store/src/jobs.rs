//! Persistence of resource jobs, executions and iterations.

use async_trait::async_trait;

/// Job persistence.
#[async_trait]
pub trait JobStore: Send + Sync {}
