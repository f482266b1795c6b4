//! The trigger sink that runs workflows: for each trigger, every enabled flow of the application
//! with a trigger of that type keyed to the job runs with the original's payload envelope, in its
//! own task (a slow or failing flow never holds up the engine), and its run is logged. Timer
//! firings ([`crate::timers`]) run the same way, from the one timer that fired. The flows'
//! Job: Acknowledge and Job: Execute nodes call back into the engine through [`EngineHost`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use async_trait::async_trait;
use rjobs_core::engine::IterationId;
use rjobs_core::execution::Source;
use rjobs_core::{Clock, Id, IdGen};
use rjobs_flow::{
    Acknowledgement, DevicePage, FlowDef, FlowHost, Found, HostError, Publish, RowPage, RunLimits,
};
use rjobs_store::{FlowRecord, FlowRun, Store};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::control::ExecuteRequest;
use crate::engine::{AckRequest, Engine};
use crate::sink::{TriggerEvent, TriggerSink};
use crate::timers::{TimerFiring, TimerTarget};

/// Runs flows on triggers.
#[derive(Debug)]
pub struct FlowSink {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    engine: OnceLock<Weak<Engine>>,
    limits: Arc<RunLimits>,
    slots: Arc<Semaphore>,
    cache: Mutex<HashMap<CacheKey, Cached>>,
    log: Arc<RunLog>,
    /// The MQTT connection the flows' MQTT nodes publish through, when configured.
    publisher: OnceLock<Arc<dyn crate::device::Publisher>>,
}

/// Flow-run log lines waiting to be written. A run's line is diagnostics, not state: it is
/// queued without holding up the run and written at most [`LOG_LINGER`] later with every line
/// queued meanwhile, so the lines of a busy flow ride in the group commit's batches instead of
/// costing a commit each. A crash can lose the lines of the last few milliseconds, never an
/// iteration's outcome (the Acknowledge node's ack is durable before the node continues).
#[derive(Debug, Default)]
struct RunLog {
    lines: Mutex<Vec<FlowRun>>,
    flushing: std::sync::atomic::AtomicBool,
}

/// How long a log line may wait for company.
const LOG_LINGER: std::time::Duration = std::time::Duration::from_millis(5);

impl RunLog {
    fn push(self: &Arc<Self>, run: FlowRun, store: &Arc<dyn Store>) {
        use std::sync::atomic::Ordering;
        if let Ok(mut l) = self.lines.lock() {
            l.push(run);
        }
        if self.flushing.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.clone();
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOG_LINGER).await;
                let lines = me
                    .lines
                    .lock()
                    .map(|mut l| std::mem::take(&mut *l))
                    .unwrap_or_default();
                let ops: Vec<_> = lines
                    .into_iter()
                    .map(rjobs_store::WriteOp::FlowRun)
                    .collect();
                for r in store.submit(ops).await {
                    if let Err(e) = r {
                        tracing::error!(error = %e, "cannot record a flow run");
                    }
                }
                me.flushing.store(false, Ordering::SeqCst);
                let more = me.lines.lock().map(|l| !l.is_empty()).unwrap_or(false);
                if !more || me.flushing.swap(true, Ordering::SeqCst) {
                    return;
                }
            }
        });
    }
}

/// (application, trigger type, job).
type CacheKey = (Id, &'static str, Id);

/// The flows listening to one trigger of one job, parsed, with the application's name. Kept for
/// [`CACHE_MS`]: a trigger fires once per iteration, and reading and parsing the flows each time
/// would dominate the cost of small flows. A changed or disabled flow is seen within that time.
#[derive(Debug, Clone)]
struct Cached {
    at: rjobs_core::Timestamp,
    app_name: String,
    flows: Arc<Vec<(FlowRecord, Arc<FlowDef>)>>,
}

const CACHE_MS: i64 = 1000;

impl FlowSink {
    /// The enabled flows listening to this trigger (cached for [`CACHE_MS`]).
    async fn flows_of(&self, ev: &TriggerEvent) -> Option<Cached> {
        let key: CacheKey = (
            ev.application_id.clone(),
            ev.kind.as_str(),
            ev.resource_job_id.clone(),
        );
        let now = self.clock.now();
        if let Ok(cache) = self.cache.lock() {
            if let Some(c) = cache.get(&key) {
                if now.as_millis() - c.at.as_millis() < CACHE_MS {
                    return Some(c.clone());
                }
            }
        }
        let records = match self
            .store
            .flows_for_trigger(
                &ev.application_id,
                ev.kind.as_str(),
                ev.resource_job_id.as_str(),
            )
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot load the flows of a trigger");
                return None;
            }
        };
        let app_name = match self.store.get_application(&ev.application_id).await {
            Ok(Some(a)) => a.name,
            _ => String::new(),
        };
        let mut flows = Vec::with_capacity(records.len());
        for rec in records {
            match rjobs_flow::parse_flow(&rec.body) {
                Ok(def) => flows.push((rec, Arc::new(def))),
                Err(e) => {
                    tracing::error!(flow_id = %rec.id, error = %e, "stored flow does not parse")
                }
            }
        }
        let c = Cached {
            at: now,
            app_name,
            flows: Arc::new(flows),
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, c.clone());
        }
        Some(c)
    }

    /// A sink over `store`; call [`FlowSink::attach`] once the engine exists.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, limits: RunLimits) -> Self {
        FlowSink {
            store,
            clock,
            engine: OnceLock::new(),
            limits: Arc::new(limits),
            slots: Arc::new(Semaphore::new(512)),
            cache: Mutex::new(HashMap::new()),
            log: Arc::new(RunLog::default()),
            publisher: OnceLock::new(),
        }
    }

    /// Connects the engine the flows' nodes call (the engine owns the sink, hence the weak link).
    pub fn attach(&self, engine: &Arc<Engine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
    }

    /// Connects the MQTT publisher (without one, MQTT nodes fail naming the setting).
    pub fn set_publisher(&self, p: Arc<dyn crate::device::Publisher>) {
        let _ = self.publisher.set(p);
    }
}

