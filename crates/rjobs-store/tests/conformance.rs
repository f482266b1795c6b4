//! The store conformance suite: the same behaviour checks, generated for SQLite and PostgreSQL.
//! PostgreSQL tests each run in their own fresh database (see `rjobs_store::testing`).

use std::collections::HashMap;
use std::sync::Arc;

use rjobs_core::list::{ListParams, ListSpec};
use rjobs_core::model::{AdminToken, ApiToken, Application, TokenStatus};
use rjobs_core::{Id, IdGen, Timestamp};
use rjobs_store::{Store, StoreError};

const APPS: ListSpec = ListSpec {
    sort_fields: &["name", "id", "creationDate", "lastUpdated"],
    filter_fields: &["name"],
    default_per_page: 100,
};

fn params(pairs: &[(&str, &str)]) -> ListParams {
    let q: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ListParams::parse(&APPS, &q).unwrap()
}

fn app(ids: &IdGen, name: &str, t: i64) -> Application {
    Application::new(
        ids.next(Timestamp::from_millis(t)),
        name,
        &format!("{name} description"),
        Timestamp::from_millis(t),
    )
}

fn token(ids: &IdGen, app: &Id, hash: &str) -> ApiToken {
    ApiToken {
        id: ids.next(Timestamp::from_millis(5_000)),
        application_id: app.clone(),
        name: format!("token {hash}"),
        description: String::new(),
        scope: vec!["all.Application".into(), "resourceJob.get".into()],
        status: TokenStatus::Active,
        expiration_date: Some(Timestamp::from_millis(9_000)),
        token_hash: hash.into(),
        creation_date: Timestamp::from_millis(5_000),
        last_updated: Timestamp::from_millis(5_000),
        version: 1,
    }
}

async fn applications_crud(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let a = app(&ids, "Alpha", 1_000);
    let b = app(&ids, "beta fleet", 2_000);
    let c = app(&ids, "Gamma", 3_000);
    for x in [&a, &b, &c] {
        s.insert_application(x).await.unwrap();
    }
    assert_eq!(s.get_application(&b.id).await.unwrap(), Some(b.clone()));
    let missing = ids.next(Timestamp::from_millis(1));
    assert_eq!(s.get_application(&missing).await.unwrap(), None);

    let all = s.list_applications(&params(&[])).await.unwrap();
    assert_eq!(all.total_count, 3);
    let names: Vec<_> = all.items.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        ["Alpha", "Gamma", "beta fleet"],
        "binary order by name"
    );

    let desc = s
        .list_applications(&params(&[
            ("sortField", "creationDate"),
            ("sortDirection", "desc"),
        ]))
        .await
        .unwrap();
    assert_eq!(desc.items[0].id, c.id);

    let paged = s
        .list_applications(&params(&[
            ("perPage", "2"),
            ("page", "1"),
            ("sortField", "id"),
        ]))
        .await
        .unwrap();
    assert_eq!(paged.total_count, 3);
    assert_eq!(paged.items.len(), 1);
    assert_eq!(paged.items[0].id, c.id);

    let filtered = s
        .list_applications(&params(&[("filterField", "name"), ("filter", "*FLEET")]))
        .await
        .unwrap();
    assert_eq!(filtered.total_count, 1);
    assert_eq!(filtered.items[0].id, b.id);
    let none = s
        .list_applications(&params(&[("filterField", "name"), ("filter", "a?pha_")]))
        .await
        .unwrap();
    assert_eq!(none.total_count, 0, "_ in a glob is literal");

    assert!(s.delete_application(&a.id).await.unwrap());
    assert!(!s.delete_application(&a.id).await.unwrap());
    assert_eq!(s.get_application(&a.id).await.unwrap(), None);
}

async fn compare_and_set(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let a = app(&ids, "cas", 1_000);
    s.insert_application(&a).await.unwrap();
    let mut first = a.clone();
    first.name = "first writer".into();
    first.version = 2;
    let mut second = a.clone();
    second.name = "second writer".into();
    second.version = 2;
    s.update_application(&first, 1).await.unwrap();
    let err = s.update_application(&second, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let stored = s.get_application(&a.id).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("first writer", 2));

    // Concurrent writers from the same version: exactly one wins.
    let mut handles = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let mut x = stored.clone();
        x.name = format!("racer {i}");
        x.version = 3;
        handles.push(tokio::spawn(
            async move { s.update_application(&x, 2).await },
        ));
    }
    let mut wins = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let gone = ids.next(Timestamp::from_millis(1));
    let mut ghost = a.clone();
    ghost.id = gone;
    assert!(matches!(
        s.update_application(&ghost, 1).await,
        Err(StoreError::Conflict)
    ));
}

