//! Finding report links and the next listing pages in a portal's listing page.
//!
//! Pure: a page's URL and decoded text in, a [`Discovery`] out. No I/O, so every CMS dialect in
//! `spec/portals.md` is unit-tested on static HTML (or JSON) strings.
//!
//! # What counts as a report link
//!
//! A link is a *report* when its title (the `title` attribute when present, which holds the full
//! text of truncated anchors, else the anchor text with any date removed) names an annual
//! report — it contains 年度报告, 年报 or 工作报告 — *and* names disclosure — it contains 信息公开,
//! 政务公开 or 公开年报 — *and* its URL does not look like a listing page (a directory, `index*`,
//! `list*`, `home_N`, `col/colN/`). Links whose URL looks like a listing but whose text names
//! a report column, a year (`2023年`, `2023年度`) or a level (部门, 街镇, 本级…) are
//! *sub-columns*. Links to pdf/doc/docx/wps/xls/xlsx/ofd files are *attachments*, unless their
//! title names a report, in which case they are reports served as files.
//!
//! # Families with their own listing machinery
//!
//! * **gkmlpt** (Guangdong, family D; `gkmlpt` module). The SPA shell (`/gkmlpt/index`) has no
//!   links: the categories of `window._CONFIG.TREE` whose name contains 年报 or 年度报告, and
//!   all their descendants, are proposed as sub-columns
//!   `{prefix}/gkmlpt/api/all/{id}?page=1&sid={SID}` (empty categories skipped; a tree naming
//!   no such category proposes nothing rather than every category). An API page (JSON,
//!   parsed with serde_json) gives every article's `url`/`post_url` as a report (unless its
//!   title names no report: a notice) and its `attachment` files, and proposes `page=N+1`
//!   while the page had articles and `N × articles < post_count`. Malformed JSON or an HTML
//!   error page gives an empty stub.
//! * **集约化** (Anhui-like, family E; `jiyue` module). Links to `/public/column/{organId}` are
//!   columns, never reports: followed as sub-columns when their text names 年报/年度报告. A
//!   column page's articles follow the ordinary rules; its `pageUrl = '/site/label/…'` script
//!   gives page 2 (`pageIndex=2`) when `共N页` says there are more, and a label page gives the
//!   next while it was full (`pageSize` items).
//!
//! # Pagination
//!
//! Only the *next* pages are returned, so a crawler that stops following a column when a page
//! brings no new URL terminates on sticky pagers and stub pages. For TRS `createPageHTML`
//! both numbering conventions are covered by proposing `index_1` and `index_2` from page 1
//! (one of them is wasted: a 404 or a stub).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

/// The CMS family of a portal, as hinted by the seed or detected from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// TRS WCM static sites (`createPageHTML`, `index_N.html`).
    Trs,
    /// Hanweb JCMS (`<datastore>`, `dataproxy.jsp`).
    Hanweb,
    /// gov.cn / 开普云 (`home_N.htm`).
    Govcn,
    /// Guangdong gkmlpt: the SPA shell's `_CONFIG.TREE` gives the annual-report categories,
    /// whose JSON listing API pages give the reports (see the module docs).
    Gkmlpt,
    /// 集约化 shared platforms (Anhui-like): the agency navigation gives the organs'
    /// annual-report columns, whose first page and AJAX label pages give the reports.
    Jiyue,
    /// Unknown: detect from the page.
    #[default]
    Auto,
}

impl Family {
    /// Parses the seed-file name (`trs`, `hanweb`, `govcn`, `gkmlpt`, `jiyue`, `auto`).
    pub fn from_name(name: &str) -> Option<Family> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "trs" => Family::Trs,
            "hanweb" => Family::Hanweb,
            "govcn" => Family::Govcn,
            "gkmlpt" => Family::Gkmlpt,
            "jiyue" => Family::Jiyue,
            "auto" | "" => Family::Auto,
            _ => return None,
        })
    }

    /// The seed-file name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Trs => "trs",
            Family::Hanweb => "hanweb",
            Family::Govcn => "govcn",
            Family::Gkmlpt => "gkmlpt",
            Family::Jiyue => "jiyue",
            Family::Auto => "auto",
        }
    }
}

/// A link found in a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Absolute, canonical URL (see [`canonical`]).
    pub url: Url,
    /// Full title: the `title` attribute when present, else the anchor text without its date.
    pub title: String,
    /// `YYYY-MM-DD` when the item shows a date.
    pub date: Option<String>,
}

/// Why a listing page was proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingKind {
    /// The next page of the same column.
    NextPage,
    /// A year, level or department sub-column.
    SubColumn,
    /// The target of a JS-redirect shell or a meta refresh.
    Redirect,
}

/// A listing page to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub url: Url,
    pub kind: ListingKind,
}

/// A POST a listing needs (Hanweb `dataproxy.jsp` paging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRequest {
    pub url: Url,
    /// Form fields in order.
    pub form: Vec<(String, String)>,
    /// The column page that issued it (sent as `Referer`).
    pub referer: Url,
}

impl PostRequest {
    /// The form as `application/x-www-form-urlencoded` text.
    pub fn body(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.form.iter())
            .finish()
    }
}

/// Everything found in one listing page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub reports: Vec<Link>,
    pub listings: Vec<Listing>,
    pub attachments: Vec<Link>,
    pub posts: Vec<PostRequest>,
    /// The page carries nothing: a deep-pagination stub or an empty proxy answer.
    pub stub: bool,
    /// The family the page looks like (the hint when it says one).
    pub family: Family,
}

/// What a report page links to besides its own content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportLinks {
    /// pdf, doc, docx, wps, xls, xlsx, ofd files.
    pub attachments: Vec<Link>,
    /// Further parts of a multi-page TRS article (`t…_1.html`, `t…_2.html`).
    pub continuations: Vec<Url>,
}

/// File extensions archived as attachments.
pub const ATTACHMENT_EXTENSIONS: &[&str] = &["pdf", "doc", "docx", "wps", "xls", "xlsx", "ofd"];

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> =
            LazyLock::new(|| Regex::new($pat).unwrap_or_else(|e| panic!("bad regex: {e}")));
    };
}

macro_rules! sel {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Selector> = LazyLock::new(|| {
            Selector::parse($pat).unwrap_or_else(|e| panic!("bad selector: {e:?}"))
        });
    };
}

mod gkmlpt;
mod jiyue;

