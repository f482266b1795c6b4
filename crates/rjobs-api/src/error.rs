//! The one API error type. Its JSON body is the original's `{"type": ..., "message": ...}`; the
//! status follows the type. Internal errors keep their cause for the log and show nothing of it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rjobs_core::list::FieldError;
use rjobs_store::StoreError;

/// The error kinds of the API, each with its status and `type` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400
    Validation,
    /// 401
    Unauthorized,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 409
    Conflict,
    /// 408
    Timeout,
    /// 413
    PayloadTooLarge,
    /// 414
    UriTooLong,
    /// 431
    HeadersTooLarge,
    /// 500
    Internal,
    /// 503
    Unavailable,
}

impl ErrorKind {
    /// HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Validation => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorKind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `type` field of the body.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "Validation",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::MethodNotAllowed => "MethodNotAllowed",
            ErrorKind::Conflict => "Conflict",
            ErrorKind::Timeout => "RequestTimeout",
            ErrorKind::PayloadTooLarge => "PayloadTooLarge",
            ErrorKind::UriTooLong => "UriTooLong",
            ErrorKind::HeadersTooLarge => "HeadersTooLarge",
            ErrorKind::Internal => "InternalError",
            ErrorKind::Unavailable => "ServiceUnavailable",
        }
    }
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// Kind (status and type).
    pub kind: ErrorKind,
    /// Human-readable message naming the field or thing at fault.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }
    /// 400 Validation.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
    /// 404 `<what> was not found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} was not found"))
    }
    /// 500, logging `cause` (never shown to the client).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorKind::Internal, "An internal error occurred")
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::validation(e.to_string())
    }
}

/// Every store error has its status here, matched exhaustively: a compare-and-set that lost a
/// race is a 409 the client may retry, never a 500 by a forgotten mapping in a handler.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ApiError::new(
                ErrorKind::Conflict,
                "The record was changed concurrently; retry the request",
            ),
            StoreError::Duplicate(what) => {
                ApiError::validation(format!("{what} is already in use"))
            }
            StoreError::EmptyTarget => {
                ApiError::validation("rerunOf: the re-run's target set is empty")
            }
            e @ (StoreError::Fenced
            | StoreError::InvalidUrl(_)
            | StoreError::Database(_)
            | StoreError::Sqlite(_)
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::Aborted) => ApiError::internal(&e),
        }
    }
}

impl From<rjobs_engine::EngineError> for ApiError {
    fn from(e: rjobs_engine::EngineError) -> Self {
        use rjobs_engine::EngineError as E;
        match e {
            E::Validation(m) => ApiError::validation(m),
            E::NotFound(what) => ApiError::not_found(what.as_str()),
            E::Conflict(m) => ApiError::new(ErrorKind::Conflict, m),
            E::Store(s) => s.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "type": self.kind.as_str(), "message": self.message });
        (self.kind.status(), Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use rjobs_engine::{EngineError, Missing};

    #[test]
    fn store_and_engine_errors_have_their_statuses() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (StoreError::Conflict.into(), 409, "Conflict"),
            (
                StoreError::Duplicate("email".into()).into(),
                400,
                "Validation",
            ),
            (StoreError::EmptyTarget.into(), 400, "Validation"),
            (StoreError::Fenced.into(), 500, "InternalError"),
            (StoreError::Aborted.into(), 500, "InternalError"),
            (StoreError::Corrupt("x".into()).into(), 500, "InternalError"),
            (
                StoreError::InvalidUrl("x".into()).into(),
                500,
                "InternalError",
            ),
            (
                EngineError::Validation("f: bad".into()).into(),
                400,
                "Validation",
            ),
            (
                EngineError::NotFound(Missing::Execution).into(),
                404,
                "NotFound",
            ),
            (
                EngineError::Conflict("stale".into()).into(),
                409,
                "Conflict",
            ),
            (
                EngineError::Store(StoreError::Conflict).into(),
                409,
                "Conflict",
            ),
        ];
        for (e, status, kind) in cases {
            assert_eq!(
                (e.kind.status().as_u16(), e.kind.as_str()),
                (status, kind),
                "{}",
                e.message
            );
        }
        let e: ApiError = EngineError::NotFound(Missing::Iteration).into();
        assert_eq!(e.message, "Iteration was not found");
        let e: ApiError = StoreError::Corrupt("secret detail".into()).into();
        assert!(!e.message.contains("secret detail"), "{}", e.message);
    }
}
