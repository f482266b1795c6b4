//! The one route table. Each row names a method, a path, the guard (who may call it: the scope
//! action, see [`crate::scopes`]), the handler, the OpenAPI summary and success status, the
//! query parameters, the response type (`resp`, required: the view the handler serializes, which
//! the compiler checks against the handler's return type) and the request body type. From this
//! single list [`super::router`] builds the axum routes and wraps each in its guard, and
//! [`crate::openapi`] builds `/openapi.json`, with request and response schemas derived from the
//! body and view types (`schemars`). Nothing else lists routes, so an endpoint cannot be served
//! without being guarded and documented, or documented without being served.
//!
//! Handlers never name their scope: the guard has authenticated the caller and checked the
//! action (and, on `/applications/{applicationId}/...` paths, that an application token belongs
//! to that application) before the handler runs, and left the [`Principal`] in the request for
//! handlers that need it.
//!
//! Adding an endpoint: write the handler in its resource module, add one row here.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::Value;

use super::{applications, crud, flows, jobs, resources, tokens, webhooks};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::PathParams;
use crate::scopes::{action, Action};
use crate::state::AppState;
use crate::views::{answers, AnyObject, Created, List, Success, Text};
use rjobs_core::jobs::ResourceJob;
use rjobs_core::model::ApiToken;
use rjobs_core::resources::{
    DataTable, Device, DeviceView, ExperienceGroup, ExperienceUser, GroupView, RowView, TableView,
    UserView,
};
use rjobs_engine::views::{ExecutionView, IterationView, JobView};
use rjobs_store::webhooks::WebhookRecord;
use rjobs_store::FlowRecord;

/// An HTTP method the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// Upper case, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone (health, metrics — which checks its own setting — and this document).
    Public,
    /// A bearer token holding one of the action's accepted scopes.
    Scope(Action),
    /// As [`Guard::Scope`], or a signed link: a request carrying a `signature` query parameter
    /// passes to the handler, which verifies the link (the CSV report).
    ScopeOrSignedLink(Action),
}

