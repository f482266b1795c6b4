//! `/applications` and `/applications/{applicationId}`.

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::model::Application;
use rjobs_core::{Id, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, NoBody, Params, PathParams};
use crate::routes::crud;
use crate::state::AppState;
use crate::views::{success, List, Reply, Success};

const LIST: ListSpec = crud::named_list!([], ["name"]);

/// The application in the path (404 if absent); its guard has authorized the caller.
pub(crate) async fn load_app(state: &AppState, path: &PathParams) -> ApiResult<Application> {
    let app_id = path.id("applicationId")?;
    state
        .store
        .get_application(&app_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Application"))
}

/// An application as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppView {
    /// Id.
    id: Id,
    /// The same id.
    application_id: Id,
    /// Name.
    name: String,
    /// Description.
    description: String,
    /// Creation instant.
    creation_date: Timestamp,
    /// Last change.
    last_updated: Timestamp,
}

impl From<&Application> for AppView {
    fn from(a: &Application) -> Self {
        AppView {
            id: a.id.clone(),
            application_id: a.id.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            creation_date: a.creation_date,
            last_updated: a.last_updated,
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppPost {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AppPatch {
    name: Option<String>,
    description: Option<String>,
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::validation(
            "name: must be between 1 and 255 characters",
        ));
    }
    Ok(())
}

fn check_description(d: &str) -> ApiResult<()> {
    if d.chars().count() > 32767 {
        return Err(ApiError::validation(
            "description: must be at most 32767 characters",
        ));
    }
    Ok(())
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Params(q): Params,
) -> ApiResult<Reply<List<AppView>>> {
    let p = ListParams::parse(&LIST, &q)?;
    let page = state.store.list_applications(&p).await?;
    let items = page.items.iter().map(AppView::from).collect();
    Ok(Reply(List::new(items, page.total_count, &p, None)))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<AppPost>,
) -> ApiResult<(StatusCode, Reply<AppView>)> {
    check_name(&body.name)?;
    check_description(&body.description)?;
    let now = state.clock.now();
    let app = Application {
        id: state.ids.next(now),
        name: body.name,
        description: body.description,
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    state.store.insert_application(&app).await?;
    Ok((StatusCode::CREATED, Reply(AppView::from(&app))))
}

pub(crate) async fn read(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Reply<AppView>> {
    let app = load_app(&state, &path).await?;
    Ok(Reply(AppView::from(&app)))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<AppPatch>,
) -> ApiResult<Reply<AppView>> {
    let app = load_app(&state, &path).await?;
    let mut next = app.clone();
    if let Some(n) = body.name {
        check_name(&n)?;
        next.name = n;
    }
    if let Some(d) = body.description {
        check_description(&d)?;
        next.description = d;
    }
    next.last_updated = state.clock.now();
    next.version = app.version + 1;
    state.store.update_application(&next, app.version).await?;
    Ok(Reply(AppView::from(&next)))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Reply<Success>> {
    let app: Id = load_app(&state, &path).await?.id;
    if !state.store.delete_application(&app).await? {
        return Err(ApiError::not_found("Application"));
    }
    Ok(success())
}
