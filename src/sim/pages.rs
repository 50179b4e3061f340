//! Page bodies of the simulator: listings per family, Hanweb XML, report pages, stubs, shells,
//! WAF challenge pages, robots.txt, and tiny PDF/PNG attachments.

use std::fmt::Write as _;

use super::world::{Column, Host, ReportMeta, rel_link};
use super::{Charset, Family, ReportKind, Robots, Shell};
use crate::model::Format;
use crate::synth::{self, HtmlStyle, escape};

/// Meta charset declaration for a host's HTML.
fn meta(host: &Host) -> &'static str {
    match host.spec.charset {
        Charset::Utf8 => "<meta charset=\"utf-8\">",
        Charset::Utf8NoHeader => {
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">"
        }
        _ => "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">",
    }
}

fn meta_charset_name(host: &Host) -> &'static str {
    if host.spec.charset.is_gbk() {
        "gb2312"
    } else {
        "utf-8"
    }
}

/// The href a listing writes for an article, with the URL-zoo and `javascript:` faults.
fn href(host: &Host, from_dir: &str, r: &ReportMeta) -> String {
    let moved;
    let path = if host.spec.faults.moved_articles && r.parts > 1 {
        moved = r.old_path();
        &moved
    } else {
        &r.path
    };
    let canonical = match host.spec.family {
        // Hanweb records and 集约化 column pages (`/public/column/1681?…`) link absolute paths.
        Family::Hanweb | Family::Jiyue => path.clone(),
        _ => rel_link(from_dir, path),
    };
    let mut h = canonical.clone();
    if host.spec.faults.url_zoo {
        let base = host.base_for(&r.path);
        let authority = base.split_once("://").map_or(base, |(_, a)| a);
        h = match r.id % 8 {
            0 => canonical,
            1 => format!("//{authority}{}", r.path),
            2 => format!("{base}{}", r.path),
            3 => r.path.clone(),
            4 => format!("{canonical}#content"),
            5 => format!("\n      {canonical}  "),
            6 => match canonical.strip_prefix("./") {
                Some(rest) => format!("&#46;/{rest}"),
                None => canonical.replacen('/', "&#47;", 1),
            },
            _ => match canonical.strip_prefix("./") {
                // Up one directory and back down into the same one.
                Some(rest) => {
                    let last = from_dir
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .unwrap_or("");
                    format!("../{last}/{rest}")
                }
                None => match canonical.strip_prefix('/') {
                    Some(rest) => format!("/./{rest}"),
                    None => format!("./{canonical}"),
                },
            },
        };
    }
    if host.spec.faults.js_links && r.id.is_multiple_of(3) {
        h = format!("javascript:window.open('{}')", h.trim());
    }
    h
}

/// Anchor text as CMS templates print it: truncated with "…" (the full title is in `title=`).
fn truncated(title: &str) -> String {
    let chars: Vec<char> = title.chars().collect();
    if chars.len() <= 20 {
        return title.to_string();
    }
    let mut s: String = chars[..18].iter().collect();
    s.push('…');
    s
}

fn head(out: &mut String, host: &Host, title: &str, column: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head>\n{}\n<meta name=\"SiteName\" content=\"{city}人民政府\">\n<meta name=\"ColumnName\" content=\"{column}\">\n<meta name=\"ColumnType\" content=\"政府信息公开年报\">\n<title>{title}_{city}人民政府</title>\n</head>\n<body>\n<div class=\"top\"><a href=\"/\">首页</a> <a href=\"javascript:void(0)\">无障碍</a> <a href=\"javascript:void(0)\">长者版</a></div>\n",
        meta(host),
        city = escape(&host.city),
        column = escape(column),
        title = escape(title),
    );
}

fn foot(out: &mut String) {
    out.push_str("<div class=\"footer\">主办单位：模拟人民政府办公室 ICP备00000000号</div>\n</body></html>\n");
}

fn subnav(out: &mut String, host: &Host, from: &Column, children: &[Column]) {
    if children.is_empty() {
        return;
    }
    out.push_str("<div class=\"sub-nav\"><ul>\n");
    for c in children {
        let mut link = match host.spec.family {
            Family::Hanweb => format!("{}index.html", c.path),
            Family::GovCn => format!("{}index.htm", rel_dir(&from.path, &c.path)),
            _ => rel_dir(&from.path, &c.path),
        };
        if host.spec.faults.url_zoo {
            // Static servers ignore the query; the crawler must still resolve it correctly.
            link.push_str("?uid=428451&amp;pageNum=1");
        }
        let _ = writeln!(
            out,
            "<li><a href=\"{}\">{}</a></li>",
            escape_href(&link),
            escape(&c.title)
        );
    }
    out.push_str("</ul></div>\n");
}

