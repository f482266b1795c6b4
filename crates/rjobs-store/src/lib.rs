//! Storage behind one [`Store`] trait, with two backends: SQLite (the embedded default, single
//! node) and PostgreSQL (several nodes). Both implementations live in [`sql`]: portable SQL text is
//! shared through a macro that expands once per backend, so each backend gets its own statically
//! typed code while the statements cannot drift; where the dialects differ (pragmas, claiming,
//! compiled queries) the code says so explicitly. Migrations are written once for both backends
//! (see [`migrations`]).
//!
//! Every write that later issues depend on for correctness is a compare-and-set: the caller passes
//! the version (or state and attempt) it read, the statement's `WHERE` repeats it, and the row count
//! decides between success and [`StoreError::Conflict`]. No lock is held across requests.

use async_trait::async_trait;

pub mod apps;
pub mod batch;
pub mod cluster;
pub mod executions;
pub mod flows;
pub mod iterations;
pub mod jobs;
pub mod migrations;
pub mod resources;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timers;
pub mod webhooks;

pub use apps::{ApplicationStore, TokenStore};
pub use batch::{
    AckApplied, AckOp, AckRejected, ApplyOp, BatchStore, ClaimOp, WriteOp, WriteOutcome, MAX_BATCH,
};
pub use cluster::{ClusterLoad, Fence, Lease, LeaseStore, NodeRow, Signal, SignalStream};
pub use executions::{ExecutionStore, RerunOf, TargetSpec};
pub use flows::{FlowRecord, FlowRun, FlowStore};
pub use iterations::{ExecWrite, FinishedIteration, IterationStore, IterationWrite};
pub use jobs::JobStore;
pub use resources::{
    DataTableStore, DeviceStore, GroupStore, ResourceStore, RowStore, TargetStore, UserStore,
};
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

/// Errors of the store. Not `non_exhaustive`: the API matches every variant to a status, so a
/// new one must be given its status there.
#[derive(Debug, thiserror::Error)]
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
    /// SQLite refused a statement of the group commit's direct connection (see the store's
    /// `sql::direct`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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

/// The persistence the server needs: every record trait as a supertrait (so a holder of
/// `Arc<dyn Store>` calls any of their methods without importing them), plus what belongs to the
/// server as a whole. Implemented by [`SqlStore`] for SQLite and PostgreSQL.
#[async_trait]
pub trait Store:
    ApplicationStore
    + TokenStore
    + ResourceStore
    + JobStore
    + ExecutionStore
    + IterationStore
    + BatchStore
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
    /// The secret `name`, created from `fresh` the first time (shared by all nodes).
    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError>;
}
