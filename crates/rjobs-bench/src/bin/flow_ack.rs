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

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rjobs_api::{router, ApiSettings, AppState};
use rjobs_core::secret::hash_token;
use rjobs_core::{Clock, IdGen, SystemClock};
use rjobs_engine::{Engine, FlowSink, ReportSigner};
use rjobs_store::testing::TestDb;
use rjobs_store::Store;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use rjobs_bench::{call, ADMIN};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

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
    let dir = tempfile::tempdir()?;
    let pg = if database == "postgres" {
        Some(TestDb::create().await?)
    } else {
        None
    };
    let url = match &pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}/bench.db", dir.path().display()),
    };
    let store: Arc<dyn Store> = Arc::new(rjobs_store::connect(&url).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let flows = Arc::new(FlowSink::new(
        store.clone(),
        clock.clone(),
        rjobs_flow::RunLimits::default(),
    ));
    let engine = Arc::new(Engine::new(
        store.clone(),
        clock.clone(),
        flows.clone(),
        ReportSigner::new(b"k", &base, 60_000),
    ));
    flows.attach(&engine);
    let state = AppState {
        store: store.clone(),
        clock,
        ids: Arc::new(IdGen::new()),
        settings: Arc::new(ApiSettings {
            fixed_admin_hash: Some(hash_token(ADMIN)),
            body_limit: 64 * 1024 * 1024,
            ..ApiSettings::default()
        }),
        engine: engine.clone(),
    };
    let stop = CancellationToken::new();
    tokio::spawn(engine.clone().run(stop.clone(), Duration::from_secs(1)));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let http = reqwest::Client::new();
    use reqwest::Method;
    let app = call(
        &http,
        &base,
        Method::POST,
        "/applications",
        Some(json!({"name": "bench"})),
    )
    .await?;
    let app = app["id"].as_str().unwrap_or_default().to_string();
    let t0 = Instant::now();
    for start in (0..count).step_by(10_000) {
        let items: Vec<Value> = (start..count.min(start + 10_000))
            .map(|i| json!({"name": format!("d-{i:07}")}))
            .collect();
        call(
            &http,
            &base,
            Method::POST,
            &format!("/applications/{app}/devices/bulk"),
            Some(Value::Array(items)),
        )
        .await?;
    }
    println!(
        "setup: {count} devices in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let job = call(&http, &base, Method::POST, &format!("/applications/{app}/resource-jobs"),
        Some(json!({"name": "bench", "resourceType": "device", "maxIterationConcurrency": concurrency}))).await?;
    let job = job["id"].as_str().unwrap_or_default().to_string();
    call(&http, &base, Method::POST, &format!("/applications/{app}/flows"), Some(json!({
        "name": "ack",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["ack"]]}],
        "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {"successExpression": "true"}}]
    }))).await?;
    let t1 = Instant::now();
    let exec = call(
        &http,
        &base,
        Method::POST,
        &format!("/applications/{app}/resource-jobs/{job}/execute"),
        Some(json!({})),
    )
    .await?;
    let exec = exec["executionId"].as_str().unwrap_or_default().to_string();
    let execute_ms = t1.elapsed().as_secs_f64() * 1000.0;
    let path = format!("/applications/{app}/resource-jobs/{job}/executions/{exec}");
    let last = loop {
        let v = call(&http, &base, Method::GET, &path, None).await?;
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
    stop.cancel();
    if let Some(db) = pg {
        db.drop_db().await?;
    }
    Ok(())
}
