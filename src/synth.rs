//! Synthetic report pages: realistic HTML for both template formats from a set of numbers, for
//! tests, benchmarks and the portal simulator.
//!
//! A [`SynthReport`] is the ground truth: every metric of its format (in catalogue order) with
//! the cell text as printed. [`consistent`] draws one from a seed so that every accounting
//! identity (T3-A, T3-B, T3-C, T4) holds; [`render_html`] prints it the way agencies paste Word
//! tables into their CMS, with the quirks of [`HtmlStyle`]. A parser test renders a report,
//! parses the page and compares each fact with [`SynthReport::expected_value`]:
//!
//! ```
//! use gknb::model::Format;
//! use gknb::synth::{self, HtmlStyle};
//!
//! let r = synth::consistent(Format::F2021, 2022, "南关区民政局", 7);
//! let page = synth::render_html(&r, &HtmlStyle { word_spans: true, ..HtmlStyle::default() });
//! assert!(page.contains("2022年南关区民政局政府信息公开工作年度报告"));
//! assert_eq!(r.values.len(), 200);
//! let total = r.expected_value("requests.new_received.total").unwrap();
//! assert!(total >= 0.0);
//! ```
//!
//! Everything is deterministic in the seed, so the simulator can regenerate a page on demand
//! instead of storing it.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::model::Format;

/// One synthetic report: the numbers behind a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    /// Publishing agency, as it appears in the title (`南关区民政局`).
    pub agency: String,
    /// Report year (the year the statistics cover).
    pub year: i32,
    /// Template format; only [`Format::F2019`] and [`Format::F2021`] are meaningful.
    pub format: Format,
    /// `(metric key, cell text as printed)` for every metric of the format, in catalogue order.
    pub values: Vec<(String, String)>,
}

/// Rendering quirks of a page. `Default` gives a plain Word-pasted page with no chrome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlStyle {
    /// Labels split over `<span>`/`<font>`/several `<p>`/`<br>` runs, with `<o:p>` debris.
    pub word_spans: bool,
    /// A 索引号/发布机构/发文日期/文号 metadata table before the report.
    pub metadata_table: bool,
    /// The page wrapped in nested layout tables (navigation, body, footer).
    pub layout_tables: bool,
    /// Table 三 printed as two `<table>` blocks, both repeating 三、本年度办理结果.
    pub split_table_three: bool,
    /// Pad the page with neutral narrative (section 六) until it has at least this many bytes;
    /// 0 means no padding. Real pages are about 100 KB.
    pub pad_to_bytes: usize,
    /// Charset named in the `<meta>` tag (`utf-8`, `gb2312`, …); `None` writes no declaration.
    /// The page is always returned as a Rust `String`: encoding the bytes is the caller's job.
    pub meta_charset: Option<String>,
    /// Title printed (in `<title>`, `ArticleTitle` and the heading) instead of
    /// [`SynthReport::title`], for the title variants real portals use.
    pub title: Option<String>,
}

impl Default for HtmlStyle {
    fn default() -> Self {
        HtmlStyle {
            word_spans: false,
            metadata_table: false,
            layout_tables: false,
            split_table_three: false,
            pad_to_bytes: 0,
            meta_charset: Some("utf-8".to_string()),
            title: None,
        }
    }
}

impl HtmlStyle {
    /// One style per quirk, then all quirks together (and a padded page): a parser test that
    /// loops over these covers every rendering path.
    pub fn variants() -> Vec<HtmlStyle> {
        let base = HtmlStyle::default();
        vec![
            base.clone(),
            HtmlStyle {
                word_spans: true,
                ..base.clone()
            },
            HtmlStyle {
                metadata_table: true,
                ..base.clone()
            },
            HtmlStyle {
                layout_tables: true,
                ..base.clone()
            },
            HtmlStyle {
                split_table_three: true,
                ..base.clone()
            },
            HtmlStyle {
                word_spans: true,
                metadata_table: true,
                layout_tables: true,
                split_table_three: true,
                pad_to_bytes: 100_000,
                meta_charset: Some("utf-8".to_string()),
                title: None,
            },
        ]
    }

    /// A style with every quirk chosen from `seed` (used by the simulator for variety).
    pub fn varied(seed: u64) -> HtmlStyle {
        let mut rng = Rng::new(seed ^ 0x53_5459_4c45);
        HtmlStyle {
            word_spans: rng.chance(50),
            metadata_table: rng.chance(60),
            layout_tables: rng.chance(40),
            split_table_three: rng.chance(15),
            pad_to_bytes: 0,
            meta_charset: Some("utf-8".to_string()),
            title: None,
        }
    }
}

impl SynthReport {
    /// The canonical title: `{year}年{agency}政府信息公开工作年度报告`.
    pub fn title(&self) -> String {
        format!("{}年{}政府信息公开工作年度报告", self.year, self.agency)
    }

    /// The printed cell text of a metric.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the printed text of one metric (to build deliberately inconsistent reports).
    /// Returns false when the key is not part of this report's format.
    pub fn set(&mut self, key: &str, text: &str) -> bool {
        match self.values.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => {
                slot.1 = text.to_string();
                true
            }
            None => false,
        }
    }

    /// Blanks (prints as `&nbsp;`) most zero cells of tables 三 and 四, the way many agencies
    /// leave zeros empty (Shanghai 2019). Blank is not zero for a parser: those cells have no
    /// [`expected_value`](SynthReport::expected_value), and the identities still hold with
    /// blanks counted as 0.
    pub fn with_blank_zeros(mut self, seed: u64) -> SynthReport {
        let mut rng = Rng::new(seed ^ 0x00B1_A44C);
        for (key, text) in &mut self.values {
            let detail = key.starts_with("requests.") || key.starts_with("appeals.");
            if detail && text == "0" && rng.chance(70) {
                text.clear();
            }
        }
        self
    }

    /// The number a parser should extract for `key`, in the metric's unit: yuan for
    /// `active.procurement.amount_yuan` (the cell may say `元` or `万元`), 万元 for
    /// `active.fees.amount_wan_yuan`, plain counts otherwise. `None` for unknown keys or
    /// cells without a number.
    pub fn expected_value(&self, key: &str) -> Option<f64> {
        parse_printed(self.value(key)?)
    }

    /// Every metric with its expected numeric value, in catalogue order.
    pub fn expected_values(&self) -> Vec<(String, f64)> {
        self.values
            .iter()
            .filter_map(|(k, v)| parse_printed(v).map(|x| (k.clone(), x)))
            .collect()
    }
}

