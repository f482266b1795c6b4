//! A real `rjobs serve` process for the benchmarks that measure through the binary
//! (`engine_ack`, `worker_claim`): finding the binary, starting and stopping it, its RSS, and
//! the HTTP calls and percentiles they share.

// A benchmark measures elapsed wall time itself; the injected-Clock rule is for product code.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::ADMIN;

/// The `rjobs` binary to run: `$RJOBS_BIN`, else `$CARGO_TARGET_DIR/release/rjobs`, else `rjobs`
/// next to this binary, else the workspace's `target/release/rjobs`.
pub fn binary() -> String {
    if let Ok(b) = std::env::var("RJOBS_BIN") {
        return b;
    }
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return format!("{t}/release/rjobs");
    }
    // Next to this binary (`cargo run --release` puts both in `<target>/release/`).
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
    {
        let sibling = dir.join("rjobs");
        if sibling.exists() {
            return sibling.display().to_string();
        }
    }
    format!("{}/../../target/release/rjobs", env!("CARGO_MANIFEST_DIR"))
}

/// An `rjobs serve` child process on a free port, started with the [`ADMIN`] token.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Starts `bin serve` on the database `url` and waits until it listens.
    pub fn start(bin: &str, url: &str) -> anyhow::Result<Server> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .env("RJOBS_ADMIN_TOKEN", ADMIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("spawn {bin} (build it with cargo build --release -p rjobs)")
            })?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().context("rjobs exited before listening")??;
            if let Some(rest) = line.strip_prefix("rjobs listening on ") {
                break rest.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Server { child, base })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (VmHWM, VmRSS) in MiB.
    pub fn rss(&self) -> anyhow::Result<(f64, f64)> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let field = |name: &str| -> anyhow::Result<f64> {
            let line = s
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("{name} missing"))?;
            let kb: f64 = line
                .split_whitespace()
                .nth(1)
                .context("malformed line")?
                .parse()?;
            Ok(kb / 1024.0)
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// SIGTERM, then waits up to 10 s (killed after that).
    pub fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        for _ in 0..200 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `method url` with the admin token and an optional JSON body: (status, JSON or text).
pub async fn call_status(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut rb = http
        .request(method, url)
        .bearer_auth(ADMIN)
        .timeout(Duration::from_secs(600));
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, v))
}

/// [`call_status`] that fails unless the status is `want`.
pub async fn must(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
    want: u16,
) -> anyhow::Result<Value> {
    let (st, v) = call_status(http, method.clone(), url, body).await?;
    if st != want {
        bail!("{method} {url}: expected {want}, got {st}: {v}");
    }
    Ok(v)
}

/// The system clock in Unix milliseconds (latencies against the server's timestamps).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The `p` quantile (0–1) of `sorted` (0 when empty).
pub fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
