//! PDF front end: a report published as a PDF attachment, turned into the same [`Table`] grids
//! as an HTML page so that table 二/三/四 are interpreted by one parser.
//!
//! Text extractors hand a PDF table back column by column, with page numbers in between and
//! header words broken by spaces. Instead of reading their text order, this module takes every
//! glyph with its position ([`pdf_oxide`]) and every ruling line of the page, rebuilds the
//! table grid from the lines (lattice mode) or, for borderless tables, from the gaps between
//! words (stream mode), and places each glyph in the cell that contains it. A table that runs
//! over a page break is joined back into one [`Table`]. Page numbers (`- 3 -`) and repeated
//! page headers and footers are dropped.
//!
//! The geometry is kept in plain types ([`Glyph`], [`Segment`], [`PageContent`]) so that the
//! grid building is tested and fuzzed without any PDF.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::model::{ParsedReport, Status, YearSource};
use crate::report::grid::{Cell, Row, Table};

/// Distance, in points, under which two ruling lines are taken as one.
const LINE_TOL: f32 = 2.5;
/// Pages beyond this are not read: reports run to a dozen pages, and a hostile file must not
/// make the parser run for ever.
const MAX_PAGES: usize = 200;
/// Ruling-line segments kept per page (the grid search is quadratic in them).
const MAX_SEGMENTS: usize = 4000;
/// Elementary grid slots per lattice table.
const MAX_SLOTS: usize = 40_000;

/// Why a PDF could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The file is not a PDF the reader understands (truncated, damaged, not a PDF).
    #[error("PDF could not be opened: {0}")]
    Open(String),
    /// The PDF is encrypted with a password we do not have.
    #[error("PDF is encrypted")]
    Encrypted,
    /// The reader failed unexpectedly (a panic inside the PDF library was caught).
    #[error("PDF reader failed: {0}")]
    Reader(String),
}

/// One glyph placed on the page. Coordinates are in points with y growing downwards (the
/// PDF's y negated), so sorting by y reads top to bottom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    pub ch: char,
    /// Left and right edge.
    pub x0: f32,
    pub x1: f32,
    /// Baseline.
    pub base: f32,
    /// Font size in points (at least 1).
    pub size: f32,
}

impl Glyph {
    fn cx(&self) -> f32 {
        (self.x0 + self.x1) / 2.0
    }

    /// Vertical centre of the glyph body, which sits above the baseline.
    fn cy(&self) -> f32 {
        self.base - 0.35 * self.size
    }
}

/// A ruling line: horizontal at y = `pos` from x = `lo` to `hi`, or vertical at x = `pos`
/// from y = `lo` to `hi` (y downwards).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub horizontal: bool,
    pub pos: f32,
    pub lo: f32,
    pub hi: f32,
}

/// What the grid builder needs from one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageContent {
    /// 1-based page number.
    pub number: u32,
    /// Page height in points, when known (for header/footer bands).
    pub height: Option<f32>,
    pub glyphs: Vec<Glyph>,
    pub segments: Vec<Segment>,
}

/// The grids and running text of one PDF.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted {
    pub tables: Vec<Table>,
    /// Text outside the tables, line by line, without page numbers, headers and footers.
    pub text: String,
    /// Number of pages read.
    pub pages: u32,
    /// Glyphs found on all pages; 0 means the PDF has no text layer.
    pub glyphs: usize,
    /// Page of every table row, indexed by [`Cell::row`] (rows are numbered through the whole
    /// document, so a fact's row gives its page).
    pub row_pages: Vec<u32>,
}

impl Extracted {
    /// The page a grid row (a fact's `row`) was printed on.
    pub fn page_of_row(&self, row: u32) -> Option<u32> {
        self.row_pages.get(row as usize).copied()
    }
}

/// Parses a PDF report into a [`ParsedReport`]. Never panics: a damaged file gives status
/// `unparsed` with the reason, a PDF without a text layer (a scan) gives `image_only`.
pub fn parse(bytes: &[u8], source: &str) -> ParsedReport {
    let doc = match extract(bytes) {
        Ok(doc) => doc,
        Err(e) => return bare_report(source, Status::Unparsed, e.to_string()),
    };
    if doc.glyphs == 0 {
        // Only a file that shows images is a scan; no text and no image is a damaged file.
        if !has_images(bytes) {
            let cut = if truncated(bytes) { ", truncated" } else { "" };
            let reason = format!(
                "PDF damaged{cut}: no text and no image could be read on its {} pages",
                doc.pages
            );
            return bare_report(source, Status::Unparsed, reason);
        }
        let reason = format!(
            "PDF has no text layer on any of its {} pages (scanned images)",
            doc.pages
        );
        return bare_report(source, Status::ImageOnly, reason);
    }
    let mut report = crate::report::parse_tables(&doc.tables, &doc.text, source, "pdf text layer");
    for fact in &mut report.facts {
        fact.page = doc.page_of_row(fact.row);
    }
    // A scan with a typed title or page numbers on top: a few glyphs, no tables.
    let sparse =
        doc.glyphs < SPARSE_GLYPHS_PER_PAGE * doc.pages.max(1) as usize && has_images(bytes);
    if report.facts.is_empty() && sparse {
        report.warnings.retain(|w| w.rule != "unparsed");
        report.status = Status::ImageOnly;
        report.reason = Some(format!(
            "PDF has almost no text layer ({} characters on {} pages) and no tables",
            doc.glyphs, doc.pages
        ));
    }
    report
}

/// Whether the file holds an image XObject. Streams are never packed into object streams, so
/// an image's dictionary is always readable in the raw bytes.
fn has_images(bytes: &[u8]) -> bool {
    let find = |pat: &[u8]| bytes.windows(pat.len()).any(|w| w == pat);
    find(b"/Subtype/Image") || find(b"/Subtype /Image")
}

/// A complete PDF ends with `%%EOF` (possibly followed by a little whitespace).
fn truncated(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    !tail.windows(5).any(|w| w == b"%%EOF")
}

/// Fewer characters than this per page, and no tables, is a scanned document.
const SPARSE_GLYPHS_PER_PAGE: usize = 40;

