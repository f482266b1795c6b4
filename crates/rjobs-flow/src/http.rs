//! The HTTP node: one outbound request, bounded in every dimension.
//!
//! A flow author controls the URI, so the request must never hang or exhaust the run: it has a
//! connect timeout and a total timeout (the node's `timeoutTemplate`, default 10 s, clamped to
//! 30 s and to the server's limit), a bounded number of redirects (none with
//! `disableRedirects`) and a response size cap enforced while streaming. Non-2xx statuses are
//! ordinary responses (`statusCode` in the response object); only transport failures — refused
//! connections, timeouts, oversized responses, bad requests — are errors, which go to
//! `errorPath` as `{type, message}` when set and otherwise end the run.
//!
//! Every address the request reaches is held to [`crate::outbound`]: host names are filtered
//! inside the DNS resolver (the checked address is the connected one), IP literals before the
//! request and on each redirect; environment proxies are ignored (a proxy would resolve and
//! connect on our behalf, past the policy).
//!
//! `https:` is TLS by rustls (ring), verified against the system's trusted roots; a certificate
//! that does not verify is a `ConnectionError` naming why.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::{json, Map, Value};

use crate::config::{BodyType, Cfg, HttpConfig};
use crate::outbound::OutboundPolicy;
use crate::{path, template, FlowError, NodeError, RunLimits};

const MAX_TIMEOUT_SECS: f64 = 30.0;
const DEFAULT_TIMEOUT_SECS: f64 = 10.0;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Failure = (&'static str, String);

/// Runs the node against payload `p`.
pub async fn run(c: &HttpConfig, p: &mut Value, limits: &RunLimits) -> Result<(), NodeError> {
    match request(c, p, limits).await {
        Ok(resp) => match &c.response_path {
            Some(rp) => path::set(p, rp, resp),
            None => Ok(()),
        },
        Err((ty, message)) => match &c.error_path {
            Some(ep) => path::set(p, ep, json!({"type": ty, "message": message})),
            None => Err(NodeError::Http { kind: ty, message }),
        },
    }
}

fn timeout(c: &HttpConfig, p: &Value, limits: &RunLimits) -> Result<Duration, Failure> {
    let text = template::render(&c.timeout_template, p)
        .map_err(|e| ("InvalidRequest", format!("timeoutTemplate: {e}")))?;
    let secs = text
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_TIMEOUT_SECS);
    let ms = (secs.min(MAX_TIMEOUT_SECS) * 1000.0) as u64;
    Ok(Duration::from_millis(ms.min(limits.http_timeout_ms).max(1)))
}

fn bad(message: String) -> Failure {
    ("InvalidRequest", message)
}