/// Reads back the simple printed forms this module writes: `12`, `+2`, `-3`, `251000元`,
/// `31.2万元` (→ yuan), `24252.311082`.
fn parse_printed(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Some(n) = t.strip_suffix("万元") {
        return n
            .trim_start_matches('+')
            .parse::<f64>()
            .ok()
            .map(|x| x * 10_000.0);
    }
    let t = t.strip_suffix('元').unwrap_or(t);
    t.trim_start_matches('+').parse::<f64>().ok()
}

/// A tiny deterministic PRNG (SplitMix64): reproducible pages without a `rand` dependency on
/// the generator's exact algorithm.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0xD1B5_4A32_D192_ED03))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` = 0 gives 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.next_u64() % n
    }

    /// True with probability `pct`/100.
    pub(crate) fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// The six applicant columns of table 三, then 总计 (metric key suffixes).
pub const T3_COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial",
    "research",
    "social_org",
    "legal_service",
    "other_org",
    "total",
];

const T3_DENIED: [&str; 8] = [
    "denied.state_secret",
    "denied.prohibited_by_law",
    "denied.security_stability",
    "denied.third_party",
    "denied.internal_affairs",
    "denied.process_info",
    "denied.enforcement_file",
    "denied.admin_query",
];
const T3_UNABLE: [&str; 3] = ["unable.not_held", "unable.needs_creation", "unable.unclear"];
const T3_NOT_PROCESSED: [&str; 5] = [
    "not_processed.petition",
    "not_processed.repeat",
    "not_processed.publication",
    "not_processed.excessive",
    "not_processed.confirm_reissue",
];
const T3_OTHER_2021: [&str; 3] = [
    "other_handling.no_correction",
    "other_handling.unpaid_fee",
    "other_handling.other",
];

/// Rows of table 三 that add up to （七）总计, in printed order (key infixes after `requests.`).
fn t3_result_rows(format: Format) -> Vec<&'static str> {
    let mut rows = vec!["granted", "partial"];
    rows.extend(T3_DENIED);
    rows.extend(T3_UNABLE);
    rows.extend(T3_NOT_PROCESSED);
    if format == Format::F2021 {
        rows.extend(T3_OTHER_2021);
    } else {
        rows.push("other_handling");
    }
    rows
}

/// The four outcome columns and the total of each table-四 group.
const T4_GROUPS: [&str; 3] = ["review", "suit_direct", "suit_after_review"];
const T4_COLUMNS: [&str; 5] = ["upheld", "corrected", "other", "pending", "total"];

/// Draws a report whose numbers satisfy every hard identity (T3-A, T3-B, T3-C, T4).
pub fn consistent(format: Format, year: i32, agency: &str, seed: u64) -> SynthReport {
    let mut rng = Rng::new(seed);
    let mut v: HashMap<String, String> = HashMap::new();
    table_two(format, &mut rng, &mut v);
    table_three(format, &mut rng, &mut v);
    table_four(&mut rng, &mut v);
    let values = crate::metrics::for_format(format)
        .map(|m| {
            let text = v.remove(m.key).unwrap_or_default();
            (m.key.to_string(), text)
        })
        .collect();
    SynthReport {
        agency: agency.to_string(),
        year,
        format,
        values,
    }
}

fn signed(rng: &mut Rng) -> String {
    let n = rng.below(21) as i64 - 10;
    match n {
        0 => "0".to_string(),
        n if n > 0 && rng.chance(50) => format!("+{n}"),
        n => n.to_string(),
    }
}

fn table_two(format: Format, rng: &mut Rng, v: &mut HashMap<String, String>) {
    let mut put = |k: &str, s: String| {
        v.insert(format!("active.{k}"), s);
    };
    if format == Format::F2021 {
        for (doc, scale) in [("rules", 4), ("normative", 25)] {
            put(&format!("{doc}.issued"), rng.below(scale).to_string());
            put(
                &format!("{doc}.repealed"),
                rng.below(scale / 2 + 1).to_string(),
            );
            put(
                &format!("{doc}.in_force"),
                rng.below(scale * 10).to_string(),
            );
        }
        for k in ["licensing", "penalty", "coercion"] {
            put(&format!("{k}.decisions"), rng.below(5000).to_string());
        }
        let fee = if rng.chance(20) {
            "0".to_string()
        } else {
            format!("{}.{:06}", rng.below(30000), rng.below(1_000_000))
        };
        put("fees.amount_wan_yuan", fee);
        return;
    }
    for (doc, scale) in [("rules", 4), ("normative", 25)] {
        let made = rng.below(scale);
        put(&format!("{doc}.new_made"), made.to_string());
        put(&format!("{doc}.new_published"), made.to_string());
        put(
            &format!("{doc}.total_published"),
            (made + rng.below(scale * 10)).to_string(),
        );
    }
    for k in ["licensing", "other_services", "penalty", "coercion"] {
        put(&format!("{k}.prev_items"), rng.below(300).to_string());
        put(&format!("{k}.change"), signed(rng));
        put(&format!("{k}.decisions"), rng.below(5000).to_string());
    }
    put("fees.prev_items", rng.below(20).to_string());
    put("fees.change", signed(rng));
    put("procurement.items", rng.below(60).to_string());
    let amount = match rng.below(3) {
        0 => format!("{}元", rng.below(1000) * 1000),
        1 => format!("{}.{:02}元", rng.below(100_000_000), rng.below(100)),
        _ => "0".to_string(),
    };
    put("procurement.amount_yuan", amount);
}

