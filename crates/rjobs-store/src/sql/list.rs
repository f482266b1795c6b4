//! The shared shape of list queries: sort column from a whitelist, case-insensitive glob filter,
//! limit/offset, and a separate count of all matches.

use rjobs_core::list::{glob_to_like, ListParams};

/// Maps API field names to column names for one collection.
pub(crate) type Columns = &'static [(&'static str, &'static str)];

pub(crate) fn column(cols: Columns, api: &str) -> &'static str {
    cols.iter()
        .find(|(a, _)| *a == api)
        .map(|(_, c)| *c)
        .unwrap_or("id")
}

/// `ORDER BY`/filter pieces for a list. `next` is the number of the next free `$n` placeholder.
pub(crate) struct ListSql {
    /// ` AND lower(col) LIKE $n ESCAPE '\'` or empty.
    pub filter: String,
    /// The LIKE pattern to bind, when filtering.
    pub pattern: Option<String>,
    /// ` ORDER BY col dir, id dir LIMIT $a OFFSET $b`.
    pub order_limit: String,
}

pub(crate) fn list_sql(p: &ListParams, cols: Columns, next: usize) -> ListSql {
    let mut n = next;
    let (filter, pattern) = match (&p.filter_field, &p.filter) {
        (Some(f), Some(g)) => {
            let s = format!(" AND lower({}) LIKE ${n} ESCAPE '\\'", column(cols, f));
            n += 1;
            (s, Some(glob_to_like(g)))
        }
        _ => (String::new(), None),
    };
    let dir = p.sort_direction.as_str();
    // NULLs sort first ascending and last descending on both backends (their defaults differ).
    let nulls = match p.sort_direction {
        rjobs_core::list::SortDirection::Asc => "NULLS FIRST",
        rjobs_core::list::SortDirection::Desc => "NULLS LAST",
    };
    let order_limit = format!(
        " ORDER BY {} {dir} {nulls}, id {dir} LIMIT ${} OFFSET ${}",
        column(cols, p.sort_field),
        n,
        n + 1
    );
    ListSql {
        filter,
        pattern,
        order_limit,
    }
}

/// One page of a table scoped to an application (or to nothing): `COUNT(*)` of the matches, then
/// the page in the list's order, each row decoded with `$decode` (expanded once per backend).
macro_rules! list_page {
    ($store:expr, $table:literal, $app:expr, $cols:expr, $p:expr, $decode:expr) => {{
        let app: Option<&rjobs_core::Id> = $app;
        let first = if app.is_some() { 2 } else { 1 };
        let l = $crate::sql::list::list_sql($p, $cols, first);
        let scope = if app.is_some() { "application_id = $1" } else { "1=1" };
        let where_ = format!("WHERE {scope}{}", l.filter);
        let count_sql = format!(concat!("SELECT COUNT(*) FROM ", $table, " {}"), where_);
        let page_sql = format!(concat!("SELECT * FROM ", $table, " {}{}"), where_, l.order_limit);
        $crate::sql::with_read!($store, pool => {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            let mut q = sqlx::query(&page_sql);
            if let Some(a) = app {
                count = count.bind(a.as_str());
                q = q.bind(a.as_str());
            }
            if let Some(pat) = &l.pattern {
                count = count.bind(pat.clone());
                q = q.bind(pat.clone());
            }
            let total = count.fetch_one(pool).await?;
            let rows = q
                .bind(i64::from($p.per_page))
                .bind($p.offset() as i64)
                .fetch_all(pool)
                .await?;
            Ok($crate::Page {
                items: rows.iter().map($decode).collect::<Result<_, _>>()?,
                total_count: total as u64,
            })
        })
    }};
}
pub(crate) use list_page;
