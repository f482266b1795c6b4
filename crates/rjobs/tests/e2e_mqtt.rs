//! Devices over MQTT, through the real binary and the local Mosquitto (127.0.0.1:1883, started
//! by `scripts/ensure-mosquitto`): a job over 1,000 devices whose flow sends each a
//! Device: Command; one simulated-devices client answers on each device's own ack topic — most
//! succeed, some fail, some never answer (they time out), every answer is sent twice (the second
//! is refused) — and the summary is exact. Forged acks (another device's iteration on a
//! device's topic) and garbage payloads change nothing and are counted in `/metrics`. Without a
//! broker, the node fails naming the setting and `/health` says so. (`e2e_mqtt_restart.rs`: the
//! broker restarted mid-run.)
//!
//! Each server uses its own shared-subscription group, so tests (and the benchmark) sharing the
//! broker never receive each other's acks.

mod common;
#[path = "common/mqtt.rs"]
mod mqtt_common;

use std::collections::HashMap;
use std::time::Duration;

use common::{Client, Data, Db, Server, ADMIN};
use mqtt_common::{execute, health, metric, setup, unique, wait_connected, wait_done};
use rjobs_mqtt::devices::{send_ack, Fleet};
use rumqttc::{AsyncClient, MqttOptions};
use serde_json::{json, Value};

const BROKER: &str = "mqtt://127.0.0.1:1883";

/// What a simulated device does with a command.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Succeed,
    Fail,
    Silent,
}

fn behaviour(i: usize) -> Behaviour {
    if i % 25 == 7 {
        Behaviour::Silent
    } else if i % 10 == 3 {
        Behaviour::Fail
    } else {
        Behaviour::Succeed
    }
}

/// Answers every command for `devices` on the device's own ack topic (twice), and for each
/// command also sends forgeries and garbage. Returns once connected and subscribed.
async fn simulate(devices: HashMap<String, usize>, forge: bool) -> tokio::task::JoinHandle<()> {
    let mut opts = MqttOptions::new(unique("sim"), "127.0.0.1", 1883);
    opts.set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20)
        .set_inflight(1000);
    let mut fleet = Fleet::new(opts);
    // Wait for the SUBACK before any command can be sent.
    if let Err(e) = fleet.subscribed(Duration::from_secs(10)).await {
        panic!("simulator cannot subscribe on the broker: {e}");
    }
    let silent: Vec<String> = devices
        .iter()
        .filter(|(_, i)| behaviour(**i) == Behaviour::Silent)
        .map(|(d, _)| d.clone())
        .collect();
    tokio::spawn(async move {
        loop {
            let command = fleet.next_command(Duration::from_millis(100)).await;
            let Some(&i) = devices.get(&command.device) else {
                continue; // another test's device
            };
            let device = command.device.clone();
            let client = fleet.client();
            let cmd: Value = serde_json::from_slice(&command.payload).unwrap();
            assert_eq!(cmd["name"], "update");
            assert!(cmd["time"].is_string(), "{cmd}");
            let it = cmd["payload"]["iterationId"].as_str().unwrap().to_string();
            assert!(it.ends_with(&device), "{it} is not {device}'s iteration");
            if forge {
                // This device tries to settle a silent device's iteration: from its own topic,
                // and as an ack of its own iteration id on the silent device's topic.
                let exec = it.split('-').next().unwrap();
                // Never itself (a silent device's ack of its own iteration would be genuine).
                let mut victim = &silent[i % silent.len()];
                if *victim == device {
                    victim = &silent[(i + 1) % silent.len()];
                }
                let forged = json!({"iterationId": format!("{exec}-{victim}"), "success": true});
                let on_victim = json!({"iterationId": it, "success": true});
                let garbage: [&[u8]; 4] = [
                    b"not json",
                    b"{}",
                    br#"{"iterationId": 5, "success": true}"#,
                    br#"{"iterationId": "nope", "success": true}"#,
                ];
                let _ = send_ack(client, &device, forged.to_string()).await;
                let _ = send_ack(client, victim, on_victim.to_string()).await;
                let _ = send_ack(client, &device, garbage[i % 4]).await;
            }
            let success = match behaviour(i) {
                Behaviour::Silent => continue,
                Behaviour::Succeed => true,
                Behaviour::Fail => false,
            };
            let ack = json!({"iterationId": it, "attempt": cmd["payload"]["attempt"],
                             "success": success, "message": format!("fw on {device}"),
                             "accumulator": null});
            for _ in 0..2 {
                let _ = send_ack(client, &device, ack.to_string()).await;
            }
        }
    })
}

