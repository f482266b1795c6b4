//! The MQTT side of rjobs: one connection to a broker (Mosquitto, EMQX, HiveMQ) through which
//! the flows' Device: Command and MQTT nodes publish, and on which devices acknowledge their own
//! iterations.
//!
//! Topics (a broker ACL can confine each device to `losant/{deviceId}/#`):
//! - `losant/{deviceId}/command` — rjobs publishes `{"name", "payload", "time"}` (QoS 1), the
//!   original's command topic and message.
//! - `losant/{deviceId}/iteration/ack` — the device publishes `{"iterationId", "attempt",
//!   "success", "message", "accumulator"}`; rjobs subscribes to `losant/+/iteration/ack` (shared:
//!   `$share/rjobs/…`) and applies it only when the iteration's resource is that device.
//!
//! Modules: [`settings`] (the `mqtt.*` settings, URL parsing), [`ack`] (the pure decision on an
//! ack message), [`tls`] (the `mqtts://` client: rustls, ring, CA file or system roots),
//! [`client`] (the connection, reconnects, publishing, applying acks), [`devices`] (the other end:
//! simulated devices answering commands, for the demo, the benchmark and the tests).

pub mod ack;
pub mod client;
pub mod devices;
pub mod settings;
pub mod tls;

pub use ack::{decide, Reject, ACK_FILTER};
pub use client::{Mqtt, NotConfigured};
pub use settings::{parse_url, Broker, MqttSettings};

/// What can go wrong setting up the connection (running, it only reconnects).
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// A setting is invalid; the message names it.
    #[error("{0}")]
    Settings(String),
}
