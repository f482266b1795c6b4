//! Test harness: loads in-memory resources into SQLite and PostgreSQL, runs queries through
//! both compiled SQL backends and the evaluator, and returns the three id sets.
#![allow(dead_code)]

pub mod fixture;

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};

use rjobs_query::{Dialect, EvalResource, Query, ResourceType, SqlParam};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::Executor;
use tokio::runtime::Runtime;

pub use fixture::Fixture;

pub const APP: &str = "0000000000000000000000aa";
pub const OTHER_APP: &str = "0000000000000000000000bb";
pub const TABLE_ID: &str = "0000000000000000000000cc";
pub const OTHER_TABLE_ID: &str = "0000000000000000000000dd";

const APPS_DDL: &str = "CREATE TABLE applications (id TEXT PRIMARY KEY, name TEXT NOT NULL, \
    description TEXT NOT NULL DEFAULT '', creation_date BIGINT NOT NULL, last_updated BIGINT NOT NULL)";
const RESOURCES_DDL: &str = include_str!("../../../rjobs-store/migrations/0002_resources.sql");

/// The store's resource tables as `backend` (`sqlite` or `postgres`) creates them: the migration
/// template's marks (see `rjobs_store::migrations`) resolved.
fn resources_ddl(backend: &str, collate: &str) -> String {
    let keep = |l: &'static str| match l.strip_prefix('@') {
        Some(marked) => marked.strip_prefix(backend)?.strip_prefix(' '),
        None => Some(l),
    };
    let lines: Vec<String> = RESOURCES_DDL
        .lines()
        .filter_map(keep)
        .map(|l| l.replace("{{collate_c}}", collate))
        .collect();
    lines.join("\n")
}

/// One SQL statement with `$n` placeholders (rewritten to `?` for SQLite).
pub type Stmt = (String, Vec<SqlParam>);

pub fn to_sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

macro_rules! bind_all {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                SqlParam::Text(s) => q.bind(s.clone()),
                SqlParam::Int(i) => q.bind(*i),
                SqlParam::Float(f) => q.bind(*f),
                SqlParam::Bool(b) => q.bind(*b),
                SqlParam::Null => q.bind(None::<String>),
            };
        }
        q
    }};
}

pub struct Dbs {
    pub rt: Runtime,
    pub sqlite: SqlitePool,
    pub pg: Option<(PgPool, String)>,
}

impl Dbs {
    /// SQLite in memory plus (unless `RJOBS_TEST_NO_PG=1`) a fresh PostgreSQL schema.
    pub fn new(tag: &str) -> Dbs {
        let no_pg = std::env::var("RJOBS_TEST_NO_PG").as_deref() == Ok("1");
        Dbs::create(tag, !no_pg)
    }

    /// SQLite only (for plan inspection).
    pub fn sqlite_only() -> Dbs {
        Dbs::create("lite", false)
    }

