//! Interpretation of tables 二, 三, 四: rows of cells in, facts keyed by `metrics.tsv` out.
//!
//! The interpreter walks every row of every table in document order, as a small state machine.
//! It never relies on a table's index on the page or a row's index in its table: a row is
//! recognised by the key words of its labels, *within its parent group* (sub-row labels such as
//! 其他 and 总计 repeat across groups), and values are read from the cells after the last label.
//! Because group context is carried from row to row, a rowspan label that a text copy prints only
//! once works the same as an HTML grid that repeats it on every row it spans.

use super::grid::{Cell, Table};
use super::normalize::{self, CellUnit};
use crate::metrics;
use crate::model::{CellState, Fact, Format, Warning};

/// Longest text (in key form) that can be a row or column label; longer cells are prose.
const MAX_LABEL_CHARS: usize = 64;

/// Table 三's value columns, in template order.
pub const T3_COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial",
    "research",
    "social_org",
    "legal_service",
    "other_org",
    "total",
];

/// Table 四's groups and columns, in template order.
pub const T4_GROUPS: [&str; 3] = ["review", "suit_direct", "suit_after_review"];
pub const T4_COLUMNS: [&str; 5] = ["upheld", "corrected", "other", "pending", "total"];

/// What the interpreter found.
#[derive(Debug, Default)]
pub struct Extraction {
    pub facts: Vec<Fact>,
    /// Evidence for each template version (header texts, row structure).
    pub signals_2019: u32,
    pub signals_2021: u32,
    /// Which of 二, 三, 四 yielded facts.
    pub found: [bool; 3],
    /// Set when a row's cells were glued into one digit string: the text cannot be split
    /// honestly, so the report must come back unparsed.
    pub glued: Option<String>,
    pub warnings: Vec<Warning>,
}

impl Extraction {
    /// The template version the tables themselves indicate, if any.
    pub fn format_signal(&self) -> Option<Format> {
        use std::cmp::Ordering::*;
        match self.signals_2019.cmp(&self.signals_2021) {
            Greater => Some(Format::F2019),
            Less => Some(Format::F2021),
            Equal => None,
        }
    }
}

/// Interprets every table of a document.
pub fn extract(tables: &[Table]) -> Extraction {
    let mut w = Walker::default();
    for table in tables {
        for row in &table.rows {
            w.row(&row.cells);
            if w.out.glued.is_some() {
                return w.out;
            }
        }
    }
    w.finish();
    w.out
}

/// The walk's state. Value cells are borrowed from the tables (`'a`) until they become facts,
/// so a row's values are never copied while they wait for the rest of their row.
#[derive(Default)]
struct Walker<'a> {
    out: Extraction,
    /// Metrics already emitted, by catalogue position.
    seen: Vec<bool>,
    /// Reused buffer for the metric key of the cell being emitted.
    key: String,
    /// Catalogue position of the last metric looked up.
    last_position: Option<usize>,
    t2: Table2State,
    t3: Table3State<'a>,
    t4: Table4State<'a>,
}

#[derive(Default)]
struct Table2State {
    block: Option<&'static str>,
    /// Column of each header cell and the grid columns it covers.
    headers: Vec<(Option<&'static str>, u32)>,
}

#[derive(Default)]
struct Table3State<'a> {
    active: bool,
    in_results: bool,
    group: Option<&'static str>,
    /// A recognised row whose values continue on the following value-only rows.
    pending: Option<(String, Vec<&'a Cell>)>,
}

#[derive(Default)]
struct Table4State<'a> {
    active: bool,
    done: bool,
    values: Vec<&'a Cell>,
}

/// A row classified for interpretation.
struct Classified<'a> {
    labels: Vec<(usize, String)>,
    cells: &'a [Cell],
    /// The row holds running text (a paragraph copied into the table flow), not cells.
    prose: bool,
}

fn classify(cells: &[Cell]) -> Classified<'_> {
    let mut labels = Vec::new();
    let mut prose = false;
    for (i, c) in cells.iter().enumerate() {
        if c.text.is_empty() {
            continue;
        }
        // NFKC never merges characters, so a cell this long cannot shrink into a label.
        // (`nth` stops counting at the limit: prose cells can be long.)
        let mut non_space = c.text.chars().filter(|ch| !ch.is_whitespace());
        if non_space.nth(MAX_LABEL_CHARS).is_some() {
            prose = true;
            continue;
        }
        if normalize::is_value_like(&c.text) {
            continue;
        }
        let key = normalize::key(&c.text);
        if key.chars().nth(MAX_LABEL_CHARS).is_some() {
            prose = true;
            continue;
        }
        labels.push((i, key));
    }
    Classified {
        labels,
        cells,
        prose,
    }
}

