//! The MQTT output nodes: Device: Command (`DeviceSendCommandNode`) and MQTT
//! (`MqttMessageNode`).
//!
//! This crate has no broker connection: a node renders its topic and message and hands them to
//! [`FlowHost::publish`], which the server implements over its one MQTT client (or refuses with a
//! message naming the `mqtt.url` setting when none is configured). A publish that fails — no
//! broker, broker down, queue full — is a node error like an HTTP transport failure: it goes to
//! `errorPath` as `{type, message}` when `errorBehavior` is `payloadPath`, and otherwise ends the
//! run, so the iteration is left to fail or time out and retry.
//!
//! Device: Command publishes the original's command message `{"name", "payload", "time"}` to
//! `losant/{deviceId}/command` at QoS 1. The device comes from `deviceIdTemplate` (a template) or
//! the original's `deviceIdsPath` (a payload path to one id or an array of ids); the name from
//! `commandNameTemplate` or the original's `nameTemplate`; the payload from `payloadTemplate`
//! read as `payloadTemplateType` `json` (default), `string` or `path`.
//!
//! MQTT publishes `messageTemplate` to `topicTemplate` with `qos` 0–2 and `retain`. Topics with
//! wildcards, `$` system topics and the device acknowledgement topics are refused: a flow of one
//! application must not settle iterations by impersonating a device.

use serde_json::{json, Value};

use crate::config::Cfg;
use crate::host::{FlowHost, Publish};
use crate::outcome::{error_path, fail};
use crate::{path, template, FlowError, NodeError};

/// The most devices one Device: Command node may address in one run.
pub const MAX_COMMAND_DEVICES: usize = 1000;

/// Where the Device: Command node finds its devices.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceSelect {
    /// `deviceIdTemplate`: one id, rendered.
    Template(String),
    /// `deviceIdsPath`: a payload path holding one id or an array of ids.
    Path(String),
}

/// How the command's payload is built.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandPayload {
    /// A template that must render JSON.
    Json(String),
    /// A template whose text is the payload (a JSON string).
    String(String),
    /// The value at a payload path (`null` when absent).
    Path(String),
}

/// A checked `DeviceSendCommandNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceCommandConfig {
    pub devices: DeviceSelect,
    pub name_template: String,
    pub payload: CommandPayload,
    /// `Some(path)` when `errorBehavior` is `payloadPath`.
    pub error_path: Option<String>,
}

/// A checked `MqttMessageNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttMessageConfig {
    pub topic_template: String,
    pub message_template: String,
    pub qos: u8,
    pub retain: bool,
    pub error_path: Option<String>,
}

/// The first of `keys` present and non-empty, checked as a template (`required`: one must be).
fn template_of(c: &Cfg<'_>, keys: &[&str], required: bool) -> Result<String, FlowError> {
    for k in keys {
        if !c.opt_str(k)?.trim().is_empty() {
            return c.template(k, true);
        }
    }
    if required {
        return Err(c.err(keys[0], "is required"));
    }
    Ok(String::new())
}

pub(crate) fn parse_device_command(c: &Cfg<'_>) -> Result<DeviceCommandConfig, FlowError> {
    let devices = if !c.opt_str("deviceIdTemplate")?.trim().is_empty() {
        DeviceSelect::Template(c.template("deviceIdTemplate", true)?)
    } else if let Some(p) = c.path("deviceIdsPath")? {
        DeviceSelect::Path(p)
    } else {
        return Err(c.err(
            "deviceIdTemplate",
            "is required (or deviceIdsPath, a payload path to device ids)",
        ));
    };
    let name_template = template_of(c, &["commandNameTemplate", "nameTemplate"], true)?;
    let kind = c.choice("payloadTemplateType", &["json", "string", "path"], "json")?;
    let payload = match kind.as_str() {
        "string" => CommandPayload::String(c.template("payloadTemplate", false)?),
        "path" => CommandPayload::Path(c.req_path("payloadTemplate")?),
        _ => CommandPayload::Json(c.template("payloadTemplate", false)?),
    };
    Ok(DeviceCommandConfig {
        devices,
        name_template,
        payload,
        error_path: error_path(c)?,
    })
}

pub(crate) fn parse_mqtt_message(c: &Cfg<'_>) -> Result<MqttMessageConfig, FlowError> {
    c.choice("integrationId", &["losant"], "losant")?;
    let topic_template = c.template("topicTemplate", true)?;
    // A topic with no template syntax is checked now; others when rendered.
    if !topic_template.contains("{{") {
        check_topic(&topic_template).map_err(|m| c.err("topicTemplate", m.to_string()))?;
    }
    let qos = match c.obj.get("qos") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|q| q <= 2) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) if matches!(s.as_str(), "0" | "1" | "2") => s.parse().unwrap_or(0),
        Some(_) => return Err(c.err("qos", "must be 0, 1 or 2")),
    } as u8;
    Ok(MqttMessageConfig {
        topic_template,
        message_template: c.template("messageTemplate", false)?,
        qos,
        retain: c.opt_bool("retain")?,
        error_path: error_path(c)?,
    })
}

