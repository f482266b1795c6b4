//! The resources resource jobs iterate over — devices, data tables and their rows, experience
//! groups and users — as validated records, plus the request bodies that create and change them.
//!
//! Why here and not in the API: the same validation runs for a single `POST`, for every item of a
//! bulk call (where the error must name the item's index, `[3].name: ...`) and in tests, and the
//! REST shape of each record (its view, `view()`, a type deriving `Serialize` and `JsonSchema`
//! whose schema `/openapi.json` shows; `to_json` is the same as a JSON value) is needed both by
//! handlers and by the store (the engine reads resources "as their REST GET" to hand them to
//! workflows). Bodies deserialize with
//! `deny_unknown_fields`; fields the original API defines but rjobs does not model are declared
//! and ignored, so official clients never get a 400 for a legal body.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::list::FieldError;
use crate::Id;

pub mod device;
pub mod experience;
pub mod table;

pub use device::{Attribute, ConnectionInfo, Device, DevicePatch, DevicePost, DeviceView};
pub use experience::{
    ExperienceGroup, ExperienceUser, GroupPatch, GroupPost, GroupView, UserPatch, UserPost,
    UserView,
};
pub use table::{
    Cell, Column, ColumnType, Constraint, DataRow, DataTable, RowView, TablePatch, TablePost,
    TableView,
};

/// Most items one bulk call may create.
pub const MAX_BULK: usize = 10_000;

/// A device tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// `^[0-9a-zA-Z_-]{1,255}$`.
    pub key: String,
    /// 1–255 characters.
    pub value: String,
}

/// A view as a JSON value. Views are plain data (strings, numbers, ids, timestamps, maps with
/// string keys), which always serialize.
pub fn to_value<T: Serialize>(view: &T) -> serde_json::Value {
    serde_json::to_value(view).unwrap_or(serde_json::Value::Null)
}

/// Prefixes a field error with a bulk item's index: `[3].name: ...`.
pub fn at_index(i: usize, e: FieldError) -> FieldError {
    let field = if e.field.is_empty() {
        format!("[{i}]")
    } else if e.field.starts_with('[') {
        format!("[{i}]{}", e.field)
    } else {
        format!("[{i}].{}", e.field)
    };
    FieldError::new(field, e.message)
}

/// Checks a string's length in characters.
pub fn check_len(field: &str, s: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(FieldError::new(
            field,
            if min == 0 {
                format!("must be at most {max} characters")
            } else {
                format!("must be between {min} and {max} characters")
            },
        ));
    }
    Ok(())
}

/// A `name` (1–255 characters).
pub fn check_name(field: &str, s: &str) -> Result<(), FieldError> {
    check_len(field, s, 1, 255)
}

/// A `description` (up to 32767 characters).
pub fn check_description(field: &str, s: &str) -> Result<(), FieldError> {
    check_len(field, s, 0, 32767)
}

/// Applies a patch's `name` and `description`, each validated, to a record's.
pub fn patch_text(
    name: Option<String>,
    description: Option<String>,
    to_name: &mut String,
    to_description: &mut String,
) -> Result<(), FieldError> {
    if let Some(v) = name {
        check_name("name", &v)?;
        *to_name = v;
    }
    if let Some(v) = description {
        check_description("description", &v)?;
        *to_description = v;
    }
    Ok(())
}

/// A tag key or attribute/column name: `^[0-9a-zA-Z_-]{1,255}$`.
pub fn check_key(field: &str, s: &str) -> Result<(), FieldError> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("{s:?} must match ^[0-9a-zA-Z_-]{{1,255}}$"),
        ))
    }
}

/// Parses a 24-hex id (upper case accepted).
pub fn parse_id(field: &str, s: &str) -> Result<Id, FieldError> {
    Id::parse(s).map_err(|_| {
        FieldError::new(
            field,
            format!("expected a 24-character hexadecimal id, got {s:?}"),
        )
    })
}

/// Parses a list of ids (at most `max`), dropping duplicates while keeping order.
pub fn parse_ids(field: &str, v: &[String], max: usize) -> Result<Vec<Id>, FieldError> {
    if v.len() > max {
        return Err(FieldError::new(
            field,
            format!("must have at most {max} items"),
        ));
    }
    let mut out: Vec<Id> = Vec::with_capacity(v.len());
    for (i, s) in v.iter().enumerate() {
        let id = parse_id(&format!("{field}[{i}]"), s)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Validates a `{key: value}` tag object (`groupTags`, `userTags`).
pub fn check_tag_map(field: &str, m: &BTreeMap<String, String>) -> Result<(), FieldError> {
    for (k, v) in m {
        check_key(&format!("{field}.{k}"), k)?;
        check_len(&format!("{field}.{k}"), v, 1, 255)?;
    }
    Ok(())
}

/// Validates `[{key, value}]` device tags (at most 100).
pub fn check_tags(field: &str, tags: &[Tag]) -> Result<(), FieldError> {
    if tags.len() > 100 {
        return Err(FieldError::new(field, "must have at most 100 items"));
    }
    for (i, t) in tags.iter().enumerate() {
        check_key(&format!("{field}[{i}].key"), &t.key)?;
        check_len(&format!("{field}[{i}].value"), &t.value, 1, 255)?;
    }
    Ok(())
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An optional id field that may be `null`: parses the string form.
pub fn parse_opt_id(field: &str, v: &Option<String>) -> Result<Option<Id>, FieldError> {
    v.as_deref().map(|s| parse_id(field, s)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_prefix() {
        let e = at_index(3, FieldError::new("name", "bad"));
        assert_eq!(e.to_string(), "[3].name: bad");
        assert_eq!(at_index(1, FieldError::new("", "x")).field, "[1]");
    }

    #[test]
    fn keys() {
        assert!(check_key("k", "site_1-a").is_ok());
        assert!(check_key("k", "").is_err());
        assert!(check_key("k", "a b").is_err());
        assert!(check_key("k", &"a".repeat(256)).is_err());
    }
}
