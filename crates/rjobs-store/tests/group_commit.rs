//! Group-commit conformance, on SQLite and PostgreSQL: concurrent acks each get their own
//! outcome, two acks of one attempt in one batch yield one winner, a failing operation does not
//! fail its neighbours, an answered write is durable (visible to another connection), the
//! counters equal the records, and worker claims hand each attempt out once.

use std::collections::HashSet;
use std::sync::Arc;

use rjobs_core::engine::{
    transition, AckInput, AckRefusal, ExecMode, IterationEvent, IterationState, Refusal,
};
use rjobs_core::execution::IterationRow;
use rjobs_core::Id;
use rjobs_store::testing::{exec_fixture, ts, ExecFixture};
use rjobs_store::{
    AckOp, AckRejected, ApplyOp, BatchStore, ClaimOp, ExecWrite, ExecutionStore, FlowRun,
    IterationStore, IterationWrite, SqlStore, StoreError, WriteOp, WriteOutcome,
};

/// An execution over `n` devices with every iteration started at `t` (deadline t + 60 s).
async fn started(s: &SqlStore, f: &ExecFixture, n: usize, t: i64) -> (Id, Vec<IterationRow>) {
    let devices: Vec<_> = (0..n)
        .map(|i| f.device_value(&format!("d{i:03}")))
        .collect();
    rjobs_store::DeviceStore::insert_devices(s, &devices)
        .await
        .unwrap();
    let exec = f.execution(s, t).await;
    let rows = s.pending_iterations(&exec, n as u32).await.unwrap();
    start(s, &exec, &rows, t).await;
    let rows = s.iterations_after(&exec, 0, 10_000).await.unwrap();
    (exec, rows)
}

async fn start(s: &SqlStore, exec: &Id, rows: &[IterationRow], t: i64) {
    let policy = rjobs_core::execution::ExecSettings {
        iteration_timeout: 60_000,
        ..settings()
    }
    .policy();
    let writes: Vec<IterationWrite> = rows
        .iter()
        .map(|r| {
            let tr = transition(
                &r.record,
                IterationEvent::Start { now: ts(t) },
                &policy,
                ExecMode::Running,
            )
            .unwrap();
            IterationWrite::of(r.seq, tr)
        })
        .collect();
    let won = s
        .apply_iterations(exec, &writes, &ExecWrite::default())
        .await
        .unwrap();
    assert!(won.iter().all(|w| *w));
}

fn settings() -> rjobs_core::execution::ExecSettings {
    rjobs_core::execution::ExecSettings {
        max_iteration_concurrency: 100,
        iteration_delay: 0,
        iteration_timeout: 60_000,
        retry_on_failure: false,
        retry_on_timeout: true,
        max_iteration_retries: 1,
        retry_delay: 0,
    }
}

fn ack(f: &ExecFixture, exec: &Id, row: &IterationRow, success: bool, now: i64) -> WriteOp {
    WriteOp::Ack(AckOp {
        app: f.app.clone(),
        job: Some(f.job.id.clone()),
        exec: exec.clone(),
        resource: row.resource_id.clone(),
        input: AckInput {
            attempt: None,
            success,
            message: Some(format!("{} done", row.resource_name)),
            accumulator: None,
            now: ts(now),
        },
    })
}

fn applied(r: &Result<WriteOutcome, StoreError>) -> bool {
    matches!(r, Ok(WriteOutcome::Ack(Ok(_))))
}

async fn counters_equal_records(s: &SqlStore, exec: &Id) {
    assert_eq!(
        s.summary(exec).await.unwrap(),
        s.summary_from_records(exec).await.unwrap(),
        "counters = records"
    );
}

