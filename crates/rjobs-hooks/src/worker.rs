//! The delivery worker. One per node, in its own task: it claims due outbox rows under a lease
//! (a token unique to the claim; time from the injected clock), delivers each in a task of its
//! own under a semaphore (at most `max_concurrency` in flight), and reports each attempt to the
//! store, which applies the schedule's decision only while the lease is still this claim's. A
//! node that dies leaves its claims to expire; any node then claims them again, so an event is
//! delivered at least once, with the same `webhook-id` every time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounterVec, Opts};
use rjobs_core::webhooks::{after_attempt, AttemptResult, NextStep, DEFAULT_RETRY_SCHEDULE_MS};
use rjobs_core::{Clock, Timestamp};
use rjobs_flow::outbound::OutboundPolicy;
use rjobs_store::webhooks::{AttemptRecord, Delivery, DeliveryClaim};
use rjobs_store::Store;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{body, sign, HookError};

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// Most deliveries in flight on this node.
    pub max_concurrency: usize,
    /// Connect timeout of one attempt.
    pub connect_timeout: Duration,
    /// Total timeout of one attempt (connect, send, response head and body).
    pub timeout: Duration,
    /// Most response bytes read (the rest is not read).
    pub max_response_bytes: usize,
    /// A claim's lease (above `timeout`, so a live node keeps its claims).
    pub lease_ms: i64,
    /// How often the outbox is polled when it was found empty.
    pub poll: Duration,
    /// Delays before the retries (ms), see [`after_attempt`].
    pub retry_schedule_ms: Vec<i64>,
    /// Attempts kept per webhook for `GET …/deliveries`.
    pub keep_attempts: u32,
    /// Where deliveries may connect (the workflow HTTP node's policy).
    pub outbound: OutboundPolicy,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            max_concurrency: 16,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            max_response_bytes: 64 * 1024,
            lease_ms: 60_000,
            poll: Duration::from_millis(500),
            retry_schedule_ms: DEFAULT_RETRY_SCHEDULE_MS.to_vec(),
            keep_attempts: 100,
            outbound: OutboundPolicy::default(),
        }
    }
}

/// The delivery worker (see the module docs).
#[derive(Debug)]
pub struct Deliverer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: HookSettings,
    client: reqwest::Client,
    node_id: String,
    claims: AtomicU64,
    slots: Arc<Semaphore>,
    deliveries: IntCounterVec,
}

/// What one attempt produced.
struct Attempt {
    result: AttemptResult,
    error: Option<String>,
}

