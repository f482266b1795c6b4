//! Webhook conformance, on SQLite and PostgreSQL: events are written by the transaction of the
//! change that caused them (and only when it wins), for exactly the enabled webhooks of the
//! application that subscribe to the type; deliveries are claimed under a lease that moves only
//! when it expires; each attempt's consequence applies only under the claim's lease; attempts
//! are recorded and bounded per webhook.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use rjobs_core::engine::{ExecutionStatus, IterationRecord, IterationState};
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::webhooks::{EventType, NextStep};
use rjobs_core::Id;
use rjobs_store::testing::{exec_fixture, ts, ExecFixture};
use rjobs_store::webhooks::{
    AttemptRecord, Delivery, DeliveryClaim, WebhookRecord, WebhookSecret, WebhookStore,
};
use rjobs_store::{
    ExecWrite, ExecutionStore, IterationStore, IterationWrite, SqlStore, StoreError,
};

fn hook(f: &ExecFixture, name: &str, events: &[EventType], enabled: bool) -> WebhookRecord {
    WebhookRecord {
        id: f.ids.next(ts(1_000)),
        application_id: f.app.clone(),
        name: name.into(),
        url: format!("http://127.0.0.1:9/{name}"),
        secret: WebhookSecret::new(format!("whsec_c2VjcmV0LXtuYW1lfQ{name}")),
        events: events.to_vec(),
        enabled,
        creation_date: ts(1_000),
        last_updated: ts(1_000),
        version: 1,
    }
}

fn claim(owner: &str, now: i64, lease: i64, limit: u32) -> DeliveryClaim {
    DeliveryClaim {
        owner: owner.into(),
        now: ts(now),
        until: ts(now + lease),
        limit,
    }
}

fn attempt(d: &Delivery, n: u32, at: i64, outcome: &str) -> AttemptRecord {
    AttemptRecord {
        webhook_id: d.webhook_id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_type,
        attempt: n,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
        at: ts(at),
        duration_ms: 3,
        outcome: outcome.into(),
    }
}

/// Starts every iteration of `exec` at `t`, then finishes them with `outcomes` (in seq order).
async fn run_iterations(s: &SqlStore, exec: &Id, outcomes: &[IterationState], t: i64) {
    let rows = s.iterations_after(exec, 0, 100).await.unwrap();
    assert_eq!(rows.len(), outcomes.len());
    let start: Vec<IterationWrite> = rows
        .iter()
        .map(|r| IterationWrite {
            seq: r.seq,
            expected_state: IterationState::Pending,
            expected_attempt: 0,
            record: IterationRecord {
                state: IterationState::InProgress,
                attempt: 1,
                started_at: Some(ts(t)),
                deadline: Some(ts(t + 60_000)),
                ..r.record.clone()
            },
        })
        .collect();
    let won = s
        .apply_iterations(exec, &start, &ExecWrite::default())
        .await
        .unwrap();
    assert!(won.iter().all(|w| *w));
    let finish: Vec<IterationWrite> = start
        .iter()
        .zip(outcomes)
        .map(|(w, st)| IterationWrite {
            seq: w.seq,
            expected_state: IterationState::InProgress,
            expected_attempt: 1,
            record: IterationRecord {
                state: *st,
                completed_at: Some(ts(t + 10)),
                message: Some(format!("outcome {}", st.as_str())),
                ..w.record.clone()
            },
        })
        .collect();
    let won = s
        .apply_iterations(exec, &finish, &ExecWrite::default())
        .await
        .unwrap();
    assert!(won.iter().all(|w| *w));
}

async fn everything(s: &SqlStore, now: i64) -> Vec<Delivery> {
    s.claim_deliveries(&claim("all", now, 1, 1000))
        .await
        .unwrap()
}

