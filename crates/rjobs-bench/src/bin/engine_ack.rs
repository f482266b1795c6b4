//! Engine throughput through the real binary: N devices, a job with concurrency C, one execution,
//! and an external worker over HTTP that lists in-progress iterations and acknowledges them.
//! Prints iterations/s (execute request → `completed`), the latency of each iteration from its
//! `startedAt` to its acknowledgement, and the server's peak RSS.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-crash cargo build --release -p rjobs
//! CARGO_TARGET_DIR=/work/target-crash cargo run --release -p rjobs-bench --bin engine_ack -- \
//!     --database sqlite --devices 100000 --concurrency 10,100 --runs 3
//! # 1,000,000 devices, stopping after 200,000 acknowledged iterations:
//! ... --devices 1000000 --concurrency 100 --runs 1 --max-acks 200000
//! ```
//!
//! The binary is `$RJOBS_BIN`, else `$CARGO_TARGET_DIR/release/rjobs`, else `rjobs` next to this
//! binary, else the workspace's `target/release/rjobs`. Devices are created over
//! `POST .../devices/bulk`, then the server is restarted, so each measured run starts from a fresh
//! process (peak RSS = that run's).
//!
//! Worker: one lister task polls `GET .../iterations?status=inProgress&perPage=1000` and feeds new
//! iteration ids to `--workers` acknowledging tasks, each with its own keep-alive client.
//! Latencies: "worker view" = wall time from the iteration's `startedAt` (server clock, same
//! machine) to the 200 response of its acknowledgement (includes the polling delay);
//! "report view" = `completedAt - startedAt` from the CSV report (when the ack was applied).

// A benchmark measures wall time and compares with the server's clock: real clocks on purpose.
#![allow(clippy::disallowed_methods)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use rjobs_bench::process::{binary, call_status, must, now_ms, pct, Server};
use rjobs_bench::ADMIN;
use rjobs_core::Timestamp;
use rjobs_store::testing::TestDb;
use serde_json::{json, Value};
use tokio::sync::mpsc;

struct Args {
    database: String,
    devices: usize,
    concurrency: Vec<u32>,
    runs: usize,
    workers: usize,
    max_acks: Option<u64>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        database: "sqlite".into(),
        devices: 100_000,
        concurrency: vec![10, 100],
        runs: 3,
        workers: 8,
        max_acks: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--database" => a.database = val()?,
            "--devices" => a.devices = val()?.parse()?,
            "--concurrency" => {
                a.concurrency = val()?
                    .split(',')
                    .map(|s| s.trim().parse::<u32>())
                    .collect::<Result<_, _>>()?
            }
            "--runs" => a.runs = val()?.parse()?,
            "--workers" => a.workers = val()?.parse()?,
            "--max-acks" => a.max_acks = Some(val()?.parse()?),
            other => bail!(
                "unknown flag {other}; use --database sqlite|postgres --devices N \
                 --concurrency 10,100 --runs R --workers W --max-acks N"
            ),
        }
    }
    if a.database != "sqlite" && a.database != "postgres" {
        bail!("--database must be sqlite or postgres");
    }
    Ok(a)
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    conflict: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
    lists: AtomicU64,
}

struct RunResult {
    total: u64,
    wall_s: f64,
    server_s: Option<f64>,
    worker_p50: i64,
    worker_p99: i64,
    report_p50: Option<i64>,
    report_p99: Option<i64>,
    hwm_mb: f64,
    rss_mb: f64,
    acked: u64,
    conflicts: u64,
    lists: u64,
    partial: bool,
}

