//! Device acks in a cluster (PostgreSQL, two nodes, one broker): both nodes subscribe to the
//! device ack topic in one shared-subscription group, so the broker hands each message to one
//! of them; whichever node receives an ack applies it through the store's compare-and-set, even
//! for an execution the other node leases. Every device answers twice: each iteration is
//! settled exactly once across the cluster and the summary is exact.

mod common;
#[path = "common/mqtt.rs"]
mod mqtt_common;

use std::time::Duration;

use common::{Client, Data, Db, Server};
use mqtt_common::{execute, metric, setup, simulate_on, unique, wait_connected, wait_done};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_ack_subscription_and_apply_each_ack_once() {
    let data = Data::new(Db::Postgres).await;
    let group = unique("c");
    let mut nodes = Vec::new();
    for i in 1..=2 {
        let client_id = unique(&format!("rjobs-n{i}-"));
        let node_id = format!("n{i}");
        let env = [
            ("RJOBS_MQTT__URL", "mqtt://127.0.0.1:1883"),
            ("RJOBS_MQTT__SHARE_GROUP", group.as_str()),
            ("RJOBS_MQTT__CLIENT_ID", client_id.as_str()),
            ("RJOBS_CLUSTER__NODE_ID", node_id.as_str()),
            ("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "500"),
        ];
        nodes.push(tokio::task::block_in_place(|| Server::start(&data, &env)));
    }
    let c = Client::new();
    for n in &nodes {
        wait_connected(&c, n).await;
    }
    let s = setup(&c, &nodes[0], 400, true).await;
    let sim = simulate_on(1883, s.devices.clone(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exec = execute(&c, &nodes[0], &s).await;
    let v = wait_done(&c, &nodes[1], &exec, 120).await;
    assert_eq!(v["executionSummary"]["succeeded"], 400, "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let applied_on = |i: usize| {
        metric(
            &nodes[i],
            "rjobs_mqtt_device_acks_total{result=\"applied\"}",
        )
    };
    let (a0, a1) = (applied_on(0).await, applied_on(1).await);
    assert_eq!(
        a0 + a1,
        400,
        "each iteration settled once across the cluster"
    );
    assert!(
        a0 > 0 && a1 > 0,
        "the broker shared the messages: {a0} / {a1}"
    );
    sim.abort();
    for n in nodes {
        n.stop();
    }
    data.cleanup().await;
}
