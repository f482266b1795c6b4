//! The device and data-table calls of the flows' Device and Table nodes, against the store.
//!
//! Why it looks like this:
//! - **Scoped to the flow's application.** Every lookup passes the flow's application id to
//!   the store (`get_device(app, id)`, `get_data_table(app, id)`), so an id of another
//!   application is "not found", exactly as over REST with that application's token.
//! - **The REST API's validation.** A device patch is a `devicePatch.json` body read by the
//!   same `DevicePatch` type and `apply` as `PATCH .../devices/{id}`; rows go through
//!   `DataTable::new_row` / `patch_row` like `POST .../rows` and `PATCH .../rows/{id}`; queries
//!   through `rjobs_query::parse` with the table's schema; control characters are refused as
//!   every request body's are. Same limits, same field names in the errors.
//! - **Durable before the node continues.** Each write is one store call that commits before
//!   it returns.

use rjobs_core::list::{FieldError, ListParams, SortDirection};
use rjobs_core::resources::{ColumnType, DataRow, DataTable, Device, DevicePatch};
use rjobs_core::Id;
use rjobs_flow::{DevicePage, Found, HostError, RowPage};
use rjobs_query::{ResourceType, TableSchema};
use rjobs_store::resources::RowParams;
use rjobs_store::{Store, StoreError};
use serde_json::{Map, Value};

use crate::flows::EngineHost;

fn store_error(e: StoreError) -> HostError {
    match e {
        StoreError::Duplicate(m) => HostError::Conflict(format!("duplicate: {m}")),
        StoreError::Conflict => HostError::Conflict(e.to_string()),
        other => {
            tracing::error!(error = %other, "a flow's resource call failed");
            HostError::Internal("the database could not complete the request".into())
        }
    }
}

fn field_error(e: FieldError) -> HostError {
    HostError::invalid(e.field, e.message)
}

fn parse_id(field: &str, s: &str) -> Result<Id, HostError> {
    Id::parse(s.trim()).map_err(|_| HostError::invalid(field, format!("{s:?} is not an id")))
}

/// Refuses control characters as the API's body extractor does.
fn check_text(field: &str, v: &Value) -> Result<(), HostError> {
    match rjobs_core::text::find_control(v) {
        Some((path, c)) => {
            let f = if path.is_empty() {
                field.to_string()
            } else {
                format!("{field}.{path}")
            };
            Err(HostError::invalid(
                f.clone(),
                rjobs_core::text::control_message(&f, c)
                    .trim_start_matches(&format!("{f}: "))
                    .to_string(),
            ))
        }
        None => Ok(()),
    }
}

fn query(
    rt: ResourceType,
    v: &Value,
    schema: Option<&TableSchema>,
) -> Result<rjobs_query::Query, HostError> {
    check_text("query", v)?;
    rjobs_query::parse(rt, v, schema).map_err(|e| {
        let f = if e.path.is_empty() {
            "query".to_string()
        } else {
            format!("query.{}", e.path)
        };
        HostError::invalid(f, e.message)
    })
}

/// Individual-field text converted to the column types (unknown columns are left for the
/// table's own check to name).
fn typed_text(t: &DataTable, v: &Value) -> Value {
    let Some(m) = v.as_object() else {
        return v.clone();
    };
    let mut out = Map::new();
    for (k, val) in m {
        let Value::String(s) = val else {
            out.insert(k.clone(), val.clone());
            continue;
        };
        let converted = match t.column(k).map(|c| &c.data_type) {
            _ if s.trim().is_empty() => Value::Null,
            Some(ColumnType::Number) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| val.clone(), Value::Number),
            Some(ColumnType::Boolean) => match s.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => val.clone(),
            },
            _ => val.clone(),
        };
        out.insert(k.clone(), converted);
    }
    Value::Object(out)
}

impl EngineHost {
    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub(crate) async fn device(&self, id: &str) -> Result<Option<Value>, HostError> {
        let id = parse_id("deviceId", id)?;
        let d = self
            .store()
            .get_device(&self.app, &id)
            .await
            .map_err(store_error)?;
        Ok(d.as_ref().map(Device::to_json))
    }

