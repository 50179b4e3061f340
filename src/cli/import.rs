//! `gknb import`: local report files (HTML, text) into the archive, as if fetched.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::store::pipeline::{ImportOptions, import_files};
use crate::store::{AgencyHint, Archive};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report files or directories (walked for .html, .htm, .shtml, .txt).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The publishing agency [default: the name found in each page].
    #[arg(long, value_name = "NAME")]
    pub agency: Option<String>,
    /// Region code qualifying the agency name (names such as 民政局 repeat across China).
    #[arg(long, value_name = "CODE", default_value = "")]
    pub region: String,
    /// The portal the agency publishes on, for the record.
    #[arg(long, value_name = "URL")]
    pub portal: Option<String>,
    /// Report year, when the page does not state it (or states it wrongly).
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// The archive [default: `archive.db` of config.toml].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Parser threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,
}

/// Exit code 1 when some files could not be imported (the others are).
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = args.db.unwrap_or_else(|| ctx.config.archive.db.clone());
    let mut archive = Archive::open(&db)?;
    let run = archive.start_run("import")?;
    let opts = ImportOptions {
        hint: AgencyHint {
            name: args.agency,
            region: args.region,
            portal: args.portal,
        },
        year: args.year,
        workers: args.jobs,
    };
    let bar = super::reparse::progress_bar(ctx, None);
    let summary = import_files(&mut archive, &args.paths, &opts, &mut || bar.inc(1))
        .with_context(|| format!("importing into {}", db.display()))?;
    bar.finish_and_clear();
    archive.finish_run(run, &serde_json::to_value(&summary)?)?;
    for (file, err) in &summary.errors {
        eprintln!("gknb: {file}: {err}");
    }
    if !ctx.quiet {
        let statuses: Vec<String> = summary
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        let statuses = if statuses.is_empty() {
            String::new()
        } else {
            format!(" ({})", statuses.join(", "))
        };
        eprintln!(
            "imported {} of {} files into {}{statuses}, {} facts; {} already archived, {} errors",
            summary.imported,
            summary.files,
            db.display(),
            summary.facts,
            summary.already_archived,
            summary.errors.len()
        );
    }
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
