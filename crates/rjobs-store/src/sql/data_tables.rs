//! Data tables (their rows live in [`super::rows`]). Columns are stored as the JSON array the REST
//! shape returns.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::DataTable;
use rjobs_core::Id;

use super::qbuild::{bind_all, json_col, to_json_text, Fields, SqlBuf};
use super::row::{id, ts, RowExt};
use super::{fetch_optional, rows_written, with_read, with_write, SqlStore};
use crate::{DataTableStore, Page, StoreError};

const FIELDS: Fields = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
];

fn from_row(r: &impl RowExt) -> Result<DataTable, StoreError> {
    Ok(DataTable {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        columns: json_col(&r.text("columns")?, "data_tables.columns")?,
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
    })
}

#[async_trait]
impl DataTableStore for SqlStore {
    async fn insert_data_table(&self, t: &DataTable) -> Result<(), StoreError> {
        let cols = to_json_text(&t.columns);
        with_write!(self, pool => {
            sqlx::query(
                "INSERT INTO data_tables (id, application_id, name, description, columns,
                     creation_date, last_updated)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(t.id.as_str())
            .bind(t.application_id.as_str())
            .bind(&t.name)
            .bind(&t.description)
            .bind(&cols)
            .bind(t.creation_date.as_millis())
            .bind(t.last_updated.as_millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn get_data_table(&self, app: &Id, t: &Id) -> Result<Option<DataTable>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query("SELECT * FROM data_tables WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(t.as_str()),
            from_row
        )
    }

    async fn list_data_tables(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<DataTable>, StoreError> {
        let mut w = SqlBuf::new(self.backend_kind());
        w.push(" FROM data_tables WHERE application_id = ")
            .text(app.as_str());
        w.filter(p, FIELDS);
        let count_sql = format!("SELECT COUNT(*){}", w.sql);
        let count_params = w.params.clone();
        let mut page = w;
        page.sql.insert_str(0, "SELECT *");
        page.order_page(p, FIELDS, "id");
        with_read!(self, pool => {
            let total: i64 = bind_all!(sqlx::query_scalar(&count_sql), &count_params)
                .fetch_one(pool)
                .await?;
            let rows = bind_all!(sqlx::query(&page.sql), &page.params).fetch_all(pool).await?;
            Ok(Page {
                items: rows.iter().map(from_row).collect::<Result<_, _>>()?,
                total_count: u64::try_from(total).unwrap_or(0),
            })
        })
    }

    async fn update_data_table(&self, t: &DataTable) -> Result<bool, StoreError> {
        let cols = to_json_text(&t.columns);
        let n = rows_written!(
            self,
            sqlx::query(
                "UPDATE data_tables SET name = $1, description = $2, columns = $3,
                     last_updated = $4
                 WHERE application_id = $5 AND id = $6",
            )
            .bind(&t.name)
            .bind(&t.description)
            .bind(&cols)
            .bind(t.last_updated.as_millis())
            .bind(t.application_id.as_str())
            .bind(t.id.as_str())
        );
        Ok(n > 0)
    }

    async fn delete_data_table(&self, app: &Id, t: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM data_tables WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(t.as_str())
        );
        Ok(n > 0)
    }
}
