//! The Job nodes: Job: Acknowledge (`ResourceJobAcknowledgeNode`) and Job: Execute
//! (`ResourceJobExecuteNode`). Both call back into the server through [`FlowHost`]; a refusal
//! goes to `resultPath` as `{error: {type, message}}` when set and otherwise ends the run.

use serde_json::{json, Value};

use crate::config::{AccumulatorMethod, AckConfig, ContextType, ExecConfig};
use crate::error::NodeError;
use crate::host::{Acknowledgement, FlowHost};
use crate::outcome::fail_to;
use crate::{expr, path, template};

/// The longest acknowledgement message, in characters (longer ones are trimmed).
pub const MAX_MESSAGE_CHARS: usize = 256;
/// The longest accumulator, in characters of JSON text (longer ones make the node fail).
pub const MAX_ACCUMULATOR_CHARS: usize = 256;

fn accumulator(c: &AckConfig, p: &Value) -> Result<Option<Value>, NodeError> {
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
            serde_json::from_str(&text)
                .map_err(|e| NodeError::not_json("accumulatorValue", e, &text))?
        }
        AccumulatorMethod::StringTemplate => {
            Value::String(template::render(&c.accumulator_value, p)?)
        }
    };
    let len = v.to_string().chars().count();
    if len > MAX_ACCUMULATOR_CHARS {
        return Err(NodeError::rejected(format!(
            "the accumulator is {len} characters of JSON; at most {MAX_ACCUMULATOR_CHARS} are allowed"
        )));
    }
    Ok(Some(v))
}

pub(crate) async fn acknowledge(
    c: &AckConfig,
    p: &mut Value,
    host: &dyn FlowHost,
) -> Result<(), NodeError> {
    let success =
        expr::truthy(&c.success_expression, p).map_err(NodeError::at_fn("successExpression"))?;
    let message =
        template::render(&c.message_template, p).map_err(NodeError::at_fn("messageTemplate"))?;
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
            let m = NodeError::rejected(format!("no iteration id at {:?}", c.iteration_id_path));
            return fail_to(p, &c.result_path, "AcknowledgeError", m);
        }
    };
    let ack = Acknowledgement {
        iteration_id,
        attempt,
        success,
        message: message.clone(),
        accumulator,
    };
    match host.acknowledge(ack).await {
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
        Err(e) => fail_to(p, &c.result_path, "AcknowledgeError", e.into()),
    }
}

pub(crate) async fn execute(
    c: &ExecConfig,
    p: &mut Value,
    host: &dyn FlowHost,
) -> Result<(), NodeError> {
    let job_id = template::render(&c.job_id_template, p)
        .map_err(NodeError::at_fn("resourceJobIdTemplate"))?;
    let context = match c.context_type {
        ContextType::None => None,
        ContextType::JsonTemplate => Some(
            template::render(&c.context_template, p)
                .map_err(NodeError::at_fn("contextTemplate"))?,
        ),
        ContextType::PayloadPath => match path::get(p, &c.context_template) {
            Some(v) => Some(v.to_string()),
            None => {
                let m = NodeError::rejected(format!(
                    "no value at contextTemplate path {:?}",
                    c.context_template
                ));
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
        Err(e) => fail_to(p, &c.result_path, "ResourceJobExecuteError", e.into()),
    }
}
