//! The runner against a fake FlowHost: Acknowledge, Execute, Conditional, Mutate, Debug, limits.

mod common;

use common::{flow, iteration_data, node, Call, FakeHost, JOB};
use rjobs_flow::{envelope, parse_flow, run, Acknowledgement, FlowDef, RunLimits, RunLog};
use serde_json::{json, Value};

fn build(first: &[&str], nodes: Value) -> FlowDef {
    parse_flow(&flow(first, nodes)).unwrap_or_else(|e| panic!("{e}"))
}

async fn go(f: &FlowDef, host: &FakeHost) -> RunLog {
    let p = envelope(
        f,
        "flow0000000000000000000a",
        0,
        "app00000000000000000000a",
        "My App",
        iteration_data(),
        "2024-01-15T14:30:00.000Z",
    );
    run(f, 0, p, host, &RunLimits::default()).await
}

/// Runs `f` on `data` under `limits`, with short ids.
async fn run_on(f: &FlowDef, data: Value, limits: &RunLimits) -> RunLog {
    let p = envelope(f, "F", 0, "A", "App", data, "T");
    run(f, 0, p, &FakeHost::default(), limits).await
}

/// A flow of `n` nodes of one type and config in a line, `{prefix}0` → `{prefix}1` → ….
fn chain(prefix: &str, n: usize, ty: &str, config: Value) -> FlowDef {
    let nodes = (0..n)
        .map(|i| {
            let next = if i + 1 < n {
                json!([[format!("{prefix}{}", i + 1)]])
            } else {
                json!([[]])
            };
            node(&format!("{prefix}{i}"), ty, config.clone(), next)
        })
        .collect();
    build(&[&format!("{prefix}0")], Value::Array(nodes))
}

/// A Job: Acknowledge node.
fn ack(id: &str, config: Value, outs: Value) -> Value {
    node(id, "ResourceJobAcknowledgeNode", config, outs)
}

/// A Debug node at the end shows the final payload.
fn dbg(id: &str) -> Value {
    node(
        id,
        "DebugNode",
        json!({"message": "end {{data.device.name}}", "level": "info"}),
        json!([[]]),
    )
}

