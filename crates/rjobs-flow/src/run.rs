//! The runner: walks a validated flow from one trigger, node by node, over a JSON payload.
//!
//! Why it looks like this:
//! - **Bounded.** A run has a wall-clock deadline (every node, including outbound HTTP and host
//!   calls, runs under it), a payload size cap checked after every node, and a cap on the number
//!   of node executions (a diamond-heavy DAG could otherwise fan out exponentially).
//! - **Never panics, never hangs.** Every failure becomes `RunLog { status: "error", error }`.
//!   A node error with nowhere to go (no result/error path) ends the whole run, like the
//!   original's unhandled node errors.
//! - **Branches are independent.** When an output lists several nodes, each gets its own copy of
//!   the payload and they run depth-first in the listed order, as in the original.
//! - **Storage-free.** Acknowledging and executing jobs go through [`FlowHost`], which the server
//!   implements against its store; tests use a fake.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::config::{MutateRule, NodeKind};
use crate::error::NodeError;
pub use crate::host::{FlowHost, HostError, NO_BROKER};
use crate::{devices, expr, http, job, logic, mqtt, path, script, tables, template};
use crate::{FlowDef, NodeDef};

/// The most node executions one run may make.
pub const MAX_NODE_RUNS: u32 = 10_000;
pub use crate::job::{MAX_ACCUMULATOR_CHARS, MAX_MESSAGE_CHARS};

/// Bounds on one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLimits {
    pub max_duration_ms: u64,
    pub max_payload_bytes: usize,
    pub http_timeout_ms: u64,
    pub http_max_response_bytes: usize,
    pub http_max_redirects: usize,
    /// Which addresses the HTTP node may reach (see [`crate::outbound`]).
    pub outbound: crate::outbound::OutboundPolicy,
    /// The Function node's sandbox (see [`crate::script`]): time per script (also bounded by
    /// the run's deadline), the runtime's memory limit and its maximum stack size.
    pub script_timeout_ms: u64,
    pub script_memory_bytes: usize,
    pub script_stack_bytes: usize,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_duration_ms: 60_000,
            max_payload_bytes: 5 * 1024 * 1024,
            http_timeout_ms: 30_000,
            http_max_response_bytes: 5 * 1024 * 1024,
            http_max_redirects: 5,
            outbound: crate::outbound::OutboundPolicy::default(),
            script_timeout_ms: 5_000,
            script_memory_bytes: 64 * 1024 * 1024,
            script_stack_bytes: 512 * 1024,
        }
    }
}

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunLog {
    /// `"success"` or `"error"`.
    pub status: String,
    pub error: Option<String>,
    /// One entry per Debug node executed: `{nodeId, message, level, time, value}`.
    pub debug: Vec<Value>,
    pub nodes_run: u32,
}

