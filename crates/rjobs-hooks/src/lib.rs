//! Webhooks, delivered the Standard Webhooks way (<https://www.standardwebhooks.com>).
//!
//! The store writes each event into a durable outbox in the transaction of the change that
//! caused it (`rjobs-store`, `sql/outbox.rs`). This crate delivers them: [`Deliverer`] runs on
//! every node as its own task, claims due outbox rows under a lease (so a node that dies mid
//! delivery loses nothing: its lease expires and any node claims the row again), POSTs each
//! with `webhook-id` (the event id, the same on every retry), `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the secret's
//! decoded bytes ([`sign`]), and follows the pure retry schedule of
//! [`rjobs_core::webhooks::after_attempt`]. Deliveries run with bounded concurrency, each with
//! a connect and total timeout and a response size cap, and follow the workflow HTTP node's
//! outbound address policy; a slow or dead receiver costs a delivery slot, never an engine
//! step.

mod error;
mod payload;
mod secret;
mod worker;

pub use error::HookError;
pub use payload::body;
pub use secret::{new_secret, sign, target_url, UrlError};
pub use worker::{Deliverer, HookSettings};
