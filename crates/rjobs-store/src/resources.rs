//! Persistence of the resources jobs iterate over: devices, data tables and rows, experience
//! groups and users. (Filled in by the resources work.)

use async_trait::async_trait;

/// Resource persistence.
#[async_trait]
pub trait ResourceStore: Send + Sync {}
