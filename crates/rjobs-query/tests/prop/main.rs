//! Property tests: random resources and random valid queries; SQLite, PostgreSQL and the
//! reference evaluator must return exactly the same id sets.

#[path = "../common/mod.rs"]
mod common;
mod queries;
mod resources;

use std::cell::Cell;

use common::fixture::schema;
use common::{eval, Dbs};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use queries::query;
use resources::fixture;
use rjobs_query::{parse, ResourceType as RT};

fn check(rt: RT, tag: &str) {
    let dbs = Dbs::new(tag);
    let table = schema();
    let discriminating = Cell::new(0usize);
    let empty = Cell::new(0usize);
    let total = Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        // PROPTEST_CASES raises the count for a soak run.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        max_shrink_iters: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&(fixture(rt), vec(query(rt), 8)), |(fx, queries)| {
        dbs.load(&fx);
        let n = fx.resources(rt).len();
        for qv in &queries {
            let q = parse(rt, qv, Some(&table)).map_err(|e| {
                TestCaseError::fail(format!("generator produced an invalid query {qv}: {e}"))
            })?;
            let want = eval(&fx, &q);
            let (lite, pg) = dbs.run(&q);
            prop_assert_eq!(&lite, &want, "SQLite vs evaluator for {}", qv);
            if let Some(pg) = pg {
                prop_assert_eq!(&pg, &want, "PostgreSQL vs evaluator for {}", qv);
            }
            total.set(total.get() + 1);
            if want.is_empty() {
                empty.set(empty.get() + 1);
            }
            if !want.is_empty() && want.len() < n {
                discriminating.set(discriminating.get() + 1);
            }
        }
        Ok(())
    });
    drop(dbs);
    println!(
        "{rt:?}: of {} queries {} split the resources and {} matched nothing",
        total.get(),
        discriminating.get(),
        empty.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // Guard against a generator that only produces trivial queries.
    assert!(
        discriminating.get() * 10 >= total.get(),
        "only {} of {} queries split the resources",
        discriminating.get(),
        total.get()
    );
}

#[test]
fn devices_agree() {
    check(RT::Device, "dev");
}

#[test]
fn groups_agree() {
    check(RT::ExperienceGroup, "grp");
}

#[test]
fn users_agree() {
    check(RT::ExperienceUser, "usr");
}

#[test]
fn rows_agree() {
    check(RT::DataTableRow, "row");
}
