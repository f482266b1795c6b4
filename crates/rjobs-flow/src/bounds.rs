//! Bounds on templates: what a template may contain and how much work rendering it may do.
//!
//! Why this exists: the `handlebars` crate compiles and renders by native recursion (a nested
//! subexpression, block or `{{else if}}` arm is a few stack frames more) and has no limit on
//! partial recursion between inline partials, so a template of a few kilobytes could abort the
//! whole server with a stack overflow, or expand (`{{#each}}` nested over a large payload) into
//! gigabytes. The bounds are enforced *before* handlebars sees the template, without relying on
//! the native stack:
//!
//! - [`scan`] parses the template with a copy of handlebars' own pest grammar
//!   (`handlebars.pest`), so it sees exactly the structure handlebars will compile. pest guards
//!   its own recursion (a parse that would run out of stack fails with "stack limit reached"),
//!   and the parse result is a flat token queue that is measured with an explicit stack. Refused:
//!   more than [`MAX_TEMPLATE_BYTES`] of text, nesting (blocks plus subexpressions) deeper than
//!   [`MAX_NESTING`], more than [`MAX_ELSE_CHAINS`] `{{else if}}` arms (handlebars nests them),
//!   and partials and decorators altogether (`{{> p}}`, `{{#> p}}`, `{{#*inline}}`, `{{*d}}`):
//!   rjobs registers no partials, so the only partials a template could call are inline ones it
//!   defines itself, and those are the recursion vector. Refusing them makes partial depth 0.
//! - [`Budget`] counts rendering steps (each block helper charges the elements of the section
//!   it renders, `{{#each}}` once per item) up to [`MAX_RENDER_STEPS`], and the output is cut at
//!   [`MAX_OUTPUT_BYTES`]. Both fail the render with an error, never a panic.
//!
//! The limits are constants rather than settings: a template that needs more is better split
//! across nodes (and the property tests prove these fit a 256 KiB stack).

use std::cell::Cell;

use pest::iterators::Pair;
use pest::Parser;

use crate::error::NodeError;

/// The largest template, in bytes of UTF-8.
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The deepest nesting of blocks and subexpressions (`{{#if (eq (lower a) b)}}` is 3).
pub const MAX_NESTING: usize = 24;
/// The most `{{else if ...}}` (or `{{else each ...}}`) arms in one template.
pub const MAX_ELSE_CHAINS: usize = 32;
/// The most rendering steps of one render (see [`Budget`]).
pub const MAX_RENDER_STEPS: u64 = 1_000_000;
/// The largest rendered output, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

#[derive(pest_derive::Parser)]
#[grammar = "handlebars.pest"]
struct Grammar;

/// Checks `template` against the structural bounds; `Err` says which bound and where.
pub fn scan(template: &str) -> Result<(), NodeError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(NodeError::TemplateBounds(format!(
            "template is {} bytes; at most {MAX_TEMPLATE_BYTES} are allowed",
            template.len()
        )));
    }
    let pairs = match Grammar::parse(Rule::handlebars, template) {
        Ok(p) => p,
        Err(e) if e.to_string().contains("limit reached") => {
            return Err(NodeError::TemplateBounds(format!(
                "template is nested too deeply (at most {MAX_NESTING} levels)"
            )))
        }
        // Syntax errors are reported by handlebars itself, with its own message.
        Err(_) => return Ok(()),
    };
    // Ends of the open nesting pairs (templates of blocks, subexpressions), innermost last.
    let mut open: Vec<usize> = Vec::new();
    let mut chains = 0usize;
    for pair in pairs.flatten() {
        let span = pair.as_span();
        while open
            .last()
            .is_some_and(|&end| end <= span.start() && end < span.end())
        {
            open.pop();
        }
        match pair.as_rule() {
            // The top-level template is the whole text; only block bodies nest.
            Rule::template if span.start() > 0 || span.end() < template.len() => {
                open.push(span.end());
            }
            Rule::subexpression => open.push(span.end()),
            Rule::invert_chain_tag => chains += 1,
            Rule::partial_expression | Rule::partial_block_start => {
                return Err(at(template, &pair, "partials are not supported"))
            }
            Rule::decorator_expression | Rule::decorator_block_start => {
                return Err(at(
                    template,
                    &pair,
                    "decorators and inline partials are not supported",
                ))
            }
            _ => {}
        }
        if open.len() > MAX_NESTING {
            return Err(at(
                template,
                &pair,
                &format!("template is nested more than {MAX_NESTING} levels deep"),
            ));
        }
        if chains > MAX_ELSE_CHAINS {
            return Err(at(
                template,
                &pair,
                &format!("template has more than {MAX_ELSE_CHAINS} {{{{else ...}}}} arms"),
            ));
        }
    }
    Ok(())
}

