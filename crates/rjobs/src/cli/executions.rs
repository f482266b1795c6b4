//! `rjobs executions watch|pause|resume|rerun|report`.
//!
//! `watch` reuses [`super::watch::watch`] (the demo draws the same bar) and turns the final status
//! into the exit code, so scripts can `rjobs executions watch ... && next-step`. `report` streams
//! the CSV chunk by chunk: reports have one row per targeted resource and may be large, so the body
//! is never held whole in memory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::watch::{summary_text, watch, WatchStyle};
use super::{print_json, segment, ExecRef, ExecutionsCommand, GlobalOpts, EXIT_NOT_COMPLETED};

/// Runs one `executions` subcommand; returns the exit code.
pub(super) async fn run(g: &GlobalOpts, cmd: ExecutionsCommand) -> anyhow::Result<i32> {
    let client = g.client()?;
    match cmd {
        ExecutionsCommand::Watch(target) => {
            let (app, job, exec) = ids(&target)?;
            let style = if g.json {
                WatchStyle::Quiet
            } else {
                WatchStyle::auto()
            };
            let item = watch(&client, app, job, exec, style).await?;
            if g.json {
                print_json(&item)?;
            } else {
                print!("{}", summary_text(&item));
            }
            Ok(if item["status"] == "completed" {
                0
            } else {
                EXIT_NOT_COMPLETED
            })
        }
        ExecutionsCommand::Pause(target) => status_change(g, &client, &target, "pause").await,
        ExecutionsCommand::Resume(target) => status_change(g, &client, &target, "resume").await,
        ExecutionsCommand::Rerun { target, statuses } => {
            let (app, job, exec) = ids(&target)?;
            let path = format!("/applications/{app}/resource-jobs/{job}/execute");
            let mut rerun = serde_json::json!({ "executionId": exec });
            if !statuses.is_empty() {
                rerun["statuses"] = serde_json::json!(statuses);
            }
            let v = client
                .post(&path, &serde_json::json!({ "rerunOf": rerun }))
                .await?;
            if g.json {
                print_json(&v)?;
            } else {
                match v["executionId"].as_str() {
                    Some(id) => println!("{id}"),
                    None => anyhow::bail!("the server did not return an executionId: {v}"),
                }
            }
            Ok(0)
        }
        ExecutionsCommand::Report { target, output } => {
            let (app, job, exec) = ids(&target)?;
            let path =
                format!("/applications/{app}/resource-jobs/{job}/executions/{exec}/report.csv");
            let mut resp = client.get_stream(&path).await?;
            match &output {
                Some(file) => {
                    let mut f = std::fs::File::create(file)
                        .with_context(|| format!("cannot create {}", file.display()))?;
                    let n = copy(&mut resp, &mut f, file).await?;
                    f.sync_all()
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    eprintln!("wrote {n} bytes to {}", file.display());
                }
                None => {
                    copy(&mut resp, &mut std::io::stdout(), Path::new("stdout")).await?;
                }
            }
            Ok(0)
        }
    }
}

/// `pause` or `resume` one execution.
async fn status_change(
    g: &GlobalOpts,
    client: &super::client::Client,
    target: &ExecRef,
    verb: &str,
) -> anyhow::Result<i32> {
    let (app, job, exec) = ids(target)?;
    let path =
        format!("/applications/{app}/resource-jobs/{job}/{verb}Execution?executionId={exec}");
    let v = client.post(&path, &serde_json::json!({})).await?;
    if g.json {
        print_json(&v)?;
    } else {
        println!("{verb}d execution {exec}");
    }
    Ok(0)
}

fn ids(t: &ExecRef) -> anyhow::Result<(&str, &str, &str)> {
    Ok((
        segment("--application", &t.app.application)?,
        segment("--job", &t.job)?,
        segment("execution id", &t.execution)?,
    ))
}

/// Copies the response body to `out` chunk by chunk; returns the byte count.
async fn copy(
    resp: &mut reqwest::Response,
    out: &mut dyn Write,
    name: &Path,
) -> anyhow::Result<u64> {
    let mut n = 0u64;
    while let Some(chunk) = resp
        .chunk()
        .await
        .context("the report download was interrupted")?
    {
        out.write_all(&chunk)
            .with_context(|| format!("cannot write {}", name.display()))?;
        n += chunk.len() as u64;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", name.display()))?;
    Ok(n)
}
