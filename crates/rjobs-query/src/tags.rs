//! Parsing of tag queries (`tags`, `userTags`, `groupTags`).
//!
//! Why separate: tag queries have their own grammar (three forms, `$eq`/`$ne` wrappers and the
//! `TagVal` matcher) unrelated to the generic operators.

use serde_json::{Map, Value};

use crate::ast::{TagForm, TagQuery, TagVal};
use crate::error::{child, index, QueryError};
use crate::parse::{checked_str, limited_array};

/// Longest tag key/value accepted in a query (characters).
pub const MAX_TAG_LEN: usize = 255;

const FORM: &str = "expected null or an object ($tagKey/$tagValue, tag keys, $eq or $ne)";
const TAG_VAL: &str = "expected a string, null, or an object with $in or $nin";

pub(crate) fn parse_tags(v: &Value, path: &str) -> Result<TagQuery, QueryError> {
    if let Value::Object(o) = v {
        for (wrap, negate) in [("$eq", false), ("$ne", true)] {
            if let Some(inner) = o.get(wrap) {
                if o.len() != 1 {
                    return Err(QueryError::new(
                        path,
                        format!("{wrap} must be the only key of a tag query"),
                    ));
                }
                let p = child(path, wrap);
                return Ok(TagQuery {
                    negate,
                    form: form(inner, &p)?,
                });
            }
        }
    }
    Ok(TagQuery {
        negate: false,
        form: form(v, path)?,
    })
}

fn form(v: &Value, path: &str) -> Result<TagForm, QueryError> {
    let o = match v {
        Value::Null => return Ok(TagForm::NoTags),
        Value::Object(o) => o,
        _ => return Err(QueryError::new(path, FORM)),
    };
    if o.contains_key("$tagKey") || o.contains_key("$tagValue") {
        return pair(o, path);
    }
    let mut pairs = Vec::with_capacity(o.len());
    for (k, tv) in o {
        let p = child(path, k);
        if k.starts_with('$') {
            return Err(QueryError::new(&p, "unknown operator in a tag query"));
        }
        if !is_tag_key(k) {
            return Err(QueryError::new(
                &p,
                "invalid tag key (expected ^[0-9a-zA-Z_-]{1,255})",
            ));
        }
        pairs.push((checked_str(k, &p)?.to_owned(), tag_val(tv, &p)?));
    }
    Ok(TagForm::Keyed(pairs))
}

/// The original's pattern `^[0-9a-zA-Z_-]{1,255}` has no end anchor, so only the first
/// character is constrained.
fn is_tag_key(k: &str) -> bool {
    k.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn pair(o: &Map<String, Value>, path: &str) -> Result<TagForm, QueryError> {
    let mut key = TagVal::Any;
    let mut value = TagVal::Any;
    for (k, tv) in o {
        let p = child(path, k);
        match k.as_str() {
            "$tagKey" => key = tag_val(tv, &p)?,
            "$tagValue" => value = tag_val(tv, &p)?,
            _ => {
                return Err(QueryError::new(
                    &p,
                    "only $tagKey and $tagValue are allowed alongside $tagKey/$tagValue",
                ))
            }
        }
    }
    Ok(TagForm::Pair { key, value })
}

fn tag_str(v: &Value, path: &str) -> Result<String, QueryError> {
    match v {
        Value::String(s) if s.chars().count() <= MAX_TAG_LEN => {
            Ok(checked_str(s, path)?.to_owned())
        }
        Value::String(_) => Err(QueryError::new(
            path,
            format!("at most {MAX_TAG_LEN} characters are allowed"),
        )),
        _ => Err(QueryError::new(path, "expected a string")),
    }
}

fn tag_val(v: &Value, path: &str) -> Result<TagVal, QueryError> {
    match v {
        Value::Null => Ok(TagVal::Any),
        Value::String(_) => Ok(TagVal::Eq(tag_str(v, path)?)),
        Value::Object(o) if o.len() == 1 => {
            let (op, list) = o
                .iter()
                .next()
                .ok_or_else(|| QueryError::new(path, TAG_VAL))?;
            let p = child(path, op);
            let items = || -> Result<Vec<String>, QueryError> {
                limited_array(list, &p)?
                    .iter()
                    .enumerate()
                    .map(|(i, item)| tag_str(item, &index(&p, i)))
                    .collect()
            };
            match op.as_str() {
                "$in" => Ok(TagVal::In(items()?)),
                "$nin" => Ok(TagVal::Nin(items()?)),
                _ => Err(QueryError::new(path, TAG_VAL)),
            }
        }
        _ => Err(QueryError::new(path, TAG_VAL)),
    }
}
