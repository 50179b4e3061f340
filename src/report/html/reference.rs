//! The previous front end, on html5ever's DOM (via `scraper`), kept as the reference the fast
//! parser is tested against: same `Page` for every well-formed and Word-shaped page.

use ego_tree::NodeRef;
use scraper::{Html, Node};

use super::super::grid::{Cell, Row, Table};
use super::super::normalize::display;
use super::{MAX_SPAN, Page, is_attachment};

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
