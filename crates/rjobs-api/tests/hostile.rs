//! Hostile requests through the router (no socket, SQLite): token minting cannot escalate, the
//! original's application scopes are accepted, control characters and trailing bytes are 400s
//! naming the field, and `/metrics` honours `metrics_public`.

use axum::http::StatusCode;
use common::{Api, ADMIN};
use rjobs_api::ApiSettings;
use serde_json::{json, Value};

mod common;

async fn api_with(metrics_public: bool) -> Api {
    let settings = ApiSettings {
        metrics_public,
        ..common::settings(ADMIN)
    };
    common::api_with(settings).await
}

impl Api {
    async fn call(&self, method: &str, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let text = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.raw(method, uri, token, &text).await
    }
}

#[tokio::test]
async fn token_minting_matrix() {
    let a = api_with(true).await;
    let app = a.app().await;
    let tokens = format!("/applications/{app}/tokens");
    // (minter's scopes, requested scopes, expected status)
    let cases: &[(&[&str], &[&str], StatusCode)] = &[
        (
            &["applicationApiTokens.post"],
            &["all.Application"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["applicationApiTokens.post"],
            &["applicationApiTokens.*"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["applicationApiTokens.post"],
            &["applicationApiTokens.post"],
            StatusCode::CREATED,
        ),
        (
            &["applicationApiTokens.post", "devices.*"],
            &["devices.get"],
            StatusCode::CREATED,
        ),
        (
            &["applicationApiTokens.post", "devices.*"],
            &["devices.get", "device.get"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["applicationApiTokens.*", "resourceJob.execute"],
            &["resourceJob.execute"],
            StatusCode::CREATED,
        ),
        (
            &["applicationApiTokens.*", "resourceJob.execute"],
            &["resourceJob.*"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["applicationApiTokens.*", "all.Application.read"],
            &["all.Application"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["all.Application"],
            &["all.Application", "webhooks.*", "data.*"],
            StatusCode::CREATED,
        ),
        // A bounded or read-only token cannot mint at all.
        (
            &["all.Application.bounded"],
            &["devices.get"],
            StatusCode::FORBIDDEN,
        ),
        (
            &["all.Application.read"],
            &["all.Application.read"],
            StatusCode::FORBIDDEN,
        ),
    ];
    for (minter, requested, want) in cases {
        let t = a.token(&app, minter).await;
        let (st, v) = a
            .call(
                "POST",
                &tokens,
                &t,
                json!({"name": "m", "scope": requested}),
            )
            .await;
        assert_eq!(st, *want, "{minter:?} minting {requested:?}: {v}");
        if st == StatusCode::FORBIDDEN {
            assert_eq!(v["type"], "Forbidden", "{v}");
        }
    }
    // Admin mints anything grantable; every application-level scope of the original is accepted.
    let all: Vec<&str> = include_str!("../src/original_app_scopes.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    let (st, v) = a
        .call(
            "POST",
            &tokens,
            ADMIN,
            json!({"name": "every", "scope": all}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // ... and a stored inert scope grants nothing.
    let inert = a.token(&app, &["webhooks.*", "all.Device"]).await;
    let (st, _) = a
        .call(
            "GET",
            &format!("/applications/{app}/devices"),
            &inert,
            Value::Null,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Non-application scopes are still refused.
    let (st, v) = a
        .call(
            "POST",
            &tokens,
            ADMIN,
            json!({"name": "x", "scope": ["all.Organization"]}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    // PATCH of a wider token (re-enabling it, say) is refused to a narrower caller.
    let (_, wide) = a
        .call(
            "POST",
            &tokens,
            ADMIN,
            json!({"name": "wide", "scope": ["all.Application"]}),
        )
        .await;
    let narrow = a
        .token(&app, &["applicationApiToken.*", "applicationApiTokens.*"])
        .await;
    let uri = format!("{tokens}/{}", wide["id"].as_str().unwrap());
    let (st, v) = a
        .call("PATCH", &uri, &narrow, json!({"status": "inactive"}))
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let (st, v) = a
        .call("PATCH", &uri, ADMIN, json!({"status": "inactive"}))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn control_characters_and_trailing_bytes_are_field_errors() {
    let a = api_with(true).await;
    let app = a.app().await;
    let devices = format!("/applications/{app}/devices");
    for (body, field) in [
        (r#"{"name": "a\u0000b"}"#, "name"),
        (
            r#"{"name": "ok", "description": "bell\u0007"}"#,
            "description",
        ),
        (
            r#"{"name": "ok", "tags": [{"key": "k", "value": "v\u001b[0m"}]}"#,
            "tags[0].value",
        ),
        (
            r#"{"name": "ok", "tags": [{"key": "k\b", "value": "v"}]}"#,
            "tags[0].key",
        ),
    ] {
        let (st, v) = a.raw("POST", &devices, ADMIN, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {v}");
        let m = v["message"].as_str().unwrap_or("");
        assert!(
            m.starts_with(&format!("{field}: must not contain control")),
            "{body}: {m}"
        );
    }
    // Tab, newline, CR and an escaped backslash before "u0000" are fine.
    let (st, v) = a
        .raw("POST", &devices, ADMIN, r#"{"name": "a\tb\nc\r \\u0000"}"#)
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Query parameters: the filter and the JSON query.
    let (st, v) = a
        .raw("GET", &format!("{devices}?filter=a%00b"), ADMIN, "")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"].as_str().unwrap_or("").starts_with("filter: "),
        "{v}"
    );
    let q: String = form_urlencoded::byte_serialize(br#"{"name": "\u0000"}"#).collect();
    let (st, v) = a
        .raw("GET", &format!("{devices}?query={q}"), ADMIN, "")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("query.name: "),
        "{v}"
    );
    // Trailing bytes after the JSON value.
    for body in [
        r#"{"name": "x"} garbage"#,
        r#"{"name": "x"}{}"#,
        "{\"name\": \"x\"}\0",
    ] {
        let (st, v) = a.raw("POST", &devices, ADMIN, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body:?}: {v}");
        assert_eq!(v["type"], "Validation", "{v}");
    }
    let (st, _) = a
        .raw("POST", &devices, ADMIN, "{\"name\": \"x\"}\n  ")
        .await;
    assert_eq!(st, StatusCode::CREATED);
}

#[tokio::test]
async fn metrics_can_require_the_admin_token() {
    let open = api_with(true).await;
    let (st, _) = open.raw("GET", "/metrics", "", "").await;
    assert_eq!(st, StatusCode::OK);
    let closed = api_with(false).await;
    let app = closed.app().await;
    let (st, v) = closed.raw("GET", "/metrics", "", "").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["type"], "Unauthorized");
    let t = closed.token(&app, &["all.Application"]).await;
    let (st, v) = closed.raw("GET", "/metrics", &t, "").await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap_or("")
        .contains("metrics_public"));
    let (st, v) = closed.raw("GET", "/metrics", ADMIN, "").await;
    assert_eq!(st, StatusCode::OK, "{v}");
}
