//! Settings, layered: defaults, then the optional TOML file (`--config`), then `RJOBS_*`
//! environment variables (nested keys with `__`, e.g. `RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS`),
//! then command-line flags. Unknown keys in the file or the environment are errors, so a typo
//! never silently falls back to a default.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Operator limits on job settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Lowest accepted `iterationTimeout` (ms).
    pub min_iteration_timeout_ms: u64,
    /// Highest accepted `maxIterationConcurrency`.
    pub max_iteration_concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            min_iteration_timeout_ms: 60_000,
            max_iteration_concurrency: 100,
        }
    }
}

/// Cluster settings (PostgreSQL only).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cluster {
    /// Lease time in ms: a node that stops renewing is taken over this long after its last
    /// heartbeat at the latest.
    pub lease_ms: u64,
    /// This node's id (unique in the cluster); default `<hostname>:<port>`, so a node restarted
    /// on the same address re-adopts its leases at once.
    pub node_id: Option<String>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            lease_ms: 10_000,
            node_id: None,
        }
    }
}

/// Where workflows' outbound requests may go (the HTTP node).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    /// Comma-separated CIDRs opened despite the default deny of loopback, private, link-local,
    /// unspecified and multicast addresses (e.g. `10.0.0.0/8,127.0.0.1/32`).
    pub allow_nets: String,
}

/// Connection handling of the HTTP server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpServer {
    /// A connection must finish sending a request's headers within this time (ms). The timer
    /// also runs while a keep-alive connection waits for its next request, so it is the idle
    /// keep-alive timeout too.
    pub header_read_timeout_ms: u64,
    /// A request must be answered within this time (ms); later is a 408.
    pub request_timeout_ms: u64,
    /// The most connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for HttpServer {
    fn default() -> Self {
        HttpServer {
            header_read_timeout_ms: 10_000,
            request_timeout_ms: 120_000,
            max_connections: 1024,
        }
    }
}

/// All server settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Base URL for links; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// A fixed admin token (scripts and tests).
    pub admin_token: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Job limits.
    pub limits: Limits,
    /// Cluster settings.
    pub cluster: Cluster,
    /// Outbound request policy.
    pub outbound: Outbound,
    /// HTTP connection handling.
    pub http: HttpServer,
    /// Whether `/metrics` is open to anyone (`false`: it needs the admin token).
    pub metrics_public: bool,
    /// The MQTT broker (`mqtt.url` etc.; none by default).
    pub mqtt: rjobs_mqtt::MqttSettings,
    /// Webhook delivery.
    pub webhooks: crate::webhook_settings::Webhooks,
    /// The Argon2id cost of experience users' password hashes (`argon2.m_kib`, `.t`, `.p`).
    pub argon2: rjobs_api::PasswordCost,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:7480".into(),
            database_url: "sqlite://./rjobs-data/rjobs.db".into(),
            public_url: None,
            admin_token: None,
            log_format: LogFormat::Text,
            body_limit_bytes: 8 * 1024 * 1024,
            limits: Limits::default(),
            cluster: Cluster::default(),
            outbound: Outbound::default(),
            http: HttpServer::default(),
            metrics_public: true,
            mqtt: rjobs_mqtt::MqttSettings::default(),
            webhooks: Default::default(),
            argon2: rjobs_api::PasswordCost::default(),
        }
    }
}

/// Values given as flags (they win over everything else).
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// `RJOBS_*` variables that belong to the user CLI or the test suite, not the server.
// The argon2_* cost parameters are read directly by the password hasher (rjobs-api).
const NOT_SERVER_KEYS: &[&str] = &[
    "url",
    "token",
    "bin",
    "test_pg_url",
    "test_no_pg",
    "crash_seed",
    "argon2_m_kib",
    "argon2_t",
    "argon2_p",
];

impl Settings {
    /// Loads the layered settings.
    pub fn load(config: Option<&PathBuf>, flags: &FlagOverrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig
            .merge(
                Env::prefixed("RJOBS_").split("__").filter(|k| {
                    !NOT_SERVER_KEYS.contains(&k.as_str().to_ascii_lowercase().as_str())
                }),
            )
            .merge(Serialized::defaults(flags));
        let s: Settings = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        if s.limits.min_iteration_timeout_ms == 0 || s.limits.min_iteration_timeout_ms > 900_000 {
            anyhow::bail!("invalid settings: limits.min_iteration_timeout_ms must be 1..=900000");
        }
        if s.limits.max_iteration_concurrency == 0 {
            anyhow::bail!("invalid settings: limits.max_iteration_concurrency must be at least 1");
        }
        if !(300..=3_600_000).contains(&s.cluster.lease_ms) {
            anyhow::bail!("invalid settings: cluster.lease_ms must be 300..=3600000");
        }
        s.outbound_policy()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        let h = &s.http;
        if h.header_read_timeout_ms == 0 || h.request_timeout_ms == 0 {
            anyhow::bail!("invalid settings: http.*_timeout_ms must be at least 1");
        }
        if h.max_connections == 0 {
            anyhow::bail!("invalid settings: http.max_connections must be at least 1");
        }
        s.webhooks
            .hook_settings(Default::default())
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        s.mqtt
            .broker()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        s.argon2
            .params()
            .map_err(|e| anyhow::anyhow!("invalid settings: argon2: {e}"))?;
        Ok(s)
    }

