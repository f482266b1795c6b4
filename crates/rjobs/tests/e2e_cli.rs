//! The user CLI end to end: a real server (the harness in `common`), data created over HTTP, then
//! the `rjobs` binary run as a user would run it — `jobs create|list|get|execute|logs|cancel`,
//! `executions watch|report` — with exit codes and output checked, and the failures a user meets
//! first (server down, wrong token, invalid field) checked for a plain message and no panic.
//! An external worker (a task in this test) acknowledges iterations while `watch` runs.

mod common;

use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

/// Runs `rjobs <line>` (split on whitespace) plus `--url`/`--token` when given, with no
/// inherited `RJOBS_*` variables besides `envs`.
async fn cli_env(
    url: Option<&str>,
    token: Option<&str>,
    line: &str,
    envs: &[(&str, &str)],
) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_rjobs"));
    cmd.args(line.split_whitespace())
        .env_remove("RJOBS_URL")
        .env_remove("RJOBS_TOKEN")
        .kill_on_drop(true);
    if let Some(u) = url {
        cmd.args(["--url", u]);
    }
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("rjobs {line} did not finish within 90 s"))
        .expect("run rjobs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "rjobs {line} panicked: {err}");
    out
}

async fn cli(url: Option<&str>, token: Option<&str>, line: &str) -> Output {
    cli_env(url, token, line, &[]).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts failure with exit code 1 and a stderr that mentions every needle; returns stderr.
#[track_caller]
fn fails_with(o: &Output, needles: &[&str]) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    for n in needles {
        assert!(err.contains(n), "stderr should mention {n:?}: {err}");
    }
    err
}

async fn must(c: &Client, method: &str, url: &str, body: Option<&Value>) -> Value {
    let (st, v) = c.call(method, url, Some(ADMIN), body).await;
    assert!((200..300).contains(&st), "{method} {url} → {st} {v}");
    v
}

/// An application with pump-0..pump-4 and valve-1.
async fn setup(c: &Client, s: &Server) -> String {
    let app = must(
        c,
        "POST",
        &s.url("/applications"),
        Some(&json!({"name": "Fleet"})),
    )
    .await;
    let app = app["id"].as_str().unwrap().to_string();
    let mut devices: Vec<Value> = (0..5)
        .map(|i| json!({"name": format!("pump-{i}")}))
        .collect();
    devices.push(json!({"name": "valve-1"}));
    must(
        c,
        "POST",
        &s.url(&format!("/applications/{app}/devices/bulk")),
        Some(&Value::Array(devices)),
    )
    .await;
    app
}

/// Acknowledges (success) every in-progress iteration of `exec_path`; returns how many.
async fn ack_all(c: &Client, base: &str, exec_path: &str) -> usize {
    let url = format!("{base}{exec_path}/iterations?status=inProgress&perPage=1000&page=0");
    let (st, v) = c.call("GET", &url, Some(ADMIN), None).await;
    assert_eq!(st, 200, "{v}");
    let mut n = 0;
    for it in v["items"].as_array().unwrap() {
        let id = it["id"].as_str().unwrap();
        let url = format!("{base}{exec_path}/iterations/{id}/acknowledge");
        let body = json!({"success": true, "message": "polled"});
        let (st, _) = c.call("POST", &url, Some(ADMIN), Some(&body)).await;
        if st == 200 {
            n += 1;
        }
    }
    n
}

