//! Upgrading a SQLite database in use: migration 0016 rebuilds `executions` (SQLite cannot
//! widen a CHECK constraint in place) inside the migrator's transaction, where foreign keys
//! stay on, so a careless drop would cascade to every iteration and lease. A database at 0015
//! with an execution in flight is migrated, and everything is still there and consistent.

use std::str::FromStr;

use rjobs_core::engine::{ExecutionStatus, Summary};
use rjobs_core::Id;
use rjobs_store::{Backend, ExecutionStore, IterationStore, LeaseStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

const APP: &str = "6b0ecb8936086d3cd88e6900";
const JOB: &str = "6b0ecb8936086d3cd88e6901";
const EXEC: &str = "6b0ecb8936086d3cd88e6902";

#[tokio::test]
async fn an_execution_in_flight_survives_the_0016_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let opts = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    // The schema as of 0015.
    let mut old = sqlx::migrate::Migrator::new(rjobs_store::migrations::Source(Backend::Sqlite))
        .await
        .unwrap();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= 15)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run(&pool).await.unwrap();
    for sql in [
        format!("INSERT INTO applications (id, name, creation_date, last_updated) VALUES ('{APP}', 'a', 1, 1)"),
        format!(
            "INSERT INTO resource_jobs (id, application_id, name, resource_type, query_json,
                 default_context, max_iteration_concurrency, iteration_delay, iteration_timeout,
                 retry_on_failure, retry_on_timeout, max_iteration_retries, retry_delay,
                 creation_date, last_updated)
             VALUES ('{JOB}', '{APP}', 'j', 'device', '{{}}', '{{}}', 2, 0, 60000, 0, 0, 1, 0, 1, 1)"
        ),
        format!(
            "INSERT INTO executions (id, application_id, resource_job_id, status, resource_type,
                 query_json, template_context, source_type, max_iteration_concurrency,
                 iteration_delay, iteration_timeout, retry_on_failure, retry_on_timeout,
                 max_iteration_retries, retry_delay, run_started_at, last_start_at, total,
                 n_succeeded, n_in_progress, n_remaining)
             VALUES ('{EXEC}', '{APP}', '{JOB}', 'inProgress', 'device', '{{}}', '{{}}', 'user',
                 2, 0, 60000, 0, 0, 1, 0, 1000, 1000, 3, 1, 1, 1)"
        ),
        format!(
            "INSERT INTO iterations (execution_id, seq, resource_id, resource_name, state, attempt,
                 started_at, deadline, completed_at, message)
             VALUES ('{EXEC}', 1, '6b0ecb8936086d3cd88e6911', 'a', 'succeeded', 1, 1000, 61000, 1500, 'ok'),
                    ('{EXEC}', 2, '6b0ecb8936086d3cd88e6912', 'b', 'inProgress', 1, 1000, 61000, NULL, NULL),
                    ('{EXEC}', 3, '6b0ecb8936086d3cd88e6913', 'c', 'pending', 0, NULL, NULL, NULL, NULL)"
        ),
        format!("INSERT INTO leases (execution_id, owner, epoch, expires_at) VALUES ('{EXEC}', 'n1', 3, 9000)"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap();
    }
    pool.close().await;

    // Open with the current schema: 0016 (and later) run.
    let s = rjobs_store::connect(&url).await.unwrap();
    let id = Id::parse(EXEC).unwrap();
    let e = s
        .load_execution(&id)
        .await
        .unwrap()
        .expect("the execution survives");
    assert_eq!(e.status, ExecutionStatus::InProgress);
    assert_eq!(e.total, 3);
    assert_eq!(
        e.summary,
        Summary {
            succeeded: 1,
            in_progress: 1,
            remaining: 1,
            ..Summary::default()
        }
    );
    assert_eq!(e.summary, s.summary_from_records(&id).await.unwrap());
    let rows = s.iterations_after(&id, 0, 10).await.unwrap();
    let names: Vec<_> = rows.iter().map(|r| r.resource_name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"], "no iteration cascaded away");
    assert_eq!(rows[0].record.message.as_deref(), Some("ok"));
    let (_, leases) = s.cluster_view().await.unwrap();
    assert_eq!(leases.len(), 1, "the lease survives");
    assert_eq!((leases[0].owner.as_str(), leases[0].epoch), ("n1", 3));
    // the new status is accepted, and the cascade still works on the rebuilt table
    let mut paused = e.clone();
    paused.status = ExecutionStatus::Paused;
    s.update_execution(&paused, ExecutionStatus::InProgress, false, None)
        .await
        .unwrap();
    assert!(rjobs_store::JobStore::delete_job(
        &s,
        &Id::parse(APP).unwrap(),
        &Id::parse(JOB).unwrap()
    )
    .await
    .unwrap());
    assert!(s.iterations_after(&id, 0, 10).await.unwrap().is_empty());
    s.close().await;
}
