//! The iteration state machine: [`transition`] maps (record, event, policy, mode) to the next
//! record plus effects, or to a [`Refusal`]. Every (state, event) pair is its own match arm, so a
//! new state or event does not compile until someone decides what it means everywhere.

use crate::Timestamp;

use super::types::{
    truncate_chars, AttemptInfo, Effect, EventKind, ExecMode, IterationRecord, IterationState,
    Refusal, RetryPolicy, Transition, ACCUMULATOR_NOT_JSON_MESSAGE, ACCUMULATOR_TOO_LONG_MESSAGE,
    MAX_ACCUMULATOR_CHARS, MAX_MESSAGE_CHARS, RESOURCE_DELETED_MESSAGE,
};

/// Something that happened to one iteration. Each carries `now`, from the injected clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IterationEvent {
    /// The dispatcher starts the next attempt of a `pending` iteration, or of a `retrying` one
    /// whose `retry_at` has come.
    Start {
        /// The start instant.
        now: Timestamp,
    },
    /// An acknowledgement (Job: Acknowledge node or the ack endpoint) of attempt `attempt`.
    Ack {
        /// The attempt acknowledged; only the one in progress is accepted (fencing).
        attempt: u32,
        /// The outcome.
        success: bool,
        /// Free text; kept to its first 256 characters.
        message: Option<String>,
        /// JSON text passed to the next iteration (serial jobs; the engine passes `None` for
        /// parallel ones, where the accumulator is ignored). Over 256 characters, or not JSON,
        /// fails the attempt.
        accumulator: Option<String>,
        /// When it arrived.
        now: Timestamp,
    },
    /// The engine's timer for the in-flight attempt fired.
    Deadline {
        /// Now; the event is refused before the record's deadline.
        now: Timestamp,
    },
    /// The resource of a not yet started iteration no longer exists.
    ResourceDeleted {
        /// When that was found.
        now: Timestamp,
    },
    /// The execution is canceling or erroring: settle an iteration that will never start again.
    Abandon {
        /// Now.
        now: Timestamp,
    },
}

impl IterationEvent {
    /// The event's kind, without its data.
    pub const fn kind(&self) -> EventKind {
        match self {
            IterationEvent::Start { .. } => EventKind::Start,
            IterationEvent::Ack { .. } => EventKind::Ack,
            IterationEvent::Deadline { .. } => EventKind::Deadline,
            IterationEvent::ResourceDeleted { .. } => EventKind::ResourceDeleted,
            IterationEvent::Abandon { .. } => EventKind::Abandon,
        }
    }
}

/// Applies `ev` to `rec` under `policy` while the execution is in `mode`.
///
/// On `Ok`, the store writes `record` with a compare-and-set on
/// (`expected_state`, `expected_attempt`); only if that wins does the engine perform `effects`.
/// On `Err`, nothing is written and nothing is done.
pub fn transition(
    rec: &IterationRecord,
    ev: IterationEvent,
    policy: &RetryPolicy,
    mode: ExecMode,
) -> Result<Transition, Refusal> {
    use IterationEvent as E;
    use IterationState as S;
    let kind = ev.kind();
    let not_applicable = Refusal::NotApplicable {
        state: rec.state,
        event: kind,
    };
    match (rec.state, ev) {
        // ---- pending: waits for the dispatcher ----
        (S::Pending, E::Start { now }) => start(rec, now, policy, mode),
        (S::Pending, E::Ack { .. }) => Err(Refusal::NotAwaitingAck { state: rec.state }),
        (S::Pending, E::Deadline { .. }) => Err(not_applicable),
        (S::Pending, E::ResourceDeleted { now }) => Ok(resource_deleted(rec, now)),
        (S::Pending, E::Abandon { .. }) => abandon(rec, mode),

        // ---- inProgress: an attempt awaits its ack until its deadline ----
        (S::InProgress, E::Start { .. }) => Err(not_applicable),
        (
            S::InProgress,
            E::Ack {
                attempt,
                success,
                message,
                accumulator,
                now,
            },
        ) => ack(
            rec,
            attempt,
            success,
            message,
            accumulator,
            now,
            policy,
            mode,
        ),
        (S::InProgress, E::Deadline { now }) => deadline(rec, now, policy, mode),
        (S::InProgress, E::ResourceDeleted { .. }) => Err(not_applicable),
        (S::InProgress, E::Abandon { .. }) => match mode {
            ExecMode::Running => Err(Refusal::ExecutionRunning),
            // In flight: it drains through its ack or its deadline, never through abandon.
            ExecMode::Draining => Err(not_applicable),
        },

        // ---- retrying: waits for retry_at, then the dispatcher starts attempt n+1 ----
        (S::Retrying, E::Start { now }) => match rec.retry_at {
            Some(due) if now < due && mode == ExecMode::Running => Err(Refusal::NotDue { due }),
            Some(_) | None => start(rec, now, policy, mode),
        },
        (S::Retrying, E::Ack { .. }) => Err(Refusal::NotAwaitingAck { state: rec.state }),
        (S::Retrying, E::Deadline { .. }) => Err(not_applicable),
        (S::Retrying, E::ResourceDeleted { now }) => Ok(resource_deleted(rec, now)),
        (S::Retrying, E::Abandon { .. }) => abandon(rec, mode),

        // ---- final states: nothing changes them ----
        (
            S::Succeeded | S::Failed | S::TimedOut | S::NotStarted,
            E::Start { .. }
            | E::Ack { .. }
            | E::Deadline { .. }
            | E::ResourceDeleted { .. }
            | E::Abandon { .. },
        ) => Err(Refusal::AlreadyFinal { state: rec.state }),
    }
}

