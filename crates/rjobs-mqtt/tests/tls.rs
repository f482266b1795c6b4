//! `mqtts://` against a real Mosquitto: each test generates a private CA and a server
//! certificate for 127.0.0.1 with the openssl CLI, starts its own Mosquitto with a TLS listener
//! on a free port, and connects rjobs-mqtt to it.
//!
//! - The right CA (`mqtt.ca_file`): rjobs connects; a command it publishes reaches a device
//!   client on the same TLS listener, and messages the device publishes on its ack topic reach
//!   rjobs' ack path (counted by result in rjobs' metrics).
//! - Another CA: starting returns at once, the connection never comes up, the TLS error
//!   (unknown issuer) is in `/health`'s status and in the publish error, which fails at once.
//! - A CA file that is missing or not PEM: refused at startup naming `mqtt.ca_file`.
//!
//! Mosquitto is at /usr/sbin/mosquitto on every machine here (`scripts/ensure-mosquitto`); a
//! machine without it skips the two broker tests, saying so.

// Real time on purpose: a real broker and the bounds on how long things may take.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::Registry;
use rjobs_core::{Clock, SystemClock};
use rjobs_engine::{Component, DeviceAcks, Engine, NullSink, Publisher, ReportSigner};
use rjobs_flow::Publish;
use rjobs_mqtt::tls::{client_config, Roots};
use rjobs_mqtt::{Mqtt, MqttSettings};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio_util::sync::CancellationToken;

const DEVICE: &str = "5f0e1a2b3c4d5e6f7a8b9c0d";
const EXECUTION: &str = "6a1b2c3d4e5f6a7b8c9d0e1f";

