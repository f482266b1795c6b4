//! Following one execution until it ends: `rjobs executions watch` and the demo's progress bar.
//!
//! Why polling: the server offers no push channel, and `GET .../executions/{id}` derives its
//! summary from the iteration records, so a poll every 250 ms is exact and cheap. The rate and ETA
//! are computed here from what this watcher has seen (not from indicatif's step estimator), so a
//! watch that joins a half-finished execution does not report a burst of thousands per second.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

use super::client::{Client, ClientError};

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

/// Polls `GET /applications/{app}/resource-jobs/{job}/executions/{exec}` every
/// [`POLL_INTERVAL`], showing progress as `out` says, until the status is final; returns the final
/// log item. Server errors (404, 401, ...) end the watch at once; a server that answered before and
/// then becomes unreachable is retried for a few seconds (a restart should not kill a long watch).
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
    let mut pace = Pace { first: None };
    let mut last_line = String::new();
    let mut down_since: Option<Instant> = None;
    let mut seen_once = false;
    let result = loop {
        let item = match client.get(&path).await {
            Ok(v) => {
                down_since = None;
                seen_once = true;
                v
            }
            // Only a server that answered once is waited for: a wrong --url fails at once.
            Err(e) if e.is_transient() && seen_once => {
                let since = *down_since.get_or_insert_with(now);
                if since.elapsed() > UNREACHABLE_GRACE {
                    break Err(anyhow::Error::new(e));
                }
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            Err(e) => break Err(anyhow::Error::new::<ClientError>(e)),
        };
        let status = item["status"].as_str().unwrap_or("unknown").to_string();
        let counts = Counts::of(&item);
        let (rate, eta) = pace.observe(now(), &counts);
        let text = match status.as_str() {
            "inProgress" => format!("{} · {}", counts.line(), pace_text(rate, eta)),
            other => format!("{other} · {} · {}", counts.line(), pace_text(rate, eta)),
        };
        match (&bar, out) {
            (Some(bar), _) => {
                bar.set_length(counts.total());
                bar.set_position(counts.done());
                bar.set_message(text);
            }
            (None, WatchStyle::Lines) => {
                let key = format!("{status} {}", counts.line());
                if key != last_line {
                    eprintln!("{text}");
                    last_line = key;
                }
            }
            _ => {}
        }
        if is_final(&status) {
            break Ok(item);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
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