re!(
    DATE,
    r"(\d{4})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*日?"
);
re!(CREATE_PAGE, r"createPage(?:HTML)?\s*\(([^)]*)\)");
re!(COUNT_PAGE, r"(?:var\s+)?countPage\s*=\s*(\d+)");
re!(TOTAL_PAGES_TEXT, r"共\s*(\d+)\s*页");
re!(
    DATASTORE_RECORD,
    r"(?s)<record>\s*<!\[CDATA\[(.*?)\]\]>\s*</record>"
);
re!(
    NEXTGROUP,
    r#"(?s)<nextgroup>\s*<!\[CDATA\[.*?href\s*=\s*["']([^"']+)["'].*?\]\]>"#
);
re!(JPAGE, r"(?s)\.jpage\s*\(\s*\{(.*?)\}\s*\)");
re!(AJAX_PARAM, r"(?s)ajaxParam\s*:\s*\{(.*?)\}");
re!(JS_KV, r#"(\w+)\s*:\s*(?:'([^']*)'|"([^"]*)"|([^,'"\s}]+))"#);
re!(
    JS_REDIRECT,
    r#"(?:location\.replace\s*\(\s*|location(?:\.href)?\s*=\s*)["']([^"']+)["']"#
);
re!(META_REFRESH_URL, r"(?i)url\s*=\s*['\x22]?([^'\x22>]+)");
re!(QUOTED, r#"["']([^"']+)["']"#);
re!(
    LISTING_PATH,
    r"(?i)(?:/|/(?:index|list|default|home)(?:_\d+)?\.(?:s?html?|jsp|aspx?)|/col/col\d+/?(?:index\.html)?|/home_\d+\.htm)$"
);
re!(PAGED_NAME, r"^(.*?)_(\d+)\.(\w+)$");
re!(YEAR_ONLY, r"^(?:19|20)\d{2}\s*年?度?$");
re!(
    LINK_ATTR,
    r#"(?i)\b(?:href|onclick)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))"#
);
re!(BASE_HREF, r#"(?i)<base\s[^>]*href\s*=\s*["']?([^"'\s>]+)"#);
re!(JSESSIONID, r"(?i);jsessionid=[^?#/]*");

sel!(ANCHOR, "a");
sel!(BASE, "base[href]");
sel!(META_REFRESH, "meta[http-equiv]");
sel!(BODY, "body");

/// Words that make a link title an annual report (with a disclosure word, see the module docs).
const REPORT_WORDS: &[&str] = &["年度报告", "年报", "工作报告"];
const DISCLOSURE_WORDS: &[&str] = &["信息公开", "政务公开", "公开年报"];
/// Words that make a listing link a sub-column worth following.
const SUBCOLUMN_WORDS: &[&str] = &[
    "年报",
    "年度报告",
    "年度",
    "部门",
    "街道",
    "乡镇",
    "街镇",
    "镇街",
    "本级",
    "区级",
    "县级",
    "市级",
    "委办局",
];
const NEXT_WORDS: &[&str] = &[
    "下一页",
    "下页",
    "后页",
    "尾页",
    "末页",
    "next",
    ">",
    "›",
    "»",
];
/// Pages with less visible text than this and nothing to follow are stubs.
const STUB_TEXT_CHARS: usize = 200;

/// Whether a link title names a government-disclosure annual report (rule in the module docs).
pub fn is_report_title(title: &str) -> bool {
    let t = normalize_space(title);
    REPORT_WORDS.iter().any(|w| t.contains(w)) && DISCLOSURE_WORDS.iter().any(|w| t.contains(w))
}

/// The canonical form of a URL used for de-duplication: no fragment, no `;jsessionid=`.
pub fn canonical(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    if JSESSIONID.is_match(u.path()) {
        let path = JSESSIONID.replace_all(u.path(), "").into_owned();
        u.set_path(&path);
    }
    u
}

/// Resolves `href` as written in a page against `base` (RFC 3986), after unescaping what
/// templates leave in: surrounding spaces, full-width slashes and dots, `javascript:` wrappers
/// around a quoted URL. `None` for links that lead nowhere (`javascript:void(0)`, `mailto:`).
pub fn resolve(base: &Url, href: &str) -> Option<Url> {
    let href = href
        .trim()
        .replace(['\u{ff0f}'], "/")
        .replace('\u{ff0e}', ".");
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let lower = href.to_ascii_lowercase();
    let target = if lower.starts_with("javascript:") {
        js_quoted_url(&href)?
    } else if lower.starts_with("mailto:")
        || lower.starts_with("tel:")
        || lower.starts_with("data:")
    {
        return None;
    } else {
        href
    };
    let url = base.join(&target).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(canonical(&url))
}

/// The first quoted string in a piece of JS that looks like a URL (`window.open('/x.pdf')`);
/// `goXxgkml('xxgknb')` carries a name, not a URL, and gives `None`.
fn js_quoted_url(js: &str) -> Option<String> {
    QUOTED
        .captures_iter(js)
        .map(|c| c[1].trim().to_string())
        .find(|s| looks_like_url(s))
}

fn looks_like_url(s: &str) -> bool {
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with("//") {
        return true;
    }
    if s.starts_with('/') || s.starts_with("./") || s.starts_with("../") {
        return true;
    }
    // A bare file name such as `t20240101_1.html`.
    s.contains('.')
        && !s.contains(' ')
        && s.rsplit('.').next().is_some_and(|ext| {
            let ext = ext.to_ascii_lowercase();
            ATTACHMENT_EXTENSIONS.contains(&ext.as_str())
                || ["html", "htm", "shtml", "jsp", "aspx", "php"].contains(&ext.as_str())
        })
}

/// Whether a URL looks like a listing page rather than an article.
pub fn is_listing_url(url: &Url) -> bool {
    LISTING_PATH.is_match(url.path())
}

/// The attachment extension of a URL (`pdf`), also when carried by a `filename=` query value
/// (Hanweb `downfile.jsp?filename=….pdf`).
pub fn attachment_extension(url: &Url) -> Option<String> {
    let ext_of = |s: &str| -> Option<String> {
        let last = s.rsplit('/').next()?;
        let (_, ext) = last.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        ATTACHMENT_EXTENSIONS.contains(&ext.as_str()).then_some(ext)
    };
    if let Some(e) = ext_of(url.path()) {
        return Some(e);
    }
    url.query_pairs()
        .filter(|(k, _)| k.eq_ignore_ascii_case("filename") || k.eq_ignore_ascii_case("file"))
        .find_map(|(_, v)| ext_of(&v))
}

/// Collapses runs of whitespace (including NBSP and U+3000) into one space and trims.
pub fn normalize_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for ch in s.chars() {
        if ch.is_whitespace() || ch == '\u{a0}' || ch == '\u{3000}' {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(ch);
    }
    out
}

/// Normalises the first date in `text` to `YYYY-MM-DD` (`2024年1月26日`, `2024/1/26`,
/// `[2024-01-26]`, `2024-\n01-\n26`).
pub fn find_date(text: &str) -> Option<String> {
    let c = DATE.captures(text)?;
    let y: u32 = c[1].parse().ok()?;
    let m: u32 = c[2].parse().ok()?;
    let d: u32 = c[3].parse().ok()?;
    if !(1990..=2100).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Finds reports, further listing pages, attachments and POST requests in a listing page (or a
/// Hanweb `dataproxy.jsp` answer). `page_url` is the final URL after redirects.
pub fn discover(page_url: &Url, html: &str, hint: Family) -> Discovery {
    let family = if hint == Family::Auto {
        detect_family(page_url, html)
    } else {
        hint
    };
    if family == Family::Gkmlpt {
        if gkmlpt::is_api(page_url, html) {
            return gkmlpt::api_page(page_url, html);
        }
        if let Some(d) = gkmlpt::shell(page_url, html) {
            return d;
        }
    }
    let doc = Html::parse_document(html);
    let base = base_url(&doc, page_url);
    let mut out = Discovery {
        family,
        ..Discovery::default()
    };
    let mut seen = Seen::default();

    for a in doc.select(&ANCHOR) {
        if family == Family::Jiyue && jiyue::classify_anchor(&base, a, &mut out, &mut seen) {
            continue;
        }
        classify_anchor(&base, a, &mut out, &mut seen);
    }
    if family == Family::Jiyue
        && let Some(next) = jiyue::next_page(page_url, &base, html, &doc)
    {
        push_listing(&mut out, &mut seen, next, ListingKind::NextPage);
    }
    for record in hanweb_records(html) {
        let frag = Html::parse_fragment(&record);
        for a in frag.select(&ANCHOR) {
            classify_anchor(&base, a, &mut out, &mut seen);
        }
    }
    for next in trs_next_pages(page_url, html) {
        push_listing(&mut out, &mut seen, next, ListingKind::NextPage);
    }
    out.posts = hanweb_posts(page_url, html);
    if out.posts.is_empty()
        && let Some(next) = hanweb_nextgroup(&base, html)
    {
        push_listing(&mut out, &mut seen, next, ListingKind::NextPage);
    }
    for target in redirect_targets(&doc, &base, html) {
        push_listing(&mut out, &mut seen, target, ListingKind::Redirect);
    }
    // A page never proposes itself.
    let me = canonical(page_url);
    out.listings.retain(|l| l.url != me);
    out.stub = out.reports.is_empty()
        && out.listings.is_empty()
        && out.posts.is_empty()
        && out.attachments.is_empty()
        && visible_text_len(&doc) < STUB_TEXT_CHARS;
    out
}

/// Attachments and continuation pages linked from a report page.
///
/// Scans `href`/`onclick` attributes with a regex instead of building a DOM: report pages are
/// large (tens of KB of Word-pasted tables) and the parser builds its own DOM anyway.
pub fn report_links(page_url: &Url, html: &str) -> ReportLinks {
    let base = BASE_HREF
        .captures(html)
        .and_then(|c| page_url.join(c[1].trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut out = ReportLinks::default();
    let mut seen = HashSet::new();
    for c in LINK_ATTR.captures_iter(html) {
        let raw = c
            .get(1)
            .or(c.get(2))
            .or(c.get(3))
            .map_or("", |m| m.as_str());
        let value = unescape_attr(raw);
        let url = if c[0].to_ascii_lowercase().starts_with("onclick") {
            js_quoted_url(&value).and_then(|v| resolve(&base, &v))
        } else {
            resolve(&base, &value)
        };
        let Some(url) = url else {
            continue;
        };
        if attachment_extension(&url).is_some() && seen.insert(url.clone()) {
            out.attachments.push(Link {
                url,
                title: String::new(),
                date: None,
            });
        }
    }
    out.continuations = trs_article_parts(page_url, html);
    out
}

/// The character references templates leave in attribute values.
fn unescape_attr(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
}

#[derive(Default)]
struct Seen {
    urls: HashSet<Url>,
}

fn push_listing(out: &mut Discovery, seen: &mut Seen, url: Url, kind: ListingKind) {
    if seen.urls.insert(url.clone()) {
        out.listings.push(Listing { url, kind });
    }
}

fn base_url(doc: &Html, page_url: &Url) -> Url {
    doc.select(&BASE)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

/// The URL an anchor leads to: its `href`, or a quoted URL in its `onclick`.
fn anchor_url(base: &Url, a: ElementRef) -> Option<Url> {
    let href = a.value().attr("href").and_then(|h| resolve(base, h));
    href.or_else(|| {
        let js = a.value().attr("onclick")?;
        resolve(base, &js_quoted_url(js)?)
    })
}

/// The title of an anchor (title attribute, else text without the date) and its item's date.
fn anchor_title(a: ElementRef) -> (String, Option<String>) {
    let text = normalize_space(&a.text().collect::<String>());
    let attr = a
        .value()
        .attr("title")
        .map(normalize_space)
        .filter(|t| !t.is_empty());
    let date = find_date(&text).or_else(|| item_date(a));
    let title = match attr {
        Some(t) => t,
        None => normalize_space(&DATE.replace_all(&text, "")),
    };
    (title, date)
}

/// The date shown next to an anchor in its list item, table row or `dd`.
fn item_date(a: ElementRef) -> Option<String> {
    let mut node = a.parent();
    for _ in 0..3 {
        let el = ElementRef::wrap(node?)?;
        if matches!(
            el.value().name(),
            "li" | "tr" | "dd" | "dl" | "p" | "h4" | "div"
        ) {
            let text: String = el.text().collect();
            if let Some(d) = find_date(&text) {
                return Some(d);
            }
            if matches!(el.value().name(), "li" | "tr" | "dd") {
                return None;
            }
        }
        node = el.parent();
    }
    None
}

fn classify_anchor(base: &Url, a: ElementRef, out: &mut Discovery, seen: &mut Seen) {
    let Some(url) = anchor_url(base, a) else {
        return;
    };
    let (title, date) = anchor_title(a);
    let text = normalize_space(&a.text().collect::<String>());
    let listing_like = is_listing_url(&url);
    if !listing_like && is_report_title(&title) {
        if seen.urls.insert(url.clone()) {
            out.reports.push(Link { url, title, date });
        }
        return;
    }
    if attachment_extension(&url).is_some() {
        if seen.urls.insert(url.clone()) {
            out.attachments.push(Link { url, title, date });
        }
        return;
    }
    if !listing_like {
        return;
    }
    if YEAR_ONLY.is_match(&title) {
        push_listing(out, seen, url, ListingKind::SubColumn);
    } else if is_pager_text(&text) {
        push_listing(out, seen, url, ListingKind::NextPage);
    } else if is_subcolumn_title(&title) {
        push_listing(out, seen, url, ListingKind::SubColumn);
    }
}

fn last_segment(url: &Url) -> &str {
    url.path().rsplit('/').next().unwrap_or("")
}

fn is_pager_text(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return false;
    }
    t.chars().all(|c| c.is_ascii_digit()) || NEXT_WORDS.iter().any(|w| t == *w || t.contains(w))
}

fn is_subcolumn_title(title: &str) -> bool {
    let t = normalize_space(title);
    !t.is_empty()
        && t.chars().count() <= 40
        && (YEAR_ONLY.is_match(&t) || SUBCOLUMN_WORDS.iter().any(|w| t.contains(w)))
}

fn visible_text_len(doc: &Html) -> usize {
    let Some(body) = doc.select(&BODY).next() else {
        return 0;
    };
    body.text()
        .flat_map(|t| t.chars())
        .filter(|c| !c.is_whitespace())
        .count()
}

/// Guesses the family from URL and markup fingerprints.
pub fn detect_family(url: &Url, html: &str) -> Family {
    if html.contains("<datastore>") || html.contains("jpage(") || url.path().contains("/col/col") {
        Family::Hanweb
    } else if url.path().contains("/gkmlpt/")
        && (html.contains("_CONFIG") || url.path().contains("/gkmlpt/api/"))
    {
        Family::Gkmlpt
    } else if jiyue::is_column_url(url)
        || jiyue::is_label_url(url)
        || html.contains("/public/column/")
    {
        Family::Jiyue
    } else if url.path().contains("home_") || html.contains("UCAP-CONTENT") {
        Family::Govcn
    } else if html.contains("createPageHTML") || html.contains("countPage") {
        Family::Trs
    } else {
        Family::Auto
    }
}

/// Parses the arguments of a JS call: numbers, quoted strings and bare identifiers.
fn js_args(args: &str) -> Vec<String> {
    args.split(',')
        .map(|a| a.trim().trim_matches(['"', '\'']).to_string())
        .collect()
}

/// Page count, current index (0-based), stem and extension of a TRS pager.
fn trs_pager(html: &str) -> Option<(u32, u32, String, String)> {
    let count_var = COUNT_PAGE
        .captures(html)
        .and_then(|c| c[1].parse::<u32>().ok());
    for c in CREATE_PAGE.captures_iter(html) {
        let args = js_args(&c[1]);
        let (count, cur, name, ext) = match args.len() {
            4 => (&args[0], &args[1], &args[2], &args[3]),
            6 => (&args[1], &args[2], &args[3], &args[4]),
            _ => continue,
        };
        let count = count.parse::<u32>().ok().or(count_var);
        let (Some(count), Ok(cur)) = (count, cur.parse::<u32>()) else {
            continue;
        };
        if name.is_empty() || ext.is_empty() {
            continue;
        }
        return Some((count, cur, name.clone(), ext.clone()));
    }
    None
}

/// Next listing pages of a TRS or gov.cn column: from `createPageHTML`, or from `共 N 页` when
/// the URL itself is numbered (`index_3.html`, `home_0.htm`).
fn trs_next_pages(page_url: &Url, html: &str) -> Vec<Url> {
    let seg = last_segment(page_url);
    let (stem, cur, ext, count) = if let Some((count, _cur, name, ext)) = trs_pager(html) {
        // The page's own number comes from its URL: the pager's `cur` is unreliable on sticky
        // pagers, which serve page 1 everywhere.
        let cur = page_number(seg, &name).unwrap_or(0);
        (name, cur, ext, count)
    } else if let Some(total) = TOTAL_PAGES_TEXT
        .captures(html)
        .and_then(|c| c[1].parse::<u32>().ok())
    {
        let Some(c) = PAGED_NAME.captures(seg) else {
            return Vec::new();
        };
        let cur = c[2].parse::<u32>().unwrap_or(0);
        (c[1].to_string(), cur, c[3].to_string(), total)
    } else {
        return Vec::new();
    };
    let mut next = Vec::new();
    // `index.html` is page 1; the second page is `index_1` (TRS) or `index_2` (one-based).
    let candidates: Vec<u32> = if cur == 0 && stem != "home" {
        vec![1, 2]
    } else {
        vec![cur + 1]
    };
    for k in candidates {
        // One-based columns go up to `_{count}`, TRS ones to `_{count-1}`; `home_0` counts as 1.
        // `_1` exists only under TRS numbering (page 2 of at least 2).
        if k > count || ((stem == "home" || k == 1) && k >= count) {
            continue;
        }
        if let Ok(u) = page_url.join(&format!("{stem}_{k}.{ext}")) {
            next.push(canonical(&u));
        }
    }
    next
}

/// The number of a paged file name: `index_3.html` → 3, `index.html` → 0.
fn page_number(segment: &str, stem: &str) -> Option<u32> {
    if let Some(c) = PAGED_NAME.captures(segment)
        && &c[1] == stem
    {
        return c[2].parse().ok();
    }
    Some(0)
}

/// Further parts of a multi-page TRS article: `createPageHTML(3, 0, "t2024…_1", "html")`.
fn trs_article_parts(page_url: &Url, html: &str) -> Vec<Url> {
    let Some((count, _cur, name, ext)) = trs_pager(html) else {
        return Vec::new();
    };
    let seg = last_segment(page_url);
    if !seg.starts_with(&name) {
        return Vec::new();
    }
    (1..count.min(50))
        .filter_map(|k| page_url.join(&format!("{name}_{k}.{ext}")).ok())
        .map(|u| canonical(&u))
        .filter(|u| u != &canonical(page_url))
        .collect()
}

/// The `<record><![CDATA[…]]></record>` snippets of a Hanweb datastore.
fn hanweb_records(html: &str) -> Vec<String> {
    DATASTORE_RECORD
        .captures_iter(html)
        .map(|c| c[1].to_string())
        .collect()
}

fn hanweb_nextgroup(base: &Url, html: &str) -> Option<Url> {
    let c = NEXTGROUP.captures(html)?;
    resolve(base, &c[1].replace("&amp;", "&"))
}

/// The `dataproxy.jsp` POSTs that fetch the records a Hanweb column page does not embed.
fn hanweb_posts(page_url: &Url, html: &str) -> Vec<PostRequest> {
    let Some(jp) = JPAGE.captures(html) else {
        return Vec::new();
    };
    let body = &jp[1];
    let num = |key: &str| -> Option<u32> {
        let re = Regex::new(&format!(r"\b{key}\s*:\s*'?(\d+)")).ok()?;
        re.captures(body)?[1].parse().ok()
    };
    let (Some(total), Some(per_page)) = (num("totalRecord"), num("perPage")) else {
        return Vec::new();
    };
    let group = num("groupSize").unwrap_or(3).max(1);
    let proxy = Regex::new(r#"proxyUrl\s*:\s*['"]([^'"]+)['"]"#)
        .ok()
        .and_then(|re| re.captures(body).map(|c| c[1].to_string()))
        .unwrap_or_else(|| "/module/web/jpage/dataproxy.jsp".to_string());
    let mut form: Vec<(String, String)> = AJAX_PARAM
        .captures(body)
        .map(|c| {
            JS_KV
                .captures_iter(&c[1])
                .map(|kv| {
                    let v = kv
                        .get(2)
                        .or(kv.get(3))
                        .or(kv.get(4))
                        .map_or("", |m| m.as_str());
                    (kv[1].to_string(), v.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    if !form.iter().any(|(k, _)| k == "sourceContentType") {
        form.push(("sourceContentType".into(), "1".into()));
    }
    // The embedded datastore holds the first group; the proxy serves the rest.
    let step = group.saturating_mul(per_page).max(1);
    let mut posts = Vec::new();
    let mut start = step + 1;
    while start <= total && posts.len() < 10_000 {
        let end = (start + step - 1).min(total);
        let q = format!("{proxy}?startrecord={start}&endrecord={end}&perpage={per_page}");
        if let Ok(url) = page_url.join(&q) {
            posts.push(PostRequest {
                url,
                form: form.clone(),
                referer: canonical(page_url),
            });
        }
        start += step;
    }
    posts
}

/// Targets of JS-redirect shells (`location.replace('./jbxx/')`) and meta refreshes.
fn redirect_targets(doc: &Html, base: &Url, html: &str) -> Vec<Url> {
    let mut out = Vec::new();
    for m in doc.select(&META_REFRESH) {
        let is_refresh = m
            .value()
            .attr("http-equiv")
            .is_some_and(|v| v.eq_ignore_ascii_case("refresh"));
        if !is_refresh {
            continue;
        }
        let content = m.value().attr("content").unwrap_or("");
        if let Some(c) = META_REFRESH_URL.captures(content)
            && let Some(u) = resolve(base, &c[1])
        {
            out.push(u);
        }
    }
    // Scripts that move the browser elsewhere matter only on shells: real pages carry
    // `location.href` in share widgets and mobile redirects.
    if visible_text_len(doc) < STUB_TEXT_CHARS {
        for c in JS_REDIRECT.captures_iter(html) {
            if let Some(u) = resolve(base, &c[1]) {
                out.push(u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn report_urls(d: &Discovery) -> Vec<String> {
        d.reports.iter().map(|l| l.url.to_string()).collect()
    }

    fn listing_urls(d: &Discovery, kind: ListingKind) -> Vec<String> {
        d.listings
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.url.to_string())
            .collect()
    }

    const TRS_PAGE1: &str = r#"<html><head><meta name="ColumnName" content="政府信息公开年报"></head><body>
<div class="crumb">当前位置：<a href="../../">首页</a> &gt; <a href="../">政府信息公开</a> &gt; 政府信息公开年报</div>
<ul class="list">
 <li><a href="./202401/t20240126_3312456.html" target="_blank" title="某市人民政府2023年政府信息公开工作年度报告">某市人民政府2023年政府信息公开工作年度…</a><span class="date">2024-01-26</span></li>
 <li><a href="../bmnb/202401/t20240130_3312870.html" title="某市财政局2023年政府信息公开工作年度报告">…</a><span>2024-01-30</span></li>
 <li><a href="./202301/t20230120_1.html">某市2022年政府信息公开年度报告<span>2023年01月20日</span></a></li>
 <li><a href="./202301/t20230121_2.html">关于召开会议的通知</a><span>2023-01-21</span></li>
</ul>
<div class="page"><script>var countPage = 7; createPageHTML(countPage, 0, "index", "html");</script></div>
</body></html>"#;

    #[test]
    fn trs_reports_titles_dates() {
        let d = discover(
            &u("http://www.sim-a.gov.cn/zwgk/zfxxgk/zfxxgknb/index.html"),
            TRS_PAGE1,
            Family::Auto,
        );
        assert_eq!(d.family, Family::Trs);
        assert_eq!(
            report_urls(&d),
            vec![
                "http://www.sim-a.gov.cn/zwgk/zfxxgk/zfxxgknb/202401/t20240126_3312456.html",
                "http://www.sim-a.gov.cn/zwgk/zfxxgk/bmnb/202401/t20240130_3312870.html",
                "http://www.sim-a.gov.cn/zwgk/zfxxgk/zfxxgknb/202301/t20230120_1.html",
            ]
        );
        assert_eq!(
            d.reports[0].title,
            "某市人民政府2023年政府信息公开工作年度报告"
        );
        assert_eq!(d.reports[0].date.as_deref(), Some("2024-01-26"));
        assert_eq!(d.reports[2].title, "某市2022年政府信息公开年度报告");
        assert_eq!(d.reports[2].date.as_deref(), Some("2023-01-20"));
        assert!(!d.stub);
    }

    #[test]
    fn trs_pagination_proposes_both_conventions_from_page_one() {
        let d = discover(&u("http://h/zfxxgknb/index.html"), TRS_PAGE1, Family::Trs);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec![
                "http://h/zfxxgknb/index_1.html",
                "http://h/zfxxgknb/index_2.html"
            ]
        );
    }

    #[test]
    fn trs_pagination_from_later_page_and_last_page() {
        let html = r#"<script>createPageHTML(3, 1, "index", "shtml");</script>"#;
        let d = discover(&u("http://h/c/index_1.shtml"), html, Family::Trs);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://h/c/index_2.shtml"]
        );
        // One-based column: index_3 is the last page of 3, nothing after it.
        let d = discover(&u("http://h/c/index_3.shtml"), html, Family::Trs);
        assert!(listing_urls(&d, ListingKind::NextPage).is_empty());
    }

    #[test]
    fn trs_six_argument_pager_and_single_page() {
        let html = r#"<script>createPageHTML('page_div', 4, 0, 'list', 'html', 60);</script>"#;
        let d = discover(&u("http://h/c/list.html"), html, Family::Trs);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://h/c/list_1.html", "http://h/c/list_2.html"]
        );
        let one = r#"<script>createPageHTML(1, 0, "index", "html");</script>"#;
        let d = discover(&u("http://h/c/index.html"), one, Family::Trs);
        assert!(d.listings.is_empty());
    }

    #[test]
    fn sticky_pager_numbers_pages_by_url_not_by_script() {
        // Page index_4 serves page 1's script (cur = 0); the next page is still index_5.
        let d = discover(&u("http://h/c/index_4.html"), TRS_PAGE1, Family::Trs);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://h/c/index_5.html"]
        );
    }

    #[test]
    fn govcn_home_n() {
        let html = r#"<ul><li><h4><a href="../202404/content_6946880.htm">国务院办公厅2023年政府信息公开工作年度报告</a><span class="date">2024-04-22</span></h4></li></ul>
<div class="pages">共 3 页 <a href="home_1.htm">下一页</a></div>"#;
        let base = u("http://www.sim-central.gov.cn/zhengce/zfxxgk/ndbg/home_0.htm");
        let d = discover(&base, html, Family::Auto);
        assert_eq!(d.family, Family::Govcn);
        assert_eq!(
            report_urls(&d),
            vec!["http://www.sim-central.gov.cn/zhengce/zfxxgk/202404/content_6946880.htm"]
        );
        assert_eq!(d.reports[0].date.as_deref(), Some("2024-04-22"));
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://www.sim-central.gov.cn/zhengce/zfxxgk/ndbg/home_1.htm"]
        );
        let last = u("http://www.sim-central.gov.cn/zhengce/zfxxgk/ndbg/home_2.htm");
        let html_last = r#"<div>共 3 页</div>"#;
        assert!(
            discover(&last, html_last, Family::Govcn)
                .listings
                .is_empty()
        );
    }

    const HANWEB: &str = r#"<html><body><div class="main-list" id="428451">
<script type="text/xml"><datastore>
 <nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid=7&path=/&columnid=78012&unitid=428451&webname=%E6%9F%90%E5%B8%82&permissiontype=0"></a>]]></nextgroup>
 <recordset>
  <record><![CDATA[<li><a href='/art/2024/1/29/art_78012_4481203.html' title='某区2023年政府信息公开工作年度报告' target='_blank'>某区2023年政府信息公开工作年度报告</a><span>2024-
01-
29</span></li>]]></record>
  <record><![CDATA[<li><a href='/art/2023/1/20/art_78012_4400001.html' title='某区2022年政府信息公开工作年度报告'>某区2022…</a><span>2023-01-20</span></li>]]></record>
 </recordset></datastore></script></div>
<script>$(function(){ $('#428451').jpage({ dataStore: null, totalRecord: 137, perPage: 15,
  groupSize: 3, proxyUrl: '/module/web/jpage/dataproxy.jsp',
  ajaxParam: { col:1, appid:1, webid:7, path:'/', columnid:78012, unitid:'428451', webname:'某市', permissiontype:0 }});});</script>
</body></html>"#;

    #[test]
    fn hanweb_datastore_records_and_dataproxy_posts() {
        let page = u("http://www.sim-b.gov.cn/col/col78012/index.html");
        let d = discover(&page, HANWEB, Family::Auto);
        assert_eq!(d.family, Family::Hanweb);
        assert_eq!(
            report_urls(&d),
            vec![
                "http://www.sim-b.gov.cn/art/2024/1/29/art_78012_4481203.html",
                "http://www.sim-b.gov.cn/art/2023/1/20/art_78012_4400001.html",
            ]
        );
        assert_eq!(d.reports[0].date.as_deref(), Some("2024-01-29"));
        assert_eq!(d.reports[1].title, "某区2022年政府信息公开工作年度报告");
        let urls: Vec<String> = d.posts.iter().map(|p| p.url.to_string()).collect();
        assert_eq!(
            urls,
            vec![
                "http://www.sim-b.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=46&endrecord=90&perpage=15",
                "http://www.sim-b.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=91&endrecord=135&perpage=15",
                "http://www.sim-b.gov.cn/module/web/jpage/dataproxy.jsp?startrecord=136&endrecord=137&perpage=15",
            ]
        );
        let body = d.posts[0].body();
        assert!(body.contains("columnid=78012"), "{body}");
        assert!(body.contains("unitid=428451"), "{body}");
        assert!(body.contains("sourceContentType=1"), "{body}");
        assert!(body.contains("webname=%E6%9F%90%E5%B8%82"), "{body}");
        assert_eq!(d.posts[0].referer, page);
        // With proxy paging known, the nextgroup link is not followed as well.
        assert!(d.listings.is_empty());
    }

    #[test]
    fn hanweb_dataproxy_answer() {
        let xml = r#"<datastore><totalrecord>137</totalrecord><totalpage>10</totalpage><recordset>
<record><![CDATA[<li><a href='/art/2019/1/9/art_78012_1.html' title='某区2018年政府信息公开工作年度报告'>x</a><span>2019-01-09</span></li>]]></record>
</recordset></datastore>"#;
        let d = discover(
            &u("http://b/module/web/jpage/dataproxy.jsp?startrecord=46&endrecord=90&perpage=15"),
            xml,
            Family::Hanweb,
        );
        assert_eq!(
            report_urls(&d),
            vec!["http://b/art/2019/1/9/art_78012_1.html"]
        );
        assert!(!d.stub);
        // The 54-byte empty answer of an encrypted nextgroup is a stub.
        let d = discover(
            &u("http://b/module/web/jpage/dataproxy.jsp?page=2"),
            "",
            Family::Hanweb,
        );
        assert!(d.stub);
    }

    #[test]
    fn hanweb_nextgroup_without_jpage() {
        let html = r#"<script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1&amp;columnid=5"></a>]]></nextgroup></datastore></script>"#;
        let d = discover(&u("http://b/col/col5/index.html"), html, Family::Hanweb);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://b/module/web/jpage/dataproxy.jsp?page=1&columnid=5"]
        );
    }

    #[test]
    fn plain_next_links_and_numbered_pages() {
        let html = r#"<ul><li><a href="t1.html">某县2021年政府信息公开工作年度报告</a></li></ul>
<div class="page"><a href="list.html">首页</a><a href="list_2.html">2</a><a href="list_2.html">下一页</a>
<a href="javascript:void(0)">上一页</a></div>"#;
        let d = discover(&u("http://h/nb/list.html"), html, Family::Auto);
        assert_eq!(report_urls(&d), vec!["http://h/nb/t1.html"]);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec!["http://h/nb/list_2.html"]
        );
    }

    #[test]
    fn year_and_department_subcolumns() {
        let html = r#"<div class="sub"><a href="./2023n/">2023年</a><a href="./gknb2022/index.html">2022年度</a>
<a href="../bmnb/">部门年报</a><a href="../xzjd/index.shtml">街镇</a><a href="../zcwj/">政策文件</a>
<a href="../../">首页</a></div>"#;
        let d = discover(&u("http://a/zwgk/zfxxgk/zfxxgknb/"), html, Family::Trs);
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec![
                "http://a/zwgk/zfxxgk/zfxxgknb/2023n/",
                "http://a/zwgk/zfxxgk/zfxxgknb/gknb2022/index.html",
                "http://a/zwgk/zfxxgk/bmnb/",
                "http://a/zwgk/zfxxgk/xzjd/index.shtml",
            ]
        );
        assert!(d.reports.is_empty());
    }

    #[test]
    fn column_link_with_report_words_is_a_subcolumn_not_a_report() {
        let html = r#"<a href="../zfxxgknb/">政府信息公开年报</a>"#;
        let d = discover(&u("http://a/zwgk/zfxxgk/x/index.html"), html, Family::Trs);
        assert!(d.reports.is_empty());
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec!["http://a/zwgk/zfxxgk/zfxxgknb/"]
        );
    }

    #[test]
    fn js_shell_and_meta_refresh() {
        let d = discover(
            &u("http://a/zwgk/nb/"),
            "<html><script>location.replace('./jbxx/')</script></html>",
            Family::Auto,
        );
        assert_eq!(
            listing_urls(&d, ListingKind::Redirect),
            vec!["http://a/zwgk/nb/jbxx/"]
        );
        let d = discover(
            &u("http://a/zwgk/nb/"),
            r#"<meta http-equiv="refresh" content="0;url=../gknb/index.html">"#,
            Family::Auto,
        );
        assert_eq!(
            listing_urls(&d, ListingKind::Redirect),
            vec!["http://a/zwgk/gknb/index.html"]
        );
        let d = discover(
            &u("http://a/x/"),
            r#"<script>window.location.href = "/y/index.html";</script>"#,
            Family::Auto,
        );
        assert_eq!(
            listing_urls(&d, ListingKind::Redirect),
            vec!["http://a/y/index.html"]
        );
    }

    #[test]
    fn javascript_links() {
        let html = r#"
<a href="javascript:void(0)">某区2023年政府信息公开工作年度报告</a>
<a href="javascript:window.open('/nb/t20240101_9.html')" title="某区2022年政府信息公开工作年度报告">x</a>
<a href="javascript:goXxgkml('xxgknb')">信息公开年报</a>
<a href="javascript:;" onclick="window.open('/files/P020240101.pdf')">附件</a>"#;
        let d = discover(&u("http://a/nb/"), html, Family::Auto);
        assert_eq!(report_urls(&d), vec!["http://a/nb/t20240101_9.html"]);
        let att: Vec<String> = d.attachments.iter().map(|l| l.url.to_string()).collect();
        assert_eq!(att, vec!["http://a/files/P020240101.pdf"]);
    }

    #[test]
    fn relative_url_zoo() {
        let base = u("http://a.gov.cn/x/y/z/index.html");
        let cases = [
            ("./t1.html", "http://a.gov.cn/x/y/z/t1.html"),
            ("../t1.html", "http://a.gov.cn/x/y/t1.html"),
            ("../../t1.html", "http://a.gov.cn/x/t1.html"),
            ("//b.gov.cn/p/t1.html", "http://b.gov.cn/p/t1.html"),
            ("https://c.gov.cn/t1.html", "https://c.gov.cn/t1.html"),
            ("  t1.html  ", "http://a.gov.cn/x/y/z/t1.html"),
            ("t 1.html", "http://a.gov.cn/x/y/z/t%201.html"),
            ("年报.html", "http://a.gov.cn/x/y/z/%E5%B9%B4%E6%8A%A5.html"),
            ("t1.html#top", "http://a.gov.cn/x/y/z/t1.html"),
            (
                "t1.html;jsessionid=ABC123?a=1",
                "http://a.gov.cn/x/y/z/t1.html?a=1",
            ),
            ("／x／t1.html", "http://a.gov.cn/x/t1.html"),
        ];
        for (href, want) in cases {
            assert_eq!(
                resolve(&base, href).map(|u| u.to_string()).as_deref(),
                Some(want),
                "{href}"
            );
        }
        for href in [
            "",
            "#",
            "mailto:a@b.c",
            "javascript:void(0)",
            "javascript:;",
        ] {
            assert!(resolve(&base, href).is_none(), "{href}");
        }
    }

    #[test]
    fn base_href_and_amp_entities() {
        let html = r#"<head><base href="http://a/base/"></head><body>
<a href="show.jsp?id=1&amp;col=2" title="某区2020年政府信息公开工作年度报告">x</a></body>"#;
        let d = discover(&u("http://a/elsewhere/index.html"), html, Family::Auto);
        assert_eq!(report_urls(&d), vec!["http://a/base/show.jsp?id=1&col=2"]);
    }

    #[test]
    fn table_layout_with_date_column() {
        let html = r#"<table class="dataList"><tr><td>1</td><td><a href="./202001/t20200120_1.html" title="某厅2019年政府信息公开工作年度报告">某厅2019年…</a></td><td>2020/1/20</td></tr></table>"#;
        let d = discover(&u("http://a/nb/index.html"), html, Family::Auto);
        assert_eq!(d.reports.len(), 1);
        assert_eq!(d.reports[0].date.as_deref(), Some("2020-01-20"));
    }

    #[test]
    fn duplicates_within_a_page_are_listed_once() {
        let html = r#"<a href="t1.html" title="某区2023年政府信息公开工作年度报告">置顶</a>
<a href="./t1.html">某区2023年政府信息公开工作年度报告</a>"#;
        let d = discover(&u("http://a/nb/"), html, Family::Auto);
        assert_eq!(d.reports.len(), 1);
    }

    #[test]
    fn stub_pages() {
        let stub = "<html><head><title>x</title></head><body><div>暂无信息</div></body></html>";
        assert!(discover(&u("http://a/nb/index_9.html"), stub, Family::Trs).stub);
        assert!(!discover(&u("http://a/nb/index.html"), TRS_PAGE1, Family::Trs).stub);
    }

    #[test]
    fn attachments_and_direct_report_files() {
        let html = r#"<a href="./P020240130571234567890.pdf">附件1</a>
<a href="/module/download/downfile.jsp?classid=0&filename=abcdef0123.pdf">下载</a>
<a href="./nb2023.pdf" title="某镇2023年政府信息公开工作年度报告">某镇2023年…</a>"#;
        let d = discover(&u("http://a/nb/"), html, Family::Auto);
        assert_eq!(report_urls(&d), vec!["http://a/nb/nb2023.pdf"]);
        assert_eq!(d.attachments.len(), 2);
    }

    #[test]
    fn report_page_links_and_parts() {
        let html = r#"<div class="TRS_Editor">…</div>
<div class="fujian">相关附件：<a href="./P020240130571234567890.pdf">某市财政局2023年年报.pdf</a>
<a href="./P020240130571234567891.docx">表格.docx</a><a href="../index.html">返回</a></div>
<div id="pagenav"><script>createPageHTML(3, 0, "t20240130_3312870", "html");</script></div>"#;
        let page = u("http://a/nb/202401/t20240130_3312870.html");
        let r = report_links(&page, html);
        let att: Vec<String> = r.attachments.iter().map(|l| l.url.to_string()).collect();
        assert_eq!(
            att,
            vec![
                "http://a/nb/202401/P020240130571234567890.pdf",
                "http://a/nb/202401/P020240130571234567891.docx",
            ]
        );
        let parts: Vec<String> = r.continuations.iter().map(|l| l.to_string()).collect();
        assert_eq!(
            parts,
            vec![
                "http://a/nb/202401/t20240130_3312870_1.html",
                "http://a/nb/202401/t20240130_3312870_2.html",
            ]
        );
        // A part does not propose itself or further parts twice.
        let p1 = u("http://a/nb/202401/t20240130_3312870_1.html");
        let r = report_links(&p1, html);
        assert_eq!(
            r.continuations,
            vec![u("http://a/nb/202401/t20240130_3312870_2.html")]
        );
    }

    #[test]
    fn report_title_rule() {
        for t in [
            "某市人民政府2023年政府信息公开工作年度报告",
            "2023年政府信息公开年度报告",
            "宿迁高新区年政府信息公开工作年度报告",
            "某区2019年政府信息公开工作年度报告（图片版）",
            "某局２０２２年政务公开工作年度报告",
            "某县政府信息公开年报",
        ] {
            assert!(is_report_title(t), "{t}");
        }
        for t in [
            "政府工作报告",
            "2023年度部门预算",
            "关于印发信息公开指南的通知",
            "年报",
        ] {
            assert!(!is_report_title(t), "{t}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(find_date("2024年1月26日").as_deref(), Some("2024-01-26"));
        assert_eq!(find_date("[2024/1/6]").as_deref(), Some("2024-01-06"));
        assert_eq!(
            find_date("2026-09-28-21:50:00").as_deref(),
            Some("2026-09-28")
        );
        assert_eq!(find_date("2024-\n01-\n23").as_deref(), Some("2024-01-23"));
        assert_eq!(find_date("第2024号"), None);
    }

    #[test]
    fn family_names() {
        for f in ["trs", "hanweb", "govcn", "gkmlpt", "jiyue", "auto"] {
            assert_eq!(Family::from_name(f).map(Family::as_str), Some(f));
        }
        assert_eq!(Family::from_name("nope"), None);
    }

    const GK_SHELL: &str = "<!DOCTYPE html><html><head><title>某区政府信息公开目录</title></head><body><div id=\"app\"></div>\n<script>window._CONFIG = {SID:'755001',SERVICE_AREA_ID:'440300',TREE:[{id:2601,name:'机构职能',post_count:12,children:[]},{id:2629,name:'政府信息公开年报',post_count:0,children:[{id:2630,name:'2024年度',post_count:3,children:[]},{id:2631,name:'2023年度',post_count:2,children:[{id:2640,name:'部门',post_count:4,children:[]}]}]},{id:2650,name:'政府信息公开指南',post_count:1,children:[]}]};</script>\n<script src=\"/gkmlpt/static/js/app.js\"></script></body></html>";

    #[test]
    fn gkmlpt_shell_lists_the_annual_report_categories() {
        let page = u("http://gd.sim/gkmlpt/annualreport");
        let d = discover(&page, GK_SHELL, Family::Auto);
        assert_eq!(d.family, Family::Gkmlpt);
        assert!(d.reports.is_empty() && !d.stub);
        // 2629 itself is empty (post_count 0); its descendants hold the reports.
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec![
                "http://gd.sim/gkmlpt/api/all/2630?page=1&sid=755001",
                "http://gd.sim/gkmlpt/api/all/2631?page=1&sid=755001",
                "http://gd.sim/gkmlpt/api/all/2640?page=1&sid=755001",
            ]
        );
        assert_eq!(d.listings.len(), 3);
    }

    #[test]
    fn gkmlpt_shell_variants() {
        // Department prefix, JSON-style keys, numeric SID, string ids, a 公开年报 name.
        let html = r#"<script>window._CONFIG = { "SID": 755040, "TREE": [ {"id":"3001","name":"法定主动公开内容","children":[{"id":"3002","name":"政府信息公开年报","post_count":7,"jump_url":""}]}, {"id":"3100","name":"其他","children":[]} ] }</script>"#;
        let d = discover(&u("http://gd.sim/szsfj/gkmlpt/index"), html, Family::Gkmlpt);
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec!["http://gd.sim/szsfj/gkmlpt/api/all/3002?page=1&sid=755040"]
        );
        // No annual-report category: nothing at all, not every category.
        let html = "<script>window._CONFIG = {SID:'1',TREE:[{id:1,name:'机构职能',post_count:3,children:[{id:2,name:'规划计划',post_count:5,children:[]}]}]};</script>";
        let d = discover(&u("http://gd.sim/gkmlpt/index"), html, Family::Auto);
        assert_eq!(d.family, Family::Gkmlpt);
        assert!(d.listings.is_empty() && d.reports.is_empty() && d.stub);
        // A broken tree falls back to HTML discovery: nothing found, no panic.
        for html in [
            "<script>window._CONFIG = {SID:'1',TREE:[{id:1,name:'年报',",
            "<script>window._CONFIG = {SID:'1',TREE:[{id:f(1),name:'年报'}]}</script>",
            "<script>window._CONFIG = {SID:'1',TREE:'年报'}</script>",
            "<script>window._CONFIG = {SID:'1',TREE:[{id:'../../x',name:'年报'}]}</script>",
            "<script>window._CONFIG = null</script>",
        ] {
            let d = discover(&u("http://gd.sim/gkmlpt/index"), html, Family::Gkmlpt);
            assert!(d.listings.is_empty() && d.reports.is_empty(), "{html}");
        }
    }

    #[test]
    fn gkmlpt_jump_urls_replace_the_api_call() {
        // 2630 jumps to a column page (relative), 2631 to another site, 2632 nowhere; 2633 has
        // an empty jump_url and is listed by the API; 2700 is no report category, its jump is
        // not followed; 2629 has no posts of its own but its jump is followed.
        let html = "<script>window._CONFIG = {SID:'755001',TREE:[{id:2629,name:'政府信息公开年报',post_count:0,jump_url:'/zwgk/nb/index.html',children:[\
            {id:2630,name:'街镇年报',post_count:9,jump_url:'../jdnb/index.htm',children:[]},\
            {id:2631,name:'区属单位',post_count:3,jump_url:'http://other.sim/zfxxgknb/',children:[]},\
            {id:2632,name:'部门',post_count:3,jump_url:'javascript:void(0)',children:[]},\
            {id:2633,name:'2024年度',post_count:4,jump_url:'',children:[]}]},\
            {id:2700,name:'政策解读',post_count:5,jump_url:'/zcjd/',children:[]}]};</script>";
        let d = discover(&u("http://gd.sim/gkmlpt/annualreport"), html, Family::Auto);
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec![
                "http://gd.sim/zwgk/nb/index.html",
                "http://gd.sim/jdnb/index.htm",
                "http://other.sim/zfxxgknb/",
                "http://gd.sim/gkmlpt/api/all/2633?page=1&sid=755001",
            ]
        );
        assert!(!d.stub);
        // A jump back to the shell itself proposes nothing.
        let html = "<script>window._CONFIG = {SID:'1',TREE:[{id:1,name:'年报',jump_url:'./annualreport#1'}]}</script>";
        let d = discover(&u("http://gd.sim/gkmlpt/annualreport"), html, Family::Auto);
        assert!(d.listings.is_empty());
    }

    #[test]
    fn gkmlpt_hint_on_an_ordinary_column_page_uses_the_html_rules() {
        // Guangdong site-group columns (`…/zfxxgknb/bm/2024n/`) are seeded as gkmlpt but are
        // plain HTML; a detail-style `_CONFIG` without TREE is not a shell.
        let html = r#"<script>window._CONFIG = {SID:'1',DETAIL:{id:1}};</script>
<ul><li><a href="./content/post_10095458.html">某局2024年政府信息公开工作年度报告</a><span>2025-01-20</span></li></ul>"#;
        let d = discover(
            &u("https://gz.sim/zfjgzy/zfxxgknb/bm/2024n/"),
            html,
            Family::Gkmlpt,
        );
        assert_eq!(
            report_urls(&d),
            vec!["https://gz.sim/zfjgzy/zfxxgknb/bm/2024n/content/post_10095458.html"]
        );
    }

    const GK_API: &str = r#"{"classify":{"id":2630,"name":"2024年度","post_count":5},"articles":[
{"id":1,"title":"某区司法局2024年政府信息公开工作年度报告","url":"http://gd.sim/gkmlpt/content/1/1300/post_1300001.html","post_url":"/gkmlpt/content/1/1300/post_1300001.html","display_publish_time":"2025-01-20 09:30:00","attachment":[]},
{"id":2,"title":"某区财政局2024年政府信息公开年度报告","post_url":"/gkmlpt/content/1/1300/post_1300002.html","date":1737336600,"attachment":[{"name":"年报.pdf","url":"/gkmlpt/content/1/1300/P020250120.pdf"},{"name":"x","url":"/x.html"}]},
{"id":3,"title":"某区关于开展政府信息公开自查工作的通知","url":"http://gd.sim/gkmlpt/content/1/1300/post_1300003.html"},
{"id":4,"url":"http://gd.sim/gkmlpt/content/1/1300/post_1300004.html"},
{"id":5,"title":"某区2024年政府信息公开工作年度报告"}
]}"#;

    #[test]
    fn gkmlpt_api_page() {
        let page = u("http://gd.sim/gkmlpt/api/all/2630?page=1&sid=755001");
        let d = discover(&page, GK_API, Family::Gkmlpt);
        assert_eq!(
            report_urls(&d),
            vec![
                "http://gd.sim/gkmlpt/content/1/1300/post_1300001.html",
                "http://gd.sim/gkmlpt/content/1/1300/post_1300002.html",
                "http://gd.sim/gkmlpt/content/1/1300/post_1300004.html",
            ]
        );
        assert_eq!(d.reports[0].date.as_deref(), Some("2025-01-20"));
        assert_eq!(d.reports[1].date.as_deref(), Some("2025-01-20"));
        assert_eq!(d.reports[1].title, "某区财政局2024年政府信息公开年度报告");
        let att: Vec<String> = d.attachments.iter().map(|l| l.url.to_string()).collect();
        assert_eq!(
            att,
            vec!["http://gd.sim/gkmlpt/content/1/1300/P020250120.pdf"]
        );
        // 1 × 5 articles is not below 5 posts: the last page.
        assert!(d.listings.is_empty());
        assert!(!d.stub);
        // Detected by URL without a hint, too.
        assert_eq!(discover(&page, GK_API, Family::Auto).reports.len(), 3);
    }

    #[test]
    fn gkmlpt_api_pagination() {
        let page_of = |n: usize, total: Option<usize>, p: &str| {
            let arts: Vec<String> = (0..n)
                .map(|i| format!(r#"{{"title":"某局{i}年政府信息公开工作年度报告","url":"/gkmlpt/content/1/1/post_{p}{i}.html"}}"#))
                .collect();
            let classify = total.map_or(String::new(), |t| {
                format!(r#""classify":{{"post_count":{t}}},"#)
            });
            format!(r#"{{{classify}"articles":[{}]}}"#, arts.join(","))
        };
        let next = |url: &str, body: &str| {
            listing_urls(
                &discover(&u(url), body, Family::Gkmlpt),
                ListingKind::NextPage,
            )
        };
        let api = "http://gd.sim/gkmlpt/api/all/9";
        assert_eq!(
            next(&format!("{api}?page=1&sid=1"), &page_of(10, Some(25), "a")),
            vec![format!("{api}?page=2&sid=1")]
        );
        assert!(next(&format!("{api}?page=2&sid=1"), &page_of(10, Some(20), "b")).is_empty());
        // Without post_count, pages follow while they have articles.
        assert_eq!(
            next(&format!("{api}?sid=1&page=7"), &page_of(3, None, "c")),
            vec![format!("{api}?sid=1&page=8")]
        );
        assert_eq!(
            next(&format!("{api}?sid=1"), &page_of(3, None, "c")),
            vec![format!("{api}?sid=1&page=2")]
        );
        let empty = discover(
            &u(&format!("{api}?page=9&sid=1")),
            &page_of(0, Some(25), "d"),
            Family::Gkmlpt,
        );
        assert!(empty.listings.is_empty() && empty.reports.is_empty() && empty.stub);
        // post_count as a string.
        let body = page_of(2, None, "e").replacen('{', r#"{"classify":{"post_count":"9"},"#, 1);
        assert_eq!(
            next(&format!("{api}?page=1"), &body),
            vec![format!("{api}?page=2")]
        );
    }

    #[test]
    fn gkmlpt_api_garbage_finds_nothing() {
        let page = u("http://gd.sim/gkmlpt/api/all/2630?page=1&sid=755001");
        for body in [
            "",
            "null",
            "[1,2,3]",
            "{",
            r#"{"articles":"x"}"#,
            r#"{"classify":{}}"#,
            r#"{"classify":{"post_count":-3},"articles":{}}"#,
            r#"{"articles":[null,1,"x",[],{"url":5,"title":7},{"url":"javascript:void(0)"},{"url":"mailto:a@b"}]}"#,
            "<html><head><title>404 Not Found</title></head><body><a href=\"/nb/t1.html\">某区2023年政府信息公开工作年度报告</a></body></html>",
            "\u{feff}  not json at all",
        ] {
            let d = discover(&page, body, Family::Gkmlpt);
            assert!(d.reports.is_empty(), "{body}");
            assert!(d.listings.is_empty(), "{body}");
            assert!(d.attachments.is_empty(), "{body}");
            assert!(d.stub, "{body}");
        }
    }

    const JY_NAV: &str = r#"<html><body><div class="jgdh"><ul>
<li><span class="name">某市财政局</span> <a href="/public/column/1681?type=4&amp;catId=2003&amp;action=list&amp;nav=3">政府信息公开年报</a> <a href="/public/column/1681?type=4&amp;catId=6786&amp;action=list&amp;nav=3">政府信息公开指南</a></li>
<li><span class="name">某市教育局</span> <a href="/public/column/1682?type=4&amp;catId=2003&amp;action=list&amp;nav=3" title="政府信息公开年度报告">年度报告</a></li>
<li><a href="/public/column/1683?type=4&amp;catId=2001&amp;action=list&amp;nav=3">政策文件</a></li>
</ul></div></body></html>"#;

    #[test]
    fn jiyue_navigation_lists_report_columns_only() {
        let d = discover(&u("http://ah.sim/public/jgdh.html"), JY_NAV, Family::Auto);
        assert_eq!(d.family, Family::Jiyue);
        assert!(d.reports.is_empty(), "column links are not reports");
        assert_eq!(
            listing_urls(&d, ListingKind::SubColumn),
            vec![
                "http://ah.sim/public/column/1681?type=4&catId=2003&action=list&nav=3",
                "http://ah.sim/public/column/1682?type=4&catId=2003&action=list&nav=3",
            ]
        );
        assert_eq!(d.listings.len(), 2);
    }

    const JY_COLUMN: &str = r#"<html><body><div class="crumb"><a href="/public/jgdh.html">机构导航</a> &gt; 某市财政局 &gt; 政府信息公开年报</div>
<div id="xxgk_list">
<div class="xxgk_navli"><ul class="doc_list"><li><a href="/public/1681/550000012.html" title="2024年某市财政局政府信息公开工作年度报告" target="_blank">2024年某市财政局政府信息公开工作…</a><span class="date">2025-01-20</span></li></ul></div>
<div class="xxgk_navli"><ul class="doc_list"><li><a href="/public/1681/550000011.html" title="某市财政局关于开展政府信息公开自查工作的通知">某市财政局关于…</a><span class="date">2024-06-01</span></li></ul></div>
</div>
<div id="page_list" data-total="3">共3页</div>
<script>var pageUrl = '/site/label/8888?IsAjax=1&dataType=html&pageSize=2&labelName=publicInfoList&organId=1681&type=4&catId=2003&result=暂无相关信息&pageIndex=';
function goPage(n){ $('#xxgk_list').load(pageUrl + n); }</script></body></html>"#;

    #[test]
    fn jiyue_column_page_and_label_pages() {
        let col = u("http://ah.sim/public/column/1681?type=4&catId=2003&action=list&nav=3");
        let d = discover(&col, JY_COLUMN, Family::Jiyue);
        assert_eq!(
            report_urls(&d),
            vec!["http://ah.sim/public/1681/550000012.html"]
        );
        assert_eq!(d.reports[0].date.as_deref(), Some("2025-01-20"));
        let label = "http://ah.sim/site/label/8888?IsAjax=1&dataType=html&pageSize=2&labelName=publicInfoList&organId=1681&type=4&catId=2003&result=%E6%9A%82%E6%97%A0%E7%9B%B8%E5%85%B3%E4%BF%A1%E6%81%AF&pageIndex=";
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec![format!("{label}2")]
        );
        assert_eq!(d.listings.len(), 1, "the crumb is not a column to follow");
        // One page only: no label page.
        let one = JY_COLUMN.replace("data-total=\"3\">共3页", "data-total=\"1\">共1页");
        assert!(discover(&col, &one, Family::Jiyue).listings.is_empty());

        // A full label page proposes the next; a short or empty one ends the column.
        let full = r#"<div class="xxgk_navli"><ul class="doc_list"><li><a href="/public/1681/550000010.html" title="2023年某市财政局政府信息公开工作年度报告">x</a><span class="date">2024-01-20</span></li></ul></div>
<div class="xxgk_navli"><ul class="doc_list"><li><a href="/public/1681/550000009.html" title="2022年某市财政局政府信息公开工作年度报告">y</a><span class="date">2023-01-20</span></li></ul></div>"#;
        let p2 = u(&format!("{label}2"));
        let d = discover(&p2, full, Family::Auto);
        assert_eq!(d.family, Family::Jiyue);
        assert_eq!(d.reports.len(), 2);
        assert_eq!(
            listing_urls(&d, ListingKind::NextPage),
            vec![format!("{label}3")]
        );
        let short = full.split('\n').next().unwrap_or("");
        let d = discover(&u(&format!("{label}3")), short, Family::Jiyue);
        assert_eq!(d.reports.len(), 1);
        assert!(d.listings.is_empty());
        let empty = "<div class=\"xxgk_navli\">暂无相关信息</div>\n";
        let d = discover(&u(&format!("{label}4")), empty, Family::Jiyue);
        assert!(d.listings.is_empty() && d.reports.is_empty() && d.stub);
    }

    #[test]
    fn family_detection() {
        let cases = [
            (
                "http://a/gkmlpt/index",
                "<script>window._CONFIG = {}</script>",
                Family::Gkmlpt,
            ),
            ("http://a/gkmlpt/api/all/1?page=1", "{}", Family::Gkmlpt),
            ("http://a/public/jgdh.html", JY_NAV, Family::Jiyue),
            ("http://a/site/label/8888?pageIndex=2", "", Family::Jiyue),
            ("http://a/public/column/1681?type=4", "", Family::Jiyue),
            ("http://a/zwgk/index.html", "<p>x</p>", Family::Auto),
        ];
        for (url, html, want) in cases {
            assert_eq!(detect_family(&u(url), html), want, "{url}");
        }
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        const URLS: &[&str] = &[
            "http://gd.sim/gkmlpt/index",
            "http://gd.sim/gkmlpt/api/all/2629?page=3&sid=755001",
            "http://ah.sim/public/jgdh.html",
            "http://ah.sim/public/column/1681?type=4&catId=2003",
            "http://ah.sim/site/label/8888?pageSize=2&pageIndex=5",
        ];

        /// Cuts `s` at a char boundary near `at` and splices `insert` in.
        fn mutate(s: &str, at: usize, insert: &str) -> String {
            let mut i = at % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            format!("{}{insert}{}", &s[..i], &s[i..])
        }

        fn truncate(s: &str, at: usize) -> &str {
            let mut i = at % (s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            &s[..i]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn random_text_never_panics(text in ".{0,400}", url in 0..URLS.len(), fam in 0..3usize) {
                let hint = [Family::Gkmlpt, Family::Jiyue, Family::Auto][fam];
                let _ = discover(&u(URLS[url]), &text, hint);
                let _ = discover(&u(URLS[url]), &format!("<script>window._CONFIG = {text}"), hint);
                let _ = gkmlpt::js_literal_to_json(&text);
            }

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), url in 0..URLS.len()) {
                let text = String::from_utf8_lossy(&bytes);
                for hint in [Family::Gkmlpt, Family::Jiyue, Family::Auto] {
                    let _ = discover(&u(URLS[url]), &text, hint);
                }
            }

            #[test]
            fn damaged_pages_never_panic(at in any::<usize>(), cut in any::<usize>(), insert in "[{}\\[\\]'\",:\\\\a-z0-9年报 ]{0,6}") {
                for (url, page, hint) in [
                    (URLS[0], GK_SHELL, Family::Gkmlpt),
                    (URLS[1], GK_API, Family::Gkmlpt),
                    (URLS[2], JY_NAV, Family::Jiyue),
                    (URLS[3], JY_COLUMN, Family::Jiyue),
                ] {
                    let damaged = mutate(page, at, &insert);
                    let _ = discover(&u(url), &damaged, hint);
                    let _ = discover(&u(url), truncate(&damaged, cut), hint);
                }
            }

            #[test]
            fn any_json_article_list_is_safe(v in proptest_json()) {
                let body = serde_json::json!({"classify": {"post_count": 3}, "articles": v}).to_string();
                let d = discover(&u(URLS[1]), &body, Family::Gkmlpt);
                prop_assert!(d.listings.len() <= 1);
                prop_assert!(d.reports.iter().all(|l| l.url.host_str().is_some()));
            }
        }

        /// Arbitrary JSON, biased towards the fields an API article has.
        fn proptest_json() -> impl Strategy<Value = serde_json::Value> {
            let leaf = prop_oneof![
                Just(serde_json::Value::Null),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                "[a-z/:.年报0-9]{0,20}".prop_map(serde_json::Value::from),
                Just(serde_json::Value::from("/gkmlpt/content/1/2/post_3.html")),
            ];
            leaf.prop_recursive(3, 32, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6)
                        .prop_map(serde_json::Value::from),
                    proptest::collection::vec(
                        (
                            prop_oneof![
                                Just("url".to_string()),
                                Just("title".to_string()),
                                Just("post_url".to_string()),
                                Just("attachment".to_string()),
                                Just("date".to_string()),
                                "[a-z]{1,5}".prop_map(String::from)
                            ],
                            inner
                        ),
                        0..6
                    )
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
                ]
            })
        }
    }
}
