//! The Function node (`RawFunctionNode`) and its QuickJS sandbox: config validation, the
//! original's semantics (mutate `payload`, `return` replaces it, `scopePath`), and every limit
//! — endless loop, memory bomb, deep recursion, no `require`/`process`/`fetch` — each an error
//! within its bound, the process unaffected (the last test runs a normal script afterwards).

mod common;

use std::time::{Duration, Instant};

use common::{flow, iteration_data, node, FakeHost};
use rjobs_flow::script::{eval, Sandbox};
use rjobs_flow::{envelope, parse_flow, run, RunLimits, RunLog};
use serde_json::{json, Value};

fn function(config: Value) -> Value {
    json!([
        node("f", "RawFunctionNode", config, json!([["dbg"]])),
        node("dbg", "DebugNode", json!({"message": "out"}), json!([[]]))
    ])
}

async fn go_with(config: Value, limits: RunLimits) -> (RunLog, Value) {
    let f = parse_flow(&flow(&["f"], function(config))).unwrap_or_else(|e| panic!("{e}"));
    let p = envelope(&f, "f", 0, "a", "App", iteration_data(), "t");
    let log = run(&f, 0, p, &FakeHost::default(), &limits).await;
    let last = log
        .debug
        .iter()
        .rev()
        .find(|d| d["nodeId"] == "dbg")
        .map(|d| d["value"].clone())
        .unwrap_or(Value::Null);
    (log, last)
}

async fn go(config: Value) -> (RunLog, Value) {
    go_with(config, RunLimits::default()).await
}

#[test]
fn config_is_checked_at_save() {
    let cases = [
        (json!({}), "nodes[0].config.script", "is required"),
        (
            json!({"script": "  "}),
            "nodes[0].config.script",
            "is required",
        ),
        (
            json!({"script": 5}),
            "nodes[0].config.script",
            "must be a string",
        ),
        (
            json!({"script": "x".repeat(70_000)}),
            "nodes[0].config.script",
            "longer than",
        ),
        (
            json!({"script": "1", "scopePath": "a..b"}),
            "nodes[0].config.scopePath",
            "",
        ),
    ];
    for (config, path, msg) in cases {
        let e = parse_flow(&flow(&["f"], function(config.clone()))).unwrap_err();
        assert_eq!(e.path, path, "{config}");
        assert!(e.message.contains(msg), "{config}: {}", e.message);
    }
    assert!(parse_flow(&flow(
        &["f"],
        function(json!({"script": "payload.x = 1;", "scopePath": ""}))
    ))
    .is_ok());
}

#[tokio::test]
async fn mutating_returning_and_scoping_as_the_original() {
    // Mutation of the payload object.
    let (log, out) = go(json!({"script": "payload.working = {f: payload.data.device.name + '!', n: payload.data.attemptNumber * 9 / 5 + 32};"})).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(out["working"], json!({"f": "Pump 7!", "n": 35.6}));
    assert_eq!(
        out["data"]["attemptNumber"], 2,
        "the rest of the payload is kept"
    );
    // A returned value replaces the payload.
    let (log, out) = go(json!({"script": "return {only: Object.keys(payload).length};"})).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(out, json!({"only": 12}));
    // scopePath: `payload` is the value there; a return replaces just that value.
    let (_, out) =
        go(json!({"script": "payload.count += 40;", "scopePath": "data.accumulator"})).await;
    assert_eq!(out["data"]["accumulator"], json!({"count": 42}));
    let (_, out) =
        go(json!({"script": "return payload.toUpperCase();", "scopePath": "data.device.name"}))
            .await;
    assert_eq!(out["data"]["device"]["name"], "PUMP 7");
    // A missing scope is `undefined`; returning something creates it.
    let (_, out) =
        go(json!({"script": "return typeof payload;", "scopePath": "working.none"})).await;
    assert_eq!(out["working"]["none"], "undefined");
    // ES2020 works; console lines become Debug entries.
    let (log, out) = go(json!({"script": "const {a = 1, ...rest} = {b: 2}; payload.w = [a, rest.b ?? 0, [1,2,3].map(x => x * 2)]; console.log('hi', {a}); console.warn(3);"})).await;
    assert_eq!(out["w"], json!([1, 2, [2, 4, 6]]));
    let lines: Vec<(Value, Value)> = log
        .debug
        .iter()
        .filter(|d| d["nodeId"] == "f")
        .map(|d| (d["level"].clone(), d["value"].clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (json!("info"), json!("hi {\"a\":1}")),
            (json!("warn"), json!("3"))
        ]
    );
}

#[tokio::test]
async fn script_errors_end_the_run_with_the_reason() {
    let cases = [
        (
            "throw new Error('bad sensor');",
            "the script threw Error: bad sensor",
        ),
        ("payload.x.y.z = 1;", "TypeError"),
        ("return 5;", "must leave payload an object"),
        ("return function () {};", "cannot be represented as JSON"),
        ("payload.me = payload; ", "TypeError"),
        ("callback(null, payload);", "ReferenceError"),
        ("this is not javascript", "SyntaxError"),
    ];
    for (script, want) in cases {
        let (log, _) = go(json!({ "script": script })).await;
        assert_eq!(log.status, "error", "{script}");
        let e = log.error.unwrap_or_default();
        assert!(
            e.starts_with("node \"f\" (RawFunctionNode): "),
            "{script}: {e}"
        );
        assert!(e.contains(want), "{script}: {e}");
    }
}

