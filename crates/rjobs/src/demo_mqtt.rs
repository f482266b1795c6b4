//! `rjobs demo --mqtt`: the same fleet and job, but the workflow sends every device a
//! Device: Command over the MQTT broker and the devices — simulated by one client on the broker
//! — acknowledge their own iterations on `losant/{deviceId}/iteration/ack`, failing exactly as
//! the sensor API does (sensors n%100==7 always, n%100==13 on their first attempt).

use std::time::Duration;

use anyhow::bail;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

use crate::demo::{fails_always, fails_once};

/// The workflow: Job: Iteration → Device: Command (the command carries what the device needs
/// to acknowledge: its iteration id and attempt).
pub fn flow(job: &str) -> Value {
    json!({
        "name": "Update a sensor over MQTT",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["cmd"]]}],
        "nodes": [{"id": "cmd", "type": "DeviceSendCommandNode", "outputIds": [], "config": {
            "deviceIdTemplate": "{{data.device.id}}",
            "commandNameTemplate": "updateFirmware",
            "payloadTemplate": "{\"sensor\": \"{{data.device.name}}\", \"iterationId\": \"{{data.iterationId}}\", \"attempt\": {{data.attemptNumber}}}"}}]
    })
}

/// What sensor `name` (`sensor-00042`) answers to its `attempt`.
fn answer(name: &str, attempt: u64) -> (bool, &'static str) {
    let n: u32 = name
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if fails_always(n) || (fails_once(n) && attempt <= 1) {
        (false, "sensor offline")
    } else {
        (true, "firmware installed")
    }
}

/// Connects the simulated devices to `host:port`; returns once they are subscribed.
pub async fn devices(
    host: &str,
    port: u16,
    tag: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut opts = MqttOptions::new(format!("rjobs-demo-devices-{tag}"), host, port);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_inflight(1000);
    let (client, mut el) = AsyncClient::new(opts, 10_000);
    client
        .subscribe("losant/+/command", QoS::AtLeastOnce)
        .await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), el.poll()).await {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("cannot reach the MQTT broker at {host}:{port}: {e}"),
            Err(_) => bail!("the MQTT broker at {host}:{port} did not answer"),
        }
    }
    Ok(tokio::spawn(async move {
        loop {
            let p = match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => p,
                Ok(_) => continue,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Some(device) = p.topic.split('/').nth(1).map(str::to_string) else {
                continue;
            };
            let Ok(cmd) = serde_json::from_slice::<Value>(&p.payload) else {
                continue;
            };
            let c = &cmd["payload"];
            let attempt = c["attempt"].as_u64().unwrap_or(1);
            let (success, message) = answer(c["sensor"].as_str().unwrap_or(""), attempt);
            let ack = json!({"iterationId": c["iterationId"], "attempt": attempt,
                             "success": success, "message": message});
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
