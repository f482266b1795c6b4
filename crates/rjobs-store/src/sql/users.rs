//! Experience users: email unique per application (the `UNIQUE (application_id, email)`
//! constraint is the authority; a probe before a bulk insert only exists to name the offending
//! item), tags as JSON plus `experience_user_tags` rows, group memberships in
//! `experience_group_users` (both written and read by [`members`](super::members), as the
//! groups' are). The password hash is stored, never rendered.

use std::collections::HashSet;

use async_trait::async_trait;
use rjobs_core::list::ListParams;
use rjobs_core::resources::ExperienceUser;
use rjobs_core::{Id, Timestamp};
use rjobs_query::Query;

use super::members::{insert_statements, replace_statements, Owner, USER_LINKS};
use super::qbuild::{bind_all, json_col, query_page, to_json_text, Fields, SqlBuf};
use super::row::{id, ts, RowExt};
use super::{fetch_optional, map_unique, rows_written, with_write, SqlStore};
use crate::{Backend, Page, StoreError, UserStore};

const FIELDS: Fields = &[
    ("email", "email"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("id", "id"),
    ("creationDate", "creation_date"),
    ("lastUpdated", "last_updated"),
    ("lastLogin", "COALESCE(last_login, -1)"),
];
const CHUNK: usize = 1000;

pub(crate) fn from_row(r: &impl RowExt) -> Result<ExperienceUser, StoreError> {
    Ok(ExperienceUser {
        id: id(r, "id")?,
        application_id: id(r, "application_id")?,
        email: r.text("email")?,
        first_name: r.text("first_name")?,
        last_name: r.text("last_name")?,
        password_hash: r.text("password_hash")?,
        user_tags: json_col(&r.text("user_tags")?, "experience_users.user_tags")?,
        group_ids: Vec::new(),
        last_login: r.opt_int("last_login")?.map(Timestamp::from_millis),
        password_last_updated: r
            .opt_int("password_last_updated")?
            .map(Timestamp::from_millis),
        creation_date: ts(r, "creation_date")?,
        last_updated: ts(r, "last_updated")?,
    })
}

fn write_statements(backend: Backend, users: &[ExperienceUser]) -> Vec<SqlBuf> {
    let mut out = Vec::new();
    for chunk in users.chunks(CHUNK) {
        let mut b = SqlBuf::new(backend);
        b.push(
            "INSERT INTO experience_users (id, application_id, email, first_name, last_name, \
             password_hash, user_tags, last_login, password_last_updated, creation_date, \
             last_updated) VALUES ",
        );
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(",");
            }
            b.push("(")
                .text(u.id.as_str())
                .push(",")
                .text(u.application_id.as_str());
            b.push(",")
                .text(&u.email)
                .push(",")
                .text(&u.first_name)
                .push(",");
            b.text(&u.last_name)
                .push(",")
                .text(&u.password_hash)
                .push(",");
            b.text(&to_json_text(&u.user_tags)).push(",");
            b.opt_int(u.last_login.map(Timestamp::as_millis)).push(",");
            b.opt_int(u.password_last_updated.map(Timestamp::as_millis))
                .push(",");
            b.int(u.creation_date.as_millis()).push(",");
            b.int(u.last_updated.as_millis()).push(")");
        }
        out.push(b);
    }
    let owners: Vec<Owner> = users.iter().map(links).collect();
    out.extend(insert_statements(backend, &USER_LINKS, &owners));
    out
}

/// The links of a user, as [`members`](super::members) writes them.
fn links(u: &ExperienceUser) -> Owner<'_> {
    Owner {
        id: &u.id,
        app: &u.application_id,
        tags: &u.user_tags,
        members: vec![&u.group_ids],
    }
}

impl SqlStore {
    pub(crate) async fn user_fill(
        &self,
        mut us: Vec<ExperienceUser>,
    ) -> Result<Vec<ExperienceUser>, StoreError> {
        let ids: Vec<Id> = us.iter().map(|u| u.id.clone()).collect();
        let mut groups = self.memberships(&USER_LINKS, 0, &ids).await?;
        for u in &mut us {
            u.group_ids = groups.remove(&u.id).unwrap_or_default();
        }
        Ok(us)
    }

