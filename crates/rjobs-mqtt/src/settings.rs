//! The `mqtt.*` settings and the broker URL, parsed by a pure function. `mqtts://` (also
//! `ssl://`, `tls://`) selects TLS, port 8883 by default; the TLS client itself is built in
//! [`crate::tls`].

use serde::{Deserialize, Serialize};

use crate::MqttError;

/// `mqtt.*` settings (`RJOBS_MQTT__URL`, …). Without `url` there is no broker: the MQTT nodes
/// fail with a message naming the setting and nothing else changes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSettings {
    /// `mqtt://[user[:password]@]host[:port]` (port 1883 by default) or `mqtts://…` (TLS,
    /// port 8883 by default).
    pub url: Option<String>,
    /// Username (overrides one in the URL).
    pub username: Option<String>,
    /// Password (overrides one in the URL).
    pub password: Option<String>,
    /// Client id; default `rjobs-<node id>`. Must be unique per node.
    pub client_id: Option<String>,
    /// Shared-subscription group for device acks (`$share/<group>/losant/+/iteration/ack`), so
    /// each message reaches one node of a cluster; empty subscribes every node directly (the
    /// ack compare-and-set still applies each ack once).
    pub share_group: String,
    /// How long a publish may wait for room in the client's queue before it fails (ms).
    pub publish_timeout_ms: u64,
    /// PEM file of the CA certificate(s) that sign the broker's certificate (`mqtts://` only).
    /// Unset: the operating system's trusted roots.
    pub ca_file: Option<String>,
}

impl Default for MqttSettings {
    fn default() -> Self {
        MqttSettings {
            url: None,
            username: None,
            password: None,
            client_id: None,
            share_group: "rjobs".into(),
            publish_timeout_ms: 2_000,
            ca_file: None,
        }
    }
}

impl std::fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSettings")
            .field("url", &self.url.as_deref().map(redact))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("client_id", &self.client_id)
            .field("share_group", &self.share_group)
            .field("publish_timeout_ms", &self.publish_timeout_ms)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// A parsed broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `mqtts://`: connect over TLS, verifying the broker's certificate and host name.
    pub tls: bool,
}

/// The URL without its credentials (for logs and `/health`).
pub fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://***@{host}")
        }
        _ => url.to_string(),
    }
}

/// Parses `mqtt://[user[:password]@]host[:port]` or `mqtts://…`.
pub fn parse_url(url: &str) -> Result<Broker, MqttError> {
    let bad = |m: &str| MqttError::Settings(format!("mqtt.url: {m}"));
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or_else(|| bad("expected mqtt://host:port"))?;
    let tls = match scheme {
        "mqtt" | "tcp" => false,
        "mqtts" | "ssl" | "tls" => true,
        other => {
            return Err(bad(&format!(
                "unsupported scheme {other:?} (use mqtt:// or mqtts://)"
            )))
        }
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((n, p)) => (Some(n.to_string()), Some(p.to_string())),
            None => (Some(u.to_string()), None),
        },
    };
    if hostport.contains('/') || hostport.contains('?') {
        return Err(bad("must not have a path or query"));
    }
    let default_port = if tls { 8883 } else { 1883 };
    // `[v6]:port` / `[v6]`: the port is what follows the closing bracket.
    let (host, port) = match hostport.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((h, "")) => (h, None),
        Some((h, rest)) => match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None => return Err(bad(&format!("unexpected {rest:?} after the IPv6 address"))),
        },
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(&format!("invalid port {p:?}")))?,
    };
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    Ok(Broker {
        host: host.into(),
        port,
        username,
        password,
        tls,
    })
}

impl MqttSettings {
    /// The broker to connect to, if configured (settings override URL credentials).
    pub fn broker(&self) -> Result<Option<Broker>, MqttError> {
        let Some(url) = self.url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Ok(None);
        };
        let mut b = parse_url(url)?;
        if self.username.is_some() {
            b.username = self.username.clone();
        }
        if self.password.is_some() {
            b.password = self.password.clone();
        }
        if b.password.is_some() && b.username.is_none() {
            return Err(MqttError::Settings(
                "mqtt.password: needs mqtt.username".into(),
            ));
        }
        if self.publish_timeout_ms == 0 || self.publish_timeout_ms > 60_000 {
            return Err(MqttError::Settings(
                "mqtt.publish_timeout_ms: must be 1..=60000".into(),
            ));
        }
        if self.ca_file.is_some() && !b.tls {
            return Err(MqttError::Settings(
                "mqtt.ca_file: only used with mqtts:// (mqtt.url is plain mqtt://)".into(),
            ));
        }
        if self.share_group.contains(['/', '+', '#']) {
            return Err(MqttError::Settings(
                "mqtt.share_group: must not contain '/', '+' or '#'".into(),
            ));
        }
        Ok(Some(b))
    }

    /// The subscription filter for device acks.
    pub fn ack_subscription(&self) -> String {
        if self.share_group.trim().is_empty() {
            crate::ack::ACK_FILTER.to_string()
        } else {
            format!(
                "$share/{}/{}",
                self.share_group.trim(),
                crate::ack::ACK_FILTER
            )
        }
    }
}
