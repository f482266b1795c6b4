//! Typed node configurations, read from the original's `config` objects.
//!
//! The flow keeps each node's `config` JSON verbatim (so an exported flow round-trips
//! unchanged); this module checks it once at save time and produces the typed form the runner
//! uses, so a run never meets a missing or mistyped field. Unknown config fields are ignored
//! (the original's UI writes several presentation-only ones).

use serde_json::{Map, Value};

use crate::{expr, path, template, FlowError};

/// The supported node types, in the order error messages list them.
pub const NODE_TYPES: [&str; 19] = [
    "ResourceJobAcknowledgeNode",
    "ResourceJobExecuteNode",
    "HttpNode",
    "ConditionalNode",
    "MutateNode",
    "DebugNode",
    "DeviceSendCommandNode",
    "MqttMessageNode",
    "SwitchNode",
    "ThrowErrorNode",
    "JsonEncodeNode",
    "JsonDecodeNode",
    "RawFunctionNode",
    "DelayNode",
    "GetDeviceNode",
    "UpdateDeviceNode",
    "DataTableQueryNode",
    "DataTableInsertRowNode",
    "DataTableUpdateRowNode",
];

#[derive(Debug, Clone, PartialEq)]
pub enum AccumulatorMethod {
    PayloadPath,
    JsonTemplate,
    StringTemplate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AckConfig {
    pub success_expression: String,
    pub message_template: String,
    pub iteration_id_path: String,
    pub accumulator_method: AccumulatorMethod,
    pub accumulator_value: String,
    pub result_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ContextType {
    None,
    JsonTemplate,
    PayloadPath,
    FullPayload,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExecConfig {
    pub job_id_template: String,
    pub context_type: ContextType,
    pub context_template: String,
    pub result_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodyType {
    None,
    String,
    JsonTemplate,
    UrlEncoded(Vec<(String, String)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    pub method: String,
    pub uri_template: String,
    pub body_type: BodyType,
    pub body_template: String,
    /// `(name, valueTemplate)` pairs from `headerInfo`.
    pub headers: Vec<(String, String)>,
    /// `(usernameTemplate, passwordTemplate)` for `authType: "basic"`.
    pub basic_auth: Option<(String, String)>,
    pub response_path: Option<String>,
    /// `Some(path)` when `errorBehavior` is `payloadPath`; `None` means a failure ends the run.
    pub error_path: Option<String>,
    pub timeout_template: String,
    pub disable_redirects: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MutateRule {
    Set {
        value_template: String,
        json: bool,
        destination: String,
    },
    Copy {
        source: String,
        destination: String,
    },
    Move {
        source: String,
        destination: String,
    },
    Remove {
        source: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DebugConfig {
    pub message: String,
    pub property: Option<String>,
    pub level: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Acknowledge(AckConfig),
    Execute(ExecConfig),
    Http(HttpConfig),
    Conditional { expression: String },
    Mutate { rules: Vec<MutateRule> },
    Debug(DebugConfig),
    DeviceCommand(crate::mqtt::DeviceCommandConfig),
    MqttMessage(crate::mqtt::MqttMessageConfig),
    Switch(crate::logic::SwitchConfig),
    ThrowError { message_template: String },
    JsonEncode(crate::logic::JsonConfig),
    JsonDecode(crate::logic::JsonConfig),
    Function(crate::script::ScriptConfig),
    Delay { delay: String },
    GetDevice(crate::devices::GetDeviceConfig),
    UpdateDevice(crate::devices::UpdateDeviceConfig),
    TableQuery(crate::tables::QueryConfig),
    TableInsert(crate::tables::RowConfig),
    TableUpdate(crate::tables::RowConfig),
}

impl NodeKind {
    /// How many output groups (`outputIds` entries) the node type has.
    pub fn outputs(&self) -> usize {
        match self {
            NodeKind::Conditional { .. } => 2,
            NodeKind::Switch(c) => c.cases.len() + 1,
            _ => 1,
        }
    }
}

/// Field access on one `config` object with error paths like `nodes[2].config.method`.
pub(crate) struct Cfg<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) at: String,
}

impl Cfg<'_> {
    pub(crate) fn err(&self, key: &str, message: impl Into<String>) -> FlowError {
        FlowError::new(format!("{}.{key}", self.at), message)
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<String, FlowError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    pub(crate) fn req_str(&self, key: &str) -> Result<String, FlowError> {
        let s = self.opt_str(key)?;
        if s.trim().is_empty() {
            return Err(self.err(key, "is required"));
        }
        Ok(s)
    }

    pub(crate) fn template(&self, key: &str, required: bool) -> Result<String, FlowError> {
        let s = if required {
            self.req_str(key)?
        } else {
            self.opt_str(key)?
        };
        template::check(&s).map_err(|m| self.err(key, m.to_string()))?;
        Ok(s)
    }

    pub(crate) fn path(&self, key: &str) -> Result<Option<String>, FlowError> {
        let s = self.opt_str(key)?;
        if s.trim().is_empty() {
            return Ok(None);
        }
        path::validate(&s).map_err(|m| self.err(key, m.to_string()))?;
        Ok(Some(s.trim().to_string()))
    }

    pub(crate) fn req_path(&self, key: &str) -> Result<String, FlowError> {
        self.path(key)?.ok_or_else(|| self.err(key, "is required"))
    }

    pub(crate) fn expression(&self, key: &str) -> Result<String, FlowError> {
        let s = self.req_str(key)?;
        expr::parse(&s).map_err(|m| self.err(key, format!("invalid expression: {m}")))?;
        Ok(s)
    }

    pub(crate) fn choice(
        &self,
        key: &str,
        allowed: &[&str],
        default: &str,
    ) -> Result<String, FlowError> {
        let s = self.opt_str(key)?;
        if s.is_empty() {
            return Ok(default.to_string());
        }
        if !allowed.contains(&s.as_str()) {
            return Err(self.err(key, format!("must be one of {}", allowed.join(", "))));
        }
        Ok(s)
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<bool, FlowError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.err(key, "must be a boolean")),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<&Vec<Value>, FlowError> {
        static EMPTY: Vec<Value> = Vec::new();
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(&EMPTY),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.err(key, "must be an array")),
        }
    }

    pub(crate) fn item<'v>(&self, key: &str, i: usize, v: &'v Value) -> Result<Cfg<'v>, FlowError> {
        match v {
            Value::Object(obj) => Ok(Cfg {
                obj,
                at: format!("{}.{key}[{i}]", self.at),
            }),
            _ => Err(self.err(&format!("{key}[{i}]"), "must be an object")),
        }
    }
}

/// Checks `config` for a node of type `ty`; `at` is the node's error path (`nodes[3]`).
pub fn parse_node(ty: &str, config: &Value, at: &str) -> Result<NodeKind, FlowError> {
    let empty = Map::new();
    let obj = match config {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(FlowError::new(format!("{at}.config"), "must be an object")),
    };
    let c = Cfg {
        obj,
        at: format!("{at}.config"),
    };
    Ok(match ty {
        "ResourceJobAcknowledgeNode" => {
            let method = c.choice(
                "accumulatorMethod",
                &["payloadPath", "jsonTemplate", "stringTemplate"],
                "payloadPath",
            )?;
            let accumulator_method = match method.as_str() {
                "jsonTemplate" => AccumulatorMethod::JsonTemplate,
                "stringTemplate" => AccumulatorMethod::StringTemplate,
                _ => AccumulatorMethod::PayloadPath,
            };
            let accumulator_value = if accumulator_method == AccumulatorMethod::PayloadPath {
                c.path("accumulatorValue")?.unwrap_or_default()
            } else {
                c.template("accumulatorValue", false)?
            };
            NodeKind::Acknowledge(AckConfig {
                success_expression: c.expression("successExpression")?,
                message_template: c.template("messageTemplate", false)?,
                iteration_id_path: c
                    .path("iterationIdPath")?
                    .unwrap_or_else(|| "data.iterationId".into()),
                accumulator_method,
                accumulator_value,
                result_path: c.path("resultPath")?,
            })
        }
        "ResourceJobExecuteNode" => {
            let t = c.choice(
                "contextTemplateType",
                &[
                    "none",
                    "jsonTemplate",
                    "payloadPath",
                    "workflowPayload",
                    "fullPayload",
                ],
                "none",
            )?;
            let context_type = match t.as_str() {
                "jsonTemplate" => ContextType::JsonTemplate,
                "payloadPath" => ContextType::PayloadPath,
                "workflowPayload" | "fullPayload" => ContextType::FullPayload,
                _ => ContextType::None,
            };
            let context_template = match context_type {
                ContextType::JsonTemplate => c.template("contextTemplate", true)?,
                ContextType::PayloadPath => c.req_path("contextTemplate")?,
                _ => c.opt_str("contextTemplate")?,
            };
            NodeKind::Execute(ExecConfig {
                job_id_template: c.template("resourceJobIdTemplate", true)?,
                context_type,
                context_template,
                result_path: c.path("resultPath")?,
            })
        }
        "HttpNode" => NodeKind::Http(crate::http::parse_http(&c)?),
        "DeviceSendCommandNode" => NodeKind::DeviceCommand(crate::mqtt::parse_device_command(&c)?),
        "MqttMessageNode" => NodeKind::MqttMessage(crate::mqtt::parse_mqtt_message(&c)?),
        "SwitchNode" => NodeKind::Switch(crate::logic::parse_switch(&c)?),
        "ThrowErrorNode" => NodeKind::ThrowError {
            message_template: crate::logic::parse_throw(&c)?,
        },
        "JsonEncodeNode" => NodeKind::JsonEncode(crate::logic::parse_json(&c, false)?),
        "JsonDecodeNode" => NodeKind::JsonDecode(crate::logic::parse_json(&c, true)?),
        "RawFunctionNode" => NodeKind::Function(crate::script::parse(&c)?),
        "DelayNode" => NodeKind::Delay {
            delay: crate::logic::parse_delay(&c)?,
        },
        "GetDeviceNode" => NodeKind::GetDevice(crate::devices::parse_get(&c)?),
        "UpdateDeviceNode" => NodeKind::UpdateDevice(crate::devices::parse_update(&c)?),
        "DataTableQueryNode" => NodeKind::TableQuery(crate::tables::parse_query(&c)?),
        "DataTableInsertRowNode" => NodeKind::TableInsert(crate::tables::parse_row(&c, false)?),
        "DataTableUpdateRowNode" => NodeKind::TableUpdate(crate::tables::parse_row(&c, true)?),
        "ConditionalNode" => NodeKind::Conditional {
            expression: c.expression("expression")?,
        },
        "MutateNode" => {
            let list = c.array("rules")?;
            if list.len() > 100 {
                return Err(c.err("rules", "at most 100 rules are allowed"));
            }
            let mut rules = Vec::new();
            for (i, v) in list.iter().enumerate() {
                let r = c.item("rules", i, v)?;
                let kind = r.choice("type", &["set", "copy", "move", "remove"], "")?;
                rules.push(match kind.as_str() {
                    "set" => {
                        let vt = r.choice("valueTemplateType", &["string", "json"], "string")?;
                        let value_template = r.opt_str("valueTemplate")?;
                        if !r.obj.contains_key("valueTemplate") {
                            return Err(r.err("valueTemplate", "is required"));
                        }
                        template::check(&value_template)
                            .map_err(|m| r.err("valueTemplate", m.to_string()))?;
                        MutateRule::Set {
                            value_template,
                            json: vt == "json",
                            destination: r.req_path("destination")?,
                        }
                    }
                    "copy" => MutateRule::Copy {
                        source: r.req_path("source")?,
                        destination: r.req_path("destination")?,
                    },
                    "move" => MutateRule::Move {
                        source: r.req_path("source")?,
                        destination: r.req_path("destination")?,
                    },
                    "remove" => MutateRule::Remove {
                        source: r.req_path("source")?,
                    },
                    _ => return Err(r.err("type", "is required (set, copy, move or remove)")),
                });
            }
            NodeKind::Mutate { rules }
        }
        "DebugNode" => NodeKind::Debug(DebugConfig {
            message: c.template("message", false)?,
            property: c.path("property")?,
            level: c.choice("level", &["verbose", "info", "warn", "error"], "verbose")?,
        }),
        other => {
            return Err(FlowError::new(
                format!("{at}.type"),
                format!(
                    "unsupported node type {other:?}; supported: {}",
                    NODE_TYPES.join(", ")
                ),
            ))
        }
    })
}