impl Guard {
    /// The action checked, if any.
    pub fn action(self) -> Option<Action> {
        match self {
            Guard::Public => None,
            Guard::Scope(a) | Guard::ScopeOrSignedLink(a) => Some(a),
        }
    }
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`.
    Json,
    /// `text/event-stream`.
    EventStream,
    /// `text/csv`.
    Csv,
    /// `text/plain` (Prometheus).
    Text,
}

impl Media {
    /// The content type.
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::EventStream => "text/event-stream",
            Media::Csv => "text/csv",
            Media::Text => "text/plain",
        }
    }
}

/// The JSON schema of a request body or response type.
pub type Schema = fn(&mut SchemaGenerator) -> schemars::Schema;

/// One row of the table, without its handler (see [`ROUTES`]).
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path template, `{name}` parameters (axum's and OpenAPI's syntax alike).
    pub path: &'static str,
    /// Who may call it.
    pub guard: Guard,
    /// One-line summary.
    pub summary: &'static str,
    /// Success status.
    pub success: u16,
    /// What the success answer carries.
    pub media: Media,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// The request body's schema, for routes that take a JSON body.
    pub body: Option<Schema>,
    /// The success answer's schema: the view type the handler serializes ([`Text`] for
    /// answers that are not JSON).
    pub response: Schema,
}

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// The query parameters of the original's list endpoints, plus `extra`.
macro_rules! list_query {
    ($($extra:literal),*) => {
        &["sortField", "sortDirection", "page", "perPage", "filterField", "filter", $($extra),*]
    };
}
/// The original's list parameters.
const LIST: &[&str] = list_query!();
/// [`LIST`] plus the advanced `query`.
const LIST_QUERY: &[&str] = list_query!("query");
const ROWS: &[&str] = &["limit", "offset", "sortColumn", "sortDirection"];
const LOGS: &[&str] = &["limit", "since"];
const EXEC: &[&str] = &["executionId"];

macro_rules! table {
    ($($m:ident $path:literal $guard:expr => $handler:path, $summary:literal, $st:literal,
       $query:expr, resp = $resp:ty $(, media = $media:ident)? $(, body = $body:ty)?;)*) => {
        /// Every route the server serves, in the order of [`handlers`].
        pub const ROUTES: &[Route] = &[$(Route {
            method: Method::$m,
            path: $path,
            guard: $guard,
            summary: $summary,
            success: $st,
            media: table!(@media $($media)?),
            query: $query,
            body: table!(@body $($body)?),
            response: schema_of::<$resp> as Schema,
        }),*];

        /// The handler of each row of [`ROUTES`], in order; each is checked (at compile time)
        /// to answer the row's `resp` type.
        fn handlers() -> Vec<MethodRouter<AppState>> {
            vec![$({
                answers::<$resp, _, _>(&$handler);
                on(Method::$m.filter(), $handler)
            }),*]
        }
    };
    (@media) => { Media::Json };
    (@media $m:ident) => { Media::$m };
    (@body) => { None };
    (@body $t:ty) => { Some(schema_of::<$t> as Schema) };
}

use Guard::{Public, Scope, ScopeOrSignedLink};

table! {
    Get "/health" Public => super::health, "Database reachability", 200, &[], resp = super::Health;
    Get "/metrics" Public => super::metrics, "Prometheus metrics (the admin token when metrics_public is false)", 200, &[], resp = Text, media = Text;
    Get "/openapi.json" Public => super::openapi, "This document", 200, &[], resp = Value;
    Get "/cluster" Scope(action::CLUSTER_GET) => super::cluster, "This node's view of the cluster: nodes, leases, dispatch figures (extension)", 200, &[], resp = Value;

    Get "/applications" Scope(action::APPLICATIONS_GET) => applications::list, "List applications", 200, LIST, resp = List<applications::AppView>;
    Post "/applications" Scope(action::APPLICATIONS_POST) => applications::create, "Create an application", 201, &[], resp = applications::AppView, body = applications::AppPost;
    Get "/applications/{applicationId}" Scope(action::APPLICATION_GET) => applications::read, "Get an application", 200, &[], resp = applications::AppView;
    Patch "/applications/{applicationId}" Scope(action::APPLICATION_PATCH) => applications::update, "Update an application", 200, &[], resp = applications::AppView, body = applications::AppPatch;
    Delete "/applications/{applicationId}" Scope(action::APPLICATION_DELETE) => applications::remove, "Delete an application and everything it owns", 200, &[], resp = Success;

    Get "/applications/{applicationId}/tokens" Scope(action::TOKENS_GET) => crud::list::<ApiToken>, "List API tokens", 200, LIST, resp = List<tokens::TokenView>;
    Post "/applications/{applicationId}/tokens" Scope(action::TOKENS_POST) => tokens::create, "Create an API token (the token is shown once)", 201, &[], resp = tokens::TokenCreated, body = tokens::TokenPost;
    Get "/applications/{applicationId}/tokens/{apiTokenId}" Scope(action::TOKEN_GET) => crud::read::<ApiToken>, "Get an API token", 200, &[], resp = tokens::TokenView;
    Patch "/applications/{applicationId}/tokens/{apiTokenId}" Scope(action::TOKEN_PATCH) => tokens::update, "Update an API token", 200, &[], resp = tokens::TokenView, body = tokens::TokenPatch;
    Delete "/applications/{applicationId}/tokens/{apiTokenId}" Scope(action::TOKEN_DELETE) => crud::remove::<ApiToken>, "Delete an API token", 200, &[], resp = Success;

    Get "/applications/{applicationId}/devices" Scope(action::DEVICES_GET) => crud::list::<Device>, "List devices (advanced query)", 200, LIST_QUERY, resp = List<DeviceView>;
    Post "/applications/{applicationId}/devices" Scope(action::DEVICES_POST) => resources::devices::create, "Create a device", 201, &[], resp = DeviceView, body = rjobs_core::resources::DevicePost;
    Post "/applications/{applicationId}/devices/bulk" Scope(action::DEVICES_POST) => resources::devices::bulk, "Create up to 10,000 devices, all or nothing (extension)", 201, &[], resp = Created, body = Vec<rjobs_core::resources::DevicePost>;
    Get "/applications/{applicationId}/devices/{deviceId}" Scope(action::DEVICE_GET) => crud::read::<Device>, "Get a device", 200, &[], resp = DeviceView;
    Patch "/applications/{applicationId}/devices/{deviceId}" Scope(action::DEVICE_PATCH) => resources::devices::update, "Update a device", 200, &[], resp = DeviceView, body = rjobs_core::resources::DevicePatch;
    Delete "/applications/{applicationId}/devices/{deviceId}" Scope(action::DEVICE_DELETE) => crud::remove::<Device>, "Delete a device", 200, &[], resp = Success;
    Post "/applications/{applicationId}/devices/{deviceId}/setConnectionStatus" Scope(action::DEVICE_SET_CONNECTION_STATUS) => resources::devices::set_connection_status, "Set a device connection status", 200, &[], resp = Success, body = resources::devices::ConnectionStatus;

    Get "/applications/{applicationId}/data-tables" Scope(action::DATA_TABLES_GET) => crud::list::<DataTable>, "List data tables", 200, LIST, resp = List<TableView>;
    Post "/applications/{applicationId}/data-tables" Scope(action::DATA_TABLES_POST) => resources::data_tables::create, "Create a data table", 201, &[], resp = TableView, body = rjobs_core::resources::TablePost;
    Get "/applications/{applicationId}/data-tables/{dataTableId}" Scope(action::DATA_TABLE_GET) => crud::read::<DataTable>, "Get a data table", 200, &[], resp = TableView;
    Patch "/applications/{applicationId}/data-tables/{dataTableId}" Scope(action::DATA_TABLE_PATCH) => resources::data_tables::update, "Update a data table", 200, &[], resp = TableView, body = rjobs_core::resources::TablePatch;
    Delete "/applications/{applicationId}/data-tables/{dataTableId}" Scope(action::DATA_TABLE_DELETE) => crud::remove::<DataTable>, "Delete a data table and its rows", 200, &[], resp = Success;

    Get "/applications/{applicationId}/data-tables/{dataTableId}/rows" Scope(action::ROWS_GET) => resources::rows::list, "List rows", 200, ROWS, resp = resources::rows::RowList;
    Post "/applications/{applicationId}/data-tables/{dataTableId}/rows" Scope(action::ROWS_POST) => resources::rows::create, "Create a row (or an array of rows)", 201, &[], resp = resources::rows::RowsCreated, body = resources::rows::RowsBody;
    Post "/applications/{applicationId}/data-tables/{dataTableId}/rows/bulk" Scope(action::ROWS_POST) => resources::rows::bulk, "Create up to 10,000 rows, all or nothing (extension)", 201, &[], resp = Created, body = Vec<resources::rows::RowFields>;
    Post "/applications/{applicationId}/data-tables/{dataTableId}/rows/query" Scope(action::ROWS_QUERY) => resources::rows::query, "Query rows (advanced query body)", 200, ROWS, resp = resources::rows::RowList, body = AnyObject;
    Get "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Scope(action::ROW_GET) => resources::rows::read, "Get a row", 200, &[], resp = RowView;
    Patch "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Scope(action::ROW_PATCH) => resources::rows::update, "Update a row", 200, &[], resp = RowView, body = resources::rows::RowFields;
    Delete "/applications/{applicationId}/data-tables/{dataTableId}/rows/{rowId}" Scope(action::ROW_DELETE) => resources::rows::remove, "Delete a row", 200, &[], resp = Success;

    Get "/applications/{applicationId}/experience/groups" Scope(action::GROUPS_GET) => crud::list::<ExperienceGroup>, "List experience groups (advanced query)", 200, LIST_QUERY, resp = List<GroupView>;
    Post "/applications/{applicationId}/experience/groups" Scope(action::GROUPS_POST) => resources::groups::create, "Create an experience group", 201, &[], resp = GroupView, body = rjobs_core::resources::GroupPost;
    Post "/applications/{applicationId}/experience/groups/bulk" Scope(action::GROUPS_POST) => resources::groups::bulk, "Create up to 10,000 groups, all or nothing (extension)", 201, &[], resp = Created, body = Vec<rjobs_core::resources::GroupPost>;
    Get "/applications/{applicationId}/experience/groups/{experienceGroupId}" Scope(action::GROUP_GET) => crud::read::<ExperienceGroup>, "Get an experience group", 200, &[], resp = GroupView;
    Patch "/applications/{applicationId}/experience/groups/{experienceGroupId}" Scope(action::GROUP_PATCH) => resources::groups::update, "Update an experience group", 200, &[], resp = GroupView, body = rjobs_core::resources::GroupPatch;
    Delete "/applications/{applicationId}/experience/groups/{experienceGroupId}" Scope(action::GROUP_DELETE) => crud::remove::<ExperienceGroup>, "Delete an experience group", 200, &[], resp = Success;

    Get "/applications/{applicationId}/experience/users" Scope(action::USERS_GET) => crud::list::<ExperienceUser>, "List experience users (advanced query)", 200, LIST_QUERY, resp = List<UserView>;
    Post "/applications/{applicationId}/experience/users" Scope(action::USERS_POST) => resources::users::create, "Create an experience user", 201, &[], resp = UserView, body = rjobs_core::resources::UserPost;
    Post "/applications/{applicationId}/experience/users/bulk" Scope(action::USERS_POST) => resources::users::bulk, "Create up to 10,000 users, all or nothing (extension)", 201, &[], resp = Created, body = Vec<rjobs_core::resources::UserPost>;
    Get "/applications/{applicationId}/experience/users/{experienceUserId}" Scope(action::USER_GET) => crud::read::<ExperienceUser>, "Get an experience user", 200, &[], resp = UserView;
    Patch "/applications/{applicationId}/experience/users/{experienceUserId}" Scope(action::USER_PATCH) => resources::users::update, "Update an experience user", 200, &[], resp = UserView, body = rjobs_core::resources::UserPatch;
    Delete "/applications/{applicationId}/experience/users/{experienceUserId}" Scope(action::USER_DELETE) => crud::remove::<ExperienceUser>, "Delete an experience user", 200, &[], resp = Success;

    Get "/applications/{applicationId}/resource-jobs" Scope(action::JOBS_GET) => crud::list::<ResourceJob>, "List resource jobs", 200, LIST, resp = List<JobView>;
    Post "/applications/{applicationId}/resource-jobs" Scope(action::JOBS_POST) => jobs::definitions::create, "Create a resource job", 201, &[], resp = JobView, body = jobs::definitions::JobBody;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}" Scope(action::JOB_GET) => crud::read::<ResourceJob>, "Get a resource job", 200, &[], resp = JobView;
    Patch "/applications/{applicationId}/resource-jobs/{resourceJobId}" Scope(action::JOB_PATCH) => jobs::definitions::update, "Update a resource job (answers 201, as the original)", 201, &[], resp = JobView, body = jobs::definitions::JobBody;
    Delete "/applications/{applicationId}/resource-jobs/{resourceJobId}" Scope(action::JOB_DELETE) => jobs::definitions::remove, "Delete a resource job, its executions and optionally its workflows", 200, &["includeWorkflows"], resp = Success;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/execute" Scope(action::JOB_EXECUTE) => jobs::execute::execute, "Execute a resource job (dryRun=true: preview the target set, write nothing; rerunOf: re-drive an execution's failures)", 200, &["dryRun"], resp = jobs::execute::Executed, body = jobs::execute::ExecBody;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/cancelExecution" Scope(action::JOB_CANCEL) => jobs::executions::control::<jobs::executions::Cancel>, "Cancel an execution", 200, EXEC, resp = Success;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/pauseExecution" Scope(action::JOB_PAUSE) => jobs::executions::control::<jobs::executions::Pause>, "Pause an execution: nothing new starts, attempts in flight finish (extension)", 200, EXEC, resp = Success;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/resumeExecution" Scope(action::JOB_RESUME) => jobs::executions::control::<jobs::executions::Resume>, "Resume a paused execution (extension)", 200, EXEC, resp = Success;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/logs" Scope(action::JOB_LOGS) => jobs::executions::logs, "Execution logs, newest first", 200, LOGS, resp = Vec<ExecutionView>;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}" Scope(action::JOB_LOGS) => jobs::executions::one, "One execution (extension)", 200, &[], resp = ExecutionView;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/events" Scope(action::JOB_LOGS) => jobs::events::events, "Live event stream: progress, status, iteration (with iterations=true), done; Last-Event-ID resumes (extension)", 200, &["iterations", "lastEventId"], resp = Text, media = EventStream;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations" Scope(action::JOB_LOGS) => jobs::executions::iterations, "An execution's iterations (extension)", 200, &["status", "page", "perPage"], resp = jobs::executions::IterationList;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations/{iterationId}" Scope(action::JOB_LOGS) => jobs::executions::iteration, "One iteration: status, attempts, times, message, accumulator (extension)", 200, &[], resp = IterationView;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations/{iterationId}/acknowledge" Scope(action::JOB_ACKNOWLEDGE) => jobs::executions::acknowledge, "Acknowledge an iteration (extension)", 200, &[], resp = Success, body = jobs::executions::AckBody;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/iterations/claim" Scope(action::JOB_ACKNOWLEDGE) => jobs::worker::claim, "Claim started attempts for an external worker, long-polling up to waitMs (extension)", 200, &[], resp = jobs::worker::Claimed, body = jobs::worker::ClaimBody;
    Post "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/acknowledge" Scope(action::JOB_ACKNOWLEDGE) => jobs::worker::acknowledge_batch, "Acknowledge up to 1,000 iterations in one commit (extension)", 200, &[], resp = jobs::worker::BatchResults, body = jobs::worker::BatchBody;
    Get "/applications/{applicationId}/resource-jobs/{resourceJobId}/executions/{executionId}/report.csv" ScopeOrSignedLink(action::JOB_LOGS) => jobs::executions::report, "The CSV report (bearer token or signed link)", 200, &["expires", "signature"], resp = Text, media = Csv;

    Get "/applications/{applicationId}/flows" Scope(action::FLOWS_GET) => flows::list, "List workflows", 200, list_query!("triggerFilter"), resp = List<flows::FlowView>;
    Post "/applications/{applicationId}/flows" Scope(action::FLOWS_POST) => flows::create, "Create a workflow", 201, &[], resp = flows::FlowView, body = AnyObject;
    Get "/applications/{applicationId}/flows/{flowId}" Scope(action::FLOW_GET) => crud::read::<FlowRecord>, "Get a workflow", 200, &[], resp = flows::FlowView;
    Patch "/applications/{applicationId}/flows/{flowId}" Scope(action::FLOW_PATCH) => flows::update, "Update a workflow", 200, &[], resp = flows::FlowView, body = AnyObject;
    Delete "/applications/{applicationId}/flows/{flowId}" Scope(action::FLOW_DELETE) => crud::remove::<FlowRecord>, "Delete a workflow", 200, &[], resp = Success;
    Get "/applications/{applicationId}/flows/{flowId}/logs" Scope(action::FLOW_LOGS) => flows::logs, "Recent runs of a workflow", 200, LOGS, resp = Vec<flows::FlowRunView>;

    Get "/applications/{applicationId}/webhooks" Scope(action::WEBHOOKS_GET) => crud::list::<WebhookRecord>, "List webhooks (extension)", 200, LIST, resp = List<webhooks::WebhookView>;
    Post "/applications/{applicationId}/webhooks" Scope(action::WEBHOOKS_POST) => webhooks::create, "Create a signed webhook (the secret is shown once; extension)", 201, &[], resp = webhooks::WebhookCreated, body = webhooks::WebhookPost;
    Get "/applications/{applicationId}/webhooks/{webhookId}" Scope(action::WEBHOOK_GET) => crud::read::<WebhookRecord>, "Get a webhook (extension)", 200, &[], resp = webhooks::WebhookView;
    Patch "/applications/{applicationId}/webhooks/{webhookId}" Scope(action::WEBHOOK_PATCH) => webhooks::update, "Update a webhook (extension)", 200, &[], resp = webhooks::WebhookView, body = webhooks::WebhookPatch;
    Delete "/applications/{applicationId}/webhooks/{webhookId}" Scope(action::WEBHOOK_DELETE) => crud::remove::<WebhookRecord>, "Delete a webhook and its pending deliveries (extension)", 200, &[], resp = Success;
    Get "/applications/{applicationId}/webhooks/{webhookId}/deliveries" Scope(action::WEBHOOK_GET) => webhooks::deliveries, "Recent delivery attempts, newest first (extension)", 200, &["limit"], resp = webhooks::Deliveries;
}

/// The API's routes, each wrapped in its guard.
pub(super) fn api(state: &AppState) -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for (route, handler) in ROUTES.iter().zip(handlers()) {
        let handler = match route.guard {
            Guard::Public => handler,
            guard => handler.layer(axum::middleware::from_fn_with_state(
                (state.clone(), guard),
                check,
            )),
        };
        router = router.route(route.path, handler);
    }
    router
}

/// The guard of a route: authenticates the caller (401), checks the application of the path
/// (400 for a malformed id, 403 for another application's token) and the action's scopes (403),
/// then hands the [`Principal`] to the handler.
async fn check(
    State((state, guard)): State<(AppState, Guard)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(action) = guard.action() else {
        return next.run(req).await;
    };
    let signed = matches!(guard, Guard::ScopeOrSignedLink(_))
        && req
            .uri()
            .query()
            .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "signature"));
    if signed {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match authorize(&mut parts, &state, &action).await {
        Ok(who) => {
            parts.extensions.insert(who);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

async fn authorize(
    parts: &mut axum::http::request::Parts,
    state: &AppState,
    action: &Action,
) -> ApiResult<Principal> {
    let who = Principal::from_request_parts(parts, state).await?;
    let path = PathParams::from_request_parts(parts, state).await?;
    let app = match path.0.contains_key("applicationId") {
        true => Some(path.id("applicationId")?),
        false => None,
    };
    who.authorize(action, app.as_ref())?;
    Ok(who)
}
