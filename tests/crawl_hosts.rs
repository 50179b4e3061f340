//! Seeds that allow more hosts (`hosts` in the seed files): a 集约化 platform whose navigation
//! page links some organs' columns on a second host. Without the allowance the crawl stays on
//! the seed's host; with it every organ's reports are found once, and the second host gets the
//! seed's politeness (rate, burst, TLS override) and its own robots.txt.

mod crawl_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use gknb::crawl::{self, CrawlOptions, Seed, Summary};
use gknb::discover::Family as Hint;
use gknb::seeds::HostPattern;
use gknb::sim::{self, Family, HostSpec, OrganHost, ReportKind, SimConfig, SimHandle};
use url::Url;

/// The default politeness: fast, with bursts.
const DEFAULT_RATE: f64 = 200.0;
/// The seed's own rate, which its second host must get too.
const SEED_RATE: f64 = 20.0;

fn options() -> CrawlOptions {
    crawl_support::fast_options(DEFAULT_RATE, 1)
}

/// A platform of six organs with six reports each (four a page: two pages per column); organs
/// 1, 3 and 5 live on the organ host.
fn world(first: u8) -> SimConfig {
    let mut p = HostSpec::new(
        "plat",
        SocketAddr::from(([127, 0, 0, first], 0)),
        Family::Jiyue,
    );
    p.reports = 36;
    p.per_page = 4;
    p.attachment_every = 5;
    p.organ_host = Some(OrganHost {
        name: "plat-organs".into(),
        addr: SocketAddr::from(([127, 0, 0, first + 1], 0)),
        every: 2,
    });
    SimConfig { hosts: vec![p] }
}

fn seed(sim: &SimHandle, hosts: Vec<HostPattern>) -> Seed {
    Seed {
        name: "模拟省人民政府".into(),
        region: String::new(),
        url: Url::parse(&sim.entry_url("plat").unwrap()).unwrap(),
        family: Hint::Jiyue,
        rate: Some(SEED_RATE),
        burst: Some(1),
        accept_invalid_certs: None,
        hosts,
    }
}

fn host_of(url: &str) -> String {
    Url::parse(url).unwrap().host_str().unwrap().to_string()
}

