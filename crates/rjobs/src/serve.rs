//! Building and running the server: connect and migrate, make sure an admin can get in, bind,
//! serve, run the engine and the timer scheduler until SIGINT/SIGTERM, then drain in-flight
//! requests and close the database.

use std::sync::Arc;
use std::time::Duration;

use rjobs_api::{ApiSettings, AppState};
use rjobs_core::model::AdminToken;
use rjobs_core::secret::{hash_token, new_token, ADMIN_PREFIX};
use rjobs_core::{Clock, IdGen, SystemClock};
use rjobs_engine::{ClusterConfig, Engine, FlowSink, ReportSigner, TimerScheduler};
use rjobs_flow::RunLimits;
use rjobs_store::{Backend, SqlStore, Store, TokenStore};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::settings::{LogFormat, Settings};

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Warnings and errors only (the demo draws its own output).
pub fn init_logging_quiet() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn open(settings: &Settings) -> anyhow::Result<SqlStore> {
    // Half the lease (1–30 s): a node frozen inside a transaction loses its locks (and the
    // transaction) before its lease could be taken over, so the takeover is never blocked.
    let idle = (settings.cluster.lease_ms / 2).clamp(1_000, 30_000);
    let opts = rjobs_store::ConnectOptions {
        idle_in_transaction_ms: Some(idle),
    };
    rjobs_store::connect_with(&settings.database_url, opts)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open database {}: {e}",
                rjobs_store::sql::redact(&settings.database_url)
            )
        })
}

async fn insert_admin(store: &dyn Store, clock: &dyn Clock) -> anyhow::Result<String> {
    let now = clock.now();
    let token = new_token(ADMIN_PREFIX);
    store
        .insert_admin_token(&AdminToken {
            id: IdGen::new().next(now),
            token_hash: hash_token(&token),
            creation_date: now,
        })
        .await?;
    Ok(token)
}

/// The engine, with the report-link key shared through the database.
async fn build_engine(
    store: Arc<SqlStore>,
    clock: Arc<dyn Clock>,
    public_url: &str,
    sink: Arc<FlowSink>,
    cluster: ClusterConfig,
) -> anyhow::Result<Engine> {
    let mut fresh = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut fresh);
    let key = store
        .server_secret("report_hmac", &hex::encode(fresh))
        .await?;
    let signer = ReportSigner::new(
        key.as_bytes(),
        public_url,
        rjobs_engine::report::DEFAULT_TTL_MS,
    );
    Ok(Engine::new(store, clock, sink, signer).with_cluster(cluster))
}

/// The node identity: `cluster.node_id`, or `<hostname>:<port>`.
fn cluster_config(
    settings: &Settings,
    addr: std::net::SocketAddr,
) -> anyhow::Result<ClusterConfig> {
    let lease_ms = i64::try_from(settings.cluster.lease_ms)?;
    let node_id = match &settings.cluster.node_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_string(),
        Some(_) => anyhow::bail!("cluster.node_id: must not be empty"),
        None => {
            let host = std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .or_else(|| std::env::var("HOSTNAME").ok())
                .unwrap_or_else(|| "rjobs".into());
            format!("{host}:{}", addr.port())
        }
    };
    Ok(ClusterConfig { node_id, lease_ms })
}

/// `rjobs token create-admin`.
pub async fn create_admin(settings: &Settings) -> anyhow::Result<()> {
    let store = open(settings).await?;
    let token = insert_admin(&store, &SystemClock).await?;
    println!("{token}");
    store.close().await;
    Ok(())
}

/// A server running in this process.
pub struct Running {
    /// The bound address.
    pub addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    engine: tokio::task::JoinHandle<()>,
    timers: tokio::task::JoinHandle<()>,
    hooks: tokio::task::JoinHandle<()>,
    store: Arc<SqlStore>,
}

impl Running {
    /// Stops accepting requests, drains in-flight ones, stops the engine, closes the database.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let served = self.http.await;
        let _ = self.engine.await;
        let _ = self.timers.await;
        let _ = self.hooks.await;
        tracing::info!("shut down: engine stopped, closing the database");
        self.store.close().await;
        served??;
        Ok(())
    }
}

