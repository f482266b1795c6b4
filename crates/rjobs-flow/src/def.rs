//! The flow definition: parsing and validating the original's flow JSON, and writing it back.
//!
//! Validation happens once, when a flow is created or patched, and names the culprit by JSON
//! path (`nodes[2].outputIds[0][0]: no node with id "x"`), so a flow that saved is a flow the
//! runner can execute: every trigger and node type is supported, every edge points at a node,
//! there are no cycles (a run always terminates) and every config field has the right type.
//! Triggers and nodes keep their `config`, `meta` and any other fields verbatim, so a flow
//! exported from the original comes back out unchanged.

use std::collections::HashSet;
use std::fmt;

use serde_json::{json, Map, Value};

use crate::config::{self, NodeKind};

/// The supported trigger types.
pub const TRIGGER_TYPES: [&str; 4] = [
    "resourceJobIteration",
    "resourceJobIterationTimeout",
    "resourceJobComplete",
    crate::timer::TIMER,
];

/// A validation error: the JSON path of the offending field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowError {
    pub path: String,
    pub message: String,
}

impl FlowError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FlowError {
        FlowError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FlowError {}

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDef {
    pub trigger_type: String,
    /// The resource job id; for a timer, its trigger id (the payload's `triggerId`).
    pub key: String,
    pub config: Value,
    pub meta: Option<Value>,
    pub output_ids: Vec<Vec<String>>,
    /// Other fields (for example `uiId`), kept verbatim.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeDef {
    pub id: String,
    pub node_type: String,
    /// The config as given (returned unchanged by [`flow_json`]).
    pub config: Value,
    pub meta: Option<Value>,
    pub output_ids: Vec<Vec<String>>,
    pub extra: Map<String, Value>,
    /// The checked, typed config the runner uses.
    pub kind: NodeKind,
}

/// A flow global: `key` and its value as JSON text (`json`), as the original stores them.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalDef {
    pub key: String,
    pub json: String,
    pub value: Value,
}

/// A validated flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDef {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub triggers: Vec<TriggerDef>,
    pub nodes: Vec<NodeDef>,
    pub globals: Vec<GlobalDef>,
}

impl FlowDef {
    /// Indexes of the triggers of type `trigger_type` keyed to `job_id`. A disabled flow listens
    /// to nothing.
    pub fn listens_to(&self, trigger_type: &str, job_id: &str) -> Vec<usize> {
        if !self.enabled {
            return Vec::new();
        }
        self.triggers
            .iter()
            .enumerate()
            .filter(|(_, t)| t.trigger_type == trigger_type && t.key == job_id)
            .map(|(i, _)| i)
            .collect()
    }

    /// The node with `id`.
    pub fn node(&self, id: &str) -> Option<&NodeDef> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The globals as the payload's `globals` object.
    pub fn globals_object(&self) -> Value {
        Value::Object(
            self.globals
                .iter()
                .map(|g| (g.key.clone(), g.value.clone()))
                .collect(),
        )
    }
}

fn is_job_id(s: &str) -> bool {
    s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn string_field(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    required: bool,
) -> Result<Option<String>, FlowError> {
    match obj.get(key) {
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(FlowError::new(format!("{at}{key}"), "is required")),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(FlowError::new(format!("{at}{key}"), "must be a string")),
    }
}

fn output_ids(v: Option<&Value>, at: &str) -> Result<Vec<Vec<String>>, FlowError> {
    let at = format!("{at}.outputIds");
    let groups = match v {
        None | Some(Value::Null) => return Ok(vec![Vec::new()]),
        Some(Value::Array(g)) => g,
        Some(_) => return Err(FlowError::new(at, "must be an array of arrays of node ids")),
    };
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let Value::Array(ids) = g else {
            return Err(FlowError::new(
                format!("{at}[{i}]"),
                "must be an array of node ids",
            ));
        };
        let mut group = Vec::new();
        for (j, id) in ids.iter().enumerate() {
            match id {
                Value::String(s) => group.push(s.clone()),
                _ => {
                    return Err(FlowError::new(
                        format!("{at}[{i}][{j}]"),
                        "must be a string (a node id)",
                    ))
                }
            }
        }
        out.push(group);
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    Ok(out)
}

fn meta(obj: &Map<String, Value>, at: &str) -> Result<Option<Value>, FlowError> {
    match obj.get("meta") {
        None | Some(Value::Null) => Ok(None),
        Some(m @ Value::Object(_)) => Ok(Some(m.clone())),
        Some(_) => Err(FlowError::new(format!("{at}.meta"), "must be an object")),
    }
}

fn extra(obj: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], FlowError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(FlowError::new(key, "must be an array")),
    }
}