/// A request error with its causes, `outer: inner: ...` (reqwest's own text rarely says why:
/// the refused address, the TLS failure and the timeout are in the sources).
pub fn error_text(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn describe(e: &reqwest::Error) -> Failure {
    let msg = error_text(e);
    let ty = if msg.contains("outbound request to") {
        "OutboundRefused"
    } else if e.is_timeout() {
        "TimeoutError"
    } else if e.is_redirect() {
        "RedirectError"
    } else if e.is_connect() {
        "ConnectionError"
    } else {
        "RequestError"
    };
    (ty, msg)
}

/// Resolves host names and keeps only the addresses the policy allows.
struct PolicyResolver(OutboundPolicy);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal.get_or_insert(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why =
                    refusal.map_or_else(|| format!("{host} has no addresses"), |e| e.to_string());
                return Err(format!("{host}: {why}").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The policy's verdict on a URL whose host is an IP literal (names are judged when resolved).
fn check_literal(policy: &OutboundPolicy, url: &reqwest::Url) -> Result<(), NodeError> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => policy.check(ip.into()),
        Some(url::Host::Ipv6(ip)) => policy.check(ip.into()),
        _ => Ok(()),
    }
}

/// A client held to `policy` the same way as the HTTP node's (host names filtered inside the
/// resolver, no environment proxy), with no redirects: for the server's own outbound senders
/// (webhook deliveries). IP-literal hosts are judged with [`check_url_host`] before sending.
pub fn policy_client(
    policy: &OutboundPolicy,
    connect: Duration,
    total: Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver(policy.clone())))
        .connect_timeout(connect.min(total))
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The policy's verdict on `url`'s host when it is an IP literal (names are judged when
/// resolved, by [`policy_client`]'s resolver).
pub fn check_url_host(policy: &OutboundPolicy, url: &reqwest::Url) -> Result<(), NodeError> {
    check_literal(policy, url)
}

fn refused(e: NodeError) -> Failure {
    ("OutboundRefused", e.to_string())
}

async fn request(c: &HttpConfig, p: &Value, limits: &RunLimits) -> Result<Value, Failure> {
    let uri = template::render(&c.uri_template, p).map_err(|e| bad(format!("uriTemplate: {e}")))?;
    let uri = uri.trim().to_string();
    let url = reqwest::Url::parse(&uri).map_err(|e| bad(format!("invalid URI {uri:?}: {e}")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(bad(format!(
                "unsupported URI scheme {other:?} (only http and https)"
            )))
        }
    }
    let policy = limits.outbound.clone();
    check_literal(&policy, &url).map_err(refused)?;
    let total = timeout(c, p, limits)?;
    let redirects = if c.disable_redirects {
        reqwest::redirect::Policy::none()
    } else {
        let max = limits.http_max_redirects;
        let policy = policy.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max {
                return attempt.error(format!("too many redirects (at most {max})"));
            }
            match check_literal(&policy, attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        })
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver(policy)))
        .connect_timeout(CONNECT_TIMEOUT.min(total))
        .timeout(total)
        .redirect(redirects)
        .build()
        .map_err(|e| describe(&e))?;

    let method =
        reqwest::Method::from_bytes(c.method.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let mut headers = HeaderMap::new();
    for (name, value_template) in &c.headers {
        let value =
            template::render(value_template, p).map_err(|e| bad(format!("header {name}: {e}")))?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| bad(format!("header {name:?}: {e}")))?;
        let value =
            HeaderValue::from_str(&value).map_err(|e| bad(format!("header {name}: {e}")))?;
        headers.append(name, value);
    }
    let mut body: Option<String> = None;
    if !matches!(c.method.as_str(), "GET" | "HEAD") {
        match &c.body_type {
            BodyType::None => {}
            BodyType::String => {
                body = Some(
                    template::render(&c.body_template, p)
                        .map_err(|e| bad(format!("bodyTemplate: {e}")))?,
                )
            }
            BodyType::JsonTemplate => {
                let text = template::render(&c.body_template, p)
                    .map_err(|e| bad(format!("bodyTemplate: {e}")))?;
                serde_json::from_str::<Value>(&text)
                    .map_err(|e| bad(format!("bodyTemplate did not render valid JSON ({e})")))?;
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                }
                body = Some(text);
            }
            BodyType::UrlEncoded(fields) => {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    let k = template::render(k, p).map_err(|e| bad(format!("bodyFields: {e}")))?;
                    let v = template::render(v, p).map_err(|e| bad(format!("bodyFields: {e}")))?;
                    form.append_pair(&k, &v);
                }
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    );
                }
                body = Some(form.finish());
            }
        }
    }
    let mut req = client.request(method, url).headers(headers);
    if let Some((user, pass)) = &c.basic_auth {
        let user = template::render(user, p).map_err(|e| bad(format!("usernameTemplate: {e}")))?;
        let pass = template::render(pass, p).map_err(|e| bad(format!("passwordTemplate: {e}")))?;
        req = req.basic_auth(user, Some(pass));
    }
    if let Some(b) = body {
        req = req.body(b);
    }

    #[allow(clippy::disallowed_methods)] // latency measurement only (requestDuration)
    let started = Instant::now();
    let mut resp = req.send().await.map_err(|e| describe(&e))?;
    let cap = limits.http_max_response_bytes;
    let too_large = || {
        (
            "ResponseTooLarge",
            format!("the response is larger than the maximum of {cap} bytes"),
        )
    };
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut bytes: Vec<u8> = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if bytes.len() + chunk.len() > cap {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let duration = started.elapsed().as_millis() as u64;

    let mut header_obj = Map::new();
    for (name, value) in resp.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match header_obj.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&v);
            }
            _ => {
                header_obj.insert(name.as_str().to_string(), Value::String(v));
            }
        }
    }
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let body = if is_json {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    } else {
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    };
    Ok(json!({
        "statusCode": resp.status().as_u16(),
        "headers": header_obj,
        "body": body,
        "requestDuration": duration,
        "request": {"method": c.method, "uri": uri},
    }))
}