    fn create(tag: &str, with_pg: bool) -> Dbs {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sqlite = rt.block_on(async {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect("sqlite::memory:")
                .await
                .unwrap();
            sqlx::raw_sql(APPS_DDL).execute(&pool).await.unwrap();
            sqlx::raw_sql(&resources_ddl("sqlite", ""))
                .execute(&pool)
                .await
                .unwrap();
            pool
        });
        let pg = if !with_pg {
            None
        } else {
            // Random per process (std's hasher keys are seeded randomly); no clock needed.
            let salt = RandomState::new().build_hasher().finish() % 1_000_000_007;
            let schema = format!("rjq_{tag}_{}_{salt}", std::process::id());
            let pool = rt.block_on(async {
                let url = "postgres://postgres@127.0.0.1:5432/postgres";
                let admin = PgPool::connect(url)
                    .await
                    .expect("PostgreSQL (set RJOBS_TEST_NO_PG=1 to skip)");
                admin
                    .execute(format!("CREATE SCHEMA {schema}").as_str())
                    .await
                    .unwrap();
                admin.close().await;
                let s2 = schema.clone();
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .after_connect(move |conn, _| {
                        let s = s2.clone();
                        Box::pin(async move {
                            conn.execute(format!("SET search_path TO {s}").as_str())
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await
                    .unwrap();
                sqlx::raw_sql(APPS_DDL).execute(&pool).await.unwrap();
                sqlx::raw_sql(&resources_ddl("postgres", " COLLATE \"C\""))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool
            });
            Some((pool, schema))
        };
        let dbs = Dbs { rt, sqlite, pg };
        let apps: Vec<Stmt> = [APP, OTHER_APP]
            .iter()
            .map(|a| {
                (
                    "INSERT INTO applications (id, name, creation_date, last_updated) VALUES ($1, 'app', 0, 0)"
                        .to_owned(),
                    vec![SqlParam::Text((*a).to_owned())],
                )
            })
            .collect();
        dbs.exec(&apps);
        dbs
    }

    /// Runs `stmts` in one transaction per backend.
    pub fn exec(&self, stmts: &[Stmt]) {
        self.rt.block_on(async {
            let mut tx = self.sqlite.begin().await.unwrap();
            for (sql, params) in stmts {
                let s = to_sqlite_placeholders(sql);
                bind_all!(sqlx::query(&s), params)
                    .execute(&mut *tx)
                    .await
                    .unwrap_or_else(|e| panic!("sqlite: {e}: {sql}"));
            }
            tx.commit().await.unwrap();
            if let Some((pg, _)) = &self.pg {
                let mut tx = pg.begin().await.unwrap();
                for (sql, params) in stmts {
                    // Not persistent: a cached statement would keep the types of the first
                    // call's NULLs.
                    bind_all!(sqlx::query(sql).persistent(false), params)
                        .execute(&mut *tx)
                        .await
                        .unwrap_or_else(|e| panic!("pg: {e}: {sql}"));
                }
                tx.commit().await.unwrap();
            }
        });
    }

    /// Replaces all resources with `fx` (plus decoys in another application / table).
    pub fn load(&self, fx: &Fixture) {
        let mut stmts: Vec<Stmt> = [
            "experience_group_devices",
            "experience_group_users",
            "device_tags",
            "experience_user_tags",
            "experience_group_tags",
            "data_table_rows",
            "data_tables",
            "devices",
            "experience_users",
            "experience_groups",
        ]
        .iter()
        .map(|t| (format!("DELETE FROM {t}"), Vec::new()))
        .collect();
        stmts.extend(fx.insert_statements(APP, TABLE_ID));
        stmts.extend(fx.decoy().insert_statements(OTHER_APP, OTHER_TABLE_ID));
        self.exec(&stmts);
    }

    /// Ids matched by `q` in (SQLite, PostgreSQL if enabled).
    pub fn run(&self, q: &Query) -> (BTreeSet<String>, Option<BTreeSet<String>>) {
        let (table, alias) = table_of(q.resource_type());
        let head = |d: Dialect| {
            let frag = q.to_sql(d, alias, APP, 3);
            let sql = format!(
                "SELECT {alias}.id FROM {table} {alias} WHERE {alias}.application_id = $1 AND {} AND ({})",
                if q.resource_type() == ResourceType::DataTableRow {
                    format!("{alias}.data_table_id = $2")
                } else {
                    "$2 IS NOT NULL".to_owned()
                },
                frag.sql
            );
            let mut params = vec![
                SqlParam::Text(APP.to_owned()),
                SqlParam::Text(TABLE_ID.to_owned()),
            ];
            params.extend(frag.params);
            (sql, params)
        };
        self.rt.block_on(async {
            let (sql, params) = head(Dialect::Sqlite);
            let s = to_sqlite_placeholders(&sql);
            let lite: Vec<(String,)> = bind_all!(sqlx::query_as(&s), &params)
                .fetch_all(&self.sqlite)
                .await
                .unwrap_or_else(|e| panic!("sqlite: {e}: {s} {params:?}"));
            let pg = match &self.pg {
                None => None,
                Some((pool, _)) => {
                    let (sql, params) = head(Dialect::Postgres);
                    let rows: Vec<(String,)> = bind_all!(sqlx::query_as(&sql), &params)
                        .fetch_all(pool)
                        .await
                        .unwrap_or_else(|e| panic!("pg: {e}: {sql} {params:?}"));
                    Some(rows.into_iter().map(|r| r.0).collect())
                }
            };
            (lite.into_iter().map(|r| r.0).collect(), pg)
        })
    }

    /// `EXPLAIN QUERY PLAN` lines on SQLite for the query as [`Dbs::run`] issues it.
    pub fn sqlite_plan(&self, q: &Query) -> String {
        let (table, alias) = table_of(q.resource_type());
        let frag = q.to_sql(Dialect::Sqlite, alias, APP, 2);
        let sql = format!(
            "EXPLAIN QUERY PLAN SELECT {alias}.id FROM {table} {alias} WHERE {alias}.application_id = ? AND ({})",
            frag.sql
        );
        let mut params = vec![SqlParam::Text(APP.to_owned())];
        params.extend(frag.params);
        self.rt.block_on(async {
            let rows: Vec<(i64, i64, i64, String)> = bind_all!(sqlx::query_as(&sql), &params)
                .fetch_all(&self.sqlite)
                .await
                .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        })
    }
}

impl Drop for Dbs {
    fn drop(&mut self) {
        if let Some((pool, schema)) = self.pg.take() {
            self.rt.block_on(async {
                let _ = pool
                    .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                    .await;
                pool.close().await;
            });
        }
    }
}

pub fn table_of(rt: ResourceType) -> (&'static str, &'static str) {
    match rt {
        ResourceType::Device => ("devices", "d"),
        ResourceType::ExperienceUser => ("experience_users", "u"),
        ResourceType::ExperienceGroup => ("experience_groups", "g"),
        ResourceType::DataTableRow => ("data_table_rows", "r"),
    }
}

/// Ids the evaluator matches among the fixture's resources of the query's type.
pub fn eval(fx: &Fixture, q: &Query) -> BTreeSet<String> {
    let world = fx.world();
    fx.resources(q.resource_type())
        .into_iter()
        .filter(|r| q.matches(r, &world))
        .map(|r| match r {
            EvalResource::Device(d) => d.id,
            EvalResource::Group(g) => g.id,
            EvalResource::User(u) => u.id,
            EvalResource::Row(x) => x.id,
        })
        .collect()
}

/// Asserts SQLite, PostgreSQL and the evaluator agree; returns the common set.
pub fn agree(dbs: &Dbs, fx: &Fixture, q: &Query, ctx: &str) -> BTreeSet<String> {
    let e = eval(fx, q);
    let (lite, pg) = dbs.run(q);
    assert_eq!(lite, e, "sqlite vs evaluator for {ctx}\n{q:?}");
    if let Some(pg) = pg {
        assert_eq!(pg, e, "postgres vs evaluator for {ctx}\n{q:?}");
    }
    e
}
