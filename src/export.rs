//! Getting data out of the archive for people and spreadsheets: CSV (long and wide), with an
//! Excel-friendly variant, and plain-text tables for the terminal.
//!
//! Formula injection: a spreadsheet treats a cell starting with `=`, `+`, `-` or `@` (or a tab
//! or carriage return before one) as a formula, and report pages are untrusted input. Every
//! text cell that starts so and is not a plain number gets a leading `'` (the OWASP
//! recommendation; Excel hides the quote and shows the text). Numbers such as `-18` are left
//! alone so they stay numbers.

use std::borrow::Cow;
use std::io::Write;

use unicode_width::UnicodeWidthStr;

use crate::store::{Archive, ExportFilter, FactRow, StoreError};

/// Errors while exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

/// How to lay out a CSV export.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// One row per agency-year with a column per metric, instead of one row per fact.
    pub wide: bool,
    /// UTF-8 with BOM and CRLF line ends, so Excel on Chinese Windows opens it as UTF-8.
    pub excel: bool,
    pub filter: ExportFilter,
}

/// Columns of the long format, in order.
pub const LONG_COLUMNS: [&str; 14] = [
    "agency",
    "region",
    "year",
    "metric",
    "report_table",
    "row_zh",
    "column_zh",
    "label_en",
    "unit",
    "value",
    "state",
    "raw",
    "report_status",
    "source_url",
];

/// Leading columns of the wide format; metric keys follow in catalogue order.
pub const WIDE_KEY_COLUMNS: [&str; 5] = ["agency", "region", "year", "report_status", "source_url"];

