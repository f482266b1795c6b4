//! Helpers of the MQTT end-to-end tests (included by `e2e_mqtt*.rs` with `#[path]`): a device
//! fleet, a job whose flow sends each device a Device: Command, polling and `/metrics`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use rjobs_mqtt::devices::{send_ack, Fleet};
use rumqttc::MqttOptions;
use serde_json::{json, Value};

use crate::common::{Client, Server, ADMIN};

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}x{:x}", std::process::id(), rand::random::<u64>())
}

pub struct Setup {
    pub app: String,
    pub job: String,
    pub flow: String,
    /// device id → its index (its name is `d{index:04}`).
    pub devices: HashMap<String, usize>,
}

pub async fn setup(c: &Client, srv: &Server, n: usize, retries: bool) -> Setup {
    let app = c.create_app(srv, "mqtt").await;
    c.bulk_devices(srv, &app, (0..n).map(|i| format!("d{i:04}")))
        .await;
    let mut devices = HashMap::new();
    let mut page = 0;
    while devices.len() < n {
        let (st, list) = c
            .call(
                "GET",
                &srv.url(&format!(
                    "/applications/{app}/devices?perPage=1000&page={page}"
                )),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(st, 200, "{list}");
        let items = list["items"].as_array().unwrap();
        assert!(!items.is_empty(), "device listing ended early");
        for d in items {
            let name = d["name"].as_str().unwrap();
            let idx: usize = name[1..].parse().unwrap();
            devices.insert(d["id"].as_str().unwrap().to_string(), idx);
        }
        page += 1;
    }
    let (st, job) = c
        .call(
            "POST",
            &srv.url(&format!("/applications/{app}/resource-jobs")),
            Some(ADMIN),
            Some(&json!({"name": "fw", "resourceType": "device",
                "maxIterationConcurrency": 100, "iterationTimeout": 1500,
                "retryOnFailure": retries, "retryOnTimeout": retries,
                "maxIterationRetries": 5, "retryDelay": 0})),
        )
        .await;
    assert_eq!(st, 201, "{job}");
    let job = job["id"].as_str().unwrap().to_string();
    let flow = json!({
        "name": "send command",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["cmd"]]}],
        "nodes": [{"id": "cmd", "type": "DeviceSendCommandNode", "outputIds": [[]], "config": {
            "deviceIdTemplate": "{{data.device.id}}",
            "commandNameTemplate": "update",
            "payloadTemplate": "{\"iterationId\": \"{{data.iterationId}}\", \"attempt\": {{data.attemptNumber}}}"}}]
    });
    let (st, f) = c
        .call(
            "POST",
            &srv.url(&format!("/applications/{app}/flows")),
            Some(ADMIN),
            Some(&flow),
        )
        .await;
    assert_eq!(st, 201, "{f}");
    Setup {
        app,
        job,
        flow: f["id"].as_str().unwrap().to_string(),
        devices,
    }
}

pub async fn execute(c: &Client, srv: &Server, s: &Setup) -> String {
    let (st, e) = c
        .call(
            "POST",
            &srv.url(&format!(
                "/applications/{}/resource-jobs/{}/execute",
                s.app, s.job
            )),
            Some(ADMIN),
            Some(&json!({})),
        )
        .await;
    assert_eq!(st, 200, "{e}");
    format!(
        "/applications/{}/resource-jobs/{}/executions/{}",
        s.app,
        s.job,
        e["executionId"].as_str().unwrap()
    )
}

pub async fn wait_done(c: &Client, srv: &Server, exec: &str, secs: u64) -> Value {
    for _ in 0..secs * 10 {
        let (st, v) = c.call("GET", &srv.url(exec), Some(ADMIN), None).await;
        assert_eq!(st, 200, "{v}");
        if v["status"] == "completed" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the execution did not complete in {secs} s");
}

pub async fn health(c: &Client, srv: &Server) -> Value {
    let (st, v) = c.call("GET", &srv.url("/health"), None, None).await;
    assert_eq!(st, 200, "{v}");
    v
}

pub async fn wait_connected(c: &Client, srv: &Server) {
    for _ in 0..100 {
        if health(c, srv).await["mqtt"]["state"] == "connected" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not connect to the broker");
}

pub async fn metric(srv: &Server, name: &str) -> u64 {
    let text = reqwest::get(srv.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Acks every command of `devices` `copies` times (after a short delay), resubscribing after
/// reconnects.
pub fn simulate_on(
    port: u16,
    devices: HashMap<String, usize>,
    copies: usize,
) -> tokio::task::JoinHandle<()> {
    let mut opts = MqttOptions::new(unique("simr"), "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    let mut fleet = Fleet::new(opts);
    tokio::spawn(async move {
        loop {
            let command = fleet.next_command(Duration::from_millis(100)).await;
            if !devices.contains_key(&command.device) {
                continue;
            }
            let cmd = command.json().unwrap_or(Value::Null);
            let ack = json!({"iterationId": cmd["payload"]["iterationId"],
                             "attempt": cmd["payload"]["attempt"], "success": true});
            let c = fleet.client().clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                for _ in 0..copies {
                    let _ = send_ack(&c, &command.device, ack.to_string()).await;
                }
            });
        }
    })
}