impl<'a> Classified<'a> {
    /// Own (non-spanned) cells after the last label cell.
    fn values(&self) -> Vec<&'a Cell> {
        let start = self.labels.last().map_or(0, |(i, _)| i + 1);
        own_cells(&self.cells[start..])
    }
}

/// The cells that start in this row (not inherited from a rowspan above).
fn own_cells(cells: &[Cell]) -> Vec<&Cell> {
    cells.iter().filter(|c| !c.spanned).collect()
}

impl<'a> Walker<'a> {
    fn row(&mut self, cells: &'a [Cell]) {
        let row = classify(cells);
        if row.labels.is_empty() {
            self.value_only_row(&row);
            return;
        }
        if self.table2_caption(&row) || self.table2_header(&row) {
            return;
        }
        if self.table4_trigger(&row) {
            return;
        }
        if self.table3_row(&row) {
            return;
        }
        if self.table2_data(&row) {
            return;
        }
        if self.t4.active && !self.t4.done {
            self.table4_values(&row);
        }
    }

    fn finish(&mut self) {
        self.drop_blank_group_row();
        if let Some((id, vals)) = self.t3.pending.take() {
            self.incomplete_row(&id, vals.len());
        }
        if self.t4.active && !self.t4.done && !self.t4.values.is_empty() {
            self.out.warnings.push(Warning {
                rule: "incomplete_row".into(),
                message: format!(
                    "table 四: found {} of 15 values; none recorded",
                    self.t4.values.len()
                ),
            });
        }
    }

    /// In a flat format-2021 table the （六）其他处理 group row has blank cells of its own
    /// above its three sub-rows: those blanks are layout, not the format-2019 single row.
    fn drop_blank_group_row(&mut self) {
        let has_subs = self.out.facts.iter().any(|f| {
            f.metric.starts_with("requests.other_handling.") && f.metric.matches('.').count() == 3
        });
        let single = |f: &Fact| {
            f.metric.starts_with("requests.other_handling.") && f.metric.matches('.').count() == 2
        };
        let single_blank = self
            .out
            .facts
            .iter()
            .filter(|f| single(f))
            .all(|f| f.state == CellState::Empty);
        if has_subs && single_blank {
            self.out.facts.retain(|f| !single(f));
        }
    }

    // ---- table 二 -------------------------------------------------------------------------

    fn table2_caption(&mut self, row: &Classified<'a>) -> bool {
        let Some((_, key)) = row.labels.iter().find(|(_, k)| k.contains("第二十条")) else {
            return false;
        };
        let block = ["(一)", "(五)", "(六)", "(八)", "(九)"]
            .into_iter()
            .find(|b| key.contains(b));
        self.t2.block = block;
        self.t2.headers.clear();
        if block == Some("(九)") {
            self.out.signals_2019 += 1;
        }
        self.leave_table3();
        true
    }

    fn table2_header(&mut self, row: &Classified<'a>) -> bool {
        let Some((first, key)) = row.labels.first() else {
            return false;
        };
        if !key.starts_with("信息内容") {
            return false;
        }
        self.t2.headers = row.cells[first + 1..]
            .iter()
            .filter(|c| !c.spanned)
            .map(|c| (table2_column(&normalize::key(&c.text)), c.col))
            .collect();
        for (col, _) in &self.t2.headers {
            match col {
                Some("new_made" | "new_published" | "total_published" | "prev_items" | "items")
                | Some("amount_yuan") => self.out.signals_2019 += 1,
                Some("issued" | "repealed" | "in_force" | "amount_wan_yuan") => {
                    self.out.signals_2021 += 1
                }
                _ => {}
            }
        }
        self.leave_table3();
        true
    }

    fn table2_data(&mut self, row: &Classified<'a>) -> bool {
        if self.t2.headers.is_empty() {
            return false;
        }
        let (idx, key) = &row.labels[0];
        let Some(subject) = table2_row(key, self.t2.block) else {
            return false;
        };
        let values = own_cells(&row.cells[idx + 1..]);
        let by_ordinal = values.len() == self.t2.headers.len();
        for (i, cell) in values.iter().enumerate() {
            let column = if by_ordinal {
                self.t2.headers[i].0
            } else {
                self.header_covering(cell.col)
            };
            let Some(column) = column else { continue };
            self.emit(&["active.", subject, ".", column], "二", cell);
        }
        true
    }

