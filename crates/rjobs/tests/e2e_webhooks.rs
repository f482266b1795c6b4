//! Webhooks through the real binary: a local receiver (axum on 127.0.0.1, opened with
//! `outbound.allow_nets`) verifies every delivery's signature with the `standardwebhooks`
//! crate; a receiver answering 500 twice gets the same `webhook-id` three times, and
//! `/deliveries` shows those attempts; validation errors name the field and change nothing;
//! the secret appears in the create answer only — never in a list, a get, a patch or the
//! server's log (run at debug level); kill -9 with deliveries pending loses none (SQLite and
//! PostgreSQL).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    headers: HeaderMap,
    body: Bytes,
    answered: u16,
}

/// The receiver: records every request; answers 500 to the first `fail_first` requests of
/// each `webhook-id` whose body has type `fail_type`, 503 to all while `down`, else 204.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    down: Arc<AtomicBool>,
    fail_type: Option<&'static str>,
    fail_first: usize,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let ty = serde_json::from_slice::<Value>(&body)
        .ok()
        .map(|v| v["type"].clone());
    let mut got = r.got.lock().unwrap();
    let before = got.iter().filter(|g| g.id == id).count();
    let code = if r.down.load(Ordering::SeqCst) {
        503
    } else if r.fail_type.is_some_and(|t| ty == Some(json!(t))) && before < r.fail_first {
        500
    } else {
        204
    };
    got.push(Got {
        id,
        headers,
        body,
        answered: code,
    });
    StatusCode::from_u16(code).unwrap()
}

