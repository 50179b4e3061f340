//! Report parsing: one document's bytes to a [`ParsedReport`].
//!
//! Pure: no I/O, no clock. The same bytes and [`PARSER_VERSION`] always give the same result,
//! which is what makes `gknb reparse` over the archive meaningful.
//!
//! ```text
//! bytes ─decode─▶ text ─html / text─▶ [Table] ─tables─▶ facts ─validate─▶ checks, status
//!                                       └──────meta───▶ title, agency, year
//! ```

use crate::model::{Format, ParsedReport, Status, Warning};

pub mod docx;
pub mod grid;
pub mod html;
pub mod meta;
pub mod normalize;
pub mod pdf;
pub mod tables;
pub mod text;

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
    if let Some(report) = parse_attachment(input.bytes, input.source) {
        return report;
    }
    let decoded = crate::decode::decode(input.bytes, input.content_type);
    parse_str(&decoded.text, input.source, decoded.describe())
}

/// [`parse`] for a caller that already decoded `input.bytes` (the crawler reads a report
/// page's links from the same text): `decoded` must be
/// `decode::decode(input.bytes, input.content_type)`, and the result is then the same as
/// `parse(input)`, without decoding twice.
pub fn parse_decoded(input: &Input, decoded: &crate::decode::Decoded) -> ParsedReport {
    if let Some(report) = parse_attachment(input.bytes, input.source) {
        return report;
    }
    parse_str(&decoded.text, input.source, decoded.describe())
}

/// Parses a document already decoded to text (HTML or a plain-text copy): the text of one page,
/// or of several pages joined. `encoding` is recorded as given (`Decoded::describe()` of the
/// bytes it came from). Attachments (PDF, DOCX) are bytes, not text: see [`parse_attachment`].
pub fn parse_str(text: &str, source: &str, encoding: String) -> ParsedReport {
    if looks_like_html(text) {
        let page = html::parse_page(text);
        interpret(Document {
            tables: &page.tables,
            text: &page.text,
            html_title: page.title.as_deref(),
            meta_tags: &page.meta,
            attachments: page.attachments.clone(),
            images: page.images,
            source,
            encoding,
        })
    } else {
        let table = text::parse_text(text);
        interpret(Document {
            tables: std::slice::from_ref(&table),
            text,
            html_title: None,
            meta_tags: &[],
            attachments: Vec::new(),
            images: 0,
            source,
            encoding,
        })
    }
}

/// The text of a report printed over several pages (a TRS article continued at `t…_1.html`,
/// `t…_2.html`): the first page's text followed by each further page's, each decoded on its
/// own. [`parse_str`] reads the result as one document: tables and text in page order, so
/// table 二 on one page and 三, 四 on the next read as they would on one page; the first page's
/// `<title>` and meta tags come first and are the ones used.
pub fn join_pages(first: String, parts: &[Input]) -> String {
    let mut text = first;
    for part in parts {
        text.push('\n');
        text.push_str(&crate::decode::decode(part.bytes, part.content_type).text);
    }
    text
}

/// Parses a report printed over several pages: `first` (already decoded as `decoded`) and the
/// further pages `parts`, in order; `missing` names further pages that could not be had (they
/// do not exist, or are not archived), each recorded as a `page_missing` warning. The crawler
/// (from the pages it fetched) and `reparse` (from the pages archived) both read split reports
/// through here, so they agree.
pub fn parse_pages(
    first: &Input,
    decoded: crate::decode::Decoded,
    parts: &[Input],
    missing: &[&str],
) -> ParsedReport {
    if let Some(report) = parse_attachment(first.bytes, first.source) {
        return report;
    }
    let encoding = decoded.describe();
    let text = join_pages(decoded.text, parts);
    let mut report = parse_str(&text, first.source, encoding);
    for url in missing {
        report.warnings.push(Warning {
            rule: "page_missing".into(),
            message: format!("page {url} of the report is missing; read without it"),
        });
    }
    report
}

