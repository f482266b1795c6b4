//! Operator controls an execution runs with (snapshotted from its job at execute time, like
//! every other setting): abort thresholds (`abortConfig`) and the rollout rate with its ramp
//! (`rolloutConfig`, AWS IoT Jobs' model). Both are decided here as pure functions over the
//! execution's counters, so the planner asks them and the engine only acts on the answer.
//!
//! Decisions, where the issue leaves room:
//! - **Finished** means `succeeded + failed + timedOut`: an iteration that is retrying has not
//!   finished (its attempts so far do not count), so a retry that succeeds never trips a
//!   threshold.
//! - **Shares are compared exactly**, in hundredths of a percent: `matched × 10,000 ≥ threshold
//!   × finished`. `thresholdPercent` keeps two decimals.
//! - **The rate** after `k = succeeded / numberOfSucceeded` (integer division) increases is
//!   `floor(base × factor^k)`, capped at `maxPerMinute`; without `exponentialRate` it is
//!   `maxPerMinute` from the start. It never goes down.
//! - **Pacing** ([`pacing`]): up to 60,000 per minute, one start every `ceil(60,000 / rate)` ms
//!   (rounded up to the millisecond, so no 60 s window ever holds more than the rate); above
//!   it, `floor(rate / 60,000)` starts per millisecond. Retries are paced by `retryDelay` alone.

use serde::Serialize;
use serde_json::{Map, Value};

use super::Summary;
use crate::list::FieldError;

/// What an abort criterion counts (serialized as its API name, [`AbortOutcome::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AbortOutcome {
    /// `failed`.
    Failed,
    /// `timedOut`.
    TimedOut,
    /// `any`: failed or timed out.
    Any,
}

impl AbortOutcome {
    /// Every outcome.
    pub const ALL: [AbortOutcome; 3] = [
        AbortOutcome::Failed,
        AbortOutcome::TimedOut,
        AbortOutcome::Any,
    ];

    /// The API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AbortOutcome::Failed => "failed",
            AbortOutcome::TimedOut => "timedOut",
            AbortOutcome::Any => "any",
        }
    }

    /// How many finished iterations of `s` have this outcome.
    pub const fn count(self, s: &Summary) -> u64 {
        match self {
            AbortOutcome::Failed => s.failed,
            AbortOutcome::TimedOut => s.timed_out,
            AbortOutcome::Any => s.failed.saturating_add(s.timed_out),
        }
    }
}

/// One abort criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortCriterion {
    /// What is counted.
    pub outcome: AbortOutcome,
    /// `thresholdPercent` in hundredths of a percent (0–10,000).
    pub threshold_bp: u32,
    /// `minFinished` (≥ 1).
    pub min_finished: u64,
}

/// `abortConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AbortConfig {
    /// `criteria`; the first that holds cancels the execution.
    pub criteria: Vec<AbortCriterion>,
}

/// Why an execution canceled itself (`abortReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AbortReason {
    /// Index of the criterion in `abortConfig.criteria`.
    pub criterion: usize,
    /// The criterion.
    pub rule: AbortCriterion,
    /// Finished iterations when it held.
    pub finished: u64,
    /// Of which had the outcome.
    pub matched: u64,
}

/// Most criteria one job may list.
pub const MAX_ABORT_CRITERIA: usize = 10;

fn percent(bp: u64) -> f64 {
    bp as f64 / 100.0
}

impl AbortConfig {
    /// The first criterion that holds for the counters `s`, if any.
    pub fn check(&self, s: &Summary) -> Option<AbortReason> {
        let finished = s
            .succeeded
            .saturating_add(s.failed)
            .saturating_add(s.timed_out);
        self.criteria.iter().enumerate().find_map(|(i, c)| {
            let matched = c.outcome.count(s);
            let holds = finished >= c.min_finished
                && u128::from(matched) * 10_000
                    >= u128::from(c.threshold_bp) * u128::from(finished);
            holds.then_some(AbortReason {
                criterion: i,
                rule: *c,
                finished,
                matched,
            })
        })
    }

