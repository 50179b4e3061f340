//! Cell text normalisation and cell-value reading.
//!
//! Two forms of every text: the *display* form kept as `raw` (whitespace collapsed, otherwise as
//! printed) and the *key* form used for matching labels (NFKC, no whitespace, unified numbering
//! and quotes). Matching is always by key words on the key form, never by exact strings.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::model::CellState;

/// Collapses every run of whitespace (including `&nbsp;` U+00A0 and the ideographic space
/// U+3000) to one ASCII space and trims the ends.
pub fn display(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Whole runs between spaces are copied at once: the HTML front end passes every text of
    // a page through here, and pushing it character by character was a visible cost.
    for word in s.split(is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_space(ch: char) -> bool {
    ch.is_whitespace() || matches!(ch, '\u{a0}' | '\u{3000}' | '\u{200b}' | '\u{feff}')
}

/// NFKC of `s`, borrowed when the quick check proves `s` already normalised (almost every
/// cell: ASCII, CJK ideographs and common punctuation), which skips decomposing and
/// recomposing it.
pub fn nfkc(s: &str) -> Cow<'_, str> {
    if is_plainly_nfkc(s) {
        return Cow::Borrowed(s);
    }
    if let Some(narrowed) = narrow_full_width(s) {
        return Cow::Owned(narrowed);
    }
    if is_nfkc_quick(s.chars()) == IsNormalized::Yes {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfkc().collect())
    }
}

/// True when every character is one that NFKC leaves alone whatever surrounds it (ASCII, the
/// CJK Unified Ideographs block, common CJK punctuation and quotes: no decomposition,
/// combining class 0, never the second of a composition pair). Nearly every value cell and
/// most label text passes, and this costs a comparison per character where `is_nfkc_quick`
/// pays a table search; a test checks every such character against the library.
fn is_plainly_nfkc(s: &str) -> bool {
    s.is_ascii() || s.chars().all(is_plain_nfkc_char)
}

fn is_plain_nfkc_char(c: char) -> bool {
    c.is_ascii()
        || ('\u{4e00}'..='\u{9fff}').contains(&c)
        || matches!(
            c,
            '、' | '。' | '《' | '》' | '「' | '」' | '“' | '”' | '‘' | '’' | '—'
        )
}

/// NFKC of text that is plain (see [`is_plain_nfkc_char`]) except for full-width ASCII forms
/// (`（一）`, `1．`, `：`) and the ideographic space, whose NFKC is simply their ASCII
/// counterpart: the template's labels are all like this, and the general algorithm
/// (decompose, reorder, recompose) costs far more. `None` for any other text.
fn narrow_full_width(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        out.push(narrow_char(c)?);
    }
    Some(out)
}

/// NFKC of one character of the fast set, `None` outside it.
fn narrow_char(c: char) -> Option<char> {
    match c {
        _ if is_plain_nfkc_char(c) => Some(c),
        // U+FF01..=U+FF5E are `<wide>` forms of U+0021..=U+007E, at a fixed offset.
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(u32::from(c) - 0xfee0),
        '\u{3000}' => Some(' '),
        _ => None,
    }
}

/// The matching form of a label: NFKC (full-width to half-width), no whitespace at all (PDF text
/// breaks header words with spaces), numbering `1、` / `1．` / `1.` unified to `1.`, quotes removed.
pub fn key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Almost every label is in the fast set of `narrow_char`, whose NFKC goes character by
    // character: no intermediate normalised copy. Anything else takes the full `nfkc`.
    let fast = s
        .chars()
        .all(|c| narrow_char(c).map(|n| push_key_char(&mut out, n)).is_some());
    if !fast {
        out.clear();
        for ch in nfkc(s).chars() {
            push_key_char(&mut out, ch);
        }
    }
    out
}

/// Appends one NFKC character of a label to its key (see [`key`]).
fn push_key_char(out: &mut String, ch: char) {
    if is_space(ch) {
        return;
    }
    match ch {
        '、' | '．' | '。' if out.ends_with(|c: char| c.is_ascii_digit()) => out.push('.'),
        '“' | '”' | '‘' | '’' | '"' | '\'' | '「' | '」' | '《' | '》' => {}
        _ => out.push(ch),
    }
}

/// An exact decimal, so that `31.2万元` becomes exactly 312000 yuan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// Value × 10^scale.
    pub mantissa: i128,
    pub scale: u32,
}

