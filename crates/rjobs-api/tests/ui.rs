//! The dashboard's routes through the router (no socket): every `/ui/...` page path answers the
//! app shell (so deep links load directly), every embedded asset answers with its own content
//! type, the strict Content-Security-Policy and a working ETag, an unknown asset is a JSON 404
//! (never the shell), none of it needs a token, and the API the dashboard calls still does.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use rjobs_api::router;
use rjobs_api::ui::{Kind, ASSETS, CSP, SHELL};
use serde_json::Value;
use tower::ServiceExt;

mod common;

const ADMIN: &str = "ui-admin-token";

async fn app(dir: &tempfile::TempDir) -> Router {
    router(common::state(dir, common::settings(ADMIN)).await)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, path: &str) -> Answer {
    send(app, Request::get(path).body(Body::empty()).unwrap()).await
}

fn header(a: &Answer, name: header::HeaderName) -> &str {
    a.headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assert_hardened(a: &Answer, what: &str) {
    assert_eq!(header(a, header::CONTENT_SECURITY_POLICY), CSP, "{what}");
    assert!(CSP.starts_with("default-src 'self'"), "{CSP}");
    assert!(!CSP.contains("unsafe"), "{CSP}");
    assert_eq!(
        header(a, header::X_CONTENT_TYPE_OPTIONS),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(a, header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(header(a, header::CACHE_CONTROL), "no-cache", "{what}");
}

#[tokio::test]
async fn every_page_path_is_the_shell_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let id = "65a1b2c3d4e5f60718293a4b";
    for path in [
        "/ui/".to_string(),
        "/ui/applications".to_string(),
        format!("/ui/applications/{id}/resource-jobs"),
        format!("/ui/applications/{id}/resource-jobs/{id}"),
        format!("/ui/applications/{id}/resource-jobs/{id}/executions/{id}?status=failed"),
        "/ui/some/page/the/app/shows/as/not/found".to_string(),
    ] {
        let a = get(&app, &path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(
            header(&a, header::CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(a.body, SHELL, "{path}");
        assert_hardened(&a, &path);
    }
    let shell = std::str::from_utf8(SHELL).unwrap();
    assert!(shell.contains(r#"<script type="module" src="/ui/assets/app.js"></script>"#));
    // No inline script or style (the CSP would block them) and nothing from another host.
    assert!(!shell.contains("<script>") && !shell.contains("style="));

    let a = get(&app, "/ui").await;
    assert_eq!(a.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&a, header::LOCATION), "/ui/");
}

#[tokio::test]
async fn assets_have_their_types_and_unknown_ones_are_json_404s() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let mut kinds = std::collections::BTreeSet::new();
    for asset in ASSETS {
        let path = format!("/ui/assets/{}", asset.name);
        let a = get(&app, &path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let want = match asset.kind {
            Kind::Html => "text/html; charset=utf-8",
            Kind::JavaScript => "text/javascript; charset=utf-8",
            Kind::Css => "text/css; charset=utf-8",
            Kind::Svg => "image/svg+xml",
        };
        assert_eq!(header(&a, header::CONTENT_TYPE), want, "{path}");
        assert_eq!(a.body, asset.body, "{path}");
        assert_hardened(&a, &path);
        kinds.insert(want);
        // Nothing is loaded from another host: the only absolute URL is the SVG namespace.
        let text = std::str::from_utf8(asset.body).unwrap();
        let urls = text.matches("http://").count() + text.matches("https://").count();
        let svg_ns = text.matches("http://www.w3.org/2000/svg").count();
        assert_eq!(urls, svg_ns, "{path} names another host");
    }
    assert_eq!(kinds.len(), 3, "scripts, a style sheet and an image");

    for path in [
        "/ui/assets/nope.js",
        "/ui/assets/",
        "/ui/assets/..%2Fapp.js",
        "/ui/assets/app.js.map",
    ] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["type"], "NotFound", "{path}");
        assert!(
            v["message"].as_str().unwrap().contains("/ui/assets/"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn etag_revalidates_and_other_methods_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    let a = get(&app, "/ui/assets/app.js").await;
    let tag = header(&a, header::ETAG).to_string();
    assert!(tag.starts_with('"') && tag.len() == 34, "{tag}");
    let again = send(
        &app,
        Request::get("/ui/assets/app.js")
            .header(header::IF_NONE_MATCH, &tag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(header(&again, header::ETAG), tag);
    let stale = send(
        &app,
        Request::get("/ui/assets/app.js")
            .header(header::IF_NONE_MATCH, "\"0000\"")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    // Different files, different tags.
    let css = get(&app, "/ui/assets/app.css").await;
    assert_ne!(header(&css, header::ETAG), tag);

    let head = send(
        &app,
        Request::head("/ui/applications")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());

    let post = send(&app, Request::post("/ui/").body(Body::empty()).unwrap()).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(v["type"], "MethodNotAllowed");
}

#[tokio::test]
async fn the_api_the_dashboard_calls_still_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    // What the dashboard's first call is (listing applications): 401 without the token.
    let a = get(&app, "/applications?perPage=1").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let v: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["type"], "Unauthorized");
    // Having loaded the dashboard gives no session: no cookie is ever set.
    let shell = get(&app, "/ui/applications").await;
    assert!(shell.headers.get(header::SET_COOKIE).is_none());
    let ok = send(
        &app,
        Request::get("/applications?perPage=1")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let id = "65a1b2c3d4e5f60718293a4b";
    let events = get(
        &app,
        &format!("/applications/{id}/resource-jobs/{id}/executions/{id}/events"),
    )
    .await;
    assert_eq!(events.status, StatusCode::UNAUTHORIZED);
}
