//! String templates: Handlebars over the payload, with the original's common helpers.
//!
//! Output is never HTML-escaped: templates build JSON bodies, URIs and messages, not HTML, and
//! the original's `jsonEncode` output must reach a JSON template untouched. A missing value
//! renders as the empty string (non-strict mode), as in the original.
//!
//! Helpers (arguments are coerced with JavaScript's rules, see [`crate::js`]):
//! - `jsonEncode v` — `JSON.stringify(v)` (missing → empty).
//! - `add a b`, `subtract a b` (a − b), `multiply a b`, `divide a b` (a ÷ b) — numeric.
//! - `lower s`, `upper s`, `encodeURIComponent s`, `length v` (array/string/object size).
//! - `defaultTo v d` — `v` unless it is missing, null or the empty string, then `d`.
//! - `eq`, `ne` (loose `==`/`!=`), `gt`, `gte`, `lt`, `lte`, `and` (all truthy), `or` (any
//!   truthy), `not`. As blocks (`{{#gt data.score 50}}pass{{else}}fail{{/gt}}`) they render
//!   the main or the `else` section; inline or as subexpressions (`{{#if (eq a b)}}`) they
//!   yield `true`/`false`.
//!
//! Every template goes through [`crate::bounds`] first (size, nesting, no partials) and renders
//! under a step budget and an output cap, so no template can overflow the stack or expand
//! without bound; a refused template is an `Err` naming the bound.

use std::sync::OnceLock;

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable, ScopedJson,
};
use serde_json::Value;

use crate::bounds::{self, Budget, CappedOutput};
use crate::error::NodeError;
use crate::js::{self, Js};

fn registry() -> &'static Handlebars<'static> {
    static HB: OnceLock<Handlebars<'static>> = OnceLock::new();
    HB.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.register_escape_fn(handlebars::no_escape);
        // `each` is the helper whose work grows with the data: it runs under the step budget.
        hb.register_helper("each", Box::new(crate::each::Each));
        for (name, helper) in BUILTINS {
            match helper {
                Builtin::Value(op) => hb.register_helper(name, Box::new(ValueHelper(op))),
                Builtin::Cond(op) => hb.register_helper(name, Box::new(CondHelper(op))),
            }
        }
        hb
    })
}

/// Our helpers: those that compute a value, and the conditions, which also render as blocks.
#[derive(Clone, Copy)]
enum Builtin {
    Value(Op),
    Cond(Cmp),
}

/// Every helper by its name in templates.
const BUILTINS: [(&str, Builtin); 19] = [
    ("jsonEncode", Builtin::Value(Op::JsonEncode)),
    ("add", Builtin::Value(Op::Add)),
    ("subtract", Builtin::Value(Op::Subtract)),
    ("multiply", Builtin::Value(Op::Multiply)),
    ("divide", Builtin::Value(Op::Divide)),
    ("lower", Builtin::Value(Op::Lower)),
    ("upper", Builtin::Value(Op::Upper)),
    ("defaultTo", Builtin::Value(Op::DefaultTo)),
    ("encodeURIComponent", Builtin::Value(Op::EncodeUri)),
    ("length", Builtin::Value(Op::Length)),
    ("eq", Builtin::Cond(Cmp::Eq)),
    ("ne", Builtin::Cond(Cmp::Ne)),
    ("gt", Builtin::Cond(Cmp::Gt)),
    ("gte", Builtin::Cond(Cmp::Gte)),
    ("lt", Builtin::Cond(Cmp::Lt)),
    ("lte", Builtin::Cond(Cmp::Lte)),
    ("and", Builtin::Cond(Cmp::And)),
    ("or", Builtin::Cond(Cmp::Or)),
    ("not", Builtin::Cond(Cmp::Not)),
];

/// Renders `template` against `payload`. A template without `{{` is returned as is.
pub fn render(template: &str, payload: &Value) -> Result<String, NodeError> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    bounds::scan(template)?;
    Budget::start();
    let mut out = CappedOutput::default();
    match registry().render_template_to_write(template, payload, &mut out) {
        Ok(()) => Ok(String::from_utf8_lossy(&out.bytes).into_owned()),
        Err(_) if out.overflowed => Err(NodeError::TemplateOutput),
        Err(e) => Err(NodeError::TemplateRender(reason(&e))),
    }
}

/// Checks that `template` parses and is within [`crate::bounds`] (used by flow validation).
pub fn check(template: &str) -> Result<(), NodeError> {
    if !template.contains("{{") {
        return Ok(());
    }
    bounds::scan(template)?;
    handlebars::Template::compile(template)
        .map(|_| ())
        .map_err(|e| NodeError::TemplateSyntax(e.to_string()))
}

fn reason(e: &RenderError) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or("").to_string()
}

fn arg(h: &Helper<'_>, i: usize) -> Js {
    match h.param(i) {
        Some(p) if !p.is_value_missing() => Js::from_json(Some(p.value())),
        _ => Js::Undefined,
    }
}

#[derive(Clone, Copy)]
enum Op {
    JsonEncode,
    Add,
    Subtract,
    Multiply,
    Divide,
    Lower,
    Upper,
    DefaultTo,
    EncodeUri,
    Length,
}

struct ValueHelper(Op);

fn num_out(n: f64) -> Value {
    if n.is_finite() {
        js::num_json(n)
    } else {
        Value::String(js::num_to_string(n))
    }
}

fn text(v: &Js) -> String {
    match v {
        Js::Undefined | Js::Null => String::new(),
        other => other.to_js_string(),
    }
}

/// JavaScript's `encodeURIComponent`.
pub fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

