//! Benchmarks for rjobs that print figures rather than assert them: they run the real store and
//! router in-process, so the numbers include JSON parsing, validation and the SQL path a client
//! pays for. See `src/bin/bulk_devices.rs`.

/// The server's allocator (see the `rjobs` binary): benchmarks measure what `rjobs serve` runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod flags;
pub mod process;

use std::sync::Arc;
use std::time::Duration;

use rjobs_api::{router, ApiSettings, AppState};
use rjobs_core::secret::hash_token;
use rjobs_core::{Clock, IdGen, SystemClock};
use rjobs_engine::{Engine, FlowSink, ReportSigner};
use rjobs_store::testing::TestDb;
use rjobs_store::Store;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// The admin token the benchmarks start their servers with.
pub const ADMIN: &str = "bench-admin-token";

/// `method base+path` with the admin token and an optional JSON body; the JSON answer, or an
/// error naming the path and status when it is not a success.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut rb = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!("{path}: {status} {v}");
    }
    Ok(v)
}

/// An in-process server as `rjobs serve` wires it (store, engine, flow runner, router) on a
/// fresh SQLite file or PostgreSQL database, listening on a free loopback port.
#[derive(Debug)]
pub struct InProcess {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A keep-alive client.
    pub http: reqwest::Client,
    stop: CancellationToken,
    pg: Option<TestDb>,
    _dir: tempfile::TempDir,
}

impl InProcess {
    /// Starts a server on `database` (`sqlite` or `postgres`).
    pub async fn start(database: &str) -> anyhow::Result<InProcess> {
        Self::start_with(database, None).await
    }

    /// Starts a server connected to the MQTT broker of `mqtt`, as `rjobs serve` does.
    pub async fn start_mqtt(
        database: &str,
        mqtt: &rjobs_mqtt::MqttSettings,
    ) -> anyhow::Result<InProcess> {
        Self::start_with(database, Some(mqtt)).await
    }