    /// The header whose grid columns include `col`: the last header starting at or before it.
    fn header_covering(&self, col: u32) -> Option<&'static str> {
        self.t2
            .headers
            .iter()
            .rev()
            .find(|(_, start)| *start <= col)
            .and_then(|(c, _)| *c)
    }

    // ---- table 三 -------------------------------------------------------------------------

    fn leave_table3(&mut self) {
        if let Some((id, vals)) = self.t3.pending.take() {
            self.incomplete_row(&id, vals.len());
        }
        self.t3 = Table3State::default();
    }

    fn table3_row(&mut self, row: &Classified<'a>) -> bool {
        let mut id: Option<String> = None;
        // The cell that named the row: its values are the cells after it, even a text cell
        // among them (a value printed as `见说明` or `=1+2` is a `text` fact, not a label).
        let mut id_at = 0;
        let mut touched = false;
        for (at, key) in &row.labels {
            let before = id.clone();
            if key.contains("勾稽关系") || key.contains("申请人情况") {
                self.t3.active = true;
                touched = true;
                continue;
            }
            if key.contains("本年新收") {
                id = Some("new_received".into());
                self.t3 = Table3State {
                    active: true,
                    ..Default::default()
                };
            } else if key.contains("上年结转") {
                id = Some("carried_over".into());
                self.t3.in_results = false;
                self.t3.group = None;
                self.t3.active = true;
            } else if key.contains("结转下年") {
                id = Some("carried_forward".into());
                self.t3.in_results = false;
                self.t3.group = None;
            } else if key.contains("办理结果") {
                self.t3.in_results = true;
                self.t3.active = true;
                touched = true;
            } else if !self.t3.active {
                continue;
            } else if let Some(found) = self.table3_group_or_sub(key) {
                id = Some(found);
            }
            if id != before {
                id_at = *at;
            }
        }
        let Some(id) = id else {
            return touched;
        };
        self.t3_values(id, row, id_at);
        true
    }

    /// Matches a group label (（一）…（七）) or a numbered sub-row within the current group.
    fn table3_group_or_sub(&mut self, key: &str) -> Option<String> {
        let group_of = |k: &str| -> Option<&'static str> {
            Some(if k.contains("予以公开") {
                "granted"
            } else if k.contains("部分公开") {
                "partial"
            } else if k.contains("不予公开") {
                "denied"
            } else if k.contains("无法提供") {
                "unable"
            } else if k.contains("不予处理") {
                "not_processed"
            } else if k.contains("其他处理") {
                "other_handling"
            } else if k.contains("总计") && (k.contains("(七)") || k.starts_with("总计")) {
                "total_handled"
            } else {
                return None;
            })
        };
        if let Some(sub) = self.t3.group.and_then(|g| table3_sub(g, key)) {
            let group = self.t3.group.unwrap_or_default();
            if group == "other_handling" {
                self.out.signals_2021 += 1;
            }
            return Some(format!("{group}.{sub}"));
        }
        if !self.t3.in_results && !key.contains("(七)") {
            return None;
        }
        let group = group_of(key)?;
        self.t3.in_results = true;
        self.t3.group = Some(group);
        match group {
            // Groups whose numbers sit on their sub-rows; (六) has its own row in format 2019.
            "denied" | "unable" | "not_processed" => None,
            "total_handled" => {
                self.t3.group = None;
                Some(group.into())
            }
            _ => Some(group.into()),
        }
    }

    fn t3_values(&mut self, id: String, row: &Classified<'a>, id_at: usize) {
        if let Some((prev, vals)) = self.t3.pending.take() {
            self.incomplete_row(&prev, vals.len());
        }
        let values = own_cells(&row.cells[id_at + 1..]);
        if id == "other_handling" {
            // Format 2021's (六) carries no numbers; its sub-rows do.
            if values.iter().all(|c| c.text.is_empty()) && row.cells.len() < 7 {
                return;
            }
            if values.iter().any(|c| !c.text.is_empty()) {
                self.out.signals_2019 += 1;
            }
        }
        self.t3_take(id, values);
    }

    fn t3_take(&mut self, id: String, mut values: Vec<&'a Cell>) {
        if let Some(glued) = values.iter().find(|c| normalize::looks_glued(&c.text, 7))
            && values.len() < 7
        {
            self.out.glued = Some(format!(
                "table 三 row {id}: cells glued into one digit string `{}`",
                glued.text
            ));
            return;
        }
        if values.len() < 7 {
            self.t3.pending = Some((id, values));
            return;
        }
        let extra = values.len() - 7;
        values.drain(..extra);
        for (column, cell) in T3_COLUMNS.iter().zip(values) {
            self.emit(&["requests.", &id, ".", column], "三", cell);
        }
        self.out.found[1] = true;
    }

    fn incomplete_row(&mut self, id: &str, got: usize) {
        self.out.warnings.push(Warning {
            rule: "incomplete_row".into(),
            message: format!("table 三 row {id}: found {got} of 7 values; none recorded"),
        });
    }

    fn value_only_row(&mut self, row: &Classified<'a>) {
        if row.prose {
            return;
        }
        if let Some((id, mut vals)) = self.t3.pending.take() {
            vals.extend(row.values());
            self.t3_take(id, vals);
            return;
        }
        if self.t4.active && !self.t4.done {
            self.table4_values(row);
        }
    }

    // ---- table 四 -------------------------------------------------------------------------

    fn table4_trigger(&mut self, row: &Classified<'a>) -> bool {
        if self.t4.done || !row.labels.iter().any(|(_, k)| k.contains("行政复议")) {
            return false;
        }
        self.leave_table3();
        self.t2 = Table2State::default();
        self.t4.active = true;
        // Some pages put the header and the numbers in one row.
        self.table4_values(row);
        true
    }

    fn table4_values(&mut self, row: &Classified<'a>) {
        let values = row.values();
        let any_number = values.iter().any(|c| !c.text.is_empty());
        if values.len() < 15 && !any_number {
            return;
        }
        if let Some(glued) = values.iter().find(|c| normalize::looks_glued(&c.text, 15))
            && self.t4.values.len() + values.len() < 15
        {
            self.out.glued = Some(format!(
                "table 四: cells glued into one digit string `{}`",
                glued.text
            ));
            return;
        }
        self.t4.values.extend(values);
        if self.t4.values.len() < 15 {
            return;
        }
        self.t4.done = true;
        let values = std::mem::take(&mut self.t4.values);
        for (i, cell) in values.into_iter().take(15).enumerate() {
            let (group, column) = (T4_GROUPS[i / 5], T4_COLUMNS[i % 5]);
            self.emit(&["appeals.", group, ".", column], "四", cell);
        }
        self.out.found[2] = true;
    }

    // ---- facts ----------------------------------------------------------------------------

    /// Records the cell as the fact of the metric whose key is `key_parts` joined. The key is
    /// assembled in a reused buffer: this runs for every value cell of a report.
    fn emit(&mut self, key_parts: &[&str], table: &str, cell: &Cell) {
        self.key.clear();
        for part in key_parts {
            self.key.push_str(part);
        }
        let Some(ordinal) = self.key_position() else {
            return;
        };
        if self.seen.is_empty() {
            self.seen = vec![false; metrics::all().len()];
        }
        if std::mem::replace(&mut self.seen[ordinal], true) {
            self.out.warnings.push(Warning {
                rule: "duplicate_cell".into(),
                message: format!("{}: a second cell (`{}`) was ignored", self.key, cell.text),
            });
            return;
        }
        if table == "二" {
            self.out.found[0] = true;
        }
        let metric = &metrics::all()[ordinal];
        self.out.facts.push(fact(metric, table, cell));
    }

    /// Catalogue position of the key in `self.key`. Cells arrive in catalogue order nearly
    /// always (the template's rows and columns are the catalogue's), so the position after the
    /// last one is tried first: one string comparison instead of hashing the key. Keys are
    /// unique in the catalogue (a test in `metrics` holds it to that), so a hit is the
    /// position the index would give.
    fn key_position(&mut self) -> Option<usize> {
        let next = self.last_position.map_or(0, |p| p + 1);
        let position = if metrics::all().get(next).is_some_and(|m| m.key == self.key) {
            Some(next)
        } else {
            metrics::position(&self.key)
        };
        if position.is_some() {
            self.last_position = position;
        }
        position
    }
}

