//! Validation errors: exact paths and messages, limits (100 ok, 101 rejected), field sets.

use rjobs_query::{
    parse, parse_str, ColumnType, Dialect, QueryError, ResourceType as RT, TableSchema,
};
use serde_json::{json, Value};

const D1: &str = "00000000000000000000d001";
const D2: &str = "00000000000000000000d002";

fn table() -> TableSchema {
    TableSchema {
        columns: vec![
            ("num".into(), ColumnType::Number),
            ("txt".into(), ColumnType::String),
            ("flag".into(), ColumnType::Boolean),
        ],
    }
}

fn err(rt: RT, q: Value) -> String {
    match parse(rt, &q, Some(&table())) {
        Ok(parsed) => panic!("{q} parsed: {parsed:?}"),
        Err(e) => e.to_string(),
    }
}

fn ok(rt: RT, q: Value) {
    if let Err(e) = parse(rt, &q, Some(&table())) {
        panic!("{q}: {e}");
    }
}

fn many(n: usize, v: Value) -> Value {
    Value::Array(vec![v; n])
}

#[test]
fn exact_paths_and_messages() {
    let cases: Vec<(RT, Value, &str)> = vec![
        (
            RT::Device,
            json!({"$or": [{}, {}, {"tags": {"$tagValue": 5}}]}),
            "$or[2].tags.$tagValue: expected a string, null, or an object with $in or $nin",
        ),
        (RT::Device, json!({"foo": 1}), "foo: unknown field"),
        (RT::Device, json!({"email": "x"}), "email: unknown field"),
        (
            RT::ExperienceUser,
            json!({"name": "x"}),
            "name: unknown field",
        ),
        (
            RT::ExperienceGroup,
            json!({"tags": {}}),
            "tags: unknown field",
        ),
        (
            RT::Device,
            json!({"name": {"$regex": "x"}}),
            "name.$regex: unknown operator",
        ),
        (
            RT::Device,
            json!({"$not": {}}),
            "$not: unknown operator (expected $and, $or, $nor or a field name)",
        ),
        (
            RT::Device,
            json!({"id": {"$eq": D1, "$ne": D2}}),
            "id: expected exactly one of $eq, $ne, $gt, $lt, $gte, $lte, $in, $nin",
        ),
        (
            RT::Device,
            json!({"parentId": {}}),
            "parentId: expected exactly one of $eq, $ne, $gt, $lt, $gte, $lte, $in, $nin",
        ),
        (
            RT::Device,
            json!({"id": "xyz"}),
            "id: expected a 24-character hex id or null",
        ),
        (
            RT::Device,
            json!({"id": "00000000000000000000d00g"}),
            "id: expected a 24-character hex id or null",
        ),
        (
            RT::Device,
            json!({"id": 5}),
            "id: expected a 24-character hex id or null",
        ),
        (
            RT::Device,
            json!({"gatewayId": {"$startsWith": "a"}}),
            "gatewayId.$startsWith: unknown operator for an id field",
        ),
        (
            RT::Device,
            json!({"id": {"$in": [D1, null]}}),
            "id.$in[1]: expected a 24-character hex id",
        ),
        (
            RT::Device,
            json!({"id": {"$in": D1}}),
            "id.$in: expected an array",
        ),
        (
            RT::Device,
            json!({"name": {"$in": many(101, json!("a"))}}),
            "name.$in: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"name": {"$nin": many(101, json!("a"))}}),
            "name.$nin: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"id": {"$in": many(101, json!(D1))}}),
            "id.$in: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"$or": many(101, json!({}))}),
            "$or: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"$and": [{"$nor": many(101, json!({}))}]}),
            "$and[0].$nor: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"name": {"$in": [null]}}),
            "name.$in[0]: expected a string, number, or boolean",
        ),
        (
            RT::Device,
            json!({"name": [1]}),
            "name: expected a string, number, boolean, null, or an object of operators",
        ),
        (
            RT::Device,
            json!({"name": {"$eq": [1]}}),
            "name.$eq: expected a string, number, boolean, or null",
        ),
        (
            RT::Device,
            json!({"creationDate": "yesterday"}),
            "creationDate: expected an ISO-8601 date string or epoch milliseconds",
        ),
        (
            RT::Device,
            json!({"creationDate": {"$in": [1, "x"]}}),
            "creationDate.$in[1]: expected an ISO-8601 date string or epoch milliseconds",
        ),
        (
            RT::Device,
            json!({"creationDate": {"$gt": 1.5}}),
            "creationDate.$gt: expected an integer number of epoch milliseconds",
        ),
        (
            RT::Device,
            json!({"name": {"$startsWith": ""}}),
            "name.$startsWith: expected a non-empty string",
        ),
        (
            RT::Device,
            json!({"name": {"$contains": 5}}),
            "name.$contains: expected a non-empty string",
        ),
        (
            RT::Device,
            json!({"name": {"$ci": "yes"}}),
            "name.$ci: expected a boolean",
        ),
        (
            RT::Device,
            json!({"name": "a\u{0}b"}),
            "name: strings must not contain NUL characters",
        ),
        (
            RT::DataTableRow,
            json!({"num": "x"}),
            "num: expected a number or null",
        ),
        (
            RT::DataTableRow,
            json!({"num": {"$in": [1, true]}}),
            "num.$in[1]: expected a number or null",
        ),
        (
            RT::DataTableRow,
            json!({"num": {"$startsWith": "1"}}),
            "num.$startsWith: string operators apply only to string columns",
        ),
        (
            RT::DataTableRow,
            json!({"createdAt": {"$contains": "1"}}),
            "createdAt.$contains: string operators apply only to string columns",
        ),
        (RT::DataTableRow, json!({"nope": 1}), "nope: unknown column"),
        (
            RT::DataTableRow,
            json!({"bad col": 1}),
            "bad col: invalid column name (expected ^[0-9a-zA-Z_-]{1,255}$)",
        ),
        (
            RT::DataTableRow,
            json!({"txt": 5}),
            "txt: expected a string or null",
        ),
        (
            RT::DataTableRow,
            json!({"flag": "true"}),
            "flag: expected a boolean or null",
        ),
        (
            RT::DataTableRow,
            json!({"$or": [{"txt": "a"}, {"flag": {"$lt": 1}}]}),
            "$or[1].flag.$lt: expected a boolean or null",
        ),
        (
            RT::Device,
            json!({"tags": {"$eq": {"a": "b"}, "x": "y"}}),
            "tags: $eq must be the only key of a tag query",
        ),
        (
            RT::Device,
            json!({"tags": {"$ne": {"$ne": null}}}),
            "tags.$ne.$ne: unknown operator in a tag query",
        ),
        (
            RT::Device,
            json!({"tags": {"$tagKey": "a", "k": "v"}}),
            "tags.k: only $tagKey and $tagValue are allowed alongside $tagKey/$tagValue",
        ),
        (
            RT::Device,
            json!({"tags": {"a": "x".repeat(256)}}),
            "tags.a: at most 255 characters are allowed",
        ),
        (
            RT::Device,
            json!({"tags": {"a": {"$in": many(101, json!("v"))}}}),
            "tags.a.$in: at most 100 items are allowed, got 101",
        ),
        (
            RT::Device,
            json!({"tags": {"a": {"$in": ["v", 3]}}}),
            "tags.a.$in[1]: expected a string",
        ),
        (
            RT::Device,
            json!({"tags": {"a": {"$in": [], "$nin": []}}}),
            "tags.a: expected a string, null, or an object with $in or $nin",
        ),
        (
            RT::Device,
            json!({"tags": {".bad": "v"}}),
            "tags..bad: invalid tag key (expected ^[0-9a-zA-Z_-]{1,255})",
        ),
        (
            RT::Device,
            json!({"tags": 5}),
            "tags: expected null or an object ($tagKey/$tagValue, tag keys, $eq or $ne)",
        ),
        (
            RT::ExperienceUser,
            json!({"userTags": {"$tagKey": 1}}),
            "userTags.$tagKey: expected a string, null, or an object with $in or $nin",
        ),
        (
            RT::Device,
            json!({"$and": [5]}),
            "$and[0]: expected an object",
        ),
        (RT::Device, json!({"$and": {}}), "$and: expected an array"),
        (
            RT::Device,
            json!({"$and": [{"$or": [{"name": {"$in": "x"}}]}]}),
            "$and[0].$or[0].name.$in: expected an array",
        ),
        (RT::Device, json!([]), "query: expected an object"),
    ];
    for (rt, q, want) in cases {
        assert_eq!(err(rt, q.clone()), want, "{q}");
    }
}

