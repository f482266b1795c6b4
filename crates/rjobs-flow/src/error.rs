//! [`NodeError`]: why running a flow, or one of its building blocks, failed.
//!
//! Why one typed error: the runner, the nodes and the pieces they share (templates, payload
//! paths, expressions, the outbound policy, the template budget) all fail into the same place —
//! a node's `errorPath`, a data-table node's `resultPath`, or the run's `error` — so they share
//! one enum that callers can match (was it the outbound policy? a host refusal? a budget?)
//! instead of parsing text. [`FlowError`](crate::FlowError) stays the save-time validation
//! error (a JSON path and a message) and [`HostError`] the server's answer to a host call;
//! a host refusal a node passes on is wrapped, not flattened.
//!
//! The `Display` text of every variant is the message flows have always logged and written
//! to payloads (flow logs and tests compare it), so a variant's fields are the parts of that
//! message; [`NodeError::At`] prefixes the field or node a cause belongs to
//! (`messageTemplate: template could not be rendered: ...`).

use std::net::IpAddr;

use crate::bounds::{MAX_OUTPUT_BYTES, MAX_RENDER_STEPS};
use crate::host::HostError;
use crate::outbound::SETTING;
use crate::path::MAX_SEGMENTS;
use crate::run::{MAX_NODE_RUNS, MAX_PAYLOAD_DEPTH};

/// What failed while checking, rendering or running part of a flow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// `cause`, in the field, node or rule `at` (`"rules[0]"`, `"node \"n\" (Debug)"`).
    #[error("{at}: {cause}")]
    At { at: String, cause: Box<NodeError> },

    /// A payload path is malformed or cannot be written; `message` says why.
    #[error("{message}")]
    Path { path: String, message: String },
    /// A payload path has more than [`MAX_SEGMENTS`] segments.
    #[error("invalid payload path: {segments} segments; at most {MAX_SEGMENTS} are allowed")]
    PathTooLong { path: String, segments: usize },

    /// A template is outside [`crate::bounds`] (size, nesting, `else` arms, partials).
    #[error("{0}")]
    TemplateBounds(String),
    /// A template does not compile (handlebars' message).
    #[error("invalid template: {0}")]
    TemplateSyntax(String),
    /// A template failed while rendering (the first line of handlebars' message).
    #[error("template could not be rendered: {0}")]
    TemplateRender(String),
    /// A template's output passed [`MAX_OUTPUT_BYTES`].
    #[error("template output exceeds the maximum of {MAX_OUTPUT_BYTES} bytes")]
    TemplateOutput,
    /// A render used up its [`MAX_RENDER_STEPS`] step budget.
    #[error(
        "template rendering exceeded {MAX_RENDER_STEPS} steps (nested blocks over large data)"
    )]
    BudgetSpent,
    /// A rendered template that had to be JSON is not (`text`: its first 100 characters).
    #[error("{field} did not render valid JSON ({error}): {text}")]
    NotJson {
        field: String,
        error: String,
        text: String,
    },

    /// An expression does not parse or cannot be evaluated.
    #[error("{0}")]
    Expression(String),

    /// A config value or a value rendered from one is invalid; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A value the node cannot use (a topic, a device id, a delay, a cron pattern, a value
    /// missing from the payload, ...); the message names it and says why.
    #[error("{0}")]
    Rejected(String),

    /// The outbound policy refused an address (see [`crate::outbound`]).
    #[error(
        "outbound request to {ip} refused: {kind} addresses are not allowed \
         (allow a range with the setting {SETTING})"
    )]
    Denied { ip: IpAddr, kind: &'static str },
    /// The HTTP node's request failed; `kind` is the `type` written to `errorPath`.
    #[error("{message}")]
    Http { kind: &'static str, message: String },

    /// A host call failed or was refused.
    #[error(transparent)]
    Host(#[from] HostError),

    /// The Function node's script failed or hit a sandbox limit.
    #[error("{0}")]
    Script(String),
    /// A Throw Error node ran: its rendered message.
    #[error("{0}")]
    Thrown(String),

    /// A payload nests deeper than [`MAX_PAYLOAD_DEPTH`].
    #[error("payload nests deeper than {MAX_PAYLOAD_DEPTH} levels")]
    PayloadTooDeep,
    /// A payload is larger than the run's limit.
    #[error("payload exceeds the maximum size of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// A run was started with a payload that is not a JSON object.
    #[error("the payload must be a JSON object")]
    PayloadNotObject,
    /// A run was started from a trigger the flow does not have.
    #[error("the flow has no trigger {0}")]
    NoTrigger(usize),
    /// An output names a node the flow does not have.
    #[error("no node with id {0:?}")]
    NoNode(String),
    /// The run made [`MAX_NODE_RUNS`] node executions.
    #[error("the run exceeded {MAX_NODE_RUNS} node executions")]
    TooManyNodeRuns,
    /// The run passed its deadline while running `node`.
    #[error("the run exceeded its maximum duration of {ms} ms at {node}")]
    Timeout { ms: u64, node: String },
}

impl NodeError {
    /// This error as the cause in the field, node or rule `at`.
    pub fn at(self, at: impl Into<String>) -> NodeError {
        NodeError::At {
            at: at.into(),
            cause: Box::new(self),
        }
    }

    /// A closure for `map_err` that puts the error at `at`.
    pub fn at_fn(at: &str) -> impl FnOnce(NodeError) -> NodeError + '_ {
        move |e| e.at(at)
    }

    /// The innermost cause (past every [`NodeError::At`]).
    pub fn root(&self) -> &NodeError {
        match self {
            NodeError::At { cause, .. } => cause.root(),
            other => other,
        }
    }

    /// A [`NodeError::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> NodeError {
        NodeError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A [`NodeError::Path`] about `path`.
    pub fn path(path: &str, message: impl Into<String>) -> NodeError {
        NodeError::Path {
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// A [`NodeError::NotJson`] for the rendered `text` of `field`.
    pub fn not_json(field: impl Into<String>, error: impl ToString, text: &str) -> NodeError {
        NodeError::NotJson {
            field: field.into(),
            error: error.to_string(),
            text: text.chars().take(100).collect(),
        }
    }

    /// A [`NodeError::Rejected`].
    pub fn rejected(message: impl Into<String>) -> NodeError {
        NodeError::Rejected(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_prefixes_and_root_sees_through() {
        let e = NodeError::TemplateOutput
            .at("messageTemplate")
            .at("rules[1]");
        assert_eq!(
            e.to_string(),
            format!(
                "rules[1]: messageTemplate: template output exceeds the maximum of \
                 {MAX_OUTPUT_BYTES} bytes"
            )
        );
        assert_eq!(e.root(), &NodeError::TemplateOutput);
    }

    #[test]
    fn not_json_keeps_the_first_100_characters() {
        let text = "x".repeat(300);
        let e = NodeError::not_json("f", "bad", &text);
        assert_eq!(
            e.to_string(),
            format!("f did not render valid JSON (bad): {:.100}", text)
        );
    }

    #[test]
    fn host_errors_are_wrapped_with_their_text() {
        let h = HostError::Conflict("busy".into());
        assert_eq!(NodeError::from(h.clone()).to_string(), h.to_string());
    }
}
