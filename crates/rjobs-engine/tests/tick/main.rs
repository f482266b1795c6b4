//! Engine scenarios on a manual clock, stepped with `tick`, on SQLite and PostgreSQL. After
//! every tick the harness checks that the summary equals the iteration records and that the
//! concurrency cap holds.

mod cluster;
mod controls;
mod harness;

use harness::{H, T0};
use rjobs_core::engine::IterationState as S;
use rjobs_core::execution::Source;
use rjobs_core::jobs::ResourceType;
use rjobs_core::resources::table::{Column, ColumnType, Constraint, DataRow, DataTable};
use rjobs_core::Timestamp;
use rjobs_engine::{AckRequest, EngineError, ExecuteRequest, TriggerEvent, TriggerKind};
use rjobs_store::{DataTableStore, DeviceStore, ExecutionStore, JobStore, RowStore};
use serde_json::json;

fn of(evs: &[TriggerEvent], k: TriggerKind) -> Vec<&TriggerEvent> {
    evs.iter().filter(|e| e.kind == k).collect()
}

async fn serial_chain_with_accumulator(mut h: H) {
    h.devices(&["a", "b", "c"]).await;
    let job = h.job(ResourceType::Device, |_| {}).await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 1);
    let evs = h.triggers();
    let it = of(&evs, TriggerKind::Iteration);
    assert_eq!(it.len(), 1);
    assert_eq!(
        it[0].data["accumulator"],
        json!({}),
        "the first iteration gets {{}}"
    );
    assert_eq!(it[0].data["device"]["name"], "a");
    assert_eq!(it[0].data["attemptNumber"], 1);
    assert_eq!(it[0].data["execution"]["id"], exec.as_str());
    assert_eq!(it[0].data["execution"]["status"], "inProgress");
    assert_eq!(it[0].data["execution"]["query"], json!({}));
    assert_eq!(
        h.tick(&exec).await.started,
        0,
        "serial: nothing starts while one is in flight"
    );
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        let running = h.in_state(&exec, S::InProgress).await;
        assert_eq!(running.len(), 1);
        assert_eq!(running[0].resource_name, *name);
        h.ack(&job, &exec, &running[0], true, Some(json!({"n": i + 1})))
            .await
            .unwrap();
        let r = h.tick(&exec).await;
        let evs = h.triggers();
        if i < 2 {
            assert_eq!(r.started, 1);
            let it = of(&evs, TriggerKind::Iteration);
            assert_eq!(it[0].data["accumulator"], json!({"n": i + 1}), "hand-over");
        } else {
            assert_eq!(r.completed, 1);
            let done = of(&evs, TriggerKind::Complete);
            assert_eq!(done.len(), 1);
            assert_eq!(done[0].data["success"], true);
            assert_eq!(done[0].data["accumulator"], json!({"n": 3}));
            assert_eq!(
                done[0].data["execution"]["executionSummary"]["succeeded"],
                3
            );
            assert_eq!(done[0].data["resourceJob"]["id"], job.id.as_str());
        }
    }
    let e = h
        .store
        .get_execution(&h.app, &job.id, &exec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status.as_str(), "completed");
    assert_eq!(e.accumulator.as_deref(), Some("{\"n\":3}"));
    let accs: Vec<_> = h
        .rows(&exec)
        .await
        .into_iter()
        .map(|r| r.record.accumulator)
        .collect();
    assert_eq!(
        accs,
        [
            Some("{\"n\":1}".to_string()),
            Some("{\"n\":2}".into()),
            Some("{\"n\":3}".into())
        ]
    );
    let err = h
        .engine
        .cancel(&h.app, &job.id, &exec, Source::user())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::Validation(m) if m.contains("completed")));
    h.done().await;
}

