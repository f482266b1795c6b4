//! Experience groups: a tree through `parent_id`, `{key: value}` tags (JSON for the REST shape,
//! `experience_group_tags` rows for indexed tag queries) and memberships of users and devices
//! (`experience_group_users`, `experience_group_devices`), written and read by
//! [`members`](super::members) as the users' are.
//!
//! Deleting a group re-parents its children to the deleted group's parent, so the tree stays
//! connected and `ancestorId` queries keep meaning what they meant.

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::ExperienceGroup;
use rjobs_core::Id;
use rjobs_query::Query;

use super::members::{insert_statements, replace_statements, Owner, GROUP_LINKS};
use super::qbuild::{bind_all, json_col, query_page, to_json_text, Fields, SqlBuf};
use super::row::{id, ts, RowExt};
use super::{fetch_optional, with_read, with_write, SqlStore};
use crate::{Backend, GroupStore, Page, StoreError};

const FIELDS: Fields = &[
    ("name", "name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
];
const CHUNK: usize = 1000;

fn opt_id(r: &impl RowExt, col: &str) -> Result<Option<Id>, StoreError> {
    r.opt_text(col)?
        .map(|s| Id::parse(&s).map_err(|_| StoreError::Corrupt(format!("{col}: bad id {s:?}"))))
        .transpose()
}

pub(crate) fn from_row(r: &impl RowExt) -> Result<ExperienceGroup, StoreError> {
    Ok(ExperienceGroup {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        name: r.text("name")?,
        description: r.text("description")?,
        parent_id: opt_id(r, "parent_id")?,
        group_tags: json_col(&r.text("group_tags")?, "experience_groups.group_tags")?,
        user_ids: Vec::new(),
        device_ids: Vec::new(),
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
    })
}

fn write_statements(backend: Backend, groups: &[ExperienceGroup]) -> Vec<SqlBuf> {
    let mut out = Vec::new();
    for chunk in groups.chunks(CHUNK) {
        let mut b = SqlBuf::new(backend);
        b.push(
            "INSERT INTO experience_groups (id, application_id, name, description, parent_id, \
             group_tags, creation_date, last_updated) VALUES ",
        );
        for (i, g) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(",");
            }
            b.push("(")
                .text(g.id.as_str())
                .push(",")
                .text(g.application_id.as_str());
            b.push(",")
                .text(&g.name)
                .push(",")
                .text(&g.description)
                .push(",");
            b.opt_text(g.parent_id.as_ref().map(Id::as_str)).push(",");
            b.text(&to_json_text(&g.group_tags)).push(",");
            b.int(g.creation_date.as_millis()).push(",");
            b.int(g.last_updated.as_millis()).push(")");
        }
        out.push(b);
    }
    let owners: Vec<Owner> = groups.iter().map(links).collect();
    out.extend(insert_statements(backend, &GROUP_LINKS, &owners));
    out
}

/// The links of a group, as [`members`](super::members) writes them.
fn links(g: &ExperienceGroup) -> Owner<'_> {
    Owner {
        id: &g.id,
        app: &g.application_id,
        tags: &g.group_tags,
        members: vec![&g.user_ids, &g.device_ids],
    }
}

impl SqlStore {
    pub(crate) async fn group_fill(
        &self,
        mut gs: Vec<ExperienceGroup>,
    ) -> Result<Vec<ExperienceGroup>, StoreError> {
        let ids: Vec<Id> = gs.iter().map(|g| g.id.clone()).collect();
        let mut users = self.memberships(&GROUP_LINKS, 0, &ids).await?;
        let mut devices = self.memberships(&GROUP_LINKS, 1, &ids).await?;
        for g in &mut gs {
            g.user_ids = users.remove(&g.id).unwrap_or_default();
            g.device_ids = devices.remove(&g.id).unwrap_or_default();
        }
        Ok(gs)
    }

    /// The bulk insert's transaction (nothing to do for no groups).
    async fn write_groups(&self, groups: &[ExperienceGroup]) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let stmts = write_statements(self.backend_kind(), groups);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            for s in &stmts {
                bind_all!(sqlx::query(&s.sql), &s.params).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn insert_groups(&self, groups: &[ExperienceGroup]) -> Result<(), StoreError> {
        self.write_groups(groups).await?;
        self.after_bulk(
            &["experience_groups", "experience_group_tags"],
            groups.len() as u64,
        )
        .await;
        Ok(())
    }

    async fn get_group(&self, app: &Id, g: &Id) -> Result<Option<ExperienceGroup>, StoreError> {
        let row = fetch_optional!(
            self,
            sqlx::query("SELECT * FROM experience_groups WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(g.as_str()),
            from_row
        )?;
        match row {
            None => Ok(None),
            Some(g) => Ok(self.group_fill(vec![g]).await?.pop()),
        }
    }

    async fn list_groups(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<ExperienceGroup>, StoreError> {
        let (total_count, items) =
            query_page!(self, "experience_groups", app, p, query, FIELDS, from_row)?;
        Ok(Page {
            items: self.group_fill(items).await?,
            total_count,
        })
    }

    async fn update_group(&self, g: &ExperienceGroup) -> Result<bool, StoreError> {
        let members = replace_statements(self.backend_kind(), &GROUP_LINKS, &links(g));
        let tags = to_json_text(&g.group_tags);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE experience_groups SET name = $1, description = $2, parent_id = $3,
                     group_tags = $4, last_updated = $5
                 WHERE application_id = $6 AND id = $7",
            )
            .bind(&g.name)
            .bind(&g.description)
            .bind(g.parent_id.as_ref().map(Id::as_str))
            .bind(&tags)
            .bind(g.last_updated.as_millis())
            .bind(g.application_id.as_str())
            .bind(g.id.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for s in &members {
                bind_all!(sqlx::query(&s.sql), &s.params).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    async fn delete_group(&self, app: &Id, g: &Id) -> Result<bool, StoreError> {
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE experience_groups SET parent_id =
                     (SELECT parent_id FROM experience_groups WHERE application_id = $1 AND id = $2)
                 WHERE application_id = $1 AND parent_id = $2",
            )
            .bind(app.as_str())
            .bind(g.as_str())
            .execute(&mut *tx)
            .await?;
            let n = sqlx::query("DELETE FROM experience_groups WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(g.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// `g` and its ancestors, nearest first (stops at a dangling parent or after 10,000 steps).
    async fn group_ancestors(&self, app: &Id, g: &Id) -> Result<Vec<Id>, StoreError> {
        let ids: Vec<String> = with_read!(self, pool => {
            sqlx::query_scalar(
                "WITH RECURSIVE anc(id, parent_id, depth) AS (
                     SELECT id, parent_id, 0 FROM experience_groups
                     WHERE application_id = $1 AND id = $2
                     UNION ALL
                     SELECT g.id, g.parent_id, anc.depth + 1
                     FROM experience_groups g JOIN anc ON g.id = anc.parent_id
                     WHERE g.application_id = $1 AND anc.depth < 10000
                 )
                 SELECT id FROM anc ORDER BY depth",
            )
            .bind(app.as_str())
            .bind(g.as_str())
            .fetch_all(pool)
            .await?
        });
        ids.iter()
            .map(|s| Id::parse(s).map_err(|_| StoreError::Corrupt(format!("group id {s:?}"))))
            .collect()
    }
}
