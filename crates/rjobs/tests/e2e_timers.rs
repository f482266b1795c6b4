//! Timer triggers through the real binary: two `rjobs serve` nodes on one PostgreSQL database
//! run a `seconds: 1` timer flow, and its run log (one entry per firing, whichever node fired)
//! holds each second exactly once, with the original's payload. Then every node stops for a
//! few seconds and one starts again: the missed seconds fire once at start (the latest), not as
//! a burst, and the timer continues on schedule. Bad timer configs are 400s naming the field.

// Real processes and wall-clock waits: the real clock on purpose.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{assert_error, Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

async fn must(c: &Client, method: &str, url: &str, body: Option<&Value>, want: u16) -> Value {
    let (st, v) = c.call(method, url, Some(ADMIN), body).await;
    assert_eq!(st, want, "{method} {url}: {v}");
    v
}

fn start(data: &Data, node: &str) -> Server {
    tokio::task::block_in_place(|| Server::start(data, &[("RJOBS_CLUSTER__NODE_ID", node)]))
}

/// The flow's runs by fired instant (unix ms): how many runs each instant had, and the debug
/// message of its first run.
async fn runs(c: &Client, base: &str, flow: &str) -> BTreeMap<i64, (u32, String)> {
    let url = format!("{base}{flow}/logs?limit=1000");
    let v = must(c, "GET", &url, None, 200).await;
    let mut by_time: BTreeMap<i64, (u32, String)> = BTreeMap::new();
    for r in v.as_array().unwrap() {
        assert_eq!(r["status"], "success", "{r}");
        assert_eq!(r["triggerType"], "timer", "{r}");
        let t = rjobs_core::Timestamp::parse_rfc3339(&s(&r["time"]))
            .unwrap()
            .as_millis();
        let msg = r["debug"][0]["message"].as_str().unwrap_or("").to_string();
        let e = by_time.entry(t).or_insert((0, msg));
        e.0 += 1;
    }
    by_time
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_fire_each_instant_once_and_downtime_fires_once() {
    let data = Data::new(Db::Postgres).await;
    let c = Client::new();
    let n1 = start(&data, "n1");
    let n2 = start(&data, "n2");
    let app = s(&must(
        &c,
        "POST",
        &n1.url("/applications"),
        Some(&json!({"name": "Timers"})),
        201,
    )
    .await["id"]);
    let flows = format!("/applications/{app}/flows");

    // Bad timer configs: 400 in the original's shape, naming the field.
    for (config, needle) in [
        (json!({"cron": "61 * * * *"}), "triggers[0].config.cron"),
        (
            json!({"cron": "* * * * *", "tz": "Nowhere/Atlantis"}),
            "triggers[0].config.tz",
        ),
        (json!({"seconds": 0}), "triggers[0].config.seconds"),
        (
            json!({"seconds": 1, "cron": "* * * * *"}),
            "triggers[0].config",
        ),
        (json!({}), "triggers[0].config"),
    ] {
        let body = json!({"name": "bad", "triggers": [{"type": "timer", "config": config}]});
        let got = c
            .call("POST", &n2.url(&flows), Some(ADMIN), Some(&body))
            .await;
        assert_error(&got, 400, "Validation", needle);
    }

    let flow = json!({
        "name": "Every second",
        "triggers": [{"type": "timer", "config": {"seconds": 1}, "outputIds": [["d"]]}],
        "nodes": [{"id": "d", "type": "DebugNode", "outputIds": [[]],
                   "config": {"message": "{{triggerType}} {{triggerId}} {{applicationName}} {{time}}"}}],
    });
    let created = must(&c, "POST", &n1.url(&flows), Some(&flow), 201).await;
    let key = s(&created["triggers"][0]["key"]);
    assert!(!key.is_empty(), "a generated trigger key: {created}");
    let flow_id = s(&created["id"]);
    let flow_path = format!("{flows}/{flow_id}");

    // A cron timer (every 2 s, seconds first) into a Job: Execute node.
    let job = s(&must(
        &c,
        "POST",
        &n1.url(&format!("/applications/{app}/resource-jobs")),
        Some(&json!({"name": "scheduled", "resourceType": "device", "queryJson": "{}"})),
        201,
    )
    .await["id"]);
    let exec_flow = json!({
        "name": "Execute every 2 s",
        "triggers": [{"type": "timer", "config": {"cron": "*/2 * * * * *", "tz": "Europe/Paris"},
                      "outputIds": [["x"]]}],
        "nodes": [{"id": "x", "type": "ResourceJobExecuteNode", "outputIds": [[]],
                   "config": {"resourceJobIdTemplate": job, "resultPath": "working.exec"}}],
    });
    let exec_flow = must(&c, "POST", &n2.url(&flows), Some(&exec_flow), 201).await;
    let exec_flow_path = format!("{flows}/{}", s(&exec_flow["id"]));

    // Both nodes run the timers for ~6 s.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let exec_runs = runs(&c, &n1.base, &exec_flow_path).await;
    let logs = must(
        &c,
        "GET",
        &n2.url(&format!(
            "/applications/{app}/resource-jobs/{job}/logs?limit=100"
        )),
        None,
        200,
    )
    .await;
    let started: Vec<&Value> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["sourceType"] == "flow" && e["sourceId"] == exec_flow["id"])
        .collect();
    assert!(exec_runs.len() >= 2, "the cron timer fired: {exec_runs:?}");
    assert!(exec_runs.values().all(|(n, _)| *n == 1), "{exec_runs:?}");
    assert!(exec_runs.keys().all(|t| t % 2_000 == 0), "{exec_runs:?}");
    assert!(
        started.len() >= exec_runs.len() && started.len() <= exec_runs.len() + 1,
        "one execution per firing ({} runs logged, {} executions)",
        exec_runs.len(),
        started.len()
    );
    assert!(
        must(
            &c,
            "PATCH",
            &n1.url(&exec_flow_path),
            Some(&json!({"enabled": false})),
            200
        )
        .await["enabled"]
            == false
    );
    let seen = runs(&c, &n2.base, &flow_path).await;
    let dups: Vec<_> = seen.iter().filter(|(_, (n, _))| *n != 1).collect();
    assert!(dups.is_empty(), "instants fired more than once: {dups:?}");
    let times: Vec<i64> = seen.keys().copied().collect();
    assert!(times.len() >= 4, "a firing per second: {times:?}");
    assert!(
        times.iter().all(|t| t % 1_000 == 0),
        "whole seconds: {times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == 1_000),
        "every second, none skipped: {times:?}"
    );
    let (_, (_, msg)) = seen.iter().next().unwrap();
    assert!(
        msg.starts_with(&format!("timer {key} Timers 20")),
        "the payload has triggerType, triggerId, applicationName, time: {msg:?}"
    );

    // Every node down for ~3.5 s, then one comes back.
    n1.stop();
    n2.stop();
    let last_before = last_claimed(&data, &flow_id).await;
    assert!(last_before >= *times.last().unwrap());
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let n3 = start(&data, "n3");
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let all = runs(&c, &n3.base, &flow_path).await;
    assert!(all.values().all(|(n, _)| *n == 1), "no duplicates: {all:?}");
    let after: Vec<i64> = all.keys().copied().filter(|t| *t > last_before).collect();
    assert!(after.len() >= 3, "fires again after the restart: {after:?}");
    assert!(
        after[0] - last_before >= 3_000,
        "the seconds while all nodes were down fired once, not as a burst: last before \
         {last_before}, then {after:?}"
    );
    assert!(
        after.windows(2).all(|w| w[1] - w[0] == 1_000),
        "then on schedule: {after:?}"
    );
    n3.stop();
    data.cleanup().await;
}

/// The last instant any node claimed for the flow's timer, read from the database.
async fn last_claimed(data: &Data, flow_id: &str) -> i64 {
    use rjobs_store::TimerStore;
    let store = rjobs_store::connect(&data.url).await.unwrap();
    let id = rjobs_core::Id::parse(flow_id).unwrap();
    let fires = store.timer_fires_of(&id).await.unwrap();
    store.close().await;
    assert_eq!(fires.len(), 1, "one timer: {fires:?}");
    fires[0].instant.as_millis()
}
