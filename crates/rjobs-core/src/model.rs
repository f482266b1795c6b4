//! The records the store persists and the API renders, for the foundation: applications and
//! tokens. Each is built only from validated input (the API layer parses bodies into these).

use crate::{Id, Timestamp};

/// An application: the tenant boundary. Every resource, job and token belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Id.
    pub id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// Bumped on every update; the compare-and-set token for concurrent writers.
    pub version: i64,
}

impl Application {
    /// A new application (version 1) created at `now`.
    pub fn new(id: Id, name: &str, description: &str, now: Timestamp) -> Self {
        Application {
            id,
            name: name.into(),
            description: description.into(),
            creation_date: now,
            last_updated: now,
            version: 1,
        }
    }
}

/// Whether an API token may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Refused with 401.
    Inactive,
}

impl TokenStatus {
    /// `active` / `inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Inactive => "inactive",
        }
    }

    /// Parses `active` / `inactive`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(TokenStatus::Active),
            "inactive" => Some(TokenStatus::Inactive),
            _ => None,
        }
    }
}

/// An application API token. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Id.
    pub id: Id,
    /// The application it belongs to (and is confined to).
    pub application_id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// Scopes granted, e.g. `all.Application` or `resourceJob.execute`.
    pub scope: Vec<String>,
    /// Active or not.
    pub status: TokenStatus,
    /// After this instant the token is refused.
    pub expiration_date: Option<Timestamp>,
    /// SHA-256 of the token string.
    pub token_hash: String,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// Compare-and-set token.
    pub version: i64,
}

impl ApiToken {
    /// Whether the token may be used at `now`.
    pub fn usable_at(&self, now: Timestamp) -> bool {
        self.status == TokenStatus::Active && self.expiration_date.is_none_or(|e| now < e)
    }
}

/// An admin token (acts across all applications with scope `all.User`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// Id.
    pub id: Id,
    /// SHA-256 of the token string.
    pub token_hash: String,
    /// Creation instant.
    pub creation_date: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(status: TokenStatus, exp: Option<i64>) -> ApiToken {
        let id = Id::parse("575ec8687ae143cd83dc4a97").unwrap();
        ApiToken {
            id: id.clone(),
            application_id: id,
            name: "t".into(),
            description: String::new(),
            scope: vec![],
            status,
            expiration_date: exp.map(Timestamp::from_millis),
            token_hash: String::new(),
            creation_date: Timestamp::from_millis(0),
            last_updated: Timestamp::from_millis(0),
            version: 1,
        }
    }

    #[test]
    fn usability() {
        let now = Timestamp::from_millis(1000);
        assert!(token(TokenStatus::Active, None).usable_at(now));
        assert!(token(TokenStatus::Active, Some(1001)).usable_at(now));
        assert!(!token(TokenStatus::Active, Some(1000)).usable_at(now));
        assert!(!token(TokenStatus::Inactive, None).usable_at(now));
    }
}
