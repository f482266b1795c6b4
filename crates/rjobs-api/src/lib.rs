//! The HTTP face of rjobs, shaped exactly like the Losant Platform API so its official clients work
//! unchanged: the same paths (no version prefix), field names, status codes, collection envelope
//! and `{"type","message"}` error body.
//!
//! Every route is one row of [`routes::table`], which also guards it (authentication and the
//! scope table, [`scopes`]) and documents it (`/openapi.json`). Handlers are thin: extract
//! ([`extract`]), one call into the store or the engine, shape the response. No SQL lives here. Every failure a
//! client can provoke maps to [`error::ApiError`]; internal errors are logged with their cause and
//! shown only as a generic `InternalError`.

pub mod auth;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod scopes;
pub mod state;
pub mod ui;
pub mod views;

pub use routes::{router, MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use state::{ApiSettings, AppState, PasswordCost};
