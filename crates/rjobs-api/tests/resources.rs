//! HTTP behaviour of the resource endpoints through the router (no socket): status codes,
//! bodies in the original's field names, validation messages naming the field (and the item
//! index of a bulk call), 404s, scope checks, and that passwords never come back.

use axum::http::StatusCode;
use common::{Api, ADMIN};
use serde_json::{json, Value};

mod common;

async fn api() -> Api {
    common::api_with(common::settings(ADMIN)).await
}

impl Api {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let text = body.map_or_else(String::new, |v| v.to_string());
        self.raw(method, uri, token, &text).await
    }
}

fn assert_validation(st: StatusCode, v: &Value, needle: &str) {
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["type"], "Validation", "{v}");
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains(needle),
        "message {msg:?} should mention {needle:?}"
    );
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn devices_crud_and_list() {
    let a = api().await;
    let app = a.app().await;
    let base = format!("/applications/{app}/devices");
    let (st, d) = a
        .call(
            "POST",
            &base,
            ADMIN,
            Some(
                json!({"name": "pump-1", "tags": [{"key": "site", "value": "a"}],
            "attributes": [{"name": "temp", "dataType": "number"}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    assert_eq!(d["deviceId"], d["id"]);
    assert_eq!(d["applicationId"], json!(app));
    assert_eq!(d["deviceClass"], "standalone");
    assert_eq!(d["connectionInfo"], json!({"connected": null}));
    assert!(d["creationDate"].as_str().unwrap().ends_with('Z'));
    let id = d["id"].as_str().unwrap().to_string();

    let (st, v) = a
        .call("POST", &base, ADMIN, Some(json!({"description": "x"})))
        .await;
    assert_validation(st, &v, "name");
    let (st, v) = a
        .call(
            "POST",
            &base,
            ADMIN,
            Some(json!({"name": "x", "colour": "red"})),
        )
        .await;
    assert_validation(st, &v, "colour");
    let (st, v) = a
        .call(
            "POST",
            &base,
            ADMIN,
            Some(json!({"name": "x", "deviceClass": "toaster"})),
        )
        .await;
    assert_validation(st, &v, "deviceClass");
    let (st, _) = a
        .call(
            "POST",
            &base,
            ADMIN,
            Some(json!({"name": "x", "edgeAgentVersion": "1.0.0"})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "fields of the original are accepted and ignored"
    );

    let (st, got) = a.call("GET", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!((st, &got), (StatusCode::OK, &d));
    let (st, v) = a
        .call("GET", &format!("{base}/{}", "0".repeat(24)), ADMIN, None)
        .await;
    assert_eq!(
        (st, v["type"].as_str(), v["message"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("NotFound"),
            Some("Device was not found")
        )
    );
    let (st, v) = a.call("GET", &format!("{base}/nope"), ADMIN, None).await;
    assert_validation(st, &v, "deviceId");

    let q = enc(r#"{"tags":{"site":"a"}}"#);
    let (st, list) = a
        .call("GET", &format!("{base}?query={q}&perPage=10"), ADMIN, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{list}");
    assert_eq!(
        (list["count"].as_u64(), list["totalCount"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(list["items"][0]["id"], json!(id));
    assert_eq!(list["query"], json!({"tags": {"site": "a"}}));
    assert_eq!(
        (list["perPage"].as_u64(), list["sortField"].as_str()),
        (Some(10), Some("name"))
    );
    let (st, list) = a
        .call(
            "GET",
            &format!("{base}?filterField=name&filter=PUMP*"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!((st, list["totalCount"].as_u64()), (StatusCode::OK, Some(1)));
    let (st, v) = a
        .call(
            "GET",
            &format!("{base}?query={}", enc(r#"{"colour":"red"}"#)),
            ADMIN,
            None,
        )
        .await;
    assert_validation(st, &v, "query");
    let (st, v) = a
        .call("GET", &format!("{base}?query=notjson"), ADMIN, None)
        .await;
    assert_validation(st, &v, "query");
    let (st, v) = a
        .call("GET", &format!("{base}?sortField=colour"), ADMIN, None)
        .await;
    assert_validation(st, &v, "sortField");

    let (st, p) = a
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            ADMIN,
            Some(json!({"name": "pump-2", "parentId": null})),
        )
        .await;
    assert_eq!((st, p["name"].as_str()), (StatusCode::OK, Some("pump-2")));
    assert_eq!(p["tags"], d["tags"]);
    let (st, v) = a
        .call(
            "PATCH",
            &format!("{base}/{id}"),
            ADMIN,
            Some(json!({"name": ""})),
        )
        .await;
    assert_validation(st, &v, "name");

    let (st, v) = a
        .call(
            "POST",
            &format!("{base}/{id}/setConnectionStatus"),
            ADMIN,
            Some(json!({"status": "connected", "connectedAt": 1_764_000_100_000i64})),
        )
        .await;
    assert_eq!((st, v), (StatusCode::OK, json!({"success": true})));
    let (_, got) = a.call("GET", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!(
        got["connectionInfo"],
        json!({"connected": 1, "time": "2025-11-24T16:01:40.000Z"})
    );
    let (st, v) = a
        .call(
            "POST",
            &format!("{base}/{id}/setConnectionStatus"),
            ADMIN,
            Some(json!({"status": "asleep"})),
        )
        .await;
    assert_validation(st, &v, "status");

    let (st, v) = a.call("DELETE", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!((st, v), (StatusCode::OK, json!({"success": true})));
    let (st, _) = a.call("DELETE", &format!("{base}/{id}"), ADMIN, None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn devices_bulk() {
    let a = api().await;
    let app = a.app().await;
    let base = format!("/applications/{app}/devices");
    let items: Vec<Value> = (0..6)
        .map(|i| json!({"name": format!("d{i}"), "tags": [{"key": "k", "value": "v"}]}))
        .collect();
    let (st, v) = a
        .call("POST", &format!("{base}/bulk"), ADMIN, Some(json!(items)))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["created"], json!(6));
    assert_eq!(v["ids"].as_array().map(Vec::len), Some(6));

    let mut bad = items.clone();
    bad[3] = json!({"name": ""});
    let (st, v) = a
        .call("POST", &format!("{base}/bulk"), ADMIN, Some(json!(bad)))
        .await;
    assert_validation(st, &v, "[3].name");
    let mut bad = items.clone();
    bad[2] = json!({"name": "x", "wat": 1});
    let (st, v) = a
        .call("POST", &format!("{base}/bulk"), ADMIN, Some(json!(bad)))
        .await;
    assert_validation(st, &v, "[2]");
    assert_validation(st, &v, "wat");
    let (st, v) = a
        .call("POST", &format!("{base}/bulk"), ADMIN, Some(json!([])))
        .await;
    assert_validation(st, &v, "between 1 and 10000");
    let (_, list) = a.call("GET", &base, ADMIN, None).await;
    assert_eq!(
        list["totalCount"],
        json!(6),
        "failed bulk calls create nothing"
    );
}

#[tokio::test]
async fn scopes_are_enforced() {
    let a = api().await;
    let app = a.app().await;
    let other = a.app().await;
    let reader = a.token(&app, &["devices.get"]).await;
    let base = format!("/applications/{app}/devices");
    let (st, _) = a.call("GET", &base, &reader, None).await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = a
        .call("POST", &base, &reader, Some(json!({"name": "x"})))
        .await;
    assert_eq!(
        (st, v["type"].as_str()),
        (StatusCode::FORBIDDEN, Some("Forbidden"))
    );
    let (st, _) = a
        .call(
            "POST",
            &format!("{base}/bulk"),
            &reader,
            Some(json!([{"name": "x"}])),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = a
        .call(
            "GET",
            &format!("/applications/{other}/devices"),
            &reader,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "another application");
    let (st, _) = a
        .call(
            "GET",
            &format!("/applications/{app}/experience/users"),
            &reader,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "another resource");
    let ro = a.token(&app, &["all.Application.read"]).await;
    let (st, _) = a
        .call(
            "GET",
            &format!("/applications/{app}/data-tables"),
            &ro,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = a
        .call(
            "POST",
            &format!("/applications/{app}/data-tables"),
            &ro,
            Some(json!({"name": "t"})),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = a.call("GET", &base, "", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn data_tables_and_rows() {
    let a = api().await;
    let app = a.app().await;
    let tables = format!("/applications/{app}/data-tables");
    let (st, t) = a
        .call(
            "POST",
            &tables,
            ADMIN,
            Some(json!({"name": "readings", "columns": [
                {"name": "sn", "dataType": "string", "constraint": "unique"},
                {"name": "temp", "dataType": "number", "constraint": "optional", "defaultValue": 0}
            ]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{t}");
    assert_eq!(t["dataTableId"], t["id"]);
    let tid = t["id"].as_str().unwrap();
    let (st, v) = a
        .call("POST", &tables, ADMIN, Some(json!({"name": "t", "columns": [{"name": "a b", "dataType": "string", "constraint": "optional"}]})))
        .await;
    assert_validation(st, &v, "columns[0].name");
    let (st, list) = a.call("GET", &tables, ADMIN, None).await;
    assert_eq!((st, list["totalCount"].as_u64()), (StatusCode::OK, Some(1)));
    let (st, p) = a
        .call(
            "PATCH",
            &format!("{tables}/{tid}"),
            ADMIN,
            Some(json!({"description": "d"})),
        )
        .await;
    assert_eq!((st, p["description"].as_str()), (StatusCode::OK, Some("d")));

    let rows = format!("{tables}/{tid}/rows");
    let (st, r) = a
        .call("POST", &rows, ADMIN, Some(json!({"sn": "a", "temp": 21.5})))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    assert!(r["id"].is_string() && r["createdAt"].is_string() && r["updatedAt"].is_string());
    assert_eq!(r["temp"], json!(21.5));
    let rid = r["id"].as_str().unwrap();
    let (st, arr) = a
        .call(
            "POST",
            &rows,
            ADMIN,
            Some(json!([{"sn": "b"}, {"sn": "c", "temp": 5}])),
        )
        .await;
    assert_eq!(
        (st, arr.as_array().map(Vec::len)),
        (StatusCode::CREATED, Some(2))
    );
    assert_eq!(arr[0]["temp"], json!(0), "default value");
    let (st, v) = a.call("POST", &rows, ADMIN, Some(json!({"sn": "a"}))).await;
    assert_validation(st, &v, "sn");
    let (st, v) = a.call("POST", &rows, ADMIN, Some(json!({"temp": 1}))).await;
    assert_validation(st, &v, "sn: is required");
    let (st, v) = a
        .call(
            "POST",
            &format!("{rows}/bulk"),
            ADMIN,
            Some(json!([{"sn": "x"}, {"sn": "y", "temp": "hot"}])),
        )
        .await;
    assert_validation(st, &v, "[1].temp");
    let (st, v) = a
        .call(
            "POST",
            &format!("{rows}/bulk"),
            ADMIN,
            Some(json!([{"sn": "x"}, {"sn": "y"}])),
        )
        .await;
    assert_eq!((st, v["created"].as_u64()), (StatusCode::CREATED, Some(2)));

    let (st, page) = a
        .call(
            "GET",
            &format!("{rows}?limit=2&offset=1&sortColumn=sn&sortDirection=desc"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert_eq!(
        (page["count"].as_u64(), page["totalCount"].as_u64()),
        (Some(2), Some(5))
    );
    assert_eq!(
        (page["limit"].as_u64(), page["offset"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (page["sortColumn"].as_str(), page["sortDirection"].as_str()),
        (Some("sn"), Some("desc"))
    );
    assert_eq!(page["dataTableId"], json!(tid));
    assert_eq!(page["applicationId"], json!(app));
    let sns: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sn"].as_str().unwrap())
        .collect();
    assert_eq!(sns, ["x", "c"]);
    let (st, v) = a
        .call("GET", &format!("{rows}?sortColumn=nope"), ADMIN, None)
        .await;
    assert_validation(st, &v, "sortColumn");

    let (st, q) = a
        .call(
            "POST",
            &format!("{rows}/query"),
            ADMIN,
            Some(json!({"temp": {"$gt": 1}})),
        )
        .await;
    assert_eq!(
        (st, q["totalCount"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{q}"
    );
    let (st, q) = a
        .call(
            "POST",
            &format!("{rows}/query"),
            ADMIN,
            Some(json!({"query": {"sn": {"$in": ["a", "b"]}}})),
        )
        .await;
    assert_eq!(
        (st, q["totalCount"].as_u64()),
        (StatusCode::OK, Some(2)),
        "{q}"
    );
    let (st, v) = a
        .call(
            "POST",
            &format!("{rows}/query"),
            ADMIN,
            Some(json!({"nope": 1})),
        )
        .await;
    assert_validation(st, &v, "query");

    let (st, p) = a
        .call(
            "PATCH",
            &format!("{rows}/{rid}"),
            ADMIN,
            Some(json!({"temp": 30})),
        )
        .await;
    assert_eq!(
        (st, p["temp"].as_i64(), p["sn"].as_str()),
        (StatusCode::OK, Some(30), Some("a"))
    );
    let (st, v) = a
        .call(
            "PATCH",
            &format!("{rows}/{rid}"),
            ADMIN,
            Some(json!({"sn": "b"})),
        )
        .await;
    assert_validation(st, &v, "sn is already in use");
    let (st, g) = a.call("GET", &format!("{rows}/{rid}"), ADMIN, None).await;
    assert_eq!((st, g), (StatusCode::OK, p));
    let (st, v) = a
        .call("DELETE", &format!("{rows}/{rid}"), ADMIN, None)
        .await;
    assert_eq!((st, v), (StatusCode::OK, json!({"success": true})));
    let (st, v) = a.call("GET", &format!("{rows}/{rid}"), ADMIN, None).await;
    assert_eq!(
        (st, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("Data table row was not found"))
    );
    let (st, _) = a
        .call("DELETE", &format!("{tables}/{tid}"), ADMIN, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = a.call("GET", &rows, ADMIN, None).await;
    assert_eq!(
        (st, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("Data table was not found"))
    );
}

#[tokio::test]
async fn experience_users_and_groups() {
    let a = api().await;
    let app = a.app().await;
    let users = format!("/applications/{app}/experience/users");
    let groups = format!("/applications/{app}/experience/groups");
    let (st, u) = a
        .call("POST", &users, ADMIN, Some(json!({"email": "Ann@Example.com", "password": "s3cret-pass", "firstName": "Ann", "userTags": {"role": "op"}})))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{u}");
    assert_eq!(
        (u["email"].as_str(), u["experienceUserId"].clone()),
        (Some("ann@example.com"), u["id"].clone())
    );
    let text = u.to_string();
    assert!(!text.contains("s3cret") && !text.contains("argon2") && u.get("password").is_none());
    let uid = u["id"].as_str().unwrap().to_string();
    let (st, v) = a
        .call(
            "POST",
            &users,
            ADMIN,
            Some(json!({"email": "ann@example.com", "password": "another-pass"})),
        )
        .await;
    assert_validation(st, &v, "email");
    let (st, v) = a
        .call(
            "POST",
            &users,
            ADMIN,
            Some(json!({"email": "bob@example.com"})),
        )
        .await;
    assert_validation(st, &v, "password");
    let (st, v) = a
        .call(
            "POST",
            &users,
            ADMIN,
            Some(json!({"email": "bob@example.com", "password": "short"})),
        )
        .await;
    assert_validation(st, &v, "password");
    let (st, v) = a
        .call(
            "POST",
            &format!("{users}/bulk"),
            ADMIN,
            Some(json!([
            {"email": "c@x.io", "password": "password1"},
            {"email": "d@x.io", "password": "password2"},
            {"email": "c@x.io", "password": "password3"}])),
        )
        .await;
    assert_validation(st, &v, "[2].email");

    let (st, root) = a
        .call(
            "POST",
            &groups,
            ADMIN,
            Some(json!({"name": "root", "experienceUserIds": [uid]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{root}");
    assert_eq!(root["experienceUserIds"], json!([uid]));
    let rid = root["id"].as_str().unwrap().to_string();
    let (st, child) = a
        .call(
            "POST",
            &groups,
            ADMIN,
            Some(json!({"name": "child", "parentId": rid, "groupTags": {"t": "1"}})),
        )
        .await;
    assert_eq!(
        (st, child["parentId"].as_str()),
        (StatusCode::CREATED, Some(rid.as_str()))
    );
    let cid = child["id"].as_str().unwrap().to_string();
    let (st, v) = a
        .call(
            "POST",
            &groups,
            ADMIN,
            Some(json!({"name": "x", "parentId": "0".repeat(24)})),
        )
        .await;
    assert_validation(st, &v, "parentId");
    let (st, v) = a
        .call(
            "POST",
            &groups,
            ADMIN,
            Some(json!({"name": "x", "deviceIds": ["0".repeat(24)]})),
        )
        .await;
    assert_validation(st, &v, "deviceIds[0]");
    let (st, v) = a
        .call(
            "PATCH",
            &format!("{groups}/{rid}"),
            ADMIN,
            Some(json!({"parentId": cid})),
        )
        .await;
    assert_validation(st, &v, "parentId");
    let (st, v) = a
        .call(
            "PATCH",
            &format!("{groups}/{rid}"),
            ADMIN,
            Some(json!({"parentId": rid})),
        )
        .await;
    assert_validation(st, &v, "parentId");
    let (st, v) = a
        .call(
            "POST",
            &format!("{groups}/bulk"),
            ADMIN,
            Some(json!([{"name": "a"}, {"name": "b", "parentId": "0".repeat(24)}])),
        )
        .await;
    assert_validation(st, &v, "[1].parentId");

    let (_, got) = a.call("GET", &format!("{users}/{uid}"), ADMIN, None).await;
    assert_eq!(got["experienceGroupIds"], json!([rid]));
    let q = enc(&format!(r#"{{"ancestorId":"{rid}"}}"#));
    let (st, list) = a
        .call("GET", &format!("{groups}?query={q}"), ADMIN, None)
        .await;
    assert_eq!(
        (st, list["totalCount"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{list}"
    );
    assert_eq!(list["items"][0]["id"], json!(cid));
    let (st, list) = a
        .call(
            "GET",
            &format!("{users}?filterField=email&filter=ANN*"),
            ADMIN,
            None,
        )
        .await;
    assert_eq!((st, list["totalCount"].as_u64()), (StatusCode::OK, Some(1)));
    assert!(list["items"][0].get("password").is_none());

    let (st, p) = a
        .call(
            "PATCH",
            &format!("{users}/{uid}"),
            ADMIN,
            Some(json!({"password": "new-password", "lastName": "Lee"})),
        )
        .await;
    assert_eq!((st, p["lastName"].as_str()), (StatusCode::OK, Some("Lee")));
    assert!(!p.to_string().contains("new-password"));
    let (st, _) = a
        .call("DELETE", &format!("{groups}/{rid}"), ADMIN, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (_, c) = a.call("GET", &format!("{groups}/{cid}"), ADMIN, None).await;
    assert_eq!(
        c["parentId"],
        Value::Null,
        "child moved up to the root level"
    );
    let (st, _) = a
        .call("DELETE", &format!("{users}/{uid}"), ADMIN, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = a.call("GET", &format!("{users}/{uid}"), ADMIN, None).await;
    assert_eq!(
        (st, v["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("Experience user was not found"))
    );
}