/// Builds a fact, converting money to the metric's unit.
fn fact(metric: &metrics::Metric, table: &str, cell: &Cell) -> Fact {
    let read = normalize::read_cell(&cell.text);
    let value = read.number.map(|d| {
        let shift = match (metric.unit, read.unit) {
            ("yuan", CellUnit::WanYuan) => 4,
            ("wan_yuan", CellUnit::Yuan) => -4,
            _ => 0,
        };
        d.shift(shift).to_f64()
    });
    Fact {
        metric: metric.key.to_string(),
        value,
        state: if value.is_some() {
            CellState::Number
        } else {
            read.state
        },
        raw: cell.text.clone(),
        table: table.to_string(),
        row: cell.row,
        col: cell.col,
        page: None,
    }
}

/// Column of a table 二 header cell, by key words.
fn table2_column(key: &str) -> Option<&'static str> {
    Some(if key.contains("新制作") || key.contains("制作数量") {
        "new_made"
    } else if key.contains("新公开") {
        "new_published"
    } else if key.contains("公开总") {
        "total_published"
    } else if key.contains("制发") {
        "issued"
    } else if key.contains("废止") {
        "repealed"
    } else if key.contains("现行有效") {
        "in_force"
    } else if key.contains("上一年") {
        "prev_items"
    } else if key.contains('增') || key.contains('减') {
        "change"
    } else if key.contains("处理决定") {
        "decisions"
    } else if key.contains("采购项目") {
        "items"
    } else if key.contains("收费金额") {
        "amount_wan_yuan"
    } else if key.contains("采购总金额") || key.contains("金额") {
        "amount_yuan"
    } else {
        return None;
    })
}

