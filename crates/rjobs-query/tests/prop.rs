//! Property tests: random resources and random valid queries; SQLite, PostgreSQL and the
//! reference evaluator must return exactly the same id sets.

mod common;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use common::fixture::schema;
use common::{eval, Dbs, Fixture};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rjobs_query::{parse, EvalDevice, EvalGroup, EvalRow, EvalUser, ResourceType as RT};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const MAX_DEV: usize = 12;
const MAX_GRP: usize = 9;
const MAX_USR: usize = 9;
const MAX_ROW: usize = 25;

fn dev_id(i: usize) -> String {
    format!("{:024x}", 0xd000 + i)
}
fn grp_id(i: usize) -> String {
    format!("{:024x}", 0xb000 + i)
}
fn usr_id(i: usize) -> String {
    format!("{:024x}", 0xc000 + i)
}
fn row_id(i: usize) -> String {
    format!("{:024x}", 0xa000 + i)
}

fn small_str(min: usize) -> BoxedStrategy<String> {
    vec(select(vec!['a', 'A', 'b', 'B', 'é', '-', 'z']), min..4)
        .prop_map(String::from_iter)
        .boxed()
}
fn ms() -> BoxedStrategy<i64> {
    (1000i64..1008).boxed()
}
fn tag_key() -> BoxedStrategy<String> {
    select(vec!["env", "site", "Env", "k"]).prop_map(str::to_owned).boxed()
}
fn tag_value() -> BoxedStrategy<String> {
    select(vec!["prod", "stage", "a", "A", ""]).prop_map(str::to_owned).boxed()
}
fn attr_name() -> BoxedStrategy<String> {
    select(vec!["temp", "Temp", "humidity", "t"]).prop_map(str::to_owned).boxed()
}
fn tag_map() -> BoxedStrategy<Vec<(String, String)>> {
    vec((tag_key(), tag_value()), 0..3)
        .prop_map(|v| v.into_iter().collect::<BTreeMap<_, _>>().into_iter().collect())
        .boxed()
}

fn device(i: usize) -> BoxedStrategy<EvalDevice> {
    (
        (small_str(0), select(vec!["standalone", "gateway", "peripheral"])),
        (
            proptest::option::of(0..MAX_DEV + 1),
            proptest::option::of(0..MAX_DEV + 1),
        ),
        (vec((tag_key(), tag_value()), 0..3), vec(attr_name(), 0..3)),
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(ms()),
            proptest::option::of(ms()),
        ),
        (ms(), ms()),
    )
        .prop_map(move |((name, class), (p, g), (tags, attrs), (c, ca, da), (cr, up))| EvalDevice {
            id: dev_id(i),
            name,
            device_class: class.to_owned(),
            parent_id: p.map(dev_id),
            gateway_id: g.map(dev_id),
            tags,
            attribute_names: attrs,
            connected: c,
            connected_at: ca,
            disconnected_at: da,
            creation_date: cr,
            last_updated: up,
        })
        .boxed()
}

fn group(i: usize) -> BoxedStrategy<EvalGroup> {
    (small_str(0), proptest::option::of(0..MAX_GRP + 1), tag_map(), ms(), ms())
        .prop_map(move |(name, p, tags, cr, up)| EvalGroup {
            id: grp_id(i),
            name,
            parent_id: p.map(grp_id),
            tags,
            creation_date: cr,
            last_updated: up,
        })
        .boxed()
}

fn user(i: usize) -> BoxedStrategy<EvalUser> {
    (
        (small_str(0), small_str(0), small_str(0)),
        tag_map(),
        (proptest::option::of(ms()), proptest::option::of(ms())),
        (ms(), ms()),
    )
        .prop_map(move |((e, f, l), tags, (ll, pl), (cr, up))| EvalUser {
            id: usr_id(i),
            email: format!("{e}{i}"),
            first_name: f,
            last_name: l,
            tags,
            last_login: ll,
            password_last_updated: pl,
            creation_date: cr,
            last_updated: up,
        })
        .boxed()
}

fn cell(typed: BoxedStrategy<Value>, wrong: Value) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        6 => typed.prop_map(Some),
        1 => Just(Some(wrong)),
    ]
    .boxed()
}

