//! `/applications/{applicationId}/devices`, `/devices/{deviceId}`,
//! `/devices/{deviceId}/setConnectionStatus` and the `/devices/bulk` extension.

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::ListSpec;
use rjobs_core::resources::{Device, DevicePatch, DevicePost, DeviceView};
use rjobs_core::Timestamp;
use rjobs_query::ResourceType;
use serde::Deserialize;
use serde_json::Value;

use super::{check_bulk_len, validate_all};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonArray, JsonBody, PathParams};
use crate::routes::applications::load_app;
use crate::routes::crud;
use crate::state::AppState;
use crate::views::{success, Created, Reply, Success};

const LIST: ListSpec = crud::named_list!(["deviceClass", "connectionStatus"], ["name"]);

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<DevicePost>,
) -> ApiResult<(StatusCode, Reply<DeviceView>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let d = body.into_device(state.ids.next(now), app.id, now)?;
    state.store.insert_devices(std::slice::from_ref(&d)).await?;
    Ok((StatusCode::CREATED, Reply(d.view())))
}

pub(crate) async fn bulk(
    State(state): State<AppState>,
    path: PathParams,
    JsonArray(items): JsonArray<DevicePost>,
) -> ApiResult<(StatusCode, Reply<Created>)> {
    let app = load_app(&state, &path).await?;
    check_bulk_len(items.len())?;
    let now = state.clock.now();
    let devices = validate_all(items, |b| {
        b.into_device(state.ids.next(now), app.id.clone(), now)
    })?;
    state.store.insert_devices(&devices).await?;
    Ok((
        StatusCode::CREATED,
        Created::of(devices.iter().map(|d| &d.id)),
    ))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<DevicePatch>,
) -> ApiResult<Reply<DeviceView>> {
    let d = crud::load::<Device>(&state, &path).await?;
    let next = body.apply(&d, state.clock.now())?;
    if !state.store.update_device(&next).await? {
        return Err(ApiError::not_found("Device"));
    }
    Ok(Reply(next.view()))
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
) -> ApiResult<Reply<Success>> {
    let _ = (
        &body.ip_address,
        &body.disconnect_reason,
        &body.messages_from_client,
        &body.messages_to_client,
    );
    let d = crud::load::<Device>(&state, &path).await?;
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
    Ok(success())
}

crud::owned!(
    Device,
    "Device",
    "deviceId",
    LIST,
    get: get_device,
    page(s, app, p, q): s.list_devices(app, p, q),
    delete: delete_device,
    view(DeviceView): Device::view,
    query: ResourceType::Device
);
