//! Expressions (`successExpression`, the Conditional node): a small JavaScript subset.
//!
//! The original evaluates these with a JavaScript engine after turning each `{{...}}` into a
//! *variable* holding the value at that path. Embedding a JS engine for this would be a large
//! attack surface for a few operators, so this is a hand-written parser and evaluator with
//! JavaScript's semantics (see [`crate::js`]). Anything outside the grammar is a parse error,
//! reported when the flow is saved rather than when it runs.
//!
//! Grammar (lowest precedence first):
//! ```text
//! expr     := or ( "?" expr ":" expr )?
//! or       := and ( "||" and )*
//! and      := equality ( "&&" equality )*
//! equality := relation ( ( "===" | "!==" | "==" | "!=" ) relation )*
//! relation := sum ( ( "<" | "<=" | ">" | ">=" ) sum )*
//! sum      := product ( ( "+" | "-" ) product )*
//! product  := unary ( ( "*" | "/" | "%" ) unary )*
//! unary    := ( "!" | "-" | "+" ) unary | primary
//! primary  := number | string | "true" | "false" | "null" | "undefined" | "NaN" | "Infinity"
//!           | "(" expr ")" | template
//! number   := decimal literal (digits, fraction, exponent) | 0x / 0o / 0b literal
//! string   := '...' | "..." with \n \t \r \b \f \v \0 \\ \' \" \xHH \uHHHH escapes
//! template := "{{" inner "}}" | "{{{" inner "}}}"
//! ```
//! A template whose inner text is a plain path (`data.temp`, `data.items.[0]`) stands for the
//! value at that path: numbers stay numbers, strings stay strings, objects stay objects, and a
//! missing path is the empty string. Any other inner text (`{{lower data.status}}`) is rendered
//! as a Handlebars template and stands for the resulting string. `&&`/`||` short-circuit and
//! return an operand, as in JavaScript.
//!
//! Limits: nesting of parentheses/unary operators is capped at 16 and an expression may hold
//! at most 1,000 operators, so neither parsing nor evaluation can exhaust the stack.

use serde_json::Value;

use crate::error::NodeError;
use crate::js::{self, Js};
use crate::{path, template};