/// Checks an `HttpNode` config.
pub(crate) fn parse_http(c: &Cfg<'_>) -> Result<HttpConfig, FlowError> {
    let method = c.opt_str("method")?.to_ascii_uppercase();
    let method = if method.is_empty() {
        "GET".to_string()
    } else {
        method
    };
    if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&method.as_str()) {
        return Err(c.err(
            "method",
            "must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ));
    }
    let body_kind = c.opt_str("bodyType")?;
    let body_type = match body_kind.as_str() {
        "" | "string" => BodyType::String,
        "none" => BodyType::None,
        "jsonTemplate" => BodyType::JsonTemplate,
        "urlencoded" => {
            let mut fields = Vec::new();
            for (i, v) in c.array("bodyFields")?.iter().enumerate() {
                let f = c.item("bodyFields", i, v)?;
                fields.push((f.template("keyTemplate", true)?, f.template("valueTemplate", false)?));
            }
            BodyType::UrlEncoded(fields)
        }
        other => {
            return Err(c.err(
                "bodyType",
                format!("unsupported body type {other:?}; supported: string, none, jsonTemplate, urlencoded"),
            ))
        }
    };
    let mut headers = Vec::new();
    for (i, v) in c.array("headerInfo")?.iter().enumerate() {
        let h = c.item("headerInfo", i, v)?;
        let key = h.req_str("key")?;
        if reqwest::header::HeaderName::from_bytes(key.trim().as_bytes()).is_err() {
            return Err(h.err("key", format!("{key:?} is not a valid header name")));
        }
        headers.push((key.trim().to_string(), h.template("valueTemplate", false)?));
    }
    let auth = c.choice(
        "authType",
        &["none", "basic", "clientCert", "credential"],
        "none",
    )?;
    let basic_auth = match auth.as_str() {
        "basic" => {
            let creds = match c.obj.get("authCredentials") {
                Some(Value::Object(obj)) => Cfg {
                    obj,
                    at: format!("{}.authCredentials", c.at),
                },
                _ => {
                    return Err(c.err(
                        "authCredentials",
                        "must be an object with usernameTemplate and passwordTemplate",
                    ))
                }
            };
            Some((
                creds.template("usernameTemplate", true)?,
                creds.template("passwordTemplate", false)?,
            ))
        }
        "none" => None,
        other => {
            return Err(c.err(
                "authType",
                format!("{other:?} is not supported here; supported: none, basic"),
            ))
        }
    };
    let behavior = c.choice("errorBehavior", &["throw", "payloadPath"], "")?;
    let error_path = c.path("errorPath")?;
    let error_path = match behavior.as_str() {
        "throw" => None,
        "payloadPath" if error_path.is_none() => {
            return Err(c.err("errorPath", "is required when errorBehavior is payloadPath"))
        }
        _ => error_path,
    };
    let timeout_template = c.template("timeoutTemplate", false)?;
    Ok(HttpConfig {
        method,
        uri_template: c.template("uriTemplate", true)?,
        body_type,
        body_template: c.template("bodyTemplate", false)?,
        headers,
        basic_auth,
        response_path: c.path("responsePath")?,
        error_path,
        timeout_template: if timeout_template.trim().is_empty() {
            "10".into()
        } else {
            timeout_template
        },
        disable_redirects: c.opt_bool("disableRedirects")?,
    })
}
