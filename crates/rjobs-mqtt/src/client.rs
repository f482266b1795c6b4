//! The connection: one rumqttc client per server, its event loop, the publisher the flows use
//! and the task that applies device acks.
//!
//! Why it looks like this:
//! - **Never blocks the engine.** The event loop runs in its own task and reconnects with
//!   backoff (100 ms doubling to 5 s). A publish while disconnected fails at once; while
//!   connected it waits at most `publish_timeout_ms` for room in the client's queue. Either
//!   failure is a node error, so the iteration fails or times out and retries; the HTTP API and
//!   the engine never wait on the broker.
//! - **A publish is "handed to a connected client".** rumqttc does not report a QoS 1 PUBACK
//!   back to the publisher; a command lost in a broker crash is covered by the iteration timeout
//!   and its retry, and a duplicate by the ack compare-and-set.
//! - **Acks are batched.** The event loop only decides (the pure [`crate::ack::decide`]) and
//!   queues; one task drains the queue and applies up to [`BATCH`] acks per group commit.
//! - **TLS failures are visible.** A broker whose certificate does not verify (`mqtts://`) is
//!   a connection error like any other: reconnect with backoff, and the last error is shown in
//!   `/health` (`lastError`) and in every publish that fails meanwhile.
//! - **Each ack applied once.** The subscription is shared (`$share/<group>/…`) so the broker
//!   delivers each message to one node, and the ack CAS refuses any second application anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use rjobs_engine::{AckRequest, Component, DeviceAcks, PublishError, Publisher};
use rjobs_flow::Publish;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ack::decide;
use crate::settings::{redact, MqttSettings};
use crate::MqttError;

/// Most acks applied in one commit.
pub const BATCH: usize = 500;
/// Acks waiting to be applied; past this, new ones are dropped (and counted).
const QUEUE: usize = 20_000;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The metrics of the connection.
#[derive(Debug, Clone)]
struct MqttMetrics {
    connected: IntGauge,
    connections: IntCounterVec,
    acks: IntCounterVec,
    publishes: IntCounterVec,
}

impl MqttMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let connected = IntGauge::with_opts(Opts::new(
            "rjobs_mqtt_connected",
            "1 while connected to the MQTT broker",
        ))?;
        let connections = IntCounterVec::new(
            Opts::new(
                "rjobs_mqtt_connection_events_total",
                "MQTT connection events",
            ),
            &["event"],
        )?;
        let acks = IntCounterVec::new(
            Opts::new(
                "rjobs_mqtt_device_acks_total",
                "Messages on the device ack topic, by result (applied, or why ignored)",
            ),
            &["result"],
        )?;
        let publishes = IntCounterVec::new(
            Opts::new("rjobs_mqtt_publishes_total", "MQTT publishes by result"),
            &["result"],
        )?;
        registry.register(Box::new(connected.clone()))?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(acks.clone()))?;
        registry.register(Box::new(publishes.clone()))?;
        acks.with_label_values(&["applied"]);
        publishes.with_label_values(&["ok"]);
        Ok(MqttMetrics {
            connected,
            connections,
            acks,
            publishes,
        })
    }
}

/// The broker connection.
#[derive(Debug)]
pub struct Mqtt {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
    /// The last connection error, until the next successful connect.
    last_error: Arc<Mutex<Option<String>>>,
    url: String,
    timeout: Duration,
    metrics: MqttMetrics,
}

