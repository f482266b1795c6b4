//! The SQL implementation of [`Store`](crate::Store) for both backends.
//!
//! SQLite runs in WAL mode with a busy timeout, one writer connection and several readers: all
//! writes go through the single writer, so concurrent requests queue instead of failing with
//! "database is locked", while reads proceed in parallel. PostgreSQL uses one pool.
//!
//! Statements use `$n` placeholders, which both drivers bind by number.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::{Backend, StoreError};

mod apps;
mod batch_plan;
mod commit;
mod data_tables;
mod devices;
mod direct;
mod executions;
mod flows;
mod groups;
mod iterations;
mod leases;
mod list;
mod members;
mod outbox;
mod qbuild;
mod resource_jobs;
mod row;
mod rows;
mod server;
mod set_ops;
mod stats;
mod targets;
mod timers;
mod tokens;
mod users;
mod webhooks;

/// Runs `$body` with `$pool` bound to the read pool of whichever backend is in use.
macro_rules! with_read {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pools {
            $crate::sql::Pools::Sqlite { read: $pool, .. } => $body,
            $crate::sql::Pools::Postgres($pool) => $body,
        }
    };
}
/// Runs `$body` with `$pool` bound to the write pool of whichever backend is in use.
macro_rules! with_write {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pools {
            $crate::sql::Pools::Sqlite { write: $pool, .. } => $body,
            $crate::sql::Pools::Postgres($pool) => $body,
        }
    };
}
/// The one row `$q` (a `sqlx::query(..)` with its binds) reads, decoded by `$from_row`, or
/// `None`: the shape of every lookup by id.
macro_rules! fetch_optional {
    ($store:expr, $q:expr, $from_row:expr) => {
        $crate::sql::with_read!($store, pool => {
            let row = $q.fetch_optional(pool).await?;
            row.as_ref().map($from_row).transpose()
        })
    };
}
/// Runs the write `$q` (a `sqlx::query(..)` with its binds) on the writer: the rows it changed.
macro_rules! rows_written {
    ($store:expr, $q:expr) => {
        $crate::sql::with_write!($store, pool => $q.execute(pool).await?.rows_affected())
    };
}
pub(crate) use {fetch_optional, rows_written, with_read, with_write};

#[derive(Debug, Clone)]
pub(crate) enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// The SQL store (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pools: Pools,
    pub(crate) gc: std::sync::Arc<commit::GroupCommit>,
    pub(crate) stats: std::sync::Arc<stats::BulkStats>,
    url: std::sync::Arc<str>,
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectOptions {
    /// PostgreSQL: end any session that stays idle inside a transaction this long (rolling it
    /// back and releasing its locks). A cluster node frozen in the middle of a write (SIGSTOP, a
    /// paused VM) would otherwise hold its lease row locked and block the takeover for as long
    /// as it stays frozen. Set below the lease time.
    pub idle_in_transaction_ms: Option<u64>,
}

/// Opens (creating if needed) and migrates the database at `url`:
/// `sqlite://path/to/file.db`, `sqlite::memory:`, or `postgres://...`.
pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
    connect_with(url, ConnectOptions::default()).await
}

/// [`connect`] with [`ConnectOptions`].
pub async fn connect_with(url: &str, o: ConnectOptions) -> Result<SqlStore, StoreError> {
    if url.starts_with("sqlite:") {
        connect_sqlite(url).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        connect_postgres(url, o).await
    } else {
        Err(StoreError::InvalidUrl(format!(
            "{}: expected sqlite://... or postgres://...",
            redact(url)
        )))
    }
}

/// The URL with any password replaced, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlStore, StoreError> {
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        .journal_mode(if memory {
            SqliteJournalMode::Memory
        } else {
            SqliteJournalMode::Wal
        })
        .synchronous(SqliteSynchronous::Normal);
    if !memory {
        if let Some(parent) = std::path::Path::new(opts.get_filename()).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::InvalidUrl(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
    }
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(60))
        // The writer touches the indexes of every running execution: a 32 MiB page cache
        // (SQLite's default is 2 MiB) keeps their upper levels in memory.
        .connect_with(opts.clone().pragma("cache_size", "-32768"))
        .await?;
    migrate(&write, Backend::Sqlite).await?;
    // An in-memory database exists per connection: readers must share the writer.
    let read = if memory {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(60))
            // Every commit resets a reader's page cache (WAL); mapped pages are re-read
            // without a copy.
            .connect_with(opts.read_only(true).pragma("mmap_size", "268435456"))
            .await?
    };
    Ok(SqlStore {
        pools: Pools::Sqlite { read, write },
        gc: Default::default(),
        stats: Default::default(),
        url: url.into(),
    })
}

async fn connect_postgres(url: &str, o: ConnectOptions) -> Result<SqlStore, StoreError> {
    let mut opts =
        PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
    if let Some(ms) = o.idle_in_transaction_ms {
        opts = opts.options([("idle_in_transaction_session_timeout", format!("{ms}ms"))]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await?;
    migrate(&pool, Backend::Postgres).await?;
    Ok(SqlStore {
        pools: Pools::Postgres(pool),
        gc: Default::default(),
        stats: Default::default(),
        url: url.into(),
    })
}

impl SqlStore {
    /// Which backend this store uses.
    pub fn backend_kind(&self) -> Backend {
        match self.pools {
            Pools::Sqlite { .. } => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL the store was opened with (it may hold a password: see [`redact`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pools (waits for connections to be returned).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres(p) => p.close().await,
        }
    }
}

/// Runs the migrations `backend` has not run yet (see [`crate::migrations`]).
async fn migrate<'a, A>(db: A, backend: Backend) -> Result<(), StoreError>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    let m = sqlx::migrate::Migrator::new(crate::migrations::Source(backend)).await?;
    m.run(db).await?;
    Ok(())
}

/// Maps a unique-constraint violation to [`StoreError::Duplicate`].
pub(crate) fn map_unique(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(what.to_string())
        }
        _ => StoreError::Database(e),
    }
}

/// Turns the row count of a compare-and-set into success or [`StoreError::Conflict`].
pub(crate) fn expect_one(rows: u64) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./x.db"), "sqlite://./x.db");
    }
}