    /// Parses `abortConfig` (`null` is none); errors name the field.
    pub fn parse(v: &Value) -> Result<Option<AbortConfig>, FieldError> {
        const F: &str = "abortConfig";
        let obj = match v {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(FieldError::new(F, "must be an object with criteria")),
        };
        only_keys(obj, F, &["criteria"])?;
        let list = match obj.get("criteria") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(FieldError::new(
                    format!("{F}.criteria"),
                    "is required: an array of 1 to 10 criteria",
                ))
            }
        };
        if list.is_empty() || list.len() > MAX_ABORT_CRITERIA {
            return Err(FieldError::new(
                format!("{F}.criteria"),
                format!(
                    "must hold 1 to {MAX_ABORT_CRITERIA} criteria, got {}",
                    list.len()
                ),
            ));
        }
        let mut criteria = Vec::with_capacity(list.len());
        for (i, c) in list.iter().enumerate() {
            let at = format!("{F}.criteria[{i}]");
            let o = c
                .as_object()
                .ok_or_else(|| FieldError::new(&at, "must be an object"))?;
            only_keys(o, &at, &["outcome", "thresholdPercent", "minFinished"])?;
            let name = o.get("outcome").and_then(Value::as_str).unwrap_or("");
            let outcome = AbortOutcome::ALL
                .into_iter()
                .find(|x| x.as_str() == name)
                .ok_or_else(|| {
                    FieldError::new(
                        format!("{at}.outcome"),
                        format!(
                            "must be one of failed, timedOut, any, got {:?}",
                            o.get("outcome")
                        ),
                    )
                })?;
            let pct = number(o, &at, "thresholdPercent", 0.0, 100.0)?;
            let min = integer(o, &at, "minFinished", 1, u64::MAX >> 11)?;
            criteria.push(AbortCriterion {
                outcome,
                threshold_bp: (pct * 100.0).round() as u32,
                min_finished: min,
            });
        }
        Ok(Some(AbortConfig { criteria }))
    }

    /// The API shape.
    pub fn view(&self) -> AbortConfigView {
        let criteria = self.criteria.iter().map(|c| c.view()).collect();
        AbortConfigView { criteria }
    }

    /// [`AbortConfig::view`] as a JSON value (what the store keeps).
    pub fn to_json(&self) -> Value {
        crate::resources::to_value(&self.view())
    }
}

impl AbortCriterion {
    fn view(&self) -> CriterionView {
        CriterionView {
            outcome: self.outcome,
            threshold_percent: percent(u64::from(self.threshold_bp)),
            min_finished: self.min_finished,
        }
    }
}

/// The API shape of `abortConfig`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AbortConfigView {
    /// The criteria, in order.
    pub criteria: Vec<CriterionView>,
}

/// The API shape of one abort criterion.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CriterionView {
    /// What is counted.
    pub outcome: AbortOutcome,
    /// The share of finished iterations, in percent (two decimals).
    pub threshold_percent: f64,
    /// Finished iterations needed before the criterion is checked.
    pub min_finished: u64,
}

/// The API shape of `abortReason`: the criterion that held, and the figures.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AbortReasonView {
    /// Index of the criterion in `abortConfig.criteria`.
    pub criterion: usize,
    /// The criterion.
    #[serde(flatten)]
    pub rule: CriterionView,
    /// Finished iterations when it held.
    pub finished: u64,
    /// Of which had the outcome.
    pub matched: u64,
    /// `matched / finished`, in percent (two decimals).
    pub percent: f64,
    /// The same, in words.
    pub message: String,
}

impl AbortReason {
    /// The API shape (`abortReason`): which criterion held, and the figures.
    pub fn view(&self) -> AbortReasonView {
        let share = if self.finished == 0 {
            0.0
        } else {
            (self.matched as f64 * 10_000.0 / self.finished as f64).round() / 100.0
        };
        AbortReasonView {
            criterion: self.criterion,
            rule: self.rule.view(),
            finished: self.finished,
            matched: self.matched,
            percent: share,
            message: format!(
                "{} of {} finished iterations ({share}%) were {}, at or above the threshold of {}%",
                self.matched,
                self.finished,
                match self.rule.outcome {
                    AbortOutcome::Failed => "failed",
                    AbortOutcome::TimedOut => "timed out",
                    AbortOutcome::Any => "failed or timed out",
                },
                percent(u64::from(self.rule.threshold_bp)),
            ),
        }
    }

    /// [`AbortReason::view`] as a JSON value (what the store keeps).
    pub fn to_json(&self) -> Value {
        crate::resources::to_value(&self.view())
    }
}

/// `rolloutConfig.exponentialRate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExponentialRate {
    /// `baseRatePerMinute` (1–`maxPerMinute`).
    pub base_rate_per_minute: u32,
    /// `incrementFactor` in thousandths (1,100–5,000).
    pub increment_factor_milli: u32,
    /// `rateIncreaseCriteria.numberOfSucceeded` (≥ 1).
    pub number_of_succeeded: u64,
}

/// `rolloutConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RolloutConfig {
    /// `maxPerMinute` (1–1,000,000).
    pub max_per_minute: u32,
    /// The ramp, if any.
    pub exponential_rate: Option<ExponentialRate>,
}

/// Highest `maxPerMinute`.
pub const MAX_RATE_PER_MINUTE: u32 = 1_000_000;

impl RolloutConfig {
    /// The rate (starts per minute) once `succeeded` iterations have succeeded.
    pub fn rate(&self, succeeded: u64) -> u32 {
        let Some(x) = self.exponential_rate else {
            return self.max_per_minute;
        };
        let steps = succeeded / x.number_of_succeeded.max(1);
        let factor = f64::from(x.increment_factor_milli) / 1000.0;
        // factor ≥ 1.1, so 300 steps exceed any rate: stop before floating point overflows.
        let r = f64::from(x.base_rate_per_minute) * factor.powi(steps.min(300) as i32);
        if r >= f64::from(self.max_per_minute) {
            self.max_per_minute
        } else {
            (r.floor() as u32).max(1)
        }
    }