/// A report with no facts, for files that could not be read.
pub(crate) fn bare_report(source: &str, status: Status, reason: String) -> ParsedReport {
    ParsedReport {
        source: source.to_string(),
        title: None,
        agency: None,
        year: None,
        year_source: YearSource::None,
        published: None,
        format: crate::model::Format::Unknown,
        status,
        reason: Some(reason),
        encoding: "binary".into(),
        facts: Vec::new(),
        checks: Vec::new(),
        warnings: Vec::new(),
        attachments: Vec::new(),
    }
}

/// Reads every page's glyphs and ruling lines and builds the tables.
pub fn extract(bytes: &[u8]) -> Result<Extracted, PdfError> {
    let pages = read_pages(bytes)?;
    Ok(build(&pages))
}

/// True when the bytes are a PDF: the `%PDF-` header within the first KiB (readers accept
/// some junk before it, and so do portals' downloads).
pub fn sniff(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let Some(at) = head.windows(5).position(|w| w == b"%PDF-") else {
        return false;
    };
    // A web page that mentions `%PDF-` is not a PDF.
    !head[..at].contains(&b'<')
}

/// Runs the PDF library over the bytes. The library is robust but large; a panic inside it
/// must not take the crawler down, so it is caught and reported as [`PdfError::Reader`].
pub fn read_pages(bytes: &[u8]) -> Result<Vec<PageContent>, PdfError> {
    if !sniff(bytes) {
        return Err(PdfError::Open("no %PDF header".into()));
    }
    let owned = bytes.to_vec();
    match catch_unwind(AssertUnwindSafe(move || read_pages_inner(owned))) {
        Ok(r) => r,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            Err(PdfError::Reader(msg))
        }
    }
}

fn read_pages_inner(bytes: Vec<u8>) -> Result<Vec<PageContent>, PdfError> {
    let doc = pdf_oxide::document::PdfDocument::from_bytes(bytes)
        .map_err(|e| PdfError::Open(e.to_string()))?;
    if doc.is_encrypted() && !doc.authenticate(b"").unwrap_or(false) {
        return Err(PdfError::Encrypted);
    }
    let count = doc
        .page_count()
        .map_err(|e| PdfError::Open(e.to_string()))?;
    let mut pages = Vec::new();
    for index in 0..count.min(MAX_PAGES) {
        // A damaged page loses only itself: its glyphs or lines are missing, the rest reads.
        let glyphs = doc
            .extract_chars(index)
            .map(|chars| chars.iter().filter_map(glyph_of).collect())
            .unwrap_or_default();
        let segments = doc
            .extract_paths(index)
            .map(|paths| segments_of(&paths))
            .unwrap_or_default();
        let height = doc
            .get_page_media_box(index)
            .ok()
            .map(|(_, y0, _, y1)| (y1 - y0).abs());
        pages.push(PageContent {
            number: index as u32 + 1,
            height,
            glyphs: dedupe_glyphs(glyphs),
            segments,
        });
    }
    Ok(pages)
}

fn glyph_of(c: &pdf_oxide::layout::TextChar) -> Option<Glyph> {
    if c.char.is_whitespace() || c.char.is_control() {
        return None;
    }
    let (x, y, w) = (c.bbox.x, c.origin_y, c.bbox.width);
    if !(x.is_finite() && y.is_finite() && w.is_finite()) {
        return None;
    }
    let size = if c.font_size.is_finite() && c.font_size >= 1.0 {
        c.font_size
    } else {
        c.bbox.height.clamp(1.0, 100.0)
    };
    Some(Glyph {
        ch: c.char,
        x0: x,
        x1: x + w.max(0.0),
        base: -y,
        size: size.min(200.0),
    })
}

/// Producers fake bold by printing a glyph twice at nearly the same place: keep one.
fn dedupe_glyphs(mut glyphs: Vec<Glyph>) -> Vec<Glyph> {
    glyphs.sort_by(|a, b| a.base.total_cmp(&b.base).then(a.x0.total_cmp(&b.x0)));
    let mut out: Vec<Glyph> = Vec::with_capacity(glyphs.len());
    for g in glyphs {
        let dup =
            out.iter().rev().take(4).any(|o| {
                o.ch == g.ch && (o.x0 - g.x0).abs() < 1.0 && (o.base - g.base).abs() < 1.0
            });
        if !dup {
            out.push(g);
        }
    }
    out
}

/// Ruling lines from the page's vector paths: stroked straight lines, the edges of stroked
/// rectangles, and thin filled rectangles (some producers draw borders that way). Large filled
/// rectangles are cell shading, not borders.
fn segments_of(paths: &[pdf_oxide::elements::PathContent]) -> Vec<Segment> {
    use pdf_oxide::elements::PathOperation as Op;
    let mut out = Vec::new();
    for p in paths {
        let stroked = p.stroke_color.is_some();
        let filled = p.fill_color.is_some();
        let mut cur: Option<(f32, f32)> = None;
        let mut start: Option<(f32, f32)> = None;
        for op in &p.operations {
            match *op {
                Op::MoveTo(x, y) => {
                    cur = Some((x, y));
                    start = Some((x, y));
                }
                Op::LineTo(x, y) => {
                    if let (true, Some(a)) = (stroked, cur) {
                        push_line(&mut out, a, (x, y));
                    }
                    cur = Some((x, y));
                }
                Op::CurveTo(.., x, y) => cur = Some((x, y)),
                Op::Rectangle(x, y, w, h) => {
                    push_rect(&mut out, (x, y, w, h), stroked, filled);
                }
                Op::ClosePath => {
                    if let (true, Some(a), Some(b)) = (stroked, cur, start) {
                        push_line(&mut out, a, b);
                    }
                    cur = start;
                }
            }
            if out.len() >= MAX_SEGMENTS {
                return out;
            }
        }
    }
    out
}

fn push_line(out: &mut Vec<Segment>, a: (f32, f32), b: (f32, f32)) {
    let vals = [a.0, a.1, b.0, b.1];
    if vals.iter().any(|v| !v.is_finite()) {
        return;
    }
    let (dx, dy) = ((b.0 - a.0).abs(), (b.1 - a.1).abs());
    if dy < 1.0 && dx >= 3.0 {
        out.push(Segment {
            horizontal: true,
            pos: -(a.1 + b.1) / 2.0,
            lo: a.0.min(b.0),
            hi: a.0.max(b.0),
        });
    } else if dx < 1.0 && dy >= 3.0 {
        out.push(Segment {
            horizontal: false,
            pos: (a.0 + b.0) / 2.0,
            lo: -(a.1.max(b.1)),
            hi: -(a.1.min(b.1)),
        });
    }
}

