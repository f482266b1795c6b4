//! The rjobs execution engine.
//!
//! **Run loop.** [`Engine::tick`] is one step: it keeps the leases (`cluster.rs`), then steps each
//! owned execution that an event touched or whose timer is due (`view.rs`): the pure planner
//! ([`rjobs_core::engine::planner::plan`]) says whether to process due deadlines and retries, how
//! many pending iterations to start (concurrency, `iterationDelay`, serial hand-over), whether
//! the execution is finished, and when to look again; the engine does it and asks again. Starts
//! fire the Job: Iteration trigger, timeouts Job: Timeout, completion Job: Complete. Each change
//! is computed by the pure state machines in `rjobs_core::engine` and persisted through the
//! store's group commit with a compare-and-set on (state, attempt) *before* any trigger fires; a
//! write that loses the race changes nothing and fires nothing. Tests call `tick` directly on a
//! manual clock; [`Engine::run`] calls it in a loop that sleeps until the earliest wake-up any
//! view asks for, or until woken by an execute, ack, cancel or signal.
//!
//! **The database is the truth.** A view caches an execution's row (counters, status,
//! accumulator) and its next timer; an ack or cancel marks it dirty, a signal from another node
//! or the heartbeat's periodic refresh marks it stale, and it is rebuilt from the rows when the
//! lease is taken. A restart resumes where the records say, and timeouts that expired while the
//! process was down fire on the first step.
//!
//! **Acknowledgements** ([`Engine::ack`], [`Engine::ack_many`]) come from the ack endpoints or
//! a workflow's Acknowledge node and are decided inside the group commit's transaction
//! ([`rjobs_core::engine::decide_ack`]): the first ack of the current attempt wins; late,
//! duplicate and stale acks are refused and change nothing. External workers claim started
//! attempts with [`Engine::claim`].
//!
//! **Timer triggers** run beside the engine in a [`TimerScheduler`] on every node: each instant
//! of a flow's timer is claimed in the store and fired by the one node whose claim wins.

pub mod cluster;
mod control;
pub mod device;
mod engine;
mod error;
mod finish;
mod flow_resources;
mod flows;
pub mod metrics;
mod payload;
pub mod render;
pub mod report;
mod signals;
mod sink;
mod tick;
pub mod timers;
mod view;
pub mod views;
mod worker;

// The event stream's decisions (kept apart so merges with new modules stay clean).
pub mod events;

pub use cluster::ClusterConfig;
pub use control::{DryRun, ExecuteRequest, RerunRequest};
pub use device::{Component, DeviceAckError, DeviceAcks, PublishError, Publisher};
pub use engine::{AckRequest, Engine, TickReport};
pub use error::{EngineError, Missing};
pub use flows::FlowSink;
pub use metrics::Metrics;
pub use report::ReportSigner;
pub use sink::{NullSink, RecordingSink, TriggerEvent, TriggerKind, TriggerSink};
pub use timers::{RecordingTimers, TimerFiring, TimerScheduler, TimerTarget};