const MAX_NESTING: usize = 16;
const MAX_OPERATORS: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Tmpl(String),
    Op(&'static str),
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Ast {
    Lit(Js),
    Tmpl(String),
    Unary(&'static str, Box<Ast>),
    /// A left-associative chain of one precedence level (`a + b - c`), kept flat so that a long
    /// chain is evaluated (and dropped) by a loop, not by recursion as deep as the chain.
    Chain(Box<Ast>, Vec<(&'static str, Ast)>),
    Cond(Box<Ast>, Box<Ast>, Box<Ast>),
}

const OPS: [&str; 21] = [
    "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "%", "!", "?",
    ":", "(", ")", "=",
];

/// An [`NodeError::Expression`] saying what is wrong with the expression.
fn bad(message: impl Into<String>) -> NodeError {
    NodeError::Expression(message.into())
}

fn lex(src: &str) -> Result<Vec<Tok>, NodeError> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '{' && chars.get(i + 1) == Some(&'{') {
            let triple = chars.get(i + 2) == Some(&'{');
            let (open, close) = if triple { (3, "}}}") } else { (2, "}}") };
            let rest: String = chars[i + open..].iter().collect();
            let end = rest
                .find(close)
                .ok_or_else(|| bad(format!("unclosed template at character {}", i + 1)))?;
            out.push(Tok::Tmpl(rest[..end].trim().to_string()));
            i += open + rest[..end].chars().count() + close.len();
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            if c == '0' && chars.get(i + 1).is_some_and(|n| "xXoObB".contains(*n)) {
                i += 2;
                while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            } else {
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    i += 1;
                    if i < chars.len() && (chars[i] == '+' || chars[i] == '-') {
                        i += 1;
                    }
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let n = js::str_to_number(&text);
            if n.is_nan()
                || chars
                    .get(i)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                return Err(bad(format!("invalid number {text:?}")));
            }
            out.push(Tok::Num(n));
        } else if c == '"' || c == '\'' {
            let (s, next) = lex_string(&chars, i)?;
            out.push(Tok::Str(s));
            i = next;
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| bad(format!("unexpected character {c:?}")))?;
            if *op == "=" {
                return Err(bad("assignment '=' is not allowed (use === or ==)"));
            }
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), NodeError> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Ok((s, i + 1));
        }
        if c == '\\' {
            let e = *chars.get(i + 1).ok_or_else(|| bad("unterminated string"))?;
            i += 2;
            match e {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                'b' => s.push('\u{8}'),
                'f' => s.push('\u{c}'),
                'v' => s.push('\u{b}'),
                '0' => s.push('\0'),
                'x' | 'u' => {
                    let n = if e == 'x' { 2 } else { 4 };
                    let hex: String = chars
                        .get(i..i + n)
                        .ok_or_else(|| bad("bad escape"))?
                        .iter()
                        .collect();
                    let code = u32::from_str_radix(&hex, 16).map_err(|_| bad("bad escape"))?;
                    s.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    i += n;
                }
                other => s.push(other),
            }
        } else {
            s.push(c);
            i += 1;
        }
    }
    Err(bad("unterminated string"))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    ops: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn count_op(&mut self) -> Result<(), NodeError> {
        self.ops += 1;
        if self.ops > MAX_OPERATORS {
            return Err(bad(format!(
                "expression has more than {MAX_OPERATORS} operators"
            )));
        }
        Ok(())
    }

    fn nest<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(bad(format!(
                "expression nests deeper than {MAX_NESTING} levels"
            )));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn expr(&mut self) -> Result<Ast, NodeError> {
        self.nest(|p| {
            let cond = p.binary(0)?;
            if p.eat("?") {
                p.count_op()?;
                let yes = p.expr()?;
                if !p.eat(":") {
                    return Err(bad("expected ':' in conditional expression"));
                }
                let no = p.expr()?;
                return Ok(Ast::Cond(Box::new(cond), Box::new(yes), Box::new(no)));
            }
            Ok(cond)
        })
    }

    fn binary(&mut self, level: usize) -> Result<Ast, NodeError> {
        const LEVELS: [&[&str]; 6] = [
            &["||"],
            &["&&"],
            &["===", "!==", "==", "!="],
            &["<", "<=", ">", ">="],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let left = self.binary(level + 1)?;
        let mut rest = Vec::new();
        while let Some(op) = self.peek_op().filter(|o| ops.contains(o)) {
            self.pos += 1;
            self.count_op()?;
            rest.push((op, self.binary(level + 1)?));
        }
        Ok(if rest.is_empty() {
            left
        } else {
            Ast::Chain(Box::new(left), rest)
        })
    }

    fn unary(&mut self) -> Result<Ast, NodeError> {
        if let Some(op) = self.peek_op().filter(|o| matches!(*o, "!" | "-" | "+")) {
            self.pos += 1;
            self.count_op()?;
            let inner = self.nest(Self::unary)?;
            return Ok(Ast::Unary(op, Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Ast, NodeError> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| bad("unexpected end of expression"))?;
        self.pos += 1;
        Ok(match tok {
            Tok::Num(n) => Ast::Lit(Js::Num(n)),
            Tok::Str(s) => Ast::Lit(Js::Str(s)),
            Tok::Tmpl(t) => {
                if !is_plain_path(&t) {
                    template::check(&format!("{{{{{t}}}}}"))?;
                }
                Ast::Tmpl(t)
            }
            Tok::Ident(id) => Ast::Lit(match id.as_str() {
                "true" => Js::Bool(true),
                "false" => Js::Bool(false),
                "null" => Js::Null,
                "undefined" => Js::Undefined,
                "NaN" => Js::Num(f64::NAN),
                "Infinity" => Js::Num(f64::INFINITY),
                _ => {
                    return Err(bad(format!(
                        "unknown identifier {id:?} (payload values go in {{{{...}}}})"
                    )))
                }
            }),
            Tok::Op("(") => {
                let inner = self.expr()?;
                if !self.eat(")") {
                    return Err(bad("expected ')'"));
                }
                inner
            }
            Tok::Op(o) => return Err(bad(format!("unexpected {o:?}"))),
        })
    }
}

fn is_plain_path(t: &str) -> bool {
    !t.is_empty()
        && !t.starts_with('#')
        && !t.starts_with('/')
        && path::validate(t).is_ok()
        && t.split('[')
            .next()
            .is_some_and(|head| !head.contains(char::is_whitespace))
        && !t.contains(['(', ')', '"', '\'', '='])
}

/// Parses `src` (validation calls this when a flow is saved).
pub fn parse(src: &str) -> Result<Ast, NodeError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(bad("empty expression"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        ops: 0,
    };
    let ast = p.expr()?;
    match p.toks.get(p.pos) {
        None => Ok(ast),
        Some(t) => Err(bad(format!(
            "unexpected {} after the end of the expression",
            describe(t)
        ))),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {}", js::num_to_string(*n)),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Ident(i) => format!("identifier {i:?}"),
        Tok::Tmpl(t) => format!("template {{{{{t}}}}}"),
        Tok::Op(o) => format!("{o:?}"),
    }
}

/// Parses and evaluates `src` against `payload`.
pub fn eval(src: &str, payload: &Value) -> Result<Js, NodeError> {
    let ast = parse(src)?;
    eval_ast(&ast, payload)
}

/// Evaluates `src` and applies JavaScript truthiness.
pub fn truthy(src: &str, payload: &Value) -> Result<bool, NodeError> {
    eval(src, payload).map(|v| v.truthy())
}

fn eval_ast(ast: &Ast, payload: &Value) -> Result<Js, NodeError> {
    Ok(match ast {
        Ast::Lit(v) => v.clone(),
        Ast::Tmpl(t) => {
            if is_plain_path(t) {
                match path::get(payload, t) {
                    Some(v) => Js::from_json(Some(&v)),
                    None => Js::Str(String::new()),
                }
            } else {
                Js::Str(template::render(&format!("{{{{{t}}}}}"), payload)?)
            }
        }
        Ast::Unary(op, inner) => {
            let v = eval_ast(inner, payload)?;
            match *op {
                "!" => Js::Bool(!v.truthy()),
                "-" => Js::Num(-v.to_number()),
                _ => Js::Num(v.to_number()),
            }
        }
        Ast::Cond(c, yes, no) => {
            if eval_ast(c, payload)?.truthy() {
                eval_ast(yes, payload)?
            } else {
                eval_ast(no, payload)?
            }
        }
        Ast::Chain(first, rest) => {
            let mut a = eval_ast(first, payload)?;
            for (op, r) in rest {
                a = match *op {
                    // Short-circuit, returning an operand, as in JavaScript.
                    "&&" if !a.truthy() => return Ok(a),
                    "||" if a.truthy() => return Ok(a),
                    "&&" | "||" => eval_ast(r, payload)?,
                    _ => binary(op, &a, &eval_ast(r, payload)?)?,
                };
            }
            a
        }
    })
}

fn binary(op: &str, a: &Js, b: &Js) -> Result<Js, NodeError> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match op {
        "===" => Js::Bool(js::strict_eq(a, b)),
        "!==" => Js::Bool(!js::strict_eq(a, b)),
        "==" => Js::Bool(js::loose_eq(a, b)),
        "!=" => Js::Bool(!js::loose_eq(a, b)),
        "<" => Js::Bool(js::compare(a, b) == Some(Less)),
        ">" => Js::Bool(js::compare(a, b) == Some(Greater)),
        "<=" => Js::Bool(matches!(js::compare(a, b), Some(Less | Equal))),
        ">=" => Js::Bool(matches!(js::compare(a, b), Some(Greater | Equal))),
        "+" => js::add(a, b),
        "-" => Js::Num(a.to_number() - b.to_number()),
        "*" => Js::Num(a.to_number() * b.to_number()),
        "/" => Js::Num(a.to_number() / b.to_number()),
        "%" => Js::Num(js::rem(a.to_number(), b.to_number())),
        other => return Err(bad(format!("unsupported operator {other:?}"))),
    })
}