    /// Inserts users all-or-nothing; [`StoreError::Duplicate`] names the clashing email
    /// (`[i].email` for several users). Nothing to do for no users.
    async fn write_users(&self, users: &[ExperienceUser]) -> Result<(), StoreError> {
        let Some(first) = users.first() else {
            return Ok(());
        };
        let what = |i: usize| {
            if users.len() > 1 {
                format!("[{i}].email")
            } else {
                "email".to_string()
            }
        };
        let mut seen = HashSet::new();
        for (i, u) in users.iter().enumerate() {
            if !seen.insert(u.email.as_str()) {
                return Err(StoreError::Duplicate(what(i)));
            }
        }
        let backend = self.backend_kind();
        let mut probes = Vec::new();
        for chunk in users.chunks(CHUNK) {
            let mut b = SqlBuf::new(backend);
            b.push("SELECT email FROM experience_users WHERE application_id = ")
                .text(first.application_id.as_str())
                .push(" AND email IN (");
            for (i, u) in chunk.iter().enumerate() {
                if i > 0 {
                    b.push(",");
                }
                b.text(&u.email);
            }
            b.push(")");
            probes.push(b);
        }
        let stmts = write_statements(backend, users);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            for p in &probes {
                let taken: Option<String> = bind_all!(sqlx::query_scalar(&p.sql), &p.params)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(e) = taken {
                    let i = users.iter().position(|u| u.email == e).unwrap_or(0);
                    return Err(StoreError::Duplicate(what(i)));
                }
            }
            for s in &stmts {
                bind_all!(sqlx::query(&s.sql), &s.params)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_unique(e, "email"))?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_users(&self, users: &[ExperienceUser]) -> Result<(), StoreError> {
        self.write_users(users).await?;
        self.after_bulk(
            &["experience_users", "experience_user_tags"],
            users.len() as u64,
        )
        .await;
        Ok(())
    }

    async fn get_user(&self, app: &Id, u: &Id) -> Result<Option<ExperienceUser>, StoreError> {
        let row = fetch_optional!(
            self,
            sqlx::query("SELECT * FROM experience_users WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(u.as_str()),
            from_row
        )?;
        match row {
            None => Ok(None),
            Some(u) => Ok(self.user_fill(vec![u]).await?.pop()),
        }
    }

    async fn list_users(
        &self,
        app: &Id,
        p: &ListParams,
        query: Option<&Query>,
    ) -> Result<Page<ExperienceUser>, StoreError> {
        let (total_count, items) =
            query_page!(self, "experience_users", app, p, query, FIELDS, from_row)?;
        Ok(Page {
            items: self.user_fill(items).await?,
            total_count,
        })
    }

    async fn update_user(&self, u: &ExperienceUser) -> Result<bool, StoreError> {
        let members = replace_statements(self.backend_kind(), &USER_LINKS, &links(u));
        let tags = to_json_text(&u.user_tags);
        with_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE experience_users SET email = $1, first_name = $2, last_name = $3,
                     password_hash = $4, user_tags = $5, last_login = $6,
                     password_last_updated = $7, last_updated = $8
                 WHERE application_id = $9 AND id = $10",
            )
            .bind(&u.email)
            .bind(&u.first_name)
            .bind(&u.last_name)
            .bind(&u.password_hash)
            .bind(&tags)
            .bind(u.last_login.map(Timestamp::as_millis))
            .bind(u.password_last_updated.map(Timestamp::as_millis))
            .bind(u.last_updated.as_millis())
            .bind(u.application_id.as_str())
            .bind(u.id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, "email"))?
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

    async fn delete_user(&self, app: &Id, u: &Id) -> Result<bool, StoreError> {
        let n = rows_written!(
            self,
            sqlx::query("DELETE FROM experience_users WHERE application_id = $1 AND id = $2")
                .bind(app.as_str())
                .bind(u.as_str())
        );
        Ok(n > 0)
    }
}
