//! `gknb export csv`: the facts as CSV, long or wide, optionally Excel-friendly.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::export::{CsvOptions, write_csv};
use crate::store::{Archive, ExportFilter};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to export.
    #[arg(value_enum)]
    pub what: What,
    /// Output file [default: standard output].
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// One row per agency-year with one column per metric (default: one row per fact).
    #[arg(long)]
    pub wide: bool,
    /// UTF-8 with BOM and CRLF line ends, for Excel on Chinese Windows.
    #[arg(long)]
    pub excel: bool,
    /// Only these report years (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "YEAR")]
    pub year: Vec<i32>,
    /// Only these regions (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "CODE")]
    pub region: Vec<String>,
    /// Only metrics whose key starts with this prefix (repeatable), e.g. `requests.`.
    #[arg(long, value_name = "PREFIX")]
    pub metric: Vec<String>,
    /// The archive [default: `archive.db` of config.toml].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    /// Comma-separated values.
    Csv,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = args.db.unwrap_or_else(|| ctx.config.archive.db.clone());
    let archive = Archive::open_read_only(&db)?;
    let opts = CsvOptions {
        wide: args.wide,
        excel: args.excel,
        filter: ExportFilter {
            years: args.year,
            regions: args.region,
            metric_prefixes: args.metric,
        },
    };
    let rows = match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut buf = std::io::BufWriter::new(file);
            let rows = write_csv(&archive, &mut buf, &opts)?;
            buf.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            rows
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let rows = write_csv(&archive, &mut out, &opts)?;
            out.flush()?;
            rows
        }
    };
    if !ctx.quiet
        && let Some(path) = &args.out
    {
        eprintln!("wrote {rows} rows to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
