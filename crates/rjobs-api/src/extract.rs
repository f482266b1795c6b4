//! Extractors that turn every malformed request into a `Validation` error naming the field:
//! JSON bodies (content type, size, syntax, unknown fields, wrong types), body-less requests that
//! official clients still send `{}` with, query parameters and path ids.
//!
//! One text rule for both backends, applied here so no handler or store has to: JSON strings
//! (keys and values) and query parameters must not contain C0 control characters other than tab,
//! newline and carriage return (NUL above all: PostgreSQL cannot store it in `text`). Such input
//! is a 400 naming the field, on SQLite and PostgreSQL alike. Bytes after the JSON value are a 400
//! too, rather than being silently ignored.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use rjobs_core::text::{find_control, refused_control};
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

/// Whether the JSON text escapes a refused control character anywhere (raw control characters
/// are already a syntax error in JSON strings). A cheap pre-check: only on a hit is the document
/// walked to name the field.
fn escapes_control(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            match bytes.get(i + 1) {
                Some(b'b' | b'f') => return true,
                Some(b'u') => {
                    let hex = bytes
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok());
                    if let Some(c) = hex
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                    {
                        if refused_control(c) {
                            return true;
                        }
                    }
                    i += 6;
                    continue;
                }
                _ => {}
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn control_error(field: &str, c: char) -> ApiError {
    ApiError::validation(rjobs_core::text::control_message(field, c))
}

/// Parses JSON text into `T`, naming the failing field in the error. Refuses control characters
/// (see the module docs) and trailing bytes after the value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if escapes_control(bytes) {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some((path, c)) = find_control(&v) {
                return Err(control_error(&path, c));
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = parse_value(de)?;
    de.end().map_err(|_| {
        ApiError::validation("Malformed JSON body: unexpected characters after the JSON value")
    })?;
    Ok(value)
}

fn parse_value<'de, T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
) -> Result<T, ApiError> {
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
        let map: HashMap<String, String> = form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| !matches!(k.as_ref(), "_actions" | "_links" | "_embedded"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        for (k, v) in &map {
            if let Some(c) = k.chars().chain(v.chars()).find(|c| refused_control(*c)) {
                return Err(control_error(k, c));
            }
        }
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