impl Decimal {
    /// Multiplies by 10^exp (negative `exp` divides), exactly.
    pub fn shift(self, exp: i32) -> Decimal {
        if exp >= 0 {
            let mut m = self.mantissa;
            let mut scale = self.scale;
            for _ in 0..exp {
                if scale > 0 {
                    scale -= 1;
                } else {
                    m = m.saturating_mul(10);
                }
            }
            Decimal { mantissa: m, scale }
        } else {
            Decimal {
                mantissa: self.mantissa,
                scale: self.scale + exp.unsigned_abs(),
            }
        }
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        if self.scale == 0 {
            return self.mantissa as f64;
        }
        // Going through the decimal string gives the correctly rounded double.
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        let sign = if self.mantissa < 0 { "-" } else { "" };
        format!("{sign}{int}.{frac}").parse().unwrap_or(f64::NAN)
    }
}

/// Unit written in a cell after its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellUnit {
    None,
    Yuan,
    WanYuan,
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellValue {
    pub state: CellState,
    pub number: Option<Decimal>,
    pub unit: CellUnit,
}

/// Reads a cell: a number (with optional sign, thousands separators, decimals, unit and a
/// parenthesised annotation), `empty`, `na`, or `text`.
pub fn read_cell(raw: &str) -> CellValue {
    let plain = |state| CellValue {
        state,
        number: None,
        unit: CellUnit::None,
    };
    // Labels are most cells of a table: decide them from the first character, before paying
    // for NFKC over the whole text.
    if let Some(first) = raw.chars().find(|c| !is_space(*c))
        && !may_start_value(first)
    {
        return plain(CellState::Text);
    }
    let text = without_spaces(nfkc(raw));
    if text.is_empty() {
        return plain(CellState::Empty);
    }
    if is_na(&text) {
        return plain(CellState::Na);
    }
    match leading_number(&text).filter(|(_, rest)| is_number_tail(rest)) {
        Some((number, rest)) => CellValue {
            state: CellState::Number,
            number: Some(number),
            unit: unit_of(rest),
        },
        None => plain(CellState::Text),
    }
}

/// `s` without its whitespace, copied only when it has some (most value cells have none).
fn without_spaces(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.chars().any(is_space) {
        Cow::Owned(s.chars().filter(|c| !is_space(*c)).collect())
    } else {
        s
    }
}

/// Characters a number or a not-applicable mark can start with, before NFKC.
fn may_start_value(c: char) -> bool {
    c.is_ascii_digit()
        || ('０'..='９').contains(&c)
        || matches!(
            c,
            '+' | '-'
                | '.'
                | '/'
                | '\\'
                | '_'
                | '*'
                | '×'
                | 'N'
                | 'n'
                | '＋'
                | '－'
                | '／'
                | '＼'
                | '—'
                | '–'
                | '―'
                | '─'
                | '━'
                | '一'
                | '无'
                | '暂'
                | '不'
                | '＿'
                | '＊'
        )
}

fn is_na(text: &str) -> bool {
    text.chars().all(|c| {
        matches!(
            c,
            '/' | '\\' | '-' | '—' | '–' | '―' | '─' | '━' | '一' | '_' | '×' | '*'
        )
    }) || matches!(text, "无" | "暂无" | "不适用" | "N/A" | "n/a" | "NA")
}

