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
    let text = || crate::decode::decode(&resp.body, resp.content_type.as_deref()).text;
    match kind {
        Kind::Listing if html || is_json(resp) => {
            Found::Listing(discover::discover(&resp.final_url, &text(), family))
        }
        Kind::Report => {
            let links = if html {
                discover::report_links(&resp.final_url, &text())
            } else {
                discover::ReportLinks::default()
            };
            let parsed = report::parse(&report::Input {
                bytes: &resp.body,
                source,
                content_type: resp.content_type.as_deref(),
            });
            let prepared = PreparedReport::new(&resp.body, &parsed).ok().map(Box::new);
            Found::Report(links, Some(Box::new(parsed)), prepared)
        }
        _ => Found::Nothing,
    }
}
