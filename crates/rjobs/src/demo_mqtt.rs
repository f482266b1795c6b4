//! `rjobs demo --mqtt`: the same fleet and job, but the workflow sends every device a
//! Device: Command over the MQTT broker and the devices — simulated by one client on the broker
//! — acknowledge their own iterations on `losant/{deviceId}/iteration/ack`, failing exactly as
//! the sensor API does (sensors n%100==7 always, n%100==13 on their first attempt).

use std::time::Duration;

use anyhow::bail;
use rjobs_mqtt::devices::{send_ack, Fleet, FleetError};
use rumqttc::MqttOptions;
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
    let mut fleet = Fleet::new(opts);
    match fleet.subscribed(Duration::from_secs(5)).await {
        Ok(()) => {}
        Err(FleetError::Unreachable(e)) => {
            bail!("cannot reach the MQTT broker at {host}:{port}: {e}")
        }
        Err(FleetError::NoSubAck) => bail!("the MQTT broker at {host}:{port} did not answer"),
    }
    Ok(tokio::spawn(async move {
        loop {
            let command = fleet.next_command(Duration::from_millis(100)).await;
            let Some(cmd) = command.json() else {
                continue;
            };
            let c = &cmd["payload"];
            let attempt = c["attempt"].as_u64().unwrap_or(1);
            let (success, message) = answer(c["sensor"].as_str().unwrap_or(""), attempt);
            let ack = json!({"iterationId": c["iterationId"], "attempt": attempt,
                             "success": success, "message": message});
            let _ = send_ack(fleet.client(), &command.device, ack.to_string()).await;
        }
    }))
}
