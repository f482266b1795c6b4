//! Every SQL statement the store spells out as a literal is prepared on both backends against
//! the migrated schema, so a misspelt column, a table a migration dropped or a dialect slip fails
//! here, and not in production on the one path no conformance test happened to take.
//!
//! The statements are read from the store's own source (`src/**/*.rs`, lexed with `proc-macro2`,
//! macro bodies included): the first argument of `query`, `query_scalar`, `query_as` and
//! `raw_sql` when it is a string literal or a `const` holding one. Statements built
//! at run time (`format!`, the query compiler, the group commit's set-based writes) are counted
//! and named, and are covered by the conformance suites that run them.
//!
//! A statement written for one backend only is listed in [`ONE_BACKEND`]; it must prepare on
//! that backend, must fail on the other (else the entry is stale), and every entry must match a
//! statement.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use rjobs_store::Backend;
use sqlx::Executor;

/// `(file, a fragment of the statement, the backend it is for)`.
const ONE_BACKEND: &[(&str, &str, Backend)] = &[
    // The cluster's wake-ups (LISTEN/NOTIFY).
    ("sql/leases.rs", "pg_notify", Backend::Postgres),
    // The group commit's set-based writes on PostgreSQL (SQLite batches `VALUES` instead).
    (
        "sql/set_ops.rs",
        "FROM UNNEST($1::text[], $2::bigint[]",
        Backend::Postgres,
    ),
    (
        "sql/set_ops.rs",
        "FROM UNNEST($1::text[], $2::text[])",
        Backend::Postgres,
    ),
    (
        "sql/set_ops.rs",
        "FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]",
        Backend::Postgres,
    ),
    (
        "sql/set_ops.rs",
        "ANY($1::text[]) ORDER BY id FOR UPDATE",
        Backend::Postgres,
    ),
    // The planner's row estimates after bulk loads.
    ("sql/stats.rs", "FROM pg_class", Backend::Postgres),
];

/// Functions whose first argument is a statement.
const CALLS: &[&str] = &["query", "query_scalar", "query_as", "raw_sql"];

#[derive(Debug)]
struct Found {
    /// Literal statements: `(file, line, sql)`.
    literal: Vec<(String, usize, String)>,
    /// Statements built at run time: `(file, line)`.
    dynamic: Vec<(String, usize)>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn string_value(t: &TokenTree) -> Option<String> {
    match t {
        TokenTree::Literal(l) => syn::parse_str::<syn::LitStr>(&l.to_string())
            .ok()
            .map(|s| s.value()),
        _ => None,
    }
}

/// `const NAME: &str = "...";` (or `&'static str`) anywhere in the stream.
fn consts(ts: TokenStream, out: &mut HashMap<String, String>) {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    for (i, t) in toks.iter().enumerate() {
        match t {
            TokenTree::Group(g) => consts(g.stream(), out),
            TokenTree::Ident(k) if k == "const" => {
                let (Some(TokenTree::Ident(name)), Some(eq)) = (
                    toks.get(i + 1),
                    toks[i..]
                        .iter()
                        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == '=')),
                ) else {
                    continue;
                };
                if let Some(v) = toks.get(i + eq + 1).and_then(string_value) {
                    out.insert(name.to_string(), v);
                }
            }
            _ => {}
        }
    }
}

/// Whether `toks[i - 3..i]` is `sqlx ::`.
fn after_sqlx_path(toks: &[TokenTree], i: usize) -> bool {
    let punct =
        |t: Option<&TokenTree>| matches!(t, Some(TokenTree::Punct(p)) if p.as_char() == ':');
    i >= 3
        && punct(toks.get(i - 1))
        && punct(toks.get(i - 2))
        && matches!(&toks[i - 3], TokenTree::Ident(s) if s == "sqlx")
}

/// The argument list right after `toks[i]`, past a turbofish (`::<_, T>`).
fn arguments(toks: &[TokenTree], i: usize) -> Option<TokenStream> {
    let mut j = i + 1;
    if matches!(toks.get(j), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
        let mut depth = 0;
        for (k, t) in toks.iter().enumerate().skip(j + 2) {
            match t {
                TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
                TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                j = k + 1;
                break;
            }
        }
    }
    match toks.get(j) {
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => Some(g.stream()),
        _ => None,
    }
}