async fn events_are_written_with_their_changes(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let all = hook(&f, "all", &EventType::ALL, true);
    let off = hook(&f, "off", &EventType::ALL, false);
    let done = hook(&f, "done", &[EventType::ExecutionCompleted], true);
    for w in [&all, &off, &done] {
        s.insert_webhook(w).await.unwrap();
    }
    // Another application without webhooks: its changes write nothing.
    let other = exec_fixture(&s).await;
    other.device(&s, "x").await;
    let quiet = other.execution(&s, 2_000).await;
    run_iterations(&s, &quiet, &[IterationState::Failed], 2_100).await;

    for n in ["a", "b", "c"] {
        f.device(&s, n).await;
    }
    let exec = f.execution(&s, 2_000).await;
    assert_eq!(
        s.outbox_counts().await.unwrap().pending,
        1,
        "started, to `all`"
    );
    use IterationState as I;
    run_iterations(&s, &exec, &[I::Failed, I::TimedOut, I::Succeeded], 2_100).await;
    assert_eq!(s.outbox_counts().await.unwrap().pending, 3);

    // A status change that loses its compare-and-set writes no event.
    let mut e = s.load_execution(&exec).await.unwrap().unwrap();
    e.status = ExecutionStatus::Completed;
    e.run_completed_at = Some(ts(3_000));
    let lost = s
        .update_execution(&e, ExecutionStatus::Paused, false, None)
        .await;
    assert!(matches!(lost, Err(StoreError::Conflict)), "{lost:?}");
    assert_eq!(s.outbox_counts().await.unwrap().pending, 3);
    s.update_execution(&e, ExecutionStatus::InProgress, false, None)
        .await
        .unwrap();
    assert_eq!(s.outbox_counts().await.unwrap().pending, 5);

    let got = everything(&s, 10_000).await;
    let seen: BTreeSet<(&str, &str)> = got
        .iter()
        .map(|d| (d.event_type.as_str(), d.url.rsplit('/').next().unwrap()))
        .collect();
    let want: BTreeSet<(&str, &str)> = [
        ("execution.started", "all"),
        ("iteration.failed", "all"),
        ("iteration.timedOut", "all"),
        ("execution.completed", "all"),
        ("execution.completed", "done"),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, want);
    for d in &got {
        assert_eq!(d.execution_id, exec);
        assert_eq!(d.application_id, f.app);
        assert_eq!(d.resource_job_id, f.job.id);
        assert_eq!(d.attempts, 0);
        match d.event_type {
            EventType::IterationFailed | EventType::IterationTimedOut => {
                let it = d.iteration.as_ref().expect("iteration snapshot");
                let (name, st) = if d.event_type == EventType::IterationFailed {
                    ("a", "failed")
                } else {
                    ("b", "timedOut")
                };
                assert_eq!((it.resource_name.as_str(), d.status.as_str()), (name, st));
                assert_eq!(it.attempts, 1);
                assert_eq!(it.message.as_deref(), Some(&*format!("outcome {st}")));
                assert_eq!(d.event_at, ts(2_110));
            }
            EventType::ExecutionCompleted => {
                assert_eq!(d.status, "completed");
                assert_eq!(
                    (d.summary.succeeded, d.summary.failed, d.summary.timed_out),
                    (1, 1, 1)
                );
                assert_eq!(d.event_at, ts(3_000));
            }
            EventType::ExecutionStarted => {
                assert_eq!(d.status, "inProgress");
                assert_eq!(d.summary.remaining, 3);
                assert_eq!(d.event_at, ts(2_000));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Ids are stable per change and distinct per event.
    let ids: HashSet<&str> = got
        .iter()
        .filter(|d| d.url.ends_with("/all"))
        .map(|d| d.event_id.as_str())
        .collect();
    assert_eq!(ids.len(), 4);
    let both: Vec<&Delivery> = got
        .iter()
        .filter(|d| d.event_type == EventType::ExecutionCompleted)
        .collect();
    assert_eq!(both[0].event_id, both[1].event_id);
}

async fn pause_is_stamped_at_first_claim(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    s.insert_webhook(&hook(&f, "p", &[EventType::ExecutionPaused], true))
        .await
        .unwrap();
    f.device(&s, "a").await;
    let exec = f.execution(&s, 2_000).await;
    let mut e = s.load_execution(&exec).await.unwrap().unwrap();
    e.status = ExecutionStatus::Paused;
    s.update_execution(&e, ExecutionStatus::InProgress, false, None)
        .await
        .unwrap();
    let got = everything(&s, 7_000).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type, EventType::ExecutionPaused);
    assert_eq!(got[0].status, "paused");
    assert_eq!(got[0].event_at, ts(7_000));
}

async fn claims_are_leased_and_attempts_apply_under_the_lease(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let w = hook(&f, "w", &[EventType::ExecutionStarted], true);
    s.insert_webhook(&w).await.unwrap();
    f.device(&s, "a").await;
    f.execution(&s, 2_000).await;
    f.execution(&s, 2_001).await;
    f.execution(&s, 2_002).await;

    let one = s
        .claim_deliveries(&claim("n1", 5_000, 1_000, 2))
        .await
        .unwrap();
    assert_eq!(one.len(), 2, "the limit holds");
    let two = s
        .claim_deliveries(&claim("n2", 5_500, 10_000, 10))
        .await
        .unwrap();
    assert_eq!(two.len(), 1, "leased rows are not handed out again");
    assert!(one.iter().all(|d| d.event_id != two[0].event_id));
    // n1's lease expires; n3 takes its rows; n1's late report changes nothing.
    let three = s
        .claim_deliveries(&claim("n3", 6_000, 1_000, 10))
        .await
        .unwrap();
    assert_eq!(three.len(), 2);
    let late = s
        .finish_delivery(
            &one[0],
            "n1",
            &attempt(&one[0], 1, 5_100, "delivered"),
            NextStep::Delivered,
            100,
        )
        .await
        .unwrap();
    assert!(!late, "a lost lease reports nothing");
    // n3: one delivered, one retried at 9 000.
    let (a, b) = (&three[0], &three[1]);
    assert!(s
        .finish_delivery(
            a,
            "n3",
            &attempt(a, 1, 6_010, "delivered"),
            NextStep::Delivered,
            100
        )
        .await
        .unwrap());
    assert!(s
        .finish_delivery(
            b,
            "n3",
            &attempt(b, 1, 6_020, "retrying"),
            NextStep::RetryAt(ts(9_000)),
            100
        )
        .await
        .unwrap());
    assert!(s
        .claim_deliveries(&claim("n4", 8_999, 1_000, 10))
        .await
        .unwrap()
        .is_empty());
    let again = s
        .claim_deliveries(&claim("n4", 9_000, 1_000, 10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event_id, b.event_id, "the same id on every retry");
    assert_eq!(again[0].attempts, 1);
    assert!(s
        .finish_delivery(
            &again[0],
            "n4",
            &attempt(b, 2, 9_010, "failed"),
            NextStep::Failed,
            100
        )
        .await
        .unwrap());
    // n2's row stays leased until 15 500, then any node may take it.
    let last = s
        .claim_deliveries(&claim("n5", 15_500, 1_000, 10))
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].event_id, two[0].event_id);
    let counts = s.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed), (1, 1));
    assert!(
        s.claim_deliveries(&claim("n6", 99_000, 1_000, 10))
            .await
            .unwrap()
            .len()
            == 1,
        "a dead claimer's lease expires"
    );

    let recorded = s.webhook_attempts(&w.id, 100).await.unwrap();
    let outcomes: Vec<(&str, u32)> = recorded
        .iter()
        .map(|a| (a.outcome.as_str(), a.attempt))
        .collect();
    assert_eq!(
        outcomes,
        vec![("failed", 2), ("retrying", 1), ("delivered", 1)]
    );
}