async fn concurrent_acks_each_get_their_own_outcome(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 60, 2_000).await;
    let f = Arc::new(f);
    // Every iteration acked twice, concurrently, each from its own task.
    let mut tasks = Vec::new();
    for round in 0..2 {
        for row in rows.clone() {
            let (s, f, exec) = (s.clone(), f.clone(), exec.clone());
            tasks.push(tokio::spawn(async move {
                let op = ack(&f, &exec, &row, round == 0, 3_000);
                (row.seq, s.submit(vec![op]).await.pop().unwrap())
            }));
        }
    }
    let mut winners: Vec<i64> = Vec::new();
    for t in tasks {
        let (seq, r) = t.await.unwrap();
        match r {
            Ok(WriteOutcome::Ack(Ok(a))) => {
                assert_eq!(a.seq, seq);
                winners.push(seq);
            }
            Ok(WriteOutcome::Ack(Err(AckRejected::Refused(_) | AckRejected::Lost))) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    winners.sort();
    let all: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(winners, all, "exactly one winner per iteration");
    let sum = s.summary(&exec).await.unwrap();
    assert_eq!(sum.succeeded + sum.failed, 60);
    assert_eq!(sum.in_progress, 0);
    counters_equal_records(&s, &exec).await;
}

async fn one_batch_holds_a_conflicting_and_a_winning_ack(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 3, 2_000).await;
    let mut stale = ack(&f, &exec, &rows[2], true, 3_000);
    if let WriteOp::Ack(a) = &mut stale {
        a.input.attempt = Some(7);
    }
    // One submit is one batch: both acks of rows[0] meet in the same transaction.
    let out = s
        .submit(vec![
            ack(&f, &exec, &rows[0], true, 3_000),
            ack(&f, &exec, &rows[0], false, 3_000),
            ack(&f, &exec, &rows[1], false, 3_000),
            stale,
        ])
        .await;
    assert!(applied(&out[0]), "{:?}", out[0]);
    assert!(
        matches!(
            &out[1],
            Ok(WriteOutcome::Ack(Err(AckRejected::Refused(
                AckRefusal::Refused(Refusal::AlreadyFinal {
                    state: IterationState::Succeeded
                })
            ))))
        ),
        "{:?}",
        out[1]
    );
    assert!(applied(&out[2]));
    assert!(
        matches!(
            &out[3],
            Ok(WriteOutcome::Ack(Err(AckRejected::Refused(
                AckRefusal::Refused(Refusal::WrongAttempt { current: 1, got: 7 })
            ))))
        ),
        "{:?}",
        out[3]
    );
    let after = s.iterations_after(&exec, 0, 10).await.unwrap();
    let states: Vec<_> = after.iter().map(|r| r.record.state).collect();
    use IterationState as S;
    assert_eq!(states, [S::Succeeded, S::Failed, S::InProgress]);
    counters_equal_records(&s, &exec).await;
}

async fn a_failing_operation_does_not_fail_its_neighbours(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 2, 2_000).await;
    let stranger = exec_fixture(&s).await;
    let mut foreign = ack(&stranger, &exec, &rows[1], true, 3_000);
    if let WriteOp::Ack(a) = &mut foreign {
        a.job = None;
    }
    let mut unknown = ack(&f, &exec, &rows[1], true, 3_000);
    if let WriteOp::Ack(a) = &mut unknown {
        a.resource = f.ids.next(ts(9_000));
    }
    // A log line of a flow that does not exist breaks a foreign key: the whole transaction
    // fails, and the store retries each operation alone.
    let orphan = WriteOp::FlowRun(FlowRun {
        id: f.ids.next(ts(3_000)),
        flow_id: f.ids.next(ts(3_000)),
        application_id: f.app.clone(),
        time: ts(3_000),
        trigger_type: "resourceJobIteration".into(),
        trigger_key: f.job.id.to_string(),
        status: "success".into(),
        error: None,
        debug: serde_json::json!([]),
        duration_ms: 1,
    });
    let fenced = WriteOp::Apply(ApplyOp {
        exec: exec.clone(),
        writes: Vec::new(),
        exec_write: ExecWrite {
            fence: Some(rjobs_store::Fence {
                owner: "nobody".into(),
                epoch: 99,
            }),
            ..ExecWrite::default()
        },
    });
    let out = s
        .submit(vec![
            ack(&f, &exec, &rows[0], true, 3_000),
            orphan,
            foreign,
            unknown,
            fenced,
        ])
        .await;
    assert!(applied(&out[0]), "{:?}", out[0]);
    assert!(
        matches!(out[1], Err(StoreError::Database(_) | StoreError::Sqlite(_))),
        "{:?}",
        out[1]
    );
    assert!(matches!(
        out[2],
        Ok(WriteOutcome::Ack(Err(AckRejected::ExecutionNotFound)))
    ));
    assert!(matches!(
        out[3],
        Ok(WriteOutcome::Ack(Err(AckRejected::IterationNotFound)))
    ));
    assert!(matches!(out[4], Err(StoreError::Fenced)), "{:?}", out[4]);
    let sum = s.summary(&exec).await.unwrap();
    assert_eq!((sum.succeeded, sum.in_progress), (1, 1));
    counters_equal_records(&s, &exec).await;
}

async fn an_answered_write_is_durable(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 40, 2_000).await;
    // A second store on the same database sees every answered ack at the moment of the answer.
    let url = s.url().to_string();
    let other = rjobs_store::connect(&url).await.unwrap();
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for row in rows.clone() {
        let (s, f, exec) = (s.clone(), f.clone(), exec.clone());
        tasks.push(tokio::spawn(async move {
            let r = s
                .submit(vec![ack(&f, &exec, &row, true, 3_000)])
                .await
                .pop()
                .unwrap();
            (row, r)
        }));
    }
    for t in tasks {
        let (row, r) = t.await.unwrap();
        assert!(applied(&r));
        let seen = other
            .get_iteration(&exec, &row.resource_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            seen.record.state,
            IterationState::Succeeded,
            "durable before answered"
        );
    }
    other.close().await;
    counters_equal_records(&s, &exec).await;
}

