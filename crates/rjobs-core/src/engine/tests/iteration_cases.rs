//! One test per decision of the iteration machine.

use super::*;
use IterationState as S;

const RUN: ExecMode = ExecMode::Running;
const DRAIN: ExecMode = ExecMode::Draining;

#[track_caller]
fn ok(rec: &IterationRecord, ev: IterationEvent, p: &RetryPolicy, mode: ExecMode) -> Transition {
    match transition(rec, ev, p, mode) {
        Ok(t) => {
            assert_eq!(t.record.invariant_violation(), None);
            t
        }
        Err(r) => panic!("refused: {r}"),
    }
}

/// The first attempt, started at `at(0)` with retries of both kinds to come (the default policy).
const FIRST_ATTEMPT: AttemptInfo = AttemptInfo {
    attempt: 1,
    started_at: Timestamp::from_millis(T0),
    will_retry_on_failure: true,
    will_retry_on_timeout: true,
};

/// The message the transition leaves on the record.
fn message(t: &Transition) -> Option<&str> {
    t.record.message.as_deref()
}

/// [`ok`] with the default policy, the execution running.
#[track_caller]
fn run(rec: &IterationRecord, ev: IterationEvent) -> Transition {
    ok(rec, ev, &policy(), RUN)
}

#[test]
fn start_fires_the_iteration_trigger_and_arms_the_deadline() {
    let t = run(
        &IterationRecord::pending(),
        IterationEvent::Start { now: at(0) },
    );
    assert_eq!(t.record.state, S::InProgress);
    assert_eq!(t.record.attempt, 1);
    assert_eq!(t.record.started_at, Some(at(0)));
    assert_eq!(t.record.deadline, Some(at(60_000)));
    let info = FIRST_ATTEMPT;
    assert_eq!(
        t.effects,
        [
            Effect::FireIterationTrigger(info),
            Effect::WakeAt(at(60_000))
        ]
    );
    assert!(!t.frees_slot());
}

#[test]
fn last_attempt_announces_no_retry() {
    let rec = IterationRecord {
        attempt: 2,
        ..record_in(S::Retrying)
    };
    let t = run(&rec, IterationEvent::Start { now: at(80_000) });
    let info = t.iteration_trigger().unwrap();
    assert_eq!(
        (
            info.attempt,
            info.will_retry_on_failure,
            info.will_retry_on_timeout
        ),
        (3, false, false)
    );
}

#[test]
fn successful_ack_completes_and_keeps_message_and_accumulator() {
    let ev = IterationEvent::Ack {
        attempt: 1,
        success: true,
        message: Some("fine".into()),
        accumulator: Some("{\"n\":2}".into()),
        now: at(500),
    };
    let t = ok(&record_in(S::InProgress), ev, &policy(), RUN);
    assert_eq!(t.record.state, S::Succeeded);
    assert_eq!(t.record.completed_at, Some(at(500)));
    assert_eq!(t.record.message.as_deref(), Some("fine"));
    assert_eq!(t.record.accumulator.as_deref(), Some("{\"n\":2}"));
    assert!(t.effects.is_empty());
    assert!(t.frees_slot());
}

#[test]
fn message_is_cut_to_256_characters_not_bytes() {
    let ev = IterationEvent::Ack {
        attempt: 1,
        success: true,
        message: Some("é".repeat(300)),
        accumulator: None,
        now: at(500),
    };
    let t = ok(&record_in(S::InProgress), ev, &policy(), RUN);
    assert_eq!(t.record.message, Some("é".repeat(256)));
    assert_eq!(truncate_chars("abc", 256), "abc");
    assert_eq!(truncate_chars("abc", 2), "ab");
}

fn ack_with_accumulator(acc: String, p: &RetryPolicy) -> Transition {
    let ev = IterationEvent::Ack {
        attempt: 1,
        success: true,
        message: Some("mine".into()),
        accumulator: Some(acc),
        now: at(500),
    };
    ok(&record_in(S::InProgress), ev, p, RUN)
}

#[test]
fn accumulator_of_256_characters_is_accepted() {
    let acc = format!("\"{}\"", "é".repeat(254));
    assert_eq!(acc.chars().count(), 256);
    let t = ack_with_accumulator(acc.clone(), &policy());
    assert_eq!(
        (t.record.state, t.record.accumulator),
        (S::Succeeded, Some(acc))
    );
}

#[test]
fn accumulator_over_256_characters_fails_the_attempt() {
    let acc = format!("\"{}\"", "x".repeat(255));
    let no_retry = RetryPolicy {
        retry_on_failure: false,
        ..policy()
    };
    let t = ack_with_accumulator(acc.clone(), &no_retry);
    assert_eq!(t.record.state, S::Failed);
    assert_eq!(message(&t), Some(ACCUMULATOR_TOO_LONG_MESSAGE));
    assert_eq!(t.record.accumulator, None);
    // ... and it is retried like any failure when retryOnFailure is on.
    let t = ack_with_accumulator(acc, &policy());
    assert_eq!(t.record.state, S::Retrying);
    assert_eq!(message(&t), Some(ACCUMULATOR_TOO_LONG_MESSAGE));
}

