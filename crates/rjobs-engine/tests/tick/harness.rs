//! A store (SQLite file or fresh PostgreSQL database), a manual clock, an engine recording its
//! triggers, and helpers that check the engine's invariants after every tick.

use std::collections::HashMap;
use std::sync::Arc;

use rjobs_core::engine::{IterationState, Summary};
use rjobs_core::execution::{IterationRow, Source};
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::model::Application;
use rjobs_core::resources::device::Device;
use rjobs_core::{Id, IdGen, ManualClock, Timestamp};
use rjobs_engine::{
    AckRequest, Engine, EngineError, ExecuteRequest, RecordingSink, ReportSigner, TickReport,
    TriggerEvent,
};
use rjobs_store::testing::TestDb;
use rjobs_store::{
    ApplicationStore, DeviceStore, ExecutionStore, IterationStore, JobStore, SqlStore,
};
use serde_json::Value;

pub const T0: i64 = 1_800_000_000_000;

pub struct H {
    pub store: Arc<SqlStore>,
    pub clock: ManualClock,
    pub engine: Engine,
    pub sink: Arc<RecordingSink>,
    pub ids: IdGen,
    pub app: Id,
    pub cap: i64,
    _dir: tempfile::TempDir,
    pg: Option<TestDb>,
}

impl H {
    pub async fn new(pg: bool) -> H {
        let dir = tempfile::tempdir().unwrap();
        let (url, db) = if pg {
            let db = TestDb::create().await.unwrap();
            (db.url.clone(), Some(db))
        } else {
            (format!("sqlite://{}/e.db", dir.path().display()), None)
        };
        let store = Arc::new(rjobs_store::connect(&url).await.unwrap());
        let clock = ManualClock::at(Timestamp::from_millis(T0));
        let sink = Arc::new(RecordingSink::default());
        let engine = Self::engine_for(&store, &clock, &sink);
        let ids = IdGen::new();
        let now = Timestamp::from_millis(T0);
        let app = Application::new(ids.next(now), "engine", "", now);
        store.insert_application(&app).await.unwrap();
        H {
            store,
            clock,
            engine,
            sink,
            ids,
            app: app.id,
            cap: 1,
            _dir: dir,
            pg: db,
        }
    }

    pub fn engine_for(
        store: &Arc<SqlStore>,
        clock: &ManualClock,
        sink: &Arc<RecordingSink>,
    ) -> Engine {
        Engine::new(
            store.clone(),
            Arc::new(clock.clone()),
            sink.clone(),
            ReportSigner::new(b"test", "http://rjobs.test", 1000),
        )
    }

    pub async fn done(self) {
        self.store.close().await;
        if let Some(db) = self.pg {
            db.drop_db().await.unwrap();
        }
    }

    pub fn now(&self) -> Timestamp {
        use rjobs_core::Clock;
        self.clock.now()
    }

    /// `n` devices named `d00`, `d01`, ….
    pub async fn numbered_devices(&self, n: usize) -> Vec<Id> {
        let names: Vec<String> = (0..n).map(|i| format!("d{i:02}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.devices(&refs).await
    }

    pub async fn devices(&self, names: &[&str]) -> Vec<Id> {
        let now = self.now();
        let ds: Vec<Device> = names
            .iter()
            .map(|n| Device {
                id: self.ids.next(now),
                application_id: self.app.clone(),
                name: n.to_string(),
                description: String::new(),
                device_class: "standalone".into(),
                parent_id: None,
                gateway_id: None,
                tags: vec![],
                attributes: vec![],
                connected: None,
                connected_at: None,
                disconnected_at: None,
                creation_date: now,
                last_updated: now,
            })
            .collect();
        self.store.insert_devices(&ds).await.unwrap();
        ds.into_iter().map(|d| d.id).collect()
    }

    pub async fn job(
        &mut self,
        rt: ResourceType,
        edit: impl FnOnce(&mut ResourceJob),
    ) -> ResourceJob {
        let now = self.now();
        let mut j =
            ResourceJob::with_defaults(self.ids.next(now), self.app.clone(), "job".into(), rt, now);
        edit(&mut j);
        self.cap = j.max_iteration_concurrency;
        self.store.insert_job(&j).await.unwrap();
        j
    }

    /// Devices named `names`, a device job edited by `edit`, and an execution of it.
    pub async fn device_run(
        &mut self,
        names: &[&str],
        edit: impl FnOnce(&mut ResourceJob),
    ) -> (ResourceJob, Id) {
        self.devices(names).await;
        let job = self.job(ResourceType::Device, edit).await;
        let exec = self.execute(&job).await;
        (job, exec)
    }

    /// Advances the clock by `ms` and ticks: how many iterations started.
    pub async fn started_after(&self, exec: &Id, ms: i64) -> u64 {
        self.clock.advance(ms);
        self.tick(exec).await.started
    }

    pub async fn execute(&self, job: &ResourceJob) -> Id {
        self.engine
            .execute(job, ExecuteRequest::of(Source::user()))
            .await
            .unwrap()
    }

    /// All iterations, in order.
    pub async fn rows(&self, exec: &Id) -> Vec<IterationRow> {
        self.store.iterations_after(exec, 0, 100_000).await.unwrap()
    }

    /// One tick, then the invariants: the summary equals the records, the cap holds.
    pub async fn tick(&self, exec: &Id) -> TickReport {
        let r = self.engine.tick().await.unwrap();
        let rows = self.rows(exec).await;
        let mut counts: HashMap<IterationState, u64> = HashMap::new();
        for row in &rows {
            *counts.entry(row.record.state).or_default() += 1;
            assert!(row.record.invariant_violation().is_none(), "{row:?}");
        }
        let from_records = Summary::from_counts(counts);
        let summary = self.store.summary(exec).await.unwrap();
        assert_eq!(summary, from_records, "summary equals the records");
        assert_eq!(summary.total(), rows.len() as u64);
        let in_flight = rows.iter().filter(|r| r.record.state.holds_slot()).count() as i64;
        assert!(
            in_flight <= self.cap,
            "{in_flight} in flight over the cap {}",
            self.cap
        );
        r
    }

    pub async fn ack(
        &self,
        job: &ResourceJob,
        exec: &Id,
        row: &IterationRow,
        success: bool,
        acc: Option<Value>,
    ) -> Result<(), EngineError> {
        self.engine
            .ack(
                &self.app,
                &job.id,
                exec,
                AckRequest {
                    iteration_id: row.iteration_id().to_string(),
                    success,
                    message: Some(format!("{} done", row.resource_name)),
                    accumulator: acc,
                    attempt: None,
                },
            )
            .await
    }

    pub async fn in_state(&self, exec: &Id, s: IterationState) -> Vec<IterationRow> {
        self.rows(exec)
            .await
            .into_iter()
            .filter(|r| r.record.state == s)
            .collect()
    }

    /// Every trigger fired since the last call.
    pub fn triggers(&self) -> Vec<TriggerEvent> {
        self.sink.take()
    }

    pub async fn status(&self, job: &ResourceJob, exec: &Id) -> &'static str {
        self.store
            .get_execution(&self.app, &job.id, exec)
            .await
            .unwrap()
            .unwrap()
            .status
            .as_str()
    }
}

/// Generates each scenario for SQLite and PostgreSQL.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::harness::H::new(false).await).await; } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::harness::H::new(true).await).await; } )* }
    };
}
