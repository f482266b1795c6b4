//! Executions through a workflow: N devices, a job at concurrency C, and the flow
//! `Job: Iteration → Job: Acknowledge(true)`, on an in-process server (store, engine, flow runner
//! and router as `rjobs serve` wires them). Prints iterations per second from execute to
//! `completed`, and the process's peak RSS.
//!
//! ```text
//! cargo run --release -p rjobs-bench --bin flow_ack -- --count 100000 --concurrency 100 --database sqlite
//! ```

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rjobs_bench::{peak_rss_mib, InProcess};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut count = 100_000usize;
    let mut concurrency = 100u32;
    let mut database = "sqlite".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--count" => count = val.parse()?,
            "--concurrency" => concurrency = val.parse()?,
            "--database" => database = val,
            other => bail!("unknown flag {other}"),
        }
    }
    let srv = InProcess::start(&database).await?;
    use reqwest::Method;
    let t0 = Instant::now();
    let app = srv.app_with_devices(count).await?;
    println!(
        "setup: {count} devices in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let job = srv.call(Method::POST, &format!("/applications/{app}/resource-jobs"),
        Some(json!({"name": "bench", "resourceType": "device", "maxIterationConcurrency": concurrency}))).await?;
    let job = job["id"].as_str().unwrap_or_default().to_string();
    srv.call(Method::POST, &format!("/applications/{app}/flows"), Some(json!({
        "name": "ack",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["ack"]]}],
        "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {"successExpression": "true"}}]
    }))).await?;
    let t1 = Instant::now();
    let exec = srv
        .call(
            Method::POST,
            &format!("/applications/{app}/resource-jobs/{job}/execute"),
            Some(json!({})),
        )
        .await?;
    let exec = exec["executionId"].as_str().unwrap_or_default().to_string();
    let execute_ms = t1.elapsed().as_secs_f64() * 1000.0;
    let path = format!("/applications/{app}/resource-jobs/{job}/executions/{exec}");
    let last = loop {
        let v = srv.call(Method::GET, &path, None).await?;
        if matches!(
            v["status"].as_str(),
            Some("completed" | "canceled" | "errored")
        ) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "flow_ack: database {database}, {count} iterations, concurrency {concurrency}: {:.0} iterations/s ({secs:.1} s; execute call {execute_ms:.0} ms); status {}, summary {}; peak RSS {:.0} MiB",
        count as f64 / secs,
        last["status"],
        last["executionSummary"],
        peak_rss_mib()
    );
    srv.finish().await
}
