//! A fake FlowHost recording calls, and flow-building helpers.
#![allow(dead_code)]

use std::sync::Mutex;

use async_trait::async_trait;
use rjobs_flow::FlowHost;
use serde_json::{json, Value};

pub const JOB: &str = "5f1c2d3e4f5a6b7c8d9e0f1a";

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Ack {
        iteration_id: String,
        attempt: Option<u32>,
        success: bool,
        message: Option<String>,
        accumulator: Option<Value>,
    },
    Exec {
        job_id: String,
        context: Option<String>,
    },
}

#[derive(Default)]
pub struct FakeHost {
    pub calls: Mutex<Vec<Call>>,
    pub refuse: Option<String>,
}

impl FakeHost {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl FlowHost for FakeHost {
    async fn acknowledge(
        &self,
        iteration_id: &str,
        attempt: Option<u32>,
        success: bool,
        message: Option<String>,
        accumulator: Option<Value>,
    ) -> Result<(), String> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call::Ack {
                iteration_id: iteration_id.into(),
                attempt,
                success,
                message,
                accumulator,
            });
        }
        match &self.refuse {
            Some(m) => Err(m.clone()),
            None => Ok(()),
        }
    }
    async fn execute_job(&self, job_id: &str, context: Option<String>) -> Result<String, String> {
        if let Ok(mut c) = self.calls.lock() {
            c.push(Call::Exec {
                job_id: job_id.into(),
                context,
            });
        }
        match &self.refuse {
            Some(m) => Err(m.clone()),
            None => Ok("exec0000000000000000000001".into()),
        }
    }
}

/// A flow with one Job: Iteration trigger wired to `first` and the given nodes.
pub fn flow(first: &[&str], nodes: Value) -> Value {
    json!({
        "name": "test flow",
        "triggers": [{"type": "resourceJobIteration", "key": JOB, "config": {},
                      "meta": {"category": "trigger", "name": "resourceJobIteration", "label": "Job: Iteration", "x": 60, "y": 60},
                      "outputIds": [first]}],
        "nodes": nodes,
        "globals": [{"key": "threshold", "json": "75"}]
    })
}

pub fn node(id: &str, ty: &str, config: Value, outs: Value) -> Value {
    json!({"id": id, "type": ty, "config": config, "meta": {"x": 1, "y": 2}, "outputIds": outs})
}

/// An iteration payload as the server would build it.
pub fn iteration_data() -> Value {
    json!({
        "accumulator": {"count": 2},
        "device": {"id": "aaaaaaaaaaaaaaaaaaaaaaaa", "name": "Pump 7", "tags": {"floor": ["2"]}},
        "execution": {"status": "inProgress", "id": "444444444444dddddddddddd"},
        "iterationId": "444444444444dddddddddddd-111111111111aaaaaaaaaaaa",
        "willRetryOnFailure": true,
        "willRetryOnTimeout": true,
        "attemptNumber": 2
    })
}
