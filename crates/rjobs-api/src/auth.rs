//! Authentication (who is calling: an admin token or an application API token, resolved from the
//! bearer token's SHA-256) and authorization (may this caller perform this action on this
//! application). 401 when the token is missing, unknown, expired or disabled; 403 when it lacks
//! every accepted scope or belongs to another application.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use rjobs_core::model::ApiToken;
use rjobs_core::secret::hash_token;
use rjobs_core::Id;

use crate::error::{ApiError, ErrorKind};
use crate::scopes::{accepted, grants, Action, Level};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An admin token (scope `all.User`), by id (`None` for the fixed `RJOBS_ADMIN_TOKEN`).
    Admin(Option<Id>),
    /// An application API token.
    Token(Box<ApiToken>),
}

impl Principal {
    /// The scopes the caller holds.
    pub fn scopes(&self) -> Vec<String> {
        match self {
            Principal::Admin(_) => vec!["all.User".to_string()],
            Principal::Token(t) => t.scope.clone(),
        }
    }

    /// `(sourceType, sourceId)` as recorded on executions: `user` for admins, `apiToken` + id.
    pub fn source(&self) -> (&'static str, Option<Id>) {
        match self {
            Principal::Admin(id) => ("user", id.clone()),
            Principal::Token(t) => ("apiToken", Some(t.id.clone())),
        }
    }

    /// Checks the caller may perform `action` on application `app` (`None` for owner-level
    /// actions such as listing applications).
    pub fn authorize(&self, action: &Action, app: Option<&Id>) -> Result<(), ApiError> {
        if let (Principal::Token(t), Some(app)) = (self, app) {
            if &t.application_id != app {
                return Err(ApiError::new(
                    ErrorKind::Forbidden,
                    "This token does not have access to this application",
                ));
            }
        }
        if action.level == Level::Owner && matches!(self, Principal::Token(_)) {
            return Err(forbidden(action));
        }
        if grants(&self.scopes(), action) {
            Ok(())
        } else {
            Err(forbidden(action))
        }
    }
}

fn forbidden(action: &Action) -> ApiError {
    ApiError::new(
        ErrorKind::Forbidden,
        format!(
            "This token is not authorized for {}: it needs one of the scopes {}",
            action.name,
            accepted(action).join(", ")
        ),
    )
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::new(ErrorKind::Unauthorized, msg)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A route's guard has authenticated the caller already (`routes::table`).
        if let Some(who) = parts.extensions.get::<Principal>() {
            return Ok(who.clone());
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("Authorization header with a Bearer token is required"))?;
        let value = header
            .to_str()
            .map_err(|_| unauthorized("Authorization header is not valid text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("Authorization header must be 'Bearer <token>'"))?;
        let hash = hash_token(token);
        if state.settings.fixed_admin_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Principal::Admin(None));
        }
        if let Some(admin) = state.store.find_admin_token(&hash).await? {
            return Ok(Principal::Admin(Some(admin.id)));
        }
        match state.store.find_api_token(&hash).await? {
            None => Err(unauthorized("Invalid access token")),
            Some(t) if t.status != rjobs_core::model::TokenStatus::Active => {
                Err(unauthorized("Access token is disabled"))
            }
            Some(t) if !t.usable_at(state.clock.now()) => {
                Err(unauthorized("Access token has expired"))
            }
            Some(t) => Ok(Principal::Token(Box::new(t))),
        }
    }
}