async fn claims_hand_each_attempt_out_once(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 120, 2_000).await;
    let url = s.url().to_string();
    // Two "nodes": two stores (each with its own group commit) on one database.
    let b = Arc::new(rjobs_store::connect(&url).await.unwrap());
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = if w % 2 == 0 { s.clone() } else { b.clone() };
        let exec = exec.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let op = WriteOp::Claim(ClaimOp {
                    exec: exec.clone(),
                    limit: 7,
                    now: ts(3_000),
                });
                match store.submit(vec![op]).await.pop().unwrap() {
                    Ok(WriteOutcome::Claimed(rows)) if rows.is_empty() => return got,
                    Ok(WriteOutcome::Claimed(rows)) => {
                        got.extend(rows.into_iter().map(|r| (r.seq, r.record.attempt)))
                    }
                    other => panic!("{other:?}"),
                }
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 120, "every attempt handed out");
    assert_eq!(distinct.len(), 120, "none twice");
    // Past its deadline an attempt is not offered; its retry (attempt 2) is, once.
    let claim = |now: i64| {
        WriteOp::Claim(ClaimOp {
            exec: exec.clone(),
            limit: 1000,
            now: ts(now),
        })
    };
    let first = &rows[0];
    let policy = settings().policy();
    let cur = s
        .get_iteration(&exec, &first.resource_id)
        .await
        .unwrap()
        .unwrap();
    let t = transition(
        &cur.record,
        IterationEvent::Deadline { now: ts(62_000) },
        &policy,
        ExecMode::Running,
    )
    .unwrap();
    assert_eq!(t.record.state, IterationState::Retrying);
    let won = s
        .apply_iterations(
            &exec,
            &[IterationWrite::of(cur.seq, t)],
            &ExecWrite::default(),
        )
        .await
        .unwrap();
    assert_eq!(won, [true]);
    let again = s
        .get_iteration(&exec, &first.resource_id)
        .await
        .unwrap()
        .unwrap();
    start(&s, &exec, &[again], 62_000).await;
    let out = s.submit(vec![claim(62_001)]).await.pop().unwrap();
    let Ok(WriteOutcome::Claimed(rows2)) = out else {
        panic!("{out:?}")
    };
    let offered: Vec<_> = rows2.iter().map(|r| (r.seq, r.record.attempt)).collect();
    assert_eq!(offered, [(first.seq, 2)], "only the retry, as attempt 2");
    let out = s.submit(vec![claim(62_002)]).await.pop().unwrap();
    assert!(matches!(out, Ok(WriteOutcome::Claimed(r)) if r.is_empty()));
    b.close().await;
    counters_equal_records(&s, &exec).await;
}

/// The event stream's read: finished iterations paged by (finish_seq, seq) while acks commit
/// concurrently in many batches. Every finished iteration is seen exactly once, in a
/// non-decreasing finish order, and pending ones never.
async fn finish_order_pages_each_finished_iteration_once(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let (exec, rows) = started(&s, &f, 80, 2_000).await;
    assert!(s
        .finished_after(&exec, (0, 0), 100)
        .await
        .unwrap()
        .is_empty());
    let f = Arc::new(f);
    let mut tasks = Vec::new();
    for row in rows.clone() {
        let (s, f, exec) = (s.clone(), f.clone(), exec.clone());
        tasks.push(tokio::spawn(async move {
            s.submit(vec![ack(&f, &exec, &row, row.seq % 3 != 0, 3_000)])
                .await
                .pop()
                .unwrap()
        }));
    }
    let mut cursor = (0i64, 0i64);
    let mut seen: Vec<i64> = Vec::new();
    loop {
        let page = s.finished_after(&exec, cursor, 7).await.unwrap();
        for fi in &page {
            assert!((fi.finish_seq, fi.row.seq) > cursor, "keyset moves forward");
            assert!(
                fi.finish_seq >= 1 && fi.finish_seq <= 80,
                "{}",
                fi.finish_seq
            );
            assert!(
                matches!(
                    fi.row.record.state,
                    IterationState::Succeeded | IterationState::Failed
                ),
                "{:?}",
                fi.row.record.state
            );
            cursor = (fi.finish_seq, fi.row.seq);
            seen.push(fi.row.seq);
        }
        if page.is_empty() {
            if tasks.iter().all(|t| t.is_finished()) && seen.len() >= 80 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    for t in tasks {
        assert!(applied(&t.await.unwrap()));
    }
    assert!(s
        .finished_after(&exec, cursor, 10)
        .await
        .unwrap()
        .is_empty());
    let mut sorted = seen.clone();
    sorted.sort();
    let all: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(sorted, all, "each finished iteration exactly once");
    // Stamps never pass the finished count: a reader at count n has seen every stamp ≤ n.
    assert!((1..=80).contains(&cursor.0), "last stamp {}", cursor.0);
    counters_equal_records(&s, &exec).await;
}

rjobs_store::store_suite!(
    concurrent_acks_each_get_their_own_outcome,
    one_batch_holds_a_conflicting_and_a_winning_ack,
    a_failing_operation_does_not_fail_its_neighbours,
    an_answered_write_is_durable,
    claims_hand_each_attempt_out_once,
    finish_order_pages_each_finished_iteration_once,
);