/// Parses a PDF, DOCX or DOC document, recognised by its magic bytes; `None` for anything
/// else (HTML, text), which [`parse`] reads itself. OFD (a zip of XML pages) is recognised but
/// not read: no maintained crate reads it, so it stays `attachment_only`.
pub fn parse_attachment(bytes: &[u8], source: &str) -> Option<ParsedReport> {
    if pdf::sniff(bytes) {
        return Some(pdf::parse(bytes, source));
    }
    if docx::sniff(bytes).is_some() {
        return Some(docx::parse(bytes, source));
    }
    let ofd = bytes.starts_with(b"PK\x03\x04") && bytes.windows(7).any(|w| w == b"OFD.xml");
    ofd.then(|| {
        let reason = "OFD documents are archived but not read".to_string();
        pdf::bare_report(source, Status::AttachmentOnly, reason)
    })
}

/// The report of a page whose tables live in an attachment: the attachment's facts, checks and
/// status (its `source` names the attachment, and for a PDF each fact's `row` gives its page
/// through [`pdf::Extracted::page_of_row`]), with the page's title, agency, year and
/// publication date where the attachment states none or a weaker year.
pub fn adopt_attachment(page: &ParsedReport, attachment: ParsedReport) -> ParsedReport {
    let mut r = attachment;
    let page_year_stronger = page.year.is_some()
        && (r.year.is_none() || year_rank(page.year_source) < year_rank(r.year_source));
    if page_year_stronger {
        r.year = page.year;
        r.year_source = page.year_source;
    }
    r.title = r.title.or_else(|| page.title.clone());
    r.agency = r.agency.or_else(|| page.agency.clone());
    r.published = r.published.or_else(|| page.published.clone());
    r.attachments = page.attachments.clone();
    r
}

/// Strength of a year source, strongest first (the order of [`crate::model::YearSource`]).
fn year_rank(s: crate::model::YearSource) -> u8 {
    use crate::model::YearSource as Y;
    match s {
        Y::Title => 0,
        Y::Meta => 1,
        Y::MetadataTable => 2,
        Y::Body => 3,
        Y::PublicationDate => 4,
        Y::Given => 5,
        Y::None => 6,
    }
}

/// Interprets tables that another front end (PDF, DOCX) already built. `text` is the document's
/// running text, used for the title, agency and year; `encoding` is recorded as given.
pub fn parse_tables(tables: &[Table], text: &str, source: &str, encoding: &str) -> ParsedReport {
    interpret(Document {
        tables,
        text,
        html_title: None,
        meta_tags: &[],
        attachments: Vec::new(),
        images: 0,
        source,
        encoding: encoding.to_string(),
    })
}

/// True when the text is markup rather than a plain-text copy: one of a few opening tags, in
/// any case, within the first 4096 characters. Compared in place at each `<` rather than on a
/// lowercased copy of the head (the tags are ASCII, so this finds the same tags).
fn looks_like_html(text: &str) -> bool {
    const TAGS: [&[u8]; 9] = [
        b"<html",
        b"<!doctype",
        b"<table",
        b"<body",
        b"<p",
        b"<div",
        b"<meta",
        b"<head",
        b"<span",
    ];
    let end = text.char_indices().nth(4096).map_or(text.len(), |(i, _)| i);
    let head = &text.as_bytes()[..end];
    head.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'<')
        .any(|(i, _)| {
            let rest = &head[i..];
            TAGS.iter().any(|tag| {
                rest.get(..tag.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(tag))
            })
        })
}

/// Everything the interpretation needs, whatever the front end.
struct Document<'a> {
    tables: &'a [Table],
    text: &'a str,
    html_title: Option<&'a str>,
    meta_tags: &'a [(String, String)],
    attachments: Vec<String>,
    images: usize,
    source: &'a str,
    encoding: String,
}

/// A page shorter than this (in characters of text) with no tables is a stub pointing elsewhere.
const STUB_TEXT_CHARS: usize = 3000;

