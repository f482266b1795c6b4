//! Planner statistics after bulk loads, on PostgreSQL: two bulk inserts of 10,000 devices
//! with a tag each leave `devices` and `device_tags` analyzed (their `reltuples` estimate is
//! the loaded size, not "never analyzed"), so the first tag query after a load gets a real plan.
//! SQLite's planner keeps no statistics; the same inserts there change nothing else.

use rjobs_core::resources::Tag;
use rjobs_store::testing::{exec_fixture, TestDb};
use rjobs_store::DeviceStore;

#[tokio::test]
async fn bulk_loads_leave_the_tables_analyzed_postgres() {
    let db = TestDb::create().await.unwrap();
    let s = rjobs_store::connect(&db.url).await.unwrap();
    let f = exec_fixture(&s).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let reltuples = |t: &'static str| {
        let pool = pool.clone();
        async move {
            let n: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = $1")
                .bind(t)
                .fetch_one(&pool)
                .await
                .unwrap();
            n
        }
    };
    assert!(
        reltuples("devices").await < 0.0,
        "never analyzed before the load"
    );
    for batch in 0..2 {
        let devices: Vec<_> = (0..10_000)
            .map(|i| {
                let mut d = f.device_value(&format!("d-{batch}-{i:05}"));
                d.tags = vec![Tag {
                    key: "site".into(),
                    value: format!("site-{}", i % 100),
                }];
                d
            })
            .collect();
        s.insert_devices(&devices).await.unwrap();
    }
    let d = reltuples("devices").await;
    let t = reltuples("device_tags").await;
    assert!(
        d >= 10_000.0,
        "devices analyzed after the load: reltuples {d}"
    );
    assert!(
        t >= 10_000.0,
        "device_tags analyzed after the load: reltuples {t}"
    );
    pool.close().await;
    s.close().await;
    db.drop_db().await.unwrap();
}
