//! The data-table nodes: Table: Get Rows (`DataTableQueryNode`), Table: Insert Row
//! (`DataTableInsertRowNode`) and Table: Update Row (`DataTableUpdateRowNode`), with the
//! original's config fields.
//!
//! - Every node names its table with `dataTableIdTemplate`; the host looks it up in the flow's
//!   own application only.
//! - Queries (`queryTemplate`) are JSON templates rendering an advanced query, compiled by the
//!   same query compiler as the REST API's `rows/query` (`{}` matches every row).
//! - Row data comes from `dataMethod`: `jsonTemplate` (`rowJsonTemplate`, or the other
//!   catalog's `rowTemplate` / `updateTemplate`), `payloadPath` (`rowPayloadPath`) or
//!   `individualFields` (`rowFields[{columnTemplate, valueTemplate}]`, the default), whose
//!   rendered text is converted to the column's type by the host (`"5"` → 5 for a number
//!   column, `"true"` for a boolean, empty → no value).
//! - Update selects its row by `rowSelectType` `id` (`rowIdTemplate`) or `query`
//!   (`queryTemplate`: the first matching row, by id; `upsertCheck` inserts when none matches).
//! - Errors: the fullest catalog writes API errors as `{error: {type, message}}` at
//!   `resultPath` and continues; with an explicit `errorBehavior` the standard
//!   `throw` / `payloadPath` + `errorPath` applies instead. Without either, an error ends the run.

use serde_json::{json, Map, Value};

use crate::config::Cfg;
use crate::host::{FlowHost, HostError, RowPage};
use crate::outcome::{fail, fail_to, render_json, render_trim};
use crate::{path, FlowError, NodeError};

/// The most `rowFields` entries.
pub const MAX_FIELDS: usize = 256;

/// Where failures go.
#[derive(Debug, Clone, PartialEq)]
pub enum OnError {
    Throw,
    /// `errorBehavior: payloadPath`: `{type, message}` at this path.
    ErrorPath(String),
    /// The fullest catalog's default: `{error: {type, message}}` at `resultPath`.
    ResultPath(String),
}

/// Where a row's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum RowData {
    Json(String),
    Path(String),
    /// `(columnTemplate, valueTemplate)` pairs.
    Fields(Vec<(String, String)>),
}

/// How Update finds its row.
#[derive(Debug, Clone, PartialEq)]
pub enum RowSelect {
    Id(String),
    Query { template: String, upsert: bool },
}

/// A checked `DataTableQueryNode` config.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConfig {
    pub table_template: String,
    pub query_template: String,
    pub limit_template: String,
    pub offset_template: String,
    pub sort_column_template: String,
    pub sort_direction_template: String,
    pub include_fields_template: String,
    pub result_path: String,
    pub on_error: OnError,
}

/// A checked `DataTableInsertRowNode` / `DataTableUpdateRowNode` config (`select` is `None`
/// for Insert).
#[derive(Debug, Clone, PartialEq)]
pub struct RowConfig {
    pub table_template: String,
    pub select: Option<RowSelect>,
    pub data: RowData,
    pub result_path: Option<String>,
    pub on_error: OnError,
}

fn on_error(c: &Cfg<'_>, result_path: &Option<String>) -> Result<OnError, FlowError> {
    if c.opt_str("errorBehavior")?.is_empty() {
        return Ok(result_path
            .clone()
            .map_or(OnError::Throw, OnError::ResultPath));
    }
    Ok(match crate::outcome::error_path(c)? {
        Some(ep) => OnError::ErrorPath(ep),
        None => OnError::Throw,
    })
}

fn deliver(p: &mut Value, on: &OnError, ty: &str, e: NodeError) -> Result<(), NodeError> {
    match on {
        OnError::Throw => Err(e),
        OnError::ErrorPath(ep) => fail(p, &Some(ep.clone()), ty, e),
        OnError::ResultPath(rp) => fail_to(p, &Some(rp.clone()), ty, e),
    }
}

fn deliver_host(p: &mut Value, on: &OnError, e: HostError) -> Result<(), NodeError> {
    deliver(p, on, e.kind(), NodeError::Host(e))
}

fn default_to(t: String, d: &str) -> String {
    if t.trim().is_empty() {
        d.to_string()
    } else {
        t
    }
}

