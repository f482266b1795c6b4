//! Several engines (nodes) on one database and one manual clock: fair sharing, takeover after
//! the lease, a paused node's stale decision refused by the fence, re-adoption on restart, and
//! SQLite's single-node takeover.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rjobs_core::engine::IterationState as S;
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::Id;
use rjobs_engine::{
    AckRequest, ClusterConfig, Engine, RecordingSink, ReportSigner, TriggerEvent, TriggerKind,
    TriggerSink,
};
use rjobs_store::LeaseStore;
use tokio::sync::Notify;

use crate::harness::H;

const LEASE: i64 = 10_000;

fn node(h: &H, id: &str, sink: Arc<dyn TriggerSink>) -> Engine {
    Engine::new(
        h.store.clone(),
        Arc::new(h.clock.clone()),
        sink,
        ReportSigner::new(b"test", "http://rjobs.test", 1000),
    )
    .with_cluster(ClusterConfig {
        node_id: id.into(),
        lease_ms: LEASE,
    })
}

/// Who holds each lease, as (execution, owner, epoch).
async fn leases(h: &H) -> Vec<(Id, String, i64)> {
    let (_, ls) = h.store.cluster_view().await.unwrap();
    ls.into_iter()
        .map(|l| (l.execution_id, l.owner, l.epoch))
        .collect()
}

async fn owner(h: &H, exec: &Id) -> Option<(String, i64)> {
    leases(h)
        .await
        .into_iter()
        .find(|(e, _, _)| e == exec)
        .map(|(_, o, ep)| (o, ep))
}

/// Acknowledges (success) every in-progress iteration of `exec` through `via`.
async fn ack_all(h: &H, via: &Engine, job: &ResourceJob, exec: &Id) -> usize {
    let rows = h.in_state(exec, S::InProgress).await;
    for r in &rows {
        via.ack(
            &h.app,
            &job.id,
            exec,
            AckRequest {
                iteration_id: r.iteration_id().to_string(),
                success: true,
                message: None,
                accumulator: None,
                attempt: None,
            },
        )
        .await
        .unwrap();
    }
    rows.len()
}

fn fenced_count(e: &Engine) -> u64 {
    e.metrics()
        .lease_events
        .with_label_values(&["fenced"])
        .get()
}

pub async fn two_nodes_share_then_take_over(mut h: H) {
    h.devices(&["d1", "d2", "d3", "d4", "d5", "d6"]).await;
    let sink_a = Arc::new(RecordingSink::default());
    let sink_b = Arc::new(RecordingSink::default());
    h.engine = node(&h, "a", sink_a.clone());
    let b = node(&h, "b", sink_b.clone());
    let job1 = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 2)
        .await;
    let job2 = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 2)
        .await;
    let e1 = h.execute(&job1).await;
    let e2 = h.execute(&job2).await;
    // a is alone at first: both executions are its share.
    h.tick(&e1).await;
    assert_eq!(owner(&h, &e1).await, Some(("a".into(), 1)));
    assert_eq!(owner(&h, &e2).await, Some(("a".into(), 1)));
    b.tick().await.unwrap();
    assert_eq!(leases(&h).await.len(), 2, "b finds nothing free");
    // At the next heartbeat a sees two live nodes and hands one back; b claims it.
    h.clock.advance(LEASE / 3 + 1);
    h.tick(&e1).await;
    b.tick().await.unwrap();
    assert_eq!(owner(&h, &e1).await, Some(("a".into(), 1)));
    assert_eq!(owner(&h, &e2).await, Some(("b".into(), 2)));
    // An ack received by a for b's execution is applied once; b dispatches the freed slots.
    assert_eq!(ack_all(&h, &h.engine, &job2, &e2).await, 2);
    // The owner learns of acks taken elsewhere by a signal (PostgreSQL NOTIFY; delivered by
    // hand here) or, should it be lost, at its next heartbeat.
    assert_eq!(
        b.tick().await.unwrap().started,
        0,
        "no signal yet: b does not look"
    );
    b.handle_signal(rjobs_store::Signal::Work(vec![e2.clone()]));
    assert_eq!(b.tick().await.unwrap().started, 2);
    assert_eq!(h.in_state(&e2, S::Succeeded).await.len(), 2);
    // a stops (crash): no renewal. Before the lease expires b changes nothing of e1.
    h.clock.advance(LEASE - LEASE / 3 - 2);
    b.tick().await.unwrap();
    assert_eq!(owner(&h, &e1).await, Some(("a".into(), 1)));
    h.clock.advance(LEASE / 3 + 3);
    b.tick().await.unwrap();
    assert_eq!(owner(&h, &e1).await, Some(("b".into(), 2)), "taken over");
    for _ in 0..10 {
        ack_all(&h, &b, &job1, &e1).await;
        ack_all(&h, &b, &job2, &e2).await;
        b.tick().await.unwrap();
    }
    for (job, e) in [(&job1, &e1), (&job2, &e2)] {
        assert_eq!(h.status(job, e).await, "completed");
        let rows = h.rows(e).await;
        assert!(rows
            .iter()
            .all(|r| r.record.state == S::Succeeded && r.record.attempt == 1));
    }
    let mut all = sink_a.take();
    all.extend(sink_b.take());
    let completes = all
        .iter()
        .filter(|ev| ev.kind == TriggerKind::Complete)
        .count();
    let iterations = all
        .iter()
        .filter(|ev| ev.kind == TriggerKind::Iteration)
        .count();
    assert_eq!((completes, iterations), (2, 12), "each once, across nodes");
    assert!(
        leases(&h).await.is_empty(),
        "final executions hold no lease"
    );
    h.done().await;
}

