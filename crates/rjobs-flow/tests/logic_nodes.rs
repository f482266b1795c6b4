//! Switch, Throw Error, JSON Encode and JSON Decode: config validation (a table: config →
//! accepted, or the error naming the field) and behaviour in a run.

mod common;

use common::{flow, iteration_data, node, FakeHost};
use rjobs_flow::{envelope, parse_flow, run, RunLimits, RunLog};
use serde_json::{json, Value};

fn err_of(ty: &str, config: Value, outs: Value) -> Option<String> {
    parse_flow(&flow(&["n"], json!([node("n", ty, config, outs)])))
        .err()
        .map(|e| e.to_string())
}

#[test]
fn config_table() {
    let one = json!([[]]);
    let cases: Vec<(&str, Value, Value, Option<&str>)> = vec![
        (
            "SwitchNode",
            json!({"switchTemplate": "{{data.device.name}}",
            "cases": [{"caseTemplate": "a", "caseLabel": "A"}, {"caseTemplate": "b"}]}),
            json!([[], [], []]),
            None,
        ),
        (
            "SwitchNode",
            json!({"switchTemplate": "x"}),
            one.clone(),
            None,
        ),
        (
            "SwitchNode",
            json!({"cases": []}),
            one.clone(),
            Some("nodes[0].config.switchTemplate: is required"),
        ),
        (
            "SwitchNode",
            json!({"switchTemplate": "x", "cases": {}}),
            one.clone(),
            Some("nodes[0].config.cases: must be an array"),
        ),
        (
            "SwitchNode",
            json!({"switchTemplate": "x", "cases": [5]}),
            one.clone(),
            Some("nodes[0].config.cases[0]: must be an object"),
        ),
        (
            "SwitchNode",
            json!({"switchTemplate": "x", "cases": [{"caseTemplate": "{{#if}}"}]}),
            one.clone(),
            Some("nodes[0].config.cases[0].caseTemplate:"),
        ),
        (
            "SwitchNode",
            json!({"switchTemplate": "x", "cases": [{"caseTemplate": "a"}]}),
            json!([[], [], []]),
            Some("nodes[0].outputIds: a SwitchNode with 1 cases has at most 2 outputs"),
        ),
        (
            "ThrowErrorNode",
            json!({"messageTemplate": "bad {{data.device.name}}"}),
            one.clone(),
            None,
        ),
        (
            "ThrowErrorNode",
            json!({}),
            one.clone(),
            Some("nodes[0].config.messageTemplate: is required"),
        ),
        (
            "JsonEncodeNode",
            json!({"source": "data.device", "destination": "working.json"}),
            one.clone(),
            None,
        ),
        (
            "JsonEncodeNode",
            json!({"destination": "working.json"}),
            one.clone(),
            Some("nodes[0].config.source: is required"),
        ),
        (
            "JsonEncodeNode",
            json!({"source": "a"}),
            one.clone(),
            Some("nodes[0].config.destination: is required"),
        ),
        (
            "JsonDecodeNode",
            json!({"source": "a", "destination": "b", "errorBehavior": "payloadPath", "errorPath": "e"}),
            one.clone(),
            None,
        ),
        (
            "JsonDecodeNode",
            json!({"source": "a", "destination": "b", "errorBehavior": "payloadPath"}),
            one.clone(),
            Some("nodes[0].config.errorPath: is required when errorBehavior is payloadPath"),
        ),
        (
            "JsonDecodeNode",
            json!({"source": "a..b", "destination": "b"}),
            one.clone(),
            Some("nodes[0].config.source:"),
        ),
    ];
    for (ty, config, outs, want) in cases {
        let got = err_of(ty, config.clone(), outs);
        match want {
            None => assert_eq!(got, None, "{ty} {config}"),
            Some(m) => {
                let got = got.unwrap_or_else(|| panic!("{ty} {config} was accepted"));
                assert!(got.starts_with(m), "{ty} {config}: {got}");
            }
        }
    }
}

