//! The flow benchmark on 1, 2, 3… nodes: N real `rjobs serve` processes on one fresh PostgreSQL
//! database, K jobs over disjoint device sets, each with the workflow
//! `Job: Iteration → Job: Acknowledge(true)`, all executed at once. Prints iterations per second
//! from the first execute to the last `completed`, per-node dispatch counts (from `GET
//! /cluster`), and the median of several runs per node count with its scaling against one node.
//!
//! ```text
//! cargo build --release -p rjobs
//! cargo run --release -p rjobs-bench --bin flow_cluster -- --nodes 1,2,3 --executions 6 \
//!     --count 30000 --concurrency 100 --runs 3 [--rjobs target/release/rjobs]
//! ```
//!
//! One execution is dispatched by one node (its lease holder), so scaling needs at least as many
//! executions as nodes. Every process shares this machine's cores with PostgreSQL and the client.

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::Method;
use rjobs_store::testing::TestDb;
use serde_json::{json, Value};

use rjobs_bench::{call, ADMIN};

struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(bin: &str, url: &str, id: &str) -> anyhow::Result<Node> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .env("RJOBS_ADMIN_TOKEN", ADMIN)
            .env("RJOBS_CLUSTER__NODE_ID", id)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("cannot run {bin} (build it: cargo build --release -p rjobs)")
            })?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let base = loop {
            let line = lines.next().context("rjobs exited before listening")??;
            if let Some(rest) = line.strip_prefix("rjobs listening on ") {
                break rest.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Node { child, base })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

struct Opts {
    nodes: Vec<usize>,
    executions: usize,
    count: usize,
    concurrency: u32,
    runs: usize,
    bin: String,
}

fn opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        nodes: vec![1, 2, 3],
        executions: 6,
        count: 30_000,
        concurrency: 100,
        runs: 3,
        bin: "target/release/rjobs".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--nodes" => o.nodes = val.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--executions" => o.executions = val.parse()?,
            "--count" => o.count = val.parse()?,
            "--concurrency" => o.concurrency = val.parse()?,
            "--runs" => o.runs = val.parse()?,
            "--rjobs" => o.bin = val,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(o)
}

/// One run on `n` nodes: returns iterations per second.
async fn run(o: &Opts, n: usize) -> anyhow::Result<f64> {
    let db = TestDb::create().await?;
    let nodes: Vec<Node> = (1..=n)
        .map(|i| Node::start(&o.bin, &db.url, &format!("n{i}")))
        .collect::<anyhow::Result<_>>()?;
    let http = reqwest::Client::new();
    let first = nodes[0].base.clone();
    let app = call(
        &http,
        &first,
        Method::POST,
        "/applications",
        Some(json!({"name": "bench"})),
    )
    .await?;
    let app = app["id"].as_str().unwrap_or_default().to_string();
    let per = o.count / o.executions;
    let mut jobs = Vec::new();
    for k in 0..o.executions {
        for start in (0..per).step_by(10_000) {
            let items: Vec<Value> = (start..per.min(start + 10_000))
                .map(|i| json!({"name": format!("s{k}-{i:07}")}))
                .collect();
            call(
                &http,
                &first,
                Method::POST,
                &format!("/applications/{app}/devices/bulk"),
                Some(Value::Array(items)),
            )
            .await?;
        }
        let query = json!({"name": {"$startsWith": format!("s{k}-")}}).to_string();
        let job = call(
            &http,
            &first,
            Method::POST,
            &format!("/applications/{app}/resource-jobs"),
            Some(
                json!({"name": format!("bench {k}"), "resourceType": "device", "queryJson": query,
                "maxIterationConcurrency": o.concurrency}),
            ),
        )
        .await?;
        let job = job["id"].as_str().unwrap_or_default().to_string();
        call(&http, &first, Method::POST, &format!("/applications/{app}/flows"), Some(json!({
            "name": format!("ack {k}"),
            "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["ack"]]}],
            "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {"successExpression": "true"}}]
        }))).await?;
        jobs.push(job);
    }
    let t0 = Instant::now();
    let mut paths = Vec::new();
    for (k, job) in jobs.iter().enumerate() {
        let via = &nodes[k % n].base;
        let e = call(
            &http,
            via,
            Method::POST,
            &format!("/applications/{app}/resource-jobs/{job}/execute"),
            Some(json!({})),
        )
        .await?;
        let e = e["executionId"].as_str().unwrap_or_default().to_string();
        paths.push(format!(
            "/applications/{app}/resource-jobs/{job}/executions/{e}"
        ));
    }
    let mut done = 0;
    while done < paths.len() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = 0;
        for p in &paths {
            let v = call(&http, &first, Method::GET, p, None).await?;
            match v["status"].as_str() {
                Some("completed") => done += 1,
                Some("canceled" | "errored") => bail!("{p}: {v}"),
                _ => {}
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut per_node = Vec::new();
    for node in &nodes {
        let c = call(&http, &node.base, Method::GET, "/cluster", None).await?;
        per_node.push(format!(
            "{}={}",
            c["nodeId"].as_str().unwrap_or("?"),
            c["iterationsDispatched"]
        ));
    }
    let rate = (per * o.executions) as f64 / secs;
    println!(
        "  {n} node(s): {} iterations in {secs:.1} s = {rate:.0} iterations/s; dispatched per node: {}",
        per * o.executions,
        per_node.join(", ")
    );
    drop(nodes);
    db.drop_db().await?;
    Ok(rate)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = opts()?;
    println!(
        "flow_cluster: {} executions × {} devices, concurrency {} each, {} run(s) per node count",
        o.executions,
        o.count / o.executions,
        o.concurrency,
        o.runs
    );
    let mut results = Vec::new();
    for &n in &o.nodes {
        let mut rates = Vec::new();
        for _ in 0..o.runs {
            rates.push(run(&o, n).await?);
        }
        results.push((n, median(rates)));
    }
    let base = results.first().map_or(1.0, |r| r.1);
    for (n, rate) in &results {
        println!(
            "flow_cluster: {n} node(s): median {rate:.0} iterations/s (×{:.2} of {} node(s))",
            rate / base,
            results[0].0
        );
    }
    Ok(())
}
