//! A small HTTP client for an rjobs server, shared by the user CLI and `rjobs demo`.
//!
//! Why its own type rather than bare `reqwest` calls: every command needs the same three things —
//! the bearer token on each request, the server's `{"type","message"}` error body turned into a
//! message a person can act on, and a plain sentence instead of a reqwest error chain when the
//! server cannot be reached or refuses the token. [`ClientError`] carries those cases apart so
//! callers (the demo, the exit-code logic) can tell them apart without parsing strings.

use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Time allowed for one JSON request (connect + response + body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to the server.
#[derive(Debug)]
#[allow(dead_code)] // `Api::status` is read by callers through `status()`
pub enum ClientError {
    /// No connection could be made (refused, DNS, connect timeout).
    Unreachable { base: String, reason: String },
    /// 401: no token, an unknown, expired or disabled token.
    Unauthorized { message: String, token_given: bool },
    /// Any other error status with the server's `{"type","message"}` (or a stand-in for it).
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    /// The connection broke mid-request, or the request timed out.
    Transport { base: String, reason: String },
    /// A success status whose body was not the JSON we expected.
    BadResponse(String),
}

impl ClientError {
    /// True when retrying later might help (the server was down or the connection dropped).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::Transport { .. }
        )
    }

    /// The HTTP status the server answered with, if it answered.
    #[allow(dead_code)] // part of the reusable surface (demo, later commands)
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable { base, reason } => {
                write!(f, "cannot reach rjobs at {base}: {reason}")
            }
            ClientError::Unauthorized {
                message,
                token_given: true,
            } => write!(f, "the token was refused: {message}"),
            ClientError::Unauthorized {
                message,
                token_given: false,
            } => write!(
                f,
                "the token was refused: {message} (no token given: use --token or RJOBS_TOKEN)"
            ),
            ClientError::Api { kind, message, .. } => write!(f, "{kind}: {message}"),
            ClientError::Transport { base, reason } => {
                write!(f, "lost the connection to rjobs at {base}: {reason}")
            }
            ClientError::BadResponse(m) => write!(f, "unexpected answer from the server: {m}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// A connection to one rjobs server: base URL plus optional bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:7480`; a trailing `/` is ignored).
    pub fn new(base: &str, token: Option<&str>) -> anyhow::Result<Client> {
        let base = base.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--url must start with http:// or https://, got {base:?}");
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(Client {
            http,
            base,
            token: token.filter(|t| !t.trim().is_empty()).map(str::to_string),
        })
    }

    /// The base URL, without a trailing slash.
    #[allow(dead_code)] // part of the reusable surface (demo, later commands)
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path` → JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.json(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body → JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(Method::POST, path, Some(body)).await
    }

    /// `PATCH path` with a JSON body → JSON.
    #[allow(dead_code)] // part of the reusable surface (demo, later commands)
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(Method::PATCH, path, Some(body)).await
    }

    /// `DELETE path` → JSON.
    #[allow(dead_code)] // part of the reusable surface (demo, later commands)
    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.json(Method::DELETE, path, None).await
    }

    /// Any method, optional JSON body, JSON answer; error statuses become [`ClientError`].
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut rb = self.request(method, path).timeout(REQUEST_TIMEOUT);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.send(rb).await?;
        let text = resp.text().await.map_err(|e| self.transport(&e))?;
        serde_json::from_str(&text)
            .map_err(|e| ClientError::BadResponse(format!("{e} in {:?}", truncate(&text, 200))))
    }

    /// `GET path` and hand back the successful response unread, for streaming large bodies
    /// (no overall timeout, only the connect timeout).
    pub async fn get_stream(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        let rb = self.request(Method::GET, path);
        self.send(rb).await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}{}", self.base, path);
        let rb = self.http.request(method, url);
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    /// Sends, and turns transport failures and error statuses into [`ClientError`].
    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let resp = rb.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let (kind, message) = match serde_json::from_str::<Value>(&text) {
            Ok(v) if v["message"].is_string() => (
                v["type"].as_str().unwrap_or("Error").to_string(),
                v["message"].as_str().unwrap_or_default().to_string(),
            ),
            _ => (
                status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                format!("HTTP {} {}", status.as_u16(), truncate(text.trim(), 200)),
            ),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Unauthorized {
                message,
                token_given: self.token.is_some(),
            });
        }
        Err(ClientError::Api {
            status: status.as_u16(),
            kind,
            message,
        })
    }

    fn transport(&self, e: &reqwest::Error) -> ClientError {
        let reason = root_cause(e);
        if e.is_connect() {
            ClientError::Unreachable {
                base: self.base.clone(),
                reason,
            }
        } else if e.is_timeout() {
            ClientError::Transport {
                base: self.base.clone(),
                reason: "the request timed out".into(),
            }
        } else {
            ClientError::Transport {
                base: self.base.clone(),
                reason,
            }
        }
    }
}

/// The innermost cause of a reqwest error, in words ("connection refused" rather than the
/// `os error 111` chain).
fn root_cause(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if let Some(io) = cur.downcast_ref::<std::io::Error>() {
        use std::io::ErrorKind::*;
        let said = match io.kind() {
            ConnectionRefused => Some("connection refused"),
            ConnectionReset => Some("connection reset"),
            ConnectionAborted => Some("connection aborted"),
            TimedOut => Some("timed out"),
            _ => None,
        };
        if let Some(s) = said {
            return s.to_string();
        }
    }
    let s = cur.to_string();
    // "Connection refused (os error 111)" → "connection refused"
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let e = ClientError::Unreachable {
            base: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "cannot reach rjobs at http://127.0.0.1:1: connection refused"
        );
        let e = ClientError::Api {
            status: 400,
            kind: "Validation".into(),
            message: "name: required".into(),
        };
        assert_eq!(e.to_string(), "Validation: name: required");
        assert_eq!(e.status(), Some(400));
        assert!(!e.is_transient());
    }

    #[test]
    fn url_must_be_http() {
        assert!(Client::new("ftp://x", None).is_err());
        let c = Client::new("http://h:1/", Some("")).unwrap();
        assert_eq!(c.base(), "http://h:1");
        assert!(c.token.is_none());
    }
}
