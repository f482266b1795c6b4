//! Timer conformance, on SQLite and PostgreSQL: which flows have timers, and the claim of an
//! instant (once, forward only, one winner among racing nodes, nothing for a deleted flow).

use std::sync::Arc;

use rjobs_core::model::Application;
use rjobs_core::{Id, IdGen};
use rjobs_store::testing::ts;
use rjobs_store::{ApplicationStore, FlowRecord, FlowStore, SqlStore, TimerFire, TimerStore};
use serde_json::json;

async fn app(s: &SqlStore, ids: &IdGen) -> Id {
    let a = Application::new(ids.next(ts(1_000)), "timers", "", ts(1_000));
    s.insert_application(&a).await.unwrap();
    a.id
}

async fn flow(s: &SqlStore, ids: &IdGen, app: &Id, triggers: &[(&str, &str)], enabled: bool) -> Id {
    let body = json!({
        "name": "f",
        "enabled": enabled,
        "triggers": triggers.iter().map(|(t, k)| json!({
            "type": t, "key": k, "config": {"seconds": 1}, "outputIds": [[]]
        })).collect::<Vec<_>>(),
        "nodes": [],
    });
    let f = FlowRecord::new(
        ids.next(ts(2_000)),
        app.clone(),
        "f",
        body,
        triggers,
        enabled,
        ts(2_000),
    );
    s.insert_flow(&f).await.unwrap();
    f.id
}

fn fire(flow: &Id, key: &str, instant: i64, node: &str) -> TimerFire {
    TimerFire {
        flow_id: flow.clone(),
        trigger_key: key.into(),
        instant: ts(instant),
        node_id: node.into(),
        claimed_at: ts(instant + 3),
    }
}

async fn timer_flows_are_the_enabled_ones_with_timers(s: Arc<SqlStore>) {
    let ids = IdGen::new();
    let a = app(&s, &ids).await;
    let job = "0123456789abcdef01234567";
    let on = flow(
        &s,
        &ids,
        &a,
        &[("resourceJobComplete", job), ("timer", "t1")],
        true,
    )
    .await;
    let _off = flow(&s, &ids, &a, &[("timer", "t2")], false).await;
    let _job_only = flow(&s, &ids, &a, &[("resourceJobIteration", job)], true).await;
    let other_app = app(&s, &ids).await;
    let elsewhere = flow(&s, &ids, &other_app, &[("timer", "t3")], true).await;
    let got: Vec<Id> = s
        .timer_flows()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(
        got,
        vec![on.clone(), elsewhere],
        "enabled timer flows of every application"
    );

    // Disabling a flow takes it off the list; enabling it puts it back.
    let mut rec = s.get_flow(&a, &on).await.unwrap().unwrap();
    rec.enabled = false;
    rec.version = 2;
    s.update_flow(&rec, 1).await.unwrap();
    assert_eq!(s.timer_flows().await.unwrap().len(), 1);
}

async fn an_instant_is_claimed_once_and_only_forward(s: Arc<SqlStore>) {
    let ids = IdGen::new();
    let a = app(&s, &ids).await;
    let f = flow(&s, &ids, &a, &[("timer", "k1"), ("timer", "k2")], true).await;
    assert!(s.timer_fires_of(&f).await.unwrap().is_empty());

    assert!(s
        .claim_timer_instant(&fire(&f, "k1", 10_000, "n1"))
        .await
        .unwrap());
    assert!(
        !s.claim_timer_instant(&fire(&f, "k1", 10_000, "n2"))
            .await
            .unwrap(),
        "the second claim of the same instant loses"
    );
    assert!(
        !s.claim_timer_instant(&fire(&f, "k1", 9_000, "n2"))
            .await
            .unwrap(),
        "an older instant can no longer be claimed"
    );
    assert!(
        s.claim_timer_instant(&fire(&f, "k2", 10_000, "n2"))
            .await
            .unwrap(),
        "each timer has its own instants"
    );
    assert!(s
        .claim_timer_instant(&fire(&f, "k1", 11_000, "n2"))
        .await
        .unwrap());
    assert_eq!(
        s.timer_fires_of(&f).await.unwrap(),
        vec![fire(&f, "k1", 11_000, "n2"), fire(&f, "k2", 10_000, "n2")],
        "one row per timer: the latest claim"
    );

    // Saving the flow without timer k2 prunes k2's row; k1 keeps its instant.
    let mut rec = s.get_flow(&a, &f).await.unwrap().unwrap();
    rec.triggers = vec![("timer".into(), "k1".into())];
    rec.version = 2;
    s.update_flow(&rec, 1).await.unwrap();
    assert_eq!(
        s.timer_fires_of(&f).await.unwrap(),
        vec![fire(&f, "k1", 11_000, "n2")],
        "a removed timer's row is pruned"
    );

    // A deleted flow's timers are gone, and claiming for it wins nothing.
    assert!(s.delete_flow(&a, &f).await.unwrap());
    assert!(s.timer_fires_of(&f).await.unwrap().is_empty());
    assert!(!s
        .claim_timer_instant(&fire(&f, "k1", 12_000, "n1"))
        .await
        .unwrap());
}

async fn racing_nodes_claim_each_instant_once(s: Arc<SqlStore>) {
    let ids = IdGen::new();
    let a = app(&s, &ids).await;
    let f = flow(&s, &ids, &a, &[("timer", "k")], true).await;
    // Four "nodes", each with its own connection pool to the same database.
    let mut nodes: Vec<Arc<SqlStore>> = vec![s.clone()];
    for _ in 0..3 {
        nodes.push(Arc::new(rjobs_store::connect(s.url()).await.unwrap()));
    }
    let mut wins = vec![0u32; 20];
    for instant in 0..20i64 {
        let tasks: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(n, store)| {
                let store = store.clone();
                let fr = fire(&f, "k", 100_000 + instant * 1_000, &format!("n{n}"));
                tokio::spawn(async move { store.claim_timer_instant(&fr).await.unwrap() })
            })
            .collect();
        for t in tasks {
            if t.await.unwrap() {
                wins[instant as usize] += 1;
            }
        }
    }
    assert!(
        wins.iter().all(|w| *w == 1),
        "exactly one winner per instant: {wins:?}"
    );
    let last = s.timer_fires_of(&f).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].instant, ts(119_000));
    for n in &nodes[1..] {
        n.close().await;
    }
}

rjobs_store::store_suite!(
    timer_flows_are_the_enabled_ones_with_timers,
    an_instant_is_claimed_once_and_only_forward,
    racing_nodes_claim_each_instant_once,
);
