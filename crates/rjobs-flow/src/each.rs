//! `{{#each}}` with a step budget: handlebars' own `each` helper (6.4.4, MIT, adapted), which
//! first charges `items × size of the section` against [`crate::bounds::Budget`].
//!
//! Why a copy: `each` is the only built-in whose work grows with the data rather than with the
//! template (nested `{{#each}}` over a large payload multiplies), and handlebars does not export
//! its built-in helpers, so it cannot be wrapped. Everything else (`@index`, `@key`, `@first`,
//! `@last`, block params, `{{else}}` for empty input) behaves as upstream.

use handlebars::template::TemplateElement;
use handlebars::{
    BlockContext, BlockParams, Context, Handlebars, Helper, HelperDef, HelperResult, Output,
    RenderContext, RenderError, RenderErrorReason, Renderable, Template,
};
use serde_json::Value;

use crate::bounds::Budget;

/// The static size of a section: its elements and those of the blocks inside it.
pub fn section_size(t: &Template) -> u64 {
    let mut n = 0u64;
    let mut stack: Vec<&Template> = vec![t];
    while let Some(t) = stack.pop() {
        n += t.elements.len() as u64;
        for e in &t.elements {
            if let TemplateElement::HelperBlock(h) = e {
                stack.extend(h.template.iter());
                stack.extend(h.inverse.iter());
            }
        }
    }
    n
}

fn block_for<'rc>(param: &handlebars::PathAndJson<'rc>) -> BlockContext<'rc> {
    let mut block = BlockContext::new();
    if let Some(path) = param.context_path() {
        block.base_path_mut().clone_from(path);
    } else {
        block.set_base_value(param.value().clone());
    }
    block
}

fn set_block_param<'rc>(
    block: &mut BlockContext<'rc>,
    h: &Helper<'rc>,
    base_path: Option<&Vec<String>>,
    k: &Value,
    v: &Value,
) -> Result<(), RenderError> {
    let mut params = BlockParams::new();
    let val = h.block_param().or(h.block_param_pair().map(|(v, _)| v));
    let Some(bp_val) = val else { return Ok(()) };
    if base_path.is_some() {
        params.add_path(bp_val, Vec::new())?;
    } else {
        params.add_value(bp_val, v.clone())?;
    }
    if let Some((_, bp_key)) = h.block_param_pair() {
        params.add_value(bp_key, k.clone())?;
    }
    block.set_block_params(params);
    Ok(())
}

/// The budgeted `each` helper.
pub struct Each;

impl HelperDef for Each {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let value = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("each", 0))?;
        let Some(t) = h.template() else {
            return Ok(());
        };
        let items: Vec<(Value, &Value)> = match value.value() {
            Value::Array(list) if !list.is_empty() || h.inverse().is_none() => list
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Value::Object(obj) if !obj.is_empty() || h.inverse().is_none() => obj
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), v))
                .collect(),
            _ => {
                return match h.inverse() {
                    Some(else_template) => {
                        Budget::charge(1 + section_size(else_template))
                            .map_err(|e| RenderErrorReason::Other(e.to_string()))?;
                        else_template.render(r, ctx, rc, out)
                    }
                    None => Ok(()),
                }
            }
        };
        let per_item = 1 + section_size(t);
        Budget::charge(per_item.saturating_mul(items.len() as u64))
            .map_err(|e| RenderErrorReason::Other(e.to_string()))?;
        let is_object = value.value().is_object();
        rc.push_block(block_for(value));
        let base_path = value.context_path();
        let len = items.len();
        for (i, (key, v)) in items.into_iter().enumerate() {
            if let Some(block) = rc.block_mut() {
                block.set_local_var("first", Value::Bool(i == 0));
                block.set_local_var("last", Value::Bool(i + 1 == len));
                block.set_local_var("index", Value::from(i));
                if is_object {
                    block.set_local_var("key", key.clone());
                }
                let relative = match &key {
                    Value::String(k) => k.clone(),
                    other => other.to_string(),
                };
                match base_path {
                    Some(p) if i == 0 => {
                        let mut path = p.clone();
                        path.push(relative);
                        *block.base_path_mut() = path;
                    }
                    Some(_) => {
                        if let Some(last) = block.base_path_mut().last_mut() {
                            *last = relative;
                        }
                    }
                    None => block.set_base_value(v.clone()),
                }
                set_block_param(block, h, base_path, &key, v)?;
            }
            t.render(r, ctx, rc, out)?;
        }
        rc.pop_block();
        Ok(())
    }
}