async fn parallel_cap_holds_at_every_tick(mut h: H) {
    h.numbered_devices(25).await;
    let job = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 10)
        .await;
    let exec = h.execute(&job).await;
    let mut started = 0;
    for step in 0..100 {
        let r = h.tick(&exec).await;
        started += r.started;
        if step == 0 {
            assert_eq!(r.started, 10, "fills the cap at once");
        }
        let evs = h.triggers();
        for t in of(&evs, TriggerKind::Iteration) {
            assert!(
                t.data.get("accumulator").is_none(),
                "no accumulator in parallel jobs"
            );
        }
        if h.status(&job, &exec).await == "completed" {
            break;
        }
        for row in h.in_state(&exec, S::InProgress).await.iter().take(3) {
            h.ack(&job, &exec, row, step % 2 == 0, None).await.unwrap();
        }
    }
    assert_eq!(started, 25);
    assert_eq!(h.status(&job, &exec).await, "completed");
    let s = h.store.summary(&exec).await.unwrap();
    assert_eq!(s.succeeded + s.failed, 25);
    h.done().await;
}

async fn delay_spaces_starts(mut h: H) {
    let (_job, exec) = h
        .device_run(&["a", "b", "c"], |j| {
            j.max_iteration_concurrency = 10;
            j.iteration_delay = 1000;
        })
        .await;
    let r = h.tick(&exec).await;
    assert_eq!(r.started, 1, "the first starts at once");
    assert_eq!(r.next_wakeup, Some(Timestamp::from_millis(T0 + 1000)));
    assert_eq!(h.tick(&exec).await.started, 0);
    assert_eq!(h.started_after(&exec, 999).await, 0);
    assert_eq!(h.started_after(&exec, 1).await, 1);
    assert_eq!(h.started_after(&exec, 1000).await, 1);
    let starts: Vec<i64> = h
        .rows(&exec)
        .await
        .iter()
        .map(|r| r.record.started_at.unwrap().as_millis())
        .collect();
    assert_eq!(starts, [T0, T0 + 1000, T0 + 2000]);
    h.done().await;
}

async fn timeout_then_retry_then_success(mut h: H) {
    let (job, exec) = h
        .device_run(&["a"], |j| {
            j.retry_on_timeout = true;
            j.max_iteration_retries = 2;
            j.retry_delay = 500;
        })
        .await;
    let r = h.tick(&exec).await;
    assert_eq!(r.next_wakeup, Some(Timestamp::from_millis(T0 + 60_000)));
    let first = h.triggers();
    assert_eq!(
        of(&first, TriggerKind::Iteration)[0].data["willRetryOnTimeout"],
        true
    );
    h.clock.advance(59_999);
    assert_eq!(h.tick(&exec).await.timed_out, 0);
    h.clock.advance(1);
    assert_eq!(h.tick(&exec).await.timed_out, 1);
    let evs = h.triggers();
    let to = of(&evs, TriggerKind::Timeout);
    assert_eq!(to.len(), 1);
    assert_eq!(to[0].data["attemptNumber"], 1);
    assert_eq!(
        to[0].data["iterationStartedAt"],
        Timestamp::from_millis(T0).to_rfc3339()
    );
    let row = &h.in_state(&exec, S::Retrying).await[0];
    assert!(matches!(
        h.ack(&job, &exec, row, true, None).await,
        Err(EngineError::Conflict(_))
    ));
    assert_eq!(h.started_after(&exec, 499).await, 0);
    assert_eq!(h.started_after(&exec, 1).await, 1);
    let evs = h.triggers();
    assert_eq!(of(&evs, TriggerKind::Iteration)[0].data["attemptNumber"], 2);
    let row = &h.in_state(&exec, S::InProgress).await[0];
    // A stale ack for attempt 1 is refused; the current attempt's ack wins.
    let stale = AckRequest {
        iteration_id: row.iteration_id().to_string(),
        success: true,
        message: None,
        accumulator: None,
        attempt: Some(1),
    };
    assert!(matches!(
        h.engine.ack(&h.app, &job.id, &exec, stale).await,
        Err(EngineError::Conflict(_))
    ));
    h.ack(&job, &exec, row, true, None).await.unwrap();
    assert_eq!(h.tick(&exec).await.completed, 1);
    let rows = h.rows(&exec).await;
    assert_eq!(
        (rows[0].record.state, rows[0].record.attempt),
        (S::Succeeded, 2)
    );
    h.done().await;
}

