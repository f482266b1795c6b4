//! The user CLI: talks to any rjobs server over HTTP (`--url`/`RJOBS_URL`, `--token`/`RJOBS_TOKEN`).

/// `rjobs jobs ...` arguments.
#[derive(Debug, clap::Args)]
pub struct JobsArgs {}

/// `rjobs executions ...` arguments.
#[derive(Debug, clap::Args)]
pub struct ExecutionsArgs {}

/// Runs `rjobs jobs ...`.
pub async fn run_jobs(_args: JobsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}

/// Runs `rjobs executions ...`.
pub async fn run_executions(_args: ExecutionsArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
