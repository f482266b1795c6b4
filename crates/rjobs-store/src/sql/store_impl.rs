//! [`Store`] for [`SqlStore`]: each method delegates to the per-record module.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::model::{AdminToken, ApiToken, Application};
use rjobs_core::Id;

use super::{with_read, SqlStore};
use crate::{Backend, Page, Store, StoreError};

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend_kind()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        with_read!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    async fn insert_application(&self, app: &Application) -> Result<(), StoreError> {
        self.app_insert(app).await
    }
    async fn get_application(&self, id: &Id) -> Result<Option<Application>, StoreError> {
        self.app_get(id).await
    }
    async fn list_applications(&self, p: &ListParams) -> Result<Page<Application>, StoreError> {
        self.app_list(p).await
    }
    async fn update_application(&self, app: &Application, expected: i64) -> Result<(), StoreError> {
        self.app_update(app, expected).await
    }
    async fn delete_application(&self, id: &Id) -> Result<bool, StoreError> {
        self.app_delete(id).await
    }

    async fn insert_admin_token(&self, t: &AdminToken) -> Result<(), StoreError> {
        self.admin_insert(t).await
    }
    async fn count_admin_tokens(&self) -> Result<u64, StoreError> {
        self.admin_count().await
    }
    async fn find_admin_token(&self, hash: &str) -> Result<Option<AdminToken>, StoreError> {
        self.admin_find(hash).await
    }

    async fn insert_api_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        self.token_insert(t).await
    }
    async fn find_api_token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        self.token_find(hash).await
    }
    async fn get_api_token(&self, app: &Id, id: &Id) -> Result<Option<ApiToken>, StoreError> {
        self.token_get(app, id).await
    }
    async fn list_api_tokens(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<ApiToken>, StoreError> {
        self.token_list(app, p).await
    }
    async fn update_api_token(&self, t: &ApiToken, expected: i64) -> Result<(), StoreError> {
        self.token_update(t, expected).await
    }
    async fn delete_api_token(&self, app: &Id, id: &Id) -> Result<bool, StoreError> {
        self.token_delete(app, id).await
    }
}
