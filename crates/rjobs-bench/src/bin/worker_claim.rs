//! External workers over HTTP with the worker API: N devices, a job at concurrency C with no
//! workflow, one execution, and W worker tasks (each with its own keep-alive connection) that
//! loop `POST …/iterations/claim {"limit", "waitMs"}` → `POST …/acknowledge {"items"}` (every
//! claimed attempt acknowledged `success: true` in one batch). Prints iterations/s from the
//! execute request to `completed`, the latency of each iteration from its start (its
//! `deadline` minus the job's `iterationTimeout`) to the 200 of the batch that applied its ack
//! (p50/p99), and the process's peak RSS. The server runs in-process (as `rjobs serve` wires
//! it); the workers talk to it over loopback HTTP.
//!
//! ```text
//! cargo run --release -p rjobs-bench --bin worker_claim -- --count 100000 --concurrency 100 \
//!     --workers 4 --database sqlite --runs 3
//! ```

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::bail;
use rjobs_bench::flags::{self, RunFlags};
use rjobs_bench::process::{now_ms, pct};
use rjobs_bench::{peak_rss_mib, InProcess, ADMIN};
use rjobs_core::Timestamp;
use serde_json::{json, Value};

const TIMEOUT_MS: i64 = 60_000;

async fn post(http: &reqwest::Client, url: &str, body: Value) -> anyhow::Result<Value> {
    let r = http.post(url).bearer_auth(ADMIN).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("{url}: {status} {v}");
    }
    Ok(v)
}

/// One worker: claim, acknowledge, repeat until `done`; returns start-to-applied latencies.
async fn worker(base: String, limit: u32, done: Arc<AtomicBool>) -> anyhow::Result<Vec<i64>> {
    let http = reqwest::Client::new();
    let claim = format!("{base}/iterations/claim");
    let ack = format!("{base}/acknowledge");
    let mut lat = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let v = post(&http, &claim, json!({"limit": limit, "waitMs": 200})).await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            continue;
        }
        let acks: Vec<Value> = items
            .iter()
            .map(|i| json!({"iterationId": i["id"], "attempt": i["attempt"], "success": true}))
            .collect();
        let out = post(&http, &ack, json!({ "items": acks })).await?;
        let at = now_ms();
        let results = out["results"].as_array().cloned().unwrap_or_default();
        for (item, r) in items.iter().zip(results) {
            if r["status"] != "applied" {
                bail!("ack not applied: {r}");
            }
            if let Some(d) = item["deadline"].as_str().and_then(Timestamp::parse_rfc3339) {
                lat.push(at - (d.as_millis() - TIMEOUT_MS));
            }
        }
    }
    Ok(lat)
}

struct Run {
    rate: f64,
    p50: i64,
    p99: i64,
    execute_ms: f64,
}

async fn one_run(database: &str, count: usize, c: u32, workers: usize) -> anyhow::Result<Run> {
    let srv = InProcess::start(database).await?;
    let app = srv.app_with_devices(count).await?;
    let job = srv.device_job(&app, c).await?;
    let t0 = Instant::now();
    let (path, execute_ms) = srv.execute(&app, &job).await?;
    let done = Arc::new(AtomicBool::new(false));
    let lats = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let limit = (c as usize).div_ceil(workers).max(1) as u32;
    for _ in 0..workers {
        let (base, done, lats) = (format!("{}{path}", srv.base), done.clone(), lats.clone());
        tasks.push(tokio::spawn(async move {
            let l = worker(base, limit, done).await?;
            if let Ok(mut v) = lats.lock() {
                v.extend(l);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let (last, _) = srv.wait_final(&path, t0).await?;
    let secs = t0.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    if last["executionSummary"]["succeeded"] != count {
        bail!(
            "not every iteration succeeded: {}",
            last["executionSummary"]
        );
    }
    let mut l = lats.lock().map(|v| v.clone()).unwrap_or_default();
    l.sort_unstable();
    srv.finish().await?;
    Ok(Run {
        rate: count as f64 / secs,
        p50: pct(&l, 0.5),
        p99: pct(&l, 0.99),
        execute_ms,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut run = RunFlags::new(100_000, 100);
    let (mut workers, mut runs) = (4usize, 3usize);
    flags::parse(|flag, val| {
        match flag {
            "--workers" => workers = val.parse()?,
            "--runs" => runs = val.parse()?,
            _ => return run.take(flag, val),
        }
        Ok(true)
    })?;
    let RunFlags {
        count,
        concurrency: c,
        database,
    } = run;
    let mut rates = Vec::new();
    for i in 0..runs {
        let r = one_run(&database, count, c, workers).await?;
        println!(
            "worker_claim run {}: database {database}, {count} iterations, concurrency {c}, {workers} workers: {:.0} iterations/s; start→applied ack p50 {} ms, p99 {} ms; execute call {:.0} ms",
            i + 1,
            r.rate,
            r.p50,
            r.p99,
            r.execute_ms
        );
        rates.push(r.rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "worker_claim: database {database}, {count} iterations, concurrency {c}: median {:.0} iterations/s over {runs} runs; peak RSS {:.0} MiB",
        rates[rates.len() / 2],
        peak_rss_mib()
    );
    Ok(())
}
