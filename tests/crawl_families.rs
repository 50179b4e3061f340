//! The crawler against the simulator's gkmlpt (family D) and 集约化 (family E) hosts: every
//! report found once from the SPA shell's category tree and the JSON API, or from the agency
//! navigation page and the AJAX label pages; pagination stops at the end; decoy categories are
//! left alone; a category's same-host `jump_url` is followed, an off-host one is not; nothing
//! outside the seed hosts is queued; a second run revisits the listings conditionally (304).

mod crawl_support;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;

use gknb::crawl::{self, CrawlOptions, Seed};
use gknb::discover::Family as Hint;
use gknb::sim::{self, Family, HostSpec, Layout, ReportKind, SimConfig, SimHandle};
use url::Url;

/// Fast enough that the test is quick; the simulator's hosts have no rate limit.
const RATE: f64 = 200.0;

fn host(name: &str, last: u8, family: Family) -> HostSpec {
    HostSpec::new(name, SocketAddr::from(([127, 0, 0, last], 0)), family)
}

fn options() -> CrawlOptions {
    crawl_support::fast_options(RATE, 1)
}

/// gkmlpt hosts with a flat and a year-column tree, 集约化 hosts with partial and full last
/// pages; two of them carry notices in their report columns.
fn world() -> SimConfig {
    let mut flat = host("gk-flat", 150, Family::Gkmlpt);
    flat.reports = 25;
    flat.per_page = 10;
    flat.noise_every = 5;
    let mut years = host("gk-years", 151, Family::Gkmlpt);
    years.reports = 18;
    years.per_page = 2;
    years.layout = Layout::YearColumns;
    let mut depts = host("gk-depts", 152, Family::Gkmlpt);
    depts.reports = 14;
    depts.per_page = 3;
    depts.layout = Layout::DeptColumns;
    let mut jy = host("jy", 153, Family::Jiyue);
    jy.reports = 30;
    jy.per_page = 4;
    // 6 reports per organ, 3 per page: the last page is full, the next one says 暂无相关信息.
    let mut jy_full = host("jy-full", 154, Family::Jiyue);
    jy_full.reports = 24;
    jy_full.per_page = 3;
    let mut jy_noise = host("jy-noise", 155, Family::Jiyue);
    jy_noise.reports = 20;
    jy_noise.per_page = 5;
    jy_noise.noise_every = 3;
    let mut gk_sticky = host("gk-sticky", 156, Family::Gkmlpt);
    gk_sticky.reports = 12;
    gk_sticky.per_page = 5;
    gk_sticky.faults.sticky_pager = true;
    let mut jy_sticky = host("jy-sticky", 157, Family::Jiyue);
    jy_sticky.reports = 12;
    jy_sticky.per_page = 1;
    jy_sticky.faults.sticky_pager = true;
    // 街镇 reports behind a `jump_url` to an HTML column of 2 pages; another category jumps
    // off the host.
    let mut jump = host("gk-jump", 158, Family::Gkmlpt);
    jump.reports = 36;
    jump.per_page = 4;
    jump.layout = Layout::DeptColumns;
    jump.gkmlpt_jump = true;
    SimConfig {
        hosts: vec![
            flat, years, depts, jy, jy_full, jy_noise, gk_sticky, jy_sticky, jump,
        ],
    }
}

/// Hosts whose every page repeats the first: only the first page of each column is reachable.
const STICKY: &[&str] = &["gk-sticky", "jy-sticky"];

/// Seeds from the hosts' entry pages; half of them name their family, half leave it to
/// detection.
fn seeds(sim: &SimHandle) -> Vec<Seed> {
    sim.hosts()
        .into_iter()
        .map(|h| {
            let family = match h.name.as_str() {
                "gk-years" => Hint::Gkmlpt,
                "jy-full" => Hint::Jiyue,
                _ => Hint::Auto,
            };
            Seed {
                name: h.name,
                region: String::new(),
                url: Url::parse(&h.entry_url).unwrap(),
                family,
                rate: None,
                burst: None,
                accept_invalid_certs: None,
                hosts: Vec::new(),
            }
        })
        .collect()
}