/// What a flow's nodes can do, on behalf of one application and flow (the device and table
/// calls are in `flow_resources.rs`).
pub(crate) struct EngineHost {
    engine: Weak<Engine>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) app: Id,
    flow: Id,
    publisher: Option<Arc<dyn crate::device::Publisher>>,
    pub(crate) ids: IdGen,
}

const SHUTTING_DOWN: &str = "the engine is shutting down";

fn engine_error(e: crate::EngineError) -> HostError {
    match e {
        crate::EngineError::Validation(m) => HostError::invalid("request", m),
        crate::EngineError::NotFound(what) => HostError::NotFound {
            what: what.as_str(),
            id: String::new(),
        },
        crate::EngineError::Conflict(m) => HostError::Conflict(m),
        crate::EngineError::Store(e) => {
            tracing::error!(error = %e, "a flow's engine call failed");
            HostError::Internal("the database could not complete the request".into())
        }
    }
}

#[async_trait]
impl FlowHost for EngineHost {
    fn now_iso(&self) -> String {
        self.clock.now().to_rfc3339()
    }

    async fn publish(&self, message: Publish) -> Result<(), HostError> {
        match &self.publisher {
            Some(p) => p
                .publish(message)
                .await
                .map_err(|e| HostError::Unavailable(e.to_string())),
            None => Err(HostError::Unavailable(rjobs_flow::NO_BROKER.into())),
        }
    }

    async fn get_device(&self, id: &str) -> Result<Option<Value>, HostError> {
        self.device(id).await
    }

    async fn find_devices(&self, q: &Value, page: &DevicePage) -> Result<Found, HostError> {
        self.devices(q, page).await
    }

    async fn update_device(&self, id: &str, patch: &Value) -> Result<Value, HostError> {
        self.patch_device(id, patch).await
    }

    async fn query_rows(&self, t: &str, q: &Value, page: &RowPage) -> Result<Found, HostError> {
        self.rows(t, q, page).await
    }

    async fn insert_row(&self, t: &str, row: &Value, text: bool) -> Result<Value, HostError> {
        self.add_row(t, row, text).await
    }

    async fn update_row(
        &self,
        t: &str,
        id: &str,
        patch: &Value,
        text: bool,
    ) -> Result<Value, HostError> {
        self.patch_row(t, id, patch, text).await
    }

    async fn acknowledge(&self, ack: Acknowledgement) -> Result<(), HostError> {
        let engine = self
            .engine
            .upgrade()
            .ok_or(HostError::Unavailable(SHUTTING_DOWN.into()))?;
        let iteration_id = ack.iteration_id;
        let iid = IterationId::parse(&iteration_id).map_err(|_| {
            HostError::invalid(
                "iterationId",
                format!("{iteration_id:?} is not an iteration id"),
            )
        })?;
        let exec = iid.execution_id().clone();
        let req = AckRequest {
            iteration_id,
            success: ack.success,
            message: ack.message,
            accumulator: ack.accumulator,
            attempt: ack.attempt,
        };
        // A flow may acknowledge any iteration of its application, of any job.
        engine
            .ack_many(&self.app, None, Some(&exec), vec![req])
            .await
            .pop()
            .unwrap_or(Err(crate::EngineError::NotFound(crate::Missing::Iteration)))
            .map_err(engine_error)
    }

