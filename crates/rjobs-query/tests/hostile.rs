//! Hostile queries: generated up to and past the limits (depth, values, string length), parsed and
//! compiled on a thread with a 256 KiB stack. No panic, no stack overflow, and whatever parses
//! compiles to SQL with far fewer parameters than either backend allows.

use proptest::prelude::*;
use rjobs_query::{parse, Dialect, ResourceType as RT, MAX_DEPTH, MAX_STRING_CHARS, MAX_VALUES};
use serde_json::{json, Value};

fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("panicked")
}

/// Parses and, when it parses, compiles for both dialects; returns the parameter count or the error.
fn run(q: Value) -> Result<usize, String> {
    small_stack(move || {
        let parsed = parse(RT::Device, &q, None).map_err(|e| e.to_string())?;
        let lite = parsed.to_sql(Dialect::Sqlite, "d", "app", 1);
        let pg = parsed.to_sql(Dialect::Postgres, "d", "app", 1);
        Ok(lite.params.len().max(pg.params.len()))
    })
}

fn nested(depth: usize) -> Value {
    let mut q = json!({"name": "x"});
    for _ in 0..depth {
        q = json!({"$or": [q, {"name": "y"}]});
    }
    q
}

#[test]
fn limits_are_clear_errors() {
    assert!(run(nested(MAX_DEPTH - 1)).is_ok());
    assert!(run(nested(MAX_DEPTH + 1)).unwrap_err().contains("nest"));
    // A wide $or: 100 × 100 leaves is 10,000 values.
    let wide: Vec<Value> = (0..100)
        .map(|i| json!({"$or": (0..100).map(|j| json!({"name": format!("{i}-{j}")})).collect::<Vec<_>>()}))
        .collect();
    let e = run(json!({ "$or": wide })).unwrap_err();
    assert!(e.contains(&MAX_VALUES.to_string()), "{e}");
    // The server's text rule: no control characters but tab, newline, CR (on both backends).
    let e = run(json!({"name": "a\u{1b}[0m"})).unwrap_err();
    assert!(e.contains("U+001B"), "{e}");
    let e = run(json!({"tags": {"$tagKey": "k\u{0}"}})).unwrap_err();
    assert!(e.contains("NUL"), "{e}");
    assert!(run(json!({"name": "tab\tnew\nline\r"})).is_ok());
    let long = "x".repeat(MAX_STRING_CHARS + 1);
    let e = run(json!({"name": {"$contains": long}})).unwrap_err();
    assert!(e.contains("at most 4096"), "{e}");
    // Just under the value cap compiles with fewer parameters than SQLite's limit.
    let many: Vec<Value> = (0..24)
        .map(|i| json!({"$or": (0..100).map(|j| json!({"name": format!("{i}-{j}")})).collect::<Vec<_>>()}))
        .collect();
    let n = run(json!({ "$or": many })).unwrap();
    assert!((2400..32_766).contains(&n), "{n}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_queries_never_overflow(depth in 0usize..80, width in 1usize..120, ops in 0u8..3) {
        let leaf = match ops {
            0 => json!({"name": {"$in": (0..width.min(100)).map(|i| format!("n{i}")).collect::<Vec<_>>()}}),
            1 => json!({"tags": {"$tagKey": "k", "$tagValue": "v"}}),
            _ => json!({"name": {"$startsWith": "a"}}),
        };
        let mut q = leaf.clone();
        for i in 0..depth {
            let key = ["$and", "$or", "$nor"][i % 3];
            let mut items = vec![q];
            items.extend(std::iter::repeat_n(leaf.clone(), width.min(3)));
            q = json!({ key: items });
        }
        match run(q) {
            Ok(params) => prop_assert!(params < 32_766),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}
