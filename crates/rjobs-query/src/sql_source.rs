//! Where each field's values live in the schema: columns, JSON paths, and value *sets*
//! (attribute names, memberships, ancestors, tags) reached through sub-selects.
//!
//! Why separate from `sql.rs`: that module knows operators, this one knows tables. Every field
//! is either a scalar expression (zero or one value per resource), a set rendered as
//! `alias.id IN (SELECT owner ... WHERE <pred on member>)`, or always empty (unmodelled).

use crate::ast::*;
use crate::sql::{Ctx, SqlParam, FALSE, TRUE};

/// One value expression of a field.
#[derive(Debug, Clone)]
pub(crate) enum Elem {
    /// Our own SQL text (no parameters).
    Col { expr: String, nullable: bool },
    /// A typed value of a data-table row's JSON `data` (NULL when missing or wrong-typed).
    Json { column: String, ty: ColumnType },
}

impl Elem {
    pub(crate) fn nullable(&self) -> bool {
        match self {
            Elem::Col { nullable, .. } => *nullable,
            Elem::Json { .. } => true,
        }
    }
}

/// A value set reached through a sub-select.
#[derive(Debug, Clone)]
pub(crate) enum SetSrc {
    AttributeNames,
    Ancestors {
        table: &'static str,
    },
    /// `owner IN (SELECT owner_col FROM table WHERE pred(member_col))`.
    Members {
        table: &'static str,
        owner: &'static str,
        member: &'static str,
    },
    /// Users of the groups a device belongs to.
    DeviceUsers,
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Scalar(Elem),
    Set(SetSrc),
    Empty,
}

fn col(cx: &Ctx<'_>, name: &str, nullable: bool) -> Source {
    Source::Scalar(Elem::Col {
        expr: format!("{}.{name}", cx.alias),
        nullable,
    })
}

fn parent_table(rt: ResourceType) -> &'static str {
    match rt {
        ResourceType::ExperienceGroup => "experience_groups",
        _ => "devices",
    }
}

pub(crate) fn id(cx: &Ctx<'_>, f: IdField) -> Source {
    match f {
        IdField::Own => col(cx, "id", false),
        IdField::Parent => col(cx, "parent_id", true),
        IdField::Gateway => col(cx, "gateway_id", true),
        IdField::Ancestor => Source::Set(SetSrc::Ancestors {
            table: parent_table(cx.rt),
        }),
        IdField::GroupsOfDevice => Source::Set(SetSrc::Members {
            table: "experience_group_devices",
            owner: "device_id",
            member: "group_id",
        }),
        IdField::UsersOfDevice => Source::Set(SetSrc::DeviceUsers),
        IdField::GroupsOfUser => Source::Set(SetSrc::Members {
            table: "experience_group_users",
            owner: "user_id",
            member: "group_id",
        }),
        IdField::UsersOfGroup => Source::Set(SetSrc::Members {
            table: "experience_group_users",
            owner: "group_id",
            member: "user_id",
        }),
        IdField::Unmodelled => Source::Empty,
    }
}

pub(crate) fn text(cx: &Ctx<'_>, f: &TextField) -> Source {
    match f {
        TextField::Name => col(cx, "name", false),
        TextField::DeviceClass => col(cx, "device_class", false),
        TextField::FirstName => col(cx, "first_name", false),
        TextField::LastName => col(cx, "last_name", false),
        TextField::Email => col(cx, "email", false),
        TextField::ConnectionStatus => Source::Scalar(Elem::Col {
            expr: format!(
                "(CASE {}.connected WHEN 1 THEN 'connected' WHEN 0 THEN 'disconnected' END)",
                cx.alias
            ),
            nullable: true,
        }),
        TextField::AttributeName => Source::Set(SetSrc::AttributeNames),
        TextField::Column(c) => json(c, ColumnType::String),
    }
}

