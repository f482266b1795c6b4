//! Every (state, event, mode) triple, with the expected new state or refusal. The events are
//! chosen so that an accepted one is due: `Start` after `retry_at`, `Ack` of attempt 1
//! (failure) before the deadline, `Deadline` exactly at the deadline.

use super::*;
use IterationState as S;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    To(IterationState),
    No(Refusal),
}

fn event(kind: EventKind) -> IterationEvent {
    match kind {
        EventKind::Start => IterationEvent::Start { now: at(100_000) },
        EventKind::Ack => ack(1, false, at(1_000)),
        EventKind::Deadline => IterationEvent::Deadline { now: at(60_000) },
        EventKind::ResourceDeleted => IterationEvent::ResourceDeleted { now: at(2_000) },
        EventKind::Abandon => IterationEvent::Abandon { now: at(3_000) },
    }
}

const EVENTS: [EventKind; 5] = [
    EventKind::Start,
    EventKind::Ack,
    EventKind::Deadline,
    EventKind::ResourceDeleted,
    EventKind::Abandon,
];

fn na(state: IterationState, event: EventKind) -> Want {
    Want::No(Refusal::NotApplicable { state, event })
}

/// (state, event, want while running, want while draining)
fn table() -> Vec<(IterationState, EventKind, Want, Want)> {
    use EventKind as K;
    use Want::{No, To};
    let mut t = vec![
        (
            S::Pending,
            K::Start,
            To(S::InProgress),
            No(Refusal::ExecutionStopping),
        ),
        (
            S::Pending,
            K::Ack,
            No(Refusal::NotAwaitingAck { state: S::Pending }),
            No(Refusal::NotAwaitingAck { state: S::Pending }),
        ),
        (
            S::Pending,
            K::Deadline,
            na(S::Pending, K::Deadline),
            na(S::Pending, K::Deadline),
        ),
        (S::Pending, K::ResourceDeleted, To(S::Failed), To(S::Failed)),
        (
            S::Pending,
            K::Abandon,
            No(Refusal::ExecutionRunning),
            To(S::NotStarted),
        ),
        (
            S::InProgress,
            K::Start,
            na(S::InProgress, K::Start),
            na(S::InProgress, K::Start),
        ),
        (S::InProgress, K::Ack, To(S::Retrying), To(S::Failed)),
        (S::InProgress, K::Deadline, To(S::Retrying), To(S::TimedOut)),
        (
            S::InProgress,
            K::ResourceDeleted,
            na(S::InProgress, K::ResourceDeleted),
            na(S::InProgress, K::ResourceDeleted),
        ),
        (
            S::InProgress,
            K::Abandon,
            No(Refusal::ExecutionRunning),
            na(S::InProgress, K::Abandon),
        ),
        (
            S::Retrying,
            K::Start,
            To(S::InProgress),
            No(Refusal::ExecutionStopping),
        ),
        (
            S::Retrying,
            K::Ack,
            No(Refusal::NotAwaitingAck { state: S::Retrying }),
            No(Refusal::NotAwaitingAck { state: S::Retrying }),
        ),
        (
            S::Retrying,
            K::Deadline,
            na(S::Retrying, K::Deadline),
            na(S::Retrying, K::Deadline),
        ),
        (
            S::Retrying,
            K::ResourceDeleted,
            To(S::Failed),
            To(S::Failed),
        ),
        (
            S::Retrying,
            K::Abandon,
            No(Refusal::ExecutionRunning),
            To(S::NotStarted),
        ),
    ];
    for state in [S::Succeeded, S::Failed, S::TimedOut, S::NotStarted] {
        for kind in EVENTS {
            let refused = No(Refusal::AlreadyFinal { state });
            t.push((state, kind, refused, refused));
        }
    }
    t
}

#[test]
fn table_covers_every_pair_once() {
    let t = table();
    assert_eq!(t.len(), IterationState::ALL.len() * EVENTS.len());
    for state in IterationState::ALL {
        for kind in EVENTS {
            let n = t
                .iter()
                .filter(|(s, k, ..)| *s == state && *k == kind)
                .count();
            assert_eq!(n, 1, "({state}, {kind:?})");
        }
    }
}

#[test]
fn every_state_event_mode_triple() {
    for (state, kind, running, draining) in table() {
        for (mode, want) in [(ExecMode::Running, running), (ExecMode::Draining, draining)] {
            let rec = record_in(state);
            let got = transition(&rec, event(kind), &policy(), mode);
            let ctx = format!("({state}, {kind:?}, {mode:?})");
            match (want, got) {
                (Want::To(to), Ok(tr)) => {
                    assert_eq!(tr.record.state, to, "{ctx}");
                    assert_eq!(tr.expected_state, state, "{ctx}");
                    assert_eq!(tr.expected_attempt, rec.attempt, "{ctx}");
                    assert_eq!(tr.record.invariant_violation(), None, "{ctx}");
                }
                (Want::No(r), Err(got)) => assert_eq!(got, r, "{ctx}"),
                (want, got) => panic!("{ctx}: wanted {want:?}, got {got:?}"),
            }
        }
    }
}

#[test]
fn state_names_round_trip() {
    let names: Vec<_> = IterationState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "pending",
            "inProgress",
            "retrying",
            "succeeded",
            "failed",
            "timedOut",
            "notStarted"
        ]
    );
    for s in IterationState::ALL {
        assert_eq!(IterationState::parse(s.as_str()), Some(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!(IterationState::parse("InProgress"), None);
    assert_eq!(IterationState::parse("in_progress"), None);
    let finals: Vec<_> = IterationState::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .collect();
    assert_eq!(
        finals,
        [S::Succeeded, S::Failed, S::TimedOut, S::NotStarted]
    );
    let slots: Vec<_> = IterationState::ALL
        .into_iter()
        .filter(|s| s.holds_slot())
        .collect();
    assert_eq!(slots, [S::InProgress, S::Retrying]);
}
