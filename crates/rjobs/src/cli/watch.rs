//! Following one execution until it ends: `rjobs executions watch` and the demo's progress bar.
//!
//! The watch reads the server's event stream (`…/executions/{id}/events`): `progress` events
//! carry the counts, the rate and the ETA, and `done` ends it. A server without the stream (404)
//! or a stream that breaks falls back to polling `GET .../executions/{id}` every 250 ms (one row
//! read on the server); then the rate and ETA are computed here from what this watcher has seen
//! (not from indicatif's step estimator), so a watch that joins a half-finished execution does
//! not report a burst of thousands per second.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::client::{Client, ClientError};
use super::sse::SseParser;

/// How often the execution is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long the server may stay unreachable during a watch before giving up.
const UNREACHABLE_GRACE: Duration = Duration::from_secs(15);

/// How [`watch`] shows progress while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchStyle {
    /// A live indicatif bar on stderr (drawn only when stderr is a terminal).
    Bar,
    /// One line on stderr each time the counts change (logs, CI, pipes).
    Lines,
    /// Nothing until the end.
    Quiet,
}

impl WatchStyle {
    /// [`WatchStyle::Bar`] on a terminal, [`WatchStyle::Lines`] otherwise.
    pub fn auto() -> WatchStyle {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            WatchStyle::Bar
        } else {
            WatchStyle::Lines
        }
    }
}

/// The `executionSummary` counts of a log item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub in_progress: u64,
    pub remaining: u64,
}

impl Counts {
    /// Reads `item.executionSummary` (missing fields count as 0).
    pub fn of(item: &Value) -> Counts {
        let s = &item["executionSummary"];
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        Counts {
            succeeded: n("succeeded"),
            failed: n("failed"),
            timed_out: n("timedOut"),
            in_progress: n("inProgress"),
            remaining: n("remaining"),
        }
    }

    /// Iterations with a final outcome.
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed + self.timed_out
    }

    /// Every iteration of the execution.
    pub fn total(&self) -> u64 {
        self.done() + self.in_progress + self.remaining
    }

    /// `succeeded 3 · failed 0 · timed out 0 · in progress 1 · remaining 6`
    pub fn line(&self) -> String {
        format!(
            "succeeded {} · failed {} · timed out {} · in progress {} · remaining {}",
            self.succeeded, self.failed, self.timed_out, self.in_progress, self.remaining
        )
    }
}

/// True for `completed`, `canceled` and `errored`: nothing will change any more.
pub fn is_final(status: &str) -> bool {
    matches!(status, "completed" | "canceled" | "errored")
}

/// The monotonic clock for the on-screen rate and ETA. Local wall-time measurement of a UI, not
/// domain time, so it does not go through `rjobs_core::Clock`.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Iterations per second and the estimated time left, from what this watcher observed.
#[derive(Debug)]
struct Pace {
    first: Option<(Instant, u64)>,
}

impl Pace {
    fn observe(&mut self, now: Instant, c: &Counts) -> (Option<f64>, Option<Duration>) {
        let (t0, d0) = *self.first.get_or_insert((now, c.done()));
        let secs = now.duration_since(t0).as_secs_f64();
        if secs < 0.5 || c.done() <= d0 {
            return (None, None);
        }
        let rate = (c.done() - d0) as f64 / secs;
        let left = c.total().saturating_sub(c.done()) as f64;
        (Some(rate), Some(Duration::from_secs_f64(left / rate)))
    }
}

/// `12.5 it/s · ETA 1m04s`, or `… it/s · ETA …` before anything finished.
fn pace_text(rate: Option<f64>, eta: Option<Duration>) -> String {
    let r = rate.map_or("…".to_string(), |r| format!("{r:.1}"));
    let e = eta.map_or("…".to_string(), fmt_duration);
    format!("{r} it/s · ETA {e}")
}

/// `45s`, `3m07s`, `2h05m`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Draws progress as [`WatchStyle`] says.
struct Show {
    bar: Option<ProgressBar>,
    out: WatchStyle,
    last_line: String,
}

impl Show {
    fn draw(&mut self, status: &str, counts: &Counts, rate: Option<f64>, eta: Option<Duration>) {
        let text = match status {
            "inProgress" => format!("{} · {}", counts.line(), pace_text(rate, eta)),
            other => format!("{other} · {} · {}", counts.line(), pace_text(rate, eta)),
        };
        match (&self.bar, self.out) {
            (Some(bar), _) => {
                bar.set_length(counts.total());
                bar.set_position(counts.done());
                bar.set_message(text);
            }
            (None, WatchStyle::Lines) => {
                let key = format!("{status} {}", counts.line());
                if key != self.last_line {
                    eprintln!("{text}");
                    self.last_line = key;
                }
            }
            _ => {}
        }
    }
}

