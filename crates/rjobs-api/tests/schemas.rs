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

    devices(&a, &mut c, &app).await;
    tables(&a, &mut c, &app).await;
    experience(&a, &mut c, &app).await;
    jobs(&a, &mut c, &app).await;
    flows_and_webhooks(&a, &mut c, &app).await;

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

async fn devices(a: &Api, c: &mut Checker, app: &str) {
    let base = format!("{APP}/devices");
    let one = format!("{base}/{{deviceId}}");
    let body = json!({"name": "pump-1", "tags": [{"key": "site", "value": "a"}],
        "attributes": [{"name": "temp", "dataType": "number", "description": "°C"}]});
    let d = c
        .call(a, "POST", &base, &format!("{app}/devices"), Some(body), 201)
        .await;
    let dev = format!("{app}/devices/{}", d["id"].as_str().unwrap());
    let gw = json!([{"name": "gw", "deviceClass": "gateway"}, {"name": "p2"}]);
    c.call(
        a,
        "POST",
        &format!("{base}/bulk"),
        &format!("{app}/devices/bulk"),
        Some(gw),
        201,
    )
    .await;
    c.get(
        a,
        &base,
        &format!("{app}/devices?query=%7B%22name%22%3A%22pump-1%22%7D"),
    )
    .await;
    c.get(a, &one, &dev).await;
    let set = json!({"status": "connected"});
    let path = format!("{one}/setConnectionStatus");
    c.call(
        a,
        "POST",
        &path,
        &format!("{dev}/setConnectionStatus"),
        Some(set),
        200,
    )
    .await;
    let v = c.get(a, &one, &dev).await;
    assert_eq!(v["connectionInfo"]["connected"], 1, "{v}");
    let g = d["id"].as_str().unwrap();
    c.call(
        a,
        "PATCH",
        &one,
        &dev,
        Some(json!({"gatewayId": g, "parentId": null})),
        200,
    )
    .await;
    c.call(a, "DELETE", &one, &dev, None, 200).await;
}

async fn tables(a: &Api, c: &mut Checker, app: &str) {
    let base = format!("{APP}/data-tables");
    let one = format!("{base}/{{dataTableId}}");
    let cols = json!({"name": "sites", "columns": [
        {"name": "sn", "dataType": "string", "constraint": "unique"},
        {"name": "n", "dataType": "number", "constraint": "optional", "defaultValue": 3}]});
    let t = c
        .call(
            a,
            "POST",
            &base,
            &format!("{app}/data-tables"),
            Some(cols),
            201,
        )
        .await;
    let table = format!("{app}/data-tables/{}", t["id"].as_str().unwrap());
    c.get(a, &base, &format!("{app}/data-tables")).await;
    c.get(a, &one, &table).await;
    c.call(
        a,
        "PATCH",
        &one,
        &table,
        Some(json!({"description": "d"})),
        200,
    )
    .await;
    let rows = format!("{one}/rows");
    let uri = format!("{table}/rows");
    let r = c
        .call(a, "POST", &rows, &uri, Some(json!({"sn": "a"})), 201)
        .await;
    let many = json!([{"sn": "b"}, {"sn": "c", "n": 1.5}]);
    c.call(a, "POST", &rows, &uri, Some(many), 201).await;
    let bulk = json!([{"sn": "d"}]);
    c.call(
        a,
        "POST",
        &format!("{rows}/bulk"),
        &format!("{uri}/bulk"),
        Some(bulk),
        201,
    )
    .await;
    c.get(a, &rows, &format!("{uri}?sortColumn=sn&sortDirection=desc"))
        .await;
    let q = json!({"query": {"sn": {"$ne": "x"}}});
    c.call(
        a,
        "POST",
        &format!("{rows}/query"),
        &format!("{uri}/query"),
        Some(q),
        200,
    )
    .await;
    let row_t = format!("{rows}/{{rowId}}");
    let row = format!("{uri}/{}", r["id"].as_str().unwrap());
    c.get(a, &row_t, &row).await;
    c.call(a, "PATCH", &row_t, &row, Some(json!({"n": null})), 200)
        .await;
    c.call(a, "DELETE", &row_t, &row, None, 200).await;
    c.call(a, "DELETE", &one, &table, None, 200).await;
}

async fn experience(a: &Api, c: &mut Checker, app: &str) {
    for (kind, id, body) in [
        (
            "groups",
            "experienceGroupId",
            json!({"name": "ops", "groupTags": {"k": "v"}}),
        ),
        (
            "users",
            "experienceUserId",
            json!({"email": "a@b.io", "password": "12345678"}),
        ),
    ] {
        let base = format!("{APP}/experience/{kind}");
        let one = format!("{base}/{{{id}}}");
        let uri = format!("{app}/experience/{kind}");
        let v = c.call(a, "POST", &base, &uri, Some(body), 201).await;
        let rec = format!("{uri}/{}", v["id"].as_str().unwrap());
        let bulk = match kind {
            "groups" => json!([{"name": "g2"}]),
            _ => json!([{"email": "c@d.io", "password": "12345678", "userTags": {"t": "1"}}]),
        };
        c.call(
            a,
            "POST",
            &format!("{base}/bulk"),
            &format!("{uri}/bulk"),
            Some(bulk),
            201,
        )
        .await;
        c.get(a, &base, &uri).await;
        c.get(a, &one, &rec).await;
        let patch = match kind {
            "groups" => json!({"description": "d"}),
            _ => json!({"firstName": "Ada"}),
        };
        c.call(a, "PATCH", &one, &rec, Some(patch), 200).await;
        c.call(a, "DELETE", &one, &rec, None, 200).await;
    }
}