fn table_three(format: Format, rng: &mut Rng, v: &mut HashMap<String, String>) {
    let rows = t3_result_rows(format);
    // Per row, per applicant column (the six columns before 总计).
    let mut grid: HashMap<&str, [u64; 6]> = HashMap::new();
    for col in 0..6 {
        // Natural persons file most requests; organisations a few, often none.
        let scale = if col == 0 { 40 } else { 4 };
        let active = col == 0 || rng.chance(50);
        let mut handled = 0;
        for row in &rows {
            let x = if active && rng.chance(45) {
                rng.below(scale)
            } else {
                0
            };
            grid.entry(row).or_insert([0; 6])[col] = x;
            handled += x;
        }
        let forward = if active { rng.below(scale / 4 + 1) } else { 0 };
        let incoming = handled + forward;
        let carried = rng.below(incoming / 4 + 1).min(incoming);
        grid.entry("total_handled").or_insert([0; 6])[col] = handled;
        grid.entry("carried_forward").or_insert([0; 6])[col] = forward;
        grid.entry("carried_over").or_insert([0; 6])[col] = carried;
        grid.entry("new_received").or_insert([0; 6])[col] = incoming - carried;
    }
    for (row, cols) in &grid {
        for (c, x) in cols.iter().enumerate() {
            v.insert(format!("requests.{row}.{}", T3_COLUMNS[c]), x.to_string());
        }
        let total: u64 = cols.iter().sum();
        v.insert(format!("requests.{row}.total"), total.to_string());
    }
}

fn table_four(rng: &mut Rng, v: &mut HashMap<String, String>) {
    for g in T4_GROUPS {
        let mut total = 0;
        for c in &T4_COLUMNS[..4] {
            let x = if rng.chance(30) { rng.below(6) } else { 0 };
            total += x;
            v.insert(format!("appeals.{g}.{c}"), x.to_string());
        }
        v.insert(format!("appeals.{g}.total"), total.to_string());
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// HTML-escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cell printer: Word-pasted markup around every cell.
struct Cells<'a> {
    style: &'a HtmlStyle,
}

impl Cells<'_> {
    fn open(&self, out: &mut String, rowspan: u32, colspan: u32, width: u32) {
        out.push_str("<td");
        if rowspan > 1 {
            let _ = write!(out, " rowspan=\"{rowspan}\"");
        }
        if colspan > 1 {
            let _ = write!(out, " colspan=\"{colspan}\"");
        }
        let _ = write!(
            out,
            " width=\"{width}\" valign=\"center\" style=\"width:{width}px;border:solid windowtext 1.0pt;padding:0cm 5.4pt 0cm 5.4pt\">"
        );
    }

    /// A label cell; with `word_spans` the text is broken into several runs, the way Word
    /// exports edited text.
    fn label(&self, out: &mut String, text: &str, rowspan: u32, colspan: u32) {
        self.open(out, rowspan, colspan, 60 * colspan.max(1));
        if !self.style.word_spans {
            let _ = write!(
                out,
                "<p class=\"MsoNormal\" align=\"center\"><span style=\"font-size:10.5pt;font-family:宋体\">{}</span></p></td>",
                escape(text)
            );
            return;
        }
        let chars: Vec<char> = text.chars().collect();
        let cut = (chars.len() / 2).max(1).min(chars.len());
        let a = escape(&chars[..cut].iter().collect::<String>());
        let b = escape(&chars[cut..].iter().collect::<String>());
        let variant = text.chars().map(|c| c as u32).sum::<u32>() % 4;
        match variant {
            0 => {
                let _ = write!(
                    out,
                    "<p class=\"MsoNormal\" align=\"center\"><span style=\"font-size:10.5pt;font-family:宋体\">{a}</span><span lang=\"EN-US\" style=\"font-size:10.5pt\">{b}</span><span lang=\"EN-US\"><o:p></o:p></span></p></td>"
                );
            }
            1 => {
                let _ = write!(
                    out,
                    "<p class=\"MsoNormal\"><font face=\"宋体\">{a}</font><font face=\"宋体\" size=\"2\">{b}</font></p></td>"
                );
            }
            2 => {
                let _ = write!(
                    out,
                    "<p class=\"MsoNormal\" align=\"center\"><span>{a}</span></p><p class=\"MsoNormal\" align=\"center\"><span>{b}<o:p></o:p></span></p></td>"
                );
            }
            _ => {
                let _ = write!(
                    out,
                    "<p class=\"MsoNormal\" align=\"center\"><span style=\"font-family:宋体\">{a}<br>{b}</span></p></td>"
                );
            }
        }
    }

    /// A value cell; an empty text prints `&nbsp;`.
    fn value(&self, out: &mut String, text: &str, colspan: u32) {
        self.open(out, 1, colspan, 48 * colspan.max(1));
        if text.is_empty() {
            out.push_str("<p class=\"MsoNormal\" align=\"center\"><span>&nbsp;</span></p></td>");
            return;
        }
        let tail = if self.style.word_spans {
            "<o:p></o:p>"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<p class=\"MsoNormal\" align=\"center\"><span lang=\"EN-US\" style=\"font-size:10.5pt;font-family:宋体\">{}{tail}</span></p></td>",
            escape(text)
        );
    }
}

