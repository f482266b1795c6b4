//! Real answers, obtained through the router, validate against the schema `/openapi.json` gives
//! their route and status (a JSON Schema 2020-12 validator, over the document's own
//! `/components/schemas`). Every JSON route of the table is called at least once, on success,
//! and the error answers against `Error`. The response schemas are derived from the view types
//! the handlers serialize (the route table's `resp`, checked by the compiler), so a field added
//! to a view is in its schema; the last tests show the check has teeth: a schema that asks for
//! a field the answer lacks, or an answer missing a required field, fails.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{Api, ADMIN};
use rjobs_api::routes::table::{Media, ROUTES};
use serde_json::{json, Value};

mod calls;
#[path = "../common/mod.rs"]
mod common;

/// The document and the routes checked so far.
struct Checker {
    doc: Value,
    seen: BTreeSet<(String, String)>,
}

/// The schema of `doc`'s answer to `method template` with `status`, made a root schema that
/// carries the document's components (its `$ref`s point there).
fn schema_of(doc: &Value, method: &str, template: &str, status: u16) -> Value {
    let op = &doc["paths"][template][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {template} is not in the document");
    let content = &op["responses"][status.to_string()]["content"];
    let schema = content["application/json"]["schema"].clone();
    assert!(
        !schema.is_null(),
        "{method} {template} documents no JSON answer with status {status}"
    );
    rooted(doc, schema)
}

fn rooted(doc: &Value, schema: Value) -> Value {
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
    });
    match schema {
        Value::Object(m) => root.as_object_mut().unwrap().extend(m),
        other => root["allOf"] = json!([other]),
    }
    root
}

/// The validation errors of `answer` against `schema` (empty when it conforms).
fn errors(schema: &Value, answer: &Value) -> Vec<String> {
    let v = jsonschema::draft202012::new(schema).expect("the schema compiles");
    v.iter_errors(answer)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

impl Checker {
    fn new() -> Self {
        Checker {
            doc: rjobs_api::openapi::document("http://test"),
            seen: BTreeSet::new(),
        }
    }

    /// Calls `uri` (the route `template`) and checks the answer has status `want` and
    /// conforms to the document's schema for that status; returns the answer.
    async fn call(
        &mut self,
        a: &Api,
        method: &str,
        template: &str,
        uri: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let text = body.map_or_else(String::new, |v| v.to_string());
        let (st, v) = a.raw(method, uri, ADMIN, &text).await;
        assert_eq!(st.as_u16(), want, "{method} {uri}: {v}");
        let problems = errors(&schema_of(&self.doc, method, template, want), &v);
        assert!(
            problems.is_empty(),
            "{method} {template} {want} does not conform: {problems:?}\n{v:#}"
        );
        if st.is_success() {
            self.seen.insert((method.to_string(), template.to_string()));
        }
        v
    }

    /// [`Checker::call`] of a `GET` answering 200.
    async fn get(&mut self, a: &Api, template: &str, uri: &str) -> Value {
        self.call(a, "GET", template, uri, None, 200).await
    }
}

const APP: &str = "/applications/{applicationId}";

#[tokio::test]
async fn every_json_answer_conforms_to_its_schema() {
    let a = common::api_with(common::settings(ADMIN)).await;
    let mut c = Checker::new();
    c.get(&a, "/health", "/health").await;
    c.get(&a, "/openapi.json", "/openapi.json").await;
    c.get(&a, "/cluster", "/cluster").await;

    // Applications and tokens.
    let v = c
        .call(
            &a,
            "POST",
            "/applications",
            "/applications",
            Some(json!({"name": "fleet"})),
            201,
        )
        .await;
    let app = format!("/applications/{}", v["id"].as_str().unwrap());
    c.get(
        &a,
        "/applications",
        "/applications?filterField=name&filter=f*",
    )
    .await;
    c.get(&a, APP, &app).await;
    c.call(
        &a,
        "PATCH",
        APP,
        &app,
        Some(json!({"description": "d"})),
        200,
    )
    .await;
    let t = format!("{APP}/tokens");
    let v = c
        .call(
            &a,
            "POST",
            &t,
            &format!("{app}/tokens"),
            Some(json!({"name": "ci", "expirationDate": "2030-01-01T00:00:00Z"})),
            201,
        )
        .await;
    let token = format!("{app}/tokens/{}", v["id"].as_str().unwrap());
    let one = format!("{t}/{{apiTokenId}}");
    c.get(&a, &t, &format!("{app}/tokens")).await;
    c.get(&a, &one, &token).await;
    c.call(
        &a,
        "PATCH",
        &one,
        &token,
        Some(json!({"status": "inactive"})),
        200,
    )
    .await;
    c.call(&a, "DELETE", &one, &token, None, 200).await;

    calls::devices(&a, &mut c, &app).await;
    calls::tables(&a, &mut c, &app).await;
    calls::experience(&a, &mut c, &app).await;
    calls::jobs(&a, &mut c, &app).await;
    calls::flows_and_webhooks(&a, &mut c, &app).await;

    // Errors: a 404, a 400 naming the field, a 401.
    c.call(
        &a,
        "GET",
        APP,
        "/applications/0123456789abcdef01234567",
        None,
        404,
    )
    .await;
    c.call(
        &a,
        "POST",
        "/applications",
        "/applications",
        Some(json!({"name": ""})),
        400,
    )
    .await;
    let (st, v) = a.raw("GET", "/applications", "", "").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(errors(&schema_of(&c.doc, "GET", "/applications", 401), &v).is_empty());

    let doomed = c
        .call(
            &a,
            "POST",
            "/applications",
            "/applications",
            Some(json!({"name": "doomed"})),
            201,
        )
        .await;
    let doomed = format!("/applications/{}", doomed["id"].as_str().unwrap());
    c.call(&a, "DELETE", APP, &doomed, None, 200).await;

    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|r| r.media == Media::Json)
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .filter(|k| !c.seen.contains(k))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(missing.is_empty(), "JSON routes never checked: {missing:?}");
}

