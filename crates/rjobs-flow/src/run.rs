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

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::config::{AccumulatorMethod, AckConfig, ContextType, ExecConfig, MutateRule, NodeKind};
use crate::{expr, http, logic, mqtt, path, template, FlowDef, NodeDef};

/// The most node executions one run may make.
pub const MAX_NODE_RUNS: u32 = 10_000;
/// The longest acknowledgement message, in characters (longer ones are trimmed).
pub const MAX_MESSAGE_CHARS: usize = 256;
/// The longest accumulator, in characters of JSON text (longer ones make the node fail).
pub const MAX_ACCUMULATOR_CHARS: usize = 256;

/// What the runner needs from the server.
#[async_trait]
pub trait FlowHost: Send + Sync {
    /// Acknowledge an iteration (the Job: Acknowledge node). Err(message) on refusal.
    async fn acknowledge(
        &self,
        iteration_id: &str,
        attempt: Option<u32>,
        success: bool,
        message: Option<String>,
        accumulator: Option<Value>,
    ) -> Result<(), String>;
    /// Execute a job (the Job: Execute node); context JSON text or None for the job's default.
    /// Returns the execution id.
    async fn execute_job(&self, job_id: &str, context: Option<String>) -> Result<String, String>;
    /// The current time as ISO-8601 text (`completedAt`, Debug entries). The default reads the
    /// system clock; the server should answer from its `rjobs_core::Clock`.
    fn now_iso(&self) -> String {
        rjobs_core::Clock::now(&rjobs_core::SystemClock).to_rfc3339()
    }
    /// Publish one MQTT message (the Device: Command and MQTT nodes). Err(message) when it
    /// cannot be handed to a connected broker; the default has no broker.
    async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        qos: u8,
        retain: bool,
    ) -> Result<(), String> {
        let _ = (topic, payload, qos, retain);
        Err(NO_BROKER.into())
    }
}

/// What a publish answers when the server has no broker configured.
pub const NO_BROKER: &str =
    "no MQTT broker is configured: set mqtt.url (RJOBS_MQTT__URL, e.g. mqtt://127.0.0.1:1883)";

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

