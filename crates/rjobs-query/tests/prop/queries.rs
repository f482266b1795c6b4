//! Strategies for random valid queries per resource type.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use rjobs_query::ResourceType as RT;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::resources::*;

fn or_null(s: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![5 => s, 1 => Just(Value::Null)].boxed()
}

/// A generic field's value: implicit equality or an operator object.
fn generic(scalar: BoxedStrategy<Value>, strings: bool) -> BoxedStrategy<Value> {
    let s = scalar.clone();
    let entry = prop_oneof![
        2 => (select(vec!["$eq", "$ne"]), or_null(s.clone())),
        1 => (select(vec!["$gt", "$gte", "$lt", "$lte"]), or_null(s.clone())),
        1 => (select(vec!["$in", "$nin"]), vec(s.clone(), 0..4).prop_map(Value::Array)),
    ];
    let entry = if strings {
        prop_oneof![
            3 => entry,
            2 => (
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
        3 => (vec(entry, 1..3), proptest::option::of(any::<bool>())).prop_map(|(es, ci)| {
            let mut m: Map<String, Value> = es.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(ci) = ci {
                m.insert("$ci".to_owned(), Value::Bool(ci));
            }
            Value::Object(m)
        }),
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
        (
            select(vec!["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
            or_null(v.clone())
        )
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
    let f = |name: &'static str, s: BoxedStrategy<Value>| {
        s.prop_map(move |v| (name.to_owned(), v)).boxed()
    };
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
            f(
                "deviceClass",
                generic(
                    text_scalar(vec!["standalone", "gateway", "peripheral", "GATEWAY"]),
                    true
                )
            ),
            f(
                "connectionStatus",
                generic(
                    text_scalar(vec!["connected", "disconnected", "Connected"]),
                    true
                )
            ),
            f(
                "attributeName",
                generic(text_scalar(vec!["temp", "TEMP", "humidity", "t"]), true)
            ),
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
                f(
                    "n2",
                    generic((0i64..3).prop_map(|n| json!(n)).boxed(), false)
                ),
                f(
                    "txt",
                    generic(small_str(0).prop_map(Value::String).boxed(), true)
                ),
                f(
                    "txt",
                    generic(
                        select(vec!["a", "A", "ab", "b"])
                            .prop_map(|s| json!(s))
                            .boxed(),
                        true
                    )
                ),
                f(
                    "flag",
                    generic(any::<bool>().prop_map(Value::Bool).boxed(), false)
                ),
            ]
            .boxed()
        }
    }
}

pub fn query(rt: RT) -> BoxedStrategy<Value> {
    let obj = |kvs: Vec<(String, Value)>| Value::Object(kvs.into_iter().collect());
    let leaf = vec(field_cond(rt), 1..2).prop_map(obj).boxed();
    leaf.prop_recursive(2, 16, 3, move |inner| {
        (
            select(vec!["$and", "$or", "$nor"]),
            vec(inner, 0..4),
            vec(field_cond(rt), 0..1),
        )
            .prop_map(move |(op, subs, extra)| {
                let mut m: Map<String, Value> = extra.into_iter().collect();
                m.insert(op.to_owned(), Value::Array(subs));
                Value::Object(m)
            })
    })
    .boxed()
}
