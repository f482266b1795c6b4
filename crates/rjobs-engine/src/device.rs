//! What the engine offers a device transport (the MQTT crate): a publisher slot for the flows'
//! MQTT nodes, acknowledgements sent by devices themselves, and a status line for `/health`.
//!
//! **Device acks.** A device may settle only its own iteration: the transport has already
//! checked that the iteration id's resource part is the device named by the topic; here the
//! engine checks that the execution exists and iterates devices, and applies the acks through
//! [`Engine::ack_many`] — the one ack path, so exactly-once and stale-attempt refusal hold no
//! matter how many nodes received the message. An execution's application and resource type
//! never change, so they are cached (a burst of acks costs one lookup per execution), and so are
//! ids that name no execution.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rjobs_core::engine::IterationId;
use rjobs_core::jobs::ResourceType;
use rjobs_core::Id;
use rjobs_flow::Publish;
use serde_json::Value;

use crate::engine::{AckRequest, Engine};
use crate::EngineError;

/// Publishes MQTT messages for the flows' Device: Command and MQTT nodes.
#[async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// Hands one message to the broker connection; Err when it cannot (not connected, the
    /// client refused it, queue full and timed out).
    async fn publish(&self, message: Publish) -> Result<(), PublishError>;
}

/// Why a [`Publisher`] could not hand a message to the broker. The flow node reports it as
/// `Unavailable` with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// No broker connection; `last_error` is why the last connection attempt failed.
    #[error("the MQTT broker at {url} is not connected (reconnecting{})", last_error_suffix(.last_error))]
    NotConnected {
        url: String,
        last_error: Option<String>,
    },
    /// The client refused the message.
    #[error("MQTT publish to {topic:?} failed: {message}")]
    Failed { topic: String, message: String },
    /// The client's queue stayed full for `timeout_ms`.
    #[error(
        "MQTT publish to {topic:?} timed out after {timeout_ms} ms (the client's queue is full)"
    )]
    TimedOut { topic: String, timeout_ms: u128 },
}

fn last_error_suffix(e: &Option<String>) -> String {
    e.as_ref()
        .map_or_else(String::new, |e| format!("; last error: {e}"))
}

/// A part of the server that reports its state in `/health` (it never makes the server
/// unhealthy: a broker that is down affects only the iterations that need it).
pub trait Component: Send + Sync + std::fmt::Debug {
    /// The key in the `/health` body.
    fn name(&self) -> &'static str;
    /// The value in the `/health` body.
    fn status(&self) -> Value;
}

/// Why a device ack was not applied (the transport counts these by [`DeviceAckError::reason`]).
#[derive(Debug, thiserror::Error)]
pub enum DeviceAckError {
    /// The execution does not exist.
    #[error("execution {0} was not found")]
    NoExecution(Id),
    /// The execution iterates something other than devices.
    #[error("execution {0} does not iterate devices")]
    NotDeviceJob(Id),
    /// The ack path refused it (not found, stale, duplicate, storage).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl DeviceAckError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DeviceAckError::NoExecution(_) => "unknown_execution",
            DeviceAckError::NotDeviceJob(_) => "not_device_job",
            DeviceAckError::Engine(EngineError::NotFound(_)) => "not_found",
            DeviceAckError::Engine(EngineError::Conflict(_)) => "not_awaiting",
            DeviceAckError::Engine(_) => "error",
        }
    }
}

/// What the cache knows of an execution.
#[derive(Debug, Clone)]
enum Known {
    /// It iterates devices, in this application.
    Devices(Id),
    /// It iterates something else.
    Other,
    /// It does not exist (a device sending made-up execution ids costs one lookup each, once).
    Missing,
}

/// Applies acks sent by devices (see the module docs).
#[derive(Debug)]
pub struct DeviceAcks {
    engine: Arc<Engine>,
    cache: Mutex<HashMap<Id, Known>>,
}

const CACHE_MAX: usize = 10_000;

impl DeviceAcks {
    /// Device acks into `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        DeviceAcks {
            engine,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The application of `exec` if it iterates devices.
    async fn app_of(&self, exec: &Id) -> Result<Id, DeviceAckError> {
        let hit = self.cache.lock().ok().and_then(|c| c.get(exec).cloned());
        let known = match hit {
            Some(k) => k,
            None => {
                // An execution's application and resource type never change (a deleted one is
                // refused by the ack path itself), and the server makes execution ids, so one
                // that does not exist now is not one a device can be acknowledging.
                let k = match self
                    .engine
                    .store
                    .load_execution(exec)
                    .await
                    .map_err(EngineError::from)?
                {
                    Some(e) if e.resource_type == ResourceType::Device => {
                        Known::Devices(e.application_id)
                    }
                    Some(_) => Known::Other,
                    None => Known::Missing,
                };
                if let Ok(mut c) = self.cache.lock() {
                    if c.len() >= CACHE_MAX {
                        c.clear();
                    }
                    c.insert(exec.clone(), k.clone());
                }
                k
            }
        };
        match known {
            Known::Devices(app) => Ok(app),
            Known::Other => Err(DeviceAckError::NotDeviceJob(exec.clone())),
            Known::Missing => Err(DeviceAckError::NoExecution(exec.clone())),
        }
    }

    /// Applies `acks` (each already checked to come from its iteration's own device), batched
    /// into one commit per application; each gets its own outcome, in order.
    pub async fn apply(&self, acks: Vec<AckRequest>) -> Vec<Result<(), DeviceAckError>> {
        let mut outs: Vec<Option<Result<(), DeviceAckError>>> = Vec::with_capacity(acks.len());
        let mut by_app: HashMap<Id, Vec<(usize, AckRequest)>> = HashMap::new();
        for req in acks {
            let slot = outs.len();
            outs.push(None);
            let exec = match IterationId::parse(&req.iteration_id) {
                Ok(iid) => iid.execution_id().clone(),
                Err(_) => {
                    outs[slot] = Some(Err(EngineError::NotFound(crate::Missing::Iteration).into()));
                    continue;
                }
            };
            match self.app_of(&exec).await {
                Ok(app) => by_app.entry(app).or_default().push((slot, req)),
                Err(e) => outs[slot] = Some(Err(e)),
            }
        }
        for (app, group) in by_app {
            let (slots, reqs): (Vec<usize>, Vec<AckRequest>) = group.into_iter().unzip();
            let results = self.engine.ack_many(&app, None, None, reqs).await;
            for (slot, r) in slots.into_iter().zip(results) {
                outs[slot] = Some(r.map_err(DeviceAckError::from));
            }
        }
        outs.into_iter()
            .map(|o| o.unwrap_or(Err(EngineError::NotFound(crate::Missing::Iteration).into())))
            .collect()
    }
}

impl Engine {
    /// Registers a component whose status `/health` shows.
    pub fn add_component(&self, c: Arc<dyn Component>) {
        if let Ok(mut cs) = self.components.write() {
            cs.push(c);
        }
    }

    /// `(name, status)` of every registered component.
    pub fn component_status(&self) -> Vec<(&'static str, Value)> {
        self.components
            .read()
            .map(|cs| cs.iter().map(|c| (c.name(), c.status())).collect())
            .unwrap_or_default()
    }
}
