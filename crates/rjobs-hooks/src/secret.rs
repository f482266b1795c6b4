//! Secrets and signatures. A secret is `whsec_` + base64 of 24 random bytes; the signature is
//! computed by the `standardwebhooks` crate (the specification's reference implementation), so
//! any Standard Webhooks verifier accepts it.

use base64::Engine;
use rand::RngCore;
use rjobs_store::webhooks::WebhookSecret;

use crate::HookError;

/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 24;

/// A fresh secret: `whsec_` + base64 of 24 random bytes.
pub fn new_secret() -> WebhookSecret {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    WebhookSecret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// The `webhook-signature` value for message `id` sent at `timestamp` (seconds) with `body`:
/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the secret's decoded bytes.
pub fn sign(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, HookError> {
    let wh = standardwebhooks::Webhook::new(secret.expose()).map_err(|_| HookError::Secret)?;
    wh.sign(id, timestamp, body)
        .map_err(|e| HookError::Sign(e.to_string()))
}

/// Why a webhook URL is refused (the API shows it after `url: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than 2,048 characters.
    #[error("must be at most 2048 characters")]
    TooLong,
    /// Not an absolute URL.
    #[error("{text:?} is not a URL ({cause})")]
    NotUrl {
        /// What was given.
        text: String,
        /// The parser's reason.
        cause: String,
    },
    /// A scheme other than `http` or `https`.
    #[error("scheme {0:?} is not allowed (only http and https)")]
    Scheme(String),
    /// No host.
    #[error("must name a host")]
    NoHost,
    /// A user name or password in the URL.
    #[error("must not hold credentials")]
    Credentials,
}

/// Checks a webhook URL's syntax: absolute, `http` or `https`, with a host and no
/// credentials. Where it may connect is decided at delivery by the outbound policy.
pub fn target_url(s: &str) -> Result<reqwest::Url, UrlError> {
    if s.len() > 2048 {
        return Err(UrlError::TooLong);
    }
    let url = reqwest::Url::parse(s).map_err(|e| UrlError::NotUrl {
        text: s.to_string(),
        cause: e.to_string(),
    })?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(UrlError::Scheme(other.to_string())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_base64() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let raw = a.expose().strip_prefix("whsec_").expect("prefix");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .expect("base64");
        assert_eq!(bytes.len(), SECRET_BYTES);
        assert!(!format!("{a:?}").contains(raw));
    }

    #[test]
    fn signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification (and of its libraries' tests).
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn urls_are_checked() {
        for ok in ["http://127.0.0.1:8080/hook", "https://example.com/x?y=1"] {
            assert!(target_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "example.com/hook",
            "http://user:pw@example.com/",
            "file:///etc/passwd",
            "",
        ] {
            assert!(target_url(bad).is_err(), "{bad}");
        }
    }
}
