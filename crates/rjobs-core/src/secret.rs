//! Token secrets. A token is a 256-bit random secret shown once; only its SHA-256 is stored, so a
//! stolen database does not yield usable tokens, and lookup is one indexed equality on the hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of admin tokens (act across all applications).
pub const ADMIN_PREFIX: &str = "rjadm_";
/// Prefix of application API tokens.
pub const APP_PREFIX: &str = "rjapp_";

/// A fresh token string: `prefix` followed by 64 hex characters of randomness.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The stored form of a token: lower-case hex SHA-256 of the whole string.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let a = new_token(APP_PREFIX);
        let b = new_token(APP_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), APP_PREFIX.len() + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
