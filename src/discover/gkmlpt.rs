//! Guangdong gkmlpt (family D): the SPA shell's category tree and the JSON listing API.
//!
//! The shell (`/gkmlpt/index`, `/gkmlpt/annualreport`) has no links, only
//! `window._CONFIG = { SID: '755001', TREE: [{id, name, post_count, children}], … }`, a
//! JavaScript literal. The categories whose name names annual reports (年报, 年度报告), with
//! all their descendants (year or department sub-categories), are listed through
//! `GET {prefix}/gkmlpt/api/all/{id}?page=1&sid={SID}`. An API page is JSON
//! `{"classify":{"post_count":N},"articles":[{title, url, post_url, attachment, …}]}` with
//! 1-based pages and no articles past the end.
//!
//! A category node may carry a `jump_url`: the SPA then navigates to that page instead of
//! listing the category through the API (a district's 街镇 reports on a server-rendered column,
//! or another site). A non-empty `jump_url` of an annual-report category is proposed as a
//! sub-column in place of the API call; the crawl keeps it only on the seed's host and inside
//! its scope, like any other sub-column.

use serde_json::Value;
use url::Url;

use super::{
    Discovery, Family, Link, ListingKind, REPORT_WORDS, attachment_extension, canonical, find_date,
    normalize_space, resolve,
};

/// Category names that hold annual reports (公开年报 contains 年报).
const REPORT_CATEGORY_WORDS: &[&str] = &["年报", "年度报告"];
/// No category tree or listing is followed past this many pages or categories: a bound on what
/// one hostile page can queue.
const MAX_PAGE: u64 = 10_000;
const MAX_CATEGORIES: usize = 500;

/// Whether a page is a gkmlpt API answer (by URL, or JSON text on a gkmlpt host).
pub(super) fn is_api(page_url: &Url, text: &str) -> bool {
    page_url.path().contains("/gkmlpt/api/")
        || text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
}