fn push_rect(
    out: &mut Vec<Segment>,
    (x, y, w, h): (f32, f32, f32, f32),
    stroked: bool,
    filled: bool,
) {
    let (x0, x1) = (x.min(x + w), x.max(x + w));
    let (y0, y1) = (y.min(y + h), y.max(y + h));
    let thin = (x1 - x0) <= 2.0 || (y1 - y0) <= 2.0;
    if filled && thin {
        push_line(out, (x0, (y0 + y1) / 2.0), (x1, (y0 + y1) / 2.0));
        push_line(out, ((x0 + x1) / 2.0, y0), ((x0 + x1) / 2.0, y1));
    } else if stroked {
        push_line(out, (x0, y0), (x1, y0));
        push_line(out, (x0, y1), (x1, y1));
        push_line(out, (x0, y0), (x0, y1));
        push_line(out, (x1, y0), (x1, y1));
    }
}

/// Builds tables and running text from the pages' geometry. Pure and total: any glyphs and
/// segments give some result without panicking.
pub fn build(pages: &[PageContent]) -> Extracted {
    let furniture = repeated_furniture(pages);
    let mut out = Extracted {
        pages: pages.len() as u32,
        ..Default::default()
    };
    let mut pending: Option<PendingTable> = None;
    let mut text_lines: Vec<String> = Vec::new();
    for page in pages {
        out.glyphs += page.glyphs.len();
        let mut items = page_items(page, &furniture);
        items.sort_by(|a, b| a.top().total_cmp(&b.top()));
        let item_count = items.len();
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Item::Line(line) => {
                    if let Some(t) = pending.take() {
                        finish(&mut out, t);
                    }
                    text_lines.push(line.text);
                }
                Item::Grid(grid) => {
                    let first_on_page = i == 0;
                    let last_on_page = i + 1 == item_count;
                    pending = Some(match pending.take() {
                        Some(prev) if first_on_page && prev.open_at_end => {
                            continue_table(prev, grid, page.number, last_on_page)
                        }
                        Some(prev) => {
                            finish(&mut out, prev);
                            PendingTable::new(grid, page.number, last_on_page)
                        }
                        None => PendingTable::new(grid, page.number, last_on_page),
                    });
                }
            }
        }
        if let Some(t) = pending.as_mut() {
            // A table not at the foot of its page cannot continue on the next one.
            t.open_at_end &= t.last_page == page.number;
        }
    }
    if let Some(t) = pending.take() {
        finish(&mut out, t);
    }
    out.text = text_lines.join("\n");
    out
}

/// A grid waiting to see whether the next page continues it.
struct PendingTable {
    grids: Vec<(Grid, u32)>,
    last_page: u32,
    /// The table is the last thing on its page.
    open_at_end: bool,
}

impl PendingTable {
    fn new(grid: Grid, page: u32, last_on_page: bool) -> Self {
        PendingTable {
            grids: vec![(grid, page)],
            last_page: page,
            open_at_end: last_on_page,
        }
    }
}

fn continue_table(mut prev: PendingTable, mut grid: Grid, page: u32, last: bool) -> PendingTable {
    if let Some((before, _)) = prev.grids.last_mut() {
        join_split_labels(before, &mut grid);
    }
    prev.grids.push((grid, page));
    prev.last_page = page;
    prev.open_at_end = last;
    prev
}

/// Moves the grids of one (possibly multi-page) table into `out` as one [`Table`], numbering
/// its rows through the document.
fn finish(out: &mut Extracted, pending: PendingTable) {
    let mut table = Table {
        rows: Vec::new(),
        page: pending.grids.first().map(|(_, p)| *p),
    };
    // Each page may draw only some of the column lines: number columns by the edges of all
    // the parts together.
    let base_xs = cluster(pending.grids.iter().flat_map(|(g, _)| g.xs.iter().copied()));
    let head: Vec<Vec<(usize, String, bool)>> = pending
        .grids
        .first()
        .map(|(g, _)| g.rows())
        .unwrap_or_default();
    for (i, (grid, page)) in pending.grids.iter().enumerate() {
        let col_map = map_columns(&grid.xs, &base_xs);
        let rows = grid.rows();
        // Word repeats a table's header rows on every page it runs over: read them once.
        let repeated = if i == 0 {
            0
        } else {
            rows.iter()
                .zip(&head)
                .take_while(|(a, b)| same_row(a, b))
                .count()
                .min(rows.len().saturating_sub(1))
        };
        for row_cells in rows.into_iter().skip(repeated) {
            let row = out.row_pages.len() as u32;
            out.row_pages.push(*page);
            let cells = row_cells
                .into_iter()
                .map(|(col, text, spanned)| Cell {
                    text,
                    row,
                    col: col_map.get(col).copied().unwrap_or(col as u32),
                    spanned,
                })
                .collect();
            table.rows.push(Row { cells });
        }
    }
    if !table.rows.is_empty() {
        out.tables.push(table);
    }
}

fn same_row(a: &[(usize, String, bool)], b: &[(usize, String, bool)]) -> bool {
    let texts = |r: &[(usize, String, bool)]| -> Vec<String> {
        r.iter().map(|(_, t, _)| t.clone()).collect()
    };
    a.iter().any(|(_, t, _)| !t.is_empty()) && texts(a) == texts(b)
}

/// Column numbers of a continuation grid in the numbering of the table's first grid, when
/// every column edge of the continuation is an edge of the first (a page repeats the table's
/// column lines, possibly fewer of them).
fn map_columns(xs: &[f32], base: &[f32]) -> Vec<u32> {
    let idx: Vec<Option<usize>> = xs
        .iter()
        .map(|x| base.iter().position(|b| (b - x).abs() <= 3.0 * LINE_TOL))
        .collect();
    if idx.iter().any(Option::is_none) || base.is_empty() {
        return (0..xs.len() as u32).collect();
    }
    idx.into_iter().map(|i| i.unwrap_or(0) as u32).collect()
}