/// Forwards triggers, but blocks the first Timeout until released (a node paused mid-tick).
#[derive(Debug, Default)]
struct Gate {
    inner: RecordingSink,
    armed: AtomicBool,
    entered: Notify,
    release: Notify,
}

#[async_trait]
impl TriggerSink for Gate {
    async fn fire(&self, ev: TriggerEvent) {
        if ev.kind == TriggerKind::Timeout && self.armed.swap(false, Ordering::SeqCst) {
            self.entered.notify_one();
            self.release.notified().await;
        }
        self.inner.fire(ev).await;
    }
}

pub async fn paused_node_cannot_apply_a_stale_decision(mut h: H) {
    h.devices(&["d1", "d2", "d3"]).await;
    let gate = Arc::new(Gate::default());
    h.engine = node(&h, "a", gate.clone());
    let b_sink = Arc::new(RecordingSink::default());
    let b = node(&h, "b", b_sink.clone());
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 2;
            j.retry_on_failure = true;
            j.max_iteration_retries = 1;
            j.retry_delay = 1000;
        })
        .await;
    let e = h.execute(&job).await;
    assert_eq!(h.tick(&e).await.started, 2, "a starts d1 and d2");
    let d1 = h.in_state(&e, S::InProgress).await.remove(0);
    h.ack(&job, &e, &d1, false, None).await.unwrap();
    // A minute later d1's retry is due and d2's deadline has passed. a renews its lease,
    // decides to restart d1, writes d2's timeout...
    h.clock.advance(60_000);
    gate.armed.store(true, Ordering::SeqCst);
    let (a_tick, ()) = tokio::join!(h.engine.tick(), async {
        // ...and stalls while firing the Timeout trigger. Its lease expires; b claims the
        // execution and restarts d1 and starts d3 itself.
        gate.entered.notified().await;
        h.clock.advance(LEASE + 1);
        let r = b.tick().await.unwrap();
        assert_eq!(r.started, 2, "b restarts d1 and starts d3");
        gate.release.notify_one();
    });
    // a resumes with its decision to restart d1: the fence refuses it.
    let a_tick = a_tick.unwrap();
    assert_eq!((a_tick.started, a_tick.timed_out), (0, 1));
    assert_eq!(fenced_count(&h.engine), 1);
    assert_eq!(owner(&h, &e).await, Some(("b".into(), 2)));
    let state = |name: &str, rows: &[rjobs_core::execution::IterationRow]| {
        let r = rows.iter().find(|r| r.resource_name == name).unwrap();
        (r.record.state, r.record.attempt)
    };
    let rows = h.rows(&e).await;
    assert_eq!(state("d1", &rows), (S::InProgress, 2));
    assert_eq!(state("d2", &rows), (S::TimedOut, 1));
    assert_eq!(state("d3", &rows), (S::InProgress, 1));
    let d1_starts = b_sink
        .take()
        .into_iter()
        .chain(gate.inner.take())
        .filter(|ev| ev.kind == TriggerKind::Iteration && ev.data["device"]["name"] == "d1")
        .count();
    assert_eq!(
        d1_starts, 2,
        "d1 started twice in all: attempt 1 by a, attempt 2 by b"
    );
    // a's next tick finds the lease gone and does nothing.
    assert_eq!(h.engine.tick().await.unwrap().started, 0);
    assert_eq!(owner(&h, &e).await, Some(("b".into(), 2)));
    h.done().await;
}