pub(crate) fn parse_query(c: &Cfg<'_>) -> Result<QueryConfig, FlowError> {
    let result_path = c.req_path("resultPath")?;
    Ok(QueryConfig {
        table_template: c.template("dataTableIdTemplate", true)?,
        query_template: default_to(c.template("queryTemplate", false)?, "{}"),
        limit_template: default_to(c.template("limitTemplate", false)?, "1000"),
        offset_template: default_to(c.template("offsetTemplate", false)?, "0"),
        sort_column_template: c.template("sortColumnTemplate", false)?,
        sort_direction_template: c.template("sortDirectionTemplate", false)?,
        include_fields_template: c.template("includeFieldsTemplate", false)?,
        on_error: on_error(c, &Some(result_path.clone()))?,
        result_path,
    })
}

fn row_data(c: &Cfg<'_>, update: bool) -> Result<RowData, FlowError> {
    let alias = if update {
        "updateTemplate"
    } else {
        "rowTemplate"
    };
    let default = if c.obj.contains_key("rowJsonTemplate") || c.obj.contains_key(alias) {
        "jsonTemplate"
    } else {
        "individualFields"
    };
    let method = c.choice(
        "dataMethod",
        &["jsonTemplate", "payloadPath", "individualFields"],
        default,
    )?;
    Ok(match method.as_str() {
        "jsonTemplate"
            if c.opt_str("rowJsonTemplate")?.trim().is_empty() && c.obj.contains_key(alias) =>
        {
            RowData::Json(c.template(alias, true)?)
        }
        "jsonTemplate" => RowData::Json(c.template("rowJsonTemplate", true)?),
        "payloadPath" => RowData::Path(c.req_path("rowPayloadPath")?),
        _ => {
            let list = c.array("rowFields")?;
            if list.len() > MAX_FIELDS {
                return Err(c.err(
                    "rowFields",
                    format!("at most {MAX_FIELDS} fields are allowed"),
                ));
            }
            let mut fields = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                let f = c.item("rowFields", i, v)?;
                fields.push((
                    f.template("columnTemplate", true)?,
                    f.template("valueTemplate", false)?,
                ));
            }
            RowData::Fields(fields)
        }
    })
}

pub(crate) fn parse_row(c: &Cfg<'_>, update: bool) -> Result<RowConfig, FlowError> {
    let select = if update {
        Some(
            match c.choice("rowSelectType", &["id", "query"], "id")?.as_str() {
                "query" => RowSelect::Query {
                    template: c.template("queryTemplate", true)?,
                    upsert: c.opt_bool("upsertCheck")?,
                },
                _ => RowSelect::Id(c.template("rowIdTemplate", true)?),
            },
        )
    } else {
        None
    };
    let result_path = c.path("resultPath")?;
    Ok(RowConfig {
        table_template: c.template("dataTableIdTemplate", true)?,
        select,
        data: row_data(c, update)?,
        on_error: on_error(c, &result_path)?,
        result_path,
    })
}

/// The row values to write, and whether they are text to convert to the column types.
fn values(d: &RowData, p: &Value) -> Result<(Value, bool), NodeError> {
    match d {
        RowData::Json(t) => Ok((render_json("rowJsonTemplate", t, p)?, false)),
        RowData::Path(at) => path::get(p, at)
            .map(|v| (v, false))
            .ok_or_else(|| NodeError::invalid("rowPayloadPath", format!("no value at {at:?}"))),
        RowData::Fields(fields) => {
            let mut m = Map::new();
            for (i, (k, v)) in fields.iter().enumerate() {
                let k = render_trim(&format!("rowFields[{i}].columnTemplate"), k, p)?;
                let v = crate::template::render(v, p)
                    .map_err(|e| e.at(format!("rowFields[{i}].valueTemplate")))?;
                m.insert(k, Value::String(v));
            }
            Ok((Value::Object(m), true))
        }
    }
}

fn number(field: &str, t: &str, p: &Value, max: u64) -> Result<u64, NodeError> {
    let s = render_trim(field, t, p)?;
    s.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
        NodeError::invalid(
            field,
            format!("must be a whole number from 0 to {max}, not {s:?}"),
        )
    })
}

