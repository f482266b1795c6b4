//! Rendering the execute-time templates (`queryJson`, `dataTableId`) with `{ctx: <context>}`.
//! Handlebars without HTML escaping (the output is JSON text, not HTML); a missing value renders
//! empty, as in the original.

use handlebars::Handlebars;
use serde_json::{json, Value};

/// Renders `template` with `{ctx: context}`; the error names `field`.
pub fn render(field: &str, template: &str, context: &Value) -> Result<String, String> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.render_template(template, &json!({ "ctx": context }))
        .map_err(|e| format!("{field}: template could not be rendered: {e}"))
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
        assert!(render("q", "{{#if}}", &ctx).unwrap_err().starts_with("q: "));
    }
}
