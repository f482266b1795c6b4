//! Timer triggers: the schedule a `{"type": "timer"}` trigger's config describes, and the pure
//! decision of which instant fires now.
//!
//! A config is either an interval, `{"seconds": N}` (an integer, 1 s to a year), or a cron
//! pattern, `{"cron": "<5 or 6 fields>", "tz": "<IANA zone>"}` (`tz` optional, UTC by default;
//! 6 fields put seconds first, as the original accepts). Cron patterns are parsed by `croner`
//! and zones come from the tz database compiled into `chrono-tz`: no hand-written parser.
//!
//! **Instants are a function of the schedule alone**, never of when a node happened to look:
//! an interval's instants are the multiples of N seconds since the unix epoch, a cron's are its
//! matching seconds in its zone. So every node of a cluster computes the same instants, and the
//! store can let exactly one node claim each of them (`rjobs_store::TimerStore`).
//!
//! [`next_fire`] decides, from the last instant already handled and the current time, whether an
//! instant is due and when to look again. After downtime it fires only the latest missed
//! instant: a timer that was down for an hour fires once at start, not 3,600 times.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use serde_json::{Map, Value};

use crate::def::{FlowDef, FlowError, TriggerDef};
use crate::error::NodeError;

/// The trigger type name.
pub const TIMER: &str = "timer";

/// The longest interval the original allows: a year.
pub const MAX_SECONDS: i64 = 365 * 24 * 3600;

/// Fallback wake-up when a cron search fails at run time (it cannot for a pattern that passed
/// validation, but a scheduler must not spin or stop on it).
const RETRY_MS: i64 = 60_000;

/// When a timer fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every `ms` milliseconds, at the multiples of `ms` since the unix epoch.
    Every {
        /// The interval, at least 1,000.
        ms: i64,
    },
    /// At the seconds a cron pattern matches, in a zone.
    Cron {
        /// The parsed pattern.
        cron: Box<Cron>,
        /// The zone the pattern is read in.
        tz: Tz,
    },
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// Parses and validates a timer trigger's `config`; `at` is the trigger's path
/// (`triggers[0]`), so messages name the field (`triggers[0].config.cron: ...`).
pub fn parse_schedule(config: &Value, at: &str) -> Result<Schedule, FlowError> {
    let empty = Map::new();
    let obj = match config {
        Value::Object(m) => m,
        Value::Null => &empty,
        _ => return Err(FlowError::new(format!("{at}.config"), "must be an object")),
    };
    let field = |k: &str| obj.get(k).filter(|v| !v.is_null());
    match (field("seconds"), field("cron")) {
        (Some(_), Some(_)) => Err(FlowError::new(
            format!("{at}.config"),
            "give either seconds (an interval) or cron (a schedule), not both",
        )),
        (None, None) => Err(FlowError::new(
            format!("{at}.config"),
            "a timer needs seconds (an interval) or cron (a schedule)",
        )),
        (Some(s), None) => {
            if field("tz").is_some() {
                return Err(FlowError::new(
                    format!("{at}.config.tz"),
                    "only applies to a cron schedule",
                ));
            }
            let secs = s
                .as_i64()
                .filter(|n| (1..=MAX_SECONDS).contains(n))
                .ok_or_else(|| {
                    FlowError::new(
                        format!("{at}.config.seconds"),
                        format!("must be a whole number of seconds from 1 to {MAX_SECONDS}"),
                    )
                })?;
            Ok(Schedule::Every { ms: secs * 1000 })
        }
        (None, Some(c)) => {
            let text = c
                .as_str()
                .ok_or_else(|| FlowError::new(format!("{at}.config.cron"), "must be a string"))?;
            let cron = parse_cron(text)
                .map_err(|m| FlowError::new(format!("{at}.config.cron"), m.to_string()))?;
            let tz = match field("tz") {
                None => Tz::UTC,
                Some(Value::String(name)) => Tz::from_str(name.trim()).map_err(|_| {
                    FlowError::new(
                        format!("{at}.config.tz"),
                        format!("{name:?} is not an IANA time zone (e.g. \"America/New_York\")"),
                    )
                })?,
                Some(_) => {
                    return Err(FlowError::new(
                        format!("{at}.config.tz"),
                        "must be a string (an IANA time zone)",
                    ))
                }
            };
            Ok(Schedule::Cron {
                cron: Box::new(cron),
                tz,
            })
        }
    }
}

/// A timer's `key` (its trigger id): absent (empty, to be generated by [`assign_keys`]) or a
/// non-empty string of at most 64 characters.
pub(crate) fn check_key(key: &str, at: &str) -> Result<(), FlowError> {
    if key.chars().count() > 64 || (!key.is_empty() && key.trim().is_empty()) {
        return Err(FlowError::new(
            format!("{at}.key"),
            "a timer's key must be 1 to 64 characters (or left out to generate one)",
        ));
    }
    Ok(())
}

