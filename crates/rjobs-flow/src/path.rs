//! Payload paths: the original's static dot paths (`data.items.0.name`, `data.items.[0].name`,
//! `data.items[0]`, `data.[key with spaces]`, `.` for the whole payload).
//!
//! Reading never fails (a missing segment anywhere yields `None`, the original's `undefined`).
//! Writing creates missing containers on the way, the way lodash's `set` does: an all-digit next
//! segment creates an array, anything else an object. Array writes far beyond the end are refused
//! so a path like `a.999999999` cannot allocate without bound.

use serde_json::{Map, Value};

use crate::error::NodeError;

/// How far past the end of an array a write may pad with `null`s.
const MAX_ARRAY_PAD: usize = 10_000;
/// The most segments in one path (each write may nest the payload this much deeper).
pub const MAX_SEGMENTS: usize = 32;

/// Splits a path into its segments. `"."` and `""` are the root (no segments).
pub fn segments(path: &str) -> Result<Vec<String>, NodeError> {
    let path = path.trim();
    if path.is_empty() || path == "." {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    // `fresh` is true right after a bracket segment, so `a.[0].b` and `a[0]b`-style joins work.
    let mut fresh = false;
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                } else if !fresh {
                    return Err(empty_segment(path));
                }
                fresh = false;
            }
            '[' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                let mut key = String::new();
                let mut closed = false;
                for k in chars.by_ref() {
                    if k == ']' {
                        closed = true;
                        break;
                    }
                    key.push(k);
                }
                if !closed {
                    return Err(NodeError::path(
                        path,
                        format!("invalid payload path {path:?}: unclosed '['"),
                    ));
                }
                out.push(key);
                fresh = true;
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    } else if !fresh && path.ends_with('.') {
        return Err(empty_segment(path));
    }
    if out.len() > MAX_SEGMENTS {
        return Err(NodeError::PathTooLong {
            path: path.to_string(),
            segments: out.len(),
        });
    }
    Ok(out)
}

fn empty_segment(path: &str) -> NodeError {
    NodeError::path(
        path,
        format!("invalid payload path {path:?}: empty segment"),
    )
}

/// Whether `path` is a syntactically valid payload path.
pub fn validate(path: &str) -> Result<(), NodeError> {
    segments(path).map(|_| ())
}

fn index_of(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) || seg.len() > 18 {
        return None;
    }
    seg.parse().ok()
}

/// The value at `path`, or `None` when any segment is missing. `length` on an array or string
/// (without such a key) gives its length, as in JavaScript.
pub fn get(root: &Value, path: &str) -> Option<Value> {
    let segs = segments(path).ok()?;
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        match cur {
            Value::Object(m) => cur = m.get(seg)?,
            Value::Array(a) => match index_of(seg) {
                Some(ix) => cur = a.get(ix)?,
                None if seg == "length" => {
                    return get_rest(Value::from(a.len()), &segs[i + 1..]);
                }
                None => return None,
            },
            Value::String(s) => {
                let derived = if seg == "length" {
                    Value::from(s.encode_utf16().count())
                } else {
                    Value::String(s.chars().nth(index_of(seg)?)?.to_string())
                };
                return get_rest(derived, &segs[i + 1..]);
            }
            _ => return None,
        }
    }
    Some(cur.clone())
}

fn get_rest(v: Value, rest: &[String]) -> Option<Value> {
    if rest.is_empty() {
        return Some(v);
    }
    let mut cur = v;
    for seg in rest {
        cur = match cur {
            Value::Object(mut m) => m.remove(seg)?,
            Value::Array(mut a) => {
                if seg == "length" {
                    Value::from(a.len())
                } else {
                    let i = index_of(seg)?;
                    if i >= a.len() {
                        return None;
                    }
                    a.swap_remove(i)
                }
            }
            Value::String(s) => {
                if seg == "length" {
                    Value::from(s.encode_utf16().count())
                } else {
                    Value::String(s.chars().nth(index_of(seg)?)?.to_string())
                }
            }
            _ => return None,
        };
    }
    Some(cur)
}

