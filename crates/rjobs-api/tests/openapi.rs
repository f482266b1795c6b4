//! `/openapi.json` lists exactly the routes the router serves: the router's own route table (read
//! from its `Debug` rendering, the only introspection axum offers) is compared with the
//! document's paths and methods, both ways.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use rjobs_api::{router, ApiSettings, AppState};
use rjobs_core::{Clock, IdGen, ManualClock, Timestamp};
use rjobs_store::Store;
use serde_json::Value;
use tower::ServiceExt;

async fn state(dir: &tempfile::TempDir) -> AppState {
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store: Arc<dyn Store> = Arc::new(rjobs_store::connect(&url).await.unwrap());
    let clock: Arc<dyn Clock> =
        Arc::new(ManualClock::at(Timestamp::from_millis(1_764_000_000_000)));
    let engine = rjobs_engine::Engine::new(
        store.clone(),
        clock.clone(),
        Arc::new(rjobs_engine::NullSink),
        rjobs_engine::ReportSigner::new(b"k", "http://test", 60_000),
    );
    AppState {
        store,
        clock,
        ids: Arc::new(IdGen::new()),
        settings: Arc::new(ApiSettings::default()),
        engine: Arc::new(engine),
    }
}

/// `(METHOD, path)` pairs of the router, from its Debug output.
fn router_routes(debug: &str) -> BTreeSet<(String, String)> {
    let path_router = debug.split("fallback_router").next().unwrap_or("");
    let mut paths = std::collections::HashMap::new();
    if let Some(nodes) = path_router.split("paths: {").nth(1) {
        for entry in nodes.split("RouteId(").skip(1) {
            let (id, rest) = entry.split_once("): \"").unwrap_or(("", ""));
            let path = rest.split('"').next().unwrap_or("");
            paths.insert(id.to_string(), path.to_string());
        }
    }
    let mut out = BTreeSet::new();
    let routes = path_router.split("node: Node").next().unwrap_or("");
    for entry in routes.split("RouteId(").skip(1) {
        let id = entry.split(')').next().unwrap_or("");
        let allow = entry
            .split("allow_header: Bytes(b\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("");
        for m in allow.split(',').filter(|m| !m.is_empty() && *m != "HEAD") {
            out.insert((m.to_string(), paths.get(id).cloned().unwrap_or_default()));
        }
    }
    out
}

#[tokio::test]
async fn document_lists_exactly_the_served_routes() {
    let dir = tempfile::tempdir().unwrap();
    let app = router(state(&dir).await);
    // The dashboard's pages and assets (`/ui...`) are not part of the API.
    let served: BTreeSet<_> = router_routes(&format!("{app:?}"))
        .into_iter()
        .filter(|(_, path)| !path.starts_with("/ui"))
        .collect();
    assert!(served.len() > 40, "parsed the router: {served:?}");
    let resp = app
        .oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["responses"].is_object(), "{method} {path}");
        }
    }
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    assert!(extra.is_empty(), "documented but not served: {extra:?}");
}