/// Counts serialized bytes, stopping early once past the limit.
struct Counter {
    n: usize,
    limit: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len();
        if self.n > self.limit {
            return Err(std::io::Error::other("too large"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn check_size(p: &Value, limit: usize) -> Result<(), NodeError> {
    if !depth_within(p, MAX_PAYLOAD_DEPTH) {
        return Err(NodeError::PayloadTooDeep);
    }
    serialized_len(p, limit)
        .map(|_| ())
        .ok_or(NodeError::PayloadTooLarge { limit })
}

/// The deepest a payload may nest (JSON parsing stops at 128 too). Serializing and dropping a
/// `Value` recurse once per level, so depth is checked, by a loop, before either happens.
pub const MAX_PAYLOAD_DEPTH: usize = 128;

/// Whether `v` nests at most `limit` levels (measured without recursion).
fn depth_within(v: &Value, limit: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        if d > limit {
            return false;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    true
}

/// The size of `p` as JSON text, or `None` once past `limit` (or nested past
/// [`MAX_PAYLOAD_DEPTH`]).
fn size_of(p: &Value, limit: usize) -> Option<usize> {
    if !depth_within(p, MAX_PAYLOAD_DEPTH) {
        return None;
    }
    serialized_len(p, limit)
}

/// The size of `p` as JSON text, or `None` once past `limit`. Only for a payload whose depth
/// has been checked (serializing recurses once per level).
fn serialized_len(p: &Value, limit: usize) -> Option<usize> {
    let mut c = Counter { n: 0, limit };
    serde_json::to_writer(&mut c, p).ok().map(|()| c.n)
}

/// Runs `flow` from trigger `trigger_index` with the full `payload` (see [`crate::envelope`]).
pub async fn run(
    flow: &FlowDef,
    trigger_index: usize,
    payload: Value,
    host: &dyn FlowHost,
    limits: &RunLimits,
) -> RunLog {
    let mut log = RunLog {
        status: "success".into(),
        error: None,
        debug: Vec::new(),
        nodes_run: 0,
    };
    if let Err(e) = walk(flow, trigger_index, payload, host, limits, &mut log).await {
        log.status = "error".into();
        log.error = Some(e.to_string());
    }
    log
}

async fn walk(
    flow: &FlowDef,
    trigger_index: usize,
    payload: Value,
    host: &dyn FlowHost,
    limits: &RunLimits,
    log: &mut RunLog,
) -> Result<(), NodeError> {
    let deadline = Instant::now() + Duration::from_millis(limits.max_duration_ms);
    let trigger = flow
        .triggers
        .get(trigger_index)
        .ok_or(NodeError::NoTrigger(trigger_index))?;
    if !payload.is_object() {
        return Err(NodeError::PayloadNotObject);
    }
    check_size(&payload, limits.max_payload_bytes)?;
    let mut stack: Vec<(&NodeDef, Value)> = Vec::new();
    let mut debug_bytes = 0usize;
    push_children(flow, trigger.output_ids.first(), payload, &mut stack)?;
    while let Some((node, mut p)) = stack.pop() {
        if log.nodes_run >= MAX_NODE_RUNS {
            return Err(NodeError::TooManyNodeRuns);
        }
        log.nodes_run += 1;
        // Only an error names the node, so the label is built only then.
        let label = || format!("node {:?} ({})", node.id, node.node_type);
        let debug = (&mut log.debug, &mut debug_bytes);
        let step = run_node(node, &mut p, host, limits, debug, deadline);
        let branch = match tokio::time::timeout_at(deadline, step).await {
            Err(_) => {
                return Err(NodeError::Timeout {
                    ms: limits.max_duration_ms,
                    node: label(),
                })
            }
            Ok(Err(e)) => return Err(e.at(label())),
            Ok(Ok(branch)) => branch,
        };
        check_size(&p, limits.max_payload_bytes).map_err(|e| e.at(format!("after {}", label())))?;
        push_children(flow, node.output_ids.get(branch), p, &mut stack)?;
    }
    Ok(())
}

/// Queues the nodes of one output group so they pop in listed order, each with its own payload.
fn push_children<'f>(
    flow: &'f FlowDef,
    ids: Option<&Vec<String>>,
    payload: Value,
    stack: &mut Vec<(&'f NodeDef, Value)>,
) -> Result<(), NodeError> {
    let Some(ids) = ids else { return Ok(()) };
    let mut nodes = Vec::with_capacity(ids.len());
    for id in ids {
        nodes.push(flow.node(id).ok_or_else(|| NodeError::NoNode(id.clone()))?);
    }
    let mut payload = Some(payload);
    for (i, node) in nodes.into_iter().enumerate().rev() {
        let p = if i == 0 {
            payload.take().unwrap_or(Value::Null)
        } else {
            payload.clone().unwrap_or(Value::Null)
        };
        stack.push((node, p));
    }
    Ok(())
}

/// Runs one node; returns the index of the output group to follow.
async fn run_node(
    node: &NodeDef,
    p: &mut Value,
    host: &dyn FlowHost,
    limits: &RunLimits,
    debug: (&mut Vec<Value>, &mut usize),
    deadline: Instant,
) -> Result<usize, NodeError> {
    match &node.kind {
        NodeKind::Acknowledge(c) => job::acknowledge(c, p, host).await.map(|()| 0),
        NodeKind::Execute(c) => job::execute(c, p, host).await.map(|()| 0),
        NodeKind::Function(c) => {
            let lines = script::run(c, p, limits, deadline).await?;
            for (level, line) in lines {
                let value = Value::String(line);
                *debug.1 += value.to_string().len();
                debug.0.push(
                    json!({"nodeId": node.id, "message": "console", "level": level,
                                    "time": host.now_iso(), "value": value}),
                );
            }
            Ok(0)
        }
        NodeKind::Delay { delay } => logic::delay(delay, p).await.map(|()| 0),
        NodeKind::GetDevice(c) => devices::get(c, p, host).await.map(|()| 0),
        NodeKind::UpdateDevice(c) => devices::update(c, p, host).await.map(|()| 0),
        NodeKind::TableQuery(c) => tables::query(c, p, host).await.map(|()| 0),
        NodeKind::TableInsert(c) | NodeKind::TableUpdate(c) => {
            tables::write(c, p, host).await.map(|()| 0)
        }
        NodeKind::Http(c) => http::run(c, p, limits).await.map(|()| 0),
        NodeKind::DeviceCommand(c) => mqtt::run_device_command(c, p, host).await.map(|()| 0),
        NodeKind::MqttMessage(c) => mqtt::run_mqtt_message(c, p, host).await.map(|()| 0),
        NodeKind::Switch(c) => logic::switch(c, p),
        NodeKind::ThrowError { message_template } => Err(logic::throw(message_template, p)),
        NodeKind::JsonEncode(c) => logic::encode(c, p).map(|()| 0),
        NodeKind::JsonDecode(c) => logic::decode(c, p).map(|()| 0),
        NodeKind::Conditional { expression } => {
            let yes = expr::truthy(expression, p).map_err(NodeError::at_fn("expression"))?;
            Ok(usize::from(yes))
        }
        NodeKind::Mutate { rules } => {
            // Checked after every rule: a few copies of the payload into itself double it each
            // time, so waiting for the end of the node would be too late.
            for (i, rule) in rules.iter().enumerate() {
                mutate(rule, p).map_err(|e| e.at(format!("rules[{i}]")))?;
                check_size(p, limits.max_payload_bytes).map_err(|e| e.at(format!("rules[{i}]")))?;
            }
            Ok(0)
        }
        NodeKind::Debug(c) => {
            let message = template::render(&c.message, p).map_err(NodeError::at_fn("message"))?;
            let mut value = match &c.property {
                Some(path) => path::get(p, path).unwrap_or(Value::Null),
                None => p.clone(),
            };
            // All Debug values of a run together stay under the payload cap (a loop of Debug
            // nodes over a large payload would otherwise hold thousands of copies).
            let room = limits.max_payload_bytes.saturating_sub(*debug.1);
            match size_of(&value, room) {
                Some(n) => *debug.1 += n,
                None => {
                    value = Value::String(format!(
                        "(omitted: the run's debug values exceed {} bytes)",
                        limits.max_payload_bytes
                    ))
                }
            }
            debug.0.push(json!({
                "nodeId": node.id,
                "message": message,
                "level": c.level,
                "time": host.now_iso(),
                "value": value,
            }));
            Ok(0)
        }
    }
}

fn mutate(rule: &MutateRule, p: &mut Value) -> Result<(), NodeError> {
    match rule {
        MutateRule::Set {
            value_template,
            json,
            destination,
        } => {
            let text = template::render(value_template, p)?;
            if *json {
                // Output that is not JSON stores `undefined` in the original: the key is absent.
                match serde_json::from_str::<Value>(&text) {
                    Ok(v) => path::set(p, destination, v),
                    Err(_) => path::remove(p, destination).map(|_| ()),
                }
            } else {
                path::set(p, destination, Value::String(text))
            }
        }
        MutateRule::Copy {
            source,
            destination,
        } => match path::get(p, source) {
            Some(v) => path::set(p, destination, v),
            None => path::remove(p, destination).map(|_| ()),
        },
        MutateRule::Move {
            source,
            destination,
        } => {
            let v = path::get(p, source);
            path::remove(p, source)?;
            match v {
                Some(v) => path::set(p, destination, v),
                None => path::remove(p, destination).map(|_| ()),
            }
        }
        MutateRule::Remove { source } => path::remove(p, source).map(|_| ()),
    }
}

/// Builds a run payload: the original's 12-key envelope around the trigger's `data` (10 keys for
/// a timer, which has no `relayId`/`relayType`).
/// `time` is the firing time as ISO-8601 text; `flowVersion` is `"develop"` (the original's name
/// for the editable version, the only one rjobs has).
pub fn envelope(
    flow: &FlowDef,
    flow_id: &str,
    trigger_index: usize,
    application_id: &str,
    application_name: &str,
    data: Value,
    time: &str,
) -> Value {
    let (trigger_type, key) = flow
        .triggers
        .get(trigger_index)
        .map(|t| (t.trigger_type.as_str(), t.key.as_str()))
        .unwrap_or(("", ""));
    let mut v = json!({
        "applicationId": application_id,
        "applicationName": application_name,
        "data": data,
        "flowId": flow_id,
        "flowName": flow.name,
        "flowVersion": "develop",
        "globals": flow.globals_object(),
        "relayId": key,
        "relayType": "resourceJob",
        "time": time,
        "triggerId": key,
        "triggerType": trigger_type,
    });
    // A timer is not relayed by anything: the original's timer payload has no relay fields.
    if trigger_type == crate::timer::TIMER {
        if let Some(m) = v.as_object_mut() {
            m.remove("relayId");
            m.remove("relayType");
        }
    }
    v
}
