//! `gknb datasette`: Datasette metadata (table and column descriptions) as JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database name Datasette will use (the archive's file stem) [default: from `archive.db`
    /// of config.toml].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Usage: `gknb datasette -o metadata.json && datasette gknb.sqlite -m metadata.json`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let name = args.name.unwrap_or_else(|| {
        ctx.config
            .archive
            .db
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "gknb".into())
    });
    let text = serde_json::to_string_pretty(&crate::store::datasette::metadata(&name))? + "\n";
    match args.out {
        Some(path) => std::fs::write(&path, text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
