//! List parameters shared by every collection endpoint (`sortField`, `sortDirection`, `page`,
//! `perPage`, `filterField`, `filter`). They arrive as strings — the official clients send
//! `page=0` — so they are parsed leniently here, once, with errors that name the parameter.

use std::collections::HashMap;

/// A request parameter that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The parameter or body field at fault, e.g. `perPage` or `resourceJob.name`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

impl SortDirection {
    /// `asc` or `desc`, as echoed in envelopes.
    pub fn as_str(self) -> &'static str {
        match self {
            SortDirection::Asc => "asc",
            SortDirection::Desc => "desc",
        }
    }
}

/// The longest `filter` glob, in characters.
pub const MAX_FILTER_CHARS: usize = 1024;

/// Which fields one collection may sort and filter by, and the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    /// Accepted `sortField` values, the first being the default.
    pub sort_fields: &'static [&'static str],
    /// Accepted `filterField` values.
    pub filter_fields: &'static [&'static str],
    /// Default `perPage`.
    pub default_per_page: u32,
}

/// Largest accepted `perPage`.
pub const MAX_PER_PAGE: u32 = 1000;

/// Parsed list parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// The API field name to sort by (one of the spec's).
    pub sort_field: &'static str,
    /// Direction.
    pub sort_direction: SortDirection,
    /// Zero-based page.
    pub page: u32,
    /// Items per page, 1..=1000.
    pub per_page: u32,
    /// Field to filter on, when filtering.
    pub filter_field: Option<&'static str>,
    /// Case-insensitive glob (`*`, `?`) applied to `filter_field`.
    pub filter: Option<String>,
}

impl ListParams {
    /// Reads the parameters from a query string map.
    pub fn parse(spec: &ListSpec, q: &HashMap<String, String>) -> Result<Self, FieldError> {
        let sort_field = match q
            .get("sortField")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            None => spec.sort_fields[0],
            Some(s) => spec
                .sort_fields
                .iter()
                .find(|f| f.eq_ignore_ascii_case(s))
                .copied()
                .ok_or_else(|| {
                    FieldError::new(
                        "sortField",
                        format!("must be one of {}", spec.sort_fields.join(", ")),
                    )
                })?,
        };
        let sort_direction = match q
            .get("sortDirection")
            .map(|s| s.trim().to_ascii_lowercase())
        {
            None => SortDirection::Asc,
            Some(s) if s.is_empty() || s == "asc" => SortDirection::Asc,
            Some(s) if s == "desc" => SortDirection::Desc,
            Some(_) => return Err(FieldError::new("sortDirection", "must be asc or desc")),
        };
        let page = parse_uint(q, "page", 0, 0, u32::MAX)?;
        let per_page = parse_uint(q, "perPage", spec.default_per_page, 1, MAX_PER_PAGE)?;
        let filter = q.get("filter").filter(|s| !s.is_empty()).cloned();
        if let Some(f) = &filter {
            // Far beyond any name; keeps the glob well inside SQLite's LIKE pattern limit.
            if f.chars().count() > MAX_FILTER_CHARS {
                return Err(FieldError::new(
                    "filter",
                    format!("must be at most {MAX_FILTER_CHARS} characters"),
                ));
            }
        }
        let filter_field = match q
            .get("filterField")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(
                spec.filter_fields
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(s))
                    .copied()
                    .ok_or_else(|| {
                        FieldError::new(
                            "filterField",
                            format!("must be one of {}", spec.filter_fields.join(", ")),
                        )
                    })?,
            ),
        };
        // A filter without a field means no filtering, as in the original.
        let (filter_field, filter) = match (filter_field, filter) {
            (Some(f), Some(v)) => (Some(f), Some(v)),
            (ff, _) => (ff, None),
        };
        Ok(ListParams {
            sort_field,
            sort_direction,
            page,
            per_page,
            filter_field,
            filter,
        })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page) * u64::from(self.per_page)
    }
}

/// Parses a boolean parameter: absent, empty, `false` or `0` is false; `true` or `1` is true
/// (any case, surrounding spaces); anything else names the parameter.
pub fn parse_flag(q: &HashMap<String, String>, name: &str) -> Result<bool, FieldError> {
    match q
        .get(name)
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(FieldError::new(
            name,
            format!("must be true or false, got {other:?}"),
        )),
    }
}