    async fn start_with(
        database: &str,
        mqtt: Option<&rjobs_mqtt::MqttSettings>,
    ) -> anyhow::Result<InProcess> {
        let dir = tempfile::tempdir()?;
        let pg = if database == "postgres" {
            Some(TestDb::create().await?)
        } else {
            None
        };
        let url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}/bench.db", dir.path().display()),
        };
        let store: Arc<dyn Store> = Arc::new(rjobs_store::connect(&url).await?);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let flows = Arc::new(FlowSink::new(
            store.clone(),
            clock.clone(),
            rjobs_flow::RunLimits::default(),
        ));
        let engine = Arc::new(Engine::new(
            store.clone(),
            clock.clone(),
            flows.clone(),
            ReportSigner::new(b"k", &base, 60_000),
        ));
        flows.attach(&engine);
        let stop = CancellationToken::new();
        if let Some(m) = mqtt {
            let acks = Arc::new(rjobs_engine::DeviceAcks::new(engine.clone()));
            let registry = engine.metrics().registry();
            if let Some(client) = rjobs_mqtt::Mqtt::start(m, "bench", acks, registry, stop.clone())?
            {
                flows.set_publisher(client.clone());
                engine.add_component(client);
            }
        }
        let state = AppState {
            store: store.clone(),
            clock,
            ids: Arc::new(IdGen::new()),
            settings: Arc::new(ApiSettings {
                fixed_admin_hash: Some(hash_token(ADMIN)),
                body_limit: 64 * 1024 * 1024,
                ..ApiSettings::default()
            }),
            engine: engine.clone(),
        };
        tokio::spawn(engine.clone().run(stop.clone(), Duration::from_secs(1)));
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Ok(InProcess {
            base,
            http: reqwest::Client::new(),
            stop,
            pg,
            _dir: dir,
        })
    }

    /// `method path` with an optional JSON body (see [`call`]).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        call(&self.http, &self.base, method, path, body).await
    }

    /// Creates an application with `count` devices (`d-0000000`, ...); returns its id.
    pub async fn app_with_devices(&self, count: usize) -> anyhow::Result<String> {
        use reqwest::Method;
        let app = self
            .call(
                Method::POST,
                "/applications",
                Some(json!({"name": "bench"})),
            )
            .await?;
        let app = app["id"].as_str().unwrap_or_default().to_string();
        for start in (0..count).step_by(10_000) {
            let items: Vec<Value> = (start..count.min(start + 10_000))
                .map(|i| json!({"name": format!("d-{i:07}")}))
                .collect();
            self.call(
                Method::POST,
                &format!("/applications/{app}/devices/bulk"),
                Some(Value::Array(items)),
            )
            .await?;
        }
        Ok(app)
    }

    /// Creates a device job at `concurrency` over every device of `app`; returns its id.
    pub async fn device_job(&self, app: &str, concurrency: u32) -> anyhow::Result<String> {
        let job = self
            .call(
                reqwest::Method::POST,
                &format!("/applications/{app}/resource-jobs"),
                Some(json!({"name": "bench", "resourceType": "device",
                    "maxIterationConcurrency": concurrency})),
            )
            .await?;
        Ok(job["id"].as_str().unwrap_or_default().to_string())
    }

    /// Executes `job`; returns the execution's path and how long the call took (ms).
    pub async fn execute(&self, app: &str, job: &str) -> anyhow::Result<(String, f64)> {
        #[allow(clippy::disallowed_methods)] // wall time of a benchmark
        let t = std::time::Instant::now();
        let exec = self
            .call(
                reqwest::Method::POST,
                &format!("/applications/{app}/resource-jobs/{job}/execute"),
                Some(json!({})),
            )
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let exec = exec["executionId"].as_str().unwrap_or_default();
        Ok((
            format!("/applications/{app}/resource-jobs/{job}/executions/{exec}"),
            ms,
        ))
    }

    /// Polls the execution at `path` every 10 ms until it is final; returns it and when (ms
    /// after `since`) its summary first showed a started iteration.
    #[allow(clippy::disallowed_methods)] // wall time of a benchmark
    pub async fn wait_final(
        &self,
        path: &str,
        since: std::time::Instant,
    ) -> anyhow::Result<(Value, Option<f64>)> {
        let mut first_start = None;
        loop {
            let v = self.call(reqwest::Method::GET, path, None).await?;
            let s = &v["executionSummary"];
            let begun = ["inProgress", "succeeded", "failed", "timedOut"]
                .iter()
                .any(|k| s[*k].as_u64().unwrap_or(0) > 0);
            if begun && first_start.is_none() {
                first_start = Some(since.elapsed().as_secs_f64() * 1000.0);
            }
            if matches!(
                v["status"].as_str(),
                Some("completed" | "canceled" | "errored")
            ) {
                return Ok((v, first_start));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Adds `flow` to `app`; the created flow.
    pub async fn add_flow(&self, app: &str, flow: Value) -> anyhow::Result<Value> {
        let path = format!("/applications/{app}/flows");
        self.call(reqwest::Method::POST, &path, Some(flow)).await
    }

    /// Executes `job` and waits until the execution is final, timing it from the execute call.
    #[allow(clippy::disallowed_methods)] // wall time of a benchmark
    pub async fn execute_timed(&self, app: &str, job: &str) -> anyhow::Result<Timed> {
        let t1 = std::time::Instant::now();
        let (path, execute_ms) = self.execute(app, job).await?;
        let (last, first_start_ms) = self.wait_final(&path, t1).await?;
        Ok(Timed {
            last,
            secs: t1.elapsed().as_secs_f64(),
            execute_ms,
            first_start_ms,
        })
    }

    /// Stops the engine and drops the PostgreSQL database.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.stop.cancel();
        if let Some(db) = self.pg {
            db.drop_db().await?;
        }
        Ok(())
    }
}

/// An execution run to its end by [`InProcess::execute_timed`].
#[derive(Debug, Clone)]
pub struct Timed {
    /// The final execution.
    pub last: Value,
    /// From the execute call to the final status.
    pub secs: f64,
    /// How long the execute call took.
    pub execute_ms: f64,
    /// When its summary first showed a started iteration.
    pub first_start_ms: Option<f64>,
}

fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// This process's peak resident set size in MiB (`VmHWM`).
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// This process's resident set size now, in MiB (`VmRSS`).
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}
