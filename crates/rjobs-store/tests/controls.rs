//! Operator-control persistence, on SQLite and PostgreSQL: a job's abort and rollout settings
//! round-trip through insert, update and get; a paused execution keeps its lease holder and
//! its status compare-and-set; timers without retries (what a paused execution reads); and a
//! re-run's target set, empty ones refused with nothing written.

use std::sync::Arc;

use rjobs_core::engine::controls::{
    AbortConfig, AbortCriterion, AbortOutcome, ExponentialRate, RolloutConfig,
};
use rjobs_core::engine::{
    transition, ExecMode, ExecutionStatus, IterationEvent, IterationState, RetryPolicy,
};
use rjobs_core::execution::{ExecSettings, Execution, Source};
use rjobs_store::testing::{exec_fixture, ts};
use rjobs_store::{
    ExecWrite, ExecutionStore, IterationStore, IterationWrite, JobStore, LeaseStore, RerunOf,
    SqlStore, StoreError, TargetSpec,
};

async fn job_controls_round_trip(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let stored = s.get_job(&f.app, &f.job.id).await.unwrap().unwrap();
    assert_eq!(
        (&stored.abort_config, &stored.rollout_config),
        (&None, &None)
    );
    let mut j = stored.clone();
    j.abort_config = Some(AbortConfig {
        criteria: vec![AbortCriterion {
            outcome: AbortOutcome::TimedOut,
            threshold_bp: 1_250,
            min_finished: 20,
        }],
    });
    j.rollout_config = Some(RolloutConfig {
        max_per_minute: 600,
        exponential_rate: Some(ExponentialRate {
            base_rate_per_minute: 60,
            increment_factor_milli: 1_500,
            number_of_succeeded: 10,
        }),
    });
    j.version += 1;
    s.update_job(&j, stored.version).await.unwrap();
    assert_eq!(s.get_job(&f.app, &j.id).await.unwrap().unwrap(), j);
    // cleared again
    let mut k = j.clone();
    k.abort_config = None;
    k.rollout_config = None;
    k.version += 1;
    s.update_job(&k, j.version).await.unwrap();
    assert_eq!(s.get_job(&f.app, &j.id).await.unwrap().unwrap(), k);
}

fn policy() -> RetryPolicy {
    ExecSettings {
        retry_on_failure: true,
        retry_delay: 1_000,
        iteration_timeout: 60_000,
        max_iteration_retries: 2,
        max_iteration_concurrency: 10,
        iteration_delay: 0,
        retry_on_timeout: false,
    }
    .policy()
}

/// Applies the event `ev` builds from the row's current attempt.
async fn step(
    s: &SqlStore,
    exec: &rjobs_core::Id,
    seq: i64,
    ev: impl FnOnce(u32) -> IterationEvent,
) {
    let row = s
        .iterations_after(exec, seq - 1, 1)
        .await
        .unwrap()
        .remove(0);
    let ev = ev(row.record.attempt);
    let t = transition(&row.record, ev, &policy(), ExecMode::Running).unwrap();
    let won = s
        .apply_iterations(
            exec,
            &[IterationWrite {
                seq,
                expected_state: t.expected_state,
                expected_attempt: t.expected_attempt,
                record: t.record,
            }],
            &ExecWrite::default(),
        )
        .await
        .unwrap();
    assert_eq!(won, [true]);
}