/// Two timers of one flow may not share a key: the key tells their firings apart.
pub(crate) fn check_unique_keys(triggers: &[TriggerDef]) -> Result<(), FlowError> {
    let mut seen = std::collections::HashMap::new();
    for (i, t) in triggers.iter().enumerate() {
        if t.trigger_type != TIMER || t.key.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(t.key.as_str(), i) {
            return Err(FlowError::new(
                format!("triggers[{i}].key"),
                format!("duplicate timer key {:?} (also triggers[{first}])", t.key),
            ));
        }
    }
    Ok(())
}

/// Gives every timer without a key a fresh one from `generate` (the server does this on save,
/// as the original does).
pub fn assign_keys(flow: &mut FlowDef, mut generate: impl FnMut() -> String) {
    for t in &mut flow.triggers {
        if t.trigger_type == TIMER && t.key.is_empty() {
            t.key = generate();
        }
    }
}

/// The timers of a flow: (trigger index, key, schedule). A disabled flow has none. A trigger
/// whose config no longer parses is left out (the flow was validated on save).
pub fn timers_of(flow: &FlowDef) -> Vec<(usize, &str, Schedule)> {
    if !flow.enabled {
        return Vec::new();
    }
    flow.triggers
        .iter()
        .enumerate()
        .filter(|(_, t)| t.trigger_type == TIMER && !t.key.is_empty())
        .filter_map(|(i, t)| {
            let s = parse_schedule(&t.config, &format!("triggers[{i}]")).ok()?;
            Some((i, t.key.as_str(), s))
        })
        .collect()
}

fn parse_cron(text: &str) -> Result<Cron, NodeError> {
    let fields = text.split_whitespace().count();
    let alias = text.trim_start().starts_with('@');
    if !alias && !(5..=6).contains(&fields) {
        return Err(NodeError::rejected(format!(
            "{text:?} has {fields} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)"
        )));
    }
    let cron = parser()
        .parse(text)
        .map_err(|e| NodeError::rejected(format!("{text:?} is not a valid cron pattern: {e}")))?;
    // A pattern like "0 0 30 2 *" parses but never matches: refuse it rather than never fire.
    let probe = Utc.timestamp_millis_opt(0).single().unwrap_or_default();
    cron.find_next_occurrence(&probe, false)
        .map_err(|_| NodeError::rejected(format!("{text:?} never matches a date")))?;
    Ok(cron)
}

fn to_zoned(t: i64, tz: Tz) -> Option<DateTime<Tz>> {
    Utc.timestamp_millis_opt(t)
        .single()
        .map(|u| u.with_timezone(&tz))
}

impl Schedule {
    /// The first instant strictly after `t` (unix ms).
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Schedule::Every { ms } => t.div_euclid(*ms).checked_add(1)?.checked_mul(*ms),
            Schedule::Cron { cron, tz } => {
                let mut from = to_zoned(t, *tz)?;
                // croner works in whole seconds; step past any result not after `t`.
                for _ in 0..3 {
                    let n = cron.find_next_occurrence(&from, false).ok()?;
                    if n.timestamp_millis() > t {
                        return Some(n.timestamp_millis());
                    }
                    from = n;
                }
                None
            }
        }
    }

    /// The latest instant at or before `t` (unix ms).
    pub fn latest_at_or_before(&self, t: i64) -> Option<i64> {
        match self {
            Schedule::Every { ms } => t.div_euclid(*ms).checked_mul(*ms),
            Schedule::Cron { cron, tz } => {
                let mut from = to_zoned(t, *tz)?;
                for _ in 0..3 {
                    let p = cron.find_previous_occurrence(&from, true).ok()?;
                    if p.timestamp_millis() <= t {
                        return Some(p.timestamp_millis());
                    }
                    from = p;
                }
                None
            }
        }
    }
}

/// What a timer should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The instant to fire now, if one is due.
    pub fire: Option<i64>,
    /// When to look again: always after `now`.
    pub next_wake: i64,
}

/// Which instant fires now, and when to look next.
///
/// `last_fired` is the latest instant already handled (fired by any node), or any time before
/// which nothing may fire (a flow's last save: instants before it are not "missed"). `None`
/// means nothing is known, so nothing at or before `now` fires. An instant fires only if it is
/// after `last_fired` and at or before `now`, and of those only the latest: after downtime, one
/// firing, not a burst. `next_wake` is the first instant after `now`.
pub fn next_fire(schedule: &Schedule, last_fired: Option<i64>, now: i64) -> Decision {
    let next_wake = schedule
        .next_after(now)
        .filter(|n| *n > now)
        .unwrap_or(now.saturating_add(RETRY_MS));
    let fire = match (last_fired, schedule.latest_at_or_before(now)) {
        (Some(last), Some(due)) if due > last => Some(due),
        _ => None,
    };
    Decision { fire, next_wake }
}
