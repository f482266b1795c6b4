//! Crash test through the real binary: an execution over many devices, an external worker
//! acknowledging iterations over HTTP, and the server killed with SIGKILL at random moments and
//! restarted on the same database (on a new port). At the end every iteration must have ended
//! exactly once, in a final state, with the summary matching the report.
//!
//! The seed of the kill schedule and of the worker's deliberately dropped acks is printed; set
//! `RJOBS_CRASH_SEED=<n>` to replay a schedule.

// Real processes and wall-clock deadlines: the real clock on purpose.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::{Client, Data, Db, Server, ADMIN, REPORT_HEADER};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const MAX_RETRIES: u64 = 5;
// A restarted node gets a new port, hence a new node id: on PostgreSQL it takes over the dead
// process's lease when it expires, so keep the lease short.
const SERVER_ENV: &[(&str, &str)] = &[
    ("RJOBS_LIMITS__MIN_ITERATION_TIMEOUT_MS", "2000"),
    ("RJOBS_CLUSTER__LEASE_MS", "1500"),
];

/// What the worker saw, shared by its tasks.
#[derive(Default)]
struct WorkerLog {
    /// Iteration id → number of 200 responses to an acknowledgement.
    acked_ok: Mutex<HashMap<String, u32>>,
    conflicts: AtomicU64,
    not_found: AtomicU64,
    other_status: AtomicU64,
    conn_errors: AtomicU64,
    dropped: AtomicU64,
    lists: AtomicU64,
}

/// The current base URL (changes on restart) and a stop flag.
struct Shared {
    base: RwLock<String>,
    stop: AtomicBool,
    log: WorkerLog,
}

impl Shared {
    fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }
}

