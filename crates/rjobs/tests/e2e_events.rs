//! The execution event stream through the real binary, on SQLite and PostgreSQL: 401 without a
//! token; events in order (ids never go back, `progress` counts never go back, `done` last and
//! then the stream closes; a pause and resume show as `status` events); the last `progress` equals the execution's summary; a reconnect with
//! `Last-Event-ID` continues the iterations with none lost or repeated; `?iterations=true` gives
//! exactly one `iteration` event per iteration; a stream served by another node of a cluster
//! sees the execution run; 200 concurrent streams with bounded server
//! memory (RSS from /proc, printed).

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
struct Ev {
    event: String,
    id: String,
    data: Value,
}

fn parse_id(id: &str) -> (i64, i64) {
    let (a, b) = id.split_once('-').expect("id is <n>-<n>");
    (a.parse().unwrap(), b.parse().unwrap())
}

/// Parses complete events out of `buf`, leaving a partial one.
fn drain_events(buf: &mut String) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let block: String = buf.drain(..end + 2).collect();
        let (mut event, mut id, mut data) = (String::new(), String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if !event.is_empty() {
            out.push(Ev {
                event,
                id,
                data: serde_json::from_str(&data).unwrap(),
            });
        }
    }
    out
}

/// Opens the stream and reads events until `stop` says so (true: keep what was read and drop
/// the connection) or the server closes it. Returns the events and whether the server closed.
async fn read_stream(
    http: &reqwest::Client,
    url: &str,
    last_id: Option<&str>,
    mut stop: impl FnMut(&[Ev]) -> bool,
) -> (Vec<Ev>, bool) {
    let mut rb = http.get(url).bearer_auth(ADMIN);
    if let Some(id) = last_id {
        rb = rb.header("last-event-id", id);
    }
    let mut resp = rb.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let mut buf = String::new();
    let mut evs = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(60), resp.chunk())
            .await
            .expect("an event (or keep-alive) within 60 s")
            .unwrap();
        let Some(chunk) = chunk else {
            return (evs, true);
        };
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        evs.extend(drain_events(&mut buf));
        if stop(&evs) {
            return (evs, false);
        }
    }
}

/// Acknowledges every iteration in progress (resources whose name ends in 0 or 5 fail);
/// returns how many.
async fn ack_round(c: &Client, base: &str, exec: &str) -> usize {
    let url = |p: &str| format!("{base}{p}");
    let (st, v) = c
        .call(
            "GET",
            &url(&format!("{exec}/iterations?status=inProgress&perPage=1000")),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let items = v["items"].as_array().unwrap().clone();
    for i in &items {
        let name = i["resourceName"].as_str().unwrap();
        let ok = !(name.ends_with('0') || name.ends_with('5'));
        let body = json!({"success": ok, "message": format!("{name} ok={ok}")});
        let (st, v) = c
            .call(
                "POST",
                &url(&format!(
                    "{exec}/iterations/{}/acknowledge",
                    i["id"].as_str().unwrap()
                )),
                Some(ADMIN),
                Some(&body),
            )
            .await;
        assert!(st == 200 || st == 409, "{st} {v}");
    }
    items.len()
}

/// Acknowledges rounds of in-progress iterations until at least `upto` were; returns how many.
fn spawn_acker(base: String, exec: String, upto: usize) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let c = Client::new();
        let mut acked = 0;
        while acked < upto {
            acked += ack_round(&c, &base, &exec).await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        acked
    })
}

struct Setup {
    srv: Server,
    c: Client,
    exec: String,
    n: usize,
}

impl Setup {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.c
            .call(method, &self.srv.url(path), Some(ADMIN), body.as_ref())
            .await
    }

    async fn ack_in_progress(&self) -> usize {
        ack_round(&self.c, &self.srv.base, &self.exec).await
    }

    async fn execution(&self) -> Value {
        let (st, v) = self.call("GET", &self.exec, None).await;
        assert_eq!(st, 200, "{v}");
        v
    }
}

async fn setup(data: &Data, n: usize, concurrency: u32) -> Setup {
    setup_on(Server::start(data, &[]), n, concurrency).await
}

async fn setup_on(srv: Server, n: usize, concurrency: u32) -> Setup {
    let c = Client::new();
    let app = c.create_app(&srv, "live").await;
    c.bulk_devices(&srv, &app, (0..n).map(|i| format!("pump-{i:03}")))
        .await;
    let jobs = format!("/applications/{app}/resource-jobs");
    let (st, job) = c
        .call(
            "POST",
            &srv.url(&jobs),
            Some(ADMIN),
            Some(&json!({"name": "fw", "resourceType": "device",
                "maxIterationConcurrency": concurrency, "iterationTimeout": 600000})),
        )
        .await;
    assert_eq!(st, 201, "{job}");
    let job = format!("{jobs}/{}", job["id"].as_str().unwrap());
    let exec = c.execute(&srv, &job).await;
    Setup { srv, c, exec, n }
}

