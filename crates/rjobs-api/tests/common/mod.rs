//! What the router tests share: a state over a fresh SQLite database on a manual clock (cheap
//! password hashing, a fixed admin token), application tokens written straight into the store
//! with the scopes a test needs, and [`Api`], a router to call as the admin or a token.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rjobs_api::{router, ApiSettings, AppState, PasswordCost};
use rjobs_core::model::{ApiToken, TokenStatus};
use rjobs_core::secret::hash_token;
use rjobs_core::{Clock, Id, IdGen, ManualClock, Timestamp};
use rjobs_store::Store;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The fixed admin token of [`settings`] as [`Api`] uses it.
pub const ADMIN: &str = "admin-token";

/// The manual clock's instant.
pub const NOW: i64 = 1_764_000_000_000;

/// Settings with `admin` as the fixed admin token and cheap Argon2 parameters (production keeps
/// the defaults).
pub fn settings(admin: &str) -> ApiSettings {
    ApiSettings {
        fixed_admin_hash: Some(hash_token(admin)),
        password_cost: PasswordCost {
            m_kib: 256,
            t: 1,
            p: 1,
        },
        ..ApiSettings::default()
    }
}

/// A state over a new database in `dir`.
pub async fn state(dir: &tempfile::TempDir, settings: ApiSettings) -> AppState {
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store: Arc<dyn Store> = Arc::new(rjobs_store::connect(&url).await.unwrap());
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at(Timestamp::from_millis(NOW)));
    let engine = rjobs_engine::Engine::new(
        store.clone(),
        clock.clone(),
        Arc::new(rjobs_engine::NullSink),
        rjobs_engine::ReportSigner::new(b"test-key", "http://test", 60_000),
    );
    AppState {
        store,
        clock,
        ids: Arc::new(IdGen::new()),
        settings: Arc::new(settings),
        engine: Arc::new(engine),
    }
}

/// Writes an active token of application `app` holding `scope`; returns its bearer string
/// (unique per call).
pub async fn token(store: &dyn Store, app: &Id, scope: &[&str]) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secret = format!("app-token-{n}-{}", scope.join("-"));
    let now = Timestamp::from_millis(NOW);
    let t = ApiToken {
        id: IdGen::new().next(now),
        application_id: app.clone(),
        name: "t".into(),
        description: String::new(),
        scope: scope.iter().map(|s| s.to_string()).collect(),
        status: TokenStatus::Active,
        expiration_date: None,
        token_hash: hash_token(&secret),
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    store.insert_api_token(&t).await.unwrap();
    secret
}

/// A router over a fresh database, with the store behind it.
pub struct Api {
    /// The router.
    pub router: Router,
    /// Its store.
    pub store: Arc<dyn Store>,
    /// Its engine (never running: a test ticks it).
    pub engine: Arc<rjobs_engine::Engine>,
    _dir: tempfile::TempDir,
}

/// An [`Api`] with `settings` (see [`settings`] for the admin token).
pub async fn api_with(settings: ApiSettings) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&dir, settings).await;
    Api {
        store: state.store.clone(),
        engine: state.engine.clone(),
        router: router(state),
        _dir: dir,
    }
}

impl Api {
    /// Sends `body` (JSON text, or nothing when empty) with `token` (none when empty); the
    /// answer as JSON, as a string when it is not JSON, `null` when empty.
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self.bytes(method, uri, token, body).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, v)
    }

    /// As [`Api::raw`], the answer's bytes as sent.
    pub async fn bytes(
        &self,
        method: &str,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        if !token.is_empty() {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, bytes.to_vec())
    }

    /// Creates an application as the admin; its id.
    pub async fn app(&self) -> String {
        let body = json!({"name": "fleet"}).to_string();
        let (st, v) = self.raw("POST", "/applications", ADMIN, &body).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// An application token with `scope`, returned as the bearer string.
    pub async fn token(&self, app: &str, scope: &[&str]) -> String {
        let app = Id::parse(app).unwrap();
        token(self.store.as_ref(), &app, scope).await
    }
}