/// A device as the router answers it, and the document.
async fn a_device() -> (Value, Value) {
    let a = common::api_with(common::settings(ADMIN)).await;
    let app = a.app().await;
    let body = json!({"name": "pump"}).to_string();
    let (_, d) = a
        .raw(
            "POST",
            &format!("/applications/{app}/devices"),
            ADMIN,
            &body,
        )
        .await;
    (rjobs_api::openapi::document("http://test"), d)
}

#[tokio::test]
async fn a_schema_that_lies_is_caught() {
    let (doc, device) = a_device().await;
    let template = "/applications/{applicationId}/devices/{deviceId}";
    let truth = schema_of(&doc, "GET", template, 200);
    assert!(errors(&truth, &device).is_empty());
    // The document's own DeviceView, asking for a field the view does not have.
    let mut lie = doc["components"]["schemas"]["DeviceView"].clone();
    lie["required"]
        .as_array_mut()
        .unwrap()
        .push(json!("serialNumber"));
    let found = errors(&rooted(&doc, lie), &device);
    assert!(
        found.iter().any(|e| e.contains("serialNumber")),
        "{found:?}"
    );
    // Or a wrong type for a field it has.
    let mut lie = doc["components"]["schemas"]["DeviceView"].clone();
    lie["properties"]["tags"] = json!({"type": "object"});
    assert!(!errors(&rooted(&doc, lie), &device).is_empty());
}

#[tokio::test]
async fn an_answer_missing_a_required_field_is_caught() {
    let (doc, mut device) = a_device().await;
    let truth = schema_of(
        &doc,
        "GET",
        "/applications/{applicationId}/devices/{deviceId}",
        200,
    );
    device.as_object_mut().unwrap().remove("deviceId");
    let found = errors(&truth, &device);
    assert!(found.iter().any(|e| e.contains("deviceId")), "{found:?}");
    // An id that is not one.
    device["deviceId"] = json!("pump");
    assert!(!errors(&truth, &device).is_empty());
}