const TABLE_OPEN: &str = "<table class=\"MsoNormalTable\" border=\"1\" cellspacing=\"0\" cellpadding=\"0\" width=\"600\" style=\"border-collapse:collapse;border:none\"><tbody>";
const TABLE_CLOSE: &str = "</tbody></table>";

/// Last segment of a metric's row path (`三、本年度办理结果/（三）不予公开/1.属于国家秘密` → `1.属于国家秘密`).
fn row_label(key: &str, segment_from_end: usize) -> String {
    let Some(m) = crate::metrics::get(key) else {
        return String::new();
    };
    let parts: Vec<&str> = m.row_zh.split('/').collect();
    parts
        .len()
        .checked_sub(1 + segment_from_end)
        .and_then(|i| parts.get(i))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn v<'a>(r: &'a SynthReport, key: &str) -> &'a str {
    r.value(key).unwrap_or("")
}

fn render_table_two(r: &SynthReport, cells: &Cells, out: &mut String) {
    out.push_str(TABLE_OPEN);
    let caption = |out: &mut String, item: &str| {
        out.push_str("<tr>");
        cells.label(out, &format!("第二十条第（{item}）项"), 1, 4);
        out.push_str("</tr>");
    };
    // (header label, colspan) lists and data rows of (row label, [(key, colspan)]).
    let header = |out: &mut String, cols: &[(&str, u32)]| {
        out.push_str("<tr>");
        cells.label(out, "信息内容", 1, 1);
        for (c, span) in cols {
            cells.label(out, c, 1, *span);
        }
        out.push_str("</tr>");
    };
    let data = |out: &mut String, label_key: &str, keys: &[(&str, u32)]| {
        out.push_str("<tr>");
        cells.label(out, &row_label(label_key, 0), 1, 1);
        for (k, span) in keys {
            cells.value(out, v(r, k), *span);
        }
        out.push_str("</tr>");
    };
    if r.format == Format::F2021 {
        caption(out, "一");
        header(
            out,
            &[
                ("本年制发件数", 1),
                ("本年废止件数", 1),
                ("现行有效件数", 1),
            ],
        );
        for doc in ["rules", "normative"] {
            let ks = [
                format!("active.{doc}.issued"),
                format!("active.{doc}.repealed"),
                format!("active.{doc}.in_force"),
            ];
            data(
                out,
                &ks[0],
                &[
                    (ks[0].as_str(), 1),
                    (ks[1].as_str(), 1),
                    (ks[2].as_str(), 1),
                ],
            );
        }
        caption(out, "五");
        header(out, &[("本年处理决定数量", 3)]);
        data(
            out,
            "active.licensing.decisions",
            &[("active.licensing.decisions", 3)],
        );
        caption(out, "六");
        header(out, &[("本年处理决定数量", 3)]);
        for k in ["active.penalty.decisions", "active.coercion.decisions"] {
            data(out, k, &[(k, 3)]);
        }
        caption(out, "八");
        header(out, &[("本年收费金额（单位：万元）", 3)]);
        data(
            out,
            "active.fees.amount_wan_yuan",
            &[("active.fees.amount_wan_yuan", 3)],
        );
        out.push_str(TABLE_CLOSE);
        return;
    }
    caption(out, "一");
    header(
        out,
        &[
            ("本年新制作数量", 1),
            ("本年新公开数量", 1),
            ("对外公开总数量", 1),
        ],
    );
    for doc in ["rules", "normative"] {
        let ks = [
            format!("active.{doc}.new_made"),
            format!("active.{doc}.new_published"),
            format!("active.{doc}.total_published"),
        ];
        data(
            out,
            &ks[0],
            &[
                (ks[0].as_str(), 1),
                (ks[1].as_str(), 1),
                (ks[2].as_str(), 1),
            ],
        );
    }
    for (item, groups) in [
        ("五", ["licensing", "other_services"]),
        ("六", ["penalty", "coercion"]),
    ] {
        caption(out, item);
        header(
            out,
            &[("上一年项目数量", 1), ("本年增/减", 1), ("处理决定数量", 1)],
        );
        for g in groups {
            let ks = [
                format!("active.{g}.prev_items"),
                format!("active.{g}.change"),
                format!("active.{g}.decisions"),
            ];
            data(
                out,
                &ks[0],
                &[
                    (ks[0].as_str(), 1),
                    (ks[1].as_str(), 1),
                    (ks[2].as_str(), 1),
                ],
            );
        }
    }
    caption(out, "八");
    header(out, &[("上一年项目数量", 1), ("本年增/减", 2)]);
    data(
        out,
        "active.fees.prev_items",
        &[("active.fees.prev_items", 1), ("active.fees.change", 2)],
    );
    caption(out, "九");
    header(out, &[("采购项目数量", 1), ("采购总金额", 2)]);
    data(
        out,
        "active.procurement.items",
        &[
            ("active.procurement.items", 1),
            ("active.procurement.amount_yuan", 2),
        ],
    );
    out.push_str(TABLE_CLOSE);
}

/// One printed row of table 三: its label cells and the metric row it carries.
struct T3Row {
    /// `(text, rowspan, colspan)` label cells that start on this row.
    labels: Vec<(String, u32, u32)>,
    /// Key infix (`denied.state_secret`).
    row: &'static str,
}

