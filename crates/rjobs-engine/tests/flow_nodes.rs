//! The engine with the real flow sink, on SQLite and PostgreSQL: a job over devices runs a flow
//! of Function → Device: Update → Table: Insert Row → Job: Acknowledge, and afterwards every
//! device's tags and the table's rows really changed in the store. A second application's
//! device and table, named by id inside the flow, are refused as not found and stay untouched.

// The engine's run loop on the system clock: real time on purpose.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::Duration;

use rjobs_core::execution::Source;
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::list::{ListParams, SortDirection};
use rjobs_core::model::Application;
use rjobs_core::resources::{Device, TablePost};
use rjobs_core::{Clock, Id, IdGen, SystemClock};
use rjobs_engine::{Engine, ExecuteRequest, FlowSink, ReportSigner};
use rjobs_flow::RunLimits;
use rjobs_store::resources::RowParams;
use rjobs_store::testing::TestDb;
use rjobs_store::{FlowRecord, Store};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

async fn app(store: &Arc<dyn Store>, ids: &IdGen, name: &str) -> Id {
    let now = SystemClock.now();
    let a = Application::new(ids.next(now), name, "", now);
    store.insert_application(&a).await.unwrap();
    a.id
}

async fn devices(store: &Arc<dyn Store>, ids: &IdGen, app: &Id, n: usize) -> Vec<Id> {
    let now = SystemClock.now();
    let ds: Vec<Device> = (0..n)
        .map(|i| {
            serde_json::from_value::<rjobs_core::resources::DevicePost>(json!({
                "name": format!("pump-{i}"),
                "tags": [{"key": "site", "value": "north"}]
            }))
            .unwrap()
            .into_device(ids.next(now), app.clone(), now)
            .unwrap()
        })
        .collect();
    store.insert_devices(&ds).await.unwrap();
    ds.into_iter().map(|d| d.id).collect()
}

fn flow_body(job: &Id, table: &Id, foreign_device: &Id, foreign_table: &Id) -> Value {
    let n = |id: &str, ty: &str, config: Value, next: &str| {
        json!({"id": id, "type": ty, "config": config,
               "outputIds": [if next.is_empty() { json!([]) } else { json!([next]) }]})
    };
    json!({
        "name": "rollout",
        "triggers": [{"type": "resourceJobIteration", "key": job.to_string(), "config": {},
                      "outputIds": [["fn"]]}],
        "nodes": [
            n("fn", "RawFunctionNode", json!({
                "script": "payload.working = {firmware: 'v' + (2 + payload.data.attemptNumber), \
                           score: payload.data.device.name.length * 10};"
            }), "dev"),
            n("dev", "UpdateDeviceNode", json!({
                "deviceIdTemplate": "{{data.device.id}}",
                "deviceTemplate": "{\"tags\": [{\"key\": \"site\", \"value\": \"north\"}, {\"key\": \"firmware\", \"value\": \"{{working.firmware}}\"}]}",
                "resultPath": "working.device"
            }), "row"),
            n("row", "DataTableInsertRowNode", json!({
                "dataTableIdTemplate": table.to_string(),
                "dataMethod": "individualFields",
                "rowFields": [{"columnTemplate": "device", "valueTemplate": "{{data.device.id}}"},
                              {"columnTemplate": "score", "valueTemplate": "{{working.score}}"}],
                "resultPath": "working.row"
            }), "spy"),
            // Another application's device and table, by id: not found, written nowhere.
            n("spy", "UpdateDeviceNode", json!({
                "deviceIdTemplate": foreign_device.to_string(),
                "deviceTemplate": "{\"name\": \"owned\"}",
                "errorBehavior": "payloadPath", "errorPath": "working.spyDevice"
            }), "spy2"),
            n("spy2", "DataTableInsertRowNode", json!({
                "dataTableIdTemplate": foreign_table.to_string(),
                "dataMethod": "jsonTemplate", "rowJsonTemplate": "{\"device\": \"x\"}",
                "resultPath": "working.spyRow"
            }), "ack"),
            n("ack", "ResourceJobAcknowledgeNode", json!({
                "successExpression": "{{working.row.id}} && {{working.spyDevice.type}} === 'NotFound' && {{working.spyRow.error.type}} === 'NotFound'",
                "messageTemplate": "{{working.device.tags.1.value}}"
            }), "")
        ]
    })
}

