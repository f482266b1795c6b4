//! The user CLI: talks to any rjobs server over HTTP (`--url`/`RJOBS_URL`, `--token`/`RJOBS_TOKEN`).
//!
//! Why it is a thin HTTP client and not a direct store user: it must work against any server
//! (a remote one, a cluster, the original product's API shape), and the server is the single place
//! that validates. So every error the user sees is the server's own `{"type","message"}`, printed
//! as `Validation: resourceType: must be one of ...`, and the CLI adds only the cases the server
//! cannot speak for (unreachable, refused token).
//!
//! Exit codes: 0 success; 1 any error (message on stderr as `error: ...`); 2 bad usage (clap);
//! 3 `executions watch` saw the execution end `canceled` or `errored`.
//!
//! Layout: `client` (HTTP + errors, reused by the demo), `watch` (progress bar, reused by the
//! demo), `jobs` and `executions` (one function per subcommand), `table` (aligned text).

use std::io::Write;

use clap::Subcommand;

pub mod client;
mod executions;
mod jobs;
mod sse;
mod table;
pub mod watch;

#[allow(unused_imports)] // re-exported for `demo.rs`
pub use client::{Client, ClientError};
#[allow(unused_imports)] // re-exported for `demo.rs`
pub use watch::{summary_text, watch, WatchStyle};

/// Where the CLI looks for a server when neither `--url` nor `RJOBS_URL` is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7480";

/// Exit code of `executions watch` when the execution ended `canceled` or `errored`.
pub const EXIT_NOT_COMPLETED: i32 = 3;

/// Options every user-CLI command takes (accepted before or after the subcommand).
#[derive(Debug, clap::Args)]
pub struct GlobalOpts {
    /// Base URL of the rjobs server.
    #[arg(long, env = "RJOBS_URL", default_value = DEFAULT_URL, global = true)]
    pub url: String,
    /// API or admin token, sent as `Authorization: Bearer <token>`.
    #[arg(long, env = "RJOBS_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the server's JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

impl GlobalOpts {
    fn client(&self) -> anyhow::Result<Client> {
        Client::new(&self.url, self.token.as_deref())
    }
}

/// `rjobs jobs ...` arguments.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: JobsCommand,
}

/// The `--application` option shared by every job and execution command.
#[derive(Debug, clap::Args)]
pub struct AppOpt {
    /// Application id.
    #[arg(long, short = 'a')]
    pub application: String,
}

/// `rjobs jobs <command>`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List the application's resource jobs.
    List {
        #[command(flatten)]
        app: AppOpt,
        /// Only jobs whose name matches this glob (`*`, `?`; case-insensitive).
        #[arg(long)]
        filter: Option<String>,
    },
    /// Show one resource job.
    Get {
        #[command(flatten)]
        app: AppOpt,
        /// Resource job id.
        job: String,
    },
    /// Create a resource job.
    Create(Box<CreateArgs>),
    /// Start an execution of a job; prints the execution id.
    Execute(ExecuteArgs),
    /// Preview an execution (a dry run): how many resources it would iterate over, and a
    /// sample; nothing is written and no trigger fires.
    Preview(ExecuteArgs),
    /// Cancel a running execution.
    Cancel {
        #[command(flatten)]
        app: AppOpt,
        /// Resource job id.
        job: String,
        /// Execution id.
        #[arg(long)]
        execution: String,
    },
    /// Show a job's recent executions, newest first.
    Logs {
        #[command(flatten)]
        app: AppOpt,
        /// Resource job id.
        job: String,
        /// How many executions (server default 1, max 100).
        #[arg(long)]
        limit: Option<u32>,
        /// Only executions started at or after this time (ms since the epoch).
        #[arg(long)]
        since: Option<i64>,
    },
}

/// `rjobs jobs execute|preview` arguments.
#[derive(Debug, clap::Args)]
pub struct ExecuteArgs {
    #[command(flatten)]
    pub app: AppOpt,
    /// Resource job id.
    pub job: String,
    /// Template context, a JSON object (default: the job's defaultContext).
    #[arg(long)]
    pub context: Option<String>,
    /// Query override, JSON (may contain `{{ctx...}}` templates).
    #[arg(long)]
    pub query: Option<String>,
    /// Data table id override (for dataTableRow jobs).
    #[arg(long)]
    pub data_table_id: Option<String>,
}

