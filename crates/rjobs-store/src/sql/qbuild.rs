//! Dynamic statements for the resource tables: a small builder that writes each placeholder in
//! the backend's own style and embeds compiled advanced queries ([`rjobs_query::Query`]).
//!
//! Why not the `$n` text the rest of the store uses: `rjobs-query` emits anonymous `?` for SQLite,
//! and sqlx numbers anonymous SQLite parameters separately from `$n` ones, so a statement that
//! mixes both binds the wrong values. Here every SQLite placeholder is `?` (bound in text order)
//! and every PostgreSQL one `$n` (numbered as they are written), so a compiled fragment can be
//! spliced anywhere as long as it is compiled at the builder's current parameter number.

use rjobs_core::list::{glob_to_like, ListParams};
use rjobs_core::Id;
use rjobs_query::{Dialect, Query, SqlParam};

use crate::Backend;

/// Binds every [`SqlParam`] of `$params` to the sqlx query `$q` (one expansion per backend).
macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                rjobs_query::SqlParam::Text(s) => q.bind(s.as_str()),
                rjobs_query::SqlParam::Int(i) => q.bind(*i),
                rjobs_query::SqlParam::Float(f) => q.bind(*f),
                rjobs_query::SqlParam::Bool(b) => q.bind(*b),
                rjobs_query::SqlParam::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// Maps API sort/filter field names to SQL expressions over one table.
pub(crate) type Fields = &'static [(&'static str, &'static str)];

/// A statement under construction.
#[derive(Debug, Clone)]
pub(crate) struct SqlBuf {
    pg: bool,
    pub sql: String,
    pub params: Vec<SqlParam>,
}

impl SqlBuf {
    pub(crate) fn new(b: Backend) -> Self {
        SqlBuf {
            pg: b == Backend::Postgres,
            sql: String::with_capacity(256),
            params: Vec::new(),
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        if self.pg {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    pub(crate) fn is_pg(&self) -> bool {
        self.pg
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    /// Appends a placeholder bound to `p`.
    pub(crate) fn bind(&mut self, p: SqlParam) -> &mut Self {
        self.params.push(p);
        if self.pg {
            self.sql.push('$');
            self.sql.push_str(&self.params.len().to_string());
        } else {
            self.sql.push('?');
        }
        self
    }

    pub(crate) fn text(&mut self, s: &str) -> &mut Self {
        self.bind(SqlParam::Text(s.to_owned()))
    }

    pub(crate) fn int(&mut self, i: i64) -> &mut Self {
        self.bind(SqlParam::Int(i))
    }

    pub(crate) fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.bind(SqlParam::Null),
        }
    }

    pub(crate) fn opt_int(&mut self, i: Option<i64>) -> &mut Self {
        match i {
            Some(i) => self.int(i),
            None => self.push("NULL"),
        }
    }

    /// `(a, b, ...)` of ids, or `(NULL)` when empty (so `IN` matches nothing).
    pub(crate) fn id_list(&mut self, ids: &[Id]) -> &mut Self {
        self.push("(");
        if ids.is_empty() {
            self.push("NULL");
        }
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(id.as_str());
        }
        self.push(")")
    }

    /// ` AND (<compiled query>)` over the table aliased `alias`.
    pub(crate) fn query(&mut self, q: Option<&Query>, alias: &str, app: &Id) -> &mut Self {
        if let Some(q) = q {
            let f = q.to_sql(self.dialect(), alias, app.as_str(), self.params.len() + 1);
            self.sql.push_str(" AND (");
            self.sql.push_str(&f.sql);
            self.sql.push(')');
            self.params.extend(f.params);
        }
        self
    }

    /// ` AND lower(<field>) LIKE <glob> ESCAPE '\'` when the list filters.
    pub(crate) fn filter(&mut self, p: &ListParams, fields: Fields) -> &mut Self {
        if let (Some(f), Some(g)) = (p.filter_field, &p.filter) {
            let col = field(fields, f);
            self.push(&format!(" AND lower({col}) LIKE "));
            self.text(&glob_to_like(g));
            self.push(" ESCAPE '\\'");
        }
        self
    }

    /// ` ORDER BY <sort> <dir>, id <dir> LIMIT n OFFSET m`.
    pub(crate) fn order_page(&mut self, p: &ListParams, fields: Fields, id_col: &str) -> &mut Self {
        let dir = p.sort_direction.as_str();
        let col = field(fields, p.sort_field);
        self.push(&format!(" ORDER BY {col} {dir}, {id_col} {dir} LIMIT "));
        self.int(i64::from(p.per_page));
        self.push(" OFFSET ");
        self.int(i64::try_from(p.offset()).unwrap_or(i64::MAX))
    }
}

/// The SQL expression of an API field (the id column when unknown, which the list spec
/// prevents).
pub(crate) fn field(fields: Fields, api: &str) -> &'static str {
    fields
        .iter()
        .find(|(a, _)| *a == api)
        .map(|(_, c)| *c)
        .unwrap_or("id")
}

