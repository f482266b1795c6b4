//! Persistence of applications, the tenants every other record belongs to, and of the tokens
//! that reach them: admin tokens (the whole server) and application API tokens.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::model::{AdminToken, ApiToken, Application};
use rjobs_core::Id;

use crate::{Page, StoreError};

/// Application persistence.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Inserts a new application.
    async fn insert_application(&self, app: &Application) -> Result<(), StoreError>;
    /// One application.
    async fn get_application(&self, id: &Id) -> Result<Option<Application>, StoreError>;
    /// A page of applications.
    async fn list_applications(&self, p: &ListParams) -> Result<Page<Application>, StoreError>;
    /// Replaces an application's fields if its version is still `expected_version`; the stored
    /// version becomes `app.version`.
    async fn update_application(
        &self,
        app: &Application,
        expected_version: i64,
    ) -> Result<(), StoreError>;
    /// Deletes an application and everything it owns; false if it did not exist.
    async fn delete_application(&self, id: &Id) -> Result<bool, StoreError>;
}

/// Token persistence. Tokens are found by the hash of their secret, never by the secret.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Inserts an admin token.
    async fn insert_admin_token(&self, t: &AdminToken) -> Result<(), StoreError>;
    /// Number of admin tokens.
    async fn count_admin_tokens(&self) -> Result<u64, StoreError>;
    /// The admin token with this hash.
    async fn find_admin_token(&self, hash: &str) -> Result<Option<AdminToken>, StoreError>;

    /// Inserts an application API token.
    async fn insert_api_token(&self, t: &ApiToken) -> Result<(), StoreError>;
    /// The API token with this hash (any application).
    async fn find_api_token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError>;
    /// One API token of an application.
    async fn get_api_token(&self, app: &Id, id: &Id) -> Result<Option<ApiToken>, StoreError>;
    /// A page of an application's API tokens.
    async fn list_api_tokens(&self, app: &Id, p: &ListParams)
        -> Result<Page<ApiToken>, StoreError>;
    /// Compare-and-set update of a token (name, description, status, expiration).
    async fn update_api_token(&self, t: &ApiToken, expected_version: i64)
        -> Result<(), StoreError>;
    /// Deletes a token; false if it did not exist.
    async fn delete_api_token(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
}
