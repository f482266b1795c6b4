//! Delay, Device: Get / Update and the Table nodes against the FakeHost: config validation as
//! a table, and what each node asks the host and writes to the payload.

mod common;

use common::{flow, iteration_data, node, Call, FakeHost};
use rjobs_flow::{
    envelope, parse_flow, run, Acknowledgement, DevicePage, FlowHost, HostError, RowPage, RunLimits,
};
use serde_json::{json, Value};

const T: &str = "5f1c2d3e4f5a6b7c8d9e0f1b";

fn one(ty: &str, config: Value) -> Value {
    flow(&["n"], json!([node("n", ty, config, json!([[]]))]))
}

#[test]
fn configs_are_checked_at_save() {
    let cases = [
        (
            "DelayNode",
            json!({}),
            "nodes[0].config.delay",
            "is required",
        ),
        (
            "DelayNode",
            json!({"delay": "60"}),
            "nodes[0].config.delay",
            "0 to 59",
        ),
        (
            "DelayNode",
            json!({"delay": "soon"}),
            "nodes[0].config.delay",
            "not a number",
        ),
        (
            "DelayNode",
            json!({"durationTemplate": "-1"}),
            "nodes[0].config.durationTemplate",
            "0 to 59",
        ),
        (
            "GetDeviceNode",
            json!({"resultPath": "w"}),
            "nodes[0].config.idTemplate",
            "is required",
        ),
        (
            "GetDeviceNode",
            json!({"idTemplate": "x"}),
            "nodes[0].config.resultPath",
            "is required",
        ),
        (
            "GetDeviceNode",
            json!({"findMethod": "magic", "resultPath": "w"}),
            "nodes[0].config.findMethod",
            "must be one of",
        ),
        (
            "GetDeviceNode",
            json!({"findMethod": "findByAllTags", "resultPath": "w"}),
            "nodes[0].config.tags",
            "at least one",
        ),
        (
            "GetDeviceNode",
            json!({"findMethod": "findByAnyTags", "tags": [{}], "resultPath": "w"}),
            "nodes[0].config.tags[0].keyTemplate",
            "key or a value",
        ),
        (
            "GetDeviceNode",
            json!({"findMethod": "query", "resultPath": "w"}),
            "nodes[0].config.queryTemplate",
            "is required",
        ),
        (
            "GetDeviceNode",
            json!({"idTemplate": "x", "resultPath": "w", "sortField": "color"}),
            "nodes[0].config.sortField",
            "must be one of",
        ),
        (
            "GetDeviceNode",
            json!({"idTemplate": "x", "resultPath": "w", "includeConnectionStatus": "yes"}),
            "nodes[0].config.includeConnectionStatus",
            "boolean",
        ),
        (
            "UpdateDeviceNode",
            json!({"deviceTemplate": "{}"}),
            "nodes[0].config.deviceIdTemplate",
            "is required",
        ),
        (
            "UpdateDeviceNode",
            json!({"deviceIdTemplate": "x"}),
            "nodes[0].config.deviceTemplate",
            "is required",
        ),
        (
            "UpdateDeviceNode",
            json!({"deviceIdTemplate": "x", "deviceTemplate": "{}", "errorBehavior": "payloadPath"}),
            "nodes[0].config.errorPath",
            "is required",
        ),
        (
            "DataTableQueryNode",
            json!({"resultPath": "w"}),
            "nodes[0].config.dataTableIdTemplate",
            "is required",
        ),
        (
            "DataTableQueryNode",
            json!({"dataTableIdTemplate": T}),
            "nodes[0].config.resultPath",
            "is required",
        ),
        (
            "DataTableInsertRowNode",
            json!({"dataTableIdTemplate": T, "dataMethod": "jsonTemplate"}),
            "nodes[0].config.rowJsonTemplate",
            "is required",
        ),
        (
            "DataTableInsertRowNode",
            json!({"dataTableIdTemplate": T, "dataMethod": "payloadPath"}),
            "nodes[0].config.rowPayloadPath",
            "is required",
        ),
        (
            "DataTableInsertRowNode",
            json!({"dataTableIdTemplate": T, "rowFields": [{"valueTemplate": "1"}]}),
            "nodes[0].config.rowFields[0].columnTemplate",
            "is required",
        ),
        (
            "DataTableInsertRowNode",
            json!({"dataTableIdTemplate": T, "dataMethod": "csv"}),
            "nodes[0].config.dataMethod",
            "must be one of",
        ),
        (
            "DataTableUpdateRowNode",
            json!({"dataTableIdTemplate": T, "rowJsonTemplate": "{}"}),
            "nodes[0].config.rowIdTemplate",
            "is required",
        ),
        (
            "DataTableUpdateRowNode",
            json!({"dataTableIdTemplate": T, "rowSelectType": "query", "rowJsonTemplate": "{}"}),
            "nodes[0].config.queryTemplate",
            "is required",
        ),
        (
            "DataTableUpdateRowNode",
            json!({"dataTableIdTemplate": T, "rowSelectType": "all", "rowJsonTemplate": "{}"}),
            "nodes[0].config.rowSelectType",
            "must be one of",
        ),
    ];
    for (ty, config, path, msg) in cases {
        let e = parse_flow(&one(ty, config.clone())).unwrap_err();
        assert_eq!(e.path, path, "{ty} {config}: {e}");
        assert!(e.message.contains(msg), "{ty} {config}: {}", e.message);
    }
    // The other catalog's spellings are accepted.
    for (ty, config) in [
        ("DelayNode", json!({"durationTemplate": "5"})),
        ("DelayNode", json!({"delay": "{{data.attemptNumber}}"})),
        (
            "GetDeviceNode",
            json!({"deviceIdTemplate": "{{data.device.id}}", "resultPath": "w"}),
        ),
        (
            "DataTableInsertRowNode",
            json!({"dataTableIdTemplate": T, "rowTemplate": "{}", "errorBehavior": "throw"}),
        ),
        (
            "DataTableUpdateRowNode",
            json!({"dataTableIdTemplate": T, "rowIdTemplate": "x", "updateTemplate": "{}"}),
        ),
    ] {
        parse_flow(&one(ty, config.clone())).unwrap_or_else(|e| panic!("{ty} {config}: {e}"));
    }
}

