//! An application's worth of in-memory resources, convertible to evaluator inputs and to
//! INSERT statements for the rjobs schema.

use rjobs_query::{
    ColumnType, EvalDevice, EvalGroup, EvalResource, EvalRow, EvalUser, EvalWorld, ResourceType,
    SqlParam, TableSchema,
};
use serde_json::{json, Value};

use super::Stmt;

#[derive(Debug, Clone, Default)]
pub struct Fixture {
    pub devices: Vec<EvalDevice>,
    pub groups: Vec<EvalGroup>,
    pub users: Vec<EvalUser>,
    pub rows: Vec<EvalRow>,
    /// `(group_id, user_id)`.
    pub group_users: Vec<(String, String)>,
    /// `(group_id, device_id)`.
    pub group_devices: Vec<(String, String)>,
}

pub fn schema() -> TableSchema {
    TableSchema {
        columns: vec![
            ("num".to_owned(), ColumnType::Number),
            ("txt".to_owned(), ColumnType::String),
            ("flag".to_owned(), ColumnType::Boolean),
            ("n2".to_owned(), ColumnType::Number),
        ],
    }
}

fn t(s: &str) -> SqlParam {
    SqlParam::Text(s.to_owned())
}
fn ot(s: &Option<String>) -> SqlParam {
    s.as_ref().map_or(SqlParam::Null, |s| t(s))
}
fn oi(i: Option<i64>) -> SqlParam {
    i.map_or(SqlParam::Null, SqlParam::Int)
}

impl Fixture {
    pub fn world(&self) -> EvalWorld {
        EvalWorld {
            device_parents: self
                .devices
                .iter()
                .filter_map(|d| Some((d.id.clone(), d.parent_id.clone()?)))
                .collect(),
            group_parents: self
                .groups
                .iter()
                .filter_map(|g| Some((g.id.clone(), g.parent_id.clone()?)))
                .collect(),
            group_users: self.group_users.clone(),
            group_devices: self.group_devices.clone(),
        }
    }

    pub fn resources(&self, rt: ResourceType) -> Vec<EvalResource> {
        match rt {
            ResourceType::Device => self
                .devices
                .iter()
                .cloned()
                .map(EvalResource::Device)
                .collect(),
            ResourceType::ExperienceGroup => self
                .groups
                .iter()
                .cloned()
                .map(EvalResource::Group)
                .collect(),
            ResourceType::ExperienceUser => {
                self.users.iter().cloned().map(EvalResource::User).collect()
            }
            ResourceType::DataTableRow => {
                self.rows.iter().cloned().map(EvalResource::Row).collect()
            }
        }
    }

    /// The same resources under ids with a different first hex digit (another application).
    pub fn decoy(&self) -> Fixture {
        fn x(s: &str) -> String {
            format!("f{}", &s[1..])
        }
        fn xo(s: &Option<String>) -> Option<String> {
            s.as_deref().map(x)
        }
        let mut f = self.clone();
        for d in &mut f.devices {
            d.id = x(&d.id);
            d.parent_id = xo(&d.parent_id);
            d.gateway_id = xo(&d.gateway_id);
        }
        for g in &mut f.groups {
            g.id = x(&g.id);
            g.parent_id = xo(&g.parent_id);
        }
        for u in &mut f.users {
            u.id = x(&u.id);
        }
        for r in &mut f.rows {
            r.id = x(&r.id);
        }
        for (a, b) in f.group_users.iter_mut().chain(f.group_devices.iter_mut()) {
            *a = x(a);
            *b = x(b);
        }
        f
    }

