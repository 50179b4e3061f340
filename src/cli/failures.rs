//! `gknb failures`: reports that fail validation, with the rule, the cells and the url.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;
use crate::export::{format_number, guard, render_table};
use crate::store::{Archive, ExportFilter, FailureRow};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive [default: `archive.db` of config.toml].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only these report years (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "YEAR")]
    pub year: Vec<i32>,
    /// Only these regions (repeat or separate with commas).
    #[arg(long, value_delimiter = ',', value_name = "CODE")]
    pub region: Vec<String>,
    /// Include soft findings (cross-year continuity warnings) besides failed identities.
    #[arg(long)]
    pub warnings: bool,
}

/// Output formats of `failures`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

const COLUMNS: [&str; 11] = [
    "agency",
    "region",
    "year",
    "rule",
    "subject",
    "severity",
    "expected",
    "actual",
    "cells",
    "url",
    "report_id",
];

/// Exit code 0 whether or not there are failures: listing them is the command's job.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = args.db.unwrap_or_else(|| ctx.config.archive.db.clone());
    let archive = Archive::open_read_only(&db)?;
    let filter = ExportFilter {
        years: args.year,
        regions: args.region,
        metric_prefixes: Vec::new(),
    };
    let rows = archive.failures(&filter, args.warnings)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(COLUMNS)?;
            for r in &rows {
                let cells = cells(r);
                w.write_record(cells.iter().map(|c| guard(c).into_owned()))?;
            }
            w.flush()?;
        }
        Format::Table => {
            if rows.is_empty() {
                if !ctx.quiet {
                    println!("no failing checks");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut c = cells(r);
                    c[8] = short_cells(r);
                    c
                })
                .collect();
            print!("{}", render_table(&COLUMNS, &table));
            let reports: std::collections::BTreeSet<i64> =
                rows.iter().map(|r| r.report_id).collect();
            if !ctx.quiet {
                println!(
                    "{} failing {} in {} {}",
                    rows.len(),
                    plural(rows.len(), "check", "checks"),
                    reports.len(),
                    plural(reports.len(), "report", "reports")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn cells(r: &FailureRow) -> Vec<String> {
    vec![
        r.agency.clone(),
        r.region.clone(),
        r.year.map(|y| y.to_string()).unwrap_or_default(),
        r.rule.clone(),
        r.subject.clone(),
        r.severity.clone(),
        r.expected.map(format_number).unwrap_or_default(),
        r.actual.map(format_number).unwrap_or_default(),
        r.cells
            .iter()
            .map(|c| format!("{}={} ({} r{}c{})", c.metric, c.raw, c.table, c.row, c.col))
            .collect::<Vec<_>>()
            .join("; "),
        r.url.clone(),
        r.report_id.to_string(),
    ]
}

/// The total cell and the first parts, for a terminal line.
fn short_cells(r: &FailureRow) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = r
        .cells
        .iter()
        .take(SHOWN)
        .map(|c| format!("{}={}", c.metric, c.raw))
        .collect();
    if r.cells.len() > SHOWN {
        parts.push(format!("… +{}", r.cells.len() - SHOWN));
    }
    if parts.is_empty() {
        return r.metrics.join(" ");
    }
    parts.join(" ")
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}