fn parse_trigger(v: &Value, i: usize) -> Result<TriggerDef, FlowError> {
    let at = format!("triggers[{i}]");
    let Value::Object(obj) = v else {
        return Err(FlowError::new(at, "must be an object"));
    };
    let dot = format!("{at}.");
    let trigger_type = string_field(obj, "type", &dot, true)?.unwrap_or_default();
    if !TRIGGER_TYPES.contains(&trigger_type.as_str()) {
        return Err(FlowError::new(
            format!("{at}.type"),
            format!(
                "unsupported trigger type {trigger_type:?}; supported: {}",
                TRIGGER_TYPES.join(", ")
            ),
        ));
    }
    let timer = trigger_type == crate::timer::TIMER;
    // A timer's key is its trigger id, generated on save when absent ([`crate::timer`]).
    let key = string_field(obj, "key", &dot, !timer)?.unwrap_or_default();
    if timer {
        crate::timer::check_key(&key, &at)?;
    } else if !is_job_id(&key) {
        return Err(FlowError::new(
            format!("{at}.key"),
            "must be a resource job id (24 hex characters)",
        ));
    }
    let config = match obj.get("config") {
        None | Some(Value::Null) => json!({}),
        Some(c @ Value::Object(_)) => c.clone(),
        Some(_) => return Err(FlowError::new(format!("{at}.config"), "must be an object")),
    };
    if timer {
        crate::timer::parse_schedule(&config, &at)?;
    }
    let output_ids = output_ids(obj.get("outputIds"), &at)?;
    if output_ids.len() > 1 {
        return Err(FlowError::new(
            format!("{at}.outputIds"),
            "a trigger has exactly one output",
        ));
    }
    Ok(TriggerDef {
        trigger_type,
        key,
        config,
        meta: meta(obj, &at)?,
        output_ids,
        extra: extra(obj, &["type", "key", "config", "meta", "outputIds"]),
    })
}

fn parse_node(v: &Value, i: usize) -> Result<NodeDef, FlowError> {
    let at = format!("nodes[{i}]");
    let Value::Object(obj) = v else {
        return Err(FlowError::new(at, "must be an object"));
    };
    let dot = format!("{at}.");
    let id = string_field(obj, "id", &dot, true)?.unwrap_or_default();
    if id.is_empty() {
        return Err(FlowError::new(format!("{at}.id"), "must not be empty"));
    }
    let node_type = string_field(obj, "type", &dot, true)?.unwrap_or_default();
    let config = obj.get("config").cloned().unwrap_or_else(|| json!({}));
    let kind = config::parse_node(&node_type, &config, &at)?;
    let output_ids = output_ids(obj.get("outputIds"), &at)?;
    let want = kind.outputs();
    let conditional = matches!(kind, NodeKind::Conditional { .. });
    if output_ids.len() > want || (conditional && output_ids.len() != 2) {
        let msg = if conditional {
            "a ConditionalNode has exactly two outputs: [[false branch ids], [true branch ids]]"
                .to_string()
        } else if want > 1 {
            format!("a {node_type} with {} cases has at most {want} outputs: [[default ids], [case 0 ids], ...]", want - 1)
        } else {
            format!("a {node_type} has exactly one output")
        };
        return Err(FlowError::new(format!("{at}.outputIds"), msg));
    }
    Ok(NodeDef {
        id,
        node_type,
        config,
        meta: meta(obj, &at)?,
        output_ids,
        extra: extra(obj, &["id", "type", "config", "meta", "outputIds"]),
        kind,
    })
}

