//! Multi-page TRS articles (`createPageHTML(3, 0, "tYYYYMMDD_ID", "html")` inside the article,
//! the rest at `t…_1.html`, `t…_2.html`): the crawler fetches the further pages with the
//! report, archives each once, and reads the report from all of them (table 二 on the first
//! page, 三 on the second, 四 on the third); the report is found and ingested once, and
//! `reparse` reads it the same way from the archive.

mod crawl_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use gknb::crawl::{self, CrawlOptions, Seed};
use gknb::discover::Family as Hint;
use gknb::model::Status;
use gknb::sim::{self, Charset, Family, HostSpec, ReportKind, SimConfig, SimHandle};
use url::Url;

fn world() -> SimConfig {
    let mut trs = HostSpec::new(
        "mp-trs",
        SocketAddr::from(([127, 0, 0, 170], 0)),
        Family::Trs,
    );
    trs.reports = 14;
    trs.per_page = 5;
    trs.multipage_every = 3;
    // GBK pages without a header charset: every page is decoded on its own.
    let mut gbk = HostSpec::new(
        "mp-gbk",
        SocketAddr::from(([127, 0, 0, 171], 0)),
        Family::TrsOneBased,
    );
    gbk.reports = 10;
    gbk.per_page = 4;
    gbk.multipage_every = 2;
    gbk.charset = Charset::GbkNoHeader;
    SimConfig {
        hosts: vec![trs, gbk],
    }
}

fn options() -> CrawlOptions {
    crawl_support::fast_options(200.0, 1)
}

fn seeds(sim: &SimHandle) -> Vec<Seed> {
    sim.hosts()
        .into_iter()
        .map(|h| Seed {
            name: h.name,
            region: String::new(),
            url: Url::parse(&h.entry_url).unwrap(),
            family: Hint::Auto,
            rate: None,
            burst: None,
            accept_invalid_certs: None,
            hosts: Vec::new(),
        })
        .collect()
}

