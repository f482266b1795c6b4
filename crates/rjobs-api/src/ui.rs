//! The web dashboard at `/ui/`: a small single-page app of plain ES modules, embedded in the
//! binary with `include_bytes!` so the server needs no files beside it and the browser loads
//! nothing from any other host.
//!
//! Why this shape: the dashboard only reads and drives the public API with the user's token, so
//! the server's part is static — one HTML shell for every `/ui/...` path (the app routes deep
//! links in the browser) and a fixed list of assets. A fixed table keeps that list explicit
//! (an asset that is not in it is a 404, never the shell, so a missing script fails loudly) and
//! needs no build step or embedding crate. Nothing here needs a token: the assets hold no data,
//! and every API call the app makes carries the token like any other client's.
//!
//! Every answer carries a strict `Content-Security-Policy` (`default-src 'self'`, no inline
//! scripts or styles, no framing), `nosniff`, and an `ETag` with `Cache-Control: no-cache`, so a
//! browser revalidates (a 304 costs one round trip) and a new binary's assets are never stale.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorKind};

/// The policy sent with every dashboard answer. `connect-src 'self'` is what the API calls and
/// the event stream need; `img-src data:` is for nothing but the browser's own form controls.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What an asset is, for its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The app shell.
    Html,
    /// An ES module.
    JavaScript,
    /// A style sheet.
    Css,
    /// An SVG image (the icon).
    Svg,
}

impl Kind {
    /// The `Content-Type` header value.
    pub const fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html; charset=utf-8",
            Kind::JavaScript => "text/javascript; charset=utf-8",
            Kind::Css => "text/css; charset=utf-8",
            Kind::Svg => "image/svg+xml",
        }
    }
}

/// One embedded file, served at `/ui/assets/{name}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    /// The name under `/ui/assets/`.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its bytes.
    pub body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $kind:ident),* $(,)?) => {
        &[$(Asset {
            name: $name,
            kind: Kind::$kind,
            body: include_bytes!(concat!("../ui/", $name)),
        }),*]
    };
}

/// Every asset of the dashboard.
pub const ASSETS: &[Asset] = assets! {
    "app.js" => JavaScript,
    "api.js" => JavaScript,
    "stream.js" => JavaScript,
    "dom.js" => JavaScript,
    "format.js" => JavaScript,
    "chart.js" => JavaScript,
    "page-applications.js" => JavaScript,
    "page-jobs.js" => JavaScript,
    "page-job.js" => JavaScript,
    "page-execution.js" => JavaScript,
    "iterations.js" => JavaScript,
    "app.css" => Css,
    "icon.svg" => Svg,
};

/// The shell served for every page path.
pub const SHELL: &[u8] = include_bytes!("../ui/index.html");

/// What a path under `/ui/` is.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// A page of the app: the shell, which routes in the browser.
    Shell,
    /// An embedded asset.
    Asset(&'static Asset),
    /// Under `assets/` but not one of them.
    Missing,
}

/// Decides what `/ui/{rest}` serves (`rest` without the leading `/ui/`).
pub fn resolve(rest: &str) -> Target {
    match rest.strip_prefix("assets/") {
        Some(name) => ASSETS
            .iter()
            .find(|a| a.name == name)
            .map_or(Target::Missing, Target::Asset),
        None => Target::Shell,
    }
}

/// The dashboard's routes; they take no state and no token.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(shell))
        .route("/ui/{*rest}", get(any))
}

async fn shell(headers: HeaderMap) -> Response {
    send(&headers, Kind::Html, SHELL)
}

async fn any(Path(rest): Path<String>, headers: HeaderMap) -> Response {
    match resolve(&rest) {
        Target::Shell => send(&headers, Kind::Html, SHELL),
        Target::Asset(a) => send(&headers, a.kind, a.body),
        Target::Missing => ApiError::new(
            ErrorKind::NotFound,
            format!("Path /ui/{rest} was not found"),
        )
        .into_response(),
    }
}

/// A strong validator of the content (the first 16 bytes of its SHA-256).
fn etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn send(req: &HeaderMap, kind: Kind, body: &'static [u8]) -> Response {
    let tag = etag(body);
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, kind.content_type())], body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_the_shell_and_assets_are_exact() {
        assert_eq!(resolve(""), Target::Shell);
        assert_eq!(resolve("applications/abc/resource-jobs"), Target::Shell);
        assert_eq!(resolve("assets"), Target::Shell);
        assert_eq!(resolve("assets/nope.js"), Target::Missing);
        assert_eq!(resolve("assets/../app.js"), Target::Missing);
        match resolve("assets/app.js") {
            Target::Asset(a) => assert_eq!(a.kind, Kind::JavaScript),
            other => panic!("expected the asset, got {other:?}"),
        }
    }

    #[test]
    fn every_module_the_shell_or_a_module_imports_is_embedded() {
        // An import of a file missing from the table would be a 404 in the browser.
        let mut sources = vec![std::str::from_utf8(SHELL).unwrap_or("")];
        sources.extend(
            ASSETS
                .iter()
                .map(|a| std::str::from_utf8(a.body).unwrap_or("")),
        );
        let mut referenced = 0;
        for src in sources {
            for part in src
                .split("/ui/assets/")
                .skip(1)
                .chain(src.split("from \"./").skip(1))
            {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                    .collect();
                referenced += 1;
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{name:?} is referenced but not embedded"
                );
            }
        }
        assert!(referenced >= ASSETS.len(), "found {referenced} references");
    }
}
