//! The downloader's side of a frontier row: fetch it politely, then analyse what came back
//! (discovery on listings, parsing on report pages) on the blocking pool, so the scheduler's
//! thread never does CPU-heavy work.
//!
//! A report page split over several pages (TRS `createPageHTML(3, 0, "t…", "html")`: the
//! article continues at `t…_1.html`, `t…_2.html`) is one report: its further pages are fetched
//! here, through the same [`Fetcher`] (rate limits, robots.txt), parsed together with the first
//! page, and handed to the pipeline to be archived in the transaction that archives the report
//! and finishes its row (their own rows, kind `part`, are written finished in it too): after a
//! kill, the report's row is pending exactly when none of its pages is archived. A further page
//! that does not exist (404, 410, robots.txt) is left out with a `page_missing` warning; one
//! that fails otherwise leaves the report unread and its row failed, to be retried next run.

use std::sync::Arc;

use tokio::sync::Semaphore;
use url::Url;

use super::state::{Item, Kind};
use super::{Found, TaskResult};
use crate::decode::Decoded;
use crate::discover::{self, Family};
use crate::fetch::{self, Fetched, Fetcher, Method, Outcome};
use crate::report;
use crate::store::{PreparedBody, PreparedReport};

/// A further page of a multi-page report, archived with it (as an attachment document: it is
/// not a report of its own). Its body is hashed and compressed on the analysis threads, after
/// which `response.body` is emptied.
pub(super) struct PartPage {
    pub response: fetch::Response,
    /// The URL requested; `response.final_url` is after redirects.
    pub url: Url,
    pub body: Option<PreparedBody>,
}

impl PartPage {
    /// Size of the page's body as fetched.
    pub fn size(&self) -> usize {
        self.body
            .as_ref()
            .map_or(self.response.body.len(), |b| b.size)
    }
}

fn is_html(resp: &fetch::Response) -> bool {
    if let Some(ct) = &resp.content_type {
        let ct = ct.to_ascii_lowercase();
        if ct.contains("html") || ct.contains("xml") {
            return true;
        }
        if ct.contains("pdf") || ct.contains("msword") || ct.contains("officedocument") {
            return false;
        }
    }
    let head = &resp.body[..resp.body.len().min(512)];
    let text = String::from_utf8_lossy(head);
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
}

/// JSON answers (the gkmlpt listing API) go to discovery too.
fn is_json(resp: &fetch::Response) -> bool {
    if resp
        .content_type
        .as_deref()
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
    {
        return true;
    }
    let head = &resp.body[..resp.body.len().min(64)];
    String::from_utf8_lossy(head)
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

/// Runs CPU work on the blocking pool under an analysis permit. The permit is given back as
/// soon as the work is done, not when the calling task next runs: a slow wake-up held it long
/// enough to make parsing the bottleneck. A bounded number of parses at a time: a parse's DOM
/// is many times the page's size.
async fn on_blocking<T: Send + 'static>(
    analysis: &Arc<Semaphore>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let permit = analysis.clone().acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || {
        let out = work();
        drop(permit);
        out
    })
    .await
}

fn failed(item: Item, error: String, attempts: u32) -> TaskResult {
    TaskResult {
        fetched: Fetched {
            outcome: Outcome::Failed(error),
            attempts,
        },
        item,
        found: Found::Nothing,
        parts: Vec::new(),
        parts_error: None,
    }
}

