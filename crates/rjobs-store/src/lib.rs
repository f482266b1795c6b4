//! Storage behind one [`Store`] trait, with two backends: SQLite (the embedded default, single
//! node) and PostgreSQL (several nodes). Both implementations live in [`sql`]: portable SQL text is
//! shared through a macro that expands once per backend, so each backend gets its own statically
//! typed code while the statements cannot drift; where the dialects differ (pragmas, claiming,
//! compiled queries) the code says so explicitly. Migrations are mirrored file by file under
//! `migrations/sqlite` and `migrations/postgres` (a test checks the names match).
//!
//! Every write that later issues depend on for correctness is a compare-and-set: the caller passes
//! the version (or state and attempt) it read, the statement's `WHERE` repeats it, and the row count
//! decides between success and [`StoreError::Conflict`]. No lock is held across requests.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::model::{AdminToken, ApiToken, Application};
use rjobs_core::Id;

pub mod batch;
pub mod cluster;
pub mod flows;
pub mod jobs;
pub mod resources;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timers;
pub mod webhooks;

pub use batch::{
    AckApplied, AckOp, AckRejected, ApplyOp, ClaimOp, WriteOp, WriteOutcome, MAX_BATCH,
};
pub use cluster::{ClusterLoad, Fence, Lease, LeaseStore, NodeRow, Signal, SignalStream};
pub use flows::{FlowRecord, FlowRun, FlowStore};
pub use jobs::{
    ExecStore, ExecWrite, FinishedIteration, IterationWrite, JobStore, RerunOf, TargetSpec,
};
pub use resources::ResourceStore;
pub use timers::{TimerFire, TimerStore};
pub use webhooks::WebhookStore;

pub use sql::{connect, connect_with, ConnectOptions, SqlStore};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (single node).
    Sqlite,
    /// PostgreSQL server (cluster capable).
    Postgres,
}

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A compare-and-set found the row changed (or gone) since it was read.
    #[error("conflict: the record changed concurrently")]
    Conflict,
    /// An engine write carried a fence that no longer holds the execution's lease: another node
    /// claimed it. Nothing was written.
    #[error("fenced: this node no longer holds the execution's lease")]
    Fenced,
    /// A unique constraint refused the write (e.g. duplicate email).
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// The database URL is not usable.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// The database could not be reached or refused the operation.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row could not be decoded into a record.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A re-run's target set would be empty (nothing of the earlier execution ended in the
    /// states asked for, or those resources are gone). Nothing was written.
    #[error("the target set is empty")]
    EmptyTarget,
    /// The group commit ended without answering (its batch panicked).
    #[error("the write was aborted")]
    Aborted,
}

/// One page of a collection plus the number of all matching records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// All records that match, across pages.
    pub total_count: u64,
}

/// The persistence the server needs. Implemented by [`SqlStore`] for SQLite and PostgreSQL.
#[async_trait]
pub trait Store:
    ResourceStore
    + JobStore
    + ExecStore
    + FlowStore
    + TimerStore
    + LeaseStore
    + WebhookStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    /// The backend in use.
    fn backend(&self) -> Backend;
    /// Checks the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

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