/// Relative link between two directories (`./2023n/`).
fn rel_dir(from: &str, to: &str) -> String {
    let mut s = rel_link(from, &format!("{to}x"));
    s.pop();
    s
}

/// The date a listing prints: ISO normally; under `messy_dates` one of the forms portals use
/// (`2024年01月26日`, `2024/1/26`, `[2024-01-26]`, split over lines).
fn listing_date(host: &Host, r: &ReportMeta) -> String {
    let (y, m, d) = r.date;
    if !host.spec.faults.messy_dates {
        return r.published();
    }
    match r.id % 5 {
        0 => format!("{y}年{m:02}月{d:02}日"),
        1 => format!("{y}/{m}/{d}"),
        2 => format!("[{}]", r.published()),
        3 => format!("{y}-\n{m:02}-\n{d:02}"),
        _ => r.published(),
    }
}

fn items(out: &mut String, host: &Host, column: &Column, items: &[ReportMeta]) {
    match host.spec.family {
        Family::GovCn => out.push_str("<div class=\"list list_1 list_2\"><ul>\n"),
        _ => out.push_str("<div class=\"list_box\"><ul class=\"list\">\n"),
    }
    for r in items {
        let title = r.title();
        let h = escape_href(&href(host, &column.path, r));
        match host.spec.family {
            Family::GovCn => {
                let _ = writeln!(
                    out,
                    "<li><h4><a href=\"{h}\" target=\"_blank\">{}</a><span class=\"date\">{}</span></h4></li>",
                    escape(&title),
                    listing_date(host, r)
                );
            }
            // F-TRUNC: some templates put the date inside the anchor.
            _ if host.spec.faults.messy_dates && r.id % 2 == 1 => {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{h}\" target=\"_blank\" title=\"{}\">{}<span class=\"date\">{}</span></a></li>",
                    escape(&title),
                    escape(&truncated(&title)),
                    listing_date(host, r)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{h}\" target=\"_blank\" title=\"{}\">{}</a><span class=\"date\">{}</span></li>",
                    escape(&title),
                    escape(&truncated(&title)),
                    listing_date(host, r)
                );
            }
        }
    }
    out.push_str("</ul>\n");
}

/// Escapes an href for an attribute, keeping the entities the URL zoo wrote on purpose.
fn escape_href(h: &str) -> String {
    h.replace('"', "&quot;")
}

/// A listing page of the static families (TRS, TRS one-based, gov.cn).
pub(crate) fn listing(
    host: &Host,
    column: &Column,
    page: usize,
    pages: usize,
    list: &[ReportMeta],
    children: &[Column],
) -> String {
    let mut out = String::with_capacity(8192);
    head(&mut out, host, &column.title, &column.title);
    let _ = writeln!(
        out,
        "<div class=\"crumb\">当前位置：<a href=\"../../\">首页</a> &gt; <a href=\"../\">政府信息公开</a> &gt; {}</div>",
        escape(&column.title)
    );
    subnav(&mut out, host, column, children);
    items(&mut out, host, column, list);
    match host.spec.family {
        Family::Trs => {
            let _ = write!(
                out,
                "<div class=\"page\"><script type=\"text/javascript\">var countPage = {pages};//共多少页\ncreatePageHTML(countPage, {page}, \"index\", \"html\");</script></div>\n"
            );
        }
        Family::TrsOneBased => {
            let url = |k: usize| {
                if k == 0 {
                    "index.html".to_string()
                } else {
                    format!("index_{}.html", k + 1)
                }
            };
            anchor_pager(&mut out, page, pages, url);
        }
        _ => {
            let url = |k: usize| {
                if k == 0 {
                    "index.htm".to_string()
                } else {
                    format!("home_{k}.htm")
                }
            };
            anchor_pager(&mut out, page, pages, url);
        }
    }
    out.push_str("</div>\n");
    foot(&mut out);
    out
}