fn table_three_rows(format: Format, split_at: Option<usize>) -> Vec<T3Row> {
    let key = |row: &str| format!("requests.{row}.total");
    let mut out = vec![
        T3Row {
            labels: vec![(row_label(&key("new_received"), 0), 1, 3)],
            row: "new_received",
        },
        T3Row {
            labels: vec![(row_label(&key("carried_over"), 0), 1, 3)],
            row: "carried_over",
        },
    ];
    // The result rows under 三、本年度办理结果, with their group labels.
    let mut results: Vec<T3Row> = Vec::new();
    let single = |row: &'static str| T3Row {
        labels: vec![(row_label(&key(row), 0), 1, 2)],
        row,
    };
    let group = |rows: &[&'static str], results: &mut Vec<T3Row>| {
        for (i, row) in rows.iter().enumerate() {
            let mut labels = Vec::new();
            if i == 0 {
                labels.push((row_label(&key(row), 1), rows.len() as u32, 1));
            }
            labels.push((row_label(&key(row), 0), 1, 1));
            results.push(T3Row { labels, row });
        }
    };
    results.push(single("granted"));
    results.push(single("partial"));
    group(&T3_DENIED, &mut results);
    group(&T3_UNABLE, &mut results);
    group(&T3_NOT_PROCESSED, &mut results);
    if format == Format::F2021 {
        group(&T3_OTHER_2021, &mut results);
    } else {
        results.push(single("other_handling"));
    }
    results.push(single("total_handled"));
    // 三、本年度办理结果 spans the result rows of its block; a split repeats it.
    let heading = row_label(&key("granted"), 1);
    let blocks: Vec<(usize, usize)> = match split_at {
        Some(s) if s > 0 && s < results.len() => vec![(0, s), (s, results.len())],
        _ => vec![(0, results.len())],
    };
    for (start, end) in blocks {
        results[start]
            .labels
            .insert(0, (heading.clone(), (end - start) as u32, 1));
    }
    out.extend(results);
    out.push(T3Row {
        labels: vec![(row_label(&key("carried_forward"), 0), 1, 3)],
        row: "carried_forward",
    });
    out
}

fn render_table_three_header(cells: &Cells, out: &mut String) {
    out.push_str("<tr>");
    cells.label(
        out,
        "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）",
        3,
        3,
    );
    cells.label(out, "申请人情况", 1, 7);
    out.push_str("</tr><tr>");
    cells.label(out, "自然人", 2, 1);
    cells.label(out, "法人或其他组织", 1, 5);
    cells.label(out, "总计", 2, 1);
    out.push_str("</tr><tr>");
    for c in [
        "商业企业",
        "科研机构",
        "社会公益组织",
        "法律服务机构",
        "其他",
    ] {
        cells.label(out, c, 1, 1);
    }
    out.push_str("</tr>");
}

fn render_table_three(r: &SynthReport, cells: &Cells, out: &mut String) {
    // A split falls after the （三）不予公开 group: granted, partial, 8 denied rows.
    let split_at = cells.style.split_table_three.then_some(10);
    let rows = table_three_rows(r.format, split_at);
    out.push_str(TABLE_OPEN);
    render_table_three_header(cells, out);
    // Index in `rows` where the second block starts (2 rows precede the results).
    let second_block = split_at.map(|s| s + 2);
    for (i, row) in rows.iter().enumerate() {
        if Some(i) == second_block {
            out.push_str(TABLE_CLOSE);
            out.push_str("<p class=\"MsoNormal\">&nbsp;</p>");
            out.push_str(TABLE_OPEN);
        }
        out.push_str("<tr>");
        for (text, rs, cs) in &row.labels {
            cells.label(out, text, *rs, *cs);
        }
        for c in T3_COLUMNS {
            cells.value(out, v(r, &format!("requests.{}.{c}", row.row)), 1);
        }
        out.push_str("</tr>");
    }
    out.push_str(TABLE_CLOSE);
}

fn render_table_four(r: &SynthReport, cells: &Cells, out: &mut String) {
    const OUTCOMES: [&str; 5] = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"];
    out.push_str(TABLE_OPEN);
    out.push_str("<tr>");
    cells.label(out, "行政复议", 1, 5);
    cells.label(out, "行政诉讼", 1, 10);
    out.push_str("</tr><tr>");
    for o in OUTCOMES {
        cells.label(out, o, 2, 1);
    }
    cells.label(out, "未经复议直接起诉", 1, 5);
    cells.label(out, "复议后起诉", 1, 5);
    out.push_str("</tr><tr>");
    for _ in 0..2 {
        for o in OUTCOMES {
            cells.label(out, o, 1, 1);
        }
    }
    out.push_str("</tr><tr>");
    for g in T4_GROUPS {
        for c in T4_COLUMNS {
            cells.value(out, v(r, &format!("appeals.{g}.{c}")), 1);
        }
    }
    out.push_str("</tr>");
    out.push_str(TABLE_CLOSE);
}

/// Neutral filler sentences (written for this project) for narrative sections and padding.
const FILLER: [&str; 8] = [
    "本机关坚持以公开为常态、不公开为例外，持续推进决策、执行、管理、服务、结果公开。",
    "进一步完善政府信息公开工作机制，明确专人负责信息发布和审核，确保信息准确及时。",
    "围绕群众关切做好政策解读，通过门户网站和政务新媒体等渠道发布解读材料。",
    "加强政府信息公开平台建设，优化栏目设置，提升信息检索和查阅的便利程度。",
    "严格落实保密审查制度，做到先审查、后公开，一事一审，全面审查。",
    "依法规范办理依申请公开工作，按照法定时限答复申请人，做到答复格式规范、依据充分。",
    "组织开展政府信息公开业务培训，提高工作人员的业务能力和依法公开意识。",
    "主动接受社会监督，认真听取公众意见建议，不断改进政府信息公开工作。",
];

fn paragraph(out: &mut String, text: &str) {
    let _ = writeln!(
        out,
        "<p class=\"MsoNormal\" style=\"text-indent:2em;line-height:28pt\"><span style=\"font-size:16pt;font-family:仿宋_GB2312\">{text}</span></p>"
    );
}

fn heading(out: &mut String, text: &str) {
    let _ = writeln!(
        out,
        "<p class=\"MsoNormal\" style=\"text-indent:2em\"><strong><span style=\"font-size:16pt;font-family:黑体\">{text}</span></strong></p>"
    );
}