async fn failure_retries_until_exhausted(mut h: H) {
    let (job, exec) = h
        .device_run(&["a"], |j| {
            j.retry_on_failure = true;
            j.max_iteration_retries = 1;
        })
        .await;
    h.tick(&exec).await;
    let row = h.in_state(&exec, S::InProgress).await.remove(0);
    h.ack(&job, &exec, &row, false, None).await.unwrap();
    assert_eq!(h.in_state(&exec, S::Retrying).await.len(), 1);
    assert_eq!(
        h.tick(&exec).await.started,
        1,
        "retryDelay 0: the retry starts at once"
    );
    let row = h.in_state(&exec, S::InProgress).await.remove(0);
    assert_eq!(row.record.attempt, 2);
    h.ack(&job, &exec, &row, false, None).await.unwrap();
    assert!(
        matches!(
            h.ack(&job, &exec, &row, true, None).await,
            Err(EngineError::Conflict(_))
        ),
        "duplicate"
    );
    assert_eq!(h.tick(&exec).await.completed, 1);
    let rows = h.rows(&exec).await;
    assert_eq!(
        (rows[0].record.state, rows[0].record.attempt),
        (S::Failed, 2)
    );
    assert_eq!(rows[0].record.message.as_deref(), Some("a done"));
    h.done().await;
}

async fn late_duplicate_and_unknown_acks_change_nothing(mut h: H) {
    h.devices(&["a", "b"]).await;
    let job = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 2)
        .await;
    let exec = h.execute(&job).await;
    h.tick(&exec).await;
    let rows = h.in_state(&exec, S::InProgress).await;
    h.ack(&job, &exec, &rows[0], true, None).await.unwrap();
    let before = h.rows(&exec).await;
    assert!(matches!(
        h.ack(&job, &exec, &rows[0], false, None).await,
        Err(EngineError::Conflict(_))
    ));
    assert_eq!(
        h.rows(&exec).await,
        before,
        "a duplicate ack changes nothing"
    );
    let unknown = AckRequest {
        iteration_id: format!("{exec}-575ec8687ae143cd83dc4a97"),
        success: true,
        message: None,
        accumulator: None,
        attempt: None,
    };
    assert!(matches!(
        h.engine.ack(&h.app, &job.id, &exec, unknown).await,
        Err(EngineError::NotFound(_))
    ));
    let garbage = AckRequest {
        iteration_id: "nope".into(),
        success: true,
        message: None,
        accumulator: None,
        attempt: None,
    };
    assert!(matches!(
        h.engine.ack(&h.app, &job.id, &exec, garbage).await,
        Err(EngineError::NotFound(_))
    ));
    h.clock.advance(60_000);
    // Late: at the deadline, even before the timeout is processed.
    assert!(matches!(
        h.ack(&job, &exec, &rows[1], true, None).await,
        Err(EngineError::Conflict(_))
    ));
    assert_eq!(h.tick(&exec).await.timed_out, 1);
    assert_eq!(h.status(&job, &exec).await, "completed");
    let s = h.store.summary(&exec).await.unwrap();
    assert_eq!((s.succeeded, s.timed_out), (1, 1));
    h.done().await;
}

async fn cancel_while_in_flight(mut h: H) {
    let (job, exec) = h
        .device_run(&["a", "b", "c", "d", "e"], |j| {
            j.max_iteration_concurrency = 2;
            j.retry_on_timeout = true;
        })
        .await;
    assert_eq!(h.tick(&exec).await.started, 2);
    h.triggers();
    let by = Source {
        kind: "apiToken".into(),
        id: Some(h.app.clone()),
    };
    h.engine
        .cancel(&h.app, &job.id, &exec, by.clone())
        .await
        .unwrap();
    h.engine
        .cancel(&h.app, &job.id, &exec, by.clone())
        .await
        .unwrap();
    assert_eq!(h.status(&job, &exec).await, "canceling");
    assert_eq!(h.in_state(&exec, S::NotStarted).await.len(), 3);
    assert_eq!(h.tick(&exec).await.started, 0);
    let rows = h.in_state(&exec, S::InProgress).await;
    h.ack(&job, &exec, &rows[0], true, None).await.unwrap();
    h.clock.advance(60_000);
    h.tick(&exec).await;
    let evs = h.triggers();
    assert!(
        of(&evs, TriggerKind::Timeout).is_empty(),
        "no Timeout trigger after cancel"
    );
    assert!(
        of(&evs, TriggerKind::Iteration).is_empty(),
        "no retry after cancel"
    );
    let done = of(&evs, TriggerKind::Complete);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].data["success"], false);
    let e = h
        .store
        .get_execution(&h.app, &job.id, &exec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status.as_str(), "canceled");
    assert_eq!(e.cancel_source.unwrap().kind, "apiToken");
    let s = h.store.summary(&exec).await.unwrap();
    assert_eq!(
        (s.succeeded, s.timed_out, s.remaining, s.in_progress),
        (1, 1, 3, 0)
    );
    h.engine.cancel(&h.app, &job.id, &exec, by).await.unwrap();
    h.done().await;
}

