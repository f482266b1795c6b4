//! Lease conformance, on SQLite and PostgreSQL: claims, renewal, expiry and takeover, fencing of
//! dispatch writes, hand-back and adoption, racing claimers, and signals.

use std::collections::HashSet;
use std::sync::Arc;

use rjobs_core::engine::{ExecutionStatus, IterationRecord, IterationState};
use rjobs_core::Id;
use rjobs_store::{
    Backend, ExecWrite, ExecutionStore, Fence, IterationStore, IterationWrite, LeaseStore, NodeRow,
    Signal, SqlStore, Store, StoreError,
};

use rjobs_store::testing::{exec_fixture as fixture, ts};

fn node(id: &str, now: i64, lease: i64) -> NodeRow {
    NodeRow {
        id: id.into(),
        started_at: ts(0),
        heartbeat_at: ts(now),
        expires_at: ts(now + lease),
        dispatched: 0,
    }
}

fn set(leases: &[rjobs_store::Lease]) -> HashSet<(Id, i64)> {
    leases
        .iter()
        .map(|l| (l.execution_id.clone(), l.epoch))
        .collect()
}

async fn claims_renewals_and_takeover(s: Arc<SqlStore>) {
    let f = fixture(&s).await;
    let e1 = f.execution(&s, 2_000).await;
    let e2 = f.execution(&s, 3_000).await;
    let e3 = f.execution(&s, 4_000).await;
    assert!(s
        .heartbeat(&node("a", 5_000, 10_000))
        .await
        .unwrap()
        .is_empty());
    s.heartbeat(&node("b", 5_000, 10_000)).await.unwrap();
    let a = s
        .claim_leases("a", ts(5_000), ts(15_000), 2, false)
        .await
        .unwrap();
    assert_eq!(
        set(&a),
        HashSet::from([(e1.clone(), 1), (e2.clone(), 1)]),
        "oldest first"
    );
    let b = s
        .claim_leases("b", ts(5_000), ts(15_000), 5, false)
        .await
        .unwrap();
    assert_eq!(set(&b), HashSet::from([(e3.clone(), 1)]));
    assert!(s
        .claim_leases("b", ts(5_000), ts(15_000), 5, false)
        .await
        .unwrap()
        .is_empty());

    let load = s.cluster_load("a", ts(6_000)).await.unwrap();
    assert_eq!((load.live_nodes, load.active_executions), (2, 3));
    assert_eq!(load.next_foreign_expiry, Some(ts(15_000)));

    // a renews to 20,000; b does not and its lease expires at 15,000.
    let renewed = s.heartbeat(&node("a", 10_000, 10_000)).await.unwrap();
    assert!(renewed.iter().all(|l| l.expires_at == ts(20_000)));
    assert_eq!(renewed.len(), 2);
    assert!(s
        .claim_leases("a", ts(14_999), ts(24_999), 5, false)
        .await
        .unwrap()
        .is_empty());
    let taken = s
        .claim_leases("a", ts(15_000), ts(25_000), 5, false)
        .await
        .unwrap();
    assert_eq!(
        set(&taken),
        HashSet::from([(e3.clone(), 2)]),
        "epoch grows on takeover"
    );
    // b comes back: its renewal no longer includes the lease.
    assert!(s
        .heartbeat(&node("b", 15_500, 10_000))
        .await
        .unwrap()
        .is_empty());
    let load = s.cluster_load("b", ts(15_500)).await.unwrap();
    assert_eq!(load.live_nodes, 2);
    assert_eq!(load.next_foreign_expiry, Some(ts(20_000)));
    // b as a single node steals regardless of expiry.
    let stolen = s
        .claim_leases("b", ts(15_500), ts(25_500), 1, true)
        .await
        .unwrap();
    assert_eq!(stolen.len(), 1);
    assert_eq!(stolen[0].epoch, 2, "e1 or e2 at its second epoch");
    let (nodes, leases) = s.cluster_view().await.unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(leases.len(), 3);
    assert_eq!(leases.iter().filter(|l| l.owner == "b").count(), 1);
}

fn start_write(seq: i64, now: i64) -> IterationWrite {
    IterationWrite {
        seq,
        expected_state: IterationState::Pending,
        expected_attempt: 0,
        record: IterationRecord {
            state: IterationState::InProgress,
            attempt: 1,
            started_at: Some(ts(now)),
            deadline: Some(ts(now + 60_000)),
            retry_at: None,
            completed_at: None,
            message: None,
            accumulator: None,
        },
    }
}

fn fenced(owner: &str, epoch: i64, now: i64) -> ExecWrite {
    ExecWrite {
        last_start_at: Some(ts(now)),
        fence: Some(Fence {
            owner: owner.into(),
            epoch,
        }),
        require_status: None,
    }
}

