//! Plain data types passed between the pipeline's stages.
//!
//! Nothing here does I/O or parsing: `report` produces a [`ParsedReport`], `validate` fills its
//! checks, `store` writes it, `export` and the CLI read it back. Keeping these types dumb and
//! serialisable is what lets the archive be re-parsed offline and compared run to run.

use serde::{Deserialize, Serialize};

/// Which version of the national template a report follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Report years 2019 and 2020: 198 facts.
    #[serde(rename = "2019")]
    F2019,
    /// Report years 2021 onwards: 200 facts.
    #[serde(rename = "2021")]
    F2021,
    /// Reports for years before 2019: free-form tables, archived but not extracted.
    #[serde(rename = "legacy")]
    Legacy,
    /// No template recognised.
    #[serde(rename = "unknown")]
    Unknown,
}

impl Format {
    /// The stable string used in JSON, SQLite and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::F2019 => "2019",
            Format::F2021 => "2021",
            Format::Legacy => "legacy",
            Format::Unknown => "unknown",
        }
    }

    /// Parses [`Format::as_str`] back.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "2019" => Format::F2019,
            "2021" => Format::F2021,
            "legacy" => Format::Legacy,
            "unknown" => Format::Unknown,
            _ => return None,
        })
    }
}

/// What became of a report document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Tables found and every hard check passed or was skipped.
    Ok,
    /// Tables found, at least one hard check failed.
    Invalid,
    /// A pre-2019 report: archived, no facts extracted.
    Legacy,
    /// A short page whose report lives in a linked PDF/DOC/DOCX/WPS/XLS file.
    AttachmentOnly,
    /// The tables are published as images.
    ImageOnly,
    /// Nothing usable could be read; the reason is in [`ParsedReport::reason`].
    Unparsed,
}

impl Status {
    /// The stable string used in JSON, SQLite and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Invalid => "invalid",
            Status::Legacy => "legacy",
            Status::AttachmentOnly => "attachment_only",
            Status::ImageOnly => "image_only",
            Status::Unparsed => "unparsed",
        }
    }

    /// Parses [`Status::as_str`] back.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "ok" => Status::Ok,
            "invalid" => Status::Invalid,
            "legacy" => Status::Legacy,
            "attachment_only" => Status::AttachmentOnly,
            "image_only" => Status::ImageOnly,
            "unparsed" => Status::Unparsed,
            _ => return None,
        })
    }
}

/// How a table cell was understood. Blank is not zero, and `/` is not zero either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellState {
    /// The cell holds a number (possibly with a unit or an annotation, kept in `raw`).
    Number,
    /// Blank, `&nbsp;`, `<o:p> </o:p>`.
    Empty,
    /// `/`, `—`, `——`, `-`, `无`: explicitly not applicable.
    Na,
    /// Anything else that holds no number.
    Text,
}

impl CellState {
    /// The stable string used in JSON, SQLite and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Number => "number",
            CellState::Empty => "empty",
            CellState::Na => "na",
            CellState::Text => "text",
        }
    }

    /// Parses [`CellState::as_str`] back.
    pub fn parse(s: &str) -> Option<CellState> {
        Some(match s {
            "number" => CellState::Number,
            "empty" => CellState::Empty,
            "na" => CellState::Na,
            "text" => CellState::Text,
            _ => return None,
        })
    }
}

/// Where the report year came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YearSource {
    /// The page title or heading (`2020年…年度报告`).
    Title,
    /// A `<meta>` tag such as `ArticleTitle`.
    Meta,
    /// The metadata table (索引号 / 发布机构 / 发文日期 …).
    MetadataTable,
    /// The body text (`本报告数据统计期限为2020年1月1日…`).
    Body,
    /// Publication date minus one year.
    PublicationDate,
    /// Supplied by the caller (for example `gknb import --year`).
    Given,
    /// No year found.
    None,
}

impl YearSource {
    /// The stable string used in JSON, SQLite and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            YearSource::Title => "title",
            YearSource::Meta => "meta",
            YearSource::MetadataTable => "metadata_table",
            YearSource::Body => "body",
            YearSource::PublicationDate => "publication_date",
            YearSource::Given => "given",
            YearSource::None => "none",
        }
    }
}

/// One statistical cell of a report, keyed by `metrics.tsv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Canonical metric key, e.g. `requests.new_received.total`.
    pub metric: String,
    /// The number in the metric's unit (money converted to yuan or 万元); `None` unless
    /// `state` is [`CellState::Number`].
    #[serde(serialize_with = "ser_num")]
    pub value: Option<f64>,
    pub state: CellState,
    /// The cell text as normalised for reading, before any conversion.
    pub raw: String,
    /// `二`, `三` or `四`.
    pub table: String,
    /// Grid row of the cell within its source (0-based; for text forms, the line number).
    pub row: u32,
    /// Grid column of the cell within its row (0-based).
    pub col: u32,
    /// Page of a paged source (PDF), 1-based; absent for HTML and text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// Result of one check instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
    Skipped,
}

impl CheckStatus {
    /// The stable string used in JSON, SQLite and CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
        }
    }

    /// Parses [`CheckStatus::as_str`] back.
    pub fn parse(s: &str) -> Option<CheckStatus> {
        Some(match s {
            "pass" => CheckStatus::Pass,
            "fail" => CheckStatus::Fail,
            "skipped" => CheckStatus::Skipped,
            _ => return None,
        })
    }
}

/// One instance of an accounting identity (T3-A for column 总计, T4 for 行政复议, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Rule name: `T3-A`, `T3-B`, `T3-C`, `T4`, or a cross-year warning rule.
    pub rule: String,
    /// What the instance is about: a column key (`total`, `natural_person`), a row key, a group.
    pub subject: String,
    pub status: CheckStatus,
    /// The value the identity predicts (the sum of the addends).
    #[serde(serialize_with = "ser_num")]
    pub expected: Option<f64>,
    /// The value printed in the report (the total cell).
    #[serde(serialize_with = "ser_num")]
    pub actual: Option<f64>,
    /// Metric keys involved, total first.
    pub metrics: Vec<String>,
}

/// A soft finding: never makes a report invalid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// `template_year_mismatch`, `negative_count`, `unparsed`, …
    pub rule: String,
    pub message: String,
}

/// Everything the parser learned from one document. Pure data: the same bytes always give the
/// same `ParsedReport` for a given [`crate::report::PARSER_VERSION`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParsedReport {
    /// File path or URL the bytes came from.
    pub source: String,
    pub title: Option<String>,
    pub agency: Option<String>,
    pub year: Option<i32>,
    pub year_source: YearSource,
    /// Publication date (`YYYY-MM-DD`) when the page states one.
    pub published: Option<String>,
    pub format: Format,
    pub status: Status,
    /// Why the status is `unparsed`, `attachment_only`, `image_only` or `legacy`.
    pub reason: Option<String>,
    /// Encoding used to decode the bytes, and why (`gb18030 (meta)`).
    pub encoding: String,
    pub facts: Vec<Fact>,
    pub checks: Vec<Check>,
    pub warnings: Vec<Warning>,
    /// Links to attachments (pdf, doc, docx, wps, xls, ofd) found in the page, as written.
    pub attachments: Vec<String>,
}

impl ParsedReport {
    /// The check instances that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }

    /// Looks a fact up by metric key.
    pub fn fact(&self, metric: &str) -> Option<&Fact> {
        self.facts.iter().find(|f| f.metric == metric)
    }
}

/// Serialises whole numbers without a trailing `.0`, so `12` stays `12` in JSON.
fn ser_num<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
    }
}