    async fn execute_job(
        &self,
        job_id: &str,
        context: Option<String>,
    ) -> Result<String, HostError> {
        let engine = self
            .engine
            .upgrade()
            .ok_or(HostError::Unavailable(SHUTTING_DOWN.into()))?;
        let id = Id::parse(job_id).map_err(|_| {
            HostError::invalid(
                "resourceJobId",
                format!("{job_id:?} is not a resource job id"),
            )
        })?;
        let job = self
            .store
            .get_job(&self.app, &id)
            .await
            .map_err(|e| engine_error(e.into()))?
            .ok_or_else(|| HostError::NotFound {
                what: "Resource job",
                id: job_id.into(),
            })?;
        let req = ExecuteRequest {
            template_context: context,
            query_json: None,
            data_table_id: None,
            rerun_of: None,
            source: Source {
                kind: "flow".into(),
                id: Some(self.flow.clone()),
            },
        };
        engine
            .execute(&job, req)
            .await
            .map(|e| e.to_string())
            .map_err(engine_error)
    }
}

/// What starts one batch of runs of one flow: the trigger's payload `data`, time and key.
struct RunStart {
    application_id: Id,
    app_name: String,
    trigger_type: String,
    key: String,
    indexes: Vec<usize>,
    data: Value,
    time: rjobs_core::Timestamp,
}

impl FlowSink {
    /// Runs flow `flow_id` (`def`, shared with the cache: nothing is copied per trigger) from each
    /// of `start.indexes` in its own task, and logs each run.
    fn spawn_runs(&self, engine: Weak<Engine>, flow_id: Id, def: Arc<FlowDef>, start: RunStart) {
        let store = self.store.clone();
        let clock = self.clock.clone();
        let limits = self.limits.clone();
        let slots = self.slots.clone();
        let run_log = self.log.clone();
        let publisher = self.publisher.get().cloned();
        tokio::spawn(async move {
            let Ok(_permit) = slots.acquire().await else {
                return;
            };
            let mut start = start;
            let runs = start.indexes.len();
            for (k, index) in start.indexes.clone().into_iter().enumerate() {
                // The last run takes the trigger's data; only the others copy it.
                let data = if k + 1 == runs {
                    std::mem::take(&mut start.data)
                } else {
                    start.data.clone()
                };
                let payload = rjobs_flow::envelope(
                    &def,
                    flow_id.as_str(),
                    index,
                    start.application_id.as_str(),
                    &start.app_name,
                    data,
                    &start.time.to_rfc3339(),
                );
                let host = EngineHost {
                    engine: engine.clone(),
                    clock: clock.clone(),
                    store: store.clone(),
                    app: start.application_id.clone(),
                    flow: flow_id.clone(),
                    publisher: publisher.clone(),
                    ids: IdGen::new(),
                };
                #[allow(clippy::disallowed_methods)] // run duration only, never stored as time
                let started = Instant::now();
                let log = rjobs_flow::run(&def, index, payload, &host, &limits).await;
                let run = FlowRun {
                    id: IdGen::new().next(start.time),
                    flow_id: flow_id.clone(),
                    application_id: start.application_id.clone(),
                    time: start.time,
                    trigger_type: start.trigger_type.clone(),
                    trigger_key: start.key.clone(),
                    status: log.status,
                    error: log.error,
                    debug: Value::Array(log.debug),
                    duration_ms: started.elapsed().as_millis() as i64,
                };
                run_log.push(run, &store);
            }
        });
    }
}

#[async_trait]
impl TriggerSink for FlowSink {
    async fn fire(&self, mut ev: TriggerEvent) {
        let Some(cached) = self.flows_of(&ev).await else {
            return;
        };
        let Some(engine) = self.engine.get().cloned() else {
            return;
        };
        let key = ev.resource_job_id.to_string();
        let flows = cached.flows.len();
        for (i, (rec, def)) in cached.flows.iter().enumerate() {
            // The last flow takes the trigger's data; only the others copy it.
            let data = if i + 1 == flows {
                std::mem::take(&mut ev.data)
            } else {
                ev.data.clone()
            };
            let start = RunStart {
                application_id: ev.application_id.clone(),
                app_name: cached.app_name.clone(),
                trigger_type: ev.kind.as_str().to_string(),
                key: key.clone(),
                indexes: def.listens_to(ev.kind.as_str(), &key),
                data,
                time: ev.time,
            };
            self.spawn_runs(engine.clone(), rec.id.clone(), def.clone(), start);
        }
    }
}

#[async_trait]
impl TimerTarget for FlowSink {
    /// A timer's payload is the original's: `data` is `{}`, `time` is the instant that fired,
    /// `triggerId` the timer's key, `triggerType` `"timer"`.
    async fn fire_timer(&self, f: TimerFiring) {
        let Some(engine) = self.engine.get().cloned() else {
            return;
        };
        let app_name = match self.store.get_application(&f.flow.application_id).await {
            Ok(Some(a)) => a.name,
            _ => String::new(),
        };
        let start = RunStart {
            application_id: f.flow.application_id.clone(),
            app_name,
            trigger_type: rjobs_flow::timer::TIMER.to_string(),
            key: f.key,
            indexes: vec![f.trigger_index],
            data: serde_json::json!({}),
            time: f.instant,
        };
        self.spawn_runs(engine, f.flow.id, f.def, start);
    }
}
