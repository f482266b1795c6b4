//! The MQTT output nodes: config validation at save time (a table: config → accepted, or the
//! exact error naming the field) and what they publish through the host.

mod common;

use std::sync::Mutex;

use async_trait::async_trait;
use common::{flow, iteration_data, node, FakeHost};
use rjobs_flow::{
    envelope, parse_flow, run, Acknowledgement, FlowHost, HostError, Publish, RunLimits, RunLog,
    NO_BROKER,
};
use serde_json::{json, Value};

fn err_of(ty: &str, config: Value) -> Option<String> {
    parse_flow(&flow(&["n"], json!([node("n", ty, config, json!([[]]))])))
        .err()
        .map(|e| e.to_string())
}

#[test]
fn device_command_config_table() {
    let ok = |c: Value| (c, None::<&str>);
    let bad = |c: Value, m: &'static str| (c, Some(m));
    let cases = [
        ok(json!({"deviceIdTemplate": "{{data.device.id}}", "commandNameTemplate": "reboot"})),
        ok(json!({"deviceIdsPath": "data.device.id", "nameTemplate": "reboot",
                  "payloadTemplate": "{\"a\": {{data.attemptNumber}}}", "payloadTemplateType": "json"})),
        ok(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c",
                  "payloadTemplate": "data.device", "payloadTemplateType": "path"})),
        ok(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c",
                  "errorBehavior": "payloadPath", "errorPath": "working.err"})),
        bad(json!({"commandNameTemplate": "c"}),
            "nodes[0].config.deviceIdTemplate: is required (or deviceIdsPath, a payload path to device ids)"),
        bad(json!({"deviceIdTemplate": "x"}), "nodes[0].config.commandNameTemplate: is required"),
        bad(json!({"deviceIdTemplate": 5, "commandNameTemplate": "c"}),
            "nodes[0].config.deviceIdTemplate: must be a string"),
        bad(json!({"deviceIdTemplate": "{{#if}}", "commandNameTemplate": "c"}),
            "nodes[0].config.deviceIdTemplate:"),
        bad(json!({"deviceIdsPath": "a..b", "commandNameTemplate": "c"}),
            "nodes[0].config.deviceIdsPath:"),
        bad(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c", "payloadTemplateType": "xml"}),
            "nodes[0].config.payloadTemplateType: must be one of json, string, path"),
        bad(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c", "payloadTemplateType": "path"}),
            "nodes[0].config.payloadTemplate: is required"),
        bad(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c", "errorBehavior": "payloadPath"}),
            "nodes[0].config.errorPath: is required when errorBehavior is payloadPath"),
        bad(json!({"deviceIdTemplate": "x", "commandNameTemplate": "c", "errorBehavior": "ignore"}),
            "nodes[0].config.errorBehavior: must be one of throw, payloadPath"),
        bad(json!("nope"), "nodes[0].config: must be an object"),
    ];
    for (config, want) in cases {
        let got = err_of("DeviceSendCommandNode", config.clone());
        match want {
            None => assert_eq!(got, None, "{config}"),
            Some(m) => {
                let got = got.unwrap_or_else(|| panic!("{config} was accepted"));
                assert!(got.starts_with(m), "{config}: {got}");
            }
        }
    }
}

