//! End to end through the real binary: the auth matrix with exact statuses and bodies, malformed
//! bodies, first-start admin token, `token create-admin`, and data surviving restarts (clean and
//! kill -9), on SQLite and PostgreSQL.

mod common;

use common::{assert_error, Client, Data, Db, Server, ADMIN};
use serde_json::{json, Value};

async fn create_app(c: &Client, s: &Server, name: &str) -> String {
    let (st, v) = c
        .call(
            "POST",
            &s.url("/applications"),
            Some(ADMIN),
            Some(&json!({"name": name})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["id"], v["applicationId"]);
    v["id"].as_str().unwrap().to_string()
}

async fn create_token(c: &Client, s: &Server, app: &str, body: Value) -> (String, Value) {
    let (st, v) = c
        .call(
            "POST",
            &s.url(&format!("/applications/{app}/tokens")),
            Some(ADMIN),
            Some(&body),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    (v["token"].as_str().unwrap().to_string(), v)
}

async fn auth_matrix(db: Db) {
    let data = Data::new(db).await;
    let s = Server::start(&data, &[]);
    let c = Client::new();
    let a = create_app(&c, &s, "A").await;
    let b = create_app(&c, &s, "B").await;
    let app_url = s.url(&format!("/applications/{a}"));

    // No token, malformed header, unknown token.
    assert_error(
        &c.call("GET", &app_url, None, None).await,
        401,
        "Unauthorized",
        "bearer",
    );
    assert_error(
        &c.call("GET", &app_url, Some("not-a-token"), None).await,
        401,
        "Unauthorized",
        "invalid",
    );
    // Expired and disabled tokens.
    let (expired, _) = create_token(
        &c,
        &s,
        &a,
        json!({"name": "old", "expirationDate": "2001-01-01T00:00:00.000Z"}),
    )
    .await;
    assert_error(
        &c.call("GET", &app_url, Some(&expired), None).await,
        401,
        "Unauthorized",
        "expired",
    );
    let (disabled, dv) =
        create_token(&c, &s, &a, json!({"name": "off", "status": "inactive"})).await;
    assert_eq!(dv["status"], "inactive");
    assert_error(
        &c.call("GET", &app_url, Some(&disabled), None).await,
        401,
        "Unauthorized",
        "disabled",
    );
    // Token of another application.
    let (b_token, _) = create_token(&c, &s, &b, json!({"name": "b"})).await;
    assert_error(
        &c.call("GET", &app_url, Some(&b_token), None).await,
        403,
        "Forbidden",
        "application",
    );
    // Scope not enough.
    let (narrow, _) =
        create_token(&c, &s, &a, json!({"name": "n", "scope": ["devices.get"]})).await;
    assert_error(
        &c.call("GET", &app_url, Some(&narrow), None).await,
        403,
        "Forbidden",
        "application.get",
    );
    // Every accepted scope that an application token can hold reaches application.get.
    for scope in [
        "all.Application",
        "all.Application.bounded",
        "all.Application.read",
        "application.*",
        "application.get",
    ] {
        let (t, _) = create_token(&c, &s, &a, json!({"name": scope, "scope": [scope]})).await;
        let (st, v) = c.call("GET", &app_url, Some(&t), None).await;
        assert_eq!(st, 200, "{scope}: {v}");
        assert_eq!(v["id"], a.as_str());
    }
    // Read scopes do not reach writes; bounded scopes do not reach token management.
    let (read, _) = create_token(
        &c,
        &s,
        &a,
        json!({"name": "r", "scope": ["all.Application.read"]}),
    )
    .await;
    assert_error(
        &c.call("PATCH", &app_url, Some(&read), Some(&json!({"name": "x"})))
            .await,
        403,
        "Forbidden",
        "application.patch",
    );
    let (bounded, _) = create_token(
        &c,
        &s,
        &a,
        json!({"name": "bd", "scope": ["all.Application.bounded"]}),
    )
    .await;
    assert_error(
        &c.call(
            "POST",
            &s.url(&format!("/applications/{a}/tokens")),
            Some(&bounded),
            Some(&json!({"name": "escalate"})),
        )
        .await,
        403,
        "Forbidden",
        "applicationApiTokens.post",
    );
    // Application tokens cannot list or create applications.
    let (full, _) = create_token(&c, &s, &a, json!({"name": "full"})).await;
    assert_error(
        &c.call("GET", &s.url("/applications"), Some(&full), None)
            .await,
        403,
        "Forbidden",
        "applications.get",
    );
    // A full application token manages tokens of its own application.
    let (st, v) = c
        .call(
            "GET",
            &s.url(&format!("/applications/{a}/tokens")),
            Some(&full),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(v["totalCount"].as_u64().unwrap() >= 9);
    assert!(
        v["items"][0].get("token").is_none(),
        "secrets are shown once"
    );
    // 404s: unknown application (admin), unknown token; 400: malformed ids.
    assert_error(
        &c.call(
            "GET",
            &s.url("/applications/575ec8687ae143cd83dc4a97"),
            Some(ADMIN),
            None,
        )
        .await,
        404,
        "NotFound",
        "application was not found",
    );
    assert_error(
        &c.call(
            "GET",
            &s.url(&format!(
                "/applications/{a}/tokens/575ec8687ae143cd83dc4a97"
            )),
            Some(ADMIN),
            None,
        )
        .await,
        404,
        "NotFound",
        "api token was not found",
    );
    assert_error(
        &c.call("GET", &s.url("/applications/xyz"), Some(ADMIN), None)
            .await,
        400,
        "Validation",
        "applicationId",
    );
    // Upper-case ids are accepted.
    let path = format!("/applications/{}", a.to_uppercase());
    assert_eq!(c.admin_get(&s, &path).await.0, 200);
    s.stop();
    data.cleanup().await;
}

#[tokio::test]
async fn malformed_bodies_are_validation_errors() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[("RJOBS_BODY_LIMIT_BYTES", "2048")]);
    let c = Client::new();
    let url = s.url("/applications");
    let j = Some("application/json");
    type Case<'a> = (Option<&'a str>, &'a [u8], u16, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (j, b"{\"name\":", 400, "Validation", "malformed json"),
        (j, b"[1,2]", 400, "Validation", "must be an object"),
        (
            Some("text/plain"),
            b"{\"name\":\"x\"}",
            400,
            "Validation",
            "content-type",
        ),
        (None, b"{\"name\":\"x\"}", 400, "Validation", "content-type"),
        (
            j,
            b"{\"name\":\"x\",\"color\":1}",
            400,
            "Validation",
            "color",
        ),
        (j, b"{\"name\":5}", 400, "Validation", "name"),
        (j, b"{}", 400, "Validation", "name"),
        (j, b"{\"name\":\"\"}", 400, "Validation", "name"),
        (j, b"", 400, "Validation", "body is required"),
    ];
    for (ct, body, status, kind, needle) in cases {
        let got = c.raw("POST", &url, Some(ADMIN), ct, body.to_vec()).await;
        assert_error(&got, status, kind, needle);
    }
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(4096));
    assert_error(
        &c.raw("POST", &url, Some(ADMIN), j, big.into_bytes()).await,
        413,
        "PayloadTooLarge",
        "limit",
    );
    // Query parameters.
    assert_error(
        &c.call(
            "GET",
            &s.url("/applications?perPage=lots"),
            Some(ADMIN),
            None,
        )
        .await,
        400,
        "Validation",
        "perPage",
    );
    assert_error(
        &c.call(
            "GET",
            &s.url("/applications?sortField=color"),
            Some(ADMIN),
            None,
        )
        .await,
        400,
        "Validation",
        "sortField",
    );
    // Unknown paths and methods answer in the error shape too.
    assert_error(
        &c.call("GET", &s.url("/nope"), Some(ADMIN), None).await,
        404,
        "NotFound",
        "/nope",
    );
    assert_error(
        &c.call("PUT", &url, Some(ADMIN), None).await,
        405,
        "MethodNotAllowed",
        "PUT",
    );
    // Nothing was created by any of the above.
    let (st, v) = c.call("GET", &url, Some(ADMIN), None).await;
    assert_eq!((st, v["totalCount"].as_u64()), (200, Some(0)));
    // DELETE accepts no body, an empty body or {} (the JS client), and nothing else.
    let app = create_app(&c, &s, "del").await;
    let del = s.url(&format!("/applications/{app}"));
    assert_error(
        &c.raw("DELETE", &del, Some(ADMIN), j, b"{\"x\":1}".to_vec())
            .await,
        400,
        "Validation",
        "no body",
    );
    let (st, v) = c.raw("DELETE", &del, Some(ADMIN), j, b"{}".to_vec()).await;
    assert_eq!((st, v), (200, json!({"success": true})));
    s.stop();
}

