//! Resource jobs: the definition a user creates (what to iterate over, how fast, how patiently)
//! and its validation. Ranges are the original's published ones, enforced here because the
//! original's schema uses keywords validators ignore; two of them are operator-tunable
//! ([`JobLimits`]). Validation is pure: whether a data table exists or a query fits the resource
//! type's grammar is checked by the caller, which has the store and the query parser.

use crate::engine::controls::{AbortConfig, RolloutConfig};
use crate::list::FieldError;
use crate::{Id, Timestamp};

/// The resources a job iterates over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    /// Devices.
    Device,
    /// Rows of one data table.
    DataTableRow,
    /// Experience groups.
    ExperienceGroup,
    /// Experience users.
    ExperienceUser,
}

impl ResourceType {
    /// All of them, in the original's enum order.
    pub const ALL: [ResourceType; 4] = [
        ResourceType::DataTableRow,
        ResourceType::Device,
        ResourceType::ExperienceGroup,
        ResourceType::ExperienceUser,
    ];

    /// The API name (`device`, `dataTableRow`, ...), which is also the payload key.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Device => "device",
            ResourceType::DataTableRow => "dataTableRow",
            ResourceType::ExperienceGroup => "experienceGroup",
            ResourceType::ExperienceUser => "experienceUser",
        }
    }

    /// Parses the API name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Operator limits (settings `limits.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Lowest accepted `iterationTimeout` (ms); the original's is 60000.
    pub min_iteration_timeout_ms: i64,
    /// Highest accepted `maxIterationConcurrency`.
    pub max_iteration_concurrency: i64,
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            min_iteration_timeout_ms: 60_000,
            max_iteration_concurrency: 100,
        }
    }
}

/// Highest `iterationTimeout` (ms).
pub const MAX_ITERATION_TIMEOUT_MS: i64 = 900_000;

/// A resource job definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceJob {
    /// Id.
    pub id: Id,
    /// Owning application.
    pub application_id: Id,
    /// 1–255 characters.
    pub name: String,
    /// Up to 32767 characters.
    pub description: String,
    /// Immutable after creation.
    pub resource_type: ResourceType,
    /// A table id or a `{{ }}` template rendering to one (data-table-row jobs).
    pub data_table_id: Option<String>,
    /// The advanced query as JSON text, possibly templated.
    pub query_json: String,
    /// JSON object text used when an execution gives no context.
    pub default_context: String,
    /// 1..=limit.
    pub max_iteration_concurrency: i64,
    /// ms between iteration starts, 0..=60000.
    pub iteration_delay: i64,
    /// ms an attempt may take, min..=900000.
    pub iteration_timeout: i64,
    /// Retry an attempt acknowledged as failed.
    pub retry_on_failure: bool,
    /// Retry an attempt that timed out.
    pub retry_on_timeout: bool,
    /// 1..=5 retries.
    pub max_iteration_retries: i64,
    /// ms before a retry, 0..=30000.
    pub retry_delay: i64,
    /// `abortConfig` (extension): cancel by itself past a failure share.
    pub abort_config: Option<AbortConfig>,
    /// `rolloutConfig` (extension): the start rate and its ramp.
    pub rollout_config: Option<RolloutConfig>,
    /// Creation instant.
    pub creation_date: Timestamp,
    /// Last change.
    pub last_updated: Timestamp,
    /// When an execution was last requested.
    pub last_execution_requested: Option<Timestamp>,
    /// Compare-and-set token.
    pub version: i64,
}

impl ResourceJob {
    /// A job with the documented defaults.
    pub fn with_defaults(
        id: Id,
        application_id: Id,
        name: String,
        resource_type: ResourceType,
        now: Timestamp,
    ) -> Self {
        ResourceJob {
            id,
            application_id,
            name,
            description: String::new(),
            resource_type,
            data_table_id: None,
            query_json: "{}".into(),
            default_context: "{}".into(),
            max_iteration_concurrency: 1,
            iteration_delay: 0,
            iteration_timeout: 60_000,
            retry_on_failure: false,
            retry_on_timeout: false,
            max_iteration_retries: 1,
            retry_delay: 0,
            abort_config: None,
            rollout_config: None,
            creation_date: now,
            last_updated: now,
            last_execution_requested: None,
            version: 1,
        }
    }

    /// Checks every field against its rule; the error names the first field at fault.
    pub fn validate(&self, limits: &JobLimits) -> Result<(), FieldError> {
        check_len("name", &self.name, 1, 255)?;
        check_len("description", &self.description, 0, 32767)?;
        check_len("queryJson", &self.query_json, 0, 8192)?;
        if !is_template(&self.query_json) {
            serde_json::from_str::<serde_json::Value>(&self.query_json).map_err(|e| {
                FieldError::new("queryJson", format!("must be valid JSON text: {e}"))
            })?;
        }
        check_len("defaultContext", &self.default_context, 0, 32767)?;
        check_context("defaultContext", &self.default_context)?;
        match (&self.data_table_id, self.resource_type) {
            (None, ResourceType::DataTableRow) => {
                return Err(FieldError::new(
                    "dataTableId",
                    "is required when resourceType is dataTableRow",
                ))
            }
            (Some(t), _) => check_table_ref(t)?,
            (None, _) => {}
        }
        check_range(
            "maxIterationConcurrency",
            self.max_iteration_concurrency,
            1,
            limits.max_iteration_concurrency,
        )?;
        check_range("iterationDelay", self.iteration_delay, 0, 60_000)?;
        check_range(
            "iterationTimeout",
            self.iteration_timeout,
            limits.min_iteration_timeout_ms,
            MAX_ITERATION_TIMEOUT_MS,
        )?;
        check_range("maxIterationRetries", self.max_iteration_retries, 1, 5)?;
        check_range("retryDelay", self.retry_delay, 0, 30_000)?;
        Ok(())
    }
}