/// Checks one stream's order: ids never go back, finished counts never go back, `done` is last.
#[track_caller]
fn assert_ordered(evs: &[Ev]) {
    let mut last_id = (0, 0);
    let mut last_done = 0;
    for (i, e) in evs.iter().enumerate() {
        let id = parse_id(&e.id);
        assert!(id >= last_id, "event {i} id {:?} after {last_id:?}", e.id);
        last_id = id;
        if e.event == "progress" {
            let s = &e.data["executionSummary"];
            let done: u64 = ["succeeded", "failed", "timedOut"]
                .iter()
                .map(|k| s[*k].as_u64().unwrap())
                .sum();
            assert!(done >= last_done, "progress went back: {s}");
            last_done = done;
            assert!(e.data["rate"].is_number() && e.data["at"].is_string());
        }
        if e.event == "done" {
            assert_eq!(i, evs.len() - 1, "done is the last event");
        }
    }
}

fn iteration_ids(evs: &[Ev]) -> Vec<String> {
    evs.iter()
        .filter(|e| e.event == "iteration")
        .map(|e| e.data["id"].as_str().unwrap().to_string())
        .collect()
}

async fn stream(db: Db) {
    let data = Data::new(db).await;
    let s = setup(&data, 12, 3).await;
    let http = reqwest::Client::new();
    let url = s.srv.url(&format!("{}/events?iterations=true", s.exec));

    // 401 without a token, in the error shape.
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["type"].is_string() && body["message"].is_string(),
        "{body}"
    );
    // A bad Last-Event-ID is a 400, not a silent restart.
    let resp = http
        .get(&url)
        .bearer_auth(ADMIN)
        .header("last-event-id", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // First connection: starts with progress + status, then follows the acks; dropped after
    // four iterations (the first acker stops once it acknowledged at least four).
    let first_acks = spawn_acker(s.srv.base.clone(), s.exec.clone(), 4);
    let (first, closed) = read_stream(&http, &url, None, |evs| {
        evs.iter().filter(|e| e.event == "iteration").count() >= 4
    })
    .await;
    assert!(!closed);
    assert_eq!(first[0].event, "progress", "{first:?}");
    assert_eq!(first[1].event, "status");
    assert_eq!(first[1].data["status"], "inProgress");
    assert_ordered(&first);
    let resume_at = first.last().unwrap().id.clone();
    let acked = first_acks.await.unwrap();
    assert!(acked < s.n, "not finished yet: {acked}");
    // Pause while disconnected, resume a little later: the resumed stream reports both.
    let (job, exec_id) = s.exec.split_once("/executions/").unwrap();
    let control = |what: &str| format!("{job}/{what}Execution?executionId={exec_id}");
    let (st, v) = s.call("POST", &control("pause"), None).await;
    assert_eq!(st, 200, "{v}");
    let acker = spawn_acker(s.srv.base.clone(), s.exec.clone(), s.n - acked);
    let resumer = {
        let (c, url) = (Client::new(), s.srv.url(&control("resume")));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let (st, v) = c.call("POST", &url, Some(ADMIN), None).await;
            assert_eq!(st, 200, "{v}");
        })
    };

    // Resume: the rest of the iterations, none twice, then done and the stream closes.
    let (rest, closed) = read_stream(&http, &url, Some(&resume_at), |_| false).await;
    assert!(closed, "done closes the stream");
    assert_eq!(acked + acker.await.unwrap(), s.n);
    assert_ordered(&rest);
    // A reconnection starts with the current state, then the iterations after its place.
    assert_eq!(rest[0].event, "progress", "{rest:?}");
    assert_eq!(rest[1].event, "status", "{rest:?}");
    assert!(
        parse_id(&rest[0].id) >= parse_id(&resume_at),
        "resumed ids continue"
    );
    let done = rest.last().unwrap();
    assert_eq!(done.event, "done");
    assert_eq!(done.data["status"], "completed");
    let statuses: Vec<&str> = rest
        .iter()
        .filter(|e| e.event == "status")
        .map(|e| e.data["status"].as_str().unwrap())
        .collect();
    // A status shorter than one poll (resume, then completion within 250 ms) may be coalesced;
    // the order never breaks and the final status is never missed.
    assert!(
        statuses == ["paused", "inProgress", "completed"] || statuses == ["paused", "completed"],
        "{statuses:?}"
    );
    resumer.await.unwrap();
    let mut all = iteration_ids(&first);
    all.extend(iteration_ids(&rest));
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(
        all.len(),
        s.n,
        "every iteration once across the resume: {all:?}"
    );
    assert_eq!(unique.len(), s.n);
    // The last progress is the execution's summary.
    let item = s.execution().await;
    let last_progress = rest.iter().rev().find(|e| e.event == "progress").unwrap();
    assert_eq!(
        last_progress.data["executionSummary"],
        item["executionSummary"]
    );
    assert_eq!(last_progress.data["status"], "completed");
    assert_eq!(last_progress.data["eta"], 0.0);
    assert_eq!(done.data["executionSummary"], item["executionSummary"]);

    // A fresh stream of the finished execution: exactly one iteration event per iteration,
    // matching the iterations listing, then done.
    let (whole, closed) = read_stream(&http, &url, None, |_| false).await;
    assert!(closed);
    assert_ordered(&whole);
    let its: Vec<&Ev> = whole.iter().filter(|e| e.event == "iteration").collect();
    assert_eq!(its.len(), s.n);
    let (_, listing) = s
        .call("GET", &format!("{}/iterations?perPage=100", s.exec), None)
        .await;
    for it in listing["items"].as_array().unwrap() {
        let ev = its
            .iter()
            .find(|e| e.data["id"] == it["id"])
            .unwrap_or_else(|| panic!("no event for {it}"));
        for k in [
            "resourceId",
            "resourceName",
            "status",
            "attempts",
            "message",
        ] {
            assert_eq!(ev.data[k], it[k], "{k} of {it}");
        }
    }
    let failed = its.iter().filter(|e| e.data["status"] == "failed").count();
    assert_eq!(failed, 3, "pump-000, -005, -010 fail");
    // Without iterations: progress, status, done only.
    let plain = s.srv.url(&format!("{}/events", s.exec));
    let (only, closed) = read_stream(&http, &plain, None, |_| false).await;
    assert!(closed);
    let kinds: Vec<&str> = only.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["progress", "status", "done"]);
    drop(s);
    data.cleanup().await;
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