async fn start_receiver(r: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

const FAST: &[(&str, &str)] = &[
    ("RJOBS_OUTBOUND__ALLOW_NETS", "127.0.0.1/32"),
    ("RJOBS_WEBHOOKS__POLL_MS", "50"),
    ("RJOBS_WEBHOOKS__TIMEOUT_MS", "2000"),
    ("RJOBS_WEBHOOKS__LEASE_MS", "3000"),
];

struct App {
    c: Client,
    base: String,
    app: String,
}

impl App {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.c
            .call(
                method,
                &format!("{}{path}", self.base),
                Some(ADMIN),
                body.as_ref(),
            )
            .await
    }

    async fn new(srv: &Server) -> App {
        let c = Client::new();
        App {
            app: c.create_app(srv, "hooks").await,
            c,
            base: srv.base.clone(),
        }
    }

    /// Creates `n` devices and a job over them, executes it; returns the execution path.
    async fn execute(&self, n: usize) -> String {
        let a = &self.app;
        let devs: Vec<Value> = (0..n)
            .map(|i| json!({"name": format!("pump-{i:03}")}))
            .collect();
        let (st, _) = self
            .call(
                "POST",
                &format!("/applications/{a}/devices/bulk"),
                Some(Value::Array(devs)),
            )
            .await;
        assert_eq!(st, 201);
        let jobs = format!("/applications/{a}/resource-jobs");
        let (st, job) = self
            .call(
                "POST",
                &jobs,
                Some(json!({"name": "fw", "resourceType": "device",
                "maxIterationConcurrency": 100, "iterationTimeout": 600000})),
            )
            .await;
        assert_eq!(st, 201, "{job}");
        let job = format!("{jobs}/{}", job["id"].as_str().unwrap());
        let (st, v) = self
            .call("POST", &format!("{job}/execute"), Some(json!({})))
            .await;
        assert_eq!(st, 200, "{v}");
        format!("{job}/executions/{}", v["executionId"].as_str().unwrap())
    }

    /// Acknowledges every iteration (`fail(name)` decides failures) until the execution
    /// completes.
    async fn ack_all(&self, exec: &str, fail: impl Fn(&str) -> bool) {
        for _ in 0..400 {
            let (st, v) = self.call("GET", exec, None).await;
            assert_eq!(st, 200, "{v}");
            if v["status"] == "completed" {
                return;
            }
            let (_, its) = self
                .call(
                    "GET",
                    &format!("{exec}/iterations?status=inProgress&perPage=1000"),
                    None,
                )
                .await;
            for i in its["items"].as_array().unwrap() {
                let name = i["resourceName"].as_str().unwrap();
                let body = json!({"success": !fail(name), "message": format!("{name} done")});
                let path = format!(
                    "{exec}/iterations/{}/acknowledge",
                    i["id"].as_str().unwrap()
                );
                let (st, v) = self.call("POST", &path, Some(body)).await;
                assert!(st == 200 || st == 409, "{st} {v}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the execution did not complete");
    }

    async fn webhook(&self, url: &str) -> (String, String) {
        let (st, v) = self
            .call(
                "POST",
                &format!("/applications/{}/webhooks", self.app),
                Some(json!({
                    "name": "ops", "url": url,
                    "events": ["execution.started", "execution.completed", "iteration.failed"],
                })),
            )
            .await;
        assert_eq!(st, 201, "{v}");
        let secret = v["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"), "{secret}");
        (v["id"].as_str().unwrap().to_string(), secret)
    }
}

/// Waits until `done(received)` holds (at most 60 s).
async fn wait_for(r: &Receiver, what: &str, done: impl Fn(&[Got]) -> bool) {
    for _ in 0..1200 {
        if done(&r.got.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "timed out waiting for {what}: {:?}",
        r.got.lock().unwrap().len()
    );
}

/// Every request verifies with the secret; returns the bodies by webhook id.
fn verify_all(got: &[Got], secret: &str) -> HashMap<String, Value> {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    let mut out = HashMap::new();
    for g in got {
        wh.verify(&g.body, &g.headers)
            .unwrap_or_else(|e| panic!("signature of {}: {e}", g.id));
        let v: Value = serde_json::from_slice(&g.body).unwrap();
        assert!(v["timestamp"].is_string() && v["data"].is_object(), "{v}");
        out.insert(g.id.clone(), v);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_retried_and_secret_never_shown_again() {
    let r = Receiver {
        fail_type: Some("execution.started"),
        fail_first: 2,
        ..Receiver::default()
    };
    let url = start_receiver(r.clone()).await;
    let data = Data::new(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let mut envs = FAST.to_vec();
    envs.extend([
        ("RJOBS_WEBHOOKS__RETRY_SCHEDULE_MS", "300,300,300"),
        ("RUST_LOG", "debug"),
    ]);
    let srv = Server::start_logged(&data, &envs, &log);
    let a = App::new(&srv).await;
    let hooks = format!("/applications/{}/webhooks", a.app);

    // Validation names the field and creates nothing.
    for (body, field) in [
        (
            json!({"name": "x", "url": "ftp://127.0.0.1/", "events": ["execution.started"]}),
            "url",
        ),
        (
            json!({"name": "x", "url": "not a url", "events": ["execution.started"]}),
            "url",
        ),
        (
            json!({"name": "x", "url": &url, "events": ["execution.begun"]}),
            "events[0]",
        ),
        (json!({"name": "x", "url": &url, "events": []}), "events"),
        (
            json!({"name": "", "url": &url, "events": ["execution.started"]}),
            "name",
        ),
    ] {
        let got = a.call("POST", &hooks, Some(body)).await;
        common::assert_error(&got, 400, "Validation", field);
    }
    let (_, list) = a.call("GET", &hooks, None).await;
    assert_eq!(list["totalCount"], 0, "{list}");

    let (id, secret) = a.webhook(&url).await;
    let raw = secret.trim_start_matches("whsec_").to_string();
    let one = format!("{hooks}/{id}");
    let (st, listed) = a.call("GET", &hooks, None).await;
    assert_eq!((st, listed["totalCount"].clone()), (200, json!(1)));
    let (st, got) = a.call("GET", &one, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        got["events"],
        json!([
            "execution.started",
            "execution.completed",
            "iteration.failed"
        ])
    );
    let (st, patched) = a.call("PATCH", &one, Some(json!({"name": "ops 2"}))).await;
    assert_eq!((st, patched["name"].clone()), (200, json!("ops 2")));
    let bad = a
        .call("PATCH", &one, Some(json!({"url": "gopher://x"})))
        .await;
    common::assert_error(&bad, 400, "Validation", "url");
    for v in [&listed, &got, &patched] {
        let text = v.to_string();
        assert!(!text.contains(&raw) && !text.contains("secret"), "{text}");
    }

    let exec = a.execute(3).await;
    a.ack_all(&exec, |n| n != "pump-001").await;
    // started (three times: 500, 500, 204), two iteration.failed, completed.
    wait_for(&r, "every event delivered", |g| {
        let ok: HashSet<&str> = g
            .iter()
            .filter(|x| x.answered == 204)
            .map(|x| x.id.as_str())
            .collect();
        ok.len() == 4
    })
    .await;
    let got = r.got.lock().unwrap().clone();
    let bodies = verify_all(&got, &secret);
    let by_type = |t: &str| -> Vec<&Value> { bodies.values().filter(|b| b["type"] == t).collect() };
    let started = by_type("execution.started");
    assert_eq!(started.len(), 1);
    let started_id = bodies
        .iter()
        .find(|(_, b)| b["type"] == "execution.started")
        .unwrap()
        .0;
    let tries: Vec<u16> = got
        .iter()
        .filter(|g| &g.id == started_id)
        .map(|g| g.answered)
        .collect();
    assert_eq!(
        tries,
        vec![500, 500, 204],
        "the same webhook-id three times"
    );
    let failed = by_type("iteration.failed");
    assert_eq!(failed.len(), 2);
    for f in &failed {
        assert!(f["data"]["resourceName"] != "pump-001", "{f}");
        assert_eq!(f["data"]["attempts"], 1);
        assert_eq!(f["data"]["status"], "failed");
        assert!(
            f["data"]["message"].as_str().unwrap().ends_with("done"),
            "{f}"
        );
        assert!(f["data"]["executionId"].is_string() && f["data"]["resourceJobId"].is_string());
    }
    let completed = by_type("execution.completed");
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["data"]["status"], "completed");
    assert_eq!(
        completed[0]["data"]["executionSummary"],
        json!({"succeeded": 1, "failed": 2, "timedOut": 0, "inProgress": 0, "remaining": 0})
    );

    // The attempts, newest first.
    wait_for(&r, "settled", |_| true).await;
    let (st, d) = a.call("GET", &format!("{one}/deliveries"), None).await;
    assert_eq!(st, 200, "{d}");
    // `limit` bounds the page, and an out-of-range one is refused naming the field.
    let (st, l) = a
        .call("GET", &format!("{one}/deliveries?limit=1"), None)
        .await;
    assert_eq!((st, l["count"].as_u64()), (200, Some(1)), "{l}");
    let (st, e) = a
        .call("GET", &format!("{one}/deliveries?limit=0"), None)
        .await;
    assert_eq!(st, 400, "{e}");
    assert!(e["message"].as_str().unwrap_or("").contains("limit"), "{e}");
    let mine: Vec<(u64, Value, String)> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["eventId"] == started_id.as_str())
        .map(|i| {
            (
                i["attempt"].as_u64().unwrap(),
                i["statusCode"].clone(),
                i["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        mine,
        vec![
            (3, json!(204), "delivered".to_string()),
            (2, json!(500), "retrying".to_string()),
            (1, json!(500), "retrying".to_string()),
        ]
    );
    let metrics = reqwest::get(srv.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let delivered = metrics
        .lines()
        .find(|l| l.starts_with("rjobs_webhook_deliveries_total{outcome=\"delivered\"}"))
        .expect("delivery metric");
    assert!(delivered.ends_with(" 4"), "{delivered}");

    let (st, _) = a.call("DELETE", &one, None).await;
    assert_eq!(st, 200);
    assert!(srv.stop().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("webhook attempt"),
        "the log was captured at debug level"
    );
    assert!(!text.contains(&raw), "the secret reached the log");
    data.cleanup().await;
}

async fn kill9_with_deliveries_pending_loses_none(db: Db) {
    let r = Receiver::default();
    r.down.store(true, Ordering::SeqCst);
    let url = start_receiver(r.clone()).await;
    let data = Data::new(db).await;
    let schedule = vec!["400"; 30].join(",");
    let mut envs = FAST.to_vec();
    envs.push(("RJOBS_WEBHOOKS__RETRY_SCHEDULE_MS", &schedule));
    let srv = Server::start(&data, &envs);
    let a = App::new(&srv).await;
    let (_, secret) = a.webhook(&url).await;
    let exec = a.execute(20).await;
    a.ack_all(&exec, |_| true).await;
    // The receiver is down: every event has been tried at least once, none delivered.
    wait_for(&r, "first attempts", |g| {
        g.iter().map(|x| &x.id).collect::<HashSet<_>>().len() == 22
    })
    .await;
    srv.kill9();
    r.down.store(false, Ordering::SeqCst);
    let srv = Server::start(&data, &envs);
    wait_for(&r, "every event delivered after the restart", |g| {
        g.iter()
            .filter(|x| x.answered == 204)
            .map(|x| x.id.as_str())
            .collect::<HashSet<_>>()
            .len()
            == 22
    })
    .await;
    let got = r.got.lock().unwrap().clone();
    let bodies = verify_all(&got, &secret);
    let failed = bodies
        .values()
        .filter(|b| b["type"] == "iteration.failed")
        .count();
    assert_eq!(failed, 20);
    assert!(srv.stop().success());
    data.cleanup().await;
}

on_both_backends!(kill9_with_deliveries_pending_loses_none);
