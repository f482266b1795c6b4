//! `/applications/{applicationId}/tokens[/{apiTokenId}]`: application API tokens. The token string
//! is returned once, by the create call; only its hash is stored.

use axum::extract::State;
use axum::http::StatusCode;
use rjobs_core::list::ListSpec;
use rjobs_core::model::{ApiToken, TokenStatus};
use rjobs_core::secret::{hash_token, new_token, APP_PREFIX};
use rjobs_core::{Id, Timestamp};
use serde::{Deserialize, Serialize};

use super::applications::load_app;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParams};
use crate::routes::crud::{self};
use crate::scopes::{covers, grantable};
use crate::state::AppState;
use crate::views::Reply;

const LIST: ListSpec = ListSpec {
    sort_fields: &["name", "status", "id", "creationDate"],
    filter_fields: &["name", "status"],
    default_per_page: 1000,
};

/// An application API token as the API shows it, without the secret.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenView {
    /// Id.
    id: Id,
    /// The same id.
    api_token_id: Id,
    /// The application.
    owner_id: Id,
    /// Always `application`.
    owner_type: &'static str,
    /// Name.
    name: String,
    /// Description.
    description: String,
    /// Scopes held.
    scope: Vec<String>,
    /// `active` or `inactive`.
    status: &'static str,
    /// Creation instant.
    creation_date: Timestamp,
    /// Last change.
    last_updated: Timestamp,
    /// When it stops working; absent when never.
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_date: Option<Timestamp>,
}

impl TokenView {
    fn of(t: &ApiToken) -> Self {
        TokenView {
            id: t.id.clone(),
            api_token_id: t.id.clone(),
            owner_id: t.application_id.clone(),
            owner_type: "application",
            name: t.name.clone(),
            description: t.description.clone(),
            scope: t.scope.clone(),
            status: t.status.as_str(),
            creation_date: t.creation_date,
            last_updated: t.last_updated,
            expiration_date: t.expiration_date,
        }
    }
}

/// A new token: the view plus the token itself, shown this once.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct TokenCreated {
    #[serde(flatten)]
    view: TokenView,
    /// The bearer token.
    token: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TokenPost {
    name: String,
    #[serde(default)]
    description: String,
    expiration_date: Option<String>,
    scope: Option<Vec<String>>,
    status: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TokenPatch {
    name: Option<String>,
    description: Option<String>,
    status: Option<String>,
    expiration_date: Option<String>,
}

fn parse_status(s: &str) -> ApiResult<TokenStatus> {
    TokenStatus::parse(s)
        .ok_or_else(|| ApiError::validation("status: must be one of active, inactive"))
}

fn parse_expiration(s: &str) -> ApiResult<Timestamp> {
    Timestamp::parse_rfc3339(s).ok_or_else(|| {
        ApiError::validation(format!(
            "expirationDate: expected an RFC 3339 date-time, got {s:?}"
        ))
    })
}

fn check_text(name: &str, description: &str) -> ApiResult<()> {
    if name.is_empty() || name.chars().count() > 255 {
        return Err(ApiError::validation(
            "name: must be between 1 and 255 characters",
        ));
    }
    if description.chars().count() > 32767 {
        return Err(ApiError::validation(
            "description: must be at most 32767 characters",
        ));
    }
    Ok(())
}

pub(crate) async fn create(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    JsonBody(body): JsonBody<TokenPost>,
) -> ApiResult<(StatusCode, Reply<TokenCreated>)> {
    let app = load_app(&state, &path).await?;
    check_text(&body.name, &body.description)?;
    let scope = body.scope.unwrap_or_else(|| vec!["all.Application".into()]);
    if scope.is_empty() {
        return Err(ApiError::validation("scope: must hold at least one scope"));
    }
    if let Some((i, bad)) = scope.iter().enumerate().find(|(_, s)| !grantable(s)) {
        return Err(ApiError::validation(format!(
            "scope[{i}]: {bad:?} is not a scope an application API token can hold"
        )));
    }
    check_within(&who, &scope)?;
    let status = body.status.as_deref().map(parse_status).transpose()?;
    let expiration_date = body
        .expiration_date
        .as_deref()
        .map(parse_expiration)
        .transpose()?;
    let now = state.clock.now();
    let secret = new_token(APP_PREFIX);
    let token = ApiToken {
        id: state.ids.next(now),
        application_id: app.id,
        name: body.name,
        description: body.description,
        scope,
        status: status.unwrap_or(TokenStatus::Active),
        expiration_date,
        token_hash: hash_token(&secret),
        creation_date: now,
        last_updated: now,
        version: 1,
    };
    state.store.insert_api_token(&token).await?;
    let view = TokenView::of(&token);
    Ok((
        StatusCode::CREATED,
        Reply(TokenCreated {
            view,
            token: secret,
        }),
    ))
}

/// A token (not an admin) may only create or manage tokens within the scopes it holds itself.
fn check_within(who: &Principal, scope: &[String]) -> ApiResult<()> {
    let Principal::Token(t) = who else {
        return Ok(());
    };
    match scope.iter().enumerate().find(|(_, s)| !covers(&t.scope, s)) {
        None => Ok(()),
        Some((i, s)) => Err(ApiError::new(
            crate::error::ErrorKind::Forbidden,
            format!(
                "scope[{i}]: {s:?} is not within the calling token's scopes; a token can only \
                 create or manage tokens within the scopes it holds"
            ),
        )),
    }
}

pub(crate) async fn update(
    State(state): State<AppState>,
    who: Principal,
    path: PathParams,
    JsonBody(body): JsonBody<TokenPatch>,
) -> ApiResult<Reply<TokenView>> {
    let t = crud::load::<ApiToken>(&state, &path).await?;
    // Re-enabling or extending a wider token would widen what the caller can reach.
    check_within(&who, &t.scope)?;
    let mut next = t.clone();
    if let Some(n) = body.name {
        next.name = n;
    }
    if let Some(d) = body.description {
        next.description = d;
    }
    check_text(&next.name, &next.description)?;
    if let Some(s) = body.status {
        next.status = parse_status(&s)?;
    }
    if let Some(e) = body.expiration_date {
        next.expiration_date = Some(parse_expiration(&e)?);
    }
    next.last_updated = state.clock.now();
    next.version = t.version + 1;
    state.store.update_api_token(&next, t.version).await?;
    Ok(Reply(TokenView::of(&next)))
}

crud::owned!(
    ApiToken,
    "API token",
    "apiTokenId",
    LIST,
    get: get_api_token,
    page(s, app, p, q): s.list_api_tokens(app, p),
    delete: delete_api_token,
    view(TokenView): TokenView::of
);