fn anchor_pager(out: &mut String, page: usize, pages: usize, url: impl Fn(usize) -> String) {
    let _ = write!(
        out,
        "<div class=\"pages\">共{pages}页 当前第{}页 <a href=\"{}\">首页</a> ",
        page + 1,
        url(0)
    );
    if page > 0 {
        let _ = write!(out, "<a href=\"{}\">上一页</a> ", url(page - 1));
    }
    if page + 1 < pages {
        let _ = write!(out, "<a href=\"{}\">下一页</a> ", url(page + 1));
    }
    let _ = writeln!(out, "<a href=\"{}\">尾页</a></div>", url(pages - 1));
}

/// The 300–400-byte page some CMSs serve for `index_N` beyond the end.
pub(crate) fn deep_stub(host: &Host) -> String {
    let mut s = format!(
        "<!DOCTYPE html><html><head>{}<title>政府信息公开年报</title></head><body><div class=\"list_box\"><ul class=\"list\"></ul></div><div class=\"page\"></div></body></html>\n",
        meta(host)
    );
    while s.len() < 320 {
        s.insert_str(s.len() - 15, "<!-- -->");
    }
    s
}

fn record(host: &Host, r: &ReportMeta) -> String {
    let title = escape(&r.title());
    let h = escape_href(&href(host, "/", r));
    format!(
        "<record><![CDATA[<li><a href=\"{h}\" title='{title}' target='_blank'>{}</a><span>{}</span></li>]]></record>\n",
        escape(&truncated(&r.title())),
        listing_date(host, r)
    )
}

/// A Hanweb column page with the first group embedded as datastore XML.
pub(crate) fn hanweb_column(
    host: &Host,
    column: &Column,
    list: &[ReportMeta],
    children: &[Column],
    total: usize,
) -> String {
    let mut out = String::with_capacity(16384);
    head(&mut out, host, &column.title, &column.title);
    subnav(&mut out, host, column, children);
    let (unit, web, col, per) = (428451, 7, column.col_id, host.spec.per_page.max(1));
    let webname = escape(&host.city);
    let _ = write!(
        out,
        "<div class=\"main-list\" id=\"{unit}\"><script type=\"text/xml\"><datastore>\n<nextgroup><![CDATA[<a href=\"/module/web/jpage/dataproxy.jsp?page=1&appid=1&webid={web}&path=/&columnid={col}&unitid={unit}&webname={webname}&permissiontype=0\"></a>]]></nextgroup>\n<recordset>\n"
    );
    for r in list {
        out.push_str(&record(host, r));
    }
    let _ = write!(
        out,
        "</recordset></datastore></script></div>\n<script>$(function(){{ $('#{unit}').jpage({{ dataStore: null, totalRecord: {total}, perPage: {per}, groupSize: 3, proxyUrl: '/module/web/jpage/dataproxy.jsp', ajaxParam: {{ col:1, appid:1, webid:{web}, path:'/', columnid:{col}, unitid:'{unit}', webname:'{webname}', permissiontype:0 }}}});}});</script>\n"
    );
    foot(&mut out);
    out
}

/// The dataproxy.jsp XML for a range of records (an empty `<datastore/>` when no column).
pub(crate) fn dataproxy(
    host: &Host,
    list: &[ReportMeta],
    total: usize,
    per_page: usize,
    known_column: bool,
) -> String {
    if !known_column {
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><datastore/>".to_string();
    }
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<datastore>\n<totalrecord>{total}</totalrecord>\n<totalpage>{}</totalpage>\n<recordset>\n",
        total.div_ceil(per_page.max(1))
    );
    for r in list {
        out.push_str(&record(host, r));
    }
    out.push_str("</recordset>\n</datastore>\n");
    out
}

/// The 54-byte body that deep Hanweb groups return under F-STUB.
pub(crate) const HANWEB_STUB: &str =
    "<datastore><recordset></recordset></datastore>\r\n\r\n\r\n\r\n";

