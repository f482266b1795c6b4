//! The node graph's structural checks, separate from parsing each trigger and node: with every
//! element parsed on its own, what is left is whether they fit together — node ids unique, every
//! `outputIds` entry naming a node, and no cycle, so a run always terminates. The cycle search
//! is an iterative depth-first search so a long chain cannot overflow the stack, and reports
//! the cycle itself (`"a" -> "b" -> "a"`).

use std::collections::HashMap;

use crate::def::{FlowDef, FlowError};

/// Duplicate ids, dangling edges and cycles, each named by its JSON path.
pub(crate) fn check(flow: &FlowDef) -> Result<(), FlowError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, n) in flow.nodes.iter().enumerate() {
        if let Some(first) = index.insert(n.id.as_str(), i) {
            return Err(FlowError::new(
                format!("nodes[{i}].id"),
                format!("duplicate node id {:?} (also nodes[{first}])", n.id),
            ));
        }
    }
    let dangling = |at: String, groups: &[Vec<String>]| -> Result<(), FlowError> {
        for (g, ids) in groups.iter().enumerate() {
            for (j, id) in ids.iter().enumerate() {
                if !index.contains_key(id.as_str()) {
                    return Err(FlowError::new(
                        format!("{at}.outputIds[{g}][{j}]"),
                        format!("no node with id {id:?}"),
                    ));
                }
            }
        }
        Ok(())
    };
    for (i, t) in flow.triggers.iter().enumerate() {
        dangling(format!("triggers[{i}]"), &t.output_ids)?;
    }
    for (i, n) in flow.nodes.iter().enumerate() {
        dangling(format!("nodes[{i}]"), &n.output_ids)?;
    }
    // Iterative three-colour DFS so a long chain cannot overflow the stack.
    let mut colour = vec![0u8; flow.nodes.len()]; // 0 new, 1 on stack, 2 done
    for start in 0..flow.nodes.len() {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some(&(node, next)) = stack.last() {
            let succ = flow.nodes[node]
                .output_ids
                .iter()
                .flatten()
                .filter_map(|id| index.get(id.as_str()).copied())
                .nth(next);
            if let Some(s) = succ {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match colour[s] {
                    0 => {
                        colour[s] = 1;
                        stack.push((s, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _)| *n == s).unwrap_or(0);
                        let mut ids: Vec<&str> = stack[pos..]
                            .iter()
                            .map(|(n, _)| flow.nodes[*n].id.as_str())
                            .collect();
                        ids.push(flow.nodes[s].id.as_str());
                        return Err(FlowError::new(
                            format!("nodes[{node}].outputIds"),
                            format!(
                                "cycle: {}",
                                ids.iter()
                                    .map(|i| format!("{i:?}"))
                                    .collect::<Vec<_>>()
                                    .join(" -> ")
                            ),
                        ));
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                stack.pop();
            }
        }
    }
    Ok(())
}