pub(crate) fn date(cx: &Ctx<'_>, f: DateField) -> Source {
    let row = cx.rt == ResourceType::DataTableRow;
    match f {
        DateField::CreationDate if row => col(cx, "created_at", false),
        DateField::LastUpdated if row => col(cx, "updated_at", false),
        DateField::CreationDate => col(cx, "creation_date", false),
        DateField::LastUpdated => col(cx, "last_updated", false),
        DateField::ConnectedAt => col(cx, "connected_at", true),
        DateField::DisconnectedAt => col(cx, "disconnected_at", true),
        DateField::LastLogin => col(cx, "last_login", true),
        DateField::PasswordLastUpdated => col(cx, "password_last_updated", true),
        DateField::DeletedAt => Source::Empty,
    }
}

pub(crate) fn json(column: &str, ty: ColumnType) -> Source {
    Source::Scalar(Elem::Json {
        column: column.to_owned(),
        ty,
    })
}

type PredFn<'f> = dyn FnMut(&mut Ctx<'_>, &Elem) -> String + 'f;

impl SetSrc {
    /// `pred` renders the (positive, two-valued) condition on one member.
    pub(crate) fn render(self, cx: &mut Ctx<'_>, pred: &mut PredFn<'_>) -> String {
        let a = cx.alias.to_owned();
        let t = cx.fresh();
        let member = |expr: String, nullable| Elem::Col { expr, nullable };
        match self {
            SetSrc::AttributeNames => {
                let (from, e) = match cx.d {
                    Dialect::Sqlite => (
                        format!("json_each({a}.attributes) AS {t}"),
                        format!("json_extract({t}.value, '$.name')"),
                    ),
                    Dialect::Postgres => (
                        format!("jsonb_array_elements({a}.attributes::jsonb) AS {t}(v)"),
                        format!("({t}.v ->> 'name')"),
                    ),
                };
                let p = pred(cx, &member(e, true));
                format!("(EXISTS (SELECT 1 FROM {from} WHERE {p}))")
            }
            SetSrc::Ancestors { table } => {
                // Resources having some ancestor satisfying `pred`: seed with the children of
                // matching parents (indexed by parent_id), then walk down. UNION (not UNION ALL)
                // de-duplicates, which also ends the recursion on parent cycles.
                let r = cx.fresh();
                let c = cx.fresh();
                let app1 = cx.bind(SqlParam::Text(cx.app.to_owned()));
                let p = pred(cx, &member(format!("{t}.parent_id"), false));
                let app2 = cx.bind(SqlParam::Text(cx.app.to_owned()));
                format!(
                    "({a}.id IN (WITH RECURSIVE {r}(id) AS (\
                     SELECT {t}.id FROM {table} {t} WHERE {t}.application_id = {app1} \
                     AND {t}.parent_id IS NOT NULL AND {p} \
                     UNION SELECT {c}.id FROM {table} {c} JOIN {r} ON {c}.parent_id = {r}.id \
                     WHERE {c}.application_id = {app2}) SELECT id FROM {r}))"
                )
            }
            SetSrc::Members {
                table,
                owner,
                member: m,
            } => {
                let p = pred(cx, &member(format!("{t}.{m}"), false));
                format!("({a}.id IN (SELECT {t}.{owner} FROM {table} {t} WHERE {p}))")
            }
            SetSrc::DeviceUsers => {
                let u = cx.fresh();
                let p = pred(cx, &member(format!("{u}.user_id"), false));
                format!(
                    "({a}.id IN (SELECT {t}.device_id FROM experience_group_devices {t} \
                     JOIN experience_group_users {u} ON {u}.group_id = {t}.group_id WHERE {p}))"
                )
            }
        }
    }
}