fn filler(out: &mut String, start: usize, count: usize) {
    for i in 0..count {
        paragraph(out, FILLER[(start + i) % FILLER.len()]);
    }
}

fn head(out: &mut String, title: &str, agency: &str, published: &str, style: &HtmlStyle) {
    out.push_str("<!DOCTYPE html>\n<html><head>\n");
    match style.meta_charset.as_deref() {
        Some(cs) if cs.eq_ignore_ascii_case("utf-8") => out.push_str("<meta charset=\"utf-8\">\n"),
        Some(cs) => {
            let _ = writeln!(
                out,
                "<meta http-equiv=\"Content-Type\" content=\"text/html; charset={cs}\">"
            );
        }
        None => {}
    }
    let t = escape(title);
    let a = escape(agency);
    let _ = write!(
        out,
        "<meta name=\"ArticleTitle\" content=\"{t}\">\n<meta name=\"PubDate\" content=\"{published} 09:30\">\n<meta name=\"ContentSource\" content=\"{a}\">\n<title>{t}</title>\n</head>\n<body>\n"
    );
}

fn chrome_top(out: &mut String) {
    out.push_str("<div class=\"top\"><a href=\"/\">首页</a> | <a href=\"/zwgk/\">政府信息公开</a> | <a href=\"javascript:void(0)\">无障碍</a> | <a href=\"javascript:void(0)\">长者版</a></div>\n<div class=\"crumb\">当前位置：<a href=\"../../\">首页</a> &gt; <a href=\"../\">政府信息公开</a> &gt; 政府信息公开年报</div>\n");
}

fn chrome_bottom(out: &mut String) {
    out.push_str("<div class=\"tools\">字体：<a href=\"javascript:void(0)\">大</a> <a href=\"javascript:void(0)\">中</a> <a href=\"javascript:void(0)\">小</a> <a href=\"javascript:window.print()\">打印</a> <a href=\"javascript:window.close()\">关闭</a></div>\n<div class=\"footer\">主办单位：模拟人民政府办公室 ICP备00000000号 公安备案00000000000000号</div>\n");
}

fn metadata_table(out: &mut String, r: &SynthReport, published: &str) {
    let a = escape(&r.agency);
    let _ = writeln!(
        out,
        "<div class=\"xxgk-meta\"><table class=\"xxgk_table\" width=\"100%\"><tbody>\
<tr><td class=\"th\">索&nbsp;引&nbsp;号：</td><td>11329900MB{:07}X/{}-00031</td><td class=\"th\">主题分类：</td><td>其他</td></tr>\
<tr><td class=\"th\">发布机构：</td><td>{a}</td><td class=\"th\">发文日期：</td><td>{published}</td></tr>\
<tr><td class=\"th\">文&#12288;&#12288;号：</td><td></td><td class=\"th\">有效性：</td><td>有效</td></tr>\
</tbody></table></div>",
        r.agency.chars().map(|c| c as u32).sum::<u32>() % 10_000_000,
        r.year + 1,
    );
}

/// The publication date a page states: late January of the following year.
pub fn publication_date(year: i32, seed_text: &str) -> String {
    let day = 10 + seed_text.chars().map(|c| c as u32).sum::<u32>() % 19;
    format!("{}-01-{day:02}", year + 1)
}

/// Renders the full page of a report: head with title and metadata, page chrome, the six
/// sections with tables 二, 三, 四, Word-pasted style.
pub fn render_html(r: &SynthReport, style: &HtmlStyle) -> String {
    let title = style.title.clone().unwrap_or_else(|| r.title());
    let published = publication_date(r.year, &r.agency);
    let cells = Cells { style };
    let mut out = String::with_capacity(style.pad_to_bytes.max(48_000) + 4096);
    head(&mut out, &title, &r.agency, &published, style);
    if style.layout_tables {
        out.push_str("<table width=\"100%\" border=\"0\" cellspacing=\"0\" cellpadding=\"0\"><tr><td align=\"center\">\n<table width=\"1000\" border=\"0\"><tr><td>\n");
    }
    chrome_top(&mut out);
    if style.metadata_table {
        metadata_table(&mut out, r, &published);
    }
    let _ = write!(
        out,
        "<div class=\"title\"><h1>{}</h1></div>\n<div class=\"info\">发布日期：{published}&nbsp;&nbsp;来源：{}</div>\n<div class=\"TRS_Editor\" id=\"zoom\">\n",
        escape(&title),
        escape(&r.agency)
    );
    paragraph(
        &mut out,
        &format!(
            "本报告根据《中华人民共和国政府信息公开条例》编制。本报告数据统计期限为{}年1月1日至{}年12月31日。",
            r.year, r.year
        ),
    );
    heading(&mut out, "一、总体情况");
    paragraph(
        &mut out,
        &format!(
            "{}年，{}认真贯彻落实政府信息公开工作要求，本年度共收到政府信息公开申请{}件。",
            r.year,
            escape(&r.agency),
            v(r, "requests.new_received.total")
        ),
    );
    filler(&mut out, 0, 4);
    heading(&mut out, "二、主动公开政府信息情况");
    render_table_two(r, &cells, &mut out);
    heading(&mut out, "三、收到和处理政府信息公开申请情况");
    render_table_three(r, &cells, &mut out);
    heading(&mut out, "四、政府信息公开行政复议、行政诉讼情况");
    render_table_four(r, &cells, &mut out);
    heading(&mut out, "五、存在的主要问题及改进情况");
    filler(&mut out, 4, 4);
    heading(&mut out, "六、其他需要报告的事项");
    filler(&mut out, 2, 2);
    let mut tail = String::new();
    tail.push_str("</div>\n");
    chrome_bottom(&mut tail);
    if style.layout_tables {
        tail.push_str("</td></tr></table>\n</td></tr></table>\n");
    }
    tail.push_str("</body></html>\n");
    let mut i = 0;
    while out.len() + tail.len() < style.pad_to_bytes {
        paragraph(&mut out, FILLER[i % FILLER.len()]);
        i += 1;
    }
    out.push_str(&tail);
    out
}