/// The listing API's first page for every annual-report category of a shell; `None` when the
/// page has no parsable `_CONFIG.TREE` (not a shell: the caller falls back to HTML discovery).
pub(super) fn shell(page_url: &Url, html: &str) -> Option<Discovery> {
    let config = &html[html.find("_CONFIG")?..];
    let tree = js_value(config, "TREE")?;
    let sid = js_value(config, "SID").and_then(|v| match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let mut found = Vec::new();
    collect_categories(&tree, false, &mut found);
    let mut out = Discovery {
        family: Family::Gkmlpt,
        ..Discovery::default()
    };
    if found.is_empty() {
        tracing::info!(url = %page_url, "gkmlpt tree names no annual-report category; nothing queued");
        out.stub = true;
        return Some(out);
    }
    let prefix = gkmlpt_root(page_url);
    for category in found {
        let url = match category {
            Category::Api(id) => {
                let mut q = String::from("page=1");
                if let Some(sid) = sid.as_deref().filter(|s| is_token(s)) {
                    q.push_str("&sid=");
                    q.push_str(sid);
                }
                page_url
                    .join(&format!("{prefix}api/all/{id}?{q}"))
                    .ok()
                    .map(|u| canonical(&u))
            }
            Category::Jump(href) => resolve(page_url, &href),
        };
        if let Some(url) = url
            && url != canonical(page_url)
            && !out.listings.iter().any(|l| l.url == url)
        {
            out.listings.push(super::Listing {
                url,
                kind: ListingKind::SubColumn,
            });
        }
    }
    Some(out)
}

/// Where an annual-report category is listed.
#[derive(Debug, PartialEq, Eq)]
enum Category {
    /// Through the listing API, by category id.
    Api(String),
    /// On the page the node's `jump_url` names (as written, unresolved).
    Jump(String),
}

/// The path of the `gkmlpt/` directory a page sits in (`/dept/gkmlpt/`), `/gkmlpt/` when the
/// page is elsewhere.
fn gkmlpt_root(page_url: &Url) -> String {
    let path = page_url.path();
    match path.find("/gkmlpt/") {
        Some(i) => path[..i + "/gkmlpt/".len()].to_string(),
        None => "/gkmlpt/".to_string(),
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The categories under `nodes` that hold annual reports: those whose name says so and every
/// descendant of theirs. A category with a `jump_url` is listed there, not through the API;
/// categories known to be empty (`post_count: 0`) are skipped (their jump pages and children
/// are not: the count is the API's, which a jump category does not use).
fn collect_categories(nodes: &Value, inherited: bool, found: &mut Vec<Category>) {
    let Some(nodes) = nodes.as_array() else {
        return;
    };
    for node in nodes {
        if found.len() >= MAX_CATEGORIES {
            return;
        }
        let name = node.get("name").and_then(Value::as_str).unwrap_or("");
        let matches = inherited || REPORT_CATEGORY_WORDS.iter().any(|w| name.contains(w));
        let empty = node.get("post_count").and_then(Value::as_u64) == Some(0);
        let jump = node
            .get("jump_url")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|j| !j.is_empty());
        let category = match jump {
            Some(j) => Some(Category::Jump(j.to_string())),
            None if !empty => node_id(node).map(Category::Api),
            None => None,
        };
        if matches
            && let Some(c) = category
            && !found.contains(&c)
        {
            found.push(c);
        }
        if let Some(children) = node.get("children") {
            collect_categories(children, matches, found);
        }
    }
}

fn node_id(node: &Value) -> Option<String> {
    let id = match node.get("id")? {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    is_token(&id).then_some(id)
}

/// One page of the listing API: its articles are reports (a notice filed in a report category
/// by mistake, whose title names no report, is skipped), their `attachment` files are
/// attachments, and the next page follows while this one had articles and, when `post_count`
/// is known, while `page × articles < post_count` (an over-estimate on a short last page, which
/// costs one empty page). Anything but the expected JSON gives an empty stub.
pub(super) fn api_page(page_url: &Url, text: &str) -> Discovery {
    let mut out = Discovery {
        family: Family::Gkmlpt,
        ..Discovery::default()
    };
    let Ok(json) = serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}')) else {
        out.stub = true;
        return out;
    };
    let articles = json
        .get("articles")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    // Only articles that lead somewhere say the column goes on.
    let n = articles
        .iter()
        .filter(|a| article(page_url, a, &mut out))
        .count() as u64;
    let post_count = json
        .get("classify")
        .and_then(|c| c.get("post_count"))
        .and_then(as_u64);
    let page = query_value(page_url, "page")
        .and_then(|p| p.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    let served = articles.len() as u64;
    let more = n > 0 && post_count.is_none_or(|total| page.saturating_mul(served) < total);
    if more
        && page < MAX_PAGE
        && let Some(next) = with_query_value(page_url, "page", &(page + 1).to_string())
    {
        out.listings.push(super::Listing {
            url: next,
            kind: ListingKind::NextPage,
        });
    }
    out.stub = out.reports.is_empty() && out.listings.is_empty() && out.attachments.is_empty();
    out
}

/// Adds an article's report link and attachments; `false` when it has no usable URL.
fn article(page_url: &Url, a: &Value, out: &mut Discovery) -> bool {
    let href = ["url", "post_url"]
        .iter()
        .filter_map(|k| a.get(*k).and_then(Value::as_str))
        .find_map(|h| resolve(page_url, h));
    let title = a
        .get("title")
        .and_then(Value::as_str)
        .map(normalize_space)
        .unwrap_or_default();
    let names_report = title.is_empty() || REPORT_WORDS.iter().any(|w| title.contains(w));
    let Some(url) = href else {
        return false;
    };
    if names_report && !out.reports.iter().any(|l| l.url == url) {
        let date = ["display_publish_time", "date", "publish_time", "created_at"]
            .iter()
            .find_map(|k| a.get(*k).and_then(json_date));
        out.reports.push(Link { url, title, date });
    }
    let files = a
        .get("attachment")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for f in files {
        let Some(url) = f
            .get("url")
            .or_else(|| f.get("link"))
            .and_then(Value::as_str)
            .and_then(|h| resolve(page_url, h))
        else {
            continue;
        };
        if attachment_extension(&url).is_none() || out.attachments.iter().any(|l| l.url == url) {
            continue;
        }
        let title = f
            .get("name")
            .and_then(Value::as_str)
            .map(normalize_space)
            .unwrap_or_default();
        out.attachments.push(Link {
            url,
            title,
            date: None,
        });
    }
    true
}

/// A count written as a number or as a string of digits.
fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `YYYY-MM-DD` from a date string or an epoch timestamp (seconds or milliseconds).
fn json_date(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => find_date(s),
        Value::Number(n) => {
            let mut secs = n.as_i64()?;
            if secs > 100_000_000_000 {
                secs /= 1000;
            }
            let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
            // Publication times are Beijing time.
            let t = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).ok()?);
            find_date(&format!(
                "{:04}-{:02}-{:02}",
                t.year(),
                u8::from(t.month()),
                t.day()
            ))
        }
        _ => None,
    }
}

