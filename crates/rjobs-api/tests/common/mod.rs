//! What the router tests share: a state over a fresh SQLite database on a manual clock (cheap
//! password hashing, a fixed admin token), and application tokens written straight into the
//! store with the scopes a test needs.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;

use rjobs_api::{ApiSettings, AppState, PasswordCost};
use rjobs_core::model::{ApiToken, TokenStatus};
use rjobs_core::secret::hash_token;
use rjobs_core::{Clock, Id, IdGen, ManualClock, Timestamp};
use rjobs_store::Store;

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
