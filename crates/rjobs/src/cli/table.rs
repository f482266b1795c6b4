//! Plain-text output for people: aligned columns and `key: value` blocks.
//!
//! Hand-rolled instead of a table crate because the needs are tiny (left-aligned columns, no
//! borders, no wrapping) and output must stay stable for tests and `grep`. Widths count `char`s,
//! which is right for the ids, names and numbers we print.

use serde_json::Value;

/// Renders `rows` under `headers`, columns separated by two spaces, no trailing spaces.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map(String::as_str).unwrap_or("");
            line.push_str(cell);
            if i + 1 < widths.len() {
                let pad = w.saturating_sub(cell.chars().count()) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Renders `key: value` lines with the values aligned; keys taken from `fields` in order,
/// values looked up in `obj` (missing → `-`).
pub fn render_fields(obj: &Value, fields: &[(&str, &str)]) -> String {
    let width = fields
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (label, key) in fields {
        let v = cell(&obj[*key]);
        out.push_str(&format!("{label:<width$}  {v}\n"));
    }
    out
}

/// One JSON value as a table cell: strings bare, `null`/missing as `-`, the rest as JSON.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) if s.is_empty() => "-".to_string(),
        Value::String(s) => s.replace(['\n', '\r', '\t'], " "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_align() {
        let t = render(
            &["NAME", "ID"],
            &[
                vec!["a-long-name".into(), "1".into()],
                vec!["b".into(), "22".into()],
            ],
        );
        assert_eq!(t, "NAME         ID\na-long-name  1\nb            22\n");
    }

    #[test]
    fn cells_and_fields() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!("x\ny")), "x y");
        assert_eq!(cell(&json!(3)), "3");
        let f = render_fields(&json!({"a": 1}), &[("alpha", "a"), ("b", "b")]);
        assert_eq!(f, "alpha  1\nb      -\n");
    }
}
