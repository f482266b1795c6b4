//! Response shapes in the original API's field names: the collection envelope and the records.

use rjobs_core::list::ListParams;
use rjobs_core::model::{ApiToken, Application};
use rjobs_core::Id;
use serde_json::{json, Map, Value};

/// The collection envelope `{items, count, totalCount, perPage, page, sortField, sortDirection,
/// filterField?, filter?, applicationId?}`.
pub fn envelope(items: Vec<Value>, total: u64, p: &ListParams, app: Option<&Id>) -> Value {
    let mut m = Map::new();
    m.insert("count".into(), json!(items.len()));
    m.insert("items".into(), Value::Array(items));
    m.insert("totalCount".into(), json!(total));
    m.insert("perPage".into(), json!(p.per_page));
    m.insert("page".into(), json!(p.page));
    m.insert("sortField".into(), json!(p.sort_field));
    m.insert("sortDirection".into(), json!(p.sort_direction.as_str()));
    if let (Some(f), Some(v)) = (p.filter_field, &p.filter) {
        m.insert("filterField".into(), json!(f));
        m.insert("filter".into(), json!(v));
    }
    if let Some(app) = app {
        m.insert("applicationId".into(), json!(app));
    }
    Value::Object(m)
}

/// An application.
pub fn application(a: &Application) -> Value {
    json!({
        "id": a.id,
        "applicationId": a.id,
        "name": a.name,
        "description": a.description,
        "creationDate": a.creation_date,
        "lastUpdated": a.last_updated,
    })
}

/// An application API token (without the secret, which is shown once by the create handler).
pub fn api_token(t: &ApiToken) -> Value {
    let mut v = json!({
        "id": t.id,
        "apiTokenId": t.id,
        "ownerId": t.application_id,
        "ownerType": "application",
        "name": t.name,
        "description": t.description,
        "scope": t.scope,
        "status": t.status.as_str(),
        "creationDate": t.creation_date,
        "lastUpdated": t.last_updated,
    });
    if let (Some(e), Value::Object(m)) = (t.expiration_date, &mut v) {
        m.insert("expirationDate".into(), json!(e));
    }
    v
}
