//! The crawl scheduler: frontier in the archive, resumable, incremental.
//!
//! Split the Scrapy way: the *scheduler* (this module) keeps the frontier in SQLite
//! ([`state`]) and hands rows to per-host queues; the *downloader* ([`crate::fetch`]) enforces
//! politeness; *discovery* ([`crate::discover`]) is pure; the *pipeline* archives every response
//! and parses report pages on the way in.
//!
//! Resumability: a row is marked done in the same transaction that archives its response and
//! inserts what it led to ([`pipeline`]). After a `kill -9` the same command resumes the
//! unfinished run: only the rows whose responses were not yet committed are fetched again.
//!
//! Incremental runs: a new run puts every known listing back in the queue with its ETag and
//! Last-Modified, so unchanged listings cost a 304; report pages already archived are never
//! fetched again. Pagination is followed only while pages bring new URLs, which also stops
//! sticky pagers and stub pages.

pub mod pipeline;
pub mod state;
mod task;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use url::Url;

use crate::discover::{self, Discovery, Family};
use crate::fetch::{self, FetchConfig, Fetched, Fetcher, HostPolicy, Outcome};
use crate::model::ParsedReport;
use crate::seeds::HostPattern;
use crate::store::PreparedReport;
use pipeline::{Committed, Job, Writer};
use state::{CrawlDb, Item, Kind, NewItem, Reader, RowState, StateError};

/// Errors that stop a crawl.
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Fetch(#[from] fetch::FetchError),
    #[error("cannot analyse an archived page: {0}")]
    Task(String),
}

/// One portal to crawl: its annual-report listing page and politeness overrides.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: String,
    /// 行政区划代码.
    pub region: String,
    pub url: Url,
    pub family: Family,
    pub rate: Option<f64>,
    pub burst: Option<u32>,
    pub accept_invalid_certs: Option<bool>,
    /// Hosts besides the seed's own whose links the crawl follows (a 集约化 platform's agency
    /// hosts); they get the seed's politeness overrides.
    pub hosts: Vec<HostPattern>,
}

/// How to crawl.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    pub fetch: FetchConfig,
    /// Pages followed per column.
    pub max_listing_pages: u32,
    /// Sub-column and redirect levels followed below a seed.
    pub max_depth: u32,
    /// Requests to one host in flight at once (waiting for the rate limiter included).
    pub per_host_parallel: usize,
    /// Requests in flight over all hosts, waiting for a rate limiter or for the archive
    /// included: bounds the bodies held in memory when the archive is the bottleneck.
    pub max_in_flight: usize,
    /// Show a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Stop after this many fetched responses (benchmarks); `None` for no limit.
    pub max_pages: Option<u64>,
}

/// A report first archived in this run.
#[derive(Debug, Clone, Serialize)]
pub struct NewReport {
    pub url: String,
    pub title: Option<String>,
    pub status: String,
}

/// A request that failed in this run.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub url: String,
    pub kind: String,
    pub error: String,
}

/// A host the crawl gave up on, and why.
#[derive(Debug, Clone, Serialize)]
pub struct HostVerdict {
    pub host: String,
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub run_id: i64,
    pub resumed: bool,
    /// Stopped early ([`crawl_until`]): the next run resumes this one.
    pub interrupted: bool,
    /// Responses archived by this process (any status).
    pub pages: u64,
    /// Conditional requests answered 304.
    pub not_modified: u64,
    /// HTTP requests sent, retries and robots.txt included.
    pub requests: u64,
    pub bytes: u64,
    /// Reports in the archive after the run.
    pub reports_total: u64,
    /// Reports first archived in this run (over all its resumptions).
    pub new_report_count: u64,
    /// The first [`LIST_LIMIT`] of them.
    pub new_reports: Vec<NewReport>,
    /// New reports whose accounting checks failed.
    pub failed_validations: u64,
    /// Attachment-only pages that took their facts from an archived attachment.
    pub attachments_adopted: u64,
    /// Requests that failed in this run.
    pub failure_count: u64,
    /// The first [`LIST_LIMIT`] of them.
    pub failures: Vec<Failure>,
    pub blocked: Vec<HostVerdict>,
    pub unreachable: Vec<HostVerdict>,
    pub robots_excluded: Vec<HostVerdict>,
    pub elapsed_secs: f64,
    /// Time the archive writer spent writing batches: where it nears `elapsed_secs`, writing
    /// was the bottleneck.
    pub writer_secs: f64,
    /// CPU time of that writing (Linux only).
    pub writer_cpu_secs: Option<f64>,
}