async fn scenario(pg: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = if pg {
        Some(TestDb::create().await.unwrap())
    } else {
        None
    };
    let url = match &db {
        Some(d) => d.url.clone(),
        None => format!("sqlite://{}/f.db", dir.path().display()),
    };
    let store: Arc<dyn Store> = Arc::new(rjobs_store::connect(&url).await.unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids = IdGen::new();
    let now = clock.now();
    let a = app(&store, &ids, "fleet").await;
    let other = app(&store, &ids, "other").await;
    let devs = devices(&store, &ids, &a, 20).await;
    let foreign = devices(&store, &ids, &other, 1).await.remove(0);
    let table_post = || -> TablePost {
        serde_json::from_value(json!({"name": "results", "columns": [
            {"name": "device", "dataType": "string", "constraint": "required"},
            {"name": "score", "dataType": "number", "constraint": "optional"}]}))
        .unwrap()
    };
    let table = table_post()
        .into_table(ids.next(now), a.clone(), now)
        .unwrap();
    let foreign_table = table_post()
        .into_table(ids.next(now), other.clone(), now)
        .unwrap();
    store.insert_data_table(&table).await.unwrap();
    store.insert_data_table(&foreign_table).await.unwrap();
    let mut job = ResourceJob::with_defaults(
        ids.next(now),
        a.clone(),
        "fw".into(),
        ResourceType::Device,
        now,
    );
    job.max_iteration_concurrency = 5;
    store.insert_job(&job).await.unwrap();
    let body = flow_body(&job.id, &table.id, &foreign, &foreign_table.id);
    rjobs_flow::parse_flow(&body).unwrap();
    store
        .insert_flow(&FlowRecord {
            id: ids.next(now),
            application_id: a.clone(),
            name: "rollout".into(),
            description: String::new(),
            enabled: true,
            body,
            triggers: vec![("resourceJobIteration".into(), job.id.to_string())],
            creation_date: now,
            last_updated: now,
            version: 1,
        })
        .await
        .unwrap();

    let sink = Arc::new(FlowSink::new(
        store.clone(),
        clock.clone(),
        RunLimits::default(),
    ));
    let engine = Arc::new(Engine::new(
        store.clone(),
        clock.clone(),
        sink.clone(),
        ReportSigner::new(b"test", "http://rjobs.test", 1000),
    ));
    sink.attach(&engine);
    let stop = CancellationToken::new();
    let run = tokio::spawn(engine.clone().run(stop.clone(), Duration::from_millis(20)));
    let req = ExecuteRequest::of(Source::user());
    let exec = engine.execute(&job, req).await.unwrap();
    // The counters drain before the engine records the final status (the next step of its
    // loop), so wait for the status, then check the counters it was decided on.
    let mut status = String::new();
    for _ in 0..600 {
        let e = store
            .get_execution(&a, &job.id, &exec)
            .await
            .unwrap()
            .unwrap();
        status = format!("{:?}", e.status);
        if status != "InProgress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "Completed", "the execution finished within 30 s");
    let s = store.summary(&exec).await.unwrap();
    assert_eq!((s.remaining, s.in_progress), (0, 0), "{s:?}");
    assert_eq!((s.succeeded, s.failed, s.timed_out), (20, 0, 0), "{s:?}");

    // Every device carries the tag the flow computed; the table has one row per device.
    let p = ListParams {
        sort_field: "name",
        sort_direction: SortDirection::Asc,
        page: 0,
        per_page: 100,
        filter_field: None,
        filter: None,
    };
    let page = store.list_devices(&a, &p, None).await.unwrap();
    assert_eq!(page.items.len(), 20);
    for d in &page.items {
        let tags: Vec<(String, String)> = d
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        assert_eq!(
            tags,
            vec![
                ("site".into(), "north".into()),
                ("firmware".into(), "v3".into())
            ],
            "{}",
            d.name
        );
    }
    let rp = RowParams {
        limit: 1000,
        offset: 0,
        sort_column: None,
        descending: false,
    };
    let rows = store.query_rows(&table, &rp, None).await.unwrap();
    assert_eq!(rows.total_count, 20);
    let mut seen: Vec<String> = rows
        .items
        .iter()
        .map(|r| {
            let name_len = page
                .items
                .iter()
                .find(|d| d.id.to_string() == r.data["device"])
                .map(|d| d.name.len())
                .unwrap();
            assert_eq!(
                r.data["score"],
                json!((name_len * 10) as f64),
                "text converted to a number"
            );
            r.data["device"].as_str().unwrap().to_string()
        })
        .collect();
    seen.sort();
    let mut want: Vec<String> = devs.iter().map(|d| d.to_string()).collect();
    want.sort();
    assert_eq!(seen, want);
    // The other application's resources are untouched.
    let fd = store.get_device(&other, &foreign).await.unwrap().unwrap();
    assert_eq!(fd.name, "pump-0");
    assert_eq!(
        store
            .query_rows(&foreign_table, &rp, None)
            .await
            .unwrap()
            .total_count,
        0
    );

    stop.cancel();
    let _ = run.await;
    if let Some(db) = db {
        db.drop_db().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_over_devices_changes_tags_and_rows_on_sqlite() {
    scenario(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_over_devices_changes_tags_and_rows_on_postgres() {
    scenario(true).await;
}
