//! The typed abstract syntax tree a `queryJson` document parses into.
//!
//! Why a separate typed tree: the JSON grammar is loose (any field takes any scalar), but every
//! later stage (SQL compiler, evaluator) wants to know the *domain* of each comparison. The parser
//! therefore resolves each field to its kind (id, text, date, number, boolean, tags), converts and
//! validates every literal into that kind's Rust type, and lowers the operator zoo (`$eq`, `$ne`,
//! `$nin`, `null`, type mismatches, ...) into a tiny core: a [`Test`] is an optionally negated
//! existential [`Pred`] over the field's *set* of values (scalar fields have zero or one value).
//! String operators only exist for text fields (`Pred<V, NoStr>` cannot hold one), an id is a
//! validated [`Id`], and a literal of the wrong type has already become "matches nothing".

use std::convert::Infallible;

/// The four kinds of resource a resource job can iterate over (the domain's own type: one
/// vocabulary from the API to the SQL compiler).
pub use rjobs_core::jobs::ResourceType;

/// Which SQL dialect [`crate::Query::to_sql`] emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Type of a data-table column (the domain's own type).
pub use rjobs_core::resources::ColumnType;

/// Column types of a data table, needed to type row queries. Keyed by column name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    pub columns: Vec<(String, ColumnType)>,
}

impl TableSchema {
    /// The column types of `table`, as row queries need them.
    pub fn of(table: &rjobs_core::resources::DataTable) -> Self {
        TableSchema {
            columns: table
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type))
                .collect(),
        }
    }

    /// The type of column `name`, if the table has it.
    pub fn column(&self, name: &str) -> Option<ColumnType> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }
}

/// A parsed, validated query for one resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub(crate) resource_type: ResourceType,
    pub(crate) root: Node,
}

impl Query {
    /// The resource type this query was parsed for.
    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }
    /// The root node (an `And` of the top-level keys, or the single key's node).
    pub fn root(&self) -> &Node {
        &self.root
    }
}

/// A boolean combination of field conditions.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// All must match; empty matches everything.
    And(Vec<Node>),
    /// At least one must match; empty matches nothing.
    Or(Vec<Node>),
    /// None may match; empty matches everything.
    Nor(Vec<Node>),
    Field(FieldQuery),
}

/// A 24-character lower-case hexadecimal id (upper-case input is normalised).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(String);

impl Id {
    /// Validates and normalises an id; `None` unless exactly 24 ASCII hex digits.
    pub fn parse(s: &str) -> Option<Id> {
        (s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Id(s.to_ascii_lowercase()))
    }
    /// An id from storage, taken as is (the evaluator compares it byte for byte, like SQL).
    pub(crate) fn raw(s: String) -> Id {
        Id(s)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Uninhabited: the string-operator slot of non-text predicates.
pub type NoStr = Infallible;

/// `$gt`, `$gte`, `$lt`, `$lte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl CmpOp {
    /// `$gt`, `$gte`, `$lt`, `$lte`.
    pub fn parse(op: &str) -> Option<CmpOp> {
        match op {
            "$gt" => Some(CmpOp::Gt),
            "$gte" => Some(CmpOp::Gte),
            "$lt" => Some(CmpOp::Lt),
            "$lte" => Some(CmpOp::Lte),
            _ => None,
        }
    }

    pub fn holds<V: PartialOrd + ?Sized>(self, a: &V, b: &V) -> bool {
        match self {
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
        }
    }
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }
}

/// `$startsWith`, `$endsWith`, `$contains`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    StartsWith,
    EndsWith,
    Contains,
}

/// A string operator with its (non-empty; ASCII-lower-cased when `$ci`) needle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrMatch {
    pub op: StrOp,
    pub needle: String,
}

/// "Some value of the field satisfies ...". `In(vec![])` is the canonical "never".
#[derive(Debug, Clone, PartialEq)]
pub enum Pred<V, S = NoStr> {
    /// The field has at least one (non-null) value.
    Exists,
    Eq(V),
    Cmp(CmpOp, V),
    In(Vec<V>),
    Str(S),
}

/// A possibly negated predicate. `$ne x` is `Eq(x)` negated, `$nin` is `In` negated,
/// `{f: null}` is `Exists` negated.
#[derive(Debug, Clone, PartialEq)]
pub struct Test<V, S = NoStr> {
    pub negate: bool,
    pub pred: Pred<V, S>,
}

impl<V, S> Test<V, S> {
    pub(crate) fn pos(pred: Pred<V, S>) -> Self {
        Test {
            negate: false,
            pred,
        }
    }
    pub(crate) fn never() -> Self {
        Test::pos(Pred::In(Vec::new()))
    }
    pub(crate) fn negated(mut self) -> Self {
        self.negate = !self.negate;
        self
    }
}

/// Id-valued fields. Which variants occur depends on the resource type (see crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdField {
    /// The resource's own id.
    Own,
    /// `parentId` (devices, groups).
    Parent,
    /// `gatewayId` (devices).
    Gateway,
    /// `ancestorId`: any id reached by following parent links one or more times.
    Ancestor,
    /// Device `experienceGroupId`: groups the device is a member of.
    GroupsOfDevice,
    /// Device `experienceUserId`: users of the groups the device is a member of.
    UsersOfDevice,
    /// User `experienceGroupId`: groups the user is a member of.
    GroupsOfUser,
    /// Group `experienceUserId`: users that are members of the group.
    UsersOfGroup,
    /// `experienceEndpointId`: not modelled, always null.
    Unmodelled,
}

/// Text-valued fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextField {
    Name,
    DeviceClass,
    /// `"connected"`, `"disconnected"` or null (never reported).
    ConnectionStatus,
    /// The set of the device's attribute names.
    AttributeName,
    FirstName,
    LastName,
    Email,
    /// A data-table string column.
    Column(String),
}

/// Date-valued fields (unix milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    /// `creationDate` (rows: `createdAt`).
    CreationDate,
    /// `lastUpdated` (rows: `updatedAt`).
    LastUpdated,
    ConnectedAt,
    DisconnectedAt,
    LastLogin,
    PasswordLastUpdated,
    /// `deletedAt`: not modelled, always null.
    DeletedAt,
}

/// A tag value matcher (`TagVal` in the grammar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagVal {
    Any,
    Eq(String),
    In(Vec<String>),
    Nin(Vec<String>),
}

/// The three tag-query forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagForm {
    /// `null`: the resource has no tags at all.
    NoTags,
    /// `{$tagKey, $tagValue}`: one tag whose key and value both match.
    Pair { key: TagVal, value: TagVal },
    /// `{k: v, ...}`: for every pair, some tag with key `k` whose value matches.
    Keyed(Vec<(String, TagVal)>),
}

/// A tag query; `negate` comes from the `$ne` wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagQuery {
    pub negate: bool,
    pub form: TagForm,
}

/// A condition on one field; several tests on one field are ANDed.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldQuery {
    Id {
        field: IdField,
        test: Test<Id>,
    },
    Text {
        field: TextField,
        /// `$ci`: equality, `$in` and string tests compare ASCII-lower-cased values.
        ci: bool,
        tests: Vec<Test<String, StrMatch>>,
    },
    Date {
        field: DateField,
        tests: Vec<Test<i64>>,
    },
    Number {
        column: String,
        tests: Vec<Test<f64>>,
    },
    Bool {
        column: String,
        tests: Vec<Test<bool>>,
    },
    Tags(TagQuery),
}