/// Subject of a table 二 data row, by key words within the current block.
fn table2_row(key: &str, block: Option<&str>) -> Option<&'static str> {
    let candidates: &[(&str, &'static str)] = match block {
        Some("(一)") => &[("规范性文件", "normative"), ("规章", "rules")],
        Some("(五)") => &[("其他对外", "other_services"), ("行政许可", "licensing")],
        Some("(六)") => &[("行政处罚", "penalty"), ("行政强制", "coercion")],
        Some("(八)") => &[("收费", "fees")],
        Some("(九)") => &[("采购", "procurement")],
        _ => &[
            ("规范性文件", "normative"),
            ("规章", "rules"),
            ("其他对外", "other_services"),
            ("行政许可", "licensing"),
            ("行政处罚", "penalty"),
            ("行政强制", "coercion"),
            ("收费", "fees"),
            ("采购", "procurement"),
        ],
    };
    candidates
        .iter()
        .find(|(word, _)| key.contains(word))
        .map(|(_, subject)| *subject)
}

/// Sub-row of a table 三 group, by key words; only meaningful inside that group.
fn table3_sub(group: &str, key: &str) -> Option<&'static str> {
    let subs: &[(&str, &'static str)] = match group {
        "denied" => &[
            ("国家秘密", "state_secret"),
            ("禁止公开", "prohibited_by_law"),
            ("三安全", "security_stability"),
            ("第三方", "third_party"),
            ("内部事务", "internal_affairs"),
            ("过程性", "process_info"),
            ("执法案卷", "enforcement_file"),
            ("查询事项", "admin_query"),
        ],
        "unable" => &[
            ("不掌握", "not_held"),
            ("另行制作", "needs_creation"),
            ("仍不明确", "unclear"),
        ],
        "not_processed" => &[
            ("信访", "petition"),
            ("重复申请", "repeat"),
            ("出版物", "publication"),
            ("大量反复", "excessive"),
            ("确认或重新出具", "confirm_reissue"),
        ],
        "other_handling" => &[("逾期不补正", "no_correction"), ("缴纳费用", "unpaid_fee")],
        _ => &[],
    };
    if let Some((_, sub)) = subs.iter().find(|(word, _)| key.contains(word)) {
        return Some(sub);
    }
    if group == "other_handling" && strip_numbering(key) == "其他" {
        return Some("other");
    }
    // A label whose key words are misprinted (`2.其他法律行政止公开`) is still the template's
    // N-th sub-row of its group when it carries the number N.
    let n = sub_number(key)?;
    match (group, n) {
        ("other_handling", 3) => Some("other"),
        _ => subs.get(n.checked_sub(1)?).map(|(_, sub)| *sub),
    }
}

