//! Operator controls on a manual clock, on SQLite and PostgreSQL: pause with work in flight
//! (acks and timeouts applied, nothing starts, a restart keeps it paused), the abort threshold
//! at exactly its boundary, the rollout rate and its ramp (exact start times), all three limits
//! together, the dry run (writes nothing), and the re-run's target set.

use rjobs_core::engine::controls::{
    AbortConfig, AbortCriterion, AbortOutcome, ExponentialRate, RolloutConfig,
};
use rjobs_core::engine::IterationState as S;
use rjobs_core::execution::Source;
use rjobs_core::jobs::{ResourceJob, ResourceType};
use rjobs_core::{Id, Timestamp};
use rjobs_engine::{EngineError, ExecuteRequest, RerunRequest, TriggerKind};
use rjobs_store::{DeviceStore, ExecutionStore, IterationStore, JobStore};

use crate::harness::{self, H, T0};

fn user() -> Source {
    Source::user()
}

fn starts(rows: &[rjobs_core::execution::IterationRow]) -> Vec<i64> {
    let mut v: Vec<i64> = rows
        .iter()
        .filter_map(|r| r.record.started_at)
        .map(|t| t.as_millis() - T0)
        .collect();
    v.sort_unstable();
    v
}

async fn exec_row(h: &H, job: &ResourceJob, exec: &Id) -> rjobs_core::execution::Execution {
    h.store
        .get_execution(&h.app, &job.id, exec)
        .await
        .unwrap()
        .unwrap()
}

async fn pause_with_work_in_flight(mut h: H) {
    let ids = h.devices(&["a", "b", "c", "d", "e"]).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 3;
            j.retry_on_failure = true;
            j.retry_delay = 500;
        })
        .await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 3);
    h.engine.pause(&h.app, &job.id, &exec).await.unwrap();
    h.engine.pause(&h.app, &job.id, &exec).await.unwrap(); // idempotent
    assert_eq!(h.status(&job, &exec).await, "paused");
    let running = h.in_state(&exec, S::InProgress).await;
    // acks are still accepted while paused: one success, one failure (which will retry)
    h.ack(&job, &exec, &running[0], true, None).await.unwrap();
    h.ack(&job, &exec, &running[1], false, None).await.unwrap();
    let r = h.tick(&exec).await;
    assert_eq!(
        (r.started, r.completed),
        (0, 0),
        "nothing starts while paused"
    );
    // the retry comes due: it waits
    h.clock.advance(600);
    assert_eq!(
        h.tick(&exec).await.started,
        0,
        "a due retry waits for resume"
    );
    assert_eq!(h.in_state(&exec, S::Retrying).await.len(), 1);
    // the third times out at its deadline, paused or not
    h.clock.advance(59_399);
    assert_eq!(h.tick(&exec).await.timed_out, 0);
    h.clock.advance(1);
    let r = h.tick(&exec).await;
    assert_eq!((r.timed_out, r.started), (1, 0));
    assert_eq!(h.in_state(&exec, S::TimedOut).await.len(), 1);
    assert_eq!(
        h.triggers()
            .iter()
            .filter(|t| t.kind == TriggerKind::Timeout)
            .count(),
        1
    );
    // a restart (a new engine on the same database, another node id: on PostgreSQL it takes
    // the lease once the old one expires) keeps it paused
    let engine = H::engine_for(&h.store, &h.clock, &h.sink);
    h.engine = engine;
    h.clock.advance(11_000);
    h.tick(&exec).await;
    assert_eq!(h.tick(&exec).await.started, 0);
    assert_eq!(h.status(&job, &exec).await, "paused");
    assert_eq!(h.in_state(&exec, S::Pending).await.len(), 2);
    // resume: the retry and the pending ones start (the retry keeps its slot: 2 free)
    h.engine.resume(&h.app, &job.id, &exec).await.unwrap();
    assert_eq!(h.status(&job, &exec).await, "inProgress");
    assert_eq!(h.tick(&exec).await.started, 3);
    let running = h.in_state(&exec, S::InProgress).await;
    assert_eq!(running.len(), 3);
    assert!(running
        .iter()
        .any(|r| r.resource_id == ids[1] && r.record.attempt == 2));
    for row in &running {
        h.ack(&job, &exec, row, true, None).await.unwrap();
    }
    assert_eq!(h.tick(&exec).await.completed, 1);
    assert_eq!(h.status(&job, &exec).await, "completed");
    // pausing or resuming a final execution is refused
    for r in [
        h.engine.pause(&h.app, &job.id, &exec).await,
        h.engine.resume(&h.app, &job.id, &exec).await,
    ] {
        assert!(matches!(r, Err(EngineError::Validation(m)) if m.contains("completed")));
    }
    h.done().await;
}

