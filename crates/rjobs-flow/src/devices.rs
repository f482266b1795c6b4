//! Device: Get (`GetDeviceNode`) and Device: Update (`UpdateDeviceNode`), with the original's
//! config fields.
//!
//! Device: Get finds by `findMethod`: `id` (default) or `name` (one device, `idTemplate`, also
//! spelled `deviceIdTemplate`), `findByAllTags` / `findByAnyTags` (`tags[{keyTemplate,
//! valueTemplate}]`), `findByParentId` (`parentIdTemplate`), `experienceGroupId`,
//! `experienceUserIdOrEmail` (a user id) or `query` (`queryTemplate`, an advanced query). Every
//! method but the advanced query is lowered to one (`tags.$tagKey`, `parentId`, ...), so all
//! searches go through the same query compiler as the REST API's `query` parameter. Without
//! `findMultiple` the result is the first match or `null`; with it an array, or with
//! `findMetadata` the REST list envelope. Output options: `includeConnectionStatus` (default
//! true), `tagsAsObject`, `attributesAsObject`; `includeState` is accepted but rjobs keeps no
//! device state, so no `compositeState` is written.
//!
//! Device: Update renders `deviceTemplate` (a JSON `devicePatch.json` body: name, description,
//! tags, attributes, ... — tags and attributes replace the whole array, as in the original)
//! and applies it through [`FlowHost::update_device`], which validates it as `PATCH
//! .../devices/{id}` does and commits before the node continues.
//!
//! Both follow `errorBehavior` / `errorPath`; a device that does not exist is `null` for Get
//! and an error for Update.

use serde_json::{json, Map, Value};

use crate::config::Cfg;
use crate::host::{DevicePage, FlowHost};
use crate::outcome::{error_path, fail, fail_host, render_json, render_trim};
use crate::{path, FlowError, NodeError};

/// The most tag pairs a tag search may list.
pub const MAX_TAGS: usize = 100;

/// How Device: Get finds devices.
#[derive(Debug, Clone, PartialEq)]
pub enum Find {
    Id(String),
    Name(String),
    AllTags(Vec<(String, String)>),
    AnyTags(Vec<(String, String)>),
    ParentId(String),
    GroupId(String),
    UserId(String),
    Query(String),
}

/// A checked `GetDeviceNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct GetDeviceConfig {
    pub find: Find,
    pub multiple: bool,
    pub metadata: bool,
    pub per_page_template: String,
    pub page_template: String,
    pub sort_field: &'static str,
    pub descending: bool,
    pub connection_status: bool,
    pub tags_as_object: bool,
    pub attributes_as_object: bool,
    pub result_path: String,
    pub error_path: Option<String>,
}

/// A checked `UpdateDeviceNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateDeviceConfig {
    pub device_id_template: String,
    pub device_template: String,
    pub result_path: Option<String>,
    pub error_path: Option<String>,
}

const SORT_FIELDS: [&str; 4] = ["name", "id", "creationDate", "lastUpdated"];

fn id_template(c: &Cfg<'_>) -> Result<String, FlowError> {
    if c.opt_str("idTemplate")?.trim().is_empty() && c.obj.contains_key("deviceIdTemplate") {
        c.template("deviceIdTemplate", true)
    } else {
        c.template("idTemplate", true)
    }
}

fn tags(c: &Cfg<'_>) -> Result<Vec<(String, String)>, FlowError> {
    let list = c.array("tags")?;
    if list.is_empty() {
        return Err(c.err("tags", "at least one tag is required"));
    }
    if list.len() > MAX_TAGS {
        return Err(c.err("tags", format!("at most {MAX_TAGS} tags are allowed")));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        let t = c.item("tags", i, v)?;
        let pair = (
            t.template("keyTemplate", false)?,
            t.template("valueTemplate", false)?,
        );
        if pair.0.trim().is_empty() && pair.1.trim().is_empty() {
            return Err(t.err("keyTemplate", "a tag needs a key or a value template"));
        }
        out.push(pair);
    }
    Ok(out)
}

fn opt_bool_default(c: &Cfg<'_>, key: &str, default: bool) -> Result<bool, FlowError> {
    match c.obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        _ => c.opt_bool(key),
    }
}