fn at(template: &str, pair: &Pair<'_, Rule>, what: &str) -> NodeError {
    let offset = pair.as_span().start();
    let line = template[..offset].matches('\n').count() + 1;
    NodeError::TemplateBounds(format!("{what} (line {line})"))
}

thread_local! {
    static STEPS_LEFT: Cell<u64> = const { Cell::new(MAX_RENDER_STEPS) };
}

/// The step budget of the render running on this thread. Rendering is synchronous, so a
/// thread-local is exact: [`Budget::start`] resets it before each render.
pub struct Budget;

impl Budget {
    /// Gives this thread's next render a full budget.
    pub fn start() {
        STEPS_LEFT.with(|s| s.set(MAX_RENDER_STEPS));
    }

    /// Takes `n` steps; `Err` once the budget is spent.
    pub fn charge(n: u64) -> Result<(), NodeError> {
        STEPS_LEFT.with(|s| {
            let left = s.get();
            if n > left {
                s.set(0);
                Err(NodeError::BudgetSpent)
            } else {
                s.set(left - n);
                Ok(())
            }
        })
    }
}

/// A byte sink that refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
pub struct CappedOutput {
    pub bytes: Vec<u8>,
    pub overflowed: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(std::io::Error::other("output too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_partials_decorators_and_depth() {
        assert!(scan("{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}")
            .unwrap_err()
            .to_string()
            .contains("not supported"));
        assert!(scan("{{> p}}")
            .unwrap_err()
            .to_string()
            .contains("partials"));
        assert!(scan("{{#> layout}}x{{/layout}}")
            .unwrap_err()
            .to_string()
            .contains("partials"));
        let deep = format!("{{{{a {}b{}}}}}", "(f ".repeat(30), ")".repeat(30));
        assert!(
            scan(&deep).unwrap_err().to_string().contains("nested"),
            "{deep}"
        );
        let ok = format!("{{{{a {}b{}}}}}", "(f ".repeat(5), ")".repeat(5));
        assert_eq!(scan(&ok), Ok(()));
        let blocks = format!("{}x{}", "{{#if a}}".repeat(30), "{{/if}}".repeat(30));
        assert!(scan(&blocks).unwrap_err().to_string().contains("nested"));
        let blocks = format!("{}x{}", "{{#if a}}".repeat(10), "{{/if}}".repeat(10));
        assert_eq!(scan(&blocks), Ok(()));
        let chain = format!("{{{{#if a}}}}{}{{{{/if}}}}", "{{else if b}}x".repeat(40));
        assert!(scan(&chain).unwrap_err().to_string().contains("arms"));
        // Siblings do not add up.
        let wide = "{{#if a}}x{{/if}}".repeat(100);
        assert_eq!(scan(&wide), Ok(()));
        assert!(scan(&"x".repeat(MAX_TEMPLATE_BYTES + 1)).is_err());
    }

    #[test]
    fn budget_runs_out() {
        Budget::start();
        assert!(Budget::charge(MAX_RENDER_STEPS - 1).is_ok());
        assert!(Budget::charge(2).is_err());
        Budget::start();
        assert!(Budget::charge(1).is_ok());
    }
}