async fn cancel_a_paused_execution(mut h: H) {
    h.devices(&["a", "b", "c"]).await;
    let job = h.job(ResourceType::Device, |_| {}).await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 1);
    h.engine.pause(&h.app, &job.id, &exec).await.unwrap();
    h.engine
        .cancel(&h.app, &job.id, &exec, user())
        .await
        .unwrap();
    assert_eq!(h.status(&job, &exec).await, "canceling");
    let row = &h.in_state(&exec, S::InProgress).await[0];
    h.ack(&job, &exec, row, true, None).await.unwrap();
    assert_eq!(h.tick(&exec).await.completed, 1);
    assert_eq!(h.status(&job, &exec).await, "canceled");
    assert_eq!(h.in_state(&exec, S::NotStarted).await.len(), 2);
    h.done().await;
}

async fn abort_at_exactly_the_threshold(mut h: H) {
    // 14 devices, 8 at a time: each of the first five acks frees a slot that is refilled, so
    // one is still pending when the threshold is reached.
    h.numbered_devices(14).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 8;
            j.abort_config = Some(AbortConfig {
                criteria: vec![AbortCriterion {
                    outcome: AbortOutcome::Failed,
                    threshold_bp: 5_000,
                    min_finished: 4,
                }],
            });
        })
        .await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 8);
    let running = h.in_state(&exec, S::InProgress).await;
    // s f s: 3 finished (< minFinished); s: 1/4 = 25%; f: 2/5 = 40%; then f: 3/6 = 50%
    for (i, ok) in [true, false, true, true, false].into_iter().enumerate() {
        h.ack(&job, &exec, &running[i], ok, None).await.unwrap();
        h.tick(&exec).await;
        assert_eq!(h.status(&job, &exec).await, "inProgress", "after ack {i}");
    }
    h.ack(&job, &exec, &running[5], false, None).await.unwrap();
    h.tick(&exec).await;
    let e = exec_row(&h, &job, &exec).await;
    assert_eq!(e.status.as_str(), "canceling", "50% reached: abort");
    assert_eq!(
        e.cancel_source.as_ref().map(|c| c.kind.as_str()),
        Some("abortConfig")
    );
    let reason: serde_json::Value =
        serde_json::from_str(e.abort_reason.as_deref().unwrap()).unwrap();
    assert_eq!(reason["finished"], 6);
    assert_eq!(reason["matched"], 3);
    assert_eq!(reason["percent"], 50.0);
    assert_eq!(
        h.in_state(&exec, S::NotStarted).await.len(),
        1,
        "the pending one never starts"
    );
    // those in flight drain; Job: Complete carries the reason
    let flying = h.in_state(&exec, S::InProgress).await;
    assert_eq!(flying.len(), 7);
    for row in &flying {
        h.ack(&job, &exec, row, true, None).await.unwrap();
    }
    h.triggers();
    assert_eq!(h.tick(&exec).await.completed, 1);
    assert_eq!(h.status(&job, &exec).await, "canceled");
    let evs = h.triggers();
    let done: Vec<_> = evs
        .iter()
        .filter(|t| t.kind == TriggerKind::Complete)
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].data["abortReason"]["criterion"], 0);
    assert_eq!(done[0].data["success"], false);
    let log =
        rjobs_engine::views::execution_log(&exec_row(&h, &job, &exec).await, &e.summary, None);
    assert_eq!(log["abortReason"]["outcome"], "failed");
    h.done().await;
}

