//! The parser's common currency: a table as rows of cells placed on a grid.
//!
//! Every source form (HTML `<table>`, text copied one cell per line, tab-separated text, and
//! later PDF and DOCX) is turned into [`Table`]s; the interpretation of tables 二, 三, 四 only
//! ever sees these, so a fix there helps every form at once.

/// One cell on the grid, with its text already normalised (see `normalize`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    /// Grid row of the cell's origin (top-left slot) within its table or text.
    pub row: u32,
    /// Grid column of the cell's origin.
    pub col: u32,
    /// True when this entry is the continuation of a cell that started in an earlier row
    /// (a `rowspan`): its text is a label to inherit, never a value to read.
    pub spanned: bool,
}

/// One row of a table: the distinct cells that cover it, left to right. A cell spanning several
/// columns appears once; a cell spanning down from an earlier row appears with `spanned`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
}

/// A table, or a run of rows that a text form laid out like one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    /// The page the table starts on, for paged sources (PDF), 1-based.
    pub page: Option<u32>,
}

impl Row {
    /// Cells that start in this row (not inherited from a rowspan above).
    pub fn own_cells(&self) -> impl Iterator<Item = &Cell> {
        self.cells.iter().filter(|c| !c.spanned)
    }

    /// All cell texts joined, for keyword search.
    pub fn joined_text(&self) -> String {
        self.cells.iter().map(|c| c.text.as_str()).collect()
    }
}

impl Table {
    /// All cell texts joined, for keyword search.
    pub fn joined_text(&self) -> String {
        self.rows.iter().map(Row::joined_text).collect()
    }
}
