//! `GET /openapi.json`: an OpenAPI 3.1 description of every endpoint, generated from the route
//! catalog below and the scope table ([`crate::scopes`]), so each operation lists the scopes that
//! reach it. A test compares the catalog with the router's own route table both ways, so a route
//! added without documentation (or documentation without a route) fails the build's tests.

use serde_json::{json, Map, Value};

use crate::scopes::{accepted, action, Action};

/// One documented operation.
#[derive(Debug)]
pub struct Op {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template (`{name}` parameters).
    pub path: &'static str,
    /// The scope action that guards it (`None`: public).
    pub action: Option<Action>,
    /// One-line summary.
    pub summary: &'static str,
    /// Success status.
    pub success: u16,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// Whether it takes a JSON body.
    pub body: bool,
}

macro_rules! ops {
    ($($m:ident $p:literal $a:expr, $s:literal, $st:literal, [$($q:literal),*], $b:literal;)*) => {
        /// Every operation the server serves.
        pub const OPS: &[Op] = &[$(Op {
            method: stringify!($m), path: $p, action: $a, summary: $s, success: $st,
            query: &[$($q),*], body: $b,
        }),*];
    };
}

ops! {
    GET "/health" None, "Database reachability", 200, [], false;
    GET "/metrics" None, "Prometheus metrics", 200, [], false;
    GET "/openapi.json" None, "This document", 200, [], false;
    GET "/cluster" Some(action::CLUSTER_GET), "This node's view of the cluster: nodes, leases, dispatch figures (extension)", 200, [], false;
    GET "/applications" Some(action::APPLICATIONS_GET), "List applications", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter"], false;
    POST "/applications" Some(action::APPLICATIONS_POST), "Create an application", 201, [], true;
    GET "/applications/{applicationId}" Some(action::APPLICATION_GET), "Get an application", 200, [], false;
    PATCH "/applications/{applicationId}" Some(action::APPLICATION_PATCH), "Update an application", 200, [], true;
    DELETE "/applications/{applicationId}" Some(action::APPLICATION_DELETE), "Delete an application and everything it owns", 200, [], false;
    GET "/applications/{applicationId}/tokens" Some(action::TOKENS_GET), "List API tokens", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter"], false;
    POST "/applications/{applicationId}/tokens" Some(action::TOKENS_POST), "Create an API token (the token is shown once)", 201, [], true;
    GET "/applications/{applicationId}/tokens/{apiTokenId}" Some(action::TOKEN_GET), "Get an API token", 200, [], false;
    PATCH "/applications/{applicationId}/tokens/{apiTokenId}" Some(action::TOKEN_PATCH), "Update an API token", 200, [], true;
    DELETE "/applications/{applicationId}/tokens/{apiTokenId}" Some(action::TOKEN_DELETE), "Delete an API token", 200, [], false;
    GET "/applications/{applicationId}/devices" Some(action::DEVICES_GET), "List devices (advanced query)", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter", "query"], false;
    POST "/applications/{applicationId}/devices" Some(action::DEVICES_POST), "Create a device", 201, [], true;
    POST "/applications/{applicationId}/devices/bulk" Some(action::DEVICES_POST), "Create up to 10,000 devices, all or nothing (extension)", 201, [], true;
    GET "/applications/{applicationId}/devices/{deviceId}" Some(action::DEVICE_GET), "Get a device", 200, [], false;
    PATCH "/applications/{applicationId}/devices/{deviceId}" Some(action::DEVICE_PATCH), "Update a device", 200, [], true;
    DELETE "/applications/{applicationId}/devices/{deviceId}" Some(action::DEVICE_DELETE), "Delete a device", 200, [], false;
    POST "/applications/{applicationId}/devices/{deviceId}/setConnectionStatus" Some(action::DEVICE_SET_CONNECTION_STATUS), "Set a device connection status", 200, [], true;
    GET "/applications/{applicationId}/data-tables" Some(action::DATA_TABLES_GET), "List data tables", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter"], false;
    POST "/applications/{applicationId}/data-tables" Some(action::DATA_TABLES_POST), "Create a data table", 201, [], true;
    GET "/applications/{applicationId}/data-tables/{dataTableId}" Some(action::DATA_TABLE_GET), "Get a data table", 200, [], false;
    PATCH "/applications/{applicationId}/data-tables/{dataTableId}" Some(action::DATA_TABLE_PATCH), "Update a data table", 200, [], true;
    DELETE "/applications/{applicationId}/data-tables/{dataTableId}" Some(action::DATA_TABLE_DELETE), "Delete a data table and its rows", 200, [], false;
    GET "/applications/{applicationId}/data-tables/{dataTableId}/rows" Some(action::ROWS_GET), "List rows", 200, ["limit", "offset", "sortColumn", "sortDirection"], false;
    POST "/applications/{applicationId}/data-tables/{dataTableId}/rows" Some(action::ROWS_POST), "Create a row (or an array of rows)", 201, [], true;
    POST "/applications/{applicationId}/data-tables/{dataTableId}/rows/bulk" Some(action::ROWS_POST), "Create up to 10,000 rows, all or nothing (extension)", 201, [], true;
    POST "/applications/{applicationId}/data-tables/{dataTableId}/rows/query" Some(action::ROWS_QUERY), "Query rows (advanced query body)", 200, ["limit", "offset", "sortColumn", "sortDirection"], true;
    GET "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Some(action::ROW_GET), "Get a row", 200, [], false;
    PATCH "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Some(action::ROW_PATCH), "Update a row", 200, [], true;
    DELETE "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Some(action::ROW_DELETE), "Delete a row", 200, [], false;
    GET "/applications/{applicationId}/experience/groups" Some(action::GROUPS_GET), "List experience groups (advanced query)", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter", "query"], false;
    POST "/applications/{applicationId}/experience/groups" Some(action::GROUPS_POST), "Create an experience group", 201, [], true;
    POST "/applications/{applicationId}/experience/groups/bulk" Some(action::GROUPS_POST), "Create up to 10,000 groups, all or nothing (extension)", 201, [], true;
    GET "/applications/{applicationId}/experience/groups/{experienceGroupId}" Some(action::GROUP_GET), "Get an experience group", 200, [], false;
    PATCH "/applications/{applicationId}/experience/groups/{experienceGroupId}" Some(action::GROUP_PATCH), "Update an experience group", 200, [], true;
    DELETE "/applications/{applicationId}/experience/groups/{experienceGroupId}" Some(action::GROUP_DELETE), "Delete an experience group", 200, [], false;
    GET "/applications/{applicationId}/experience/users" Some(action::USERS_GET), "List experience users (advanced query)", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter", "query"], false;
    POST "/applications/{applicationId}/experience/users" Some(action::USERS_POST), "Create an experience user", 201, [], true;
    POST "/applications/{applicationId}/experience/users/bulk" Some(action::USERS_POST), "Create up to 10,000 users, all or nothing (extension)", 201, [], true;
    GET "/applications/{applicationId}/experience/users/{experienceUserId}" Some(action::USER_GET), "Get an experience user", 200, [], false;
    PATCH "/applications/{applicationId}/experience/users/{experienceUserId}" Some(action::USER_PATCH), "Update an experience user", 200, [], true;
    DELETE "/applications/{applicationId}/experience/users/{experienceUserId}" Some(action::USER_DELETE), "Delete an experience user", 200, [], false;
    GET "/applications/{applicationId}/resource-jobs" Some(action::JOBS_GET), "List resource jobs", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter"], false;
    POST "/applications/{applicationId}/resource-jobs" Some(action::JOBS_POST), "Create a resource job", 201, [], true;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}" Some(action::JOB_GET), "Get a resource job", 200, [], false;
    PATCH "/applications/{applicationId}/resource-jobs/{resourceJobId}" Some(action::JOB_PATCH), "Update a resource job (answers 201, as the original)", 201, [], true;
    DELETE "/applications/{applicationId}/resource-jobs/{resourceJobId}" Some(action::JOB_DELETE), "Delete a resource job, its executions and optionally its workflows", 200, ["includeWorkflows"], false;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/execute" Some(action::JOB_EXECUTE), "Execute a resource job (dryRun=true: preview the target set, write nothing; rerunOf: re-drive an execution's failures)", 200, ["dryRun"], true;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/cancelExecution" Some(action::JOB_CANCEL), "Cancel an execution", 200, ["executionId"], false;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/pauseExecution" Some(action::JOB_PAUSE), "Pause an execution: nothing new starts, attempts in flight finish (extension)", 200, ["executionId"], false;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/resumeExecution" Some(action::JOB_RESUME), "Resume a paused execution (extension)", 200, ["executionId"], false;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}/logs" Some(action::JOB_LOGS), "Execution logs, newest first", 200, ["limit", "since"], false;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}" Some(action::JOB_LOGS), "One execution (extension)", 200, [], false;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/events" Some(action::JOB_LOGS), "Live event stream, text/event-stream: progress, status, iteration (with iterations=true), done; Last-Event-ID resumes (extension)", 200, ["iterations", "lastEventId"], false;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations" Some(action::JOB_LOGS), "An execution's iterations (extension)", 200, ["status", "page", "perPage"], false;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations/{iterationId}/acknowledge" Some(action::JOB_ACKNOWLEDGE), "Acknowledge an iteration (extension)", 200, [], true;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations/claim" Some(action::JOB_ACKNOWLEDGE), "Claim started attempts for an external worker, long-polling up to waitMs (extension)", 200, [], true;
    POST "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/acknowledge" Some(action::JOB_ACKNOWLEDGE), "Acknowledge up to 1,000 iterations in one commit (extension)", 200, [], true;
    GET "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/report.csv" Some(action::JOB_LOGS), "The CSV report (bearer token or signed link)", 200, ["expires", "signature"], false;
    GET "/applications/{applicationId}/flows" Some(action::FLOWS_GET), "List workflows", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter", "triggerFilter"], false;
    POST "/applications/{applicationId}/flows" Some(action::FLOWS_POST), "Create a workflow", 201, [], true;
    GET "/applications/{applicationId}/flows/{flowId}" Some(action::FLOW_GET), "Get a workflow", 200, [], false;
    PATCH "/applications/{applicationId}/flows/{flowId}" Some(action::FLOW_PATCH), "Update a workflow", 200, [], true;
    DELETE "/applications/{applicationId}/flows/{flowId}" Some(action::FLOW_DELETE), "Delete a workflow", 200, [], false;
    GET "/applications/{applicationId}/flows/{flowId}/logs" Some(action::FLOW_LOGS), "Recent runs of a workflow", 200, ["limit", "since"], false;
    GET "/applications/{applicationId}/webhooks" Some(action::WEBHOOKS_GET), "List webhooks (extension)", 200, ["sortField", "sortDirection", "page", "perPage", "filterField", "filter"], false;
    POST "/applications/{applicationId}/webhooks" Some(action::WEBHOOKS_POST), "Create a signed webhook (the secret is shown once; extension)", 201, [], true;
    GET "/applications/{applicationId}/webhooks/{webhookId}" Some(action::WEBHOOK_GET), "Get a webhook (extension)", 200, [], false;
    PATCH "/applications/{applicationId}/webhooks/{webhookId}" Some(action::WEBHOOK_PATCH), "Update a webhook (extension)", 200, [], true;
    DELETE "/applications/{applicationId}/webhooks/{webhookId}" Some(action::WEBHOOK_DELETE), "Delete a webhook and its pending deliveries (extension)", 200, [], false;
    GET "/applications/{applicationId}/webhooks/{webhookId}/deliveries" Some(action::WEBHOOK_GET), "Recent delivery attempts, newest first (extension)", 200, ["limit"], false;
}

fn op_id(op: &Op) -> String {
    let mut id = op.method.to_ascii_lowercase();
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

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document, with `server` as the base URL.
pub fn document(server: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in OPS {
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(op.query.iter().map(
            |q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let mut responses = Map::new();
        // The event stream answers server-sent events; everything else JSON.
        let media = if op.path.ends_with("/events") {
            "text/event-stream"
        } else {
            "application/json"
        };
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
        if let Some(a) = &op.action {
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
        if op.body {
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": ["object", "array"]}}}});
        }
        o["responses"] = Value::Object(responses);
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = o;
    }
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
            "schemas": {"Error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }},
        },
    })
}