async fn paused_executions_keep_a_lease_and_their_timers(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    f.device(&s, "a").await;
    f.device(&s, "b").await;
    let exec = f.execution(&s, 2_000).await;
    // a in progress (deadline 62 s), b failed once and retrying (retry at 3.5 s)
    step(&s, &exec, 1, |_| IterationEvent::Start { now: ts(2_000) }).await;
    step(&s, &exec, 2, |_| IterationEvent::Start { now: ts(2_000) }).await;
    let ack = move |attempt| IterationEvent::Ack {
        attempt,
        now: ts(2_500),
        success: false,
        message: None,
        accumulator: None,
    };
    step(&s, &exec, 2, ack).await;
    assert_eq!(s.next_timer(&exec, true).await.unwrap(), Some(ts(3_500)));
    assert_eq!(s.next_timer(&exec, false).await.unwrap(), Some(ts(62_000)));
    let due = |retries| {
        let s = s.clone();
        let exec = exec.clone();
        async move {
            s.due_iterations(&exec, ts(100_000), 10, retries)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.record.state)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        due(true).await,
        [IterationState::InProgress, IterationState::Retrying]
    );
    assert_eq!(due(false).await, [IterationState::InProgress]);
    // pause: the status compare-and-set, and a lease holder is still found for it
    let mut e = s.load_execution(&exec).await.unwrap().unwrap();
    e.status = ExecutionStatus::Paused;
    s.update_execution(&e, ExecutionStatus::InProgress, false, None)
        .await
        .unwrap();
    assert!(matches!(
        s.update_execution(&e, ExecutionStatus::InProgress, false, None)
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.load_execution(&exec).await.unwrap().unwrap().status,
        ExecutionStatus::Paused
    );
    // a start decided for `inProgress` is refused once paused, and writes nothing
    let b = s.iterations_after(&exec, 1, 1).await.unwrap().remove(0);
    assert_eq!(b.record.state, IterationState::Retrying);
    let t = transition(
        &b.record,
        IterationEvent::Start { now: ts(4_000) },
        &policy(),
        ExecMode::Running,
    )
    .unwrap();
    let guarded = ExecWrite {
        require_status: Some(ExecutionStatus::InProgress),
        ..ExecWrite::default()
    };
    let write = IterationWrite::of(b.seq, t);
    assert!(matches!(
        s.apply_iterations(&exec, std::slice::from_ref(&write), &guarded)
            .await,
        Err(StoreError::Conflict)
    ));
    let still = s.iterations_after(&exec, 1, 1).await.unwrap().remove(0);
    assert_eq!(still.record, b.record, "nothing written");
    let claimed = s
        .claim_leases("n1", ts(5_000), ts(15_000), 10, false)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "a paused execution needs a lease holder");
    // the abort reason is stored with the status
    e.status = ExecutionStatus::Canceling;
    e.abort_reason = Some("{\"criterion\":0}".into());
    s.update_execution(&e, ExecutionStatus::Paused, true, None)
        .await
        .unwrap();
    let back = s.load_execution(&exec).await.unwrap().unwrap();
    assert_eq!(back.abort_reason.as_deref(), Some("{\"criterion\":0}"));
    assert_eq!(back.summary, s.summary_from_records(&exec).await.unwrap());
}

async fn rerun_target_sets(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    for n in ["a", "b", "c"] {
        f.device(&s, n).await;
    }
    let first = f.execution(&s, 2_000).await;
    for seq in 1..=3 {
        step(&s, &first, seq, |_| IterationEvent::Start {
            now: ts(2_000),
        })
        .await;
    }
    // b fails for good (retries exhausted), a and c succeed
    for seq in [1, 3] {
        let ok = move |attempt| IterationEvent::Ack {
            attempt,
            now: ts(2_100),
            success: true,
            message: None,
            accumulator: None,
        };
        step(&s, &first, seq, ok).await;
    }
    for t in [2_100, 3_200] {
        let fail = move |attempt| IterationEvent::Ack {
            attempt,
            now: ts(t),
            success: false,
            message: None,
            accumulator: None,
        };
        step(&s, &first, 2, fail).await;
        step(&s, &first, 2, |_| IterationEvent::Start {
            now: ts(t + 1_000),
        })
        .await;
    }
    let fail = move |attempt| IterationEvent::Ack {
        attempt,
        now: ts(5_000),
        success: false,
        message: None,
        accumulator: None,
    };
    step(&s, &first, 2, fail).await;
    let base = s.load_execution(&first).await.unwrap().unwrap();
    let q = rjobs_query::parse_str(rjobs_query::ResourceType::Device, "{}", None).unwrap();
    let new_exec = |t: i64| Execution {
        id: f.ids.next(ts(t)),
        status: ExecutionStatus::InProgress,
        rerun_of: Some(format!("{{\"executionId\":\"{first}\"}}")),
        summary: Default::default(),
        source: Source::user(),
        ..base.clone()
    };
    let target = |states: &'static [IterationState]| TargetSpec {
        rt: rjobs_query::ResourceType::Device,
        table: None,
        query: &q,
        rerun: Some(RerunOf {
            execution: &first,
            states,
        }),
    };
    let e = new_exec(6_000);
    assert_eq!(
        s.create_execution(
            &e,
            &target(&[IterationState::Failed, IterationState::TimedOut])
        )
        .await
        .unwrap(),
        1
    );
    let names: Vec<String> = s
        .iterations_after(&e.id, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.resource_name)
        .collect();
    assert_eq!(names, ["b"]);
    let stored = s.load_execution(&e.id).await.unwrap().unwrap();
    assert_eq!(stored.rerun_of, e.rerun_of);
    assert_eq!(stored.summary.remaining, 1);
    let e2 = new_exec(7_000);
    assert_eq!(
        s.create_execution(&e2, &target(&[IterationState::Succeeded]))
            .await
            .unwrap(),
        2
    );
    // nothing timed out: refused, and nothing was written
    let e3 = new_exec(8_000);
    assert!(matches!(
        s.create_execution(&e3, &target(&[IterationState::TimedOut]))
            .await,
        Err(StoreError::EmptyTarget)
    ));
    assert!(s.load_execution(&e3.id).await.unwrap().is_none());
}

rjobs_store::store_suite!(
    job_controls_round_trip,
    paused_executions_keep_a_lease_and_their_timers,
    rerun_target_sets,
);