async fn tokens_crud(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    let a = app(&ids, "tokens", 1_000);
    let other = app(&ids, "other", 1_000);
    s.insert_application(&a).await.unwrap();
    s.insert_application(&other).await.unwrap();
    let t1 = token(&ids, &a.id, "h1");
    let t2 = token(&ids, &a.id, "h2");
    let t3 = token(&ids, &other.id, "h3");
    for t in [&t1, &t2, &t3] {
        s.insert_api_token(t).await.unwrap();
    }
    let dup = token(&ids, &a.id, "h1");
    assert!(matches!(
        s.insert_api_token(&dup).await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.find_api_token("h2").await.unwrap(), Some(t2.clone()));
    assert_eq!(s.find_api_token("nope").await.unwrap(), None);
    assert_eq!(
        s.get_api_token(&a.id, &t1.id).await.unwrap(),
        Some(t1.clone())
    );
    assert_eq!(s.get_api_token(&other.id, &t1.id).await.unwrap(), None);
    let list = s.list_api_tokens(&a.id, &params(&[])).await.unwrap();
    assert_eq!(list.total_count, 2);

    let mut off = t1.clone();
    off.status = TokenStatus::Inactive;
    off.expiration_date = None;
    off.version = 2;
    s.update_api_token(&off, 1).await.unwrap();
    assert!(matches!(
        s.update_api_token(&off, 1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.find_api_token("h1").await.unwrap(), Some(off));

    assert!(s.delete_api_token(&a.id, &t2.id).await.unwrap());
    assert!(!s.delete_api_token(&other.id, &t1.id).await.unwrap());
    // Deleting an application removes its tokens.
    assert!(s.delete_application(&a.id).await.unwrap());
    assert_eq!(s.find_api_token("h1").await.unwrap(), None);
    assert!(s.find_api_token("h3").await.unwrap().is_some());
}

async fn admin_tokens(s: Arc<dyn Store>) {
    let ids = IdGen::new();
    assert_eq!(s.count_admin_tokens().await.unwrap(), 0);
    let t = AdminToken {
        id: ids.next(Timestamp::from_millis(1)),
        token_hash: "adm".into(),
        creation_date: Timestamp::from_millis(1),
    };
    s.insert_admin_token(&t).await.unwrap();
    assert_eq!(s.count_admin_tokens().await.unwrap(), 1);
    assert_eq!(s.find_admin_token("adm").await.unwrap(), Some(t));
    assert_eq!(s.find_admin_token("other").await.unwrap(), None);
    s.ping().await.unwrap();
}

async fn jobs_crud(s: Arc<dyn Store>) {
    use rjobs_core::jobs::{ResourceJob, ResourceType};
    const JOBS: ListSpec = ListSpec {
        sort_fields: &["name", "id", "lastExecutionRequested", "resourceType"],
        filter_fields: &["name", "resourceType"],
        default_per_page: 100,
    };
    let lp = |pairs: &[(&str, &str)]| {
        let q: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListParams::parse(&JOBS, &q).unwrap()
    };
    let ids = IdGen::new();
    let a = app(&ids, "jobs", 1_000);
    let other = app(&ids, "other", 1_000);
    s.insert_application(&a).await.unwrap();
    s.insert_application(&other).await.unwrap();
    let t = Timestamp::from_millis(2_000);
    let mut j1 = ResourceJob::with_defaults(
        ids.next(t),
        a.id.clone(),
        "poll".into(),
        ResourceType::Device,
        t,
    );
    j1.retry_on_timeout = true;
    j1.data_table_id = Some("{{ctx.t}}".into());
    let mut j2 = ResourceJob::with_defaults(
        ids.next(t),
        a.id.clone(),
        "Notify".into(),
        ResourceType::ExperienceUser,
        t,
    );
    j2.last_execution_requested = Some(Timestamp::from_millis(5_000));
    let j3 = ResourceJob::with_defaults(
        ids.next(t),
        other.id.clone(),
        "x".into(),
        ResourceType::Device,
        t,
    );
    for j in [&j1, &j2, &j3] {
        s.insert_job(j).await.unwrap();
    }
    assert_eq!(s.get_job(&a.id, &j1.id).await.unwrap(), Some(j1.clone()));
    assert_eq!(
        s.get_job(&other.id, &j1.id).await.unwrap(),
        None,
        "jobs are per application"
    );
    let page = s.list_jobs(&a.id, &lp(&[])).await.unwrap();
    assert_eq!(page.total_count, 2);
    assert_eq!(page.items[0].name, "Notify");
    // NULL lastExecutionRequested sorts first ascending, last descending, on both backends.
    let asc = s
        .list_jobs(&a.id, &lp(&[("sortField", "lastExecutionRequested")]))
        .await
        .unwrap();
    assert_eq!(asc.items[0].id, j1.id);
    let desc = s
        .list_jobs(
            &a.id,
            &lp(&[
                ("sortField", "lastExecutionRequested"),
                ("sortDirection", "desc"),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(desc.items[0].id, j2.id);
    let by_type = s
        .list_jobs(
            &a.id,
            &lp(&[("filterField", "resourceType"), ("filter", "EXPERIENCE*")]),
        )
        .await
        .unwrap();
    assert_eq!(by_type.items.len(), 1);
    assert_eq!(by_type.items[0].id, j2.id);

    let mut next = j1.clone();
    next.iteration_delay = 250;
    next.version = 2;
    s.update_job(&next, 1).await.unwrap();
    assert!(matches!(
        s.update_job(&next, 1).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(s.get_job(&a.id, &j1.id).await.unwrap(), Some(next));

    assert!(s.delete_job(&a.id, &j1.id).await.unwrap());
    assert!(!s.delete_job(&a.id, &j1.id).await.unwrap());
    assert!(s.delete_application(&a.id).await.unwrap());
    assert_eq!(s.get_job(&a.id, &j2.id).await.unwrap(), None, "cascade");
    assert!(s.get_job(&other.id, &j3.id).await.unwrap().is_some());
}

rjobs_store::store_suite!(
    applications_crud,
    compare_and_set,
    tokens_crud,
    admin_tokens,
    jobs_crud,
);