async fn crawl(sim: &SimHandle, hosts: Vec<HostPattern>) -> (tempfile::TempDir, Summary) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hosts.sqlite");
    let summary = crawl::crawl(&db, &[seed(sim, hosts)], options())
        .await
        .unwrap();
    (dir, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hosts_the_crawl_stays_on_the_seed_host() {
    let sim = sim::start(world(201)).await.unwrap();
    let (dir, summary) = crawl(&sim, Vec::new()).await;
    let db = dir.path().join("hosts.sqlite");
    let organ_host = host_of(&sim.base_url("plat-organs").unwrap());

    assert!(
        sim.requests_to("plat-organs").is_empty(),
        "requested from the organ host: {:?}",
        sim.requests_to("plat-organs")
    );
    let truth = sim.truth("plat");
    let (remote, local): (Vec<_>, Vec<_>) =
        truth.iter().partition(|t| host_of(&t.url) == organ_host);
    assert_eq!((remote.len(), local.len()), (18, 18));
    let found: BTreeSet<String> = crawl_support::column(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done'",
    )
    .into_iter()
    .collect();
    let local_urls: BTreeSet<String> = local.iter().map(|t| t.url.clone()).collect();
    assert_eq!(found, local_urls, "the seed host's reports, and only those");
    let queued = crawl_support::column(&db, "SELECT url FROM crawl_frontier");
    assert!(
        queued.iter().all(|u| host_of(u) != organ_host),
        "an organ-host URL was queued"
    );
    assert!(summary.unreachable.is_empty() && summary.blocked.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_are_crawled_with_the_seeds_politeness() {
    let sim = sim::start(world(203)).await.unwrap();
    let organ_host = host_of(&sim.base_url("plat-organs").unwrap());
    let (dir, summary) = crawl(&sim, vec![HostPattern::parse(&organ_host).unwrap()]).await;
    let db = dir.path().join("hosts.sqlite");
    assert!(summary.unreachable.is_empty() && summary.blocked.is_empty());
    assert_eq!(summary.failure_count, 0, "{:?}", summary.failures);

    // Every report of every organ, on both hosts, exactly once.
    let truth = sim.truth("plat");
    assert_eq!(truth.len(), 36);
    assert_eq!(
        truth
            .iter()
            .filter(|t| host_of(&t.url) == organ_host)
            .count(),
        18
    );
    let found = crawl_support::column(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done' ORDER BY url",
    );
    let found_set: BTreeSet<&String> = found.iter().collect();
    assert_eq!(found.len(), found_set.len(), "a report queued twice");
    let truth_urls: BTreeSet<&String> = truth.iter().map(|t| &t.url).collect();
    assert_eq!(found_set, truth_urls);
    let log = sim.requests();
    for t in &truth {
        let name = if host_of(&t.url) == organ_host {
            "plat-organs"
        } else {
            "plat"
        };
        let path = crawl_support::path_of(&t.url);
        let hits = log
            .iter()
            .filter(|q| q.host == name && q.path == path && q.status == 200)
            .count();
        assert_eq!(hits, 1, "{name}: {path} fetched {hits} times");
    }
    // Nothing was asked of the wrong host.
    assert!(
        log.iter().all(|q| q.status != 404),
        "404s: {:?}",
        log.iter().filter(|q| q.status == 404).collect::<Vec<_>>()
    );

    // The facts of every report, and the attachments of the organ host's stubs.
    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    for t in &truth {
        crawl_support::assert_stored_once(&archive, t, "");
    }
    let remote_pdfs: Vec<&String> = truth
        .iter()
        .filter(|t| t.kind == ReportKind::AttachmentOnly && host_of(&t.url) == organ_host)
        .filter_map(|t| t.attachment_url.as_ref())
        .collect();
    assert!(
        !remote_pdfs.is_empty(),
        "the organ host has attachment-only reports"
    );
    let archived: BTreeSet<String> = crawl_support::column(&db, "SELECT url FROM documents")
        .into_iter()
        .collect();
    for pdf in remote_pdfs {
        assert!(archived.contains(pdf), "attachment {pdf} not archived");
    }

    // The organ host got its own robots.txt and the seed's rate (20/s, burst 1), not the
    // default (200/s, burst 4).
    let organ_log = sim.requests_to("plat-organs");
    assert!(organ_log.len() >= 20, "{} requests", organ_log.len());
    let robots = organ_log.iter().filter(|q| q.path == "/robots.txt").count();
    assert_eq!(robots, 1, "robots.txt of the organ host");
    let mut times: Vec<_> = organ_log.iter().map(|q| q.time).collect();
    times.sort();
    let period = Duration::from_secs_f64(1.0 / SEED_RATE);
    let span = times[times.len() - 1] - times[0];
    let least = period.mul_f64((times.len() - 1) as f64 * 0.9);
    assert!(
        span >= least,
        "{} requests in {span:?}: faster than {SEED_RATE}/s",
        times.len()
    );
    // Arrival times jitter a little, but a burst of the default's four in a row would show.
    for w in times.windows(3) {
        let two_gaps = w[2] - w[0];
        assert!(
            two_gaps >= period,
            "three requests within {two_gaps:?} on the organ host"
        );
    }
}

#[tokio::test]
async fn the_organ_host_serves_its_organs_and_nothing_else() {
    let sim = sim::start(world(205)).await.unwrap();
    let base = sim.base_url("plat").unwrap();
    let organs = sim.base_url("plat-organs").unwrap();
    let get = |url: String| async move {
        let r = reqwest::get(&url).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, nav) = get(sim.entry_url("plat").unwrap()).await;
    assert_eq!(status, 200);
    // Organ 1682 (the second) is on the organ host, 1681 (the first) on the platform's.
    assert!(
        nav.contains(&format!("{organs}/public/column/1682?")),
        "{nav}"
    );
    assert!(nav.contains("\"/public/column/1681?"), "{nav}");
    let col = |o: u32| format!("/public/column/{o}?type=4&catId=2003&action=list&nav=3");
    assert_eq!(get(format!("{organs}{}", col(1682))).await.0, 200);
    assert_eq!(get(format!("{base}{}", col(1682))).await.0, 404);
    assert_eq!(get(format!("{base}{}", col(1681))).await.0, 200);
    assert_eq!(get(format!("{organs}{}", col(1681))).await.0, 404);
    assert_eq!(get(format!("{organs}/public/jgdh.html")).await.0, 404);
    assert_eq!(get(format!("{organs}/robots.txt")).await.0, 200);
    for t in sim.truth("plat") {
        let (status, _) = get(t.url.clone()).await;
        assert_eq!(status, 200, "{}", t.url);
        let other = if t.url.starts_with(&organs) {
            t.url.replacen(&organs, &base, 1)
        } else {
            t.url.replacen(&base, &organs, 1)
        };
        assert_eq!(get(other.clone()).await.0, 404, "{other}");
    }
    let names: BTreeSet<String> = sim.requests().into_iter().map(|r| r.host).collect();
    assert_eq!(
        names,
        BTreeSet::from(["plat".to_string(), "plat-organs".to_string()])
    );
}

#[test]
fn seed_files_name_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jiyue.toml");
    std::fs::write(
        &file,
        "[[portal]]\nname = \"某省\"\nurl = \"https://www.sim-prov.gov.cn/public/jgdh.html\"\n\
         family = \"jiyue\"\nrate = 0.5\nhosts = [\"*.sim-prov.gov.cn\", \"127.0.0.9\"]\n",
    )
    .unwrap();
    let portals = gknb::seeds::load(&file).unwrap();
    assert_eq!(
        portals[0].host_patterns().unwrap(),
        [
            HostPattern::Subdomains("sim-prov.gov.cn".into()),
            HostPattern::Exact("127.0.0.9".into())
        ]
    );
    std::fs::write(
        &file,
        "[[portal]]\nname = \"某省\"\nurl = \"https://www.sim-prov.gov.cn/\"\nhosts = [\"*\"]\n",
    )
    .unwrap();
    let err = gknb::seeds::load(&file).unwrap_err().to_string();
    assert!(err.contains("jiyue.toml") && err.contains("某省"), "{err}");
}

/// The seed's TLS override reaches its other hosts too: a self-signed platform is crawled on
/// both hosts when the seed accepts invalid certificates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_hosts_get_the_seeds_tls_override() {
    let mut config = world(207);
    config.hosts[0].faults.tls = Some(sim::Tls::SelfSigned);
    let sim = sim::start(config).await.unwrap();
    let organs = sim.base_url("plat-organs").unwrap();
    assert!(organs.starts_with("https://"));
    let mut s = seed(&sim, vec![HostPattern::parse(&host_of(&organs)).unwrap()]);
    s.accept_invalid_certs = Some(true);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hosts-tls.sqlite");
    let summary = crawl::crawl(&db, &[s], options()).await.unwrap();
    assert!(summary.unreachable.is_empty(), "{:?}", summary.unreachable);
    assert_eq!(summary.failure_count, 0, "{:?}", summary.failures);
    let found: BTreeSet<String> = crawl_support::column(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done'",
    )
    .into_iter()
    .collect();
    let truth: BTreeSet<String> = sim.truth("plat").into_iter().map(|t| t.url).collect();
    assert_eq!(found, truth);
    assert!(truth.iter().any(|u| u.starts_with(&organs)));
    assert!(sim.requests().iter().all(|r| r.method != "TLS"));
}
