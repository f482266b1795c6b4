//! Iteration ids: `<executionId>-<24hex>`. The suffix is the iteration's own 24-hex key; the
//! engine is expected to use the resource id, which makes the id deterministic (re-inserting a
//! target set after a crash yields the same ids) and sorts iterations in resource-id order.

use std::fmt;
use std::str::FromStr;

use crate::Id;

/// An iteration id: the execution id and a 24-hex key, joined by `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IterationId {
    execution: Id,
    key: Id,
}

/// The text was not `<24hex>-<24hex>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an iteration id of the form <executionId>-<24 hex characters>")]
pub struct InvalidIterationId;

impl IterationId {
    /// The id of the iteration with `key` (normally the resource id) in `execution`.
    pub fn new(execution: Id, key: Id) -> Self {
        IterationId { execution, key }
    }

    /// Parses `<executionId>-<24hex>`, accepting upper-case hex (normalised to lower case).
    pub fn parse(s: &str) -> Result<Self, InvalidIterationId> {
        let (exec, key) = s.split_once('-').ok_or(InvalidIterationId)?;
        Ok(IterationId {
            execution: Id::parse(exec).map_err(|_| InvalidIterationId)?,
            key: Id::parse(key).map_err(|_| InvalidIterationId)?,
        })
    }

    /// The execution the iteration belongs to.
    pub fn execution_id(&self) -> &Id {
        &self.execution
    }

    /// The iteration's key within its execution.
    pub fn key(&self) -> &Id {
        &self.key
    }
}

impl fmt::Display for IterationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.execution, self.key)
    }
}

impl fmt::Debug for IterationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IterationId({self})")
    }
}

impl FromStr for IterationId {
    type Err = InvalidIterationId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IterationId::parse(s)
    }
}
