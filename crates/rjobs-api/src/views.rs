//! What every answer shares: [`Reply`], the one way a handler answers JSON (the value is a typed
//! view deriving `Serialize` and `JsonSchema`, so the response schema in `/openapi.json` is the
//! schema of the type that is serialized), the collection envelope [`List`], and the small
//! answers `{success}` and `{created, ids}`. Views specific to one resource live in its module
//! under `routes/`; those the engine shares (jobs, executions, iterations) in
//! `rjobs_engine::views`, and the resources' own in `rjobs_core::resources`.
//!
//! Route rows name the view type (`resp = T`), and [`Answers`] makes the compiler check that the
//! row's handler really answers `T`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rjobs_core::list::ListParams;
use rjobs_core::Id;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

/// A JSON answer of view type `T`. It is rendered through a [`Value`], whose object keys are
/// sorted, so the bytes on the wire do not depend on the order of the view's fields. A view that
/// does not serialize (it cannot happen for plain data, but a view is code) is a logged 500,
/// never a `null` answered as success.
#[derive(Debug)]
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(v) => Json(v).into_response(),
            Err(e) => crate::error::ApiError::internal(&e).into_response(),
        }
    }
}

/// An answer whose success body has the schema of `T`: [`Reply<T>`], with a status, in a result.
/// A hand-built [`Response`] answers only [`Text`]: what it holds is not a type the compiler
/// sees, so it is kept to the rows whose media is not JSON (the CSV report, the event stream,
/// the metrics).
pub trait Answers<T> {}
impl<T> Answers<T> for Reply<T> {}
impl<T> Answers<T> for (StatusCode, Reply<T>) {}
impl<T, R: Answers<T>, E> Answers<T> for Result<R, E> {}
impl Answers<Text> for Response {}

/// A handler (an async fn of any arity up to six extractors) whose answer [`Answers`] `T`.
pub trait Returns<T, Args> {}
macro_rules! returns {
    ($($a:ident),*) => {
        impl<F, Fut, R, T, $($a,)*> Returns<T, ($($a,)*)> for F
        where
            F: FnOnce($($a),*) -> Fut,
            Fut: std::future::Future<Output = R>,
            R: Answers<T>,
        {
        }
    };
}
returns!();
returns!(A1);
returns!(A1, A2);
returns!(A1, A2, A3);
returns!(A1, A2, A3, A4);
returns!(A1, A2, A3, A4, A5);
returns!(A1, A2, A3, A4, A5, A6);

/// Compiles only if `handler` answers `T` (the route table calls it for every row).
pub fn answers<T, Args, H: Returns<T, Args>>(_handler: &H) {}

/// A body that is text, not JSON (the CSV report, the event stream, the Prometheus metrics).
pub struct Text;

impl JsonSchema for Text {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Text".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string"})
    }
}

/// The collection envelope `{items, count, totalCount, perPage, page, sortField, sortDirection,
/// filterField?, filter?, applicationId?, query?}`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "{T}List")]
pub struct List<T> {
    /// The page.
    pub items: Vec<T>,
    /// Items on this page.
    pub count: usize,
    /// Items matching, over all pages.
    pub total_count: u64,
    /// Page size.
    pub per_page: u32,
    /// Page number, from 0.
    pub page: u32,
    /// The field sorted on.
    pub sort_field: &'static str,
    /// `asc` or `desc`.
    pub sort_direction: &'static str,
    /// The field filtered on, with a filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_field: Option<&'static str>,
    /// The filter (`*` wildcards).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The application listed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<Id>,
    /// The advanced query, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<Value>,
}

impl<T> List<T> {
    /// The envelope of a page of `items` out of `total`, listed with `p` (in application `app`).
    pub fn new(items: Vec<T>, total: u64, p: &ListParams, app: Option<&Id>) -> Self {
        let (filter_field, filter) = match (p.filter_field, &p.filter) {
            (Some(f), Some(v)) => (Some(f), Some(v.clone())),
            _ => (None, None),
        };
        List {
            count: items.len(),
            items,
            total_count: total,
            per_page: p.per_page,
            page: p.page,
            sort_field: p.sort_field,
            sort_direction: p.sort_direction.as_str(),
            filter_field,
            filter,
            application_id: app.cloned(),
            query: None,
        }
    }

    /// With the advanced query echoed.
    pub fn with_query(self, query: Option<Value>) -> Self {
        List { query, ..self }
    }
}

/// `{"success": true}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Success {
    /// Always true.
    pub success: bool,
}

/// `{"success": true}`.
pub fn success() -> Reply<Success> {
    Reply(Success { success: true })
}

/// The bulk answer `{created, ids}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Created {
    /// How many were created.
    pub created: usize,
    /// Their ids, in the order of the body.
    pub ids: Vec<Id>,
}

impl Created {
    /// The answer for these ids.
    pub fn of<'a>(ids: impl Iterator<Item = &'a Id>) -> Reply<Created> {
        let ids: Vec<Id> = ids.cloned().collect();
        Reply(Created {
            created: ids.len(),
            ids,
        })
    }
}

/// A JSON object of any shape (workflow definitions, checked by `rjobs-flow`).
pub type AnyObject = Map<String, Value>;
