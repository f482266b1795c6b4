//! Where a node's failure goes: the original's `errorBehavior` (`throw`, the default, ends the
//! run; `payloadPath` writes `{type, message}` at `errorPath` and the flow continues) and the
//! data-table nodes' `{error: {type, message}}` at `resultPath`. Shared so every node reads
//! and writes these the same way.

use serde_json::{json, Value};

use crate::config::Cfg;
use crate::error::NodeError;
use crate::host::HostError;
use crate::{path, FlowError};

/// `errorBehavior` / `errorPath`: `Some(path)` when failures go to the payload.
pub(crate) fn error_path(c: &Cfg<'_>) -> Result<Option<String>, FlowError> {
    let behavior = c.choice("errorBehavior", &["throw", "payloadPath"], "throw")?;
    let path = c.path("errorPath")?;
    match behavior.as_str() {
        "payloadPath" if path.is_none() => {
            Err(c.err("errorPath", "is required when errorBehavior is payloadPath"))
        }
        "payloadPath" => Ok(path),
        _ => Ok(None),
    }
}

/// Writes `{type, message}` at `error_path`, or fails the node with `e` when there is none.
pub(crate) fn fail(
    p: &mut Value,
    error_path: &Option<String>,
    ty: &str,
    e: NodeError,
) -> Result<(), NodeError> {
    match error_path {
        Some(ep) => path::set(p, ep, json!({"type": ty, "message": e.to_string()})),
        None => Err(e),
    }
}

/// [`fail`] with a host error's type and message.
pub(crate) fn fail_host(
    p: &mut Value,
    error_path: &Option<String>,
    e: HostError,
) -> Result<(), NodeError> {
    fail(p, error_path, e.kind(), NodeError::Host(e))
}

/// Writes `{error: {type, message}}` at `result_path`, or fails the node when there is none.
pub(crate) fn fail_to(
    p: &mut Value,
    result_path: &Option<String>,
    ty: &str,
    e: NodeError,
) -> Result<(), NodeError> {
    match result_path {
        Some(rp) => path::set(
            p,
            rp,
            json!({"error": {"type": ty, "message": e.to_string()}}),
        ),
        None => Err(e),
    }
}

/// Renders a template that must produce JSON (`field` names it in the error).
pub(crate) fn render_json(field: &str, t: &str, p: &Value) -> Result<Value, NodeError> {
    let text = crate::template::render(t, p).map_err(NodeError::at_fn(field))?;
    serde_json::from_str(&text).map_err(|e| NodeError::not_json(field, e, &text))
}

/// Renders a template and trims it (ids, names, numbers).
pub(crate) fn render_trim(field: &str, t: &str, p: &Value) -> Result<String, NodeError> {
    crate::template::render(t, p)
        .map(|s| s.trim().to_string())
        .map_err(NodeError::at_fn(field))
}