#[test]
fn mqtt_message_config_table() {
    let cases: [(Value, Option<&str>); 10] = [
        (json!({"topicTemplate": "plant/{{data.device.id}}/x", "messageTemplate": "hi"}), None),
        (json!({"integrationId": "losant", "topicTemplate": "a/b", "qos": 2, "retain": true}), None),
        (json!({"topicTemplate": "a/b", "qos": "1"}), None),
        (json!({}), Some("nodes[0].config.topicTemplate: is required")),
        (json!({"topicTemplate": "a/#"}), Some("nodes[0].config.topicTemplate: \"a/#\" contains a wildcard")),
        (json!({"topicTemplate": "$SYS/x"}), Some("nodes[0].config.topicTemplate: \"$SYS/x\" is a broker system topic")),
        (json!({"topicTemplate": "losant/abc/iteration/ack"}),
         Some("nodes[0].config.topicTemplate: \"losant/abc/iteration/ack\" is a device acknowledgement topic")),
        (json!({"topicTemplate": "a", "qos": 3}), Some("nodes[0].config.qos: must be 0, 1 or 2")),
        (json!({"topicTemplate": "a", "retain": "yes"}), Some("nodes[0].config.retain: must be a boolean")),
        (json!({"topicTemplate": "a", "integrationId": "other"}), Some("nodes[0].config.integrationId: must be one of losant")),
    ];
    for (config, want) in cases {
        let got = err_of("MqttMessageNode", config.clone());
        match want {
            None => assert_eq!(got, None, "{config}"),
            Some(m) => {
                let got = got.unwrap_or_else(|| panic!("{config} was accepted"));
                assert!(got.starts_with(m), "{config}: {got}");
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Published {
    topic: String,
    payload: Value,
    qos: u8,
    retain: bool,
}

#[derive(Default)]
struct Broker {
    sent: Mutex<Vec<Published>>,
    down: bool,
}

#[async_trait]
impl FlowHost for Broker {
    async fn acknowledge(&self, _: Acknowledgement) -> Result<(), HostError> {
        Ok(())
    }
    async fn execute_job(&self, _: &str, _: Option<String>) -> Result<String, HostError> {
        Err(HostError::Unavailable("no".into()))
    }
    fn now_iso(&self) -> String {
        "2024-01-15T14:30:00.000Z".into()
    }
    async fn publish(&self, m: Publish) -> Result<(), HostError> {
        if self.down {
            return Err(HostError::Unavailable(
                "the MQTT broker is not connected".into(),
            ));
        }
        let payload = serde_json::from_slice(&m.payload)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&m.payload).into_owned()));
        self.sent.lock().unwrap().push(Published {
            topic: m.topic,
            payload,
            qos: m.qos,
            retain: m.retain,
        });
        Ok(())
    }
}

async fn go(nodes: Value, host: &dyn FlowHost) -> RunLog {
    let f = parse_flow(&flow(&["n"], nodes)).unwrap_or_else(|e| panic!("{e}"));
    let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
    run(&f, 0, p, host, &RunLimits::default()).await
}

fn dbg() -> Value {
    node("d", "DebugNode", json!({"message": "end"}), json!([[]]))
}

#[tokio::test]
async fn device_command_publishes_the_command_message() {
    let b = Broker::default();
    let cfg = json!({"deviceIdTemplate": "{{data.device.id}}", "commandNameTemplate": "update {{data.device.name}}",
                     "payloadTemplate": "{\"attempt\": {{data.attemptNumber}}, \"it\": \"{{data.iterationId}}\"}"});
    let log = go(
        json!([node("n", "DeviceSendCommandNode", cfg, json!([[]]))]),
        &b,
    )
    .await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let sent = b.sent.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![Published {
            topic: "losant/aaaaaaaaaaaaaaaaaaaaaaaa/command".into(),
            payload: json!({"name": "update Pump 7",
                            "payload": {"attempt": 2, "it": "444444444444dddddddddddd-111111111111aaaaaaaaaaaa"},
                            "time": "2024-01-15T14:30:00.000Z"}),
            qos: 1,
            retain: false,
        }]
    );

    // deviceIdsPath with an array, a path payload: one publish per device.
    let b = Broker::default();
    let mutate = node(
        "n",
        "MutateNode",
        json!({"rules": [{"type": "set", "valueTemplate": "[\"d1\", \"d2\"]", "valueTemplateType": "json",
                           "destination": "working.ids"}]}),
        json!([["c"]]),
    );
    let cfg = json!({"deviceIdsPath": "working.ids", "nameTemplate": "go",
                     "payloadTemplate": "data.device.tags", "payloadTemplateType": "path"});
    let log = go(
        json!([mutate, node("c", "DeviceSendCommandNode", cfg, json!([[]]))]),
        &b,
    )
    .await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    let topics: Vec<_> = b
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|p| (p.topic.clone(), p.payload["payload"].clone()))
        .collect();
    assert_eq!(
        topics,
        vec![
            ("losant/d1/command".to_string(), json!({"floor": ["2"]})),
            ("losant/d2/command".to_string(), json!({"floor": ["2"]})),
        ]
    );
}

#[tokio::test]
async fn publish_failures_end_the_run_or_go_to_error_path() {
    // No broker configured: the default host says which setting to set.
    let cfg = json!({"deviceIdTemplate": "x", "commandNameTemplate": "c"});
    let log = go(
        json!([node("n", "DeviceSendCommandNode", cfg.clone(), json!([[]]))]),
        &FakeHost::default(),
    )
    .await;
    assert_eq!(log.status, "error");
    let e = log.error.unwrap();
    assert!(
        e.contains(NO_BROKER) && e.contains("RJOBS_MQTT__URL"),
        "{e}"
    );

    // Broker down, errorBehavior payloadPath: the run continues with the error recorded.
    let down = Broker {
        down: true,
        ..Default::default()
    };
    let cfg = json!({"deviceIdTemplate": "x", "commandNameTemplate": "c",
                     "errorBehavior": "payloadPath", "errorPath": "working.err"});
    let log = go(
        json!([
            node("n", "DeviceSendCommandNode", cfg, json!([["d"]])),
            dbg()
        ]),
        &down,
    )
    .await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(
        log.debug[0]["value"]["working"]["err"],
        json!({"type": "MqttError", "message": "the MQTT broker is not connected"})
    );

    // Bad rendered values are node errors too, never publishes.
    let b = Broker::default();
    for cfg in [
        json!({"deviceIdTemplate": "{{data.nothing}}", "commandNameTemplate": "c"}),
        json!({"deviceIdTemplate": "a/b", "commandNameTemplate": "c"}),
        json!({"deviceIdTemplate": "x", "commandNameTemplate": "c", "payloadTemplate": "{not json"}),
        json!({"deviceIdsPath": "data.missing", "commandNameTemplate": "c"}),
    ] {
        let log = go(
            json!([node("n", "DeviceSendCommandNode", cfg.clone(), json!([[]]))]),
            &b,
        )
        .await;
        assert_eq!(log.status, "error", "{cfg}");
    }
    assert!(b.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn mqtt_message_publishes_topic_and_message() {
    let b = Broker::default();
    let cfg = json!({"topicTemplate": "plant/{{data.device.id}}/fw", "messageTemplate": "v{{data.attemptNumber}}",
                     "qos": 1, "retain": true});
    let log = go(json!([node("n", "MqttMessageNode", cfg, json!([[]]))]), &b).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(
        b.sent.lock().unwrap().clone(),
        vec![Published {
            topic: "plant/aaaaaaaaaaaaaaaaaaaaaaaa/fw".into(),
            payload: Value::String("v2".into()),
            qos: 1,
            retain: true,
        }]
    );
    // A rendered topic that impersonates a device's ack topic is refused at run time.
    let b = Broker::default();
    let cfg = json!({"topicTemplate": "losant/{{data.device.id}}/iteration/ack", "messageTemplate": "{}"});
    let log = go(json!([node("n", "MqttMessageNode", cfg, json!([[]]))]), &b).await;
    assert_eq!(log.status, "error");
    assert!(log.error.unwrap().contains("device acknowledgement topic"));
    assert!(b.sent.lock().unwrap().is_empty());
}