    pub fn insert_statements(&self, app: &str, table_id: &str) -> Vec<Stmt> {
        let mut out: Vec<Stmt> = Vec::new();
        for d in &self.devices {
            let tags: Vec<Value> = d
                .tags
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            let attrs: Vec<Value> = d
                .attribute_names
                .iter()
                .map(|n| json!({"name": n, "dataType": "number"}))
                .collect();
            out.push((
                "INSERT INTO devices (id, application_id, name, device_class, parent_id, gateway_id, \
                 tags, attributes, connected, connected_at, disconnected_at, creation_date, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS BIGINT), CAST($10 AS BIGINT), CAST($11 AS BIGINT), $12, $13)"
                    .to_owned(),
                vec![
                    t(&d.id),
                    t(app),
                    t(&d.name),
                    t(&d.device_class),
                    ot(&d.parent_id),
                    ot(&d.gateway_id),
                    t(&Value::Array(tags).to_string()),
                    t(&Value::Array(attrs).to_string()),
                    oi(d.connected.map(i64::from)),
                    oi(d.connected_at),
                    oi(d.disconnected_at),
                    SqlParam::Int(d.creation_date),
                    SqlParam::Int(d.last_updated),
                ],
            ));
            for (k, v) in &d.tags {
                out.push((
                    "INSERT INTO device_tags (device_id, application_id, key, value) VALUES ($1, $2, $3, $4)"
                        .to_owned(),
                    vec![t(&d.id), t(app), t(k), t(v)],
                ));
            }
        }
        for g in &self.groups {
            let tags: serde_json::Map<String, Value> =
                g.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            out.push((
                "INSERT INTO experience_groups (id, application_id, name, parent_id, group_tags, \
                 creation_date, last_updated) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                    .to_owned(),
                vec![
                    t(&g.id),
                    t(app),
                    t(&g.name),
                    ot(&g.parent_id),
                    t(&Value::Object(tags).to_string()),
                    SqlParam::Int(g.creation_date),
                    SqlParam::Int(g.last_updated),
                ],
            ));
            for (k, v) in &g.tags {
                out.push((
                    "INSERT INTO experience_group_tags (group_id, application_id, key, value) VALUES ($1, $2, $3, $4)"
                        .to_owned(),
                    vec![t(&g.id), t(app), t(k), t(v)],
                ));
            }
        }
        for u in &self.users {
            let tags: serde_json::Map<String, Value> =
                u.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            out.push((
                "INSERT INTO experience_users (id, application_id, email, first_name, last_name, \
                 password_hash, user_tags, last_login, password_last_updated, creation_date, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, 'x', $6, CAST($7 AS BIGINT), CAST($8 AS BIGINT), $9, $10)"
                    .to_owned(),
                vec![
                    t(&u.id),
                    t(app),
                    t(&u.email),
                    t(&u.first_name),
                    t(&u.last_name),
                    t(&Value::Object(tags).to_string()),
                    oi(u.last_login),
                    oi(u.password_last_updated),
                    SqlParam::Int(u.creation_date),
                    SqlParam::Int(u.last_updated),
                ],
            ));
            for (k, v) in &u.tags {
                out.push((
                    "INSERT INTO experience_user_tags (user_id, application_id, key, value) VALUES ($1, $2, $3, $4)"
                        .to_owned(),
                    vec![t(&u.id), t(app), t(k), t(v)],
                ));
            }
        }
        for (g, u) in &self.group_users {
            out.push((
                "INSERT INTO experience_group_users (group_id, user_id, application_id) VALUES ($1, $2, $3)"
                    .to_owned(),
                vec![t(g), t(u), t(app)],
            ));
        }
        for (g, d) in &self.group_devices {
            out.push((
                "INSERT INTO experience_group_devices (group_id, device_id, application_id) VALUES ($1, $2, $3)"
                    .to_owned(),
                vec![t(g), t(d), t(app)],
            ));
        }
        out.push((
            "INSERT INTO data_tables (id, application_id, name, columns, creation_date, last_updated) \
             VALUES ($1, $2, 'table', '[]', 0, 0)"
                .to_owned(),
            vec![t(table_id), t(app)],
        ));
        for r in &self.rows {
            out.push((
                "INSERT INTO data_table_rows (id, application_id, data_table_id, data, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)"
                    .to_owned(),
                vec![
                    t(&r.id),
                    t(app),
                    t(table_id),
                    t(&Value::Object(r.data.clone()).to_string()),
                    SqlParam::Int(r.created_at),
                    SqlParam::Int(r.updated_at),
                ],
            ));
        }
        out
    }
}
