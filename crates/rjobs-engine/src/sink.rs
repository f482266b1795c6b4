//! Where triggers go. The engine builds each trigger's `data` exactly as the original's payload
//! (SPEC §7) and hands it over; the workflow runner (a later issue) plugs in as a sink. Until
//! then [`NullSink`] drops them, and tests use [`RecordingSink`].

use std::sync::Mutex;

use async_trait::async_trait;
use rjobs_core::{Id, Timestamp};
use serde_json::Value;

/// The three resource job triggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// Job: Iteration — an attempt started.
    Iteration,
    /// Job: Timeout — an attempt was not acknowledged in time.
    Timeout,
    /// Job: Complete — the execution reached a final status.
    Complete,
}

impl TriggerKind {
    /// The trigger type name in flows.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Iteration => "resourceJobIteration",
            TriggerKind::Timeout => "resourceJobIterationTimeout",
            TriggerKind::Complete => "resourceJobComplete",
        }
    }
}

/// One trigger firing.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    /// Which trigger.
    pub kind: TriggerKind,
    /// Application.
    pub application_id: Id,
    /// The job (flows key their triggers by it).
    pub resource_job_id: Id,
    /// When it fired.
    pub time: Timestamp,
    /// The payload's `data`.
    pub data: Value,
}

/// Receives triggers. Must not block: a slow consumer queues internally.
#[async_trait]
pub trait TriggerSink: Send + Sync + std::fmt::Debug + 'static {
    /// Delivers one trigger.
    async fn fire(&self, ev: TriggerEvent);
}

/// Drops every trigger (no workflows yet).
#[derive(Debug, Default)]
pub struct NullSink;

#[async_trait]
impl TriggerSink for NullSink {
    async fn fire(&self, _: TriggerEvent) {}
}

/// Keeps every trigger, for tests.
#[derive(Debug, Default)]
pub struct RecordingSink(Mutex<Vec<TriggerEvent>>);

impl RecordingSink {
    /// Takes the triggers recorded so far.
    pub fn take(&self) -> Vec<TriggerEvent> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

#[async_trait]
impl TriggerSink for RecordingSink {
    async fn fire(&self, ev: TriggerEvent) {
        if let Ok(mut v) = self.0.lock() {
            v.push(ev);
        }
    }
}