fn mosquitto() -> Option<PathBuf> {
    [
        "/usr/sbin/mosquitto",
        "/usr/bin/mosquitto",
        "/usr/local/sbin/mosquitto",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `<name>.pem` / `<name>.key` in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=rjobs test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.pem` / `server.key` for 127.0.0.1 and localhost, signed by `ca`.
fn server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Mosquitto with one TLS listener, killed on drop.
struct Broker {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Broker {
    fn start(bin: &Path) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        ca(dir.path(), "ca");
        ca(dir.path(), "other-ca");
        server_cert(dir.path(), "ca");
        // Mosquitto started as root drops to its own user before reading the files: let it.
        use std::os::unix::fs::PermissionsExt;
        let open =
            |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        open(dir.path(), 0o755).unwrap();
        for f in ["ca.pem", "server.pem", "server.key"] {
            open(&dir.path().join(f), 0o644).unwrap();
        }
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
                 keyfile {d}/server.key\nallow_anonymous true\npersistence false\n",
                d = dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("mosquitto.log")).unwrap())
            .spawn()
            .expect("start mosquitto");
        let mut broker = Broker { child, port, dir };
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = broker.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > end {
                let log = std::fs::read_to_string(broker.dir.path().join("mosquitto.log"));
                panic!("mosquitto did not listen on {port} ({exited:?}): {log:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        broker
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn settings(&self, ca: &str) -> MqttSettings {
        MqttSettings {
            url: Some(format!("mqtts://127.0.0.1:{}", self.port)),
            ca_file: Some(self.file(ca)),
            share_group: String::new(),
            ..MqttSettings::default()
        }
    }
}

async fn acks(dir: &Path) -> Arc<DeviceAcks> {
    let url = format!("sqlite://{}/acks.db", dir.display());
    let store: Arc<dyn rjobs_store::Store> = Arc::new(rjobs_store::connect(&url).await.unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(
        store,
        clock,
        Arc::new(NullSink),
        ReportSigner::new(b"test", "http://rjobs.test", 1000),
    );
    Arc::new(DeviceAcks::new(Arc::new(engine)))
}

fn ack_count(registry: &Registry, result: &str) -> u64 {
    let mut text = String::new();
    prometheus::TextEncoder::new()
        .encode_utf8(&registry.gather(), &mut text)
        .unwrap();
    let key = format!("rjobs_mqtt_device_acks_total{{result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().unwrap())
}

async fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TLS broker of the test's own and rjobs connecting to it trusting `ca`.
struct Connected {
    broker: Broker,
    registry: Registry,
    stop: CancellationToken,
    mqtt: Arc<Mqtt>,
    /// How long `Mqtt::start` took to return.
    started_in: Duration,
}

/// Starts a broker and rjobs' connection (node id `node`); `None`, saying so, on a machine
/// without Mosquitto.
async fn connect(ca: &str, node: &str) -> Option<Connected> {
    let Some(bin) = mosquitto() else {
        eprintln!("SKIPPED: no mosquitto binary on this machine");
        return None;
    };
    let broker = Broker::start(&bin);
    let registry = Registry::new();
    let stop = CancellationToken::new();
    let began = Instant::now();
    let mqtt = Mqtt::start(
        &broker.settings(ca),
        node,
        acks(broker.dir.path()).await,
        &registry,
        stop.clone(),
    )
    .unwrap()
    .expect("a broker is configured");
    let started_in = began.elapsed();
    Some(Connected {
        broker,
        registry,
        stop,
        mqtt,
        started_in,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_subscribe_over_tls() {
    let Some(Connected {
        broker,
        registry,
        stop,
        mqtt,
        ..
    }) = connect("ca.pem", "tls-test").await
    else {
        return;
    };
    until("rjobs connected over TLS", 10, || mqtt.is_connected()).await;
    assert_eq!(mqtt.status()["state"], "connected");
    assert!(mqtt.status().get("lastError").is_none());

    // A device on the same TLS listener, trusting the same CA.
    let mut opts = MqttOptions::new("tls-device", "127.0.0.1", broker.port);
    let config = client_config(&Roots::CaFile(broker.file("ca.pem"))).unwrap();
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    let (device, mut el) = AsyncClient::new(opts, 100);
    device
        .subscribe(format!("losant/{DEVICE}/command"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(ev) => {
                    if tx.send(ev).is_err() {
                        break;
                    }
                }
                Err(e) => panic!("the device's TLS connection failed: {e}"),
            }
        }
    });
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Some(_)) => {}
            other => panic!("device: no SUBACK: {other:?}"),
        }
    }

    // rjobs → device.
    let command = br#"{"name":"update","payload":{"v":2},"time":"2024-01-01T00:00:00.000Z"}"#;
    mqtt.publish(Publish::command(DEVICE, command.to_vec()))
        .await
        .unwrap();
    let got = loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::Incoming(Packet::Publish(p)))) => break p,
            Ok(Some(_)) => {}
            other => panic!("device: no command: {other:?}"),
        }
    };
    assert_eq!(got.topic, format!("losant/{DEVICE}/command"));
    assert_eq!(&got.payload[..], &command[..]);

    // Device → rjobs: garbage (refused by the pure decision) until rjobs' subscription is in
    // place, then a well-formed ack for an execution that does not exist (refused by the
    // engine's ack path, which looked it up).
    let ack_topic = format!("losant/{DEVICE}/iteration/ack");
    let end = Instant::now() + Duration::from_secs(10);
    while ack_count(&registry, "bad_json") == 0 {
        assert!(Instant::now() < end, "rjobs received the device's message");
        device
            .publish(&ack_topic, QoS::AtLeastOnce, false, b"not json".to_vec())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ack = format!(r#"{{"iterationId":"{EXECUTION}-{DEVICE}","success":true}}"#);
    device
        .publish(&ack_topic, QoS::AtLeastOnce, false, ack.into_bytes())
        .await
        .unwrap();
    until("the ack reached the engine's ack path", 10, || {
        ack_count(&registry, "unknown_execution") == 1
    })
    .await;
    assert_eq!(ack_count(&registry, "applied"), 0);
    assert!(mqtt.is_connected());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_signed_by_another_ca_is_refused_without_blocking() {
    // The broker is bound so that it lives to the end of the test.
    let Some(Connected {
        broker: _broker,
        stop,
        mqtt,
        started_in,
        ..
    }) = connect("other-ca.pem", "tls-wrong-ca").await
    else {
        return;
    };
    assert!(started_in < Duration::from_secs(2), "start returns at once");
    until("the TLS failure is recorded", 10, || {
        mqtt.last_error().is_some()
    })
    .await;
    let err = mqtt.last_error().unwrap();
    assert!(
        err.contains("invalid peer certificate") && err.contains("UnknownIssuer"),
        "{err}"
    );
    let status = mqtt.status();
    assert_eq!(status["state"], "disconnected");
    assert_eq!(status["lastError"], err.as_str());

    // A publish fails at once, saying why; the connection stays down through the retries.
    let t = Instant::now();
    let e = mqtt
        .publish(Publish::command(DEVICE, b"{}".to_vec()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert!(
        e.contains("is not connected") && e.contains("invalid peer certificate"),
        "{e}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!mqtt.is_connected());
    stop.cancel();
}

#[test]
fn ca_files_are_checked_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").display().to_string();
    let e = client_config(&Roots::CaFile(missing))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("mqtt.ca_file: cannot read"), "{e}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    let e = client_config(&Roots::CaFile(empty.display().to_string()))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("mqtt.ca_file:") && e.contains("no CERTIFICATE"),
        "{e}"
    );
    assert_eq!(Roots::from_setting(Some(" ")), Roots::Native);
    assert_eq!(
        Roots::from_setting(Some("/a.pem")),
        Roots::CaFile("/a.pem".into())
    );
}