/// Fetches one row and analyses the response.
pub(super) async fn run_task(
    fetcher: Arc<Fetcher>,
    analysis: Arc<Semaphore>,
    item: Item,
) -> TaskResult {
    let req = fetch::Request {
        url: match Url::parse(&item.url) {
            Ok(u) => u,
            Err(e) => return failed(item, format!("bad URL: {e}"), 0),
        },
        method: if item.method == "POST" {
            Method::Post
        } else {
            Method::Get
        },
        body: item.body.clone(),
        referer: item.referer.as_deref().and_then(|r| Url::parse(r).ok()),
        etag: item.etag.clone(),
        last_modified: item.last_modified.clone(),
    };
    let fetched = fetcher.fetch(&req).await;
    let mut attempts = fetched.attempts;
    let analysable = item.kind == Kind::Listing || item.kind == Kind::Report;
    let resp = match fetched.outcome {
        Outcome::Fetched(resp) if analysable => resp,
        outcome => {
            return TaskResult {
                item,
                fetched: Fetched { outcome, attempts },
                found: Found::Nothing,
                parts: Vec::new(),
                parts_error: None,
            };
        }
    };
    let kind = item.kind;
    let family = Family::from_name(&item.family).unwrap_or_default();
    let source = item.url.clone();
    // The body moves to the blocking pool and back: report pages are large.
    let first = on_blocking(&analysis, move || {
        let step = analyse_step(kind, family, &source, &resp);
        (resp, step)
    })
    .await;
    let (resp, step) = match first {
        Ok(done) => done,
        Err(e) => return failed(item, format!("analysis failed: {e}"), attempts),
    };
    let (resp, found, parts, parts_error) = match step {
        Step::Done(found) => (resp, found, Vec::new(), None),
        Step::Parts(links, decoded) => {
            let fetched = fetch_parts(&fetcher, &req.url, &links.continuations).await;
            attempts += fetched.attempts;
            let source = item.url.clone();
            let error = fetched.error.clone();
            let joined = on_blocking(&analysis, move || {
                let (found, parts) = analyse_parts(&source, &resp, *decoded, *links, fetched);
                (resp, found, parts)
            })
            .await;
            match joined {
                Ok((resp, found, parts)) => (resp, found, parts, error),
                Err(e) => return failed(item, format!("analysis failed: {e}"), attempts),
            }
        }
    };
    TaskResult {
        item,
        fetched: Fetched {
            outcome: Outcome::Fetched(resp),
            attempts,
        },
        found,
        parts,
        parts_error,
    }
}

/// What the first look at a response found.
enum Step {
    Done(Found),
    /// A report page whose article continues on further pages: they are to be fetched and
    /// parsed with it. Carries the page's links and its decoded text.
    Parts(Box<discover::ReportLinks>, Box<Decoded>),
}

/// Discovery for listings; links and parsing for reports. CPU work, run off the async threads.
#[cfg(test)]
pub(super) fn analyse(kind: Kind, family: Family, source: &str, resp: &fetch::Response) -> Found {
    match analyse_step(kind, family, source, resp) {
        Step::Done(found) => found,
        Step::Parts(links, decoded) => {
            analyse_parts(source, resp, *decoded, *links, FetchedParts::default()).0
        }
    }
}

/// [`analyse`], stopping before the parse of a report page that continues on further pages.
fn analyse_step(kind: Kind, family: Family, source: &str, resp: &fetch::Response) -> Step {
    let html = is_html(resp);
    let decode = || crate::decode::decode(&resp.body, resp.content_type.as_deref());
    match kind {
        Kind::Listing if html || is_json(resp) => Step::Done(Found::Listing(discover::discover(
            &resp.final_url,
            &decode().text,
            family,
        ))),
        Kind::Report => {
            let input = report::Input {
                bytes: &resp.body,
                source,
                content_type: resp.content_type.as_deref(),
            };
            // An HTML page is decoded once, for its links and for the parser.
            let (links, parsed) = if html {
                let decoded = decode();
                let links = discover::report_links(&resp.final_url, &decoded.text);
                if !links.continuations.is_empty()
                    && report::parse_attachment(&resp.body, source).is_none()
                {
                    return Step::Parts(Box::new(links), Box::new(decoded));
                }
                (links, report::parse_decoded(&input, &decoded))
            } else {
                (discover::ReportLinks::default(), report::parse(&input))
            };
            let prepared = PreparedReport::new(&resp.body, &parsed).ok().map(Box::new);
            Step::Done(Found::Report(links, Some(Box::new(parsed)), prepared))
        }
        _ => Step::Done(Found::Nothing),
    }
}

/// The further pages of a report, as fetched.
#[derive(Default)]
struct FetchedParts {
    /// Pages answered 2xx, in page order.
    pages: Vec<(Url, fetch::Response)>,
    /// Pages that do not exist (404, 410) or that robots.txt forbids: (URL, why). The report
    /// is read without them.
    missing: Vec<(String, String)>,
    /// Why a page could not be fetched this time (a timeout, a 5xx, a challenge): the report
    /// is then not read, and its row is retried by the next run.
    error: Option<String>,
    attempts: u32,
}

/// Fetches the further pages of a report, in order, with the report page as referer. Stops at
/// the first page that cannot be fetched this time.
async fn fetch_parts(fetcher: &Fetcher, report: &Url, urls: &[Url]) -> FetchedParts {
    let mut out = FetchedParts::default();
    for url in urls {
        let mut req = fetch::Request::get(url.clone());
        req.referer = Some(report.clone());
        let fetched = fetcher.fetch(&req).await;
        out.attempts += fetched.attempts;
        let why = match fetched.outcome {
            Outcome::Fetched(resp) => {
                out.pages.push((url.clone(), resp));
                continue;
            }
            Outcome::Status(resp) if matches!(resp.status, 404 | 410) => {
                out.missing
                    .push((url.to_string(), format!("HTTP {}", resp.status)));
                continue;
            }
            Outcome::Disallowed => {
                out.missing
                    .push((url.to_string(), "disallowed by robots.txt".to_string()));
                continue;
            }
            Outcome::Status(resp) => format!("HTTP {}", resp.status),
            Outcome::NotModified => "HTTP 304 to an unconditional request".to_string(),
            Outcome::Blocked(ch) => ch.reason().to_string(),
            Outcome::Failed(e) => e,
        };
        out.error = Some(format!("page {url} of the report: {why}"));
        break;
    }
    out
}

