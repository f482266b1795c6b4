//! [`ResourceStore`](crate::ResourceStore) for [`SqlStore`](super::SqlStore).

use async_trait::async_trait;

use super::SqlStore;
use crate::ResourceStore;

#[async_trait]
impl ResourceStore for SqlStore {}