async fn go(nodes: Value) -> RunLog {
    let f = parse_flow(&flow(&["n"], nodes)).unwrap_or_else(|e| panic!("{e}"));
    let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
    run(&f, 0, p, &FakeHost::default(), &RunLimits::default()).await
}

fn dbg(id: &str, message: &str) -> Value {
    node(id, "DebugNode", json!({"message": message}), json!([[]]))
}

#[tokio::test]
async fn switch_follows_the_first_matching_case_or_the_default() {
    for (name, want) in [
        ("Pump 7", "case pump"),
        ("Fan 1", "case fan"),
        ("Other", "default"),
    ] {
        let sw = node(
            "n",
            "SwitchNode",
            json!({"switchTemplate": "{{working.name}}", "cases": [
                {"caseTemplate": "Pump 7", "caseLabel": "pump"},
                {"caseTemplate": "Fan {{data.attemptNumber}}"},
                {"caseTemplate": "Fan 1"}]}),
            json!([["d0"], ["d1"], ["d2"], ["d3"]]),
        );
        let set = node(
            "s",
            "MutateNode",
            json!({"rules": [{"type": "set", "valueTemplate": name, "destination": "working.name"}]}),
            json!([["n"]]),
        );
        let f = parse_flow(&flow(
            &["s"],
            json!([
                set,
                sw,
                dbg("d0", "default"),
                dbg("d1", "case pump"),
                dbg("d2", "case fan2"),
                dbg("d3", "case fan")
            ]),
        ))
        .unwrap();
        let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
        let log = run(&f, 0, p, &FakeHost::default(), &RunLimits::default()).await;
        assert_eq!(log.status, "success", "{:?}", log.error);
        let seen: Vec<_> = log.debug.iter().map(|d| d["message"].clone()).collect();
        assert_eq!(seen, vec![json!(want)], "{name}");
    }
}

#[tokio::test]
async fn throw_error_ends_the_run_with_its_message() {
    let log = go(json!([
        node(
            "n",
            "ThrowErrorNode",
            json!({"messageTemplate": "no firmware for {{data.device.name}}"}),
            json!([["d"]])
        ),
        dbg("d", "never")
    ]))
    .await;
    assert_eq!(log.status, "error");
    assert!(log.error.unwrap().ends_with("no firmware for Pump 7"));
    assert!(log.debug.is_empty());
}

#[tokio::test]
async fn json_encode_and_decode_round_trip() {
    let enc = node(
        "n",
        "JsonEncodeNode",
        json!({"source": "data.device.tags", "destination": "working.text"}),
        json!([["dec"]]),
    );
    let dec = node(
        "dec",
        "JsonDecodeNode",
        json!({"source": "working.text", "destination": "working.back"}),
        json!([["d"]]),
    );
    let d = node(
        "d",
        "DebugNode",
        json!({"property": "working"}),
        json!([[]]),
    );
    let log = go(json!([enc, dec, d])).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(
        log.debug[0]["value"],
        json!({"text": "{\"floor\":[\"2\"]}", "back": {"floor": ["2"]}})
    );

    // Bad JSON: the run ends, or the error goes to errorPath.
    let bad = |cfg: Value| {
        json!([
            node(
                "n",
                "MutateNode",
                json!({"rules": [{"type": "set", "valueTemplate": "{nope", "destination": "working.text"}]}),
                json!([["dec"]])
            ),
            node("dec", "JsonDecodeNode", cfg, json!([["d"]])),
            node(
                "d",
                "DebugNode",
                json!({"property": "working"}),
                json!([[]])
            )
        ])
    };
    let log = go(bad(
        json!({"source": "working.text", "destination": "working.back"}),
    ))
    .await;
    assert_eq!(log.status, "error");
    assert!(log.error.unwrap().contains("is not JSON"));
    let log = go(bad(
        json!({"source": "working.text", "destination": "working.back",
                              "errorBehavior": "payloadPath", "errorPath": "working.err"}),
    ))
    .await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(log.debug[0]["value"]["err"]["type"], "JsonDecodeError");
    assert!(log.debug[0]["value"].get("back").is_none());
}