/// A report's page (HTML report, attachment stub or image page).
pub(crate) fn report_page(host: &Host, r: &ReportMeta) -> String {
    let title = r.title();
    let page = match r.kind {
        _ if r.noise => notice(&title, r),
        ReportKind::AttachmentOnly => {
            synth::render_attachment_stub(&title, r.year, &r.agency, &r.attachment_href())
        }
        ReportKind::Html if r.format() == Format::Legacy => {
            synth::render_legacy(&title, r.year, &r.agency, r.seed)
        }
        ReportKind::ImageOnly => {
            let imgs: Vec<String> = (1..=3)
                .map(|n| format!("/attach/img/{}_{n}.png", r.hex))
                .collect();
            let refs: Vec<&str> = imgs.iter().map(String::as_str).collect();
            synth::render_image_only(&title, r.year, &r.agency, &refs)
        }
        ReportKind::Html => {
            let style = HtmlStyle {
                title: (r.variant != 0).then(|| title.clone()),
                pad_to_bytes: host.spec.page_bytes,
                meta_charset: Some(meta_charset_name(host).to_string()),
                ..HtmlStyle::varied(r.seed)
            };
            synth::render_html(&r.synth(), &style)
        }
    };
    // render_html already declared gb2312; the stub, image and notice pages say utf-8.
    let page = if host.spec.charset.is_gbk() {
        page.replacen(
            "<meta charset=\"utf-8\">",
            "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">",
            1,
        )
    } else {
        page
    };
    match host.spec.family {
        Family::GovCn => page.replacen(
            "<div class=\"TRS_Editor\" id=\"zoom\">",
            "<div id=\"UCAP-CONTENT\" class=\"trs_editor_view\">",
            1,
        ),
        Family::Hanweb => page.replacen(
            "<div class=\"TRS_Editor\" id=\"zoom\">",
            "<div class=\"artile_zw\" id=\"zoom\">",
            1,
        ),
        Family::Gkmlpt => gkmlpt_detail(page, r),
        Family::Jiyue => page.replacen(
            "<div class=\"TRS_Editor\" id=\"zoom\">",
            "<div class=\"wzcon\" id=\"zoom\">",
            1,
        ),
        _ => page,
    }
}

/// Part `k` of a report page: the whole page when the article is not split; otherwise the
/// page's chrome around one slice of the content, with the TRS in-article pager.
pub(crate) fn report_part(host: &Host, r: &ReportMeta, k: u8) -> String {
    let page = report_page(host, r);
    if r.parts <= 1 {
        return page;
    }
    if r.kind == ReportKind::AttachmentOnly {
        return stub_part(&page, r, k);
    }
    let Some(open) = page.find("id=\"zoom\">").map(|i| i + "id=\"zoom\">".len()) else {
        return page;
    };
    let close = page[open..]
        .find("</div>\n<div class=\"tools\">")
        .map_or(page.len(), |i| open + i);
    // Cut before the paragraphs that open sections 三 and 四.
    let cut = |heading: &str| {
        page[open..close]
            .find(heading)
            .and_then(|i| page[open..open + i].rfind("<p "))
            .map_or(close, |i| open + i)
    };
    let bounds = [
        open,
        cut("三、收到和处理政府信息公开申请情况"),
        cut("四、政府信息公开行政复议、行政诉讼情况"),
        close,
    ];
    let k = usize::from(k.min(2));
    let stem = stem(r);
    format!(
        "{}{}<div id=\"pagenav\"><script type=\"text/javascript\">createPageHTML({}, {k}, \"{stem}\", \"html\");</script></div>\n{}",
        &page[..open],
        &page[bounds[k]..bounds[k + 1]],
        r.parts,
        &page[close..]
    )
}

/// Part `k` of a stub split in two: the first page says the report follows, the second holds
/// the attachment link; both carry the in-article pager.
fn stub_part(page: &str, r: &ReportMeta, k: u8) -> String {
    let Some(open) = page.find("<p>附件：") else {
        return page.to_string();
    };
    let close = page[open..]
        .find("</p>")
        .map_or(page.len(), |i| open + i + "</p>".len());
    let body = if k == 0 {
        "<p>报告全文见下一页附件。</p>"
    } else {
        &page[open..close]
    };
    format!(
        "{}{body}<div id=\"pagenav\"><script type=\"text/javascript\">createPageHTML({}, {}, \"{}\", \"html\");</script></div>{}",
        &page[..open],
        r.parts,
        k.min(1),
        stem(r),
        &page[close..]
    )
}

/// The article's file name without `.html`, as `createPageHTML` names it.
fn stem(r: &ReportMeta) -> &str {
    r.path
        .rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".html"))
        .unwrap_or("")
}

