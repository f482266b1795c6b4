//! Hostile templates and expressions: generated up to and past the limits of `rjobs_flow::bounds`,
//! each rendered on a thread with a 256 KiB stack. A stack overflow would abort the test binary,
//! so passing proves the bounds hold without relying on a large native stack.

use proptest::prelude::*;
use rjobs_flow::bounds::{MAX_ELSE_CHAINS, MAX_NESTING, MAX_OUTPUT_BYTES};
use rjobs_flow::{expr, template, NodeError};
use serde_json::{json, Value};

const SMALL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with a small stack and returns its result (a panic fails the test).
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the render panicked")
}

fn payload() -> Value {
    json!({"data": {"a": 1, "s": "x", "list": (0..1000).collect::<Vec<_>>()}})
}

fn render(t: String) -> Result<String, NodeError> {
    small_stack(move || template::render(&t, &payload()))
}

fn subexpressions(depth: usize) -> String {
    format!(
        "{{{{lower {}data.s{}}}}}",
        "(lower ".repeat(depth),
        ")".repeat(depth)
    )
}

fn blocks(helper: &str, depth: usize) -> String {
    let open = match helper {
        "each" => "{{#each @root.data.list}}",
        "with" => "{{#with @root.data}}",
        _ => "{{#if @root.data.a}}",
    };
    let close = format!("{{{{/{helper}}}}}");
    format!("{}x{}", open.repeat(depth), close.repeat(depth))
}

#[test]
fn recursive_partials_are_refused() {
    let cases = [
        "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}",
        "{{#*inline \"a\"}}{{> b}}{{/inline}}{{#*inline \"b\"}}{{> a}}{{/inline}}{{> a}}",
        "{{#> p}}{{> @partial-block}}{{/p}}",
        "{{*inline \"x\"}}",
    ];
    for t in cases {
        let e = render(t.to_string()).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{t}: {e}");
        assert!(template::check(t).is_err(), "{t}");
    }
}