#[tokio::test]
async fn first_start_prints_an_admin_token_once() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start_raw(&data, &[]);
    let line = s
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("RJOBS_TOKEN="))
        .expect("first start prints the admin token")
        .to_string();
    let c = Client::new();
    let (st, _) = c
        .call("GET", &s.url("/applications"), Some(&line), None)
        .await;
    assert_eq!(st, 200);
    s.stop();
    let s = Server::start_raw(&data, &[]);
    assert!(
        !s.banner.iter().any(|l| l.starts_with("RJOBS_TOKEN=")),
        "a second start prints no new token"
    );
    let (st, _) = c
        .call("GET", &s.url("/applications"), Some(&line), None)
        .await;
    assert_eq!(st, 200, "the first token still works after restart");
    s.stop();
    // `rjobs token create-admin` mints another usable token.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rjobs"))
        .args(["token", "create-admin", "--database-url", &data.url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let minted = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let s = Server::start_raw(&data, &[]);
    let (st, _) = c
        .call("GET", &s.url("/applications"), Some(&minted), None)
        .await;
    assert_eq!(st, 200);
    s.stop();
}

async fn restart_keeps_data(db: Db) {
    let data = Data::new(db).await;
    let c = Client::new();
    let s = Server::start(&data, &[]);
    let app = create_app(&c, &s, "durable").await;
    let (token, _) = create_token(&c, &s, &app, json!({"name": "t"})).await;
    assert!(s.stop().success(), "clean exit on SIGTERM");
    let s = Server::start(&data, &[]);
    let (st, v) = c
        .call(
            "GET",
            &s.url(&format!("/applications/{app}")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!((st, v["name"].as_str()), (200, Some("durable")));
    // Acknowledged writes survive kill -9.
    let app2 = create_app(&c, &s, "after-kill").await;
    s.kill9();
    let s = Server::start(&data, &[]);
    let path = format!("/applications/{app2}");
    assert_eq!(c.admin_get(&s, &path).await.0, 200);
    s.stop();
    data.cleanup().await;
}

#[tokio::test]
async fn health_and_bad_settings() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let (st, v) = Client::new()
        .call("GET", &s.url("/health"), None, None)
        .await;
    assert_eq!((st, v["database"].as_str()), (200, Some("reachable")));
    s.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rjobs"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &data.url,
        ])
        .env("RJOBS_LIMTS__MAX_ITERATION_CONCURRENCY", "5")
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown RJOBS_ key must be an error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("limts"));
}

