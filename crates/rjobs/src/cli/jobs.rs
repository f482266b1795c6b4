//! `rjobs jobs list|get|create|execute|cancel|logs`: one HTTP call each (list pages through).
//!
//! Why flags map one-to-one onto API fields and nothing is validated here: the server is the
//! single authority on ranges and formats, and its messages name the API field
//! (`iterationDelay: ...`), which is also what `--json` output and the docs show. Only flags the
//! user gave are sent, so server defaults stay the server's.

use serde_json::{json, Map, Value};

use super::table::{cell, render, render_fields};
use super::{print_json, segment, CreateArgs, ExecuteArgs, GlobalOpts, JobsCommand};

/// Page size when listing (the API's maximum).
const PER_PAGE: u32 = 1000;

/// The job fields `jobs get`/`create` show, label → API field.
const JOB_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("name", "name"),
    ("description", "description"),
    ("resourceType", "resourceType"),
    ("dataTableId", "dataTableId"),
    ("queryJson", "queryJson"),
    ("defaultContext", "defaultContext"),
    ("maxIterationConcurrency", "maxIterationConcurrency"),
    ("iterationDelay", "iterationDelay"),
    ("iterationTimeout", "iterationTimeout"),
    ("retryOnFailure", "retryOnFailure"),
    ("retryOnTimeout", "retryOnTimeout"),
    ("maxIterationRetries", "maxIterationRetries"),
    ("retryDelay", "retryDelay"),
    ("creationDate", "creationDate"),
    ("lastUpdated", "lastUpdated"),
    ("lastExecutionRequested", "lastExecutionRequested"),
];

/// Runs one `jobs` subcommand.
pub(super) async fn run(g: &GlobalOpts, cmd: JobsCommand) -> anyhow::Result<()> {
    let client = g.client()?;
    match cmd {
        JobsCommand::List { app, filter } => {
            let base = format!(
                "/applications/{}/resource-jobs",
                segment("--application", &app.application)?
            );
            let mut all: Vec<Value> = Vec::new();
            let mut first: Option<Value> = None;
            for page in 0.. {
                let mut path = format!("{base}?perPage={PER_PAGE}&page={page}");
                if let Some(f) = &filter {
                    path.push_str("&filterField=name&filter=");
                    path.push_str(&encode(f));
                }
                let env = client.get(&path).await?;
                let items = env["items"].as_array().cloned().unwrap_or_default();
                let total = env["totalCount"].as_u64().unwrap_or(0) as usize;
                let got = items.len();
                all.extend(items);
                first.get_or_insert(env);
                if got == 0 || all.len() >= total {
                    break;
                }
            }
            if g.json {
                let mut env = first.unwrap_or_else(|| json!({}));
                env["count"] = json!(all.len());
                env["items"] = Value::Array(all);
                return print_json(&env);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|j| {
                    vec![
                        cell(&j["name"]),
                        cell(&j["id"]),
                        cell(&j["resourceType"]),
                        cell(&j["lastExecutionRequested"]),
                    ]
                })
                .collect();
            if rows.is_empty() {
                eprintln!("no resource jobs");
            } else {
                print!(
                    "{}",
                    render(
                        &["NAME", "ID", "RESOURCE TYPE", "LAST EXECUTION REQUESTED"],
                        &rows
                    )
                );
            }
        }
        JobsCommand::Get { app, job } => {
            let path = job_path(&app.application, &job)?;
            let v = client.get(&path).await?;
            if g.json {
                return print_json(&v);
            }
            print!("{}", render_fields(&v, JOB_FIELDS));
        }
        JobsCommand::Create(args) => {
            let path = format!(
                "/applications/{}/resource-jobs",
                segment("--application", &args.app.application)?
            );
            let v = client.post(&path, &create_body(&args)).await?;
            if g.json {
                return print_json(&v);
            }
            eprintln!("created resource job {}", cell(&v["id"]));
            print!("{}", render_fields(&v, JOB_FIELDS));
        }
        JobsCommand::Execute(a) => {
            let path = format!("{}/execute", job_path(&a.app.application, &a.job)?);
            let v = client.post(&path, &execute_body(a)).await?;
            if g.json {
                return print_json(&v);
            }
            match v["executionId"].as_str() {
                Some(id) => println!("{id}"),
                None => anyhow::bail!("the server did not return an executionId: {v}"),
            }
        }
        JobsCommand::Preview(a) => {
            let path = format!(
                "{}/execute?dryRun=true",
                job_path(&a.app.application, &a.job)?
            );
            let v = client.post(&path, &execute_body(a)).await?;
            if g.json {
                return print_json(&v);
            }
            println!("{} resources would be iterated over", cell(&v["count"]));
            for item in v["sample"].as_array().into_iter().flatten() {
                println!("  {}  {}", cell(&item["id"]), cell(&item["name"]));
            }
            println!("query: {}", v["queryJson"]);
        }
        JobsCommand::Cancel {
            app,
            job,
            execution,
        } => {
            let exec = segment("--execution", &execution)?;
            let path = format!(
                "{}/cancelExecution?executionId={exec}",
                job_path(&app.application, &job)?
            );
            let v = client.post(&path, &json!({})).await?;
            if g.json {
                return print_json(&v);
            }
            println!("cancel requested for execution {exec}");
        }
        JobsCommand::Logs {
            app,
            job,
            limit,
            since,
        } => {
            let mut path = format!("{}/logs", job_path(&app.application, &job)?);
            let mut sep = '?';
            if let Some(l) = limit {
                path.push_str(&format!("{sep}limit={l}"));
                sep = '&';
            }
            if let Some(s) = since {
                path.push_str(&format!("{sep}since={s}"));
            }
            let v = client.get(&path).await?;
            if g.json {
                return print_json(&v);
            }
            print_logs(&v);
        }
    }
    Ok(())
}

