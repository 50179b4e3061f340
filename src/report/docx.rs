//! Word front end: a report published as a DOCX (or legacy DOC) attachment, turned into the
//! same [`Table`] grids as an HTML page.
//!
//! [`office_oxide`] reads the file (DOCX `w:tbl`, and the binary `.doc` format's table runs)
//! into a document model where `w:gridSpan` is a column span and a `w:vMerge` run is one cell
//! with a row span. Those cells are placed on a grid exactly as HTML `colspan`/`rowspan` are:
//! a cell spanning down repeats in the rows below with `spanned`. Paragraphs outside tables
//! become the running text used for the title, agency and year.
//!
//! Formats: DOCX is read fully. Binary DOC (and WPS files saved as an OLE compound file with a
//! `WordDocument` stream) goes through the same library's DOC reader; when it cannot read one
//! the report stays `attachment_only` with the reason. OFD (a zip of XML pages) has no
//! maintained Rust reader and stays `attachment_only` (see `report::parse_attachment`).

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use office_oxide::ir::{self, Element};
use office_oxide::{Document, DocumentFormat};

use crate::model::{ParsedReport, Status};
use crate::report::grid::{Cell, Row, Table};

/// Column and row spans beyond this are damaged files, not tables.
const MAX_SPAN: u32 = 64;

/// Which Word format the bytes hold, by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordFormat {
    /// A ZIP package with `word/document.xml`.
    Docx,
    /// An OLE compound file (`.doc`, and `.wps` files saved in the Word-compatible layout).
    Doc,
}

/// Recognises a Word document: a ZIP holding `word/document.xml`, or an OLE compound file.
pub fn sniff(bytes: &[u8]) -> Option<WordFormat> {
    if bytes.starts_with(b"PK\x03\x04") {
        let docx = bytes.windows(17).any(|w| w == b"word/document.xml");
        return docx.then_some(WordFormat::Docx);
    }
    bytes
        .starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
        .then_some(WordFormat::Doc)
}

/// Why a Word file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WordError {
    #[error("not a Word document")]
    NotWord,
    #[error("Word document could not be read: {0}")]
    Read(String),
}

/// The grids and running text of one Word document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub tables: Vec<Table>,
    pub text: String,
}

/// Parses a DOCX or DOC report into a [`ParsedReport`]. A file that cannot be read gives
/// status `unparsed` (DOCX) or `attachment_only` (DOC/WPS: the format is read only as far as
/// the library supports it) with the reason.
pub fn parse(bytes: &[u8], source: &str) -> ParsedReport {
    let format = sniff(bytes);
    match extract(bytes) {
        Ok(doc) => {
            let encoding = match format {
                Some(WordFormat::Doc) => "doc",
                _ => "docx",
            };
            crate::report::parse_tables(&doc.tables, &doc.text, source, encoding)
        }
        Err(e) => {
            let status = match format {
                Some(WordFormat::Doc) => Status::AttachmentOnly,
                _ => Status::Unparsed,
            };
            super::pdf::bare_report(source, status, e.to_string())
        }
    }
}

/// Reads the document's tables and text.
pub fn extract(bytes: &[u8]) -> Result<Extracted, WordError> {
    let format = match sniff(bytes).ok_or(WordError::NotWord)? {
        WordFormat::Docx => DocumentFormat::Docx,
        WordFormat::Doc => DocumentFormat::Doc,
    };
    let owned = bytes.to_vec();
    // The library guards against hostile files itself; a panic is still caught so that one
    // damaged attachment cannot stop a crawl.
    let ir = catch_unwind(AssertUnwindSafe(move || {
        Document::from_reader(Cursor::new(owned), format).map(|d| d.to_ir())
    }))
    .map_err(|_| WordError::Read("reader panicked".into()))?
    .map_err(|e| WordError::Read(e.to_string()))?;
    let mut out = Extracted::default();
    let mut text = Vec::new();
    let mut next_row = 0u32;
    for section in &ir.sections {
        walk(&section.elements, &mut out.tables, &mut text, &mut next_row);
    }
    out.text = text.join("\n");
    Ok(out)
}

