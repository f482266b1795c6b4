//! Compilation of a [`Query`] into a parameterized SQL `WHERE` fragment (SQLite / PostgreSQL).
//!
//! Why this shape: every emitted predicate is *two-valued* (never SQL `NULL`): comparisons on
//! nullable expressions are guarded with `IS NOT NULL`, so `NOT`, `$nor`, `$ne` and `$nin`
//! mean exactly the boolean negation the evaluator computes. User strings (and JSON column
//! paths) are always bound, never inlined; only our own identifiers and small integers are.
//! Index use: `id`/`parentId`/`gatewayId`/`name` compare the bare column; tag, membership and
//! ancestor conditions are `alias.id IN (SELECT owner ... )` sub-selects that start from the
//! indexed tag/membership/parent columns, so SQLite can drive the outer query from them.

use crate::ast::*;
use crate::sql_source::{self as source, Elem, Source};

/// A parameterized SQL fragment.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFragment {
    pub sql: String,
    pub params: Vec<SqlParam>,
}

/// One bound parameter. `Null` is never emitted by this crate (null tests compile to
/// `IS NULL` shapes) but exists so callers can share the type for their own parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

pub(crate) const TRUE: &str = "(1=1)";
pub(crate) const FALSE: &str = "(1=0)";

pub(crate) struct Ctx<'a> {
    pub(crate) d: Dialect,
    pub(crate) alias: &'a str,
    pub(crate) app: &'a str,
    pub(crate) rt: ResourceType,
    params: Vec<SqlParam>,
    next: usize,
    uniq: usize,
}

impl Query {
    /// `WHERE`-clause fragment (without `WHERE`) over the resource's table aliased `alias`.
    /// SQLite placeholders are positional `?` (bind `params` after the caller's own, in
    /// order); PostgreSQL's are `$first_param`, `$first_param+1`, ... (0 is treated as 1).
    /// `application_id` is bound inside tag and ancestor sub-selects.
    pub fn to_sql(
        &self,
        dialect: Dialect,
        alias: &str,
        application_id: &str,
        first_param: usize,
    ) -> SqlFragment {
        let mut cx = Ctx {
            d: dialect,
            alias,
            app: application_id,
            rt: self.resource_type,
            params: Vec::new(),
            next: first_param.max(1),
            uniq: 0,
        };
        let sql = cx.node(&self.root);
        SqlFragment {
            sql,
            params: cx.params,
        }
    }
}

/// Values that can be bound.
pub(crate) trait Bind {
    fn param(&self) -> SqlParam;
}
impl Bind for Id {
    fn param(&self) -> SqlParam {
        SqlParam::Text(self.as_str().to_owned())
    }
}
impl Bind for String {
    fn param(&self) -> SqlParam {
        SqlParam::Text(self.clone())
    }
}
impl Bind for i64 {
    fn param(&self) -> SqlParam {
        SqlParam::Int(*self)
    }
}
impl Bind for f64 {
    fn param(&self) -> SqlParam {
        SqlParam::Float(*self)
    }
}
impl Bind for bool {
    fn param(&self) -> SqlParam {
        SqlParam::Bool(*self)
    }
}

/// String-operator payloads: real for text, uninhabited otherwise.
pub(crate) trait StrSql {
    fn sql(&self, cx: &mut Ctx<'_>, e: &Elem, ci: bool) -> String;
}
impl StrSql for NoStr {
    fn sql(&self, _: &mut Ctx<'_>, _: &Elem, _: bool) -> String {
        match *self {}
    }
}
impl StrSql for StrMatch {
    fn sql(&self, cx: &mut Ctx<'_>, e: &Elem, ci: bool) -> String {
        cx.str_match(e, self, ci)
    }
}

/// The smallest string greater than every string starting with `p`, if any.
pub(crate) fn prefix_successor(p: &str) -> Option<String> {
    let mut chars: Vec<char> = p.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Ctx<'_> {
    pub(crate) fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        match self.d {
            Dialect::Sqlite => "?".to_owned(),
            Dialect::Postgres => {
                let n = self.next;
                self.next += 1;
                format!("${n}")
            }
        }
    }

    /// A fresh table alias for a sub-select.
    pub(crate) fn fresh(&mut self) -> String {
        self.uniq += 1;
        format!("rjq_t{}", self.uniq)
    }

    fn node(&mut self, n: &Node) -> String {
        match n {
            Node::And(xs) => self.join(xs, " AND ", TRUE),
            Node::Or(xs) => self.join(xs, " OR ", FALSE),
            Node::Nor(xs) => {
                let inner = self.join(xs, " OR ", FALSE);
                format!("(NOT {inner})")
            }
            Node::Field(f) => self.field(f),
        }
    }

    fn join(&mut self, xs: &[Node], sep: &str, empty: &str) -> String {
        if xs.is_empty() {
            return empty.to_owned();
        }
        let parts: Vec<String> = xs.iter().map(|x| self.node(x)).collect();
        format!("({})", parts.join(sep))
    }

    fn field(&mut self, f: &FieldQuery) -> String {
        match f {
            FieldQuery::Id { field, test } => {
                let src = source::id(self, *field);
                self.test(&src, test, None)
            }
            FieldQuery::Text { field, ci, tests } => {
                let src = source::text(self, field);
                self.tests(&src, tests, Some(*ci))
            }
            FieldQuery::Date { field, tests } => {
                let src = source::date(self, *field);
                self.tests(&src, tests, None)
            }
            FieldQuery::Number { column, tests } => {
                let src = source::json(column, ColumnType::Number);
                self.tests(&src, tests, None)
            }
            FieldQuery::Bool { column, tests } => {
                let src = source::json(column, ColumnType::Boolean);
                self.tests(&src, tests, None)
            }
            FieldQuery::Tags(t) => self.tags(t),
        }
    }

