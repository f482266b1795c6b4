//! `GET /openapi.json`: an OpenAPI 3.1 description of every endpoint, generated from the one
//! route table ([`crate::routes::table::ROUTES`]) and the scope table ([`crate::scopes`]), so
//! each operation lists the scopes that reach it, and with request body schemas derived from the
//! handlers' own body types (`schemars`), so what the document promises is what the server
//! parses.

use schemars::generate::SchemaSettings;
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

/// The document, with `server` as the base URL.
pub fn document(server: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let mut schemas = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
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
        let media = op.media.as_str();
        responses.insert(
            op.success.to_string(),
            json!({"description": "Success", "content": {media: {"schema": {}}}}),
        );
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
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.as_str().to_ascii_lowercase()] = o;
    }
    let mut components = schemas.take_definitions(true);
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
