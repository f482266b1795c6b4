//! Devices acknowledging over MQTT: N devices, a job at concurrency C whose flow is
//! `Job: Iteration → Device: Command`, and one simulated-devices client on the local broker
//! that answers each `losant/{id}/command` with a success ack on `losant/{id}/iteration/ack`.
//! Every iteration thus costs a flow run, a QoS 1 publish, the broker's round trip to the
//! device and back, and an ack applied through the group commit. Prints iterations per second
//! from execute to `completed`.
//!
//! ```text
//! cargo run --release -p rjobs-bench --bin mqtt_ack -- --count 1000 --concurrency 100 --database sqlite
//! ```
//! Needs an MQTT broker at `--broker` (default mqtt://127.0.0.1:1883; `scripts/ensure-mosquitto`).

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use anyhow::bail;
use rjobs_bench::flags::{self, RunFlags};
use rjobs_bench::{peak_rss_mib, InProcess, Timed};
use rjobs_mqtt::devices::{send_ack, Fleet, FleetError};
use rumqttc::MqttOptions;
use serde_json::json;

/// Subscribes to every device's command topic and acks each command; returns once subscribed.
async fn devices(tag: &str) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut opts = MqttOptions::new(format!("bench-devices-{tag}"), "127.0.0.1", 1883);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000);
    let mut fleet = Fleet::new(opts);
    match fleet.subscribed(Duration::from_secs(10)).await {
        Ok(()) => {}
        Err(FleetError::Unreachable(e)) => bail!("cannot reach the broker: {e}"),
        Err(FleetError::NoSubAck) => bail!("no SUBACK from the broker"),
    }
    Ok(tokio::spawn(async move {
        loop {
            let command = fleet.next_command(Duration::from_millis(50)).await;
            let Some(cmd) = command.json() else {
                continue;
            };
            let ack = json!({"iterationId": cmd["payload"]["iterationId"],
                             "attempt": cmd["payload"]["attempt"], "success": true});
            let _ = send_ack(fleet.client(), &command.device, ack.to_string()).await;
        }
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut run = RunFlags::new(1_000, 100);
    let mut broker = "mqtt://127.0.0.1:1883".to_string();
    flags::parse(|flag, val| match flag {
        "--broker" => {
            broker = val;
            Ok(true)
        }
        _ => run.take(flag, val),
    })?;
    let RunFlags {
        count,
        concurrency,
        database,
    } = run;
    let tag = format!("{}", std::process::id());
    let settings = rjobs_mqtt::MqttSettings {
        url: Some(broker),
        client_id: Some(format!("bench-rjobs-{tag}")),
        share_group: format!("bench{tag}"),
        ..Default::default()
    };
    let srv = InProcess::start_mqtt(&database, &settings).await?;
    let sim = devices(&tag).await?;
    use reqwest::Method;
    let app = srv.app_with_devices(count).await?;
    let job = srv.device_job(&app, concurrency).await?;
    srv.add_flow(&app, json!({
        "name": "command",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["cmd"]]}],
        "nodes": [{"id": "cmd", "type": "DeviceSendCommandNode", "outputIds": [[]], "config": {
            "deviceIdTemplate": "{{data.device.id}}", "commandNameTemplate": "update",
            "payloadTemplate": "{\"iterationId\": \"{{data.iterationId}}\", \"attempt\": {{data.attemptNumber}}}"}}]
    })).await?;
    // Wait for the server's connection (it connects in the background).
    for _ in 0..100 {
        let h = srv.call(Method::GET, "/health", None).await?;
        if h["mqtt"]["state"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Timed { last, secs, .. } = srv.execute_timed(&app, &job).await?;
    println!(
        "mqtt_ack: database {database}, {count} devices, concurrency {concurrency}: {:.0} iterations/s ({secs:.2} s); status {}, summary {}; peak RSS {:.0} MiB",
        count as f64 / secs,
        last["status"],
        last["executionSummary"],
        peak_rss_mib(),
    );
    sim.abort();
    if last["executionSummary"]["succeeded"].as_u64() != Some(count as u64) {
        bail!(
            "not every iteration succeeded: {}",
            last["executionSummary"]
        );
    }
    srv.finish().await
}
