//! Store conformance for the resources (devices, data tables and rows, experience groups and
//! users), generated for SQLite and PostgreSQL like `conformance.rs`: CRUD, list sort/page/
//! filter, advanced queries compiled in the database, bulk all-or-nothing, uniqueness, the group
//! tree, keyset paging of a target set and application-delete cascades.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::model::Application;
use rjobs_core::resources::{
    Column, DataRow, DataTable, Device, ExperienceGroup, ExperienceUser, Tag,
};
use rjobs_core::{Id, IdGen, Timestamp};
use rjobs_query::{parse, ResourceType, TableSchema};
use rjobs_store::resources::RowParams;
use rjobs_store::{Store, StoreError};
use serde_json::{json, Map, Value};

const DEVICES: ListSpec = ListSpec {
    sort_fields: &[
        "name",
        "id",
        "creationDate",
        "lastUpdated",
        "deviceClass",
        "connectionStatus",
    ],
    filter_fields: &["name"],
    default_per_page: 100,
};
const USERS: ListSpec = ListSpec {
    sort_fields: &["email", "firstName", "id"],
    filter_fields: &["email", "firstName"],
    default_per_page: 100,
};

fn params(spec: &ListSpec, pairs: &[(&str, &str)]) -> ListParams {
    let q: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListParams::parse(spec, &q).unwrap()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

async fn new_app(s: &Arc<dyn Store>, ids: &IdGen) -> Id {
    let a = Application::new(ids.next(ts(1_000)), "app", "", ts(1_000));
    s.insert_application(&a).await.unwrap();
    a.id
}

fn device(ids: &IdGen, app: &Id, name: &str, tags: &[(&str, &str)], t: i64) -> Device {
    Device {
        id: ids.next(ts(t)),
        application_id: app.clone(),
        name: name.into(),
        description: String::new(),
        device_class: "standalone".into(),
        parent_id: None,
        gateway_id: None,
        tags: tags
            .iter()
            .map(|(k, v)| Tag {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        attributes: serde_json::from_value(json!([{"name": "temp", "dataType": "number"}]))
            .unwrap(),
        connected: None,
        connected_at: None,
        disconnected_at: None,
        creation_date: ts(t),
        last_updated: ts(t),
    }
}

fn group(ids: &IdGen, app: &Id, name: &str, parent: Option<&Id>) -> ExperienceGroup {
    ExperienceGroup {
        id: ids.next(ts(2_000)),
        application_id: app.clone(),
        name: name.into(),
        description: String::new(),
        parent_id: parent.cloned(),
        group_tags: BTreeMap::from([("tier".to_string(), name.to_string())]),
        user_ids: vec![],
        device_ids: vec![],
        creation_date: ts(2_000),
        last_updated: ts(2_000),
    }
}

fn user(ids: &IdGen, app: &Id, email: &str) -> ExperienceUser {
    ExperienceUser {
        id: ids.next(ts(3_000)),
        application_id: app.clone(),
        email: email.into(),
        first_name: email.split('@').next().unwrap_or("").into(),
        last_name: String::new(),
        password_hash: "$argon2id$fake".into(),
        user_tags: BTreeMap::from([("role".to_string(), "op".to_string())]),
        group_ids: vec![],
        last_login: None,
        password_last_updated: Some(ts(3_000)),
        creation_date: ts(3_000),
        last_updated: ts(3_000),
    }
}

fn table(ids: &IdGen, app: &Id) -> DataTable {
    let columns: Vec<Column> = serde_json::from_value(json!([
        {"name": "sn", "dataType": "string", "constraint": "unique"},
        {"name": "temp", "dataType": "number", "constraint": "optional"},
        {"name": "ok", "dataType": "boolean", "constraint": "optional", "defaultValue": false}
    ]))
    .unwrap();
    DataTable {
        id: ids.next(ts(4_000)),
        application_id: app.clone(),
        name: "readings".into(),
        description: String::new(),
        columns,
        creation_date: ts(4_000),
        last_updated: ts(4_000),
    }
}

fn row(ids: &IdGen, t: &DataTable, v: Value) -> DataRow {
    let data: Map<String, Value> = t.new_row(&v).unwrap();
    DataRow {
        id: ids.next(ts(5_000)),
        application_id: t.application_id.clone(),
        data_table_id: t.id.clone(),
        data,
        created_at: ts(5_000),
        updated_at: ts(5_000),
    }
}

fn names(p: &[Device]) -> Vec<&str> {
    p.iter().map(|d| d.name.as_str()).collect()
}

async fn devices_crud(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let d = device(
        &ids,
        &app,
        "pump-1",
        &[("site", "a"), ("env", "prod")],
        10_000,
    );
    s.insert_devices(std::slice::from_ref(&d)).await.unwrap();
    assert_eq!(s.get_device(&app, &d.id).await.unwrap(), Some(d.clone()));
    let other_app = new_app(&s, &ids).await;
    assert_eq!(
        s.get_device(&other_app, &d.id).await.unwrap(),
        None,
        "scoped to its app"
    );

    let mut next = d.clone();
    next.name = "pump-1b".into();
    next.tags = vec![Tag {
        key: "site".into(),
        value: "b".into(),
    }];
    next.last_updated = ts(11_000);
    assert!(s.update_device(&next).await.unwrap());
    assert_eq!(s.get_device(&app, &d.id).await.unwrap(), Some(next.clone()));
    let site_a = parse(ResourceType::Device, &json!({"tags": {"site": "a"}}), None).unwrap();
    let site_b = parse(ResourceType::Device, &json!({"tags": {"site": "b"}}), None).unwrap();
    let all = params(&DEVICES, &[]);
    assert_eq!(
        s.list_devices(&app, &all, Some(&site_a))
            .await
            .unwrap()
            .total_count,
        0
    );
    assert_eq!(
        s.list_devices(&app, &all, Some(&site_b))
            .await
            .unwrap()
            .total_count,
        1
    );

    assert!(s
        .set_device_connection(&app, &d.id, true, ts(12_000), ts(12_001))
        .await
        .unwrap());
    let got = s.get_device(&app, &d.id).await.unwrap().unwrap();
    assert_eq!(
        (got.connected, got.connected_at),
        (Some(true), Some(ts(12_000)))
    );
    assert_eq!(got.to_json()["connectionInfo"]["connected"], json!(1));
    assert!(s
        .set_device_connection(&app, &d.id, false, ts(13_000), ts(13_000))
        .await
        .unwrap());
    let got = s.get_device(&app, &d.id).await.unwrap().unwrap();
    assert_eq!(
        (got.connected, got.disconnected_at),
        (Some(false), Some(ts(13_000)))
    );

    assert!(s.delete_device(&app, &d.id).await.unwrap());
    assert!(!s.delete_device(&app, &d.id).await.unwrap());
    assert_eq!(s.get_device(&app, &d.id).await.unwrap(), None);
    assert!(!s.update_device(&next).await.unwrap());
}

async fn devices_list(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let mut batch = vec![
        device(&ids, &app, "beta", &[("site", "x")], 10_000),
        device(&ids, &app, "Alpha", &[("site", "y")], 20_000),
        device(&ids, &app, "gamma-pump", &[("site", "x")], 30_000),
        device(&ids, &app, "delta-pump", &[], 40_000),
    ];
    batch[1].device_class = "gateway".into();
    s.insert_devices(&batch).await.unwrap();

    let by_name = s
        .list_devices(&app, &params(&DEVICES, &[]), None)
        .await
        .unwrap();
    assert_eq!(
        names(&by_name.items),
        ["Alpha", "beta", "delta-pump", "gamma-pump"]
    );
    let desc = s
        .list_devices(
            &app,
            &params(
                &DEVICES,
                &[("sortField", "creationDate"), ("sortDirection", "desc")],
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        names(&desc.items),
        ["delta-pump", "gamma-pump", "Alpha", "beta"]
    );
    let page = s
        .list_devices(
            &app,
            &params(&DEVICES, &[("perPage", "2"), ("page", "1")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (names(&page.items), page.total_count),
        (vec!["delta-pump", "gamma-pump"], 4)
    );
    let filtered = s
        .list_devices(
            &app,
            &params(&DEVICES, &[("filterField", "name"), ("filter", "*PUMP")]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(names(&filtered.items), ["delta-pump", "gamma-pump"]);
    let class = s
        .list_devices(
            &app,
            &params(
                &DEVICES,
                &[("sortField", "deviceClass"), ("sortDirection", "desc")],
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        names(&class.items),
        ["delta-pump", "gamma-pump", "beta", "Alpha"],
        "class desc, then id desc"
    );

    let q = parse(
        ResourceType::Device,
        &json!({"$or": [{"tags": {"site": "x"}}, {"name": {"$startsWith": "Al"}}]}),
        None,
    )
    .unwrap();
    let matched = s
        .list_devices(&app, &params(&DEVICES, &[]), Some(&q))
        .await
        .unwrap();
    assert_eq!(names(&matched.items), ["Alpha", "beta", "gamma-pump"]);
    let q = parse(
        ResourceType::Device,
        &json!({"deviceClass": "gateway"}),
        None,
    )
    .unwrap();
    let filtered_q = s
        .list_devices(
            &app,
            &params(&DEVICES, &[("filterField", "name"), ("filter", "a*")]),
            Some(&q),
        )
        .await
        .unwrap();
    assert_eq!(
        names(&filtered_q.items),
        ["Alpha"],
        "filter and query combine"
    );
}

async fn devices_bulk_all_or_nothing(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let mut batch: Vec<Device> = (0..1200)
        .map(|i| {
            device(
                &ids,
                &app,
                &format!("d{i:04}"),
                &[("k", "v"), ("n", &i.to_string())],
                10_000,
            )
        })
        .collect();
    batch[5].id = batch[0].id.clone(); // a primary-key clash at index 5
    assert!(s.insert_devices(&batch).await.is_err());
    let all = params(&DEVICES, &[]);
    assert_eq!(
        s.list_devices(&app, &all, None).await.unwrap().total_count,
        0
    );
    assert_eq!(
        s.count_resources(&app, ResourceType::Device, None, None)
            .await
            .unwrap(),
        0,
        "no tag rows or devices left behind"
    );
    batch[5].id = ids.next(ts(10_000));
    s.insert_devices(&batch).await.unwrap();
    assert_eq!(
        s.list_devices(&app, &all, None).await.unwrap().total_count,
        1200
    );
    let q = parse(ResourceType::Device, &json!({"tags": {"n": "1199"}}), None).unwrap();
    let hit = s.list_devices(&app, &all, Some(&q)).await.unwrap();
    assert_eq!(
        names(&hit.items),
        ["d1199"],
        "tags of later chunks were written"
    );
}

async fn rows_crud_and_unique(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let t = table(&ids, &app);
    s.insert_data_table(&t).await.unwrap();
    assert_eq!(
        s.get_data_table(&app, &t.id).await.unwrap(),
        Some(t.clone())
    );
    let rows: Vec<DataRow> = (0..10)
        .map(|i| row(&ids, &t, json!({"sn": format!("s{i}"), "temp": 20 - i})))
        .collect();
    s.insert_rows(&t, &rows).await.unwrap();
    let got = s.get_row(&app, &t.id, &rows[3].id).await.unwrap().unwrap();
    assert_eq!(got.data.get("ok"), Some(&json!(false)), "default applied");
    assert_eq!(got.to_json()["sn"], json!("s3"));

    let p = RowParams {
        limit: 3,
        offset: 0,
        sort_column: Some("temp".into()),
        descending: false,
    };
    let page = s.query_rows(&t, &p, None).await.unwrap();
    assert_eq!(page.total_count, 10);
    let temps: Vec<&Value> = page.items.iter().map(|r| &r.data["temp"]).collect();
    assert_eq!(temps, [&json!(11), &json!(12), &json!(13)]);
    let q = parse(
        ResourceType::DataTableRow,
        &json!({"temp": {"$gte": 18}}),
        Some(&TableSchema::of(&t)),
    )
    .unwrap();
    let p = RowParams {
        limit: 100,
        offset: 0,
        sort_column: None,
        descending: true,
    };
    let hot = s.query_rows(&t, &p, Some(&q)).await.unwrap();
    assert_eq!(hot.total_count, 3);
    assert_eq!(hot.items[0].id, rows[2].id, "id descending");

    // Unique: single insert, bulk with the clash at index 5, update.
    let dup = row(&ids, &t, json!({"sn": "s1"}));
    match s.insert_rows(&t, std::slice::from_ref(&dup)).await {
        Err(StoreError::Duplicate(w)) => assert_eq!(w, "sn"),
        other => panic!("expected duplicate, got {other:?}"),
    }
    let mut batch: Vec<DataRow> = (0..8)
        .map(|i| row(&ids, &t, json!({"sn": format!("n{i}")})))
        .collect();
    batch[5] = row(&ids, &t, json!({"sn": "s7"}));
    match s.insert_rows(&t, &batch).await {
        Err(StoreError::Duplicate(w)) => assert_eq!(w, "[5].sn"),
        other => panic!("expected duplicate, got {other:?}"),
    }
    batch[5] = row(&ids, &t, json!({"sn": "n2"}));
    assert!(
        matches!(s.insert_rows(&t, &batch).await, Err(StoreError::Duplicate(w)) if w == "[5].sn")
    );
    let all = RowParams {
        limit: 1000,
        offset: 0,
        sort_column: None,
        descending: false,
    };
    assert_eq!(
        s.query_rows(&t, &all, None).await.unwrap().total_count,
        10,
        "nothing inserted"
    );

    let mut upd = rows[0].clone();
    upd.data.insert("sn".into(), json!("s9"));
    assert!(matches!(s.update_row(&t, &upd).await, Err(StoreError::Duplicate(w)) if w == "sn"));
    upd.data.insert("sn".into(), json!("fresh"));
    upd.updated_at = ts(6_000);
    assert!(s.update_row(&t, &upd).await.unwrap());
    assert_eq!(
        s.get_row(&app, &t.id, &upd.id).await.unwrap(),
        Some(upd.clone())
    );
    let same = upd.clone();
    assert!(
        s.update_row(&t, &same).await.unwrap(),
        "a row does not clash with itself"
    );
    assert!(s.delete_row(&app, &t.id, &upd.id).await.unwrap());
    assert!(!s.delete_row(&app, &t.id, &upd.id).await.unwrap());

    let json = s
        .get_resource_json(&app, ResourceType::DataTableRow, &rows[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(json["sn"], json!("s1"));
    assert!(s.delete_data_table(&app, &t.id).await.unwrap());
    assert_eq!(
        s.get_row(&app, &t.id, &rows[1].id).await.unwrap(),
        None,
        "rows go with the table"
    );
}

async fn users_unique_email(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let a = user(&ids, &app, "a@x.io");
    s.insert_users(std::slice::from_ref(&a)).await.unwrap();
    let again = user(&ids, &app, "a@x.io");
    assert!(
        matches!(s.insert_users(&[again]).await, Err(StoreError::Duplicate(w)) if w == "email")
    );
    let other = new_app(&s, &ids).await;
    s.insert_users(&[user(&ids, &other, "a@x.io")])
        .await
        .unwrap();

    let mut batch: Vec<ExperienceUser> = (0..8)
        .map(|i| user(&ids, &app, &format!("u{i}@x.io")))
        .collect();
    batch[5].email = "a@x.io".into();
    assert!(
        matches!(s.insert_users(&batch).await, Err(StoreError::Duplicate(w)) if w == "[5].email")
    );
    batch[5].email = "u1@x.io".into();
    assert!(
        matches!(s.insert_users(&batch).await, Err(StoreError::Duplicate(w)) if w == "[5].email")
    );
    let all = params(&USERS, &[]);
    assert_eq!(
        s.list_users(&app, &all, None).await.unwrap().total_count,
        1,
        "nothing inserted"
    );
    batch[5].email = "u5@x.io".into();
    s.insert_users(&batch).await.unwrap();

    let mut b = batch[2].clone();
    b.email = "a@x.io".into();
    assert!(matches!(s.update_user(&b).await, Err(StoreError::Duplicate(w)) if w == "email"));
    b.email = "new@x.io".into();
    b.first_name = "Zed".into();
    assert!(s.update_user(&b).await.unwrap());
    assert_eq!(s.get_user(&app, &b.id).await.unwrap(), Some(b.clone()));

    let firsts = s
        .list_users(
            &app,
            &params(
                &USERS,
                &[
                    ("sortField", "firstName"),
                    ("filterField", "email"),
                    ("filter", "u*"),
                ],
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(firsts.total_count, 7);
    let q = parse(
        ResourceType::ExperienceUser,
        &json!({"email": {"$endsWith": "@x.io"}, "firstName": "Zed"}),
        None,
    )
    .unwrap();
    let hit = s.list_users(&app, &all, Some(&q)).await.unwrap();
    assert_eq!(hit.items.iter().map(|u| &u.id).collect::<Vec<_>>(), [&b.id]);
    let json = s
        .get_resource_json(&app, ResourceType::ExperienceUser, &b.id)
        .await
        .unwrap()
        .unwrap();
    assert!(json.get("password").is_none() && json.get("passwordHash").is_none());
    assert!(s.delete_user(&app, &b.id).await.unwrap());
    assert_eq!(s.get_user(&app, &b.id).await.unwrap(), None);
}

async fn groups_tree_and_members(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let root = group(&ids, &app, "root", None);
    let mid = group(&ids, &app, "mid", Some(&root.id));
    let mut leaf = group(&ids, &app, "leaf", Some(&mid.id));
    let u = user(&ids, &app, "m@x.io");
    let d = device(&ids, &app, "dev", &[], 10_000);
    s.insert_users(std::slice::from_ref(&u)).await.unwrap();
    s.insert_devices(std::slice::from_ref(&d)).await.unwrap();
    leaf.user_ids = vec![u.id.clone()];
    leaf.device_ids = vec![d.id.clone()];
    s.insert_groups(&[root.clone(), mid.clone(), leaf.clone()])
        .await
        .unwrap();
    assert_eq!(
        s.get_group(&app, &leaf.id).await.unwrap(),
        Some(leaf.clone())
    );
    assert_eq!(
        s.get_user(&app, &u.id).await.unwrap().unwrap().group_ids,
        vec![leaf.id.clone()]
    );

    let chain = s.group_ancestors(&app, &leaf.id).await.unwrap();
    assert_eq!(
        chain,
        vec![leaf.id.clone(), mid.id.clone(), root.id.clone()]
    );
    assert!(s
        .group_ancestors(&app, &ids.next(ts(1)))
        .await
        .unwrap()
        .is_empty());
    // The cycle check the API does: making root a child of leaf would put root in its own chain.
    assert!(s
        .group_ancestors(&app, &leaf.id)
        .await
        .unwrap()
        .contains(&root.id));

    let q = parse(
        ResourceType::ExperienceGroup,
        &json!({"ancestorId": root.id.as_str()}),
        None,
    )
    .unwrap();
    let all = params(&DEVICES, &[("sortField", "name")]);
    let below = s.list_groups(&app, &all, Some(&q)).await.unwrap();
    let got: Vec<&str> = below.items.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(got, ["leaf", "mid"]);
    let q = parse(
        ResourceType::ExperienceGroup,
        &json!({"groupTags": {"tier": "mid"}}),
        None,
    )
    .unwrap();
    assert_eq!(
        s.list_groups(&app, &all, Some(&q))
            .await
            .unwrap()
            .total_count,
        1
    );
    let q = parse(
        ResourceType::Device,
        &json!({"experienceGroupId": leaf.id.as_str()}),
        None,
    )
    .unwrap();
    assert_eq!(
        s.count_resources(&app, ResourceType::Device, None, Some(&q))
            .await
            .unwrap(),
        1
    );

    let mut l2 = leaf.clone();
    l2.user_ids.clear();
    l2.group_tags = BTreeMap::from([("tier".to_string(), "bottom".to_string())]);
    l2.last_updated = ts(9_000);
    assert!(s.update_group(&l2).await.unwrap());
    assert_eq!(s.get_group(&app, &leaf.id).await.unwrap(), Some(l2.clone()));
    assert!(s
        .get_user(&app, &u.id)
        .await
        .unwrap()
        .unwrap()
        .group_ids
        .is_empty());

    assert!(s.delete_group(&app, &mid.id).await.unwrap());
    let l3 = s.get_group(&app, &leaf.id).await.unwrap().unwrap();
    assert_eq!(
        l3.parent_id,
        Some(root.id.clone()),
        "children move up to the parent"
    );
    assert!(s.delete_device(&app, &d.id).await.unwrap());
    assert!(s
        .get_group(&app, &leaf.id)
        .await
        .unwrap()
        .unwrap()
        .device_ids
        .is_empty());
}

async fn keyset_paging(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let batch: Vec<Device> = (0..25)
        .map(|i| {
            device(
                &ids,
                &app,
                &format!("d{i:02}"),
                &[("even", if i % 2 == 0 { "y" } else { "n" })],
                10_000 + i,
            )
        })
        .collect();
    s.insert_devices(&batch).await.unwrap();
    let q = parse(ResourceType::Device, &json!({"tags": {"even": "y"}}), None).unwrap();
    let mut seen = Vec::new();
    let mut after: Option<Id> = None;
    loop {
        let page = s
            .page_resource_ids(
                &app,
                ResourceType::Device,
                None,
                Some(&q),
                after.as_ref(),
                5,
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|(id, _)| id.clone());
        seen.extend(page);
    }
    let expected: Vec<(Id, String)> = batch
        .iter()
        .filter(|d| d.tags[0].value == "y")
        .map(|d| (d.id.clone(), d.name.clone()))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(
        s.count_resources(&app, ResourceType::Device, None, Some(&q))
            .await
            .unwrap(),
        13
    );
    let everything = s
        .page_resource_ids(&app, ResourceType::Device, None, None, None, 100)
        .await
        .unwrap();
    assert_eq!(everything.len(), 25);
    let json = s
        .get_resource_json(&app, ResourceType::Device, &batch[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(json["deviceId"], json!(batch[0].id.as_str()));
    assert_eq!(json["tags"], json!([{"key": "even", "value": "y"}]));
    let present = s
        .existing_ids(
            &app,
            ResourceType::Device,
            &[batch[3].id.clone(), ids.next(ts(1))],
        )
        .await
        .unwrap();
    assert_eq!(present, vec![batch[3].id.clone()]);
}

async fn application_delete_cascades(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let app = new_app(&s, &ids).await;
    let keep = new_app(&s, &ids).await;
    let d = device(&ids, &app, "d", &[("k", "v")], 10_000);
    let kept = device(&ids, &keep, "d", &[("k", "v")], 10_000);
    s.insert_devices(&[d.clone(), kept.clone()]).await.unwrap();
    let t = table(&ids, &app);
    s.insert_data_table(&t).await.unwrap();
    let r = row(&ids, &t, json!({"sn": "x"}));
    s.insert_rows(&t, std::slice::from_ref(&r)).await.unwrap();
    let u = user(&ids, &app, "a@b.c");
    s.insert_users(std::slice::from_ref(&u)).await.unwrap();
    let mut g = group(&ids, &app, "g", None);
    g.user_ids = vec![u.id.clone()];
    g.device_ids = vec![d.id.clone()];
    s.insert_groups(std::slice::from_ref(&g)).await.unwrap();

    assert!(s.delete_application(&app).await.unwrap());
    assert_eq!(s.get_device(&app, &d.id).await.unwrap(), None);
    assert_eq!(s.get_data_table(&app, &t.id).await.unwrap(), None);
    assert_eq!(s.get_row(&app, &t.id, &r.id).await.unwrap(), None);
    assert_eq!(s.get_user(&app, &u.id).await.unwrap(), None);
    assert_eq!(s.get_group(&app, &g.id).await.unwrap(), None);
    let tagged = parse(ResourceType::Device, &json!({"tags": {"k": "v"}}), None).unwrap();
    for rt in [
        ResourceType::Device,
        ResourceType::ExperienceGroup,
        ResourceType::ExperienceUser,
    ] {
        assert_eq!(s.count_resources(&app, rt, None, None).await.unwrap(), 0);
    }
    assert_eq!(
        s.count_resources(&app, ResourceType::DataTableRow, Some(&t.id), None)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.count_resources(&keep, ResourceType::Device, None, Some(&tagged))
            .await
            .unwrap(),
        1
    );
    // The same email may be used again: the unique index entry went with the user.
    let app2 = new_app(&s, &ids).await;
    s.insert_users(&[user(&ids, &app2, "a@b.c")]).await.unwrap();
}

rjobs_store::store_suite!(
    devices_crud,
    devices_list,
    devices_bulk_all_or_nothing,
    rows_crud_and_unique,
    users_unique_email,
    groups_tree_and_members,
    keyset_paging,
    application_delete_cascades,
);