#[test]
fn accumulator_that_is_not_json_fails_the_attempt() {
    let t = ack_with_accumulator("not json".into(), &policy());
    assert_eq!(t.record.state, S::Retrying);
    assert_eq!(message(&t), Some(ACCUMULATOR_NOT_JSON_MESSAGE));
}

#[test]
fn acks_for_other_attempts_are_refused() {
    let rec = IterationRecord {
        attempt: 2,
        ..record_in(S::InProgress)
    };
    for got in [0, 1, 3] {
        let r = transition(&rec, ack(got, true, at(500)), &policy(), RUN);
        assert_eq!(r, Err(Refusal::WrongAttempt { current: 2, got }));
    }
    assert!(transition(&rec, ack(2, true, at(500)), &policy(), RUN).is_ok());
}

#[test]
fn ack_must_come_strictly_before_the_deadline() {
    let rec = record_in(S::InProgress);
    let r = transition(&rec, ack(1, true, at(60_000)), &policy(), RUN);
    assert_eq!(
        r,
        Err(Refusal::PastDeadline {
            deadline: at(60_000)
        })
    );
    let t = ok(&rec, ack(1, true, at(59_999)), &policy(), DRAIN);
    assert_eq!(t.record.state, S::Succeeded);
}

#[test]
fn duplicate_ack_after_the_first_is_refused() {
    let t = run(&record_in(S::InProgress), ack(1, false, at(10)));
    assert_eq!(t.record.state, S::Retrying);
    let r = transition(&t.record, ack(1, true, at(20)), &policy(), RUN);
    assert_eq!(r, Err(Refusal::NotAwaitingAck { state: S::Retrying }));
}

#[test]
fn deadline_is_refused_before_it_is_due() {
    let r = transition(
        &record_in(S::InProgress),
        IterationEvent::Deadline { now: at(59_999) },
        &policy(),
        RUN,
    );
    assert_eq!(r, Err(Refusal::NotDue { due: at(60_000) }));
}

#[test]
fn timeout_fires_the_trigger_and_retries_from_now() {
    // Processed 5 s late (say after a restart): completed at the deadline, retried from now.
    let t = run(
        &record_in(S::InProgress),
        IterationEvent::Deadline { now: at(65_000) },
    );
    assert_eq!(t.record.state, S::Retrying);
    assert_eq!(t.record.retry_at, Some(at(66_000)));
    assert_eq!(t.record.message, None);
    let info = FIRST_ATTEMPT;
    assert_eq!(
        t.effects,
        [Effect::FireTimeoutTrigger(info), Effect::WakeAt(at(66_000))]
    );
    assert!(!t.frees_slot(), "a retrying iteration keeps its slot");
}

#[test]
fn final_timeout_is_completed_at_its_deadline() {
    let p = RetryPolicy {
        retry_on_timeout: false,
        ..policy()
    };
    let t = ok(
        &record_in(S::InProgress),
        IterationEvent::Deadline { now: at(65_000) },
        &p,
        RUN,
    );
    assert_eq!(t.record.state, S::TimedOut);
    assert_eq!(t.record.completed_at, Some(at(60_000)));
    let info = t.timeout_trigger().unwrap();
    assert!(!info.will_retry_on_timeout);
    assert_eq!(t.wake_at(), None);
}

#[test]
fn timeout_while_draining_ends_timed_out_without_trigger_or_retry() {
    let t = ok(
        &record_in(S::InProgress),
        IterationEvent::Deadline { now: at(60_000) },
        &policy(),
        DRAIN,
    );
    assert_eq!(t.record.state, S::TimedOut);
    assert!(t.effects.is_empty());
}

#[test]
fn failure_while_draining_is_not_retried() {
    let t = ok(
        &record_in(S::InProgress),
        ack(1, false, at(10)),
        &policy(),
        DRAIN,
    );
    assert_eq!(t.record.state, S::Failed);
}

#[test]
fn retries_stop_after_max_retries() {
    for (attempt, want) in [(1, S::Retrying), (2, S::Retrying), (3, S::Failed)] {
        let rec = IterationRecord {
            attempt,
            ..record_in(S::InProgress)
        };
        let t = ok(&rec, ack(attempt, false, at(10)), &policy(), RUN);
        assert_eq!(t.record.state, want, "attempt {attempt}");
        let t = run(&rec, IterationEvent::Deadline { now: at(60_000) });
        let want = if want == S::Failed { S::TimedOut } else { want };
        assert_eq!(t.record.state, want, "attempt {attempt}");
    }
}