/// 集约化 agency navigation (机构导航): every organ's annual-report column, plus a second link
/// per organ to another category (信息公开指南) that holds no reports. Organs on the organ host
/// are linked there with absolute URLs.
pub(crate) fn jiyue_nav(host: &Host, orgs: &[Column]) -> String {
    let mut out = String::with_capacity(4096);
    head(&mut out, host, "机构导航", "机构导航");
    out.push_str("<div class=\"jgdh\"><ul>\n");
    for c in orgs {
        let base = host.base_for(&c.path);
        let base = if base == host.base { "" } else { base };
        let _ = writeln!(
            out,
            "<li><span class=\"name\">{name}</span> <a href=\"{base}{path}?type=4&amp;catId={cat}&amp;action=list&amp;nav=3\">政府信息公开年报</a> <a href=\"{base}{path}?type=4&amp;catId=6786&amp;action=list&amp;nav=3\">政府信息公开指南</a></li>",
            name = escape(&c.title),
            path = c.path,
            cat = super::world::JIYUE_CAT,
        );
    }
    out.push_str("</ul></div>\n");
    foot(&mut out);
    out
}

/// 集约化 listing: the organ's column page with page 1, or the AJAX label fragment.
pub(crate) fn jiyue_list(
    host: &Host,
    column: &Column,
    items: &[ReportMeta],
    pages: usize,
    fragment: bool,
) -> String {
    let org = column.col_id;
    let per = host.spec.per_page.max(1);
    let mut list = String::new();
    if items.is_empty() {
        list.push_str("<div class=\"xxgk_navli\">暂无相关信息</div>\n");
    }
    for r in items {
        let title = escape(&r.title());
        let h = escape_href(&href(host, &column.path, r));
        let _ = writeln!(
            list,
            "<div class=\"xxgk_navli\"><ul class=\"doc_list\"><li><a href=\"{h}\" title=\"{title}\" target=\"_blank\">{}</a><span class=\"date\">{}</span></li></ul></div>",
            escape(&truncated(&r.title())),
            listing_date(host, r)
        );
    }
    if fragment {
        return list;
    }
    let mut out = String::with_capacity(8192);
    head(&mut out, host, &column.title, "政府信息公开年报");
    let _ = write!(
        out,
        "<div class=\"crumb\"><a href=\"{nav}\">机构导航</a> &gt; {} &gt; 政府信息公开年报</div>\n<div id=\"xxgk_list\">\n{list}</div>\n<div id=\"page_list\" data-total=\"{pages}\">共{pages}页</div>\n<script>var pageUrl = '/site/label/8888?IsAjax=1&dataType=html&pageSize={per}&labelName=publicInfoList&organId={org}&type=4&catId={cat}&result=暂无相关信息&pageIndex=';\nfunction goPage(n){{ $('#xxgk_list').load(pageUrl + n); }}</script>\n",
        escape(&column.title),
        nav = super::world::JIYUE_NAV,
        cat = super::world::JIYUE_CAT,
    );
    foot(&mut out);
    out
}

/// The gkmlpt SPA shell: no links, only `window._CONFIG` with the category tree. Two unrelated
/// categories sit beside 政府信息公开年报 so a crawler has to pick by name.
pub(crate) fn gkmlpt_shell(host: &Host, tree: &[(Column, usize)]) -> String {
    let node = |c: &Column, count: usize, children: String| {
        let jump = if host.is_jump(c) {
            format!("jump_url:'{}index.htm',", c.path)
        } else {
            String::new()
        };
        format!(
            "{{id:{},name:'{}',post_count:{count},{jump}children:[{children}]}}",
            c.col_id,
            c.title.replace('\'', "")
        )
    };
    let mut children: Vec<String> = tree
        .iter()
        .skip(1)
        .map(|(c, n)| node(c, *n, String::new()))
        .collect();
    if host.spec.gkmlpt_jump {
        // Another site's reports: a crawler seeded with this host must not follow it.
        children.push(
            "{id:2660,name:'区属单位年报',post_count:3,jump_url:'http://www.gd-elsewhere.invalid/zfxxgk/zfxxgknb/',children:[]}"
                .to_string(),
        );
    }
    let root = tree
        .first()
        .map(|(c, n)| node(c, *n, children.join(",")))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html><head>{}<title>{}政府信息公开目录</title></head><body><div id=\"app\"></div>\n<script>window._CONFIG = {{SID:'{sid}',SERVICE_AREA_ID:'440300',TREE:[{{id:2601,name:'机构职能',post_count:12,children:[]}},{root},{{id:2650,name:'政府信息公开指南',post_count:1,children:[]}}]}};</script>\n<script src=\"/gkmlpt/static/js/app.js\"></script></body></html>\n",
        meta(host),
        escape(&host.city),
        sid = super::world::GKMLPT_SID,
    )
}