/// A short page (~400 bytes) whose report lives in a linked attachment (PDF, DOC, …).
pub fn render_attachment_stub(
    title: &str,
    year: i32,
    agency: &str,
    attachment_href: &str,
) -> String {
    let t = escape(title);
    let file = attachment_href
        .rsplit('/')
        .next()
        .unwrap_or(attachment_href);
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\
<h1>{t}</h1><div class=\"info\">发布日期：{}&nbsp;来源：{}</div>\
<div class=\"TRS_Editor\"><p>附件：<a href=\"{}\">{}</a></p></div></body></html>\n",
        publication_date(year, agency),
        escape(agency),
        escape(attachment_href),
        escape(file),
    )
}

/// A pre-2019 report: free-form sections and an ad-hoc table that follow no national
/// template (parsers archive these as `legacy` and extract nothing).
pub fn render_legacy(title: &str, year: i32, agency: &str, seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x1E6A);
    let mut out = String::new();
    head(
        &mut out,
        title,
        agency,
        &publication_date(year, agency),
        &HtmlStyle::default(),
    );
    let _ = write!(
        out,
        "<h1>{}</h1><div class=\"info\">发布日期：{}</div><div class=\"TRS_Editor\" id=\"zoom\">",
        escape(title),
        publication_date(year, agency)
    );
    heading(&mut out, "一、概述");
    filler(&mut out, 1, 3);
    heading(&mut out, "二、主动公开政府信息的情况");
    paragraph(
        &mut out,
        &format!(
            "{year}年，本机关主动公开政府信息{}条。",
            rng.below(900) + 50
        ),
    );
    out.push_str(TABLE_OPEN);
    for (label, scale) in [
        ("主动公开信息总数", 900),
        ("其中：规范性文件", 40),
        ("网站公开", 800),
        ("依申请公开受理总数", 60),
    ] {
        let _ = write!(
            out,
            "<tr><td><p>{label}</p></td><td><p>{}</p></td></tr>",
            rng.below(scale)
        );
    }
    out.push_str(TABLE_CLOSE);
    heading(&mut out, "三、依申请公开政府信息和不予公开政府信息的情况");
    filler(&mut out, 3, 2);
    heading(&mut out, "四、政府信息公开的收费及减免情况");
    paragraph(&mut out, "本年度未收取任何费用。");
    heading(
        &mut out,
        "五、因政府信息公开申请行政复议、提起行政诉讼的情况",
    );
    paragraph(&mut out, "本年度未发生相关情况。");
    heading(&mut out, "六、政府信息公开工作存在的主要问题及改进情况");
    filler(&mut out, 5, 2);
    out.push_str("</div></body></html>\n");
    out
}