#[test]
fn each_flag_governs_only_its_outcome() {
    let only_failure = RetryPolicy {
        retry_on_timeout: false,
        ..policy()
    };
    let rec = record_in(S::InProgress);
    assert_eq!(
        ok(&rec, ack(1, false, at(1)), &only_failure, RUN)
            .record
            .state,
        S::Retrying
    );
    let dl = IterationEvent::Deadline { now: at(60_000) };
    assert_eq!(
        ok(&rec, dl.clone(), &only_failure, RUN).record.state,
        S::TimedOut
    );
    let only_timeout = RetryPolicy {
        retry_on_failure: false,
        ..policy()
    };
    assert_eq!(
        ok(&rec, ack(1, false, at(1)), &only_timeout, RUN)
            .record
            .state,
        S::Failed
    );
    assert_eq!(ok(&rec, dl, &only_timeout, RUN).record.state, S::Retrying);
}

#[test]
fn retry_starts_only_when_due_and_keeps_the_last_message() {
    let rec = record_in(S::Retrying);
    let r = transition(
        &rec,
        IterationEvent::Start { now: at(69_999) },
        &policy(),
        RUN,
    );
    assert_eq!(r, Err(Refusal::NotDue { due: at(70_000) }));
    let t = run(&rec, IterationEvent::Start { now: at(70_000) });
    assert_eq!((t.record.state, t.record.attempt), (S::InProgress, 2));
    assert_eq!(t.record.started_at, Some(at(70_000)));
    assert_eq!(t.record.message.as_deref(), Some("earlier"));
    assert_eq!(t.iteration_trigger().map(|i| i.attempt), Some(2));
}

#[test]
fn resource_deleted_fails_with_the_spec_message() {
    for state in [S::Pending, S::Retrying] {
        let rec = record_in(state);
        let t = run(&rec, IterationEvent::ResourceDeleted { now: at(7) });
        assert_eq!(t.record.state, S::Failed);
        assert_eq!(t.record.message.as_deref(), Some("resource was deleted"));
        assert_eq!(t.record.attempt, rec.attempt);
        assert_eq!(t.record.completed_at, Some(at(7)));
    }
}

#[test]
fn abandon_keeps_attempt_and_message_and_frees_the_slot() {
    let rec = record_in(S::Retrying);
    let t = ok(
        &rec,
        IterationEvent::Abandon { now: at(7) },
        &policy(),
        DRAIN,
    );
    assert_eq!(t.record.state, S::NotStarted);
    assert_eq!(
        (t.record.attempt, t.record.message.as_deref()),
        (1, Some("earlier"))
    );
    assert_eq!(t.record.completed_at, None);
    assert!(t.frees_slot());
}

#[test]
fn rows_missing_their_timer_are_treated_as_due() {
    let stuck = IterationRecord {
        deadline: None,
        ..record_in(S::InProgress)
    };
    let t = run(&stuck, IterationEvent::Deadline { now: at(1) });
    assert_eq!(t.record.state, S::Retrying);
    assert!(ok(&stuck, ack(1, true, at(1)), &policy(), RUN)
        .record
        .state
        .is_final());
    let stuck = IterationRecord {
        retry_at: None,
        ..record_in(S::Retrying)
    };
    let t = ok(&stuck, IterationEvent::Start { now: at(1) }, &policy(), RUN);
    assert_eq!(t.record.attempt, 2);
}

#[test]
fn iteration_ids_build_and_parse() {
    let e = crate::Id::parse("575ec8687ae143cd83dc4a97").unwrap();
    let k = crate::Id::parse("575ec8687ae143cd83dc4a98").unwrap();
    let id = IterationId::new(e.clone(), k.clone());
    let text = "575ec8687ae143cd83dc4a97-575ec8687ae143cd83dc4a98";
    assert_eq!(id.to_string(), text);
    assert_eq!(IterationId::parse(text), Ok(id.clone()));
    assert_eq!(IterationId::parse(&text.to_uppercase()), Ok(id.clone()));
    assert_eq!((id.execution_id(), id.key()), (&e, &k));
    for bad in [
        "",
        "575ec8687ae143cd83dc4a97",
        "575ec8687ae143cd83dc4a97-",
        "575ec8687ae143cd83dc4a97_575ec8687ae143cd83dc4a98",
        "575ec8687ae143cd83dc4a97-575ec8687ae143cd83dc4a98-",
        "575ec8687ae143cd83dc4a97-575ec8687ae143cd83dc4a9g",
    ] {
        assert_eq!(
            bad.parse::<IterationId>(),
            Err(InvalidIterationId),
            "{bad:?}"
        );
    }
}