/// Runs a Table: Get Rows node.
pub async fn query(c: &QueryConfig, p: &mut Value, host: &dyn FlowHost) -> Result<(), NodeError> {
    let prepared = (|| -> Result<_, NodeError> {
        let table = render_trim("dataTableIdTemplate", &c.table_template, p)?;
        let q = render_json("queryTemplate", &c.query_template, p)?;
        let limit = number("limitTemplate", &c.limit_template, p, 10_000)? as u32;
        let offset = number("offsetTemplate", &c.offset_template, p, u64::from(u32::MAX))?;
        let sort = render_trim("sortColumnTemplate", &c.sort_column_template, p)?;
        let dir = render_trim("sortDirectionTemplate", &c.sort_direction_template, p)?;
        let descending = match dir.to_ascii_lowercase().as_str() {
            "" | "asc" => false,
            "desc" => true,
            _ => {
                return Err(NodeError::invalid(
                    "sortDirectionTemplate",
                    format!("must be asc or desc, not {dir:?}"),
                ))
            }
        };
        let include = if c.include_fields_template.trim().is_empty() {
            None
        } else {
            match render_json("includeFieldsTemplate", &c.include_fields_template, p)? {
                Value::Array(a) if a.iter().all(Value::is_string) => Some(a),
                _ => {
                    return Err(NodeError::rejected(
                        "includeFieldsTemplate must render an array of column names",
                    ))
                }
            }
        };
        let page = RowPage {
            limit,
            offset,
            sort_column: (!sort.is_empty()).then_some(sort),
            descending,
        };
        Ok((table, q, page, include))
    })();
    let (table, q, page, include) = match prepared {
        Ok(x) => x,
        Err(m) => return deliver(p, &c.on_error, "Validation", m),
    };
    let found = match host.query_rows(&table, &q, &page).await {
        Ok(f) => f,
        Err(e) => return deliver_host(p, &c.on_error, e),
    };
    let items: Vec<Value> = match &include {
        None => found.items,
        Some(cols) => found
            .items
            .into_iter()
            .map(|mut row| {
                if let Some(m) = row.as_object_mut() {
                    m.retain(|k, _| {
                        matches!(k.as_str(), "id" | "createdAt" | "updatedAt")
                            || cols.iter().any(|c| c.as_str() == Some(k.as_str()))
                    });
                }
                row
            })
            .collect(),
    };
    let result = json!({
        "items": items,
        "count": items.len(),
        "totalCount": found.total_count,
        "limit": page.limit,
        "offset": page.offset,
    });
    path::set(p, &c.result_path, result)
}

/// Runs a Table: Insert Row or Table: Update Row node; the row is durable before it returns.
pub async fn write(c: &RowConfig, p: &mut Value, host: &dyn FlowHost) -> Result<(), NodeError> {
    let prepared = render_trim("dataTableIdTemplate", &c.table_template, p)
        .and_then(|t| Ok((t, values(&c.data, p)?)));
    let (table, (row, text)) = match prepared {
        Ok(x) => x,
        Err(m) => return deliver(p, &c.on_error, "Validation", m),
    };
    let written = match &c.select {
        None => host.insert_row(&table, &row, text).await,
        Some(sel) => match select(sel, &table, p, host).await {
            Ok(Some(id)) => host.update_row(&table, &id, &row, text).await,
            Ok(None) => host.insert_row(&table, &row, text).await,
            Err(e) => Err(e),
        },
    };
    match (written, &c.result_path) {
        (Ok(r), Some(rp)) => path::set(p, rp, r),
        (Ok(_), None) => Ok(()),
        (Err(e), _) => deliver_host(p, &c.on_error, e),
    }
}

/// The row an Update targets: `Some(id)`, or `None` to insert (query found none, upsert on).
async fn select(
    sel: &RowSelect,
    table: &str,
    p: &Value,
    host: &dyn FlowHost,
) -> Result<Option<String>, HostError> {
    match sel {
        RowSelect::Id(t) => render_trim("rowIdTemplate", t, p)
            .map(Some)
            .map_err(|m| HostError::invalid("rowIdTemplate", m.to_string())),
        RowSelect::Query { template, upsert } => {
            let q = render_json("queryTemplate", template, p)
                .map_err(|m| HostError::invalid("queryTemplate", m.to_string()))?;
            let page = RowPage {
                limit: 1,
                offset: 0,
                sort_column: None,
                descending: false,
            };
            let found = host.query_rows(table, &q, &page).await?;
            match found.items.first().and_then(|r| r["id"].as_str()) {
                Some(id) => Ok(Some(id.to_string())),
                None if *upsert => Ok(None),
                None => Err(HostError::NotFound {
                    what: "Data table row matching queryTemplate",
                    id: q.to_string(),
                }),
            }
        }
    }
}
