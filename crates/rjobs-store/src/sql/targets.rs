//! Resource-type-generic reads the job engine uses: the target set of a query paged by id
//! (keyset: `id > after ORDER BY id LIMIT n`, so a job can walk millions of resources with
//! constant-cost pages and resume after a restart), its size, existence checks for referenced
//! ids, and a resource rendered as its REST GET.

use async_trait::async_trait;
use rjobs_core::Id;
use rjobs_query::{Query, ResourceType};
use serde_json::Value;

use super::qbuild::{bind_all, SqlBuf};
use super::{fetch_optional, with_read, SqlStore};
use crate::{DeviceStore, GroupStore, StoreError, TargetStore, UserStore};

/// Table and display column of a resource type.
fn table_of(rt: ResourceType) -> (&'static str, &'static str) {
    match rt {
        ResourceType::Device => ("devices", "name"),
        ResourceType::DataTableRow => ("data_table_rows", "id"),
        ResourceType::ExperienceGroup => ("experience_groups", "name"),
        ResourceType::ExperienceUser => ("experience_users", "email"),
    }
}

fn parse_id(s: &str) -> Result<Id, StoreError> {
    Id::parse(s).map_err(|_| StoreError::Corrupt(format!("bad id {s:?}")))
}

impl SqlStore {
    /// ` FROM <table> WHERE application_id = ? [AND data_table_id = ?] [AND (<query>)]`.
    fn target_where(
        &self,
        b: &mut SqlBuf,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        query: Option<&Query>,
    ) {
        let (t, _) = table_of(rt);
        b.push(&format!(" FROM {t} WHERE application_id = "))
            .text(app.as_str());
        if rt == ResourceType::DataTableRow {
            // Without a table a row target set is empty (rows only exist within a table).
            b.push(" AND data_table_id = ")
                .text(table.map(Id::as_str).unwrap_or(""));
        }
        b.query(query, t, app);
    }
}

#[async_trait]
impl TargetStore for SqlStore {
    async fn page_resource_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        query: Option<&Query>,
        after: Option<&Id>,
        limit: u32,
    ) -> Result<Vec<(Id, String)>, StoreError> {
        let (_, display) = table_of(rt);
        let mut b = SqlBuf::new(self.backend_kind());
        b.push(&format!("SELECT id, {display} AS display"));
        self.target_where(&mut b, app, rt, table, query);
        if let Some(a) = after {
            b.push(" AND id > ").text(a.as_str());
        }
        b.push(" ORDER BY id LIMIT ").int(i64::from(limit));
        let rows: Vec<(String, String)> = with_read!(self, pool => {
            bind_all!(sqlx::query_as(&b.sql), &b.params).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(id, d)| Ok((parse_id(&id)?, d)))
            .collect()
    }

    async fn count_resources(
        &self,
        app: &Id,
        rt: ResourceType,
        table: Option<&Id>,
        query: Option<&Query>,
    ) -> Result<u64, StoreError> {
        let mut b = SqlBuf::new(self.backend_kind());
        b.push("SELECT COUNT(*)");
        self.target_where(&mut b, app, rt, table, query);
        let n: i64 = with_read!(self, pool => {
            bind_all!(sqlx::query_scalar(&b.sql), &b.params).fetch_one(pool).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn existing_ids(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Id>, StoreError> {
        let (t, _) = table_of(rt);
        let mut out = Vec::new();
        for chunk in ids.chunks(1000) {
            let mut b = SqlBuf::new(self.backend_kind());
            b.push(&format!("SELECT id FROM {t} WHERE application_id = "))
                .text(app.as_str())
                .push(" AND id IN ")
                .id_list(chunk);
            let found: Vec<String> = with_read!(self, pool => {
                bind_all!(sqlx::query_scalar(&b.sql), &b.params).fetch_all(pool).await?
            });
            for s in found {
                out.push(parse_id(&s)?);
            }
        }
        Ok(out)
    }

    async fn get_resource_json(
        &self,
        app: &Id,
        rt: ResourceType,
        id: &Id,
    ) -> Result<Option<Value>, StoreError> {
        Ok(match rt {
            ResourceType::Device => self.get_device(app, id).await?.map(|d| d.to_json()),
            ResourceType::ExperienceGroup => self.get_group(app, id).await?.map(|g| g.to_json()),
            ResourceType::ExperienceUser => self.get_user(app, id).await?.map(|u| u.to_json()),
            ResourceType::DataTableRow => {
                let row = fetch_optional!(
                    self,
                    sqlx::query(
                        "SELECT * FROM data_table_rows WHERE application_id = $1 AND id = $2",
                    )
                    .bind(app.as_str())
                    .bind(id.as_str()),
                    super::rows::from_row
                )?;
                row.map(|r| r.to_json())
            }
        })
    }

    /// Resources shaped as their REST GET, in the order of `ids` (`None`: gone), read with one
    /// statement per 500 ids (the engine's start batches).
    async fn get_resources_json(
        &self,
        app: &Id,
        rt: ResourceType,
        ids: &[Id],
    ) -> Result<Vec<Option<Value>>, StoreError> {
        let (table, _) = table_of(rt);
        let mut by_id: std::collections::HashMap<String, Value> =
            std::collections::HashMap::with_capacity(ids.len());
        let postgres = self.backend_kind() == crate::Backend::Postgres;
        for chunk in ids.chunks(512) {
            // A power-of-two list (the last id repeated), so the statement is prepared once per
            // size; `?` on SQLite, whose driver looks every numbered parameter up by name (a cost
            // that grows with the square of their count).
            let size = super::batch_plan::padded(chunk.len(), 512);
            let list: Vec<String> = (0..size)
                .map(|i| {
                    if postgres {
                        format!("${}", i + 2)
                    } else {
                        "?".into()
                    }
                })
                .collect();
            let sql = format!(
                "SELECT * FROM {table} WHERE application_id = {} AND id IN ({})",
                if postgres { "$1" } else { "?" },
                list.join(", ")
            );
            let last = chunk.last().map(Id::as_str).unwrap_or_default();
            macro_rules! fetch {
                ($conv:path) => {
                    with_read!(self, pool => {
                        let mut q = sqlx::query(&sql).bind(app.as_str());
                        for id in chunk {
                            q = q.bind(id.as_str());
                        }
                        for _ in chunk.len()..size {
                            q = q.bind(last);
                        }
                        q.fetch_all(pool)
                            .await?
                            .iter()
                            .map($conv)
                            .collect::<Result<Vec<_>, _>>()?
                    })
                };
            }
            match rt {
                ResourceType::Device => {
                    for d in fetch!(super::devices::from_row) {
                        by_id.insert(d.id.to_string(), d.to_json());
                    }
                }
                ResourceType::ExperienceGroup => {
                    for g in self.group_fill(fetch!(super::groups::from_row)).await? {
                        by_id.insert(g.id.to_string(), g.to_json());
                    }
                }
                ResourceType::ExperienceUser => {
                    for u in self.user_fill(fetch!(super::users::from_row)).await? {
                        by_id.insert(u.id.to_string(), u.to_json());
                    }
                }
                ResourceType::DataTableRow => {
                    for r in fetch!(super::rows::from_row) {
                        by_id.insert(r.id.to_string(), r.to_json());
                    }
                }
            }
        }
        Ok(ids.iter().map(|i| by_id.remove(i.as_str())).collect())
    }
}
