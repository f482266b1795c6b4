//! Operator controls through the real binary, on SQLite and PostgreSQL: the new job fields are
//! validated with the field named; a dry run answers the target set and writes nothing; pause
//! holds every start while the attempts in flight are acknowledged, survives kill -9 and a
//! restart, and resume carries on; a final execution refuses pause and resume; a re-run takes
//! exactly the listed final statuses (404 for an unknown execution, 400 when none match).

mod common;

use std::time::Duration;

use common::{assert_error, Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

async fn call(
    c: &Client,
    srv: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    c.call(method, &srv.url(path), Some(ADMIN), body.as_ref())
        .await
}

async fn iterations(c: &Client, srv: &Server, exec: &str, status: &str) -> Vec<Value> {
    let (st, v) = call(
        c,
        srv,
        "GET",
        &format!("{exec}/iterations?status={status}"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

/// Polls until `n` iterations are in `status` (at most 10 s).
async fn wait_for(c: &Client, srv: &Server, exec: &str, status: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let items = iterations(c, srv, exec, status).await;
        if items.len() == n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{exec}: never {n} iterations {status}");
}

async fn status(c: &Client, srv: &Server, exec: &str) -> Value {
    let (st, v) = call(c, srv, "GET", exec, None).await;
    assert_eq!(st, 200, "{v}");
    v
}

async fn ack_all(c: &Client, srv: &Server, exec: &str, items: &[Value], ok: bool) {
    for i in items {
        let id = i["id"].as_str().unwrap();
        let (st, v) = call(
            c,
            srv,
            "POST",
            &format!("{exec}/iterations/{id}/acknowledge"),
            Some(json!({"success": ok})),
        )
        .await;
        assert_eq!(st, 200, "{v}");
    }
}

async fn controls(db: Db) {
    let data = Data::new(db).await;
    let mut srv = Server::start(&data, &[]);
    let c = Client::new();
    let (st, app) = call(
        &c,
        &srv,
        "POST",
        "/applications",
        Some(json!({"name": "ops"})),
    )
    .await;
    assert_eq!(st, 201);
    let app = app["id"].as_str().unwrap().to_string();
    let devs: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("pump-{i:02}")}))
        .collect();
    let (st, _) = call(
        &c,
        &srv,
        "POST",
        &format!("/applications/{app}/devices/bulk"),
        Some(Value::Array(devs)),
    )
    .await;
    assert_eq!(st, 201);
    let jobs = format!("/applications/{app}/resource-jobs");
    // bad control fields: 400 naming the field, nothing created
    let base = json!({"name": "fw", "resourceType": "device", "maxIterationConcurrency": 2});
    for (field, value, needle) in [
        (
            "abortConfig",
            json!({"criteria": [{"outcome": "failed", "thresholdPercent": 120, "minFinished": 1}]}),
            "abortConfig.criteria[0].thresholdPercent",
        ),
        (
            "abortConfig",
            json!({"criteria": [{"outcome": "sometimes", "thresholdPercent": 1, "minFinished": 1}]}),
            "abortConfig.criteria[0].outcome",
        ),
        (
            "rolloutConfig",
            json!({"maxPerMinute": 0}),
            "rolloutConfig.maxPerMinute",
        ),
        (
            "rolloutConfig",
            json!({"maxPerMinute": 10, "exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 9, "rateIncreaseCriteria": {"numberOfSucceeded": 1}}}),
            "rolloutConfig.exponentialRate.incrementFactor",
        ),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let got = call(&c, &srv, "POST", &jobs, Some(body)).await;
        assert_error(&got, 400, "Validation", needle);
    }
    let (st, list) = call(&c, &srv, "GET", &jobs, None).await;
    assert_eq!((st, list["totalCount"].as_u64()), (200, Some(0)));
    let mut body = base.clone();
    body["abortConfig"] =
        json!({"criteria": [{"outcome": "any", "thresholdPercent": 50, "minFinished": 4}]});
    body["rolloutConfig"] = json!({"maxPerMinute": 600000});
    let (st, job) = call(&c, &srv, "POST", &jobs, Some(body)).await;
    assert_eq!(st, 201, "{job}");
    assert_eq!(job["abortConfig"]["criteria"][0]["thresholdPercent"], 50.0);
    assert_eq!(job["rolloutConfig"]["maxPerMinute"], 600000);
    let job = format!("{jobs}/{}", job["id"].as_str().unwrap());

    // dry run: the target set, nothing written
    let (st, d) = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute?dryRun=true"),
        Some(json!({"queryJson": "{\"name\": {\"$startsWith\": \"pump-0\"}}"})),
    )
    .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (d["dryRun"].as_bool(), d["count"].as_u64()),
        (Some(true), Some(10))
    );
    assert_eq!(d["sample"].as_array().unwrap().len(), 10);
    assert_eq!(d["sample"][0]["name"], "pump-00");
    assert_eq!(d["queryJson"], json!({"name": {"$startsWith": "pump-0"}}));
    let (st, logs) = call(&c, &srv, "GET", &format!("{job}/logs?limit=100"), None).await;
    assert_eq!(
        (st, logs.as_array().map(Vec::len)),
        (200, Some(0)),
        "a dry run creates no execution"
    );

    // execute; two start; pause; their acks are applied, nothing else starts
    let (st, e) = call(&c, &srv, "POST", &format!("{job}/execute"), Some(json!({}))).await;
    assert_eq!(st, 200, "{e}");
    let exec_id = e["executionId"].as_str().unwrap().to_string();
    let exec = format!("{job}/executions/{exec_id}");
    let running = wait_for(&c, &srv, &exec, "inProgress", 2).await;
    let pause = format!("{job}/pauseExecution?executionId={exec_id}");
    let resume = format!("{job}/resumeExecution?executionId={exec_id}");
    assert_eq!(
        call(&c, &srv, "POST", &pause, None).await,
        (200, json!({"success": true}))
    );
    assert_eq!(
        call(&c, &srv, "POST", &pause, None).await.0,
        200,
        "idempotent"
    );
    assert_eq!(status(&c, &srv, &exec).await["status"], "paused");
    ack_all(&c, &srv, &exec, &running, true).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        iterations(&c, &srv, &exec, "inProgress").await.is_empty(),
        "nothing starts while paused"
    );
    assert_eq!(iterations(&c, &srv, &exec, "pending").await.len(), 8);
    // kill -9 while paused; the restarted server keeps it paused
    srv.kill9();
    srv = Server::start(&data, &[]);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let v = status(&c, &srv, &exec).await;
    assert_eq!(v["status"], "paused", "{v}");
    assert_eq!(v["executionSummary"]["succeeded"], 2);
    assert_eq!(v["currentRatePerMinute"], 600000);
    assert_eq!(iterations(&c, &srv, &exec, "pending").await.len(), 8);
    // resume: the next two start
    assert_eq!(
        call(&c, &srv, "POST", &resume, None).await,
        (200, json!({"success": true}))
    );
    let running = wait_for(&c, &srv, &exec, "inProgress", 2).await;
    // failures: 2 succeeded + 2 failed = 50% of 4 finished reaches the abort threshold
    ack_all(&c, &srv, &exec, &running, false).await;
    // a slot freed by the first failure may have been refilled before the second arrived:
    // whatever is still in flight drains
    let mut v = Value::Null;
    for _ in 0..200 {
        v = status(&c, &srv, &exec).await;
        if v["status"] != "inProgress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(v["cancelSourceType"], "abortConfig", "{v}");
    assert_eq!(v["abortReason"]["finished"], 4);
    assert_eq!(v["abortReason"]["matched"], 2);
    let flying = iterations(&c, &srv, &exec, "inProgress").await;
    ack_all(&c, &srv, &exec, &flying, true).await;
    for _ in 0..200 {
        v = status(&c, &srv, &exec).await;
        if v["status"] == "canceled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(v["status"], "canceled", "{v}");
    assert_eq!(
        iterations(&c, &srv, &exec, "notStarted").await.len(),
        6 - flying.len(),
        "the pending ones never start"
    );
    for path in [&pause, &resume] {
        let got = call(&c, &srv, "POST", path, None).await;
        assert_error(&got, 400, "Validation", "canceled");
    }

    // re-runs
    let rerun =
        |statuses: Value| json!({"rerunOf": {"executionId": exec_id, "statuses": statuses}});
    let (st, r) = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute"),
        Some(rerun(json!(["failed"]))),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let re = format!("{job}/executions/{}", r["executionId"].as_str().unwrap());
    let v = status(&c, &srv, &re).await;
    assert_eq!(v["rerunOf"]["executionId"], exec_id.as_str());
    let total: u64 = ["succeeded", "failed", "timedOut", "inProgress", "remaining"]
        .iter()
        .map(|k| v["executionSummary"][k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2, "exactly the two failures: {v}");
    let got = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute"),
        Some(rerun(json!(["timedOut"]))),
    )
    .await;
    assert_error(&got, 400, "Validation", "rerunOf");
    let got = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute"),
        Some(json!({"rerunOf": {"executionId": "000000000000000000000000"}})),
    )
    .await;
    assert_error(&got, 404, "NotFound", "Execution");
    let got = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute"),
        Some(rerun(json!(["pending"]))),
    )
    .await;
    assert_error(&got, 400, "Validation", "rerunOf.statuses[0]");
    let got = call(
        &c,
        &srv,
        "POST",
        &format!("{job}/execute"),
        Some(json!({"rerunOf": {"executionId": exec_id}, "templateContext": "{}"})),
    )
    .await;
    assert_error(&got, 400, "Validation", "templateContext");
    drop(srv);
    data.cleanup().await;
}

#[tokio::test]
async fn controls_sqlite() {
    controls(Db::Sqlite).await;
}

#[tokio::test]
async fn controls_postgres() {
    controls(Db::Postgres).await;
}