    fn tests<V: Bind, S: StrSql>(
        &mut self,
        src: &Source,
        tests: &[Test<V, S>],
        ci: Option<bool>,
    ) -> String {
        match tests {
            [] => TRUE.to_owned(),
            [t] => self.test(src, t, ci),
            _ => {
                let parts: Vec<String> = tests.iter().map(|t| self.test(src, t, ci)).collect();
                format!("({})", parts.join(" AND "))
            }
        }
    }

    /// One test: "some value satisfies `pred`", possibly negated.
    fn test<V: Bind, S: StrSql>(
        &mut self,
        src: &Source,
        t: &Test<V, S>,
        ci: Option<bool>,
    ) -> String {
        let never = matches!(&t.pred, Pred::In(v) if v.is_empty());
        let pos = if never {
            FALSE.to_owned()
        } else {
            match src {
                Source::Empty => FALSE.to_owned(),
                Source::Scalar(e) => self.pred(e, &t.pred, ci),
                Source::Set(set) => set
                    .clone()
                    .render(self, &mut |cx, e| cx.pred(e, &t.pred, ci)),
            }
        };
        if t.negate {
            format!("(NOT {pos})")
        } else {
            pos
        }
    }

    /// Two-valued SQL for `pred` on one element expression. For nullable elements the
    /// `IS NOT NULL` guard is written (and its parameters bound) before the comparison, so
    /// SQLite's positional parameters stay in textual order.
    pub(crate) fn pred<V: Bind, S: StrSql>(
        &mut self,
        e: &Elem,
        pred: &Pred<V, S>,
        ci: Option<bool>,
    ) -> String {
        let fold = ci == Some(true);
        match pred {
            Pred::In(vs) if vs.is_empty() => return FALSE.to_owned(),
            Pred::Exists if !e.nullable() => return TRUE.to_owned(),
            _ => {}
        }
        let guard = if e.nullable() {
            let x = self.elem(e);
            format!("{x} IS NOT NULL")
        } else {
            String::new()
        };
        let body = match pred {
            Pred::Exists => return format!("({guard})"),
            Pred::Str(m) => m.sql(self, e, fold),
            Pred::Eq(v) => {
                let x = self.folded(e, fold);
                let p = self.bind(v.param());
                format!("{x} = {p}")
            }
            Pred::Cmp(op, v) => {
                let x = self.ordered(e, ci.is_some());
                let p = self.bind(v.param());
                format!("{x} {} {p}", op.sql())
            }
            Pred::In(vs) => {
                let x = self.folded(e, fold);
                let ps: Vec<String> = vs.iter().map(|v| self.bind(v.param())).collect();
                format!("{x} IN ({})", ps.join(", "))
            }
        };
        if guard.is_empty() {
            format!("({body})")
        } else {
            format!("({guard} AND {body})")
        }
    }

    /// The element, ASCII-lower-cased when `fold`.
    fn folded(&mut self, e: &Elem, fold: bool) -> String {
        let x = self.elem(e);
        if !fold {
            return x;
        }
        match self.d {
            Dialect::Sqlite => format!("lower({x})"),
            Dialect::Postgres => format!(
                "translate({x}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
            ),
        }
    }

    /// The element for `<`/`>`: text compares in code-point order on PostgreSQL too.
    fn ordered(&mut self, e: &Elem, text: bool) -> String {
        let x = self.elem(e);
        if text && self.d == Dialect::Postgres {
            format!("{x} COLLATE \"C\"")
        } else {
            x
        }
    }

    /// `$startsWith` / `$endsWith` / `$contains` without LIKE (no guard; see [`Ctx::pred`]).
    fn str_match(&mut self, e: &Elem, m: &StrMatch, fold: bool) -> String {
        let pg = self.d == Dialect::Postgres;
        match m.op {
            StrOp::StartsWith if !fold => {
                // A range on the bare column lets the (application_id, name) index serve it.
                let lo_x = self.ordered(e, true);
                let lo = self.bind(SqlParam::Text(m.needle.clone()));
                match prefix_successor(&m.needle) {
                    Some(succ) => {
                        let hi_x = self.ordered(e, true);
                        let hi = self.bind(SqlParam::Text(succ));
                        format!("{lo_x} >= {lo} AND {hi_x} < {hi}")
                    }
                    None => {
                        let x = self.elem(e);
                        let p = self.bind(SqlParam::Text(m.needle.clone()));
                        let f = if pg { "strpos" } else { "instr" };
                        format!("{lo_x} >= {lo} AND {f}({x}, {p}) = 1")
                    }
                }
            }
            StrOp::StartsWith | StrOp::Contains => {
                let x = self.folded(e, fold);
                let p = self.bind(SqlParam::Text(m.needle.clone()));
                let f = if pg { "strpos" } else { "instr" };
                let cmp = if m.op == StrOp::StartsWith {
                    "= 1"
                } else {
                    "> 0"
                };
                format!("{f}({x}, {p}) {cmp}")
            }
            StrOp::EndsWith => {
                let x = self.folded(e, fold);
                let p = self.bind(SqlParam::Text(m.needle.clone()));
                // Our own integer, not user text: safe to inline.
                let n = m.needle.chars().count();
                if pg {
                    format!("right({x}, {n}) = {p}")
                } else {
                    format!("substr({x}, -{n}) = {p}")
                }
            }
        }
    }
}