/// Decodes a JSON text column.
pub(crate) fn json_col<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, crate::StoreError> {
    serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("{what}: {e}")))
}

/// Encodes a value for a JSON text column.
pub(crate) fn to_json_text<T: serde::Serialize>(v: &T) -> String {
    // Serializing plain data (strings, maps, derived structs) cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Page cache of the SQLite writer connection while bulk-loading, in KiB.
const BULK_CACHE_KIB: i64 = 262_144;

impl super::SqlStore {
    /// Gives the single SQLite writer connection a large page cache before a bulk insert.
    ///
    /// Why: a bulk call inserts into a dozen indexes at scattered positions (tag values, names);
    /// with SQLite's 2 MiB default cache every insert re-reads pages from the OS and rewrites
    /// them, which dominated the million-device load in profiles. The setting lasts for the
    /// connection, costs memory only as pages are used, and is a no-op on PostgreSQL.
    pub(crate) async fn sqlite_bulk_cache(&self) -> Result<(), crate::StoreError> {
        if let super::Pools::Sqlite { write, .. } = &self.pools {
            sqlx::query(&format!("PRAGMA cache_size = -{BULK_CACHE_KIB}"))
                .execute(write)
                .await?;
        }
        Ok(())
    }
}

/// The shared list query of the queryable resource tables: the application's rows of `$table`
/// matching the list filter and the compiled advanced query, counted, then one page in the
/// list's order, each row decoded with `$decode`. Evaluates to `Result<(u64, Vec<_>), StoreError>`.
macro_rules! query_page {
    ($store:expr, $table:literal, $app:expr, $p:expr, $query:expr, $fields:expr, $decode:expr) => {{
        let mut w = $crate::sql::qbuild::SqlBuf::new($store.backend_kind());
        w.push(concat!(" FROM ", $table, " WHERE application_id = "))
            .text($app.as_str());
        w.filter($p, $fields).query($query, $table, $app);
        let count_sql = format!("SELECT COUNT(*){}", w.sql);
        let count_params = w.params.clone();
        let mut page = w;
        page.sql.insert_str(0, "SELECT *");
        page.order_page($p, $fields, "id");
        let r: Result<(u64, Vec<_>), $crate::StoreError> = $crate::sql::with_read!($store, pool => {
            let total: i64 = $crate::sql::qbuild::bind_all!(sqlx::query_scalar(&count_sql), &count_params)
                .fetch_one(pool)
                .await?;
            let rows = $crate::sql::qbuild::bind_all!(sqlx::query(&page.sql), &page.params)
                .fetch_all(pool)
                .await?;
            Ok((
                u64::try_from(total).unwrap_or(0),
                rows.iter().map($decode).collect::<Result<Vec<_>, _>>()?,
            ))
        });
        r
    }};
}
pub(crate) use query_page;
