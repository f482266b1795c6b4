//! The one route table ([`rjobs_api::routes::table::ROUTES`]) drives the router, the guards and
//! `/openapi.json`. Checked through the router: every row is served (a guarded row answers 401
//! without a token, which only its guard can do, the fallbacks answer 404/405), every guarded
//! row refuses another application's token and a token whose scopes the action does not accept
//! (403, before any handler runs), and the document lists exactly the rows, each body and each
//! success answer with the schema derived from its handler's type.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use http_body_util::BodyExt;
use rjobs_api::routes::table::{Guard, Media, ROUTES};
use rjobs_api::{router, ApiSettings, AppState};
use rjobs_core::model::Application;
use rjobs_core::{Id, Timestamp};
use serde_json::Value;
use tower::ServiceExt;

use common::NOW;

mod common;

async fn state(dir: &tempfile::TempDir) -> AppState {
    common::state(dir, ApiSettings::default()).await
}

async fn call(app: &Router, method: &str, uri: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// An application and a token of it holding `scope`, returned as the bearer string.
async fn app_with_token(s: &AppState, name: &str, scope: &[&str]) -> (Id, String) {
    let now = Timestamp::from_millis(NOW);
    let app = Application {
        id: s.ids.next(now),
        name: name.into(),
        description: String::new(),
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    s.store.insert_application(&app).await.unwrap();
    let secret = common::token(s.store.as_ref(), &app.id, scope).await;
    (app.id, secret)
}

/// The row's path with `app` as the application and a well-formed id for every other parameter.
fn concrete(path: &str, app: &Id) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{applicationId}" => app.to_string(),
            s if s.starts_with('{') => "0123456789abcdef01234567".to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_row_is_served_behind_its_guard() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(&dir).await;
    // `all.Device` is a scope the original defines and rjobs stores, but it grants nothing.
    let (own, inert) = app_with_token(&s, "own", &["all.Device"]).await;
    let (_, foreign) = app_with_token(&s, "foreign", &["all.Application"]).await;
    let app = router(s);
    assert!(ROUTES.len() > 60, "{}", ROUTES.len());
    for r in ROUTES {
        let uri = concrete(r.path, &own);
        let m = r.method.as_str();
        let (st, body) = call(&app, m, &uri, None).await;
        match r.guard {
            Guard::Public => assert_eq!(st, 200, "{m} {uri}: {body}"),
            Guard::Scope(_) | Guard::ScopeOrSignedLink(_) => {
                assert_eq!(
                    (st, &body["type"]),
                    (401, &Value::from("Unauthorized")),
                    "{m} {uri}: {body}"
                );
                let (st, body) = call(&app, m, &uri, Some(&inert)).await;
                assert_eq!(
                    st, 403,
                    "{m} {uri} with a scope that grants nothing: {body}"
                );
                let action = r.guard.action().unwrap().name;
                let msg = body["message"].as_str().unwrap();
                assert!(msg.contains(action), "{m} {uri}: {msg}");
                if r.path.contains("{applicationId}") {
                    let (st, body) = call(&app, m, &uri, Some(&foreign)).await;
                    assert_eq!(
                        st, 403,
                        "{m} {uri} with another application's token: {body}"
                    );
                    let msg = body["message"].as_str().unwrap();
                    assert!(
                        msg.contains("does not have access to this application"),
                        "{msg}"
                    );
                }
            }
        }
    }
    // The fallbacks still answer paths and methods outside the table.
    let (st, _) = call(&app, "GET", "/nowhere", None).await;
    assert_eq!(st, 404);
    let (st, _) = call(&app, "PUT", "/applications", None).await;
    assert_eq!(st, 405);
}

#[tokio::test]
async fn document_lists_exactly_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(&dir).await);
    let (st, doc) = call(&app, "GET", "/openapi.json", None).await;
    assert_eq!(st, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["responses"].is_object(), "{method} {path}");
        }
    }
    let rows: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .collect();
    assert_eq!(
        rows.len(),
        ROUTES.len(),
        "a (method, path) pair appears twice"
    );
    assert_eq!(documented, rows);
    // Bodies carry the schema of their type: required fields, no unknown fields.
    let schemas = &doc["components"]["schemas"];
    let device = &schemas["DevicePost"];
    assert_eq!(device["required"], serde_json::json!(["name"]), "{device}");
    assert_eq!(device["additionalProperties"], false, "{device}");
    assert!(device["properties"]["tags"].is_object(), "{device}");
    let post = &doc["paths"]["/applications/{applicationId}/devices"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/DevicePost"
    );
    let param = &post["parameters"][0];
    assert_eq!(
        (&param["name"], &param["in"]),
        (&Value::from("applicationId"), &Value::from("path"))
    );
    let id_pattern = param["schema"]["pattern"].as_str().unwrap();
    assert_eq!(id_pattern, "^[0-9a-fA-F]{24}$");
    // Every success answer has the schema of its view type: a named one for JSON (typed list
    // items included), a string for the rest; only this document and the cluster status are
    // free-form.
    let free = ["/openapi.json", "/cluster"];
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method.as_str().to_ascii_lowercase()];
        let schema = &op["responses"][r.success.to_string()]["content"][r.media.as_str()]["schema"];
        match r.media {
            Media::Json if free.contains(&r.path) => assert_eq!(schema, &Value::Bool(true)),
            Media::Json => {
                let named = schema["$ref"].as_str().or(schema["items"]["$ref"].as_str());
                assert!(
                    named.is_some(),
                    "{} {}: {schema}",
                    r.method.as_str(),
                    r.path
                );
            }
            _ => assert_eq!(schema, &serde_json::json!({"type": "string"}), "{}", r.path),
        }
    }
    let list = &doc["paths"]["/applications/{applicationId}/devices"]["get"]["responses"]["200"];
    let list = list["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    let list = &schemas[list.trim_start_matches("#/components/schemas/")];
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/DeviceView"
    );
    // Every `$ref` resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(schemas[name].is_object(), "dangling $ref {name}");
    }
}