impl Mqtt {
    /// Connects (in the background) per `settings`, or `Ok(None)` when no broker is configured.
    /// Runs until `shutdown`; device acks are applied through `acks`.
    pub fn start(
        settings: &MqttSettings,
        node_id: &str,
        acks: Arc<DeviceAcks>,
        registry: &Registry,
        shutdown: CancellationToken,
    ) -> Result<Option<Arc<Mqtt>>, MqttError> {
        let Some(broker) = settings.broker()? else {
            return Ok(None);
        };
        let client_id = settings.client_id.clone().unwrap_or_else(|| {
            let safe: String = node_id
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            format!("rjobs-{safe}")
        });
        let mut opts = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        opts.set_keep_alive(Duration::from_secs(15))
            .set_clean_session(true)
            // Large enough that a device cannot knock the connection over with one oversized
            // message (the broker's message_size_limit should be lower still).
            .set_max_packet_size(1024 * 1024, 256 * 1024)
            .set_inflight(1000);
        if let Some(u) = &broker.username {
            opts.set_credentials(u.clone(), broker.password.clone().unwrap_or_default());
        }
        if broker.tls {
            let roots = crate::tls::Roots::from_setting(settings.ca_file.as_deref());
            let config = crate::tls::client_config(&roots)?;
            opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        let (client, eventloop) = AsyncClient::new(opts, 4096);
        let metrics = MqttMetrics::new(registry)
            .map_err(|e| MqttError::Settings(format!("mqtt metrics: {e}")))?;
        let url = redact(settings.url.as_deref().unwrap_or_default());
        let me = Arc::new(Mqtt {
            client: client.clone(),
            connected: Arc::new(AtomicBool::new(false)),
            last_error: Arc::new(Mutex::new(None)),
            url: url.clone(),
            timeout: Duration::from_millis(settings.publish_timeout_ms),
            metrics: metrics.clone(),
        });
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run_loop(
            eventloop,
            client,
            settings.ack_subscription(),
            me.connected.clone(),
            me.last_error.clone(),
            metrics.clone(),
            tx,
            url,
            shutdown.clone(),
        ));
        tokio::spawn(apply_acks(rx, acks, metrics, shutdown));
        Ok(Some(me))
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Why the last connection attempt failed, while not connected.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}

#[async_trait]
impl Publisher for Mqtt {
    async fn publish(&self, message: Publish) -> Result<(), PublishError> {
        let Publish {
            topic,
            payload,
            qos,
            retain,
        } = message;
        let count = |r: &str| self.metrics.publishes.with_label_values(&[r]).inc();
        if !self.is_connected() {
            count("not_connected");
            return Err(PublishError::NotConnected {
                url: self.url.to_string(),
                last_error: self.last_error(),
            });
        }
        let qos = match qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        let send = self.client.publish(topic.as_str(), qos, retain, payload);
        match tokio::time::timeout(self.timeout, send).await {
            Ok(Ok(())) => {
                count("ok");
                Ok(())
            }
            Ok(Err(e)) => {
                count("error");
                Err(PublishError::Failed {
                    topic,
                    message: e.to_string(),
                })
            }
            Err(_) => {
                count("timeout");
                Err(PublishError::TimedOut {
                    topic,
                    timeout_ms: self.timeout.as_millis(),
                })
            }
        }
    }
}

impl Component for Mqtt {
    fn name(&self) -> &'static str {
        "mqtt"
    }
    fn status(&self) -> Value {
        let state = if self.is_connected() {
            "connected"
        } else {
            "disconnected"
        };
        match self.last_error().filter(|_| !self.is_connected()) {
            Some(e) => json!({"broker": self.url, "state": state, "lastError": e}),
            None => json!({"broker": self.url, "state": state}),
        }
    }
}

/// The status `/health` shows when no broker is configured.
#[derive(Debug)]
pub struct NotConfigured;

impl Component for NotConfigured {
    fn name(&self) -> &'static str {
        "mqtt"
    }
    fn status(&self) -> Value {
        json!({"state": "notConfigured"})
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_loop(
    mut eventloop: rumqttc::EventLoop,
    client: AsyncClient,
    subscription: String,
    connected: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<String>>>,
    metrics: MqttMetrics,
    acks: mpsc::Sender<AckRequest>,
    url: String,
    shutdown: CancellationToken,
) {
    let mut backoff = BACKOFF_MIN;
    let mut was_up = true; // the first failure is logged
    loop {
        let ev = tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                connected.store(true, Ordering::SeqCst);
                if let Ok(mut e) = last_error.lock() {
                    *e = None;
                }
                metrics.connected.set(1);
                metrics.connections.with_label_values(&["connected"]).inc();
                backoff = BACKOFF_MIN;
                was_up = true;
                tracing::info!(broker = %url, "MQTT connected");
                // A clean session forgets subscriptions: subscribe on every connect.
                if let Err(e) = client.try_subscribe(subscription.clone(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, "cannot subscribe to device acks");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => match decide(&p.topic, &p.payload) {
                Ok(req) => {
                    if acks.try_send(req).is_err() {
                        metrics.acks.with_label_values(&["overloaded"]).inc();
                    }
                }
                Err(r) => {
                    tracing::debug!(topic = %p.topic, reason = r.reason(), "device ack ignored");
                    metrics.acks.with_label_values(&[r.reason()]).inc();
                }
            },
            Ok(_) => {}
            Err(e) => {
                if connected.swap(false, Ordering::SeqCst) {
                    metrics.connections.with_label_values(&["lost"]).inc();
                }
                metrics.connected.set(0);
                if let Ok(mut last) = last_error.lock() {
                    *last = Some(e.to_string());
                }
                if was_up {
                    tracing::warn!(broker = %url, error = %e, "MQTT connection failed; reconnecting with backoff");
                    was_up = false;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
    connected.store(false, Ordering::SeqCst);
    metrics.connected.set(0);
    let _ = client.try_disconnect();
}

async fn apply_acks(
    mut rx: mpsc::Receiver<AckRequest>,
    acks: Arc<DeviceAcks>,
    metrics: MqttMetrics,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let n = tokio::select! {
            _ = shutdown.cancelled() => break,
            n = rx.recv_many(&mut batch, BATCH) => n,
        };
        if n == 0 {
            break;
        }
        for r in acks.apply(std::mem::take(&mut batch)).await {
            let label = match &r {
                Ok(()) => "applied",
                Err(e) => e.reason(),
            };
            metrics.acks.with_label_values(&[label]).inc();
        }
    }
}
