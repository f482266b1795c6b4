//! The pure decisions, as tables: an ack message (topic, payload) → the ack it asks for or
//! why it is ignored; a broker URL → the address or the error naming the setting.

use rjobs_mqtt::{decide, parse_url, Broker, MqttSettings, Reject};
use serde_json::json;

const EXEC: &str = "444444444444dddddddddddd";
const DEV: &str = "111111111111aaaaaaaaaaaa";
const OTHER: &str = "222222222222bbbbbbbbbbbb";

fn topic(d: &str) -> String {
    format!("losant/{d}/iteration/ack")
}

#[test]
fn ack_decision_table() {
    let it = format!("{EXEC}-{DEV}");
    let good = json!({"iterationId": it, "attempt": 2, "success": false, "message": "m",
                      "accumulator": {"n": 1}})
    .to_string();
    let ok = decide(&topic(DEV), good.as_bytes()).unwrap();
    assert_eq!(ok.iteration_id, it);
    assert_eq!(ok.attempt, Some(2));
    assert!(!ok.success);
    assert_eq!(ok.message.as_deref(), Some("m"));
    assert_eq!(ok.accumulator, Some(json!({"n": 1})));

    // Minimal: no attempt (the current one), no message, no accumulator; upper-case hex
    // normalised to the stored form.
    let upper =
        json!({"iterationId": format!("{EXEC}-{DEV}").to_uppercase(), "success": true}).to_string();
    let ok = decide(&topic(DEV), upper.as_bytes()).unwrap();
    assert_eq!((ok.iteration_id.as_str(), ok.attempt), (it.as_str(), None));

    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000));
    let cases: Vec<(String, String, Reject)> = vec![
        (topic(OTHER), good.clone(), Reject::Foreign),
        (
            format!("losant/{DEV}/iteration"),
            good.clone(),
            Reject::Topic,
        ),
        (
            format!("losant/{DEV}/iteration/ack/x"),
            good.clone(),
            Reject::Topic,
        ),
        ("losant//iteration/ack".into(), good.clone(), Reject::Topic),
        (
            format!("other/{DEV}/iteration/ack"),
            good.clone(),
            Reject::Topic,
        ),
        (topic(DEV), "not json".into(), Reject::Json),
        (topic(DEV), "[1, 2]".into(), Reject::Json),
        (topic(DEV), big, Reject::TooLarge),
        (
            topic(DEV),
            json!({"success": true}).to_string(),
            Reject::Field("iterationId"),
        ),
        (
            topic(DEV),
            json!({"iterationId": 7, "success": true}).to_string(),
            Reject::Field("iterationId"),
        ),
        (
            topic(DEV),
            json!({"iterationId": "x-y", "success": true}).to_string(),
            Reject::IterationId,
        ),
        (
            topic(DEV),
            json!({"iterationId": it, "success": "yes"}).to_string(),
            Reject::Field("success"),
        ),
        (
            topic(DEV),
            json!({"iterationId": it}).to_string(),
            Reject::Field("success"),
        ),
        (
            topic(DEV),
            json!({"iterationId": it, "success": true, "attempt": 0}).to_string(),
            Reject::Field("attempt"),
        ),
        (
            topic(DEV),
            json!({"iterationId": it, "success": true, "attempt": -1}).to_string(),
            Reject::Field("attempt"),
        ),
        (
            topic(DEV),
            json!({"iterationId": it, "success": true, "attempt": "2"}).to_string(),
            Reject::Field("attempt"),
        ),
        (
            topic(DEV),
            json!({"iterationId": it, "success": true, "message": 5}).to_string(),
            Reject::Field("message"),
        ),
        // The device's own topic, another device's iteration.
        (
            topic(DEV),
            json!({"iterationId": format!("{EXEC}-{OTHER}"), "success": true}).to_string(),
            Reject::Foreign,
        ),
    ];
    for (t, p, want) in cases {
        assert_eq!(
            decide(&t, p.as_bytes()).err(),
            Some(want.clone()),
            "{t} {p:.80}"
        );
        assert!(!want.reason().is_empty());
    }
}

#[test]
fn url_table() {
    let b = |host: &str, port, user: Option<&str>, pass: Option<&str>| Broker {
        host: host.into(),
        port,
        username: user.map(Into::into),
        password: pass.map(Into::into),
        tls: false,
    };
    let tls = |host: &str, port| Broker {
        tls: true,
        ..b(host, port, None, None)
    };
    let good = [
        ("mqtt://127.0.0.1:1883", b("127.0.0.1", 1883, None, None)),
        ("mqtt://broker", b("broker", 1883, None, None)),
        ("tcp://broker:1884/", b("broker", 1884, None, None)),
        ("mqtt://u:p@h:1", b("h", 1, Some("u"), Some("p"))),
        ("mqtt://u@h", b("h", 1883, Some("u"), None)),
        ("mqtt://[::1]:1883", b("::1", 1883, None, None)),
        ("mqtts://broker", tls("broker", 8883)),
        ("ssl://broker:9883", tls("broker", 9883)),
        ("tls://[::1]", tls("::1", 8883)),
        (
            "mqtts://u:p@h:1",
            Broker {
                username: Some("u".into()),
                password: Some("p".into()),
                ..tls("h", 1)
            },
        ),
    ];
    for (url, want) in good {
        assert_eq!(parse_url(url).unwrap(), want, "{url}");
    }
    let bad = [
        ("127.0.0.1:1883", "mqtt.url: expected mqtt://host:port"),
        ("http://h", "mqtt.url: unsupported scheme \"http\""),
        ("mqtt://h:0", "mqtt.url: invalid port \"0\""),
        ("mqtt://h:99999", "mqtt.url: invalid port"),
        ("mqtt://:1883", "mqtt.url: the host is missing"),
        ("mqtt://h/x", "mqtt.url: must not have a path"),
    ];
    for (url, want) in bad {
        let e = parse_url(url).unwrap_err().to_string();
        assert!(e.starts_with(want), "{url}: {e}");
    }
}

#[test]
fn settings_rules() {
    let mut s = MqttSettings::default();
    assert_eq!(s.broker().unwrap(), None, "no url, no broker");
    assert_eq!(s.ack_subscription(), "$share/rjobs/losant/+/iteration/ack");
    s.url = Some("mqtt://a:b@h".into());
    s.username = Some("svc".into());
    let got = s.broker().unwrap().unwrap();
    assert_eq!(
        (got.username.as_deref(), got.password.as_deref()),
        (Some("svc"), Some("b"))
    );
    s.share_group = String::new();
    assert_eq!(s.ack_subscription(), "losant/+/iteration/ack");
    s.share_group = "a/b".into();
    assert!(s
        .broker()
        .unwrap_err()
        .to_string()
        .starts_with("mqtt.share_group:"));
    s.share_group = "g".into();
    s.publish_timeout_ms = 0;
    assert!(s
        .broker()
        .unwrap_err()
        .to_string()
        .starts_with("mqtt.publish_timeout_ms:"));
    s.publish_timeout_ms = 2_000;
    // A CA file only goes with TLS.
    s.ca_file = Some("/etc/ca.pem".into());
    assert!(s
        .broker()
        .unwrap_err()
        .to_string()
        .starts_with("mqtt.ca_file: only used with mqtts://"));
    s.url = Some("mqtts://a:b@h".into());
    assert!(s.broker().unwrap().unwrap().tls);
    // The password never shows in Debug output.
    s.password = Some("hunter2".into());
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("hunter2") && !dbg.contains(":b@"), "{dbg}");
}