async fn fenced_writes_change_nothing(s: Arc<SqlStore>) {
    let f = fixture(&s).await;
    for n in ["d1", "d2", "d3"] {
        f.device(&s, n).await;
    }
    let e = f.execution(&s, 2_000).await;
    let rows = s.pending_iterations(&e, 10).await.unwrap();
    assert_eq!(rows.len(), 3);
    let a = s
        .claim_leases("a", ts(2_000), ts(3_000), 1, false)
        .await
        .unwrap();
    assert_eq!(a[0].epoch, 1);
    // a holds the lease: its write applies.
    let won = s
        .apply_iterations(
            &e,
            &[start_write(rows[0].seq, 2_100)],
            &fenced("a", 1, 2_100),
        )
        .await
        .unwrap();
    assert_eq!(won, [true]);
    let sum = s.summary(&e).await.unwrap();
    assert_eq!(
        (
            sum.in_progress,
            sum.remaining,
            s.next_timer(&e, true).await.unwrap()
        ),
        (1, 2, Some(ts(62_100)))
    );
    // The lease expires and b claims it; a wakes up with its old decision.
    let b = s
        .claim_leases("b", ts(3_000), ts(4_000), 1, false)
        .await
        .unwrap();
    assert_eq!(b[0].epoch, 2);
    let stale = s
        .apply_iterations(
            &e,
            &[start_write(rows[1].seq, 3_100)],
            &fenced("a", 1, 3_100),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Fenced)), "{stale:?}");
    let row = s
        .get_iteration(&e, &rows[1].resource_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.record.state, IterationState::Pending, "nothing written");
    let exec = s
        .get_execution(&f.app, &f.job.id, &e)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exec.last_start_at, Some(ts(2_100)), "execution untouched");
    // A stale status change is refused too; the right fence passes.
    let mut done = exec.clone();
    done.status = ExecutionStatus::Canceling;
    let r = s
        .update_execution(
            &done,
            ExecutionStatus::InProgress,
            true,
            Some(&a[0].fence()),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Fenced)), "{r:?}");
    let still = s
        .get_execution(&f.app, &f.job.id, &e)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, ExecutionStatus::InProgress);
    assert_eq!(
        s.pending_iterations(&e, 10).await.unwrap().len(),
        2,
        "not abandoned"
    );
    let won = s
        .apply_iterations(
            &e,
            &[start_write(rows[1].seq, 3_200)],
            &fenced("b", 2, 3_200),
        )
        .await
        .unwrap();
    assert_eq!(won, [true]);
    // Unfenced writes (acknowledgements) are guarded by their compare-and-set alone.
    let mut ack = start_write(rows[0].seq, 3_300);
    ack.expected_state = IterationState::InProgress;
    ack.expected_attempt = 1;
    ack.record.state = IterationState::Succeeded;
    ack.record.completed_at = Some(ts(3_300));
    let won = s
        .apply_iterations(&e, &[ack.clone()], &ExecWrite::default())
        .await
        .unwrap();
    assert_eq!(won, [true]);
    let twice = s
        .apply_iterations(&e, &[ack], &ExecWrite::default())
        .await
        .unwrap();
    assert_eq!(twice, [false], "an ack applies once");
    let sum = s.summary(&e).await.unwrap();
    assert_eq!(
        (
            sum.in_progress,
            sum.remaining,
            s.next_timer(&e, true).await.unwrap()
        ),
        (1, 1, Some(ts(63_200))),
        "d2 in flight, d3 pending"
    );
    // A final status drops the lease.
    let mut fin = still;
    fin.status = ExecutionStatus::Completed;
    fin.run_completed_at = Some(ts(4_000));
    s.update_execution(
        &fin,
        ExecutionStatus::InProgress,
        false,
        Some(&b[0].fence()),
    )
    .await
    .unwrap();
    assert!(s.cluster_view().await.unwrap().1.is_empty());
    assert_eq!(
        s.cluster_load("b", ts(4_000))
            .await
            .unwrap()
            .active_executions,
        0
    );
}