async fn rate_and_ramp_start_times_are_exact(mut h: H) {
    let names: Vec<String> = (0..6).map(|i| format!("d{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    h.devices(&refs).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 10;
            j.rollout_config = Some(RolloutConfig {
                max_per_minute: 240,
                exponential_rate: Some(ExponentialRate {
                    base_rate_per_minute: 60,
                    increment_factor_milli: 2_000,
                    number_of_succeeded: 2,
                }),
            });
        })
        .await;
    let exec = h.execute(&job).await;
    // 60 per minute: one start a second
    let r = h.tick(&exec).await;
    assert_eq!(r.started, 1);
    assert_eq!(r.next_wakeup, Some(Timestamp::from_millis(T0 + 1_000)));
    assert_eq!(h.started_after(&exec, 999).await, 0);
    assert_eq!(h.started_after(&exec, 1).await, 1);
    // two succeed: 120 per minute, the next 500 ms after the last start
    for row in h.in_state(&exec, S::InProgress).await {
        h.ack(&job, &exec, &row, true, None).await.unwrap();
    }
    let e = exec_row(&h, &job, &exec).await;
    let log = rjobs_engine::views::execution_log(&e, &e.summary, None);
    assert_eq!(log["currentRatePerMinute"], 120);
    assert_eq!(h.started_after(&exec, 499).await, 0);
    assert_eq!(h.started_after(&exec, 1).await, 1);
    assert_eq!(h.started_after(&exec, 500).await, 1);
    // two more succeed: 240 (the cap), every 250 ms
    for row in h.in_state(&exec, S::InProgress).await {
        h.ack(&job, &exec, &row, true, None).await.unwrap();
    }
    assert_eq!(h.started_after(&exec, 250).await, 1);
    assert_eq!(h.started_after(&exec, 250).await, 1);
    assert_eq!(
        starts(&h.rows(&exec).await),
        [0, 1_000, 1_500, 2_000, 2_250, 2_500]
    );
    h.done().await;
}

async fn concurrency_delay_and_rate_together(mut h: H) {
    let (job, exec) = h
        .device_run(&["a", "b", "c", "d"], |j| {
            j.max_iteration_concurrency = 2;
            j.iteration_delay = 700;
            j.rollout_config = Some(RolloutConfig {
                max_per_minute: 60,
                exponential_rate: None,
            });
        })
        .await;
    assert_eq!(h.tick(&exec).await.started, 1);
    h.clock.advance(700); // the delay alone would allow it; the rate does not
    assert_eq!(h.tick(&exec).await.started, 0);
    assert_eq!(h.started_after(&exec, 300).await, 1);
    h.clock.advance(1_500); // the rate allows a third, the concurrency does not
    assert_eq!(h.tick(&exec).await.started, 0);
    let row = h.in_state(&exec, S::InProgress).await.remove(0);
    h.ack(&job, &exec, &row, true, None).await.unwrap();
    assert_eq!(
        h.tick(&exec).await.started,
        1,
        "the freed slot is refilled at once"
    );
    assert_eq!(starts(&h.rows(&exec).await), [0, 1_000, 2_500]);
    h.done().await;
}