/// Whether a flow may publish to `topic` (Err says why not).
pub fn check_topic(topic: &str) -> Result<(), NodeError> {
    if topic.is_empty() {
        return Err(NodeError::rejected("the topic is empty"));
    }
    if topic.len() > 1024 {
        return Err(NodeError::rejected("the topic is longer than 1024 bytes"));
    }
    if topic.contains(['+', '#', '\0']) {
        return Err(NodeError::Rejected(format!(
            "{topic:?} contains a wildcard or NUL character"
        )));
    }
    if topic.starts_with('$') {
        return Err(NodeError::Rejected(format!(
            "{topic:?} is a broker system topic"
        )));
    }
    let parts: Vec<&str> = topic.split('/').collect();
    if parts.len() >= 3 && parts[0] == "losant" && parts[2] == "iteration" {
        return Err(NodeError::Rejected(format!(
            "{topic:?} is a device acknowledgement topic (only devices publish there)"
        )));
    }
    Ok(())
}

/// Whether `id` can stand in a topic level (non-empty, no `/`, wildcard or NUL).
fn check_device_id(id: &str) -> Result<(), NodeError> {
    if id.is_empty() {
        return Err(NodeError::rejected("the device id is empty"));
    }
    if id.len() > 256 || id.contains(['/', '+', '#', '\0']) {
        return Err(NodeError::Rejected(format!(
            "{id:?} is not a valid device id"
        )));
    }
    Ok(())
}

/// The device ids the node addresses.
fn device_ids(c: &DeviceCommandConfig, p: &Value) -> Result<Vec<String>, NodeError> {
    let ids = match &c.devices {
        DeviceSelect::Template(t) => {
            vec![template::render(t, p)
                .map_err(NodeError::at_fn("deviceIdTemplate"))?
                .trim()
                .to_string()]
        }
        DeviceSelect::Path(at) => match path::get(p, at) {
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(NodeError::invalid(
                        "deviceIdsPath",
                        format!("{other} is not a device id"),
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(NodeError::invalid(
                    "deviceIdsPath",
                    format!("no device id at {at:?}"),
                ))
            }
        },
    };
    if ids.len() > MAX_COMMAND_DEVICES {
        return Err(NodeError::rejected(format!(
            "{} devices addressed; at most {MAX_COMMAND_DEVICES} are allowed",
            ids.len()
        )));
    }
    for id in &ids {
        check_device_id(id)?;
    }
    Ok(ids)
}

fn command_body(c: &DeviceCommandConfig, p: &Value, time: &str) -> Result<Vec<u8>, NodeError> {
    let name =
        template::render(&c.name_template, p).map_err(NodeError::at_fn("commandNameTemplate"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(NodeError::rejected(
            "commandNameTemplate rendered an empty command name",
        ));
    }
    let payload = match &c.payload {
        CommandPayload::Json(t) if t.trim().is_empty() => Value::Null,
        CommandPayload::Json(t) => {
            let text = template::render(t, p).map_err(NodeError::at_fn("payloadTemplate"))?;
            serde_json::from_str(&text)
                .map_err(|e| NodeError::not_json("payloadTemplate", e, &text))?
        }
        CommandPayload::String(t) => {
            Value::String(template::render(t, p).map_err(NodeError::at_fn("payloadTemplate"))?)
        }
        CommandPayload::Path(at) => path::get(p, at).unwrap_or(Value::Null),
    };
    Ok(json!({"name": name, "payload": payload, "time": time})
        .to_string()
        .into_bytes())
}

/// Runs a Device: Command node: one QoS 1 publish per addressed device.
pub async fn run_device_command(
    c: &DeviceCommandConfig,
    p: &mut Value,
    host: &dyn FlowHost,
) -> Result<(), NodeError> {
    let prepared = device_ids(c, p).and_then(|ids| {
        let body = command_body(c, p, &host.now_iso())?;
        Ok((ids, body))
    });
    let (ids, body) = match prepared {
        Ok(x) => x,
        Err(m) => return fail(p, &c.error_path, "InvalidCommand", m),
    };
    for id in ids {
        if let Err(e) = host.publish(Publish::command(&id, body.clone())).await {
            return fail(p, &c.error_path, "MqttError", e.into());
        }
    }
    Ok(())
}

/// Runs an MQTT node.
pub async fn run_mqtt_message(
    c: &MqttMessageConfig,
    p: &mut Value,
    host: &dyn FlowHost,
) -> Result<(), NodeError> {
    let rendered = template::render(&c.topic_template, p)
        .map_err(NodeError::at_fn("topicTemplate"))
        .and_then(|t| {
            let t = t.trim().to_string();
            check_topic(&t).map(|()| t)
        })
        .and_then(|t| {
            let m = template::render(&c.message_template, p)
                .map_err(NodeError::at_fn("messageTemplate"))?;
            Ok((t, m))
        });
    let (topic, message) = match rendered {
        Ok(x) => x,
        Err(m) => return fail(p, &c.error_path, "InvalidMessage", m),
    };
    let message = Publish {
        topic,
        payload: message.into_bytes(),
        qos: c.qos,
        retain: c.retain,
    };
    match host.publish(message).await {
        Ok(()) => Ok(()),
        Err(e) => fail(p, &c.error_path, "MqttError", e.into()),
    }
}
