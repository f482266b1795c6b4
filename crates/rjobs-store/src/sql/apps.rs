//! Applications.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::model::Application;
use rjobs_core::Id;

use super::list::{list_page, Columns};
use super::row::{id, ts, RowExt};
use super::{expect_one, fetch_optional, rows_written, with_write, SqlStore};
use crate::{ApplicationStore, Page, StoreError};

const COLUMNS: Columns = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
];

fn from_row(r: &impl RowExt) -> Result<Application, StoreError> {
    Ok(Application {
        id: id(r, "id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
        version: r.int("version")?,
    })
}

#[async_trait]
impl ApplicationStore for SqlStore {
    async fn insert_application(&self, a: &Application) -> Result<(), StoreError> {
        with_write!(self, pool => {
            sqlx::query(
                "INSERT INTO applications (id, name, description, creation_date, last_updated, version)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(a.id.as_str())
            .bind(&a.name)
            .bind(&a.description)
            .bind(a.creation_date.as_millis())
            .bind(a.last_updated.as_millis())
            .bind(a.version)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn get_application(&self, app: &Id) -> Result<Option<Application>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM applications WHERE id = $1").bind(app.as_str()),
            from_row
        )
    }

    async fn list_applications(&self, p: &ListParams) -> Result<Page<Application>, StoreError> {
        list_page!(self, "applications", None, COLUMNS, p, from_row)
    }

    async fn update_application(&self, a: &Application, expected: i64) -> Result<(), StoreError> {
        let n = rows_written!(self, sqlx::query(
                "UPDATE applications SET name = $1, description = $2, last_updated = $3, version = $4
                 WHERE id = $5 AND version = $6",
            )
            .bind(&a.name)
            .bind(&a.description)
            .bind(a.last_updated.as_millis())
            .bind(a.version)
            .bind(a.id.as_str())
            .bind(expected));
        expect_one(n)
    }

    async fn delete_application(&self, app: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM applications WHERE id = $1").bind(app.as_str())
        );
        Ok(n > 0)
    }
}
