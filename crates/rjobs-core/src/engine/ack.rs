//! The acknowledgement decision: what an ack does to an iteration, given the execution it
//! belongs to. The store's group commit calls [`decide_ack`] inside the transaction, on the
//! row and execution it has just read, for every ack of a batch; nothing about an ack is decided
//! anywhere else (the REST ack, the batch ack and the Acknowledge node all end here).
//!
//! Decisions, where the SPEC leaves room:
//! - `attempt` absent means "the attempt now in progress"; present, it must be that attempt
//!   (an older one is refused: 409, nothing changes).
//! - The accumulator counts only for serial executions (concurrency 1); parallel ones ignore it.
//! - An accumulator given as a JSON *string* whose content is itself JSON text is taken as that
//!   text (`"{\"n\":1}"` → `{"n":1}`), not encoded a second time; any other value is serialised
//!   ([`accumulator_text`]).

use serde_json::Value;

use super::{transition, ExecMode, ExecutionStatus, IterationEvent, IterationRecord, Transition};
use crate::execution::ExecSettings;
use crate::Timestamp;

/// An acknowledgement as it arrives, before it is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckInput {
    /// The attempt it is for; `None`: the one in progress.
    pub attempt: Option<u32>,
    /// Outcome.
    pub success: bool,
    /// Message (cut to 256 characters by the state machine).
    pub message: Option<String>,
    /// Accumulator as JSON text (see [`accumulator_text`]).
    pub accumulator: Option<String>,
    /// When it arrived.
    pub now: Timestamp,
}

/// What an accepted ack writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckDecision {
    /// The iteration's transition (compare-and-set guard, new record, effects).
    pub transition: Transition,
    /// The accumulator the execution carries on to the next iteration (serial jobs only).
    pub carried: Option<String>,
}

/// Why an ack changes nothing (the API answers 409 `Conflict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckRefusal {
    /// The execution is final: nothing awaits an acknowledgement.
    #[error("the execution is {status}")]
    ExecutionFinal {
        /// Its status.
        status: ExecutionStatus,
    },
    /// The iteration's state machine refused the event.
    #[error("{0}")]
    Refused(super::Refusal),
}

/// Decides `ack` for the iteration `row` of an execution in `status` with `settings`.
pub fn decide_ack(
    status: ExecutionStatus,
    settings: &ExecSettings,
    row: &IterationRecord,
    ack: AckInput,
) -> Result<AckDecision, AckRefusal> {
    let mode = ExecMode::for_status(status).ok_or(AckRefusal::ExecutionFinal { status })?;
    let serial = settings.serial();
    let ev = IterationEvent::Ack {
        attempt: ack.attempt.unwrap_or(row.attempt),
        success: ack.success,
        message: ack.message,
        accumulator: ack.accumulator.filter(|_| serial),
        now: ack.now,
    };
    let t = transition(row, ev, &settings.policy(), mode).map_err(AckRefusal::Refused)?;
    let carried = t.record.accumulator.clone().filter(|_| serial);
    Ok(AckDecision {
        transition: t,
        carried,
    })
}

/// The accumulator's JSON text: a string holding JSON text is that text; any other value
/// (including a string that is not JSON text) is serialised.
pub fn accumulator_text(v: &Value) -> String {
    match v {
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok() => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{IterationState, Refusal};
    use serde_json::json;

    fn settings(concurrency: i64) -> ExecSettings {
        ExecSettings {
            max_iteration_concurrency: concurrency,
            iteration_delay: 0,
            iteration_timeout: 60_000,
            retry_on_failure: true,
            retry_on_timeout: false,
            max_iteration_retries: 1,
            retry_delay: 0,
        }
    }

    fn in_progress(attempt: u32) -> IterationRecord {
        IterationRecord {
            state: IterationState::InProgress,
            attempt,
            started_at: Some(Timestamp::from_millis(1_000)),
            deadline: Some(Timestamp::from_millis(61_000)),
            ..IterationRecord::pending()
        }
    }

    fn input(attempt: Option<u32>, success: bool, acc: Option<&str>) -> AckInput {
        AckInput {
            attempt,
            success,
            message: Some("m".into()),
            accumulator: acc.map(str::to_owned),
            now: Timestamp::from_millis(2_000),
        }
    }

    #[test]
    fn table() {
        use ExecutionStatus as X;
        use IterationState as S;
        // (status, concurrency, attempt given, success, accumulator) → state or refusal
        type Case<'a> = (
            X,
            i64,
            Option<u32>,
            bool,
            Option<&'a str>,
            Result<S, AckRefusal>,
        );
        let cases: Vec<Case> = vec![
            (X::InProgress, 1, None, true, None, Ok(S::Succeeded)),
            (X::InProgress, 1, Some(2), true, None, Ok(S::Succeeded)),
            (X::InProgress, 10, None, false, None, Ok(S::Failed)),
            (X::Canceling, 10, None, true, None, Ok(S::Succeeded)),
            (
                X::InProgress,
                1,
                Some(1),
                true,
                None,
                Err(AckRefusal::Refused(Refusal::WrongAttempt {
                    current: 2,
                    got: 1,
                })),
            ),
            (
                X::Completed,
                1,
                None,
                true,
                None,
                Err(AckRefusal::ExecutionFinal {
                    status: X::Completed,
                }),
            ),
            // A bad accumulator fails a serial attempt, and is ignored by a parallel one.
            (X::InProgress, 1, None, true, Some("{"), Ok(S::Failed)),
            (X::InProgress, 10, None, true, Some("{"), Ok(S::Succeeded)),
        ];
        for (status, c, attempt, success, acc, want) in cases {
            let got = decide_ack(
                status,
                &settings(c),
                &in_progress(2),
                input(attempt, success, acc),
            )
            .map(|d| d.transition.record.state);
            assert_eq!(
                got, want,
                "{status} c={c} attempt={attempt:?} {success} {acc:?}"
            );
        }
    }

    #[test]
    fn serial_carries_the_accumulator() {
        let d = decide_ack(
            ExecutionStatus::InProgress,
            &settings(1),
            &in_progress(1),
            input(None, true, Some("{\"n\":1}")),
        )
        .unwrap();
        assert_eq!(d.carried.as_deref(), Some("{\"n\":1}"));
        let d = decide_ack(
            ExecutionStatus::InProgress,
            &settings(5),
            &in_progress(1),
            input(None, true, Some("{\"n\":1}")),
        )
        .unwrap();
        assert_eq!(d.carried, None);
        assert_eq!(d.transition.record.accumulator, None);
    }

    #[test]
    fn accumulator_texts() {
        for (v, text) in [
            (json!("{\"n\":1}"), "{\"n\":1}"),
            (json!("5"), "5"),
            (json!("n=3"), "\"n=3\""),
            (json!({"n": 1}), "{\"n\":1}"),
            (json!(7), "7"),
            (json!(null), "null"),
        ] {
            assert_eq!(accumulator_text(&v), text, "{v}");
        }
    }
}
