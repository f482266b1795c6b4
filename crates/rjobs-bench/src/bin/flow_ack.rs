//! Executions through a workflow: N devices, a job at concurrency C, and the flow
//! `Job: Iteration → Job: Acknowledge(true)`, on an in-process server (store, engine, flow runner
//! and router as `rjobs serve` wires them). Prints iterations per second from execute to
//! `completed`, how long the execute call and the first start took, and the process's peak RSS.
//!
//! ```text
//! cargo run --release -p rjobs-bench --bin flow_ack -- --count 100000 --concurrency 100 --database sqlite
//! ```

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use rjobs_bench::flags::{self, RunFlags};
use rjobs_bench::{peak_rss_mib, rss_mib, InProcess, Timed};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut run = RunFlags::new(100_000, 100);
    flags::parse(|flag, val| run.take(flag, val))?;
    let RunFlags {
        count,
        concurrency,
        database,
    } = run;
    let srv = InProcess::start(&database).await?;
    let t0 = Instant::now();
    let app = srv.app_with_devices(count).await?;
    println!(
        "setup: {count} devices in {:.1} s (peak RSS so far {:.0} MiB, now {:.0} MiB)",
        t0.elapsed().as_secs_f64(),
        peak_rss_mib(),
        rss_mib()
    );
    let job = srv.device_job(&app, concurrency).await?;
    srv.add_flow(&app, json!({
        "name": "ack",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["ack"]]}],
        "nodes": [{"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {"successExpression": "true"}}]
    })).await?;
    let Timed {
        last,
        secs,
        execute_ms,
        first_start_ms,
    } = srv.execute_timed(&app, &job).await?;
    println!(
        "flow_ack: database {database}, {count} iterations, concurrency {concurrency}: {:.0} iterations/s ({secs:.1} s; execute call {execute_ms:.0} ms, first start seen after {:.0} ms); status {}, summary {}; peak RSS {:.0} MiB, RSS at the end {:.0} MiB",
        count as f64 / secs,
        first_start_ms.unwrap_or(f64::NAN),
        last["status"],
        last["executionSummary"],
        peak_rss_mib(),
        rss_mib()
    );
    srv.finish().await
}
