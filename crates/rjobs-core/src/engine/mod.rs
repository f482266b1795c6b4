//! The execution and iteration state machines as pure functions (SPEC §6). No I/O, no clock:
//! every event carries `now`. The store persists each [`Transition`] with a compare-and-set on
//! (`expected_state`, `expected_attempt`) — the attempt number is the fencing token — and the
//! engine performs the transition's [`Effect`]s only if that write won.
//!
//! # Iteration
//!
//! ```text
//!            Start (running)                     Ack ok ───────────────▶ succeeded
//!  pending ─────────────────▶ inProgress(n) ──── Ack fail ──┬─ retry? ─▶ retrying
//!     │                         ▲   │                       └─ else ───▶ failed
//!     │ ResourceDeleted         │   └─ Deadline ──┬─ retry? ───────────▶ retrying
//!     ├──────────▶ failed       │   (+Job:Timeout └─ else ─────────────▶ timedOut
//!     │ Abandon (draining)      │    if running)
//!     └──────────▶ notStarted   │ Start at retry_at (running): n+1
//!                            retrying ── ResourceDeleted ─▶ failed
//!                               └─────── Abandon (draining) ─▶ notStarted
//! ```
//!
//! `retry?` = the execution is running, the policy's flag for that outcome is on, and fewer
//! than `max_retries` retries were made (attempt n ≤ `max_retries`), so at most
//! `1 + max_retries` attempts ever start. Final states (`succeeded`, `failed`, `timedOut`,
//! `notStarted`) refuse every event.
//!
//! Decisions, where the SPEC leaves room:
//! - **Fencing.** An ack is accepted only for the attempt in progress and only strictly before
//!   its deadline. At or after the deadline it is refused even if the engine has not processed
//!   the timeout yet, so the outcome depends on time alone, not on which node wins a race or on
//!   how late the timer fired (also after a restart).
//! - **Accumulator.** Longer than 256 characters of JSON text, or not JSON text at all, makes
//!   the ack count as a *failed* attempt with a message saying why ([`ACCUMULATOR_TOO_LONG_MESSAGE`],
//!   [`ACCUMULATOR_NOT_JSON_MESSAGE`]); `retryOnFailure` then applies, as the original's
//!   Acknowledge node errors (a workflow error). The ack's own message is replaced by that reason.
//!   The accumulator is only meaningful for serial jobs: the engine passes `None` for parallel
//!   ones, which therefore never fail on it.
//! - **Message / accumulator columns** describe the last *finished* attempt: every outcome
//!   overwrites both (an ack with its values, a timeout with none, a deleted resource with
//!   `resource was deleted`); a start keeps them, so a retrying row still shows why.
//! - **Timeout during cancel/error** (mode [`ExecMode::Draining`]): the in-flight attempt ends
//!   `timedOut` (it did time out), with no Job: Timeout trigger and no retry (SPEC §6 Cancel).
//!   Acks before the deadline are still accepted; a failed one is not retried.
//! - **Abandon** (the execution is canceling or erroring): `pending` *and* `retrying` become
//!   `notStarted` (the next attempt never started; the row keeps the last attempt's message
//!   and attempt count). `inProgress` is refused: it drains through its ack or deadline. For
//!   large target sets the store applies the same rule in bulk
//!   (`state IN ('pending','retrying')`).
//! - **ResourceDeleted** applies to `pending` and also to `retrying` (the resource vanished
//!   between attempts): `failed`, `resource was deleted`.
//! - **Times.** `started_at` is the current attempt's start; `deadline = start + timeout`;
//!   `retry_at = now + retryDelay` from when the failure or timeout was processed;
//!   `completed_at` is the ack time, or the deadline itself for a timeout (a timeout processed
//!   late still happened at its deadline). `notStarted` has no `completed_at`.
//! - **Rows from disk** missing a timer (`inProgress` without deadline, `retrying` without
//!   `retry_at`) are treated as due, so nothing can hang forever.
//!
//! # Execution
//!
//! ```text
//!  inProgress ── Drained ──────────▶ completed
//!   │  ▲ ├────── CancelRequested ──▶ canceling ── Drained ─▶ canceled
//!   │  │ └────── ErrorRaised ──────▶ erroring  ── Drained ─▶ errored
//!   │  └ ResumeRequested ┐        (paused: the same three events, as from inProgress)
//!   └─ PauseRequested ─▶ paused
//! ```
//!
//! `paused` holds every start (pending iterations and due retries) while acks and deadlines are
//! applied as while running ([`ExecMode::Running`]); pause on `paused` and resume on
//! `inProgress` are idempotent. The operator controls that decide by themselves — abort
//! thresholds and the rollout rate — are pure functions in [`controls`], asked by the planner.
//!
//! Cancel on `canceling`/`canceled` is an idempotent success; on `completed`, `errored` — and
//! `erroring`, which will end `errored` whatever happens — it is refused (API: 400). An error
//! raised while already canceling or erroring is refused (the first reason wins). The engine
//! abandons pending/retrying iterations in the same transaction as the move to
//! `canceling`/`erroring`, and reports `Drained` once [`Summary::is_drained`] holds.
//!
//! # Dispatch
//!
//! [`dispatch_plan`] decides how many `pending` iterations may start now and when to look
//! again: at most `maxIterationConcurrency` iterations hold a slot (`inProgress` or `retrying`
//! — a retrying iteration keeps its slot between attempts); consecutive iteration starts are at
//! least `iterationDelay` apart, start to start, the first at once (with a delay, one start per
//! call); with concurrency 1 the next starts only once the previous is final. Retry starts are
//! paced by `retryDelay` alone: they need no free slot and neither wait for nor reset the
//! iteration delay.

mod ack;
pub mod controls;
mod dispatch;
mod execution;
mod ids;
mod iteration;
pub mod planner;
mod types;

#[cfg(test)]
mod tests;

pub use ack::{accumulator_text, decide_ack, AckDecision, AckInput, AckRefusal};
pub use dispatch::{dispatch_plan, DispatchPlan};
pub use execution::{
    execution_transition, summarize, ExecutionEvent, ExecutionRefusal, ExecutionStatus, Summary,
    SummaryDelta,
};
pub use ids::{InvalidIterationId, IterationId};
pub use iteration::{transition, IterationEvent};
pub use types::{
    truncate_chars, AttemptInfo, Effect, EventKind, ExecMode, IterationRecord, IterationState,
    Refusal, RetryPolicy, Transition, ACCUMULATOR_NOT_JSON_MESSAGE, ACCUMULATOR_TOO_LONG_MESSAGE,
    MAX_ACCUMULATOR_CHARS, MAX_MESSAGE_CHARS, RESOURCE_DELETED_MESSAGE,
};
