//! HTML front end: every `<table>` of the page placed on a grid, plus the page's text, title,
//! meta tags, attachment links and images.
//!
//! Cells are mapped by grid position (rowspan and colspan expanded), never by index within
//! their `<tr>`: Word-pasted tables use spans everywhere, and header and data rows often
//! disagree on them.
//!
//! The markup is parsed by a purpose-built HTML5 parser ([`tokenizer`], [`tree`]) that follows
//! html5ever's tokenizer and tree-construction rules for everything that decides where text and
//! cells end up, but builds only what this walk reads, into a flat arena. It is several times
//! faster than html5ever's general DOM and gives the same [`Page`]; `reference` keeps the
//! html5ever-based front end for the differential tests. Known differences: nesting deeper
//! than 1024 open elements is flattened and more than 100 active formatting elements are not
//! tracked (html5ever has no such caps and goes quadratic on such input); `<template>`
//! content is skipped by tracking only nesting and raw-text elements, so a raw-text tag that
//! a `<select>` or `<col>` inside a template would ignore can end the template elsewhere.

mod tags;
mod tokenizer;
mod tree;

#[cfg(test)]
mod difftest;
#[cfg(test)]
mod reference;

use super::grid::{Cell, Row, Table};
use super::normalize::display;
use tags::Tag;
use tree::{Data, Dom, NONE};

/// What the HTML front end extracts from a page.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Page {
    /// Every table, in document order (nested tables after their parent).
    pub tables: Vec<Table>,
    /// Visible text, one line per block element.
    pub text: String,
    /// `<title>` text.
    pub title: Option<String>,
    /// `<meta name=… content=…>` pairs, names lower-cased.
    pub meta: Vec<(String, String)>,
    /// Links to attachments (pdf, doc, docx, wps, xls, xlsx, ofd, zip), as written.
    pub attachments: Vec<String>,
    /// Number of `<img>` elements.
    pub images: usize,
}

/// Largest span honoured; beyond it a span attribute is treated as garbage. Real report tables
/// span at most a few dozen rows; the cap keeps hostile input from allocating huge grids.
const MAX_SPAN: usize = 200;

/// Parses a page.
pub fn parse_page(html: &str) -> Page {
    // The HTML input stream drops a leading byte-order mark and normalises line breaks.
    let html = html.strip_prefix('\u{feff}').unwrap_or(html);
    let normalized;
    let html = if html.contains('\r') {
        normalized = html.replace("\r\n", "\n").replace('\r', "\n");
        normalized.as_str()
    } else {
        html
    };
    let dom = tree::parse(html);
    let mut page = Page::default();
    let mut text = String::with_capacity(html.len() / 4);
    walk(&dom, &mut page, &mut text);
    page.text = text;
    page
}

enum Step {
    Enter(u32),
    /// End of a block element: its closing line break.
    Leave,
}

/// Pushes the children of `id` so that they pop in document order.
fn push_children(dom: &Dom, id: u32, stack: &mut Vec<Step>) {
    let mut c = dom.nodes[id as usize].last;
    while c != NONE {
        stack.push(Step::Enter(c));
        c = dom.nodes[c as usize].prev;
    }
}

/// Document-order walk (iterative: hostile nesting must not overflow the call stack).
fn walk(dom: &Dom, page: &mut Page, text: &mut String) {
    let mut stack = vec![Step::Enter(0)];
    while let Some(step) = stack.pop() {
        let id = match step {
            Step::Leave => {
                text.push('\n');
                continue;
            }
            Step::Enter(id) => id,
        };
        let tag = match dom.data(id) {
            Data::Text { start, end } => {
                text.push_str(dom.text_of(start, end));
                continue;
            }
            Data::Document => {
                push_children(dom, id, &mut stack);
                continue;
            }
            Data::Element { tag, .. } => tag,
        };
        match tag {
            Tag::Script | Tag::Style | Tag::Noscript | Tag::Template => continue,
            Tag::Title => {
                let t = display(&collect_text(dom, id));
                if page.title.is_none() && !t.is_empty() {
                    page.title = Some(t);
                }
                continue;
            }
            Tag::Meta => {
                let key = dom.attr(id, "name").or_else(|| dom.attr(id, "property"));
                if let (Some(k), Some(v)) = (key, dom.attr(id, "content")) {
                    page.meta.push((k.to_ascii_lowercase(), display(v)));
                }
            }
            Tag::Img => page.images += 1,
            Tag::A => {
                if let Some(href) = dom.attr(id, "href").filter(|h| is_attachment(h)) {
                    page.attachments.push(href.trim().to_string());
                }
            }
            Tag::Table => page.tables.push(build_table(dom, id)),
            _ => {}
        }
        let block = is_block(tag);
        if block {
            text.push('\n');
            stack.push(Step::Leave);
        } else if matches!(tag, Tag::Td | Tag::Th) {
            text.push('\t');
        }
        push_children(dom, id, &mut stack);
    }
}

