//! The single error type of this crate.
//!
//! Why: the API layer turns an invalid query into a 400 `Validation` whose message must point at
//! the offending part, so every error carries a JSON-ish path (`$or[2].tags.$tagValue`) next to
//! a human message, and `Display` joins them.

use std::fmt;

/// An invalid query: `path` locates the offending part (`""` is the whole document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub path: String,
    pub message: String,
}

impl QueryError {
    pub(crate) fn new(path: &str, message: impl Into<String>) -> Self {
        QueryError {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "query: {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for QueryError {}

/// `path.key` (or `key` at the root).
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`.
pub(crate) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}
