//! The one text rule of both backends: strings must not contain C0 control characters other than
//! tab, newline and carriage return.
//!
//! Why: PostgreSQL cannot store NUL in `text` (the insert fails, which used to surface as a 500,
//! or, for an acknowledgement, as an iteration stuck in progress), while SQLite stores it; other
//! control characters break CSV reports and terminals. Refusing them everywhere gives the same
//! answer on both backends. The API's JSON extractor applies this to every body and query
//! parameter; the query parser (`rjobs-query`, which has no dependency on this crate) applies the
//! same rule to every query string, rendered `queryJson` included, and the flow runner strips
//! them from acknowledgement messages.

use serde_json::Value;

/// Whether `c` is a control character the rule refuses (C0 except tab, newline, CR).
pub fn refused_control(c: char) -> bool {
    c.is_ascii_control() && c != '\t' && c != '\n' && c != '\r' && c != '\u{7f}'
}

/// The path (`tags[0].value`, empty for the root) and character of the first string or key in
/// `v` that holds a refused control character. Walks with an explicit stack.
pub fn find_control(v: &Value) -> Option<(String, char)> {
    let mut stack = vec![(String::new(), v)];
    while let Some((path, v)) = stack.pop() {
        match v {
            Value::String(s) => {
                if let Some(c) = s.chars().find(|c| refused_control(*c)) {
                    return Some((path, c));
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), x));
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if let Some(c) = k.chars().find(|c| refused_control(*c)) {
                        return Some((p, c));
                    }
                    stack.push((p, x));
                }
            }
            _ => {}
        }
    }
    None
}

/// The error message for `c` found in `field` (`body` when the field is the root).
pub fn control_message(field: &str, c: char) -> String {
    let field = if field.is_empty() { "body" } else { field };
    format!(
        "{field}: must not contain control characters (found U+{:04X}; only tab, newline and \
         carriage return are allowed)",
        c as u32
    )
}

/// `s` without the refused control characters.
pub fn strip_control(s: &str) -> String {
    s.chars().filter(|c| !refused_control(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_field() {
        let v = json!({"name": "ok\tfine\n", "tags": [{"key": "k", "value": "a\u{0}b"}]});
        assert_eq!(find_control(&v), Some(("tags[0].value".into(), '\0')));
        assert_eq!(
            find_control(&json!({"a\u{1b}": 1})),
            Some(("a\u{1b}".into(), '\u{1b}'))
        );
        assert_eq!(
            find_control(&json!(["x", {"y": "\u{7}"}])),
            Some(("[1].y".into(), '\u{7}'))
        );
        assert_eq!(
            find_control(&json!({"t": "tab\tnl\ncr\r del\u{7f} é"})),
            None
        );
        assert!(control_message("name", '\0').starts_with("name: must not contain"));
        assert_eq!(strip_control("a\u{0}b\tc"), "ab\tc");
    }
}