async fn deleted_resource_fails_with_message(mut h: H) {
    let ids = h.devices(&["a", "b", "c"]).await;
    let job = h.job(ResourceType::Device, |_| {}).await;
    let exec = h.execute(&job).await;
    h.devices(&["late"]).await; // created after execute: not in the target set
    h.tick(&exec).await;
    assert!(h.store.delete_device(&h.app, &ids[1]).await.unwrap());
    let row = h.in_state(&exec, S::InProgress).await.remove(0);
    h.ack(&job, &exec, &row, true, None).await.unwrap();
    for _ in 0..4 {
        h.tick(&exec).await;
        for row in h.in_state(&exec, S::InProgress).await {
            h.ack(&job, &exec, &row, true, None).await.unwrap();
        }
    }
    let rows = h.rows(&exec).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].record.state, S::Failed);
    assert_eq!(
        rows[1].record.message.as_deref(),
        Some("resource was deleted")
    );
    assert_eq!(rows[2].record.state, S::Succeeded);
    assert_eq!(h.status(&job, &exec).await, "completed");
    h.done().await;
}

async fn deleted_data_table_errors_the_execution(mut h: H) {
    let now = h.now();
    let table = DataTable {
        id: h.ids.next(now),
        application_id: h.app.clone(),
        name: "t".into(),
        description: String::new(),
        columns: vec![Column {
            name: "n".into(),
            data_type: ColumnType::Number,
            constraint: Constraint::Optional,
            default_value: None,
        }],
        creation_date: now,
        last_updated: now,
    };
    h.store.insert_data_table(&table).await.unwrap();
    let rows: Vec<DataRow> = (0..3)
        .map(|i| DataRow {
            id: h.ids.next(now),
            application_id: h.app.clone(),
            data_table_id: table.id.clone(),
            data: serde_json::from_value(json!({"n": i})).unwrap(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    h.store.insert_rows(&table, &rows).await.unwrap();
    let tid = table.id.to_string();
    let job = h
        .job(ResourceType::DataTableRow, |j| {
            j.data_table_id = Some(tid);
            j.query_json = "{\"n\": {\"$gte\": 0}}".into();
        })
        .await;
    let exec = h.execute(&job).await;
    h.tick(&exec).await;
    let evs = h.triggers();
    assert_eq!(
        of(&evs, TriggerKind::Iteration)[0].data["dataTableRow"]["n"],
        0
    );
    assert!(h.store.delete_data_table(&h.app, &table.id).await.unwrap());
    let row = h.in_state(&exec, S::InProgress).await.remove(0);
    h.ack(&job, &exec, &row, true, None).await.unwrap();
    h.tick(&exec).await;
    assert_eq!(h.status(&job, &exec).await, "erroring");
    h.tick(&exec).await;
    let e = h
        .store
        .get_execution(&h.app, &job.id, &exec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.status.as_str(), "errored");
    assert!(e.error_message.unwrap().contains("data table"));
    let s = h.store.summary(&exec).await.unwrap();
    assert_eq!((s.succeeded, s.remaining), (1, 2));
    let evs = h.triggers();
    assert_eq!(of(&evs, TriggerKind::Complete)[0].data["success"], false);
    h.done().await;
}

async fn restart_fires_timeouts_that_expired_while_down(mut h: H) {
    h.devices(&["a", "b"]).await;
    let job = h
        .job(ResourceType::Device, |j| j.max_iteration_concurrency = 2)
        .await;
    let exec = h.execute(&job).await;
    assert_eq!(h.tick(&exec).await.started, 2);
    // The process dies; two minutes later a new engine starts on the same database.
    h.engine = H::engine_for(&h.store, &h.clock, &h.sink);
    h.clock.advance(120_000);
    assert_eq!(h.tick(&exec).await.timed_out, 2);
    assert_eq!(h.status(&job, &exec).await, "completed");
    h.done().await;
}

async fn execute_validates_before_creating_anything(mut h: H) {
    h.devices(&["pump-1", "pump-2", "valve"]).await;
    let job = h
        .job(ResourceType::Device, |j| {
            j.query_json = "{\"name\": {\"$startsWith\": \"{{ctx.prefix}}\"}}".into();
            j.default_context = "{\"prefix\": \"pump\"}".into();
        })
        .await;
    let req = |ctx: Option<&str>, q: Option<&str>| ExecuteRequest {
        template_context: ctx.map(String::from),
        query_json: q.map(String::from),
        data_table_id: None,
        rerun_of: None,
        source: Source::user(),
    };
    for (ctx, q, field) in [
        (Some("[]"), None, "templateContext"),
        (Some("{"), None, "templateContext"),
        (None, Some("{\"name\": {{ctx.prefix}}}"), "queryJson"),
        (None, Some("{\"colour\": 1}"), "queryJson"),
    ] {
        match h.engine.execute(&job, req(ctx, q)).await {
            Err(EngineError::Validation(m)) => assert!(m.starts_with(field), "{m}"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
    assert!(h
        .store
        .list_executions(&h.app, &job.id, None, 10)
        .await
        .unwrap()
        .is_empty());
    let exec = h.execute(&job).await;
    let e = h
        .store
        .get_execution(&h.app, &job.id, &exec)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.total, 2, "the default context selects the pumps");
    assert_eq!(e.query_json, "{\"name\": {\"$startsWith\": \"pump\"}}");
    let other = h
        .engine
        .execute(&job, req(Some("{\"prefix\": \"valve\"}"), None))
        .await
        .unwrap();
    let e2 = h
        .store
        .get_execution(&h.app, &job.id, &other)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e2.total, 1);
    let stored = h.store.get_job(&h.app, &job.id).await.unwrap().unwrap();
    assert_eq!(stored.last_execution_requested, Some(h.now()));
    h.done().await;
}

both!(
    serial_chain_with_accumulator,
    parallel_cap_holds_at_every_tick,
    delay_spaces_starts,
    timeout_then_retry_then_success,
    failure_retries_until_exhausted,
    late_duplicate_and_unknown_acks_change_nothing,
    cancel_while_in_flight,
    deleted_resource_fails_with_message,
    deleted_data_table_errors_the_execution,
    restart_fires_timeouts_that_expired_while_down,
    execute_validates_before_creating_anything,
);

mod cluster_pg {
    //! Multi-node scenarios: PostgreSQL only (SQLite is single-node).
    macro_rules! pg {
        ($($name:ident),*) => {$(
            #[tokio::test]
            async fn $name() {
                crate::cluster::$name(crate::harness::H::new(true).await).await;
            }
        )*};
    }
    pg!(
        two_nodes_share_then_take_over,
        paused_node_cannot_apply_a_stale_decision,
        pause_elsewhere_wins_over_a_start_decided_before_it,
        restart_with_the_same_node_id_adopts_at_once
    );

    #[tokio::test]
    async fn large_execution_does_not_starve_a_small_one_sqlite() {
        let h = crate::harness::H::new(false).await;
        crate::cluster::large_execution_does_not_starve_a_small_one(h).await;
    }

    #[tokio::test]
    async fn large_execution_does_not_starve_a_small_one_pg() {
        let h = crate::harness::H::new(true).await;
        crate::cluster::large_execution_does_not_starve_a_small_one(h).await;
    }

    #[tokio::test]
    async fn sqlite_single_node_takes_over_at_once() {
        crate::cluster::sqlite_single_node_takes_over_at_once(crate::harness::H::new(false).await)
            .await;
    }
}
