//! `gknb stats`: what the archive holds, by status, format, year and region; failing rules.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Context;
use crate::export::render_table;
use crate::store::{Archive, Stats};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive [default: `archive.db` of config.toml].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output formats of `stats`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    /// `section,key,count` rows.
    Csv,
    Json,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let db = args.db.unwrap_or_else(|| ctx.config.archive.db.clone());
    let archive = Archive::open_read_only(&db)?;
    let s = archive.stats()?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&s)?),
        Format::Csv => write_csv(&s)?,
        Format::Table => print!("{}", human(&s)),
    }
    Ok(ExitCode::SUCCESS)
}

fn write_csv(s: &Stats) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    w.write_record(["section", "key", "count"])?;
    let totals = [
        ("documents", s.documents),
        ("bodies", s.bodies),
        ("raw_bytes", s.raw_bytes),
        ("file_bytes", s.file_bytes),
        ("agencies", s.agencies),
        ("reports", s.reports),
        ("primary_reports", s.primary_reports),
        ("duplicate_reports", s.duplicate_reports),
        ("facts", s.facts),
    ];
    for (k, n) in totals {
        w.write_record(["total", k, &n.to_string()])?;
    }
    for (section, pairs) in sections(s) {
        for (k, n) in pairs {
            w.write_record([section, k.as_str(), &n.to_string()])?;
        }
    }
    for (rule, severity, n, _) in &s.failing_rules {
        w.write_record([
            &format!("failing_{severity}"),
            rule.as_str(),
            &n.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn sections(s: &Stats) -> [(&'static str, &Vec<(String, i64)>); 4] {
    [
        ("status", &s.by_status),
        ("format", &s.by_format),
        ("year", &s.by_year),
        ("region", &s.by_region),
    ]
}

/// A short summary first, then one small table per breakdown.
fn human(s: &Stats) -> String {
    let count = |k: &str| {
        s.by_status
            .iter()
            .find(|(st, _)| st == k)
            .map_or(0, |(_, n)| *n)
    };
    let mut out = format!(
        "{} reports from {} agencies ({} ok, {} failing validation, {} other); {} facts.\n\
         {} documents, {} distinct bodies, {:.1} MB raw, file {:.1} MB ({:.1} KB per report).\n",
        s.reports,
        s.agencies,
        count("ok"),
        count("invalid"),
        s.reports - count("ok") - count("invalid"),
        s.facts,
        s.documents,
        s.bodies,
        s.raw_bytes as f64 / 1e6,
        s.file_bytes as f64 / 1e6,
        if s.reports > 0 {
            s.file_bytes as f64 / 1e3 / s.reports as f64
        } else {
            0.0
        },
    );
    if s.duplicate_reports > 0 {
        out.push_str(&format!(
            "{} reports are duplicates of another report for the same agency-year.\n",
            s.duplicate_reports
        ));
    }
    for (section, pairs) in sections(s) {
        if pairs.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = pairs
            .iter()
            .map(|(k, n)| vec![k.clone(), n.to_string()])
            .collect();
        out.push('\n');
        out.push_str(&render_table(&[section, "reports"], &rows));
    }
    if !s.failing_rules.is_empty() {
        let rows: Vec<Vec<String>> = s
            .failing_rules
            .iter()
            .map(|(rule, sev, n, reports)| {
                vec![
                    rule.clone(),
                    sev.clone(),
                    n.to_string(),
                    reports.to_string(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&render_table(
            &["failing rule", "severity", "instances", "reports"],
            &rows,
        ));
    }
    out
}