/// Where a seed's crawl may go: its host and the hosts its seed allows, and for sub-columns
/// the directory above its column (on any of those hosts).
#[derive(Debug, Clone)]
struct Scope {
    host: String,
    /// More hosts the seed allows (`Seed::hosts`).
    hosts: Vec<HostPattern>,
    prefix: String,
    /// The seed's name and region, passed to the archive as the agency hint.
    name: String,
    region: String,
}

impl Scope {
    fn of(url: &Url) -> Scope {
        let path = url.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let trimmed = dir.trim_end_matches('/');
        let prefix = match trimmed.rfind('/') {
            Some(i) => &trimmed[..=i],
            None => "/",
        };
        Scope {
            host: url.host_str().unwrap_or("").to_string(),
            hosts: Vec::new(),
            prefix: prefix.to_string(),
            name: String::new(),
            region: String::new(),
        }
    }

    /// Whether links to `url` are followed: on the seed's host or on one the seed allows.
    fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        host == self.host || self.hosts.iter().any(|p| p.matches(host))
    }
}

#[derive(Default)]
struct HostSched {
    buf: VecDeque<Item>,
    /// Ids in `buf`, in flight or waiting to be committed: pending in the database, but not to
    /// be handed out again.
    queued: HashSet<i64>,
    cursor: i64,
    in_flight: usize,
    exhausted: bool,
    dead: bool,
    consecutive_failures: u32,
    robots_noted: bool,
}

/// What a fetch task brings back.
struct TaskResult {
    item: Item,
    fetched: Fetched,
    found: Found,
    /// Further pages of a multi-page report, fetched with it.
    parts: Vec<task::PartPage>,
    /// Why a further page could not be fetched: the row is failed, to be retried.
    parts_error: Option<String>,
}

enum Found {
    Nothing,
    Listing(Discovery),
    /// Links of a report page, its parse, and its body hashed and compressed ahead of writing
    /// (done on the analysis threads so the single writer only writes).
    Report(
        discover::ReportLinks,
        Option<Box<ParsedReport>>,
        Option<Box<PreparedReport>>,
    ),
}

/// Longest lists of new reports and failures kept in a [`Summary`].
pub const LIST_LIMIT: usize = 1000;

/// Hosts given up after this many consecutive requests without an answer.
const UNREACHABLE_AFTER: u32 = 3;
const REFILL: usize = 32;
/// A batch is written once it has this many results, or [`WRITE_INTERVAL`] after the last
/// write started, or when nothing else is in flight. Waiting lets batches grow, which is what
/// makes writing cheap: a commit writes every index leaf the batch touched to the WAL, hundreds
/// of them whatever the batch's size (one per metric and year in `facts_metric_year`). A small
/// bench committing a few reports at a time wrote 48 WAL pages per page fetched. The interval
/// bounds how much a kill can lose.
const BATCH_MAX: usize = 256;
const WRITE_INTERVAL: Duration = Duration::from_secs(1);
/// Results waiting for the archive (the batch being written included) beyond which no new
/// request starts: the back-pressure that keeps memory bounded when writing is the bottleneck.
/// A waiting report holds its parse and compressed body (~40 KB), not its raw bytes. On the
/// 100,000-page bench (200 hosts × 2 requests in flight, two parses per core) a backlog of 384
/// peaked at 149 MB and one of 320 at 144 MB, for the same throughput (571 and 557 requests/s).
const BACKLOG_MAX: usize = 5 * BATCH_MAX / 4;

