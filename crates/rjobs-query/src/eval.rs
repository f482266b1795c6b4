//! The reference evaluator: decides whether one in-memory resource matches a [`Query`].
//!
//! Why: it is the oracle the property tests compare both SQL backends against, so it is written
//! for obviousness, not speed, directly from the set semantics in the crate docs: every field
//! yields the *set* of its values and a test asks whether some value satisfies a predicate.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::ast::*;

/// A device as the evaluator sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalDevice {
    pub id: String,
    pub name: String,
    pub device_class: String,
    pub parent_id: Option<String>,
    pub gateway_id: Option<String>,
    /// `(key, value)` pairs.
    pub tags: Vec<(String, String)>,
    pub attribute_names: Vec<String>,
    /// `None`: never reported.
    pub connected: Option<bool>,
    pub connected_at: Option<i64>,
    pub disconnected_at: Option<i64>,
    pub creation_date: i64,
    pub last_updated: i64,
}

/// An experience group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalGroup {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub creation_date: i64,
    pub last_updated: i64,
}

/// An experience user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalUser {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub tags: Vec<(String, String)>,
    pub last_login: Option<i64>,
    pub password_last_updated: Option<i64>,
    pub creation_date: i64,
    pub last_updated: i64,
}

/// A data-table row; `data` is the row's JSON object of column values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalRow {
    pub id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub data: Map<String, Value>,
}

/// One resource of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalResource {
    Device(EvalDevice),
    Group(EvalGroup),
    User(EvalUser),
    Row(EvalRow),
}

/// Relations between resources of one application.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalWorld {
    /// Device id → its parent id, for every device that has one.
    pub device_parents: HashMap<String, String>,
    /// Group id → its parent id, for every group that has one.
    pub group_parents: HashMap<String, String>,
    /// `(group_id, user_id)` memberships.
    pub group_users: Vec<(String, String)>,
    /// `(group_id, device_id)` memberships.
    pub group_devices: Vec<(String, String)>,
}

impl Query {
    /// Whether `r` matches. A resource of another type than the query's never matches.
    pub fn matches(&self, r: &EvalResource, world: &EvalWorld) -> bool {
        let rt = match r {
            EvalResource::Device(_) => ResourceType::Device,
            EvalResource::Group(_) => ResourceType::ExperienceGroup,
            EvalResource::User(_) => ResourceType::ExperienceUser,
            EvalResource::Row(_) => ResourceType::DataTableRow,
        };
        rt == self.resource_type && node(&self.root, r, world)
    }
}

fn node(n: &Node, r: &EvalResource, w: &EvalWorld) -> bool {
    match n {
        Node::And(xs) => xs.iter().all(|x| node(x, r, w)),
        Node::Or(xs) => xs.iter().any(|x| node(x, r, w)),
        Node::Nor(xs) => !xs.iter().any(|x| node(x, r, w)),
        Node::Field(f) => field(f, r, w),
    }
}

fn field(f: &FieldQuery, r: &EvalResource, w: &EvalWorld) -> bool {
    match f {
        FieldQuery::Id { field, test } => {
            let vals: Vec<Id> = id_values(*field, r, w).into_iter().map(Id::raw).collect();
            holds(test, &vals, &vals, |s: &NoStr, _| match *s {})
        }
        FieldQuery::Text { field, ci, tests } => {
            let raw = text_values(field, r);
            let folded: Vec<String> = if *ci {
                raw.iter().map(|s| s.to_ascii_lowercase()).collect()
            } else {
                raw.clone()
            };
            tests
                .iter()
                .all(|t| holds(t, &raw, &folded, |m: &StrMatch, v: &String| str_match(m, v)))
        }
        FieldQuery::Date { field, tests } => {
            let vals: Vec<i64> = date_value(*field, r).into_iter().collect();
            tests.iter().all(|t| holds(t, &vals, &vals, no_str))
        }
        FieldQuery::Number { column, tests } => {
            let vals: Vec<f64> = row_value(r, column)
                .and_then(Value::as_f64)
                .into_iter()
                .collect();
            tests.iter().all(|t| holds(t, &vals, &vals, no_str))
        }
        FieldQuery::Bool { column, tests } => {
            let vals: Vec<bool> = row_value(r, column)
                .and_then(Value::as_bool)
                .into_iter()
                .collect();
            tests.iter().all(|t| holds(t, &vals, &vals, no_str))
        }
        FieldQuery::Tags(q) => tags(q, r),
    }
}

fn no_str<V>(s: &NoStr, _: &V) -> bool {
    match *s {}
}

/// `raw` feeds `$gt` & co; `eq` (ASCII-folded under `$ci`) feeds equality, `$in` and strings.
fn holds<V: PartialOrd, S>(
    t: &Test<V, S>,
    raw: &[V],
    eq: &[V],
    strs: impl Fn(&S, &V) -> bool,
) -> bool {
    let some = match &t.pred {
        Pred::Exists => !raw.is_empty(),
        Pred::Eq(x) => eq.iter().any(|v| v == x),
        Pred::Cmp(op, x) => raw.iter().any(|v| op.holds(v, x)),
        Pred::In(xs) => eq.iter().any(|v| xs.contains(v)),
        Pred::Str(m) => eq.iter().any(|v| strs(m, v)),
    };
    some != t.negate
}

fn str_match(m: &StrMatch, v: &str) -> bool {
    match m.op {
        StrOp::StartsWith => v.starts_with(&m.needle),
        StrOp::EndsWith => v.ends_with(&m.needle),
        StrOp::Contains => v.contains(&m.needle),
    }
}

