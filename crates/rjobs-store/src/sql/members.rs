//! The link rows of experience groups and users, written and read the same way for both:
//! `{key: value}` tag rows (`experience_group_tags`, `experience_user_tags`; the JSON column
//! beside them is the REST shape, the rows serve indexed tag queries) and memberships
//! `(group, member, application)` (`experience_group_users`, written from either side, and
//! `experience_group_devices`).
//!
//! An owner's links are replaced as a whole: its old rows are deleted and the new ones inserted
//! in the transaction that writes the owner, so they never disagree with its JSON column.

use std::collections::{BTreeMap, HashMap};

use rjobs_core::Id;

use super::qbuild::{bind_all, SqlBuf};
use super::{with_read, SqlStore};
use crate::{Backend, StoreError};

/// Rows per multi-row `INSERT`.
const CHUNK: usize = 1000;

/// The link tables of one kind of owner.
#[derive(Debug)]
pub(crate) struct Links {
    /// The tag table (`owner, application_id, key, value`).
    pub tags: &'static str,
    /// The owner's column in every one of its link tables.
    pub owner: &'static str,
    /// Each membership table with the column of the member.
    pub members: &'static [(&'static str, &'static str)],
}

/// A group's tags, users and devices.
pub(crate) const GROUP_LINKS: Links = Links {
    tags: "experience_group_tags",
    owner: "group_id",
    members: &[
        ("experience_group_users", "user_id"),
        ("experience_group_devices", "device_id"),
    ],
};

/// A user's tags and groups.
pub(crate) const USER_LINKS: Links = Links {
    tags: "experience_user_tags",
    owner: "user_id",
    members: &[("experience_group_users", "group_id")],
};

/// One owner's links as they are to be stored.
#[derive(Debug)]
pub(crate) struct Owner<'a> {
    /// The group or user.
    pub id: &'a Id,
    /// Its application.
    pub app: &'a Id,
    /// Its tags.
    pub tags: &'a BTreeMap<String, String>,
    /// Its members, one list for each of [`Links::members`], in that order.
    pub members: Vec<&'a [Id]>,
}

/// The inserts of the tag and membership rows of `owners` (whose old rows are gone).
pub(crate) fn insert_statements(backend: Backend, links: &Links, owners: &[Owner]) -> Vec<SqlBuf> {
    let tags: Vec<[&str; 4]> = owners
        .iter()
        .flat_map(|o| {
            o.tags
                .iter()
                .map(|(k, v)| [o.id.as_str(), o.app.as_str(), k.as_str(), v.as_str()])
        })
        .collect();
    let mut out = multi_insert(
        backend,
        &format!(
            "{} ({}, application_id, key, value)",
            links.tags, links.owner
        ),
        &tags,
    );
    for (i, (table, member)) in links.members.iter().enumerate() {
        let rows: Vec<[&str; 3]> = owners
            .iter()
            .flat_map(|o| {
                o.members[i]
                    .iter()
                    .map(|m| [o.id.as_str(), m.as_str(), o.app.as_str()])
            })
            .collect();
        out.extend(multi_insert(
            backend,
            &format!("{table} ({}, {member}, application_id)", links.owner),
            &rows,
        ));
    }
    out
}

/// The statements that replace one owner's links: deletes of its old rows, then the inserts.
pub(crate) fn replace_statements(backend: Backend, links: &Links, owner: &Owner) -> Vec<SqlBuf> {
    let tables = std::iter::once(links.tags).chain(links.members.iter().map(|(t, _)| *t));
    let mut out: Vec<SqlBuf> = tables
        .map(|t| {
            let mut b = SqlBuf::new(backend);
            b.push(&format!("DELETE FROM {t} WHERE {} = ", links.owner))
                .text(owner.id.as_str());
            b
        })
        .collect();
    out.extend(insert_statements(
        backend,
        links,
        std::slice::from_ref(owner),
    ));
    out
}