/// Tunes glibc's malloc for a crawl, which allocates and frees page-sized buffers (bodies,
/// parse trees) on whichever thread finishes with them:
///
/// - two arenas instead of eight per core: each arena keeps its own free memory;
/// - buffers of 64 KB and more straight from the kernel and back when freed. By default the
///   threshold rises to 32 MB after the first large free, and page bodies then fragment the
///   heap: a 200-host bench peaked at 196 MB with the default and 136 MB with this.
///
/// Call before starting the async runtime. No effect on other C libraries.
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_MMAP_THRESHOLD: i32 = -3;
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: mallopt only tunes the allocator and is safe to call at any time; it is
        // called before the runtime's threads exist.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
            mallopt(M_MMAP_THRESHOLD, 64 * 1024);
        }
    }
}

/// The async runtime a crawl runs on. Its threads (fetching, and analysing pages on the
/// blocking pool) run at a lower priority than the archive writer's thread and the
/// scheduler's (the thread calling `block_on`): the single writer is what bounds a crawl on a
/// small machine, and it lost a quarter of its time waiting for a core held by a parser.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(yield_to_writer)
        .build()
}

/// Lowers the calling thread's priority to the lowest (nice +19: about 1.5% of the CPU share
/// of a normal thread when both want the same core). At +5 the writer still waited for a core
/// for 81 s of the 234 s it spent on the 100,000-page bench, at +19 for 16 s; on the 10,000-page
/// bench, four alternating runs each, it waited 2.7-3.2 s against 1.5-1.8 s, and requests/s went
/// from 605-637 to 560-689 (medians 618 and 662). The cost: on a machine kept busy by other
/// programs a crawl's fetching and parsing wait for them, which suits a nightly background job.
/// Linux only, where the nice value is per-thread; elsewhere it would apply to the whole
/// process, so it does nothing.
fn yield_to_writer() {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: setpriority only changes the scheduling priority of the calling thread
        // (who = 0); a failure leaves it as it was, which is harmless.
        unsafe {
            setpriority(PRIO_PROCESS, 0, 19);
        }
    }
}

/// CPU time (user and system) of the calling thread so far, from `/proc/thread-self/stat`.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // In clock ticks, which Linux fixes at 100 per second for this interface.
    Some((utime + stime) / 100.0)
}

/// Crawls `seeds` into the archive at `db`, resuming an interrupted run.
pub async fn crawl(db: &Path, seeds: &[Seed], opts: CrawlOptions) -> Result<Summary, CrawlError> {
    crawl_until(db, seeds, opts, std::future::pending()).await
}