pub(crate) fn parse_get(c: &Cfg<'_>) -> Result<GetDeviceConfig, FlowError> {
    let method = c.choice(
        "findMethod",
        &[
            "id",
            "name",
            "findByAllTags",
            "findByAnyTags",
            "findByParentId",
            "experienceGroupId",
            "experienceUserIdOrEmail",
            "query",
        ],
        "id",
    )?;
    let find = match method.as_str() {
        "name" => Find::Name(id_template(c)?),
        "findByAllTags" => Find::AllTags(tags(c)?),
        "findByAnyTags" => Find::AnyTags(tags(c)?),
        "findByParentId" => Find::ParentId(c.template("parentIdTemplate", true)?),
        "experienceGroupId" => Find::GroupId(id_template(c)?),
        "experienceUserIdOrEmail" => Find::UserId(id_template(c)?),
        "query" => Find::Query(c.template("queryTemplate", true)?),
        _ => Find::Id(id_template(c)?),
    };
    let sort = c.choice("sortField", &SORT_FIELDS, "name")?;
    let sort_field = SORT_FIELDS
        .into_iter()
        .find(|f| *f == sort)
        .unwrap_or("name");
    let per_page = c.template("resultsPerPage", false)?;
    let page = c.template("resultsPage", false)?;
    let _ = opt_bool_default(c, "includeState", false)?;
    Ok(GetDeviceConfig {
        find,
        multiple: c.opt_bool("findMultiple")?,
        metadata: c.opt_bool("findMetadata")?,
        per_page_template: if per_page.trim().is_empty() {
            "100".into()
        } else {
            per_page
        },
        page_template: if page.trim().is_empty() {
            "0".into()
        } else {
            page
        },
        sort_field,
        descending: c.choice("sortDirection", &["asc", "desc"], "asc")? == "desc",
        connection_status: opt_bool_default(c, "includeConnectionStatus", true)?,
        tags_as_object: c.opt_bool("tagsAsObject")?,
        attributes_as_object: c.opt_bool("attributesAsObject")?,
        result_path: c.req_path("resultPath")?,
        error_path: error_path(c)?,
    })
}

pub(crate) fn parse_update(c: &Cfg<'_>) -> Result<UpdateDeviceConfig, FlowError> {
    Ok(UpdateDeviceConfig {
        device_id_template: c.template("deviceIdTemplate", true)?,
        device_template: c.template("deviceTemplate", true)?,
        result_path: c.path("resultPath")?,
        error_path: error_path(c)?,
    })
}

/// A tag pair as a tag query (`{}` parts left out match any key or value).
fn tag_query(k: &str, v: &str) -> Value {
    let mut q = Map::new();
    if !k.is_empty() {
        q.insert("$tagKey".into(), json!(k));
    }
    if !v.is_empty() {
        q.insert("$tagValue".into(), json!(v));
    }
    json!({ "tags": q })
}

/// The advanced query a find method stands for (not for `Find::Id`).
fn query_of(find: &Find, p: &Value) -> Result<Value, NodeError> {
    let tag_list = |list: &[(String, String)]| -> Result<Vec<Value>, NodeError> {
        list.iter()
            .enumerate()
            .map(|(i, (k, v))| {
                let k = render_trim(&format!("tags[{i}].keyTemplate"), k, p)?;
                let v = render_trim(&format!("tags[{i}].valueTemplate"), v, p)?;
                Ok(tag_query(&k, &v))
            })
            .collect()
    };
    Ok(match find {
        Find::Id(t) => json!({ "id": render_trim("idTemplate", t, p)? }),
        Find::Name(t) => json!({ "name": render_trim("idTemplate", t, p)? }),
        Find::AllTags(list) => json!({ "$and": tag_list(list)? }),
        Find::AnyTags(list) => json!({ "$or": tag_list(list)? }),
        Find::ParentId(t) => json!({ "parentId": render_trim("parentIdTemplate", t, p)? }),
        Find::GroupId(t) => json!({ "experienceGroupId": render_trim("idTemplate", t, p)? }),
        Find::UserId(t) => {
            let id = render_trim("idTemplate", t, p)?;
            if id.contains('@') {
                return Err(NodeError::invalid(
                    "idTemplate",
                    "finding devices by an experience user's email is not supported; use the user's id",
                ));
            }
            json!({ "experienceUserId": id })
        }
        Find::Query(t) => render_json("queryTemplate", t, p)?,
    })
}

