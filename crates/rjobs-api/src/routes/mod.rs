//! The router: every path of the API (from the one route table, [`table`]), the JSON fallbacks for unknown paths and methods, panic
//! catching (a panicking handler answers 500 `InternalError`, the server lives on) and tracing.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;
use crate::views::Reply;

mod applications;
pub(crate) mod crud;
mod flows;
mod jobs;
mod resources;
pub mod table;
mod tokens;
mod webhooks;

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(table::api(&state))
        .merge(crate::ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /health`: `{status, database}` plus each component's status under its name (the MQTT
/// connection); 503 with `{"status": "unavailable", "database": "unreachable"}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// `reachable` or `unreachable`.
    database: &'static str,
    /// Components by name (reported, never making the server unhealthy).
    #[serde(flatten)]
    components: BTreeMap<&'static str, Value>,
}

async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (StatusCode, Reply<Health>) {
    match state.store.ping().await {
        Ok(()) => {
            let components = state.engine.component_status().into_iter().collect();
            let body = Health {
                status: "ok",
                database: "reachable",
                components,
            };
            (StatusCode::OK, Reply(body))
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            let body = Health {
                status: "unavailable",
                database: "unreachable",
                components: BTreeMap::new(),
            };
            (StatusCode::SERVICE_UNAVAILABLE, Reply(body))
        }
    }
}

/// Counts every request by method, matched route (not the raw path, so ids do not explode the
/// label set) and status, and times it.
async fn track(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    #[allow(clippy::disallowed_methods)] // latency measurement only
    let began = std::time::Instant::now();
    let resp = next.run(req).await;
    let m = state.engine.metrics();
    m.http_duration
        .with_label_values(&[&route])
        .observe(began.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[&method, &route, resp.status().as_str()])
        .inc();
    resp
}

/// The longest request target (path and query), in bytes; longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most request header bytes (names and values) and header lines; more is a 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// See [`MAX_HEADER_BYTES`].
pub const MAX_HEADERS: usize = 100;

/// Rejections the server writes before a handler runs, in the `{type, message}` shape: 414 for a
/// long URI, 431 for large headers, an early 413 when the declared `Content-Length` is over the
/// body limit (nothing is read), and 408 when the handler does not answer within the request
/// timeout.
async fn guard(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            ErrorKind::UriTooLong,
            format!("The request URI is {uri_len} bytes; at most {MAX_URI_BYTES} are allowed"),
        )
        .into_response();
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            ErrorKind::HeadersTooLarge,
            format!(
                "The request has {} headers of {header_bytes} bytes; at most {MAX_HEADERS} \
                 headers of {MAX_HEADER_BYTES} bytes are allowed",
                headers.len()
            ),
        )
        .into_response();
    }
    let limit = state.settings.body_limit;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::new(
            ErrorKind::PayloadTooLarge,
            format!("Request body is larger than the limit of {limit} bytes"),
        )
        .into_response();
    }
    let timeout = state.settings.request_timeout;
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            ErrorKind::Timeout,
            format!(
                "The request was not answered within {} ms",
                timeout.as_millis()
            ),
        )
        .into_response(),
    }
}

/// `GET /openapi.json`.
async fn openapi(axum::extract::State(state): axum::extract::State<AppState>) -> Reply<Value> {
    Reply(crate::openapi::document(&state.settings.public_url))
}

/// `GET /cluster`: node identity, every node's heartbeat and dispatch count, every lease.
async fn cluster(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Reply<Value>, ApiError> {
    Ok(Reply(state.engine.cluster_status().await?))
}

/// `GET /metrics`: Prometheus text format. Open to anyone unless the `metrics_public` setting is
/// false, then only to an admin token (401 without a token, 403 with an application token).
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
) -> Response {
    if !state.settings.metrics_public {
        use axum::extract::FromRequestParts;
        let (mut parts, _) = req.into_parts();
        match crate::auth::Principal::from_request_parts(&mut parts, &state).await {
            Ok(crate::auth::Principal::Admin(_)) => {}
            Ok(crate::auth::Principal::Token(_)) => {
                return ApiError::new(
                    ErrorKind::Forbidden,
                    "/metrics needs the admin token (the metrics_public setting is false)",
                )
                .into_response()
            }
            Err(e) => return e.into_response(),
        }
    }
    let m = state.engine.metrics();
    match state.store.executions_by_status().await {
        Ok(rows) => {
            m.executions.reset();
            for (status, n) in rows {
                m.executions.with_label_values(&[&status]).set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot count executions"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        m.render(),
    )
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("Path {} was not found", uri.path()),
    )
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("Method {method} is not allowed on {}", uri.path()),
    )
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(&"a request handler panicked").into_response()
}
