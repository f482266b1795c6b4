//! A fake FlowHost recording calls, and flow-building helpers.
#![allow(dead_code)]

use std::sync::Mutex;

use async_trait::async_trait;
use rjobs_flow::{Acknowledgement, DevicePage, FlowHost, Found, HostError, RowPage};
use serde_json::{json, Value};

pub const JOB: &str = "5f1c2d3e4f5a6b7c8d9e0f1a";

#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Ack(Acknowledgement),
    Exec {
        job_id: String,
        context: Option<String>,
    },
    GetDevice(String),
    FindDevices(Value, DevicePage),
    UpdateDevice(String, Value),
    QueryRows(String, Value, RowPage),
    InsertRow(String, Value, bool),
    UpdateRow(String, String, Value, bool),
}

/// Records every call. `refuse` makes every call fail with a conflict, `error` with that
/// error. Devices and rows live in memory: lookups by id are real; a search returns every
/// stored item (the node's query and paging are what the tests check, in the recorded call);
/// writes merge into the stored item.
#[derive(Default)]
pub struct FakeHost {
    pub calls: Mutex<Vec<Call>>,
    pub refuse: Option<String>,
    pub error: Option<HostError>,
    pub devices: Mutex<Vec<Value>>,
    pub rows: Mutex<Vec<Value>>,
}

impl FakeHost {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
    pub fn with_devices(devices: Value) -> FakeHost {
        FakeHost {
            devices: Mutex::new(devices.as_array().cloned().unwrap_or_default()),
            ..FakeHost::default()
        }
    }
    pub fn with_rows(rows: Value) -> FakeHost {
        FakeHost {
            rows: Mutex::new(rows.as_array().cloned().unwrap_or_default()),
            ..FakeHost::default()
        }
    }
    fn record(&self, c: Call) -> Result<(), HostError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(c);
        }
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match &self.refuse {
            Some(m) => Err(HostError::Conflict(m.clone())),
            None => Ok(()),
        }
    }
}

fn merge(into: &mut Value, patch: &Value) {
    if let (Some(m), Some(p)) = (into.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            m.insert(k.clone(), v.clone());
        }
    }
}

fn find(list: &Mutex<Vec<Value>>, id: &str) -> Option<Value> {
    list.lock()
        .ok()?
        .iter()
        .find(|d| d["id"].as_str() == Some(id))
        .cloned()
}

fn update(
    list: &Mutex<Vec<Value>>,
    id: &str,
    patch: &Value,
    what: &'static str,
) -> Result<Value, HostError> {
    let mut l = list
        .lock()
        .map_err(|_| HostError::Internal("poisoned".into()))?;
    let d = l
        .iter_mut()
        .find(|d| d["id"].as_str() == Some(id))
        .ok_or(HostError::NotFound {
            what,
            id: id.into(),
        })?;
    merge(d, patch);
    Ok(d.clone())
}

#[async_trait]
impl FlowHost for FakeHost {
    async fn acknowledge(&self, ack: Acknowledgement) -> Result<(), HostError> {
        self.record(Call::Ack(ack))
    }
    async fn execute_job(
        &self,
        job_id: &str,
        context: Option<String>,
    ) -> Result<String, HostError> {
        self.record(Call::Exec {
            job_id: job_id.into(),
            context,
        })?;
        Ok("exec0000000000000000000001".into())
    }
    async fn get_device(&self, id: &str) -> Result<Option<Value>, HostError> {
        self.record(Call::GetDevice(id.into()))?;
        Ok(find(&self.devices, id))
    }
    async fn find_devices(&self, q: &Value, page: &DevicePage) -> Result<Found, HostError> {
        self.record(Call::FindDevices(q.clone(), page.clone()))?;
        let all = self.devices.lock().map(|d| d.clone()).unwrap_or_default();
        Ok(Found {
            total_count: all.len() as u64,
            items: all.into_iter().take(page.per_page as usize).collect(),
        })
    }
    async fn update_device(&self, id: &str, patch: &Value) -> Result<Value, HostError> {
        self.record(Call::UpdateDevice(id.into(), patch.clone()))?;
        update(&self.devices, id, patch, "Device")
    }
    async fn query_rows(&self, t: &str, q: &Value, page: &RowPage) -> Result<Found, HostError> {
        self.record(Call::QueryRows(t.into(), q.clone(), page.clone()))?;
        let all = self.rows.lock().map(|d| d.clone()).unwrap_or_default();
        Ok(Found {
            total_count: all.len() as u64,
            items: all.into_iter().take(page.limit as usize).collect(),
        })
    }
    async fn insert_row(&self, t: &str, row: &Value, text: bool) -> Result<Value, HostError> {
        self.record(Call::InsertRow(t.into(), row.clone(), text))?;
        let mut r = row.clone();
        let mut rows = self
            .rows
            .lock()
            .map_err(|_| HostError::Internal("poisoned".into()))?;
        merge(&mut r, &json!({"id": format!("{:024x}", rows.len() + 1)}));
        rows.push(r.clone());
        Ok(r)
    }
    async fn update_row(
        &self,
        t: &str,
        id: &str,
        patch: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        self.record(Call::UpdateRow(t.into(), id.into(), patch.clone(), text))?;
        update(&self.rows, id, patch, "Data table row")
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