impl Ctx<'_> {
    /// Writes one element expression, binding its parameters (JSON paths) in textual order.
    pub(crate) fn elem(&mut self, e: &Elem) -> String {
        match e {
            Elem::Col { expr, .. } => expr.clone(),
            Elem::Json { column, ty } => {
                let a = self.alias.to_owned();
                match self.d {
                    Dialect::Sqlite => {
                        // Column names are validated against ^[0-9a-zA-Z_-]+$, yet still bound.
                        let path = format!("$.\"{column}\"");
                        let p1 = self.bind(SqlParam::Text(path.clone()));
                        let p2 = self.bind(SqlParam::Text(path));
                        let (types, value) = match ty {
                            ColumnType::Number => (
                                "IN ('integer', 'real')",
                                format!("CAST(json_extract({a}.data, {p2}) AS REAL)"),
                            ),
                            ColumnType::String => {
                                ("= 'text'", format!("json_extract({a}.data, {p2})"))
                            }
                            ColumnType::Boolean => (
                                "IN ('true', 'false')",
                                format!("json_extract({a}.data, {p2})"),
                            ),
                        };
                        format!("(CASE WHEN json_type({a}.data, {p1}) {types} THEN {value} END)")
                    }
                    Dialect::Postgres => {
                        let p1 = self.bind(SqlParam::Text(column.clone()));
                        let p2 = self.bind(SqlParam::Text(column.clone()));
                        let raw = format!("({a}.data::jsonb ->> {p2}::text)");
                        let (ty_name, value) = match ty {
                            ColumnType::Number => ("number", format!("{raw}::double precision")),
                            ColumnType::String => ("string", raw),
                            ColumnType::Boolean => ("boolean", format!("{raw}::boolean")),
                        };
                        format!(
                            "(CASE WHEN jsonb_typeof({a}.data::jsonb -> {p1}::text) = '{ty_name}' \
                             THEN {value} END)"
                        )
                    }
                }
            }
        }
    }

    pub(crate) fn tags(&mut self, q: &TagQuery) -> String {
        let (table, owner) = match self.rt {
            ResourceType::Device => ("device_tags", "device_id"),
            ResourceType::ExperienceUser => ("experience_user_tags", "user_id"),
            ResourceType::ExperienceGroup => ("experience_group_tags", "group_id"),
            ResourceType::DataTableRow => return FALSE.to_owned(),
        };
        let a = self.alias.to_owned();
        let pos = match &q.form {
            TagForm::NoTags => {
                let t = self.fresh();
                return format!(
                    "({}EXISTS (SELECT 1 FROM {table} {t} WHERE {t}.{owner} = {a}.id))",
                    if q.negate { "" } else { "NOT " }
                );
            }
            TagForm::Pair { key, value } => self.tag_select(table, owner, key, value),
            TagForm::Keyed(pairs) if pairs.is_empty() => TRUE.to_owned(),
            TagForm::Keyed(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| self.tag_select(table, owner, &TagVal::Eq(k.clone()), v))
                    .collect();
                format!("({})", parts.join(" AND "))
            }
        };
        if q.negate {
            format!("(NOT {pos})")
        } else {
            pos
        }
    }

    /// `alias.id IN (SELECT owner FROM tags WHERE application_id = ? AND key.. AND value..)`,
    /// shaped for the `(application_id, key, value, owner)` index.
    fn tag_select(&mut self, table: &str, owner: &str, key: &TagVal, value: &TagVal) -> String {
        let never = |v: &TagVal| matches!(v, TagVal::In(xs) if xs.is_empty());
        if never(key) || never(value) {
            return FALSE.to_owned();
        }
        let a = self.alias.to_owned();
        let t = self.fresh();
        let app = self.bind(SqlParam::Text(self.app.to_owned()));
        let mut sql = format!(
            "({a}.id IN (SELECT {t}.{owner} FROM {table} {t} WHERE {t}.application_id = {app}"
        );
        for (colname, v) in [("key", key), ("value", value)] {
            let c = format!("{t}.{colname}");
            match v {
                TagVal::Any => {}
                TagVal::Eq(s) => {
                    let p = self.bind(SqlParam::Text(s.clone()));
                    sql.push_str(&format!(" AND {c} = {p}"));
                }
                TagVal::In(xs) | TagVal::Nin(xs) => {
                    if xs.is_empty() {
                        continue; // `$nin: []` excludes nothing
                    }
                    let ps: Vec<String> = xs
                        .iter()
                        .map(|x| self.bind(SqlParam::Text(x.clone())))
                        .collect();
                    let not = if matches!(v, TagVal::Nin(_)) {
                        "NOT "
                    } else {
                        ""
                    };
                    sql.push_str(&format!(" AND {c} {not}IN ({})", ps.join(", ")));
                }
            }
        }
        sql.push_str("))");
        sql
    }
}