/// Parses a report from its first page (already decoded) and its further pages joined, and
/// prepares every page for the archive. When a page could not be fetched, nothing is parsed:
/// the pages fetched are archived and the report is read on a later run.
fn analyse_parts(
    source: &str,
    resp: &fetch::Response,
    decoded: Decoded,
    mut links: discover::ReportLinks,
    fetched: FetchedParts,
) -> (Found, Vec<PartPage>) {
    // Archived with the report, not queued as rows of their own.
    links.continuations.clear();
    // The attachments a further page links (a stub split over pages may name its file on the
    // last one) are fetched like the first page's.
    for (_, page) in &fetched.pages {
        if !is_html(page) {
            continue;
        }
        let text = crate::decode::decode(&page.body, page.content_type.as_deref()).text;
        for link in discover::report_links(&page.final_url, &text).attachments {
            if !links.attachments.iter().any(|l| l.url == link.url) {
                links.attachments.push(link);
            }
        }
    }
    let parsed = fetched.error.is_none().then(|| {
        let inputs: Vec<report::Input> = fetched
            .pages
            .iter()
            .map(|(url, r)| report::Input {
                bytes: &r.body,
                source: url.as_str(),
                content_type: r.content_type.as_deref(),
            })
            .collect();
        let first = report::Input {
            bytes: &resp.body,
            source,
            content_type: resp.content_type.as_deref(),
        };
        for (url, why) in &fetched.missing {
            tracing::info!(report = source, page = %url, why = %why, "report page missing");
        }
        let missing: Vec<&str> = fetched.missing.iter().map(|(u, _)| u.as_str()).collect();
        report::parse_pages(&first, decoded, &inputs, &missing)
    });
    let prepared = parsed
        .as_ref()
        .and_then(|p| PreparedReport::new(&resp.body, p).ok())
        .map(Box::new);
    let parts = fetched
        .pages
        .into_iter()
        .map(|(url, mut response)| {
            let body = PreparedBody::new(&response.body).ok();
            if body.is_some() {
                response.body = Vec::new();
            }
            PartPage {
                response,
                url,
                body,
            }
        })
        .collect();
    (Found::Report(links, parsed.map(Box::new), prepared), parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Format, Status};

    fn response(body: Vec<u8>, content_type: Option<&str>) -> fetch::Response {
        fetch::Response {
            final_url: Url::parse("http://127.0.0.1/nb/202401/t20240126_1.html").unwrap(),
            status: 200,
            content_type: content_type.map(str::to_string),
            etag: None,
            last_modified: None,
            location: None,
            body,
        }
    }

    /// What `analyse` parsed, next to what `report::parse` makes of the same bytes alone.
    fn both(resp: &fetch::Response) -> (crate::model::ParsedReport, crate::model::ParsedReport) {
        let source = resp.final_url.as_str();
        let Found::Report(_, Some(parsed), _) = analyse(Kind::Report, Family::Auto, source, resp)
        else {
            panic!("not analysed as a report");
        };
        let alone = report::parse(&report::Input {
            bytes: &resp.body,
            source,
            content_type: resp.content_type.as_deref(),
        });
        (*parsed, alone)
    }

    /// A report page declaring `charset` in a `<meta>` (none when `None`).
    fn page(charset: Option<&str>) -> String {
        // 镕 and 堃 are outside GB2312: GBK bytes must still come back as them.
        let r = crate::synth::consistent(Format::F2021, 2023, "某市镕堃局", 7);
        let mut style = crate::synth::HtmlStyle::varied(7);
        style.meta_charset = charset.map(str::to_string);
        let html = crate::synth::render_html(&r, &style);
        assert!(html.contains("镕堃"));
        html
    }

    fn gbk(html: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(html);
        assert!(!unmappable);
        bytes.into_owned()
    }

    #[test]
    fn a_report_page_parses_the_same_when_decoded_once() {
        let utf8 = response(
            page(Some("utf-8")).into_bytes(),
            Some("text/html; charset=utf-8"),
        );
        let (once, alone) = both(&utf8);
        assert_eq!(once.status, Status::Ok, "{:?}", once.reason);
        assert_eq!(once.encoding, "utf-8 (header)");
        assert_eq!(once, alone);

        // GBK bytes, no charset in the header: the page's meta decides, the same way on both
        // paths; without a meta, the detector does.
        for (charset, how) in [
            (Some("gb2312"), "gb18030 (meta)"),
            (None, "gb18030 (detector)"),
        ] {
            let resp = response(gbk(&page(charset)), Some("text/html"));
            let (once, alone) = both(&resp);
            assert_eq!(once.status, Status::Ok, "{:?}", once.reason);
            assert_eq!(once.encoding, how);
            assert!(once.agency.as_deref().is_some_and(|a| a.contains("镕堃")));
            assert_eq!(once, alone);
        }
    }

    /// A report page split in two: tables 二 and 三 on the first page, 四 on the second.
    fn split_page() -> (fetch::Response, fetch::Response) {
        let html = page(Some("utf-8"));
        let cut = html.find("四、政府信息公开行政复议").unwrap();
        let cut = html[..cut].rfind('<').unwrap();
        let pager = r#"<script>createPageHTML(2, 0, "t20240126_1", "html");</script>"#;
        let first = format!("{}{pager}</body></html>", &html[..cut]);
        let second = format!("<html><body>{}", &html[cut..]);
        let mut part = response(second.into_bytes(), Some("text/html; charset=utf-8"));
        part.final_url = Url::parse("http://127.0.0.1/nb/202401/t20240126_1_1.html").unwrap();
        (
            response(first.into_bytes(), Some("text/html; charset=utf-8")),
            part,
        )
    }

    #[test]
    fn a_split_report_is_read_from_all_its_pages() {
        let (first, second) = split_page();
        let source = first.final_url.to_string();
        let Step::Parts(links, decoded) = analyse_step(Kind::Report, Family::Auto, &source, &first)
        else {
            panic!("the pager was not seen");
        };
        assert_eq!(links.continuations, vec![second.final_url.clone()]);
        let fetched = FetchedParts {
            pages: vec![(second.final_url.clone(), second.clone())],
            ..FetchedParts::default()
        };
        let (found, parts) = analyse_parts(&source, &first, *decoded, *links, fetched);
        let Found::Report(links, Some(parsed), Some(_)) = found else {
            panic!("not parsed");
        };
        assert!(links.continuations.is_empty(), "queued as rows too");
        assert_eq!(parsed.status, Status::Ok, "{:?}", parsed.reason);
        assert_eq!(parsed.encoding, "utf-8 (header)");
        assert!(parsed.warnings.iter().all(|w| w.rule != "page_missing"));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].url, second.final_url);
        assert!(parts[0].body.is_some() && parts[0].response.body.is_empty());

        // Page 2 does not exist: the report is read without it, and says so.
        let Found::Report(_, Some(alone), _) = analyse(Kind::Report, Family::Auto, &source, &first)
        else {
            panic!("not parsed");
        };
        assert_eq!(alone.status, Status::Unparsed);
        let missing = FetchedParts {
            missing: vec![(second.final_url.to_string(), "HTTP 404".into())],
            ..FetchedParts::default()
        };
        let Step::Parts(links, decoded) = analyse_step(Kind::Report, Family::Auto, &source, &first)
        else {
            panic!("the pager was not seen");
        };
        let (found, parts) = analyse_parts(&source, &first, *decoded, *links, missing);
        let Found::Report(_, Some(parsed), _) = found else {
            panic!("not parsed");
        };
        assert!(parts.is_empty());
        assert!(parsed.warnings.iter().any(|w| w.rule == "page_missing"));
        assert_eq!(parsed.reason, alone.reason);

        // Page 2 failed this time: nothing is parsed (the row is retried), the page fetched
        // before the failure is still archived.
        let failed = FetchedParts {
            pages: vec![(second.final_url.clone(), second.clone())],
            error: Some("page 3 of the report: HTTP 503".into()),
            ..FetchedParts::default()
        };
        let Step::Parts(links, decoded) = analyse_step(Kind::Report, Family::Auto, &source, &first)
        else {
            panic!("the pager was not seen");
        };
        let (found, parts) = analyse_parts(&source, &first, *decoded, *links, failed);
        assert!(matches!(found, Found::Report(_, None, None)));
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn a_pdf_served_as_html_is_still_read_as_a_pdf() {
        let resp = response(b"%PDF-1.4 not really".to_vec(), Some("text/html"));
        let (once, alone) = both(&resp);
        assert_eq!(once, alone);
    }
}