async fn go(ty: &str, config: Value, host: &FakeHost) -> (String, Value) {
    let nodes = json!([
        node("n", ty, config, json!([["dbg"]])),
        node("dbg", "DebugNode", json!({}), json!([[]]))
    ]);
    let f = parse_flow(&flow(&["n"], nodes)).unwrap_or_else(|e| panic!("{e}"));
    let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
    let log = run(&f, 0, p, host, &RunLimits::default()).await;
    let out = log
        .debug
        .last()
        .map(|d| d["value"].clone())
        .unwrap_or(Value::Null);
    (log.error.unwrap_or_else(|| "ok".into()), out)
}

#[tokio::test(start_paused = true)]
async fn delay_waits_on_the_timer_without_a_thread() {
    let t = tokio::time::Instant::now();
    let (r, _) = go(
        "DelayNode",
        json!({"delay": "{{data.attemptNumber}}.5"}),
        &FakeHost::default(),
    )
    .await;
    assert_eq!(r, "ok");
    assert_eq!(t.elapsed(), std::time::Duration::from_millis(2500));
    let (r, _) = go(
        "DelayNode",
        json!({"delay": "{{data.device.name}}"}),
        &FakeHost::default(),
    )
    .await;
    assert!(r.contains("\"Pump 7\" is not a number of seconds"), "{r}");
}

fn devices() -> FakeHost {
    FakeHost::with_devices(json!([{
        "id": "aaaaaaaaaaaaaaaaaaaaaaaa", "name": "Pump 7",
        "tags": [{"key": "floor", "value": "2"}, {"key": "floor", "value": "3"}],
        "attributes": [{"name": "temp", "dataType": "number"}],
        "connectionInfo": {"connected": 1}
    }]))
}

