//! Flow validation: precise messages naming the culprit; round-trip of the stored shape.

mod common;

use common::{flow, node, JOB};
use rjobs_flow::{flow_json, parse_flow, patch_flow};
use serde_json::json;

fn err(v: serde_json::Value) -> String {
    parse_flow(&v).expect_err("should be rejected").to_string()
}

fn ack(id: &str, outs: serde_json::Value) -> serde_json::Value {
    node(
        id,
        "ResourceJobAcknowledgeNode",
        json!({"successExpression": "true"}),
        outs,
    )
}

#[test]
fn accepts_and_round_trips() {
    let v = json!({
        "name": "n", "description": "d",
        "triggers": [{"type": "resourceJobComplete", "key": JOB, "config": {}, "uiId": "u1",
                      "meta": {"label": "Job: Complete"}, "outputIds": [["a"]]}],
        "nodes": [
            {"id": "a", "type": "ConditionalNode", "config": {"expression": "{{data.success}}", "extraUiField": 1},
             "meta": {"x": 1}, "outputIds": [["b"], ["c"]]},
            ack("b", json!([[]])),
            node("c", "DebugNode", json!({"message": "done"}), json!([[]]))
        ],
        "globals": [{"key": "k", "json": "{\"a\": 1}"}]
    });
    let f = parse_flow(&v).unwrap();
    assert!(f.enabled, "enabled defaults to true");
    assert_eq!(f.listens_to("resourceJobComplete", JOB), vec![0]);
    assert!(f.listens_to("resourceJobIteration", JOB).is_empty());
    assert!(f
        .listens_to("resourceJobComplete", "000000000000000000000000")
        .is_empty());
    let out = flow_json(&f);
    assert_eq!(out["triggers"][0]["uiId"], "u1");
    assert_eq!(out["nodes"][0]["config"]["extraUiField"], 1);
    assert_eq!(out["globals"], json!([{"key": "k", "json": "{\"a\": 1}"}]));
    assert_eq!(out["nodes"], v["nodes"]);
    assert_eq!(
        parse_flow(&out).unwrap(),
        f,
        "stored shape parses back to the same flow"
    );

    let patched = patch_flow(&f, &json!({"enabled": false, "name": "m"})).unwrap();
    assert_eq!(patched.name, "m");
    assert!(!patched.enabled);
    assert!(
        patched.listens_to("resourceJobComplete", JOB).is_empty(),
        "disabled flows listen to nothing"
    );
    assert_eq!(patched.nodes, f.nodes);
    assert_eq!(
        patch_flow(&f, &json!({"nodes": []}))
            .unwrap_err()
            .to_string(),
        "triggers[0].outputIds[0][0]: no node with id \"a\""
    );
}

