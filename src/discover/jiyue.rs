//! 集约化 shared platforms (family E, modelled on Anhui): one platform serves many agencies,
//! each an `organId`.
//!
//! * The agency navigation page (机构导航) and column pages link columns
//!   `/public/column/{organId}?type=4&catId={cat}&action=list&nav=3`. A column link is followed
//!   (as a sub-column) only when its text names annual reports (政府信息公开年报): category ids
//!   differ between platforms, names do not. Column links are never reports, even though their
//!   text contains 信息公开 and 年报.
//! * A column page renders its first page (`ul.doc_list li a[title] + span.date`, found by the
//!   ordinary anchor rules) and names the AJAX label URL of the others in a script
//!   (`pageUrl = '/site/label/8888?…&pageIndex='`) next to `共N页`: page 2 is proposed when
//!   there are at least two pages.
//! * A label page (`/site/label/…&pageIndex=N`) is an HTML fragment; page N+1 is proposed while
//!   page N was full (`pageSize` items, or any item when the URL carries no `pageSize`).
//!   `暂无相关信息` (nothing) ends the column.

use std::sync::LazyLock;

use regex::Regex;
use scraper::ElementRef;
use url::Url;

use super::gkmlpt::{query_value, with_query_value};
use super::{
    ANCHOR, Discovery, ListingKind, Seen, anchor_title, anchor_url, normalize_space, push_listing,
    resolve,
};

re!(
    PAGE_URL,
    r#"(?:pageUrl|url)\s*[:=]\s*['"]([^'"]*/site/label/[^'"]*)['"]"#
);
re!(
    TOTAL_PAGES,
    r#"共\s*(\d+)\s*页|data-total\s*=\s*["']?(\d+)"#
);

/// Words in a column link that name the annual-report column.
const REPORT_COLUMN_WORDS: &[&str] = &["年报", "年度报告"];
/// Label pages are not followed past this index.
const MAX_PAGE: u32 = 10_000;

/// Whether a URL is an agency column (`/public/column/{organId}`).
pub(super) fn is_column_url(url: &Url) -> bool {
    url.path().contains("/public/column/")
}

/// Whether a URL is an AJAX label page (`/site/label/{id}`).
pub(super) fn is_label_url(url: &Url) -> bool {
    url.path().contains("/site/label/")
}

/// Classifies a column link; `false` when the anchor is not one (the ordinary rules apply).
pub(super) fn classify_anchor(
    base: &Url,
    a: ElementRef,
    out: &mut Discovery,
    seen: &mut Seen,
) -> bool {
    let Some(url) = anchor_url(base, a) else {
        return false;
    };
    if !is_column_url(&url) {
        return false;
    }
    let (title, _) = anchor_title(a);
    let text = normalize_space(&a.text().collect::<String>());
    let names_reports = [title, text]
        .iter()
        .any(|t| REPORT_COLUMN_WORDS.iter().any(|w| t.contains(w)));
    if names_reports {
        push_listing(out, seen, url, ListingKind::SubColumn);
    }
    true
}

/// The next label page of a column page or label page.
pub(super) fn next_page(
    page_url: &Url,
    base: &Url,
    html: &str,
    doc: &scraper::Html,
) -> Option<Url> {
    if is_label_url(page_url) {
        let index = query_value(page_url, "pageIndex")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(1);
        let items = doc
            .select(&ANCHOR)
            .filter(|a| anchor_url(base, *a).is_some())
            .count();
        let full = match query_value(page_url, "pageSize").and_then(|v| v.trim().parse().ok()) {
            Some(size) => items >= size && size > 0,
            None => items > 0,
        };
        if !full || index >= MAX_PAGE {
            return None;
        }
        return with_query_value(page_url, "pageIndex", &(index + 1).to_string());
    }
    let label = PAGE_URL
        .captures(html)
        .and_then(|c| resolve(base, &c[1].replace("&amp;", "&")))?;
    let total = TOTAL_PAGES.captures(html).and_then(|c| {
        c.get(1)
            .or(c.get(2))
            .and_then(|m| m.as_str().parse::<u32>().ok())
    });
    if total.is_some_and(|t| t < 2) {
        return None;
    }
    with_query_value(&label, "pageIndex", "2")
}
