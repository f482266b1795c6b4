//! Property tests: random event sequences (stale and duplicate acks, early and late deadlines,
//! retries before and after they are due, cancels, deleted resources) on random policies.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use IterationState as S;

#[derive(Debug, Clone)]
enum AttemptPick {
    Current,
    Previous,
    Next,
    Any(u32),
}

#[derive(Debug, Clone)]
enum Op {
    /// Let time pass.
    Advance(i64),
    /// Jump to the record's pending timer (deadline or retry), if later.
    ToTimer,
    Start,
    Ack {
        pick: AttemptPick,
        success: bool,
        message_len: usize,
        accumulator_len: Option<usize>,
    },
    Deadline,
    ResourceDeleted,
    Abandon,
    /// The execution starts canceling (or erroring): the mode becomes `Draining` for good.
    Cancel,
}

fn policy_strategy() -> impl Strategy<Value = RetryPolicy> {
    (
        any::<bool>(),
        any::<bool>(),
        0u32..=5,
        0i64..3_000,
        1i64..5_000,
    )
        .prop_map(
            |(retry_on_failure, retry_on_timeout, max_retries, retry_delay_ms, timeout_ms)| {
                RetryPolicy {
                    retry_on_failure,
                    retry_on_timeout,
                    max_retries,
                    retry_delay_ms,
                    timeout_ms,
                }
            },
        )
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let pick = prop_oneof![
        4 => Just(AttemptPick::Current),
        1 => Just(AttemptPick::Previous),
        1 => Just(AttemptPick::Next),
        1 => (0u32..8).prop_map(AttemptPick::Any),
    ];
    prop_oneof![
        4 => (0i64..4_000).prop_map(Op::Advance),
        2 => Just(Op::ToTimer),
        5 => Just(Op::Start),
        5 => (pick, any::<bool>(), 0usize..300, proptest::option::of(0usize..270)).prop_map(
            |(pick, success, message_len, accumulator_len)| Op::Ack {
                pick,
                success,
                message_len,
                accumulator_len,
            }
        ),
        3 => Just(Op::Deadline),
        1 => Just(Op::ResourceDeleted),
        1 => Just(Op::Abandon),
        1 => Just(Op::Cancel),
    ]
}

/// What one simulated iteration went through.
#[derive(Debug, Default)]
struct Log {
    /// Job: Timeout triggers fired, by attempt.
    timeout_triggers: HashMap<u32, u32>,
    /// Attempts that ended by a timeout while the execution was running.
    timed_out_while_running: Vec<u32>,
    /// Job: Iteration triggers fired, by attempt.
    iteration_triggers: HashMap<u32, u32>,
    /// Accepted acks, by attempt.
    accepted_acks: HashMap<u32, u32>,
}

