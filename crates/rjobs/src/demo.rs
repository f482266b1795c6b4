//! `rjobs demo`: the whole product in one command on a fresh machine. It starts a server on a
//! free port with a temporary SQLite database, plus a small built-in "sensor API" that answers
//! slowly and fails some sensors on purpose (a few always, a few only on the first try); creates
//! an application with a fleet of devices, a job with retries and a workflow that calls the
//! sensor API for every device (Job: Iteration → HTTP → Job: Acknowledge); executes it with a
//! live progress bar; prints the summary, checks that the counts add up, saves the CSV report
//! and exits 0. With `--mqtt` the workflow sends Device: Commands over the local broker instead
//! and simulated devices acknowledge over MQTT (`demo_mqtt.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::settings::Settings;

/// `rjobs demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Devices in the demo fleet.
    #[arg(long, default_value_t = 2000)]
    devices: u32,
    /// Iterations in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: u32,
    /// Send each device a Device: Command over MQTT; simulated devices acknowledge over MQTT.
    #[arg(long)]
    mqtt: bool,
    /// The MQTT broker (with --mqtt).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
}

/// Sensor `n` always fails when `n % 100 == 7`, and fails its first reading when `n % 100 == 13`.
pub(crate) fn fails_always(n: u32) -> bool {
    n % 100 == 7
}
pub(crate) fn fails_once(n: u32) -> bool {
    n % 100 == 13
}

#[derive(Clone, Default)]
struct SensorApi {
    seen: Arc<Mutex<HashSet<u32>>>,
}

async fn reading(
    State(api): State<SensorApi>,
    Path(name): Path<String>,
) -> (StatusCode, Json<Value>) {
    tokio::time::sleep(Duration::from_millis(
        5 + u64::from(name.len() as u32 % 7) * 2,
    ))
    .await;
    let n: u32 = name
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let first = api.seen.lock().map(|mut s| s.insert(n)).unwrap_or(true);
    if fails_always(n) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "sensor offline"})),
        );
    }
    if fails_once(n) && first {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "busy, try again"})),
        );
    }
    let celsius = 15.0 + f64::from(n % 150) / 10.0;
    (
        StatusCode::OK,
        Json(json!({"sensor": name, "celsius": celsius})),
    )
}

