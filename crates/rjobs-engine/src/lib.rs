//! The rjobs execution engine.
//!
//! **Run loop.** [`Engine::tick`] is one step: for every execution that is not final it (1)
//! processes attempts past their deadline (timeout → retry or `timedOut`) and retries whose delay
//! is over, (2) starts new iterations as far as `maxIterationConcurrency` and `iterationDelay`
//! allow ([`rjobs_core::engine::dispatch_plan`]), firing the Job: Iteration trigger for each,
//! and (3) completes the execution when nothing is left in flight, firing Job: Complete. Each
//! change is computed by the pure state machines in `rjobs_core::engine` and persisted by a
//! compare-and-set on (state, attempt) *before* any trigger fires; a write that loses the race
//! changes nothing and fires nothing. Tests call `tick` directly on a manual clock; [`Engine::run`]
//! calls it in a loop that sleeps until the next due instant (the earliest deadline, retry or
//! paced start) or until woken by an execute, ack or cancel.
//!
//! **No in-memory truth.** Everything the loop decides from is read from the store at each tick:
//! a restart resumes where the records say, timeouts that expired while the process was down fire
//! on the first tick, and the summary is always counted from the iteration records. This is also
//! what lets several nodes share the work through leases later.
//!
//! **Acknowledgements** ([`Engine::ack`]) come from the ack endpoint or a workflow's
//! Acknowledge node and go through the same compare-and-set: the first ack of the current attempt
//! wins; late, duplicate and stale acks are refused and change nothing.

pub mod cluster;
mod engine;
mod error;
mod flows;
pub mod metrics;
mod payload;
pub mod render;
pub mod report;
mod sink;
mod tick;
mod view;
pub mod views;
mod worker;

pub use cluster::ClusterConfig;
pub use engine::{AckRequest, Engine, ExecuteRequest, TickReport};
pub use error::EngineError;
pub use flows::FlowSink;
pub use metrics::Metrics;
pub use report::ReportSigner;
pub use sink::{NullSink, RecordingSink, TriggerEvent, TriggerKind, TriggerSink};
