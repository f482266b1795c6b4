//! SQLite `EXPLAIN QUERY PLAN` proves the compiled fragments use the indexes for the queries
//! the 1,000,000-device benchmark relies on: tag key/value, name prefix, id and parentId.

mod common;

use common::{Dbs, Fixture};
use rjobs_query::{parse, EvalDevice, ResourceType};
use serde_json::json;

fn fleet() -> Fixture {
    let devices = (0..300u32)
        .map(|i| EvalDevice {
            id: format!("{:024x}", 0xd000 + i),
            name: format!("device-{i}"),
            device_class: "standalone".into(),
            parent_id: (i > 0).then(|| format!("{:024x}", 0xd000 + i / 2)),
            tags: vec![
                ("site".into(), format!("s{}", i % 7)),
                ("env".into(), "prod".into()),
            ],
            ..Default::default()
        })
        .collect();
    Fixture {
        devices,
        ..Default::default()
    }
}

fn plan_for(dbs: &Dbs, q: serde_json::Value) -> String {
    let q = parse(ResourceType::Device, &q, None).unwrap();
    dbs.sqlite_plan(&q)
}

fn assert_indexed(plan: &str, index: &str) {
    assert!(
        !plan
            .lines()
            .any(|l| l.trim() == "SCAN d" || l.trim().starts_with("SCAN d ")),
        "full scan of devices:\n{plan}"
    );
    assert!(
        plan.contains("USING INDEX")
            || plan.contains("USING COVERING INDEX")
            || plan.contains("PRIMARY KEY"),
        "no index used:\n{plan}"
    );
    assert!(plan.contains(index), "expected {index}:\n{plan}");
}

#[test]
fn benchmark_queries_use_indexes() {
    let dbs = Dbs::sqlite_only();
    dbs.load(&fleet());
    dbs.rt.block_on(async {
        sqlx::query("ANALYZE").execute(&dbs.sqlite).await.unwrap();
    });
    let cases = [
        (json!({"tags": {"site": "s3"}}), "device_tags_kv"),
        (
            json!({"tags": {"$tagKey": "site", "$tagValue": {"$in": ["s1", "s2"]}}}),
            "device_tags_kv",
        ),
        (
            json!({"name": {"$startsWith": "device-1"}}),
            "devices_app_name",
        ),
        (json!({"tags": {"$tagValue": "s3"}}), "device_tags_v"),
        (json!({"name": "device-7"}), "devices_app_name"),
        (
            json!({"creationDate": {"$gte": 5, "$lt": 9}}),
            "devices_app_created",
        ),
        (json!({"id": "00000000000000000000d00a"}), "id=?"),
        (
            json!({"id": {"$in": ["00000000000000000000d00a", "00000000000000000000d00b"]}}),
            "id=?",
        ),
        (
            json!({"parentId": "00000000000000000000d00a"}),
            "devices_app_parent",
        ),
        (
            json!({"gatewayId": "00000000000000000000d00a"}),
            "devices_app_gateway",
        ),
    ];
    for (q, index) in cases {
        let plan = plan_for(&dbs, q.clone());
        println!("{q}\n{plan}\n");
        assert_indexed(&plan, index);
    }
}