#[test]
fn messages() {
    let cases = vec![
        (json!([]), "body: must be a JSON object"),
        (json!({"triggers": []}), "name: is required"),
        (json!({"name": 5}), "name: must be a string"),
        (json!({"name": "x", "enabled": "yes"}), "enabled: must be a boolean"),
        (json!({"name": "x", "triggers": [{"type": "deviceState", "key": JOB}]}),
         "triggers[0].type: unsupported trigger type \"deviceState\"; supported: resourceJobIteration, resourceJobIterationTimeout, resourceJobComplete, timer"),
        (json!({"name": "x", "triggers": [{"type": "resourceJobIteration", "key": "nope"}]}),
         "triggers[0].key: must be a resource job id (24 hex characters)"),
        (json!({"name": "x", "triggers": [{"type": "resourceJobIteration", "key": JOB, "config": []}]}),
         "triggers[0].config: must be an object"),
        (flow(&["x"], json!([])), "triggers[0].outputIds[0][0]: no node with id \"x\""),
        (flow(&["a"], json!([ack("a", json!([["b"]])), ack("b", json!([[]])), ack("c", json!([["a", "x"]]))])),
         "nodes[2].outputIds[0][1]: no node with id \"x\""),
        (flow(&["a"], json!([node("a", "FunctionNode", json!({}), json!([[]]))])),
         "nodes[0].type: unsupported node type \"FunctionNode\"; supported: ResourceJobAcknowledgeNode, ResourceJobExecuteNode, HttpNode, ConditionalNode, MutateNode, DebugNode, DeviceSendCommandNode, MqttMessageNode, SwitchNode, ThrowErrorNode, JsonEncodeNode, JsonDecodeNode"),
        (flow(&["a"], json!([ack("a", json!([[]])), ack("a", json!([[]]))])),
         "nodes[1].id: duplicate node id \"a\" (also nodes[0])"),
        (flow(&["a"], json!([ack("a", json!([["b"]])), ack("b", json!([["c"]])), ack("c", json!([["a"]]))])),
         "nodes[2].outputIds: cycle: \"a\" -> \"b\" -> \"c\" -> \"a\""),
        (flow(&["a"], json!([ack("a", json!([["a"]]))])), "nodes[0].outputIds: cycle: \"a\" -> \"a\""),
        (flow(&["a"], json!([node("a", "ResourceJobAcknowledgeNode", json!({}), json!([[]]))])),
         "nodes[0].config.successExpression: is required"),
        (flow(&["a"], json!([node("a", "ResourceJobAcknowledgeNode", json!({"successExpression": true}), json!([[]]))])),
         "nodes[0].config.successExpression: must be a string"),
        (flow(&["a"], json!([node("a", "ResourceJobAcknowledgeNode", json!({"successExpression": "{{a}} = 1"}), json!([[]]))])),
         "nodes[0].config.successExpression: invalid expression: assignment '=' is not allowed (use === or ==)"),
        (flow(&["a"], json!([node("a", "ResourceJobAcknowledgeNode", json!({"successExpression": "true", "accumulatorMethod": "x"}), json!([[]]))])),
         "nodes[0].config.accumulatorMethod: must be one of payloadPath, jsonTemplate, stringTemplate"),
        (flow(&["a"], json!([node("a", "ResourceJobExecuteNode", json!({"contextTemplateType": "none"}), json!([[]]))])),
         "nodes[0].config.resourceJobIdTemplate: is required"),
        (flow(&["a"], json!([node("a", "ResourceJobExecuteNode", json!({"resourceJobIdTemplate": JOB, "contextTemplateType": "jsonTemplate"}), json!([[]]))])),
         "nodes[0].config.contextTemplate: is required"),
        (flow(&["a"], json!([node("a", "ConditionalNode", json!({"expression": "1 < 2"}), json!([["a2"]])), ack("a2", json!([[]]))])),
         "nodes[0].outputIds: a ConditionalNode has exactly two outputs: [[false branch ids], [true branch ids]]"),
        (flow(&["a"], json!([node("a", "DebugNode", json!({}), json!([[], []]))])),
         "nodes[0].outputIds: a DebugNode has exactly one output"),
        (flow(&["a"], json!([node("a", "DebugNode", json!({"level": "loud"}), json!([[]]))])),
         "nodes[0].config.level: must be one of verbose, info, warn, error"),
        (flow(&["a"], json!([node("a", "MutateNode", json!({"rules": [{"type": "copy", "source": "data.a"}]}), json!([[]]))])),
         "nodes[0].config.rules[0].destination: is required"),
        (flow(&["a"], json!([node("a", "MutateNode", json!({"rules": {}}), json!([[]]))])),
         "nodes[0].config.rules: must be an array"),
        (flow(&["a"], json!([node("a", "MutateNode", json!({"rules": [{"type": "set", "destination": "a..b", "valueTemplate": "1"}]}), json!([[]]))])),
         "nodes[0].config.rules[0].destination: invalid payload path \"a..b\": empty segment"),
        (flow(&["a"], json!([node("a", "HttpNode", json!({"method": "GET"}), json!([[]]))])),
         "nodes[0].config.uriTemplate: is required"),
        (flow(&["a"], json!([node("a", "HttpNode", json!({"uriTemplate": "http://x", "method": "FETCH"}), json!([[]]))])),
         "nodes[0].config.method: must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
        (flow(&["a"], json!([node("a", "HttpNode", json!({"uriTemplate": "http://x", "authType": "credential"}), json!([[]]))])),
         "nodes[0].config.authType: \"credential\" is not supported here; supported: none, basic"),
        (flow(&["a"], json!([node("a", "HttpNode", json!({"uriTemplate": "http://x", "errorBehavior": "payloadPath"}), json!([[]]))])),
         "nodes[0].config.errorPath: is required when errorBehavior is payloadPath"),
        (flow(&["a"], json!([node("a", "HttpNode", json!({"uriTemplate": "{{#if x}}"}), json!([[]]))])),
         "nodes[0].config.uriTemplate: invalid template"),
        (json!({"name": "x", "globals": [{"key": "k", "json": "{"}]}), "globals[0].json: must be JSON text"),
        (json!({"name": "x", "globals": [{"key": "k"}, {"key": "k"}]}), "globals[1].key: duplicate global \"k\""),
    ];
    for (body, want) in cases {
        let got = err(body.clone());
        assert!(
            got.starts_with(want),
            "for {body}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn long_chain_has_no_stack_trouble() {
    let n = 5000;
    let nodes: Vec<_> = (0..n)
        .map(|i| {
            let outs = if i + 1 < n {
                json!([[format!("n{}", i + 1)]])
            } else {
                json!([[]])
            };
            node(&format!("n{i}"), "DebugNode", json!({}), outs)
        })
        .collect();
    assert!(parse_flow(&flow(&["n0"], json!(nodes))).is_ok());
}
