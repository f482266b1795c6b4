//! Data tables and their rows. A row is a JSON object of column values, typed and validated
//! against the table's columns here (type, `required`, `unique` ⇒ required, `defaultValue`), so
//! that the store only has to enforce uniqueness — which needs the database.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{check_description, check_key, check_name};
use crate::list::FieldError;
use crate::{Id, Timestamp};

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text.
    String,
    /// A JSON number (compared as a double).
    Number,
    /// `true`/`false`.
    Boolean,
}

/// A column's constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Constraint {
    /// May be null.
    Optional,
    /// Must be present (a default counts).
    Required,
    /// Present and unique within the table.
    Unique,
}

/// A cell as the API takes it: a string, a number, a boolean or null. Only the schema of row
/// bodies and column defaults in `/openapi.json`; values stay [`Value`]s, checked per column.
pub struct Cell;

impl schemars::JsonSchema for Cell {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cell".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": ["string", "number", "boolean", "null"]})
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Column {
    /// `^[0-9a-zA-Z_-]{1,255}$`.
    pub name: String,
    /// Type.
    pub data_type: ColumnType,
    /// Constraint.
    pub constraint: Constraint,
    /// Used when a new row leaves the column out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Cell>")]
    pub default_value: Option<Value>,
}

impl ColumnType {
    fn accepts(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (ColumnType::String, Value::String(_))
                | (ColumnType::Number, Value::Number(_))
                | (ColumnType::Boolean, Value::Bool(_))
        )
    }
    fn as_str(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
        }
    }
}

/// A data table. It serializes as the API shows it, but for the `dataTableId` alias of the id
/// (see [`TableView`]).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataTable {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// Columns (at most 50).
    pub columns: Vec<Column>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
}

fn check_columns(cols: &[Column]) -> Result<(), FieldError> {
    if cols.len() > 50 {
        return Err(FieldError::new("columns", "must have at most 50 items"));
    }
    for (i, c) in cols.iter().enumerate() {
        check_key(&format!("columns[{i}].name"), &c.name)?;
        if matches!(c.name.as_str(), "id" | "createdAt" | "updatedAt") {
            return Err(FieldError::new(
                format!("columns[{i}].name"),
                format!("{:?} is reserved", c.name),
            ));
        }
        if cols[..i].iter().any(|d| d.name == c.name) {
            return Err(FieldError::new(
                format!("columns[{i}].name"),
                format!("duplicate column name {:?}", c.name),
            ));
        }
        if let Some(d) = &c.default_value {
            if !c.data_type.accepts(d) {
                return Err(FieldError::new(
                    format!("columns[{i}].defaultValue"),
                    format!("must be a {}", c.data_type.as_str()),
                ));
            }
        }
    }
    Ok(())
}

/// `POST .../data-tables` body.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TablePost {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    columns: Vec<Column>,
}

impl TablePost {
    /// Validates into a new table.
    pub fn into_table(self, id: Id, app: Id, now: Timestamp) -> Result<DataTable, FieldError> {
        check_name("name", &self.name)?;
        check_description("description", &self.description)?;
        check_columns(&self.columns)?;
        Ok(DataTable {
            id,
            application_id: app,
            name: self.name,
            description: self.description,
            columns: self.columns,
            creation_date: now,
            last_updated: now,
        })
    }
}

/// `PATCH .../data-tables/{dataTableId}` body (the original changes columns through separate
/// column endpoints; only name and description here).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TablePatch {
    name: Option<String>,
    description: Option<String>,
}

impl TablePatch {
    /// Applies the changes.
    pub fn apply(self, t: &DataTable, now: Timestamp) -> Result<DataTable, FieldError> {
        let mut n = t.clone();
        super::patch_text(self.name, self.description, &mut n.name, &mut n.description)?;
        n.last_updated = now;
        Ok(n)
    }
}

/// The REST shape of a data table (`dataTable.json`): the table and the alias of its id.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableView {
    /// The table.
    #[serde(flatten)]
    pub table: DataTable,
    /// The table's id, under the original's name.
    pub data_table_id: Id,
}

