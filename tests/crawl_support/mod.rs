//! What the crawl tests share: comparing an ingested report with the simulator's truth, and
//! naming a request the way the simulator's log does. Each test file uses part of it.
#![allow(dead_code)]

use gknb::model::Status;
use gknb::sim::{ReportKind, TruthReport};
use gknb::store::StoredReport;

/// The status a truth report must be stored with.
pub fn expected_status(t: &TruthReport) -> Status {
    match t.kind {
        ReportKind::Html => Status::Ok,
        ReportKind::ImageOnly => Status::ImageOnly,
        ReportKind::AttachmentOnly => Status::AttachmentOnly,
    }
}

/// Asserts that `stored` has the truth's year and status and, when it holds the agency-year's
/// facts, every value the simulator published.
pub fn assert_matches_truth(stored: &StoredReport, t: &TruthReport) {
    assert_eq!(stored.year, Some(t.report.year), "{}", t.url);
    assert_eq!(
        stored.status,
        expected_status(t).as_str(),
        "{}: {:?}",
        t.url,
        stored.reason
    );
    if t.kind == ReportKind::Html && stored.is_primary {
        for (key, value) in t.report.expected_values() {
            let got = stored
                .facts
                .iter()
                .find(|f| f.metric == key)
                .and_then(|f| f.value);
            assert_eq!(got, Some(value), "{} {key}", t.url);
        }
    }
}

/// `path?query` of a URL: how the simulator's request log names a request (POSTs are told
/// apart by their query).
pub fn path_of(url: &str) -> String {
    let Ok(u) = url::Url::parse(url) else {
        panic!("not a URL: {url}");
    };
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

/// Crawl options for a quick test crawl of the simulator: every host at `rate` requests per
/// second (burst 4, four requests in flight), short timeouts and backoff, `retries` retries.
pub fn fast_options(rate: f64, retries: u32) -> gknb::crawl::CrawlOptions {
    use std::time::Duration;
    gknb::crawl::CrawlOptions {
        fetch: gknb::fetch::FetchConfig {
            user_agent: "Mozilla/5.0 (compatible; gknb-test/0; +http://example.invalid)".into(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            retries,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_secs(1),
            max_body_bytes: 8 << 20,
            max_redirects: 5,
            robots: gknb::config::RobotsPolicy::Obey,
            concurrency: 32,
            default_policy: gknb::fetch::HostPolicy {
                rate,
                burst: 4,
                accept_invalid_certs: false,
            },
        },
        max_listing_pages: 50,
        max_depth: 3,
        per_host_parallel: 4,
        max_in_flight: 256,
        progress: false,
        max_pages: None,
    }
}

/// The first column of `sql`'s rows, as text, from the archive at `db`.
pub fn column(db: &std::path::Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Ids of the reports stored for the document fetched from `url` or redirected to it: exactly
/// one when the crawl found the report once.
pub fn report_ids(archive: &gknb::store::Archive, url: &str) -> Vec<i64> {
    let mut st = archive
        .conn()
        .prepare(
            "SELECT r.id FROM reports r JOIN documents d ON d.id = r.document_id \
             WHERE ?1 IN (d.url, d.final_url)",
        )
        .unwrap();
    st.query_map([url], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Asserts that the report at `t.url` was stored exactly once and matches the simulator's
/// truth (see [`assert_matches_truth`]); returns it. `context` prefixes the failure message.
pub fn assert_stored_once(
    archive: &gknb::store::Archive,
    t: &TruthReport,
    context: &str,
) -> StoredReport {
    let ids = report_ids(archive, &t.url);
    assert_eq!(
        ids.len(),
        1,
        "{context}{} ingested {} times",
        t.url,
        ids.len()
    );
    let stored = archive.report(ids[0]).unwrap().unwrap();
    assert_matches_truth(&stored, t);
    stored
}
