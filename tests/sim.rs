//! Integration tests of the portal simulator: each family's pagination, the ground truth, and
//! every injected fault, exercised with reqwest over loopback.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use gknb::sim::{
    self, Challenge, Charset, Family, Faults, Gzip, HostSpec, Layout, PathFault, RateLimit,
    ReportKind, RetryAfter, Robots, Shell, SimConfig, SimHandle, SlowBody,
};
use regex::Regex;
use reqwest::StatusCode;
use url::Url;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], 0))
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn start_one(spec: HostSpec) -> SimHandle {
    sim::start(SimConfig { hosts: vec![spec] })
        .await
        .expect("simulator starts")
}

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Page {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

async fn get(c: &reqwest::Client, url: &str) -> Page {
    let r = c.get(url).send().await.expect("request");
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        body: r.bytes().await.expect("body").to_vec(),
    }
}

/// Every href in a page, entity-decoded and trimmed, with `javascript:` URLs unwrapped.
fn hrefs(html: &str) -> Vec<String> {
    let re = Regex::new(r#"href\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("regex");
    let js = Regex::new(r#"^javascript:window\.open\('([^']*)'\)"#).expect("regex");
    re.captures_iter(html)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| {
            m.as_str()
                .replace("&#46;", ".")
                .replace("&#47;", "/")
                .replace("&amp;", "&")
                .trim()
                .to_string()
        })
        .filter_map(|h| match js.captures(&h) {
            Some(c) => c.get(1).map(|m| m.as_str().to_string()),
            None if h.starts_with("javascript:") => None,
            None => Some(h),
        })
        .collect()
}

/// Resolved article links (report pages) found in a listing page.
fn article_links(base: &Url, html: &str) -> Vec<String> {
    let article = Regex::new(
        r"(/t\d{8}_\d+\.html|/art_\d+_\d+\.html|/content_\d+\.htm|/public/\d+/\d+\.html)$",
    )
    .expect("regex");
    hrefs(html)
        .into_iter()
        .filter_map(|h| base.join(&h).ok())
        .map(|mut u| {
            u.set_fragment(None);
            u.to_string()
        })
        .filter(|u| article.is_match(u))
        .collect()
}

fn truth_urls(h: &SimHandle, host: &str) -> BTreeSet<String> {
    h.truth(host).into_iter().map(|t| t.url).collect()
}

#[tokio::test]
async fn trs_pagination_finds_every_report() {
    let mut spec = HostSpec::new("trs", addr(11), Family::Trs);
    spec.reports = 45;
    let h = start_one(spec).await;
    let c = client();
    let entry = h.entry_url("trs").expect("host");
    assert!(entry.ends_with("/zwgk/zfxxgk/zfxxgknb/"));
    let first = get(&c, &entry).await;
    assert_eq!(first.status, StatusCode::OK);
    let text = first.text();
    let count: usize = Regex::new(r"var countPage = (\d+)")
        .unwrap()
        .captures(&text)
        .and_then(|c| c[1].parse().ok())
        .expect("countPage");
    assert_eq!(count, 3);
    assert!(text.contains("createPageHTML(countPage, 0, \"index\", \"html\")"));
    let base = Url::parse(&entry).unwrap();
    let mut found = BTreeSet::new();
    found.extend(article_links(&base, &text));
    for k in 1..count {
        let url = base.join(&format!("index_{k}.html")).unwrap();
        let p = get(&c, url.as_str()).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(
            p.text()
                .contains(&format!("createPageHTML(countPage, {k},"))
        );
        found.extend(article_links(&url, &p.text()));
    }
    assert_eq!(found, truth_urls(&h, "trs"));
    let past = base.join(&format!("index_{count}.html")).unwrap();
    assert_eq!(get(&c, past.as_str()).await.status, StatusCode::NOT_FOUND);
    // index.html is page 1 as well.
    let idx = get(&c, base.join("index.html").unwrap().as_str()).await;
    assert_eq!(idx.body, first.body);
}

#[tokio::test]
async fn trs_one_based_pagination_uses_anchor_pager() {
    let mut spec = HostSpec::new("trs1", addr(12), Family::TrsOneBased);
    spec.reports = 45;
    let h = start_one(spec).await;
    let c = client();
    let entry = Url::parse(&h.entry_url("trs1").unwrap()).unwrap();
    let mut found = BTreeSet::new();
    let mut url = entry.clone();
    let mut visited = Vec::new();
    let next_re = Regex::new(r#"<a href="([^"]+)">下一页</a>"#).unwrap();
    loop {
        let p = get(&c, url.as_str()).await;
        assert_eq!(p.status, StatusCode::OK, "{url}");
        let text = p.text();
        found.extend(article_links(&url, &text));
        visited.push(url.path().rsplit('/').next().unwrap_or("").to_string());
        let next = next_re.captures(&text).map(|c| c[1].to_string());
        match next {
            Some(n) => url = url.join(&n).unwrap(),
            None => break,
        }
    }
    assert_eq!(visited, vec!["", "index_2.html", "index_3.html"]);
    assert_eq!(found, truth_urls(&h, "trs1"));
    // index_1.html is the first page again under this numbering.
    let one = get(&c, entry.join("index_1.html").unwrap().as_str()).await;
    let zero = get(&c, entry.as_str()).await;
    assert_eq!(one.body, zero.body);
}

#[tokio::test]
async fn govcn_pagination_and_content_container() {
    let mut spec = HostSpec::new("gov", addr(13), Family::GovCn);
    spec.reports = 25;
    spec.per_page = 10;
    spec.attachment_every = 0;
    let h = start_one(spec).await;
    let c = client();
    let entry = Url::parse(&h.entry_url("gov").unwrap()).unwrap();
    assert!(entry.path().ends_with("/ndbg/index.htm"));
    let mut found = BTreeSet::new();
    for (k, name) in ["index.htm", "home_1.htm", "home_2.htm"].iter().enumerate() {
        let url = entry.join(name).unwrap();
        let p = get(&c, url.as_str()).await;
        assert_eq!(p.status, StatusCode::OK);
        let text = p.text();
        assert!(text.contains("共3页"));
        assert!(text.contains("../20"), "gov.cn links go up a directory");
        if k < 2 {
            assert!(text.contains(&format!("href=\"home_{}.htm\">下一页", k + 1)));
        }
        found.extend(article_links(&url, &text));
    }
    assert_eq!(found, truth_urls(&h, "gov"));
    let home0 = get(&c, entry.join("home_0.htm").unwrap().as_str()).await;
    assert_eq!(home0.status, StatusCode::OK);
    assert_eq!(
        get(&c, entry.join("home_3.htm").unwrap().as_str())
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let t = h.truth("gov");
    let article = get(&c, &t[0].url).await;
    assert!(article.text().contains("<div id=\"UCAP-CONTENT\""));
    assert!(t[0].url.contains("/zhengce/zfxxgk/20"));
}

#[tokio::test]
async fn hanweb_embedded_group_and_dataproxy() {
    let mut spec = HostSpec::new("hw", addr(14), Family::Hanweb);
    spec.reports = 100;
    spec.per_page = 15;
    let h = start_one(spec).await;
    let c = client();
    let entry = Url::parse(&h.entry_url("hw").unwrap()).unwrap();
    assert_eq!(entry.path(), "/col/col78012/index.html");
    let page = get(&c, entry.as_str()).await;
    let text = page.text();
    assert!(text.contains("<script type=\"text/xml\"><datastore>"));
    assert!(text.contains("totalRecord: 100, perPage: 15"));
    let mut found: BTreeSet<String> = article_links(&entry, &text).into_iter().collect();
    assert_eq!(found.len(), 45, "first group is 3 pages of 15");
    let proxy = entry.join("/module/web/jpage/dataproxy.jsp").unwrap();
    for start in [46, 91] {
        let url = format!(
            "{proxy}?startrecord={start}&endrecord={}&perpage=15",
            start + 44
        );
        let r = c
            .post(&url)
            .header("X-Requested-With", "XMLHttpRequest")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("col=1&appid=1&webid=7&path=%2F&columnid=78012&unitid=428451&permissiontype=0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let xml = r.text().await.unwrap();
        assert!(xml.contains("<totalrecord>100</totalrecord>"));
        found.extend(article_links(&entry, &xml));
    }
    assert_eq!(found, truth_urls(&h, "hw"));
    // The nextgroup link (GET, page=1) serves the second group, records 46–90.
    let next = Regex::new(r#"<nextgroup><!\[CDATA\[<a href="([^"]+)""#)
        .unwrap()
        .captures(&text)
        .map(|c| c[1].replace("&amp;", "&"))
        .expect("nextgroup link");
    let xml = get(&c, entry.join(&next).unwrap().as_str()).await.text();
    let second: Vec<String> = article_links(&entry, &xml);
    let truth: Vec<String> = h.truth("hw").into_iter().map(|t| t.url).collect();
    assert_eq!(second, truth[45..90].to_vec());
    // GET with the same query works too; a missing columnid gives an empty datastore.
    let g = get(
        &c,
        &format!("{proxy}?startrecord=1&endrecord=45&perpage=15&columnid=78012"),
    )
    .await;
    assert_eq!(article_links(&entry, &g.text()).len(), 45);
    let empty = get(
        &c,
        &format!("{proxy}?startrecord=1&endrecord=45&perpage=15"),
    )
    .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text().contains("<datastore/>"));
    assert!(h.truth("hw")[0].url.contains("/art/"));
}

#[tokio::test]
async fn attachment_stubs_link_pdfs_directly_or_through_a_302() {
    let mut spec = HostSpec::new("att", addr(15), Family::Trs);
    spec.reports = 12;
    spec.attachment_every = 3;
    spec.image_every = 4;
    let mut hw = HostSpec::new("att-hw", addr(46), Family::Hanweb);
    hw.reports = 6;
    hw.attachment_every = 2;
    let h = sim::start(SimConfig {
        hosts: vec![spec, hw],
    })
    .await
    .unwrap();
    let c = client();
    let pdf_ok = |p: &Page| {
        p.status == StatusCode::OK
            && p.header("content-type").as_deref() == Some("application/pdf")
            && p.body.starts_with(b"%PDF-")
    };
    // TRS: the stub links ./P0YYYYMMDD….pdf next to the article.
    let truth = h.truth("att");
    let stub = truth
        .iter()
        .find(|t| t.kind == ReportKind::AttachmentOnly)
        .expect("a stub");
    let page = get(&c, &stub.url).await;
    assert!(page.body.len() < 600);
    let href = Regex::new(r#"href="(\./P0\d{20}\.pdf)""#)
        .unwrap()
        .captures(&page.text())
        .map(|c| c[1].to_string())
        .expect("relative P0 link");
    let link = Url::parse(&stub.url).unwrap().join(&href).unwrap();
    assert_eq!(Some(link.to_string()), stub.attachment_link);
    assert_eq!(stub.attachment_link, stub.attachment_url);
    assert!(pdf_ok(&get(&c, link.as_str()).await));
    // Hanweb: downfile.jsp answers 302 to /attach/0/<hex>.pdf.
    let stub = h
        .truth("att-hw")
        .into_iter()
        .find(|t| t.kind == ReportKind::AttachmentOnly)
        .expect("a Hanweb stub");
    let page = get(&c, &stub.url).await;
    assert!(page.text().contains("downfile.jsp?classid=0&amp;filename="));
    let link = stub.attachment_link.clone().unwrap();
    let r = get(&c, &link).await;
    assert_eq!(r.status, StatusCode::FOUND);
    let loc = r.header("location").unwrap();
    let pdf_url = Url::parse(&link).unwrap().join(&loc).unwrap();
    assert_eq!(Some(pdf_url.to_string()), stub.attachment_url);
    assert!(pdf_ok(&get(&c, pdf_url.as_str()).await));
    let img = truth
        .iter()
        .find(|t| t.kind == ReportKind::ImageOnly)
        .expect("an image page");
    assert!(img.title.ends_with("（图片版）"));
    let text = get(&c, &img.url).await.text();
    assert!(text.contains("<img src=\"/attach/img/"));
    let html = truth.iter().find(|t| t.kind == ReportKind::Html).unwrap();
    let text = get(&c, &html.url).await.text();
    assert!(text.contains(&html.title));
    assert!(text.contains("（本列数据的勾稽关系为"));
}

#[tokio::test]
async fn year_and_department_subcolumns_are_linked_from_the_root() {
    let mut years = HostSpec::new("years", addr(16), Family::Trs);
    years.layout = Layout::YearColumns;
    years.reports = 24;
    let mut depts = HostSpec::new("depts", addr(17), Family::GovCn);
    depts.layout = Layout::DeptColumns;
    depts.reports = 24;
    let h = sim::start(SimConfig {
        hosts: vec![years, depts],
    })
    .await
    .unwrap();
    let c = client();
    for host in ["years", "depts"] {
        let entry = Url::parse(&h.entry_url(host).unwrap()).unwrap();
        let root = get(&c, entry.as_str()).await.text();
        let subs: Vec<Url> = hrefs(&root)
            .into_iter()
            .filter(|l| l.ends_with("n/") || l.ends_with("nb/index.htm"))
            .map(|l| entry.join(&l).unwrap())
            .collect();
        let mut found: BTreeSet<String> = article_links(&entry, &root).into_iter().collect();
        assert!(!subs.is_empty(), "{host}: sub-columns linked");
        for s in subs {
            let p = get(&c, s.as_str()).await;
            assert_eq!(p.status, StatusCode::OK, "{s}");
            found.extend(article_links(&s, &p.text()));
        }
        assert_eq!(found, truth_urls(&h, host), "{host}");
    }
    let t = h.truth("years");
    assert!(t.iter().all(|r| r.listed_in.len() == 1));
    assert!(t.iter().any(|r| r.listed_in[0].ends_with("/2020n/")));
}

#[tokio::test]
async fn truth_has_both_formats_and_consistent_reports() {
    let mut spec = HostSpec::new("fmt", addr(18), Family::Trs);
    spec.reports = 12;
    let h = start_one(spec).await;
    let t = h.truth("fmt");
    assert_eq!(t.len(), 12);
    let formats: HashSet<_> = t.iter().map(|r| r.report.format).collect();
    assert_eq!(formats.len(), 2);
    let urls: HashSet<_> = t.iter().map(|r| &r.url).collect();
    assert_eq!(urls.len(), 12);
    // Ground truth numbers match the page.
    let c = client();
    let r = t.iter().find(|r| r.kind == ReportKind::Html).unwrap();
    let page = get(&c, &r.url).await.text();
    let total = r.report.value("requests.new_received.total").unwrap();
    assert!(page.contains(&format!("共收到政府信息公开申请{total}件")));
}

#[tokio::test]
async fn add_report_appears_on_the_first_listing_page() {
    let mut spec = HostSpec::new("inc", addr(19), Family::Trs);
    spec.reports = 30;
    let h = start_one(spec).await;
    let c = client();
    let entry = h.entry_url("inc").unwrap();
    let before = get(&c, &entry).await;
    let etag = before.header("etag").unwrap();
    let added = h.add_report("inc", 2025).expect("host exists");
    assert_eq!(h.truth("inc").len(), 31);
    let after = get(&c, &entry).await;
    assert_ne!(after.header("etag").unwrap(), etag);
    let base = Url::parse(&entry).unwrap();
    let links = article_links(&base, &after.text());
    assert_eq!(links.first(), Some(&added.url));
    assert_eq!(added.report.year, 2025);
    let page = get(&c, &added.url).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("2025年"));
}

#[tokio::test]
async fn conditional_get_gives_304() {
    let mut spec = HostSpec::new("cond", addr(20), Family::Trs);
    spec.reports = 5;
    spec.attachment_every = 0;
    let h = start_one(spec).await;
    let c = client();
    let url = h.truth("cond")[0].url.clone();
    let first = get(&c, &url).await;
    let etag = first.header("etag").expect("etag");
    let lm = first.header("last-modified").expect("last-modified");
    let r = c
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = c
        .get(&url)
        .header("If-Modified-Since", &lm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = c
        .get(&url)
        .header("If-None-Match", "\"other\"")
        .header("If-Modified-Since", &lm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "If-None-Match wins");
    let r = c
        .get(&url)
        .header("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let log = h.requests_to("cond");
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 304, 304, 200, 200]);
    let conditional: Vec<bool> = log.iter().map(|r| r.conditional).collect();
    assert_eq!(conditional, vec![false, true, true, true, true]);
}

#[tokio::test]
async fn gbk_hosts_and_charset_conflict() {
    let mut a = HostSpec::new("gbk", addr(21), Family::Trs);
    a.charset = Charset::GbkNoHeader;
    a.reports = 3;
    a.attachment_every = 0;
    let mut b = HostSpec::new("conflict", addr(22), Family::GovCn);
    b.charset = Charset::Conflict;
    b.reports = 3;
    b.attachment_every = 0;
    let h = sim::start(SimConfig { hosts: vec![a, b] }).await.unwrap();
    let c = client();
    for (host, ct) in [
        ("gbk", "text/html"),
        ("conflict", "text/html; charset=utf-8"),
    ] {
        let t = &h.truth(host)[0];
        assert!(t.gbk);
        assert!(t.title.contains("堃镕"), "rare characters in the title");
        let p = get(&c, &t.url).await;
        assert_eq!(p.header("content-type").as_deref(), Some(ct));
        assert!(std::str::from_utf8(&p.body).is_err(), "bytes are not UTF-8");
        let (decoded, _, errors) = encoding_rs::GBK.decode(&p.body);
        assert!(!errors);
        assert!(decoded.contains(&t.title), "{host}: title round-trips");
        assert!(decoded.contains("charset=gb2312"));
        let listing = get(&c, &h.entry_url(host).unwrap()).await;
        let (decoded, _, _) = encoding_rs::GBK.decode(&listing.body);
        assert!(decoded.contains("堃镕"));
    }
}

#[tokio::test]
async fn rate_limit_429_with_retry_after_in_both_forms() {
    let mut a = HostSpec::new("rate-s", addr(23), Family::Trs);
    a.faults.rate_limit = Some(RateLimit {
        max_requests: 3,
        per: Duration::from_secs(60),
        retry_after: RetryAfter::Seconds(7),
    });
    let mut b = HostSpec::new("rate-d", addr(24), Family::Trs);
    b.faults.rate_limit = Some(RateLimit {
        max_requests: 2,
        per: Duration::from_secs(60),
        retry_after: RetryAfter::HttpDate(30),
    });
    let h = sim::start(SimConfig { hosts: vec![a, b] }).await.unwrap();
    let c = client();
    let entry = h.entry_url("rate-s").unwrap();
    for _ in 0..3 {
        assert_eq!(get(&c, &entry).await.status, StatusCode::OK);
    }
    let limited = get(&c, &entry).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.header("retry-after").as_deref(), Some("7"));
    let entry = h.entry_url("rate-d").unwrap();
    for _ in 0..2 {
        assert_eq!(get(&c, &entry).await.status, StatusCode::OK);
    }
    let limited = get(&c, &entry).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let when = httpdate::parse_http_date(&limited.header("retry-after").unwrap()).unwrap();
    let ahead = when
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(ahead > Duration::from_secs(20) && ahead <= Duration::from_secs(31));
}

#[tokio::test]
async fn rate_window_slides() {
    let mut a = HostSpec::new("rate-w", addr(25), Family::Trs);
    a.faults.rate_limit = Some(RateLimit {
        max_requests: 1,
        per: Duration::from_millis(500),
        retry_after: RetryAfter::Seconds(1),
    });
    let h = start_one(a).await;
    let c = client();
    let entry = h.entry_url("rate-w").unwrap();
    assert_eq!(get(&c, &entry).await.status, StatusCode::OK);
    assert_eq!(get(&c, &entry).await.status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(Duration::from_millis(520)).await;
    assert_eq!(get(&c, &entry).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bursts_of_503_then_success() {
    let mut a = HostSpec::new("flaky", addr(26), Family::Trs);
    a.faults.unavailable = Some(PathFault {
        first_n: 2,
        path_contains: Some("/t20".to_string()),
    });
    let h = start_one(a).await;
    let c = client();
    let entry = h.entry_url("flaky").unwrap();
    assert_eq!(
        get(&c, &entry).await.status,
        StatusCode::OK,
        "listing unaffected"
    );
    let url = h.truth("flaky")[0].url.clone();
    assert_eq!(get(&c, &url).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&c, &url).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(get(&c, &url).await.status, StatusCode::OK);
}

#[tokio::test]
async fn hung_response_times_out_then_serves() {
    let mut a = HostSpec::new("hang", addr(27), Family::Trs);
    a.faults.hang = Some(PathFault {
        first_n: 1,
        path_contains: None,
    });
    let h = start_one(a).await;
    let c = client();
    let entry = h.entry_url("hang").unwrap();
    let err = c
        .get(&entry)
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("held past the timeout");
    assert!(err.is_timeout());
    let ok = c.get(&entry).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let statuses: Vec<u16> = h.requests_to("hang").iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![0, 200]);
}

#[tokio::test]
async fn waf_challenges() {
    let mut rs = HostSpec::new("rs", addr(28), Family::Trs);
    rs.faults.challenge = Some(Challenge::Rs412);
    let mut jsl = HostSpec::new("jsl", addr(29), Family::Trs);
    jsl.faults.challenge = Some(Challenge::Jsl521);
    let mut wz = HostSpec::new("wzws", addr(30), Family::Trs);
    wz.faults.challenge = Some(Challenge::Wzws);
    let h = sim::start(SimConfig {
        hosts: vec![rs, jsl, wz],
    })
    .await
    .unwrap();
    let c = client();
    let p = get(&c, &h.entry_url("rs").unwrap()).await;
    assert_eq!(p.status.as_u16(), 412);
    assert!(p.text().contains("$_ts"));
    assert!(
        p.header("set-cookie")
            .unwrap()
            .starts_with("FSSBBIl1UgzbN7N80S=")
    );
    // robots.txt is not behind the WAF.
    let robots = get(&c, &format!("{}/robots.txt", h.base_url("rs").unwrap())).await;
    assert_eq!(robots.status, StatusCode::OK);

    let entry = h.entry_url("jsl").unwrap();
    let p = get(&c, &entry).await;
    assert_eq!(p.status.as_u16(), 521);
    assert!(p.header("set-cookie").unwrap().starts_with("__jsluid_h="));
    let cookie = Regex::new(r"document\.cookie='(__jsl_clearance=[^;]+);")
        .unwrap()
        .captures(&p.text())
        .map(|c| c[1].to_string())
        .expect("clearance in script");
    let solved = c.get(&entry).header("Cookie", cookie).send().await.unwrap();
    assert_eq!(solved.status(), StatusCode::OK);
    assert!(solved.text().await.unwrap().contains("createPageHTML"));

    let p = get(&c, &h.entry_url("wzws").unwrap()).await;
    assert_eq!(p.status, StatusCode::OK);
    let text = p.text();
    assert!(text.contains("WZWS_CONFIRM_PREFIX_LABEL") && text.contains("wzwschallenge"));
    assert!(!text.contains("createPageHTML"));
}

#[tokio::test]
async fn cookie_loop_needs_a_cookie_jar() {
    let mut a = HostSpec::new("loop", addr(31), Family::Trs);
    a.faults.challenge = Some(Challenge::CookieLoop);
    let h = start_one(a).await;
    let entry = h.entry_url("loop").unwrap();
    let bare = client();
    let p = get(&bare, &entry).await;
    assert_eq!(p.status, StatusCode::FOUND);
    assert_eq!(
        p.header("location").as_deref(),
        Some("/zwgk/zfxxgk/zfxxgknb/")
    );
    assert!(p.header("set-cookie").unwrap().starts_with("CT6T="));
    let no_jar = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    assert!(
        no_jar.get(&entry).send().await.is_err(),
        "loops without cookies"
    );
    let jar = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = jar.get(&entry).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn robots_variants() {
    let mut a = HostSpec::new("r-dis", addr(32), Family::Trs);
    a.faults.robots = Robots::DisallowAll;
    let mut b = HostSpec::new("r-delay", addr(33), Family::Trs);
    b.faults.robots = Robots::CrawlDelay(3);
    let mut d = HostSpec::new("r-none", addr(34), Family::Trs);
    d.faults.robots = Robots::Missing;
    let h = sim::start(SimConfig {
        hosts: vec![a, b, d],
    })
    .await
    .unwrap();
    let c = client();
    let robots = |host: &str| format!("{}/robots.txt", h.base_url(host).unwrap());
    assert!(
        get(&c, &robots("r-dis"))
            .await
            .text()
            .contains("Disallow: /\n")
    );
    assert!(
        get(&c, &robots("r-delay"))
            .await
            .text()
            .contains("Crawl-delay: 3")
    );
    assert_eq!(
        get(&c, &robots("r-none")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn sticky_pager_and_deep_stubs() {
    let mut a = HostSpec::new("sticky", addr(35), Family::Trs);
    a.reports = 45;
    a.faults.sticky_pager = true;
    let mut b = HostSpec::new("stubs", addr(36), Family::GovCn);
    b.reports = 15;
    b.per_page = 10;
    b.faults.deep_stubs = true;
    let mut hw = HostSpec::new("hw-stub", addr(37), Family::Hanweb);
    hw.reports = 10;
    hw.faults.deep_stubs = true;
    hw.faults.sticky_pager = false;
    let h = sim::start(SimConfig {
        hosts: vec![a, b, hw],
    })
    .await
    .unwrap();
    let c = client();
    let base = Url::parse(&h.entry_url("sticky").unwrap()).unwrap();
    let first = get(&c, base.as_str()).await;
    for k in [1, 2, 9] {
        let p = get(&c, base.join(&format!("index_{k}.html")).unwrap().as_str()).await;
        assert_eq!(p.status, StatusCode::OK);
        assert_eq!(p.body, first.body, "index_{k} repeats page 1");
    }
    let base = Url::parse(&h.entry_url("stubs").unwrap()).unwrap();
    assert_eq!(
        get(&c, base.join("home_1.htm").unwrap().as_str())
            .await
            .status,
        StatusCode::OK
    );
    for k in [2, 50] {
        let p = get(&c, base.join(&format!("home_{k}.htm")).unwrap().as_str()).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!((300..=400).contains(&p.body.len()), "{}", p.body.len());
        assert!(article_links(&base, &p.text()).is_empty());
    }
    let proxy = format!(
        "{}/module/web/jpage/dataproxy.jsp?startrecord=46&endrecord=90&perpage=15&columnid=78012",
        h.base_url("hw-stub").unwrap()
    );
    let p = get(&c, &proxy).await;
    assert_eq!(p.body.len(), 54);
}

#[tokio::test]
async fn hanweb_sticky_dataproxy_repeats_first_group() {
    let mut hw = HostSpec::new("hw-sticky", addr(38), Family::Hanweb);
    hw.reports = 100;
    hw.per_page = 15;
    hw.faults.sticky_pager = true;
    let h = start_one(hw).await;
    let c = client();
    let base = h.base_url("hw-sticky").unwrap();
    let q = |s: usize| {
        format!(
            "{base}/module/web/jpage/dataproxy.jsp?startrecord={s}&endrecord={}&perpage=15&columnid=78012",
            s + 44
        )
    };
    assert_eq!(get(&c, &q(1)).await.body, get(&c, &q(46)).await.body);
}

#[tokio::test]
async fn duplicates_js_links_and_url_zoo_resolve_to_the_truth() {
    let mut a = HostSpec::new("zoo", addr(39), Family::Trs);
    a.reports = 40;
    a.per_page = 40;
    a.layout = Layout::DeptColumns;
    a.faults.duplicate_listings = true;
    a.faults.js_links = true;
    a.faults.url_zoo = true;
    let mut b = HostSpec::new("zoo-flat", addr(40), Family::Hanweb);
    b.reports = 20;
    b.faults.duplicate_listings = true;
    b.faults.url_zoo = true;
    let h = sim::start(SimConfig { hosts: vec![a, b] }).await.unwrap();
    let c = client();
    let entry = Url::parse(&h.entry_url("zoo").unwrap()).unwrap();
    let root = get(&c, entry.as_str()).await.text();
    assert!(root.contains("javascript:window.open('"));
    assert!(root.contains("href=\"//127.0.0.39:"));
    assert!(root.contains("href=\"http://127.0.0.39:"));
    assert!(root.contains("&#46;/"));
    assert!(root.contains("#content\""));
    assert!(root.contains("href=\"\n"));
    assert!(root.contains("href=\"../zfxxgknb/"));
    let root_links: BTreeSet<String> = article_links(&entry, &root).into_iter().collect();
    assert_eq!(
        root_links,
        truth_urls(&h, "zoo"),
        "root aggregates everything"
    );
    let dup = h
        .truth("zoo")
        .iter()
        .filter(|t| t.listed_in.len() == 2)
        .count();
    assert!(dup > 0, "reports in sub-columns are listed twice");
    let sub_href = hrefs(&root)
        .into_iter()
        .find(|l| l.starts_with("./bmnb/"))
        .expect("sub-column link");
    assert_eq!(sub_href, "./bmnb/?uid=428451&pageNum=1");
    let sub = entry.join(&sub_href).unwrap();
    let sub_links = article_links(&sub, &get(&c, sub.as_str()).await.text());
    assert!(!sub_links.is_empty());
    assert!(sub_links.iter().all(|l| root_links.contains(l)));

    let entry = Url::parse(&h.entry_url("zoo-flat").unwrap()).unwrap();
    let root = get(&c, entry.as_str()).await.text();
    let root_links: BTreeSet<String> = article_links(&entry, &root).into_iter().collect();
    assert_eq!(root_links, truth_urls(&h, "zoo-flat"));
    let recent = hrefs(&root)
        .into_iter()
        .find(|l| l.starts_with("/col/col") && !l.contains("78012"))
        .expect("a 最新公开 column");
    let recent = entry.join(&recent).unwrap();
    let links = article_links(&recent, &get(&c, recent.as_str()).await.text());
    assert_eq!(links.len(), 10);
}

#[tokio::test]
async fn shell_entry_pages() {
    let mut a = HostSpec::new("shell-js", addr(41), Family::Trs);
    a.faults.shell_entry = Some(Shell::LocationReplace);
    let mut b = HostSpec::new("shell-meta", addr(42), Family::GovCn);
    b.faults.shell_entry = Some(Shell::MetaRefresh);
    let h = sim::start(SimConfig { hosts: vec![a, b] }).await.unwrap();
    let c = client();
    let entry = Url::parse(&h.entry_url("shell-js").unwrap()).unwrap();
    let p = get(&c, entry.as_str()).await;
    assert!(p.body.len() < 250);
    let target = Regex::new(r"location\.replace\('([^']+)'\)")
        .unwrap()
        .captures(&p.text())
        .map(|c| c[1].to_string())
        .unwrap();
    let real = entry.join(&target).unwrap();
    assert_eq!(real.path(), "/zwgk/zfxxgk/zfxxgknb/");
    assert!(
        get(&c, real.as_str())
            .await
            .text()
            .contains("createPageHTML")
    );
    let entry = Url::parse(&h.entry_url("shell-meta").unwrap()).unwrap();
    let p = get(&c, entry.as_str()).await.text();
    let target = Regex::new(r#"content="0;url=([^"]+)""#)
        .unwrap()
        .captures(&p)
        .map(|c| c[1].to_string())
        .unwrap();
    let real = entry.join(&target).unwrap();
    assert_eq!(real.path(), "/zhengce/zfxxgk/ndbg/index.htm");
    assert_eq!(get(&c, real.as_str()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn request_log_records_every_request() {
    let h = start_one(HostSpec::new("log", addr(43), Family::Trs)).await;
    let c = client();
    let entry = h.entry_url("log").unwrap();
    get(&c, &entry).await;
    get(&c, &format!("{entry}nope.html")).await;
    let log = h.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].path, "/zwgk/zfxxgk/zfxxgknb/");
    assert_eq!((log[0].status, log[1].status), (200, 404));
    assert_eq!(log[0].method, "GET");
    assert!(log[1].time >= log[0].time);
    assert!(h.repeated_fetches("log").is_empty());
    get(&c, &entry).await;
    assert_eq!(
        h.repeated_fetches("log"),
        vec![("/zwgk/zfxxgk/zfxxgknb/".to_string(), 2)]
    );
    h.clear_requests();
    assert!(h.requests().is_empty());
}

#[tokio::test]
async fn bench_preset_scales_without_storing_pages() {
    let cfg = SimConfig::bench(200, 500);
    assert_eq!(cfg.hosts.len(), 200);
    let addrs: HashSet<_> = cfg.hosts.iter().map(|h| h.addr.ip()).collect();
    assert_eq!(addrs.len(), 200);
    assert!(cfg.hosts.iter().all(|h| h.faults == Faults::default()));
    let h = sim::start(SimConfig::bench(8, 50)).await.unwrap();
    let c = client();
    for info in h.hosts() {
        let p = get(&c, &info.entry_url).await;
        assert_eq!(p.status, StatusCode::OK, "{}", info.entry_url);
        assert_eq!(h.truth(&info.name).len(), 50);
    }
}

#[tokio::test]
async fn duplicate_host_names_are_rejected() {
    let a = HostSpec::new("same", addr(44), Family::Trs);
    let b = HostSpec::new("same", addr(45), Family::Trs);
    assert!(sim::start(SimConfig { hosts: vec![a, b] }).await.is_err());
}

/// The ground truth is what the parser reads back from the served bytes: every family,
/// GBK and conflicting charsets, every report kind.
#[tokio::test]
async fn served_reports_parse_to_their_truth() {
    let specs = [
        ("p-trs", 50, Family::Trs, Charset::Utf8),
        ("p-hw", 51, Family::Hanweb, Charset::GbkNoHeader),
        ("p-gov", 52, Family::GovCn, Charset::Conflict),
        ("p-one", 53, Family::TrsOneBased, Charset::GbkHeader),
        ("p-jy", 70, Family::Jiyue, Charset::Utf8NoHeader),
        ("p-gk", 71, Family::Gkmlpt, Charset::Utf8),
    ];
    let hosts = specs
        .iter()
        .map(|(name, last, family, charset)| {
            let mut s = HostSpec::new(name, addr(*last), *family);
            s.charset = *charset;
            s.reports = 16;
            s.attachment_every = 5;
            s.image_every = 6;
            s.page_bytes = 60_000;
            s.title_variants = true;
            s.noise_every = 4;
            s.first_year = 2017;
            s.inconsistent_every = 3;
            s
        })
        .collect();
    let h = sim::start(SimConfig { hosts }).await.unwrap();
    let c = client();
    let mut statuses = HashSet::new();
    let mut blanks = 0;
    for (name, ..) in specs {
        for t in h.truth(name) {
            let p = get(&c, &t.url).await;
            let ct = p.header("content-type");
            let parsed = gknb::report::parse(&gknb::report::Input {
                bytes: &p.body,
                source: &t.url,
                content_type: ct.as_deref(),
            });
            let want = t.expected_status();
            assert_eq!(parsed.status, want, "{}: {:?}", t.url, parsed.reason);
            statuses.insert(want);
            assert_eq!(parsed.year, Some(t.report.year), "{}", t.url);
            if t.kind != ReportKind::Html || want == gknb::model::Status::Legacy {
                continue;
            }
            assert_eq!(parsed.agency.as_deref(), Some(t.report.agency.as_str()));
            assert_eq!(parsed.format, t.report.format);
            for (key, value) in t.report.expected_values() {
                let got = parsed.fact(&key).and_then(|f| f.value);
                assert_eq!(got, Some(value), "{} {key}", t.url);
            }
            for (key, _) in t.report.values.iter().filter(|(_, v)| v.is_empty()) {
                blanks += 1;
                let f = parsed.fact(key);
                assert!(
                    f.is_none_or(|f| f.value.is_none()),
                    "{} {key}: blank is not zero",
                    t.url
                );
            }
        }
    }
    assert!(blanks > 0, "some reports leave zero cells blank");
    assert_eq!(statuses.len(), 5, "every kind was served: {statuses:?}");
}

/// Hanweb stubs link `downfile.jsp?classid=0&filename=<hex>.pdf` (portals.md §2.2): the
/// attachment is named in the query, not the path.
#[tokio::test]
async fn hanweb_downfile_stub_parses_as_attachment_only() {
    let mut s = HostSpec::new("p-hw-stub", addr(54), Family::Hanweb);
    s.reports = 4;
    s.attachment_every = 2;
    let h = start_one(s).await;
    let c = client();
    let stubs: Vec<_> = h
        .truth("p-hw-stub")
        .into_iter()
        .filter(|t| t.kind == ReportKind::AttachmentOnly)
        .collect();
    assert_eq!(stubs.len(), 2);
    for t in stubs {
        let p = get(&c, &t.url).await;
        let parsed = gknb::report::parse(&gknb::report::Input {
            bytes: &p.body,
            source: &t.url,
            content_type: p.header("content-type").as_deref(),
        });
        assert_eq!(
            parsed.status,
            gknb::model::Status::AttachmentOnly,
            "{:?}",
            parsed.reason
        );
    }
}

#[tokio::test]
async fn fault_zoo_starts_and_user_agent_filter() {
    let h = sim::start(SimConfig::fault_zoo(60)).await.unwrap();
    let names: Vec<String> = h.hosts().into_iter().map(|i| i.name).collect();
    assert_eq!(names.len(), 22);
    assert!(names.iter().any(|n| n == "messy"));
    let entry = h.entry_url("ua").unwrap();
    let robots = format!("{}/robots.txt", h.base_url("ua").unwrap());
    let c = client();
    assert_eq!(get(&c, &entry).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&c, &robots).await.status, StatusCode::FORBIDDEN);
    let browser = reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) gknb")
        .build()
        .unwrap();
    assert_eq!(
        browser.get(&entry).send().await.unwrap().status(),
        StatusCode::OK
    );
    let ua_log = h.requests_to("ua");
    assert_eq!(
        ua_log[0].user_agent, None,
        "reqwest sends no User-Agent by default"
    );
    assert!(
        ua_log[2]
            .user_agent
            .as_deref()
            .is_some_and(|u| u.starts_with("Mozilla/5.0"))
    );
    // The hanweb nextgroup link (GET page=1) is the second group.
    let hw = Url::parse(&h.entry_url("hanweb").unwrap()).unwrap();
    let page = get(&c, hw.as_str()).await.text();
    let next = Regex::new(r#"<nextgroup><!\[CDATA\[<a href="([^"]+)""#)
        .unwrap()
        .captures(&page)
        .map(|c| c[1].replace("&amp;", "&"))
        .expect("nextgroup link");
    let xml = get(&c, hw.join(&next).unwrap().as_str()).await.text();
    assert!(xml.contains("<totalrecord>12</totalrecord>"));
    assert!(
        article_links(&hw, &xml).is_empty(),
        "12 records fit in the first group"
    );
}

#[tokio::test]
async fn noise_articles_are_listed_but_not_in_the_truth_and_titles_vary() {
    let mut s = HostSpec::new("noise", addr(55), Family::Trs);
    s.reports = 20;
    s.per_page = 100;
    s.noise_every = 5;
    s.title_variants = true;
    let h = start_one(s).await;
    let c = client();
    let entry = Url::parse(&h.entry_url("noise").unwrap()).unwrap();
    let listing = get(&c, entry.as_str()).await.text();
    let listed: BTreeSet<String> = article_links(&entry, &listing).into_iter().collect();
    let truth = truth_urls(&h, "noise");
    assert_eq!(truth.len(), 20);
    assert_eq!(listed.len(), 24);
    assert!(truth.is_subset(&listed));
    assert!(listing.contains("政府信息公开指南") || listing.contains("工作要点"));
    let extra: Vec<&String> = listed.difference(&truth).collect();
    let page = get(&c, extra[0]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text().contains("<table"));
    let titles: Vec<String> = h.truth("noise").into_iter().map(|t| t.title).collect();
    assert!(titles.iter().any(|t| t.contains("２０")), "full-width year");
    assert!(titles.iter().any(|t| t.ends_with("（超链版）")));
    assert!(titles.iter().any(|t| !t.contains("工作")));
    let no_year = Regex::new(r"^[^0-9０-９]+年政府信息公开工作年度报告$").unwrap();
    assert!(
        titles.iter().any(|t| no_year.is_match(t)),
        "missing year: {titles:?}"
    );
}

/// A toy breadth-first crawl of the `messy` zoo host (TRS): JS shell, sub-columns with query
/// links, `createPageHTML` paging, duplicates, `javascript:` links and the URL zoo must still
/// lead to every report.
#[tokio::test]
async fn messy_zoo_host_is_fully_crawlable() {
    let h = sim::start(SimConfig::fault_zoo(90)).await.unwrap();
    let c = client();
    let entry = Url::parse(&h.entry_url("messy").unwrap()).unwrap();
    let shell = Regex::new(r"location\.replace\('([^']+)'\)").unwrap();
    let count = Regex::new(r"var countPage = (\d+)").unwrap();
    let mut queue = vec![entry.clone()];
    let mut seen: HashSet<String> = HashSet::new();
    let mut found: BTreeSet<String> = BTreeSet::new();
    while let Some(url) = queue.pop() {
        if !seen.insert(url.to_string()) {
            continue;
        }
        let p = get(&c, url.as_str()).await;
        assert_eq!(p.status, StatusCode::OK, "{url}");
        let text = p.text();
        if let Some(t) = shell.captures(&text) {
            queue.push(url.join(&t[1]).unwrap());
            continue;
        }
        found.extend(article_links(&url, &text));
        let pages: usize = count
            .captures(&text)
            .and_then(|c| c[1].parse().ok())
            .unwrap_or(1);
        for k in 1..pages {
            queue.push(url.join(&format!("index_{k}.html")).unwrap());
        }
        for l in hrefs(&text) {
            let Ok(u) = url.join(&l) else { continue };
            if u.host() == entry.host()
                && u.path().ends_with('/')
                && u.path().len() > url.path().len()
            {
                queue.push(u);
            }
        }
    }
    let truth = truth_urls(&h, "messy");
    assert_eq!(truth.len(), 30);
    let missing: Vec<_> = truth.difference(&found).collect();
    assert!(missing.is_empty(), "unreachable: {missing:?}");
    assert!(found.len() > truth.len(), "notices are listed too");
    assert!(h.requests_to("messy").iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn forced_gzip_declared_or_not_and_latency() {
    let mut a = HostSpec::new("gz", addr(56), Family::Trs);
    a.faults.forced_gzip = Some(Gzip::Declared);
    let mut b = HostSpec::new("gz-raw", addr(57), Family::Trs);
    b.faults.forced_gzip = Some(Gzip::Undeclared);
    let mut d = HostSpec::new("slow", addr(58), Family::Trs);
    d.faults.latency = Some(Duration::from_millis(50));
    let h = sim::start(SimConfig {
        hosts: vec![a, b, d],
    })
    .await
    .unwrap();
    // reqwest sends Accept-Encoding only when its decoder is on; turn it off to see the bytes.
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let declared = get(&raw, &h.entry_url("gz").unwrap()).await;
    assert_eq!(declared.header("content-encoding").as_deref(), Some("gzip"));
    assert!(declared.body.starts_with(&[0x1f, 0x8b]));
    let undeclared = get(&raw, &h.entry_url("gz-raw").unwrap()).await;
    assert_eq!(undeclared.header("content-encoding"), None);
    assert!(undeclared.body.starts_with(&[0x1f, 0x8b]));
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&undeclared.body[..]),
        &mut text,
    )
    .unwrap();
    assert!(text.contains("createPageHTML"));
    // A decoding client sees plain HTML.
    let decoding = get(&client(), &h.entry_url("gz").unwrap()).await;
    assert!(decoding.text().contains("createPageHTML"));
    let t0 = std::time::Instant::now();
    assert_eq!(
        get(&raw, &h.entry_url("slow").unwrap()).await.status,
        StatusCode::OK
    );
    assert!(t0.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn multipage_articles_split_into_three_parts() {
    let mut s = HostSpec::new("multi", addr(59), Family::Trs);
    s.reports = 6;
    s.attachment_every = 0;
    s.multipage_every = 2;
    let h = start_one(s).await;
    let c = client();
    let truth = h.truth("multi");
    let split: Vec<_> = truth.iter().filter(|t| t.parts.len() == 3).collect();
    assert_eq!(split.len(), 3);
    assert!(
        truth
            .iter()
            .filter(|t| t.parts.len() == 1)
            .all(|t| t.parts[0] == t.url)
    );
    let t = split[0];
    assert_eq!(t.parts[0], t.url);
    assert!(t.parts[1].ends_with("_1.html") && t.parts[2].ends_with("_2.html"));
    let mut texts = Vec::new();
    for (k, url) in t.parts.iter().enumerate() {
        let p = get(&c, url).await;
        assert_eq!(p.status, StatusCode::OK, "{url}");
        let text = p.text();
        let stem = t.url.rsplit('/').next().unwrap().trim_end_matches(".html");
        assert!(text.contains(&format!("createPageHTML(3, {k}, \"{stem}\", \"html\")")));
        assert!(text.contains(&format!("<title>{}</title>", t.title)));
        texts.push(text);
    }
    let has = |k: usize, s: &str| texts[k].contains(s);
    assert!(has(0, "第二十条第（一）项") && !has(0, "本列数据的勾稽关系") && !has(0, "行政复议"));
    assert!(has(1, "本列数据的勾稽关系") && !has(1, "第二十条") && !has(1, "复议后起诉"));
    assert!(has(2, "复议后起诉") && has(2, "六、其他需要报告的事项") && !has(2, "第二十条"));
    // The first part alone has no table 三; the parts together are the whole report.
    let alone = gknb::report::parse(&gknb::report::Input {
        bytes: texts[0].as_bytes(),
        source: &t.url,
        content_type: Some("text/html; charset=utf-8"),
    });
    assert_ne!(alone.status, gknb::model::Status::Ok);
    let joined = texts.concat();
    let whole = gknb::report::parse(&gknb::report::Input {
        bytes: joined.as_bytes(),
        source: &t.url,
        content_type: Some("text/html; charset=utf-8"),
    });
    assert_eq!(whole.status, t.expected_status(), "{:?}", whole.reason);
    for (key, value) in t.report.expected_values() {
        assert_eq!(whole.fact(&key).and_then(|f| f.value), Some(value), "{key}");
    }
}

#[tokio::test]
async fn gkmlpt_shell_config_and_json_api() {
    let mut flat = HostSpec::new("gk", addr(61), Family::Gkmlpt);
    flat.reports = 25;
    flat.per_page = 10;
    let mut years = HostSpec::new("gk-years", addr(62), Family::Gkmlpt);
    years.reports = 18;
    years.per_page = 2;
    years.layout = Layout::YearColumns;
    let h = sim::start(SimConfig {
        hosts: vec![flat, years],
    })
    .await
    .unwrap();
    let c = client();
    let node = Regex::new(r"\{id:(\d+),name:'([^']*)',post_count:(\d+)").unwrap();
    let post = Regex::new(r"/gkmlpt/content/\d+/\d+/post_\d+\.html$").unwrap();
    for host in ["gk", "gk-years"] {
        let entry = Url::parse(&h.entry_url(host).unwrap()).unwrap();
        assert_eq!(entry.path(), "/gkmlpt/annualreport");
        let shell = get(&c, entry.as_str()).await.text();
        assert!(shell.contains("window._CONFIG = {SID:'755001'"));
        assert!(
            article_links(&entry, &shell).is_empty(),
            "the shell has no links"
        );
        let cats: Vec<(String, String, usize)> = node
            .captures_iter(&shell)
            .map(|c| (c[1].to_string(), c[2].to_string(), c[3].parse().unwrap()))
            .collect();
        assert!(
            cats.iter()
                .any(|(id, name, _)| id == "2629" && name == "政府信息公开年报")
        );
        assert!(cats.iter().any(|(_, name, _)| name == "机构职能"));
        let mut found = BTreeSet::new();
        // Everything under 2629: the category itself and its children (ids above 2629 here).
        for (id, _, count) in cats
            .iter()
            .filter(|(id, ..)| id.as_str() >= "2629" && id.as_str() < "2650")
        {
            let mut seen = 0;
            for page in 1.. {
                let api = entry
                    .join(&format!("/gkmlpt/api/all/{id}?page={page}&sid=755001"))
                    .unwrap();
                let p = get(&c, api.as_str()).await;
                assert_eq!(p.status, StatusCode::OK);
                let json: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
                assert_eq!(json["classify"]["post_count"].as_u64(), Some(*count as u64));
                let articles = json["articles"].as_array().unwrap();
                if articles.is_empty() {
                    break;
                }
                for a in articles {
                    let url = a["url"].as_str().unwrap().to_string();
                    assert!(post.is_match(&url), "{url}");
                    assert!(a["title"].as_str().unwrap().contains("年度报告"));
                    found.insert(url);
                    seen += 1;
                }
            }
            assert_eq!(seen, *count, "category {id}");
        }
        assert_eq!(found, truth_urls(&h, host), "{host}");
    }
    let t = h
        .truth("gk")
        .into_iter()
        .find(|t| t.kind == ReportKind::Html)
        .unwrap();
    let page = get(&c, &t.url).await.text();
    assert!(page.contains("DETAIL:{id:") && page.contains("\\u003C"));
    let parsed = gknb::report::parse(&gknb::report::Input {
        bytes: page.as_bytes(),
        source: &t.url,
        content_type: Some("text/html; charset=utf-8"),
    });
    assert_eq!(parsed.status, t.expected_status(), "{:?}", parsed.reason);
    let empty = get(
        &c,
        &format!(
            "{}/gkmlpt/api/all/2601?page=1&sid=755001",
            h.base_url("gk").unwrap()
        ),
    )
    .await;
    assert!(empty.text().contains("\"articles\":[]"));
}

#[tokio::test]
async fn home_page_links_the_entry() {
    let h = sim::start(SimConfig::fault_zoo(100)).await.unwrap();
    let c = client();
    for name in ["trs", "hanweb", "govcn", "gkmlpt", "jiyue", "messy"] {
        let base = Url::parse(&h.base_url(name).unwrap()).unwrap();
        let home = get(&c, base.as_str()).await;
        assert_eq!(home.status, StatusCode::OK);
        let links: Vec<String> = hrefs(&home.text())
            .into_iter()
            .filter_map(|l| base.join(&l).ok())
            .map(|u| u.to_string())
            .collect();
        assert!(
            links.contains(&h.entry_url(name).unwrap()),
            "{name}: {links:?}"
        );
    }
}

#[tokio::test]
async fn messy_dates_in_listings() {
    let mut s = HostSpec::new("dates", addr(63), Family::Trs);
    s.reports = 20;
    s.faults.messy_dates = true;
    let mut hw = HostSpec::new("dates-hw", addr(64), Family::Hanweb);
    hw.reports = 10;
    hw.faults.messy_dates = true;
    let h = sim::start(SimConfig { hosts: vec![s, hw] }).await.unwrap();
    let c = client();
    let text = get(&c, &h.entry_url("dates").unwrap()).await.text();
    assert!(
        Regex::new(r"\d{4}年\d{2}月\d{2}日")
            .unwrap()
            .is_match(&text)
    );
    assert!(
        Regex::new(r"\[\d{4}-\d{2}-\d{2}\]")
            .unwrap()
            .is_match(&text)
    );
    assert!(
        Regex::new(r"\d{4}-\n\d{2}-\n\d{2}")
            .unwrap()
            .is_match(&text)
    );
    assert!(text.contains("<span class=\"date\">") && text.contains("</span></a></li>"));
    let base = Url::parse(&h.entry_url("dates").unwrap()).unwrap();
    let found: BTreeSet<String> = article_links(&base, &text).into_iter().collect();
    assert_eq!(found, truth_urls(&h, "dates"));
    let xml = get(&c, &h.entry_url("dates-hw").unwrap()).await.text();
    assert!(Regex::new(r"\d{4}/\d{1,2}/\d{1,2}").unwrap().is_match(&xml));
}

#[tokio::test]
async fn drift_moves_the_column_and_the_home_page_follows() {
    let mut hosts = Vec::new();
    for (name, last, family) in [
        ("d-trs", 65, Family::Trs),
        ("d-gov", 66, Family::GovCn),
        ("d-hw", 67, Family::Hanweb),
    ] {
        let mut s = HostSpec::new(name, addr(last), family);
        s.reports = 8;
        hosts.push(s);
    }
    let h = sim::start(SimConfig { hosts }).await.unwrap();
    let c = client();
    for name in ["d-trs", "d-gov", "d-hw"] {
        let old_entry = h.entry_url(name).unwrap();
        let added = h.add_report(name, 2025).unwrap();
        let old_truth = truth_urls(&h, name);
        assert!(old_truth.contains(&added.url));
        let new_entry = h.drift(name).unwrap();
        assert_ne!(new_entry, old_entry);
        assert_eq!(h.entry_url(name).as_deref(), Some(new_entry.as_str()));
        let moved = get(&c, &old_entry).await;
        assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY, "{name}");
        assert_eq!(moved.header("location").as_deref(), Some("/"));
        let base = Url::parse(&h.base_url(name).unwrap()).unwrap();
        let home = get(&c, base.as_str()).await.text();
        let linked: Vec<String> = hrefs(&home)
            .into_iter()
            .filter_map(|l| base.join(&l).ok())
            .map(|u| u.to_string())
            .collect();
        assert!(
            linked.contains(&new_entry),
            "{name}: home links the new column"
        );
        let new_truth = truth_urls(&h, name);
        assert_eq!(new_truth.len(), 9, "{name}: the added report survives");
        assert!(
            new_truth.is_disjoint(&old_truth),
            "{name}: every article moved"
        );
        let entry = Url::parse(&new_entry).unwrap();
        let listing = get(&c, entry.as_str()).await;
        assert_eq!(listing.status, StatusCode::OK);
        let found: BTreeSet<String> = article_links(&entry, &listing.text()).into_iter().collect();
        assert_eq!(found, new_truth, "{name}");
        for old in old_truth.iter().take(2) {
            let s = get(&c, old).await.status;
            assert!(
                s == StatusCode::NOT_FOUND || s == StatusCode::MOVED_PERMANENTLY,
                "{old}: {s}"
            );
        }
        for new in new_truth.iter().take(2) {
            assert_eq!(get(&c, new).await.status, StatusCode::OK, "{new}");
        }
    }
}

#[tokio::test]
async fn shutdown_closes_the_listeners() {
    let h = start_one(HostSpec::new("bye", addr(68), Family::Trs)).await;
    let entry = h.entry_url("bye").unwrap();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(c.get(&entry).send().await.unwrap().status(), StatusCode::OK);
    h.shutdown();
    // Aborted tasks drop their listener at the next poll; give the runtime a turn.
    tokio::task::yield_now().await;
    let err = c
        .get(&entry)
        .send()
        .await
        .expect_err("nothing listens any more");
    assert!(err.is_connect() || err.is_request(), "{err}");
}

#[tokio::test]
async fn jiyue_navigation_columns_and_ajax_pages() {
    let mut s = HostSpec::new("jy", addr(69), Family::Jiyue);
    s.reports = 30;
    s.per_page = 4;
    let h = start_one(s).await;
    let c = client();
    let entry = Url::parse(&h.entry_url("jy").unwrap()).unwrap();
    assert_eq!(entry.path(), "/public/jgdh.html");
    let nav = get(&c, entry.as_str()).await.text();
    let columns: Vec<Url> = hrefs(&nav)
        .into_iter()
        .filter(|l| l.contains("catId=2003"))
        .map(|l| entry.join(&l).unwrap())
        .collect();
    assert_eq!(columns.len(), 5, "30 reports over 6 years: 5 agencies");
    assert!(nav.contains("catId=6786"), "a decoy category per organ");
    let page_url = Regex::new(r"var pageUrl = '([^']+)'").unwrap();
    let total = Regex::new(r"共(\d+)页").unwrap();
    let mut found = BTreeSet::new();
    for col in &columns {
        let p = get(&c, col.as_str()).await;
        assert_eq!(p.status, StatusCode::OK, "{col}");
        let text = p.text();
        let first = article_links(col, &text);
        assert_eq!(first.len(), 4);
        found.extend(first);
        let pages: usize = total
            .captures(&text)
            .and_then(|c| c[1].parse().ok())
            .unwrap();
        assert_eq!(pages, 2, "6 reports, 4 per page");
        let ajax = page_url.captures(&text).map(|c| c[1].to_string()).unwrap();
        for n in 2..=pages + 1 {
            let frag = get(&c, col.join(&format!("{ajax}{n}")).unwrap().as_str()).await;
            assert_eq!(frag.status, StatusCode::OK);
            let text = frag.text();
            assert!(!text.contains("<html"), "a fragment");
            let links = article_links(col, &text);
            if n > pages {
                assert!(links.is_empty() && text.contains("暂无相关信息"));
            }
            found.extend(links);
        }
        let other = get(
            &c,
            col.as_str().replace("catId=2003", "catId=6786").as_str(),
        )
        .await;
        assert!(other.text().contains("暂无相关信息"));
    }
    assert_eq!(found, truth_urls(&h, "jy"));
    let t = h
        .truth("jy")
        .into_iter()
        .find(|t| t.kind == ReportKind::Html)
        .unwrap();
    assert!(t.url.contains("/public/168"));
    let page = get(&c, &t.url).await.text();
    assert!(page.contains("<div class=\"wzcon\""));
}

#[tokio::test]
async fn trickling_body_trips_a_total_timeout_but_not_a_read_timeout() {
    let mut s = HostSpec::new("trickle", addr(72), Family::Trs);
    s.reports = 5;
    s.faults.slow_body = Some(SlowBody {
        chunk_bytes: 256,
        every: Duration::from_millis(15),
    });
    let h = start_one(s).await;
    let entry = h.entry_url("trickle").unwrap();
    let c = client();
    let err = async {
        c.get(&entry)
            .timeout(Duration::from_millis(40))
            .send()
            .await?
            .bytes()
            .await
    }
    .await
    .expect_err("the whole body takes longer than 40 ms");
    assert!(err.is_timeout(), "{err}");
    let patient = reqwest::Client::builder()
        .read_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let r = patient.get(&entry).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(body.len() > 4 * 256, "{}", body.len());
    assert!(body.contains("createPageHTML") && body.ends_with("</html>\n"));
}
