//! The pure decision on one message received on the device acknowledgement topic.
//!
//! A device publishes `{"iterationId", "attempt", "success", "message", "accumulator"}` to
//! `losant/{deviceId}/iteration/ack`. The topic is the device's identity — a broker ACL
//! confines each device to `losant/{deviceId}/#` — so the message may only settle an iteration
//! whose resource is that device: the iteration id is `<executionId>-<resourceId>` and its
//! resource part must equal the topic's device id. Everything else is rejected with a reason
//! that `/metrics` counts; nothing here touches state, so the rules are table-tested.

use rjobs_core::engine::IterationId;
use rjobs_engine::AckRequest;
use serde_json::Value;

/// The subscription filter (every device's ack topic).
pub const ACK_FILTER: &str = "losant/+/iteration/ack";

/// The most bytes of an ack message worth parsing.
pub const MAX_ACK_BYTES: usize = 16 * 1024;

/// Why a message was ignored; [`Reject::reason`] is its metrics label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Not `losant/{deviceId}/iteration/ack`.
    Topic,
    /// Larger than [`MAX_ACK_BYTES`].
    TooLarge,
    /// Not a JSON object.
    Json,
    /// A field is missing or has the wrong type (the field's name).
    Field(&'static str),
    /// `iterationId` is not `<executionId>-<resourceId>`.
    IterationId,
    /// The iteration's resource is another device.
    Foreign,
}

impl Reject {
    /// The `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            Reject::Topic => "bad_topic",
            Reject::TooLarge => "too_large",
            Reject::Json => "bad_json",
            Reject::Field(_) => "bad_field",
            Reject::IterationId => "bad_iteration_id",
            Reject::Foreign => "foreign_device",
        }
    }
}

/// The device id in an ack topic.
pub fn device_of(topic: &str) -> Option<&str> {
    let mut parts = topic.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("losant"), Some(d), Some("iteration"), Some("ack"), None) if !d.is_empty() => Some(d),
        _ => None,
    }
}

/// Decides what a message on `topic` asks: the ack of its own device's iteration, or why not.
pub fn decide(topic: &str, payload: &[u8]) -> Result<AckRequest, Reject> {
    let device = device_of(topic).ok_or(Reject::Topic)?;
    if payload.len() > MAX_ACK_BYTES {
        return Err(Reject::TooLarge);
    }
    let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(payload) else {
        return Err(Reject::Json);
    };
    let iteration_id = match m.remove("iterationId") {
        Some(Value::String(s)) => s,
        _ => return Err(Reject::Field("iterationId")),
    };
    let iid = IterationId::parse(&iteration_id).map_err(|_| Reject::IterationId)?;
    if iid.key().as_str() != device {
        return Err(Reject::Foreign);
    }
    let success = match m.remove("success") {
        Some(Value::Bool(b)) => b,
        _ => return Err(Reject::Field("success")),
    };
    let attempt = match m.remove("attempt") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64().and_then(|a| u32::try_from(a).ok()) {
            Some(a) if a >= 1 => Some(a),
            _ => return Err(Reject::Field("attempt")),
        },
        Some(_) => return Err(Reject::Field("attempt")),
    };
    let message = match m.remove("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Reject::Field("message")),
    };
    let accumulator = match m.remove("accumulator") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    Ok(AckRequest {
        // The canonical (lower-case) form the store keys iterations by.
        iteration_id: iid.to_string(),
        success,
        message,
        accumulator,
        attempt,
    })
}
