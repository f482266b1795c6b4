//! The calls of every resource's routes, each answer checked by [`Checker::call`].

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{Api, ADMIN};
use crate::{Checker, APP};

pub(crate) async fn devices(a: &Api, c: &mut Checker, app: &str) {
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

pub(crate) async fn tables(a: &Api, c: &mut Checker, app: &str) {
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

pub(crate) async fn experience(a: &Api, c: &mut Checker, app: &str) {
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

pub(crate) async fn jobs(a: &Api, c: &mut Checker, app: &str) {
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

pub(crate) async fn flows_and_webhooks(a: &Api, c: &mut Checker, app: &str) {
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
