//! End-to-end harness: the real `rjobs` binary on a free port, on SQLite (a temp file) or
//! PostgreSQL (a fresh database), driven over HTTP.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

pub const ADMIN: &str = "test-admin-token";

/// The header line of an execution's CSV report.
pub const REPORT_HEADER: &str =
    "iterationId,resourceId,resourceName,status,attempts,startedAt,completedAt,message,accumulator";

/// For each `async fn name(db: Db)` given, a test per backend: `name::sqlite` and
/// `name::postgres` (two tests, so that a failure names its backend). On a two-thread runtime,
/// or on the default one with `current_thread:` first.
#[macro_export]
macro_rules! on_both_backends {
    (current_thread: $($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(@each #[tokio::test] $($name),+);
    };
    ($($name:ident),+ $(,)?) => {
        $crate::on_both_backends!(
            @each #[tokio::test(flavor = "multi_thread", worker_threads = 2)] $($name),+
        );
    };
    (@each #[$test:meta] $($name:ident),+) => {$(
        mod $name {
            #[$test]
            async fn sqlite() {
                super::$name($crate::common::Db::Sqlite).await;
            }

            #[$test]
            async fn postgres() {
                super::$name($crate::common::Db::Postgres).await;
            }
        }
    )+};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Where the server keeps its data; survives restarts of [`Server`].
pub struct Data {
    pub url: String,
    _dir: tempfile::TempDir,
    pg: Option<rjobs_store::testing::TestDb>,
}

impl Data {
    pub async fn new(db: Db) -> Data {
        let dir = tempfile::tempdir().unwrap();
        match db {
            Db::Sqlite => Data {
                url: format!("sqlite://{}/rjobs.db", dir.path().display()),
                _dir: dir,
                pg: None,
            },
            Db::Postgres => {
                let t = rjobs_store::testing::TestDb::create().await.unwrap();
                Data {
                    url: t.url.clone(),
                    _dir: dir,
                    pg: Some(t),
                }
            }
        }
    }

    pub async fn cleanup(self) {
        if let Some(pg) = self.pg {
            pg.drop_db().await.unwrap();
        }
    }
}

pub struct Server {
    pub child: Child,
    pub base: String,
    /// Lines the server printed on stdout before it was ready.
    pub banner: Vec<String>,
}

impl Server {
    /// Starts the binary with `RJOBS_ADMIN_TOKEN` set, plus `envs`.
    pub fn start(data: &Data, envs: &[(&str, &str)]) -> Server {
        let mut all = vec![("RJOBS_ADMIN_TOKEN", ADMIN)];
        all.extend_from_slice(envs);
        Self::start_raw(data, &all)
    }

    /// Starts the binary with exactly `envs` (besides the database and port).
    ///
    /// The server's stderr is discarded, unless `RJOBS_E2E_STDERR=1`: then each of its lines is
    /// copied to the test's stderr, prefixed with the server's pid (`RUST_LOG` is passed on).
    pub fn start_raw(data: &Data, envs: &[(&str, &str)]) -> Server {
        let show_stderr = std::env::var("RJOBS_E2E_STDERR").is_ok_and(|v| v == "1");
        let stderr = if show_stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        Self::spawn(data, envs, stderr)
    }

    /// Starts the binary like [`Server::start`], with its stderr (the log) written to `log`.
    pub fn start_logged(data: &Data, envs: &[(&str, &str)], log: &std::path::Path) -> Server {
        let mut all = vec![("RJOBS_ADMIN_TOKEN", ADMIN)];
        all.extend_from_slice(envs);
        Self::spawn(data, &all, std::fs::File::create(log).unwrap().into())
    }

    /// Spawns `rjobs serve` with exactly `envs`; a piped `stderr` is copied to the test's.
    fn spawn(data: &Data, envs: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rjobs"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &data.url,
        ])
        .env_remove("RJOBS_ADMIN_TOKEN")
        // The server rejects unknown `RJOBS_` variables.
        .env_remove("RJOBS_E2E_STDERR")
        .stdout(Stdio::piped())
        .stderr(stderr);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn rjobs");
        if let Some(err) = child.stderr.take() {
            let pid = child.id();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    eprintln!("[rjobs {pid}] {line}");
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let base = loop {
            let line = lines
                .next()
                .expect("rjobs exited before listening")
                .unwrap();
            if let Some(rest) = line.strip_prefix("rjobs listening on ") {
                break rest.trim().to_string();
            }
            banner.push(line);
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base,
            banner,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGSTOP: the process freezes (its sockets stay open) until [`Server::sigcont`].
    pub fn sigstop(&self) {
        send_signal(self.pid(), "STOP");
    }

    /// SIGCONT: a stopped process resumes.
    pub fn sigcont(&self) {
        send_signal(self.pid(), "CONT");
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..100 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().unwrap();
        panic!("rjobs did not exit within 5 s of SIGTERM");
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn send_signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig} {pid} failed: {st}");
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP client returning (status, body as JSON).
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    pub fn new() -> Client {
        Client {
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method.parse().unwrap(), url)
            .timeout(Duration::from_secs(30));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.unwrap();
        Self::decode(resp).await
    }

    pub async fn raw(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut rb = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        let resp = rb.body(body).send().await.unwrap();
        Self::decode(resp).await
    }

    /// `GET path` as the admin: (status, body).
    pub async fn admin_get(&self, srv: &Server, path: &str) -> (u16, Value) {
        self.call("GET", &srv.url(path), Some(ADMIN), None).await
    }

    /// Executes the job at `job` (`/applications/{app}/resource-jobs/{id}`) with its default
    /// context, as the admin; the execution's path.
    pub async fn execute(&self, srv: &Server, job: &str) -> String {
        let (st, v) = self
            .call(
                "POST",
                &srv.url(&format!("{job}/execute")),
                Some(ADMIN),
                Some(&serde_json::json!({})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        format!("{job}/executions/{}", v["executionId"].as_str().unwrap())
    }

    /// Creates an application as the admin; its id.
    pub async fn create_app(&self, srv: &Server, name: &str) -> String {
        let body = serde_json::json!({ "name": name });
        let (st, v) = self
            .call("POST", &srv.url("/applications"), Some(ADMIN), Some(&body))
            .await;
        assert_eq!(st, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// Creates one device per name in one bulk call, as the admin; the `{created, ids}` answer.
    pub async fn bulk_devices(
        &self,
        srv: &Server,
        app: &str,
        names: impl Iterator<Item = String>,
    ) -> Value {
        let devs: Vec<Value> = names.map(|n| serde_json::json!({ "name": n })).collect();
        let url = srv.url(&format!("/applications/{app}/devices/bulk"));
        let (st, v) = self
            .call("POST", &url, Some(ADMIN), Some(&Value::Array(devs)))
            .await;
        assert_eq!(st, 201, "{v}");
        v
    }

    async fn decode(resp: reqwest::Response) -> (u16, Value) {
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("non-JSON body with status {status}: {text:?}"));
        (status, v)
    }
}

/// Asserts an error body: exact status and type, and a message containing `needle`.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, kind: &str, needle: &str) {
    assert_eq!(got.0, status, "status of {:?}", got.1);
    assert_eq!(got.1["type"], kind, "type of {:?}", got.1);
    let msg = got.1["message"].as_str().expect("message is a string");
    assert!(
        msg.to_lowercase().contains(&needle.to_lowercase()),
        "message {msg:?} should mention {needle:?}"
    );
    assert_eq!(
        got.1.as_object().unwrap().len(),
        2,
        "only type and message: {:?}",
        got.1
    );
}
