//! `gknb parse FILE...`: parse report files without an archive and show what was understood.
//!
//! Exit codes: 0 every input parsed and no hard check failed; 1 at least one input is
//! `invalid` or `unparsed`; 2 an input could not be read.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::Context;
use crate::model::{CheckStatus, ParsedReport, Status};
use crate::report::{self, Input};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A summary for a person: the tables as understood, then the failed checks.
    Text,
    /// JSON Lines: one object per input file.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Report files (HTML or text); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

pub fn run(args: Args, _ctx: &Context) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut worst = 0u8;
    for path in &args.files {
        let (bytes, source) = match read_input(path) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("gknb: {e:#}");
                worst = 2;
                continue;
            }
        };
        let parsed = report::parse(&Input {
            bytes: &bytes,
            source: &source,
            content_type: None,
        });
        match args.format {
            OutputFormat::Json => writeln!(out, "{}", to_json_line(&parsed))?,
            OutputFormat::Text => write!(out, "{}", summary(&parsed))?,
        }
        if matches!(parsed.status, Status::Invalid | Status::Unparsed) {
            worst = worst.max(1);
        }
    }
    out.flush()?;
    Ok(ExitCode::from(worst))
}

fn read_input(path: &PathBuf) -> anyhow::Result<(Vec<u8>, String)> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
        return Ok((buf, "-".to_string()));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((bytes, path.display().to_string()))
}

/// The JSON Lines object: exactly the documented top-level keys.
pub fn to_json_line(r: &ParsedReport) -> String {
    json!({
        "source": r.source,
        "title": r.title,
        "agency": r.agency,
        "year": r.year,
        "year_source": r.year_source.as_str(),
        "format": r.format.as_str(),
        "status": r.status.as_str(),
        "encoding": r.encoding,
        "facts": r.facts,
        "checks": r.checks,
        "warnings": r.warnings,
    })
    .to_string()
}

/// A readable summary: header, the three tables as understood, failed checks, warnings.
pub fn summary(r: &ParsedReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.source);
    let _ = writeln!(
        s,
        "  title    {}\n  agency   {}\n  year     {} (from {})\n  format   {}\n  status   {}{}\n  encoding {}",
        r.title.as_deref().unwrap_or("?"),
        r.agency.as_deref().unwrap_or("?"),
        r.year.map_or("?".to_string(), |y| y.to_string()),
        r.year_source.as_str(),
        r.format.as_str(),
        r.status.as_str(),
        r.reason
            .as_deref()
            .map_or(String::new(), |x| format!(" ({x})")),
        r.encoding,
    );
    if !r.facts.is_empty() {
        let _ = writeln!(s, "  facts    {}", r.facts.len());
    }
    for table in ["二", "三", "四"] {
        let facts: Vec<_> = r.facts.iter().filter(|f| f.table == table).collect();
        if facts.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n  table {table}");
        for f in facts {
            let label = crate::metrics::get(&f.metric)
                .map(|m| format!("{} | {}", m.row_zh, m.column_zh))
                .unwrap_or_default();
            let value = match f.value {
                Some(v) => format_number(v),
                None => format!("<{}>", f.state.as_str()),
            };
            let raw = if f.raw != value && !f.raw.is_empty() {
                format!("  «{}»", f.raw)
            } else {
                String::new()
            };
            let _ = writeln!(s, "    {:<48} {:>14}{raw}  {label}", f.metric, value);
        }
    }
    let counts = |st: CheckStatus| r.checks.iter().filter(|c| c.status == st).count();
    if !r.checks.is_empty() {
        let _ = writeln!(
            s,
            "\n  checks   {} pass, {} fail, {} skipped",
            counts(CheckStatus::Pass),
            counts(CheckStatus::Fail),
            counts(CheckStatus::Skipped)
        );
    }
    for c in r.failed_checks() {
        let _ = writeln!(
            s,
            "    FAIL {} [{}]: expected {} (sum of addends), table says {}; cells {}",
            c.rule,
            c.subject,
            c.expected.map_or("?".into(), format_number),
            c.actual.map_or("?".into(), format_number),
            c.metrics.join(" "),
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "  warning  {}: {}", w.rule, w.message);
    }
    s.push('\n');
    s
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}
