//! The schema's migrations, written once for both backends.
//!
//! Most migrations read the same on SQLite and PostgreSQL, so each is one file in `migrations/`,
//! rendered per backend:
//! - `{{collate_c}}` becomes ` COLLATE "C"` on PostgreSQL (names and tags compare byte by byte,
//!   as they do on SQLite, so both backends sort and page alike) and nothing on SQLite;
//! - a line that starts with `@sqlite ` or `@postgres ` is kept, without the mark, on that
//!   backend only.
//!
//! A migration that differs throughout (SQLite cannot alter a CHECK constraint, so 0016 rebuilds
//! a table) has one file per backend in `migrations/{sqlite,postgres}/`.
//!
//! sqlx records each applied migration's SHA-384 and refuses to open a database whose history
//! differs, so a rendered migration must stay, byte for byte, what it was when it shipped: the
//! checksums are pinned in this module's tests, and a shipped migration is never edited.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

use crate::Backend;

/// Where a migration's text comes from.
#[derive(Debug, Clone, Copy)]
enum Text {
    /// One template for both backends (see the module docs).
    Shared(&'static str),
    /// A file per backend.
    PerBackend {
        sqlite: &'static str,
        postgres: &'static str,
    },
}

macro_rules! shared {
    ($file:literal) => {
        (
            $file,
            Text::Shared(include_str!(concat!("../migrations/", $file))),
        )
    };
}

macro_rules! per_backend {
    ($file:literal) => {
        (
            $file,
            Text::PerBackend {
                sqlite: include_str!(concat!("../migrations/sqlite/", $file)),
                postgres: include_str!(concat!("../migrations/postgres/", $file)),
            },
        )
    };
}

/// Every migration, oldest first, by file name (`<version>_<description>.sql`).
const MIGRATIONS: &[(&str, Text)] = &[
    shared!("0001_init.sql"),
    shared!("0002_resources.sql"),
    shared!("0010_resource_jobs.sql"),
    shared!("0011_executions.sql"),
    shared!("0013_flows.sql"),
    shared!("0014_cluster.sql"),
    shared!("0015_counters.sql"),
    per_backend!("0016_controls.sql"),
    shared!("0017_timers.sql"),
    shared!("0020_finish_order.sql"),
    shared!("0021_drop_unstamped.sql"),
    shared!("0030_webhooks.sql"),
];

/// A shared template as `backend` runs it.
pub fn render(template: &str, backend: Backend) -> String {
    let (mine, theirs, collate) = match backend {
        Backend::Sqlite => ("@sqlite ", "@postgres ", ""),
        Backend::Postgres => ("@postgres ", "@sqlite ", " COLLATE \"C\""),
    };
    template
        .split('\n')
        .filter(|line| !line.starts_with(theirs))
        .map(|line| line.strip_prefix(mine).unwrap_or(line))
        .map(|line| line.replace("{{collate_c}}", collate))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `0016_controls.sql` → `(16, "controls")`, as sqlx names a migration file.
fn version_and_description(file: &str) -> (i64, String) {
    let (version, rest) = file.split_once('_').expect("<version>_<description>.sql");
    let version = version.parse().expect("a numeric migration version");
    let description = rest.trim_end_matches(".sql").replace('_', " ");
    (version, description)
}

/// The migrations `backend` runs, oldest first.
pub fn migrations(backend: Backend) -> Vec<Migration> {
    MIGRATIONS
        .iter()
        .map(|(file, text)| {
            let sql = match (text, backend) {
                (Text::Shared(t), b) => render(t, b),
                (Text::PerBackend { sqlite, .. }, Backend::Sqlite) => sqlite.to_string(),
                (Text::PerBackend { postgres, .. }, Backend::Postgres) => postgres.to_string(),
            };
            let (version, description) = version_and_description(file);
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(
                version,
                Cow::Owned(description),
                MigrationType::Simple,
                Cow::Owned(sql),
                no_tx,
            )
        })
        .collect()
}

/// The migrations of one backend, as a source for [`sqlx::migrate::Migrator::new`].
#[derive(Debug, Clone, Copy)]
pub struct Source(pub Backend);

impl<'s> MigrationSource<'s> for Source {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        Box::pin(async move { Ok(migrations(self.0)) })
    }
}

#[cfg(test)]
#[path = "migrations_tests.rs"]
mod tests;