/// Runs `ops` on a fresh pending iteration, checking the per-step properties; returns the last
/// record and the log for the whole-run properties.
fn run(policy: &RetryPolicy, ops: &[Op]) -> Result<(IterationRecord, Log), TestCaseError> {
    let mut rec = IterationRecord::pending();
    let mut now = at(0);
    let mut mode = ExecMode::Running;
    let mut log = Log::default();
    for op in ops {
        let ev = match op {
            Op::Advance(ms) => {
                now = now.plus_millis(*ms);
                continue;
            }
            Op::ToTimer => {
                if let Some(t) = rec.deadline.or(rec.retry_at) {
                    now = now.max(t);
                }
                continue;
            }
            Op::Cancel => {
                mode = ExecMode::Draining;
                continue;
            }
            Op::Start => IterationEvent::Start { now },
            Op::Ack {
                pick,
                success,
                message_len,
                accumulator_len,
            } => IterationEvent::Ack {
                attempt: match pick {
                    AttemptPick::Current => rec.attempt,
                    AttemptPick::Previous => rec.attempt.saturating_sub(1),
                    AttemptPick::Next => rec.attempt + 1,
                    AttemptPick::Any(n) => *n,
                },
                success: *success,
                message: Some("m".repeat(*message_len)),
                accumulator: accumulator_len.map(|n| format!("\"{}\"", "a".repeat(n))),
                now,
            },
            Op::Deadline => IterationEvent::Deadline { now },
            Op::ResourceDeleted => IterationEvent::ResourceDeleted { now },
            Op::Abandon => IterationEvent::Abandon { now },
        };
        let kind = ev.kind();
        let acked_attempt = match &ev {
            IterationEvent::Ack { attempt, .. } => Some(*attempt),
            _ => None,
        };
        let result = transition(&rec, ev.clone(), policy, mode);
        // Pure: the same inputs give the same answer (a refused event has nothing to write).
        prop_assert_eq!(&result, &transition(&rec, ev, policy, mode));
        let t = match result {
            Err(refusal) => {
                if rec.state.is_final() {
                    prop_assert_eq!(refusal, Refusal::AlreadyFinal { state: rec.state });
                }
                continue;
            }
            Ok(t) => t,
        };
        let (old, new) = (&rec, &t.record);
        prop_assert!(
            !old.state.is_final(),
            "left final state {:?} by {:?}",
            old.state,
            kind
        );
        prop_assert_eq!(new.invariant_violation(), None);
        prop_assert_eq!(
            (t.expected_state, t.expected_attempt),
            (old.state, old.attempt)
        );
        prop_assert!(new.attempt >= old.attempt, "attempt decreased");
        prop_assert!(new.attempt <= 1 + policy.max_retries, "too many attempts");
        prop_assert!(new
            .message
            .as_ref()
            .is_none_or(|m| m.chars().count() <= 256));
        // The attempt moves only by a start, by one, which fires exactly one Iteration trigger.
        let started = new.attempt != old.attempt;
        prop_assert_eq!(started, kind == EventKind::Start);
        if started {
            prop_assert_eq!(new.attempt, old.attempt + 1);
            prop_assert_eq!(mode, ExecMode::Running, "started while draining");
            prop_assert_eq!(t.iteration_trigger().map(|i| i.attempt), Some(new.attempt));
            *log.iteration_triggers.entry(new.attempt).or_default() += 1;
        } else {
            prop_assert_eq!(t.iteration_trigger(), None);
        }
        if kind == EventKind::Ack {
            prop_assert_eq!(
                acked_attempt,
                Some(old.attempt),
                "ack of another attempt accepted"
            );
            prop_assert!(
                old.deadline.is_none_or(|d| now < d),
                "ack accepted after deadline"
            );
            *log.accepted_acks.entry(old.attempt).or_default() += 1;
        }
        // A retry only where the policy allows it.
        if new.state == S::Retrying {
            prop_assert_eq!(mode, ExecMode::Running, "retry while draining");
            prop_assert!(
                old.attempt <= policy.max_retries,
                "retry beyond max_retries"
            );
            match kind {
                EventKind::Ack => prop_assert!(policy.retry_on_failure),
                EventKind::Deadline => prop_assert!(policy.retry_on_timeout),
                other => prop_assert!(false, "retry caused by {:?}", other),
            }
            prop_assert_eq!(t.wake_at(), new.retry_at);
        }
        if kind == EventKind::Deadline {
            prop_assert!(old.deadline.is_none_or(|d| now >= d), "timed out early");
            if mode == ExecMode::Running {
                log.timed_out_while_running.push(old.attempt);
            }
        }
        if let Some(info) = t.timeout_trigger() {
            prop_assert_eq!(kind, EventKind::Deadline);
            prop_assert_eq!(info.attempt, old.attempt);
            *log.timeout_triggers.entry(info.attempt).or_default() += 1;
        }
        rec = t.record;
    }
    Ok((rec, log))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_event_sequences_keep_the_invariants(
        policy in policy_strategy(),
        ops in proptest::collection::vec(op_strategy(), 0..60),
    ) {
        let (_, log) = run(&policy, &ops)?;
        // The Job: Timeout trigger fires exactly once per attempt that timed out while running.
        let mut want: HashMap<u32, u32> = HashMap::new();
        for a in &log.timed_out_while_running {
            *want.entry(*a).or_default() += 1;
        }
        prop_assert!(want.values().all(|n| *n == 1), "an attempt timed out twice");
        prop_assert_eq!(&log.timeout_triggers, &want);
        prop_assert!(log.iteration_triggers.values().all(|n| *n == 1));
        prop_assert!(log.accepted_acks.values().all(|n| *n == 1), "two acks for one attempt");
        for a in log.accepted_acks.keys() {
            prop_assert!(!log.timeout_triggers.contains_key(a), "attempt {} acked and timed out", a);
        }
    }

    #[test]
    fn summary_counts_add_up(
        policy in policy_strategy(),
        runs in proptest::collection::vec(proptest::collection::vec(op_strategy(), 0..30), 0..25),
    ) {
        let mut states = Vec::new();
        for ops in &runs {
            states.push(run(&policy, ops)?.0.state);
        }
        let s = summarize(states.iter().copied());
        prop_assert_eq!(s.total(), runs.len() as u64);
        let count = |f: &dyn Fn(S) -> bool| states.iter().filter(|st| f(**st)).count() as u64;
        prop_assert_eq!(s.succeeded, count(&|st| st == S::Succeeded));
        prop_assert_eq!(s.failed, count(&|st| st == S::Failed));
        prop_assert_eq!(s.timed_out, count(&|st| st == S::TimedOut));
        prop_assert_eq!(s.in_progress, count(&|st| st.holds_slot()));
        prop_assert_eq!(s.remaining, count(&|st| matches!(st, S::Pending | S::NotStarted)));
        let grouped = IterationState::ALL.map(|st| (st, count(&|x| x == st)));
        prop_assert_eq!(Summary::from_counts(grouped), s);
    }
}
