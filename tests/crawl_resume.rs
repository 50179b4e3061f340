//! `kill -9` (or Ctrl-C) in the middle of a crawl, then the same command again: the archive ends
//! up equal to an uninterrupted crawl's, and nothing archived before the kill is fetched again.

mod crawl_support;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gknb::config::RobotsPolicy;
use gknb::crawl::{self, CrawlOptions, Seed};
use gknb::discover::Family as Hint;
use gknb::fetch::{FetchConfig, HostPolicy};
use gknb::sim::{self, Family, HostSpec, Layout, SimConfig, SimHandle};
use url::Url;

const RATE: f64 = 15.0;

fn world() -> SimConfig {
    let mut a = HostSpec::new("k-trs", SocketAddr::from(([127, 0, 0, 61], 0)), Family::Trs);
    a.reports = 24;
    a.per_page = 5;
    // Split articles: their further pages are archived with the report, in one transaction.
    a.multipage_every = 4;
    let mut b = HostSpec::new(
        "k-hw",
        SocketAddr::from(([127, 0, 0, 62], 0)),
        Family::Hanweb,
    );
    b.reports = 24;
    b.per_page = 3;
    let mut c = HostSpec::new(
        "k-gov",
        SocketAddr::from(([127, 0, 0, 63], 0)),
        Family::GovCn,
    );
    c.reports = 18;
    c.per_page = 4;
    c.layout = Layout::YearColumns;
    SimConfig {
        hosts: vec![a, b, c],
    }
}

fn seed_file(sim: &SimHandle, path: &Path) {
    let mut text = String::new();
    for h in sim.hosts() {
        text.push_str(&format!(
            "[[portal]]\nname = \"{}\"\nregion = \"000000\"\nurl = \"{}\"\n\n",
            h.name, h.entry_url
        ));
    }
    std::fs::write(path, text).unwrap();
}

fn crawl_cmd(seeds: &Path, db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gknb"));
    cmd.args(["crawl", "-q", "--seeds"])
        .arg(seeds)
        .arg("--db")
        .arg(db)
        .args(["--rate", &RATE.to_string(), "--timeout", "5"])
        .env("GKNB_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    cmd
}

/// (url → body sha256) and (url → digest of the parse) of every ingested report.
fn archive_reports(db: &Path) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT d.url, r.document_sha256, r.parse_sha256 FROM reports r
             JOIN documents d ON d.id = r.document_id",
        )
        .unwrap();
    let rows: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut shas = BTreeMap::new();
    let mut parsed = BTreeMap::new();
    for (u, s, p) in rows {
        shas.insert(u.clone(), s);
        parsed.insert(u, p);
    }
    (shas, parsed)
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// path?query of every response archived so far (POSTs are told apart by their query).
fn archived_requests(db: &Path) -> HashSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn.prepare("SELECT url FROM documents").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|u| crawl_support::path_of(&u.unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_resume_equals_an_uninterrupted_crawl() {
    interrupt_then_resume("KILL").await;
}

/// Ctrl-C: the crawl writes what it has fetched, exits 130 and leaves its run open, and the
/// same command resumes it, as after a kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_then_resume_equals_an_uninterrupted_crawl() {
    interrupt_then_resume("INT").await;
}

/// Crawls the world once without a break for reference, then with the real binary stopped by
/// `signal` part way through and run again; compares the two archives.
async fn interrupt_then_resume(signal: &str) {
    let sim = sim::start(world()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let seeds_path = dir.path().join("seeds.toml");
    seed_file(&sim, &seeds_path);

    // The reference: one uninterrupted crawl, in process.
    let reference = dir.path().join("reference.sqlite");
    let seeds: Vec<Seed> = sim
        .hosts()
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
        .collect();
    let opts = CrawlOptions {
        fetch: FetchConfig {
            robots: RobotsPolicy::Obey,
            default_policy: HostPolicy {
                rate: 100.0,
                burst: 1,
                accept_invalid_certs: false,
            },
            ..FetchConfig::from_config(&gknb::config::CrawlConfig::default())
        },
        max_listing_pages: 100,
        max_depth: 4,
        per_host_parallel: 2,
        max_in_flight: 256,
        progress: false,
        max_pages: None,
    };
    crawl::crawl(&reference, &seeds, opts).await.unwrap();
    let reference_requests = sim.requests().len();
    sim.clear_requests();

    // The interrupted crawl: the real binary, killed with SIGKILL part way through.
    let db = dir.path().join("resumed.sqlite");
    let mut child = crawl_cmd(&seeds_path, &db).spawn().unwrap();
    let start = Instant::now();
    while sim.requests().len() < reference_requests * 2 / 5 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "crawl made no progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "crawl ended before the kill"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped = child.wait().unwrap();
    if signal == "INT" {
        assert_eq!(stopped.code(), Some(130), "{stopped:?}");
    }
    let before_kill = archived_requests(&db);
    // What makes resuming exact: a response is archived in the transaction that finishes its
    // frontier row, so no document outlives the kill without its row being done.
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM documents d WHERE NOT EXISTS (
                 SELECT 1 FROM crawl_frontier f WHERE f.doc_id = d.id AND f.state != 'pending')"
        ),
        0,
        "a document archived without its frontier row finished"
    );
    let reports_before = count(&db, "SELECT COUNT(*) FROM reports");
    assert!(
        reports_before > 0,
        "the kill came before any report was archived"
    );
    let total: usize = sim.hosts().iter().map(|h| sim.truth(&h.name).len()).sum();
    assert!(
        (reports_before as usize) < total,
        "the kill came after the crawl was done"
    );

    // The same command again resumes the run.
    sim.clear_requests();
    let status = crawl_cmd(&seeds_path, &db).status().unwrap();
    assert!(status.success());
    let resumed_log = sim.requests();

    // Nothing archived before the kill was fetched again (listings included: a resumed run
    // does not revisit them; robots.txt is read again by the new process and never archived).
    for r in &resumed_log {
        if r.path == "/robots.txt" {
            continue;
        }
        assert!(
            !before_kill.contains(&r.path),
            "{} {} {} was archived before the kill and fetched again",
            r.host,
            r.method,
            r.path
        );
    }
    // So no report page was answered twice across the two processes of the resumed crawl,
    // except the ones in flight (requested, not archived) at the kill.
    let (resumed_shas, resumed_parsed) = archive_reports(&db);
    let (reference_shas, reference_parsed) = archive_reports(&reference);
    assert_eq!(resumed_shas.len(), total);
    assert_eq!(resumed_shas, reference_shas);
    assert_eq!(resumed_parsed, reference_parsed);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM reports"),
        total as i64,
        "a duplicate report"
    );
    // A sound file after the kill and the resume, with no row pointing nowhere.
    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    drop(archive);
    // One run, finished, resumed once.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM crawl_runs"), 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM crawl_runs WHERE finished_at IS NOT NULL"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM crawl_frontier WHERE state != 'done'"
        ),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_crawl_on_a_locked_archive_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("locked.sqlite");
    let _held = gknb::store::Archive::open(&db).unwrap();
    let seeds = dir.path().join("seeds.toml");
    std::fs::write(
        &seeds,
        "[[portal]]\nname = \"x\"\nregion = \"110000\"\nurl = \"http://127.0.0.1:9/\"\n",
    )
    .unwrap();
    let out = crawl_cmd(&seeds, &db)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another gknb process"), "{err}");
}
