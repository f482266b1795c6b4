//! The timer scheduler on a manual clock, on SQLite and PostgreSQL: an interval fires at each
//! instant, once; instants missed while every node was down fire once at start; two nodes on one
//! database fire each instant once between them; disabled, deleted and rescheduled flows; flows
//! whose content is broken do not stop the others.

use std::sync::Arc;

use rjobs_core::model::Application;
use rjobs_core::{Id, IdGen, ManualClock, Timestamp};
use rjobs_engine::{RecordingTimers, TimerScheduler};
use rjobs_store::testing::ts;
use rjobs_store::{ApplicationStore, FlowRecord, FlowStore, SqlStore, Store, TimerStore};
use serde_json::{json, Value};

/// 2026-03-01T00:00:00Z: a multiple of every interval used here.
const T0: i64 = 1_772_323_200_000;
const S: i64 = 1_000;

struct Fx {
    store: Arc<SqlStore>,
    clock: ManualClock,
    ids: IdGen,
    app: Id,
}

impl Fx {
    async fn new(store: Arc<SqlStore>) -> Fx {
        let ids = IdGen::new();
        let app = Application::new(ids.next(ts(T0)), "timers", "", ts(T0));
        store.insert_application(&app).await.unwrap();
        Fx {
            store,
            clock: ManualClock::at(ts(T0)),
            ids,
            app: app.id,
        }
    }

    /// A node: its own scheduler (and memory) on the shared store and clock.
    fn node(&self, name: &str) -> (TimerScheduler, Arc<RecordingTimers>) {
        let rec = Arc::new(RecordingTimers::default());
        let s = TimerScheduler::new(
            self.store.clone() as Arc<dyn Store>,
            Arc::new(self.clock.clone()),
            rec.clone(),
            name,
        );
        (s, rec)
    }

    fn now(&self) -> i64 {
        rjobs_core::Clock::now(&self.clock).as_millis()
    }

    fn record(&self, id: Id, body: Value, triggers: &[(&str, &str)], enabled: bool) -> FlowRecord {
        let now = ts(self.now());
        FlowRecord::new(
            id,
            self.app.clone(),
            "timer flow",
            body,
            triggers,
            enabled,
            now,
        )
    }

    /// Saves a flow with one timer keyed `key`, now (the clock's time is its last save).
    async fn timer_flow(&self, key: &str, config: Value) -> Id {
        let id = self.ids.next(ts(self.now()));
        let rec = self.record(id.clone(), body(key, config, true), &[("timer", key)], true);
        self.store.insert_flow(&rec).await.unwrap();
        id
    }

    /// Replaces the flow's document, now.
    async fn save(&self, id: &Id, key: &str, config: Value, enabled: bool) {
        let cur = self.store.get_flow(&self.app, id).await.unwrap().unwrap();
        let mut next = self.record(
            id.clone(),
            body(key, config, enabled),
            &[("timer", key)],
            enabled,
        );
        next.creation_date = cur.creation_date;
        next.version = cur.version + 1;
        self.store.update_flow(&next, cur.version).await.unwrap();
    }

    fn advance_to(&self, t: i64) {
        self.clock.set(Timestamp::from_millis(t));
    }
}

fn body(key: &str, config: Value, enabled: bool) -> Value {
    json!({
        "name": "timer flow",
        "enabled": enabled,
        "triggers": [{"type": "timer", "key": key, "config": config, "outputIds": [["d"]]}],
        "nodes": [{"id": "d", "type": "DebugNode", "config": {"message": "tick"}, "outputIds": [[]]}],
    })
}

/// The instants fired so far (relative to T0, in seconds), with their keys.
fn fired(rec: &RecordingTimers) -> Vec<(String, i64)> {
    rec.take()
        .into_iter()
        .map(|f| (f.key, (f.instant.as_millis() - T0) / S))
        .collect()
}

fn k(key: &str, secs: &[i64]) -> Vec<(String, i64)> {
    secs.iter().map(|s| (key.to_string(), *s)).collect()
}

async fn interval_fires_at_each_instant(s: Arc<SqlStore>) {
    let fx = Fx::new(s).await;
    fx.advance_to(T0 + 500);
    let flow = fx.timer_flow("t", json!({"seconds": 10})).await;
    let (node, rec) = fx.node("n1");
    // Saved at 0.5 s: the instant at 0 s is before the save, not missed.
    let wake = node.tick().await.unwrap();
    assert!(fired(&rec).is_empty());
    assert!(
        wake.as_millis() <= T0 + 1_500,
        "re-reads the flows within a second"
    );
    for i in 1..=5 {
        // Just before the instant nothing fires; at it, exactly it fires; again at it, nothing.
        fx.advance_to(T0 + i * 10 * S - 1);
        node.tick().await.unwrap();
        assert!(fired(&rec).is_empty(), "nothing before {i}0 s");
        fx.advance_to(T0 + i * 10 * S);
        let wake = node.tick().await.unwrap();
        assert!(wake.as_millis() > fx.now());
        node.tick().await.unwrap();
        let got = rec.take();
        assert_eq!(got.len(), 1, "one firing at {i}0 s");
        assert_eq!(got[0].instant, ts(T0 + i * 10 * S));
        assert_eq!(
            (got[0].flow.id.clone(), got[0].trigger_index),
            (flow.clone(), 0)
        );
    }
    let row = fx.store.timer_fires_of(&flow).await.unwrap();
    assert_eq!(
        (row[0].instant, row[0].node_id.as_str()),
        (ts(T0 + 50 * S), "n1")
    );
}