/// Declares [`CreateArgs`] and [`CreateArgs::optional_fields`] from one table: each optional
/// option once, with the API field it fills (the value is sent as [`ApiValue`] says).
macro_rules! create_args {
    ($( $(#[doc = $doc:literal])* $field:ident: $ty:ty => $key:literal, )*) => {
        /// `rjobs jobs create` arguments; field names follow the API (`--iteration-delay` →
        /// `iterationDelay`).
        #[derive(Debug, clap::Args)]
        pub struct CreateArgs {
            #[command(flatten)]
            pub app: AppOpt,
            /// Job name (1–255 characters).
            #[arg(long)]
            pub name: String,
            /// device, dataTableRow, experienceGroup or experienceUser.
            #[arg(long)]
            pub resource_type: String,
            $( $(#[doc = $doc])* #[arg(long)] pub $field: $ty, )*
        }

        impl CreateArgs {
            /// The optional fields by their API names; `None` for those not given.
            pub fn optional_fields(&self) -> Vec<(&'static str, Option<serde_json::Value>)> {
                vec![$(($key, ApiValue::api_value(&self.$field))),*]
            }
        }
    };
}

create_args! {
    /// Advanced query selecting the resources, JSON (default `{}`: all of them).
    query: Option<String> => "queryJson",
    description: Option<String> => "description",
    /// Data table id (required for dataTableRow; may be a template).
    data_table_id: Option<String> => "dataTableId",
    /// Default template context, a JSON object.
    default_context: Option<String> => "defaultContext",
    max_iteration_concurrency: Option<u64> => "maxIterationConcurrency",
    /// Milliseconds between iteration starts.
    iteration_delay: Option<u64> => "iterationDelay",
    /// Milliseconds an attempt may wait for its acknowledgement.
    iteration_timeout: Option<u64> => "iterationTimeout",
    retry_on_failure: bool => "retryOnFailure",
    retry_on_timeout: bool => "retryOnTimeout",
    max_iteration_retries: Option<u64> => "maxIterationRetries",
    /// Milliseconds before a retry.
    retry_delay: Option<u64> => "retryDelay",
    /// Abort thresholds, JSON: `{"criteria": [{"outcome", "thresholdPercent", "minFinished"}]}`.
    abort_config: Option<JsonText> => "abortConfig",
    /// Rollout rate, JSON: `{"maxPerMinute", "exponentialRate": {...}}`.
    rollout_config: Option<JsonText> => "rolloutConfig",
}

/// An option whose text is sent as JSON (`--abort-config`): parsed, or — when it is not JSON —
/// sent as a string, which the server refuses with a message naming the field.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonText(pub String);

impl std::str::FromStr for JsonText {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<JsonText, Self::Err> {
        Ok(JsonText(s.to_string()))
    }
}

/// How an option's value goes into a request body; `None`: not sent.
pub trait ApiValue {
    fn api_value(&self) -> Option<serde_json::Value>;
}

/// Sent as given (`queryJson` and `defaultContext` are JSON the API expects as strings).
impl ApiValue for Option<String> {
    fn api_value(&self) -> Option<serde_json::Value> {
        self.clone().map(serde_json::Value::String)
    }
}

impl ApiValue for Option<u64> {
    fn api_value(&self) -> Option<serde_json::Value> {
        self.map(serde_json::Value::from)
    }
}

/// A switch: sent as `true` when given, not at all otherwise.
impl ApiValue for bool {
    fn api_value(&self) -> Option<serde_json::Value> {
        self.then_some(serde_json::Value::Bool(true))
    }
}

impl ApiValue for Option<JsonText> {
    fn api_value(&self) -> Option<serde_json::Value> {
        let JsonText(text) = self.as_ref()?;
        Some(serde_json::from_str(text).unwrap_or_else(|_| serde_json::json!(text)))
    }
}

/// `rjobs executions ...` arguments.
#[derive(Debug, clap::Args)]
pub struct ExecutionsArgs {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: ExecutionsCommand,
}

/// Which execution: `<executionId> --application <id> --job <id>`.
#[derive(Debug, clap::Args)]
pub struct ExecRef {
    /// Execution id.
    pub execution: String,
    #[command(flatten)]
    pub app: AppOpt,
    /// Resource job id.
    #[arg(long, short = 'j')]
    pub job: String,
}

/// `rjobs executions <command>`.
#[derive(Debug, Subcommand)]
pub enum ExecutionsCommand {
    /// Follow an execution with a live progress bar until it ends; exit 3 if canceled or errored.
    Watch(ExecRef),
    /// Pause an execution: nothing new starts; attempts in flight finish.
    Pause(ExecRef),
    /// Resume a paused execution.
    Resume(ExecRef),
    /// Start a new execution over the resources this one failed or timed out on; prints its id.
    Rerun {
        #[command(flatten)]
        target: ExecRef,
        /// Final statuses to re-drive (default: failed, timedOut).
        #[arg(long, value_delimiter = ',')]
        statuses: Vec<String>,
    },
    /// Download an execution's CSV report to stdout or a file.
    Report {
        #[command(flatten)]
        target: ExecRef,
        /// Write the CSV here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
}

/// Runs `rjobs jobs ...`; on failure prints `error: ...` and exits non-zero.
pub async fn run_jobs(args: JobsArgs) -> anyhow::Result<()> {
    let result = jobs::run(&args.global, args.command).await;
    finish(result.map(|()| 0))
}

/// Runs `rjobs executions ...`; on failure prints `error: ...` and exits non-zero.
pub async fn run_executions(args: ExecutionsArgs) -> anyhow::Result<()> {
    let result = executions::run(&args.global, args.command).await;
    finish(result)
}

/// Turns a command's outcome into the process exit: `main` would print errors with `Debug`
/// (`Error: ...` plus a cause list), so errors are printed here, plainly, and the process exits.
fn finish(result: anyhow::Result<i32>) -> anyhow::Result<()> {
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {e:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

/// Prints a JSON value, pretty, on stdout.
fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Path segment for an id given on the command line: trimmed, and rejected if it could change the
/// path (so a typo gives a clear message, not a 404 for some other route).
fn segment<'a>(what: &str, id: &'a str) -> anyhow::Result<&'a str> {
    let id = id.trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        anyhow::bail!("{what}: expected an id (letters, digits and '-'), got {id:?}");
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(subcommand)]
        c: Top,
    }
    #[derive(Debug, Subcommand)]
    enum Top {
        Jobs(JobsArgs),
        Executions(ExecutionsArgs),
    }

    /// Parses a command line (words split on spaces).
    fn parse(line: &str) -> Result<T, clap::Error> {
        T::try_parse_from(line.split(' '))
    }

    #[test]
    fn global_options_go_anywhere() {
        let t = parse("rjobs jobs list -a app1 --json --url http://h:1").unwrap();
        let Top::Jobs(j) = t.c else { panic!() };
        assert!(j.global.json);
        assert_eq!(j.global.url, "http://h:1");
        let t = parse("rjobs --token x executions watch e1 -a a --job j");
        assert!(t.is_err(), "global options belong to the user subcommands");
        let t = parse("rjobs executions --token x watch e1 -a a --job j").unwrap();
        let Top::Executions(e) = t.c else { panic!() };
        assert_eq!(e.global.token.as_deref(), Some("x"));
    }

    #[test]
    fn options_go_into_the_body_as_their_kind_says() {
        use serde_json::json;
        let text = |s: &str| Some(JsonText(s.into()));
        assert_eq!(text(r#"{"a": 1}"#).api_value(), Some(json!({"a": 1})));
        assert_eq!(text("not json").api_value(), Some(json!("not json")));
        assert_eq!(None::<JsonText>.api_value(), None);
        assert_eq!(Some("{}".to_string()).api_value(), Some(json!("{}")));
        assert_eq!(Some(0u64).api_value(), Some(json!(0)));
        assert_eq!(
            (true.api_value(), false.api_value()),
            (Some(json!(true)), None)
        );
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(segment("job", " ab12 ").unwrap(), "ab12");
        assert!(segment("job", "a/b").is_err());
        assert!(segment("job", "").is_err());
    }
}