/// [`crawl`], stopping early when `stop` resolves (Ctrl-C at the command line): no request
/// starts after that, the results already in hand are written, requests under way are left
/// for the next run, and the summary says `interrupted`. The run stays open, so the same
/// command resumes it, as after a kill.
pub async fn crawl_until(
    db: &Path,
    seeds: &[Seed],
    opts: CrawlOptions,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Summary, CrawlError> {
    let started = Instant::now();
    let mut store = CrawlDb::open(db)?;
    let run = store.start_run()?;
    if run.resumed {
        tracing::info!(run = run.run_id, "resuming an interrupted run");
    } else {
        tracing::info!(run = run.run_id, seeds = seeds.len(), "starting a run");
    }
    let fetcher = Arc::new(Fetcher::new(opts.fetch.clone())?);
    let mut scopes: HashMap<String, Scope> = HashMap::new();
    let mut policies = Policies::default();
    {
        let mut batch = store
            .archive()
            .batch(usize::MAX, Duration::MAX)
            .map_err(StateError::from)?;
        let st = state::Batch::on(batch.transaction().map_err(StateError::from)?);
        for s in seeds {
            let url = discover::canonical(&s.url);
            let host = fetch::host_key(&url);
            let d = opts.fetch.default_policy;
            let policy = HostPolicy {
                rate: s.rate.unwrap_or(d.rate),
                burst: s.burst.unwrap_or(d.burst),
                accept_invalid_certs: s.accept_invalid_certs.unwrap_or(d.accept_invalid_certs),
            };
            fetcher.set_host_policy(&host, policy);
            policies.seeds.insert(url.to_string(), policy);
            policies.set.insert(host.clone());
            let mut scope = Scope::of(&url);
            scope.hosts = s.hosts.clone();
            scope.name = s.name.clone();
            scope.region = s.region.clone();
            scopes.insert(url.to_string(), scope);
            st.add(
                &NewItem {
                    url: url.to_string(),
                    method: "GET",
                    body: None,
                    referer: None,
                    host,
                    kind: Kind::Listing,
                    seed: url.to_string(),
                    family: s.family.as_str().to_string(),
                    depth: 0,
                    page_no: 0,
                    title: Some(s.name.clone()),
                    date: None,
                },
                run.run_id,
            )?;
        }
        batch.commit().map_err(StateError::from)?;
    }
    let reader = Reader::open(db)?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let writer = Arc::new(Writer {
        run_id: run.run_id,
        scopes,
        max_listing_pages: opts.max_listing_pages,
        max_depth: opts.max_depth,
        done: pipeline::dropper(),
    });
    let mut sched = Scheduler {
        round: 0,
        // Two parses per core: a parse's thread waits for a core now and then (it runs at a
        // lower priority than the writer), and with one per core parsing became the
        // bottleneck of the 200-host bench.
        analysis: Arc::new(Semaphore::new(cores * 2)),
        store: Some(store),
        reader,
        writer,
        waiting: Vec::new(),
        writing: None,
        writing_len: 0,
        last_write: Instant::now(),
        fetcher,
        policies,
        opts,
        run_id: run.run_id,
        hosts: HashMap::new(),
        summary: Summary {
            run_id: run.run_id,
            resumed: run.resumed,
            writer_cpu_secs: thread_cpu_secs().map(|_| 0.0),
            ..Summary::default()
        },
        progress: indicatif::ProgressBar::hidden(),
        errors: 0,
        stopping: false,
    };
    sched.setup_progress();
    sched.run(stop).await?;
    sched.finish(started)
}

/// A batch being written on the writer's thread; it gives the database back when done.
type Writing = tokio::sync::oneshot::Receiver<Box<WriteDone>>;

/// A batch written (or not), and the database given back.
struct WriteDone {
    store: CrawlDb,
    committed: Result<Committed, CrawlError>,
    time: WriterTime,
}

/// Time the archive writer spent on one batch.
struct WriterTime {
    wall: Duration,
    /// CPU time of the writing thread, where the platform tells it.
    cpu: Option<f64>,
}

struct Scheduler {
    /// Rotates the host order of [`Scheduler::dispatch`].
    round: usize,
    /// Permits for CPU-heavy page analysis (discovery, report parsing).
    analysis: Arc<Semaphore>,
    /// The writable archive; lent to the batch being written (`None` meanwhile).
    store: Option<CrawlDb>,
    /// Committed frontier rows, read without waiting for the writer.
    reader: Reader,
    writer: Arc<Writer>,
    /// Judged results waiting for the next batch.
    waiting: Vec<Job>,
    writing: Option<Writing>,
    /// Results in the batch being written.
    writing_len: usize,
    last_write: Instant,
    fetcher: Arc<Fetcher>,
    /// Politeness of hosts first met mid-crawl.
    policies: Policies,
    opts: CrawlOptions,
    run_id: i64,
    hosts: HashMap<String, HostSched>,
    summary: Summary,
    progress: indicatif::ProgressBar,
    errors: u64,
    /// Asked to stop: no request starts, what is in hand gets written.
    stopping: bool,
}

/// The seeds' politeness, for hosts a seed's crawl reaches besides its own (allowed by
/// `Seed::hosts`): the fetcher fixes a host's policy at its first request, so it is set just
/// before then, from the seed of the host's first row dispatched.
#[derive(Default)]
struct Policies {
    /// Seed URL → its policy.
    seeds: HashMap<String, HostPolicy>,
    /// Hosts (`host:port`) whose policy is set.
    set: HashSet<String>,
}

impl Policies {
    /// Gives `item`'s host its seed's policy unless the host already has one. A seed no longer
    /// in the seed files (a resumed run) leaves the host to the default policy.
    fn ensure(&mut self, fetcher: &Fetcher, item: &Item) {
        if self.set.contains(&item.host) {
            return;
        }
        self.set.insert(item.host.clone());
        if let Some(policy) = self.seeds.get(&item.seed) {
            fetcher.set_host_policy(&item.host, *policy);
        }
    }
}

/// What woke the scheduler.
enum Event {
    Results(Vec<TaskResult>),
    Written(Result<Box<WriteDone>, tokio::sync::oneshot::error::RecvError>),
    Tick,
    Stop,
}

/// Waits for the batch being written, or forever when there is none.
async fn written(
    writing: &mut Option<Writing>,
) -> Result<Box<WriteDone>, tokio::sync::oneshot::error::RecvError> {
    match writing {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

impl Scheduler {
    fn setup_progress(&mut self) {
        if self.opts.progress && std::io::stderr().is_terminal() {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.enable_steady_tick(Duration::from_millis(200));
            self.progress = pb;
        }
    }

    fn update_progress(&self) {
        if self.progress.is_hidden() {
            return;
        }
        let active = self.hosts.values().filter(|h| h.in_flight > 0).count();
        self.progress.set_message(format!(
            "hosts {active}/{} · pages {} · new reports {} · errors {}",
            self.hosts.len(),
            self.summary.pages + self.summary.not_modified,
            self.summary.new_report_count,
            self.errors
        ));
    }

    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<(), CrawlError> {
        for h in self.reader.pending_hosts()? {
            self.hosts.entry(h).or_default();
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<TaskResult>();
        let mut in_flight = 0usize;
        let mut stop = std::pin::pin!(stop);
        loop {
            if !self.page_cap_reached() && !self.stopping {
                in_flight += self.dispatch(&tx, in_flight)?;
            }
            // Once stopping, requests under way are not waited for: their rows stay pending.
            let idle = in_flight == 0 || self.stopping;
            let due = idle
                || self.waiting.len() >= BATCH_MAX
                || self.last_write.elapsed() >= WRITE_INTERVAL
                || self.starving();
            if self.writing.is_none() && !self.waiting.is_empty() && due {
                self.start_write()?;
            }
            if idle && self.writing.is_none() && self.waiting.is_empty() {
                break;
            }
            let tick = tokio::time::Instant::from_std(self.last_write + WRITE_INTERVAL);
            let wait_for_tick = self.writing.is_none() && !self.waiting.is_empty();
            let event = tokio::select! {
                r = rx.recv(), if in_flight > 0 => match r {
                    Some(first) => {
                        let mut results = vec![first];
                        while results.len() < 128 {
                            match rx.try_recv() {
                                Ok(r) => results.push(r),
                                Err(_) => break,
                            }
                        }
                        Event::Results(results)
                    }
                    None => break,
                },
                w = written(&mut self.writing) => Event::Written(w),
                _ = tokio::time::sleep_until(tick), if wait_for_tick => Event::Tick,
                () = &mut stop, if !self.stopping => Event::Stop,
            };
            match event {
                Event::Results(results) => {
                    in_flight -= results.len();
                    for r in results {
                        let job = self.judge(r);
                        self.waiting.push(job);
                    }
                }
                Event::Written(w) => {
                    self.writing = None;
                    self.writing_len = 0;
                    let WriteDone {
                        store,
                        committed,
                        time,
                    } = *w.map_err(|e| CrawlError::Task(format!("archive writer stopped: {e}")))?;
                    self.store = Some(store);
                    self.summary.writer_secs += time.wall.as_secs_f64();
                    self.summary.writer_cpu_secs = match (self.summary.writer_cpu_secs, time.cpu) {
                        (Some(sum), Some(t)) => Some(sum + t),
                        _ => None,
                    };
                    self.apply(committed?);
                }
                Event::Tick => {}
                Event::Stop => {
                    tracing::info!(in_flight, "stopping: writing what is in hand");
                    self.stopping = true;
                    self.summary.interrupted = true;
                }
            }
            self.update_progress();
        }
        self.progress.finish_and_clear();
        Ok(())
    }

    /// Whether a host has nothing left to fetch but the links of a listing that waits to be
    /// written: those become fetchable only once committed, so its batch should not wait.
    fn starving(&self) -> bool {
        self.waiting.iter().any(|j| {
            j.item.kind == Kind::Listing
                && self
                    .hosts
                    .get(&j.item.host)
                    .is_some_and(|h| h.in_flight == 0 && h.buf.is_empty() && h.exhausted && !h.dead)
        })
    }

    /// Hands the waiting results to the writer as one batch, on a thread of its own: started
    /// from the scheduler's thread, it keeps its normal priority (see [`runtime`]).
    fn start_write(&mut self) -> Result<(), CrawlError> {
        let mut store = self
            .store
            .take()
            .ok_or_else(|| CrawlError::Task("archive lent out".into()))?;
        let jobs = std::mem::take(&mut self.waiting);
        self.writing_len = jobs.len();
        self.last_write = Instant::now();
        let writer = self.writer.clone();
        let (done, writing) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("gknb-writer".into())
            .spawn(move || {
                let began = Instant::now();
                let cpu = thread_cpu_secs();
                let committed = writer.write(&mut store, jobs);
                let time = WriterTime {
                    wall: began.elapsed(),
                    cpu: cpu.zip(thread_cpu_secs()).map(|(a, b)| b - a),
                };
                // The scheduler gone means the crawl is over: nobody to tell.
                let _ = done.send(Box::new(WriteDone {
                    store,
                    committed,
                    time,
                }));
            });
        spawned.map_err(|e| CrawlError::Task(format!("cannot start the archive writer: {e}")))?;
        self.writing = Some(writing);
        Ok(())
    }

    /// Updates the in-memory queues after a commit.
    fn apply(&mut self, committed: Committed) {
        for (host, id) in committed.finished {
            if let Some(h) = self.hosts.get_mut(&host) {
                h.queued.remove(&id);
            }
        }
        for (host, id) in committed.queued {
            let h = self.hosts.entry(host).or_default();
            h.exhausted = false;
            // A row queued again (a 404 page proposed anew) may lie behind the cursor.
            h.cursor = h.cursor.min(id - 1);
        }
        self.summary.new_report_count += committed.new_reports;
    }

    fn page_cap_reached(&self) -> bool {
        self.opts
            .max_pages
            .is_some_and(|m| self.summary.pages + self.summary.not_modified >= m)
    }

    /// Starts tasks for every host with room; returns how many were started.
    fn dispatch(
        &mut self,
        tx: &mpsc::UnboundedSender<TaskResult>,
        in_flight: usize,
    ) -> Result<usize, CrawlError> {
        let mut started = 0;
        let limit = self.opts.per_host_parallel.max(1);
        let cap = self.opts.max_in_flight.max(1);
        if self.waiting.len() + self.writing_len >= BACKLOG_MAX {
            return Ok(0);
        }
        let mut names: Vec<String> = self.hosts.keys().cloned().collect();
        if names.is_empty() {
            return Ok(0);
        }
        // Round robin, so that under the global cap no host waits for all the others.
        names.sort_unstable();
        let start = self.round % names.len();
        self.round = self.round.wrapping_add(1);
        names.rotate_left(start);
        for name in names {
            while let Some(h) = self.hosts.get_mut(&name) {
                if h.dead || h.in_flight >= limit || in_flight + started >= cap {
                    break;
                }
                while h.buf.is_empty() && !h.exhausted {
                    let rows = self.reader.pending(&name, h.cursor, REFILL)?;
                    if rows.len() < REFILL {
                        h.exhausted = true;
                    }
                    if let Some(last) = rows.last() {
                        h.cursor = last.id;
                    }
                    for row in rows {
                        if h.queued.insert(row.id) {
                            h.buf.push_back(row);
                        }
                    }
                }
                let Some(item) = h.buf.pop_front() else {
                    break;
                };
                h.in_flight += 1;
                started += 1;
                self.policies.ensure(&self.fetcher, &item);
                let fetcher = self.fetcher.clone();
                let analysis = self.analysis.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let result = task::run_task(fetcher, analysis, item).await;
                    let _ = tx.send(result);
                });
            }
        }
        Ok(started)
    }

    /// Updates the host's state and the run's counters from a result, and says what the
    /// writer should record for it.
    fn judge(&mut self, r: TaskResult) -> Job {
        let TaskResult {
            item,
            fetched,
            found,
            parts,
            parts_error,
        } = r;
        let host = item.host.clone();
        if let Some(h) = self.hosts.get_mut(&host) {
            // Still in `queued` until its batch commits.
            h.in_flight = h.in_flight.saturating_sub(1);
        }
        self.summary.requests += u64::from(fetched.attempts);
        let mut job = Job {
            attempts: fetched.attempts,
            response: None,
            found: Found::Nothing,
            parts: Vec::new(),
            row: RowState::Done,
            http_status: None,
            error: None,
            verdict: None,
            item,
        };
        match fetched.outcome {
            Outcome::Fetched(resp) => {
                tracing::debug!(url = %job.item.url, kind = job.item.kind.as_str(), bytes = resp.body.len(), "fetched");
                self.note_success(&host);
                self.summary.pages += 1;
                self.summary.bytes += resp.body.len() as u64;
                job.http_status = Some(resp.status);
                job.response = Some(resp);
                job.found = found;
                self.summary.pages += parts.len() as u64;
                self.summary.bytes += parts.iter().map(|p| p.size() as u64).sum::<u64>();
                job.parts = parts;
                if let Some(e) = parts_error {
                    self.errors += 1;
                    job.row = RowState::Failed;
                    job.error = Some(e);
                }
                // A prepared report's compressed body stands for the raw bytes from here on:
                // the backlog holds a fraction of the memory.
                if let (Found::Report(_, _, Some(_)), Some(resp)) = (&job.found, &mut job.response)
                {
                    resp.body = Vec::new();
                }
            }
            Outcome::NotModified => {
                self.note_success(&host);
                self.summary.not_modified += 1;
                job.http_status = Some(304);
            }
            Outcome::Status(resp) => {
                self.note_success(&host);
                self.summary.pages += 1;
                // A guessed next page that does not exist is the end of a column, not an error.
                let end_of_column =
                    job.item.kind == Kind::Listing && job.item.page_no > 0 && resp.status == 404;
                if !end_of_column {
                    self.errors += 1;
                    job.row = RowState::Failed;
                    job.error = Some(format!("HTTP {}", resp.status));
                }
                job.http_status = Some(resp.status);
                job.response = Some(resp);
            }
            Outcome::Blocked(ch) => {
                tracing::warn!(host = %host, reason = ch.reason(), "host blocked");
                self.errors += 1;
                self.kill_host(&host);
                job.verdict = Some(("blocked", ch.reason().to_string()));
                job.row = RowState::Failed;
                job.error = Some(ch.reason().to_string());
            }
            Outcome::Disallowed => {
                let h = self.hosts.entry(host.clone()).or_default();
                if !h.robots_noted {
                    h.robots_noted = true;
                    tracing::info!(host = %host, "robots.txt disallows gknb");
                    job.verdict = Some(("robots", "robots.txt disallows gknb".to_string()));
                }
                job.row = RowState::Skipped;
                job.error = Some("disallowed by robots.txt".to_string());
            }
            Outcome::Failed(e) => {
                self.errors += 1;
                let h = self.hosts.entry(host.clone()).or_default();
                h.consecutive_failures += 1;
                tracing::debug!(url = %job.item.url, error = %e, "request failed");
                // A TLS failure fails every request to the host alike (certificate, handshake).
                if h.consecutive_failures >= UNREACHABLE_AFTER || fetch::is_tls_failure(&e) {
                    tracing::warn!(host = %host, error = %e, "host unreachable");
                    self.kill_host(&host);
                    job.verdict = Some(("unreachable", e.clone()));
                }
                job.row = RowState::Failed;
                job.error = Some(e);
            }
        }
        job
    }

    fn note_success(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(host) {
            h.consecutive_failures = 0;
        }
    }

    /// Stops giving a host work for the rest of the run; its rows stay pending for the next.
    fn kill_host(&mut self, host: &str) {
        let h = self.hosts.entry(host.to_string()).or_default();
        h.dead = true;
        for item in h.buf.drain(..) {
            h.queued.remove(&item.id);
        }
    }

    fn finish(mut self, started: Instant) -> Result<Summary, CrawlError> {
        let run = self.run_id;
        let mut store = self
            .store
            .take()
            .ok_or_else(|| CrawlError::Task("archive lent out".into()))?;
        // Pages whose report is an attachment fetched in this run get the attachment's facts;
        // after an interrupt, the run that resumes does it.
        if !self.stopping {
            let adopted = crate::store::pipeline::adopt_attachments(store.archive())
                .map_err(StateError::from)?;
            self.summary.attachments_adopted = adopted.adopted as u64;
        }
        let (total, new, failed) = store.report_counts(run)?;
        self.summary.reports_total = total;
        self.summary.new_report_count = new;
        self.summary.failed_validations = failed;
        self.summary.new_reports = store
            .new_reports(run, LIST_LIMIT)?
            .into_iter()
            .map(|(url, title, status)| NewReport { url, title, status })
            .collect();
        let (failure_count, failures) = store.failures(run, LIST_LIMIT)?;
        self.summary.failure_count = failure_count;
        self.summary.failures = failures
            .into_iter()
            .map(|(url, kind, error)| Failure { url, kind, error })
            .collect();
        for (host, state, reason) in store.host_verdicts()? {
            let v = HostVerdict { host, reason };
            match state.as_str() {
                "blocked" => self.summary.blocked.push(v),
                "unreachable" => self.summary.unreachable.push(v),
                _ => self.summary.robots_excluded.push(v),
            }
        }
        self.summary.elapsed_secs = started.elapsed().as_secs_f64();
        let json = serde_json::to_string(&self.summary).map_err(StateError::from)?;
        // A run cut short (page cap, interrupt) stays open for the next command to resume.
        if !self.page_cap_reached() && !self.stopping {
            store.finish_run(run, &json)?;
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_directory_above_the_column() {
        let s = Scope::of(&Url::parse("http://a/zwgk/zfxxgk/zfxxgknb/").unwrap());
        assert_eq!(s.prefix, "/zwgk/zfxxgk/");
        let s = Scope::of(&Url::parse("http://b/col/col78012/index.html").unwrap());
        assert_eq!(s.prefix, "/col/");
        let s = Scope::of(&Url::parse("http://b/nb.html").unwrap());
        assert_eq!(s.prefix, "/");
        assert_eq!(s.host, "b");
    }

    #[test]
    fn scope_allows_the_seed_host_and_the_hosts_it_names() {
        let mut s = Scope::of(&Url::parse("https://www.ah.gov.cn/public/jgdh.html").unwrap());
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(s.allows(&u("http://www.ah.gov.cn:8080/public/column/1")));
        assert!(!s.allows(&u("https://jyt.ah.gov.cn/public/column/2")));
        s.hosts = vec![
            HostPattern::parse("*.ah.gov.cn").unwrap(),
            HostPattern::parse("10.0.0.7").unwrap(),
        ];
        assert!(s.allows(&u("https://jyt.ah.gov.cn/public/column/2")));
        assert!(s.allows(&u("http://10.0.0.7/x")));
        assert!(!s.allows(&u("https://ah.gov.cn/")));
        assert!(!s.allows(&u("https://www.sh.gov.cn/")));
        assert!(!s.allows(&u("mailto:x@jyt.ah.gov.cn")));
    }
}