/// The gkmlpt listing API: one page of articles as JSON.
pub(crate) fn gkmlpt_api(
    host: &Host,
    column: Option<&Column>,
    items: &[ReportMeta],
    total: usize,
) -> String {
    let articles: Vec<serde_json::Value> = items
        .iter()
        .map(|r| {
            let url = format!("{}{}", host.base, r.path);
            let attachment: Vec<serde_json::Value> = if r.kind == ReportKind::AttachmentOnly {
                vec![serde_json::json!({
                    "name": format!("{}.pdf", r.title()),
                    "url": format!("{}{}", host.base, r.pdf_path),
                })]
            } else {
                Vec::new()
            };
            let (y, m, d) = r.date;
            serde_json::json!({
                "id": r.id,
                "title": r.title(),
                "url": url,
                "post_url": r.path,
                "document_number": "",
                "identifier": format!("11440300MB{:07}X/{y}-{:05}", r.id % 10_000_000, r.id % 100_000),
                "publisher": r.agency,
                "date": r.published(),
                "display_publish_time": format!("{y}-{m:02}-{d:02} 09:30:00"),
                "created_at": format!("{y}-{m:02}-{d:02} 09:30:00"),
                "classify_main_name": column.map(|c| c.title.as_str()).unwrap_or(""),
                "classify_theme_name": "其他",
                "attachment": attachment,
                "is_expired": false,
                "is_abolished": false,
            })
        })
        .collect();
    serde_json::json!({
        "classify": {
            "id": column.map(|c| c.col_id),
            "name": column.map(|c| c.title.as_str()),
            "post_count": total,
        },
        "articles": articles,
    })
    .to_string()
}

/// gkmlpt detail pages repeat the article body as a JSON string in `_CONFIG.DETAIL.content`,
/// with `<` escaped as `\u003C`.
fn gkmlpt_detail(page: String, r: &ReportMeta) -> String {
    let start = page.find("id=\"zoom\">").map(|i| i + "id=\"zoom\">".len());
    let content = start
        .and_then(|s| {
            page[s..]
                .find("</div>\n<div class=\"tools\">")
                .map(|e| &page[s..s + e])
        })
        .unwrap_or("");
    let json = serde_json::to_string(content)
        .unwrap_or_default()
        .replace('<', "\\u003C")
        .replace('>', "\\u003E");
    let title = serde_json::to_string(&r.title()).unwrap_or_default();
    let script = format!(
        "<script>window._CONFIG = {{SID:'{}',DETAIL:{{id:{},title:{title},content:{json}}}}};</script>\n",
        super::world::GKMLPT_SID,
        r.id
    );
    match page.rfind("</body>") {
        Some(i) => format!("{}{script}{}", &page[..i], &page[i..]),
        None => page + &script,
    }
}

/// The portal's home page: navigation chrome, a link to the annual-report column, and links
/// a crawler must not follow blindly (other sites, `javascript:`).
pub(crate) fn home(host: &Host, entry_path: &str) -> String {
    let city = escape(&host.city);
    format!(
        "<!DOCTYPE html><html><head>{}<title>{city}人民政府门户网站</title></head><body>\n<div class=\"top\"><a href=\"javascript:void(0)\">无障碍</a> <a href=\"javascript:void(0)\">长者版</a> <a href=\"http://www.gov.cn/\">中国政府网</a></div>\n<div class=\"nav\"><ul><li><a href=\"/\">首页</a></li><li><a href=\"{entry}\">政府信息公开年报</a></li><li><a href=\"javascript:goXxgkml('xxgknb')\">政府信息公开目录</a></li></ul></div>\n<div class=\"main\"><p>欢迎访问{city}人民政府门户网站。</p></div>\n<div class=\"footer\">主办单位：{city}人民政府办公室 ICP备00000000号</div>\n</body></html>\n",
        meta(host),
        entry = escape_href(entry_path),
    )
}

/// A plain article that is not an annual report (no tables), for listing noise.
fn notice(title: &str, r: &ReportMeta) -> String {
    let t = escape(title);
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"ArticleTitle\" content=\"{t}\"><title>{t}</title></head><body><h1>{t}</h1><div class=\"info\">发布日期：{}</div><div class=\"TRS_Editor\" id=\"zoom\"><p>为进一步做好政府信息公开工作，现将有关事项通知如下。</p><p>各单位要高度重视，认真组织实施，确保各项工作落到实处。</p></div></body></html>\n",
        r.published()
    )
}