/// Word breaks a row label at the page foot (`（四）无` … `法提供`): when the continuation's
/// first row holds, in the same column, text that does not start a new label while the cell
/// above the break started one, the two are one cell cut by the page break.
fn join_split_labels(before: &mut Grid, after: &mut Grid) {
    let Some(last_row) = before.row_count().checked_sub(1) else {
        return;
    };
    for ai in 0..after.cells.len() {
        if after.cells[ai].r0 != 0 {
            continue;
        }
        let (ax0, ax1) = after.cell_x(ai);
        let Some(bi) = (0..before.cells.len()).find(|&bi| {
            let (bx0, bx1) = before.cell_x(bi);
            before.cells[bi].r1 == last_row + 1
                && (bx0 - ax0).abs() <= 3.0 * LINE_TOL
                && (bx1 - ax1).abs() <= 3.0 * LINE_TOL
        }) else {
            continue;
        };
        let head = &before.cells[bi].text;
        let tail = &after.cells[ai].text;
        let joined = if tail.is_empty() {
            // The lower part of a tall label cell (a vertical 三、本年度办理结果) is blank.
            let tall = after.cells[ai].r1 - after.cells[ai].r0 > 1
                || before.cells[bi].r1 - before.cells[bi].r0 > 1;
            if !tall || head.is_empty() || is_numeric(head) {
                continue;
            }
            head.clone()
        } else if !starts_label(head) || starts_label(tail) || is_numeric(head) || is_numeric(tail)
        {
            continue;
        } else {
            format!("{head}{tail}")
        };
        before.cells[bi].text = joined.clone();
        after.cells[ai].text = joined;
        after.cells[ai].continued = true;
    }
}

fn starts_label(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    matches!(first, '（' | '(')
        || (first.is_ascii_digit() && matches!(chars.next(), Some('.' | '．' | '、')))
        || ("一二三四五六七八九十".contains(first) && matches!(chars.next(), Some('、')))
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || ".,-+".contains(c))
}

/// Something placed on a page, in reading order: a line of running text or a table grid.
enum Item {
    Line(TextLine),
    Grid(Grid),
}

impl Item {
    fn top(&self) -> f32 {
        match self {
            Item::Line(l) => l.top,
            Item::Grid(g) => g.ys.first().copied().unwrap_or(0.0),
        }
    }
}

/// Splits a page into grids (ruled tables first, then borderless ones) and running text.
fn page_items(page: &PageContent, furniture: &[String]) -> Vec<Item> {
    let mut free: Vec<Glyph> = page.glyphs.clone();
    let mut items = Vec::new();
    for frame in lattice_frames(&page.segments) {
        let (grid, rest) = fill_grid(frame, free);
        free = rest;
        if grid.cells.iter().any(|c| !c.text.is_empty()) {
            items.push(Item::Grid(grid));
        }
    }
    let mut lines: Vec<TextLine> = text_lines(&free)
        .into_iter()
        // A row of numbers is several chunks; a page number is one.
        .filter(|l| !(l.chunks.len() == 1 && is_page_number(&l.text)))
        .filter(|l| !is_furniture(l, page.height, furniture))
        .collect();
    if page.number == 1 {
        join_title_lines(&mut lines);
    }
    items.extend(stream_tables(lines));
    items
}

/// A line of text outside ruled tables, cut into word groups at wide gaps.
#[derive(Debug, Clone)]
struct TextLine {
    top: f32,
    size: f32,
    text: String,
    /// (x0, x1, text) of each run of glyphs without a wide gap.
    chunks: Vec<(f32, f32, String)>,
}

/// A title set in large type over several lines (`淮安市人民政府` / `2024年…年度报告`) is one
/// title: the agency named on the first line belongs to it.
fn join_title_lines(lines: &mut Vec<TextLine>) {
    let mut sizes: Vec<f32> = lines.iter().map(|l| l.size).collect();
    sizes.sort_by(f32::total_cmp);
    let Some(&body) = sizes.get(sizes.len() / 2) else {
        return;
    };
    let Some(title) = lines.first().map(|l| l.size).filter(|&t| t >= 1.25 * body) else {
        return;
    };
    let n = lines
        .iter()
        .take_while(|l| (l.size - title).abs() <= 0.1 * title && l.chunks.len() == 1)
        .count();
    if n < 2 {
        return;
    }
    let text: String = lines[..n].iter().map(|l| l.text.as_str()).collect();
    let (x0, x1) = lines[..n]
        .iter()
        .flat_map(|l| &l.chunks)
        .fold((f32::MAX, f32::MIN), |(a, b), c| (a.min(c.0), b.max(c.1)));
    let first = TextLine {
        top: lines[0].top,
        size: lines[0].size,
        chunks: vec![(x0, x1, text.clone())],
        text,
    };
    lines.splice(..n, [first]);
}