fn num_value() -> BoxedStrategy<Value> {
    select(vec![json!(-2), json!(-1.5), json!(0), json!(1), json!(2), json!(2.5), json!(10)]).boxed()
}

fn row(i: usize) -> BoxedStrategy<EvalRow> {
    (
        cell(num_value(), json!("1")),
        cell(small_str(0).prop_map(Value::String).boxed(), json!(1)),
        cell(any::<bool>().prop_map(Value::Bool).boxed(), json!(0)),
        cell((0i64..3).prop_map(|n| json!(n)).boxed(), json!(true)),
        (ms(), ms()),
    )
        .prop_map(move |(num, txt, flag, n2, (cr, up))| {
            let mut data = Map::new();
            for (k, v) in [("num", num), ("txt", txt), ("flag", flag), ("n2", n2)] {
                if let Some(v) = v {
                    data.insert(k.to_owned(), v);
                }
            }
            EvalRow { id: row_id(i), created_at: cr, updated_at: up, data }
        })
        .boxed()
}

fn many<T: std::fmt::Debug + 'static>(max: usize, f: fn(usize) -> BoxedStrategy<T>) -> BoxedStrategy<Vec<T>> {
    (max / 2..=max)
        .prop_flat_map(move |n| (0..n).map(f).collect::<Vec<_>>())
        .boxed()
}

fn fixture(rt: RT) -> BoxedStrategy<Fixture> {
    let rows = if rt == RT::DataTableRow { MAX_ROW } else { 0 };
    let devs = if rt == RT::Device { MAX_DEV } else { 0 };
    (
        many(devs, device),
        many(MAX_GRP, group),
        many(MAX_USR, user),
        many(rows, row),
        vec((0..MAX_GRP, 0..MAX_USR), 0..14),
        vec((0..MAX_GRP, 0..MAX_DEV), 0..14),
    )
        .prop_map(|(devices, groups, users, rows, gu, gd)| {
            let gu: BTreeSet<_> = gu
                .into_iter()
                .filter(|(g, u)| *g < groups.len() && *u < users.len())
                .map(|(g, u)| (grp_id(g), usr_id(u)))
                .collect();
            let gd: BTreeSet<_> = gd
                .into_iter()
                .filter(|(g, d)| *g < groups.len() && *d < devices.len())
                .map(|(g, d)| (grp_id(g), dev_id(d)))
                .collect();
            Fixture {
                devices,
                groups,
                users,
                rows,
                group_users: gu.into_iter().collect(),
                group_devices: gd.into_iter().collect(),
            }
        })
        .boxed()
}

// ---- queries -------------------------------------------------------------------------------

fn or_null(s: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![5 => s, 1 => Just(Value::Null)].boxed()
}

/// A generic field's value: implicit equality or an operator object.
fn generic(scalar: BoxedStrategy<Value>, strings: bool) -> BoxedStrategy<Value> {
    let s = scalar.clone();
    let entry = prop_oneof![
        (select(vec!["$eq", "$ne"]), or_null(s.clone())),
        (select(vec!["$gt", "$gte", "$lt", "$lte"]), or_null(s.clone())),
        (select(vec!["$in", "$nin"]), vec(s.clone(), 0..4).prop_map(Value::Array)),
        (Just("$ci"), any::<bool>().prop_map(Value::Bool)),
    ];
    let entry = if strings {
        prop_oneof![
            3 => entry,
            1 => (
                select(vec!["$startsWith", "$endsWith", "$contains"]),
                small_str(1).prop_map(Value::String)
            )
        ]
        .boxed()
    } else {
        entry.boxed()
    };
    prop_oneof![
        1 => or_null(scalar),
        2 => vec(entry, 1..4).prop_map(|es| Value::Object(
            es.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
        )),
    ]
    .boxed()
}

fn text_scalar(extra: Vec<&'static str>) -> BoxedStrategy<Value> {
    let mut pool = extra;
    pool.extend(["a", "A", "ab", "B-", "é"]);
    prop_oneof![
        4 => select(pool).prop_map(|s| json!(s)),
        3 => small_str(0).prop_map(Value::String),
        1 => Just(json!(3)),
        1 => Just(json!(true)),
    ]
    .boxed()
}

