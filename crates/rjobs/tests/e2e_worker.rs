//! The worker API through the real binary, on SQLite and PostgreSQL: claim hands every started
//! attempt out once (concurrent claimers included) with its payload, the batch acknowledge
//! applies each item with its own result (applied, conflict, notFound) in one request, the
//! single acknowledge takes `attempt` (an older one is 409 and changes nothing), a string
//! accumulator holding JSON is taken as that JSON, and bad bodies are 400s naming the field.

mod common;

use std::collections::HashSet;

use common::{assert_error, Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

struct Run {
    exec: String,
}

async fn setup(c: &Client, srv: &Server, devices: usize, concurrency: u32) -> (String, Run) {
    let app = c.create_app(srv, "w").await;
    c.bulk_devices(srv, &app, (0..devices).map(|i| format!("d{i:03}")))
        .await;
    let (st, job) = c
        .call(
            "POST",
            &srv.url(&format!("/applications/{app}/resource-jobs")),
            Some(ADMIN),
            Some(&json!({"name": "j", "resourceType": "device",
                "maxIterationConcurrency": concurrency, "retryOnFailure": true,
                "maxIterationRetries": 1})),
        )
        .await;
    assert_eq!(st, 201);
    let job = format!(
        "/applications/{app}/resource-jobs/{}",
        job["id"].as_str().unwrap()
    );
    let exec = c.execute(srv, &job).await;
    (job, Run { exec })
}

async fn claim(c: &Client, srv: &Server, run: &Run, limit: u32, wait: u64) -> Vec<Value> {
    let (st, v) = c
        .call(
            "POST",
            &srv.url(&format!("{}/iterations/claim", run.exec)),
            Some(ADMIN),
            Some(&json!({"limit": limit, "waitMs": wait})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn worker_api(db: Db) {
    let data = Data::new(db).await;
    let srv = Server::start(&data, &[]);
    let c = Client::new();
    let (_job, run) = setup(&c, &srv, 30, 10).await;
    // Four concurrent claimers long-poll until every one of the 10 started attempts is out.
    let mut seen: Vec<String> = Vec::new();
    let got = futures_join(&c, &srv, &run).await;
    for items in got {
        for i in items {
            assert_eq!(i["attempt"], 1);
            assert!(i["deadline"].is_string());
            assert_eq!(i["payload"]["iterationId"], i["id"]);
            assert_eq!(i["payload"]["device"]["name"], i["resourceName"]);
            seen.push(i["id"].as_str().unwrap().to_string());
        }
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 10, "the cap's worth, each once: {seen:?}");
    assert_eq!(distinct.len(), 10);
    assert!(
        claim(&c, &srv, &run, 100, 0).await.is_empty(),
        "nothing twice"
    );
    // One batch: applied, applied (failure, retried later), conflict (stale attempt), notFound.
    let other = format!(
        "{}-000000000000000000000000",
        run.exec.rsplit('/').next().unwrap()
    );
    let items = json!([
        {"iterationId": seen[0], "attempt": 1, "success": true, "message": "ok"},
        {"iterationId": seen[1], "success": false, "message": "boom"},
        {"iterationId": seen[2], "attempt": 3, "success": true},
        {"iterationId": other, "success": true},
        {"iterationId": "nonsense", "success": true},
    ]);
    let (st, v) = c
        .call(
            "POST",
            &srv.url(&format!("{}/acknowledge", run.exec)),
            Some(ADMIN),
            Some(&json!({ "items": items })),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let statuses: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["applied", "applied", "conflict", "notFound", "notFound"]
    );
    assert_eq!(v["results"][0]["iterationId"], seen[0]);
    assert!(v["results"][2]["message"]
        .as_str()
        .unwrap()
        .contains("attempt"));
    // The single acknowledge: an older attempt is 409; the current one (given or not) is 200.
    let ack = |id: &str| srv.url(&format!("{}/iterations/{id}/acknowledge", run.exec));
    let r = c
        .call(
            "POST",
            &ack(&seen[3]),
            Some(ADMIN),
            Some(&json!({"success": true, "attempt": 2})),
        )
        .await;
    assert_error(&r, 409, "Conflict", "attempt");
    let r = c
        .call(
            "POST",
            &ack(&seen[3]),
            Some(ADMIN),
            Some(&json!({"success": true, "attempt": 1})),
        )
        .await;
    assert_eq!(r.0, 200, "{:?}", r.1);
    let r = c
        .call(
            "POST",
            &ack(&seen[3]),
            Some(ADMIN),
            Some(&json!({"success": true})),
        )
        .await;
    assert_error(&r, 409, "Conflict", "final");
    // Bad bodies: 400 naming the field, nothing changes.
    for (path, body, field) in [
        ("iterations/claim", json!({"limit": 0}), "limit"),
        ("iterations/claim", json!({"limit": 1001}), "limit"),
        ("iterations/claim", json!({"waitMs": 30001}), "waitMs"),
        ("iterations/claim", json!({"limit": 5, "extra": 1}), "extra"),
        ("acknowledge", json!({"items": []}), "items"),
        (
            "acknowledge",
            json!({"items": [{"iterationId": seen[4]}]}),
            "success",
        ),
    ] {
        let r = c
            .call(
                "POST",
                &srv.url(&format!("{}/{path}", run.exec)),
                Some(ADMIN),
                Some(&body),
            )
            .await;
        assert_error(&r, 400, "Validation", field);
    }
    let many: Vec<Value> = (0..1001)
        .map(|_| json!({"iterationId": seen[4], "success": true}))
        .collect();
    let r = c
        .call(
            "POST",
            &srv.url(&format!("{}/acknowledge", run.exec)),
            Some(ADMIN),
            Some(&json!({ "items": many })),
        )
        .await;
    assert_error(&r, 400, "Validation", "items");
    // An unknown execution is 404.
    let job_path = run.exec.rsplit_once("/executions/").unwrap().0;
    let r = c
        .call(
            "POST",
            &srv.url(&format!(
                "{job_path}/executions/000000000000000000000000/iterations/claim"
            )),
            Some(ADMIN),
            Some(&json!({})),
        )
        .await;
    assert_error(&r, 404, "NotFound", "execution");
    // The failed one is retried as attempt 2, offered again; the freed slots bring new starts.
    let next = claim(&c, &srv, &run, 100, 5_000).await;
    assert!(!next.is_empty());
    let (st, it) = c
        .call(
            "GET",
            &srv.url(&format!("{}/iterations?status=succeeded", run.exec)),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(it["totalCount"], 2, "seen[0] and seen[3]");
    // One iteration by id, as the list shows it; a malformed id is a 400 naming the field, an id
    // of another execution or of no iteration a 404.
    let one = |id: &str| srv.url(&format!("{}/iterations/{id}", run.exec));
    let (st, i) = c.call("GET", &one(&seen[0]), Some(ADMIN), None).await;
    assert_eq!(st, 200, "{i}");
    assert_eq!(
        (&i["id"], &i["status"]),
        (&json!(seen[0]), &json!("succeeded"))
    );
    assert_eq!(i["attempts"], 1);
    assert_eq!(
        i,
        it["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == i["id"])
            .cloned()
            .unwrap()
    );
    let r = c.call("GET", &one("nonsense"), Some(ADMIN), None).await;
    assert_error(&r, 400, "Validation", "iterationId");
    let r = c.call("GET", &one(&other), Some(ADMIN), None).await;
    assert_error(&r, 404, "NotFound", "Iteration");
    let foreign = format!(
        "000000000000000000000000-{}",
        seen[0].rsplit('-').next().unwrap()
    );
    let r = c.call("GET", &one(&foreign), Some(ADMIN), None).await;
    assert_error(&r, 404, "NotFound", "Iteration");
    let (_, e) = c.call("GET", &srv.url(&run.exec), Some(ADMIN), None).await;
    assert_eq!(e["executionSummary"]["succeeded"], 2);
    assert!(
        e["executionSummary"]["inProgress"].as_u64().unwrap() <= 10,
        "the cap holds: {e}"
    );
    drop(srv);
    data.cleanup().await;
}

/// Four claims at once, each waiting up to 5 s for starts.
async fn futures_join(c: &Client, srv: &Server, run: &Run) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let (a, b, d, e) = tokio::join!(
        claim(c, srv, run, 3, 5_000),
        claim(c, srv, run, 3, 5_000),
        claim(c, srv, run, 3, 5_000),
        claim(c, srv, run, 3, 5_000),
    );
    out.extend([a, b, d, e]);
    // Whatever the first wave missed (starts may trickle in), claimed without waiting.
    loop {
        let more = claim(c, srv, run, 10, 500).await;
        if more.is_empty() {
            break;
        }
        out.push(more);
    }
    out
}

async fn serial_accumulator_given_as_json_text(db: Db) {
    let data = Data::new(db).await;
    let srv = Server::start(&data, &[]);
    let c = Client::new();
    let (_job, run) = setup(&c, &srv, 2, 1).await;
    let first = claim(&c, &srv, &run, 1, 5_000).await;
    assert_eq!(first[0]["payload"]["accumulator"], json!({}));
    let id = first[0]["id"].as_str().unwrap();
    let r = c
        .call(
            "POST",
            &srv.url(&format!("{}/iterations/{id}/acknowledge", run.exec)),
            Some(ADMIN),
            Some(&json!({"success": true, "accumulator": "{\"n\":1}"})),
        )
        .await;
    assert_eq!(r.0, 200, "{:?}", r.1);
    let second = claim(&c, &srv, &run, 1, 5_000).await;
    assert_eq!(
        second[0]["payload"]["accumulator"],
        json!({"n": 1}),
        "not encoded twice"
    );
    drop(srv);
    data.cleanup().await;
}

on_both_backends!(worker_api, serial_accumulator_given_as_json_text);