fn change(rec: &IterationRecord, record: IterationRecord, effects: Vec<Effect>) -> Transition {
    Transition {
        expected_state: rec.state,
        expected_attempt: rec.attempt,
        record,
        effects,
    }
}

/// `pending` or due `retrying` → `inProgress` with attempt n+1 and a deadline.
fn start(
    rec: &IterationRecord,
    now: Timestamp,
    policy: &RetryPolicy,
    mode: ExecMode,
) -> Result<Transition, Refusal> {
    if !mode.allows_retries() {
        return Err(Refusal::ExecutionStopping);
    }
    let attempt = rec.attempt.saturating_add(1);
    let deadline = now.plus_millis(policy.timeout_ms.max(0));
    let record = IterationRecord {
        state: IterationState::InProgress,
        attempt,
        started_at: Some(now),
        deadline: Some(deadline),
        retry_at: None,
        completed_at: None,
        // The previous attempt's outcome stays visible until this one has its own.
        message: rec.message.clone(),
        accumulator: rec.accumulator.clone(),
    };
    let info = AttemptInfo {
        attempt,
        started_at: now,
        will_retry_on_failure: policy.will_retry_on_failure(attempt, mode),
        will_retry_on_timeout: policy.will_retry_on_timeout(attempt, mode),
    };
    Ok(change(
        rec,
        record,
        vec![Effect::FireIterationTrigger(info), Effect::WakeAt(deadline)],
    ))
}

/// The end of an attempt that did not succeed: `retrying` if allowed, else the final `state`.
fn end_unsuccessful(
    rec: &IterationRecord,
    retry: bool,
    final_state: IterationState,
    completed_at: Timestamp,
    retry_at: Timestamp,
    message: Option<String>,
    accumulator: Option<String>,
) -> (IterationRecord, Option<Effect>) {
    let base = IterationRecord {
        state: final_state,
        attempt: rec.attempt,
        started_at: rec.started_at,
        deadline: None,
        retry_at: None,
        completed_at: Some(completed_at),
        message,
        accumulator,
    };
    if retry {
        let record = IterationRecord {
            state: IterationState::Retrying,
            retry_at: Some(retry_at),
            completed_at: None,
            ..base
        };
        (record, Some(Effect::WakeAt(retry_at)))
    } else {
        (base, None)
    }
}

