//! `gknb bench`, like `scrapy bench`: start the local portal simulator with N hosts and M
//! reports each, crawl it into a scratch archive, and print throughput and resource use.
//!
//! The simulator runs in a child process (`gknb bench --serve`), so the CPU time and peak
//! memory printed for the crawl are the crawler's own; the simulator's are printed beside them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use url::Url;

use super::Context;
use crate::config::RobotsPolicy;
use crate::crawl::{self, CrawlOptions, Seed};
use crate::discover::Family;
use crate::fetch::FetchConfig;
use crate::sim;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated hosts.
    #[arg(long, default_value_t = 20)]
    pub hosts: usize,
    /// Reports per host.
    #[arg(long, default_value_t = 50)]
    pub reports: usize,
    /// Requests per second per host.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Requests a host may receive back to back.
    #[arg(long, default_value_t = 1)]
    pub burst: u32,
    /// Requests in flight at once over all hosts [default: 2 per host].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Archive to crawl into [default: a temporary file, deleted afterwards].
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Internal: serve the simulator for a parent `gknb bench` (hosts on stdout, stop on stdin).
    #[arg(long, hide = true)]
    pub serve: bool,
}

/// Figures of one bench run.
#[derive(Debug, serde::Serialize)]
pub struct Figures {
    pub hosts: usize,
    pub reports_per_host: usize,
    pub rate_per_host: f64,
    pub elapsed_secs: f64,
    pub pages: u64,
    pub requests: u64,
    pub reports: u64,
    pub pages_per_sec: f64,
    pub requests_per_sec: f64,
    pub reports_per_sec: f64,
    /// `requests_per_sec` over the rate limits' ceiling (hosts × rate).
    pub rate_utilisation: f64,
    pub cpu_user_secs: f64,
    pub cpu_system_secs: f64,
    pub peak_rss_mb: f64,
    pub failures: u64,
    /// Crawler CPU (user + system) per page fetched.
    pub cpu_ms_per_page: f64,
    /// Crawler CPU over wall time: how many cores the crawl kept busy.
    pub cores_used: f64,
    /// Cores on this machine (the crawler shares them with the simulator).
    pub cores: usize,
    /// The simulator process's own CPU and peak memory.
    pub sim_cpu_secs: f64,
    pub sim_peak_rss_mb: f64,
    /// Wall time the single archive writer spent writing batches, and its CPU time (Linux).
    pub writer_secs: f64,
    pub writer_cpu_secs: Option<f64>,
    /// Share of the machine's CPU time in use, by every process, per second of the run
    /// (`/proc/stat`, Linux): whether the crawl was bound by the CPUs rather than the rate
    /// limits.
    pub machine: Option<MachineLoad>,
}

/// How busy the machine's CPUs were during the crawl, sampled once a second.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MachineLoad {
    /// Mean share of all cores busy (user, system, interrupts, steal) over the samples.
    pub mean_busy: f64,
    /// Seconds sampled, and those in which at least 90% of the cores were busy.
    pub seconds: usize,
    pub saturated_seconds: usize,
}

/// What the simulator child reports when stopped.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SimStats {
    requests: u64,
    cpu_secs: f64,
    peak_rss_mb: f64,
}

/// A host as the simulator child announces it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SimHost {
    name: String,
    entry_url: String,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.hosts > 0, "--hosts must be at least 1");
    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be positive"
    );
    if args.serve {
        // The simulator plays the portals: it runs at normal priority, unlike the crawler's
        // fetching and parsing threads.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        rt.block_on(serve(&args))?;
        return Ok(ExitCode::SUCCESS);
    }
    crawl::tune_malloc();
    let rt = crawl::runtime().context("cannot start the async runtime")?;
    let scratch = std::env::temp_dir().join(format!("gknb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).context("cannot create a scratch directory")?;
    let db = args
        .db
        .clone()
        .unwrap_or_else(|| scratch.join("bench.sqlite"));
    let figures = bench(&rt, &args, ctx, &db);
    // Also after an interrupt: the scratch archive of a large bench runs to gigabytes.
    let _ = std::fs::remove_dir_all(&scratch);
    let Some(figures) = figures? else {
        eprintln!("gknb bench: interrupted; scratch files removed");
        return Ok(ExitCode::from(130));
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print_figures(&figures);
    }
    Ok(ExitCode::SUCCESS)
}

/// The child side: start the simulator, announce its hosts, serve until stdin says stop.
async fn serve(args: &Args) -> anyhow::Result<()> {
    let handle = sim::start(sim::SimConfig::bench(args.hosts, args.reports))
        .await
        .context("cannot start the portal simulator")?;
    let mut out = String::new();
    for h in handle.hosts() {
        out.push_str(&serde_json::to_string(&SimHost {
            name: h.name,
            entry_url: h.entry_url,
        })?);
        out.push('\n');
    }
    out.push_str("READY\n");
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }
    // Any line (or end of input) on stdin stops the simulator.
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await
    .context("waiting for the parent")?;
    let (user, system) = cpu_times();
    let stats = SimStats {
        requests: handle.requests().len() as u64,
        cpu_secs: user + system,
        peak_rss_mb: peak_rss_kb().map_or(f64::NAN, |kb| kb as f64 / 1024.0),
    };
    println!("{}", serde_json::to_string(&stats)?);
    Ok(())
}

