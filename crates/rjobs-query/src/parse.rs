//! JSON → [`Query`]: validation with precise error paths, and lowering into the core AST.
//!
//! Why lowering here: every operator form (`$ne`, `$nin`, `null`, wrong-typed literals, `$ci`)
//! is reduced once to negated/positive existential tests, so the SQL compiler and the
//! evaluator only implement the small core and cannot drift apart on the edge cases.

use serde_json::{Map, Value};

use crate::ast::*;
use crate::date::{number_ms, parse_date};
use crate::error::{child, index, QueryError};
use crate::fields::{lookup, FieldKind, Unknown};
use crate::tags::parse_tags;

/// Maximum items in `$and`/`$or`/`$nor`/`$in`/`$nin` arrays.
pub const MAX_ITEMS: usize = 100;

/// Maximum nesting of `$and`/`$or`/`$nor` (bounds recursion in every later stage).
pub const MAX_DEPTH: usize = 32;
/// The most values (scalars: literals, list items, tag keys and values) in one query. Each value
/// becomes at most a few SQL parameters, so this keeps every compiled query far below SQLite's
/// (32,766) and PostgreSQL's (65,535) parameter limits, and the SQL text small.
pub const MAX_VALUES: usize = 5000;
/// The longest string literal in a query, in characters.
pub const MAX_STRING_CHARS: usize = 4096;

/// Counts the scalar values of `v` (with an explicit stack), stopping past `limit`.
fn count_values(v: &Value, limit: usize) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(o) => {
                n += o.len();
                stack.extend(o.values());
            }
            _ => n += 1,
        }
        if n > limit {
            break;
        }
    }
    n
}

/// Parses a query document for `rt`. `table` is required for [`ResourceType::DataTableRow`].
pub fn parse(
    rt: ResourceType,
    query: &Value,
    table: Option<&TableSchema>,
) -> Result<Query, QueryError> {
    if rt == ResourceType::DataTableRow && table.is_none() {
        return Err(QueryError::new(
            "",
            "a data table schema is required for row queries",
        ));
    }
    let obj = query
        .as_object()
        .ok_or_else(|| QueryError::new("", "expected an object"))?;
    if count_values(query, MAX_VALUES) > MAX_VALUES {
        return Err(QueryError::new(
            "",
            format!("the query is too large: at most {MAX_VALUES} keys and values are allowed"),
        ));
    }
    let p = Parser { rt, table };
    Ok(Query {
        resource_type: rt,
        root: p.object(obj, "", 0)?,
    })
}

/// Parses JSON text; malformed JSON is a [`QueryError`] at the root.
pub fn parse_str(
    rt: ResourceType,
    text: &str,
    table: Option<&TableSchema>,
) -> Result<Query, QueryError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| QueryError::new("", format!("is not valid JSON: {e}")))?;
    parse(rt, &v, table)
}

struct Parser<'a> {
    rt: ResourceType,
    table: Option<&'a TableSchema>,
}

/// A literal after conversion to a field's domain.
enum Lit<V> {
    Null,
    Val(V),
    /// Valid JSON type for the grammar but not the field's: compares unequal to everything.
    Mismatch,
}

/// Checks array-ness and the item limit.
pub(crate) fn limited_array<'v>(v: &'v Value, path: &str) -> Result<&'v [Value], QueryError> {
    let arr = v
        .as_array()
        .ok_or_else(|| QueryError::new(path, "expected an array"))?;
    if arr.len() > MAX_ITEMS {
        return Err(QueryError::new(
            path,
            format!("at most {MAX_ITEMS} items are allowed, got {}", arr.len()),
        ));
    }
    Ok(arr)
}

