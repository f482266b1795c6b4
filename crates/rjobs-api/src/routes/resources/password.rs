//! Password hashing for experience users: Argon2id (memory-hard), PHC string format with a
//! random salt, at the cost the settings give ([`PasswordCost`], validated when settings load).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, PasswordHasher, Version};

use crate::error::{ApiError, ApiResult};
use crate::state::PasswordCost;

fn hasher(cost: PasswordCost) -> ApiResult<Argon2<'static>> {
    let params = cost.params().map_err(|e| ApiError::internal(&e))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` on the blocking pool (hashing takes tens of milliseconds by design).
pub async fn hash(cost: PasswordCost, password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || hash_now(cost, &password))
        .await
        .map_err(|e| ApiError::internal(&e))?
}

/// Hashes several passwords in one blocking task (bulk creation).
pub async fn hash_many(cost: PasswordCost, passwords: Vec<String>) -> ApiResult<Vec<String>> {
    tokio::task::spawn_blocking(move || passwords.iter().map(|p| hash_now(cost, p)).collect())
        .await
        .map_err(|e| ApiError::internal(&e))?
}

fn hash_now(cost: PasswordCost, password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(&e))
}

/// Whether `password` matches the stored PHC string (the PHC string carries its own cost).
#[cfg(test)]
pub fn verify(password: &str, phc: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(phc)
        // The PHC string carries its own cost; verification reads it from there.
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let cheap = PasswordCost {
            m_kib: 256,
            t: 1,
            p: 1,
        };
        let h = hash_now(cheap, "correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{h}");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
    }
}