#[test]
fn limits_at_exactly_100_are_fine() {
    ok(RT::Device, json!({"name": {"$in": many(100, json!("a"))}}));
    ok(RT::Device, json!({"id": {"$nin": many(100, json!(D1))}}));
    ok(RT::Device, json!({"$or": many(100, json!({"name": "a"}))}));
    ok(RT::Device, json!({"$and": many(100, json!({}))}));
    ok(RT::Device, json!({"$nor": many(100, json!({}))}));
    ok(
        RT::Device,
        json!({"tags": {"a": {"$nin": many(100, json!("x".repeat(255)))}}}),
    );
    ok(RT::Device, json!({"tags": {"$tagKey": "k".repeat(255)}}));
    ok(RT::Device, json!({"tags": {"a.b c": "v"}}));
}

#[test]
fn every_field_of_every_type_is_accepted() {
    let sets: [(RT, &[&str], &[&str], &str); 4] = [
        (
            RT::Device,
            &[
                "id",
                "gatewayId",
                "parentId",
                "ancestorId",
                "experienceUserId",
                "experienceGroupId",
            ],
            &[
                "creationDate",
                "lastUpdated",
                "deletedAt",
                "name",
                "deviceClass",
                "attributeName",
                "disconnectedAt",
                "connectedAt",
                "connectionStatus",
            ],
            "tags",
        ),
        (
            RT::ExperienceUser,
            &["id", "experienceGroupId"],
            &[
                "creationDate",
                "lastUpdated",
                "firstName",
                "lastName",
                "email",
                "lastLogin",
                "passwordLastUpdated",
            ],
            "userTags",
        ),
        (
            RT::ExperienceGroup,
            &[
                "id",
                "parentId",
                "ancestorId",
                "experienceUserId",
                "experienceEndpointId",
            ],
            &["creationDate", "lastUpdated", "name"],
            "groupTags",
        ),
        (
            RT::DataTableRow,
            &["id"],
            &["createdAt", "updatedAt", "num", "txt", "flag"],
            "",
        ),
    ];
    for (rt, id_fields, generic, tag) in sets {
        for f in id_fields {
            ok(rt, json!({ *f: null }));
            ok(rt, json!({ *f: D1.to_uppercase() }));
            ok(rt, json!({ *f: {"$in": [D1, D2]} }));
            assert!(parse(rt, &json!({ *f: {"$eq": D1, "$in": []} }), Some(&table())).is_err());
        }
        for f in generic {
            ok(rt, json!({ *f: null }));
            ok(rt, json!({ *f: {"$ne": null, "$ci": false} }));
        }
        if !tag.is_empty() {
            ok(rt, json!({ tag: null }));
            ok(
                rt,
                json!({ tag: {"$ne": {"$tagKey": "a", "$tagValue": {"$nin": ["b"]}}} }),
            );
        }
    }
}