/// The device as the node writes it (output options applied).
pub fn shape(c: &GetDeviceConfig, mut d: Value) -> Value {
    let Some(m) = d.as_object_mut() else { return d };
    if !c.connection_status {
        m.remove("connectionInfo");
    }
    if c.tags_as_object {
        let mut tags: Map<String, Value> = Map::new();
        if let Some(Value::Array(list)) = m.get("tags") {
            for t in list {
                let (Some(k), Some(v)) = (t["key"].as_str(), t.get("value")) else {
                    continue;
                };
                if let Value::Array(vals) = tags.entry(k.to_string()).or_insert_with(|| json!([])) {
                    vals.push(v.clone());
                }
            }
        }
        m.insert("tags".into(), Value::Object(tags));
    }
    if c.attributes_as_object {
        let mut attrs = Map::new();
        if let Some(Value::Array(list)) = m.get("attributes") {
            for a in list {
                let mut a = a.clone();
                if let Some(am) = a.as_object_mut() {
                    if let Some(Value::String(n)) = am.remove("name") {
                        attrs.insert(n, a);
                    }
                }
            }
        }
        m.insert("attributes".into(), Value::Object(attrs));
    }
    d
}

fn page_number(field: &str, t: &str, p: &Value, min: u32, max: u32) -> Result<u32, NodeError> {
    let s = render_trim(field, t, p)?;
    s.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            NodeError::invalid(
                field,
                format!("must be a whole number from {min} to {max}, not {s:?}"),
            )
        })
}

/// Runs a Device: Get node.
pub async fn get(c: &GetDeviceConfig, p: &mut Value, host: &dyn FlowHost) -> Result<(), NodeError> {
    if let Find::Id(t) = &c.find {
        let id = match render_trim("idTemplate", t, p) {
            Ok(id) => id,
            Err(m) => return fail(p, &c.error_path, "Validation", m),
        };
        return match host.get_device(&id).await {
            Ok(d) => path::set(p, &c.result_path, d.map_or(Value::Null, |d| shape(c, d))),
            Err(e) => fail_host(p, &c.error_path, e),
        };
    }
    let single = !c.multiple || matches!(c.find, Find::Name(_));
    let prepared = query_of(&c.find, p).and_then(|q| {
        let per_page = if single {
            1
        } else {
            page_number("resultsPerPage", &c.per_page_template, p, 1, 1000)?
        };
        let page = if single {
            0
        } else {
            page_number("resultsPage", &c.page_template, p, 0, u32::MAX)?
        };
        Ok((q, per_page, page))
    });
    let (query, per_page, page) = match prepared {
        Ok(x) => x,
        Err(m) => return fail(p, &c.error_path, "Validation", m),
    };
    let dp = DevicePage {
        per_page,
        page,
        sort_field: c.sort_field,
        descending: c.descending,
    };
    let found = match host.find_devices(&query, &dp).await {
        Ok(f) => f,
        Err(e) => return fail_host(p, &c.error_path, e),
    };
    let mut items: Vec<Value> = found.items.into_iter().map(|d| shape(c, d)).collect();
    let result = if single {
        if items.is_empty() {
            Value::Null
        } else {
            items.swap_remove(0)
        }
    } else if c.metadata {
        json!({
            "count": items.len(),
            "totalCount": found.total_count,
            "page": page,
            "perPage": per_page,
            "sortField": c.sort_field,
            "sortDirection": if c.descending { "desc" } else { "asc" },
            "items": items,
        })
    } else {
        Value::Array(items)
    };
    path::set(p, &c.result_path, result)
}

/// Runs a Device: Update node.
pub async fn update(
    c: &UpdateDeviceConfig,
    p: &mut Value,
    host: &dyn FlowHost,
) -> Result<(), NodeError> {
    let prepared =
        render_trim("deviceIdTemplate", &c.device_id_template, p).and_then(|id| match render_json(
            "deviceTemplate",
            &c.device_template,
            p,
        )? {
            v @ Value::Object(_) => Ok((id, v)),
            _ => Err(NodeError::rejected(
                "deviceTemplate must render a JSON object",
            )),
        });
    let (id, patch) = match prepared {
        Ok(x) => x,
        Err(m) => return fail(p, &c.error_path, "Validation", m),
    };
    match host.update_device(&id, &patch).await {
        Ok(d) => match &c.result_path {
            Some(rp) => path::set(p, rp, d),
            None => Ok(()),
        },
        Err(e) => fail_host(p, &c.error_path, e),
    }
}