#[tokio::test]
async fn no_io_no_modules_no_timers() {
    let script = "payload.t = [typeof require, typeof process, typeof fetch, typeof setTimeout, \
                  typeof setInterval, typeof XMLHttpRequest, typeof os, typeof std, typeof module, \
                  typeof Deno, typeof globalThis.__log];";
    let (log, out) = go(json!({ "script": script })).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_eq!(out["t"], json!(vec!["undefined"; 11]));
    for script in [
        "require('fs')",
        "process.exit(1)",
        "fetch('http://127.0.0.1/')",
    ] {
        let (log, _) = go(json!({ "script": script })).await;
        assert!(
            log.error.unwrap_or_default().contains("ReferenceError"),
            "{script}"
        );
    }
    // A dynamic import has no loader to reach: the promise is rejected, nothing is read.
    let (log, out) = go(json!({"script": "let r = 'pending'; import('/etc/passwd').then(() => r = 'loaded', e => r = 'refused'); payload.r = r;"})).await;
    assert_eq!(log.status, "success", "{:?}", log.error);
    assert_ne!(out["r"], "loaded");
}

fn sandbox(ms: u64) -> Sandbox {
    #[allow(clippy::disallowed_methods)] // measuring the sandbox's own bound
    let now = Instant::now();
    Sandbox {
        memory_bytes: 16 * 1024 * 1024,
        stack_bytes: 256 * 1024,
        deadline: now + Duration::from_millis(ms),
        timeout_ms: ms,
    }
}

#[test]
fn each_limit_is_an_error_within_its_bound() {
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let e = eval("for (;;) {}", Some(&json!({})), &sandbox(300))
        .unwrap_err()
        .to_string();
    let took = t.elapsed();
    assert!(e.contains("time limit of 300 ms"), "{e}");
    assert!(took < Duration::from_millis(1500), "{took:?}");

    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let e = eval(
        "while (true) { try { for(;;){} } catch (e) {} }",
        Some(&json!({})),
        &sandbox(300),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("time limit"),
        "an interrupt cannot be caught: {e}"
    );
    assert!(t.elapsed() < Duration::from_millis(1500));

    let bombs = [
        "let a = []; for (;;) a.push({x: a.length, s: 'y'.repeat(100)});",
        "let s = 'x'; for (;;) s = s + s;",
        "new Array(1e9).fill(1);",
        "let o = {}; for (let i = 0;; i++) o['k' + i] = i;",
        "'x'.repeat(2e9)",
    ];
    for b in bombs {
        let e = eval(b, Some(&json!({})), &sandbox(10_000))
            .unwrap_err()
            .to_string();
        // The memory limit, or one of QuickJS's own size limits reached first (it builds
        // concatenations as ropes, so doubling a string reaches "string too long" first).
        let bounded = [
            "memory limit of 16777216 bytes",
            "RangeError",
            "string too long",
        ];
        assert!(bounded.iter().any(|m| e.contains(m)), "{b}: {e}");
    }

    for deep in [
        "function f(n) { return f(n + 1) + 1; } f(0);",
        "const g = () => [g()]; g();",
        "let o = {}; o.toString = function () { return String(this); }; String(o);",
    ] {
        let e = eval(deep, Some(&json!({})), &sandbox(10_000))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("maximum stack size of 262144 bytes"),
            "{deep}: {e}"
        );
    }
    // Deeply nested JSON result built in the script: stringify is bounded by the stack too.
    let e = eval(
        "let o = {}; for (let i = 0; i < 1e6; i++) o = {o}; return o;",
        Some(&json!({})),
        &sandbox(10_000),
    );
    assert!(e.is_err(), "{e:?}");
    // Still fine afterwards, on the same thread.
    let ok = eval("payload.ok = true;", Some(&json!({})), &sandbox(1000)).unwrap();
    assert_eq!(ok.value, Some(json!({"ok": true})));
}

#[tokio::test]
async fn the_run_deadline_bounds_the_script_and_the_server_carries_on() {
    let limits = RunLimits {
        max_duration_ms: 400,
        script_timeout_ms: 60_000,
        ..RunLimits::default()
    };
    #[allow(clippy::disallowed_methods)]
    let t = Instant::now();
    let (log, _) = go_with(json!({"script": "for (;;) {}"}), limits).await;
    assert_eq!(log.status, "error");
    assert!(log.error.unwrap_or_default().contains("400 ms"));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Many endless scripts at once: each ends at its limit; the runtime stays responsive.
    let limits = RunLimits {
        script_timeout_ms: 200,
        ..RunLimits::default()
    };
    let runs = (0..8).map(|_| go_with(json!({"script": "for (;;) {}"}), limits.clone()));
    let ticker = tokio::spawn(async {
        let mut n = 0;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            n += 1;
        }
        n
    });
    for (log, _) in futures_util_join(runs).await {
        assert!(log
            .error
            .unwrap_or_default()
            .contains("time limit of 200 ms"));
    }
    assert_eq!(ticker.await.unwrap(), 10);
    let (log, out) = go(json!({"script": "payload.after = 1;"})).await;
    assert_eq!(log.status, "success");
    assert_eq!(out["after"], 1);
}

async fn futures_util_join<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
