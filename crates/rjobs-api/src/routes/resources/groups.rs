//! `/applications/{applicationId}/experience/groups[/{experienceGroupId}]` and the
//! `/experience/groups/bulk` extension. Groups form a tree: a parent must exist in the same
//! application and a change of parent must not make a group its own ancestor.

use std::collections::HashSet;

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::ListSpec;
use rjobs_core::resources::{ExperienceGroup, GroupPatch, GroupPost, GroupView};
use rjobs_core::Id;
use rjobs_query::ResourceType;

use super::{check_bulk_len, validate_all};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonArray, JsonBody, PathParams};
use crate::routes::applications::load_app;
use crate::routes::crud::{self};
use crate::state::AppState;
use crate::views::{Created, Reply};

const LIST: ListSpec = crud::named_list!([], ["name"]);

/// The ids one kind of reference of a group points at.
type RefsOf = fn(&ExperienceGroup) -> Vec<Id>;

/// 400 naming the first reference of `groups` (item `i` when `indexed`) that does not exist.
async fn check_group_refs(
    state: &AppState,
    app: &Id,
    groups: &[ExperienceGroup],
    indexed: bool,
) -> ApiResult<()> {
    let refs: [(ResourceType, &str, RefsOf); 3] = [
        (ResourceType::ExperienceGroup, "parentId", |g| {
            g.parent_id.iter().cloned().collect()
        }),
        (ResourceType::ExperienceUser, "experienceUserIds", |g| {
            g.user_ids.clone()
        }),
        (ResourceType::Device, "deviceIds", |g| g.device_ids.clone()),
    ];
    for (rt, field, get) in refs {
        let wanted: HashSet<Id> = groups.iter().flat_map(get).collect();
        if wanted.is_empty() {
            continue;
        }
        let wanted: Vec<Id> = wanted.into_iter().collect();
        let found: HashSet<Id> = state
            .store
            .existing_ids(app, rt, &wanted)
            .await?
            .into_iter()
            .collect();
        for (i, g) in groups.iter().enumerate() {
            for (j, id) in get(g).iter().enumerate() {
                if !found.contains(id) {
                    let prefix = if indexed {
                        format!("[{i}].")
                    } else {
                        String::new()
                    };
                    let at = if field == "parentId" {
                        String::new()
                    } else {
                        format!("[{j}]")
                    };
                    return Err(ApiError::validation(format!(
                        "{prefix}{field}{at}: {id} was not found in this application"
                    )));
                }
            }
        }
    }
    Ok(())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<GroupPost>,
) -> ApiResult<(StatusCode, Reply<GroupView>)> {
    let app = load_app(&state, &path).await?;
    let now = state.clock.now();
    let g = body.into_group(state.ids.next(now), app.id.clone(), now)?;
    check_group_refs(&state, &app.id, std::slice::from_ref(&g), false).await?;
    state.store.insert_groups(std::slice::from_ref(&g)).await?;
    Ok((StatusCode::CREATED, Reply(g.view())))
}

pub(crate) async fn bulk(
    State(state): State<AppState>,
    path: PathParams,
    JsonArray(items): JsonArray<GroupPost>,
) -> ApiResult<(StatusCode, Reply<Created>)> {
    let app = load_app(&state, &path).await?;
    check_bulk_len(items.len())?;
    let now = state.clock.now();
    let groups = validate_all(items, |b| {
        b.into_group(state.ids.next(now), app.id.clone(), now)
    })?;
    check_group_refs(&state, &app.id, &groups, true).await?;
    state.store.insert_groups(&groups).await?;
    Ok((
        StatusCode::CREATED,
        Created::of(groups.iter().map(|g| &g.id)),
    ))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    path: PathParams,
    JsonBody(body): JsonBody<GroupPatch>,
) -> ApiResult<Reply<GroupView>> {
    let g = crud::load::<ExperienceGroup>(&state, &path).await?;
    let next = body.apply(&g, state.clock.now())?;
    let app = &g.application_id;
    if next.parent_id != g.parent_id {
        if let Some(p) = &next.parent_id {
            let chain = state.store.group_ancestors(app, p).await?;
            if chain.is_empty() {
                return Err(ApiError::validation(format!(
                    "parentId: {p} was not found in this application"
                )));
            }
            if chain.contains(&g.id) {
                return Err(ApiError::validation(
                    "parentId: a group cannot be its own ancestor",
                ));
            }
        }
    }
    let mut refs = next.clone();
    refs.parent_id = None;
    check_group_refs(&state, app, std::slice::from_ref(&refs), false).await?;
    if !state.store.update_group(&next).await? {
        return Err(ApiError::not_found("Experience group"));
    }
    Ok(Reply(next.view()))
}

crud::owned!(
    ExperienceGroup,
    "Experience group",
    "experienceGroupId",
    LIST,
    get: get_group,
    page(s, app, p, q): s.list_groups(app, p, q),
    delete: delete_group,
    view(GroupView): ExperienceGroup::view,
    query: ResourceType::ExperienceGroup
);
