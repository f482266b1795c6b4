//! `GET /openapi.json`: an OpenAPI 3.1 description of every endpoint, generated from the one
//! route table ([`crate::routes::table::ROUTES`]) and the scope table ([`crate::scopes`]), so
//! each operation lists the scopes that reach it, with request body schemas derived from the
//! handlers' own body types and response schemas derived from the view types they serialize
//! (`schemars`), so what the document promises is what the server parses and sends.
//!
//! Requests are described as types deserialize, responses as they serialize (`schemars`'
//! contracts: a field with a default is optional in a body, a field skipped when empty is
//! optional in an answer). Both land in `/components/schemas`; a type used both ways whose two
//! schemas differ (a device attribute takes fields it never shows) gets its answer schema under
//! `<Name>View`.

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::routes::table::{Route, ROUTES};
use crate::scopes::accepted;

fn op_id(op: &Route) -> String {
    let mut id = op.method.as_str().to_ascii_lowercase();
    for seg in op.path.split('/').filter(|s| !s.is_empty()) {
        let seg = seg
            .trim_start_matches('{')
            .trim_end_matches('}')
            .replace(['.', '-'], "_");
        id.push('_');
        id.push_str(&seg);
    }
    id
}

/// Every path parameter is an id of 24 hexadecimal characters (`rjobs_core::Id`), except an
/// iteration's: `<executionId>-<24 hex>` (`rjobs_core::engine::IterationId`).
fn id_pattern(name: &str) -> &'static str {
    match name {
        "iterationId" => "^[0-9a-fA-F]{24}-[0-9a-fA-F]{24}$",
        _ => "^[0-9a-fA-F]{24}$",
    }
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn generator(settings: SchemaSettings) -> SchemaGenerator {
    settings
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator()
}

const REFS: &str = "#/components/schemas/";

/// Points every `$ref` to a renamed definition at its new name.
fn rename_refs(v: &mut Value, renamed: &Map<String, Value>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref") {
                if let Some(Value::String(to)) = r.strip_prefix(REFS).and_then(|n| renamed.get(n)) {
                    *r = format!("{REFS}{to}");
                }
            }
            m.values_mut().for_each(|x| rename_refs(x, renamed));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_refs(x, renamed)),
        _ => {}
    }
}

/// Adds the answer schemas' definitions to the body schemas' ones, renaming an answer
/// definition that differs from the body definition of the same name; `answers` (the schemas of
/// the success responses) follow the renames.
fn merge(
    mut bodies: Map<String, Value>,
    mut views: Map<String, Value>,
    answers: &mut [Value],
) -> Map<String, Value> {
    let mut renamed = Map::new();
    for (name, schema) in &views {
        if bodies.get(name).is_some_and(|b| b != schema) {
            let mut to = format!("{name}View");
            while bodies.contains_key(&to) || views.contains_key(&to) {
                to.push('_');
            }
            renamed.insert(name.clone(), Value::String(to));
        }
    }
    for v in views.values_mut().chain(answers.iter_mut()) {
        rename_refs(v, &renamed);
    }
    for (name, schema) in views {
        let name = match renamed.get(&name) {
            Some(Value::String(to)) => to.clone(),
            _ => name,
        };
        bodies.insert(name, schema);
    }
    bodies
}

fn success_response(op: &Route, schema: Value) -> Value {
    if op.success == 204 {
        return json!({"description": "Success"});
    }
    json!({"description": "Success", "content": {op.media.as_str(): {"schema": schema}}})
}

/// The document, with `server` as the base URL.
pub fn document(server: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let mut schemas = generator(SchemaSettings::draft2020_12());
    let mut views = generator(SchemaSettings::draft2020_12().for_serialize());
    let mut answers: Vec<Value> = ROUTES
        .iter()
        .map(|op| (op.response)(&mut views).to_value())
        .collect();
    let mut ops = Vec::with_capacity(ROUTES.len());
    for op in ROUTES {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "pattern": id_pattern(name)}}))
            .collect();
        params.extend(op.query.iter().map(
            |q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let mut responses = Map::new();
        responses.insert(
            "400".into(),
            error_response("Validation: the message names the field"),
        );
        let mut o = json!({
            "operationId": op_id(op),
            "summary": op.summary,
            "parameters": params,
        });
        if let Some(a) = &op.guard.action() {
            responses.insert("401".into(), error_response("Unauthorized"));
            responses.insert(
                "403".into(),
                error_response("Forbidden: none of the accepted scopes"),
            );
            responses.insert("404".into(), error_response("NotFound"));
            o["security"] = json!([{"bearer": []}]);
            o["x-action"] = json!(a.name);
            o["x-accepted-scopes"] = json!(accepted(a));
        }
        if let Some(body) = op.body {
            let schema = body(&mut schemas);
            o["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
        }
        o["responses"] = Value::Object(responses);
        ops.push(o);
    }
    let mut components = merge(
        schemas.take_definitions(true),
        views.take_definitions(true),
        &mut answers,
    );
    for ((op, mut o), answer) in ROUTES.iter().zip(ops).zip(answers) {
        o["responses"][op.success.to_string()] = success_response(op, answer);
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.as_str().to_ascii_lowercase()] = o;
    }
    components.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "rjobs",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Resource Jobs, compatible with the Losant Platform API",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components,
        },
    })
}