async fn dry_run_writes_nothing(mut h: H) {
    h.devices(&["pump-1", "pump-2", "pump-3", "valve"]).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.query_json = "{\"name\": {\"$startsWith\": \"{{ctx.prefix}}\"}}".into();
            j.default_context = "{\"prefix\": \"pump\"}".into();
        })
        .await;
    let before = h.store.executions_by_status().await.unwrap();
    let req = |ctx: Option<&str>| ExecuteRequest {
        template_context: ctx.map(String::from),
        query_json: None,
        data_table_id: None,
        rerun_of: None,
        source: user(),
    };
    let d = h.engine.dry_run(&job, req(None)).await.unwrap();
    assert_eq!(d.count, 3);
    let names: Vec<&str> = d.sample.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(names, ["pump-1", "pump-2", "pump-3"]);
    assert_eq!(
        d.query_json,
        serde_json::json!({"name": {"$startsWith": "pump"}})
    );
    let d = h
        .engine
        .dry_run(&job, req(Some("{\"prefix\": \"valve\"}")))
        .await
        .unwrap();
    assert_eq!(d.count, 1);
    // validated exactly as execute
    assert!(matches!(
        h.engine.dry_run(&job, req(Some("[]"))).await,
        Err(EngineError::Validation(m)) if m.starts_with("templateContext")
    ));
    assert_eq!(h.store.executions_by_status().await.unwrap(), before);
    assert!(h
        .store
        .list_executions(&h.app, &job.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    let stored = h.store.get_job(&h.app, &job.id).await.unwrap().unwrap();
    assert_eq!(
        stored.last_execution_requested, None,
        "the job is untouched"
    );
    assert!(h.triggers().is_empty(), "no trigger fires");
    h.done().await;
}

async fn rerun_takes_exactly_the_failures(mut h: H) {
    let ids = h.devices(&["a", "b", "c", "d", "e"]).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.max_iteration_concurrency = 5;
            j.default_context = "{\"fw\": \"1.2\"}".into();
        })
        .await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 5);
    let running = h.in_state(&exec, S::InProgress).await;
    for (row, ok) in running.iter().zip([true, false, false, true]) {
        h.ack(&job, &exec, row, ok, None).await.unwrap();
    }
    h.clock.advance(60_000); // e times out
    h.tick(&exec).await;
    assert_eq!(h.status(&job, &exec).await, "completed");
    let rerun = |statuses: Vec<S>| ExecuteRequest {
        template_context: None,
        query_json: None,
        data_table_id: None,
        rerun_of: Some(RerunRequest {
            execution_id: exec.clone(),
            statuses,
        }),
        source: user(),
    };
    let targets = |h: &H, e: Id| {
        let store = h.store.clone();
        async move {
            let rows = store.iterations_after(&e, 0, 100).await.unwrap();
            rows.into_iter()
                .map(|r| r.resource_name)
                .collect::<Vec<_>>()
        }
    };
    let all = h
        .engine
        .execute(&job, rerun(vec![S::Failed, S::TimedOut]))
        .await
        .unwrap();
    assert_eq!(targets(&h, all.clone()).await, ["b", "c", "e"]);
    let e = exec_row(&h, &job, &all).await;
    assert_eq!(
        e.template_context, "{\"fw\": \"1.2\"}",
        "the original run's context"
    );
    let rerun_of: serde_json::Value = serde_json::from_str(e.rerun_of.as_deref().unwrap()).unwrap();
    assert_eq!(rerun_of["executionId"], exec.as_str());
    let timed_out = h
        .engine
        .execute(&job, rerun(vec![S::TimedOut]))
        .await
        .unwrap();
    assert_eq!(targets(&h, timed_out).await, ["e"]);
    // a deleted resource is not re-run
    assert!(h.store.delete_device(&h.app, &ids[2]).await.unwrap());
    let failed = h
        .engine
        .execute(&job, rerun(vec![S::Failed]))
        .await
        .unwrap();
    assert_eq!(targets(&h, failed).await, ["b"]);
    // none match: 400, nothing written
    let n = h
        .store
        .list_executions(&h.app, &job.id, None, 100)
        .await
        .unwrap()
        .len();
    assert!(matches!(
        h.engine.execute(&job, rerun(vec![S::NotStarted])).await,
        Err(EngineError::Validation(m)) if m.starts_with("rerunOf")
    ));
    assert_eq!(
        h.store
            .list_executions(&h.app, &job.id, None, 100)
            .await
            .unwrap()
            .len(),
        n
    );
    // an unknown execution: 404
    let mut unknown = rerun(vec![S::Failed]);
    unknown.rerun_of.as_mut().unwrap().execution_id = h.ids.next(h.now());
    assert!(matches!(
        h.engine.execute(&job, unknown).await,
        Err(EngineError::NotFound(rjobs_engine::Missing::Execution))
    ));
    h.done().await;
}

crate::both!(
    pause_with_work_in_flight,
    cancel_a_paused_execution,
    abort_at_exactly_the_threshold,
    rate_and_ramp_start_times_are_exact,
    concurrency_delay_and_rate_together,
    dry_run_writes_nothing,
    rerun_takes_exactly_the_failures,
);
