//! The HTTP node against a local server on 127.0.0.1:0.

mod common;

use std::time::Duration;

use axum::{
    body::Bytes,
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Redirect},
    routing::{any, get},
    Json, Router,
};
use common::{flow, iteration_data, node, FakeHost};
use rjobs_flow::outbound::OutboundPolicy;
use rjobs_flow::{envelope, parse_flow, run, RunLimits, RunLog};
use serde_json::{json, Value};

async fn server() -> String {
    let app = Router::new()
        .route(
            "/ok",
            get(|| async { Json(json!({"hello": "world", "n": 1})) }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { "z".repeat(10_000) }))
        .route("/redirect", get(|| async { Redirect::temporary("/ok") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route(
            "/to",
            get(|q: axum::extract::RawQuery| async move {
                Redirect::temporary(&q.0.unwrap_or_default())
            }),
        )
        .route(
            "/echo",
            any(
                |method: Method, headers: HeaderMap, body: Bytes| async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    Json(json!({
                        "method": method.as_str(),
                        "contentType": h("content-type"),
                        "auth": h("authorization"),
                        "x": h("x-device"),
                        "body": String::from_utf8_lossy(&body),
                    }))
                    .into_response()
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn call(config: Value, limits: RunLimits) -> (RunLog, Value) {
    let f = parse_flow(&flow(
        &["h"],
        json!([
            node("h", "HttpNode", config, json!([["end"]])),
            node(
                "end",
                "DebugNode",
                json!({"property": "working"}),
                json!([[]])
            )
        ]),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let p = envelope(&f, "F", 0, "A", "App", iteration_data(), "T");
    let log = run(&f, 0, p, &FakeHost::default(), &limits).await;
    let w = log
        .debug
        .last()
        .map(|d| d["value"].clone())
        .unwrap_or(Value::Null);
    (log, w)
}

/// The default limits with loopback opened: these tests call a local server.
fn local() -> RunLimits {
    RunLimits {
        outbound: OutboundPolicy::parse("127.0.0.1/32").unwrap(),
        ..RunLimits::default()
    }
}

fn cfg(uri: String) -> Value {
    json!({"uriTemplate": uri, "responsePath": "working.resp", "errorBehavior": "payloadPath", "errorPath": "working.err"})
}

#[tokio::test]
async fn success_parses_json() {
    let base = server().await;
    let (log, w) = call(cfg(format!("{base}/ok")), local()).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(w["resp"]["statusCode"], 200);
    assert_eq!(w["resp"]["body"], json!({"hello": "world", "n": 1}));
    assert!(w["resp"]["headers"]["content-type"]
        .as_str()
        .unwrap_or("")
        .contains("application/json"));
    assert!(w["resp"]["requestDuration"].is_u64());
    assert!(w.get("err").is_none());
}

#[tokio::test]
async fn server_error_is_still_a_response() {
    let base = server().await;
    let (log, w) = call(cfg(format!("{base}/fail")), local()).await;
    assert_eq!(log.status, "success");
    assert_eq!(w["resp"]["statusCode"], 500);
    assert_eq!(w["resp"]["body"], "boom");
}

#[tokio::test]
async fn post_json_template_headers_and_basic_auth() {
    let base = server().await;
    let mut c = cfg(format!("{base}/echo"));
    c["method"] = json!("POST");
    c["bodyType"] = json!("jsonTemplate");
    c["bodyTemplate"] =
        json!("{\"name\": {{jsonEncode data.device.name}}, \"attempt\": {{data.attemptNumber}}}");
    c["headerInfo"] = json!([{"key": "X-Device", "valueTemplate": "{{data.device.id}}"}]);
    c["authType"] = json!("basic");
    c["authCredentials"] = json!({"usernameTemplate": "u", "passwordTemplate": "p"});
    let (log, w) = call(c, local()).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let b = &w["resp"]["body"];
    assert_eq!(b["method"], "POST");
    assert_eq!(b["contentType"], "application/json");
    assert_eq!(b["x"], "aaaaaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(b["auth"], "Basic dTpw");
    let sent: Value = serde_json::from_str(b["body"].as_str().unwrap_or("")).unwrap_or_default();
    assert_eq!(sent, json!({"name": "Pump 7", "attempt": 2}));
}

#[tokio::test]
async fn connection_refused_goes_to_error_path() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let (log, w) = call(cfg(format!("http://127.0.0.1:{port}/x")), local()).await;
    assert_eq!(log.status, "success");
    assert_eq!(w["err"]["type"], "ConnectionError", "{w}");
    assert!(w.get("resp").is_none());
}

#[tokio::test]
async fn slow_server_times_out_to_error_path() {
    let base = server().await;
    let mut c = cfg(format!("{base}/slow"));
    c["timeoutTemplate"] = json!("0.3");
    let started = tokio::time::Instant::now();
    let (log, w) = call(c, local()).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(log.status, "success");
    assert_eq!(w["err"]["type"], "TimeoutError", "{w}");
    // The server-wide cap also applies when the node asks for more.
    let limits = RunLimits {
        http_timeout_ms: 200,
        ..local()
    };
    let (_, w) = call(cfg(format!("{base}/slow")), limits).await;
    assert_eq!(w["err"]["type"], "TimeoutError", "{w}");
}

#[tokio::test]
async fn oversized_response_goes_to_error_path() {
    let base = server().await;
    let limits = RunLimits {
        http_max_response_bytes: 1000,
        ..local()
    };
    let (log, w) = call(cfg(format!("{base}/big")), limits).await;
    assert_eq!(log.status, "success");
    assert_eq!(w["err"]["type"], "ResponseTooLarge", "{w}");
}

#[tokio::test]
async fn redirects_are_bounded() {
    let base = server().await;
    let (_, w) = call(cfg(format!("{base}/redirect")), local()).await;
    assert_eq!(w["resp"]["body"]["hello"], "world");
    let (_, w) = call(cfg(format!("{base}/loop")), local()).await;
    assert_eq!(w["err"]["type"], "RedirectError", "{w}");
    let mut c = cfg(format!("{base}/redirect"));
    c["disableRedirects"] = json!(true);
    let (_, w) = call(c, local()).await;
    assert_eq!(w["resp"]["statusCode"], 307);
}

/// `openssl s_server` on a free 127.0.0.1 port with a self-signed certificate (which no
/// system root trusts). Killed on drop.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn tls_server() -> TlsServer {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl CLI");
    assert!(made.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TlsServer {
        child,
        port,
        _dir: dir,
    }
}

#[tokio::test]
async fn https_is_tls_verified_and_no_error_path() {
    // https speaks TLS: a certificate no trusted root signed is refused, naming why.
    let tls = tls_server().await;
    let uri = format!("https://127.0.0.1:{}/", tls.port);
    let (log, w) = call(cfg(uri.clone()), local()).await;
    assert_eq!(log.status, "success");
    assert_eq!(w["err"]["type"], "ConnectionError", "{w}");
    let msg = w["err"]["message"].as_str().unwrap_or("");
    assert!(msg.contains("certificate"), "{msg}");
    // The outbound policy holds for https too.
    let (_, w) = call(cfg(uri.clone()), RunLimits::default()).await;
    assert_eq!(w["err"]["type"], "OutboundRefused", "{w}");
    // Without an error path a transport failure ends the run.
    let (log, _) = call(json!({ "uriTemplate": uri }), local()).await;
    assert_eq!(log.status, "error");
    assert!(log
        .error
        .as_deref()
        .unwrap_or("")
        .contains("node \"h\" (HttpNode)"));
}

#[tokio::test]
async fn run_deadline_bounds_everything() {
    let base = server().await;
    let limits = RunLimits {
        max_duration_ms: 200,
        ..local()
    };
    let (log, _) = call(json!({"uriTemplate": format!("{base}/slow")}), limits).await;
    assert_eq!(log.status, "error");
    assert!(
        log.error
            .as_deref()
            .unwrap_or("")
            .contains("maximum duration"),
        "{:?}",
        log.error
    );
}

// Outbound policy. Only loopback addresses are ever targets here: a refused address is refused
// before any connection is made, and 127.0.0.2 stands for "an address outside the allowed net".

fn refused(w: &Value) -> String {
    assert_eq!(w["err"]["type"], "OutboundRefused", "{w}");
    let m = w["err"]["message"].as_str().unwrap_or("").to_string();
    assert!(m.contains("RJOBS_OUTBOUND__ALLOW_NETS"), "{m}");
    m
}

#[tokio::test]
async fn loopback_is_refused_by_default_in_every_spelling() {
    let base = server().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    for host in [
        "127.0.0.1".to_string(),
        "2130706433".to_string(),
        "0x7f.0.0.1".to_string(),
        "0177.0.0.1".to_string(),
        "[::ffff:127.0.0.1]".to_string(),
        "[::1]".to_string(),
        "localhost".to_string(),
    ] {
        let uri = format!("http://{host}:{port}/ok");
        let (log, w) = call(cfg(uri.clone()), RunLimits::default()).await;
        assert_eq!(log.status, "success", "{:?}", log.error);
        let m = refused(&w);
        assert!(m.contains("loopback"), "{uri}: {m}");
    }
}

#[tokio::test]
async fn an_allowed_net_opens_loopback_and_names_resolve_through_the_policy() {
    let base = server().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    for host in ["127.0.0.1", "2130706433", "localhost"] {
        let (_, w) = call(cfg(format!("http://{host}:{port}/ok")), local()).await;
        assert_eq!(w["resp"]["body"]["hello"], "world", "{host}: {w}");
    }
}

#[tokio::test]
async fn redirects_into_a_denied_range_are_refused() {
    let base = server().await;
    let port = base.rsplit(':').next().unwrap().to_string();
    for target in [
        format!("http://127.0.0.2:{port}/ok"),
        format!("http://[::ffff:127.0.0.2]:{port}/ok"),
        format!("http://2130706434:{port}/ok"),
    ] {
        let (_, w) = call(cfg(format!("{base}/to?{target}")), local()).await;
        let m = refused(&w);
        assert!(m.contains("127.0.0.2"), "{target}: {m}");
    }
    // A redirect that stays inside the allowed net is followed.
    let (_, w) = call(cfg(format!("{base}/to?{base}/ok")), local()).await;
    assert_eq!(w["resp"]["body"]["hello"], "world", "{w}");
}
