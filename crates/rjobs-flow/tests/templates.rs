//! Templates: the MCP templating reference's examples and property tests.

use proptest::prelude::*;
use rjobs_flow::template;
use serde_json::{json, Value};

fn payload() -> Value {
    json!({
        "data": {"name": "Sensor \"1\"", "temp": 23.5, "unit": "celsius", "score": 60,
                 "anArray": [44, "Goodbye world", false, {"key": "val"}], "id": "abc",
                 "accumulator": {"count": 2}},
        "working": {"device": {"id": "abc123", "name": "Sensor 1"}}
    })
}

#[test]
fn json_template_examples() {
    let p = payload();
    let r = |t: &str| template::render(t, &p).unwrap_or_else(|e| panic!("{t}: {e}"));
    assert_eq!(r("{ \"foo\": \"bar\" }"), "{ \"foo\": \"bar\" }");
    let v: Value = serde_json::from_str(&r(
        "{ \"temp\": {{data.temp}}, \"unit\": \"{{data.unit}}\" }",
    ))
    .unwrap();
    assert_eq!(v, json!({"temp": 23.5, "unit": "celsius"}));
    let v: Value =
        serde_json::from_str(&r("{ \"device\": {{{jsonEncode working.device}}} }")).unwrap();
    assert_eq!(v, json!({"device": {"id": "abc123", "name": "Sensor 1"}}));
    let v: Value =
        serde_json::from_str(&r("{ \"device\": {{jsonEncode working.device}} }")).unwrap();
    assert_eq!(v["device"]["name"], "Sensor 1");
    let v: Value = serde_json::from_str(&r("{{{jsonEncode data.anArray}}}")).unwrap();
    assert_eq!(v, json!([44, "Goodbye world", false, {"key": "val"}]));
    let v: Value = serde_json::from_str(&r(
        "{ {{#gt data.score 50}}\"result\": \"pass\"{{else}}\"result\": \"fail\"{{/gt}} }",
    ))
    .unwrap();
    assert_eq!(v, json!({"result": "pass"}));
    let v: Value = serde_json::from_str(&r("{ \"name\": {{jsonEncode data.name}} }")).unwrap();
    assert_eq!(v, json!({"name": "Sensor \"1\""}));
    let v: Value =
        serde_json::from_str(&r("{\"count\": {{add data.accumulator.count 1}}}")).unwrap();
    assert_eq!(v, json!({"count": 3}));
    assert_eq!(
        r("{\"id\": \"{{data.id}}\", {{#if data.name}}\"n\": 1,{{/if}} \"x\": 0}"),
        "{\"id\": \"abc\", \"n\": 1, \"x\": 0}"
    );
    assert_eq!(r("Hello, {{data.unit}}!"), "Hello, celsius!");
    assert_eq!(r("{{data.nothing.here}}"), "");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics(s in "\\PC{0,60}") {
        let _ = template::render(&s, &payload());
    }

    #[test]
    fn never_panics_on_mustache_soup(s in "[{}#/a-z. \"'()0-9=]{0,50}") {
        let _ = template::render(&s, &payload());
        let _ = template::check(&s);
    }

    #[test]
    fn plain_text_is_unchanged(s in "[^{]{0,60}") {
        prop_assert_eq!(template::render(&s, &payload()).unwrap(), s);
    }

    #[test]
    fn json_encode_round_trips(s in "\\PC{0,30}") {
        let p = json!({"v": s});
        let out = template::render("{{jsonEncode v}}", &p).unwrap();
        let back: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(back, json!(s));
    }
}