async fn many_streams(db: Db) {
    const STREAMS: usize = 200;
    let data = Data::new(db).await;
    let s = setup(&data, 50, 50).await;
    let http = reqwest::Client::new();
    let url = s.srv.url(&format!("{}/events?iterations=true", s.exec));
    // Let the engine start every iteration, then take the baseline.
    for _ in 0..100 {
        if s.execution().await["executionSummary"]["inProgress"] == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = rss_kb(s.srv.pid());
    let mut tasks = Vec::new();
    for _ in 0..STREAMS {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            read_stream(&http, &url, None, |_| false).await
        }));
    }
    // All streams open and polling for a few seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = rss_kb(s.srv.pid());
    let mut acked = 0;
    while acked < 50 {
        acked += s.ack_in_progress().await;
    }
    for t in tasks {
        let (evs, closed) = t.await.unwrap();
        assert!(closed);
        assert_eq!(iteration_ids(&evs).len(), 50);
        assert_eq!(evs.last().unwrap().event, "done");
    }
    let after = rss_kb(s.srv.pid());
    println!(
        "{db:?}: server RSS {before} kB before, {during} kB with {STREAMS} streams open \
         (+{} kB, {:.1} kB/stream), {after} kB after",
        during.saturating_sub(before),
        during.saturating_sub(before) as f64 / STREAMS as f64
    );
    assert!(
        during.saturating_sub(before) < 64 * 1024,
        "{STREAMS} streams cost {} kB",
        during - before
    );
    drop(s);
    data.cleanup().await;
}

/// Two nodes on one PostgreSQL database: the execution runs and is acknowledged on one, the
/// stream is served by the other, and it sees everything (it reads the database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stream_from_another_node() {
    let data = Data::new(Db::Postgres).await;
    let a = Server::start(&data, &[("RJOBS_CLUSTER__NODE_ID", "node-a")]);
    let b = Server::start(&data, &[("RJOBS_CLUSTER__NODE_ID", "node-b")]);
    let s = setup_on(a, 8, 2).await;
    let http = reqwest::Client::new();
    let url = b.url(&format!("{}/events?iterations=true", s.exec));
    let acker = spawn_acker(s.srv.base.clone(), s.exec.clone(), s.n);
    let (evs, closed) = read_stream(&http, &url, None, |_| false).await;
    assert!(closed);
    assert_eq!(acker.await.unwrap(), s.n);
    assert_ordered(&evs);
    assert_eq!(iteration_ids(&evs).len(), s.n);
    let done = evs.last().unwrap();
    assert_eq!(done.event, "done");
    assert_eq!(
        done.data["executionSummary"],
        s.execution().await["executionSummary"]
    );
    drop((s, b));
    data.cleanup().await;
}

on_both_backends!(stream, many_streams);