async fn missed_instants_fire_once_at_start(s: Arc<SqlStore>) {
    let fx = Fx::new(s).await;
    fx.timer_flow("t", json!({"seconds": 10})).await;
    let (before, rec) = fx.node("n1");
    fx.advance_to(T0 + 10 * S);
    before.tick().await.unwrap();
    assert_eq!(fired(&rec), k("t", &[10]));
    drop(before);
    // Every node is down for an hour; a fresh one starts at 3,605 s.
    fx.advance_to(T0 + 3_605 * S);
    let (after, rec) = fx.node("n2");
    after.tick().await.unwrap();
    after.tick().await.unwrap();
    assert_eq!(
        fired(&rec),
        k("t", &[3_600]),
        "one firing: the latest missed"
    );
    // Then on schedule.
    fx.advance_to(T0 + 3_610 * S);
    after.tick().await.unwrap();
    fx.advance_to(T0 + 3_620 * S);
    after.tick().await.unwrap();
    assert_eq!(fired(&rec), k("t", &[3_610, 3_620]));
}

async fn two_nodes_fire_each_instant_once(s: Arc<SqlStore>) {
    let fx = Fx::new(s).await;
    fx.timer_flow("a", json!({"seconds": 1})).await;
    fx.timer_flow("b", json!({"cron": "*/5 * * * * *"})).await;
    let (n1, r1) = fx.node("n1");
    let (n2, r2) = fx.node("n2");
    for ms in (250..=30_000).step_by(250) {
        fx.advance_to(T0 + ms);
        // Both nodes pass concurrently, in both orders.
        if ms % 500 == 0 {
            let (x, y) = tokio::join!(n1.tick(), n2.tick());
            x.unwrap();
            y.unwrap();
        } else {
            n2.tick().await.unwrap();
            n1.tick().await.unwrap();
        }
    }
    let (f1, f2) = (fired(&r1), fired(&r2));
    let mut all: Vec<_> = f1.iter().chain(f2.iter()).cloned().collect();
    all.sort();
    let mut want = k("a", &(1..=30).collect::<Vec<_>>());
    want.extend(k("b", &[5, 10, 15, 20, 25, 30]));
    want.sort();
    assert_eq!(all, want, "every instant exactly once across the two nodes");
}

async fn disabled_deleted_and_rescheduled_flows(s: Arc<SqlStore>) {
    let fx = Fx::new(s).await;
    let flow = fx.timer_flow("t", json!({"seconds": 10})).await;
    let (node, rec) = fx.node("n1");
    fx.advance_to(T0 + 10 * S);
    node.tick().await.unwrap();
    assert_eq!(fired(&rec), k("t", &[10]));

    // Disabled at 12 s: nothing at 20 s or 30 s.
    fx.advance_to(T0 + 12 * S);
    fx.save(&flow, "t", json!({"seconds": 10}), false).await;
    for t in [20, 30] {
        fx.advance_to(T0 + t * S);
        node.tick().await.unwrap();
    }
    assert!(fired(&rec).is_empty(), "a disabled flow does not fire");

    // Re-enabled at 35 s with a 60 s interval: the instants while disabled are not back-filled;
    // the next firing is at 60 s, not 40 s.
    fx.advance_to(T0 + 35 * S);
    fx.save(&flow, "t", json!({"seconds": 60}), true).await;
    node.tick().await.unwrap();
    fx.advance_to(T0 + 40 * S);
    node.tick().await.unwrap();
    assert!(fired(&rec).is_empty());
    fx.advance_to(T0 + 60 * S);
    node.tick().await.unwrap();
    assert_eq!(fired(&rec), k("t", &[60]), "the new schedule took effect");

    // Deleted: nothing more.
    assert!(fx.store.delete_flow(&fx.app, &flow).await.unwrap());
    fx.advance_to(T0 + 120 * S);
    node.tick().await.unwrap();
    assert!(fired(&rec).is_empty(), "a deleted flow does not fire");
}

async fn broken_flows_do_not_stop_the_others(s: Arc<SqlStore>) {
    let fx = Fx::new(s).await;
    // Stored documents a save would have refused: not a flow, a bad cron, a timer with no key.
    let junk = [
        json!("not a flow"),
        body("x", json!({"cron": "61 * * * *"}), true),
        json!({"name": "n", "triggers": [{"type": "timer", "config": {"seconds": 1}}]}),
        json!({"name": "n", "triggers": [{"type": "timer", "key": 5, "config": {"seconds": "1"}}]}),
    ];
    for b in junk {
        let rec = fx.record(fx.ids.next(ts(T0)), b, &[("timer", "x")], true);
        fx.store.insert_flow(&rec).await.unwrap();
    }
    fx.timer_flow("good", json!({"seconds": 1})).await;
    let (node, rec) = fx.node("n1");
    for t in 1..=3 {
        fx.advance_to(T0 + t * S);
        node.tick().await.unwrap();
    }
    assert_eq!(fired(&rec), k("good", &[1, 2, 3]));
}

rjobs_store::store_suite!(
    interval_fires_at_each_instant,
    missed_instants_fire_once_at_start,
    two_nodes_fire_each_instant_once,
    disabled_deleted_and_rescheduled_flows,
    broken_flows_do_not_stop_the_others,
);