/// Groups glyphs into lines by baseline, left to right.
fn text_lines(glyphs: &[Glyph]) -> Vec<TextLine> {
    let mut sorted: Vec<Glyph> = glyphs.to_vec();
    sorted.sort_by(|a, b| a.base.total_cmp(&b.base));
    let mut lines: Vec<Vec<Glyph>> = Vec::new();
    for g in sorted {
        match lines.last_mut() {
            Some(line) if (line[0].base - g.base).abs() <= 0.4 * line[0].size.max(g.size) => {
                line.push(g)
            }
            _ => lines.push(vec![g]),
        }
    }
    lines
        .into_iter()
        .map(|mut line| {
            line.sort_by(|a, b| a.x0.total_cmp(&b.x0));
            let size = line.iter().map(|g| g.size).fold(1.0f32, f32::max);
            let chunks = chunk_line(&line);
            let text = chunks
                .iter()
                .map(|c| c.2.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            TextLine {
                top: line[0].base - size,
                size,
                text,
                chunks,
            }
        })
        .collect()
}

/// Cuts a sorted line where the gap between glyphs is wider than a full character: that is a
/// column gap, not a word space.
fn chunk_line(line: &[Glyph]) -> Vec<(f32, f32, String)> {
    let mut chunks: Vec<(f32, f32, String)> = Vec::new();
    let mut prev: Option<&Glyph> = None;
    for g in line {
        let gap = prev.map(|p| g.x0 - p.x1);
        let em = prev.map_or(g.size, |p| p.size.max(g.size));
        match (chunks.last_mut(), gap) {
            (Some(last), Some(gap)) if gap <= 1.2 * em => {
                if gap > 0.25 * em && needs_space(prev, g) {
                    last.2.push(' ');
                }
                last.2.push(g.ch);
                last.1 = last.1.max(g.x1);
            }
            _ => chunks.push((g.x0, g.x1, g.ch.to_string())),
        }
        prev = Some(g);
    }
    chunks
}

/// A visible gap between two Latin letters or digits is a word space; between CJK characters
/// it is only letter spacing (`商 业 企 业`).
fn needs_space(prev: Option<&Glyph>, g: &Glyph) -> bool {
    prev.is_some_and(|p| p.ch.is_ascii_alphanumeric() && g.ch.is_ascii_alphanumeric())
}

/// `- 3 -`, `—3—`, `3`, `第3页`, `第 3 页 共 6 页`, `3/6`.
fn is_page_number(text: &str) -> bool {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let core = t.trim_matches(|c| matches!(c, '-' | '－' | '—' | '–' | '_'));
    if !core.is_empty() && core.len() <= 4 && core.chars().all(|c| c.is_ascii_digit()) {
        return true;
    }
    let digits_out: String = t.chars().filter(|c| !c.is_ascii_digit()).collect();
    matches!(
        digits_out.as_str(),
        "第页" | "第页共页" | "/" | "Page" | "Pageof"
    )
}

/// Texts (digits removed) that sit in the top or bottom band of at least two pages: running
/// headers and footers.
fn repeated_furniture(pages: &[PageContent]) -> Vec<String> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for page in pages {
        let Some(h) = page.height else { continue };
        let mut on_page: Vec<String> = text_lines(&page.glyphs)
            .into_iter()
            .filter(|l| in_band(l, h))
            .map(|l| furniture_key(&l.text))
            .filter(|k| !k.is_empty())
            .collect();
        on_page.dedup();
        for k in on_page {
            match seen.iter_mut().find(|(s, _)| *s == k) {
                Some((_, n)) => *n += 1,
                None => seen.push((k, 1)),
            }
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(k, _)| k)
        .collect()
}

fn in_band(line: &TextLine, height: f32) -> bool {
    let y = -line.top;
    y > height * 0.93 || y < height * 0.07
}

fn furniture_key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_ascii_digit() && !c.is_whitespace())
        .collect()
}

fn is_furniture(line: &TextLine, height: Option<f32>, furniture: &[String]) -> bool {
    height.is_some_and(|h| in_band(line, h)) && furniture.contains(&furniture_key(&line.text))
}

/// A table rebuilt on a grid: column edges `xs`, row edges `ys` (top to bottom), and merged
/// cells covering rows `r0..r1` and columns `c0..c1` of the elementary grid.
#[derive(Debug, Clone, Default)]
struct Grid {
    xs: Vec<f32>,
    ys: Vec<f32>,
    cells: Vec<GridCell>,
}

#[derive(Debug, Clone, Default)]
struct GridCell {
    r0: usize,
    r1: usize,
    c0: usize,
    c1: usize,
    text: String,
    /// The cell continues one cut by the page break above: its text is inherited.
    continued: bool,
}

impl Grid {
    fn row_count(&self) -> usize {
        self.ys.len().saturating_sub(1)
    }

    fn cell_x(&self, i: usize) -> (f32, f32) {
        let c = &self.cells[i];
        let x0 = self.xs.get(c.c0).copied().unwrap_or(0.0);
        let x1 = self.xs.get(c.c1).copied().unwrap_or(x0);
        (x0, x1)
    }

    /// Rows as (column, text, spanned) left to right. A cell spanning down repeats in the rows
    /// below with `spanned`; rows made only of such repeats are dropped.
    fn rows(&self) -> Vec<Vec<(usize, String, bool)>> {
        let mut rows = Vec::new();
        for r in 0..self.row_count() {
            let mut cells: Vec<&GridCell> = self
                .cells
                .iter()
                .filter(|c| c.r0 <= r && r < c.r1)
                .collect();
            cells.sort_by_key(|c| c.c0);
            let own = |c: &GridCell| c.r0 == r && !c.continued;
            if !cells.iter().any(|c| own(c)) {
                continue;
            }
            rows.push(
                cells
                    .into_iter()
                    .map(|c| (c.c0, c.text.clone(), !own(c)))
                    .collect(),
            );
        }
        rows
    }
}

/// The ruling lines of one table: a connected set with at least two lines each way.
struct Frame {
    xs: Vec<f32>,
    ys: Vec<f32>,
    segments: Vec<Segment>,
}

/// Finds ruled tables: ruling lines that touch each other form one frame.
fn lattice_frames(segments: &[Segment]) -> Vec<Frame> {
    let segs: Vec<Segment> = segments.iter().take(MAX_SEGMENTS).copied().collect();
    let mut uf = UnionFind::new(segs.len());
    for i in 0..segs.len() {
        for j in i + 1..segs.len() {
            if touches(&segs[i], &segs[j]) {
                uf.union(i, j);
            }
        }
    }
    let mut groups: Vec<Vec<Segment>> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let root = uf.find(i);
        match roots.iter().position(|&r| r == root) {
            Some(k) => groups[k].push(*s),
            None => {
                roots.push(root);
                groups.push(vec![*s]);
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|segments| {
            let mut xs = cluster(segments.iter().filter(|s| !s.horizontal).map(|s| s.pos));
            let mut ys = cluster(segments.iter().filter(|s| s.horizontal).map(|s| s.pos));
            // A table cut by a page break often lacks its closing rule: the lines running
            // across still mark where the last row ends.
            extend_edges(&mut ys, segments.iter().filter(|s| !s.horizontal));
            extend_edges(&mut xs, segments.iter().filter(|s| s.horizontal));
            let big = xs.len() >= 2
                && ys.len() >= 2
                && xs[xs.len() - 1] - xs[0] > 10.0
                && ys[ys.len() - 1] - ys[0] > 5.0
                && (xs.len() - 1) * (ys.len() - 1) <= MAX_SLOTS;
            big.then_some(Frame { xs, ys, segments })
        })
        .collect()
}

/// Adds an outer edge where the crossing lines reach clearly beyond the last parallel rule.
fn extend_edges<'a>(edges: &mut Vec<f32>, crossing: impl Iterator<Item = &'a Segment>) {
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return;
    };
    let (lo, hi) = crossing.fold((first, last), |(lo, hi), s| (lo.min(s.lo), hi.max(s.hi)));
    if lo < first - 2.0 * LINE_TOL {
        edges.insert(0, lo);
    }
    if hi > last + 2.0 * LINE_TOL {
        edges.push(hi);
    }
}