#[test]
fn upper_case_ids_are_normalised_in_sql() {
    let q = parse(RT::Device, &json!({"id": D1.to_uppercase()}), None).unwrap();
    let frag = q.to_sql(Dialect::Postgres, "d", "app", 5);
    assert_eq!(frag.sql, "(d.id = $5)");
    assert_eq!(
        frag.params,
        vec![rjobs_query::SqlParam::Text(D1.to_owned())]
    );
}

#[test]
fn placeholders_number_from_first_param_on_postgres() {
    let q = parse(
        RT::Device,
        &json!({"name": {"$in": ["a", "b"]}, "tags": {"k": "v"}}),
        None,
    )
    .unwrap();
    let pg = q.to_sql(Dialect::Postgres, "d", "app", 3);
    for n in 3..=7 {
        assert!(pg.sql.contains(&format!("${n}")), "{}", pg.sql);
    }
    assert!(!pg.sql.contains("$8"), "{}", pg.sql);
    assert_eq!(pg.params.len(), 5);
    let lite = q.to_sql(Dialect::Sqlite, "d", "app", 3);
    assert_eq!(lite.sql.matches('?').count(), lite.params.len());
    assert!(!lite.sql.contains('$'));
}

#[test]
fn user_strings_are_never_inlined() {
    let evil = "x' OR 1=1 --";
    let q = parse(
        RT::Device,
        &json!({"name": {"$startsWith": evil, "$endsWith": evil}, "tags": {"k": evil}}),
        None,
    )
    .unwrap();
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        assert!(!q.to_sql(d, "d", "app", 1).sql.contains("OR 1=1"));
    }
}

#[test]
fn nesting_depth_is_bounded() {
    let nest = |n: usize| {
        let mut q = json!({"name": "a"});
        for _ in 0..n {
            q = json!({"$and": [q]});
        }
        q
    };
    ok(RT::Device, nest(32));
    let e = parse(RT::Device, &nest(33), None).unwrap_err();
    assert_eq!(e.message, "$and/$or/$nor may nest at most 32 levels deep");
    assert!(e.path.starts_with("$and[0].$and[0]"), "{}", e.path);
    assert!(parse(RT::Device, &nest(300), None).is_err());
}

#[test]
fn json_and_root_errors() {
    let e: QueryError = parse_str(RT::Device, "{", None).unwrap_err();
    assert_eq!(e.path, "");
    assert!(e.to_string().starts_with("query: is not valid JSON"), "{e}");
    let e = parse(RT::DataTableRow, &json!({}), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query: a data table schema is required for row queries"
    );
    assert!(parse_str(RT::Device, r#"{"name":"a"}"#, None).is_ok());
    let e = QueryError {
        path: "a.b".into(),
        message: "m".into(),
    };
    assert_eq!(e.to_string(), "a.b: m");
    let _: &dyn std::error::Error = &e;
}