fn check_size(p: &Value, limit: usize) -> Result<(), String> {
    if !depth_within(p, MAX_PAYLOAD_DEPTH) {
        return Err(format!(
            "payload nests deeper than {MAX_PAYLOAD_DEPTH} levels"
        ));
    }
    size_of(p, limit)
        .map(|_| ())
        .ok_or_else(|| format!("payload exceeds the maximum size of {limit} bytes"))
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
        log.error = Some(e);
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
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(limits.max_duration_ms);
    let trigger = flow
        .triggers
        .get(trigger_index)
        .ok_or_else(|| format!("the flow has no trigger {trigger_index}"))?;
    if !payload.is_object() {
        return Err("the payload must be a JSON object".into());
    }
    check_size(&payload, limits.max_payload_bytes)?;
    let mut stack: Vec<(&NodeDef, Value)> = Vec::new();
    let mut debug_bytes = 0usize;
    push_children(flow, trigger.output_ids.first(), payload, &mut stack)?;
    while let Some((node, mut p)) = stack.pop() {
        if log.nodes_run >= MAX_NODE_RUNS {
            return Err(format!("the run exceeded {MAX_NODE_RUNS} node executions"));
        }
        log.nodes_run += 1;
        let label = format!("node {:?} ({})", node.id, node.node_type);
        let debug = (&mut log.debug, &mut debug_bytes);
        let step = run_node(node, &mut p, host, limits, debug);
        let branch = match tokio::time::timeout_at(deadline, step).await {
            Err(_) => {
                return Err(format!(
                    "the run exceeded its maximum duration of {} ms at {label}",
                    limits.max_duration_ms
                ))
            }
            Ok(Err(e)) => return Err(format!("{label}: {e}")),
            Ok(Ok(branch)) => branch,
        };
        check_size(&p, limits.max_payload_bytes).map_err(|e| format!("after {label}: {e}"))?;
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
) -> Result<(), String> {
    let Some(ids) = ids else { return Ok(()) };
    let mut nodes = Vec::with_capacity(ids.len());
    for id in ids {
        nodes.push(
            flow.node(id)
                .ok_or_else(|| format!("no node with id {id:?}"))?,
        );
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
) -> Result<usize, String> {
    match &node.kind {
        NodeKind::Acknowledge(c) => acknowledge(c, p, host).await.map(|()| 0),
        NodeKind::Execute(c) => execute(c, p, host).await.map(|()| 0),
        NodeKind::Http(c) => http::run(c, p, limits).await.map(|()| 0),
        NodeKind::DeviceCommand(c) => mqtt::run_device_command(c, p, host).await.map(|()| 0),
        NodeKind::MqttMessage(c) => mqtt::run_mqtt_message(c, p, host).await.map(|()| 0),
        NodeKind::Switch(c) => logic::switch(c, p),
        NodeKind::ThrowError { message_template } => Err(logic::throw(message_template, p)),
        NodeKind::JsonEncode(c) => logic::encode(c, p).map(|()| 0),
        NodeKind::JsonDecode(c) => logic::decode(c, p).map(|()| 0),
        NodeKind::Conditional { expression } => {
            let yes = expr::truthy(expression, p).map_err(|e| format!("expression: {e}"))?;
            Ok(usize::from(yes))
        }
        NodeKind::Mutate { rules } => {
            // Checked after every rule: a few copies of the payload into itself double it each
            // time, so waiting for the end of the node would be too late.
            for (i, rule) in rules.iter().enumerate() {
                mutate(rule, p).map_err(|e| format!("rules[{i}]: {e}"))?;
                check_size(p, limits.max_payload_bytes).map_err(|e| format!("rules[{i}]: {e}"))?;
            }
            Ok(0)
        }
        NodeKind::Debug(c) => {
            let message = template::render(&c.message, p).map_err(|e| format!("message: {e}"))?;
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

fn mutate(rule: &MutateRule, p: &mut Value) -> Result<(), String> {
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

/// Writes `{error: {type, message}}` at `result_path`, or fails the node when there is none.
fn fail_to(
    p: &mut Value,
    result_path: &Option<String>,
    ty: &str,
    message: String,
) -> Result<(), String> {
    match result_path {
        Some(rp) => path::set(p, rp, json!({"error": {"type": ty, "message": message}})),
        None => Err(message),
    }
}

fn accumulator(c: &AckConfig, p: &Value) -> Result<Option<Value>, String> {
    if c.accumulator_value.trim().is_empty() {
        return Ok(None);
    }
    let v = match c.accumulator_method {
        AccumulatorMethod::PayloadPath => match path::get(p, &c.accumulator_value) {
            Some(v) => v,
            None => return Ok(None),
        },
        AccumulatorMethod::JsonTemplate => {
            let text = template::render(&c.accumulator_value, p)?;
            serde_json::from_str(&text).map_err(|e| {
                format!("accumulatorValue did not render valid JSON ({e}): {text:.100}")
            })?
        }
        AccumulatorMethod::StringTemplate => {
            Value::String(template::render(&c.accumulator_value, p)?)
        }
    };
    let len = v.to_string().chars().count();
    if len > MAX_ACCUMULATOR_CHARS {
        return Err(format!(
            "the accumulator is {len} characters of JSON; at most {MAX_ACCUMULATOR_CHARS} are allowed"
        ));
    }
    Ok(Some(v))
}

async fn acknowledge(c: &AckConfig, p: &mut Value, host: &dyn FlowHost) -> Result<(), String> {
    let success =
        expr::truthy(&c.success_expression, p).map_err(|e| format!("successExpression: {e}"))?;
    let message =
        template::render(&c.message_template, p).map_err(|e| format!("messageTemplate: {e}"))?;
    // Control characters are stripped (the store's text rule would refuse them, stranding the
    // iteration in progress).
    let message: String = rjobs_core::text::strip_control(&message)
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .collect();
    let message = (!message.is_empty()).then_some(message);
    let accumulator = accumulator(c, p)?;
    let attempt = path::get(p, "data.attemptNumber")
        .and_then(|v| v.as_u64())
        .and_then(|n| u32::try_from(n).ok());
    let iteration_id = match path::get(p, &c.iteration_id_path) {
        Some(Value::String(s)) if !s.is_empty() => s,
        _ => {
            let m = format!("no iteration id at {:?}", c.iteration_id_path);
            return fail_to(p, &c.result_path, "AcknowledgeError", m);
        }
    };
    match host
        .acknowledge(
            &iteration_id,
            attempt,
            success,
            message.clone(),
            accumulator,
        )
        .await
    {
        Ok(()) => match &c.result_path {
            Some(rp) => {
                let mut result = json!({"success": success, "completedAt": host.now_iso()});
                if let Some(m) = message {
                    result["message"] = Value::String(m);
                }
                path::set(p, rp, result)
            }
            None => Ok(()),
        },
        Err(m) => fail_to(p, &c.result_path, "AcknowledgeError", m),
    }
}

async fn execute(c: &ExecConfig, p: &mut Value, host: &dyn FlowHost) -> Result<(), String> {
    let job_id = template::render(&c.job_id_template, p)
        .map_err(|e| format!("resourceJobIdTemplate: {e}"))?;
    let context = match c.context_type {
        ContextType::None => None,
        ContextType::JsonTemplate => Some(
            template::render(&c.context_template, p)
                .map_err(|e| format!("contextTemplate: {e}"))?,
        ),
        ContextType::PayloadPath => match path::get(p, &c.context_template) {
            Some(v) => Some(v.to_string()),
            None => {
                let m = format!("no value at contextTemplate path {:?}", c.context_template);
                return fail_to(p, &c.result_path, "ResourceJobExecuteError", m);
            }
        },
        ContextType::FullPayload => Some(p.to_string()),
    };
    match host.execute_job(job_id.trim(), context).await {
        Ok(id) => match &c.result_path {
            Some(rp) => path::set(p, rp, json!({"executionId": id, "success": true})),
            None => Ok(()),
        },
        Err(m) => fail_to(p, &c.result_path, "ResourceJobExecuteError", m),
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
