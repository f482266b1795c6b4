//! Creates N devices with 3 tags each through `POST .../devices/bulk` (10,000 per call) on an
//! in-process server, then times advanced queries through the list endpoint.
//!
//! ```text
//! cargo run --release -p rjobs-bench --bin bulk_devices -- --count 1000000 --database sqlite
//! cargo run --release -p rjobs-bench --bin bulk_devices -- --count 1000000 --database postgres
//! ```
//!
//! Tags: `site` = `site-<i % 100>` (so one site matches 1%), `model` = one of 3, `serial` = i.
//! Names are `device-<i, 7 digits>`, so the prefix `device-00012` matches 1,000 devices per
//! million.

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rjobs_api::{router, ApiSettings, AppState};
use rjobs_core::secret::hash_token;
use rjobs_core::{Clock, Id, IdGen, SystemClock};
use rjobs_query::ResourceType;
use rjobs_store::testing::TestDb;
use rjobs_store::Store;
use serde_json::{json, Value};

const ADMIN: &str = "bench-admin-token";

struct Args {
    count: usize,
    database: String,
    batch: usize,
    concurrency: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        count: 1_000_000,
        database: "sqlite".into(),
        batch: 10_000,
        concurrency: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--count" => a.count = val()?.parse()?,
            "--database" => a.database = val()?,
            "--batch" => a.batch = val()?.parse()?,
            "--concurrency" => a.concurrency = val()?.parse()?,
            other => bail!("unknown flag {other}; use --count N --database sqlite|postgres"),
        }
    }
    Ok(a)
}

fn body(from: usize, to: usize) -> String {
    const MODELS: [&str; 3] = ["alpha", "beta", "gamma"];
    let items: Vec<Value> = (from..to)
        .map(|i| {
            json!({
                "name": format!("device-{i:07}"),
                "tags": [
                    {"key": "site", "value": format!("site-{}", i % 100)},
                    {"key": "model", "value": MODELS[i % 3]},
                    {"key": "serial", "value": i.to_string()},
                ],
            })
        })
        .collect();
    Value::Array(items).to_string()
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (Linux; 0 elsewhere).
/// Printed next to wall time because the benchmark box is shared: wall time under load says
/// little, CPU time says what the work costs.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    let (url, pg) = match a.database.as_str() {
        "sqlite" => (format!("sqlite://{}/bench.db", dir.path().display()), None),
        "postgres" => {
            let db = TestDb::create().await?;
            (db.url.clone(), Some(db))
        }
        other => bail!("--database must be sqlite or postgres, got {other}"),
    };
    let sql = Arc::new(rjobs_store::connect(&url).await?);
    let store: Arc<dyn Store> = sql.clone();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = rjobs_engine::Engine::new(
        store.clone(),
        clock.clone(),
        Arc::new(rjobs_engine::NullSink),
        rjobs_engine::ReportSigner::new(b"bench", "http://127.0.0.1", 60_000),
    );
    let state = AppState {
        store: store.clone(),
        clock,
        ids: Arc::new(IdGen::new()),
        settings: Arc::new(ApiSettings {
            body_limit: 64 * 1024 * 1024,
            fixed_admin_hash: Some(hash_token(ADMIN)),
            ..ApiSettings::default()
        }),
        engine: Arc::new(engine),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let app: Value = http
        .post(format!("{base}/applications"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let app_id = app["id"].as_str().context("no application id")?.to_string();
    let devices = format!("{base}/applications/{app_id}/devices");

    println!(
        "bulk_devices: {} devices x 3 tags, {} per call, concurrency {}, database {}",
        a.count, a.batch, a.concurrency, a.database
    );
    // Client-side request bodies are built before the clock starts: the figure is the server's.
    let gen = Instant::now();
    let bodies: Vec<(usize, usize, String)> = (0..a.count)
        .step_by(a.batch.max(1))
        .map(|from| {
            let to = (from + a.batch).min(a.count);
            (from, to, body(from, to))
        })
        .collect();
    println!(
        "generated {} request bodies in {:.2} s (not counted)",
        bodies.len(),
        gen.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let cpu_start = cpu_secs();
    let sem = Arc::new(tokio::sync::Semaphore::new(a.concurrency.max(1)));
    let mut tasks = Vec::new();
    for (from, to, text) in bodies {
        let permit = sem.clone().acquire_owned().await?;
        let (http, url) = (http.clone(), format!("{devices}/bulk"));
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(url)
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(text)
                .send()
                .await;
            drop(permit);
            let res = res?;
            let status = res.status();
            let v: Value = res.json().await?;
            if status.as_u16() != 201 || v["created"].as_u64() != Some((to - from) as u64) {
                bail!("bulk call {from}..{to} failed: {status} {v}");
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu_start;
    println!(
        "created {} devices in {secs:.2} s wall ({:.0} devices/s, {:.0} rows/s incl. tags); \
         process CPU {cpu:.2} s",
        a.count,
        a.count as f64 / secs,
        (a.count * 4) as f64 / secs
    );

    let app_id = Id::parse(&app_id)?;
    let queries = [
        (
            "tag query matching 1%",
            json!({"tags": {"site": "site-42"}}),
        ),
        (
            "name prefix query",
            json!({"name": {"$startsWith": "device-00012"}}),
        ),
    ];
    for (label, q) in queries {
        let url = format!("{devices}?perPage=100&sortField=id");
        let mut page_times = Vec::new();
        let mut total = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let v: Value = http
                .get(&url)
                .query(&[("query", q.to_string())])
                .bearer_auth(ADMIN)
                .send()
                .await?
                .json()
                .await?;
            page_times.push(t.elapsed());
            total = v["totalCount"]
                .as_u64()
                .with_context(|| format!("bad answer {v}"))?;
        }
        let parsed = rjobs_query::parse(ResourceType::Device, &q, None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut count_times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let n = store
                .count_resources(&app_id, ResourceType::Device, None, Some(&parsed))
                .await?;
            count_times.push(t.elapsed());
            if n != total {
                bail!("count {n} != totalCount {total}");
            }
        }
        println!(
            "{label} {q}: totalCount {total}; list page (perPage 100, incl. totalCount) median {:.1} ms; totalCount alone median {:.1} ms",
            ms(median(page_times)),
            ms(median(count_times)),
        );
    }
    if let Some(db) = pg {
        sql.close().await;
        db.drop_db().await?;
    }
    Ok(())
}
