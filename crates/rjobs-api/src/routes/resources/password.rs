//! Password hashing for experience users: Argon2id (memory-hard), PHC string format with a
//! random salt. The cost parameters default to the argon2 crate's recommended ones (19 MiB, 2
//! passes, 1 lane) and can be changed process-wide through the environment —
//! `RJOBS_ARGON2_M_KIB`, `RJOBS_ARGON2_T`, `RJOBS_ARGON2_P`, read once at the first hash — which
//! tests and benchmarks use to lower the cost; production keeps the defaults.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

use crate::error::{ApiError, ApiResult};

static PARAMS: OnceLock<Params> = OnceLock::new();

/// The cost from the environment; invalid or missing values fall back to the defaults (an
/// invalid combination is logged).
fn params_from_env() -> Params {
    let var = |name: &str, default: u32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(default)
    };
    let m = var("RJOBS_ARGON2_M_KIB", Params::DEFAULT_M_COST);
    let t = var("RJOBS_ARGON2_T", Params::DEFAULT_T_COST);
    let p = var("RJOBS_ARGON2_P", Params::DEFAULT_P_COST);
    Params::new(m, t, p, None).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "invalid RJOBS_ARGON2_* settings; using the defaults");
        Params::default()
    })
}

fn hasher() -> Argon2<'static> {
    let params = PARAMS.get_or_init(params_from_env).clone();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` on the blocking pool (hashing takes tens of milliseconds by design).
pub async fn hash(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| ApiError::internal(&e))?
}

/// Hashes several passwords in one blocking task (bulk creation).
pub async fn hash_many(passwords: Vec<String>) -> ApiResult<Vec<String>> {
    tokio::task::spawn_blocking(move || passwords.iter().map(|p| hash_now(p)).collect())
        .await
        .map_err(|e| ApiError::internal(&e))?
}

fn hash_now(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(&e))
}

/// Whether `password` matches the stored PHC string (the PHC string carries its own cost).
#[cfg(test)]
pub fn verify(password: &str, phc: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(phc)
        .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let h = hash_now("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
    }
}