pub(super) fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `url` with the query parameter `key` set to `value` (appended when absent), every other
/// parameter left as written.
pub(super) fn with_query_value(url: &Url, key: &str, value: &str) -> Option<Url> {
    let query = url.query().unwrap_or("");
    let mut parts: Vec<String> = Vec::new();
    let mut set = false;
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let name = part.split('=').next().unwrap_or("");
        if name == key {
            if !set {
                parts.push(format!("{key}={value}"));
                set = true;
            }
        } else {
            parts.push(part.to_string());
        }
    }
    if !set {
        parts.push(format!("{key}={value}"));
    }
    let mut next = url.clone();
    next.set_query(Some(&parts.join("&")));
    Some(canonical(&next))
}

/// The value of `key: …` in a JavaScript object literal, as JSON. Looks for the key outside
/// strings only at the top level of the text after `_CONFIG`, so `DETAIL.content` cannot shadow
/// it.
fn js_value(config: &str, key: &str) -> Option<Value> {
    let open = config.find('{')?;
    let object = balanced(config, open)?;
    let start = top_level_key(object, key)?;
    let rest = object[start..].trim_start();
    let len = match rest.chars().next()? {
        '{' | '[' => balanced(rest, 0)?.len(),
        '\'' | '"' => string_end(rest)?,
        _ => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    let json = js_literal_to_json(rest[..len].trim())?;
    serde_json::from_str(&json).ok()
}

/// The byte offset just after `key:` among the top-level keys of `object` (`{…}`).
fn top_level_key(object: &str, key: &str) -> Option<usize> {
    let bytes = object.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let end = i + string_end(&object[i..])?;
                let quoted = &object[i + 1..end - 1];
                let after = object[end..].trim_start();
                if depth == 1 && quoted == key && after.starts_with(':') {
                    return Some(object.len() - after.len() + 1);
                }
                i = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ if depth == 1 && bytes[i..].starts_with(key.as_bytes()) => {
                let before = i.checked_sub(1).map(|j| bytes[j]);
                let boundary = before.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'));
                let after = object[i + key.len()..].trim_start();
                if boundary && after.starts_with(':') {
                    let colon = object.len() - after.len();
                    return Some(colon + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The length in bytes of the quoted string at the start of `s`, quotes included.
fn string_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let quote = *bytes.first()?;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The bracketed text (`{…}` or `[…]`) starting at byte `open`, strings respected.
fn balanced(s: &str, open: usize) -> Option<&str> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                i += string_end(&s[i..])?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return s.get(open..=i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Rewrites a JavaScript literal (objects, arrays, strings, numbers, booleans) as JSON: bare
/// and single-quoted keys and strings become JSON strings, trailing commas and comments go,
/// `undefined` becomes `null`. `None` when the text holds anything else (a call, an
/// expression); serde_json then validates the result.
pub(super) fn js_literal_to_json(src: &str) -> Option<String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let (s, next) = read_string(&chars, i)?;
                out.push_str(&serde_json::to_string(&s).ok()?);
                i = next;
            }
            ',' => {
                let j = skip_space(&chars, i + 1);
                if !matches!(chars.get(j), Some('}' | ']')) {
                    out.push(',');
                }
                i += 1;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            '{' | '}' | '[' | ']' | ':' => {
                out.push(c);
                i += 1;
            }
            c if c.is_whitespace() => {
                out.push(' ');
                i += 1;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '-' | '+'))
                {
                    i += 1;
                }
                out.extend(&chars[start..i]);
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(skip_space(&chars, i)) == Some(&':') {
                    out.push_str(&serde_json::to_string(&word).ok()?);
                } else {
                    match word.as_str() {
                        "true" | "false" | "null" => out.push_str(&word),
                        "undefined" => out.push_str("null"),
                        _ => return None,
                    }
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn skip_space(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// The JavaScript string starting at `chars[start]` (a quote), unescaped, and the index after
/// its closing quote.
fn read_string(chars: &[char], start: usize) -> Option<(String, usize)> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == quote {
            return Some((s, i + 1));
        }
        if c != '\\' {
            s.push(c);
            i += 1;
            continue;
        }
        let e = *chars.get(i + 1)?;
        i += 2;
        match e {
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            'b' => s.push('\u{8}'),
            'f' => s.push('\u{c}'),
            'u' => {
                let (ch, next) = read_unicode_escape(chars, i)?;
                s.push(ch);
                i = next;
            }
            '\n' => {}
            other => s.push(other),
        }
    }
    None
}

/// A `\uXXXX` escape (the part after `\u`), surrogate pairs joined.
fn read_unicode_escape(chars: &[char], i: usize) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let h: String = chars.get(at..at + 4)?.iter().collect();
        u32::from_str_radix(&h, 16).ok()
    };
    let hi = hex(i)?;
    if (0xD800..0xDC00).contains(&hi)
        && chars.get(i + 4) == Some(&'\\')
        && chars.get(i + 5) == Some(&'u')
        && let Some(lo) = hex(i + 6).filter(|lo| (0xDC00..0xE000).contains(lo))
    {
        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return Some((char::from_u32(c).unwrap_or('\u{fffd}'), i + 10));
    }
    Some((char::from_u32(hi).unwrap_or('\u{fffd}'), i + 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn js_literals_become_json() {
        let cases = [
            (
                "{a:1,'b':'x\\'y',\"c\":[true,null,],}",
                r#"{"a":1,"b":"x'y","c":[true,null]}"#,
            ),
            ("{name:'\\u5e74\\u62a5'}", r#"{"name":"年报"}"#),
            (
                "[{id:2629, /* c */ name:'年报' // x\n}]",
                r#"[{"id":2629,"name":"年报"}]"#,
            ),
            ("{v:undefined}", r#"{"v":null}"#),
        ];
        for (js, want) in cases {
            let got: Value = serde_json::from_str(&js_literal_to_json(js).unwrap()).unwrap();
            let want: Value = serde_json::from_str(want).unwrap();
            assert_eq!(got, want, "{js}");
        }
        for bad in ["{a:foo()}", "{a:'open", "{a:1+}", "{a:@}"] {
            let parsed =
                js_literal_to_json(bad).and_then(|j| serde_json::from_str::<Value>(&j).ok());
            assert!(parsed.is_none(), "{bad}");
        }
    }

    #[test]
    fn top_level_keys_only() {
        let cfg = "_CONFIG = {DETAIL:{SID:'x', TREE:[]}, SID:'755001', TREE:[{id:1,name:'年报'}]};";
        assert_eq!(js_value(cfg, "SID"), Some(Value::String("755001".into())));
        assert_eq!(
            js_value(cfg, "TREE").and_then(|t| t.as_array().map(Vec::len)),
            Some(1)
        );
        assert_eq!(js_value("_CONFIG = {XSID:'1'}", "SID"), None);
    }

    #[test]
    fn query_values_are_replaced_in_place() {
        let url = u("http://h/gkmlpt/api/all/2629?page=3&sid=755001");
        assert_eq!(
            with_query_value(&url, "page", "4").unwrap().as_str(),
            "http://h/gkmlpt/api/all/2629?page=4&sid=755001"
        );
        let url = u("http://h/site/label/8888?IsAjax=1&pageIndex=");
        assert_eq!(
            with_query_value(&url, "pageIndex", "2").unwrap().as_str(),
            "http://h/site/label/8888?IsAjax=1&pageIndex=2"
        );
        assert_eq!(
            with_query_value(&u("http://h/a"), "page", "2")
                .unwrap()
                .as_str(),
            "http://h/a?page=2"
        );
    }

    #[test]
    fn epoch_dates() {
        assert_eq!(
            json_date(&serde_json::json!(1706233800)).as_deref(),
            Some("2024-01-26")
        );
        assert_eq!(
            json_date(&serde_json::json!(1706233800000u64)).as_deref(),
            Some("2024-01-26")
        );
        assert_eq!(json_date(&serde_json::json!(-99999999999999i64)), None);
    }
}