fn date_scalar() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => ms().prop_map(|m| json!(m)),
        2 => ms().prop_map(|m| {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1_000_000).unwrap();
            json!(t.format(&Rfc3339).unwrap())
        }),
        1 => Just(json!(false)),
    ]
    .boxed()
}

fn id_value(pool: Vec<String>) -> BoxedStrategy<Value> {
    (select(pool), any::<bool>())
        .prop_map(|(id, upper)| json!(if upper { id.to_uppercase() } else { id }))
        .boxed()
}

fn id_cond(pool: Vec<String>) -> BoxedStrategy<Value> {
    let v = id_value(pool);
    prop_oneof![
        or_null(v.clone()),
        (select(vec!["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]), or_null(v.clone()))
            .prop_map(|(op, v)| json!({ op: v })),
        (select(vec!["$in", "$nin"]), vec(v, 0..4)).prop_map(|(op, v)| json!({ op: v })),
    ]
    .boxed()
}

fn tag_val() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => tag_value().prop_map(Value::String),
        1 => Just(Value::Null),
        1 => vec(tag_value(), 0..3).prop_map(|v| json!({"$in": v})),
        1 => vec(tag_value(), 0..3).prop_map(|v| json!({"$nin": v})),
    ]
    .boxed()
}

fn tag_cond() -> BoxedStrategy<Value> {
    let tv = tag_val;
    let form = prop_oneof![
        1 => Just(Value::Null),
        2 => (proptest::option::of(tv()), proptest::option::of(tv())).prop_map(|(k, v)| {
            let mut m = Map::new();
            match (k, v) {
                (None, None) => { m.insert("$tagKey".into(), Value::Null); }
                (k, v) => {
                    if let Some(k) = k { m.insert("$tagKey".into(), k); }
                    if let Some(v) = v { m.insert("$tagValue".into(), v); }
                }
            }
            Value::Object(m)
        }),
        3 => vec((select(vec!["env", "site", "Env", "k"]), tv()), 0..3)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
    ];
    prop_oneof![
        3 => form.clone(),
        1 => form.clone().prop_map(|f| json!({"$eq": f})),
        1 => form.prop_map(|f| json!({"$ne": f})),
    ]
    .boxed()
}

fn ids(f: fn(usize) -> String, n: usize) -> Vec<String> {
    (0..=n).map(f).collect()
}

fn field_cond(rt: RT) -> BoxedStrategy<(String, Value)> {
    let f = |name: &'static str, s: BoxedStrategy<Value>| s.prop_map(move |v| (name.to_owned(), v)).boxed();
    let text = || generic(text_scalar(vec![]), true);
    let date = || generic(date_scalar(), true);
    match rt {
        RT::Device => prop_oneof![
            f("id", id_cond(ids(dev_id, MAX_DEV))),
            f("parentId", id_cond(ids(dev_id, MAX_DEV))),
            f("gatewayId", id_cond(ids(dev_id, MAX_DEV))),
            f("ancestorId", id_cond(ids(dev_id, MAX_DEV))),
            f("experienceGroupId", id_cond(ids(grp_id, MAX_GRP))),
            f("experienceUserId", id_cond(ids(usr_id, MAX_USR))),
            f("name", text()),
            f("deviceClass", generic(text_scalar(vec!["standalone", "gateway", "peripheral", "GATEWAY"]), true)),
            f("connectionStatus", generic(text_scalar(vec!["connected", "disconnected", "Connected"]), true)),
            f("attributeName", generic(text_scalar(vec!["temp", "TEMP", "humidity", "t"]), true)),
            f("creationDate", date()),
            f("lastUpdated", date()),
            f("connectedAt", date()),
            f("disconnectedAt", date()),
            f("deletedAt", date()),
            f("tags", tag_cond()),
            f("tags", tag_cond()),
        ]
        .boxed(),
        RT::ExperienceGroup => prop_oneof![
            f("id", id_cond(ids(grp_id, MAX_GRP))),
            f("parentId", id_cond(ids(grp_id, MAX_GRP))),
            f("ancestorId", id_cond(ids(grp_id, MAX_GRP))),
            f("ancestorId", id_cond(ids(grp_id, MAX_GRP))),
            f("experienceUserId", id_cond(ids(usr_id, MAX_USR))),
            f("experienceEndpointId", id_cond(ids(grp_id, 2))),
            f("name", text()),
            f("creationDate", date()),
            f("lastUpdated", date()),
            f("groupTags", tag_cond()),
            f("groupTags", tag_cond()),
        ]
        .boxed(),
        RT::ExperienceUser => prop_oneof![
            f("id", id_cond(ids(usr_id, MAX_USR))),
            f("experienceGroupId", id_cond(ids(grp_id, MAX_GRP))),
            f("email", generic(text_scalar(vec!["a1", "A1", "2"]), true)),
            f("firstName", text()),
            f("lastName", text()),
            f("creationDate", date()),
            f("lastUpdated", date()),
            f("lastLogin", date()),
            f("passwordLastUpdated", date()),
            f("userTags", tag_cond()),
            f("userTags", tag_cond()),
        ]
        .boxed(),
        RT::DataTableRow => {
            let row_date = || generic(date_scalar(), false);
            prop_oneof![
                f("id", id_cond(ids(row_id, MAX_ROW))),
                f("createdAt", row_date()),
                f("updatedAt", row_date()),
                f("num", generic(num_value(), false)),
                f("num", generic(num_value(), false)),
                f("n2", generic((0i64..3).prop_map(|n| json!(n)).boxed(), false)),
                f("txt", generic(small_str(0).prop_map(Value::String).boxed(), true)),
                f("txt", generic(select(vec!["a", "A", "ab", "b"]).prop_map(|s| json!(s)).boxed(), true)),
                f("flag", generic(any::<bool>().prop_map(Value::Bool).boxed(), false)),
            ]
            .boxed()
        }
    }
}

fn query(rt: RT) -> BoxedStrategy<Value> {
    let obj = |kvs: Vec<(String, Value)>| Value::Object(kvs.into_iter().collect());
    let leaf = vec(field_cond(rt), 1..3).prop_map(obj).boxed();
    leaf.prop_recursive(3, 24, 4, move |inner| {
        (
            select(vec!["$and", "$or", "$nor"]),
            vec(inner, 0..4),
            vec(field_cond(rt), 0..2),
        )
            .prop_map(move |(op, subs, extra)| {
                let mut m: Map<String, Value> = extra.into_iter().collect();
                m.insert(op.to_owned(), Value::Array(subs));
                Value::Object(m)
            })
    })
    .boxed()
}

fn check(rt: RT, tag: &str) {
    let dbs = Dbs::new(tag);
    let table = schema();
    let discriminating = Cell::new(0usize);
    let total = Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        max_shrink_iters: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(fixture(rt), vec(query(rt), 8)), |(fx, queries)| {
        dbs.load(&fx);
        let n = fx.resources(rt).len();
        for qv in &queries {
            let q = parse(rt, qv, Some(&table))
                .map_err(|e| TestCaseError::fail(format!("generator produced an invalid query {qv}: {e}")))?;
            let want = eval(&fx, &q);
            let (lite, pg) = dbs.run(&q);
            prop_assert_eq!(&lite, &want, "SQLite vs evaluator for {}", qv);
            if let Some(pg) = pg {
                prop_assert_eq!(&pg, &want, "PostgreSQL vs evaluator for {}", qv);
            }
            total.set(total.get() + 1);
            if !want.is_empty() && want.len() < n {
                discriminating.set(discriminating.get() + 1);
            }
        }
        Ok(())
    });
    drop(dbs);
    println!(
        "{rt:?}: {} of {} queries split the resources",
        discriminating.get(),
        total.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // Guard against a generator that only produces trivial queries.
    assert!(
        discriminating.get() * 4 >= total.get(),
        "only {} of {} queries split the resources",
        discriminating.get(),
        total.get()
    );
}

#[test]
fn devices_agree() {
    check(RT::Device, "dev");
}

#[test]
fn groups_agree() {
    check(RT::ExperienceGroup, "grp");
}

#[test]
fn users_agree() {
    check(RT::ExperienceUser, "usr");
}

#[test]
fn rows_agree() {
    check(RT::DataTableRow, "row");
}
