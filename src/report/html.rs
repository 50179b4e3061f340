//! HTML front end: every `<table>` of the page placed on a grid, plus the page's text, title,
//! meta tags, attachment links and images.
//!
//! Cells are mapped by grid position (rowspan and colspan expanded), never by index within
//! their `<tr>`: Word-pasted tables use spans everywhere, and header and data rows often
//! disagree on them.

use ego_tree::NodeRef;
use scraper::{Html, Node};

use super::grid::{Cell, Row, Table};
use super::normalize::display;

/// What the HTML front end extracts from a page.
#[derive(Debug, Default)]
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
    let doc = Html::parse_document(html);
    let mut page = Page::default();
    let mut text = String::with_capacity(html.len() / 4);
    walk(doc.tree.root(), &mut page, &mut text);
    page.text = text;
    page
}

fn walk(node: NodeRef<Node>, page: &mut Page, text: &mut String) {
    match node.value() {
        Node::Text(t) => text.push_str(t),
        Node::Element(e) => {
            let name = e.name();
            match name {
                "script" | "style" | "noscript" | "template" => return,
                "title" => {
                    let t = display(&collect_text(node));
                    if page.title.is_none() && !t.is_empty() {
                        page.title = Some(t);
                    }
                    return;
                }
                "meta" => {
                    let key = e.attr("name").or_else(|| e.attr("property"));
                    if let (Some(k), Some(v)) = (key, e.attr("content")) {
                        page.meta.push((k.to_ascii_lowercase(), display(v)));
                    }
                }
                "img" => page.images += 1,
                "a" => {
                    if let Some(href) = e.attr("href").filter(|h| is_attachment(h)) {
                        page.attachments.push(href.trim().to_string());
                    }
                }
                "table" => page.tables.push(build_table(node)),
                _ => {}
            }
            let block = is_block(name);
            if block {
                text.push('\n');
            } else if matches!(name, "td" | "th") {
                text.push('\t');
            }
            for child in node.children() {
                walk(child, page, text);
            }
            if block {
                text.push('\n');
            }
        }
        _ => {
            for child in node.children() {
                walk(child, page, text);
            }
        }
    }
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "br"
            | "tr"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "li"
            | "ul"
            | "ol"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "center"
            | "blockquote"
            | "pre"
            | "dd"
            | "dt"
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
fn collect_text(node: NodeRef<Node>) -> String {
    let mut out = String::new();
    collect_into(node, &mut out);
    out
}

fn collect_into(node: NodeRef<Node>, out: &mut String) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => match e.name() {
                "table" | "script" | "style" => {}
                name => {
                    let block = is_block(name);
                    if block {
                        out.push(' ');
                    }
                    collect_into(child, out);
                    if block {
                        out.push(' ');
                    }
                }
            },
            _ => {}
        }
    }
}

/// The `<tr>` elements that belong to `table` itself (not to a nested table).
fn own_rows<'a>(table: NodeRef<'a, Node>) -> Vec<NodeRef<'a, Node>> {
    let mut rows = Vec::new();
    let mut stack: Vec<NodeRef<Node>> = table.children().collect();
    stack.reverse();
    while let Some(n) = stack.pop() {
        let Node::Element(e) = n.value() else {
            continue;
        };
        match e.name() {
            "tr" => rows.push(n),
            "table" => {}
            _ => {
                let mut kids: Vec<_> = n.children().collect();
                kids.reverse();
                stack.extend(kids);
            }
        }
    }
    rows
}

struct RawCell {
    text: String,
    row: usize,
    col: usize,
}

fn span_attr(e: &scraper::node::Element, name: &str) -> usize {
    e.attr(name)
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
fn build_table(table: NodeRef<Node>) -> Table {
    let trs = own_rows(table);
    let nrows = trs.len();
    let mut cells: Vec<RawCell> = Vec::new();
    // occupancy[r][c] = index into `cells`
    let mut occupancy: Vec<Vec<Option<usize>>> = vec![Vec::new(); nrows];
    for (r, tr) in trs.iter().enumerate() {
        let mut c = 0usize;
        for td in tr.children() {
            let Node::Element(e) = td.value() else {
                continue;
            };
            if !matches!(e.name(), "td" | "th") {
                continue;
            }
            while occupancy[r].get(c).copied().flatten().is_some() {
                c += 1;
            }
            let rowspan = span_attr(e, "rowspan").min(nrows - r);
            let colspan = span_attr(e, "colspan");
            let idx = cells.len();
            cells.push(RawCell {
                text: display(&collect_text(td)),
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
