//! The downloader's side of a frontier row: fetch it politely, then analyse what came back
//! (discovery on listings, parsing on report pages) on the blocking pool, so the scheduler's
//! thread never does CPU-heavy work.

use std::sync::Arc;

use tokio::sync::Semaphore;
use url::Url;

use super::state::{Item, Kind};
use super::{Found, TaskResult};
use crate::discover::{self, Family};
use crate::fetch::{self, Fetched, Fetcher, Method, Outcome};
use crate::report;
use crate::store::PreparedReport;

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

/// Fetches one row and analyses the response.
pub(super) async fn run_task(
    fetcher: Arc<Fetcher>,
    analysis: Arc<Semaphore>,
    item: Item,
) -> TaskResult {
    let req = fetch::Request {
        url: match Url::parse(&item.url) {
            Ok(u) => u,
            Err(e) => {
                return TaskResult {
                    fetched: Fetched {
                        outcome: Outcome::Failed(format!("bad URL: {e}")),
                        attempts: 0,
                    },
                    item,
                    found: Found::Nothing,
                };
            }
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
    let analysable = item.kind == Kind::Listing || item.kind == Kind::Report;
    let (fetched, found) = match fetched.outcome {
        Outcome::Fetched(resp) if analysable => {
            let kind = item.kind;
            let family = Family::from_name(&item.family).unwrap_or_default();
            let source = item.url.clone();
            let attempts = fetched.attempts;
            // A bounded number of parses at a time: a parse's DOM is many times the page's
            // size. The permit is given back as soon as the parse is done, not when this task
            // next runs: a slow wake-up held it long enough to make parsing the bottleneck.
            let permit = analysis.acquire_owned().await.ok();
            // The body moves to the blocking pool and back: report pages are large.
            let joined = tokio::task::spawn_blocking(move || {
                let found = analyse(kind, family, &source, &resp);
                drop(permit);
                (resp, found)
            })
            .await;
            match joined {
                Ok((resp, found)) => (
                    Fetched {
                        outcome: Outcome::Fetched(resp),
                        attempts,
                    },
                    found,
                ),
                Err(e) => (
                    Fetched {
                        outcome: Outcome::Failed(format!("analysis failed: {e}")),
                        attempts,
                    },
                    Found::Nothing,
                ),
            }
        }
        outcome => (
            Fetched {
                outcome,
                attempts: fetched.attempts,
            },
            Found::Nothing,
        ),
    };
    TaskResult {
        item,
        fetched,
        found,
    }
}

/// Discovery for listings; links and parsing for reports. CPU work, run off the async threads.
pub(super) fn analyse(kind: Kind, family: Family, source: &str, resp: &fetch::Response) -> Found {
    let html = is_html(resp);
    let decode = || crate::decode::decode(&resp.body, resp.content_type.as_deref());
    match kind {
        Kind::Listing if html || is_json(resp) => {
            Found::Listing(discover::discover(&resp.final_url, &decode().text, family))
        }
        Kind::Report => {
            let input = report::Input {
                bytes: &resp.body,
                source,
                content_type: resp.content_type.as_deref(),
            };
            // An HTML page is decoded once, for its links and for the parser.
            let (links, parsed) = if html {
                let decoded = decode();
                (
                    discover::report_links(&resp.final_url, &decoded.text),
                    report::parse_decoded(&input, &decoded),
                )
            } else {
                (discover::ReportLinks::default(), report::parse(&input))
            };
            let prepared = PreparedReport::new(&resp.body, &parsed).ok().map(Box::new);
            Found::Report(links, Some(Box::new(parsed)), prepared)
        }
        _ => Found::Nothing,
    }
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

    #[test]
    fn a_pdf_served_as_html_is_still_read_as_a_pdf() {
        let resp = response(b"%PDF-1.4 not really".to_vec(), Some("text/html"));
        let (once, alone) = both(&resp);
        assert_eq!(once, alone);
    }
}
