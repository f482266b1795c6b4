//! The execution status table and the summary.

use super::*;
use ExecutionStatus as X;

fn err(status: ExecutionStatus) -> ExecutionEvent {
    let _ = status;
    ExecutionEvent::ErrorRaised {
        message: "data table was deleted".into(),
    }
}

/// The refusal of a final status.
fn fin(status: ExecutionStatus) -> Result<ExecutionStatus, ExecutionRefusal> {
    Err(ExecutionRefusal::AlreadyFinal { status })
}

/// The refusal of a status already stopping.
fn stopping(status: ExecutionStatus) -> Result<ExecutionStatus, ExecutionRefusal> {
    Err(ExecutionRefusal::AlreadyStopping { status })
}

/// A status table has one row per status, no more, no less.
#[track_caller]
fn each_status_once(rows: impl Iterator<Item = ExecutionStatus> + Clone) {
    for status in ExecutionStatus::ALL {
        assert_eq!(rows.clone().filter(|r| *r == status).count(), 1, "{status}");
    }
}

#[test]
fn every_status_event_pair() {
    type Want = Result<ExecutionStatus, ExecutionRefusal>;
    // (status, on cancel, on error, on drained)
    let table: [(ExecutionStatus, Want, Want, Want); 7] = [
        (
            X::InProgress,
            Ok(X::Canceling),
            Ok(X::Erroring),
            Ok(X::Completed),
        ),
        (
            X::Paused,
            Ok(X::Canceling),
            Ok(X::Erroring),
            Ok(X::Completed),
        ),
        (
            X::Canceling,
            Ok(X::Canceling),
            stopping(X::Canceling),
            Ok(X::Canceled),
        ),
        (
            X::Erroring,
            stopping(X::Erroring),
            stopping(X::Erroring),
            Ok(X::Errored),
        ),
        (
            X::Completed,
            fin(X::Completed),
            fin(X::Completed),
            fin(X::Completed),
        ),
        (
            X::Canceled,
            Ok(X::Canceled),
            fin(X::Canceled),
            fin(X::Canceled),
        ),
        (
            X::Errored,
            fin(X::Errored),
            fin(X::Errored),
            fin(X::Errored),
        ),
    ];
    each_status_once(table.iter().map(|r| r.0));
    for (status, cancel, error, drained) in table {
        assert_eq!(
            execution_transition(status, &ExecutionEvent::CancelRequested),
            cancel,
            "{status} cancel"
        );
        assert_eq!(
            execution_transition(status, &err(status)),
            error,
            "{status} error"
        );
        assert_eq!(
            execution_transition(status, &ExecutionEvent::Drained),
            drained,
            "{status} drained"
        );
    }
}

#[test]
fn pause_and_resume() {
    type Want = Result<ExecutionStatus, ExecutionRefusal>;
    // (status, on pause, on resume)
    let table: [(ExecutionStatus, Want, Want); 7] = [
        (X::InProgress, Ok(X::Paused), Ok(X::InProgress)),
        (X::Paused, Ok(X::Paused), Ok(X::InProgress)),
        (X::Canceling, stopping(X::Canceling), stopping(X::Canceling)),
        (X::Erroring, stopping(X::Erroring), stopping(X::Erroring)),
        (X::Completed, fin(X::Completed), fin(X::Completed)),
        (X::Canceled, fin(X::Canceled), fin(X::Canceled)),
        (X::Errored, fin(X::Errored), fin(X::Errored)),
    ];
    each_status_once(table.iter().map(|r| r.0));
    for (status, pause, resume) in table {
        let p = execution_transition(status, &ExecutionEvent::PauseRequested);
        assert_eq!(p, pause, "{status} pause");
        let r = execution_transition(status, &ExecutionEvent::ResumeRequested);
        assert_eq!(r, resume, "{status} resume");
    }
}

#[test]
fn final_statuses_never_move() {
    for status in ExecutionStatus::ALL.into_iter().filter(|s| s.is_final()) {
        for ev in [
            ExecutionEvent::CancelRequested,
            err(status),
            ExecutionEvent::Drained,
            ExecutionEvent::PauseRequested,
            ExecutionEvent::ResumeRequested,
        ] {
            let r = execution_transition(status, &ev);
            assert!(r.is_err() || r == Ok(status), "{status} {ev:?}");
        }
    }
}

#[test]
fn status_names_round_trip() {
    let names: Vec<_> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "inProgress",
            "paused",
            "completed",
            "canceling",
            "canceled",
            "erroring",
            "errored"
        ]
    );
    for s in ExecutionStatus::ALL {
        assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
        assert_eq!(s.to_string(), s.as_str());
        assert_eq!(s.complete_trigger_success(), s == X::Completed);
        assert_eq!(ExecMode::for_status(s).is_none(), s.is_final());
    }
    assert_eq!(ExecutionStatus::parse("in_progress"), None);
    assert_eq!(ExecMode::for_status(X::InProgress), Some(ExecMode::Running));
    assert_eq!(ExecMode::for_status(X::Canceling), Some(ExecMode::Draining));
    assert_eq!(ExecMode::for_status(X::Erroring), Some(ExecMode::Draining));
}

#[test]
fn summary_serializes_in_the_api_shape() {
    use IterationState as S;
    let s = summarize([
        S::Pending,
        S::InProgress,
        S::Retrying,
        S::Succeeded,
        S::Failed,
        S::TimedOut,
        S::NotStarted,
        S::Succeeded,
    ]);
    assert_eq!(
        serde_json::to_value(s).unwrap(),
        serde_json::json!({"succeeded": 2, "failed": 1, "timedOut": 1, "inProgress": 2, "remaining": 2})
    );
    assert_eq!(s.total(), 8);
    assert_eq!(
        Summary::from_counts([(S::Pending, 1_000_000), (S::Retrying, 3)]).total(),
        1_000_003
    );
}

#[test]
fn drained_means_nothing_in_flight_and_for_running_nothing_left() {
    use IterationState as S;
    let pending_left = summarize([S::Succeeded, S::Pending]);
    let in_flight = summarize([S::Succeeded, S::Retrying]);
    let done = summarize([S::Succeeded, S::Failed]);
    let abandoned = summarize([S::Succeeded, S::NotStarted]);
    assert!(!pending_left.is_drained(X::InProgress));
    assert!(!in_flight.is_drained(X::InProgress));
    assert!(done.is_drained(X::InProgress));
    assert!(
        Summary::default().is_drained(X::InProgress),
        "an empty target set completes"
    );
    for stopping in [X::Canceling, X::Erroring] {
        assert!(abandoned.is_drained(stopping));
        assert!(!in_flight.is_drained(stopping));
    }
    for fin in [X::Completed, X::Canceled, X::Errored] {
        assert!(!done.is_drained(fin));
    }
}