/// Writes `value` at `path`, creating containers as needed. Writing the root requires an object.
pub fn set(root: &mut Value, path: &str, value: Value) -> Result<(), NodeError> {
    let segs = segments(path)?;
    if segs.is_empty() {
        if !value.is_object() {
            return Err(NodeError::path(
                path,
                "only an object can replace the whole payload",
            ));
        }
        *root = value;
        return Ok(());
    }
    let mut cur = root;
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let next_is_index = segs.get(i + 1).and_then(|s| index_of(s)).is_some();
        if !cur.is_object() && !cur.is_array() {
            *cur = Value::Object(Map::new());
        }
        if index_of(seg).is_none() {
            if let Value::Array(a) = cur {
                // A non-index key on an array: JSON cannot carry array properties, so the array
                // becomes an object keyed by index.
                let m: Map<String, Value> = a
                    .drain(..)
                    .enumerate()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                *cur = Value::Object(m);
            }
        }
        let slot: &mut Value = match cur {
            Value::Array(a) => {
                let idx = index_of(seg).unwrap_or(0);
                if idx > a.len() + MAX_ARRAY_PAD {
                    return Err(NodeError::path(
                        path,
                        format!("array index {idx} in {path:?} is too far past the end"),
                    ));
                }
                if idx >= a.len() {
                    a.resize(idx + 1, Value::Null);
                }
                &mut a[idx]
            }
            Value::Object(m) => m.entry(seg.clone()).or_insert(Value::Null),
            _ => return Err(NodeError::path(path, "internal: expected a container")),
        };
        if last {
            *slot = value;
            return Ok(());
        }
        if !slot.is_object() && !slot.is_array() {
            *slot = if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            };
        }
        cur = slot;
    }
    Ok(())
}

/// Removes the value at `path`; a missing path is a no-op. Removing an array element shifts the
/// rest (like `splice`), removing the root is refused.
pub fn remove(root: &mut Value, path: &str) -> Result<Option<Value>, NodeError> {
    let segs = segments(path)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err(NodeError::path(path, "the whole payload cannot be removed"));
    };
    let mut cur = root;
    for seg in parents {
        cur = match cur {
            Value::Object(m) => match m.get_mut(seg) {
                Some(v) => v,
                None => return Ok(None),
            },
            Value::Array(a) => match index_of(seg).and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    Ok(match cur {
        Value::Object(m) => m.remove(last),
        Value::Array(a) => match index_of(last) {
            Some(i) if i < a.len() => Some(a.remove(i)),
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_forms() {
        assert_eq!(
            segments("data.items.0.name").unwrap(),
            ["data", "items", "0", "name"]
        );
        assert_eq!(
            segments("data.items.[0].name").unwrap(),
            ["data", "items", "0", "name"]
        );
        assert_eq!(
            segments("data.items[0].name").unwrap(),
            ["data", "items", "0", "name"]
        );
        assert_eq!(
            segments("data.[key with spaces]").unwrap(),
            ["data", "key with spaces"]
        );
        assert!(segments(".").unwrap().is_empty());
        assert!(segments("a..b").is_err());
        assert!(segments("a.[b").is_err());
        assert!(segments("a.").is_err());
    }

    #[test]
    fn get_set_remove() {
        let mut v = json!({"data": {"items": [{"name": "x"}, {"name": "y"}], "s": "hey"}});
        assert_eq!(get(&v, "data.items.1.name"), Some(json!("y")));
        assert_eq!(get(&v, "data.items.[0].name"), Some(json!("x")));
        assert_eq!(get(&v, "data.items.length"), Some(json!(2)));
        assert_eq!(get(&v, "data.s.length"), Some(json!(3)));
        assert_eq!(get(&v, "data.s.[0]"), Some(json!("h")));
        assert_eq!(get(&v, "data.nope.deeper"), None);
        assert_eq!(get(&v, "."), Some(v.clone()));
        set(&mut v, "working.a.b", json!(1)).unwrap();
        set(&mut v, "working.list.1", json!("z")).unwrap();
        assert_eq!(v["working"], json!({"a": {"b": 1}, "list": [null, "z"]}));
        assert_eq!(
            remove(&mut v, "data.items.0").unwrap(),
            Some(json!({"name": "x"}))
        );
        assert_eq!(get(&v, "data.items.0.name"), Some(json!("y")));
        assert_eq!(remove(&mut v, "no.such.path").unwrap(), None);
        assert!(set(&mut v, "a.99999999", json!(1)).is_err());
        assert!(set(&mut v, ".", json!(1)).is_err());
        set(&mut v, "data.s.x", json!(1)).unwrap();
        assert_eq!(v["data"]["s"], json!({"x": 1}));
    }
}
