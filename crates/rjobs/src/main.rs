//! `rjobs`: the server (`serve`), token management, and (to come) the demo and the user CLI.
//! Startup code only: settings, wiring, signals. Everything else lives in the library crates.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod cli;
mod demo;
mod demo_mqtt;
mod listener;
mod serve;
mod settings;
mod webhook_settings;

use settings::{FlagOverrides, LogFormat, Settings};

/// mimalloc for Rust and, through its `override` feature, for the bundled SQLite too: glibc's
/// malloc (`malloc_consolidate`, `unlink_chunk`, `_int_free`) took about a fifth of the engine's
/// CPU in a profile of the flow benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "rjobs",
    version,
    about = "Resource Jobs server, Losant Platform API compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// TOML settings file (unknown keys are errors).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://...
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: ServerArgs,
        /// Address to listen on (use port 0 for a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Public base URL used in report links.
        #[arg(long)]
        public_url: Option<String>,
        /// Log format.
        #[arg(long, value_enum)]
        log_format: Option<LogFormat>,
    },
    /// Run a demonstration on a temporary embedded database and exit.
    Demo(demo::DemoArgs),
    /// Manage resource jobs on a server (user CLI).
    Jobs(cli::JobsArgs),
    /// Watch executions and fetch their reports (user CLI).
    Executions(cli::ExecutionsArgs),
    /// Manage admin tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an admin token and print it (shown once).
    CreateAdmin {
        #[command(flatten)]
        common: ServerArgs,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve {
            common,
            listen,
            public_url,
            log_format,
        } => {
            let flags = FlagOverrides {
                listen,
                database_url: common.database_url,
                public_url,
                log_format,
            };
            let settings = Settings::load(common.config.as_ref(), &flags)?;
            serve::init_logging(settings.log_format);
            rt.block_on(serve::run(settings))
        }
        Command::Demo(args) => {
            serve::init_logging_quiet();
            rt.block_on(demo::run(args))
        }
        Command::Jobs(args) => rt.block_on(cli::run_jobs(args)),
        Command::Executions(args) => rt.block_on(cli::run_executions(args)),
        Command::Token {
            command: TokenCommand::CreateAdmin { common },
        } => {
            let flags = FlagOverrides {
                database_url: common.database_url,
                ..Default::default()
            };
            let settings = Settings::load(common.config.as_ref(), &flags)?;
            rt.block_on(serve::create_admin(&settings))
        }
    }
}
