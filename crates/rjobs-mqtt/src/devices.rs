//! The devices' side of the topics: one broker client standing in for a fleet of devices, which
//! receives every `losant/{deviceId}/command` and answers on `losant/{deviceId}/iteration/ack`.
//!
//! Why it is here and not in each caller: `rjobs demo --mqtt`, the `mqtt_ack` benchmark and the
//! end-to-end tests all simulate devices, and they differ only in what a device answers (the
//! demo's failing sensors, the benchmark's plain success, the tests' forgeries and silences).
//! The protocol part — subscribe, wait for the SUBACK, subscribe again after a reconnection,
//! take the device id from the topic, publish the ack at QoS 1 — is written once, next to the
//! server side of the same topics ([`crate::ack`]).

use std::time::Duration;

use rumqttc::{AsyncClient, ClientError, ConnectionError, Event, EventLoop, MqttOptions, Packet};
use rumqttc::{Publish, QoS};
use serde_json::Value;

/// Every device's command topic.
pub const COMMAND_FILTER: &str = "losant/+/command";

/// The topic on which device `device` acknowledges its iterations.
pub fn ack_topic(device: &str) -> String {
    format!("losant/{device}/iteration/ack")
}

/// Why the simulated devices did not get their subscription.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The connection failed.
    #[error("{0}")]
    Unreachable(#[from] ConnectionError),
    /// The broker did not answer within the wait.
    #[error("no SUBACK within the wait")]
    NoSubAck,
}

/// One command a device received.
#[derive(Debug, Clone)]
pub struct Command {
    /// The device, from the topic (`losant/{deviceId}/command`).
    pub device: String,
    /// The message as sent (`{"name", "payload", "time"}` from rjobs).
    pub payload: Vec<u8>,
}

impl Command {
    /// The message as JSON; `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.payload).ok()
    }
}

/// The simulated devices' broker client.
pub struct Fleet {
    client: AsyncClient,
    events: EventLoop,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A client with these options; it subscribes to [`COMMAND_FILTER`] at every connection
    /// (the first and each reconnection, as the broker forgets a clean session's
    /// subscriptions). Nothing is sent until it is polled.
    pub fn new(opts: MqttOptions) -> Fleet {
        let (client, events) = AsyncClient::new(opts, 10_000);
        Fleet { client, events }
    }

    /// A handle to publish with (it can be cloned into other tasks).
    pub fn client(&self) -> &AsyncClient {
        &self.client
    }

    /// Polls until the broker has acknowledged the subscription, each poll waiting at most
    /// `wait`: once it returns, every command sent afterwards is received.
    pub async fn subscribed(&mut self, wait: Duration) -> Result<(), FleetError> {
        loop {
            match tokio::time::timeout(wait, self.events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => return Ok(()),
                Ok(Ok(event)) => self.resubscribe(&event),
                Ok(Err(e)) => return Err(FleetError::Unreachable(e)),
                Err(_) => return Err(FleetError::NoSubAck),
            }
        }
    }

    /// The next command on a topic of the filter. A connection error is waited out (`retry`,
    /// then the client reconnects); every other event is handled and passed over.
    pub async fn next_command(&mut self, retry: Duration) -> Command {
        loop {
            match self.events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(c) = command(p) {
                        return c;
                    }
                }
                Ok(event) => self.resubscribe(&event),
                Err(_) => tokio::time::sleep(retry).await,
            }
        }
    }

    fn resubscribe(&self, event: &Event) {
        if let Event::Incoming(Packet::ConnAck(_)) = event {
            // Queued, sent by the event loop; a full queue is a lost subscription, which the
            // caller sees as commands that never come.
            let _ = self.client.try_subscribe(COMMAND_FILTER, QoS::AtLeastOnce);
        }
    }
}

fn command(p: Publish) -> Option<Command> {
    let device = p.topic.split('/').nth(1)?.to_string();
    Some(Command {
        device,
        payload: p.payload.to_vec(),
    })
}

/// Publishes `ack` on `device`'s ack topic, at QoS 1, not retained.
pub async fn send_ack(
    client: &AsyncClient,
    device: &str,
    ack: impl Into<Vec<u8>>,
) -> Result<(), ClientError> {
    client
        .publish(ack_topic(device), QoS::AtLeastOnce, false, ack)
        .await
}