/// Whether text holds a Handlebars template (`{{ ... }}`).
pub fn is_template(s: &str) -> bool {
    s.find("{{").is_some_and(|i| s[i + 2..].contains("}}"))
}

/// A table reference: a 24-hex id, or a template of 4–255 characters matching `.*{{.+}}.*`.
pub fn check_table_ref(t: &str) -> Result<(), FieldError> {
    if Id::parse(t).is_ok() {
        return Ok(());
    }
    let n = t.chars().count();
    let templated = t
        .find("{{")
        .is_some_and(|i| t[i + 2..].find("}}").is_some_and(|j| j > 0));
    if templated && (4..=255).contains(&n) {
        Ok(())
    } else {
        Err(FieldError::new(
            "dataTableId",
            "must be a 24-character hexadecimal id or a template like {{ctx.tableId}} (4-255 characters)",
        ))
    }
}

/// A context: JSON text of an object.
pub fn check_context(field: &str, text: &str) -> Result<serde_json::Value, FieldError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        Ok(_) => Err(FieldError::new(field, "must be the JSON text of an object")),
        Err(e) => Err(FieldError::new(
            field,
            format!("must be valid JSON text: {e}"),
        )),
    }
}

fn check_len(field: &str, s: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = s.chars().count();
    if n < min || n > max {
        let rule = if min == 0 {
            format!("must be at most {max} characters")
        } else {
            format!("must be between {min} and {max} characters")
        };
        return Err(FieldError::new(field, format!("{rule}, got {n}")));
    }
    Ok(())
}

fn check_range(field: &str, v: i64, min: i64, max: i64) -> Result<(), FieldError> {
    if v < min || v > max {
        return Err(FieldError::new(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ResourceJob {
        let id = Id::parse("575ec8687ae143cd83dc4a97").unwrap();
        ResourceJob::with_defaults(
            id.clone(),
            id,
            "j".into(),
            ResourceType::Device,
            Timestamp::from_millis(0),
        )
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(job().validate(&JobLimits::default()), Ok(()));
    }

    #[test]
    fn every_rule_names_its_field() {
        type Edit = fn(&mut ResourceJob);
        let cases: Vec<(Edit, &str)> = vec![
            (|j| j.name = String::new(), "name"),
            (|j| j.name = "x".repeat(256), "name"),
            (|j| j.description = "x".repeat(32768), "description"),
            (|j| j.query_json = "{".into(), "queryJson"),
            (
                |j| j.query_json = format!("\"{}\"", "x".repeat(8191)),
                "queryJson",
            ),
            (|j| j.default_context = "[]".into(), "defaultContext"),
            (|j| j.default_context = "{".into(), "defaultContext"),
            (
                |j| j.max_iteration_concurrency = 0,
                "maxIterationConcurrency",
            ),
            (
                |j| j.max_iteration_concurrency = 101,
                "maxIterationConcurrency",
            ),
            (|j| j.iteration_delay = -1, "iterationDelay"),
            (|j| j.iteration_delay = 60_001, "iterationDelay"),
            (|j| j.iteration_timeout = 59_999, "iterationTimeout"),
            (|j| j.iteration_timeout = 900_001, "iterationTimeout"),
            (|j| j.max_iteration_retries = 0, "maxIterationRetries"),
            (|j| j.max_iteration_retries = 6, "maxIterationRetries"),
            (|j| j.retry_delay = 30_001, "retryDelay"),
            (
                |j| j.resource_type = ResourceType::DataTableRow,
                "dataTableId",
            ),
            (|j| j.data_table_id = Some("{{}}".into()), "dataTableId"),
            (|j| j.data_table_id = Some("abc".into()), "dataTableId"),
        ];
        for (edit, field) in cases {
            let mut j = job();
            edit(&mut j);
            let e = j.validate(&JobLimits::default()).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn accepted_edges() {
        let mut j = job();
        j.query_json = "{\"name\": \"{{ctx.name}}\"".into(); // templated: checked after rendering
        j.resource_type = ResourceType::DataTableRow;
        j.data_table_id = Some("{{ctx.table}}".into());
        j.iteration_delay = 60_000;
        j.iteration_timeout = 900_000;
        j.max_iteration_retries = 5;
        j.retry_delay = 30_000;
        j.max_iteration_concurrency = 100;
        assert_eq!(j.validate(&JobLimits::default()), Ok(()));
        j.iteration_timeout = 1_000;
        let lowered = JobLimits {
            min_iteration_timeout_ms: 1_000,
            ..JobLimits::default()
        };
        assert_eq!(j.validate(&lowered), Ok(()));
    }

    #[test]
    fn resource_type_names() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ResourceType::parse("devices"), None);
    }

    #[test]
    fn templates() {
        assert!(is_template("{\"a\": \"{{ctx.a}}\"}"));
        assert!(!is_template("{\"a\": \"{{\"}"));
        assert!(check_table_ref("575EC8687AE143CD83DC4A97").is_ok());
        assert!(check_table_ref("{{a}}").is_ok());
        assert!(check_table_ref("{{ }}x").is_ok());
    }
}