/// `2.其他…` → 2; `None` unless the key starts with a number followed by `.`.
fn sub_number(key: &str) -> Option<usize> {
    let digits: String = key.chars().take_while(char::is_ascii_digit).collect();
    let rest = &key[digits.len()..];
    if digits.is_empty() || !rest.starts_with('.') || rest.len() <= 1 {
        return None;
    }
    digits.parse().ok()
}

/// `3.其他` → `其他`.
fn strip_numbering(key: &str) -> &str {
    let rest = key.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() < key.len() {
        rest.trim_start_matches(['.', ')', ':'])
    } else {
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::text::parse_text;

    fn rows(lines: &[&[&str]]) -> Table {
        let text: String = lines
            .iter()
            .map(|cells| cells.iter().map(|c| format!("\t{c}\n")).collect::<String>() + "\n")
            .collect();
        parse_text(&text)
    }

    const ZEROS: [&str; 7] = ["0", "0", "0", "0", "0", "0", "0"];

    fn row<'a>(labels: &[&'a str], values: &[&'a str]) -> Vec<&'a str> {
        labels.iter().chain(values).copied().collect()
    }

    #[test]
    fn misprinted_sub_row_is_found_by_its_number() {
        let r1 = row(
            &["三、本年度办理结果", "（三）不予公开", "1．属于国家秘密"],
            &ZEROS,
        );
        let r2 = row(
            &["", "", "2．其他法律行政止公开"],
            &["1", "0", "0", "0", "0", "0", "1"],
        );
        let t = rows(&[&r1, &r2]);
        let ext = extract(&[t]);
        let f = ext
            .facts
            .iter()
            .find(|f| f.metric == "requests.denied.prohibited_by_law.total")
            .expect("typo row read by its number");
        assert_eq!(f.value, Some(1.0));
    }

    #[test]
    fn text_cell_among_values_is_a_text_fact() {
        let r = row(
            &["一、本年新收政府信息公开申请数量"],
            &["1", "=1+2", "0", "0", "0", "0", "1"],
        );
        let ext = extract(&[rows(&[&r])]);
        assert_eq!(ext.facts.len(), 7);
        let f = &ext.facts[1];
        assert_eq!(
            (f.metric.as_str(), f.state),
            ("requests.new_received.commercial", CellState::Text)
        );
    }

    /// A second row with the same metric is ignored with a warning naming the metric, also
    /// when it comes after other rows (the catalogue position is then found by the index, not
    /// by the guess that cells arrive in catalogue order).
    #[test]
    fn duplicate_row_is_ignored_with_a_warning() {
        let new1 = row(&["一、本年新收政府信息公开申请数量"], &ZEROS);
        let carried = row(&["二、上年结转政府信息公开申请数量"], &ZEROS);
        let new2 = row(
            &["一、本年新收政府信息公开申请数量"],
            &["2", "0", "0", "0", "0", "0", "2"],
        );
        let ext = extract(&[rows(&[&new1, &carried, &new2])]);
        assert_eq!(ext.facts.len(), 14);
        assert_eq!(ext.facts[0].metric, "requests.new_received.natural_person");
        assert_eq!(ext.facts[0].value, Some(0.0));
        assert_eq!(ext.facts[7].metric, "requests.carried_over.natural_person");
        let dups: Vec<&str> = ext
            .warnings
            .iter()
            .filter(|w| w.rule == "duplicate_cell")
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(dups.len(), 7);
        assert_eq!(
            dups[0],
            "requests.new_received.natural_person: a second cell (`2`) was ignored"
        );
    }

    #[test]
    fn blank_group_row_above_sub_rows_is_layout() {
        let group = row(&["（六）其他处理"], &["", "", "", "", "", "", ""]);
        let subs = [
            row(
                &["1．申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"],
                &ZEROS,
            ),
            row(
                &["2．申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"],
                &ZEROS,
            ),
            row(&["3．其他"], &ZEROS),
        ];
        let head = row(
            &[
                "三、本年度办理结果",
                "（五）不予处理",
                "1．信访举报投诉类申请",
            ],
            &ZEROS,
        );
        let t = rows(&[&head, &group, &subs[0], &subs[1], &subs[2]]);
        let ext = extract(&[t]);
        assert!(
            !ext.facts
                .iter()
                .any(|f| f.metric == "requests.other_handling.total")
        );
        assert!(
            ext.facts
                .iter()
                .any(|f| f.metric == "requests.other_handling.other.total")
        );
        assert!(ext.signals_2021 > ext.signals_2019);
    }
}
