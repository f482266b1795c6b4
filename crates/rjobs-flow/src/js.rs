//! JavaScript value semantics, shared by expressions and template helpers.
//!
//! The original evaluates expressions and helper arguments with JavaScript's rules, and flows
//! exported from it depend on those rules (`"5" == 5`, `"" == 0`, `null == undefined`, `+`
//! concatenating as soon as one side is a string, NaN comparing false). This module is the one
//! place those coercions live: `ToNumber`, `ToString`, `ToPrimitive`, truthiness, loose and strict
//! equality and relational comparison, over the JSON values a payload can hold plus `undefined`.

use serde_json::Value;

/// A JavaScript value as far as payload expressions can produce one.
#[derive(Debug, Clone, PartialEq)]
pub enum Js {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// An array or object from the payload (kept as JSON).
    Obj(Value),
}

impl Js {
    /// Converts a payload value (`None` = missing = `undefined`).
    pub fn from_json(v: Option<&Value>) -> Js {
        match v {
            None => Js::Undefined,
            Some(Value::Null) => Js::Null,
            Some(Value::Bool(b)) => Js::Bool(*b),
            Some(Value::Number(n)) => Js::Num(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::String(s)) => Js::Str(s.clone()),
            Some(other) => Js::Obj(other.clone()),
        }
    }

    /// Back to JSON (`undefined` and non-finite numbers become `null`, as `JSON.stringify` does).
    pub fn to_json(&self) -> Value {
        match self {
            Js::Undefined | Js::Null => Value::Null,
            Js::Bool(b) => Value::Bool(*b),
            Js::Num(n) => num_json(*n),
            Js::Str(s) => Value::String(s.clone()),
            Js::Obj(v) => v.clone(),
        }
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Js::Undefined | Js::Null => false,
            Js::Bool(b) => *b,
            Js::Num(n) => *n != 0.0 && !n.is_nan(),
            Js::Str(s) => !s.is_empty(),
            Js::Obj(_) => true,
        }
    }

    /// `ToPrimitive` (hint default): objects become their string form.
    pub fn to_primitive(&self) -> Js {
        match self {
            Js::Obj(_) => Js::Str(self.to_js_string()),
            other => other.clone(),
        }
    }

    /// `ToNumber`.
    pub fn to_number(&self) -> f64 {
        match self {
            Js::Undefined => f64::NAN,
            Js::Null => 0.0,
            Js::Bool(b) => f64::from(u8::from(*b)),
            Js::Num(n) => *n,
            Js::Str(s) => str_to_number(s),
            Js::Obj(_) => str_to_number(&self.to_js_string()),
        }
    }

    /// `ToString`.
    pub fn to_js_string(&self) -> String {
        match self {
            Js::Undefined => "undefined".into(),
            Js::Null => "null".into(),
            Js::Bool(b) => b.to_string(),
            Js::Num(n) => num_to_string(*n),
            Js::Str(s) => s.clone(),
            Js::Obj(v) => json_to_js_string(v),
        }
    }
}

fn json_to_js_string(v: &Value) -> String {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Null => String::new(),
                other => json_to_js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => num_to_string(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
    }
}

/// A JSON number for `n` (integers stay integers; non-finite → null).
pub fn num_json(n: f64) -> Value {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Exactly representable: store as an integer, as JSON.stringify would print it.
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// JavaScript's `Number.prototype.toString()` for the common cases.
pub fn num_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let abs = n.abs();
    if n.fract() == 0.0 && abs < 1e21 {
        return format!("{n:.0}");
    }
    if (1e-6..1e21).contains(&abs) {
        return format!("{n}");
    }
    // Exponent form, with JavaScript's explicit '+' for positive exponents.
    let s = format!("{n:e}");
    match s.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => s,
    }
}

/// JavaScript's `ToNumber` on a string.
pub fn str_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(digits) = t.strip_prefix(prefix) {
            if digits.is_empty() {
                return f64::NAN;
            }
            let mut acc = 0.0f64;
            for c in digits.chars() {
                match c.to_digit(radix) {
                    Some(d) => acc = acc * f64::from(radix) + f64::from(d),
                    None => return f64::NAN,
                }
            }
            return acc;
        }
    }
    // Rust's float grammar also accepts "inf"/"nan" spellings; JavaScript does not.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// `===`.