/// `INSERT INTO <table_cols> VALUES (..), (..)` of text values, [`CHUNK`] rows a statement.
fn multi_insert<const N: usize>(
    backend: Backend,
    table_cols: &str,
    rows: &[[&str; N]],
) -> Vec<SqlBuf> {
    rows.chunks(CHUNK)
        .map(|chunk| {
            let mut b = SqlBuf::new(backend);
            b.push(&format!("INSERT INTO {table_cols} VALUES "));
            for (i, row) in chunk.iter().enumerate() {
                b.push(if i > 0 { ",(" } else { "(" });
                for (j, v) in row.iter().enumerate() {
                    if j > 0 {
                        b.push(",");
                    }
                    b.text(v);
                }
                b.push(")");
            }
            b
        })
        .collect()
}

impl SqlStore {
    /// `owner -> members` from membership table `table` of `links`, for the given owners.
    pub(crate) async fn memberships(
        &self,
        links: &Links,
        table: usize,
        owners: &[Id],
    ) -> Result<HashMap<Id, Vec<Id>>, StoreError> {
        let owner = links.owner;
        let (table, member) = links.members[table];
        let mut out: HashMap<Id, Vec<Id>> = HashMap::new();
        for chunk in owners.chunks(CHUNK) {
            let mut b = SqlBuf::new(self.backend_kind());
            b.push(&format!(
                "SELECT {owner} AS o, {member} AS m FROM {table} WHERE {owner} IN "
            ));
            b.id_list(chunk)
                .push(&format!(" ORDER BY {owner}, {member}"));
            let pairs: Vec<(String, String)> = with_read!(self, pool => {
                bind_all!(sqlx::query_as(&b.sql), &b.params).fetch_all(pool).await?
            });
            for (o, m) in pairs {
                let bad = |s: &str| StoreError::Corrupt(format!("{table}: bad id {s:?}"));
                let o = Id::parse(&o).map_err(|_| bad(&o))?;
                let m = Id::parse(&m).map_err(|_| bad(&m))?;
                out.entry(o).or_default().push(m);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Id {
        Id::parse(&format!("{n:024x}")).unwrap()
    }

    /// The statements name the same rows the groups and users wrote before they shared them.
    #[test]
    fn statements_of_a_group_and_a_user() {
        let (g, u, d, app) = (id(1), id(2), id(3), id(9));
        let tags = BTreeMap::from([("k".to_string(), "v".to_string())]);
        let users = [u.clone()];
        let devices = [d.clone()];
        let group = Owner {
            id: &g,
            app: &app,
            tags: &tags,
            members: vec![&users, &devices],
        };
        let sql: Vec<String> = replace_statements(Backend::Postgres, &GROUP_LINKS, &group)
            .into_iter()
            .map(|b| b.sql)
            .collect();
        assert_eq!(
            sql,
            [
                "DELETE FROM experience_group_tags WHERE group_id = $1",
                "DELETE FROM experience_group_users WHERE group_id = $1",
                "DELETE FROM experience_group_devices WHERE group_id = $1",
                "INSERT INTO experience_group_tags (group_id, application_id, key, value) VALUES ($1,$2,$3,$4)",
                "INSERT INTO experience_group_users (group_id, user_id, application_id) VALUES ($1,$2,$3)",
                "INSERT INTO experience_group_devices (group_id, device_id, application_id) VALUES ($1,$2,$3)",
            ]
        );
        let groups = [g.clone()];
        let user = Owner {
            id: &u,
            app: &app,
            tags: &BTreeMap::new(),
            members: vec![&groups],
        };
        let stmts = insert_statements(Backend::Sqlite, &USER_LINKS, &[user]);
        assert_eq!(stmts.len(), 1, "no tags: no tag statement");
        assert_eq!(
            stmts[0].sql,
            "INSERT INTO experience_group_users (user_id, group_id, application_id) VALUES (?,?,?)"
        );
        let values: Vec<_> = stmts[0].params.iter().map(|p| format!("{p:?}")).collect();
        assert_eq!(
            values,
            [u, g, app].map(|i| format!("{:?}", rjobs_query::SqlParam::Text(i.to_string())))
        );
    }
}
