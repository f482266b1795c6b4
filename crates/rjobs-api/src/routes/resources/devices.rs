//! `/applications/{applicationId}/devices`, `/devices/{deviceId}`,
//! `/devices/{deviceId}/setConnectionStatus` and the `/devices/bulk` extension.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::resources::{Device, DevicePatch, DevicePost};
use rjobs_core::Timestamp;
use rjobs_query::ResourceType;
use serde::Deserialize;
use serde_json::Value;

use super::{bulk_created, check_bulk_len, list_query, success, validate_all, with_query};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonArray, JsonBody, NoBody, Params, PathParams};
use crate::routes::applications::load_app;
use crate::state::AppState;
use crate::views;

const LIST: ListSpec = ListSpec {
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

pub(crate) async fn list(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Json<Value>> {
    let app = load_app(&state, &path).await?;
    let p = ListParams::parse(&LIST, &q)?;
    let query = list_query(ResourceType::Device, &q)?;
    let (parsed, echo) = query.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let page = state
        .store
        .list_devices(&app.id, &p, parsed.as_ref())
        .await?;
    let items = page.items.iter().map(Device::to_json).collect();
    let env = views::envelope(items, page.total_count, &p, Some(&app.id));
    Ok(Json(with_query(env, echo)))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<DevicePost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let d = body.into_device(state.ids.next(now), app.id, now)?;
    state.store.insert_devices(std::slice::from_ref(&d)).await?;
    Ok((StatusCode::CREATED, Json(d.to_json())))
}

pub(crate) async fn bulk(
    State(state): State<AppState>,
    path: PathParams,
    JsonArray(items): JsonArray<DevicePost>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let app = load_app(&state, &path).await?;
    check_bulk_len(items.len())?;
    let now = state.clock.now();
    let devices = validate_all(items, |b| {
        b.into_device(state.ids.next(now), app.id.clone(), now)
    })?;
    state.store.insert_devices(&devices).await?;
    Ok((
        StatusCode::CREATED,
        Json(bulk_created(devices.iter().map(|d| &d.id))),
    ))
}

async fn load(state: &AppState, path: &PathParams) -> ApiResult<Device> {
    let app = load_app(state, path).await?;
    let id = path.id("deviceId")?;
    state
        .store
        .get_device(&app.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Device"))
}

pub(crate) async fn read(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Json<Value>> {
    let d = load(&state, &path).await?;
    Ok(Json(d.to_json()))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<DevicePatch>,
) -> ApiResult<Json<Value>> {
    let d = load(&state, &path).await?;
    let next = body.apply(&d, state.clock.now())?;
    if !state.store.update_device(&next).await? {
        return Err(ApiError::not_found("Device"));
    }
    Ok(Json(next.to_json()))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Json<Value>> {
    let d = load(&state, &path).await?;
    if !state.store.delete_device(&d.application_id, &d.id).await? {
        return Err(ApiError::not_found("Device"));
    }
    Ok(Json(success()))
}

/// `deviceConnectionStatus.json`: the status plus optional instants; the rest is accepted and
/// ignored (rjobs keeps no connection log).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ConnectionStatus {
    status: String,
    connected_at: Option<Value>,
    disconnected_at: Option<Value>,
    #[serde(default)]
    ip_address: Option<Value>,
    #[serde(default)]
    disconnect_reason: Option<Value>,
    #[serde(default)]
    messages_from_client: Option<Value>,
    #[serde(default)]
    messages_to_client: Option<Value>,
}

/// A time given as RFC 3339 text, epoch milliseconds or `{"$date": text}`.
fn instant(field: &str, v: &Value) -> ApiResult<Timestamp> {
    let bad = || {
        ApiError::validation(format!(
            "{field}: must be a date-time or epoch milliseconds"
        ))
    };
    match v {
        Value::String(s) => Timestamp::parse_rfc3339(s).ok_or_else(bad),
        Value::Number(n) => n.as_i64().map(Timestamp::from_millis).ok_or_else(bad),
        Value::Object(m) => match m.get("$date") {
            Some(Value::String(s)) if m.len() == 1 => Timestamp::parse_rfc3339(s).ok_or_else(bad),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

pub(crate) async fn set_connection_status(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<ConnectionStatus>,
) -> ApiResult<Json<Value>> {
    let _ = (
        &body.ip_address,
        &body.disconnect_reason,
        &body.messages_from_client,
        &body.messages_to_client,
    );
    let d = load(&state, &path).await?;
    let now = state.clock.now();
    let (connected, at) = match body.status.as_str() {
        "connected" => {
            if body.disconnected_at.is_some() {
                return Err(ApiError::validation(
                    "disconnectedAt: not allowed when status is connected",
                ));
            }
            (
                true,
                body.connected_at
                    .as_ref()
                    .map(|v| instant("connectedAt", v)),
            )
        }
        "disconnected" => (
            false,
            body.disconnected_at
                .as_ref()
                .map(|v| instant("disconnectedAt", v)),
        ),
        _ => {
            return Err(ApiError::validation(
                "status: must be connected or disconnected",
            ))
        }
    };
    let at = at.transpose()?.unwrap_or(now);
    if !state
        .store
        .set_device_connection(&d.application_id, &d.id, connected, at, now)
        .await?
    {
        return Err(ApiError::not_found("Device"));
    }
    Ok(Json(success()))
}