#[allow(clippy::too_many_arguments)] // the fields of one `Ack` event, destructured by the match
fn ack(
    rec: &IterationRecord,
    attempt: u32,
    success: bool,
    message: Option<String>,
    accumulator: Option<String>,
    now: Timestamp,
    policy: &RetryPolicy,
    mode: ExecMode,
) -> Result<Transition, Refusal> {
    if attempt != rec.attempt {
        return Err(Refusal::WrongAttempt {
            current: rec.attempt,
            got: attempt,
        });
    }
    if let Some(deadline) = rec.deadline {
        if now >= deadline {
            return Err(Refusal::PastDeadline { deadline });
        }
    }
    let message = message.map(|m| truncate_chars(&m, MAX_MESSAGE_CHARS));
    // A bad accumulator turns the ack into a failed attempt (the original's Acknowledge node
    // errors, i.e. the workflow errors, which `retryOnFailure` covers).
    let (success, message, accumulator) = match accumulator {
        Some(a) if a.chars().count() > MAX_ACCUMULATOR_CHARS => {
            (false, Some(ACCUMULATOR_TOO_LONG_MESSAGE.to_owned()), None)
        }
        Some(a) if serde_json::from_str::<serde_json::Value>(&a).is_err() => {
            (false, Some(ACCUMULATOR_NOT_JSON_MESSAGE.to_owned()), None)
        }
        a => (success, message, a),
    };
    if success {
        let record = IterationRecord {
            state: IterationState::Succeeded,
            attempt: rec.attempt,
            started_at: rec.started_at,
            deadline: None,
            retry_at: None,
            completed_at: Some(now),
            message,
            accumulator,
        };
        return Ok(change(rec, record, Vec::new()));
    }
    let retry = policy.will_retry_on_failure(rec.attempt, mode);
    let (record, wake) = end_unsuccessful(
        rec,
        retry,
        IterationState::Failed,
        now,
        now.plus_millis(policy.retry_delay_ms.max(0)),
        message,
        accumulator,
    );
    Ok(change(rec, record, wake.into_iter().collect()))
}

fn deadline(
    rec: &IterationRecord,
    now: Timestamp,
    policy: &RetryPolicy,
    mode: ExecMode,
) -> Result<Transition, Refusal> {
    // A row without a deadline (it cannot happen, but rows come from disk) counts as due, so
    // an iteration can never hang forever.
    let due = rec.deadline.unwrap_or(now);
    if now < due {
        return Err(Refusal::NotDue { due });
    }
    let retry = policy.will_retry_on_timeout(rec.attempt, mode);
    // `completed_at` is the deadline itself, not `now`: a timeout noticed late (say after a
    // restart) still happened at the deadline. The retry delay counts from now.
    let (record, wake) = end_unsuccessful(
        rec,
        retry,
        IterationState::TimedOut,
        due,
        now.plus_millis(policy.retry_delay_ms.max(0)),
        None,
        None,
    );
    let mut effects = Vec::with_capacity(2);
    match mode {
        ExecMode::Running => effects.push(Effect::FireTimeoutTrigger(AttemptInfo {
            attempt: rec.attempt,
            started_at: rec.started_at.unwrap_or(due),
            will_retry_on_failure: policy.will_retry_on_failure(rec.attempt, mode),
            will_retry_on_timeout: retry,
        })),
        // SPEC §6 Cancel: no Timeout trigger after cancel (nor after an error).
        ExecMode::Draining => {}
    }
    effects.extend(wake);
    Ok(change(rec, record, effects))
}

fn resource_deleted(rec: &IterationRecord, now: Timestamp) -> Transition {
    let record = IterationRecord {
        state: IterationState::Failed,
        attempt: rec.attempt,
        started_at: rec.started_at,
        deadline: None,
        retry_at: None,
        completed_at: Some(now),
        message: Some(RESOURCE_DELETED_MESSAGE.to_owned()),
        accumulator: None,
    };
    change(rec, record, Vec::new())
}

fn abandon(rec: &IterationRecord, mode: ExecMode) -> Result<Transition, Refusal> {
    match mode {
        ExecMode::Running => Err(Refusal::ExecutionRunning),
        ExecMode::Draining => {
            let record = IterationRecord {
                state: IterationState::NotStarted,
                deadline: None,
                retry_at: None,
                completed_at: None,
                ..rec.clone()
            };
            Ok(change(rec, record, Vec::new()))
        }
    }
}
