//! The command-line edge: argument parsing, logging setup, exit codes. Each subcommand lives in
//! its own file and calls into the library; the library offers the same features.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

mod bench;
mod crawl;
mod datasette;
mod export;
mod failures;
mod import;
mod parse;
mod reparse;
mod stats;

/// gknb (公开年报): government-information disclosure annual reports into SQLite.
#[derive(Debug, Parser)]
#[command(name = "gknb", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file [default: ./config.toml when present, else built-in defaults].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More logging (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse report files (HTML, text, PDF, DOCX; `-` for stdin) and show what was understood.
    Parse(parse::Args),
    /// Import local report files into the archive as if fetched.
    Import(import::Args),
    /// Re-run the current parser over every archived report, offline.
    Reparse(reparse::Args),
    /// List reports that fail validation, with the rule, the cells and the url.
    Failures(failures::Args),
    /// Export the archive.
    Export(export::Args),
    /// Counts by status, format, year and region; failing rules.
    Stats(stats::Args),
    /// Print Datasette metadata (table and column descriptions) as JSON.
    Datasette(datasette::Args),
    /// Crawl the seeds' portals into the archive.
    Crawl(crawl::Args),
    /// Crawl a local portal simulator and report throughput (like `scrapy bench`).
    Bench(bench::Args),
}

/// What every command gets besides its own arguments.
pub struct Context {
    pub config: Config,
    pub verbose: u8,
    pub quiet: bool,
}

/// Entry point of the binary. Exit codes: 0 success; 1 the command ran but found what it
/// reports as a problem (see each command); 2 usage, configuration or I/O error; 130 stopped
/// by Ctrl-C or SIGTERM (`crawl`, `bench`).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gknb: {e}");
            return ExitCode::from(2);
        }
    };
    let ctx = Context {
        config,
        verbose: cli.verbose,
        quiet: cli.quiet,
    };
    let result = match cli.command {
        Command::Parse(a) => parse::run(a, &ctx),
        Command::Import(a) => import::run(a, &ctx),
        Command::Reparse(a) => reparse::run(a, &ctx),
        Command::Failures(a) => failures::run(a, &ctx),
        Command::Export(a) => export::run(a, &ctx),
        Command::Stats(a) => stats::run(a, &ctx),
        Command::Datasette(a) => datasette::run(a, &ctx),
        Command::Crawl(a) => crawl::run(a, &ctx),
        Command::Bench(a) => bench::run(a, &ctx),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gknb: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    // The PDF library narrates every repair of a damaged file at WARN; what matters to a person
    // is the report's status and reason, so its messages only show from -vv on.
    let pdf = if verbose >= 2 { "" } else { ",pdf_oxide=error" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GKNB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default}{pdf}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Watches for Ctrl-C and SIGTERM from the moment it is called (inside the runtime), so a
/// signal that comes before the returned future is first polled (while a crawl opens its
/// archive) is not lost and no longer kills the process. The future resolves on the first
/// signal; never when the signals cannot be watched.
pub(crate) fn interrupted() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = streams else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