/// Rejects strings PostgreSQL text cannot hold.
pub(crate) fn checked_str<'v>(s: &'v str, path: &str) -> Result<&'v str, QueryError> {
    // The server's one text rule (`rjobs_core::text`): no C0 control characters but tab,
    // newline and CR; NUL above all, which PostgreSQL text cannot hold.
    if s.contains('\0') {
        return Err(QueryError::new(
            path,
            "strings must not contain NUL characters",
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{7f}'))
    {
        return Err(QueryError::new(
            path,
            format!(
                "strings must not contain control characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    if s.chars().count() > MAX_STRING_CHARS {
        return Err(QueryError::new(
            path,
            format!("strings must be at most {MAX_STRING_CHARS} characters"),
        ));
    }
    Ok(s)
}

impl Parser<'_> {
    fn object(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) -> Result<Node, QueryError> {
        if depth > MAX_DEPTH {
            return Err(QueryError::new(
                path,
                format!("$and/$or/$nor may nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        let mut nodes = Vec::with_capacity(obj.len());
        for (key, v) in obj {
            let p = child(path, key);
            let node = match key.as_str() {
                "$and" => Node::And(self.list(v, &p, depth + 1)?),
                "$or" => Node::Or(self.list(v, &p, depth + 1)?),
                "$nor" => Node::Nor(self.list(v, &p, depth + 1)?),
                k if k.starts_with('$') => {
                    return Err(QueryError::new(
                        &p,
                        "unknown operator (expected $and, $or, $nor or a field name)",
                    ))
                }
                k => Node::Field(self.field(k, v, &p)?),
            };
            nodes.push(node);
        }
        Ok(if nodes.len() == 1 {
            nodes.remove(0)
        } else {
            Node::And(nodes)
        })
    }

    fn list(&self, v: &Value, path: &str, depth: usize) -> Result<Vec<Node>, QueryError> {
        let arr = limited_array(v, path)?;
        arr.iter()
            .enumerate()
            .map(|(i, item)| {
                let p = index(path, i);
                let obj = item
                    .as_object()
                    .ok_or_else(|| QueryError::new(&p, "expected an object"))?;
                self.object(obj, &p, depth)
            })
            .collect()
    }

    fn field(&self, key: &str, v: &Value, path: &str) -> Result<FieldQuery, QueryError> {
        let kind = lookup(self.rt, key, self.table).map_err(|u| {
            QueryError::new(
                path,
                match u {
                    Unknown::Field => "unknown field",
                    Unknown::BadColumnName => {
                        "invalid column name (expected ^[0-9a-zA-Z_-]{1,255}$)"
                    }
                    Unknown::Column => "unknown column",
                },
            )
        })?;
        let date_strs = if self.rt == ResourceType::DataTableRow {
            StrMode::Error
        } else {
            StrMode::Never
        };
        Ok(match kind {
            FieldKind::Id(field) => FieldQuery::Id {
                field,
                test: id_test(v, path)?,
            },
            FieldKind::Tags => FieldQuery::Tags(parse_tags(v, path)?),
            FieldKind::Text(field) => {
                let strict = matches!(field, TextField::Column(_));
                let (ci, tests) = generic(v, path, &|v, p| text_lit(v, p, strict), StrMode::Text)?;
                FieldQuery::Text {
                    field,
                    ci,
                    tests: if ci {
                        tests.into_iter().map(fold_test).collect()
                    } else {
                        tests
                    },
                }
            }
            FieldKind::Date(field) => FieldQuery::Date {
                field,
                tests: no_str(generic(v, path, &date_lit, date_strs)?.1),
            },
            FieldKind::Number(column) => FieldQuery::Number {
                column,
                tests: no_str(generic(v, path, &num_lit, StrMode::Error)?.1),
            },
            FieldKind::Bool(column) => FieldQuery::Bool {
                column,
                tests: no_str(generic(v, path, &bool_lit, StrMode::Error)?.1),
            },
        })
    }
}

/// Lower-cases the literals of the tests `$ci` affects (not `$gt` & co).
fn fold_test(mut t: Test<String, StrMatch>) -> Test<String, StrMatch> {
    match &mut t.pred {
        Pred::Eq(s) => s.make_ascii_lowercase(),
        Pred::In(v) => v.iter_mut().for_each(|s| s.make_ascii_lowercase()),
        Pred::Str(m) => m.needle.make_ascii_lowercase(),
        Pred::Exists | Pred::Cmp(..) => {}
    }
    t
}

/// String tests on a non-text field: they never match (`Str` became `In([])` already).
fn no_str<V>(tests: Vec<Test<V, StrMatch>>) -> Vec<Test<V>> {
    tests
        .into_iter()
        .map(|t| Test {
            negate: t.negate,
            pred: match t.pred {
                Pred::Exists => Pred::Exists,
                Pred::Eq(v) => Pred::Eq(v),
                Pred::Cmp(op, v) => Pred::Cmp(op, v),
                Pred::In(v) => Pred::In(v),
                Pred::Str(_) => Pred::In(Vec::new()),
            },
        })
        .collect()
}

type LitFn<'f, V> = dyn Fn(&Value, &str) -> Result<Lit<V>, QueryError> + 'f;

const SCALAR: &str = "expected a string, number, boolean, null, or an object of operators";

/// What `$startsWith`/`$endsWith`/`$contains` do on a field.
#[derive(Clone, Copy)]
enum StrMode {
    /// Text field: real string tests.
    Text,
    /// Non-text resource field: type bracketing, they never match.
    Never,
    /// Non-text data-table field: a validation error.
    Error,
}

/// Parses a generic field value (scalar or operator object).
fn generic<V>(
    v: &Value,
    path: &str,
    lit: &LitFn<'_, V>,
    strs: StrMode,
) -> Result<(bool, Vec<Test<V, StrMatch>>), QueryError> {
    let obj = match v {
        Value::Object(o) => o,
        Value::Array(_) => return Err(QueryError::new(path, SCALAR)),
        _ => return Ok((false, vec![eq_test(lit(v, path)?)])),
    };
    let ci = match obj.get("$ci") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(QueryError::new(&child(path, "$ci"), "expected a boolean")),
    };
    let mut tests = Vec::with_capacity(obj.len());
    for (op, val) in obj {
        let p = child(path, op);
        let cmp = |c: CmpOp| -> Result<Test<V, StrMatch>, QueryError> {
            Ok(match lit(val, &p)? {
                Lit::Val(x) => Test::pos(Pred::Cmp(c, x)),
                Lit::Null | Lit::Mismatch => Test::never(),
            })
        };
        if let Some(c) = CmpOp::parse(op) {
            tests.push(cmp(c)?);
            continue;
        }
        let t = match op.as_str() {
            "$ci" => continue,
            "$eq" => eq_test(lit(val, &p)?),
            "$ne" => eq_test(lit(val, &p)?).negated(),
            "$in" => in_test(val, &p, lit)?,
            "$nin" => in_test(val, &p, lit)?.negated(),
            "$startsWith" | "$endsWith" | "$contains" => {
                let needle = match val {
                    Value::String(s) if !s.is_empty() => checked_str(s, &p)?.to_owned(),
                    _ => return Err(QueryError::new(&p, "expected a non-empty string")),
                };
                let op = match op.as_str() {
                    "$startsWith" => StrOp::StartsWith,
                    "$endsWith" => StrOp::EndsWith,
                    _ => StrOp::Contains,
                };
                match strs {
                    StrMode::Text => Test::pos(Pred::Str(StrMatch { op, needle })),
                    StrMode::Never => Test::never(),
                    StrMode::Error => {
                        return Err(QueryError::new(
                            &p,
                            "string operators apply only to string columns",
                        ))
                    }
                }
            }
            _ => return Err(QueryError::new(&p, "unknown operator")),
        };
        tests.push(t);
    }
    Ok((ci, tests))
}

fn eq_test<V, S>(l: Lit<V>) -> Test<V, S> {
    match l {
        Lit::Null => Test::pos(Pred::Exists).negated(),
        Lit::Val(x) => Test::pos(Pred::Eq(x)),
        Lit::Mismatch => Test::never(),
    }
}

fn in_test<V, S>(v: &Value, path: &str, lit: &LitFn<'_, V>) -> Result<Test<V, S>, QueryError> {
    let mut vals = Vec::new();
    for (i, item) in limited_array(v, path)?.iter().enumerate() {
        let p = index(path, i);
        match lit(item, &p)? {
            Lit::Val(x) => vals.push(x),
            Lit::Mismatch => {}
            Lit::Null => return Err(QueryError::new(&p, "expected a string, number, or boolean")),
        }
    }
    Ok(Test::pos(Pred::In(vals)))
}

const LITERAL: &str = "expected a string, number, boolean, or null";

fn text_lit(v: &Value, path: &str, strict: bool) -> Result<Lit<String>, QueryError> {
    match v {
        Value::Null => Ok(Lit::Null),
        Value::String(s) => Ok(Lit::Val(checked_str(s, path)?.to_owned())),
        Value::Number(_) | Value::Bool(_) if !strict => Ok(Lit::Mismatch),
        _ if strict => Err(QueryError::new(path, "expected a string or null")),
        _ => Err(QueryError::new(path, LITERAL)),
    }
}

fn date_lit(v: &Value, path: &str) -> Result<Lit<i64>, QueryError> {
    match v {
        Value::Null => Ok(Lit::Null),
        Value::String(s) => parse_date(s).map(Lit::Val).ok_or_else(|| {
            QueryError::new(
                path,
                "expected an ISO-8601 date string or epoch milliseconds",
            )
        }),
        Value::Number(n) => number_ms(n).map(Lit::Val).ok_or_else(|| {
            QueryError::new(path, "expected an integer number of epoch milliseconds")
        }),
        Value::Bool(_) => Ok(Lit::Mismatch),
        _ => Err(QueryError::new(path, LITERAL)),
    }
}

fn num_lit(v: &Value, path: &str) -> Result<Lit<f64>, QueryError> {
    match v {
        Value::Null => Ok(Lit::Null),
        Value::Number(n) => n
            .as_f64()
            .map(Lit::Val)
            .ok_or_else(|| QueryError::new(path, "expected a number or null")),
        _ => Err(QueryError::new(path, "expected a number or null")),
    }
}

fn bool_lit(v: &Value, path: &str) -> Result<Lit<bool>, QueryError> {
    match v {
        Value::Null => Ok(Lit::Null),
        Value::Bool(b) => Ok(Lit::Val(*b)),
        _ => Err(QueryError::new(path, "expected a boolean or null")),
    }
}

const ID_OPS: &str = "expected exactly one of $eq, $ne, $gt, $lt, $gte, $lte, $in, $nin";

fn id_lit(v: &Value, path: &str) -> Result<Option<Id>, QueryError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Id::parse(s)
            .map(Some)
            .ok_or_else(|| QueryError::new(path, "expected a 24-character hex id or null")),
        _ => Err(QueryError::new(
            path,
            "expected a 24-character hex id or null",
        )),
    }
}

fn id_test(v: &Value, path: &str) -> Result<Test<Id>, QueryError> {
    let obj = match v {
        Value::Object(o) => o,
        _ => return Ok(eq_test(id_lit(v, path)?.map_or(Lit::Null, Lit::Val))),
    };
    let mut it = obj.iter();
    let (op, val) = match (it.next(), it.next()) {
        (Some(first), None) => first,
        _ => return Err(QueryError::new(path, ID_OPS)),
    };
    let p = child(path, op);
    let lit = |val: &Value, p: &str| -> Result<Lit<Id>, QueryError> {
        Ok(id_lit(val, p)?.map_or(Lit::Null, Lit::Val))
    };
    let cmp = |c: CmpOp| -> Result<Test<Id>, QueryError> {
        Ok(match lit(val, &p)? {
            Lit::Val(x) => Test::pos(Pred::Cmp(c, x)),
            _ => Test::never(),
        })
    };
    if let Some(c) = CmpOp::parse(op) {
        return cmp(c);
    }
    Ok(match op.as_str() {
        "$eq" => eq_test(lit(val, &p)?),
        "$ne" => eq_test(lit(val, &p)?).negated(),
        "$in" | "$nin" => {
            let id_item = |item: &Value, p: &str| -> Result<Lit<Id>, QueryError> {
                match item {
                    Value::Null => Err(QueryError::new(p, "expected a 24-character hex id")),
                    _ => lit(item, p),
                }
            };
            let t = in_test(val, &p, &id_item)?;
            if op == "$nin" {
                t.negated()
            } else {
                t
            }
        }
        _ => return Err(QueryError::new(&p, "unknown operator for an id field")),
    })
}
