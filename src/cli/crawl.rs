//! `gknb crawl`: crawl the seeds' portals into the archive, resuming an interrupted run.
//!
//! Exit status 0 whenever the run itself could proceed (failed hosts and pages are reported in
//! the summary, not in the status); 2 when it could not (bad seeds, locked archive).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::config::RobotsPolicy;
use crate::crawl::{self, CrawlOptions, Seed, Summary};
use crate::discover::Family;
use crate::fetch::FetchConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seed file or directory of `*.toml` seed files [default: config `crawl.seeds`].
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub seeds: Option<PathBuf>,
    /// The archive [default: config `archive.db`].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Requests in flight at once over all hosts.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Requests per second per host.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Requests a host may receive back to back.
    #[arg(long)]
    pub burst: Option<u32>,
    /// Seconds per request, body included.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Retries on timeouts, connection errors, 5xx and 429.
    #[arg(long)]
    pub retries: Option<u32>,
    /// First backoff delay in milliseconds.
    #[arg(long)]
    pub backoff_ms: Option<u64>,
    /// Listing pages followed per column.
    #[arg(long)]
    pub max_listing_pages: Option<usize>,
    /// robots.txt policy: obey or ignore.
    #[arg(long, value_parser = parse_robots)]
    pub robots: Option<RobotsPolicy>,
    /// User-Agent header.
    #[arg(long)]
    pub user_agent: Option<String>,
    /// Print the summary as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_robots(s: &str) -> Result<RobotsPolicy, String> {
    match s {
        "obey" => Ok(RobotsPolicy::Obey),
        "ignore" => Ok(RobotsPolicy::Ignore),
        _ => Err("expected `obey` or `ignore`".into()),
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut cfg = ctx.config.crawl.clone();
    if let Some(v) = args.concurrency {
        cfg.concurrency = v;
    }
    if let Some(v) = args.rate {
        anyhow::ensure!(v > 0.0 && v.is_finite(), "--rate must be positive");
        cfg.per_host_rate = v;
    }
    if let Some(v) = args.burst {
        cfg.per_host_burst = v;
    }
    if let Some(v) = args.timeout {
        cfg.timeout_secs = v;
    }
    if let Some(v) = args.retries {
        cfg.retries = v;
    }
    if let Some(v) = args.backoff_ms {
        cfg.backoff_base_ms = v;
    }
    if let Some(v) = args.max_listing_pages {
        cfg.max_listing_pages = v;
    }
    if let Some(v) = args.robots {
        cfg.robots = v;
    }
    if let Some(v) = &args.user_agent {
        cfg.user_agent = v.clone();
    }
    let seeds_path = args.seeds.clone().unwrap_or_else(|| cfg.seeds.clone());
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| ctx.config.archive.db.clone());
    let seeds = load_seeds(&seeds_path)?;
    anyhow::ensure!(!seeds.is_empty(), "no portals in {}", seeds_path.display());
    let opts = CrawlOptions {
        fetch: FetchConfig::from_config(&cfg),
        max_listing_pages: u32::try_from(cfg.max_listing_pages).unwrap_or(u32::MAX),
        max_depth: cfg.max_depth,
        max_in_flight: cfg.max_in_flight,
        per_host_parallel: cfg.per_host_parallel,
        progress: !ctx.quiet,
        max_pages: None,
    };
    crawl::tune_malloc();
    let rt = crawl::runtime().context("cannot start the async runtime")?;
    // Ctrl-C (or SIGTERM) stops the crawl after writing what is in hand; a second one does
    // not wait for that.
    let first = {
        let _in_runtime = rt.enter();
        super::interrupted()
    };
    let stop = async {
        first.await;
        tokio::spawn(async {
            super::interrupted().await;
            eprintln!("gknb crawl: stopped; run the same command to resume");
            std::process::exit(130);
        });
    };
    let summary = rt
        .block_on(crawl::crawl_until(&db, &seeds, opts, stop))
        .with_context(|| format!("crawl into {} failed", db.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else if !ctx.quiet {
        print!("{}", render_summary(&summary));
    }
    if summary.interrupted {
        eprintln!("gknb crawl: interrupted; run the same command to resume");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The closing summary as text.
pub fn render_summary(s: &Summary) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "run {}{}{}: {} pages, {} unchanged (304), {} requests, {:.1} MB in {:.1}s",
        s.run_id,
        if s.resumed { " (resumed)" } else { "" },
        if s.interrupted { " (interrupted)" } else { "" },
        s.pages,
        s.not_modified,
        s.requests,
        s.bytes as f64 / 1e6,
        s.elapsed_secs
    );
    let _ = writeln!(
        o,
        "reports: {} new this run, {} in the archive, {} new failing validation",
        s.new_report_count, s.reports_total, s.failed_validations
    );
    if s.attachments_adopted > 0 {
        let _ = writeln!(
            o,
            "attachments: {} report pages took their facts from an archived attachment",
            s.attachments_adopted
        );
    }
    for r in s.new_reports.iter().take(50) {
        let _ = writeln!(
            o,
            "  new  [{}] {} {}",
            r.status,
            r.title.as_deref().unwrap_or("(untitled)"),
            r.url
        );
    }
    if s.new_report_count > 50 {
        let _ = writeln!(o, "  … and {} more", s.new_report_count - 50);
    }
    for (label, list) in [
        ("blocked", &s.blocked),
        ("unreachable", &s.unreachable),
        ("robots.txt", &s.robots_excluded),
    ] {
        for v in list {
            let _ = writeln!(o, "{label}: {} ({})", v.host, v.reason);
        }
    }
    let _ = writeln!(o, "failures: {}", s.failure_count);
    for f in s.failures.iter().take(20) {
        let _ = writeln!(o, "  {} {} — {}", f.kind, f.url, f.error);
    }
    if s.failure_count > 20 {
        let _ = writeln!(o, "  … and {} more", s.failure_count - 20);
    }
    o
}

/// Reads the seed file or directory and turns each portal into a crawl seed.
pub fn load_seeds(path: &Path) -> anyhow::Result<Vec<Seed>> {
    let portals = crate::seeds::load(path)?;
    portals
        .into_iter()
        .map(|p| {
            let url = p
                .parsed_url()
                .with_context(|| format!("portal {:?} has a bad url", p.name))?;
            let hosts = p
                .host_patterns()
                .map_err(|e| anyhow::anyhow!("portal {:?}: {e}", p.name))?;
            Ok(Seed {
                family: Family::from_name(p.family.as_str()).unwrap_or_default(),
                name: p.name,
                region: p.region,
                url,
                rate: p.rate,
                burst: p.burst,
                accept_invalid_certs: p.accept_invalid_certs,
                hosts,
            })
        })
        .collect()
}
