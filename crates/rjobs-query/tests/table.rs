//! Table tests: every operator and documented edge, checked against a hand-built application
//! through the evaluator, SQLite and PostgreSQL (all three must give the expected ids).

mod common;

use std::collections::BTreeSet;

use common::fixture::schema;
use common::{agree, Dbs, Fixture};
use rjobs_query::{parse, EvalDevice, EvalGroup, EvalRow, EvalUser, ResourceType as RT};
use serde_json::{json, Value};

/// `"d1"` → the 24-hex id of device 1 (`g` groups, `u` users, `r` rows, `x` dangling).
fn id(name: &str) -> String {
    let base = match &name[..1] {
        "d" => 0xd000,
        "g" => 0xb000,
        "u" => 0xc000,
        "r" => 0xa000,
        _ => 0xdead00,
    };
    let n: u64 = name[1..].parse().unwrap();
    format!("{:024x}", base + n)
}

fn ids(names: &str) -> BTreeSet<String> {
    names.split_whitespace().map(id).collect()
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fixture() -> Fixture {
    let dev = |n: &str, name: &str, class: &str| EvalDevice {
        id: id(n),
        name: name.into(),
        device_class: class.into(),
        ..Default::default()
    };
    let mut d1 = dev("d1", "pump-1", "standalone");
    d1.tags = tags(&[("site", "a"), ("env", "prod")]);
    d1.attribute_names = vec!["temp".into(), "humidity".into()];
    d1.connected = Some(true);
    d1.connected_at = Some(1000);
    d1.creation_date = 1_640_000_000_000;
    let mut d2 = dev("d2", "Pump-2", "gateway");
    d2.tags = tags(&[("env", "stage")]);
    d2.attribute_names = vec!["Temp".into()];
    d2.connected = Some(false);
    d2.disconnected_at = Some(2000);
    d2.parent_id = Some(id("d1"));
    d2.creation_date = 1_650_000_000_000;
    let mut d3 = dev("d3", "sensor-x", "peripheral");
    d3.parent_id = Some(id("d2"));
    d3.gateway_id = Some(id("d2"));
    d3.creation_date = 1_660_000_000_000;
    let mut d4 = dev("d4", "SENSOR-y", "peripheral");
    d4.tags = tags(&[("site", "b"), ("site", "a")]);
    d4.parent_id = Some(id("x1"));
    d4.gateway_id = Some(id("d2"));
    d4.creation_date = 1_670_000_000_000;

    let grp = |n: &str, name: &str, parent: Option<&str>, t: &[(&str, &str)]| EvalGroup {
        id: id(n),
        name: name.into(),
        parent_id: parent.map(id),
        tags: tags(t),
        creation_date: 5,
        last_updated: 6,
    };
    let usr = |n: &str, email: &str, first: &str, last: &str, t: &[(&str, &str)]| EvalUser {
        id: id(n),
        email: email.into(),
        first_name: first.into(),
        last_name: last.into(),
        tags: tags(t),
        creation_date: 10,
        last_updated: 20,
        ..Default::default()
    };
    let mut u1 = usr(
        "u1",
        "bob@example.com",
        "Bob",
        "Smith",
        &[("role", "admin")],
    );
    u1.last_login = Some(1_700_000_000_000);
    u1.password_last_updated = Some(1_600_000_000_000);
    let row = |n: &str, data: Value, created: i64| EvalRow {
        id: id(n),
        created_at: created,
        updated_at: 1000,
        data: data.as_object().unwrap().clone(),
    };
    Fixture {
        devices: vec![d1, d2, d3, d4],
        groups: vec![
            grp("g1", "root", None, &[("tier", "gold")]),
            grp("g2", "child", Some("g1"), &[]),
            grp(
                "g3",
                "grandchild",
                Some("g2"),
                &[("tier", "silver"), ("x", "y")],
            ),
            grp("g4", "cycle-a", Some("g5"), &[]),
            grp("g5", "cycle-b", Some("g4"), &[]),
        ],
        users: vec![
            u1,
            usr("u2", "alice@example.com", "Alice", "smith", &[]),
            usr("u3", "BOB@EXAMPLE.COM", "bob", "", &[]),
        ],
        rows: vec![
            row("r1", json!({"num": 1, "txt": "a", "flag": true}), 100),
            row("r2", json!({"num": 2.5, "txt": "B", "flag": false}), 200),
            row("r3", json!({"num": null, "txt": null}), 300),
            row("r4", json!({}), 400),
            row("r5", json!({"num": "7", "txt": 5, "flag": 1}), 500),
            row(
                "r6",
                json!({"num": -3, "txt": "abc", "flag": true, "n2": 10}),
                600,
            ),
        ],
        group_users: vec![
            (id("g1"), id("u1")),
            (id("g2"), id("u1")),
            (id("g2"), id("u2")),
        ],
        group_devices: vec![(id("g1"), id("d1")), (id("g2"), id("d3"))],
    }
}

/// Replaces `@d1`-style markers inside the JSON text with ids.
fn q(text: &str) -> Value {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('@') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let b = tail.as_bytes();
        if b.len() < 2 || !b"dgurx".contains(&b[0]) || !b[1].is_ascii_digit() {
            out.push('@');
            rest = tail;
            continue;
        }
        let end = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        out.push_str(&id(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

const DEVICES: &[(&str, &str)] = &[
    (r#"{}"#, "d1 d2 d3 d4"),
    (r#"{"name":"pump-1"}"#, "d1"),
    (r#"{"name":{"$eq":"PUMP-1","$ci":true}}"#, "d1"),
    (r#"{"name":{"$eq":"PUMP-1"}}"#, ""),
    (r#"{"name":{"$ne":"pump-1"}}"#, "d2 d3 d4"),
    (r#"{"name":{"$ne":"PUMP-1","$ci":true}}"#, "d2 d3 d4"),
    (r#"{"name":{"$startsWith":"pump"}}"#, "d1"),
    (r#"{"name":{"$startsWith":"pump","$ci":true}}"#, "d1 d2"),
    (r#"{"name":{"$endsWith":"-y","$ci":true}}"#, "d4"),
    (r#"{"name":{"$endsWith":"-Y"}}"#, ""),
    (r#"{"name":{"$contains":"ENS"}}"#, "d4"),
    (r#"{"name":{"$contains":"ENS","$ci":true}}"#, "d3 d4"),
    (r#"{"name":{"$gt":"pump-1"}}"#, "d3"),
    (r#"{"name":{"$lte":"SENSOR-y"}}"#, "d2 d4"),
    (r#"{"name":{"$gt":"P","$lt":"q"}}"#, "d1 d2 d4"),
    (r#"{"name":{"$gt":"p","$ci":true}}"#, "d1 d3"),
    (r#"{"name":{"$in":["pump-1","sensor-x",5]}}"#, "d1 d3"),
    (r#"{"name":{"$in":["PUMP-1"],"$ci":true}}"#, "d1"),
    (r#"{"name":{"$nin":["pump-1"]}}"#, "d2 d3 d4"),
    (
        r#"{"name":{"$nin":["PUMP-1","sensor-X"],"$ci":true}}"#,
        "d2 d4",
    ),
    (r#"{"name":{"$in":[]}}"#, ""),
    (r#"{"name":{"$nin":[]}}"#, "d1 d2 d3 d4"),
    (r#"{"name":5}"#, ""),
    (r#"{"name":{"$ne":5}}"#, "d1 d2 d3 d4"),
    (r#"{"name":{"$gt":true}}"#, ""),
    (r#"{"name":null}"#, ""),
    (r#"{"name":{"$ne":null}}"#, "d1 d2 d3 d4"),
    (r#"{"name":{"$gt":null}}"#, ""),
    (r#"{"name":{}}"#, "d1 d2 d3 d4"),
    (r#"{"name":{"$ci":true}}"#, "d1 d2 d3 d4"),
    (r#"{"deviceClass":"peripheral"}"#, "d3 d4"),
    (r#"{"connectionStatus":"connected"}"#, "d1"),
    (r#"{"connectionStatus":"CONNECTED"}"#, ""),
    (
        r#"{"connectionStatus":{"$eq":"CONNECTED","$ci":true}}"#,
        "d1",
    ),
    (r#"{"connectionStatus":null}"#, "d3 d4"),
    (r#"{"connectionStatus":{"$ne":"connected"}}"#, "d2 d3 d4"),
    (
        r#"{"connectionStatus":{"$in":["connected","disconnected"]}}"#,
        "d1 d2",
    ),
    (r#"{"connectionStatus":{"$nin":["connected"]}}"#, "d2 d3 d4"),
    (r#"{"connectedAt":{"$gt":0}}"#, "d1"),
    (r#"{"connectedAt":null}"#, "d2 d3 d4"),
    (r#"{"disconnectedAt":"1970-01-01T00:00:02Z"}"#, "d2"),
    (r#"{"creationDate":{"$gte":1650000000000}}"#, "d2 d3 d4"),
    (r#"{"creationDate":"2022-04-15T05:20:00.000Z"}"#, "d2"),
    (r#"{"creationDate":"2022-04-15T07:20:00+02:00"}"#, "d2"),
    (r#"{"creationDate":{"$lt":"2022-04-15T05:20:00Z"}}"#, "d1"),
    (
        r#"{"creationDate":{"$in":[1640000000000,"2022-04-15T05:20:00Z",true]}}"#,
        "d1 d2",
    ),
    (r#"{"creationDate":{"$nin":[1640000000000]}}"#, "d2 d3 d4"),
    (r#"{"creationDate":true}"#, ""),
    (r#"{"creationDate":{"$ne":true}}"#, "d1 d2 d3 d4"),
    (r#"{"creationDate":{"$startsWith":"2"}}"#, ""),
    (r#"{"lastUpdated":0}"#, "d1 d2 d3 d4"),
    (r#"{"deletedAt":null}"#, "d1 d2 d3 d4"),
    (r#"{"deletedAt":{"$ne":null}}"#, ""),
    (r#"{"deletedAt":{"$lt":5}}"#, ""),
    (r#"{"attributeName":"temp"}"#, "d1"),
    (r#"{"attributeName":{"$eq":"TEMP","$ci":true}}"#, "d1 d2"),
    (r#"{"attributeName":null}"#, "d3 d4"),
    (r#"{"attributeName":{"$ne":null}}"#, "d1 d2"),
    (r#"{"attributeName":{"$ne":"temp"}}"#, "d2 d3 d4"),
    (r#"{"attributeName":{"$nin":["temp","Temp"]}}"#, "d3 d4"),
    (r#"{"attributeName":{"$startsWith":"hum"}}"#, "d1"),
    (r#"{"attributeName":{"$gt":"t"}}"#, "d1"),
    (r#"{"id":"@d1"}"#, "d1"),
    (r#"{"id":"00000000000000000000D001"}"#, "d1"),
    (r#"{"id":{"$eq":"00000000000000000000d00A"}}"#, ""),
    (r#"{"id":{"$eq":"00000000000000000000D002"}}"#, "d2"),
    (r#"{"parentId":{"$in":["00000000000000000000D001"]}}"#, "d2"),
    (r#"{"id":{"$in":["@d1","@d2"]}}"#, "d1 d2"),
    (r#"{"id":{"$nin":["@d1"]}}"#, "d2 d3 d4"),
    (r#"{"id":{"$gt":"@d2"}}"#, "d3 d4"),
    (r#"{"id":{"$lte":"@d2"}}"#, "d1 d2"),
    (r#"{"id":null}"#, ""),
    (r#"{"id":{"$ne":null}}"#, "d1 d2 d3 d4"),
    (r#"{"parentId":"@d1"}"#, "d2"),
    (r#"{"parentId":null}"#, "d1"),
    (r#"{"parentId":{"$ne":"@d1"}}"#, "d1 d3 d4"),
    (r#"{"gatewayId":"@d2"}"#, "d3 d4"),
    (r#"{"ancestorId":"@d1"}"#, "d2 d3"),
    (r#"{"ancestorId":"@d2"}"#, "d3"),
    (r#"{"ancestorId":"@x1"}"#, "d4"),
    (r#"{"ancestorId":null}"#, "d1"),
    (r#"{"ancestorId":{"$ne":"@d1"}}"#, "d1 d4"),
    (r#"{"ancestorId":{"$in":["@d2","@x1"]}}"#, "d3 d4"),
    (r#"{"ancestorId":{"$nin":["@d2","@x1"]}}"#, "d1 d2"),
    (r#"{"ancestorId":{"$gt":"@d1"}}"#, "d3 d4"),
    (r#"{"experienceGroupId":"@g1"}"#, "d1"),
    (r#"{"experienceGroupId":"@g2"}"#, "d3"),
    (r#"{"experienceGroupId":null}"#, "d2 d4"),
    (r#"{"experienceGroupId":{"$ne":"@g1"}}"#, "d2 d3 d4"),
    (r#"{"experienceUserId":"@u1"}"#, "d1 d3"),
    (r#"{"experienceUserId":"@u2"}"#, "d3"),
    (r#"{"experienceUserId":{"$nin":["@u1"]}}"#, "d2 d4"),
    (r#"{"experienceUserId":null}"#, "d2 d4"),
    (r#"{"tags":{"site":"a"}}"#, "d1 d4"),
    (r#"{"tags":{"site":"a","env":"prod"}}"#, "d1"),
    (r#"{"tags":{"site":"b","env":"prod"}}"#, ""),
    (r#"{"tags":{"site":"A"}}"#, ""),
    (r#"{"tags":{"site":null}}"#, "d1 d4"),
    (r#"{"tags":null}"#, "d3"),
    (r#"{"tags":{"$eq":null}}"#, "d3"),
    (r#"{"tags":{"$ne":null}}"#, "d1 d2 d4"),
    (r#"{"tags":{"$tagKey":"env"}}"#, "d1 d2"),
    (
        r#"{"tags":{"$tagKey":"env","$tagValue":{"$in":["prod","stage"]}}}"#,
        "d1 d2",
    ),
    (r#"{"tags":{"$tagKey":"env","$tagValue":"a"}}"#, ""),
    (r#"{"tags":{"$tagValue":"a"}}"#, "d1 d4"),
    (r#"{"tags":{"$tagKey":null,"$tagValue":null}}"#, "d1 d2 d4"),
    (r#"{"tags":{"$ne":{"site":"a"}}}"#, "d2 d3"),
    (r#"{"tags":{"$eq":{"site":null}}}"#, "d1 d4"),
    (r#"{"tags":{"site":{"$nin":["a"]}}}"#, "d4"),
    (r#"{"tags":{"$tagKey":{"$nin":["site"]}}}"#, "d1 d2"),
    (r#"{"tags":{"$ne":{"$tagKey":{"$in":["env"]}}}}"#, "d3 d4"),
    (r#"{"tags":{}}"#, "d1 d2 d3 d4"),
    (r#"{"tags":{"site":{"$in":[]}}}"#, ""),
    (r#"{"tags":{"site":{"$nin":[]}}}"#, "d1 d4"),
    (r#"{"$or":[]}"#, ""),
    (r#"{"$and":[]}"#, "d1 d2 d3 d4"),
    (r#"{"$nor":[]}"#, "d1 d2 d3 d4"),
    (r#"{"$and":[{}]}"#, "d1 d2 d3 d4"),
    (r#"{"$nor":[{}]}"#, ""),
    (r#"{"$nor":[{"name":"pump-1"},{"tags":null}]}"#, "d2 d4"),
    (
        r#"{"$or":[{"name":{"$ne":"myValue"}},{"parentId":"@d1"}]}"#,
        "d1 d2 d3 d4",
    ),
    (
        r#"{"$or":[{"name":"pump-1"},{"parentId":"@d1"}],"deviceClass":"gateway"}"#,
        "d2",
    ),
    (
        r#"{"$and":[{"$or":[{"tags":{"site":"a"}},{"tags":null}]},{"$nor":[{"id":"@d4"}]}]}"#,
        "d1 d3",
    ),
];

const GROUPS: &[(&str, &str)] = &[
    (r#"{"name":"root"}"#, "g1"),
    (r#"{"name":{"$startsWith":"cycle"}}"#, "g4 g5"),
    (
        r#"{"lastUpdated":6,"creationDate":{"$lt":6}}"#,
        "g1 g2 g3 g4 g5",
    ),
    (r#"{"parentId":"@g1"}"#, "g2"),
    (r#"{"ancestorId":"@g1"}"#, "g2 g3"),
    (r#"{"ancestorId":"@g4"}"#, "g4 g5"),
    (r#"{"ancestorId":null}"#, "g1"),
    (r#"{"ancestorId":{"$ne":"@g2"}}"#, "g1 g2 g4 g5"),
    (r#"{"experienceUserId":"@u1"}"#, "g1 g2"),
    (r#"{"experienceUserId":"@u2"}"#, "g2"),
    (r#"{"experienceUserId":null}"#, "g3 g4 g5"),
    (r#"{"experienceUserId":{"$in":["@u2","@u3"]}}"#, "g2"),
    (r#"{"experienceEndpointId":null}"#, "g1 g2 g3 g4 g5"),
    (r#"{"experienceEndpointId":{"$ne":null}}"#, ""),
    (
        r#"{"experienceEndpointId":{"$nin":["@g1"]}}"#,
        "g1 g2 g3 g4 g5",
    ),
    (r#"{"groupTags":{"tier":"gold"}}"#, "g1"),
    (r#"{"groupTags":{"$tagKey":"tier"}}"#, "g1 g3"),
    (r#"{"groupTags":{"tier":"silver","x":"y"}}"#, "g3"),
    (r#"{"groupTags":null}"#, "g2 g4 g5"),
    (
        r#"{"groupTags":{"$ne":{"tier":{"$in":["gold","silver"]}}}}"#,
        "g2 g4 g5",
    ),
];

const USERS: &[(&str, &str)] = &[
    (r#"{"email":"bob@example.com"}"#, "u1"),
    (r#"{"email":{"$eq":"bob@example.com","$ci":true}}"#, "u1 u3"),
    (r#"{"email":{"$endsWith":"EXAMPLE.COM"}}"#, "u3"),
    (r#"{"email":{"$startsWith":"bob@","$ci":true}}"#, "u1 u3"),
    (r#"{"firstName":"Bob"}"#, "u1"),
    (r#"{"firstName":{"$lt":"a"}}"#, "u1 u2"),
    (r#"{"lastName":{"$eq":"SMITH","$ci":true}}"#, "u1 u2"),
    (r#"{"lastName":""}"#, "u3"),
    (r#"{"experienceGroupId":"@g2"}"#, "u1 u2"),
    (r#"{"experienceGroupId":"@g1"}"#, "u1"),
    (r#"{"experienceGroupId":null}"#, "u3"),
    (r#"{"experienceGroupId":{"$nin":["@g1"]}}"#, "u2 u3"),
    (r#"{"lastLogin":null}"#, "u2 u3"),
    (r#"{"lastLogin":{"$gt":"2023-01-01T00:00:00Z"}}"#, "u1"),
    (r#"{"passwordLastUpdated":{"$lte":1600000000000}}"#, "u1"),
    (r#"{"userTags":{"role":"admin"}}"#, "u1"),
    (r#"{"userTags":null}"#, "u2 u3"),
    (
        r#"{"firstName":"Bob","lastUpdated":"1970-01-01T00:00:00.020Z"}"#,
        "u1",
    ),
];

const ROWS: &[(&str, &str)] = &[
    (r#"{"num":1}"#, "r1"),
    (r#"{"num":1.0}"#, "r1"),
    (r#"{"num":{"$gt":1}}"#, "r2"),
    (r#"{"num":null}"#, "r3 r4 r5"),
    (r#"{"num":{"$ne":null}}"#, "r1 r2 r6"),
    (r#"{"num":{"$ne":1}}"#, "r2 r3 r4 r5 r6"),
    (r#"{"num":{"$in":[1,-3]}}"#, "r1 r6"),
    (r#"{"num":{"$nin":[1,-3]}}"#, "r2 r3 r4 r5"),
    (r#"{"num":{"$lte":1}}"#, "r1 r6"),
    (r#"{"num":{"$gte":-3,"$lt":2.5}}"#, "r1 r6"),
    (r#"{"num":{"$ci":true,"$eq":2.5}}"#, "r2"),
    (r#"{"n2":10}"#, "r6"),
    (r#"{"txt":"a"}"#, "r1"),
    (r#"{"txt":{"$eq":"A","$ci":true}}"#, "r1"),
    (r#"{"txt":{"$startsWith":"ab"}}"#, "r6"),
    (r#"{"txt":{"$contains":"b","$ci":true}}"#, "r2 r6"),
    (r#"{"txt":{"$gt":"B"}}"#, "r1 r6"),
    (r#"{"txt":null}"#, "r3 r4 r5"),
    (r#"{"flag":true}"#, "r1 r6"),
    (r#"{"flag":false}"#, "r2"),
    (r#"{"flag":{"$ne":true}}"#, "r2 r3 r4 r5"),
    (r#"{"flag":{"$gt":false}}"#, "r1 r6"),
    (r#"{"flag":{"$in":[false]}}"#, "r2"),
    (r#"{"id":"@r1"}"#, "r1"),
    (r#"{"createdAt":{"$gt":300}}"#, "r4 r5 r6"),
    (
        r#"{"updatedAt":"1970-01-01T00:00:01Z"}"#,
        "r1 r2 r3 r4 r5 r6",
    ),
    (r#"{"$or":[{"num":{"$ne":"myValue"}},{"num":5}]}"#, "ERR"),
    (
        r#"{"$or":[{"txt":{"$ne":"myValue"}},{"num":5}]}"#,
        "r1 r2 r3 r4 r5 r6",
    ),
];

#[test]
fn operators_and_edges_agree_on_all_backends() {
    let fx = fixture();
    let dbs = Dbs::new("table");
    dbs.load(&fx);
    let table = schema();
    let mut n = 0;
    for (rt, cases) in [
        (RT::Device, DEVICES),
        (RT::ExperienceGroup, GROUPS),
        (RT::ExperienceUser, USERS),
        (RT::DataTableRow, ROWS),
    ] {
        for (text, want) in cases {
            let query = parse(rt, &q(text), Some(&table));
            if *want == "ERR" {
                assert!(query.is_err(), "{text} should not parse");
                continue;
            }
            let query = query.unwrap_or_else(|e| panic!("{text}: {e}"));
            let got = agree(&dbs, &fx, &query, text);
            assert_eq!(got, ids(want), "{rt:?} {text}");
            n += 1;
        }
    }
    assert!(n > 150, "{n} cases");
}

#[test]
fn case_folding_is_ascii_only_everywhere() {
    let names = ["É", "é", "e", "E", "xÉy"];
    let fx = Fixture {
        devices: names
            .iter()
            .enumerate()
            .map(|(i, n)| EvalDevice {
                id: id(&format!("d{}", i + 1)),
                name: n.to_string(),
                device_class: "standalone".into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let dbs = Dbs::new("fold");
    dbs.load(&fx);
    let cases = [
        (r#"{"name":{"$eq":"é","$ci":true}}"#, "d2"),
        (r#"{"name":{"$eq":"É","$ci":true}}"#, "d1"),
        (r#"{"name":{"$eq":"e","$ci":true}}"#, "d3 d4"),
        (r#"{"name":{"$in":["É","E"],"$ci":true}}"#, "d1 d3 d4"),
        (r#"{"name":{"$contains":"É","$ci":true}}"#, "d1 d5"),
        (r#"{"name":{"$contains":"é","$ci":true}}"#, "d2"),
        (r#"{"name":{"$endsWith":"éy","$ci":true}}"#, ""),
        (r#"{"name":{"$endsWith":"ÉY","$ci":true}}"#, "d5"),
        (r#"{"name":{"$startsWith":"XÉ","$ci":true}}"#, "d5"),
        (r#"{"name":{"$startsWith":"xÉ"}}"#, "d5"),
        (r#"{"name":{"$gt":"e"}}"#, "d1 d2 d5"),
        (r#"{"name":{"$lt":"é"}}"#, "d1 d3 d4 d5"),
    ];
    for (text, want) in cases {
        let query = parse(RT::Device, &q(text), None).unwrap();
        assert_eq!(agree(&dbs, &fx, &query, text), ids(want), "{text}");
    }
}