fn query(path: &str, key: &str) -> Option<String> {
    let u = Url::parse(&format!("http://x{path}")).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gkmlpt_and_jiyue_hosts_are_crawled_completely() {
    let sim = sim::start(world()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("families.sqlite");
    let summary = crawl::crawl(&db, &seeds(&sim), options()).await.unwrap();
    let names: Vec<String> = sim
        .hosts()
        .into_iter()
        .map(|h| h.name)
        .filter(|n| !STICKY.contains(&n.as_str()))
        .collect();

    // Every report exactly once, and nothing else taken for a report.
    let found = crawl_support::column(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done' ORDER BY url",
    );
    let sticky_hosts: Vec<String> = STICKY
        .iter()
        .map(|n| {
            let base = Url::parse(&sim.base_url(n).unwrap()).unwrap();
            base.host_str().unwrap().to_string()
        })
        .collect();
    let found: Vec<String> = found
        .into_iter()
        .filter(|u| {
            let h = Url::parse(u).unwrap().host_str().unwrap().to_string();
            !sticky_hosts.contains(&h)
        })
        .collect();
    let found_set: BTreeSet<&String> = found.iter().collect();
    assert_eq!(found.len(), found_set.len(), "a report queued twice");
    let truth: BTreeSet<String> = names
        .iter()
        .flat_map(|n| sim.truth(n))
        .map(|t| t.url)
        .collect();
    assert_eq!(
        found_set.into_iter().cloned().collect::<BTreeSet<String>>(),
        truth,
        "reports found differ from the truth"
    );
    let log = sim.requests();
    for name in &names {
        let t = sim.truth(name);
        assert!(t.len() >= 12, "{name}: a small truth ({})", t.len());
        for r in &t {
            let path = crawl_support::path_of(&r.url);
            let hits = log
                .iter()
                .filter(|q| q.host == *name && q.path == path && q.status == 200)
                .count();
            assert_eq!(hits, 1, "{name}: {path} fetched {hits} times");
        }
    }

    // One ingested report per truth URL, with the simulator's facts.
    let archive = gknb::store::Archive::open_read_only(&db).unwrap();
    // Sound file, and no row pointing nowhere (batches do not enforce foreign keys).
    assert_eq!(archive.integrity_check().unwrap(), vec!["ok"]);
    for name in &names {
        for t in sim.truth(name) {
            crawl_support::assert_stored_once(&archive, &t, &format!("{name}: "));
        }
    }
    assert!(
        names
            .iter()
            .flat_map(|n| sim.truth(n))
            .any(|t| t.kind == ReportKind::AttachmentOnly),
        "the world has attachment-only reports"
    );

    // Nothing outside the seed hosts was queued or archived.
    let hosts: HashSet<String> = sim
        .hosts()
        .iter()
        .map(|h| {
            Url::parse(&h.base_url)
                .unwrap()
                .host_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let queued = crawl_support::column(&db, "SELECT url FROM crawl_frontier");
    let archived = crawl_support::column(&db, "SELECT COALESCE(final_url, url) FROM documents");
    for u in queued.iter().chain(&archived) {
        let h = Url::parse(u).unwrap().host_str().unwrap().to_string();
        assert!(hosts.contains(&h), "outside the seeds: {u}");
    }

    // gkmlpt: only the annual-report categories were listed, each page at most once, and
    // pagination stopped at the end (at most one page past the last full one).
    for name in ["gk-flat", "gk-years", "gk-depts"] {
        let api: Vec<String> = sim
            .requests_to(name)
            .into_iter()
            .filter(|r| r.path.starts_with("/gkmlpt/api/"))
            .map(|r| r.path)
            .collect();
        assert!(!api.is_empty(), "{name}: the API was not used");
        let mut per_cat: HashMap<String, Vec<u64>> = HashMap::new();
        for p in &api {
            assert_eq!(query(p, "sid").as_deref(), Some("755001"), "{p}");
            let cat = p["/gkmlpt/api/all/".len()..]
                .split('?')
                .next()
                .unwrap()
                .to_string();
            assert!(cat != "2601" && cat != "2650", "{name}: decoy category {p}");
            let page = query(p, "page").unwrap().parse().unwrap();
            per_cat.entry(cat).or_default().push(page);
        }
        let spec_per_page = match name {
            "gk-flat" => 10,
            "gk-years" => 2,
            _ => 3,
        };
        let listed: usize = sim.truth(name).len();
        for (cat, mut pages) in per_cat {
            pages.sort_unstable();
            let n = pages.len();
            pages.dedup();
            assert_eq!(pages.len(), n, "{name}: category {cat} page fetched twice");
            assert_eq!(pages[0], 1);
            let max_pages = listed.div_ceil(spec_per_page) as u64 + 2;
            assert!(
                *pages.last().unwrap() <= max_pages,
                "{name}: category {cat} paged to {pages:?}"
            );
        }
    }

    // gkmlpt jump_url: the 街镇 category is listed from its column page (both pages, once
    // each), never through the API; its reports are among those found once above.
    let jump_reqs = sim.requests_to("gk-jump");
    let jump_truth = sim.truth("gk-jump");
    let jump_column = "/gkmlpt/nb0/jdnb/";
    let behind_jump: Vec<&sim::TruthReport> = jump_truth
        .iter()
        .filter(|t| t.listed_in.iter().any(|l| l.contains(jump_column)))
        .collect();
    assert!(
        behind_jump.len() > 4,
        "gk-jump: {} reports behind the jump",
        behind_jump.len()
    );
    for t in &behind_jump {
        assert_eq!(t.listed_in.len(), 1, "{}: listed elsewhere too", t.url);
    }
    for page in ["index.htm", "home_1.htm"] {
        let path = format!("{jump_column}{page}");
        let hits = jump_reqs.iter().filter(|r| r.path == path).count();
        assert_eq!(hits, 1, "gk-jump: {path} fetched {hits} times");
    }
    let api_cats: HashSet<String> = jump_reqs
        .iter()
        .filter_map(|r| r.path.strip_prefix("/gkmlpt/api/all/"))
        .map(|p| p.split('?').next().unwrap_or("").to_string())
        .collect();
    assert!(!api_cats.is_empty(), "gk-jump: the API was not used");
    assert!(
        !api_cats.contains("2660"),
        "gk-jump: the off-host jump category was listed through the API"
    );

    // 集约化: only the 年报 columns (catId 2003), no label page past the first empty one.
    for name in ["jy", "jy-full", "jy-noise"] {
        let reqs = sim.requests_to(name);
        assert!(
            reqs.iter().all(|r| !r.path.contains("catId=6786")),
            "{name}: the 指南 column was listed"
        );
        let labels: Vec<&str> = reqs
            .iter()
            .filter(|r| r.path.starts_with("/site/label/"))
            .map(|r| r.path.as_str())
            .collect();
        assert!(!labels.is_empty(), "{name}: no AJAX page fetched");
        let mut seen = HashSet::new();
        for p in &labels {
            assert!(seen.insert(*p), "{name}: {p} fetched twice");
            let index: u32 = query(p, "pageIndex").unwrap().parse().unwrap();
            assert!((2..=4).contains(&index), "{name}: {p}");
        }
    }
    // A full last page costs one empty label page; a short one costs none.
    let empty_pages = |name: &str| {
        sim.requests_to(name)
            .iter()
            .filter(|r| r.path.starts_with("/site/label/"))
            .filter(|r| query(&r.path, "pageIndex").as_deref() == Some("3"))
            .count()
    };
    assert_eq!(empty_pages("jy"), 0);
    assert!(empty_pages("jy-full") > 0);
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);

    // Sticky pagers: the first page of each column, then one repeat that brings nothing new.
    let api_pages = sim
        .requests_to("gk-sticky")
        .iter()
        .filter(|r| r.path.starts_with("/gkmlpt/api/"))
        .count();
    assert_eq!(api_pages, 2, "gk-sticky: pages 1 and 2 only");
    let jy_organs = sim
        .requests_to("jy-sticky")
        .iter()
        .filter(|r| r.path.starts_with("/public/column/"))
        .count();
    let jy_labels = sim
        .requests_to("jy-sticky")
        .iter()
        .filter(|r| r.path.starts_with("/site/label/"))
        .count();
    assert!(jy_organs > 1);
    assert_eq!(
        jy_labels, jy_organs,
        "jy-sticky: one repeated page per organ"
    );
    let sticky_found = crawl_support::column(
        &db,
        "SELECT url FROM crawl_frontier WHERE kind = 'report' AND state = 'done'",
    )
    .into_iter()
    .filter(|u| {
        let h = Url::parse(u).unwrap().host_str().unwrap().to_string();
        sticky_hosts.contains(&h)
    })
    .count();
    assert_eq!(
        sticky_found,
        5 + jy_organs,
        "first pages of the sticky columns"
    );
    assert_eq!(
        summary.new_report_count as usize,
        truth.len() + sticky_found,
        "every report found was ingested once"
    );

    // A second run finds nothing new and fetches no report page again.
    sim.clear_requests();
    let second = crawl::crawl(&db, &seeds(&sim), options()).await.unwrap();
    assert_eq!(second.new_report_count, 0);
    let report_paths: HashSet<String> = truth.iter().map(|u| crawl_support::path_of(u)).collect();
    let refetched: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| report_paths.contains(&r.path))
        .map(|r| r.path)
        .collect();
    assert!(refetched.is_empty(), "{refetched:?}");

    // Listings are revisited with their validators: every gkmlpt API page and every jump
    // column page of the second run was a conditional request answered 304.
    for name in ["gk-flat", "gk-years", "gk-depts", "gk-jump"] {
        let revisited: Vec<sim::RequestRecord> = sim
            .requests_to(name)
            .into_iter()
            .filter(|r| r.path.starts_with("/gkmlpt/api/") || r.path.starts_with("/gkmlpt/nb0/"))
            .collect();
        assert!(!revisited.is_empty(), "{name}: no listing revisited");
        for r in &revisited {
            assert!(
                r.conditional && r.status == 304,
                "{name}: {} conditional {} status {}",
                r.path,
                r.conditional,
                r.status
            );
        }
    }
}