/// Parses an unsigned integer parameter leniently (surrounding spaces, `"10"`, `"10.0"`), within
/// `min..=max`; absent or empty gives `default`.
pub fn parse_uint(
    q: &HashMap<String, String>,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, FieldError> {
    let Some(raw) = q.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    let n = raw
        .parse::<u64>()
        .ok()
        .or_else(|| {
            raw.parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= 4e9)
                .map(|f| f as u64)
        })
        .ok_or_else(|| FieldError::new(name, format!("must be a whole number, got {raw:?}")))?;
    if n < u64::from(min) || n > u64::from(max) {
        return Err(FieldError::new(
            name,
            format!("must be between {min} and {max}, got {n}"),
        ));
    }
    Ok(n as u32)
}

/// An optional time parameter in milliseconds since the epoch (`since`); garbage is an error.
pub fn parse_millis(
    q: &HashMap<String, String>,
    name: &str,
) -> Result<Option<crate::Timestamp>, FieldError> {
    match q.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(|ms| Some(crate::Timestamp::from_millis(ms)))
            .map_err(|_| {
                FieldError::new(
                    name,
                    format!("expected milliseconds since the epoch, got {s:?}"),
                )
            }),
    }
}

/// Turns a case-insensitive glob (`*` any run, `?` one character) into a SQL `LIKE` pattern using
/// `\` as the escape character; the caller compares lower-cased text.
pub fn glob_to_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 2);
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Reference implementation of the glob match, used by tests as the oracle for the SQL version.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = glob.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ListSpec = ListSpec {
        sort_fields: &["name", "id", "creationDate"],
        filter_fields: &["name"],
        default_per_page: 100,
    };

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let p = ListParams::parse(&SPEC, &q(&[])).unwrap();
        assert_eq!(p.sort_field, "name");
        assert_eq!(p.sort_direction, SortDirection::Asc);
        assert_eq!((p.page, p.per_page), (0, 100));
        assert_eq!(p.filter, None);
    }

    #[test]
    fn table() {
        let ok = [
            (vec![("page", " 2 "), ("perPage", "10")], (2, 10)),
            (vec![("perPage", "1000")], (0, 1000)),
            (vec![("perPage", "5.0")], (0, 5)),
            (vec![("page", "")], (0, 100)),
        ];
        for (input, (page, per)) in ok {
            let p = ListParams::parse(&SPEC, &q(&input)).unwrap();
            assert_eq!((p.page, p.per_page), (page, per), "{input:?}");
        }
        let bad = [
            (vec![("perPage", "0")], "perPage"),
            (vec![("perPage", "1001")], "perPage"),
            (vec![("page", "abc")], "page"),
            (vec![("page", "-1")], "page"),
            (vec![("sortField", "color")], "sortField"),
            (vec![("sortDirection", "up")], "sortDirection"),
            (vec![("filterField", "id")], "filterField"),
        ];
        for (input, field) in bad {
            let e = ListParams::parse(&SPEC, &q(&input)).unwrap_err();
            assert_eq!(e.field, field, "{input:?}");
        }
        let p = ListParams::parse(&SPEC, &q(&[("sortField", "ID"), ("sortDirection", "DESC")]))
            .unwrap();
        assert_eq!(
            (p.sort_field, p.sort_direction),
            ("id", SortDirection::Desc)
        );
    }

    #[test]
    fn millis_parameters() {
        assert_eq!(parse_millis(&q(&[]), "since"), Ok(None));
        assert_eq!(
            parse_millis(&q(&[("since", " 1465790400000 ")]), "since"),
            Ok(Some(crate::Timestamp::from_millis(1_465_790_400_000)))
        );
        assert_eq!(
            parse_millis(&q(&[("since", "soon")]), "since")
                .unwrap_err()
                .field,
            "since"
        );
    }

    #[test]
    fn glob_to_like_escapes() {
        assert_eq!(glob_to_like("My*Job?"), "my%job_");
        assert_eq!(glob_to_like("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[test]
    fn glob_reference() {
        assert!(glob_matches("my*job", "My Great JOB"));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("pump", "pump-1"));
    }
}