async fn jobs(a: &Api, c: &mut Checker, app: &str) {
    for n in ["pump-a", "pump-b"] {
        let (st, _) = a
            .raw(
                "POST",
                &format!("{app}/devices"),
                ADMIN,
                &json!({"name": n}).to_string(),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED);
    }
    let base = format!("{APP}/resource-jobs");
    let one = format!("{base}/{{resourceJobId}}");
    let body = json!({"name": "poll", "resourceType": "device", "maxIterationConcurrency": 2,
        "abortConfig": {"criteria": [{"outcome": "failed", "thresholdPercent": 50, "minFinished": 10}]},
        "rolloutConfig": {"maxPerMinute": 1000000, "exponentialRate": {"baseRatePerMinute": 120000,
            "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfSucceeded": 5}}}});
    let j = c
        .call(
            a,
            "POST",
            &base,
            &format!("{app}/resource-jobs"),
            Some(body),
            201,
        )
        .await;
    let job = format!("{app}/resource-jobs/{}", j["id"].as_str().unwrap());
    c.get(a, &base, &format!("{app}/resource-jobs")).await;
    c.get(a, &one, &job).await;
    c.call(
        a,
        "PATCH",
        &one,
        &job,
        Some(json!({"iterationDelay": 0})),
        201,
    )
    .await;
    let exec = format!("{one}/execute");
    c.call(
        a,
        "POST",
        &exec,
        &format!("{job}/execute?dryRun=true"),
        Some(json!({})),
        200,
    )
    .await;
    let e = c
        .call(
            a,
            "POST",
            &exec,
            &format!("{job}/execute"),
            Some(json!({})),
            200,
        )
        .await;
    let eid = e["executionId"].as_str().unwrap().to_string();
    for _ in 0..3 {
        a.engine.tick().await.unwrap();
    }
    let ex = format!("{one}/executions/{{executionId}}");
    let exu = format!("{job}/executions/{eid}");
    let its = c
        .get(a, &format!("{ex}/iterations"), &format!("{exu}/iterations"))
        .await;
    let started: Vec<&Value> = its["items"].as_array().unwrap().iter().collect();
    let it = started[0]["id"].as_str().unwrap();
    c.get(
        a,
        &format!("{ex}/iterations/{{iterationId}}"),
        &format!("{exu}/iterations/{it}"),
    )
    .await;
    let claim = json!({"limit": 10});
    let path = format!("{ex}/iterations/claim");
    c.call(
        a,
        "POST",
        &path,
        &format!("{exu}/iterations/claim"),
        Some(claim),
        200,
    )
    .await;
    let ack = json!({"items": [{"iterationId": it, "success": true}]});
    let path = format!("{ex}/acknowledge");
    c.call(
        a,
        "POST",
        &path,
        &format!("{exu}/acknowledge"),
        Some(ack),
        200,
    )
    .await;
    let path = format!("{ex}/iterations/{{iterationId}}/acknowledge");
    let second = started[1]["id"].as_str().unwrap();
    let uri = format!("{exu}/iterations/{second}/acknowledge");
    c.call(a, "POST", &path, &uri, Some(json!({"success": true})), 200)
        .await;
    c.get(a, &ex, &exu).await;
    for op in ["pauseExecution", "resumeExecution", "cancelExecution"] {
        let uri = format!("{job}/{op}?executionId={eid}");
        c.call(a, "POST", &format!("{one}/{op}"), &uri, None, 200)
            .await;
    }
    for _ in 0..3 {
        a.engine.tick().await.unwrap();
    }
    let logs = c
        .get(a, &format!("{one}/logs"), &format!("{job}/logs?limit=5"))
        .await;
    assert_eq!(logs[0]["cancelSourceType"], "user", "{logs:#}");
    c.call(a, "DELETE", &one, &job, None, 200).await;
}

async fn flows_and_webhooks(a: &Api, c: &mut Checker, app: &str) {
    let base = format!("{APP}/flows");
    let one = format!("{base}/{{flowId}}");
    let flow = json!({"name": "tick", "triggers": [{"type": "timer", "config": {"cron": "0 9 * * *"},
        "outputIds": [["dbg"]]}], "nodes": [{"id": "dbg", "type": "DebugNode", "outputIds": [],
        "config": {}}]});
    let f = c
        .call(a, "POST", &base, &format!("{app}/flows"), Some(flow), 201)
        .await;
    let fu = format!("{app}/flows/{}", f["id"].as_str().unwrap());
    c.get(a, &base, &format!("{app}/flows")).await;
    c.get(a, &one, &fu).await;
    c.call(
        a,
        "PATCH",
        &one,
        &fu,
        Some(json!({"description": "d"})),
        200,
    )
    .await;
    c.get(a, &format!("{one}/logs"), &format!("{fu}/logs"))
        .await;
    c.call(a, "DELETE", &one, &fu, None, 200).await;

    let base = format!("{APP}/webhooks");
    let one = format!("{base}/{{webhookId}}");
    let body =
        json!({"name": "ops", "url": "https://example.com/h", "events": ["execution.completed"]});
    let w = c
        .call(
            a,
            "POST",
            &base,
            &format!("{app}/webhooks"),
            Some(body),
            201,
        )
        .await;
    let wu = format!("{app}/webhooks/{}", w["id"].as_str().unwrap());
    c.get(a, &base, &format!("{app}/webhooks")).await;
    c.get(a, &one, &wu).await;
    c.call(a, "PATCH", &one, &wu, Some(json!({"enabled": false})), 200)
        .await;
    c.get(a, &format!("{one}/deliveries"), &format!("{wu}/deliveries"))
        .await;
    c.call(a, "DELETE", &one, &wu, None, 200).await;
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