async fn attempts_are_bounded_per_webhook(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let w = hook(&f, "w", &[EventType::ExecutionStarted], true);
    s.insert_webhook(&w).await.unwrap();
    f.device(&s, "a").await;
    f.execution(&s, 2_000).await;
    let mut d = everything(&s, 3_000).await.pop().unwrap();
    for n in 1..=6u32 {
        let at = 3_000 + i64::from(n) * 100;
        let next = NextStep::RetryAt(ts(at + 1));
        assert!(s
            .finish_delivery(&d, "all", &attempt(&d, n, at, "retrying"), next, 3)
            .await
            .unwrap());
        d = s
            .claim_deliveries(&claim("all", at + 1, 1, 10))
            .await
            .unwrap()
            .pop()
            .unwrap();
    }
    let kept: Vec<u32> = s
        .webhook_attempts(&w.id, 100)
        .await
        .unwrap()
        .iter()
        .map(|a| a.attempt)
        .collect();
    assert_eq!(kept, vec![6, 5, 4]);
}

async fn racing_claimers_take_each_delivery_once(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    s.insert_webhook(&hook(&f, "w", &[EventType::ExecutionStarted], true))
        .await
        .unwrap();
    f.device(&s, "a").await;
    for i in 0..40 {
        f.execution(&s, 2_000 + i).await;
    }
    let mut nodes = vec![s.clone()];
    for _ in 1..4 {
        nodes.push(Arc::new(rjobs_store::connect(s.url()).await.unwrap()));
    }
    let mut tasks = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let n = n.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for round in 0..10 {
                let c = claim(&format!("node{i}-{round}"), 5_000, 60_000, 3);
                got.extend(n.claim_deliveries(&c).await.unwrap());
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for d in t.await.unwrap() {
            assert!(seen.insert(d.event_id.clone()), "{} twice", d.event_id);
        }
    }
    assert_eq!(seen.len(), 40);
    for n in &nodes[1..] {
        n.close().await;
    }
}