fn touches(a: &Segment, b: &Segment) -> bool {
    let t = LINE_TOL;
    if a.horizontal == b.horizontal {
        return (a.pos - b.pos).abs() <= t && a.lo <= b.hi + t && b.lo <= a.hi + t;
    }
    let (h, v) = if a.horizontal { (a, b) } else { (b, a) };
    v.pos >= h.lo - t && v.pos <= h.hi + t && h.pos >= v.lo - t && h.pos <= v.hi + t
}

/// Sorted positions merged when closer than [`LINE_TOL`].
fn cluster(values: impl Iterator<Item = f32>) -> Vec<f32> {
    let mut v: Vec<f32> = values.filter(|x| x.is_finite()).collect();
    v.sort_by(f32::total_cmp);
    let mut out: Vec<(f32, usize)> = Vec::new();
    for x in v {
        match out.last_mut() {
            Some((sum, n)) if x - *sum / *n as f32 <= LINE_TOL => {
                *sum += x;
                *n += 1;
            }
            _ => out.push((x, 1)),
        }
    }
    out.into_iter().map(|(s, n)| s / n as f32).collect()
}

/// Merges the elementary slots of a frame into cells (no ruling line between two slots means
/// they are one cell) and places the glyphs inside the frame into them. Returns the grid and
/// the glyphs outside it.
fn fill_grid(frame: Frame, glyphs: Vec<Glyph>) -> (Grid, Vec<Glyph>) {
    let (nr, nc) = (frame.ys.len() - 1, frame.xs.len() - 1);
    let has_line = |horizontal: bool, pos: f32, at: f32| {
        frame.segments.iter().any(|s| {
            s.horizontal == horizontal
                && (s.pos - pos).abs() <= LINE_TOL
                && s.lo - LINE_TOL <= at
                && at <= s.hi + LINE_TOL
        })
    };
    let mut uf = UnionFind::new(nr * nc);
    for r in 0..nr {
        let ymid = (frame.ys[r] + frame.ys[r + 1]) / 2.0;
        for c in 0..nc {
            let xmid = (frame.xs[c] + frame.xs[c + 1]) / 2.0;
            if c + 1 < nc && !has_line(false, frame.xs[c + 1], ymid) {
                uf.union(r * nc + c, r * nc + c + 1);
            }
            if r + 1 < nr && !has_line(true, frame.ys[r + 1], xmid) {
                uf.union(r * nc + c, (r + 1) * nc + c);
            }
        }
    }
    let mut slot_cell = vec![usize::MAX; nr * nc];
    let mut cells: Vec<GridCell> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for r in 0..nr {
        for c in 0..nc {
            let root = uf.find(r * nc + c);
            let k = match roots.iter().position(|&x| x == root) {
                Some(k) => k,
                None => {
                    roots.push(root);
                    cells.push(GridCell {
                        r0: r,
                        r1: r + 1,
                        c0: c,
                        c1: c + 1,
                        ..Default::default()
                    });
                    cells.len() - 1
                }
            };
            let cell = &mut cells[k];
            cell.r0 = cell.r0.min(r);
            cell.r1 = cell.r1.max(r + 1);
            cell.c0 = cell.c0.min(c);
            cell.c1 = cell.c1.max(c + 1);
            slot_cell[r * nc + c] = k;
        }
    }
    let mut inside: Vec<Vec<Glyph>> = vec![Vec::new(); cells.len()];
    let mut rest = Vec::new();
    for g in glyphs {
        let slot = band(&frame.xs, g.cx()).zip(band(&frame.ys, g.cy()));
        match slot.and_then(|(c, r)| slot_cell.get(r * nc + c)) {
            Some(&k) if k < inside.len() => inside[k].push(g),
            _ => rest.push(g),
        }
    }
    for (cell, glyphs) in cells.iter_mut().zip(inside) {
        cell.text = cell_text(&glyphs);
    }
    let grid = Grid {
        xs: frame.xs,
        ys: frame.ys,
        cells,
    };
    (grid, rest)
}

/// Index of the band `edges[i]..edges[i+1]` containing `v`.
fn band(edges: &[f32], v: f32) -> Option<usize> {
    let last = edges.len().checked_sub(1)?;
    if !(v >= edges[0] && v <= edges[last]) {
        return None;
    }
    Some(
        edges
            .partition_point(|&e| e <= v)
            .saturating_sub(1)
            .min(last - 1),
    )
}

/// A cell's text: its lines top to bottom, joined without a break, so that a label wrapped
/// over two lines (`商业企` / `业`) reads as one word.
fn cell_text(glyphs: &[Glyph]) -> String {
    let lines = text_lines(glyphs);
    let mut out = String::new();
    for line in lines {
        for (i, chunk) in line.chunks.iter().enumerate() {
            let latin_join = out
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && chunk.2.starts_with(|c: char| c.is_ascii_alphanumeric());
            if i > 0 || latin_join {
                out.push(' ');
            }
            out.push_str(&chunk.2);
        }
    }
    out
}

