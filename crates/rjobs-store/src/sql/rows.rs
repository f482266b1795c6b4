//! Data-table rows: a JSON object per row in `data`, validated against the columns by the caller
//! (`rjobs_core::resources::DataTable::new_row`). The store enforces what needs the database:
//! `unique` columns, checked inside the writing transaction (the single SQLite writer and the
//! transaction make check-then-insert safe on SQLite; on PostgreSQL two concurrent inserts of the
//! same value can both pass — documented limitation).
//!
//! Column values are reached with `json_extract(data, '$."col"')` on SQLite and
//! `data::jsonb -> 'col'` on PostgreSQL, the same expressions `rjobs-query` compiles to.

use std::collections::HashSet;

use async_trait::async_trait;
use rjobs_core::resources::{Constraint, DataRow, DataTable};
use rjobs_core::Id;
use rjobs_query::Query;

use super::qbuild::{bind_all, json_col, to_json_text, SqlBuf};
use super::row::{id, ts, RowExt};
use super::{fetch_optional, rows_written, with_read, with_write, SqlStore};
use crate::resources::RowParams;
use crate::{Backend, Page, RowStore, StoreError};

/// Rows per multi-row `INSERT` (6 parameters each).
const ROW_CHUNK: usize = 1000;

pub(crate) fn from_row(r: &impl RowExt) -> Result<DataRow, StoreError> {
    Ok(DataRow {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        data_table_id: id(r, "data_table_id")?,
        data: json_col(&r.text("data")?, "data_table_rows.data")?,
        created_at: ts(r, "created_at")?,
        updated_at: ts(r, "updated_at")?,
    })
}

/// Appends the SQL expression of column `name`'s value.
fn column_expr(b: &mut SqlBuf, name: &str) {
    if b.is_pg() {
        b.push("(data::jsonb -> ").text(name).push(")");
    } else {
        b.push("json_extract(data, ")
            .text(&format!("$.\"{name}\""))
            .push(")");
    }
}

/// A statement counting other rows of `table` whose `col` equals `value`.
fn unique_probe(backend: Backend, row: &DataRow, col: &str, value: &serde_json::Value) -> SqlBuf {
    let mut b = SqlBuf::new(backend);
    b.push("SELECT COUNT(*) FROM data_table_rows WHERE data_table_id = ")
        .text(row.data_table_id.as_str())
        .push(" AND ");
    column_expr(&mut b, col);
    if b.is_pg() {
        b.push(" = CAST(")
            .text(&value.to_string())
            .push(" AS jsonb)");
    } else {
        b.push(" = json_extract(")
            .text(&value.to_string())
            .push(", '$')");
    }
    b.push(" AND id <> ").text(row.id.as_str());
    b
}

/// Probes for every unique column of every row, plus an in-batch duplicate check. The error
/// names the column (prefixed with the item index when `indexed`).
fn unique_probes(
    backend: Backend,
    table: &DataTable,
    rows: &[DataRow],
    indexed: bool,
) -> Result<Vec<(String, SqlBuf)>, StoreError> {
    let mut out = Vec::new();
    for c in table
        .columns
        .iter()
        .filter(|c| c.constraint == Constraint::Unique)
    {
        let mut seen = HashSet::new();
        for (i, r) in rows.iter().enumerate() {
            let what = if indexed {
                format!("[{i}].{}", c.name)
            } else {
                c.name.clone()
            };
            if let Some(v) = r.data.get(&c.name) {
                if !seen.insert(v.to_string()) {
                    return Err(StoreError::Duplicate(what));
                }
                out.push((what, unique_probe(backend, r, &c.name, v)));
            }
        }
    }
    Ok(out)
}

fn insert_statements(backend: Backend, rows: &[DataRow]) -> Vec<SqlBuf> {
    rows.chunks(ROW_CHUNK)
        .map(|chunk| {
            let mut b = SqlBuf::new(backend);
            b.push(
                "INSERT INTO data_table_rows (id, application_id, data_table_id, data, \
                 created_at, updated_at) VALUES ",
            );
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    b.push(",");
                }
                b.push("(").text(r.id.as_str()).push(",");
                b.text(r.application_id.as_str()).push(",");
                b.text(r.data_table_id.as_str()).push(",");
                b.text(&to_json_text(&r.data)).push(",");
                b.int(r.created_at.as_millis()).push(",");
                b.int(r.updated_at.as_millis()).push(")");
            }
            b
        })
        .collect()
}

