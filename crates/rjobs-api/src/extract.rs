//! Extractors that turn every malformed request into a `Validation` error naming the field:
//! JSON bodies (content type, size, syntax, unknown fields, wrong types), body-less requests that
//! official clients still send `{}` with, query parameters and path ids.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use rjobs_core::Id;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind};
use crate::state::AppState;

/// Reads the body up to the configured limit (413 beyond it).
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                format!("Request body is larger than the limit of {limit} bytes"),
            )
        } else {
            ApiError::validation(format!("Could not read request body: {inner}"))
        }
    })
}

fn is_json(parts_ct: Option<&axum::http::HeaderValue>) -> bool {
    parts_ct
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Parses JSON text into `T`, naming the failing field in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut msg = inner.to_string();
        if let Some(i) = msg.find(" at line ") {
            msg.truncate(i);
        }
        if inner.is_syntax() || inner.is_eof() {
            ApiError::validation(format!("Malformed JSON body: {msg}"))
        } else if path.is_empty() || path == "." {
            ApiError::validation(msg)
        } else {
            ApiError::validation(format!("{path}: {msg}"))
        }
    })
}

/// Reads a required JSON body whose first character must be `open` (`{` or `[`).
async fn json_bytes(
    req: Request,
    state: &AppState,
    open: u8,
) -> Result<axum::body::Bytes, ApiError> {
    let json = is_json(req.headers().get(CONTENT_TYPE));
    let bytes = read_body(req.into_body(), state.settings.body_limit).await?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(ApiError::validation("A JSON body is required"));
    };
    if !json {
        return Err(ApiError::validation(
            "Content-Type must be application/json",
        ));
    }
    if *first != open {
        let what = if open == b'{' {
            "an object"
        } else {
            "an array"
        };
        return Err(ApiError::validation(format!(
            "The JSON body must be {what}"
        )));
    }
    Ok(bytes)
}

/// A required JSON object body of type `T` (put `deny_unknown_fields` on `T` to reject them).
/// Serde would accept a struct written as an array; the first-byte check refuses that.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state, b'{').await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A required JSON array body whose items are `T` (bulk endpoints). Errors name the item index.
#[derive(Debug)]
pub struct JsonArray<T>(pub Vec<T>);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonArray<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(req, state, b'[').await?;
        parse_json(&bytes).map(JsonArray)
    }
}

/// A request that takes no body: accepts none, an empty body, or `{}` (the JS client sends it).
#[derive(Debug)]
pub struct NoBody;

impl FromRequest<AppState> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body(), state.settings.body_limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(serde_json::Value::Object(m)) if m.is_empty() => Ok(NoBody),
            Ok(_) => Err(ApiError::validation(
                "This request takes no body (an empty object is accepted)",
            )),
            Err(_) => Err(ApiError::validation("Malformed JSON body")),
        }
    }
}

/// The query string as a map. The clients' global flags (`_actions`, `_links`, `_embedded`) are
/// dropped here, so no handler has to know about them.
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let map = form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| !matches!(k.as_ref(), "_actions" | "_links" | "_embedded"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Params(map))
    }
}

/// The path parameters, as strings; turn them into ids with [`PathParams::id`].
#[derive(Debug)]
pub struct PathParams(pub HashMap<String, String>);

impl PathParams {
    /// The path parameter `name` as an id (400 naming it if malformed).
    pub fn id(&self, name: &str) -> Result<Id, ApiError> {
        let raw = self.0.get(name).map(String::as_str).unwrap_or("");
        Id::parse(raw).map_err(|_| {
            ApiError::validation(format!(
                "{name}: expected a 24-character hexadecimal id, got {raw:?}"
            ))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(m)| PathParams(m))
            .map_err(|e| ApiError::validation(format!("Invalid path: {e}")))
    }
}
