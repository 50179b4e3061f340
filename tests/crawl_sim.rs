//! The crawler against the portal simulator: completeness, politeness, faults, blocked and
//! robots-excluded hosts, incremental runs.

mod crawl_support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use gknb::config::RobotsPolicy;
use gknb::crawl::{self, CrawlOptions, Seed, Summary};
use gknb::discover::Family as Hint;
use gknb::fetch::{FetchConfig, HostPolicy};
use gknb::sim::{
    self, Challenge, Charset, Family, Faults, HostSpec, Layout, PathFault, RateLimit, RetryAfter,
    Robots, Shell, SimConfig, SimHandle,
};
use url::Url;

const RATE: f64 = 25.0;
const RETRIES: u32 = 2;
/// Faster than the 3 requests per second the Hanweb host tolerates, to draw 429s.
const HANWEB_RATE: f64 = 4.0;

fn host(name: &str, ip: [u8; 4], family: Family) -> HostSpec {
    HostSpec::new(name, SocketAddr::from((ip, 0)), family)
}

fn options(rate: f64) -> CrawlOptions {
    CrawlOptions {
        fetch: FetchConfig {
            user_agent: "Mozilla/5.0 (compatible; gknb-test/0; +http://example.invalid)".into(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_millis(1500),
            retries: RETRIES,
            backoff_base: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            max_body_bytes: 8 << 20,
            max_redirects: 5,
            robots: RobotsPolicy::Obey,
            concurrency: 32,
            default_policy: HostPolicy {
                rate,
                burst: 1,
                accept_invalid_certs: false,
            },
        },
        max_listing_pages: 50,
        max_depth: 3,
        per_host_parallel: 2,
        max_in_flight: 256,
        progress: false,
        max_pages: None,
    }
}

fn seeds(sim: &SimHandle, rates: &HashMap<&str, f64>) -> Vec<Seed> {
    sim.hosts()
        .into_iter()
        .map(|h| Seed {
            rate: rates.get(h.name.as_str()).copied(),
            name: h.name,
            region: String::new(),
            url: Url::parse(&h.entry_url).unwrap(),
            family: Hint::Auto,
            burst: None,
            accept_invalid_certs: None,
            hosts: Vec::new(),
        })
        .collect()
}

fn host_key(sim: &SimHandle, name: &str) -> String {
    let base = Url::parse(&sim.base_url(name).unwrap()).unwrap();
    gknb::fetch::host_key(&base)
}

/// URLs of report rows the crawl fetched successfully.
fn found_reports(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done' ORDER BY url",
        )
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn archived_final_urls(db: &Path) -> HashSet<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT COALESCE(final_url, url) FROM documents WHERE http_status = 200")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The world of the main test: every family, most faults.
fn world() -> SimConfig {
    let mut trs = host("trs", [127, 0, 0, 41], Family::Trs);
    trs.layout = Layout::YearColumns;
    trs.charset = Charset::GbkNoHeader;
    trs.reports = 24;
    trs.per_page = 4;
    trs.faults = Faults {
        url_zoo: true,
        js_links: true,
        deep_stubs: true,
        ..Faults::default()
    };

    let mut one = host("trs1", [127, 0, 0, 42], Family::TrsOneBased);
    one.layout = Layout::DeptColumns;
    one.charset = Charset::Conflict;
    one.reports = 20;
    one.per_page = 4;
    one.faults = Faults {
        duplicate_listings: true,
        unavailable: Some(PathFault {
            first_n: 2,
            path_contains: Some("index".into()),
        }),
        ..Faults::default()
    };

    let mut hw = host("hanweb", [127, 0, 0, 43], Family::Hanweb);
    hw.reports = 40;
    hw.per_page = 4;
    hw.faults = Faults {
        rate_limit: Some(RateLimit {
            max_requests: 3,
            per: Duration::from_secs(1),
            retry_after: RetryAfter::Seconds(1),
        }),
        duplicate_listings: true,
        ..Faults::default()
    };

    let mut gov = host("govcn", [127, 0, 0, 44], Family::GovCn);
    gov.reports = 18;
    gov.per_page = 5;
    gov.faults = Faults {
        shell_entry: Some(Shell::LocationReplace),
        hang: Some(PathFault {
            first_n: 1,
            path_contains: Some("home_1".into()),
        }),
        hang_for: Duration::from_secs(5),
        ..Faults::default()
    };

    let mut lp = host("cookieloop", [127, 0, 0, 45], Family::GovCn);
    lp.reports = 8;
    lp.faults = Faults {
        challenge: Some(Challenge::CookieLoop),
        shell_entry: Some(Shell::MetaRefresh),
        ..Faults::default()
    };

    let mut blocked = host("blocked", [127, 0, 0, 46], Family::Trs);
    blocked.reports = 8;
    blocked.faults = Faults {
        challenge: Some(Challenge::Rs412),
        ..Faults::default()
    };

    let mut robots = host("robots", [127, 0, 0, 47], Family::Trs);
    robots.reports = 8;
    robots.faults = Faults {
        robots: Robots::DisallowAll,
        ..Faults::default()
    };

    let mut sticky = host("sticky", [127, 0, 0, 48], Family::Trs);
    sticky.reports = 30;
    sticky.per_page = 5;
    sticky.faults = Faults {
        sticky_pager: true,
        ..Faults::default()
    };

    SimConfig {
        hosts: vec![trs, one, hw, gov, lp, blocked, robots, sticky],
    }
}

const COMPLETE: &[&str] = &["trs", "trs1", "hanweb", "govcn", "cookieloop"];

async fn crawl_world(sim: &SimHandle, db: &Path) -> Summary {
    let rates = HashMap::from([("hanweb", HANWEB_RATE)]);
    crawl::crawl(db, &seeds(sim, &rates), options(RATE))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_finds_every_report_once_politely() {
    let sim = sim::start(world()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.sqlite");
    let summary = crawl_world(&sim, &db).await;
    let found: Vec<String> = found_reports(&db);
    let found_set: HashSet<&String> = found.iter().collect();
    assert_eq!(found.len(), found_set.len());
    let log = sim.requests();

    // Every report of the well-behaved (if rude) hosts, exactly once.
    for name in COMPLETE {
        let truth = sim.truth(name);
        assert!(!truth.is_empty());
        for t in &truth {
            assert!(
                found_set.contains(&t.url),
                "{name}: missed {} ({})",
                t.url,
                t.title
            );
            let path = crawl_support::path_of(&t.url);
            let ok_hits = log
                .iter()
                .filter(|r| r.host == *name && r.path == path && r.status == 200)
                .count();
            assert_eq!(ok_hits, 1, "{name}: {path} fetched {ok_hits} times");
        }
    }
    // Nothing but reports is taken for a report.
    let truth_urls: HashSet<String> = sim
        .hosts()
        .iter()
        .flat_map(|h| sim.truth(&h.name))
        .map(|t| t.url)
        .collect();
    for f in &found {
        assert!(truth_urls.contains(f), "not a report: {f}");
    }
    // Report pages were parsed on the way in and ingested, with the facts the simulator
    // published.
    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    // Sound file, and no row pointing nowhere (batches do not enforce foreign keys).
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    for name in COMPLETE {
        for t in sim.truth(name) {
            crawl_support::assert_stored_once(&archive, &t, &format!("{name}: "));
        }
    }

    // Attachments behind a 302 are archived under their final URL.
    let archived = archived_final_urls(&db);
    for name in COMPLETE {
        for t in sim.truth(name) {
            if let Some(att) = &t.attachment_url {
                assert!(
                    archived.contains(att),
                    "{name}: attachment {att} not archived"
                );
            }
        }
    }
    assert!(
        COMPLETE
            .iter()
            .flat_map(|n| sim.truth(n))
            .any(|t| t.attachment_url.is_some()),
        "the world has attachment-only reports"
    );

    // The blocked host is reported with its reason and nothing of it is archived as a report.
    let blocked = host_key(&sim, "blocked");
    let v = summary.blocked.iter().find(|v| v.host == blocked).unwrap();
    assert!(v.reason.contains("412"), "{}", v.reason);
    assert!(found.iter().all(|u| !u.contains("127.0.0.46")));
    assert!(
        sim.requests_to("blocked").len() <= 3,
        "a challenged host is left alone"
    );

    // robots.txt `Disallow: /`: only robots.txt itself was requested.
    let robots_log = sim.requests_to("robots");
    assert!(
        robots_log.iter().all(|r| r.path == "/robots.txt"),
        "{robots_log:?}"
    );
    let robots_key = host_key(&sim, "robots");
    assert!(summary.robots_excluded.iter().any(|v| v.host == robots_key));

    // The sticky pager terminates with a bounded number of listing requests and no duplicates.
    let sticky_listings = sim
        .requests_to("sticky")
        .iter()
        .filter(|r| r.path.contains("index"))
        .count();
    assert!(sticky_listings <= 4, "{sticky_listings} listing requests");

    // No host received requests faster than its rate, per the simulator's own log of arrival
    // times: in any sliding window of 20 periods, at most 20 periods' worth of requests, plus
    // the burst (1), plus one for scheduling jitter at the window's edge on a loaded machine.
    // (The strict gap check against a quiet server is in tests/crawl_fetch.rs.)
    for h in sim.hosts() {
        let rate = if h.name == "hanweb" {
            HANWEB_RATE
        } else {
            RATE
        };
        let window = Duration::from_secs_f64(20.0 / rate);
        let times: Vec<_> = sim.requests_to(&h.name).iter().map(|r| r.time).collect();
        for (i, t0) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|t| t.duration_since(*t0) < window)
                .count();
            assert!(
                n <= 22,
                "{}: {n} requests within {window:?} (rate {rate}/s)",
                h.name
            );
        }
    }
    // Retries are bounded: no request repeated more than 1 + retries times.
    let mut counts: HashMap<(String, String, String), usize> = HashMap::new();
    for r in &log {
        *counts
            .entry((r.host.clone(), r.method.clone(), r.path.clone()))
            .or_default() += 1;
    }
    for ((h, m, p), n) in counts {
        assert!(n <= 1 + RETRIES as usize, "{h} {m} {p} requested {n} times");
    }
    // The 429s and 503s were seen and got through.
    assert!(log.iter().any(|r| r.host == "hanweb" && r.status == 429));
    assert!(log.iter().any(|r| r.host == "trs1" && r.status == 503));
    assert_eq!(summary.new_report_count as usize, found.len());
    assert!(summary.unreachable.is_empty(), "{:?}", summary.unreachable);
}

fn small_world() -> SimConfig {
    let mut a = host("inc-trs", [127, 0, 0, 51], Family::Trs);
    a.reports = 14;
    a.per_page = 5;
    let mut b = host("inc-hanweb", [127, 0, 0, 52], Family::Hanweb);
    b.reports = 20;
    b.per_page = 3;
    let mut c = host("inc-gov", [127, 0, 0, 53], Family::GovCn);
    c.reports = 12;
    c.per_page = 5;
    c.layout = Layout::YearColumns;
    SimConfig {
        hosts: vec![a, b, c],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_run_is_conditional_and_finds_only_new_reports() {
    let sim = sim::start(small_world()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inc.sqlite");
    let none = HashMap::new();
    let first = crawl::crawl(&db, &seeds(&sim, &none), options(50.0))
        .await
        .unwrap();
    let total: usize = sim.hosts().iter().map(|h| sim.truth(&h.name).len()).sum();
    assert_eq!(first.new_report_count as usize, total);

    // Unchanged simulator: listings are revisited conditionally, report pages not at all.
    sim.clear_requests();
    let second = crawl::crawl(&db, &seeds(&sim, &none), options(50.0))
        .await
        .unwrap();
    assert!(!second.resumed);
    assert_eq!(second.new_report_count, 0);
    let log = sim.requests();
    let report_paths: HashSet<String> = sim
        .hosts()
        .iter()
        .flat_map(|h| sim.truth(&h.name))
        .map(|t| crawl_support::path_of(&t.url))
        .collect();
    assert!(log.iter().all(|r| !report_paths.contains(&r.path)));
    let gets: Vec<_> = log
        .iter()
        .filter(|r| r.method == "GET" && r.path != "/robots.txt")
        .collect();
    assert!(!gets.is_empty());
    for r in &gets {
        assert!(r.conditional, "{} {} was not conditional", r.host, r.path);
        assert_eq!(r.status, 304, "{} {} changed", r.host, r.path);
    }
    assert!(second.not_modified as usize >= gets.len());

    // Two new reports: the third run finds exactly those.
    let added = [
        sim.add_report("inc-trs", 2024).unwrap(),
        sim.add_report("inc-gov", 2024).unwrap(),
    ];
    sim.clear_requests();
    let third = crawl::crawl(&db, &seeds(&sim, &none), options(50.0))
        .await
        .unwrap();
    let mut new: Vec<String> = third.new_reports.iter().map(|r| r.url.clone()).collect();
    new.sort();
    let mut want: Vec<String> = added.iter().map(|t| t.url.clone()).collect();
    want.sort();
    assert_eq!(new, want);
    let old_fetched = sim
        .requests()
        .iter()
        .filter(|r| report_paths.contains(&r.path))
        .count();
    assert_eq!(old_fetched, 0, "old report pages fetched again");
}
