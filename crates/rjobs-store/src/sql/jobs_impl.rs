//! [`JobStore`](crate::JobStore) for [`SqlStore`](super::SqlStore).

use async_trait::async_trait;

use super::SqlStore;
use crate::JobStore;

#[async_trait]
impl JobStore for SqlStore {}
