//! The broker restarted mid-run, through the real binary: a private Mosquitto on its own port
//! (so no other test is disturbed) is killed while a job over 300 devices is running and started
//! again 1.5 s later. Meanwhile `/health` stays 200 and shows the outage, publishes fail fast
//! (the affected iterations time out), and the run completes through retries once the broker
//! and the devices are back.

mod common;
#[path = "common/mqtt.rs"]
mod mqtt_common;

use std::time::Duration;

use common::{Client, Data, Db, Server, ADMIN};
use mqtt_common::{execute, health, metric, setup, simulate_on, unique, wait_connected, wait_done};
use serde_json::json;

/// A private Mosquitto on its own port, so restarting it disturbs no other test.
struct Broker {
    port: u16,
    conf: tempfile::NamedTempFile,
    child: Option<std::process::Child>,
}

impl Broker {
    fn start() -> Broker {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut conf = tempfile::NamedTempFile::new().unwrap();
        use std::io::Write;
        writeln!(
            conf,
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false"
        )
        .unwrap();
        let mut b = Broker {
            port,
            conf,
            child: None,
        };
        b.up();
        b
    }

    fn up(&mut self) {
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("mosquitto");
        let child = std::process::Command::new(bin)
            .args(["-c", self.conf.path().to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not listen on {}", self.port);
    }

    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_run_completes_through_retries() {
    let mut broker = Broker::start();
    let data = Data::new(Db::Sqlite).await;
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let group = unique("r");
    let srv = Server::start(
        &data,
        &[
            ("RJOBS_MQTT__URL", url.as_str()),
            ("RJOBS_MQTT__SHARE_GROUP", group.as_str()),
            ("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "500"),
        ],
    );
    let c = Client::new();
    wait_connected(&c, &srv).await;
    let s = setup(&c, &srv, 300, true).await;
    let (st, _) = c
        .call(
            "PATCH",
            &srv.url(&format!("/applications/{}/resource-jobs/{}", s.app, s.job)),
            Some(ADMIN),
            Some(&json!({"maxIterationConcurrency": 10, "iterationTimeout": 800})),
        )
        .await;
    assert_eq!(st, 201, "the original answers a job patch with 201");
    let sim = simulate_on(broker.port, s.devices.clone(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exec = execute(&c, &srv, &s).await;
    // Let part of the run finish, then take the broker away for a while.
    for _ in 0..200 {
        let (_, v) = c.call("GET", &srv.url(&exec), Some(ADMIN), None).await;
        if v["executionSummary"]["succeeded"].as_u64().unwrap_or(0) >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    broker.down();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let h = health(&c, &srv).await;
    assert_eq!(
        h["status"], "ok",
        "a broker outage never makes the server unhealthy"
    );
    assert_eq!(h["mqtt"]["state"], "disconnected", "{h}");
    let (_, mid) = c.call("GET", &srv.url(&exec), Some(ADMIN), None).await;
    assert_ne!(mid["status"], "completed", "the outage was mid-run: {mid}");
    broker.up();
    let v = wait_done(&c, &srv, &exec, 90).await;
    assert_eq!(v["executionSummary"]["succeeded"], 300, "{v}");
    assert!(metric(&srv, "rjobs_mqtt_publishes_total{result=\"not_connected\"}").await >= 1);
    assert_eq!(health(&c, &srv).await["mqtt"]["state"], "connected");
    sim.abort();
    srv.stop();
    data.cleanup().await;
}