#[tokio::test]
async fn get_device_finds_and_shapes() {
    let h = devices();
    let (r, out) = go(
        "GetDeviceNode",
        json!({"idTemplate": "{{data.device.id}}", "resultPath": "w.d",
                                               "tagsAsObject": true, "attributesAsObject": true,
                                               "includeConnectionStatus": false}),
        &h,
    )
    .await;
    assert_eq!(r, "ok");
    assert_eq!(out["w"]["d"]["tags"], json!({"floor": ["2", "3"]}));
    assert_eq!(
        out["w"]["d"]["attributes"],
        json!({"temp": {"dataType": "number"}})
    );
    assert!(out["w"]["d"].get("connectionInfo").is_none());
    let (_, out) = go(
        "GetDeviceNode",
        json!({"idTemplate": "bbbbbbbbbbbbbbbbbbbbbbbb", "resultPath": "w.d"}),
        &h,
    )
    .await;
    assert_eq!(out["w"]["d"], Value::Null, "not found is null");

    let cases = [
        (
            json!({"findMethod": "name", "idTemplate": "{{data.device.name}}"}),
            json!({"name": "Pump 7"}),
            1,
        ),
        (
            json!({"findMethod": "findByAllTags", "tags": [{"keyTemplate": "floor", "valueTemplate": "{{data.device.tags.floor.[0]}}"}, {"keyTemplate": "kind"}], "findMultiple": true}),
            json!({"$and": [{"tags": {"$tagKey": "floor", "$tagValue": "2"}}, {"tags": {"$tagKey": "kind"}}]}),
            100,
        ),
        (
            json!({"findMethod": "findByAnyTags", "tags": [{"valueTemplate": "x"}]}),
            json!({"$or": [{"tags": {"$tagValue": "x"}}]}),
            1,
        ),
        (
            json!({"findMethod": "findByParentId", "parentIdTemplate": "p1", "findMultiple": true, "resultsPerPage": "5"}),
            json!({"parentId": "p1"}),
            5,
        ),
        (
            json!({"findMethod": "experienceGroupId", "idTemplate": "g1"}),
            json!({"experienceGroupId": "g1"}),
            1,
        ),
        (
            json!({"findMethod": "query", "queryTemplate": "{\"name\": {\"$startsWith\": \"{{data.device.name}}\"}}"}),
            json!({"name": {"$startsWith": "Pump 7"}}),
            1,
        ),
    ];
    for (mut config, query, per_page) in cases {
        let h = devices();
        config["resultPath"] = json!("w.d");
        let (r, out) = go("GetDeviceNode", config.clone(), &h).await;
        assert_eq!(r, "ok", "{config}");
        let page = DevicePage {
            per_page,
            page: 0,
            sort_field: "name",
            descending: false,
        };
        assert_eq!(h.calls(), vec![Call::FindDevices(query, page)], "{config}");
        if config["findMultiple"] == true {
            assert_eq!(out["w"]["d"][0]["name"], "Pump 7");
        } else {
            assert_eq!(out["w"]["d"]["name"], "Pump 7");
        }
    }
    let h = devices();
    let (_, out) = go(
        "GetDeviceNode",
        json!({"findMethod": "query", "queryTemplate": "{}", "findMultiple": true,
        "findMetadata": true, "sortDirection": "desc", "resultsPage": "2", "resultPath": "w"}),
        &h,
    )
    .await;
    assert_eq!(out["w"]["totalCount"], 1);
    assert_eq!(
        (out["w"]["page"].clone(), out["w"]["sortDirection"].clone()),
        (json!(2), json!("desc"))
    );
    let h = FakeHost {
        error: Some(HostError::invalid("query.name", "bad")),
        ..devices()
    };
    let (_, out) = go(
        "GetDeviceNode",
        json!({"findMethod": "query", "queryTemplate": "{}", "resultPath": "w",
        "errorBehavior": "payloadPath", "errorPath": "e"}),
        &h,
    )
    .await;
    assert_eq!(
        out["e"],
        json!({"type": "Validation", "message": "query.name: bad"})
    );
}

#[tokio::test]
async fn update_device_sends_the_patch() {
    let h = devices();
    let cfg = json!({"deviceIdTemplate": "{{data.device.id}}", "resultPath": "w",
        "deviceTemplate": "{\"tags\": [{\"key\": \"fw\", \"value\": \"{{data.attemptNumber}}\"}]}"});
    let (r, out) = go("UpdateDeviceNode", cfg, &h).await;
    assert_eq!(r, "ok");
    let patch = json!({"tags": [{"key": "fw", "value": "2"}]});
    assert_eq!(
        h.calls(),
        vec![Call::UpdateDevice(
            "aaaaaaaaaaaaaaaaaaaaaaaa".into(),
            patch.clone()
        )]
    );
    assert_eq!(out["w"]["tags"], patch["tags"]);
    let (r, _) = go(
        "UpdateDeviceNode",
        json!({"deviceIdTemplate": "nope", "deviceTemplate": "{}"}),
        &h,
    )
    .await;
    assert!(r.contains("Device \"nope\" was not found"), "{r}");
    let (r, _) = go(
        "UpdateDeviceNode",
        json!({"deviceIdTemplate": "x", "deviceTemplate": "[1]"}),
        &h,
    )
    .await;
    assert!(r.contains("must render a JSON object"), "{r}");
}