    pub(crate) async fn devices(&self, q: &Value, page: &DevicePage) -> Result<Found, HostError> {
        let parsed = query(ResourceType::Device, q, None)?;
        let p = ListParams {
            sort_field: page.sort_field,
            sort_direction: if page.descending {
                SortDirection::Desc
            } else {
                SortDirection::Asc
            },
            page: page.page,
            per_page: page.per_page.clamp(1, 1000),
            filter_field: None,
            filter: None,
        };
        let found = self
            .store()
            .list_devices(&self.app, &p, Some(&parsed))
            .await
            .map_err(store_error)?;
        Ok(Found {
            items: found.items.iter().map(Device::to_json).collect(),
            total_count: found.total_count,
        })
    }

    pub(crate) async fn patch_device(&self, id: &str, patch: &Value) -> Result<Value, HostError> {
        let did = parse_id("deviceId", id)?;
        check_text("deviceTemplate", patch)?;
        let body: DevicePatch = serde_json::from_value(patch.clone())
            .map_err(|e| HostError::invalid("deviceTemplate", e.to_string()))?;
        let d = self
            .store()
            .get_device(&self.app, &did)
            .await
            .map_err(store_error)?
            .ok_or_else(|| HostError::NotFound {
                what: "Device",
                id: id.into(),
            })?;
        let next = body.apply(&d, self.clock.now()).map_err(field_error)?;
        if !self
            .store()
            .update_device(&next)
            .await
            .map_err(store_error)?
        {
            return Err(HostError::NotFound {
                what: "Device",
                id: id.into(),
            });
        }
        Ok(next.to_json())
    }

    async fn table(&self, id: &str) -> Result<DataTable, HostError> {
        let tid = parse_id("dataTableId", id)?;
        self.store()
            .get_data_table(&self.app, &tid)
            .await
            .map_err(store_error)?
            .ok_or_else(|| HostError::NotFound {
                what: "Data table",
                id: id.into(),
            })
    }

    pub(crate) async fn rows(
        &self,
        table: &str,
        q: &Value,
        page: &RowPage,
    ) -> Result<Found, HostError> {
        let t = self.table(table).await?;
        let parsed = query(ResourceType::DataTableRow, q, Some(&TableSchema::of(&t)))?;
        if let Some(c) = &page.sort_column {
            if !matches!(c.as_str(), "id" | "createdAt" | "updatedAt") && t.column(c).is_none() {
                return Err(HostError::invalid(
                    "sortColumn",
                    format!("{c:?} is not a column of this data table"),
                ));
            }
        }
        let p = RowParams {
            limit: page.limit.min(10_000),
            offset: page.offset,
            sort_column: page.sort_column.clone(),
            descending: page.descending,
        };
        let found = self
            .store()
            .query_rows(&t, &p, Some(&parsed))
            .await
            .map_err(store_error)?;
        Ok(Found {
            items: found.items.iter().map(DataRow::to_json).collect(),
            total_count: found.total_count,
        })
    }

    pub(crate) async fn add_row(
        &self,
        table: &str,
        row: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        let t = self.table(table).await?;
        check_text("row", row)?;
        let row = if text {
            typed_text(&t, row)
        } else {
            row.clone()
        };
        let now = self.clock.now();
        let data = t.new_row(&row).map_err(field_error)?;
        let r = DataRow {
            id: self.ids.next(now),
            application_id: t.application_id.clone(),
            data_table_id: t.id.clone(),
            data,
            created_at: now,
            updated_at: now,
        };
        self.store()
            .insert_rows(&t, std::slice::from_ref(&r))
            .await
            .map_err(store_error)?;
        Ok(r.to_json())
    }

    pub(crate) async fn patch_row(
        &self,
        table: &str,
        row_id: &str,
        patch: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        let t = self.table(table).await?;
        let rid = parse_id("rowId", row_id)?;
        check_text("row", patch)?;
        let patch = if text {
            typed_text(&t, patch)
        } else {
            patch.clone()
        };
        let not_found = || HostError::NotFound {
            what: "Data table row",
            id: row_id.into(),
        };
        let row = self
            .store()
            .get_row(&self.app, &t.id, &rid)
            .await
            .map_err(store_error)?
            .ok_or_else(not_found)?;
        let mut next = row.clone();
        next.data = t.patch_row(&row.data, &patch).map_err(field_error)?;
        next.updated_at = self.clock.now();
        if !self
            .store()
            .update_row(&t, &next)
            .await
            .map_err(store_error)?
        {
            return Err(not_found());
        }
        Ok(next.to_json())
    }
}