fn strings(db: &Path, sql: &str, arg: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    st.query_map([arg], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_page_reports_are_read_from_all_their_pages() {
    let sim = sim::start(world()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("multipage.sqlite");
    let summary = crawl::crawl(&db, &seeds(&sim), options()).await.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let names = ["mp-trs", "mp-gbk"];
    let truth: Vec<sim::TruthReport> = names.iter().flat_map(|n| sim.truth(n)).collect();
    for name in names {
        let split = sim.truth(name).iter().filter(|t| t.parts.len() > 1).count();
        assert!(split >= 3, "{name}: {split} split reports");
    }

    // Every report found once; no further page taken for a report.
    let found = strings(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = ?1 AND state = 'done' ORDER BY url",
        "report",
    );
    let found_set: BTreeSet<String> = found.iter().cloned().collect();
    assert_eq!(found.len(), found_set.len(), "a report queued twice");
    let truth_urls: BTreeSet<String> = truth.iter().map(|t| t.url.clone()).collect();
    assert_eq!(found_set, truth_urls);
    assert_eq!(summary.new_report_count as usize, truth.len());

    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    let log = sim.requests();
    for t in &truth {
        // The whole report, though no single page of a split one holds tables 二, 三 and 四.
        let stored = crawl_support::assert_stored_once(&archive, t, "");
        if t.parts.len() > 1 && t.kind == ReportKind::Html {
            assert_eq!(stored.status, Status::Ok.as_str(), "{}", t.url);
            // The first page's title, agency and year, though every page repeats them.
            assert_eq!(stored.title.as_deref(), Some(t.title.as_str()), "{}", t.url);
            assert_eq!(stored.agency, t.report.agency, "{}", t.url);
            assert!(
                stored
                    .facts
                    .iter()
                    .any(|f| f.metric.starts_with("appeals."))
            );
        }
        // Every page fetched once, archived once (the further ones as attachments, with a
        // finished frontier row each), and none of the further pages ingested as a report.
        for (k, url) in t.parts.iter().enumerate() {
            let path = crawl_support::path_of(url);
            let hits = log
                .iter()
                .filter(|q| q.path == path && q.status == 200)
                .count();
            assert_eq!(hits, 1, "{path} fetched {hits} times");
            let kinds = strings(&db, "SELECT kind FROM documents WHERE url = ?1", url);
            let want = if k == 0 { "report" } else { "attachment" };
            assert_eq!(kinds, vec![want], "{url}");
            if k > 0 {
                let rows = strings(
                    &db,
                    "SELECT f.state || ' ' || f.kind FROM crawl_frontier f
                     JOIN documents d ON d.id = f.doc_id WHERE f.url = ?1",
                    url,
                );
                assert_eq!(rows, vec!["done part"], "{url}");
                let reports = strings(
                    &db,
                    "SELECT CAST(r.id AS TEXT) FROM reports r JOIN documents d ON d.id = r.document_id
                     WHERE d.url = ?1",
                    url,
                );
                assert!(reports.is_empty(), "{url} ingested as a report");
            }
        }
    }
    drop(archive);

    // A second run fetches none of the report pages again.
    sim.clear_requests();
    let second = crawl::crawl(&db, &seeds(&sim), options()).await.unwrap();
    assert_eq!(second.new_report_count, 0);
    let pages: BTreeSet<String> = truth
        .iter()
        .flat_map(|t| t.parts.iter().map(|u| crawl_support::path_of(u)))
        .collect();
    let refetched: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| pages.contains(&r.path))
        .map(|r| r.path)
        .collect();
    assert!(refetched.is_empty(), "{refetched:?}");

    // Re-parsing the archive offline reads the split reports from their archived pages too:
    // nothing changes.
    let mut archive = gknb::store::Archive::open(&db).unwrap();
    let opts = gknb::store::pipeline::ReparseOptions { workers: 1 };
    let reparsed = gknb::store::pipeline::reparse(&mut archive, &opts, &mut || {}).unwrap();
    assert!(reparsed.errors.is_empty(), "{:?}", reparsed.errors);
    assert_eq!(reparsed.documents, truth.len());
    assert!(
        reparsed.status_changes.is_empty(),
        "{:?}",
        reparsed.status_changes
    );
    assert_eq!(reparsed.changed_reports, 0);
}

/// Split articles listed at an older address that 302s to where they are now (F-MOVED), and
/// attachment-only stubs split in two with the attachment linked from the second page: the
/// further pages resolve against where the article was served from, in the crawl and in
/// `reparse`, and every stub's attachment is fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moved_split_articles_and_split_stubs() {
    let mut moved = HostSpec::new(
        "mp-moved",
        SocketAddr::from(([127, 0, 0, 172], 0)),
        Family::Trs,
    );
    moved.reports = 12;
    moved.per_page = 5;
    moved.multipage_every = 2;
    moved.attachment_every = 3;
    moved.faults.moved_articles = true;
    let sim = sim::start(SimConfig { hosts: vec![moved] }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("moved.sqlite");
    let summary = crawl::crawl(&db, &seeds(&sim), options()).await.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let truth = sim.truth("mp-moved");
    let split_stubs: Vec<&sim::TruthReport> = truth
        .iter()
        .filter(|t| t.parts.len() > 1 && t.attachment_url.is_some())
        .collect();
    assert!(!split_stubs.is_empty(), "the world has split stubs");
    let log = sim.requests();
    // Listed at the older address: the crawler went through the redirect.
    assert!(
        log.iter()
            .any(|q| q.path.contains("/old/") && q.status == 302)
    );

    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    let archived: BTreeSet<String> = crawl_support::column(&db, "SELECT url FROM documents")
        .into_iter()
        .collect();
    for t in &truth {
        crawl_support::assert_stored_once(&archive, t, "");
        for url in &t.parts[1..] {
            let path = crawl_support::path_of(url);
            let hits = log
                .iter()
                .filter(|q| q.path == path && q.status == 200)
                .count();
            assert_eq!(hits, 1, "{path} fetched {hits} times");
            assert!(archived.contains(url), "{url} not archived");
        }
    }
    for t in split_stubs {
        let pdf = t.attachment_url.as_ref().unwrap();
        assert!(
            archived.contains(pdf),
            "{}: attachment {pdf} not archived",
            t.url
        );
    }
    drop(archive);

    let mut archive = gknb::store::Archive::open(&db).unwrap();
    let opts = gknb::store::pipeline::ReparseOptions { workers: 1 };
    let reparsed = gknb::store::pipeline::reparse(&mut archive, &opts, &mut || {}).unwrap();
    assert!(reparsed.errors.is_empty(), "{:?}", reparsed.errors);
    assert!(
        reparsed.status_changes.is_empty(),
        "{:?}",
        reparsed.status_changes
    );
    assert_eq!(reparsed.changed_reports, 0);
    let missing = crawl_support::column(
        &db,
        "SELECT url FROM reports WHERE warnings LIKE '%page_missing%'",
    );
    assert!(missing.is_empty(), "{missing:?}");
}