/// The lister: feeds iteration ids (with their `startedAt`) not yet handed out.
async fn lister(
    base: String,
    exec_path: String,
    tx: mpsc::Sender<(String, i64)>,
    handed: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
    c: Arc<Counters>,
) {
    let http = reqwest::Client::new();
    let url = format!("{base}{exec_path}/iterations?status=inProgress&perPage=1000&page=0");
    while !stop.load(Ordering::Relaxed) {
        c.lists.fetch_add(1, Ordering::Relaxed);
        let items = match call_status(&http, reqwest::Method::GET, &url, None).await {
            Ok((200, v)) => v["items"].as_array().cloned().unwrap_or_default(),
            _ => {
                c.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let mut fresh = Vec::new();
        if let Ok(mut h) = handed.lock() {
            for it in &items {
                let (Some(id), Some(started)) = (it["id"].as_str(), it["startedAt"].as_str())
                else {
                    continue;
                };
                if h.insert(id.to_string()) {
                    let ms = Timestamp::parse_rfc3339(started).map_or(0, Timestamp::as_millis);
                    fresh.push((id.to_string(), ms));
                }
            }
        }
        if fresh.is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        for f in fresh {
            if tx.send(f).await.is_err() {
                return;
            }
        }
    }
}

/// An acknowledging task with its own keep-alive client.
async fn acker(
    base: String,
    exec_path: String,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, i64)>>>,
    handed: Arc<Mutex<HashSet<String>>>,
    c: Arc<Counters>,
) -> Vec<i64> {
    let http = reqwest::Client::new();
    let body = json!({"success": true, "message": "ok"});
    let mut lat = Vec::new();
    loop {
        let next = rx.lock().await.recv().await;
        let Some((id, started)) = next else {
            return lat;
        };
        let url = format!("{base}{exec_path}/iterations/{id}/acknowledge");
        match call_status(&http, reqwest::Method::POST, &url, Some(&body)).await {
            Ok((200, _)) => {
                lat.push(now_ms() - started);
                c.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok((409, _)) => {
                c.conflict.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {
                c.other.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Ok(mut h) = handed.lock() {
            h.remove(&id);
        }
    }
}

async fn one_run(
    a: &Args,
    bin: &str,
    url: &str,
    app: &str,
    concurrency: u32,
    run: usize,
) -> anyhow::Result<RunResult> {
    let server = Server::start(bin, url)?;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let job = must(
        &http,
        reqwest::Method::POST,
        &format!("{base}/applications/{app}/resource-jobs"),
        Some(&json!({
            "name": format!("bench c{concurrency} run{run}"),
            "resourceType": "device",
            "maxIterationConcurrency": concurrency,
            "iterationTimeout": 600000,
        })),
        201,
    )
    .await?;
    let job = job["id"].as_str().context("job id")?.to_string();
    let job_path = format!("/applications/{app}/resource-jobs/{job}");
    let t0 = Instant::now();
    let v = must(
        &http,
        reqwest::Method::POST,
        &format!("{base}{job_path}/execute"),
        Some(&json!({})),
        200,
    )
    .await?;
    let exec = v["executionId"]
        .as_str()
        .context("executionId")?
        .to_string();
    let exec_path = format!("{job_path}/executions/{exec}");

    let stop = Arc::new(AtomicBool::new(false));
    let handed = Arc::new(Mutex::new(HashSet::new()));
    let counters = Arc::new(Counters::default());
    let (tx, rx) = mpsc::channel(1024);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let list_task = tokio::spawn(lister(
        base.clone(),
        exec_path.clone(),
        tx,
        handed.clone(),
        stop.clone(),
        counters.clone(),
    ));
    let ackers: Vec<_> = (0..a.workers)
        .map(|_| {
            tokio::spawn(acker(
                base.clone(),
                exec_path.clone(),
                rx.clone(),
                handed.clone(),
                counters.clone(),
            ))
        })
        .collect();

    // Wait for completion (or for --max-acks acknowledged iterations).
    let exec_url = format!("{base}{exec_path}");
    let mut last_progress = Instant::now();
    let mut last_ok = 0;
    let mut last_poll = Instant::now();
    let (item, partial) = loop {
        let ok = counters.ok.load(Ordering::Relaxed);
        if let Some(m) = a.max_acks {
            if ok >= m {
                break (None, true);
            }
        }
        if ok != last_ok {
            last_ok = ok;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > Duration::from_secs(120) {
            bail!("no progress for 120 s at {ok} acknowledged iterations");
        }
        if ok >= a.devices as u64 || last_poll.elapsed() >= Duration::from_secs(5) {
            last_poll = Instant::now();
            let v = must(&http, reqwest::Method::GET, &exec_url, None, 200).await?;
            match v["status"].as_str() {
                Some("completed") => break (Some(v), false),
                Some("inProgress") => {}
                other => bail!("execution ended {other:?}: {v}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(if ok >= a.devices as u64 {
            5
        } else {
            200
        }))
        .await;
    };
    let wall = t0.elapsed();
    let (hwm, rss) = server.rss()?;
    stop.store(true, Ordering::Relaxed);
    list_task.await?;
    let mut lat = Vec::new();
    for t in ackers {
        lat.extend(t.await?);
    }
    lat.sort_unstable();

    let mut total = counters.ok.load(Ordering::Relaxed);
    let mut server_s = None;
    let (mut report_p50, mut report_p99) = (None, None);
    if let Some(v) = &item {
        let s = &v["executionSummary"];
        total = ["succeeded", "failed", "timedOut"]
            .iter()
            .map(|k| s[k].as_u64().unwrap_or(0))
            .sum();
        let ts = |k: &str| v[k].as_str().and_then(Timestamp::parse_rfc3339);
        if let (Some(a), Some(b)) = (ts("runStartedAt"), ts("runCompletedAt")) {
            server_s = Some((b.as_millis() - a.as_millis()) as f64 / 1000.0);
        }
        // Report view: completedAt - startedAt of each row.
        let text = http
            .get(format!("{exec_url}/report.csv"))
            .bearer_auth(ADMIN)
            .timeout(Duration::from_secs(600))
            .send()
            .await?
            .text()
            .await?;
        let mut rl: Vec<i64> = text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let s = Timestamp::parse_rfc3339(f.get(5)?)?;
                let c = Timestamp::parse_rfc3339(f.get(6)?)?;
                Some(c.as_millis() - s.as_millis())
            })
            .collect();
        rl.sort_unstable();
        if rl.len() as u64 != total {
            bail!("report has {} timed rows, summary says {total}", rl.len());
        }
        report_p50 = Some(pct(&rl, 0.5));
        report_p99 = Some(pct(&rl, 0.99));
    }
    server.stop()?;
    Ok(RunResult {
        total,
        wall_s: wall.as_secs_f64(),
        server_s,
        worker_p50: pct(&lat, 0.5),
        worker_p99: pct(&lat, 0.99),
        report_p50,
        report_p99,
        hwm_mb: hwm,
        rss_mb: rss,
        acked: counters.ok.load(Ordering::Relaxed),
        conflicts: counters.conflict.load(Ordering::Relaxed),
        lists: counters.lists.load(Ordering::Relaxed),
        partial,
    })
}

async fn create_devices(bin: &str, url: &str, n: usize) -> anyhow::Result<String> {
    let server = Server::start(bin, url)?;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let app = must(
        &http,
        reqwest::Method::POST,
        &format!("{base}/applications"),
        Some(&json!({"name": "bench"})),
        201,
    )
    .await?;
    let app = app["id"].as_str().context("app id")?.to_string();
    let t = Instant::now();
    let mut from = 0;
    while from < n {
        let to = (from + 10_000).min(n);
        let body: Vec<Value> = (from..to)
            .map(|i| json!({"name": format!("bench-{i:07}")}))
            .collect();
        must(
            &http,
            reqwest::Method::POST,
            &format!("{base}/applications/{app}/devices/bulk"),
            Some(&Value::Array(body)),
            201,
        )
        .await?;
        from = to;
    }
    println!(
        "setup: {n} devices created over /devices/bulk in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    server.stop()?;
    Ok(app)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bin = binary();
    if !std::path::Path::new(&bin).exists() {
        return Err(anyhow!(
            "{bin} not found: build it with `cargo build --release -p rjobs` or set RJOBS_BIN"
        ));
    }
    let dir = tempfile::tempdir()?;
    let (url, pg) = if a.database == "postgres" {
        let t = TestDb::create().await?;
        (t.url.clone(), Some(t))
    } else {
        (format!("sqlite://{}/bench.db", dir.path().display()), None)
    };
    println!(
        "engine_ack: binary {bin}, database {}, {} devices, {} acknowledging tasks, {} cores",
        a.database,
        a.devices,
        a.workers,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let app = create_devices(&bin, &url, a.devices).await?;
    for &c in &a.concurrency {
        let mut rates = Vec::new();
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut hwms = Vec::new();
        for run in 1..=a.runs {
            let r = one_run(&a, &bin, &url, &app, c, run).await?;
            let rate = r.total as f64 / r.wall_s;
            println!(
                "{} C={c} run {run}: {} iterations{} in {:.1} s = {:.0} it/s (server runStartedAt→runCompletedAt {}); \
                 latency startedAt→ack response (worker view) p50 {} ms p99 {} ms; \
                 startedAt→completedAt (report) p50 {} p99 {}; acks 200={} 409={} lists={}; \
                 server VmHWM {:.1} MiB, VmRSS {:.1} MiB",
                a.database,
                r.total,
                if r.partial { " (partial: --max-acks)" } else { "" },
                r.wall_s,
                rate,
                r.server_s.map_or("-".into(), |s| format!("{s:.1} s")),
                r.worker_p50,
                r.worker_p99,
                r.report_p50.map_or("-".into(), |v| format!("{v} ms")),
                r.report_p99.map_or("-".into(), |v| format!("{v} ms")),
                r.acked,
                r.conflicts,
                r.lists,
                r.hwm_mb,
                r.rss_mb,
            );
            rates.push(rate);
            p50s.push(r.worker_p50 as f64);
            p99s.push(r.worker_p99 as f64);
            hwms.push(r.hwm_mb);
        }
        println!(
            "{} C={c} median of {}: {:.0} it/s, worker-view latency p50 {:.0} ms p99 {:.0} ms, peak RSS {:.1} MiB",
            a.database,
            a.runs,
            median(rates),
            median(p50s),
            median(p99s),
            median(hwms),
        );
    }
    if let Some(pg) = pg {
        pg.drop_db().await?;
    }
    Ok(())
}