#[test]
fn nesting_at_the_limit_renders_past_it_is_refused() {
    // Blocks and subexpressions share one nesting limit; subexpressions inside the deepest block.
    let at_limit = subexpressions(MAX_NESTING - 1);
    assert_eq!(render(at_limit).as_deref(), Ok("x"));
    let e = render(subexpressions(MAX_NESTING + 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested"), "{e}");
    for helper in ["if", "with"] {
        assert_eq!(
            render(blocks(helper, MAX_NESTING)).as_deref(),
            Ok("x"),
            "{helper}"
        );
        assert!(render(blocks(helper, MAX_NESTING + 1)).is_err(), "{helper}");
    }
    // Thousands of levels: refused by the scan, no overflow.
    assert!(render(subexpressions(5000))
        .unwrap_err()
        .to_string()
        .contains("nested"));
    assert!(render(blocks("if", 2000))
        .unwrap_err()
        .to_string()
        .contains("nested"));
    let arms = format!(
        "{{{{#if data.zz}}}}{}{{{{/if}}}}",
        "{{else if data.zz}}y".repeat(MAX_ELSE_CHAINS + 1)
    );
    assert!(render(arms).unwrap_err().to_string().contains("arms"));
}

#[test]
fn expansion_is_bounded() {
    // 1000^3 iterations: stopped by the step budget.
    let e = render(blocks("each", 3)).unwrap_err().to_string();
    assert!(e.contains("steps"), "{e}");
    // A single each over 1000 items is fine.
    assert_eq!(render(blocks("each", 1)).map(|s| s.len()), Ok(1000));
    // Output past the cap: 1000 × 1000 × 2 bytes.
    let big = "{{#each data.list}}{{#each ../data.list}}ab{{/each}}{{/each}}".to_string();
    let e = render(big).unwrap_err().to_string();
    assert!(
        e.contains(&MAX_OUTPUT_BYTES.to_string()) || e.contains("steps"),
        "{e}"
    );
}

#[test]
fn expression_limits_fit_a_small_stack() {
    for depth in [15, 17] {
        let parens = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
        let nots = format!("{}1", "!".repeat(depth));
        for src in [parens, nots] {
            let s2 = src.clone();
            let r = small_stack(move || expr::eval(&s2, &payload()).map(|_| ()));
            assert_eq!(r.is_ok(), depth == 15, "{src}: {r:?}");
        }
    }
    // Templates inside an expression are bounded by the template limits.
    for depth in [MAX_NESTING - 1, MAX_NESTING + 1] {
        let src = format!(
            "{{{{{}data.s{}}}}} == 'x'",
            "(lower ".repeat(depth),
            ")".repeat(depth)
        );
        let r = small_stack(move || expr::eval(&src, &payload()).map(|_| ()));
        assert_eq!(r.is_ok(), depth < MAX_NESTING, "{r:?}");
    }
    // A flat chain of the maximum operator count builds a deep tree: it must evaluate.
    for n in [999usize, 1000, 1001] {
        let chain = format!("{}1", "1 + ".repeat(n));
        let r = small_stack(move || expr::eval(&chain, &payload()).map(|v| v.to_number()));
        if n <= 1000 {
            assert_eq!(r, Ok((n + 1) as f64));
        } else {
            assert!(r.unwrap_err().to_string().contains("operators"));
        }
    }
}

#[test]
fn each_keeps_upstream_semantics() {
    let p = json!({"l": ["a", "b"], "o": {"k": 1}, "e": []});
    let r = |t: &str| template::render(t, &p).unwrap();
    assert_eq!(
        r("{{#each l}}{{@index}}{{this}}{{#if @last}}!{{/if}};{{/each}}"),
        "0a;1b!;"
    );
    assert_eq!(r("{{#each o}}{{@key}}={{this}}{{/each}}"), "k=1");
    assert_eq!(r("{{#each l as |v i|}}{{i}}{{v}}{{/each}}"), "0a1b");
    assert_eq!(r("{{#each e}}x{{else}}none{{/each}}"), "none");
    assert_eq!(r("{{#each l}}{{../o.k}}{{/each}}"), "11");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_nesting_never_overflows(
        parts in proptest::collection::vec(0u8..5, 0..(MAX_NESTING * 3)),
    ) {
        // A random mix of subexpressions and blocks, as deep as the vector is long.
        let mut t = String::new();
        let mut closes = Vec::new();
        for p in &parts {
            match p {
                0 => { t.push_str("{{#if @root.data.a}}"); closes.push("{{/if}}".to_string()); }
                1 => { t.push_str("{{#each @root.data.list}}"); closes.push("{{/each}}".to_string()); }
                2 => { t.push_str("{{#with @root.data}}"); closes.push("{{/with}}".to_string()); }
                _ => { t.push_str("{{#eq (lower (upper @root.data.s)) \"x\"}}"); closes.push("{{/eq}}".to_string()); }
            }
        }
        t.push('x');
        for c in closes.iter().rev() { t.push_str(c); }
        // Block bodies nest; the two subexpressions of an `eq` block sit one level deeper.
        let depth = parts
            .iter()
            .enumerate()
            .map(|(i, p)| if *p >= 3 { i + 2 } else { i + 1 })
            .max()
            .unwrap_or(0);
        let eaches = parts.iter().filter(|p| **p == 1).count();
        let out = render(t);
        if depth > MAX_NESTING {
            prop_assert!(out.is_err());
        } else if eaches <= 1 {
            prop_assert!(out.is_ok(), "{:?}", out);
        }
    }

    #[test]
    fn generated_soup_never_overflows(s in "[{}()#/>*a-z. \"'=~^]{0,400}") {
        let _ = render(s.clone());
        let t = s.clone();
        let _ = small_stack(move || template::check(&t));
    }

    #[test]
    fn generated_expressions_never_overflow(depth in 0usize..3000, op in 0u8..3) {
        let src = match op {
            0 => format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
            1 => format!("{}1", "!".repeat(depth)),
            _ => format!("{{{{{}data.s{}}}}} == 'x'", "(lower ".repeat(depth), ")".repeat(depth)),
        };
        let out = small_stack(move || expr::eval(&src, &payload()).map(|_| ()));
        // An expression nests at most 16 levels, its innermost operand included (so 15
        // parentheses or `!`); the `{{…}}` template inside one is bounded by the template limit
        // (`MAX_NESTING`, 24).
        let limit = if op == 2 { MAX_NESTING } else { 15 };
        if depth > limit {
            prop_assert!(out.is_err(), "depth {} op {}: {:?}", depth, op, out);
        } else {
            prop_assert!(out.is_ok(), "depth {} op {}: {:?}", depth, op, out);
        }
    }
}

/// The case proptest found (a `{{…}}` template 17 deep inside an expression is within the
/// template limit of 24) and the edges of both limits.
#[test]
fn expression_and_template_limits_at_their_edges() {
    let eval = |src: String| small_stack(move || expr::eval(&src, &payload()).map(|_| ()));
    let lowers = |d: usize| {
        format!(
            "{{{{{}data.s{}}}}} == 'x'",
            "(lower ".repeat(d),
            ")".repeat(d)
        )
    };
    for d in [17, MAX_NESTING] {
        assert!(eval(lowers(d)).is_ok(), "{d}");
    }
    assert!(eval(lowers(MAX_NESTING + 1)).is_err());
    let parens = |d: usize| format!("{}1{}", "(".repeat(d), ")".repeat(d));
    assert!(eval(parens(15)).is_ok());
    assert!(eval(parens(16)).is_err());
    assert!(eval(format!("{}1", "!".repeat(15))).is_ok());
    assert!(eval(format!("{}1", "!".repeat(16))).is_err());
}
