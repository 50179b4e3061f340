//! TLS faults (F-TLS): a host with a self-signed certificate is reported unreachable with the
//! certificate as the reason unless its seed accepts invalid certificates, and then it is
//! crawled completely; a host that breaks off every handshake is reported after a bounded
//! number of attempts. Other hosts are crawled meanwhile.

mod crawl_support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use gknb::crawl::{self, CrawlOptions, Seed};
use gknb::discover::Family as Hint;
use gknb::sim::{self, Family, HostSpec, SimConfig, SimHandle, Tls};
use url::Url;

const RETRIES: u32 = 1;

fn options() -> CrawlOptions {
    crawl_support::fast_options(200.0, RETRIES)
}

fn world(first: u8) -> SimConfig {
    let host = |name: &str, last: u8| {
        let mut h = HostSpec::new(name, SocketAddr::from(([127, 0, 0, last], 0)), Family::Trs);
        h.reports = 12;
        h.per_page = 5;
        h
    };
    let mut selfsigned = host("self-signed", first);
    selfsigned.faults.tls = Some(Tls::SelfSigned);
    let plain = host("plain", first + 1);
    let mut broken = host("handshake", first + 2);
    broken.faults.tls = Some(Tls::HandshakeFailure);
    SimConfig {
        hosts: vec![selfsigned, plain, broken],
    }
}

fn seed(sim: &SimHandle, name: &str, accept_invalid_certs: Option<bool>) -> Seed {
    Seed {
        name: name.into(),
        region: String::new(),
        url: Url::parse(&sim.entry_url(name).unwrap()).unwrap(),
        family: Hint::Auto,
        rate: None,
        burst: None,
        accept_invalid_certs,
        hosts: Vec::new(),
    }
}

fn authority(sim: &SimHandle, name: &str) -> String {
    let u = Url::parse(&sim.base_url(name).unwrap()).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

/// Every report of `name` found once and ingested with the simulator's facts.
fn assert_complete(sim: &SimHandle, db: &Path, name: &str) {
    let base = sim.base_url(name).unwrap();
    let found: Vec<String> = crawl_support::column(
        db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done'",
    )
    .into_iter()
    .filter(|u| u.starts_with(&base))
    .collect();
    let found_set: BTreeSet<&String> = found.iter().collect();
    assert_eq!(
        found.len(),
        found_set.len(),
        "{name}: a report queued twice"
    );
    let truth = sim.truth(name);
    let truth_urls: BTreeSet<&String> = truth.iter().map(|t| &t.url).collect();
    assert_eq!(found_set, truth_urls, "{name}");
    let archive = gknb::store::Archive::open_read_only(db).unwrap();
    for t in &truth {
        crawl_support::assert_stored_once(&archive, t, "");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_are_reported_and_other_hosts_crawled() {
    let sim = sim::start(world(210)).await.unwrap();
    assert!(
        sim.entry_url("self-signed")
            .unwrap()
            .starts_with("https://")
    );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tls.sqlite");
    let seeds: Vec<Seed> = ["self-signed", "plain", "handshake"]
        .iter()
        .map(|n| seed(&sim, n, None))
        .collect();
    let summary = crawl::crawl(&db, &seeds, options()).await.unwrap();

    let reason = |name: &str| {
        let key = authority(&sim, name);
        summary
            .unreachable
            .iter()
            .find(|v| v.host == key)
            .map(|v| v.reason.clone())
            .unwrap_or_else(|| panic!("{name} not unreachable: {:?}", summary.unreachable))
    };
    let cert = reason("self-signed");
    assert!(
        cert.contains("TLS") && cert.to_lowercase().contains("certificate"),
        "{cert}"
    );
    let handshake = reason("handshake");
    assert!(handshake.contains("TLS"), "{handshake}");
    assert_eq!(summary.unreachable.len(), 2, "{:?}", summary.unreachable);
    assert!(summary.blocked.is_empty());

    // Nothing but handshakes reached the TLS hosts, and not many: robots.txt and the seed's
    // listing, each tried at most 1 + RETRIES times.
    let bound = 2 * (1 + RETRIES as usize);
    for name in ["self-signed", "handshake"] {
        let log = sim.requests_to(name);
        assert!(!log.is_empty(), "{name}: never contacted");
        assert!(
            log.iter().all(|r| r.method == "TLS" && r.status == 0),
            "{name}: {log:?}"
        );
        assert!(log.len() <= bound, "{name}: {} handshakes", log.len());
    }

    // The plain host was crawled completely all the same.
    assert_complete(&sim, &db, "plain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_accepting_invalid_certificates_is_crawled_completely() {
    let sim = sim::start(world(214)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tls-ok.sqlite");
    let seeds = [seed(&sim, "self-signed", Some(true))];
    let summary = crawl::crawl(&db, &seeds, options()).await.unwrap();
    assert!(summary.unreachable.is_empty(), "{:?}", summary.unreachable);
    assert_eq!(summary.failure_count, 0, "{:?}", summary.failures);
    assert_complete(&sim, &db, "self-signed");
    let log = sim.requests_to("self-signed");
    assert!(log.iter().all(|r| r.method != "TLS"), "{log:?}");
    assert!(
        log.iter()
            .any(|r| r.path == "/robots.txt" && r.status == 200)
    );
}