fn envs(group: &str) -> Vec<(&'static str, String)> {
    vec![
        ("RJOBS_MQTT__URL", BROKER.to_string()),
        ("RJOBS_MQTT__SHARE_GROUP", group.to_string()),
        ("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "500".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_devices_ack_over_mqtt_with_forgeries_and_garbage() {
    let data = Data::new(Db::Sqlite).await;
    let group = unique("g");
    let e = envs(&group);
    let e: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let srv = Server::start(&data, &e);
    let c = Client::new();
    wait_connected(&c, &srv).await;
    let s = setup(&c, &srv, 1000, false).await;
    let sim = simulate(s.devices.clone(), true).await;
    let exec = execute(&c, &srv, &s).await;
    let v = wait_done(&c, &srv, &exec, 120).await;

    let want = |b: Behaviour| (0..1000).filter(|i| behaviour(*i) == b).count() as u64;
    let sum = &v["executionSummary"];
    assert_eq!(sum["succeeded"], want(Behaviour::Succeed), "{v}");
    assert_eq!(sum["failed"], want(Behaviour::Fail), "{v}");
    assert_eq!(sum["timedOut"], want(Behaviour::Silent), "{v}");
    assert_eq!(want(Behaviour::Silent), 40);

    // Each device's answer was sent twice: applied once, the copy refused.
    let answered = 1000 - want(Behaviour::Silent);
    // Let the last acks' counters land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        metric(&srv, "rjobs_mqtt_device_acks_total{result=\"applied\"}").await,
        answered
    );
    assert!(
        metric(
            &srv,
            "rjobs_mqtt_device_acks_total{result=\"not_awaiting\"}"
        )
        .await
            >= answered - 5,
        "duplicates refused"
    );
    assert_eq!(
        metric(
            &srv,
            "rjobs_mqtt_device_acks_total{result=\"foreign_device\"}"
        )
        .await,
        2000,
        "both forgeries of each of the 1000 devices were refused"
    );
    assert_eq!(
        metric(&srv, "rjobs_mqtt_device_acks_total{result=\"bad_json\"}").await
            + metric(&srv, "rjobs_mqtt_device_acks_total{result=\"bad_field\"}").await
            + metric(
                &srv,
                "rjobs_mqtt_device_acks_total{result=\"bad_iteration_id\"}"
            )
            .await,
        1000
    );
    assert_eq!(metric(&srv, "rjobs_mqtt_connected").await, 1);
    assert!(metric(&srv, "rjobs_mqtt_publishes_total{result=\"ok\"}").await >= 1000);

    // An iteration's record carries the device's message.
    let (st, its) = c
        .call(
            "GET",
            &srv.url(&format!("{exec}/iterations?perPage=5&status=failed")),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, 200, "{its}");
    let first = &its["items"][0];
    assert!(
        first["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("fw on "),
        "{its}"
    );
    // A device naming an execution that does not exist, on its own topic: looked up, refused.
    let (dev, _) = s.devices.iter().next().unwrap();
    let mut opts = MqttOptions::new(unique("ghost"), "127.0.0.1", 1883);
    opts.set_keep_alive(Duration::from_secs(5));
    let (ghost, mut el) = AsyncClient::new(opts, 10);
    tokio::spawn(async move { while el.poll().await.is_ok() {} });
    let made_up =
        json!({"iterationId": format!("0123456789abcdef01234567-{dev}"), "success": true});
    send_ack(&ghost, dev, made_up.to_string()).await.unwrap();
    let mut unknown = 0;
    for _ in 0..50 {
        unknown = metric(
            &srv,
            "rjobs_mqtt_device_acks_total{result=\"unknown_execution\"}",
        )
        .await;
        if unknown > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(unknown, 1);
    assert_eq!(health(&c, &srv).await["status"], "ok");
    sim.abort();
    let _ = s.flow;
    srv.stop();
    data.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_broker_the_node_fails_naming_the_setting() {
    let data = Data::new(Db::Sqlite).await;
    let srv = Server::start(&data, &[("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "500")]);
    let c = Client::new();
    assert_eq!(health(&c, &srv).await["mqtt"]["state"], "notConfigured");
    let s = setup(&c, &srv, 3, false).await;
    let exec = execute(&c, &srv, &s).await;
    let v = wait_done(&c, &srv, &exec, 30).await;
    assert_eq!(v["executionSummary"]["timedOut"], 3, "{v}");
    let (st, logs) = c
        .call(
            "GET",
            &srv.url(&format!("/applications/{}/flows/{}/logs", s.app, s.flow)),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, 200, "{logs}");
    let text = logs.to_string();
    assert!(text.contains("RJOBS_MQTT__URL"), "{text}");

    // A bad MQTT node config is a 400 naming the field.
    let bad = json!({"name": "x", "nodes": [{"id": "m", "type": "MqttMessageNode",
                                          "config": {"topicTemplate": "a/+/b"}}]});
    let (st, e) = c
        .call(
            "POST",
            &srv.url(&format!("/applications/{}/flows", s.app)),
            Some(ADMIN),
            Some(&bad),
        )
        .await;
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["type"], "Validation");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .starts_with("nodes[0].config.topicTemplate:"));
    srv.stop();
    data.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mqtt_settings_are_refused_at_startup() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rjobs"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RJOBS_MQTT__URL", "mqtts://127.0.0.1:8883")
        .env("RJOBS_MQTT__CA_FILE", "/nonexistent/ca.pem")
        .env("RJOBS_DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mqtt.ca_file: cannot read"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rjobs"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RJOBS_MQTT__URL", "ws://127.0.0.1:8883")
        .env("RJOBS_DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mqtt.url: unsupported scheme"), "{err}");
}
