//! `gknb reparse`: the current parser over every archived report document, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Context;
use crate::export::render_table;
use crate::store::Archive;
use crate::store::pipeline::{ReparseOptions, reparse};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive [default: `archive.db` of config.toml].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Parser threads [default: one per core].
    #[arg(long, short = 'j', value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Output: a readable summary, or the full summary as JSON.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Output formats of `reparse`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Exit code 1 when some documents could not be re-parsed or stored.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = args.db.unwrap_or_else(|| ctx.config.archive.db.clone());
    let mut archive = Archive::open(&db)?;
    let run = archive.start_run("reparse")?;
    let total = archive.report_sources()?.len() as u64;
    let bar = progress_bar(ctx, Some(total));
    let summary = reparse(
        &mut archive,
        &ReparseOptions { workers: args.jobs },
        &mut || bar.inc(1),
    )?;
    bar.finish_and_clear();
    archive.finish_run(run, &serde_json::to_value(&summary)?)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&summary)?),
        Format::Text => {
            println!(
                "re-parsed {} report documents: {} reports changed, {} facts changed, {} status changes, {} errors",
                summary.documents,
                summary.changed_reports,
                summary.facts_changed,
                summary.status_changes.len(),
                summary.errors.len()
            );
            if !summary.status_changes.is_empty() {
                let rows: Vec<Vec<String>> = summary
                    .status_changes
                    .iter()
                    .map(|c| {
                        vec![
                            c.agency.clone().unwrap_or_default(),
                            c.year.map(|y| y.to_string()).unwrap_or_default(),
                            c.from.clone().unwrap_or_else(|| "(new)".into()),
                            c.to.clone(),
                            c.url.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    render_table(&["agency", "year", "from", "to", "url"], &rows)
                );
            }
        }
    }
    for (url, err) in &summary.errors {
        eprintln!("gknb: {url}: {err}");
    }
    Ok(if summary.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A progress bar on stderr when it is a terminal and the user did not ask for quiet.
pub(super) fn progress_bar(ctx: &Context, total: Option<u64>) -> ProgressBar {
    use std::io::IsTerminal;
    if ctx.quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{bar:30} {pos}/{len} reports ({per_sec}, eta {eta})"
    } else {
        "{spinner} {pos} files ({per_sec})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
