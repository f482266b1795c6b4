//! Persistence of webhooks: the subscriptions, the durable outbox and the record of attempts.
//!
//! Events are not written through this trait: the store writes them itself, inside the
//! transaction of the change that caused them (an execution's status compare-and-set, an
//! iteration's finishing write, an execution's creation; see `sql/outbox.rs`), so an event
//! exists exactly when its change is durable. The delivery worker claims due outbox rows with a
//! lease ([`WebhookStore::claim_deliveries`]) and reports each attempt
//! ([`WebhookStore::finish_delivery`]); a claim whose lease expired (its node died) is claimed
//! again by any node, so every event is delivered at least once.

use async_trait::async_trait;
use rjobs_core::engine::Summary;
use rjobs_core::list::ListParams;
use rjobs_core::webhooks::{EventType, NextStep};
use rjobs_core::{Id, Timestamp};

use crate::{Page, StoreError};

/// A webhook's signing secret (`whsec_…`). Its `Debug` shows nothing of it, so it cannot reach
/// a log through a record's `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        WebhookSecret(s)
    }
    /// The secret itself (to sign with, or to show once on creation).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// A webhook subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRecord {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// Name.
    pub name: String,
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// Subscribed event types (sorted, no duplicates).
    pub events: Vec<EventType>,
    /// Disabled webhooks get no new events.
    pub enabled: bool,
    /// Created.
    pub creation_date: Timestamp,
    /// Last changed.
    pub last_updated: Timestamp,
    /// Compare-and-set version.
    pub version: i64,
}

/// What an iteration event reports of its iteration (as it was when it finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IterationSnapshot {
    /// The iteration's position in its execution.
    pub seq: i64,
    /// The resource.
    pub resource_id: Id,
    /// The resource's display name.
    pub resource_name: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's message.
    pub message: Option<String>,
}

/// One claimed delivery: the event with its snapshot, and where to send it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event id: the `webhook-id` header, the same on every retry.
    pub event_id: String,
    /// The webhook.
    pub webhook_id: Id,
    /// The application.
    pub application_id: Id,
    /// The event type.
    pub event_type: EventType,
    /// When the event happened.
    pub event_at: Timestamp,
    /// The execution it is about.
    pub execution_id: Id,
    /// That execution's job.
    pub resource_job_id: Id,
    /// The execution's status (execution events) or the iteration's state (iteration events)
    /// when the event was written.
    pub status: String,
    /// The execution's counters when the event was written.
    pub summary: Summary,
    /// For iteration events, the iteration.
    pub iteration: Option<IterationSnapshot>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The webhook's URL.
    pub url: String,
    /// The webhook's secret.
    pub secret: WebhookSecret,
}

/// One delivery attempt, as `GET …/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The webhook.
    pub webhook_id: Id,
    /// The event id.
    pub event_id: String,
    /// The event type.
    pub event_type: EventType,
    /// Attempt number (1 for the first).
    pub attempt: u32,
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// When the attempt was made.
    pub at: Timestamp,
    /// How long it took.
    pub duration_ms: i64,
    /// `delivered`, `retrying` or `failed`.
    pub outcome: String,
}

/// A delivery claim: the node's lease token and the lease's end.
#[derive(Debug, Clone)]
pub struct DeliveryClaim {
    /// A token unique to this claim (the lease owner).
    pub owner: String,
    /// The current time (the claimer's clock).
    pub now: Timestamp,
    /// The lease ends here; after it, any node may claim the row again.
    pub until: Timestamp,
    /// At most this many rows.
    pub limit: u32,
}

/// Outbox rows by delivery state (tests and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting for a (next) attempt, or being attempted.
    pub pending: u64,
    /// Given up on.
    pub failed: u64,
}

/// Webhook persistence.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts a webhook.
    async fn insert_webhook(&self, w: &WebhookRecord) -> Result<(), StoreError>;
    /// One webhook of an application.
    async fn get_webhook(&self, app: &Id, id: &Id) -> Result<Option<WebhookRecord>, StoreError>;
    /// A page of an application's webhooks.
    async fn list_webhooks(
        &self,
        app: &Id,
        p: &ListParams,
    ) -> Result<Page<WebhookRecord>, StoreError>;
    /// Compare-and-set update (name, url, events, enabled); the stored version becomes
    /// `w.version`.
    async fn update_webhook(&self, w: &WebhookRecord, expected: i64) -> Result<(), StoreError>;
    /// Deletes a webhook with its pending deliveries and attempts; false if it did not exist.
    async fn delete_webhook(&self, app: &Id, id: &Id) -> Result<bool, StoreError>;
    /// The most recent attempts of a webhook, newest first.
    async fn webhook_attempts(
        &self,
        webhook: &Id,
        limit: u32,
    ) -> Result<Vec<AttemptRecord>, StoreError>;
    /// Claims up to `c.limit` due pending deliveries whose lease is free or expired, leasing
    /// them to `c.owner` until `c.until`.
    async fn claim_deliveries(&self, c: &DeliveryClaim) -> Result<Vec<Delivery>, StoreError>;
    /// Records an attempt and applies its consequence (delete on delivery, reschedule, mark
    /// failed) if `owner` still holds the lease; keeps the `keep` newest attempts of the
    /// webhook. False if the lease was lost (nothing is changed then).
    async fn finish_delivery(
        &self,
        d: &Delivery,
        owner: &str,
        attempt: &AttemptRecord,
        next: NextStep,
        keep: u32,
    ) -> Result<bool, StoreError>;
    /// Outbox rows by state, across applications.
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
}