/// A ~160-byte JS or meta-refresh shell pointing at `target`.
pub(crate) fn shell(kind: Shell, target: &str) -> String {
    match kind {
        Shell::LocationReplace => format!(
            "<html><head><meta charset=\"utf-8\"><title></title></head><body><script type=\"text/javascript\">location.replace('{target}');</script></body></html>\n"
        ),
        Shell::MetaRefresh => format!(
            "<html><head><meta http-equiv=\"refresh\" content=\"0;url={target}\"></head><body></body></html>\n"
        ),
    }
}

pub(crate) fn robots(r: Robots) -> Option<String> {
    match r {
        Robots::Allow => Some("User-agent: *\nDisallow:\n".to_string()),
        Robots::DisallowAll => Some("User-agent: *\nDisallow: /\n".to_string()),
        Robots::CrawlDelay(s) => Some(format!("User-agent: *\nCrawl-delay: {s}\nDisallow:\n")),
        Robots::Missing => None,
    }
}

/// 瑞数 412 challenge body.
pub(crate) fn rs412() -> String {
    let mut s = String::from(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><meta id=\"x9kQ2\" content=\"",
    );
    for i in 0..40 {
        let _ = write!(
            s,
            "{:08x}",
            (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20
        );
    }
    s.push_str("\" r=\"m\"><script type=\"text/javascript\">$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.nsd=84021;$_ts.cd=\"qE9rrAlkDGVaWqAcDqEGrGVaWqA\";</script><script type=\"text/javascript\" charset=\"utf-8\" src=\"/abc123/def.js\" r=\"m\"></script></head><body></body></html>\n");
    s
}

/// The `__jsl_clearance` value the 521 script sets; replaying it passes.
pub(crate) const JSL_CLEARANCE: &str = "1732700000.123|0|sImUlAtOr";

/// 加速乐 521 body.
pub(crate) fn jsl521() -> String {
    format!(
        "<html><body><script>document.cookie='__jsl_clearance={JSL_CLEARANCE};max-age=3600;path=/';location.href=location.pathname+location.search</script></body></html>\n"
    )
}

/// WZWS 200-status challenge body (~2 KB of packed JS).
pub(crate) fn wzws() -> String {
    let mut s = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><script type=\"text/javascript\">var dynamicurl=\"/WZWSRELL3p3Z2svemZ4eGdrbmIv\";var wzwschallenge=\"RANDOMSTR2563\";var wzwschallengex=\"STRRANDOM7765\";var template=5;var encoderchars=\"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\";var WZWS_CONFIRM_PREFIX_LABEL=\"wzwsconfirm\";",
    );
    while s.len() < 2000 {
        s.push_str("function KTKY2RBD9NHPBCIHV9ZMEQQDARSLVFDU(str){var out,i,len,c1,c2,c3;len=str.length;i=0;out=\"\";while(i<len){c1=str.charCodeAt(i++)&0xff;}return out;}");
    }
    s.push_str("</script></body></html>\n");
    s
}

/// A minimal PDF naming the report (enough for `%PDF` sniffing and a text layer).
pub(crate) fn pdf(r: &ReportMeta) -> Vec<u8> {
    let body = format!(
        "%PDF-1.4\n%\u{e2}\u{e3}\u{cf}\u{d3}\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n% report {} {} id {}\ntrailer<</Root 1 0 R>>\n%%EOF\n",
        r.year, r.hex, r.id
    );
    body.into_bytes()
}

/// A 1×1 PNG.
pub(crate) const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Encodes an HTML string per the host's charset profile.
pub(crate) fn encode(host: &Host, html: &str) -> Vec<u8> {
    if host.spec.charset.is_gbk() {
        let (bytes, _, _) = encoding_rs::GBK.encode(html);
        return bytes.into_owned();
    }
    html.as_bytes().to_vec()
}

/// `Content-Type` header per the host's charset profile.
pub(crate) fn content_type(host: &Host) -> &'static str {
    match host.spec.charset {
        Charset::Utf8 | Charset::Conflict => "text/html; charset=utf-8",
        Charset::GbkHeader => "text/html; charset=GBK",
        Charset::Utf8NoHeader | Charset::GbkNoHeader => "text/html",
    }
}