impl Deliverer {
    /// A worker for `node_id`; registers `rjobs_webhook_deliveries_total` in `registry`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        settings: HookSettings,
        node_id: String,
        registry: &prometheus::Registry,
    ) -> Result<Self, HookError> {
        let client = rjobs_flow::http::policy_client(
            &settings.outbound,
            settings.connect_timeout,
            settings.timeout,
        )
        .map_err(|e| HookError::Client(e.to_string()))?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                "rjobs_webhook_deliveries_total",
                "Webhook delivery attempts by outcome (delivered, retrying, failed)",
            ),
            &["outcome"],
        )?;
        for o in ["delivered", "retrying", "failed"] {
            deliveries.with_label_values(&[o]);
        }
        registry.register(Box::new(deliveries.clone()))?;
        Ok(Deliverer {
            slots: Arc::new(Semaphore::new(settings.max_concurrency.max(1))),
            store,
            clock,
            settings,
            client,
            node_id,
            claims: AtomicU64::new(0),
            deliveries,
        })
    }

    /// Claims and delivers until `shutdown`; then waits (up to one attempt's timeout) for the
    /// deliveries in flight. Anything not finished is claimed again after its lease.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        loop {
            while tasks.try_join_next().is_some() {}
            let claimed = match self.claim(&mut tasks).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: claiming deliveries failed");
                    0
                }
            };
            let free = self.slots.available_permits();
            // A full claim with free slots left: look again at once; otherwise wait.
            if claimed > 0 && free > 0 {
                if shutdown.is_cancelled() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(self.settings.poll) => {}
            }
        }
        let grace = self.settings.timeout + Duration::from_secs(1);
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    }

    /// One claim: as many due deliveries as there are free slots, each started in `tasks`.
    /// Returns how many were claimed.
    async fn claim(
        self: &Arc<Self>,
        tasks: &mut tokio::task::JoinSet<()>,
    ) -> Result<usize, HookError> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let n = self.claims.fetch_add(1, Ordering::Relaxed);
        let owner = format!("{}/{:x}/{n}", self.node_id, rand::random::<u64>());
        let now = self.clock.now();
        let c = DeliveryClaim {
            owner: owner.clone(),
            now,
            until: Timestamp::from_millis(now.as_millis().saturating_add(self.settings.lease_ms)),
            limit: u32::try_from(free).unwrap_or(u32::MAX),
        };
        let claimed = self.store.claim_deliveries(&c).await?;
        let count = claimed.len();
        for d in claimed {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                break;
            };
            let me = self.clone();
            let owner = owner.clone();
            tasks.spawn(async move {
                if let Err(e) = me.deliver(&d, &owner).await {
                    tracing::warn!(error = %e, event_id = %d.event_id, "webhooks: recording a delivery failed");
                }
                drop(permit);
            });
        }
        Ok(count)
    }

    /// Delivers `d` once and records the attempt.
    pub async fn deliver(&self, d: &Delivery, owner: &str) -> Result<NextStep, HookError> {
        let exec = if d.event_type.is_iteration() {
            None
        } else {
            self.store.load_execution(&d.execution_id).await?
        };
        let text = body(d, exec.as_ref()).to_string();
        let started = self.clock.now();
        let attempt = self.post(d, &text, started).await;
        let ended = self.clock.now();
        let number = d.attempts.saturating_add(1);
        let next = after_attempt(
            number,
            attempt.result,
            ended,
            &self.settings.retry_schedule_ms,
        );
        let outcome = match next {
            NextStep::Delivered => "delivered",
            NextStep::RetryAt(_) => "retrying",
            NextStep::Failed => "failed",
        };
        let record = AttemptRecord {
            webhook_id: d.webhook_id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type,
            attempt: number,
            status_code: match attempt.result {
                AttemptResult::Status(c) => Some(c),
                AttemptResult::Transport => None,
            },
            error: attempt.error,
            at: started,
            duration_ms: ended.as_millis() - started.as_millis(),
            outcome: outcome.to_string(),
        };
        let kept = self
            .store
            .finish_delivery(d, owner, &record, next, self.settings.keep_attempts)
            .await?;
        if kept {
            self.deliveries.with_label_values(&[outcome]).inc();
        }
        tracing::debug!(event_id = %d.event_id, webhook_id = %d.webhook_id, attempt = number, outcome, "webhook attempt");
        Ok(next)
    }

    async fn post(&self, d: &Delivery, text: &str, now: Timestamp) -> Attempt {
        let transport = |e: String| Attempt {
            result: AttemptResult::Transport,
            error: Some(e),
        };
        let url = match crate::target_url(&d.url) {
            Ok(u) => u,
            Err(e) => return transport(format!("url: {e}")),
        };
        if let Err(e) = rjobs_flow::http::check_url_host(&self.settings.outbound, &url) {
            return transport(e.to_string());
        }
        let ts = now.as_millis().div_euclid(1000);
        let signature = match sign(&d.secret, &d.event_id, ts, text.as_bytes()) {
            Ok(s) => s,
            Err(e) => return transport(e.to_string()),
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "rjobs-webhooks")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(text.to_string())
            .send()
            .await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => return transport(rjobs_flow::http::error_text(&e)),
        };
        let code = resp.status().as_u16();
        // Read (and drop) at most the cap: the answer's body matters only as far as the
        // receiver needs it read to finish.
        let mut read = 0usize;
        let mut error = None;
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    read += c.len();
                    if read > self.settings.max_response_bytes {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(rjobs_flow::http::error_text(&e));
                    break;
                }
            }
        }
        if !(200..300).contains(&code) && error.is_none() {
            error = Some(format!("the receiver answered {code}"));
        }
        Attempt {
            result: AttemptResult::Status(code),
            error,
        }
    }
}