/// Every `sqlx::<call>(...)` in the stream, with its statement when it is a literal.
fn calls(file: &str, ts: TokenStream, consts: &HashMap<String, String>, found: &mut Found) {
    let toks: Vec<TokenTree> = ts.into_iter().collect();
    for (i, t) in toks.iter().enumerate() {
        let name = match t {
            TokenTree::Group(g) => {
                calls(file, g.stream(), consts, found);
                continue;
            }
            TokenTree::Ident(name) if CALLS.iter().any(|c| name == c) => name,
            _ => continue,
        };
        let Some(args) = arguments(&toks, i).filter(|_| after_sqlx_path(&toks, i)) else {
            continue;
        };
        let line = name.span().start().line;
        let sql = args.into_iter().next().and_then(|f| match &f {
            TokenTree::Ident(c) => consts.get(&c.to_string()).cloned(),
            other => string_value(other),
        });
        match sql {
            Some(sql) => found.literal.push((file.to_string(), line, sql)),
            None => found.dynamic.push((file.to_string(), line)),
        }
    }
}

fn statements() -> Found {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Found {
        literal: Vec::new(),
        dynamic: Vec::new(),
    };
    let lexed: Vec<(String, TokenStream)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let name = f.strip_prefix(&src).unwrap().display().to_string();
            (name, TokenStream::from_str(&text).unwrap())
        })
        .collect();
    // A `const` of the same file first, else one of that name elsewhere in the crate.
    let mut everywhere = HashMap::new();
    for (_, ts) in &lexed {
        consts(ts.clone(), &mut everywhere);
    }
    for (name, ts) in lexed {
        let mut cs = everywhere.clone();
        consts(ts.clone(), &mut cs);
        calls(&name, ts, &cs, &mut found);
    }
    found
}

fn intended(file: &str, sql: &str) -> Option<Backend> {
    ONE_BACKEND
        .iter()
        .find(|(f, frag, _)| *f == file && sql.contains(frag))
        .map(|(_, _, b)| *b)
}

/// Prepares every literal statement on `backend` and returns the failures.
async fn prepare_all<'c, E>(conn: E, found: &Found) -> Vec<(String, usize, String, String)>
where
    E: Executor<'c> + Copy,
{
    let mut failures = Vec::new();
    for (file, line, sql) in &found.literal {
        if let Err(e) = conn.prepare(sql.as_str()).await {
            failures.push((file.clone(), *line, sql.clone(), e.to_string()));
        }
    }
    failures
}

fn check(backend: Backend, found: &Found, failures: &[(String, usize, String, String)]) {
    let mut unexpected = Vec::new();
    for (file, line, sql, err) in failures {
        match intended(file, sql) {
            Some(b) if b != backend => {}
            _ => unexpected.push(format!("{file}:{line}: {err}\n    {sql}")),
        }
    }
    assert!(
        unexpected.is_empty(),
        "{backend:?}: {} statement(s) do not prepare:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    for (file, line, sql) in &found.literal {
        if let Some(b) = intended(file, sql) {
            if b != backend {
                assert!(
                    failures.iter().any(|f| f.0 == *file && f.1 == *line),
                    "{file}:{line} is listed as {b:?}-only but prepares on {backend:?}"
                );
            }
        }
    }
}

fn found_with_report() -> Found {
    let found = statements();
    println!(
        "{} literal statements; {} built at run time (covered by the conformance suites):",
        found.literal.len(),
        found.dynamic.len()
    );
    for (f, l) in &found.dynamic {
        println!("  {f}:{l}");
    }
    // The reader must find the store's statements: a lexer that matched nothing would pass.
    assert!(
        found.literal.len() >= 100,
        "found only {}",
        found.literal.len()
    );
    for (f, frag, _) in ONE_BACKEND {
        assert!(
            found
                .literal
                .iter()
                .any(|(ff, _, s)| ff == f && s.contains(frag)),
            "ONE_BACKEND entry {f} {frag:?} matches no statement"
        );
    }
    found
}

#[tokio::test]
async fn every_literal_statement_prepares_on_sqlite() {
    let found = found_with_report();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    rjobs_store::connect(&url).await.unwrap().close().await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let failures = prepare_all(&pool, &found).await;
    check(Backend::Sqlite, &found, &failures);
    pool.close().await;
}

#[tokio::test]
async fn every_literal_statement_prepares_on_postgres() {
    let found = found_with_report();
    let db = rjobs_store::testing::TestDb::create().await.unwrap();
    rjobs_store::connect(&db.url).await.unwrap().close().await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let failures = prepare_all(&pool, &found).await;
    pool.close().await;
    db.drop_db().await.unwrap();
    check(Backend::Postgres, &found, &failures);
}