async fn hand_back_and_adopt(s: Arc<SqlStore>) {
    let f = fixture(&s).await;
    let e1 = f.execution(&s, 2_000).await;
    let e2 = f.execution(&s, 3_000).await;
    s.heartbeat(&node("a", 5_000, 10_000)).await.unwrap();
    s.claim_leases("a", ts(5_000), ts(15_000), 5, false)
        .await
        .unwrap();
    s.release_leases("a", Some(std::slice::from_ref(&e2)), ts(6_000))
        .await
        .unwrap();
    let held = s.heartbeat(&node("a", 7_000, 10_000)).await.unwrap();
    assert_eq!(
        set(&held),
        HashSet::from([(e1.clone(), 1)]),
        "a handed-back lease is not renewed"
    );
    let b = s
        .claim_leases("b", ts(7_000), ts(17_000), 5, false)
        .await
        .unwrap();
    assert_eq!(
        set(&b),
        HashSet::from([(e2.clone(), 2)]),
        "claimable at once, next epoch"
    );
    // Graceful leave: every lease back, the node no longer alive.
    s.release_leases("a", None, ts(8_000)).await.unwrap();
    let load = s.cluster_load("b", ts(8_000)).await.unwrap();
    assert_eq!(load.live_nodes, 0, "b never beat; a left");
    let got = s
        .claim_leases("b", ts(8_000), ts(18_000), 5, false)
        .await
        .unwrap();
    assert_eq!(set(&got), HashSet::from([(e1.clone(), 2)]));
    // A restarted "b" re-adopts its leases with new epochs, fencing out any older "b".
    s.heartbeat(&node("b", 9_000, 10_000)).await.unwrap();
    let adopted = s.adopt_leases("b", ts(19_000)).await.unwrap();
    assert_eq!(set(&adopted), HashSet::from([(e1, 3), (e2.clone(), 3)]));
    let old = s
        .update_execution(
            &s.get_execution(&f.app, &f.job.id, &e2)
                .await
                .unwrap()
                .unwrap(),
            ExecutionStatus::InProgress,
            false,
            Some(&Fence {
                owner: "b".into(),
                epoch: 2,
            }),
        )
        .await;
    assert!(matches!(old, Err(StoreError::Fenced)));
}

async fn racing_claimers_never_share(s: Arc<SqlStore>) {
    let f = fixture(&s).await;
    let mut all = HashSet::new();
    for i in 0..24 {
        all.insert(f.execution(&s, 2_000 + i).await);
    }
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let s = s.clone();
            tokio::spawn(async move {
                let me = format!("n{n}");
                let mut mine = Vec::new();
                for _ in 0..10 {
                    let got = s
                        .claim_leases(&me, ts(5_000), ts(15_000), 2, false)
                        .await
                        .unwrap();
                    mine.extend(got.into_iter().map(|l| l.execution_id));
                }
                mine
            })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an execution was claimed twice");
    assert_eq!(unique, all, "every execution claimed");
    let (_, leases) = s.cluster_view().await.unwrap();
    assert!(leases.iter().all(|l| l.epoch == 1));
}

async fn signals_reach_listeners(s: Arc<SqlStore>) {
    let f = fixture(&s).await;
    let e = f.execution(&s, 2_000).await;
    let listener = s.listen().await.unwrap();
    match (s.backend(), listener) {
        (Backend::Sqlite, l) => {
            assert!(l.is_none(), "SQLite is single-node: no signals");
            s.signal(&Signal::Claim).await.unwrap();
        }
        (Backend::Postgres, Some(mut l)) => {
            s.signal(&Signal::Work(vec![e.clone()])).await.unwrap();
            s.signal(&Signal::Claim).await.unwrap();
            assert_eq!(l.next().await.unwrap(), Signal::Work(vec![e]));
            assert_eq!(l.next().await.unwrap(), Signal::Claim);
        }
        (Backend::Postgres, None) => panic!("PostgreSQL must listen"),
    }
}

rjobs_store::store_suite!(
    claims_renewals_and_takeover,
    fenced_writes_change_nothing,
    hand_back_and_adopt,
    racing_claimers_never_share,
    signals_reach_listeners,
);

/// A node frozen inside a dispatch write holds its lease row locked: a claim must skip that row
/// rather than wait (waiting would stall the claimer's loop and its own heartbeats).
#[tokio::test]
async fn postgres_claim_skips_a_lease_row_locked_by_a_frozen_owner() {
    use sqlx::Connection;
    let db = rjobs_store::testing::TestDb::create().await.unwrap();
    let s = Arc::new(rjobs_store::connect(&db.url).await.unwrap());
    let f = fixture(&s).await;
    let e = f.execution(&s, 2_000).await;
    s.claim_leases("a", ts(2_000), ts(3_000), 1, false)
        .await
        .unwrap();
    let mut frozen = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut frozen).await.unwrap();
    sqlx::query("UPDATE leases SET epoch = epoch WHERE execution_id = $1")
        .bind(e.as_str())
        .execute(&mut frozen)
        .await
        .unwrap();
    let claim = s.claim_leases("b", ts(5_000), ts(15_000), 5, false);
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), claim)
        .await
        .expect("the claim waited for the frozen owner's lock")
        .unwrap();
    assert!(got.is_empty());
    // Once the frozen transaction ends (PostgreSQL ends it after idle_in_transaction_session_timeout;
    // here: rolled back), the lease is claimable.
    sqlx::query("ROLLBACK").execute(&mut frozen).await.unwrap();
    let got = s
        .claim_leases("b", ts(5_000), ts(15_000), 5, false)
        .await
        .unwrap();
    assert_eq!(set(&got), HashSet::from([(e, 2)]));
    s.close().await;
    db.drop_db().await.unwrap();
}
