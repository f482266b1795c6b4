//! Rendering the execute-time templates (`queryJson`, `dataTableId`) with `{ctx: <context>}`.
//!
//! The same renderer as workflows ([`rjobs_flow::template`]): no HTML escaping (the output is
//! JSON text), a missing value renders empty, as in the original, and every template is held to
//! [`rjobs_flow::bounds`] (no partials, bounded nesting, steps and output), so a hostile
//! `queryJson` is a 400 naming the field, never a crashed server.
//!
//! Its [`RenderError`] names the field and keeps the template's typed cause; the engine reports
//! it as [`EngineError::Validation`] (a 400) with the same text.

use rjobs_flow::NodeError;
use serde_json::{json, Value};

use crate::EngineError;

/// The largest rendered `queryJson` or `dataTableId`, in bytes.
pub const MAX_RENDERED_BYTES: usize = 64 * 1024;

/// Why an execute-time template did not render; the message starts with the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template was refused or failed to render.
    #[error("{field}: {cause}")]
    Template { field: String, cause: NodeError },
    /// The output is larger than [`MAX_RENDERED_BYTES`].
    #[error("{field}: rendered to {bytes} bytes; at most {MAX_RENDERED_BYTES} are allowed")]
    TooLarge { field: String, bytes: usize },
}

impl From<RenderError> for EngineError {
    fn from(e: RenderError) -> EngineError {
        EngineError::Validation(e.to_string())
    }
}

/// Renders `template` with `{ctx: context}`; the error names `field`.
pub fn render(field: &str, template: &str, context: &Value) -> Result<String, RenderError> {
    let out =
        rjobs_flow::template::render(template, &json!({ "ctx": context })).map_err(|cause| {
            RenderError::Template {
                field: field.to_string(),
                cause,
            }
        })?;
    if out.len() > MAX_RENDERED_BYTES {
        return Err(RenderError::TooLarge {
            field: field.to_string(),
            bytes: out.len(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_context_values_unescaped() {
        let ctx = json!({"name": "a\"b<c", "level": 5, "t": "575ec8687ae143cd83dc4a97"});
        assert_eq!(
            render("q", "{\"level\": {{ctx.level}}}", &ctx).unwrap(),
            "{\"level\": 5}"
        );
        assert_eq!(render("q", "{{ctx.name}}", &ctx).unwrap(), "a\"b<c");
        assert_eq!(render("q", "{{ctx.missing}}", &ctx).unwrap(), "");
        assert_eq!(render("q", "plain", &ctx).unwrap(), "plain");
        assert!(render("q", "{{#if}}", &ctx)
            .unwrap_err()
            .to_string()
            .starts_with("q: "));
    }

    #[test]
    fn hostile_templates_are_field_errors() {
        let ctx = json!({"l": (0..200).collect::<Vec<_>>()});
        let recursive = "{{#*inline \"p\"}}{{> p}}{{/inline}}{{> p}}";
        let deep = format!("{{{{a {}b{}}}}}", "(f ".repeat(3000), ")".repeat(3000));
        let bomb =
            "{{#each ctx.l}}{{#each @root.ctx.l}}{{#each @root.ctx.l}}x{{/each}}{{/each}}{{/each}}";
        let wide = "{{#each ctx.l}}{{#each @root.ctx.l}}xxxx{{/each}}{{/each}}";
        for t in [recursive, deep.as_str(), bomb, wide] {
            let e = render("queryJson", t, &ctx).unwrap_err().to_string();
            assert!(e.starts_with("queryJson: "), "{e}");
        }
    }
}
