//! Test support: a fresh, isolated PostgreSQL database per caller, so test binaries (and tests
//! within them) never collide, and a fresh SQLite file. Used by this crate's conformance suite and by
//! the API and end-to-end tests.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;

/// The server used by tests: `RJOBS_TEST_PG_URL`, default the local trust-auth server.
pub fn pg_admin_url() -> String {
    std::env::var("RJOBS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database created for one test; dropped (with its connections) by [`TestDb::drop_db`].
#[derive(Debug)]
pub struct TestDb {
    /// URL of the new database.
    pub url: String,
    name: String,
}

impl TestDb {
    /// Creates a new empty database with a random name.
    pub async fn create() -> Result<Self, StoreError> {
        let admin = pg_admin_url();
        let name = format!("rjobs_t_{:016x}", rand_u64());
        let mut conn = PgConnectOptions::from_str(&admin)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .connect()
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Ok(TestDb {
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// Drops the database, forcibly closing connections still open to it.
    pub async fn drop_db(self) -> Result<(), StoreError> {
        let mut conn = PgConnectOptions::from_str(&pg_admin_url())
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
            .connect()
            .await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }
}

fn rand_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

/// Runs each named `async fn(Arc<dyn Store>)` (or `Arc<SqlStore>`) once on a fresh SQLite file
/// (`mod sqlite`) and once on a fresh PostgreSQL database (`mod postgres`): the conformance
/// suites of both backends are the same functions.
#[macro_export]
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}/t.db", dir.path().display());
                    let s = std::sync::Arc::new($crate::connect(&url).await.unwrap());
                    super::$name(s.clone()).await;
                    s.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::testing::TestDb::create().await.unwrap();
                    let s = std::sync::Arc::new($crate::connect(&db.url).await.unwrap());
                    super::$name(s.clone()).await;
                    s.close().await;
                    db.drop_db().await.unwrap();
                }
            )*
        }
    };
}