    /// Parses `rolloutConfig` (`null` is none); errors name the field.
    pub fn parse(v: &Value) -> Result<Option<RolloutConfig>, FieldError> {
        const F: &str = "rolloutConfig";
        let obj = match v {
            Value::Null => return Ok(None),
            Value::Object(o) => o,
            _ => return Err(FieldError::new(F, "must be an object with maxPerMinute")),
        };
        only_keys(obj, F, &["maxPerMinute", "exponentialRate"])?;
        let max = integer(obj, F, "maxPerMinute", 1, u64::from(MAX_RATE_PER_MINUTE))? as u32;
        let exponential_rate = match obj.get("exponentialRate") {
            None | Some(Value::Null) => None,
            Some(Value::Object(x)) => {
                let at = format!("{F}.exponentialRate");
                only_keys(
                    x,
                    &at,
                    &[
                        "baseRatePerMinute",
                        "incrementFactor",
                        "rateIncreaseCriteria",
                    ],
                )?;
                let base = integer(x, &at, "baseRatePerMinute", 1, u64::from(max))? as u32;
                let factor = number(x, &at, "incrementFactor", 1.1, 5.0)?;
                let crit_at = format!("{at}.rateIncreaseCriteria");
                let crit = x
                    .get("rateIncreaseCriteria")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        FieldError::new(&crit_at, "is required: an object with numberOfSucceeded")
                    })?;
                only_keys(crit, &crit_at, &["numberOfSucceeded"])?;
                let n = integer(crit, &crit_at, "numberOfSucceeded", 1, u64::MAX >> 11)?;
                Some(ExponentialRate {
                    base_rate_per_minute: base,
                    increment_factor_milli: (factor * 1000.0).round() as u32,
                    number_of_succeeded: n,
                })
            }
            Some(_) => {
                return Err(FieldError::new(
                    format!("{F}.exponentialRate"),
                    "must be an object",
                ))
            }
        };
        Ok(Some(RolloutConfig {
            max_per_minute: max,
            exponential_rate,
        }))
    }

    /// The API shape.
    pub fn view(&self) -> RolloutView {
        RolloutView {
            max_per_minute: self.max_per_minute,
            exponential_rate: self.exponential_rate.map(|x| ExponentialRateView {
                base_rate_per_minute: x.base_rate_per_minute,
                increment_factor: f64::from(x.increment_factor_milli) / 1000.0,
                rate_increase_criteria: RateIncrease {
                    number_of_succeeded: x.number_of_succeeded,
                },
            }),
        }
    }

    /// [`RolloutConfig::view`] as a JSON value (what the store keeps).
    pub fn to_json(&self) -> Value {
        crate::resources::to_value(&self.view())
    }
}

/// The API shape of `rolloutConfig`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    /// Highest rate, starts per minute.
    pub max_per_minute: u32,
    /// The ramp; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exponential_rate: Option<ExponentialRateView>,
}

/// The API shape of `rolloutConfig.exponentialRate`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExponentialRateView {
    /// Starting rate, per minute.
    pub base_rate_per_minute: u32,
    /// Factor of each increase.
    pub increment_factor: f64,
    /// When the rate increases.
    pub rate_increase_criteria: RateIncrease,
}

/// `rateIncreaseCriteria`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateIncrease {
    /// Successes between two increases.
    pub number_of_succeeded: u64,
}

/// How a rate turns into starts: `per_start` starts at once, then `gap_ms` until the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Starts allowed at one instant.
    pub per_start: u32,
    /// Milliseconds from one group of starts to the next.
    pub gap_ms: i64,
}

/// The pacing of `rate_per_minute` (see the module docs).
pub fn pacing(rate_per_minute: u32) -> Pacing {
    let r = i64::from(rate_per_minute.max(1));
    if r <= 60_000 {
        Pacing {
            per_start: 1,
            gap_ms: (60_000 + r - 1) / r,
        }
    } else {
        Pacing {
            per_start: (r / 60_000) as u32,
            gap_ms: 1,
        }
    }
}

fn only_keys(o: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), FieldError> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(FieldError::new(
            format!("{at}.{k}"),
            format!(
                "is not a known field; expected one of {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn number(
    o: &Map<String, Value>,
    at: &str,
    key: &str,
    min: f64,
    max: f64,
) -> Result<f64, FieldError> {
    match o.get(key).and_then(Value::as_f64) {
        Some(x) if x >= min && x <= max => Ok(x),
        _ => Err(FieldError::new(
            format!("{at}.{key}"),
            format!(
                "must be a number from {min} to {max}, got {}",
                shown(o.get(key))
            ),
        )),
    }
}

fn integer(
    o: &Map<String, Value>,
    at: &str,
    key: &str,
    min: u64,
    max: u64,
) -> Result<u64, FieldError> {
    match o.get(key).and_then(Value::as_u64) {
        Some(x) if x >= min && x <= max => Ok(x),
        _ => Err(FieldError::new(
            format!("{at}.{key}"),
            format!(
                "must be an integer from {min} to {max}, got {}",
                shown(o.get(key))
            ),
        )),
    }
}

fn shown(v: Option<&Value>) -> String {
    v.map_or_else(|| "nothing".to_string(), Value::to_string)
}
