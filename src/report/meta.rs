//! Title, agency, report year and publication date of a report document.
//!
//! The year comes from the strongest source available, recorded in [`YearSource`]: the title or
//! page heading, a `<meta>` title, the metadata table, the body's statistics period, and last
//! the publication date minus one year.

use std::sync::OnceLock;

use regex::Regex;

use super::grid::Table;
use super::normalize::{self, display, key};
use crate::model::YearSource;

/// What the document says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub title: Option<String>,
    pub agency: Option<String>,
    pub year: Option<i32>,
    pub year_source: YearSource,
    /// `YYYY-MM-DD`.
    pub published: Option<String>,
}

/// The parts of a document the metadata is read from.
pub struct DocView<'a> {
    pub html_title: Option<&'a str>,
    pub meta_tags: &'a [(String, String)],
    pub text: &'a str,
    pub tables: &'a [Table],
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).unwrap_or_else(|e| panic!("bad regex {pattern}: {e}")))
}

fn year_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"((?:19|20)\d{2})\s*年")
}

fn date_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})",
    )
}

fn labelled_date_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"(?:发布日期|发布时间|发文日期|成文日期|公开日期|发稿时间)\s*[:：]?\s*((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})",
    )
}

fn period_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"((?:19|20)\d{2})\s*年\s*(?:1|01)\s*月\s*(?:1|01)\s*日")
}

/// How far into the body the year and date searches look: the facts are always near the top,
/// and the cap keeps a 1 MB page from costing 1 MB of regex time.
const BODY_SCAN: usize = 16 * 1024;

/// Reads the metadata.
pub fn extract(doc: &DocView) -> Meta {
    let body = head_of(doc.text, BODY_SCAN);
    // NFKC once, and only when a fallback needs the body: full-width digits in dates and
    // years become ASCII for the regexes.
    let body_nfkc = std::cell::OnceCell::new();
    let body_nfkc = || body_nfkc.get_or_init(|| normalize::nfkc(body).into_owned());
    let heading = heading_line(body);
    let page_title = doc.html_title.map(strip_site_suffix);
    let meta_title = meta_value(doc.meta_tags, &["articletitle", "title"]);
    let table_meta = metadata_table(doc.tables);

    let title = heading
        .clone()
        .or_else(|| meta_title.clone())
        .or_else(|| table_meta.title.clone())
        .or_else(|| page_title.clone().filter(|t| is_report_title(t)))
        .or(page_title.clone());

    let published = meta_value(
        doc.meta_tags,
        &["pubdate", "publishdate", "firstpublishedtime"],
    )
    .and_then(|d| date_of(&d))
    .or_else(|| table_meta.published.clone())
    .or_else(|| labelled_date(body_nfkc()));

    let (year, year_source) = [
        (heading.as_deref(), YearSource::Title),
        (page_title.as_deref(), YearSource::Title),
        (meta_title.as_deref(), YearSource::Meta),
        (table_meta.title.as_deref(), YearSource::MetadataTable),
    ]
    .into_iter()
    .find_map(|(t, src)| {
        t.filter(|t| is_report_title(t))
            .and_then(year_in)
            .map(|y| (y, src))
    })
    .or_else(|| statistics_period(body_nfkc()).map(|y| (y, YearSource::Body)))
    .or_else(|| {
        let y: i32 = published.as_deref()?.get(..4)?.parse().ok()?;
        Some((y - 1, YearSource::PublicationDate))
    })
    .map_or((None, YearSource::None), |(y, s)| (Some(y), s));

    let agency = [
        heading.as_deref(),
        meta_title.as_deref(),
        table_meta.title.as_deref(),
    ]
    .into_iter()
    .chain([page_title.as_deref()])
    .flatten()
    .filter(|t| is_report_title(t))
    .find_map(agency_from_title)
    .or_else(|| meta_value(doc.meta_tags, &["contentsource", "author"]))
    .or(table_meta.publisher);

    Meta {
        title,
        agency,
        year,
        year_source,
        published,
    }
}

fn head_of(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn is_report_title(t: &str) -> bool {
    t.contains("年度报告") || t.contains("年报") || t.contains("工作报告")
}

/// The first short line that reads like a report title.
fn heading_line(text: &str) -> Option<String> {
    text.lines()
        // Table cells (tab-separated in the page text) are the metadata table, not a heading.
        .filter(|l| !l.trim().contains('\t'))
        .map(display)
        .filter(|l| !l.is_empty() && l.chars().count() <= 80)
        .take(200)
        .find(|l| {
            is_report_title(l)
                && (l.contains("信息公开") || l.contains("政务公开"))
                && (year_re().is_match(l) || l.contains("年度报告"))
                // A breadcrumb (`首页 > 政府信息公开年报`) names the column, not the report.
                && !l.contains(['>', '＞', '»'])
        })
}

/// `2020年…报告_某某区人民政府` → `2020年…报告`.
fn strip_site_suffix(t: &str) -> String {
    let t = display(t);
    for sep in ["_", " - ", "-", "|", "｜", "——"] {
        if let Some((head, _)) = t.split_once(sep)
            && is_report_title(head)
        {
            return head.trim().to_string();
        }
    }
    t
}

fn meta_value(tags: &[(String, String)], names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        tags.iter()
            .find(|(k, v)| k == n && !v.is_empty())
            .map(|(_, v)| v.clone())
    })
}