/// Ids reached by following parent links one or more times (cycle-safe).
fn ancestors(start: Option<&String>, parents: &HashMap<String, String>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut cur = start.cloned();
    while let Some(p) = cur {
        if !seen.insert(p.clone()) {
            break;
        }
        cur = parents.get(&p).cloned();
        out.push(p);
    }
    out
}

fn id_values(f: IdField, r: &EvalResource, w: &EvalWorld) -> Vec<String> {
    use EvalResource as R;
    let members = |pairs: &[(String, String)], owner_first: bool, owner: &str| -> Vec<String> {
        pairs
            .iter()
            .filter_map(|(g, x)| {
                let (o, m) = if owner_first { (g, x) } else { (x, g) };
                (o == owner).then(|| m.clone())
            })
            .collect()
    };
    match (f, r) {
        (IdField::Own, R::Device(d)) => vec![d.id.clone()],
        (IdField::Own, R::Group(g)) => vec![g.id.clone()],
        (IdField::Own, R::User(u)) => vec![u.id.clone()],
        (IdField::Own, R::Row(x)) => vec![x.id.clone()],
        (IdField::Parent, R::Device(d)) => d.parent_id.iter().cloned().collect(),
        (IdField::Parent, R::Group(g)) => g.parent_id.iter().cloned().collect(),
        (IdField::Gateway, R::Device(d)) => d.gateway_id.iter().cloned().collect(),
        (IdField::Ancestor, R::Device(d)) => ancestors(d.parent_id.as_ref(), &w.device_parents),
        (IdField::Ancestor, R::Group(g)) => ancestors(g.parent_id.as_ref(), &w.group_parents),
        (IdField::GroupsOfDevice, R::Device(d)) => members(&w.group_devices, false, &d.id),
        (IdField::UsersOfDevice, R::Device(d)) => {
            let groups = members(&w.group_devices, false, &d.id);
            w.group_users
                .iter()
                .filter(|(g, _)| groups.contains(g))
                .map(|(_, u)| u.clone())
                .collect()
        }
        (IdField::GroupsOfUser, R::User(u)) => members(&w.group_users, false, &u.id),
        (IdField::UsersOfGroup, R::Group(g)) => members(&w.group_users, true, &g.id),
        _ => Vec::new(),
    }
}

fn text_values(f: &TextField, r: &EvalResource) -> Vec<String> {
    use EvalResource as R;
    let one = |s: &String| vec![s.clone()];
    match (f, r) {
        (TextField::Name, R::Device(d)) => one(&d.name),
        (TextField::Name, R::Group(g)) => one(&g.name),
        (TextField::DeviceClass, R::Device(d)) => one(&d.device_class),
        (TextField::ConnectionStatus, R::Device(d)) => match d.connected {
            Some(true) => vec!["connected".to_owned()],
            Some(false) => vec!["disconnected".to_owned()],
            None => Vec::new(),
        },
        (TextField::AttributeName, R::Device(d)) => d.attribute_names.clone(),
        (TextField::FirstName, R::User(u)) => one(&u.first_name),
        (TextField::LastName, R::User(u)) => one(&u.last_name),
        (TextField::Email, R::User(u)) => one(&u.email),
        (TextField::Column(c), r) => row_value(r, c)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn date_value(f: DateField, r: &EvalResource) -> Option<i64> {
    use EvalResource as R;
    match (f, r) {
        (DateField::CreationDate, R::Device(d)) => Some(d.creation_date),
        (DateField::CreationDate, R::Group(g)) => Some(g.creation_date),
        (DateField::CreationDate, R::User(u)) => Some(u.creation_date),
        (DateField::CreationDate, R::Row(x)) => Some(x.created_at),
        (DateField::LastUpdated, R::Device(d)) => Some(d.last_updated),
        (DateField::LastUpdated, R::Group(g)) => Some(g.last_updated),
        (DateField::LastUpdated, R::User(u)) => Some(u.last_updated),
        (DateField::LastUpdated, R::Row(x)) => Some(x.updated_at),
        (DateField::ConnectedAt, R::Device(d)) => d.connected_at,
        (DateField::DisconnectedAt, R::Device(d)) => d.disconnected_at,
        (DateField::LastLogin, R::User(u)) => u.last_login,
        (DateField::PasswordLastUpdated, R::User(u)) => u.password_last_updated,
        _ => None,
    }
}

fn row_value<'r>(r: &'r EvalResource, column: &str) -> Option<&'r Value> {
    match r {
        EvalResource::Row(x) => x.data.get(column),
        _ => None,
    }
}

fn tags(q: &TagQuery, r: &EvalResource) -> bool {
    let tags: &[(String, String)] = match r {
        EvalResource::Device(d) => &d.tags,
        EvalResource::Group(g) => &g.tags,
        EvalResource::User(u) => &u.tags,
        EvalResource::Row(_) => return false,
    };
    let tv = |m: &TagVal, s: &String| match m {
        TagVal::Any => true,
        TagVal::Eq(x) => x == s,
        TagVal::In(xs) => xs.contains(s),
        TagVal::Nin(xs) => !xs.contains(s),
    };
    let pos = match &q.form {
        TagForm::NoTags => tags.is_empty(),
        TagForm::Pair { key, value } => tags.iter().any(|(k, v)| tv(key, k) && tv(value, v)),
        TagForm::Keyed(pairs) => pairs
            .iter()
            .all(|(pk, pv)| tags.iter().any(|(k, v)| k == pk && tv(pv, v))),
    };
    pos != q.negate
}