async fn start_sensor_api() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/sensors/{name}/reading", get(reading))
        .with_state(SensorApi::default());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.with_context(|| format!("calling {path}"))?;
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .with_context(|| format!("reading {path}"))?;
        if !status.is_success() {
            bail!("{path}: {status}: {}", v["message"].as_str().unwrap_or(""));
        }
        Ok(v)
    }
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn count(v: &Value, k: &str) -> u64 {
    v["executionSummary"][k].as_u64().unwrap_or(0)
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("rjobs-demo-")
        .tempdir()?
        .keep();
    let token = rjobs_core::secret::new_token(rjobs_core::secret::ADMIN_PREFIX);
    let tag = format!("{}", std::process::id());
    let mut settings = Settings {
        listen: "127.0.0.1:0".into(),
        database_url: format!("sqlite://{}/demo.db", dir.display()),
        admin_token: Some(token.clone()),
        // The demo's sensor API listens on loopback, which flows may not reach by default.
        outbound: crate::settings::Outbound {
            allow_nets: "127.0.0.1/32".into(),
        },
        ..Settings::default()
    };
    let mut devices = None;
    if args.mqtt {
        let b = rjobs_mqtt::parse_url(&args.broker)?;
        settings.mqtt.url = Some(args.broker.clone());
        settings.mqtt.share_group = format!("demo{tag}");
        devices = Some(crate::demo_mqtt::devices(&b.host, b.port, &tag).await?);
    }
    let server = crate::serve::start(&settings).await?;
    let sensors = start_sensor_api().await?;
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{}", server.addr),
        token,
    };
    if args.mqtt {
        // The server connects in the background; commands sent before would only time out.
        for _ in 0..100 {
            if api.get("/health").await?["mqtt"]["state"] == "connected" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!("rjobs demo");
    println!(
        "  server       {} (SQLite at {}/demo.db)",
        api.base,
        dir.display()
    );
    if args.mqtt {
        println!(
            "  MQTT broker  {} (simulated devices fail n%100==7 always, n%100==13 once)",
            args.broker
        );
    } else {
        println!("  sensor API   {sensors} (fails sensors n%100==7 always, n%100==13 once)");
    }

    let app = api
        .post("/applications", json!({"name": "rjobs demo"}))
        .await?;
    let app = app["id"].as_str().unwrap_or_default().to_string();
    let fleet: Vec<Value> = (1..=args.devices)
        .map(|n| {
            json!({
                "name": format!("sensor-{n:05}"),
                "tags": [{"key": "kind", "value": "sensor"}, {"key": "site", "value": if n % 2 == 0 { "north" } else { "south" }}]
            })
        })
        .collect();
    for chunk in fleet.chunks(10_000) {
        api.post(
            &format!("/applications/{app}/devices/bulk"),
            Value::Array(chunk.to_vec()),
        )
        .await?;
    }
    println!("  application  {app} with {} devices", args.devices);
    let job = api
        .post(
            &format!("/applications/{app}/resource-jobs"),
            json!({
                "name": "Read every sensor",
                "resourceType": "device",
                "queryJson": "{\"tags\": {\"kind\": \"sensor\"}}",
                "maxIterationConcurrency": args.concurrency,
                "retryOnFailure": true,
                "maxIterationRetries": 2,
                "retryDelay": 100,
            }),
        )
        .await?;
    let job = job["id"].as_str().unwrap_or_default().to_string();
    let flow = json!({
        "name": "Read a sensor",
        "triggers": [{"type": "resourceJobIteration", "key": job, "config": {}, "outputIds": [["read"]]}],
        "nodes": [
            {"id": "read", "type": "HttpNode", "outputIds": [["ack"]], "config": {
                "method": "GET",
                "uriTemplate": format!("{sensors}/sensors/{{{{data.device.name}}}}/reading"),
                "responsePath": "data.reading"}},
            {"id": "ack", "type": "ResourceJobAcknowledgeNode", "outputIds": [], "config": {
                "successExpression": "{{data.reading.statusCode}} === 200",
                "messageTemplate": "HTTP {{data.reading.statusCode}}: {{#if data.reading.body.celsius}}{{data.reading.body.celsius}} C{{else}}{{data.reading.body.error}}{{/if}}"}}
        ]
    });
    let flow = if args.mqtt {
        crate::demo_mqtt::flow(&job)
    } else {
        flow
    };
    api.post(&format!("/applications/{app}/flows"), flow)
        .await?;
    println!(
        "  job          {job} (concurrency {}, 2 retries on failure) and its workflow",
        args.concurrency
    );

    let exec = api
        .post(
            &format!("/applications/{app}/resource-jobs/{job}/execute"),
            json!({}),
        )
        .await?;
    let exec = exec["executionId"].as_str().unwrap_or_default().to_string();
    println!("  execution    {exec}");
    let path = format!("/applications/{app}/resource-jobs/{job}/executions/{exec}");
    let bar = ProgressBar::new(u64::from(args.devices));
    bar.set_style(
        ProgressStyle::with_template(
            "  {bar:40.green/white} {pos}/{len} {msg} {per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    let last = loop {
        let v = api.get(&path).await?;
        let done = count(&v, "succeeded") + count(&v, "failed") + count(&v, "timedOut");
        bar.set_position(done);
        bar.set_message(format!(
            "ok {} failed {} timed out {} in flight {} remaining {}",
            count(&v, "succeeded"),
            count(&v, "failed"),
            count(&v, "timedOut"),
            count(&v, "inProgress"),
            count(&v, "remaining")
        ));
        if matches!(
            v["status"].as_str(),
            Some("completed" | "canceled" | "errored")
        ) {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bar.finish();
    let (ok, failed, timed_out) = (
        count(&last, "succeeded"),
        count(&last, "failed"),
        count(&last, "timedOut"),
    );
    let (in_flight, remaining) = (count(&last, "inProgress"), count(&last, "remaining"));
    println!(
        "Summary: status={} succeeded={ok} failed={failed} timedOut={timed_out} inProgress={in_flight} remaining={remaining} (total {})",
        last["status"].as_str().unwrap_or("?"),
        args.devices
    );
    if ok + failed + timed_out + in_flight + remaining != u64::from(args.devices) {
        bail!("the summary does not add up to {} devices", args.devices);
    }
    let report = api
        .http
        .get(format!("{}{path}/report.csv", api.base))
        .bearer_auth(&api.token)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let file = dir.join(format!("report-{exec}.csv"));
    std::fs::write(&file, &report)?;
    let rows = report
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    println!("Report: {} ({rows} rows, one per device)", file.display());
    let expected_failures = (1..=args.devices).filter(|n| fails_always(*n)).count() as u64;
    println!(
        "Expected: {expected_failures} sensors fail on every attempt; {} recover on a retry.",
        (1..=args.devices).filter(|n| fails_once(*n)).count()
    );
    if let Some(d) = devices {
        d.abort();
    }
    server.stop().await?;
    if last["status"] != "completed" {
        bail!("the execution ended {}", last["status"]);
    }
    Ok(())
}