fn year_in(t: &str) -> Option<i32> {
    let t = normalize::nfkc(t);
    year_re()
        .captures(&t)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

/// `body` must be NFKC-normalised.
fn statistics_period(body: &str) -> Option<i32> {
    period_re()
        .captures(body)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
}

fn date_of(s: &str) -> Option<String> {
    let t = normalize::nfkc(s);
    let c = date_re().captures(&t)?;
    format_date(&c[1], &c[2], &c[3])
}

/// `body` must be NFKC-normalised.
fn labelled_date(body: &str) -> Option<String> {
    let c = labelled_date_re().captures(body)?;
    format_date(&c[1], &c[2], &c[3])
}

fn format_date(y: &str, m: &str, d: &str) -> Option<String> {
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| format!("{y}-{m:02}-{d:02}"))
}

/// `2020年南关区民政局政府信息公开工作年度报告` → `南关区民政局`.
fn agency_from_title(title: &str) -> Option<String> {
    let t: String = display(title).replace(' ', "");
    let without_year = match year_re().find(&t) {
        Some(m) => {
            let rest = &t[m.end()..];
            let rest = rest.strip_prefix('度').unwrap_or(rest);
            format!("{}{}", &t[..m.start()], rest)
        }
        None => t.clone(),
    };
    let cut = [
        "政府信息公开",
        "政务公开",
        "信息公开",
        "年度报告",
        "年报",
        "工作报告",
    ]
    .iter()
    .filter_map(|m| without_year.find(m))
    .min()?;
    let mut name = without_year[..cut].trim();
    for prefix in ["关于", "《"] {
        name = name.strip_prefix(prefix).unwrap_or(name);
    }
    for suffix in ["关于", "的", "年", "度"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    let name = name.trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    (!name.is_empty() && name.chars().count() <= 40).then(|| name.to_string())
}

#[derive(Default)]
struct TableMeta {
    title: Option<String>,
    publisher: Option<String>,
    published: Option<String>,
}

/// False for a cell whose key cannot be a metadata label: every label starts with an
/// ideograph, and a key starts with ASCII (or a Latin letter composed from it) when the cell's
/// first character other than spaces and quotes is ASCII, as number cells are. Saves the NFKC
/// of every value cell of the report tables.
fn may_be_label(cell: &str) -> bool {
    cell.chars()
        .find(|&c| {
            !(c.is_whitespace()
                || matches!(
                    c,
                    '\u{a0}'
                        | '\u{3000}'
                        | '\u{200b}'
                        | '\u{feff}'
                        | '“'
                        | '”'
                        | '‘'
                        | '’'
                        | '"'
                        | '\''
                        | '「'
                        | '」'
                        | '《'
                        | '》'
                ))
        })
        .is_some_and(|c| !c.is_ascii())
}

/// The metadata table (索引号 / 发布机构 / 发文日期 / 名称): label cells followed by values.
fn metadata_table(tables: &[Table]) -> TableMeta {
    let mut out = TableMeta::default();
    for table in tables.iter().take(20) {
        for row in &table.rows {
            for pair in row.cells.windows(2) {
                let value = pair[1].text.trim();
                if value.is_empty() || !may_be_label(&pair[0].text) {
                    continue;
                }
                let label = key(&pair[0].text);
                let label = label.trim_end_matches([':', '：']);
                if label.chars().count() > 8 {
                    continue;
                }
                match label {
                    "发布机构" | "发文机关" | "发布单位" | "发文单位" | "公开主体" =>
                    {
                        out.publisher.get_or_insert_with(|| value.to_string());
                    }
                    "发文日期" | "发布日期" | "成文日期" | "公开日期"
                        if out.published.is_none() =>
                    {
                        out.published = date_of(value);
                    }
                    "名称" | "标题" | "文件名称" | "信息名称" => {
                        out.title.get_or_insert_with(|| value.to_string());
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agency_from_titles() {
        let cases = [
            ("2020年南关区民政局政府信息公开工作年度报告", "南关区民政局"),
            (
                "平潭综合实验区2019年度政府信息公开工作年度报告",
                "平潭综合实验区",
            ),
            (
                "淮安市人民政府2024年政府信息公开工作年度报告",
                "淮安市人民政府",
            ),
            ("XX县交通运输局2023年政府信息公开年度报告", "XX县交通运输局"),
            ("宿迁高新区年政府信息公开工作年度报告", "宿迁高新区"),
        ];
        for (title, agency) in cases {
            assert_eq!(agency_from_title(title).as_deref(), Some(agency), "{title}");
        }
    }

    #[test]
    fn year_sources_in_order() {
        let doc = |text: &'static str| DocView {
            html_title: None,
            meta_tags: &[],
            text,
            tables: &[],
        };
        let m = extract(&doc("2020年南关区民政局政府信息公开工作年度报告\n正文"));
        assert_eq!((m.year, m.year_source), (Some(2020), YearSource::Title));
        let m = extract(&doc(
            "宿迁高新区年政府信息公开工作年度报告\n本报告数据统计期限为2020年1月1日至2020年12月31日。",
        ));
        assert_eq!((m.year, m.year_source), (Some(2020), YearSource::Body));
        let m = extract(&doc(
            "宿迁高新区年政府信息公开工作年度报告\n发布日期：2021-01-28",
        ));
        assert_eq!(
            (m.year, m.year_source),
            (Some(2020), YearSource::PublicationDate)
        );
        assert_eq!(m.published.as_deref(), Some("2021-01-28"));
    }
}