/// The REST shape of a row: `{id, createdAt, updatedAt, <columns>}`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowView {
    /// The column values (a column without a value is absent). First, so that the fields
    /// below win over a column of the same name, as they always did.
    #[serde(flatten)]
    #[schemars(with = "BTreeMap<String, Cell>")]
    pub data: Map<String, Value>,
    /// Id.
    pub id: Id,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl DataTable {
    /// The REST shape (`dataTable.json`).
    pub fn view(&self) -> TableView {
        TableView {
            table: self.clone(),
            data_table_id: self.id.clone(),
        }
    }

    /// [`DataTable::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        super::to_value(&self.view())
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Validates a new row's values: known columns, types, defaults, required. `id`, `createdAt`
    /// and `updatedAt` in the body are ignored (the server sets them).
    pub fn new_row(&self, body: &Value) -> Result<Map<String, Value>, FieldError> {
        let obj = body
            .as_object()
            .ok_or_else(|| FieldError::new("", "a row must be a JSON object"))?;
        let mut data = self.typed(obj)?;
        for c in &self.columns {
            if !data.contains_key(&c.name) {
                if let Some(d) = &c.default_value {
                    data.insert(c.name.clone(), d.clone());
                }
            }
        }
        self.check_required(&data)?;
        Ok(data)
    }

    /// Validates a row patch against the current values; returns the merged values. `null`
    /// clears an optional column.
    pub fn patch_row(
        &self,
        current: &Map<String, Value>,
        body: &Value,
    ) -> Result<Map<String, Value>, FieldError> {
        let obj = body
            .as_object()
            .ok_or_else(|| FieldError::new("", "a row must be a JSON object"))?;
        let changes = self.typed(obj)?;
        let mut data = current.clone();
        for (k, v) in obj {
            if v.is_null() && self.column(k).is_some() {
                data.remove(k);
            }
        }
        data.extend(changes);
        self.check_required(&data)?;
        Ok(data)
    }

    fn typed(&self, obj: &Map<String, Value>) -> Result<Map<String, Value>, FieldError> {
        let mut out = Map::new();
        for (k, v) in obj {
            if matches!(k.as_str(), "id" | "createdAt" | "updatedAt") {
                continue;
            }
            let c = self
                .column(k)
                .ok_or_else(|| FieldError::new(k.as_str(), "is not a column of this data table"))?;
            if v.is_null() {
                continue;
            }
            if !c.data_type.accepts(v) {
                return Err(FieldError::new(
                    k.as_str(),
                    format!("must be a {}", c.data_type.as_str()),
                ));
            }
            if let Value::String(s) = v {
                if s.contains('\0') || s.chars().count() > 32767 {
                    return Err(FieldError::new(
                        k.as_str(),
                        "must be at most 32767 characters without NUL",
                    ));
                }
            }
            out.insert(k.clone(), v.clone());
        }
        Ok(out)
    }

    fn check_required(&self, data: &Map<String, Value>) -> Result<(), FieldError> {
        for c in &self.columns {
            if c.constraint != Constraint::Optional && !data.contains_key(&c.name) {
                return Err(FieldError::new(c.name.as_str(), "is required"));
            }
        }
        Ok(())
    }
}

/// A row of a data table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataRow {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// Owning table.
    pub data_table_id: Id,
    /// Column values (absent = null).
    pub data: Map<String, Value>,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl DataRow {
    /// The REST shape: `{id, createdAt, updatedAt, <columns>}`.
    pub fn view(&self) -> RowView {
        RowView {
            id: self.id.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            data: self.data.clone(),
        }
    }

    /// [`DataRow::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        super::to_value(&self.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> DataTable {
        let id = Id::parse("575ec8687ae143cd83dc4a97").unwrap();
        let post: TablePost = serde_json::from_value(json!({"name": "t", "columns": [
            {"name": "sn", "dataType": "string", "constraint": "unique"},
            {"name": "n", "dataType": "number", "constraint": "optional", "defaultValue": 3},
            {"name": "ok", "dataType": "boolean", "constraint": "required"}
        ]}))
        .unwrap();
        post.into_table(id.clone(), id, Timestamp::from_millis(0))
            .unwrap()
    }

    #[test]
    fn rows_validate() {
        let t = table();
        let r = t.new_row(&json!({"sn": "a", "ok": true})).unwrap();
        assert_eq!(r.get("n"), Some(&json!(3)));
        assert_eq!(t.new_row(&json!({"ok": true})).unwrap_err().field, "sn");
        assert_eq!(
            t.new_row(&json!({"sn": "a", "ok": 1})).unwrap_err().field,
            "ok"
        );
        assert_eq!(
            t.new_row(&json!({"sn": "a", "ok": true, "x": 1}))
                .unwrap_err()
                .field,
            "x"
        );
        let p = t.patch_row(&r, &json!({"n": null})).unwrap();
        assert!(!p.contains_key("n"));
        assert_eq!(
            t.patch_row(&r, &json!({"ok": null})).unwrap_err().field,
            "ok"
        );
    }

    #[test]
    fn default_must_match_type() {
        let id = Id::parse("575ec8687ae143cd83dc4a97").unwrap();
        let post: TablePost = serde_json::from_value(json!({"name": "t", "columns": [
            {"name": "n", "dataType": "number", "constraint": "optional", "defaultValue": "x"}
        ]}))
        .unwrap();
        let e = post
            .into_table(id.clone(), id, Timestamp::from_millis(0))
            .unwrap_err();
        assert_eq!(e.field, "columns[0].defaultValue");
    }
}