fn interpret(doc: Document) -> ParsedReport {
    let meta = meta::extract(&meta::DocView {
        html_title: doc.html_title,
        meta_tags: doc.meta_tags,
        text: doc.text,
        tables: doc.tables,
    });
    let mut report = ParsedReport {
        source: doc.source.to_string(),
        title: meta.title,
        agency: meta.agency,
        year: meta.year,
        year_source: meta.year_source,
        published: meta.published,
        format: Format::Unknown,
        status: Status::Unparsed,
        reason: None,
        encoding: doc.encoding,
        facts: Vec::new(),
        checks: Vec::new(),
        warnings: Vec::new(),
        attachments: doc.attachments,
    };

    if let Some(year) = report.year.filter(|y| *y < 2019) {
        report.format = Format::Legacy;
        report.status = Status::Legacy;
        report.reason = Some(format!(
            "report year {year} predates the 2019 template; archived without facts"
        ));
        return report;
    }

    let ext = tables::extract(doc.tables);
    if let Some(reason) = ext.glued {
        report.reason = Some(reason);
        report.warnings.push(Warning {
            rule: "unparsed".into(),
            message: report.reason.clone().unwrap_or_default(),
        });
        return report;
    }
    if ext.facts.is_empty() {
        classify_without_tables(&mut report, doc.text, doc.images);
        return report;
    }

    report.format = ext
        .format_signal()
        .or_else(|| report.year.map(format_for_year))
        .unwrap_or(Format::Unknown);
    let mut facts = ext.facts;
    // Cached: one index lookup per fact rather than two per comparison.
    facts.sort_by_cached_key(|f| crate::metrics::ordinal(&f.metric));
    if matches!(report.format, Format::F2019 | Format::F2021) {
        report.checks = crate::validate::check(&facts, report.format);
    }
    report.warnings = ext.warnings;
    report.warnings.extend(crate::validate::warnings(
        &facts,
        report.format,
        report.year,
    ));
    report.facts = facts;

    let missing: Vec<&str> = ["二", "三", "四"]
        .iter()
        .zip(ext.found)
        .filter(|(_, found)| !found)
        .map(|(t, _)| *t)
        .collect();
    report.status = if !missing.is_empty() {
        report.reason = Some(format!("table {} not found", missing.join(", ")));
        Status::Unparsed
    } else if report.failed_checks().next().is_some() {
        Status::Invalid
    } else {
        Status::Ok
    };
    if report.status == Status::Unparsed {
        report.warnings.push(Warning {
            rule: "unparsed".into(),
            message: report.reason.clone().unwrap_or_default(),
        });
    }
    report
}

fn format_for_year(year: i32) -> Format {
    if year >= 2021 {
        Format::F2021
    } else {
        Format::F2019
    }
}

/// No statistical tables: an attachment stub, an image-only report, or nothing usable.
fn classify_without_tables(report: &mut ParsedReport, text: &str, images: usize) {
    let short = text.chars().filter(|c| !c.is_whitespace()).count() < STUB_TEXT_CHARS;
    let image_title = report
        .title
        .as_deref()
        .is_some_and(|t| t.contains("图片版"));
    let (status, reason) = if image_title || (images > 0 && short && report.attachments.is_empty())
    {
        (
            Status::ImageOnly,
            format!("tables published as images ({images} images, no table text)"),
        )
    } else if !report.attachments.is_empty() {
        (
            Status::AttachmentOnly,
            format!(
                "report is in an attachment: {}",
                report.attachments.join(", ")
            ),
        )
    } else {
        (
            Status::Unparsed,
            "no report tables (二, 三, 四) found".to_string(),
        )
    };
    report.status = status;
    report.reason = Some(reason.clone());
    if status == Status::Unparsed {
        report.warnings.push(Warning {
            rule: "unparsed".into(),
            message: reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_recognised_by_a_tag_in_any_case_near_the_top() {
        assert!(looks_like_html("<!DOCTYPE html><p>x"));
        assert!(looks_like_html("报告\n<TABLE border=1>"));
        assert!(looks_like_html("一、总体情况 <Span>"));
        assert!(!looks_like_html("一、总体情况\n\t本年新收\t3\n"));
        assert!(!looks_like_html("a < p, b > q"));
        // Only the first 4096 characters count (multi-byte ones too).
        let late = format!("{}<table>", "年".repeat(4096));
        assert!(!looks_like_html(&late));
        let cut = format!("{}<table>", "年".repeat(4091));
        assert!(!looks_like_html(&cut));
        let just_in = format!("{}<table>", "年".repeat(4090));
        assert!(looks_like_html(&just_in));
        let fits = format!("{}<p", "年".repeat(4094));
        assert!(looks_like_html(&fits));
    }
}
