//! Strategies for random resources of one application.

use std::collections::{BTreeMap, BTreeSet};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use rjobs_query::{EvalDevice, EvalGroup, EvalRow, EvalUser, ResourceType as RT};
use serde_json::{json, Map, Value};

use crate::common::Fixture;

pub const MAX_DEV: usize = 12;
pub const MAX_GRP: usize = 9;
pub const MAX_USR: usize = 9;
pub const MAX_ROW: usize = 25;

pub fn dev_id(i: usize) -> String {
    format!("{:024x}", 0xd000 + i)
}
pub fn grp_id(i: usize) -> String {
    format!("{:024x}", 0xb000 + i)
}
pub fn usr_id(i: usize) -> String {
    format!("{:024x}", 0xc000 + i)
}
pub fn row_id(i: usize) -> String {
    format!("{:024x}", 0xa000 + i)
}

pub fn small_str(min: usize) -> BoxedStrategy<String> {
    vec(select(vec!['a', 'A', 'b', 'B', 'é', 'É', '-', 'z']), min..4)
        .prop_map(String::from_iter)
        .boxed()
}
pub fn ms() -> BoxedStrategy<i64> {
    (1000i64..1008).boxed()
}
pub fn tag_key() -> BoxedStrategy<String> {
    select(vec!["env", "site", "Env", "k"])
        .prop_map(str::to_owned)
        .boxed()
}
pub fn tag_value() -> BoxedStrategy<String> {
    select(vec!["prod", "stage", "a", "A", ""])
        .prop_map(str::to_owned)
        .boxed()
}
pub fn attr_name() -> BoxedStrategy<String> {
    select(vec!["temp", "Temp", "humidity", "t"])
        .prop_map(str::to_owned)
        .boxed()
}
pub fn tag_map() -> BoxedStrategy<Vec<(String, String)>> {
    vec((tag_key(), tag_value()), 0..3)
        .prop_map(|v| {
            v.into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect()
        })
        .boxed()
}

pub fn device(i: usize) -> BoxedStrategy<EvalDevice> {
    (
        (
            small_str(0),
            select(vec!["standalone", "gateway", "peripheral"]),
        ),
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
        .prop_map(
            move |((name, class), (p, g), (tags, attrs), (c, ca, da), (cr, up))| EvalDevice {
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
            },
        )
        .boxed()
}

pub fn group(i: usize) -> BoxedStrategy<EvalGroup> {
    (
        small_str(0),
        proptest::option::of(0..MAX_GRP + 1),
        tag_map(),
        ms(),
        ms(),
    )
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

pub fn user(i: usize) -> BoxedStrategy<EvalUser> {
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

pub fn cell(typed: BoxedStrategy<Value>, wrong: Value) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        6 => typed.prop_map(Some),
        1 => Just(Some(wrong)),
    ]
    .boxed()
}

pub fn num_value() -> BoxedStrategy<Value> {
    select(vec![
        json!(-2),
        json!(-1.5),
        json!(0),
        json!(1),
        json!(2),
        json!(2.5),
        json!(10),
    ])
    .boxed()
}

pub fn row(i: usize) -> BoxedStrategy<EvalRow> {
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
            EvalRow {
                id: row_id(i),
                created_at: cr,
                updated_at: up,
                data,
            }
        })
        .boxed()
}

pub fn many<T: std::fmt::Debug + 'static>(
    max: usize,
    f: fn(usize) -> BoxedStrategy<T>,
) -> BoxedStrategy<Vec<T>> {
    (max / 2..=max)
        .prop_flat_map(move |n| (0..n).map(f).collect::<Vec<_>>())
        .boxed()
}

pub fn fixture(rt: RT) -> BoxedStrategy<Fixture> {
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