/// A page whose tables are images (`<img>`); the title gets the （图片版） suffix if missing.
pub fn render_image_only(title: &str, year: i32, agency: &str, image_hrefs: &[&str]) -> String {
    let full = if title.ends_with("（图片版）") {
        title.to_string()
    } else {
        format!("{title}（图片版）")
    };
    let mut out = String::new();
    head(
        &mut out,
        &full,
        agency,
        &publication_date(year, agency),
        &HtmlStyle::default(),
    );
    let _ = write!(
        out,
        "<h1>{}</h1><div class=\"info\">发布日期：{}</div><div class=\"TRS_Editor\">",
        escape(&full),
        publication_date(year, agency)
    );
    for src in image_hrefs {
        let _ = write!(
            out,
            "<p style=\"text-align:center\"><img src=\"{}\" width=\"600\" border=\"0\"></p>",
            escape(src)
        );
    }
    out.push_str("</div></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(r: &SynthReport, key: &str) -> f64 {
        r.expected_value(key)
            .unwrap_or_else(|| panic!("no value for {key}"))
    }

    fn check_identities(r: &SynthReport) {
        let fmt = r.format;
        // T3-C: per row, 总计 = six applicant columns.
        let mut rows = vec![
            "new_received",
            "carried_over",
            "total_handled",
            "carried_forward",
        ];
        rows.extend(t3_result_rows(fmt));
        assert_eq!(rows.len(), if fmt == Format::F2021 { 25 } else { 23 });
        for row in &rows {
            let sum: f64 = T3_COLUMNS[..6]
                .iter()
                .map(|c| num(r, &format!("requests.{row}.{c}")))
                .sum();
            assert_eq!(sum, num(r, &format!("requests.{row}.total")), "T3-C {row}");
        }
        for c in T3_COLUMNS {
            let at = |row: &str| num(r, &format!("requests.{row}.{c}"));
            // T3-B
            let sum: f64 = t3_result_rows(fmt).iter().map(|row| at(row)).sum();
            assert_eq!(sum, at("total_handled"), "T3-B {c}");
            // T3-A
            assert_eq!(
                at("new_received") + at("carried_over"),
                at("total_handled") + at("carried_forward"),
                "T3-A {c}"
            );
        }
        for g in T4_GROUPS {
            let sum: f64 = T4_COLUMNS[..4]
                .iter()
                .map(|c| num(r, &format!("appeals.{g}.{c}")))
                .sum();
            assert_eq!(sum, num(r, &format!("appeals.{g}.total")), "T4 {g}");
        }
    }

    #[test]
    fn every_metric_has_a_number_and_identities_hold() {
        for seed in 0..200 {
            for (fmt, n) in [(Format::F2019, 198), (Format::F2021, 200)] {
                let r = consistent(fmt, 2020, "测试局", seed);
                assert_eq!(r.values.len(), n);
                for (k, text) in &r.values {
                    assert!(r.expected_value(k).is_some(), "{k} = {text:?}");
                }
                check_identities(&r);
            }
        }
    }

    #[test]
    fn blank_zeros_keep_identities_with_blanks_as_zero() {
        let r = consistent(Format::F2021, 2022, "某局", 11).with_blank_zeros(11);
        let blanks = r.values.iter().filter(|(_, v)| v.is_empty()).count();
        assert!(blanks > 20, "{blanks}");
        assert!(
            r.values
                .iter()
                .all(|(k, v)| !v.is_empty() || !k.starts_with("active."))
        );
        let mut filled = r.clone();
        for (_, v) in &mut filled.values {
            if v.is_empty() {
                *v = "0".into();
            }
        }
        check_identities(&filled);
        let page = render_html(&r, &HtmlStyle::default());
        assert!(page.contains("<span>&nbsp;</span>"));
    }

    #[test]
    fn generation_is_deterministic_and_varies_with_seed() {
        let a = consistent(Format::F2019, 2019, "甲", 1);
        assert_eq!(a, consistent(Format::F2019, 2019, "甲", 1));
        assert_ne!(a.values, consistent(Format::F2019, 2019, "甲", 2).values);
    }

    #[test]
    fn money_and_signed_forms() {
        assert_eq!(parse_printed("251000元"), Some(251000.0));
        assert_eq!(parse_printed("75394432.52元"), Some(75394432.52));
        assert_eq!(parse_printed("31.2万元"), Some(312000.0));
        assert_eq!(parse_printed("+2"), Some(2.0));
        assert_eq!(parse_printed("-18"), Some(-18.0));
        assert_eq!(parse_printed("24252.311082"), Some(24252.311082));
        let saw_yuan = (0..50).any(|s| {
            consistent(Format::F2019, 2019, "x", s)
                .value("active.procurement.amount_yuan")
                .is_some_and(|t| t.ends_with('元'))
        });
        assert!(saw_yuan);
    }

    fn all_labels(fmt: Format) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for m in crate::metrics::for_format(fmt) {
            for part in m.row_zh.split('/') {
                labels.push(part.to_string());
            }
            if m.table != "二" {
                for part in m.column_zh.split('/') {
                    labels.push(part.to_string());
                }
            }
        }
        labels.sort();
        labels.dedup();
        labels
    }

    #[test]
    fn page_contains_all_labels_and_values() {
        for fmt in [Format::F2019, Format::F2021] {
            let r = consistent(fmt, 2020, "南关区民政局", 3);
            for split in [false, true] {
                let style = HtmlStyle {
                    split_table_three: split,
                    metadata_table: true,
                    layout_tables: true,
                    ..HtmlStyle::default()
                };
                let page = render_html(&r, &style);
                for l in all_labels(fmt) {
                    assert!(page.contains(&escape(&l)), "missing label {l}");
                }
                let cols: &[&str] = if fmt == Format::F2021 {
                    &[
                        "本年制发件数",
                        "本年收费金额（单位：万元）",
                        "本年处理决定数量",
                    ]
                } else {
                    &[
                        "本年新制作数量",
                        "上一年项目数量",
                        "采购总金额",
                        "本年增/减",
                    ]
                };
                for c in cols {
                    assert!(page.contains(c), "missing column {c}");
                }
                assert!(page.contains("<title>2020年南关区民政局政府信息公开工作年度报告</title>"));
                assert!(page.contains(
                    "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
                ));
                let blocks = page.matches("三、本年度办理结果").count();
                assert_eq!(blocks, if split { 2 } else { 1 });
                assert!(page.contains("发文日期") == style.metadata_table);
            }
        }
    }

    #[test]
    fn table_three_rowspans_match_row_counts() {
        let rows = table_three_rows(Format::F2021, None);
        assert_eq!(rows.len(), 25);
        let heading = &rows[2].labels[0];
        assert_eq!(heading.0, "三、本年度办理结果");
        assert_eq!(heading.1, 22);
        let rows = table_three_rows(Format::F2019, Some(10));
        let spans: Vec<u32> = rows
            .iter()
            .flat_map(|r| r.labels.iter())
            .filter(|l| l.0 == "三、本年度办理结果")
            .map(|l| l.1)
            .collect();
        assert_eq!(spans, vec![10, 10]);
    }

    #[test]
    fn word_spans_split_labels_and_padding_reaches_size() {
        let r = consistent(Format::F2019, 2019, "某局", 9);
        let style = HtmlStyle {
            word_spans: true,
            pad_to_bytes: 100_000,
            ..HtmlStyle::default()
        };
        let page = render_html(&r, &style);
        assert!(page.len() >= 100_000);
        assert!(page.len() < 110_000);
        assert!(!page.contains(">三、本年度办理结果<"));
        assert!(page.contains("<o:p></o:p>"));
        assert!(page.ends_with("</html>\n"));
    }

    #[test]
    fn legacy_page_has_no_template_tables() {
        let page = render_legacy("2016年某局政府信息公开工作年度报告", 2016, "某局", 4);
        assert!(page.contains("<title>2016年某局政府信息公开工作年度报告</title>"));
        assert!(!page.contains("第二十条"));
        assert!(!page.contains("本列数据的勾稽关系"));
    }

    #[test]
    fn stub_and_image_pages() {
        let stub = render_attachment_stub("某局2020年报", 2020, "某局", "./P020210130.pdf");
        assert!(stub.len() < 600, "{}", stub.len());
        assert!(stub.contains("href=\"./P020210130.pdf\""));
        let img = render_image_only(
            "某局2020年政府信息公开工作年度报告",
            2020,
            "某局",
            &["a.png", "b.png"],
        );
        assert!(img.contains("年度报告（图片版）</title>"));
        assert_eq!(img.matches("<img ").count(), 2);
    }
}