impl HelperDef for ValueHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Budget::charge(1).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        let (a, b) = (arg(h, 0), arg(h, 1));
        let out = match self.0 {
            Op::JsonEncode => match a {
                Js::Undefined => Value::String(String::new()),
                other => Value::String(other.to_json().to_string()),
            },
            Op::Add => num_out(a.to_number() + b.to_number()),
            Op::Subtract => num_out(a.to_number() - b.to_number()),
            Op::Multiply => num_out(a.to_number() * b.to_number()),
            Op::Divide => num_out(a.to_number() / b.to_number()),
            Op::Lower => Value::String(text(&a).to_lowercase()),
            Op::Upper => Value::String(text(&a).to_uppercase()),
            Op::EncodeUri => Value::String(encode_uri_component(&text(&a))),
            Op::DefaultTo => {
                let empty = matches!(&a, Js::Undefined | Js::Null)
                    || matches!(&a, Js::Str(s) if s.is_empty());
                if empty {
                    b.to_json()
                } else {
                    a.to_json()
                }
            }
            Op::Length => match a {
                Js::Str(s) => Value::from(s.encode_utf16().count()),
                Js::Obj(Value::Array(v)) => Value::from(v.len()),
                Js::Obj(Value::Object(m)) => Value::from(m.len()),
                _ => Value::Null,
            },
        };
        Ok(ScopedJson::Derived(out))
    }
}

#[derive(Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    And,
    Or,
    Not,
}

struct CondHelper(Cmp);

impl CondHelper {
    fn decide(&self, h: &Helper<'_>) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let (a, b) = (arg(h, 0), arg(h, 1));
        let ord = || js::compare(&a, &b);
        match self.0 {
            Cmp::Eq => js::loose_eq(&a, &b),
            Cmp::Ne => !js::loose_eq(&a, &b),
            Cmp::Gt => ord() == Some(Greater),
            Cmp::Gte => matches!(ord(), Some(Greater | Equal)),
            Cmp::Lt => ord() == Some(Less),
            Cmp::Lte => matches!(ord(), Some(Less | Equal)),
            Cmp::And => (0..h.params().len().max(1)).all(|i| arg(h, i).truthy()),
            Cmp::Or => (0..h.params().len()).any(|i| arg(h, i).truthy()),
            Cmp::Not => !a.truthy(),
        }
    }
}

impl HelperDef for CondHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        Budget::charge(1).map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        Ok(ScopedJson::Derived(Value::Bool(self.decide(h))))
    }

    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let yes = self.decide(h);
        if h.is_block() {
            match if yes { h.template() } else { h.inverse() } {
                Some(t) => t.render(r, ctx, rc, out),
                None => Ok(()),
            }
        } else {
            out.write(if yes { "true" } else { "false" })
                .map_err(|e| RenderErrorReason::Other(e.to_string()).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str) -> String {
        let p = json!({
            "data": {"name": "Alice \"A\" <x>", "temp": 23.5, "count": 4, "items": [1, 2, 3],
                     "status": "ACTIVE", "empty": "", "obj": {"a": 1}, "score": 70, "n": null},
            "globals": {"threshold": 75}
        });
        render(t, &p).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn table() {
        let cases = [
            ("plain", "plain"),
            ("{{data.name}}", "Alice \"A\" <x>"),
            ("{{data.missing}}", ""),
            ("{ \"temp\": {{data.temp}} }", "{ \"temp\": 23.5 }"),
            ("{{jsonEncode data.name}}", "\"Alice \\\"A\\\" <x>\""),
            ("{{{jsonEncode data.items}}}", "[1,2,3]"),
            ("{{jsonEncode data.obj}}", "{\"a\":1}"),
            ("{{add data.count 1}}", "5"),
            ("{{add \"2\" 3}}", "5"),
            ("{{subtract 10 data.count}}", "6"),
            ("{{multiply data.temp 2}}", "47"),
            ("{{divide 9 data.count}}", "2.25"),
            ("{{divide 1 0}}", "Infinity"),
            ("{{add data.missing 1}}", "NaN"),
            ("{{lower data.status}}", "active"),
            ("{{upper \"abc\"}}", "ABC"),
            ("{{defaultTo data.empty \"dflt\"}}", "dflt"),
            ("{{defaultTo data.missing 7}}", "7"),
            ("{{defaultTo data.count 7}}", "4"),
            ("{{encodeURIComponent \"a b&c/é\"}}", "a%20b%26c%2F%C3%A9"),
            ("{{length data.items}}", "3"),
            ("{{length data.status}}", "6"),
            ("{{#gt data.score 50}}pass{{else}}fail{{/gt}}", "pass"),
            ("{{#lt data.score 50}}pass{{else}}fail{{/lt}}", "fail"),
            ("{{#gte data.score 70}}y{{/gte}}", "y"),
            ("{{#lte data.score 69}}y{{else}}n{{/lte}}", "n"),
            ("{{#eq data.count \"4\"}}same{{/eq}}", "same"),
            ("{{#ne data.count 4}}diff{{else}}same{{/ne}}", "same"),
            ("{{#and data.count data.name}}both{{/and}}", "both"),
            ("{{#or data.empty data.n}}any{{else}}none{{/or}}", "none"),
            ("{{#not data.empty}}empty{{/not}}", "empty"),
            ("{{#if (eq data.status \"ACTIVE\")}}on{{/if}}", "on"),
            ("{{eq 1 1}}", "true"),
            ("{{gt 1 2}}", "false"),
            (
                "{{#if data.items}}{{#each data.items}}{{this}};{{/each}}{{/if}}",
                "1;2;3;",
            ),
        ];
        for (t, want) in cases {
            assert_eq!(r(t), want, "template {t:?}");
        }
        assert!(r("{{#if}}").starts_with("ERR"));
        assert!(check("{{#if a}}").is_err());
        assert!(check("ok {{a}}").is_ok());
    }
}
