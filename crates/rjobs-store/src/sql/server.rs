//! [`Store`]'s own methods: what belongs to the server as a whole rather than to one kind of
//! record (the record traits are implemented in the modules that hold their statements).

use async_trait::async_trait;

use super::{with_read, with_write, SqlStore};
use crate::{Backend, Store, StoreError};

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

    async fn server_secret(&self, name: &str, fresh: &str) -> Result<String, StoreError> {
        with_write!(self, pool => {
            sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(fresh)
                .execute(pool)
                .await?;
            let v: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?;
            Ok(v)
        })
    }
}