/// Follows one execution until its status is final and returns the final log item: through the
/// server's event stream (`GET …/executions/{exec}/events`), or, when the server has none (404)
/// or the stream breaks, by polling the execution every [`POLL_INTERVAL`]. Server errors (401,
/// an unknown execution, ...) end the watch at once; a server that answered before and then
/// becomes unreachable is retried for a few seconds (a restart should not kill a long watch).
pub async fn watch(
    client: &Client,
    app: &str,
    job: &str,
    exec: &str,
    out: WatchStyle,
) -> anyhow::Result<Value> {
    let path = format!("/applications/{app}/resource-jobs/{job}/executions/{exec}");
    let bar = match out {
        WatchStyle::Bar => {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:20.cyan/blue} {pos}/{len} {msg}",
                )?
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        }
        _ => None,
    };
    let mut show = Show {
        bar,
        out,
        last_line: String::new(),
    };
    let result = match follow_stream(client, &path, &mut show).await {
        // The stream said `done`: the final log item (with its report link) is one read.
        Ok(true) => client.get(&path).await.map_err(anyhow::Error::new),
        Ok(false) => poll(client, &path, &mut show).await,
        Err(e) => Err(e),
    };
    if let Some(bar) = show.bar.take() {
        bar.finish_and_clear();
    }
    result
}

/// Reads the event stream until `done` (true). False when there is no stream to read (a server
/// without one answers 404; an unreachable one is left to [`poll`]'s error handling) or it ended
/// without `done`: the caller polls instead.
async fn follow_stream(client: &Client, path: &str, show: &mut Show) -> anyhow::Result<bool> {
    let mut resp = match client.get_stream(&format!("{path}/events")).await {
        Ok(r) => r,
        Err(e) if e.status() == Some(404) || e.is_transient() => return Ok(false),
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    let mut parser = SseParser::default();
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => return Ok(false),
        };
        pending.extend_from_slice(&chunk);
        // Decode only whole characters; a split one waits for the next chunk.
        let valid = match std::str::from_utf8(&pending) {
            Ok(t) => t.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
        pending.drain(..valid);
        for ev in parser.push(&text) {
            match ev.event.as_str() {
                "progress" => {
                    let v: Value = serde_json::from_str(&ev.data)?;
                    let status = v["status"].as_str().unwrap_or("unknown");
                    let rate = v["rate"].as_f64();
                    let eta = v["eta"].as_f64().map(Duration::from_secs_f64);
                    show.draw(status, &Counts::of(&v), rate.filter(|r| *r > 0.0), eta);
                }
                "done" => return Ok(true),
                _ => {}
            }
        }
    }
}

/// Polls `GET path` every [`POLL_INTERVAL`] until the status is final.
async fn poll(client: &Client, path: &str, show: &mut Show) -> anyhow::Result<Value> {
    let mut pace = Pace { first: None };
    let mut down_since: Option<Instant> = None;
    let mut seen_once = false;
    loop {
        let item = match client.get(path).await {
            Ok(v) => {
                down_since = None;
                seen_once = true;
                v
            }
            // Only a server that answered once is waited for: a wrong --url fails at once.
            Err(e) if e.is_transient() && seen_once => {
                let since = *down_since.get_or_insert_with(now);
                if since.elapsed() > UNREACHABLE_GRACE {
                    return Err(anyhow::Error::new(e));
                }
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            Err(e) => return Err(anyhow::Error::new::<ClientError>(e)),
        };
        let status = item["status"].as_str().unwrap_or("unknown").to_string();
        let counts = Counts::of(&item);
        let (rate, eta) = pace.observe(now(), &counts);
        show.draw(&status, &counts, rate, eta);
        if is_final(&status) {
            return Ok(item);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The end-of-run summary people read: status, counts, and where the report is.
pub fn summary_text(item: &Value) -> String {
    let c = Counts::of(item);
    let id = item["id"].as_str().unwrap_or("?");
    let status = item["status"].as_str().unwrap_or("unknown");
    let mut s = format!("execution {id} {status}: {} iterations\n", c.total());
    s.push_str(&format!("  {}\n", c.line()));
    if let (Some(a), Some(b)) = (
        item["runStartedAt"].as_str(),
        item["runCompletedAt"].as_str(),
    ) {
        s.push_str(&format!("  ran {a} → {b}\n"));
    }
    match item["executionReportUrl"].as_str() {
        Some(u) if !u.is_empty() => s.push_str(&format!("  report: {u}\n")),
        _ => s.push_str("  report: not available yet\n"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_and_summary() {
        let item = json!({"id": "e1", "status": "completed",
            "executionSummary": {"succeeded": 3, "failed": 1, "timedOut": 0, "inProgress": 0, "remaining": 0},
            "executionReportUrl": "http://x/report.csv"});
        let c = Counts::of(&item);
        assert_eq!((c.done(), c.total()), (4, 4));
        let s = summary_text(&item);
        assert!(s.contains("execution e1 completed: 4 iterations"), "{s}");
        assert!(s.contains("succeeded 3 · failed 1"), "{s}");
        assert!(s.contains("report: http://x/report.csv"), "{s}");
        assert!(is_final("canceled") && !is_final("canceling"));
    }

    #[test]
    fn pace_from_observed_progress_only() {
        let t0 = now();
        let mut p = Pace { first: None };
        let c = |done, remaining| Counts {
            succeeded: done,
            remaining,
            ..Default::default()
        };
        // Joining at 500 done must not count those 500 as this watcher's progress.
        assert_eq!(p.observe(t0, &c(500, 500)), (None, None));
        let (rate, eta) = p.observe(t0 + Duration::from_secs(2), &c(520, 480));
        assert!((rate.unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(eta.unwrap().as_secs(), 48);
        assert_eq!(fmt_duration(Duration::from_secs(187)), "3m07s");
        assert_eq!(pace_text(None, None), "… it/s · ETA …");
    }
}