fn walk(elements: &[Element], tables: &mut Vec<Table>, text: &mut Vec<String>, row: &mut u32) {
    for e in elements {
        match e {
            Element::Table(t) => tables.push(grid_of(t, row)),
            Element::TextBox(b) => walk(&b.content, tables, text, row),
            Element::List(l) => {
                for item in &l.items {
                    walk(&item.content, tables, text, row);
                }
            }
            other => {
                let line = element_text(other);
                if !line.trim().is_empty() {
                    text.push(line);
                }
            }
        }
    }
}

/// Places the cells on a grid, skipping slots taken by row spans from above, as an HTML
/// table's cells are placed.
fn grid_of(table: &ir::Table, next_row: &mut u32) -> Table {
    let mut taken: Vec<Vec<bool>> = vec![Vec::new(); table.rows.len()];
    // (row, col, rows spanned, text) of each cell's origin.
    let mut placed: Vec<(usize, usize, usize, String)> = Vec::new();
    for (r, row) in table.rows.iter().enumerate() {
        let mut c = 0usize;
        for cell in &row.cells {
            while taken[r].get(c).copied().unwrap_or(false) {
                c += 1;
            }
            let cols = cell.col_span.clamp(1, MAX_SPAN) as usize;
            let rows = (cell.row_span.clamp(1, MAX_SPAN) as usize).min(table.rows.len() - r);
            for slots in taken.iter_mut().skip(r).take(rows) {
                if slots.len() < c + cols {
                    slots.resize(c + cols, false);
                }
                slots[c..c + cols].iter_mut().for_each(|s| *s = true);
            }
            placed.push((r, c, rows, cells_text(&cell.content)));
            c += cols;
        }
    }
    let mut rows = Vec::new();
    for r in 0..table.rows.len() {
        let mut cells: Vec<&(usize, usize, usize, String)> = placed
            .iter()
            .filter(|(r0, _, n, _)| *r0 <= r && r < r0 + n)
            .collect();
        cells.sort_by_key(|p| p.1);
        let row = *next_row;
        *next_row += 1;
        rows.push(Row {
            cells: cells
                .into_iter()
                .map(|(r0, c, _, text)| Cell {
                    text: text.clone(),
                    row,
                    col: *c as u32,
                    spanned: *r0 != r,
                })
                .collect(),
        });
    }
    Table { rows, page: None }
}

/// A cell's text: its paragraphs joined without a break (a label wrapped by hand over two
/// paragraphs is one label), with a space only between two Latin words.
fn cells_text(content: &[Element]) -> String {
    let mut out = String::new();
    for e in content {
        let part = match e {
            Element::Table(t) => t
                .rows
                .iter()
                .flat_map(|r| r.cells.iter())
                .map(|c| cells_text(&c.content))
                .collect::<Vec<_>>()
                .join(" "),
            Element::List(l) => l
                .items
                .iter()
                .map(|i| cells_text(&i.content))
                .collect::<String>(),
            other => element_text(other),
        };
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let latin = out.ends_with(|c: char| c.is_ascii_alphanumeric())
            && part.starts_with(|c: char| c.is_ascii_alphanumeric());
        if latin {
            out.push(' ');
        }
        out.push_str(part);
    }
    out.replace('\n', "")
}

fn element_text(e: &Element) -> String {
    match e {
        Element::Paragraph(p) => ir::inline_to_text(&p.content),
        Element::Heading(h) => ir::inline_to_text(&h.content),
        Element::TextBox(b) => b.content.iter().map(element_text).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(b"PK\x03\x04....word/document.xml"),
            Some(WordFormat::Docx)
        );
        assert_eq!(sniff(b"PK\x03\x04....xl/workbook.xml"), None);
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert!(extract(b"PK\x03\x04 word/document.xml broken").is_err());
    }
}
