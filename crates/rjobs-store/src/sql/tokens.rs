//! Admin tokens and application API tokens (stored as hashes only).

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::model::{AdminToken, ApiToken, TokenStatus};
use rjobs_core::{Id, Timestamp};

use super::list::{list_page, Columns};
use super::row::{id, ts, RowExt};
use super::{
    expect_one, fetch_optional, map_unique, rows_written, with_read, with_write, SqlStore,
};
use crate::{Page, StoreError, TokenStore};

const COLUMNS: Columns = &[
    ("name", "name"),
    ("status", "status"),
    ("id", "id"),
    ("creationDate", "creation_date"),
];

fn token_from_row(r: &impl RowExt) -> Result<ApiToken, StoreError> {
    let scope_text = r.text("scope")?;
    let scope: Vec<String> = serde_json::from_str(&scope_text)
        .map_err(|e| StoreError::Corrupt(format!("api_tokens.scope: {e}")))?;
    let status_text = r.text("status")?;
    Ok(ApiToken {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        scope,
        status: TokenStatus::parse(&status_text)
            .ok_or_else(|| StoreError::Corrupt(format!("api_tokens.status: {status_text}")))?,
        expiration_date: r.opt_int("expiration_date")?.map(Timestamp::from_millis),
        token_hash: r.text("token_hash")?,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
        version: r.int("version")?,
    })
}

fn admin_from_row(r: &impl RowExt) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: id(r, "id")?,
        token_hash: r.text("token_hash")?,
        creation_date: ts(r, "creation_date")?,
    })
}

#[async_trait]
impl TokenStore for SqlStore {
    async fn insert_admin_token(&self, t: &AdminToken) -> Result<(), StoreError> {
        with_write!(self, pool => {
            sqlx::query("INSERT INTO admin_tokens (id, token_hash, creation_date) VALUES ($1, $2, $3)")
                .bind(t.id.as_str())
                .bind(&t.token_hash)
                .bind(t.creation_date.as_millis())
                .execute(pool)
                .await
                .map_err(|e| map_unique(e, "token"))?;
        });
        Ok(())
    }

    async fn count_admin_tokens(&self) -> Result<u64, StoreError> {
        with_read!(self, pool => {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_tokens")
                .fetch_one(pool)
                .await?;
            Ok(n as u64)
        })
    }

    async fn find_admin_token(&self, hash: &str) -> Result<Option<AdminToken>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM admin_tokens WHERE token_hash = $1").bind(hash),
            admin_from_row
        )
    }

    async fn insert_api_token(&self, t: &ApiToken) -> Result<(), StoreError> {
        let scope = serde_json::to_string(&t.scope)
            .map_err(|e| StoreError::Corrupt(format!("scope: {e}")))?;
        with_write!(self, pool => {
            sqlx::query(
                "INSERT INTO api_tokens (id, application_id, name, description, scope, status,
                     expiration_date, token_hash, creation_date, last_updated, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(t.id.as_str())
            .bind(t.application_id.as_str())
            .bind(&t.name)
            .bind(&t.description)
            .bind(&scope)
            .bind(t.status.as_str())
            .bind(t.expiration_date.map(Timestamp::as_millis))
            .bind(&t.token_hash)
            .bind(t.creation_date.as_millis())
            .bind(t.last_updated.as_millis())
            .bind(t.version)
            .execute(pool)
            .await
            .map_err(|e| map_unique(e, "token"))?;
        });
        Ok(())
    }

    async fn find_api_token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1").bind(hash),
            token_from_row
        )
    }

    async fn get_api_token(&self, app: &Id, tid: &Id) -> Result<Option<ApiToken>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM api_tokens WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(tid.as_str()),
            token_from_row
        )
    }

    async fn list_api_tokens(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<ApiToken>, StoreError> {
        list_page!(self, "api_tokens", Some(app), COLUMNS, p, token_from_row)
    }

    async fn update_api_token(&self, t: &ApiToken, expected: i64) -> Result<(), StoreError> {
        let n = rows_written!(
            self,
            sqlx::query(
                "UPDATE api_tokens SET name = $1, description = $2, status = $3,
                     expiration_date = $4, last_updated = $5, version = $6
                 WHERE application_id = $7 AND id = $8 AND version = $9",
            )
            .bind(&t.name)
            .bind(&t.description)
            .bind(t.status.as_str())
            .bind(t.expiration_date.map(Timestamp::as_millis))
            .bind(t.last_updated.as_millis())
            .bind(t.version)
            .bind(t.application_id.as_str())
            .bind(t.id.as_str())
            .bind(expected)
        );
        expect_one(n)
    }

    async fn delete_api_token(&self, app: &Id, tid: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM api_tokens WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(tid.as_str())
        );
        Ok(n > 0)
    }
}