#[tokio::test]
async fn table_nodes_query_insert_update() {
    let h = FakeHost::with_rows(
        json!([{"id": "r1", "device": "a", "score": 1}, {"id": "r2", "device": "b", "score": 2}]),
    );
    let (r, out) = go("DataTableQueryNode", json!({"dataTableIdTemplate": T, "queryTemplate": "{\"device\": \"{{data.device.name}}\"}",
        "limitTemplate": "1", "offsetTemplate": "{{data.attemptNumber}}", "sortColumnTemplate": "score",
        "sortDirectionTemplate": "desc", "includeFieldsTemplate": "[\"score\"]", "resultPath": "w"}), &h).await;
    assert_eq!(r, "ok");
    let page = RowPage {
        limit: 1,
        offset: 2,
        sort_column: Some("score".into()),
        descending: true,
    };
    assert_eq!(
        h.calls(),
        vec![Call::QueryRows(T.into(), json!({"device": "Pump 7"}), page)]
    );
    assert_eq!(
        out["w"],
        json!({"items": [{"id": "r1", "score": 1}], "count": 1, "totalCount": 2, "limit": 1, "offset": 2})
    );

    let h = FakeHost::default();
    let (_, out) = go(
        "DataTableInsertRowNode",
        json!({"dataTableIdTemplate": T, "resultPath": "w",
        "rowFields": [{"columnTemplate": "device", "valueTemplate": "{{data.device.name}}"},
                      {"columnTemplate": "score", "valueTemplate": "{{data.attemptNumber}}"}]}),
        &h,
    )
    .await;
    assert_eq!(
        h.calls(),
        vec![Call::InsertRow(
            T.into(),
            json!({"device": "Pump 7", "score": "2"}),
            true
        )]
    );
    assert_eq!(out["w"]["device"], "Pump 7");
    let (_, _) = go(
        "DataTableInsertRowNode",
        json!({"dataTableIdTemplate": T, "dataMethod": "payloadPath",
        "rowPayloadPath": "data.accumulator"}),
        &h,
    )
    .await;
    assert_eq!(
        h.calls()[1],
        Call::InsertRow(T.into(), json!({"count": 2}), false)
    );

    // Update by query: the first match; none and no upsert is NotFound at resultPath; upsert inserts.
    let h = FakeHost::with_rows(json!([{"id": "r1", "device": "a"}]));
    let upd = |upsert: bool| {
        json!({"dataTableIdTemplate": T, "rowSelectType": "query", "queryTemplate": "{}",
        "upsertCheck": upsert, "dataMethod": "jsonTemplate", "rowJsonTemplate": "{\"device\": \"z\"}", "resultPath": "w"})
    };
    let (_, out) = go("DataTableUpdateRowNode", upd(false), &h).await;
    assert_eq!(out["w"], json!({"id": "r1", "device": "z"}));
    assert!(matches!(&h.calls()[1], Call::UpdateRow(_, id, _, false) if id == "r1"));
    let empty = FakeHost::default();
    let (r, out) = go("DataTableUpdateRowNode", upd(false), &empty).await;
    assert_eq!(r, "ok", "the error went to resultPath");
    assert_eq!(out["w"]["error"]["type"], "NotFound");
    let (_, out) = go("DataTableUpdateRowNode", upd(true), &empty).await;
    assert_eq!(out["w"]["device"], "z");
    assert!(
        matches!(&empty.calls()[2], Call::InsertRow(..)),
        "{:?}",
        empty.calls()
    );
    // Explicit errorBehavior: throw ends the run.
    let h = FakeHost {
        error: Some(HostError::Conflict("duplicate: device".into())),
        ..FakeHost::default()
    };
    let (r, _) = go(
        "DataTableInsertRowNode",
        json!({"dataTableIdTemplate": T, "rowJsonTemplate": "{}",
        "resultPath": "w", "errorBehavior": "throw"}),
        &h,
    )
    .await;
    assert!(r.contains("duplicate: device"), "{r}");
}

#[tokio::test]
async fn a_host_without_resources_says_so() {
    struct Bare;
    #[async_trait::async_trait]
    impl FlowHost for Bare {
        async fn acknowledge(&self, _: Acknowledgement) -> Result<(), HostError> {
            Ok(())
        }
        async fn execute_job(&self, _: &str, _: Option<String>) -> Result<String, HostError> {
            Ok(String::new())
        }
    }
    let f = parse_flow(&one(
        "GetDeviceNode",
        json!({"idTemplate": "x", "resultPath": "w"}),
    ))
    .unwrap();
    let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
    let log = run(&f, 0, p, &Bare, &RunLimits::default()).await;
    assert!(log
        .error
        .unwrap_or_default()
        .contains("no devices or data tables"));
}