fn seed() -> u64 {
    match std::env::var("RJOBS_CRASH_SEED") {
        Ok(s) => s.parse().expect("RJOBS_CRASH_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// Devices whose iterations are never acknowledged: every attempt times out, the last one for good.
fn never_ack(name: &str) -> bool {
    name.strip_prefix("dev-")
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|n| n % 1000 == 7)
}

/// Whether the worker "loses" this attempt's acknowledgement (decided once per attempt, so the
/// attempt really times out and is retried).
fn dropped(seed: u64, id: &str, attempt: u64, per_mille: u32) -> bool {
    let mut h = DefaultHasher::new();
    (seed, id, attempt).hash(&mut h);
    h.finish() % 1000 < u64::from(per_mille)
}

/// One worker task: list in-progress iterations, acknowledge its share of them (success, message =
/// resource name), skipping `drop_per_mille` of them on purpose so their attempts time out and are
/// retried. Every error is tolerated: the server may be down at any moment.
async fn worker(
    shared: Arc<Shared>,
    path: String,
    index: usize,
    of: usize,
    drop_per_mille: u32,
    seed: u64,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let log = &shared.log;
    while !shared.stop.load(Ordering::Relaxed) {
        let base = shared.base();
        let list = http
            .get(format!(
                "{base}{path}/iterations?status=inProgress&perPage=1000&page=0"
            ))
            .bearer_auth(ADMIN)
            .send()
            .await;
        let items: Vec<Value> = match list {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(v) => v["items"].as_array().cloned().unwrap_or_default(),
                Err(_) => {
                    log.conn_errors.fetch_add(1, Ordering::Relaxed);
                    Vec::new()
                }
            },
            Ok(_) => {
                log.other_status.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
            Err(_) => {
                log.conn_errors.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
        };
        log.lists.fetch_add(1, Ordering::Relaxed);
        if items.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        for (i, it) in items.iter().enumerate() {
            if i % of != index || shared.stop.load(Ordering::Relaxed) {
                continue;
            }
            let id = it["id"].as_str().unwrap().to_string();
            let name = it["resourceName"].as_str().unwrap_or_default().to_string();
            let attempt = it["attempts"].as_u64().unwrap_or(0);
            if never_ack(&name) || dropped(seed, &id, attempt, drop_per_mille) {
                log.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let res = http
                .post(format!("{base}{path}/iterations/{id}/acknowledge"))
                .bearer_auth(ADMIN)
                .json(&json!({"success": true, "message": name}))
                .send()
                .await;
            match res {
                Ok(r) => match r.status().as_u16() {
                    200 => *log.acked_ok.lock().unwrap().entry(id).or_default() += 1,
                    409 => {
                        log.conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    404 => {
                        log.not_found.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        log.other_status.fetch_add(1, Ordering::Relaxed);
                    }
                },
                Err(_) => {
                    log.conn_errors.fetch_add(1, Ordering::Relaxed);
                    // The server is probably down: look for the new base URL.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    break;
                }
            }
        }
    }
}

/// Splits RFC 4180 CSV text into records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut rec = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => rec.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                rec.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut rec));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !rec.is_empty() {
        rec.push(field);
        records.push(rec);
    }
    records
}

async fn must(c: &Client, method: &str, url: &str, body: Option<&Value>, want: u16) -> Value {
    let (st, v) = c.call(method, url, Some(ADMIN), body).await;
    assert_eq!(st, want, "{method} {url}: {v}");
    v
}

fn restart(data: &Data) -> Server {
    tokio::task::block_in_place(|| Server::start(data, SERVER_ENV))
}

async fn crash_run(db: Db, devices: usize, kills: std::ops::RangeInclusive<usize>) {
    let seed = seed();
    println!("e2e_crash[{db:?}]: seed {seed} (replay with RJOBS_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let kills = rng.gen_range(kills);
    let started = Instant::now();
    let data = Data::new(db).await;
    let mut server = restart(&data);
    let c = Client::new();

    let app = must(
        &c,
        "POST",
        &server.url("/applications"),
        Some(&json!({"name": "crash"})),
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut device_ids = HashSet::new();
    for chunk in (0..devices).collect::<Vec<_>>().chunks(5000) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"name": format!("dev-{i:07}")}))
            .collect();
        let v = must(
            &c,
            "POST",
            &server.url(&format!("/applications/{app}/devices/bulk")),
            Some(&Value::Array(body)),
            201,
        )
        .await;
        for id in v["ids"].as_array().expect("ids") {
            device_ids.insert(id.as_str().unwrap().to_string());
        }
    }
    assert_eq!(device_ids.len(), devices);
    let job = must(
        &c,
        "POST",
        &server.url(&format!("/applications/{app}/resource-jobs")),
        Some(&json!({
            "name": "crash job",
            "resourceType": "device",
            "maxIterationConcurrency": 100,
            "iterationTimeout": 3000,
            "retryOnTimeout": true,
            "maxIterationRetries": MAX_RETRIES,
        })),
        201,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job_path = format!("/applications/{app}/resource-jobs/{job}");
    let v = must(
        &c,
        "POST",
        &server.url(&format!("{job_path}/execute")),
        Some(&json!({})),
        200,
    )
    .await;
    let exec = v["executionId"].as_str().unwrap().to_string();
    let exec_path = format!("{job_path}/executions/{exec}");
    let executed = Instant::now();
    println!(
        "e2e_crash[{db:?}]: {devices} devices, execution {exec} started after {:?}",
        executed - started
    );

    let shared = Arc::new(Shared {
        base: RwLock::new(server.base.clone()),
        stop: AtomicBool::new(false),
        log: WorkerLog::default(),
    });
    const WORKERS: usize = 4;
    let tasks: Vec<_> = (0..WORKERS)
        .map(|i| {
            tokio::spawn(worker(
                shared.clone(),
                exec_path.clone(),
                i,
                WORKERS,
                20,
                seed,
            ))
        })
        .collect();

    // Kill -9 and restart at random moments.
    for k in 0..kills {
        let wait = rng.gen_range(200..=1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        // Sometimes stay down long enough for deadlines to expire while down.
        let down = if rng.gen_bool(0.5) {
            rng.gen_range(0..=3500)
        } else {
            0
        };
        let s = tokio::task::block_in_place(|| {
            server.kill9();
            std::thread::sleep(Duration::from_millis(down));
            Server::start(&data, SERVER_ENV)
        });
        server = s;
        *shared.base.write().unwrap() = server.base.clone();
        println!(
            "e2e_crash[{db:?}]: kill #{} after {wait} ms (t={:?}), down {down} ms, restarted on {}",
            k + 1,
            executed.elapsed(),
            server.base
        );
    }

    // Wait for completion.
    let deadline = Instant::now() + Duration::from_secs(120);
    let final_item = loop {
        let (st, v) = c
            .call("GET", &server.url(&exec_path), Some(ADMIN), None)
            .await;
        assert_eq!(st, 200, "{v}");
        if v["status"] == "completed" {
            break v;
        }
        assert_eq!(v["status"], "inProgress", "{v}");
        assert!(
            Instant::now() < deadline,
            "execution not completed within 120 s (seed {seed}): {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let completed_after = executed.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    // The report: exactly one final row per targeted device.
    let resp = reqwest::Client::new()
        .get(server.url(&format!("{exec_path}/report.csv")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let mut records = parse_csv(&text).into_iter();
    assert_eq!(records.next().unwrap().join(","), REPORT_HEADER);
    let rows: Vec<Vec<String>> = records.collect();
    assert_eq!(rows.len(), devices, "one report row per device");
    let mut ids = HashSet::new();
    let mut resources = HashSet::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut attempts_hist: HashMap<u64, u64> = HashMap::new();
    for r in &rows {
        assert_eq!(r.len(), 9, "{r:?}");
        assert!(ids.insert(r[0].clone()), "duplicate iteration id {}", r[0]);
        assert!(
            r[0].starts_with(&format!("{exec}-")),
            "iteration id {}",
            r[0]
        );
        assert!(
            resources.insert(r[1].clone()),
            "duplicate resource {}",
            r[1]
        );
        let status = r[3].as_str();
        assert!(
            status == "succeeded" || status == "timedOut",
            "iteration {} ended {status}",
            r[0]
        );
        let attempts: u64 = r[4].parse().unwrap();
        assert!(
            (1..=1 + MAX_RETRIES).contains(&attempts),
            "iteration {} made {attempts} attempts",
            r[0]
        );
        assert!(!r[5].is_empty() && !r[6].is_empty(), "timestamps of {r:?}");
        if never_ack(&r[2]) {
            assert_eq!(status, "timedOut", "{} was never acknowledged", r[0]);
        }
        if status == "succeeded" {
            assert_eq!(r[7], r[2], "message of {} is its resource name", r[0]);
        } else {
            assert_eq!(
                attempts,
                1 + MAX_RETRIES,
                "{} timed out for good before its last retry",
                r[0]
            );
        }
        *counts.entry(status.to_string()).or_default() += 1;
        *attempts_hist.entry(attempts).or_default() += 1;
    }
    assert_eq!(
        resources, device_ids,
        "the target set is exactly the devices"
    );

    // The summary equals the counts from the report.
    let s = &final_item["executionSummary"];
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert_eq!(s["succeeded"], n("succeeded"), "{s}");
    assert_eq!(s["timedOut"], n("timedOut"), "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["inProgress"], 0, "{s}");
    assert_eq!(s["remaining"], 0, "{s}");
    let total = s["succeeded"].as_u64().unwrap()
        + s["failed"].as_u64().unwrap()
        + s["timedOut"].as_u64().unwrap();
    assert_eq!(total, devices as u64, "{s}");

    // No acknowledgement was accepted twice, and every accepted one stuck.
    let acked = shared.log.acked_ok.lock().unwrap().clone();
    let by_id: HashMap<&str, &Vec<String>> = rows.iter().map(|r| (r[0].as_str(), r)).collect();
    for (id, times) in &acked {
        assert_eq!(*times, 1, "iteration {id} was acknowledged {times} times");
        let r = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("acked unknown {id}"));
        assert_eq!(r[3], "succeeded", "acked iteration {id} ended {}", r[3]);
    }

    let log = &shared.log;
    let mut hist: Vec<_> = attempts_hist.into_iter().collect();
    hist.sort();
    println!(
        "e2e_crash[{db:?}]: completed {:?} after execute ({:?} total); summary {s}; \
         attempts histogram {hist:?}; acks 200: {}, 409: {}, 404: {}, other: {}, \
         connection errors: {}, deliberately dropped: {}, lists: {}",
        completed_after,
        started.elapsed(),
        acked.len(),
        log.conflicts.load(Ordering::Relaxed),
        log.not_found.load(Ordering::Relaxed),
        log.other_status.load(Ordering::Relaxed),
        log.conn_errors.load(Ordering::Relaxed),
        log.dropped.load(Ordering::Relaxed),
        log.lists.load(Ordering::Relaxed),
    );
    assert_eq!(log.not_found.load(Ordering::Relaxed), 0);
    assert_eq!(log.other_status.load(Ordering::Relaxed), 0);

    drop(server);
    data.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_recovery_sqlite_10k() {
    crash_run(Db::Sqlite, 10_000, 3..=5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crash_recovery_postgres_2k() {
    crash_run(Db::Postgres, 2_000, 2..=2).await;
}