fn is_block(tag: Tag) -> bool {
    use Tag as T;
    matches!(
        tag,
        T::P | T::Div
            | T::Br
            | T::Tr
            | T::Table
            | T::H1
            | T::H2
            | T::H3
            | T::H4
            | T::H5
            | T::H6
            | T::Li
            | T::Ul
            | T::Ol
            | T::Section
            | T::Article
            | T::Header
            | T::Footer
            | T::Center
            | T::Blockquote
            | T::Pre
            | T::Dd
            | T::Dt
    )
}

/// True when a link points at a file type reports are published in, either by its path
/// (`/a/report.pdf`) or by a query parameter (Hanweb's `downfile.jsp?filename=….pdf`).
pub fn is_attachment(href: &str) -> bool {
    let href = href.split('#').next().unwrap_or("").trim();
    href.split(['?', '&', '='])
        .any(|part| has_attachment_extension(&part.to_ascii_lowercase()))
}

fn has_attachment_extension(part: &str) -> bool {
    [
        ".pdf", ".doc", ".docx", ".wps", ".xls", ".xlsx", ".ofd", ".zip", ".rar",
    ]
    .iter()
    .any(|ext| part.ends_with(ext))
}

/// Text of a subtree, excluding nested tables and scripts; block elements separate with a
/// space so that `<p>a</p><p>b</p>` does not glue numbers together.
fn collect_text(dom: &Dom, id: u32) -> String {
    let mut out = String::new();
    collect_into(dom, id, &mut out, &mut Vec::new());
    out
}

/// [`collect_text`] into reusable buffers.
fn collect_into(dom: &Dom, id: u32, out: &mut String, stack: &mut Vec<Step>) {
    out.clear();
    stack.clear();
    push_children(dom, id, stack);
    while let Some(step) = stack.pop() {
        let id = match step {
            Step::Leave => {
                out.push(' ');
                continue;
            }
            Step::Enter(id) => id,
        };
        match dom.data(id) {
            Data::Text { start, end } => out.push_str(dom.text_of(start, end)),
            Data::Element { tag, .. } => match tag {
                Tag::Table | Tag::Script | Tag::Style => {}
                tag => {
                    if is_block(tag) {
                        out.push(' ');
                        stack.push(Step::Leave);
                    }
                    push_children(dom, id, stack);
                }
            },
            Data::Document => {}
        }
    }
}

fn tag_of(dom: &Dom, id: u32) -> Option<Tag> {
    match dom.data(id) {
        Data::Element { tag, .. } => Some(tag),
        _ => None,
    }
}

/// The `<tr>` elements that belong to `table` itself (not to a nested table).
fn own_rows(dom: &Dom, table: u32) -> Vec<u32> {
    let mut rows = Vec::new();
    let mut stack = Vec::new();
    push_children(dom, table, &mut stack);
    while let Some(step) = stack.pop() {
        let Step::Enter(n) = step else {
            continue;
        };
        match tag_of(dom, n) {
            Some(Tag::Tr) => rows.push(n),
            Some(Tag::Table) | None => {}
            Some(_) => push_children(dom, n, &mut stack),
        }
    }
    rows
}

struct RawCell {
    text: String,
    row: usize,
    col: usize,
}

fn span_attr(dom: &Dom, id: u32, name: &str) -> usize {
    dom.attr(id, name)
        .and_then(|v| {
            v.trim()
                .trim_matches(|c| c == '"' || c == '\'')
                .parse::<usize>()
                .ok()
        })
        .map(|n| n.clamp(1, MAX_SPAN))
        .unwrap_or(1)
}