/// Parses `[+-]digits[,digits][.digits]` at the start of `text`; returns it and the rest.
fn leading_number(text: &str) -> Option<(Decimal, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let start = i;
    let mut mantissa: i128 = 0;
    let mut scale = 0u32;
    let mut seen_dot = false;
    let mut digits = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
            digits += 1;
            if seen_dot {
                scale += 1;
            }
        } else if b == b',' && !seen_dot && digits > 0 && next_is_digit(bytes, i) {
            // thousands separator
        } else if b == b'.' && !seen_dot && digits > 0 && next_is_digit(bytes, i) {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 || i == start {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Some((Decimal { mantissa, scale }, &text[i..]))
}

/// What may follow a number in a value cell: nothing, a unit, or a parenthesised note.
/// Anything else (`1.属于国家秘密`, `2020年…`) makes the cell a label, not a number.
fn is_number_tail(rest: &str) -> bool {
    rest.is_empty()
        || rest.starts_with('(')
        || [
            "万元", "万", "元", "件", "个", "项", "人", "次", "%", "条", "份",
        ]
        .iter()
        .any(|u| rest.starts_with(u))
}

fn next_is_digit(bytes: &[u8], i: usize) -> bool {
    bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
}

fn unit_of(rest: &str) -> CellUnit {
    if rest.starts_with("万元") || rest.starts_with("万") {
        CellUnit::WanYuan
    } else if rest.starts_with('元') {
        CellUnit::Yuan
    } else {
        CellUnit::None
    }
}

/// True for a cell that could sit in a value column: a number, blank or not-applicable mark.
pub fn is_value_like(raw: &str) -> bool {
    read_cell(raw).state != CellState::Text
}

/// A run of digits so long that it must be several cells glued together (`15130000154`).
pub fn looks_glued(raw: &str, expected_cells: usize) -> bool {
    if expected_cells <= 1 {
        return false;
    }
    // All-ASCII-digit text has as many bytes as characters, so counting digits is the length.
    let mut digits = 0usize;
    for c in nfkc(raw).chars().filter(|c| !is_space(*c)) {
        if !c.is_ascii_digit() {
            return false;
        }
        digits += 1;
    }
    digits >= expected_cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(raw: &str) -> Option<f64> {
        read_cell(raw).number.map(Decimal::to_f64)
    }

    #[test]
    fn display_collapses_all_spaces() {
        assert_eq!(display(""), "");
        assert_eq!(display(" \u{3000}\n"), "");
        assert_eq!(display("a"), "a");
        assert_eq!(display("\u{200b}a\u{feff}\u{feff}b "), "a b");
        assert_eq!(
            display("\u{a0} 本年新\n制作\u{3000}数量 "),
            "本年新 制作 数量"
        );
    }

    #[test]
    fn key_unifies_width_numbering_and_quotes() {
        assert_eq!(key("（一）予以公开"), "(一)予以公开");
        assert_eq!(key("3、危及“三安全一稳定”"), "3.危及三安全一稳定");
        assert_eq!(key("1．属于 国家秘密"), "1.属于国家秘密");
        assert_eq!(key("商 业 企 业"), "商业企业");
    }

    #[test]
    fn numbers_in_their_many_forms() {
        assert_eq!(num("12"), Some(12.0));
        assert_eq!(num("１２"), Some(12.0));
        assert_eq!(num("1,234"), Some(1234.0));
        assert_eq!(num("+2"), Some(2.0));
        assert_eq!(num("-18"), Some(-18.0));
        assert_eq!(num("251000元"), Some(251000.0));
        assert_eq!(num("24252.311082"), Some(24252.311082));
        assert_eq!(num("22（其中修订 16 件）"), Some(22.0));
        assert_eq!(read_cell("31.2万元").unit, CellUnit::WanYuan);
        assert_eq!(read_cell("251000元").unit, CellUnit::Yuan);
    }

    #[test]
    fn states() {
        assert_eq!(read_cell("").state, CellState::Empty);
        assert_eq!(read_cell("\u{a0}").state, CellState::Empty);
        for na in ["/", "—", "——", "-", "无", "／"] {
            assert_eq!(read_cell(na).state, CellState::Na, "{na}");
        }
        assert_eq!(read_cell("见附件").state, CellState::Text);
        assert_eq!(read_cell("0").state, CellState::Number);
        assert_eq!(read_cell("1.属于国家秘密").state, CellState::Text);
        assert_eq!(read_cell("2020年本行政区域").state, CellState::Text);
    }

    #[test]
    fn decimal_shift_is_exact() {
        let d = read_cell("31.2万元").number.unwrap();
        assert_eq!(d.shift(4).to_f64(), 312000.0);
        let d = read_cell("75394432.52").number.unwrap();
        assert_eq!(d.to_f64(), 75394432.52);
        let d = read_cell("251000").number.unwrap();
        assert_eq!(d.shift(-4).to_f64(), 25.1);
    }

    /// The fast paths of [`nfkc`] agree with the library on every character they accept, alone
    /// and between other characters of the fast set (composition looks at neighbours).
    #[test]
    fn fast_nfkc_agrees_with_the_library() {
        let fast: Vec<char> = ('\0'..='\u{ffff}')
            .filter(|c| narrow_char(*c).is_some())
            .collect();
        assert!(fast.len() > 20_000 + 128 + 94);
        for &c in &fast {
            for text in [format!("{c}"), format!("中{c}1"), format!("e{c}（")] {
                let slow: String = text.nfkc().collect();
                assert_eq!(nfkc(&text), slow, "{c:?}");
            }
            if is_plain_nfkc_char(c) {
                assert_eq!(
                    is_nfkc_quick(std::iter::once(c)),
                    IsNormalized::Yes,
                    "{c:?}"
                );
            }
        }
        assert!(!is_plainly_nfkc("（一）"));
        assert_eq!(nfkc("（一）予以公开"), "(一)予以公开");
        // Outside the fast set: the library decides.
        assert_eq!(nfkc("e\u{301}"), "é");
        assert_eq!(nfkc("㈠"), "(一)");
    }

    #[test]
    fn glued_digits() {
        assert!(looks_glued("15130000154", 7));
        assert!(!looks_glued("151", 7));
        assert!(!looks_glued("12", 1));
    }
}
