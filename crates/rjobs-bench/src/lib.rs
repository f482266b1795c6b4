//! Benchmarks for rjobs that print figures rather than assert them: they run the real store and
//! router in-process, so the numbers include JSON parsing, validation and the SQL path a client
//! pays for. See `src/bin/bulk_devices.rs`.

use serde_json::Value;

/// The admin token the benchmarks start their servers with.
pub const ADMIN: &str = "bench-admin-token";

/// `method base+path` with the admin token and an optional JSON body; the JSON answer, or an
/// error naming the path and status when it is not a success.
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut rb = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await?;
    let status = resp.status();
    let v: Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!("{path}: {status} {v}");
    }
    Ok(v)
}
