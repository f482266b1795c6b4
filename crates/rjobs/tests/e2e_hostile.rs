//! The hostile corpus through the real binary, on SQLite and PostgreSQL: every case is a 4xx in
//! the `{type, message}` shape or a failed flow run (its iteration then fails), the server answers
//! `/health` after each case, connections that never finish their headers are closed within the
//! header timeout, and the server's peak RSS (VmHWM) stays under [`RSS_BOUND_KIB`].

// Real time throughout: the server under test runs on the wall clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

/// The RSS the server may reach after the whole corpus (it idles at a few tens of MiB).
const RSS_BOUND_KIB: u64 = 512 * 1024;

/// A `/proc/<pid>/status` figure in KiB: `VmRSS` (now) or `VmHWM` (the peak).
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Ctx {
    c: Client,
    srv: Server,
    app: String,
}

impl Ctx {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.c
            .call(method, &self.srv.url(path), Some(ADMIN), body.as_ref())
            .await
    }

    async fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> (u16, Value) {
        self.c
            .raw(
                method,
                &self.srv.url(path),
                Some(ADMIN),
                Some("application/json"),
                body,
            )
            .await
    }

    /// The case was refused with a 4xx error body naming `needle`, and the server lives on.
    async fn refused(&self, case: &str, got: (u16, Value), needle: &str) {
        let (st, v) = got;
        assert!((400..500).contains(&st), "{case}: status {st}: {v}");
        assert!(v["type"].is_string(), "{case}: {v}");
        let m = v["message"].as_str().unwrap_or("");
        assert!(
            m.contains(needle),
            "{case}: message {m:?} should name {needle:?}"
        );
        self.alive(case).await;
    }

    async fn alive(&self, case: &str) {
        let (st, v) = self
            .c
            .call("GET", &self.srv.url("/health"), None, None)
            .await;
        assert_eq!(st, 200, "server unhealthy after {case}: {v}");
    }
}