fn parse_global(v: &Value, i: usize, seen: &mut HashSet<String>) -> Result<GlobalDef, FlowError> {
    let at = format!("globals[{i}]");
    let Value::Object(obj) = v else {
        return Err(FlowError::new(at, "must be an object with key and json"));
    };
    let dot = format!("{at}.");
    let key = string_field(obj, "key", &dot, true)?.unwrap_or_default();
    if key.is_empty() {
        return Err(FlowError::new(format!("{at}.key"), "must not be empty"));
    }
    if !seen.insert(key.clone()) {
        return Err(FlowError::new(
            format!("{at}.key"),
            format!("duplicate global {key:?}"),
        ));
    }
    let json = string_field(obj, "json", &dot, false)?.unwrap_or_else(|| "null".into());
    let value = serde_json::from_str(&json)
        .map_err(|e| FlowError::new(format!("{at}.json"), format!("must be JSON text: {e}")))?;
    Ok(GlobalDef { key, json, value })
}

/// Parses and validates a flow create body.
pub fn parse_flow(v: &Value) -> Result<FlowDef, FlowError> {
    let Value::Object(obj) = v else {
        return Err(FlowError::new("body", "must be a JSON object"));
    };
    let name = string_field(obj, "name", "", true)?.unwrap_or_default();
    if name.trim().is_empty() {
        return Err(FlowError::new("name", "must not be empty"));
    }
    if name.chars().count() > 255 {
        return Err(FlowError::new("name", "must be at most 255 characters"));
    }
    let description = string_field(obj, "description", "", false)?.unwrap_or_default();
    let enabled = match obj.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(FlowError::new("enabled", "must be a boolean")),
    };
    let triggers = array(obj, "triggers")?
        .iter()
        .enumerate()
        .map(|(i, t)| parse_trigger(t, i))
        .collect::<Result<Vec<_>, _>>()?;
    let nodes = array(obj, "nodes")?
        .iter()
        .enumerate()
        .map(|(i, n)| parse_node(n, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    let globals = array(obj, "globals")?
        .iter()
        .enumerate()
        .map(|(i, g)| parse_global(g, i, &mut seen))
        .collect::<Result<Vec<_>, _>>()?;
    let flow = FlowDef {
        name,
        description,
        enabled,
        triggers,
        nodes,
        globals,
    };
    crate::timer::check_unique_keys(&flow.triggers)?;
    crate::graph::check(&flow)?;
    Ok(flow)
}

/// Applies a patch body (present fields replace the current ones) and validates the result.
pub fn patch_flow(cur: &FlowDef, v: &Value) -> Result<FlowDef, FlowError> {
    let Value::Object(patch) = v else {
        return Err(FlowError::new("body", "must be a JSON object"));
    };
    let mut merged = match flow_json(cur) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for key in [
        "name",
        "description",
        "enabled",
        "triggers",
        "nodes",
        "globals",
    ] {
        if let Some(val) = patch.get(key) {
            merged.insert(key.to_string(), val.clone());
        }
    }
    parse_flow(&Value::Object(merged))
}

/// The stored/returned shape of a flow (the server adds id, applicationId and dates).
pub fn flow_json(f: &FlowDef) -> Value {
    let with = |mut m: Map<String, Value>, meta: &Option<Value>, outs: &[Vec<String>]| {
        if let Some(meta) = meta {
            m.insert("meta".into(), meta.clone());
        }
        m.insert("outputIds".into(), json!(outs));
        Value::Object(m)
    };
    let triggers: Vec<Value> = f
        .triggers
        .iter()
        .map(|t| {
            let mut m = t.extra.clone();
            m.insert("type".into(), json!(t.trigger_type));
            m.insert("key".into(), json!(t.key));
            m.insert("config".into(), t.config.clone());
            with(m, &t.meta, &t.output_ids)
        })
        .collect();
    let nodes: Vec<Value> = f
        .nodes
        .iter()
        .map(|n| {
            let mut m = n.extra.clone();
            m.insert("id".into(), json!(n.id));
            m.insert("type".into(), json!(n.node_type));
            m.insert("config".into(), n.config.clone());
            with(m, &n.meta, &n.output_ids)
        })
        .collect();
    let globals: Vec<Value> = f
        .globals
        .iter()
        .map(|g| json!({"key": g.key, "json": g.json}))
        .collect();
    json!({
        "name": f.name,
        "description": f.description,
        "enabled": f.enabled,
        "triggers": triggers,
        "nodes": nodes,
        "globals": globals,
    })
}
