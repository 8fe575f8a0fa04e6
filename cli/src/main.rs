//! `o365ctl`: the operator's tool of o365-collector. Runs the lister and fetcher on this
//! machine (`run`, `backfill`), sends blobs again (`replay`), normalizes files (`normalize`)
//! and reports checkpoints, lag and gaps (`status`).

mod args;
mod commands;
mod config;
mod connect;
mod exit;
mod health;
mod interrupt;
mod pipeline;
mod progress;
mod relist;
mod spool;
mod summary;
mod target;
mod window;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::exit::Code;

/// Log timestamps to the millisecond, in UTC.
struct Millis;

impl tracing_subscriber::fmt::time::FormatTime for Millis {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,h2=warn,reqwest=warn,aws_config=warn,aws_smithy_runtime=warn"
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Millis)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(Code::Partial.as_i32() as u8);
        }
    };
    let ui = commands::Ui { quiet: cli.quiet };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Run(a) => commands::run::run(a, ui).await,
            Command::Replay(a) => commands::replay::run(a, ui).await,
            Command::Backfill(a) => commands::backfill::run(a, ui).await,
            Command::Sweep(a) => commands::sweep::run(a, ui).await,
            Command::Audit(a) => commands::audit::run(a, ui).await,
            Command::Normalize(a) => commands::normalize::run(a).await,
            Command::Status(a) => commands::status::run(a).await,
            Command::Verify(a) => commands::verify::run(a).await,
            Command::Compact(a) => commands::compact::run(a).await,
            Command::Ocsf(a) => commands::ocsf::run(a).await,
        }
    });
    let code = match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.code
        }
    };
    std::process::ExitCode::from(code.as_i32() as u8)
}