fn last_payload(log: &RunLog) -> Value {
    log.debug
        .last()
        .map(|d| d["value"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn envelope_shape() {
    let f = build(&[], json!([]));
    let p = envelope(&f, "F", 0, "A", "My App", json!({"x": 1}), "T");
    assert_eq!(
        p,
        json!({
            "applicationId": "A", "applicationName": "My App", "data": {"x": 1}, "flowId": "F",
            "flowName": "test flow", "flowVersion": "develop", "globals": {"threshold": 75},
            "relayId": JOB, "relayType": "resourceJob", "time": "T", "triggerId": JOB,
            "triggerType": "resourceJobIteration"
        })
    );
}

#[tokio::test]
async fn acknowledge_with_expression_message_and_result() {
    let f = build(
        &["ack"],
        json!([
            ack(
                "ack",
                json!({
                    "successExpression": "{{data.device.name}} === 'Pump 7' && {{globals.threshold}} > 70",
                    "messageTemplate": "Processed {{data.device.name}}",
                    "resultPath": "working.ackResult"
                }),
                json!([["end"]])
            ),
            dbg("end")
        ]),
    );
    let host = FakeHost::default();
    let log = go(&f, &host).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(log.nodes_run, 2);
    assert_eq!(
        host.calls(),
        vec![Call::Ack(Acknowledgement {
            iteration_id: "444444444444dddddddddddd-111111111111aaaaaaaaaaaa".into(),
            attempt: Some(2),
            success: true,
            message: Some("Processed Pump 7".into()),
            accumulator: None,
        })]
    );
    let r = &last_payload(&log)["working"]["ackResult"];
    assert_eq!(r["success"], true);
    assert_eq!(r["message"], "Processed Pump 7");
    assert!(r["completedAt"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert_eq!(log.debug[0]["message"], "end Pump 7");
    assert_eq!(log.debug[0]["level"], "info");
}

#[tokio::test]
async fn acknowledge_false_trimmed_message_and_accumulators() {
    let long = "x".repeat(300);
    let f = build(
        &["a1"],
        json!([
            ack(
                "a1",
                json!({
                    "successExpression": "{{data.missing}}", "messageTemplate": long,
                    "accumulatorMethod": "jsonTemplate",
                    "accumulatorValue": "{\"count\": {{add data.accumulator.count 1}}}"
                }),
                json!([["a2"]])
            ),
            ack(
                "a2",
                json!({
                    "successExpression": "1", "accumulatorMethod": "payloadPath", "accumulatorValue": "data.device.tags"
                }),
                json!([["a3"]])
            ),
            ack(
                "a3",
                json!({
                    "successExpression": "1", "accumulatorMethod": "stringTemplate", "accumulatorValue": "n={{data.accumulator.count}}",
                    "iterationIdPath": "data.execution.id"
                }),
                json!([[]])
            )
        ]),
    );
    let host = FakeHost::default();
    let log = go(&f, &host).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let calls = host.calls();
    let Call::Ack(Acknowledgement {
        success,
        message,
        accumulator,
        ..
    }) = &calls[0]
    else {
        panic!()
    };
    assert!(!success);
    assert_eq!(message.as_ref().map(|m| m.len()), Some(256));
    assert_eq!(accumulator, &Some(json!({"count": 3})));
    let Call::Ack(Acknowledgement { accumulator, .. }) = &calls[1] else {
        panic!()
    };
    assert_eq!(accumulator, &Some(json!({"floor": ["2"]})));
    let Call::Ack(Acknowledgement {
        accumulator,
        iteration_id,
        ..
    }) = &calls[2]
    else {
        panic!()
    };
    assert_eq!(accumulator, &Some(json!("n=2")));
    assert_eq!(iteration_id, "444444444444dddddddddddd");
}

#[tokio::test]
async fn oversized_accumulator_errors_the_run() {
    let f = build(
        &["a"],
        json!([ack(
            "a",
            json!({
                "successExpression": "true", "accumulatorMethod": "stringTemplate", "accumulatorValue": "y".repeat(300),
                "resultPath": "working.r"
            }),
            json!([[]])
        )]),
    );
    let host = FakeHost::default();
    let log = go(&f, &host).await;
    assert_eq!(log.status, "error");
    assert!(
        log.error.as_deref().unwrap_or("").contains("at most 256"),
        "{:?}",
        log.error
    );
    assert!(host.calls().is_empty(), "nothing acknowledged");
}

#[tokio::test]
async fn refusals_go_to_result_path_or_end_the_run() {
    let host = FakeHost {
        refuse: Some("iteration is not awaiting an acknowledgement".into()),
        ..Default::default()
    };
    let f = build(
        &["a"],
        json!([
            ack(
                "a",
                json!({"successExpression": "true", "resultPath": "working.r"}),
                json!([["e"]])
            ),
            node(
                "e",
                "ResourceJobExecuteNode",
                json!({"resourceJobIdTemplate": JOB, "resultPath": "working.x"}),
                json!([["end"]])
            ),
            dbg("end")
        ]),
    );
    let log = go(&f, &host).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let p = last_payload(&log);
    assert_eq!(
        p["working"]["r"],
        json!({"error": {"type": "AcknowledgeError", "message": "iteration is not awaiting an acknowledgement"}})
    );
    assert_eq!(
        p["working"]["x"]["error"]["type"],
        "ResourceJobExecuteError"
    );

    let f = build(
        &["a"],
        json!([
            ack("a", json!({"successExpression": "true"}), json!([["end"]])),
            dbg("end")
        ]),
    );
    let log = go(&f, &host).await;
    assert_eq!(log.status, "error");
    assert_eq!(log.nodes_run, 1, "the run ends at the failing node");
    assert!(
        log.error
            .as_deref()
            .unwrap_or("")
            .contains("node \"a\" (ResourceJobAcknowledgeNode)"),
        "{:?}",
        log.error
    );
    assert!(log.debug.is_empty());
}

#[tokio::test]
async fn conditional_branches() {
    for (expr, want) in [
        ("{{data.attemptNumber}} > 1", "yes"),
        ("{{data.attemptNumber}} > 5", "no"),
        ("{{data.missing}}", "no"),
    ] {
        let f = build(
            &["c"],
            json!([
                node(
                    "c",
                    "ConditionalNode",
                    json!({"expression": expr}),
                    json!([["no"], ["yes"]])
                ),
                node("no", "DebugNode", json!({"message": "no"}), json!([[]])),
                node("yes", "DebugNode", json!({"message": "yes"}), json!([[]]))
            ]),
        );
        let log = go(&f, &FakeHost::default()).await;
        assert_eq!(log.status, "success");
        assert_eq!(log.debug.len(), 1, "{expr}");
        assert_eq!(log.debug[0]["message"], want, "{expr}");
    }
}

#[tokio::test]
async fn mutate_rules() {
    let f = build(
        &["m"],
        json!([
            node(
                "m",
                "MutateNode",
                json!({"rules": [
                    {"type": "set", "valueTemplate": "{{data.attemptNumber}}", "destination": "working.s"},
                    {"type": "set", "valueTemplate": "{{data.attemptNumber}}", "valueTemplateType": "json", "destination": "working.n"},
                    {"type": "set", "valueTemplate": "{\"id\": \"{{data.device.id}}\"}", "valueTemplateType": "json", "destination": "working.obj"},
                    {"type": "set", "valueTemplate": "not json", "valueTemplateType": "json", "destination": "working.gone"},
                    {"type": "copy", "source": "data.device", "destination": "working.device"},
                    {"type": "move", "source": "data.execution", "destination": "working.exec"},
                    {"type": "remove", "source": "data.willRetryOnFailure"},
                    {"type": "set", "valueTemplate": "{{working.n}}!", "destination": "working.items.[1]"}
                ]}),
                json!([["end"]])
            ),
            dbg("end")
        ]),
    );
    let log = go(&f, &FakeHost::default()).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let p = last_payload(&log);
    let w = &p["working"];
    assert_eq!(w["s"], "2");
    assert_eq!(w["n"], 2);
    assert_eq!(w["obj"], json!({"id": "aaaaaaaaaaaaaaaaaaaaaaaa"}));
    assert!(w.get("gone").is_none());
    assert_eq!(w["device"]["name"], "Pump 7");
    assert_eq!(w["exec"]["status"], "inProgress");
    assert!(p["data"].get("execution").is_none());
    assert!(p["data"].get("willRetryOnFailure").is_none());
    assert_eq!(w["items"], json!([null, "2!"]));
}

#[tokio::test]
async fn debug_property_and_fan_out_copies() {
    let f = build(
        &["m1", "d2"],
        json!([
            node(
                "m1",
                "MutateNode",
                json!({"rules": [{"type": "set", "valueTemplate": "one", "destination": "working.b"}]}),
                json!([["d1"]])
            ),
            node(
                "d1",
                "DebugNode",
                json!({"property": "working"}),
                json!([[]])
            ),
            node(
                "d2",
                "DebugNode",
                json!({"property": "working", "message": "second"}),
                json!([[]])
            )
        ]),
    );
    let log = go(&f, &FakeHost::default()).await;
    assert_eq!(log.debug.len(), 2);
    assert_eq!(log.debug[0]["value"], json!({"b": "one"}));
    assert_eq!(log.debug[0]["level"], "verbose");
    assert_eq!(
        log.debug[1]["value"],
        Value::Null,
        "the sibling branch has its own payload copy"
    );
    assert_eq!(log.debug[1]["message"], "second");
}

#[tokio::test]
async fn execute_context_types() {
    let cases = [
        (json!({"contextTemplateType": "none"}), None),
        (json!({}), None),
        (
            json!({"contextTemplateType": "jsonTemplate", "contextTemplate": "{\"device\": \"{{data.device.id}}\"}"}),
            Some(json!({"device": "aaaaaaaaaaaaaaaaaaaaaaaa"})),
        ),
        (
            json!({"contextTemplateType": "payloadPath", "contextTemplate": "data.device.tags"}),
            Some(json!({"floor": ["2"]})),
        ),
        (
            json!({"contextTemplateType": "workflowPayload"}),
            Some(json!("full")),
        ),
        (
            json!({"contextTemplateType": "fullPayload"}),
            Some(json!("full")),
        ),
    ];
    for (mut cfg, want) in cases {
        cfg["resourceJobIdTemplate"] = json!(" {{relayId}} ");
        cfg["resultPath"] = json!("working.jobExecution");
        let f = build(
            &["x"],
            json!([
                node("x", "ResourceJobExecuteNode", cfg.clone(), json!([["end"]])),
                dbg("end")
            ]),
        );
        let host = FakeHost::default();
        let log = go(&f, &host).await;
        assert_eq!(log.status, "success", "{cfg}: {:?}", log.error);
        let calls = host.calls();
        let Some(Call::Exec { job_id, context }) = calls.first() else {
            panic!("no call for {cfg}")
        };
        assert_eq!(job_id, JOB);
        let ctx: Option<Value> = context
            .as_ref()
            .map(|c| serde_json::from_str(c).unwrap_or(Value::Null));
        match want {
            Some(w) if w == json!("full") => {
                let c = ctx.unwrap_or_default();
                assert_eq!(c["relayType"], "resourceJob");
                assert_eq!(c["data"]["device"]["name"], "Pump 7");
            }
            other => assert_eq!(ctx, other, "{cfg}"),
        }
        assert_eq!(
            last_payload(&log)["working"]["jobExecution"],
            json!({"executionId": "exec0000000000000000000001", "success": true})
        );
    }
}

#[tokio::test]
async fn limits_payload_size_and_bad_trigger() {
    let f = build(
        &["m"],
        json!([node(
            "m",
            "MutateNode",
            json!({"rules": [{"type": "set", "valueTemplate": "x".repeat(5000), "destination": "working.big"}]}),
            json!([[]])
        )]),
    );
    let p = envelope(&f, "F", 0, "A", "App", iteration_data(), "T");
    let limits = RunLimits {
        max_payload_bytes: 3000,
        ..RunLimits::default()
    };
    let log = run(&f, 0, p.clone(), &FakeHost::default(), &limits).await;
    assert_eq!(log.status, "error");
    assert!(
        log.error
            .as_deref()
            .unwrap_or("")
            .contains("maximum size of 3000 bytes"),
        "{:?}",
        log.error
    );
    let log = run(&f, 7, p, &FakeHost::default(), &RunLimits::default()).await;
    assert_eq!(log.status, "error");
    assert_eq!(log.nodes_run, 0);
}

#[tokio::test]
async fn diamond_fan_out_is_capped() {
    // 20 layers of two nodes each, every node wired to both of the next layer: 2^20 paths.
    let mut nodes = Vec::new();
    for layer in 0..20 {
        for side in ["a", "b"] {
            let outs = if layer < 19 {
                json!([[format!("{}a", layer + 1), format!("{}b", layer + 1)]])
            } else {
                json!([[]])
            };
            nodes.push(node(
                &format!("{layer}{side}"),
                "DebugNode",
                json!({"property": "time"}),
                outs,
            ));
        }
    }
    let f = build(&["0a"], json!(nodes));
    let log = go(&f, &FakeHost::default()).await;
    assert_eq!(log.status, "error");
    assert!(
        log.error
            .as_deref()
            .unwrap_or("")
            .contains("node executions"),
        "{:?}",
        log.error
    );
}

#[tokio::test]
async fn a_mutate_that_doubles_the_payload_stops_at_the_cap() {
    // Forty rules that each copy the whole payload into itself: 2^40 × the payload, unless the
    // cap is checked after every rule.
    let rules: Vec<Value> = (0..40)
        .map(|i| json!({"type": "copy", "source": "data", "destination": format!("data.c{i}")}))
        .collect();
    let f = build(
        &["m"],
        json!([node(
            "m",
            "MutateNode",
            json!({ "rules": rules }),
            json!([[]])
        )]),
    );
    let log = run_on(&f, iteration_data(), &RunLimits::default()).await;
    assert_eq!(log.status, "error");
    let e = log.error.unwrap_or_default();
    assert!(e.contains("maximum size of 5242880 bytes"), "{e}");
    assert!(e.contains("rules["), "{e}");
}

#[tokio::test]
async fn debug_values_of_a_run_stay_under_the_payload_cap() {
    let f = chain("d", 20, "DebugNode", json!({"message": "m"}));
    let mut data = iteration_data();
    data["big"] = json!("x".repeat(1000));
    let limits = RunLimits {
        max_payload_bytes: 5000,
        ..RunLimits::default()
    };
    let log = run_on(&f, data, &limits).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(log.debug.len(), 20);
    let total: usize = log.debug.iter().map(|d| d["value"].to_string().len()).sum();
    assert!(total < 5000 + 20 * 80, "{total}");
    assert!(log.debug[19]["value"]
        .as_str()
        .unwrap_or("")
        .contains("omitted"));
}

#[tokio::test]
async fn a_chain_of_mutates_cannot_nest_the_payload_without_bound() {
    // Each node moves `data` one level deeper; 200 nodes would nest 200+ levels.
    let rules = json!([
        {"type": "move", "source": "data", "destination": "tmp"},
        {"type": "move", "source": "tmp", "destination": "data.inner"}
    ]);
    let f = chain("m", 200, "MutateNode", json!({ "rules": rules }));
    let log = run_on(&f, iteration_data(), &RunLimits::default()).await;
    assert_eq!(log.status, "error");
    let e = log.error.unwrap_or_default();
    assert!(e.contains("nests deeper than 128"), "{e}");
    assert!(
        rjobs_flow::path::segments("a.".repeat(40).trim_end_matches('.'))
            .unwrap_err()
            .to_string()
            .contains("at most 32")
    );
}
