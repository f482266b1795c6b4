//! The handler shapes every application-owned resource shares: load one by its path id (a 404
//! naming the resource), read it, list a page in the original's envelope (with the advanced
//! `?query=` where the resource has one), delete it. A resource implements [`Owned`] in its own
//! module; its rows in [`super::table`] then name `crud::read::<R>`, `crud::list::<R>` and
//! `crud::remove::<R>`. What differs between resources (validation on create and update, extra
//! effects of a delete, extra list filters) stays in the resource's module.

use async_trait::async_trait;
use axum::extract::State;
use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::Id;
use rjobs_query::{Query, ResourceType};
use rjobs_store::{Page, Store, StoreError};
use schemars::JsonSchema;
use serde::Serialize;

use super::applications::load_app;
use super::resources::list_query;
use crate::error::{ApiError, ApiResult};
use crate::extract::{NoBody, Params, PathParams};
use crate::state::AppState;
use crate::views::{success, List, Reply, Success};

/// A record owned by one application and addressed by one path id.
#[async_trait]
pub(crate) trait Owned: Sized + Send + 'static {
    /// Its name in a 404: `"<NAME> was not found"`.
    const NAME: &'static str;
    /// Its id's path parameter, e.g. `deviceId`.
    const ID: &'static str;
    /// Its list's sort and filter fields.
    const LIST: ListSpec;
    /// The resource type of its advanced `?query=`, if its list takes one.
    const QUERY: Option<ResourceType> = None;

    /// One record of application `app`.
    async fn get(s: &dyn Store, app: &Id, id: &Id) -> Result<Option<Self>, StoreError>;
    /// A page of application `app`'s records.
    async fn page(
        s: &dyn Store,
        app: &Id,
        p: &ListParams,
        q: Option<&Query>,
    ) -> Result<Page<Self>, StoreError>;
    /// Deletes one; false if it did not exist.
    async fn delete(s: &dyn Store, app: &Id, id: &Id) -> Result<bool, StoreError>;
    /// The record as the API shows it.
    type View: Serialize + JsonSchema + Send;
    /// The record's view.
    fn view(&self) -> Self::View;
}

/// The record in the path (404 if it, or its application, does not exist).
pub(crate) async fn load<R: Owned>(state: &AppState, path: &PathParams) -> ApiResult<R> {
    let app = load_app(state, path).await?;
    let id = path.id(R::ID)?;
    R::get(state.store.as_ref(), &app.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::NAME))
}

/// `GET …/{id}`.
pub(crate) async fn read<R: Owned>(
    State(state): State<AppState>,
    path: PathParams,
) -> ApiResult<Reply<R::View>> {
    Ok(Reply(load::<R>(&state, &path).await?.view()))
}

/// `GET …`: a page in the original's envelope; the parsed `query`, if any, is echoed.
pub(crate) async fn list<R: Owned>(
    State(state): State<AppState>,
    path: PathParams,
    Params(q): Params,
) -> ApiResult<Reply<List<R::View>>> {
    let app = load_app(&state, &path).await?;
    let p = ListParams::parse(&R::LIST, &q)?;
    let (query, echo) = match R::QUERY {
        Some(rt) => list_query(rt, &q)?.map_or((None, None), |(a, b)| (Some(a), Some(b))),
        None => (None, None),
    };
    let page = R::page(state.store.as_ref(), &app.id, &p, query.as_ref()).await?;
    let items = page.items.iter().map(R::view).collect();
    let env = List::new(items, page.total_count, &p, Some(&app.id));
    Ok(Reply(env.with_query(echo)))
}

/// `DELETE …/{id}`: `{"success": true}`, or a 404.
pub(crate) async fn remove<R: Owned>(
    State(state): State<AppState>,
    path: PathParams,
    _: NoBody,
) -> ApiResult<Reply<Success>> {
    delete::<R>(&state, &path).await?;
    Ok(success())
}

/// Loads and deletes the record in the path; the deleted record, for callers with more to do.
pub(crate) async fn delete<R: Owned>(state: &AppState, path: &PathParams) -> ApiResult<R> {
    let r = load::<R>(state, path).await?;
    let app = path.id("applicationId")?;
    let id = path.id(R::ID)?;
    if !R::delete(state.store.as_ref(), &app, &id).await? {
        return Err(ApiError::not_found(R::NAME));
    }
    Ok(r)
}

/// The list spec of a named resource: sorted by `name`, `id`, `creationDate`, `lastUpdated` and
/// the `extra` fields, filtered by `filter`, 100 a page (applications, devices, data tables,
/// groups, jobs, workflows).
macro_rules! named_list {
    ([$($extra:literal),*], [$($filter:literal),*]) => {
        rjobs_core::list::ListSpec {
            sort_fields: &["name", "id", "creationDate", "lastUpdated", $($extra),*],
            filter_fields: &[$($filter),*],
            default_per_page: 100,
        }
    };
}
pub(crate) use named_list;

/// Implements [`Owned`] for a record from its store calls:
///
/// ```ignore
/// owned!(ApiToken, "API token", "apiTokenId", LIST,
///     get: get_api_token, page(s, app, p, _q): s.list_api_tokens(app, p),
///     delete: delete_api_token, view(TokenView): TokenView::of);
/// ```
///
/// `query: ResourceType::Device` (last) makes its list take the advanced `?query=`.
macro_rules! owned {
    ($t:ty, $name:literal, $id:literal, $list:expr,
     get: $get:ident, page($s:ident, $app:ident, $p:ident, $q:ident): $page:expr,
     delete: $del:ident, view($vt:ty): $view:path $(, query: $rt:expr)?) => {
        #[async_trait::async_trait]
        impl $crate::routes::crud::Owned for $t {
            const NAME: &'static str = $name;
            const ID: &'static str = $id;
            const LIST: rjobs_core::list::ListSpec = $list;
            $(const QUERY: Option<rjobs_query::ResourceType> = Some($rt);)?
            async fn get(
                s: &dyn rjobs_store::Store,
                app: &rjobs_core::Id,
                id: &rjobs_core::Id,
            ) -> Result<Option<Self>, rjobs_store::StoreError> {
                s.$get(app, id).await
            }
            #[allow(unused_variables)]
            async fn page(
                $s: &dyn rjobs_store::Store,
                $app: &rjobs_core::Id,
                $p: &rjobs_core::list::ListParams,
                $q: Option<&rjobs_query::Query>,
            ) -> Result<rjobs_store::Page<Self>, rjobs_store::StoreError> {
                $page.await
            }
            async fn delete(
                s: &dyn rjobs_store::Store,
                app: &rjobs_core::Id,
                id: &rjobs_core::Id,
            ) -> Result<bool, rjobs_store::StoreError> {
                s.$del(app, id).await
            }
            type View = $vt;
            fn view(&self) -> $vt {
                $view(self)
            }
        }
    };
}
pub(crate) use owned;
