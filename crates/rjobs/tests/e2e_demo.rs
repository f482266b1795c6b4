//! `rjobs demo` runs to the end and its output holds: the counts add up, the report exists with
//! one row per device, and the failures are exactly the sensors the built-in API fails.

mod common;

use std::collections::{HashMap, HashSet};

use common::REPORT_HEADER;

/// What `rjobs demo <args>` printed on its Summary line, and its report (which it removes).
struct Demo {
    summary: String,
    report: String,
}

impl Demo {
    /// The report's rows, split on commas (the demo's fields hold none), after its header.
    fn rows(&self) -> Vec<Vec<&str>> {
        let mut lines = self.report.lines();
        assert_eq!(lines.next(), Some(REPORT_HEADER));
        lines.map(|l| l.split(',').collect()).collect()
    }
}

fn demo(args: &[&str]) -> Demo {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rjobs"))
        .arg("demo")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Summary: "))
        .expect("a Summary line")
        .to_string();
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Report: "))
        .and_then(|l| l.split(" (").next())
        .expect("a Report line");
    let report = std::fs::read_to_string(path).unwrap();
    if let Some(dir) = std::path::Path::new(path).parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    Demo { summary, report }
}

#[test]
fn demo_runs_and_its_figures_hold() {
    let d = demo(&["--devices", "2000"]);
    let fields: HashMap<&str, &str> = d
        .summary
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let n = |k: &str| fields[k].parse::<u64>().unwrap();
    assert_eq!(fields["status"], "completed");
    assert_eq!(n("succeeded") + n("failed") + n("timedOut"), 2000);
    assert_eq!((n("inProgress"), n("remaining")), (0, 0));
    assert_eq!(n("failed"), 20, "sensors n%100==7 fail on every attempt");
    let rows = d.rows();
    assert_eq!(rows.len(), 2000, "one row per device");
    let ids: HashSet<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(ids.len(), 2000);
    let mut by_status: HashMap<&str, u64> = HashMap::new();
    for r in &rows {
        *by_status.entry(r[3]).or_default() += 1;
        let attempts: u32 = r[4].parse().unwrap();
        assert!((1..=3).contains(&attempts));
        if r[2].ends_with("13") && r[2][7..].parse::<u32>().unwrap() % 100 == 13 {
            assert_eq!(
                (r[3], attempts),
                ("succeeded", 2),
                "{r:?} recovers on its retry"
            );
        }
        if r[3] == "failed" {
            assert_eq!(attempts, 3, "{r:?}");
            assert_eq!(r[7], "HTTP 500: sensor offline");
        }
    }
    assert_eq!(by_status.get("succeeded").copied(), Some(n("succeeded")));
    assert_eq!(by_status.get("failed").copied(), Some(n("failed")));
}

/// `rjobs demo --mqtt` (the local Mosquitto): the devices acknowledge over MQTT, failing as the
/// sensor API does, and the figures hold the same way.
#[test]
fn demo_over_mqtt_runs_and_its_figures_hold() {
    let d = demo(&["--mqtt", "--devices", "500"]);
    assert!(
        d.summary.starts_with(
            "status=completed succeeded=495 failed=5 timedOut=0 inProgress=0 remaining=0"
        ),
        "{}",
        d.summary
    );
    let rows = d.rows();
    assert_eq!(rows.len(), 500);
    for r in &rows {
        let n: u32 = r[2][7..].parse().unwrap();
        let attempts: u32 = r[4].parse().unwrap();
        match n % 100 {
            7 => assert_eq!(
                (r[3], attempts, r[7]),
                ("failed", 3, "sensor offline"),
                "{r:?}"
            ),
            13 => assert_eq!((r[3], attempts), ("succeeded", 2), "{r:?}"),
            _ => assert_eq!(
                (r[3], attempts, r[7]),
                ("succeeded", 1, "firmware installed"),
                "{r:?}"
            ),
        }
    }
}
