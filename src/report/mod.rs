//! Report parsing: one document's bytes to a [`ParsedReport`].
//!
//! Pure: no I/O, no clock. The same bytes and [`PARSER_VERSION`] always give the same result,
//! which is what makes `gknb reparse` over the archive meaningful.

use crate::model::{Format, ParsedReport, Status, YearSource};

pub mod docx;
pub mod grid;
pub mod pdf;

pub use grid::{Cell, Row, Table};

/// Bumped whenever the parser's output may change for the same bytes; `reparse` and the
/// crawler use it to decide what to parse again.
pub const PARSER_VERSION: u32 = 1;

/// A document to parse.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub bytes: &'a [u8],
    /// File path or URL, for the record.
    pub source: &'a str,
    /// HTTP `Content-Type`, when the document was fetched.
    pub content_type: Option<&'a str>,
}

/// Parses one document (HTML or text).
pub fn parse(input: &Input) -> ParsedReport {
    let decoded = crate::decode::decode(input.bytes, input.content_type);
    ParsedReport {
        source: input.source.to_string(),
        title: None,
        agency: None,
        year: None,
        year_source: YearSource::None,
        published: None,
        format: Format::Unknown,
        status: Status::Unparsed,
        reason: Some("parser not implemented yet".into()),
        encoding: decoded.describe(),
        facts: Vec::new(),
        checks: Vec::new(),
        warnings: Vec::new(),
        attachments: Vec::new(),
    }
}

/// Interprets tables that another front end (PDF, DOCX) already built. `text` is the document's
/// running text, used for the title, agency and year; `encoding` is recorded as given.
pub fn parse_tables(tables: &[Table], text: &str, source: &str, encoding: &str) -> ParsedReport {
    let _ = (tables, text);
    ParsedReport {
        source: source.to_string(),
        title: None,
        agency: None,
        year: None,
        year_source: YearSource::None,
        published: None,
        format: Format::Unknown,
        status: Status::Unparsed,
        reason: Some("parser not implemented yet".into()),
        encoding: encoding.to_string(),
        facts: Vec::new(),
        checks: Vec::new(),
        warnings: Vec::new(),
        attachments: Vec::new(),
    }
}