    /// The outbound policy `outbound.allow_nets` describes.
    pub fn outbound_policy(
        &self,
    ) -> Result<rjobs_flow::outbound::OutboundPolicy, rjobs_flow::NodeError> {
        rjobs_flow::outbound::OutboundPolicy::parse(&self.outbound.allow_nets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the closure's error type
    fn layers_and_rejects_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rjobs.toml",
                "listen = \"127.0.0.1:9000\"\n[limits]\nmin_iteration_timeout_ms = 1000\n",
            )?;
            jail.set_env("RJOBS_LIMITS__MAX_ITERATION_CONCURRENCY", "7");
            jail.set_env("RJOBS_URL", "http://ignored");
            let path = PathBuf::from("rjobs.toml");
            let s = Settings::load(Some(&path), &FlagOverrides::default()).unwrap();
            assert_eq!(s.listen, "127.0.0.1:9000");
            assert_eq!(s.limits.min_iteration_timeout_ms, 1000);
            assert_eq!(s.limits.max_iteration_concurrency, 7);
            let flags = FlagOverrides {
                listen: Some("127.0.0.1:1".into()),
                ..Default::default()
            };
            assert_eq!(
                Settings::load(Some(&path), &flags).unwrap().listen,
                "127.0.0.1:1"
            );

            jail.set_env("RJOBS_OUTBOUND__ALLOW_NETS", "127.0.0.1/32,10.0.0.0/8");
            let s = Settings::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(s.outbound_policy().unwrap().allow_nets.len(), 2);
            jail.set_env("RJOBS_OUTBOUND__ALLOW_NETS", "10.0.0.0/99");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("outbound.allow_nets"), "{err}");
            jail.set_env("RJOBS_OUTBOUND__ALLOW_NETS", "");
            jail.set_env("RJOBS_METRICS_PUBLIC", "false");
            jail.set_env("RJOBS_HTTP__HEADER_READ_TIMEOUT_MS", "1500");
            let s = Settings::load(None, &FlagOverrides::default()).unwrap();
            assert!(!s.metrics_public);
            assert_eq!(s.http.header_read_timeout_ms, 1500);
            jail.set_env("RJOBS_HTTP__MAX_CONNECTIONS", "0");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("http.max_connections"), "{err}");
            jail.set_env("RJOBS_HTTP__MAX_CONNECTIONS", "10");

            assert_eq!(s.argon2, rjobs_api::PasswordCost::default());
            jail.set_env("RJOBS_ARGON2__M_KIB", "256");
            jail.set_env("RJOBS_ARGON2__T", "1");
            let s = Settings::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!((s.argon2.m_kib, s.argon2.t, s.argon2.p), (256, 1, 1));
            jail.set_env("RJOBS_ARGON2__T", "0");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("argon2"), "{err}");
            jail.set_env("RJOBS_ARGON2__T", "1");

            jail.set_env("RJOBS_LISTN", "typo");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("listn"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.set_env("RJOBS_MQTT__URL", "mqtt://127.0.0.1:1883");
            jail.set_env("RJOBS_MQTT__USERNAME", "svc");
            let s = Settings::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(s.mqtt.url.as_deref(), Some("mqtt://127.0.0.1:1883"));
            assert_eq!(s.mqtt.username.as_deref(), Some("svc"));
            jail.set_env("RJOBS_MQTT__URL", "mqtts://h");
            let s = Settings::load(None, &FlagOverrides::default()).unwrap();
            assert_eq!(s.mqtt.url.as_deref(), Some("mqtts://h"));
            jail.set_env("RJOBS_MQTT__URL", "ws://h");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("unsupported scheme"), "{err}");
            jail.set_env("RJOBS_MQTT__URL", "mqtt://h");
            jail.set_env("RJOBS_MQTT__PORT", "1");
            let err = Settings::load(None, &FlagOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("port"), "{err}");
            Ok(())
        });
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[limits]\nmax_concurrency = 3\n")?;
            let err = Settings::load(Some(&PathBuf::from("bad.toml")), &FlagOverrides::default())
                .unwrap_err();
            assert!(err.to_string().contains("max_concurrency"), "{err}");
            Ok(())
        });
    }
}
