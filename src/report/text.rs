//! Text front end: reports copied out of a page, Word or PDF as plain text.
//!
//! Two layouts are recognised and both become one [`Table`] whose rows the interpreter walks
//! exactly like HTML rows:
//!
//! - **one cell per line** (a browser copy): a line starting with a tab opens a cell, a line
//!   without a leading tab directly below continues that cell (a header wrapped inside its
//!   cell), a blank line ends the row; a line without a tab after a blank line is running text
//!   and becomes a one-cell row.
//! - **tab-separated rows**: each line is a row, its cells split on tabs.

use super::grid::{Cell, Row, Table};
use super::normalize::display;

/// Turns text into rows. `text` should already be decoded.
pub fn parse_text(text: &str) -> Table {
    if is_tab_separated(text) {
        tab_separated(text)
    } else {
        cell_per_line(text)
    }
}

/// Tab-separated when many lines carry a tab after some content (not only a leading indent).
fn is_tab_separated(text: &str) -> bool {
    let inner_tabs = text
        .lines()
        .filter(|l| l.trim_start_matches('\t').trim_end().contains('\t'))
        .count();
    inner_tabs >= 5
}

fn tab_separated(text: &str) -> Table {
    let rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| Row {
            cells: line
                .trim_end()
                .split('\t')
                .enumerate()
                .map(|(col, t)| cell(t, n, col))
                .collect(),
        })
        .collect();
    Table { rows, page: None }
}

fn cell(text: &str, line: usize, col: usize) -> Cell {
    Cell {
        text: display(text),
        row: line as u32,
        col: col as u32,
        spanned: false,
    }
}

fn cell_per_line(text: &str) -> Table {
    let mut rows = Vec::new();
    let mut current = Row::default();
    let mut prev_blank = true;
    let flush = |current: &mut Row, rows: &mut Vec<Row>| {
        if !current.cells.is_empty() {
            rows.push(std::mem::take(current));
        }
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() && !line.starts_with('\t') {
            flush(&mut current, &mut rows);
            prev_blank = true;
            continue;
        }
        if let Some(content) = line.strip_prefix('\t') {
            let col = current.cells.len();
            current.cells.push(cell(content, n, col));
        } else if !prev_blank && !current.cells.is_empty() {
            // A wrapped cell: `本年新` / `制作数量` are one header.
            if let Some(last) = current.cells.last_mut() {
                let more = display(line);
                last.text.push_str(&more);
            }
        } else {
            flush(&mut current, &mut rows);
            current.cells.push(cell(line, n, 0));
            flush(&mut current, &mut rows);
        }
        prev_blank = false;
    }
    flush(&mut current, &mut rows);
    Table { rows, page: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &Table) -> Vec<Vec<&str>> {
        t.rows
            .iter()
            .map(|r| r.cells.iter().map(|c| c.text.as_str()).collect())
            .collect()
    }

    #[test]
    fn one_cell_per_line_with_wrapped_header() {
        let t = parse_text("标题\n\n\t信息内容\n\t本年新\n制作数量\n\t对外\n\n\t规章\n\t0\n\t+2\n");
        assert_eq!(
            texts(&t),
            vec![
                vec!["标题"],
                vec!["信息内容", "本年新制作数量", "对外"],
                vec!["规章", "0", "+2"]
            ]
        );
    }

    #[test]
    fn empty_placeholder_cells_are_kept() {
        let t = parse_text("\t\n\t（二）部分公开\n\t0\n");
        assert_eq!(texts(&t), vec![vec!["", "（二）部分公开", "0"]]);
    }

    #[test]
    fn tab_separated_rows() {
        let text = "a\tb\tc\n".repeat(6);
        let t = parse_text(&text);
        assert_eq!(t.rows.len(), 6);
        assert_eq!(texts(&t)[0], vec!["a", "b", "c"]);
    }
}