async fn webhooks_are_stored_and_scoped(s: Arc<SqlStore>) {
    let f = exec_fixture(&s).await;
    let mut w = hook(&f, "w", &[EventType::ExecutionStarted], true);
    s.insert_webhook(&w).await.unwrap();
    let other = exec_fixture(&s).await;
    assert!(s.get_webhook(&other.app, &w.id).await.unwrap().is_none());
    assert_eq!(
        s.get_webhook(&f.app, &w.id).await.unwrap().as_ref(),
        Some(&w)
    );
    const SPEC: ListSpec = ListSpec {
        sort_fields: &["name"],
        filter_fields: &["name"],
        default_per_page: 10,
    };
    let p = ListParams::parse(&SPEC, &Default::default()).unwrap();
    assert_eq!(s.list_webhooks(&f.app, &p).await.unwrap().total_count, 1);
    assert_eq!(
        s.list_webhooks(&other.app, &p).await.unwrap().total_count,
        0
    );
    // Re-subscribing changes what the next change writes.
    let mut next = w.clone();
    next.events = vec![EventType::ExecutionCompleted];
    next.version = 2;
    s.update_webhook(&next, 1).await.unwrap();
    assert!(matches!(
        s.update_webhook(&next, 1).await,
        Err(StoreError::Conflict)
    ));
    f.device(&s, "a").await;
    f.execution(&s, 2_000).await;
    assert_eq!(s.outbox_counts().await.unwrap().pending, 0);
    w = next;
    w.events = EventType::ALL.to_vec();
    w.version = 3;
    s.update_webhook(&w, 2).await.unwrap();
    f.execution(&s, 2_001).await;
    assert_eq!(s.outbox_counts().await.unwrap().pending, 1);
    // Deleting the webhook deletes its pending deliveries.
    assert!(s.delete_webhook(&f.app, &w.id).await.unwrap());
    assert!(!s.delete_webhook(&f.app, &w.id).await.unwrap());
    assert_eq!(s.outbox_counts().await.unwrap().pending, 0);
}

rjobs_store::store_suite!(
    events_are_written_with_their_changes,
    pause_is_stamped_at_first_claim,
    claims_are_leased_and_attempts_apply_under_the_lease,
    attempts_are_bounded_per_webhook,
    racing_claimers_take_each_delivery_once,
    webhooks_are_stored_and_scoped,
);