/// Borderless tables: runs of text lines cut into several chunks by wide gaps. Lines of one
/// chunk between two such lines (a group label) and a `第二十条` caption just above belong to
/// the table too. Columns come from the lines with the most chunks.
fn stream_tables(lines: Vec<TextLine>) -> Vec<Item> {
    let multi: Vec<bool> = lines.iter().map(|l| l.chunks.len() >= 2).collect();
    let similar = |a: usize, b: usize| {
        let (x, y) = (lines[a].size, lines[b].size);
        (x - y).abs() <= 0.25 * x.max(y)
    };
    let mut in_table = multi.clone();
    for i in 0..lines.len() {
        if multi[i] {
            continue;
        }
        let next_multi = (i + 1..lines.len()).take(3).find(|&j| multi[j]);
        let caption = lines[i].text.starts_with("第二十条")
            && next_multi.is_some_and(|j| j == i + 1 && similar(i, j));
        // A label row between table rows, or the last line of the page under a table (the
        // table goes on over the page).
        let inside = i > 0
            && multi[i - 1]
            && similar(i, i - 1)
            && (next_multi.is_some_and(|j| similar(i, j)) || i + 1 == lines.len());
        // A group label (（三）不予公开) opening the rows below it, also at the top of a page.
        let group =
            starts_label(&lines[i].text) && next_multi.is_some_and(|j| j == i + 1 && similar(i, j));
        in_table[i] = caption || inside || group;
    }
    let mut items = Vec::new();
    let mut run: Vec<TextLine> = Vec::new();
    for (line, t) in lines.into_iter().zip(in_table) {
        if !t {
            flush_run(&mut items, std::mem::take(&mut run));
            items.push(Item::Line(line));
            continue;
        }
        let far = run
            .last()
            .is_some_and(|prev| line.top - prev.top > 3.0 * prev.size.max(line.size));
        if far {
            flush_run(&mut items, std::mem::take(&mut run));
        }
        run.push(line);
    }
    flush_run(&mut items, run);
    items
}

fn flush_run(items: &mut Vec<Item>, run: Vec<TextLine>) {
    let multi = run.iter().filter(|l| l.chunks.len() >= 2).count();
    if multi < 2 {
        items.extend(run.into_iter().map(Item::Line));
        return;
    }
    items.push(Item::Grid(stream_grid(&run)));
}

fn stream_grid(run: &[TextLine]) -> Grid {
    let widest = run.iter().map(|l| l.chunks.len()).max().unwrap_or(1);
    let mut spans: Vec<(f32, f32)> = run
        .iter()
        .filter(|l| l.chunks.len() == widest)
        .flat_map(|l| l.chunks.iter().map(|c| (c.0, c.1)))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cols: Vec<(f32, f32)> = Vec::new();
    for (a, b) in spans {
        match cols.last_mut() {
            Some(last) if a <= last.1 + LINE_TOL => last.1 = last.1.max(b),
            _ => cols.push((a, b)),
        }
    }
    let mut xs: Vec<f32> = cols.iter().map(|c| c.0).collect();
    xs.push(cols.last().map_or(0.0, |c| c.1));
    let mut rows: Vec<(f32, Vec<String>)> = Vec::new();
    for line in run {
        let mut texts = vec![String::new(); cols.len()];
        for chunk in &line.chunks {
            let c = nearest_column(&cols, chunk.0, chunk.1);
            if !texts[c].is_empty() {
                texts[c].push(' ');
            }
            texts[c].push_str(&chunk.2);
        }
        push_stream_row(&mut rows, line.top, texts);
    }
    let mut ys: Vec<f32> = rows.iter().map(|r| r.0).collect();
    ys.push(run.last().map_or(0.0, |l| l.top + l.size * 1.2));
    let mut cells = Vec::new();
    for (r, (_, texts)) in rows.into_iter().enumerate() {
        for (c, text) in texts.into_iter().enumerate() {
            cells.push(GridCell {
                r0: r,
                r1: r + 1,
                c0: c,
                c1: c + 1,
                text,
                continued: false,
            });
        }
    }
    Grid { xs, ys, cells }
}

/// Adds a borderless row, joining the lines of a label wrapped over several lines: a line
/// holding only first-column text that does not start a label continues the label above, and
/// numbers set beside the middle of a two-line label join the label line above them.
fn push_stream_row(rows: &mut Vec<(f32, Vec<String>)>, top: f32, texts: Vec<String>) {
    let filled: Vec<bool> = texts.iter().map(|t| !t.is_empty()).collect();
    let only_label = filled.first() == Some(&true) && !filled[1..].contains(&true);
    let no_label = filled.first() == Some(&false) && filled[1..].contains(&true);
    let Some((_, prev)) = rows.last_mut() else {
        rows.push((top, texts));
        return;
    };
    let prev_label_only = !prev[0].is_empty() && prev[1..].iter().all(String::is_empty);
    let continues = only_label
        && !prev[0].is_empty()
        && !starts_label(&texts[0])
        && !texts[0].starts_with("第二十条")
        && !prev[0].starts_with("第二十条");
    if continues {
        prev[0].push_str(&texts[0]);
        return;
    }
    let numbers = texts[1..].iter().all(|t| t.is_empty() || is_numeric(t));
    if no_label && prev_label_only && numbers && !prev[0].starts_with("第二十条") {
        for (p, t) in prev.iter_mut().zip(texts).skip(1) {
            *p = t;
        }
        return;
    }
    rows.push((top, texts));
}