/// Checks one exposition line: `name{label="value",...} number` or a `# HELP`/`# TYPE` comment.
fn valid_prometheus_line(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix("# ") {
        return rest.starts_with("HELP ") || rest.starts_with("TYPE ");
    }
    let Some((series, value)) = line.rsplit_once(' ') else {
        return false;
    };
    let name_end = series.find('{').unwrap_or(series.len());
    let name = &series[..name_end];
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let labels_ok = name_end == series.len()
        || (series.ends_with('}')
            && series[name_end + 1..series.len() - 1]
                .split("\",")
                .filter(|p| !p.is_empty())
                .all(|p| p.split_once("=\"").is_some()));
    let value_ok = value.parse::<f64>().is_ok() || matches!(value, "+Inf" | "-Inf" | "NaN");
    name_ok && labels_ok && value_ok
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let c = Client::new();
    let app = create_app(&c, &s, "metrics").await;
    let _ = c
        .call(
            "GET",
            &s.url(&format!("/applications/{app}")),
            Some("bad"),
            None,
        )
        .await;
    let resp = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    for line in text.lines().filter(|l| !l.is_empty()) {
        assert!(valid_prometheus_line(line), "not Prometheus text: {line:?}");
    }
    assert!(text.contains(
        "rjobs_http_requests_total{method=\"POST\",route=\"/applications\",status=\"201\"} 1"
    ));
    assert!(text.contains(
        "rjobs_http_requests_total{method=\"GET\",route=\"/applications/{applicationId}\",status=\"401\"} 1"
    ));
    for name in [
        "rjobs_iterations_started_total",
        "rjobs_store_operation_seconds",
        "rjobs_http_request_duration_seconds",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    assert!(
        !valid_prometheus_line("not a metric"),
        "the checker can fail"
    );
    s.stop();
}

#[tokio::test]
async fn concurrent_writes_never_see_database_is_locked() {
    let data = Data::new(Db::Sqlite).await;
    let s = Server::start(&data, &[]);
    let c = std::sync::Arc::new(Client::new());
    let url = s.url("/applications");
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": format!("concurrent {i}")});
            let write = c.call("POST", &url, Some(ADMIN), Some(&body)).await;
            let read = c.call("GET", &url, Some(ADMIN), None).await;
            (write.0, read.0)
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (201, 200));
    }
    let (_, v) = c
        .call("GET", &s.url("/applications?perPage=1"), Some(ADMIN), None)
        .await;
    assert_eq!(v["totalCount"], 200);
    s.stop();
}

on_both_backends!(current_thread: auth_matrix, restart_keeps_data);
