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