/// Runs the bench; `None` when a signal (Ctrl-C, SIGTERM) stopped it.
fn bench(
    rt: &tokio::runtime::Runtime,
    args: &Args,
    ctx: &Context,
    db: &std::path::Path,
) -> anyhow::Result<Option<Figures>> {
    use std::io::{BufRead as _, Write as _};
    let exe = std::env::current_exe().context("cannot find the gknb executable")?;
    let mut child = std::process::Command::new(exe)
        .args([
            "bench",
            "--serve",
            "--hosts",
            &args.hosts.to_string(),
            "--reports",
            &args.reports.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot start the simulator process")?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        anyhow::bail!("simulator process without pipes");
    };
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut seeds = Vec::new();
    for line in lines.by_ref() {
        let line = line.context("reading the simulator's hosts")?;
        if line == "READY" {
            break;
        }
        let h: SimHost = serde_json::from_str(&line).context("simulator host line")?;
        seeds.push(Seed {
            name: h.name,
            // Portals are different places, as in real seeds: without a region code, two
            // simulated cities that drew the same name would merge their agencies, and every
            // report of the second would compete with the first's for the same agency-year.
            // `99` is no province's prefix: the codes are plainly synthetic.
            region: format!("99{:04}", seeds.len()),
            url: Url::parse(&h.entry_url).context("simulator entry URL")?,
            family: Family::Auto,
            rate: None,
            burst: None,
            accept_invalid_certs: None,
            hosts: Vec::new(),
        });
    }
    anyhow::ensure!(
        seeds.len() == args.hosts,
        "the simulator did not start every host"
    );
    let mut cfg = ctx.config.crawl.clone();
    cfg.per_host_rate = args.rate;
    cfg.per_host_burst = args.burst;
    cfg.concurrency = args.concurrency.unwrap_or(args.hosts * 2).max(1);
    cfg.robots = RobotsPolicy::Obey;
    let opts = CrawlOptions {
        fetch: FetchConfig::from_config(&cfg),
        max_listing_pages: u32::try_from(cfg.max_listing_pages).unwrap_or(u32::MAX),
        max_depth: cfg.max_depth,
        // `--concurrency` is what the bench promises: requests in flight over all hosts,
        // those waiting for their host's rate limiter included.
        max_in_flight: cfg.concurrency,
        per_host_parallel: cfg.per_host_parallel.max(2),
        progress: !ctx.quiet,
        max_pages: None,
    };
    let cpu0 = cpu_times();
    let start = Instant::now();
    let sampler = LoadSampler::start();
    let stop = {
        let _in_runtime = rt.enter();
        super::interrupted()
    };
    let summary = rt.block_on(crawl::crawl_until(db, &seeds, opts, stop));
    if summary.as_ref().is_ok_and(|s| s.interrupted) {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(None);
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let cpu1 = cpu_times();
    let machine = sampler.finish();
    let _ = stdin.write_all(b"stop\n");
    drop(stdin);
    let sim_stats: SimStats = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or_default();
    let _ = child.wait();
    let summary = summary?;
    let pages = summary.pages + summary.not_modified;
    let requests = sim_stats.requests;
    let rps = requests as f64 / elapsed;
    let cpu = (cpu1.0 - cpu0.0) + (cpu1.1 - cpu0.1);
    Ok(Some(Figures {
        hosts: args.hosts,
        reports_per_host: args.reports,
        rate_per_host: args.rate,
        elapsed_secs: elapsed,
        pages,
        requests,
        reports: summary.new_report_count,
        pages_per_sec: pages as f64 / elapsed,
        requests_per_sec: rps,
        reports_per_sec: summary.new_report_count as f64 / elapsed,
        rate_utilisation: rps / (args.hosts as f64 * args.rate),
        cpu_user_secs: cpu1.0 - cpu0.0,
        cpu_system_secs: cpu1.1 - cpu0.1,
        peak_rss_mb: peak_rss_kb().map_or(f64::NAN, |kb| kb as f64 / 1024.0),
        failures: summary.failure_count,
        cpu_ms_per_page: cpu * 1e3 / pages.max(1) as f64,
        cores_used: cpu / elapsed,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        sim_cpu_secs: sim_stats.cpu_secs,
        sim_peak_rss_mb: sim_stats.peak_rss_mb,
        writer_secs: summary.writer_secs,
        writer_cpu_secs: summary.writer_cpu_secs,
        machine,
    }))
}

fn print_figures(f: &Figures) {
    println!(
        "{} hosts × {} reports at {} req/s per host",
        f.hosts, f.reports_per_host, f.rate_per_host
    );
    println!(
        "{:.1}s: {} pages ({:.0}/s), {} requests ({:.0}/s, {:.0}% of the {:.0}/s the rate limits allow), {} reports ({:.0}/s)",
        f.elapsed_secs,
        f.pages,
        f.pages_per_sec,
        f.requests,
        f.requests_per_sec,
        f.rate_utilisation * 100.0,
        f.hosts as f64 * f.rate_per_host,
        f.reports,
        f.reports_per_sec
    );
    println!(
        "crawler: cpu {:.1}s user + {:.1}s system ({:.2} ms per page, {:.2} of {} cores busy), peak memory {:.1} MB; {} failures",
        f.cpu_user_secs,
        f.cpu_system_secs,
        f.cpu_ms_per_page,
        f.cores_used,
        f.cores,
        f.peak_rss_mb,
        f.failures
    );
    // The writer's time off the CPU is mostly waiting for a core (or for the disk).
    let writer_cpu = f
        .writer_cpu_secs
        .map_or_else(String::new, |c| format!(", {c:.1}s of it on a CPU"));
    println!(
        "archive writer busy {:.1}s ({:.0}% of the run{writer_cpu}): {:.2} ms per page",
        f.writer_secs,
        f.writer_secs * 100.0 / f.elapsed_secs,
        f.writer_secs * 1e3 / f.pages.max(1) as f64
    );
    println!(
        "simulator (separate process): cpu {:.1}s, peak memory {:.1} MB",
        f.sim_cpu_secs, f.sim_peak_rss_mb
    );
    if let Some(m) = &f.machine {
        println!(
            "machine: {:.0}% of {} cores busy on average (all processes); at least 90% busy for {} of {} seconds",
            m.mean_busy * 100.0,
            f.cores,
            m.saturated_seconds,
            m.seconds
        );
        if m.seconds > 0 && m.saturated_seconds * 2 >= m.seconds {
            println!("the CPUs, not the rate limits, set the pace for most of this run");
        }
    }
}

/// Samples `/proc/stat` once a second on a thread of its own until [`LoadSampler::finish`].
struct LoadSampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<Vec<f64>>,
}

impl LoadSampler {
    fn start() -> LoadSampler {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut shares = Vec::new();
            let Some(mut last) = cpu_ticks() else {
                return shares;
            };
            // A message or a hang-up ends the sampling; a timeout is the next second.
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(std::time::Duration::from_secs(1))
            {
                let Some(now) = cpu_ticks() else {
                    break;
                };
                let (busy, total) = (now.0 - last.0, now.1 - last.1);
                if total > 0 {
                    shares.push(busy as f64 / total as f64);
                }
                last = now;
            }
            shares
        });
        LoadSampler { stop, thread }
    }

    /// `None` where `/proc/stat` cannot be read.
    fn finish(self) -> Option<MachineLoad> {
        let _ = self.stop.send(());
        let shares = self.thread.join().ok()?;
        if shares.is_empty() {
            return cpu_ticks().map(|_| MachineLoad {
                mean_busy: 0.0,
                seconds: 0,
                saturated_seconds: 0,
            });
        }
        Some(MachineLoad {
            mean_busy: shares.iter().sum::<f64>() / shares.len() as f64,
            seconds: shares.len(),
            saturated_seconds: shares.iter().filter(|&&s| s >= 0.9).count(),
        })
    }
}

/// Busy and total ticks of all CPUs since boot, from the `cpu` line of `/proc/stat`: user,
/// nice, system, idle, iowait, irq, softirq, steal (guest time is inside user and nice).
fn cpu_ticks() -> Option<(u64, u64)> {
    parse_cpu_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn parse_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    if v.len() < 8 {
        return None;
    }
    let idle = v[3] + v[4];
    let total: u64 = v.iter().sum();
    Some((total - idle, total))
}

/// User and system CPU seconds of this process, from `/proc/self/stat` (USER_HZ is 100 on
/// Linux); zeros elsewhere.
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return (0.0, 0.0);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (tick(11), tick(12))
}

/// Peak resident set size in KiB (`VmHWM` in `/proc/self/status`).
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_ticks;

    #[test]
    fn cpu_ticks_count_iowait_as_idle() {
        let stat = "cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n";
        // busy: user + nice + system + irq + softirq + steal; idle: idle + iowait.
        assert_eq!(parse_cpu_ticks(stat), Some((170, 990)));
        assert_eq!(parse_cpu_ticks("cpu0 1 2 3\n"), None);
        assert_eq!(parse_cpu_ticks("cpu  1 2 3\n"), None);
    }
}