/// The column a chunk overlaps most, or the closest one.
fn nearest_column(cols: &[(f32, f32)], x0: f32, x1: f32) -> usize {
    let score = |&(a, b): &(f32, f32)| {
        let overlap = x1.min(b) - x0.max(a);
        if overlap > 0.0 {
            overlap
        } else {
            -(((a + b) / 2.0) - (x0 + x1) / 2.0).abs() - 1e6
        }
    };
    cols.iter()
        .enumerate()
        .max_by(|a, b| score(a.1).total_cmp(&score(b.1)))
        .map_or(0, |(i, _)| i)
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb)] = ra.min(rb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyphs(text: &str, x: f32, base: f32, size: f32) -> Vec<Glyph> {
        text.chars()
            .enumerate()
            .map(|(i, ch)| {
                let w = if ch.is_ascii() { size * 0.5 } else { size };
                let x0 = x + i as f32 * w;
                Glyph {
                    ch,
                    x0,
                    x1: x0 + w,
                    base,
                    size,
                }
            })
            .collect()
    }

    fn h(y: f32, x0: f32, x1: f32) -> Segment {
        Segment {
            horizontal: true,
            pos: y,
            lo: x0,
            hi: x1,
        }
    }

    fn v(x: f32, y0: f32, y1: f32) -> Segment {
        Segment {
            horizontal: false,
            pos: x,
            lo: y0,
            hi: y1,
        }
    }

    #[test]
    fn ruled_grid_with_row_span() {
        // Two columns, three rows; the left cell of rows 1-2 is merged.
        let segments = vec![
            h(0.0, 0.0, 200.0),
            h(20.0, 0.0, 200.0),
            h(40.0, 100.0, 200.0),
            h(60.0, 0.0, 200.0),
            v(0.0, 0.0, 60.0),
            v(100.0, 0.0, 60.0),
            v(200.0, 0.0, 60.0),
        ];
        let mut g = glyphs("标签", 5.0, 15.0, 10.0);
        g.extend(glyphs("值", 105.0, 15.0, 10.0));
        g.extend(glyphs("合并", 5.0, 45.0, 10.0));
        g.extend(glyphs("12", 105.0, 35.0, 10.0));
        g.extend(glyphs("3", 105.0, 55.0, 10.0));
        g.extend(glyphs("- 3 -", 90.0, 80.0, 10.0));
        let page = PageContent {
            number: 1,
            height: None,
            glyphs: g,
            segments,
        };
        let out = build(&[page]);
        assert_eq!(out.tables.len(), 1);
        let rows = &out.tables[0].rows;
        let texts: Vec<Vec<(&str, bool)>> = rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| (c.text.as_str(), c.spanned))
                    .collect()
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                vec![("标签", false), ("值", false)],
                vec![("合并", false), ("12", false)],
                vec![("合并", true), ("3", false)],
            ]
        );
        assert_eq!(out.text, "", "the page number is not running text");
    }

    #[test]
    fn sniffing() {
        assert!(sniff(b"%PDF-1.7\n"));
        assert!(sniff(b"\xef\xbb\xbf\r\n%PDF-1.4\n"));
        assert!(!sniff(b"<html><p>%PDF-1.4</p>"));
        assert!(!sniff(b"PK\x03\x04"));
    }

    #[test]
    fn header_rows_repeated_on_the_next_page_are_read_once() {
        let frame = |top: f32| {
            vec![
                h(top, 0.0, 200.0),
                h(top + 20.0, 0.0, 200.0),
                h(top + 40.0, 0.0, 200.0),
                v(0.0, top, top + 40.0),
                v(100.0, top, top + 40.0),
                v(200.0, top, top + 40.0),
            ]
        };
        let page = |number: u32, value: &str| {
            let mut g = glyphs("项目", 5.0, 715.0, 10.0);
            g.extend(glyphs("数量", 105.0, 715.0, 10.0));
            g.extend(glyphs("行", 5.0, 735.0, 10.0));
            g.extend(glyphs(value, 105.0, 735.0, 10.0));
            PageContent {
                number,
                height: None,
                glyphs: g,
                segments: frame(700.0),
            }
        };
        let out = build(&[page(1, "1"), page(2, "2")]);
        assert_eq!(out.tables.len(), 1);
        let texts: Vec<String> = out.tables[0].rows.iter().map(Row::joined_text).collect();
        assert_eq!(texts, vec!["项目数量", "行1", "行2"]);
        assert_eq!(out.row_pages, vec![1, 1, 2]);
    }

    #[test]
    fn borderless_wrapped_labels_join() {
        let mut g = Vec::new();
        g.extend(glyphs("一、新收", 0.0, 10.0, 10.0));
        g.extend(glyphs("5", 150.0, 10.0, 10.0));
        g.extend(glyphs("7", 250.0, 10.0, 10.0));
        // A label over two lines with its numbers beside the first.
        g.extend(glyphs("（二）部分公开（区分", 0.0, 30.0, 10.0));
        g.extend(glyphs("1", 150.0, 30.0, 10.0));
        g.extend(glyphs("2", 250.0, 30.0, 10.0));
        g.extend(glyphs("处理的）", 0.0, 44.0, 10.0));
        // A label over two lines with its numbers between them.
        g.extend(glyphs("四、结转下年度继续", 0.0, 64.0, 10.0));
        g.extend(glyphs("3", 150.0, 71.0, 10.0));
        g.extend(glyphs("4", 250.0, 71.0, 10.0));
        g.extend(glyphs("办理", 0.0, 78.0, 10.0));
        let page = PageContent {
            number: 1,
            height: None,
            glyphs: g,
            segments: Vec::new(),
        };
        let out = build(&[page]);
        assert_eq!(out.tables.len(), 1);
        let rows: Vec<Vec<&str>> = out.tables[0]
            .rows
            .iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect();
        assert_eq!(
            rows,
            vec![
                vec!["一、新收", "5", "7"],
                vec!["（二）部分公开（区分处理的）", "1", "2"],
                vec!["四、结转下年度继续办理", "3", "4"],
            ]
        );
    }

    #[test]
    fn broken_header_words_join() {
        let mut g = glyphs("商", 0.0, 10.0, 10.0);
        g.extend(glyphs("业", 14.0, 10.0, 10.0));
        g.extend(glyphs("企", 28.0, 10.0, 10.0));
        g.extend(glyphs("业", 0.0, 24.0, 10.0));
        assert_eq!(cell_text(&g), "商业企业");
    }

    #[test]
    fn page_numbers() {
        for s in ["- 3 -", "-3-", "— 12 —", "第 3 页", "3/6", "7"] {
            assert!(is_page_number(s), "{s}");
        }
        for s in ["2024年", "一、总体情况", "3001 34"] {
            assert!(!is_page_number(s), "{s}");
        }
    }

    #[test]
    fn borderless_rows_align_columns() {
        let mut g = Vec::new();
        g.extend(glyphs("信息内容", 0.0, 10.0, 10.0));
        g.extend(glyphs("本年制发件数", 150.0, 10.0, 10.0));
        g.extend(glyphs("现行有效件数", 300.0, 10.0, 10.0));
        g.extend(glyphs("规章", 0.0, 30.0, 10.0));
        g.extend(glyphs("1", 150.0, 30.0, 10.0));
        g.extend(glyphs("11", 300.0, 30.0, 10.0));
        g.extend(glyphs("行政规范性文件", 0.0, 50.0, 10.0));
        g.extend(glyphs("66", 300.0, 50.0, 10.0));
        let page = PageContent {
            number: 1,
            height: None,
            glyphs: g,
            segments: Vec::new(),
        };
        let out = build(&[page]);
        assert_eq!(out.tables.len(), 1);
        let last: Vec<&str> = out.tables[0].rows[2]
            .cells
            .iter()
            .map(|c| c.text.as_str())
            .collect();
        assert_eq!(last, vec!["行政规范性文件", "", "66"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(extract(b"not a pdf").is_err());
        let _ = extract(b"%PDF-1.4\n1 0 obj <<");
    }
}