/// Builds and starts the server: connect and migrate, admin token, bind, serve, engine.
pub async fn start(settings: &Settings) -> anyhow::Result<Running> {
    let store = Arc::new(open(settings).await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if store.backend() == Backend::Sqlite {
        tracing::info!("SQLite backend: single-node mode (use PostgreSQL to run several nodes)");
    }
    if settings.admin_token.is_none() && store.count_admin_tokens().await? == 0 {
        let token = insert_admin(store.as_ref(), clock.as_ref()).await?;
        println!("Created the first admin token (shown once, keep it safe):");
        println!("RJOBS_TOKEN={token}");
    }
    let listener = TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    let addr = listener.local_addr()?;
    let api = ApiSettings {
        body_limit: settings.body_limit_bytes,
        fixed_admin_hash: settings.admin_token.as_deref().map(hash_token),
        public_url: settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        metrics_public: settings.metrics_public,
        job_limits: rjobs_core::jobs::JobLimits {
            min_iteration_timeout_ms: i64::try_from(settings.limits.min_iteration_timeout_ms)?,
            max_iteration_concurrency: i64::from(settings.limits.max_iteration_concurrency),
        },
        request_timeout: Duration::from_millis(settings.http.request_timeout_ms),
        password_cost: settings.argon2,
    };
    let flows = Arc::new(FlowSink::new(
        store.clone(),
        clock.clone(),
        RunLimits {
            outbound: settings
                .outbound_policy()
                .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?,
            ..RunLimits::default()
        },
    ));
    let cluster = cluster_config(settings, addr)?;
    let node_id = cluster.node_id.clone();
    let timers = Arc::new(TimerScheduler::new(
        store.clone(),
        clock.clone(),
        flows.clone(),
        cluster.node_id.clone(),
    ));
    let engine = Arc::new(
        build_engine(
            store.clone(),
            clock.clone(),
            &api.public_url,
            flows.clone(),
            cluster,
        )
        .await?,
    );
    flows.attach(&engine);
    let shutdown = CancellationToken::new();
    start_mqtt(settings, &engine, &flows, &node_id, &shutdown)?;
    let state = AppState {
        store: store.clone(),
        clock,
        ids: Arc::new(IdGen::new()),
        settings: Arc::new(api),
        engine: engine.clone(),
    };
    // Every node delivers webhooks; leases in the store hand each delivery to one node.
    let hooks = Arc::new(rjobs_hooks::Deliverer::new(
        store.clone(),
        state.clock.clone(),
        settings
            .webhooks
            .hook_settings(settings.outbound_policy().map_err(|e| anyhow::anyhow!(e))?)
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?,
        node_id.clone(),
        engine.metrics().registry(),
    )?);
    let hooks_task = tokio::spawn(hooks.run(shutdown.clone()));
    let engine_task = tokio::spawn(engine.run(shutdown.clone(), Duration::from_secs(1)));
    // Every node runs the timers; the store lets one node fire each instant.
    let timer_task = tokio::spawn(timers.run(shutdown.clone()));
    let stop = shutdown.clone();
    let conn_limits = crate::listener::ConnLimits {
        header_read_timeout: Duration::from_millis(settings.http.header_read_timeout_ms),
        max_connections: settings.http.max_connections,
    };
    let http = tokio::spawn(crate::listener::serve(
        listener,
        rjobs_api::router(state),
        conn_limits,
        stop,
    ));
    tracing::info!(%addr, database = %rjobs_store::sql::redact(&settings.database_url), "listening");
    Ok(Running {
        addr,
        shutdown,
        http,
        engine: engine_task,
        timers: timer_task,
        hooks: hooks_task,
        store,
    })
}

/// Connects to the MQTT broker when `mqtt.url` is set: the flows publish through it, devices'
/// acks arrive on it, `/health` and `/metrics` report it. It connects in the background.
fn start_mqtt(
    settings: &Settings,
    engine: &Arc<Engine>,
    flows: &FlowSink,
    node_id: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let acks = Arc::new(rjobs_engine::DeviceAcks::new(engine.clone()));
    let registry = engine.metrics().registry();
    match rjobs_mqtt::Mqtt::start(&settings.mqtt, node_id, acks, registry, shutdown.clone())? {
        Some(mqtt) => {
            flows.set_publisher(mqtt.clone());
            engine.add_component(mqtt);
        }
        None => engine.add_component(Arc::new(rjobs_mqtt::NotConfigured)),
    }
    Ok(())
}

/// `rjobs serve`: runs until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let running = start(&settings).await?;
    println!("rjobs listening on http://{}", running.addr);
    shutdown_signal().await;
    tracing::info!("signal received: shutting down");
    running.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