/// A background worker acknowledging `exec_path`'s iterations until `stop` is set.
fn ack_loop(base: String, exec_path: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let c = Client::new();
        while !stop.load(Ordering::SeqCst) {
            ack_all(&c, &base, &exec_path).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_jobs_and_executions() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let c = Client::new();
    let app = setup(&c, &s).await;
    let (u, t) = (Some(s.base.as_str()), Some(ADMIN));

    // create --json: the server's job, parsed.
    let q = r#"{"name":{"$startsWith":"pump"}}"#;
    let line = format!(
        "jobs create --json -a {app} --name poll-pumps --resource-type device --query {q} \
         --description every-pump --max-iteration-concurrency 2 --retry-on-failure \
         --max-iteration-retries 2"
    );
    let job: Value = serde_json::from_str(&ok(&cli(u, t, &line).await)).expect("JSON");
    assert_eq!(job["name"], "poll-pumps");
    assert_eq!(job["resourceType"], "device");
    assert_eq!(job["queryJson"], q);
    assert_eq!(job["maxIterationConcurrency"], 2);
    assert_eq!(job["retryOnFailure"], true);
    assert_eq!(job["maxIterationRetries"], 2);
    assert_eq!(job["description"], "every-pump");
    let job_id = job["id"].as_str().unwrap().to_string();

    // list: a table with the name and id; --json: the envelope. RJOBS_URL/RJOBS_TOKEN work too.
    let envs = [("RJOBS_URL", s.base.as_str()), ("RJOBS_TOKEN", ADMIN)];
    let table = ok(&cli_env(None, None, &format!("jobs list -a {app}"), &envs).await);
    assert!(table.starts_with("NAME"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("poll-pumps"))
        .expect(&table);
    assert!(row.contains(&job_id) && row.contains("device"), "{row}");
    let list = ok(&cli(u, t, &format!("jobs list -a {app} --json")).await);
    let env: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(env["totalCount"], 1);
    assert_eq!(env["items"][0]["id"], job_id.as_str());

    // get: key/value lines.
    let got = ok(&cli(u, t, &format!("jobs get -a {app} {job_id}")).await);
    let line = got
        .lines()
        .find(|l| l.starts_with("maxIterationConcurrency"))
        .expect(&got);
    assert!(line.trim_end().ends_with(" 2"), "{line}");
    assert!(got.contains("every-pump"), "{got}");

    // execute: prints the execution id alone.
    let exec = ok(&cli(
        u,
        t,
        &format!("jobs execute -a {app} {job_id} --context {{}}"),
    )
    .await);
    let exec = exec.trim().to_string();
    assert_eq!(exec.len(), 24, "{exec:?}");
    assert!(exec.chars().all(|ch| ch.is_ascii_hexdigit()), "{exec:?}");

    // watch while a worker acknowledges: exit 0, the summary and the report link.
    let exec_path = format!("/applications/{app}/resource-jobs/{job_id}/executions/{exec}");
    let stop = Arc::new(AtomicBool::new(false));
    let worker = ack_loop(s.base.clone(), exec_path.clone(), stop.clone());
    let w = cli(
        u,
        t,
        &format!("executions watch {exec} -a {app} --job {job_id}"),
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    worker.await.unwrap();
    let summary = ok(&w);
    assert!(
        summary.contains(&format!("execution {exec} completed: 5 iterations")),
        "{summary}"
    );
    let counts = "succeeded 5 · failed 0 · timed out 0 · in progress 0 · remaining 0";
    assert!(summary.contains(counts), "{summary}");
    assert!(summary.contains("report: http"), "{summary}");
    // The watch followed the event stream (not polling): the server counted the request.
    let metrics = reqwest::get(format!("{}/metrics", s.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("rjobs_http_requests_total")
                && l.contains("executions/{executionId}/events")
                && l.contains("status=\"200\"")),
        "no events request in the metrics"
    );

    // logs: the table and the JSON.
    let logs = ok(&cli(u, t, &format!("jobs logs -a {app} {job_id} --limit 5")).await);
    assert!(logs.starts_with("EXECUTION ID"), "{logs}");
    let row = logs.lines().find(|l| l.contains(&exec)).expect(&logs);
    assert!(row.contains("completed"), "{row}");
    let logs = ok(&cli(
        u,
        t,
        &format!("jobs logs -a {app} {job_id} --since 0 --json"),
    )
    .await);
    let logs: Value = serde_json::from_str(&logs).unwrap();
    assert_eq!(logs[0]["id"], exec.as_str());
    assert_eq!(logs[0]["executionSummary"]["succeeded"], 5);

    // report: header + one row per pump, to stdout and to a file, byte-identical.
    let report = format!("executions report {exec} -a {app} --job {job_id}");
    let csv = ok(&cli(u, t, &report).await);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("iterationId,resourceId,resourceName,status"),
        "{csv}"
    );
    assert_eq!(lines.len(), 6, "{csv}");
    for i in 0..5 {
        let name = format!(",pump-{i},");
        let row = lines.iter().find(|l| l.contains(&name)).expect(&csv);
        assert!(row.contains(",succeeded,"), "{row}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.csv");
    ok(&cli(u, t, &format!("{report} -o {}", file.display())).await);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);

    // cancel: one attempt in flight (concurrency 1), cancel, the worker finishes it, watch → 3.
    let line = format!("jobs create --json -a {app} --name slow --resource-type device");
    let slow: Value = serde_json::from_str(&ok(&cli(u, t, &line).await)).unwrap();
    let slow_id = slow["id"].as_str().unwrap().to_string();
    let exec2 = ok(&cli(u, t, &format!("jobs execute -a {app} {slow_id}")).await);
    let exec2 = exec2.trim().to_string();
    let exec2_path = format!("/applications/{app}/resource-jobs/{slow_id}/executions/{exec2}");
    for _ in 0..200 {
        let v = must(&c, "GET", &s.url(&exec2_path), None).await;
        if v["executionSummary"]["inProgress"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let cancel = format!("jobs cancel -a {app} {slow_id} --execution {exec2}");
    let out = ok(&cli(u, t, &cancel).await);
    assert!(
        out.contains(&format!("cancel requested for execution {exec2}")),
        "{out}"
    );
    let v = must(&c, "GET", &s.url(&exec2_path), None).await;
    assert_eq!(v["status"], "canceling", "{v}");
    assert_eq!(ack_all(&c, &s.base, &exec2_path).await, 1);
    let watch2 = format!("executions watch {exec2} -a {app} --job {slow_id}");
    let w = cli(u, t, &watch2).await;
    assert_eq!(w.status.code(), Some(3), "{} {}", stdout(&w), stderr(&w));
    let summary = stdout(&w);
    assert!(
        summary.contains(&format!("execution {exec2} canceled: 6 iterations")),
        "{summary}"
    );
    assert!(
        summary.contains("succeeded 1 ·") && summary.contains("remaining 5"),
        "{summary}"
    );
    // --json watch prints the final log item.
    let w = cli(u, t, &format!("{watch2} --json")).await;
    assert_eq!(w.status.code(), Some(3));
    let item: Value = serde_json::from_str(&stdout(&w)).unwrap();
    assert_eq!(item["status"], "canceled");
    // A second cancel is idempotent; cancelling a completed execution is the server's 400.
    ok(&cli(u, t, &cancel).await);
    let line = format!("jobs cancel -a {app} {job_id} --execution {exec}");
    fails_with(&cli(u, t, &line).await, &["Validation: "]);

    s.stop();
    data.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_are_plain() {
    // Nothing listens on a port we just closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{port}");
    let app0 = "000000000000000000000000";
    let out = cli(Some(&down), Some(ADMIN), &format!("jobs list -a {app0}")).await;
    fails_with(
        &out,
        &[&format!("cannot reach rjobs at {down}: connection refused")],
    );
    let line = format!("executions watch {app0} -a {app0} --job {app0}");
    let out = cli(Some(&down), Some(ADMIN), &line).await;
    fails_with(&out, &["cannot reach rjobs"]);

    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let c = Client::new();
    let app = setup(&c, &s).await;
    let (u, t) = (Some(s.base.as_str()), Some(ADMIN));

    // Wrong or missing token.
    let list = format!("jobs list -a {app}");
    fails_with(
        &cli(u, Some("rjadm_wrong"), &list).await,
        &["the token was refused: "],
    );
    fails_with(
        &cli(u, None, &list).await,
        &["the token was refused", "--token"],
    );

    // The server's validation messages, naming the field.
    let create = format!("jobs create -a {app} --name x");
    let out = cli(u, t, &format!("{create} --resource-type gizmo")).await;
    fails_with(&out, &["error: Validation: resourceType"]);
    let out = cli(
        u,
        t,
        &format!("{create} --resource-type device --iteration-delay 999999"),
    )
    .await;
    fails_with(&out, &["iterationDelay"]);
    let out = cli(
        u,
        t,
        &format!("{create} --resource-type device --query {{not-json"),
    )
    .await;
    fails_with(&out, &["queryJson"]);
    let out = cli(u, t, &format!("{create} --resource-type device --json")).await;
    let job: Value = serde_json::from_str(&ok(&out)).unwrap();
    let job_id = job["id"].as_str().unwrap();
    let out = cli(
        u,
        t,
        &format!("jobs execute -a {app} {job_id} --context [1]"),
    )
    .await;
    fails_with(&out, &["Validation: "]);

    // Unknown ids and malformed ids; a --url without a scheme.
    fails_with(
        &cli(u, t, &format!("jobs get -a {app} {app0}")).await,
        &["NotFound: "],
    );
    let line = format!("executions report {app0} -a {app} --job {job_id}");
    fails_with(&cli(u, t, &line).await, &["NotFound: "]);
    fails_with(
        &cli(u, t, &format!("jobs get -a {app} ../x")).await,
        &["job id"],
    );
    fails_with(&cli(Some("localhost:7480"), t, &list).await, &["--url"]);
    // Usage errors are clap's (exit 2).
    let out = cli(u, t, &format!("jobs create -a {app}")).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    s.stop();
    data.cleanup().await;
}

/// The operator controls from the CLI: create with a rollout rate and an abort threshold,
/// preview (a dry run), pause, resume, and re-run what never started after a cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_operator_controls() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let c = Client::new();
    let app = setup(&c, &s).await;
    let (u, t) = (Some(s.base.as_str()), Some(ADMIN));
    let line = format!(
        "jobs create --json -a {app} --name staged --resource-type device \
         --rollout-config {{\"maxPerMinute\":600}} \
         --abort-config {{\"criteria\":[{{\"outcome\":\"any\",\"thresholdPercent\":90,\"minFinished\":5}}]}}"
    );
    let job: Value = serde_json::from_str(&ok(&cli(u, t, &line).await)).expect("JSON");
    assert_eq!(job["rolloutConfig"]["maxPerMinute"], 600);
    assert_eq!(job["abortConfig"]["criteria"][0]["minFinished"], 5);
    let job_id = job["id"].as_str().unwrap().to_string();
    let bad = format!(
        "jobs create -a {app} --name x --resource-type device --rollout-config {{\"maxPerMinute\":0}}"
    );
    fails_with(&cli(u, t, &bad).await, &["rolloutConfig.maxPerMinute"]);

    let q = r#"{"name":{"$startsWith":"pump"}}"#;
    let preview = ok(&cli(u, t, &format!("jobs preview -a {app} {job_id} --query {q}")).await);
    assert!(
        preview.contains("5 resources would be iterated over"),
        "{preview}"
    );
    assert!(
        preview.contains("pump-0") && !preview.contains("valve-1"),
        "{preview}"
    );
    let logs = must(
        &c,
        "GET",
        &s.url(&format!(
            "/applications/{app}/resource-jobs/{job_id}/logs?limit=10"
        )),
        None,
    )
    .await;
    assert_eq!(
        logs.as_array().map(Vec::len),
        Some(0),
        "a preview executes nothing"
    );

    let exec = ok(&cli(u, t, &format!("jobs execute -a {app} {job_id}")).await);
    let exec = exec.trim().to_string();
    let exec_path = format!("/applications/{app}/resource-jobs/{job_id}/executions/{exec}");
    let target = format!("{exec} -a {app} --job {job_id}");
    let out = ok(&cli(u, t, &format!("executions pause {target}")).await);
    assert!(out.contains(&format!("paused execution {exec}")), "{out}");
    let v = must(&c, "GET", &s.url(&exec_path), None).await;
    assert_eq!(v["status"], "paused", "{v}");
    ok(&cli(u, t, &format!("executions resume {target}")).await);
    let v = must(&c, "GET", &s.url(&exec_path), None).await;
    assert_eq!(v["status"], "inProgress", "{v}");
    // concurrency 1: cancel with one in flight, finish it; the other five never started
    for _ in 0..200 {
        let v = must(&c, "GET", &s.url(&exec_path), None).await;
        if v["executionSummary"]["inProgress"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    ok(&cli(
        u,
        t,
        &format!("jobs cancel -a {app} {job_id} --execution {exec}"),
    )
    .await);
    assert_eq!(ack_all(&c, &s.base, &exec_path).await, 1);
    for _ in 0..200 {
        let v = must(&c, "GET", &s.url(&exec_path), None).await;
        if v["status"] == "canceled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    fails_with(
        &cli(u, t, &format!("executions pause {target}")).await,
        &["canceled"],
    );
    let again = ok(&cli(
        u,
        t,
        &format!("executions rerun {target} --statuses notStarted"),
    )
    .await);
    let again = again.trim().to_string();
    assert_eq!(again.len(), 24, "{again:?}");
    let v = must(
        &c,
        "GET",
        &s.url(&format!(
            "/applications/{app}/resource-jobs/{job_id}/executions/{again}"
        )),
        None,
    )
    .await;
    let total: u64 = ["succeeded", "failed", "timedOut", "inProgress", "remaining"]
        .iter()
        .map(|k| v["executionSummary"][k].as_u64().unwrap())
        .sum();
    assert_eq!(total, 5, "the five that never started: {v}");
    fails_with(
        &cli(u, t, &format!("executions rerun {target}")).await,
        &["rerunOf"],
    );
    s.stop();
    data.cleanup().await;
}
