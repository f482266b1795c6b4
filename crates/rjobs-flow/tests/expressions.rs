//! Expressions: the MCP docs' examples, JavaScript coercion edge cases, and property tests
//! (no panics on arbitrary input; algebraic laws).

use proptest::prelude::*;
use rjobs_flow::expr;
use rjobs_flow::js::Js;
use serde_json::{json, Value};

fn payload() -> Value {
    json!({
        "data": {"temp": 85, "status": "active", "count": 4, "items": [1, 2], "empty": [],
                 "humidity": 50, "active": true, "name": "Alice", "five": "5", "zero": 0,
                 "nul": null, "angle": 1, "date": "x", "obj": {"a": 1}},
        "globals": {"threshold": 75},
        "working": {"processingSucceeded": true, "resp": {"statusCode": 200}}
    })
}

fn ev(src: &str) -> Js {
    expr::eval(src, &payload()).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

#[test]
fn docs_examples() {
    let t = |s: &str| expr::truthy(s, &payload()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    assert!(t("{{data.temp}} > 80"));
    assert!(t("{{data.status}} === \"active\""));
    assert!(t("{{data.status}} === 'active'"));
    assert!(
        !t("\"{{data.status}}\" === 'active'"),
        "quotes make it a literal string"
    );
    assert!(
        !t("{{working.error}}"),
        "missing path is the empty string: falsy"
    );
    assert!(t("{{data.items.length}} > 0"));
    assert!(!t("{{data.empty.length}} > 0"));
    assert!(t("{{data.temp}} > 75"));
    assert!(t(
        "{{data.temp}} > {{globals.threshold}} && {{data.humidity}} < 90"
    ));
    assert!(!t("!{{data.active}}"));
    assert!(t("{{data.count}} % 2 === 0"));
    assert!(t("{{lower data.status}} === 'active'"));
    assert!(t("{{working.resp.statusCode}} === 200"));
    assert!(t("{{working.processingSucceeded}}"));
    assert!(t("{{data.name}} === 'Alice'"));
}

#[test]
fn coercion_table() {
    let cases: &[(&str, Js)] = &[
        ("\"5\" == 5", Js::Bool(true)),
        ("\"5\" === 5", Js::Bool(false)),
        ("{{data.five}} == 5", Js::Bool(true)),
        ("{{data.five}} === 5", Js::Bool(false)),
        ("null == undefined", Js::Bool(true)),
        ("null === undefined", Js::Bool(false)),
        ("\"\" == 0", Js::Bool(true)),
        ("0 == false", Js::Bool(true)),
        ("\"1\" == true", Js::Bool(true)),
        ("null == 0", Js::Bool(false)),
        ("NaN == NaN", Js::Bool(false)),
        ("NaN != NaN", Js::Bool(true)),
        ("1 + 2", Js::Num(3.0)),
        ("\"1\" + 2", Js::Str("12".into())),
        ("1 + 2 + \"3\"", Js::Str("33".into())),
        ("\"3\" * \"4\"", Js::Num(12.0)),
        ("true + 1", Js::Num(2.0)),
        ("null + 1", Js::Num(1.0)),
        ("\"b\" > \"a\"", Js::Bool(true)),
        ("\"10\" < \"9\"", Js::Bool(true)),
        ("\"10\" < 9", Js::Bool(false)),
        ("undefined < 1", Js::Bool(false)),
        ("0 || \"x\"", Js::Str("x".into())),
        ("1 && \"y\"", Js::Str("y".into())),
        ("\"\" && 1", Js::Str(String::new())),
        ("!\"\"", Js::Bool(true)),
        ("!!{{data.obj}}", Js::Bool(true)),
        ("{{data.zero}} ? 'a' : 'b'", Js::Str("b".into())),
        ("1 ? 2 ? 3 : 4 : 5", Js::Num(3.0)),
        ("(1 + 2) * 3", Js::Num(9.0)),
        ("1 + 2 * 3", Js::Num(7.0)),
        ("-{{data.count}} + 1", Js::Num(-3.0)),
        ("7 % -3", Js::Num(1.0)),
        ("-7 % 3", Js::Num(-1.0)),
        ("1 / 0", Js::Num(f64::INFINITY)),
        ("0x10 + .5", Js::Num(16.5)),
        ("1e3", Js::Num(1000.0)),
        ("'a\\'b' + \"\\u0041\"", Js::Str("a'bA".into())),
        ("{{data.missing}} === ''", Js::Bool(true)),
        ("{{data.nul}} === null", Js::Bool(true)),
        ("{{data.items}} == '1,2'", Js::Bool(true)),
        ("{{add data.count 1}} == 5", Js::Bool(true)),
        ("{{data.status}} + '!'", Js::Str("active!".into())),
    ];
    for (src, want) in cases {
        let got = ev(src);
        match (want, &got) {
            (Js::Num(w), Js::Num(g)) if w.is_nan() => assert!(g.is_nan(), "{src}"),
            _ => assert_eq!(&got, want, "{src}"),
        }
    }
}

#[test]
fn parse_errors_are_messages() {
    for bad in [
        "",
        "1 +",
        "(1",
        "1 = 1",
        "foo",
        "{{data.x",
        "'open",
        "1 2",
        "a.b",
        "1..2",
        "0xZZ",
        "Math.max(1, 2)",
        "? :",
        "{{#if a}}",
    ] {
        let err = expr::parse(bad).expect_err(bad).to_string();
        assert!(!err.is_empty(), "{bad}");
    }
    assert!(expr::parse(&"(".repeat(100))
        .unwrap_err()
        .to_string()
        .contains("nests deeper"));
    assert!(expr::parse(&"!".repeat(100))
        .unwrap_err()
        .to_string()
        .contains("nests deeper"));
    let long = vec!["1"; 2000].join(" + ");
    assert!(expr::parse(&long)
        .unwrap_err()
        .to_string()
        .contains("operators"));
}

fn lit(n: f64) -> String {
    format!("({n:?})")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_text(s in "\\PC{0,80}") {
        let _ = expr::eval(&s, &payload());
    }

    #[test]
    fn never_panics_on_operator_soup(s in "[-+*/%!<>=&|?:()'\"{}. 0-9a-z_\\[\\]]{0,60}") {
        let _ = expr::eval(&s, &payload());
    }

    #[test]
    fn addition_commutes(a in -1e6f64..1e6, b in -1e6f64..1e6) {
        let l = ev(&format!("{} + {}", lit(a), lit(b)));
        let r = ev(&format!("{} + {}", lit(b), lit(a)));
        prop_assert_eq!(l, r);
    }

    #[test]
    fn comparisons_are_mirrored(a in -1000i64..1000, b in -1000i64..1000) {
        prop_assert_eq!(ev(&format!("{a} < {b}")), ev(&format!("{b} > {a}")));
        prop_assert_eq!(ev(&format!("{a} <= {b}")), ev(&format!("!({a} > {b})")));
        prop_assert_eq!(ev(&format!("{a} == {b}")), Js::Bool(a == b));
        prop_assert_eq!(ev(&format!("'{a}' == {b}")), Js::Bool(a == b));
    }

    #[test]
    fn de_morgan(a in any::<bool>(), b in any::<bool>(), x in 0i64..3, y in 0i64..3) {
        let l = ev(&format!("!({a} && {b})")).truthy();
        let r = ev(&format!("!{a} || !{b}")).truthy();
        prop_assert_eq!(l, r);
        let l = ev(&format!("!({x} || {y})")).truthy();
        let r = ev(&format!("!{x} && !{y}")).truthy();
        prop_assert_eq!(l, r);
    }

    #[test]
    fn double_negation_is_truthiness(s in "[a-z0-9 ]{0,8}") {
        let src = format!("!!'{s}'");
        prop_assert_eq!(ev(&src), Js::Bool(!s.is_empty()));
    }

    #[test]
    fn string_concat_length(a in "[a-z]{0,10}", b in "[a-z]{0,10}") {
        let got = ev(&format!("'{a}' + '{b}'"));
        prop_assert_eq!(got, Js::Str(format!("{a}{b}")));
    }
}