pub async fn restart_with_the_same_node_id_adopts_at_once(mut h: H) {
    h.devices(&["d1", "d2"]).await;
    h.engine = node(&h, "a", Arc::new(RecordingSink::default()));
    let job = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 1)
        .await;
    let e = h.execute(&job).await;
    assert_eq!(h.tick(&e).await.started, 1);
    let fresh = node(&h, "a", Arc::new(RecordingSink::default()));
    let old = std::mem::replace(&mut h.engine, fresh);
    // The restarted node re-claims its lease with a new epoch without waiting for expiry.
    ack_all(&h, &h.engine, &job, &e).await;
    assert_eq!(h.tick(&e).await.started, 1);
    assert_eq!(owner(&h, &e).await, Some(("a".into(), 2)));
    // The old process, should it still run, is fenced out.
    ack_all(&h, &h.engine, &job, &e).await;
    assert_eq!(old.tick().await.unwrap().completed, 0);
    assert_eq!(h.status(&job, &e).await, "inProgress");
    assert_eq!(h.tick(&e).await.completed, 1);
    h.done().await;
}

pub async fn sqlite_single_node_takes_over_at_once(mut h: H) {
    h.devices(&["d1", "d2"]).await;
    h.engine = node(&h, "first", Arc::new(RecordingSink::default()));
    let job = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 1)
        .await;
    let e = h.execute(&job).await;
    assert_eq!(h.tick(&e).await.started, 1);
    // A new process on the file (another node id) does not wait for the lease.
    h.engine = node(&h, "second", Arc::new(RecordingSink::default()));
    ack_all(&h, &h.engine, &job, &e).await;
    assert_eq!(h.tick(&e).await.started, 1);
    assert_eq!(owner(&h, &e).await, Some(("second".into(), 2)));
    h.done().await;
}

/// Within a node every owned execution gets its own slots each tick: a large execution does not
/// starve a small one that started after it.
pub async fn large_execution_does_not_starve_a_small_one(mut h: H) {
    let big: Vec<String> = (0..1500).map(|i| format!("big-{i:04}")).collect();
    let names: Vec<&str> = big.iter().map(String::as_str).collect();
    h.devices(&names).await;
    h.devices(&["small-1", "small-2", "small-3"]).await;
    let query = |p: &str| format!("{{\"name\": {{\"$startsWith\": \"{p}\"}}}}");
    let large = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 100;
            j.query_json = query("big-");
        })
        .await;
    let small = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 1;
            j.query_json = query("small-");
        })
        .await;
    h.cap = 100;
    let e_large = h.execute(&large).await;
    let e_small = h.execute(&small).await;
    let mut ticks = 0;
    while h.status(&small, &e_small).await != "completed" {
        ticks += 1;
        assert!(ticks <= 5, "the small execution starved");
        h.tick(&e_large).await;
        ack_all(&h, &h.engine, &small, &e_small).await;
        ack_all(&h, &h.engine, &large, &e_large).await;
    }
    assert_eq!(h.status(&large, &e_large).await, "inProgress");
    let done = h.in_state(&e_large, S::Succeeded).await.len();
    assert!((300..=500).contains(&done), "{done} of the large one done");
    h.done().await;
}

/// A pause answered by one node wins over a start the owner decided from its view before it
/// heard of the pause: the start is refused inside the commit (the status guard), nothing is
/// written, and the owner re-reads the row.
pub async fn pause_elsewhere_wins_over_a_start_decided_before_it(mut h: H) {
    h.devices(&["d1", "d2", "d3", "d4", "d5"]).await;
    let a = node(&h, "a", Arc::new(RecordingSink::default()));
    let b = node(&h, "b", Arc::new(RecordingSink::default()));
    h.engine = a;
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 5;
            j.iteration_delay = 1_000;
        })
        .await;
    let e = h.execute(&job).await;
    // b alone takes the lease and starts the first; its view wants to start the next at +1 s.
    assert_eq!(b.tick().await.unwrap().started, 1);
    assert_eq!(owner(&h, &e).await, Some(("b".into(), 1)));
    // a answers a pause; b is not told (a lost signal).
    h.engine.pause(&h.app, &job.id, &e).await.unwrap();
    h.clock.advance(1_000);
    assert_eq!(
        b.tick().await.unwrap().started,
        0,
        "the guard refuses the start"
    );
    assert_eq!(h.in_state(&e, S::Pending).await.len(), 4);
    assert_eq!(
        b.tick().await.unwrap().started,
        0,
        "b has re-read the row: paused"
    );
    assert_eq!(h.status(&job, &e).await, "paused");
    // resume, signalled by hand: b carries on
    h.engine.resume(&h.app, &job.id, &e).await.unwrap();
    b.handle_signal(rjobs_store::Signal::Work(vec![e.clone()]));
    assert_eq!(b.tick().await.unwrap().started, 1);
    assert_eq!(h.in_state(&e, S::Pending).await.len(), 3);
    h.done().await;
}