/// Sends raw bytes on a fresh connection and returns what the server answered (until EOF or 5 s).
fn raw_tcp(base: &str, bytes: &[u8]) -> String {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const RECURSIVE: &str = r#"{{#*inline "p"}}{{> p}}{{/inline}}{{> p}}"#;
const MUTUAL: &str =
    r#"{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}{{> a}}"#;

fn deep_subexpressions(n: usize) -> String {
    format!(
        "{{{{lower {}ctx.x{}}}}}",
        "(lower ".repeat(n),
        ")".repeat(n)
    )
}

async fn template_cases(x: &Ctx) {
    let jobs = format!("/applications/{}/resource-jobs", x.app);
    let (st, job) = x
        .call(
            "POST",
            &jobs,
            Some(json!({"name": "j", "resourceType": "device"})),
        )
        .await;
    assert_eq!(st, 201, "{job}");
    let exec = format!("{jobs}/{}/execute", job["id"].as_str().unwrap());
    let ctx = json!({"l": (0..300).collect::<Vec<_>>(), "x": "a"}).to_string();
    let bomb =
        "{{#each ctx.l}}{{#each @root.ctx.l}}{{#each @root.ctx.l}}x{{/each}}{{/each}}{{/each}}";
    for (case, q) in [
        (
            "recursive partial",
            format!("{{\"name\": \"{}\"}}", RECURSIVE.replace('"', "\\\"")),
        ),
        (
            "mutual partials",
            format!("{{\"name\": \"{}\"}}", MUTUAL.replace('"', "\\\"")),
        ),
        (
            "deep subexpressions",
            format!("{{\"name\": \"{}\"}}", deep_subexpressions(2000)),
        ),
        ("expansion", format!("{{\"name\": \"{bomb}\"}}")),
    ] {
        let body = json!({"queryJson": q, "templateContext": ctx});
        x.refused(case, x.call("POST", &exec, Some(body)).await, "queryJson")
            .await;
    }
    // The same hostile templates are refused when a job is saved.
    for (case, t) in [
        ("saved recursive queryJson", RECURSIVE),
        ("saved mutual queryJson", MUTUAL),
    ] {
        let q = format!("{{\"name\": \"{}\"}}", t.replace('"', "\\\""));
        let body = json!({"name": "s", "resourceType": "device", "queryJson": q});
        x.refused(case, x.call("POST", &jobs, Some(body)).await, "queryJson")
            .await;
    }
    let body = json!({"name": "s", "resourceType": "dataTableRow", "dataTableId": RECURSIVE});
    x.refused(
        "saved recursive dataTableId",
        x.call("POST", &jobs, Some(body)).await,
        "dataTableId",
    )
    .await;
    // A templated dataTableId.
    let (st, rows_job) = x
        .call(
            "POST",
            &jobs,
            Some(json!({"name": "r", "resourceType": "dataTableRow", "dataTableId": "{{ctx.t}}"})),
        )
        .await;
    assert_eq!(st, 201, "{rows_job}");
    let exec3 = format!("{jobs}/{}/execute", rows_job["id"].as_str().unwrap());
    for (case, t) in [
        ("recursive dataTableId", RECURSIVE.to_string()),
        ("deep dataTableId", deep_subexpressions(70)),
    ] {
        let body = json!({"dataTableId": t, "templateContext": "{\"x\": \"a\"}"});
        x.refused(
            case,
            x.call("POST", &exec3, Some(body)).await,
            "dataTableId",
        )
        .await;
    }
    // Workflow node configs are checked when the flow is saved.
    let flows = format!("/applications/{}/flows", x.app);
    for (case, message) in [
        ("flow recursive partial", RECURSIVE.to_string()),
        ("flow mutual partials", MUTUAL.to_string()),
        ("flow deep subexpressions", deep_subexpressions(3000)),
    ] {
        let flow = json!({"name": "f", "triggers": [{"type": "resourceJobIteration", "key": job["id"], "config": {}, "outputIds": [["d"]]}],
            "nodes": [{"id": "d", "type": "DebugNode", "outputIds": [], "config": {"message": message}}]});
        x.refused(case, x.call("POST", &flows, Some(flow)).await, "message")
            .await;
    }
}

async fn flow_run_cases(x: &Ctx) {
    let jobs = format!("/applications/{}/resource-jobs", x.app);
    let base = &x.srv.base;
    let double: Vec<Value> = (0..40)
        .map(|i| json!({"type": "copy", "source": "data", "destination": format!("data.c{i}")}))
        .collect();
    let bomb = format!(
        "{}x{}",
        "{{#each @root.data.big}}".repeat(5),
        "{{/each}}".repeat(5)
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "SSRF to the server's own /metrics",
            json!({"id": "n", "type": "HttpNode", "outputIds": [[]], "config": {"method": "GET", "uriTemplate": format!("{base}/metrics")}}),
            "RJOBS_OUTBOUND__ALLOW_NETS",
        ),
        (
            "SSRF by decimal address",
            json!({"id": "n", "type": "HttpNode", "outputIds": [[]], "config": {"method": "GET",
                "uriTemplate": format!("http://2130706433:{}/metrics", base.rsplit(':').next().unwrap())}}),
            "loopback",
        ),
        (
            "payload doubling",
            json!({"id": "n", "type": "MutateNode", "outputIds": [[]], "config": {"rules": double}}),
            "maximum size",
        ),
        (
            "template expansion in a node",
            json!({"id": "n", "type": "MutateNode", "outputIds": [[]], "config": {"rules": [
                {"type": "set", "valueTemplate": "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30]", "valueTemplateType": "json", "destination": "data.big"},
                {"type": "set", "valueTemplate": bomb, "destination": "data.out"}]}}),
            "steps",
        ),
    ];
    for (case, node, needle) in cases {
        let (st, job) = x
            .call(
                "POST",
                &jobs,
                Some(json!({"name": case, "resourceType": "device", "iterationTimeout": 1000})),
            )
            .await;
        assert_eq!(st, 201, "{case}: {job}");
        let job_id = job["id"].as_str().unwrap().to_string();
        let flow = json!({"name": case, "triggers": [{"type": "resourceJobIteration", "key": job_id, "config": {}, "outputIds": [["n"]]}],
            "nodes": [node]});
        let (st, f) = x
            .call(
                "POST",
                &format!("/applications/{}/flows", x.app),
                Some(flow),
            )
            .await;
        assert_eq!(st, 201, "{case}: {f}");
        let (st, e) = x
            .call(
                "POST",
                &format!("{jobs}/{job_id}/execute"),
                Some(json!({"queryJson": "{\"name\": \"dev-0\"}"})),
            )
            .await;
        assert_eq!(st, 200, "{case}: {e}");
        // The run fails with the reason; the iteration then times out on its deadline.
        let logs = format!(
            "/applications/{}/flows/{}/logs",
            x.app,
            f["id"].as_str().unwrap()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let entry = loop {
            let (st, v) = x.call("GET", &logs, None).await;
            assert_eq!(st, 200, "{v}");
            let items = v
                .as_array()
                .cloned()
                .or_else(|| v["items"].as_array().cloned())
                .unwrap_or_default();
            if let Some(first) = items.first() {
                break first.clone();
            }
            assert!(Instant::now() < deadline, "{case}: no flow run logged");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(entry["status"], "error", "{case}: {entry}");
        assert!(entry.to_string().contains(needle), "{case}: {entry}");
        let exec = format!(
            "{jobs}/{job_id}/executions/{}",
            e["executionId"].as_str().unwrap()
        );
        loop {
            let (st, v) = x.call("GET", &exec, None).await;
            assert_eq!(st, 200, "{v}");
            if v["status"] == "completed" {
                // No acknowledgement: the iteration ends timed out (a failure, not a success).
                let sum = &v["executionSummary"];
                assert_eq!(sum["succeeded"], 0, "{case}: {v}");
                assert_eq!(
                    sum["failed"].as_u64().unwrap_or(0) + sum["timedOut"].as_u64().unwrap_or(0),
                    1,
                    "{case}: {v}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{case}: execution did not finish: {v}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        x.alive(case).await;
    }
}

async fn request_cases(x: &Ctx) {
    let devices = format!("/applications/{}/devices", x.app);
    // Text: NUL and other control characters, everywhere, one answer on both backends.
    for (case, body, field) in [
        ("NUL in a name", r#"{"name": "a\u0000"}"#, "name"),
        (
            "ESC in a description",
            r#"{"name": "a", "description": "\u001b[31m"}"#,
            "description",
        ),
        (
            "NUL in a tag value",
            r#"{"name": "a", "tags": [{"key": "k", "value": "\u0000"}]}"#,
            "tags[0].value",
        ),
    ] {
        x.refused(
            case,
            x.raw("POST", &devices, body.as_bytes().to_vec()).await,
            field,
        )
        .await;
    }
    x.refused(
        "NUL in a filter",
        x.call(
            "GET",
            &format!("{devices}?filterField=name&filter=%00"),
            None,
        )
        .await,
        "filter",
    )
    .await;
    let q: String = form_urlencoded::byte_serialize(br#"{"name": "\u0000"}"#).collect();
    x.refused(
        "NUL in a query",
        x.call("GET", &format!("{devices}?query={q}"), None).await,
        "query",
    )
    .await;
    // Shapes and sizes.
    x.refused(
        "trailing bytes",
        x.raw("POST", &devices, br#"{"name": "a"} trailing"#.to_vec())
            .await,
        "after the JSON",
    )
    .await;
    let filter = "*a".repeat(1000);
    x.refused(
        "long filter",
        x.call(
            "GET",
            &format!("{devices}?filterField=name&filter={filter}"),
            None,
        )
        .await,
        "filter",
    )
    .await;
    let wide: Vec<Value> = (0..100)
        .map(|i| json!({"$or": (0..100).map(|j| json!({"name": format!("{i}-{j}")})).collect::<Vec<_>>()}))
        .collect();
    let body = json!({"name": "q", "resourceType": "device", "queryJson": json!({"$or": wide}).to_string()});
    let (st, _) = x
        .call(
            "POST",
            &format!("/applications/{}/resource-jobs", x.app),
            Some(body),
        )
        .await;
    assert!((400..500).contains(&st), "wide $or job: {st}");
    // A row query body may be large (up to the body limit): 10,000 leaves in one $or tree.
    let tables = format!("/applications/{}/data-tables", x.app);
    let (st, t) = x
        .call(
            "POST",
            &tables,
            Some(json!({"name": "t", "columns": [{"name": "n", "dataType": "string", "constraint": "optional"}]})),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    let rows_query = format!("{tables}/{}/rows/query", t["id"].as_str().unwrap());
    // A body that accepts any JSON value, nested 100,000 deep.
    let deep = format!(
        "{{\"query\": {}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    x.refused(
        "deep JSON",
        x.raw("POST", &rows_query, deep.into_bytes()).await,
        "JSON",
    )
    .await;
    let wide: Vec<Value> = (0..100)
        .map(|i| json!({"$or": (0..100).map(|j| json!({"n": format!("{i}-{j}")})).collect::<Vec<_>>()}))
        .collect();
    let got = x
        .call("POST", &rows_query, Some(json!({"query": {"$or": wide}})))
        .await;
    x.refused("wide $or row query", got, "5000").await;
    let in_list: Vec<Value> = (0..100).map(|j| json!(format!("v{j}"))).collect();
    let near: Vec<Value> = (0..30).map(|_| json!({"n": {"$in": in_list}})).collect();
    let (st, v) = x
        .call("POST", &rows_query, Some(json!({"query": {"$or": near}})))
        .await;
    assert_eq!(st, 200, "3,000 values under the cap: {v}");
    let long_path = format!("/applications/{}", "a".repeat(10_000));
    x.refused("long URI", x.call("GET", &long_path, None).await, "URI")
        .await;
    // Over the API's header limit (but inside hyper's): the router answers 431 in JSON.
    let resp = reqwest::Client::new()
        .get(x.srv.url("/health"))
        .header("x-big", "v".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 431);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "HeadersTooLarge", "{v}");
    x.alive("large headers").await;
    // A declared Content-Length over the limit is refused before the body is read.
    let started = Instant::now();
    let answer = raw_tcp(
        &x.srv.base,
        format!("POST {devices} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{{").as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"type\":\"PayloadTooLarge\""), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "early 413 took {:?}",
        started.elapsed()
    );
    x.alive("declared length").await;
}

/// Connections that never finish their headers are closed within the header timeout (1 s here).
fn idle_flood(base: &str) {
    let addr = base.trim_start_matches("http://");
    let started = Instant::now();
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n");
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    for s in &mut conns {
        let mut buf = [0u8; 512];
        // EOF (or a reset, or hyper's 408) — anything but a read timeout means closed.
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    assert!(
                        !matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ),
                        "a connection was still open after {:?}",
                        started.elapsed()
                    );
                    break;
                }
            }
        }
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "200 idle connections closed in {took:?}"
    );
    eprintln!("idle flood: 200 half-sent connections closed in {took:?}");
}

async fn corpus(db: Db) {
    let data = Data::new(db).await;
    let srv = Server::start(
        &data,
        &[
            ("RJOBS_HTTP__HEADER_READ_TIMEOUT_MS", "1000"),
            ("RJOBS_BODY_LIMIT_BYTES", "1048576"),
            ("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "1000"),
        ],
    );
    let c = Client::new();
    let x = Ctx {
        app: c.create_app(&srv, "hostile").await,
        c,
        srv,
    };
    let (st, v) = x
        .call(
            "POST",
            &format!("/applications/{}/devices", x.app),
            Some(json!({"name": "dev-0", "tags": [{"key": "k", "value": "v"}]})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    template_cases(&x).await;
    request_cases(&x).await;
    flow_run_cases(&x).await;
    idle_flood(&x.srv.base);
    x.alive("idle flood").await;
    let rss = status_kib(x.srv.pid(), "VmRSS:");
    let peak = status_kib(x.srv.pid(), "VmHWM:");
    eprintln!(
        "{db:?}: server RSS after the corpus {} MiB, peak {} MiB",
        rss / 1024,
        peak / 1024
    );
    assert!(
        rss > 0 && peak < RSS_BOUND_KIB,
        "RSS {rss} KiB, peak {peak} KiB"
    );
    drop(x);
    data.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_sqlite() {
    corpus(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_postgres() {
    corpus(Db::Postgres).await;
}

/// At the connection cap, a further client waits in the backlog until a slot frees (here: when
/// the header timeout closes the idle connections), then is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cap_queues_then_serves() {
    let data = Data::new(Db::Sqlite).await;
    let srv = Server::start(
        &data,
        &[
            ("RJOBS_HTTP__MAX_CONNECTIONS", "4"),
            ("RJOBS_HTTP__HEADER_READ_TIMEOUT_MS", "1000"),
        ],
    );
    let addr = srv.base.trim_start_matches("http://").to_string();
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let answer = tokio::task::spawn_blocking({
        let base = srv.base.clone();
        move || {
            raw_tcp(
                &base,
                b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
        }
    })
    .await
    .unwrap();
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Served only once the idle ones were closed (about 1 s after they opened), not at once.
    assert!(
        waited >= Duration::from_millis(500),
        "served after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "served after {waited:?}");
    drop(idle);
    drop(srv);
    data.cleanup().await;
}
