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

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rjobs_bench::{peak_rss_mib, InProcess};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

/// Subscribes to every device's command topic and acks each command; returns once subscribed.
async fn devices(tag: &str) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut opts = MqttOptions::new(format!("bench-devices-{tag}"), "127.0.0.1", 1883);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000);
    let (client, mut el) = AsyncClient::new(opts, 10_000);
    client
        .subscribe("losant/+/command", QoS::AtLeastOnce)
        .await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), el.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("cannot reach the broker: {e}"),
            Err(_) => bail!("no SUBACK from the broker"),
        }
    }
    Ok(tokio::spawn(async move {
        loop {
            let p = match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => p,
                Ok(_) => continue,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(device) = p.topic.split('/').nth(1) else {
                continue;
            };
            let Ok(cmd) = serde_json::from_slice::<Value>(&p.payload) else {
                continue;
            };
            let ack = json!({"iterationId": cmd["payload"]["iterationId"],
                             "attempt": cmd["payload"]["attempt"], "success": true});
            let _ = client
                .publish(
                    format!("losant/{device}/iteration/ack"),
                    QoS::AtLeastOnce,
                    false,
                    ack.to_string(),
                )
                .await;
        }
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut count = 1_000usize;
    let mut concurrency = 100u32;
    let mut database = "sqlite".to_string();
    let mut broker = "mqtt://127.0.0.1:1883".to_string();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--count" => count = val.parse()?,
            "--concurrency" => concurrency = val.parse()?,
            "--database" => database = val,
            "--broker" => broker = val,
            other => bail!("unknown flag {other}"),
        }
    }
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
    srv.call(Method::POST, &format!("/applications/{app}/flows"), Some(json!({
        "name": "command",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["cmd"]]}],
        "nodes": [{"id": "cmd", "type": "DeviceSendCommandNode", "outputIds": [[]], "config": {
            "deviceIdTemplate": "{{data.device.id}}", "commandNameTemplate": "update",
            "payloadTemplate": "{\"iterationId\": \"{{data.iterationId}}\", \"attempt\": {{data.attemptNumber}}}"}}]
    }))).await?;
    // Wait for the server's connection (it connects in the background).
    for _ in 0..100 {
        let h = srv.call(Method::GET, "/health", None).await?;
        if h["mqtt"]["state"] == "connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t1 = Instant::now();
    let (path, _) = srv.execute(&app, &job).await?;
    let (last, _) = srv.wait_final(&path, t1).await?;
    let secs = t1.elapsed().as_secs_f64();
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