pub fn strict_eq(a: &Js, b: &Js) -> bool {
    match (a, b) {
        (Js::Num(x), Js::Num(y)) => x == y,
        // Objects: JavaScript compares references; payload values have no identity, so equal
        // structure counts as the same value (documented deviation).
        _ => a == b,
    }
}

/// `==` (the abstract equality algorithm).
pub fn loose_eq(a: &Js, b: &Js) -> bool {
    match (a, b) {
        (Js::Undefined | Js::Null, Js::Undefined | Js::Null) => true,
        (Js::Undefined | Js::Null, _) | (_, Js::Undefined | Js::Null) => false,
        (Js::Num(_), Js::Num(_))
        | (Js::Str(_), Js::Str(_))
        | (Js::Bool(_), Js::Bool(_))
        | (Js::Obj(_), Js::Obj(_)) => strict_eq(a, b),
        (Js::Num(x), Js::Str(s)) | (Js::Str(s), Js::Num(x)) => *x == str_to_number(s),
        (Js::Bool(_), _) => loose_eq(&Js::Num(a.to_number()), b),
        (_, Js::Bool(_)) => loose_eq(a, &Js::Num(b.to_number())),
        (Js::Obj(_), _) => loose_eq(&a.to_primitive(), b),
        (_, Js::Obj(_)) => loose_eq(a, &b.to_primitive()),
    }
}

/// Relational comparison: `Some(ordering)` or `None` when NaN is involved (every operator false).
pub fn compare(a: &Js, b: &Js) -> Option<std::cmp::Ordering> {
    let (pa, pb) = (a.to_primitive(), b.to_primitive());
    if let (Js::Str(x), Js::Str(y)) = (&pa, &pb) {
        // JavaScript compares UTF-16 code units.
        return Some(x.encode_utf16().cmp(y.encode_utf16()));
    }
    pa.to_number().partial_cmp(&pb.to_number())
}

/// `+`: concatenation when either primitive is a string, else numeric addition.
pub fn add(a: &Js, b: &Js) -> Js {
    let (pa, pb) = (a.to_primitive(), b.to_primitive());
    if matches!(pa, Js::Str(_)) || matches!(pb, Js::Str(_)) {
        let mut s = pa.to_js_string();
        s.push_str(&pb.to_js_string());
        Js::Str(s)
    } else {
        Js::Num(pa.to_number() + pb.to_number())
    }
}

/// `%` with JavaScript's sign rules (Rust's `%` on f64 already truncates like JS).
pub fn rem(a: f64, b: f64) -> f64 {
    a % b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_strings() {
        assert_eq!(num_to_string(1.0), "1");
        assert_eq!(num_to_string(-0.0), "0");
        assert_eq!(num_to_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(num_to_string(1e21), "1e+21");
        assert_eq!(num_to_string(1e-7), "1e-7");
        assert_eq!(num_to_string(f64::NAN), "NaN");
        assert_eq!(str_to_number(" 12 "), 12.0);
        assert_eq!(str_to_number(""), 0.0);
        assert_eq!(str_to_number("0x1f"), 31.0);
        assert!(str_to_number("inf").is_nan());
        assert!(str_to_number("12px").is_nan());
    }

    #[test]
    fn equality_table() {
        let s = |x: &str| Js::Str(x.into());
        assert!(loose_eq(&s("5"), &Js::Num(5.0)));
        assert!(loose_eq(&Js::Null, &Js::Undefined));
        assert!(loose_eq(&s(""), &Js::Num(0.0)));
        assert!(loose_eq(&Js::Bool(true), &s("1")));
        assert!(!loose_eq(&Js::Null, &Js::Num(0.0)));
        assert!(!strict_eq(&s("5"), &Js::Num(5.0)));
        assert!(!strict_eq(&Js::Num(f64::NAN), &Js::Num(f64::NAN)));
        assert!(loose_eq(&Js::Obj(serde_json::json!([1, 2])), &s("1,2")));
    }
}