/// Fails with [`StoreError::Duplicate`] naming the first of `probes` (unique-value counts, see
/// [`unique_probes`]) that finds a clash, inside the writer's transaction `$tx`.
macro_rules! refuse_clashes {
    ($tx:expr, $probes:expr) => {
        for (what, p) in $probes {
            let n: i64 = bind_all!(sqlx::query_scalar(&p.sql), &p.params)
                .fetch_one($tx)
                .await?;
            if n > 0 {
                return Err(StoreError::Duplicate(what.clone()));
            }
        }
    };
}

impl SqlStore {
    /// Inserts rows all-or-nothing; [`StoreError::Duplicate`] names a clashing unique column
    /// (`[i].col` when `rows.len() > 1`).
    async fn write_rows(&self, table: &DataTable, rows: &[DataRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let backend = self.backend_kind();
        let probes = unique_probes(backend, table, rows, rows.len() > 1)?;
        let stmts = insert_statements(backend, rows);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            refuse_clashes!(&mut *tx, &probes);
            for s in &stmts {
                bind_all!(sqlx::query(&s.sql), &s.params).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait]
impl RowStore for SqlStore {
    async fn insert_rows(&self, table: &DataTable, rows: &[DataRow]) -> Result<(), StoreError> {
        self.write_rows(table, rows).await?;
        self.after_bulk(&["data_table_rows"], rows.len() as u64)
            .await;
        Ok(())
    }

    async fn get_row(&self, app: &Id, table: &Id, row: &Id) -> Result<Option<DataRow>, StoreError> {
        fetch_optional!(
            self,
            sqlx::query(
                "SELECT * FROM data_table_rows
                 WHERE application_id = $1 AND data_table_id = $2 AND id = $3",
            )
            .bind(app.as_str())
            .bind(table.as_str())
            .bind(row.as_str()),
            from_row
        )
    }

    async fn query_rows(
        &self,
        table: &DataTable,
        p: &RowParams,
        query: Option<&Query>,
    ) -> Result<Page<DataRow>, StoreError> {
        let app = &table.application_id;
        let mut w = SqlBuf::new(self.backend_kind());
        w.push(" FROM data_table_rows WHERE data_table_id = ")
            .text(table.id.as_str())
            .push(" AND application_id = ")
            .text(app.as_str());
        w.query(query, "data_table_rows", app);
        let count_sql = format!("SELECT COUNT(*){}", w.sql);
        let count_params = w.params.clone();
        let mut page = w;
        page.sql.insert_str(0, "SELECT *");
        let dir = if p.descending { "DESC" } else { "ASC" };
        page.push(" ORDER BY ");
        match p.sort_column.as_deref() {
            None | Some("id") => {}
            Some("createdAt") => {
                page.push(&format!("created_at {dir}, "));
            }
            Some("updatedAt") => {
                page.push(&format!("updated_at {dir}, "));
            }
            Some(col) => {
                column_expr(&mut page, col);
                page.push(&format!(" {dir}, "));
            }
        }
        page.push(&format!("id {dir} LIMIT "));
        page.int(i64::from(p.limit)).push(" OFFSET ");
        page.int(i64::try_from(p.offset).unwrap_or(i64::MAX));
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

    /// Replaces a row's values; false if gone; [`StoreError::Duplicate`] on a unique clash.
    async fn update_row(&self, table: &DataTable, r: &DataRow) -> Result<bool, StoreError> {
        let probes = unique_probes(self.backend_kind(), table, std::slice::from_ref(r), false)?;
        let data = to_json_text(&r.data);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            refuse_clashes!(&mut *tx, &probes);
            let n = sqlx::query(
                "UPDATE data_table_rows SET data = $1, updated_at = $2
                 WHERE application_id = $3 AND data_table_id = $4 AND id = $5",
            )
            .bind(&data)
            .bind(r.updated_at.as_millis())
            .bind(r.application_id.as_str())
            .bind(r.data_table_id.as_str())
            .bind(r.id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    async fn delete_row(&self, app: &Id, table: &Id, row: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query(
                "DELETE FROM data_table_rows
                 WHERE application_id = $1 AND data_table_id = $2 AND id = $3",
            )
            .bind(app.as_str())
            .bind(table.as_str())
            .bind(row.as_str())
        );
        Ok(n > 0)
    }
}
