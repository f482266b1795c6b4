//! Logic nodes that only touch the payload: Switch (`SwitchNode`), Throw Error
//! (`ThrowErrorNode`), JSON Encode (`JsonEncodeNode`) and JSON Decode (`JsonDecodeNode`), with
//! the original's config fields.
//!
//! - Switch renders `switchTemplate` and compares it, as text, with each case's rendered
//!   `caseTemplate` in order; the first match follows output `i + 1`, no match output 0 (the
//!   default), so a Switch has one output group more than it has cases.
//! - Throw Error ends the run with its rendered `messageTemplate` as the error.
//! - JSON Encode writes the value at `source` as JSON text to `destination`; JSON Decode parses
//!   the string at `source` into `destination`, and a parse failure goes to `errorPath` when
//!   `errorBehavior` is `payloadPath` (otherwise it ends the run).

use serde_json::{json, Value};

use crate::config::Cfg;
use crate::{path, template, FlowError, NodeError};

/// The most cases a Switch may have.
pub const MAX_CASES: usize = 100;

/// One Switch case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub template: String,
    pub label: String,
}

/// A checked `SwitchNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchConfig {
    pub switch_template: String,
    pub cases: Vec<Case>,
}

/// A checked `JsonEncodeNode` / `JsonDecodeNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonConfig {
    pub source: String,
    pub destination: String,
    /// Decode only: `Some(path)` when `errorBehavior` is `payloadPath`.
    pub error_path: Option<String>,
}

pub(crate) fn parse_switch(c: &Cfg<'_>) -> Result<SwitchConfig, FlowError> {
    let switch_template = c.template("switchTemplate", true)?;
    let list = c.array("cases")?;
    if list.len() > MAX_CASES {
        return Err(c.err("cases", format!("at most {MAX_CASES} cases are allowed")));
    }
    let mut cases = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let k = c.item("cases", i, v)?;
        cases.push(Case {
            // An empty case template matches an empty switch value.
            template: k.template("caseTemplate", false)?,
            label: k.opt_str("caseLabel")?,
        });
    }
    Ok(SwitchConfig {
        switch_template,
        cases,
    })
}

pub(crate) fn parse_json(c: &Cfg<'_>, decode: bool) -> Result<JsonConfig, FlowError> {
    let source = c.req_path("source")?;
    let destination = c.req_path("destination")?;
    let error_path = if decode {
        let behavior = c.choice("errorBehavior", &["throw", "payloadPath"], "throw")?;
        let p = c.path("errorPath")?;
        match behavior.as_str() {
            "payloadPath" if p.is_none() => {
                return Err(c.err("errorPath", "is required when errorBehavior is payloadPath"))
            }
            "payloadPath" => p,
            _ => None,
        }
    } else {
        None
    };
    Ok(JsonConfig {
        source,
        destination,
        error_path,
    })
}

pub(crate) fn parse_throw(c: &Cfg<'_>) -> Result<String, FlowError> {
    c.template("messageTemplate", true)
}

/// The output group a Switch follows.
pub fn switch(c: &SwitchConfig, p: &Value) -> Result<usize, NodeError> {
    let value =
        template::render(&c.switch_template, p).map_err(NodeError::at_fn("switchTemplate"))?;
    for (i, case) in c.cases.iter().enumerate() {
        let v = template::render(&case.template, p)
            .map_err(|e| e.at(format!("cases[{i}].caseTemplate")))?;
        if v == value {
            return Ok(i + 1);
        }
    }
    Ok(0)
}

/// Throw Error: always an error, with the rendered message.
pub fn throw(message_template: &str, p: &Value) -> NodeError {
    match template::render(message_template, p) {
        Ok(m) if !m.trim().is_empty() => NodeError::Thrown(m),
        Ok(_) => NodeError::Thrown("Throw Error node (empty message)".into()),
        Err(e) => e.at("messageTemplate"),
    }
}

/// JSON Encode: the value at `source` (`null` when absent) as JSON text.
pub fn encode(c: &JsonConfig, p: &mut Value) -> Result<(), NodeError> {
    let v = path::get(p, &c.source).unwrap_or(Value::Null);
    path::set(p, &c.destination, Value::String(v.to_string()))
}

/// JSON Decode: the string at `source` parsed.
pub fn decode(c: &JsonConfig, p: &mut Value) -> Result<(), NodeError> {
    let parsed = match path::get(p, &c.source) {
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s)
            .map_err(|e| format!("the value at {:?} is not JSON: {e}", c.source)),
        Some(_) => Err(format!("the value at {:?} is not a string", c.source)),
        None => Err(format!("no value at {:?}", c.source)),
    }
    .map_err(NodeError::Rejected);
    match (parsed, &c.error_path) {
        (Ok(v), _) => path::set(p, &c.destination, v),
        (Err(e), Some(ep)) => path::set(
            p,
            ep,
            json!({"type": "JsonDecodeError", "message": e.to_string()}),
        ),
        (Err(e), None) => Err(e),
    }
}

/// The longest Delay, in seconds (the original's cloud limit).
pub const MAX_DELAY_SECS: f64 = 59.0;

/// `DelayNode`: `delay` (seconds, a template), or `durationTemplate` as other copies of the
/// catalog spell it. A literal is checked at save time, a template when it renders.
pub(crate) fn parse_delay(c: &Cfg<'_>) -> Result<String, FlowError> {
    let key = if c.opt_str("delay")?.trim().is_empty() && c.obj.contains_key("durationTemplate") {
        "durationTemplate"
    } else {
        "delay"
    };
    let t = c.template(key, true)?;
    if !t.contains("{{") {
        delay_secs(&t).map_err(|m| c.err(key, m.to_string()))?;
    }
    Ok(t)
}

fn delay_secs(text: &str) -> Result<f64, NodeError> {
    let s: f64 = text
        .trim()
        .parse()
        .map_err(|_| NodeError::rejected(format!("{text:?} is not a number of seconds")))?;
    if !(0.0..=MAX_DELAY_SECS).contains(&s) {
        return Err(NodeError::rejected(format!(
            "must be 0 to {MAX_DELAY_SECS} seconds, not {s}"
        )));
    }
    Ok(s)
}

/// Delay: waits without holding a thread (the runner's deadline bounds it like any node).
pub async fn delay(template: &str, p: &Value) -> Result<(), NodeError> {
    let text = template::render(template, p).map_err(NodeError::at_fn("delay"))?;
    let secs = delay_secs(&text).map_err(NodeError::at_fn("delay"))?;
    tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
    Ok(())
}