/// Places every cell of a table on a grid and returns the rows of distinct cells.
fn build_table(dom: &Dom, table: u32) -> Table {
    let trs = own_rows(dom, table);
    let nrows = trs.len();
    let mut cells: Vec<RawCell> = Vec::new();
    // occupancy[r][c] = index into `cells`
    let mut occupancy: Vec<Vec<Option<usize>>> = vec![Vec::new(); nrows];
    let (mut buf, mut steps) = (String::new(), Vec::new());
    for (r, &tr) in trs.iter().enumerate() {
        let mut c = 0usize;
        for td in dom.children(tr) {
            if !matches!(tag_of(dom, td), Some(Tag::Td | Tag::Th)) {
                continue;
            }
            while occupancy[r].get(c).copied().flatten().is_some() {
                c += 1;
            }
            let rowspan = span_attr(dom, td, "rowspan").min(nrows - r);
            let colspan = span_attr(dom, td, "colspan");
            let idx = cells.len();
            cells.push(RawCell {
                text: {
                    collect_into(dom, td, &mut buf, &mut steps);
                    display(&buf)
                },
                row: r,
                col: c,
            });
            for row in occupancy.iter_mut().skip(r).take(rowspan) {
                if row.len() < c + colspan {
                    row.resize(c + colspan, None);
                }
                for slot in row.iter_mut().skip(c).take(colspan) {
                    *slot = Some(idx);
                }
            }
            c += colspan;
        }
    }
    let rows = occupancy
        .iter()
        .enumerate()
        .map(|(r, slots)| {
            let mut row = Row::default();
            let mut last = None;
            for idx in slots.iter().flatten() {
                if last == Some(*idx) {
                    continue;
                }
                last = Some(*idx);
                let raw = &cells[*idx];
                row.cells.push(Cell {
                    text: raw.text.clone(),
                    row: raw.row as u32,
                    col: raw.col as u32,
                    spanned: raw.row != r,
                });
            }
            row
        })
        .collect();
    Table { rows, page: None }
}

/// Collects the text of a subtree (exposed for tests).
#[cfg(test)]
fn texts(table: &Table) -> Vec<Vec<String>> {
    table
        .rows
        .iter()
        .map(|r| r.cells.iter().map(|c| c.text.clone()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_placed_on_the_grid() {
        let page = parse_page(
            "<table><tr><td rowspan=2>A</td><td colspan=2>B</td></tr>\
             <tr><td>c</td><td>d</td></tr></table>",
        );
        let t = &page.tables[0];
        assert_eq!(texts(t), vec![vec!["A", "B"], vec!["A", "c", "d"]]);
        assert!(t.rows[1].cells[0].spanned);
        assert_eq!(t.rows[1].cells[1].col, 1);
        assert_eq!(t.rows[1].cells[2].col, 2);
    }

    #[test]
    fn cell_text_joins_inline_runs_and_skips_nested_tables() {
        let page = parse_page(
            "<table><tr><td><p><span>本年</span><font>新</font></p><p>制作<br>数量</p>\
             <table><tr><td>inner</td></tr></table></td></tr></table>",
        );
        assert_eq!(page.tables.len(), 2);
        assert_eq!(page.tables[0].rows[0].cells[0].text, "本年新 制作 数量");
        assert_eq!(page.tables[1].rows[0].cells[0].text, "inner");
    }

    #[test]
    fn nbsp_and_office_paragraphs_are_empty() {
        let page = parse_page("<table><tr><td>&nbsp;</td><td><o:p> </o:p></td></tr></table>");
        assert_eq!(texts(&page.tables[0]), vec![vec!["", ""]]);
    }

    #[test]
    fn hostile_spans_are_capped() {
        let page = parse_page("<table><tr><td colspan=999999 rowspan=999999>x</td></tr></table>");
        assert_eq!(page.tables[0].rows.len(), 1);
    }

    #[test]
    fn title_meta_attachments_images() {
        let page = parse_page(
            "<html><head><title>T</title><meta name=ArticleTitle content='标题'></head>\
             <body><a href='/a/b.PDF?x=1'>附件</a><a href='/x.html'>no</a><img src=a.png></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("T"));
        assert_eq!(page.meta, vec![("articletitle".into(), "标题".into())]);
        assert_eq!(page.attachments, vec!["/a/b.PDF?x=1"]);
        assert_eq!(page.images, 1);
    }

    #[test]
    fn attachment_links_by_path_or_query() {
        assert!(is_attachment(
            "/module/download/downfile.jsp?classid=0&filename=ab12.pdf"
        ));
        assert!(is_attachment("./P020240125.DOCX#page=2"));
        assert!(!is_attachment("/art/2024/1/25/art_1_2.html?x=pdf"));
    }
}