/// `/applications/{app}/resource-jobs/{job}` from command-line ids.
fn job_path(app: &str, job: &str) -> anyhow::Result<String> {
    Ok(format!(
        "/applications/{}/resource-jobs/{}",
        segment("--application", app)?,
        segment("job id", job)?
    ))
}

/// The execute body: only the overrides given.
fn execute_body(a: ExecuteArgs) -> Value {
    let mut body = Map::new();
    for (k, v) in [
        ("templateContext", a.context),
        ("queryJson", a.query),
        ("dataTableId", a.data_table_id),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    Value::Object(body)
}

/// The create body: only the fields the user gave, each as [`super::ApiValue`] says.
fn create_body(a: &CreateArgs) -> Value {
    let mut b = Map::new();
    b.insert("name".into(), json!(a.name));
    b.insert("resourceType".into(), json!(a.resource_type));
    for (k, v) in a.optional_fields() {
        if let Some(v) = v {
            b.insert(k.into(), v);
        }
    }
    Value::Object(b)
}

/// The execution log as a table, one row per execution.
fn print_logs(v: &Value) {
    let items = v.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        eprintln!("no executions");
        return;
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|e| {
            let s = &e["executionSummary"];
            vec![
                cell(&e["id"]),
                cell(&e["status"]),
                cell(&e["runStartedAt"]),
                cell(&e["runCompletedAt"]),
                cell(&s["succeeded"]),
                cell(&s["failed"]),
                cell(&s["timedOut"]),
                cell(&s["inProgress"]),
                cell(&s["remaining"]),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "EXECUTION ID",
                "STATUS",
                "STARTED",
                "COMPLETED",
                "SUCCEEDED",
                "FAILED",
                "TIMED OUT",
                "IN PROGRESS",
                "REMAINING",
            ],
            &rows,
        )
    );
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass through).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::AppOpt;

    #[test]
    fn create_body_sends_only_given_fields() {
        let a = CreateArgs {
            app: AppOpt {
                application: "a".into(),
            },
            name: "n".into(),
            resource_type: "device".into(),
            query: Some("{}".into()),
            description: None,
            data_table_id: None,
            default_context: None,
            max_iteration_concurrency: Some(5),
            iteration_delay: None,
            iteration_timeout: None,
            retry_on_failure: true,
            retry_on_timeout: false,
            max_iteration_retries: None,
            retry_delay: Some(0),
            abort_config: None,
            rollout_config: None,
        };
        assert_eq!(
            create_body(&a),
            json!({"name": "n", "resourceType": "device", "queryJson": "{}",
                   "maxIterationConcurrency": 5, "retryOnFailure": true, "retryDelay": 0})
        );
    }

    #[test]
    fn encodes_globs() {
        assert_eq!(encode("poll *"), "poll%20%2A");
    }
}