/// Writes the facts of `archive` as CSV; returns the number of data rows written.
pub fn write_csv(
    archive: &Archive,
    out: impl Write,
    opts: &CsvOptions,
) -> Result<usize, ExportError> {
    let mut out = out;
    if opts.excel {
        out.write_all("\u{feff}".as_bytes())?;
    }
    let terminator = if opts.excel {
        csv::Terminator::CRLF
    } else {
        csv::Terminator::Any(b'\n')
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(terminator)
        .from_writer(out);
    let rows = if opts.wide {
        write_wide(archive, &mut w, &opts.filter)?
    } else {
        write_long(archive, &mut w, &opts.filter)?
    };
    w.flush()?;
    Ok(rows)
}

fn write_long<W: Write>(
    archive: &Archive,
    w: &mut csv::Writer<W>,
    filter: &ExportFilter,
) -> Result<usize, ExportError> {
    w.write_record(LONG_COLUMNS)?;
    let mut rows = 0;
    let mut csv_err = None;
    let result = archive.for_each_fact(filter, |f| {
        let value = f.value.map(format_number).unwrap_or_default();
        let year = f.year.to_string();
        let record = [
            guard(&f.agency),
            guard(&f.region),
            Cow::Borrowed(year.as_str()),
            guard(&f.metric),
            guard(f.report_table.as_deref().unwrap_or("")),
            guard(f.row_zh.as_deref().unwrap_or("")),
            guard(f.column_zh.as_deref().unwrap_or("")),
            guard(f.label_en.as_deref().unwrap_or("")),
            guard(f.unit.as_deref().unwrap_or("")),
            Cow::Borrowed(value.as_str()),
            guard(&f.state),
            guard(&f.raw),
            guard(&f.report_status),
            guard(&f.source_url),
        ];
        if let Err(e) = w.write_record(record.iter().map(|c| c.as_bytes())) {
            csv_err = Some(e);
            return Err(StoreError::Invalid("CSV write failed".into()));
        }
        rows += 1;
        Ok(())
    });
    if let Some(e) = csv_err {
        return Err(e.into());
    }
    result?;
    Ok(rows)
}

fn write_wide<W: Write>(
    archive: &Archive,
    w: &mut csv::Writer<W>,
    filter: &ExportFilter,
) -> Result<usize, ExportError> {
    let metrics: Vec<&'static str> = crate::metrics::all()
        .iter()
        .map(|m| m.key)
        .filter(|k| {
            filter.metric_prefixes.is_empty()
                || filter
                    .metric_prefixes
                    .iter()
                    .any(|p| k.starts_with(p.as_str()))
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> =
        metrics.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let header: Vec<&str> = WIDE_KEY_COLUMNS
        .iter()
        .copied()
        .chain(metrics.iter().copied())
        .collect();
    w.write_record(&header)?;

    let mut rows = 0;
    let mut csv_err = None;
    let mut current: Option<(FactRow, Vec<String>)> = None;
    let mut flush =
        |row: &(FactRow, Vec<String>), w: &mut csv::Writer<W>| -> Result<(), csv::Error> {
            let (key, values) = row;
            let year = key.year.to_string();
            let mut record: Vec<Cow<str>> = vec![
                guard(&key.agency),
                guard(&key.region),
                Cow::Borrowed(year.as_str()),
                guard(&key.report_status),
                guard(&key.source_url),
            ];
            record.extend(values.iter().map(|v| Cow::Borrowed(v.as_str())));
            rows += 1;
            w.write_record(record.iter().map(|c| c.as_bytes()))
        };
    let result = archive.for_each_fact(filter, |f| {
        let same = current
            .as_ref()
            .is_some_and(|(k, _)| k.agency == f.agency && k.region == f.region && k.year == f.year);
        if !same {
            if let Some(done) = current.take()
                && let Err(e) = flush(&done, w)
            {
                csv_err = Some(e);
                return Err(StoreError::Invalid("CSV write failed".into()));
            }
            current = Some((f.clone(), vec![String::new(); metrics.len()]));
        }
        if let (Some((_, values)), Some(i)) = (current.as_mut(), index.get(f.metric.as_str())) {
            values[*i] = f.value.map(format_number).unwrap_or_default();
        }
        Ok(())
    });
    if let Some(e) = csv_err {
        return Err(e.into());
    }
    result?;
    if let Some(done) = current.take() {
        flush(&done, w)?;
    }
    Ok(rows)
}

/// Neutralises a text cell against formula injection (see the module comment).
pub fn guard(cell: &str) -> Cow<'_, str> {
    let risky = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    if !risky || is_plain_number(cell) {
        return Cow::Borrowed(cell);
    }
    Cow::Owned(format!("'{cell}"))
}

/// `-18`, `+2`, `3.5`, `1e3`: what a spreadsheet would read as a number anyway. `inf` and
/// `nan` are not numbers here.
fn is_plain_number(s: &str) -> bool {
    s.parse::<f64>().is_ok() && s.bytes().any(|b| b.is_ascii_digit())
}

/// Whole numbers without `.0`; others in the shortest form that reads back exactly.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Renders rows as a plain-text table for a terminal, aligning wide (CJK) characters by their
/// display width. Cells are not guarded: this is for eyes, not spreadsheets.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cols = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::with_capacity(cols);
        for (i, c) in cells.enumerate().take(cols) {
            let pad = widths[i].saturating_sub(c.width());
            parts.push(format!("{c}{}", " ".repeat(pad)));
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_neutralises_formulas_but_not_numbers() {
        assert_eq!(guard("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(guard("@cmd"), "'@cmd");
        assert_eq!(guard("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(guard("-"), "'-");
        assert_eq!(guard("\t=1"), "'\t=1");
        assert_eq!(guard("-18"), "-18");
        assert_eq!(guard("+2"), "+2");
        assert_eq!(guard("-inf"), "'-inf");
        assert_eq!(guard("民政局"), "民政局");
        assert_eq!(guard(""), "");
    }

    #[test]
    fn numbers_print_without_trailing_zero() {
        assert_eq!(format_number(12.0), "12");
        assert_eq!(format_number(-18.0), "-18");
        assert_eq!(format_number(24252.311082), "24252.311082");
    }

    #[test]
    fn table_aligns_wide_characters() {
        let t = render_table(&["a", "b"], &[vec!["民政局".into(), "1".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "a       b");
        assert_eq!(lines[2], "民政局  1");
    }
}
