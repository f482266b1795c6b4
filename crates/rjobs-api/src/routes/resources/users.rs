//! `/applications/{applicationId}/experience/users[/{experienceUserId}]` and the
//! `/experience/users/bulk` extension. Emails are unique per application (400 naming `email`);
//! passwords are hashed with Argon2id (see [`super::password`]) and never rendered.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::ListSpec;
use rjobs_core::resources::{ExperienceUser, UserPatch, UserPost, UserView};
use rjobs_core::Id;
use rjobs_query::ResourceType;

use super::{check_bulk_len, password, validate_all};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonArray, JsonBody, PathParams};
use crate::routes::applications::load_app;
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::{Created, Reply};

const LIST: ListSpec = ListSpec {
    sort_fields: &[
        "email",
        "firstName",
        "lastName",
        "id",
        "creationDate",
        "lastUpdated",
        "lastLogin",
    ],
    filter_fields: &["email", "firstName", "lastName"],
    default_per_page: 100,
};

/// 400 naming the first group id of `users` that does not exist in the application.
async fn check_groups(
    state: &AppState,
    app: &Id,
    users: &[ExperienceUser],
    indexed: bool,
) -> ApiResult<()> {
    let wanted: HashSet<Id> = users
        .iter()
        .flat_map(|u| u.group_ids.iter().cloned())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let wanted: Vec<Id> = wanted.into_iter().collect();
    let found: HashSet<Id> = state
        .store
        .existing_ids(app, ResourceType::ExperienceGroup, &wanted)
        .await?
        .into_iter()
        .collect();
    for (i, u) in users.iter().enumerate() {
        if let Some((j, id)) = u
            .group_ids
            .iter()
            .enumerate()
            .find(|(_, g)| !found.contains(*g))
        {
            let prefix = if indexed {
                format!("[{i}].")
            } else {
                String::new()
            };
            return Err(ApiError::validation(format!(
                "{prefix}experienceGroupIds[{j}]: {id} was not found in this application"
            )));
        }
    }
    Ok(())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<UserPost>,
) -> ApiResult<(StatusCode, Reply<UserView>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let (mut u, pw) = body.into_user(state.ids.next(now), app.id.clone(), now)?;
    check_groups(&state, &app.id, std::slice::from_ref(&u), false).await?;
    u.password_hash = password::hash(state.settings.password_cost, pw).await?;
    state.store.insert_users(std::slice::from_ref(&u)).await?;
    Ok((StatusCode::CREATED, Reply(u.view())))
}

pub(crate) async fn bulk(
    State(state): State<AppState>,
    path: PathParams,
    JsonArray(items): JsonArray<UserPost>,
) -> ApiResult<(StatusCode, Reply<Created>)> {
    let app = load_app(&state, &path).await?;
    check_bulk_len(items.len())?;
    let now = state.clock.now();
    let pairs = validate_all(items, |b| {
        b.into_user(state.ids.next(now), app.id.clone(), now)
    })?;
    let (mut users, passwords): (Vec<ExperienceUser>, Vec<String>) = pairs.into_iter().unzip();
    check_groups(&state, &app.id, &users, true).await?;
    for (u, h) in users
        .iter_mut()
        .zip(password::hash_many(state.settings.password_cost, passwords).await?)
    {
        u.password_hash = h;
    }
    state.store.insert_users(&users).await?;
    Ok((
        StatusCode::CREATED,
        Created::of(users.iter().map(|u| &u.id)),
    ))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<UserPatch>,
) -> ApiResult<Reply<UserView>> {
    let u = crud::load::<ExperienceUser>(&state, &path).await?;
    let (mut next, pw) = body.apply(&u, state.clock.now())?;
    check_groups(
        &state,
        &u.application_id,
        std::slice::from_ref(&next),
        false,
    )
    .await?;
    if let Some(pw) = pw {
        next.password_hash = password::hash(state.settings.password_cost, pw).await?;
    }
    if !state.store.update_user(&next).await? {
        return Err(ApiError::not_found("Experience user"));
    }
    Ok(Reply(next.view()))
}

crud::owned!(
    ExperienceUser,
    "Experience user",
    "experienceUserId",
    LIST,
    get: get_user,
    page(s, app, p, q): s.list_users(app, p, q),
    delete: delete_user,
    view(UserView): ExperienceUser::view,
    query: ResourceType::ExperienceUser
);
