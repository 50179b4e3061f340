//! The crawl scheduler: frontier in the archive, resumable, incremental.
//!
//! Split the Scrapy way: the *scheduler* (this module) keeps the frontier in SQLite
//! ([`state`]) and hands rows to per-host queues; the *downloader* ([`crate::fetch`]) enforces
//! politeness; *discovery* ([`crate::discover`]) is pure; the *pipeline* archives every response
//! and parses report pages on the way in.
//!
//! Resumability: a row is marked done in the same transaction that archives its response and
//! inserts what it led to. After a `kill -9` the same command resumes the unfinished run: only
//! the rows that were in flight are fetched again.
//!
//! Incremental runs: a new run puts every known listing back in the queue with its ETag and
//! Last-Modified, so unchanged listings cost a 304; report pages already archived are never
//! fetched again. Pagination is followed only while pages bring new URLs, which also stops
//! sticky pagers and stub pages.

pub mod state;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use url::Url;

use crate::discover::{self, Discovery, Family, ListingKind};
use crate::fetch::{self, FetchConfig, Fetched, Fetcher, HostPolicy, Method, Outcome};
use crate::model::ParsedReport;
use crate::report;
use crate::store::{AgencyHint, DocumentKind, NewDocument, PreparedReport};
use state::{CrawlDb, Item, Kind, NewItem, RowState, StateError};

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
}

/// Where a seed's crawl may go: its host, and for sub-columns the directory above its column.
#[derive(Debug, Clone)]
struct Scope {
    host: String,
    prefix: String,
    family: Family,
    /// The seed's name and region, passed to the archive as the agency hint.
    name: String,
    region: String,
}

impl Scope {
    fn of(url: &Url, family: Family) -> Scope {
        let path = url.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let trimmed = dir.trim_end_matches('/');
        let prefix = match trimmed.rfind('/') {
            Some(i) => &trimmed[..=i],
            None => "/",
        };
        Scope {
            host: url.host_str().unwrap_or("").to_string(),
            prefix: prefix.to_string(),
            family,
            name: String::new(),
            region: String::new(),
        }
    }
}

#[derive(Default)]
struct HostSched {
    buf: VecDeque<Item>,
    /// Ids in `buf` or in flight: pending in the database, but not to be handed out again.
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

/// What the archive made of a response.
struct Archived {
    doc_id: i64,
    sha: String,
    /// The report ingested from it, when it was parsed anew.
    report: Option<i64>,
}

/// Longest lists of new reports and failures kept in a [`Summary`].
pub const LIST_LIMIT: usize = 1000;

/// Hosts given up after this many consecutive requests without an answer.
const UNREACHABLE_AFTER: u32 = 3;
const REFILL: usize = 32;

/// Caps glibc's malloc at two arenas. A crawl frees many page-sized buffers on whichever
/// thread finishes with them; with the default of eight arenas per core each worker thread's
/// arena keeps its own free memory, which measured at several times the live data on a
/// 200-host crawl. Call before starting the async runtime. No effect on other C libraries.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_ARENA_MAX: i32 = -8;
        // SAFETY: mallopt only tunes the allocator and is safe to call at any time; it is
        // called before the runtime's threads exist.
        unsafe {
            mallopt(M_ARENA_MAX, 2);
        }
    }
}

/// Crawls `seeds` into the archive at `db`, resuming an interrupted run.
pub async fn crawl(db: &Path, seeds: &[Seed], opts: CrawlOptions) -> Result<Summary, CrawlError> {
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
    {
        let batch = store.batch()?;
        for s in seeds {
            let url = discover::canonical(&s.url);
            let host = fetch::host_key(&url);
            let d = opts.fetch.default_policy;
            fetcher.set_host_policy(
                &host,
                HostPolicy {
                    rate: s.rate.unwrap_or(d.rate),
                    burst: s.burst.unwrap_or(d.burst),
                    accept_invalid_certs: s.accept_invalid_certs.unwrap_or(d.accept_invalid_certs),
                },
            );
            let mut scope = Scope::of(&url, s.family);
            scope.name = s.name.clone();
            scope.region = s.region.clone();
            scopes.insert(url.to_string(), scope);
            batch.add(
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
        batch.commit()?;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut sched = Scheduler {
        round: 0,
        analysis: Arc::new(Semaphore::new(cores)),
        store: Some(store),
        fetcher,
        opts,
        run_id: run.run_id,
        scopes,
        hosts: HashMap::new(),
        summary: Summary {
            run_id: run.run_id,
            resumed: run.resumed,
            ..Summary::default()
        },
        progress: indicatif::ProgressBar::hidden(),
        errors: 0,
    };
    sched.setup_progress();
    sched.run().await?;
    sched.finish(started)
}

struct Scheduler {
    /// Rotates the host order of [`Scheduler::dispatch`].
    round: usize,
    /// Permits for CPU-heavy page analysis (discovery, report parsing).
    analysis: Arc<Semaphore>,
    /// Lent out (`None`) only inside [`Scheduler::process`].
    store: Option<CrawlDb>,
    fetcher: Arc<Fetcher>,
    opts: CrawlOptions,
    run_id: i64,
    scopes: HashMap<String, Scope>,
    hosts: HashMap<String, HostSched>,
    summary: Summary,
    progress: indicatif::ProgressBar,
    errors: u64,
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

    async fn run(&mut self) -> Result<(), CrawlError> {
        for h in self.db()?.pending_hosts()? {
            self.hosts.entry(h).or_default();
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<TaskResult>();
        let mut in_flight = 0usize;
        loop {
            if !self.page_cap_reached() {
                in_flight += self.dispatch(&tx, in_flight)?;
            }
            if in_flight == 0 {
                break;
            }
            let Some(first) = rx.recv().await else {
                break;
            };
            let mut results = vec![first];
            while results.len() < 128 {
                match rx.try_recv() {
                    Ok(r) => results.push(r),
                    Err(_) => break,
                }
            }
            in_flight -= results.len();
            self.process(results)?;
            self.update_progress();
        }
        self.progress.finish_and_clear();
        Ok(())
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
                    let Some(store) = self.store.as_ref() else {
                        break;
                    };
                    let rows = store.pending(&name, h.cursor, REFILL)?;
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
                if let Some(recovered) = self.recover(&item)? {
                    let _ = tx.send(recovered);
                    continue;
                }
                let fetcher = self.fetcher.clone();
                let analysis = self.analysis.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let result = run_task(fetcher, analysis, item).await;
                    let _ = tx.send(result);
                });
            }
        }
        Ok(started)
    }

    fn db(&self) -> Result<&CrawlDb, CrawlError> {
        self.store
            .as_ref()
            .ok_or_else(|| CrawlError::Task("archive lent out".into()))
    }

    /// A row whose response was archived just before an interruption: its result, rebuilt
    /// from the archive instead of fetched again.
    fn recover(&self, item: &Item) -> Result<Option<TaskResult>, CrawlError> {
        let Some(floor) = item.doc_floor else {
            return Ok(None);
        };
        let store = self.db()?;
        let Some((sha, status, final_url, content_type)) =
            store.archived_after(&item.url, floor)?
        else {
            return Ok(None);
        };
        let Some(body) = store
            .connection_archive()
            .raw_bytes(&sha)
            .map_err(StateError::from)?
        else {
            return Ok(None);
        };
        let final_url = final_url
            .and_then(|u| Url::parse(&u).ok())
            .or_else(|| Url::parse(&item.url).ok());
        let Some(final_url) = final_url else {
            return Ok(None);
        };
        let resp = fetch::Response {
            final_url,
            status: status.unwrap_or(200),
            content_type,
            etag: None,
            last_modified: None,
            location: None,
            body,
        };
        tracing::info!(url = %item.url, "recovered from the archive after an interruption");
        let ok = (200..300).contains(&resp.status);
        let family = Family::from_name(&item.family).unwrap_or_default();
        let found = if ok {
            analyse(item.kind, family, &item.url, &resp)
        } else {
            Found::Nothing
        };
        let outcome = if ok {
            Outcome::Fetched(resp)
        } else {
            Outcome::Status(resp)
        };
        Ok(Some(TaskResult {
            item: item.clone(),
            fetched: Fetched {
                outcome,
                attempts: 0,
            },
            found,
        }))
    }

    fn process(&mut self, results: Vec<TaskResult>) -> Result<(), CrawlError> {
        let mut store = self
            .store
            .take()
            .ok_or_else(|| CrawlError::Task("archive lent out".into()))?;
        let outcome = self.process_with(&mut store, results);
        self.store = Some(store);
        outcome
    }

    fn process_with(
        &mut self,
        store: &mut CrawlDb,
        results: Vec<TaskResult>,
    ) -> Result<(), CrawlError> {
        // 1. Stamp the rows whose responses go to the archive, 2. archive them (one
        // transaction each, in the archive's API), 3. finish the rows and queue what they led
        // to in one transaction. See `state` for how a kill between 2 and 3 is recovered.
        let to_archive: Vec<i64> = results
            .iter()
            .filter(|r| matches!(r.fetched.outcome, Outcome::Fetched(_) | Outcome::Status(_)))
            .map(|r| r.item.id)
            .collect();
        if !to_archive.is_empty() {
            let floor = store.max_document_id()?;
            store.stamp(&to_archive, floor)?;
        }
        let archived = self.archive_all(store, &results)?;
        let mut touched: Vec<(String, i64)> = Vec::new();
        let batch = store.batch()?;
        for (r, a) in results.into_iter().zip(archived) {
            if let Some(h) = self.hosts.get_mut(&r.item.host) {
                h.in_flight = h.in_flight.saturating_sub(1);
                h.queued.remove(&r.item.id);
            }
            self.summary.requests += u64::from(r.fetched.attempts);
            self.record(&batch, r, a, &mut touched)?;
        }
        batch.commit()?;
        for (host, id) in touched {
            let h = self.hosts.entry(host).or_default();
            h.exhausted = false;
            // A row queued again (a 404 page proposed anew) may lie behind the cursor.
            h.cursor = h.cursor.min(id - 1);
        }
        Ok(())
    }

    /// Archives the results' responses: new reports together in one archive batch (one
    /// transaction), everything else one document at a time.
    fn archive_all(
        &self,
        store: &mut CrawlDb,
        results: &[TaskResult],
    ) -> Result<Vec<Option<Archived>>, CrawlError> {
        let mut out: Vec<Option<Archived>> = Vec::with_capacity(results.len());
        let mut batched = Vec::new();
        for (i, r) in results.iter().enumerate() {
            match self.batchable(store, r)? {
                true => {
                    batched.push(i);
                    out.push(None);
                }
                false => out.push(self.archive(store, r)?),
            }
        }
        if batched.is_empty() {
            return Ok(out);
        }
        let mut batch = store
            .archive()
            .batch(usize::MAX, Duration::MAX)
            .map_err(StateError::from)?;
        for i in batched {
            let r = &results[i];
            let (Outcome::Fetched(resp), Found::Report(_, Some(parsed), Some(prepared))) =
                (&r.fetched.outcome, &r.found)
            else {
                continue;
            };
            let doc = new_document(&r.item, resp, Some(parsed));
            let (doc, report) = batch
                .store_prepared(&doc, prepared, parsed, &self.hint(&r.item, Some(parsed)))
                .map_err(StateError::from)?;
            out[i] = Some(Archived {
                doc_id: doc.id,
                sha: doc.sha256,
                report: Some(report),
            });
        }
        batch.commit().map_err(StateError::from)?;
        Ok(out)
    }

    /// Whether a result is a fetched report page, prepared, and not yet ingested by this
    /// parser version.
    fn batchable(&self, store: &CrawlDb, r: &TaskResult) -> Result<bool, CrawlError> {
        let (Outcome::Fetched(_), Found::Report(_, Some(_), Some(prepared))) =
            (&r.fetched.outcome, &r.found)
        else {
            return Ok(false);
        };
        let known = store
            .connection_archive()
            .report_for(&r.item.url, &prepared.body.sha256)
            .map_err(StateError::from)?
            .is_some_and(|(_, version)| version >= i64::from(report::PARSER_VERSION));
        Ok(!known)
    }

    /// Who published a page: the agency the page names (a column often lists several
    /// departments' reports), else the seed's name, so that a page naming nobody is still
    /// archived under its portal instead of failing.
    fn hint(&self, item: &Item, parsed: Option<&ParsedReport>) -> AgencyHint {
        let scope = self.scope_of(item);
        let named = parsed
            .and_then(|p| p.agency.as_deref())
            .is_some_and(|a| !a.trim().is_empty());
        AgencyHint {
            name: (!named && !scope.name.trim().is_empty()).then(|| scope.name.clone()),
            region: scope.region.clone(),
            portal: Some(scope.name.clone()).filter(|n| !n.is_empty()),
        }
    }

    /// Puts a response into the archive and ingests a report parsed from it, unless this body
    /// was already parsed by this parser version.
    fn archive(&self, store: &mut CrawlDb, r: &TaskResult) -> Result<Option<Archived>, CrawlError> {
        let resp = match &r.fetched.outcome {
            Outcome::Fetched(resp) | Outcome::Status(resp) => resp,
            _ => return Ok(None),
        };
        let item = &r.item;
        let parsed = match &r.found {
            Found::Report(_, Some(p), _) => Some(p),
            _ => None,
        };
        let doc = new_document(item, resp, parsed.map(|p| &**p));
        let hint = self.hint(item, parsed.map(|p| &**p));
        let archive = store.archive();
        let doc = archive.put_document(&doc).map_err(StateError::from)?;
        let mut report = None;
        if let Some(p) = parsed.filter(|_| (200..300).contains(&resp.status)) {
            let known = archive
                .report_for(&item.url, &doc.sha256)
                .map_err(StateError::from)?
                .is_some_and(|(_, version)| version >= i64::from(report::PARSER_VERSION));
            if !known {
                let id = archive
                    .ingest_report(&doc, p, &hint)
                    .map_err(StateError::from)?;
                report = Some(id);
            }
        }
        Ok(Some(Archived {
            doc_id: doc.id,
            sha: doc.sha256,
            report,
        }))
    }

    fn record(
        &mut self,
        batch: &state::Batch,
        r: TaskResult,
        archived: Option<Archived>,
        touched: &mut Vec<(String, i64)>,
    ) -> Result<(), CrawlError> {
        let (doc_id, sha, report_id) = match archived {
            Some(a) => (a.doc_id, a.sha, a.report),
            None => (0, String::new(), None),
        };
        let run = self.run_id;
        let item = &r.item;
        let attempts = r.fetched.attempts;
        match r.fetched.outcome {
            Outcome::Fetched(resp) => {
                tracing::debug!(url = %item.url, kind = item.kind.as_str(), bytes = resp.body.len(), "fetched");
                self.note_success(&item.host);
                self.summary.pages += 1;
                self.summary.bytes += resp.body.len() as u64;
                let validators = (item.kind == Kind::Listing)
                    .then_some((resp.etag.as_deref(), resp.last_modified.as_deref()));
                match r.found {
                    Found::Listing(d) => self.enqueue_discovery(batch, item, &d, touched)?,
                    Found::Report(links, parsed, _) => {
                        self.enqueue_report_links(batch, item, &links, touched)?;
                        if let (Some(p), Some(report_id)) = (parsed, report_id)
                            && !batch.report_known(&sha)?
                        {
                            batch.record_report(
                                &sha,
                                report_id,
                                &item.url,
                                p.status.as_str(),
                                p.title.as_deref().or(item.title.as_deref()),
                                p.failed_checks().count(),
                                run,
                            )?;
                            self.summary.new_report_count += 1;
                        }
                    }
                    Found::Nothing => {}
                }
                batch.finish(
                    item.id,
                    RowState::Done,
                    run,
                    Some(resp.status),
                    None,
                    attempts,
                    Some((doc_id, &sha)),
                    validators,
                )?;
            }
            Outcome::NotModified => {
                self.note_success(&item.host);
                self.summary.not_modified += 1;
                batch.finish(
                    item.id,
                    RowState::Done,
                    run,
                    Some(304),
                    None,
                    attempts,
                    None,
                    None,
                )?;
            }
            Outcome::Status(resp) => {
                self.note_success(&item.host);
                self.summary.pages += 1;
                // A guessed next page that does not exist is the end of a column, not an error.
                let end_of_column =
                    item.kind == Kind::Listing && item.page_no > 0 && resp.status == 404;
                let (state, error) = if end_of_column {
                    (RowState::Done, None)
                } else {
                    self.errors += 1;
                    (RowState::Failed, Some(format!("HTTP {}", resp.status)))
                };
                batch.finish(
                    item.id,
                    state,
                    run,
                    Some(resp.status),
                    error.as_deref(),
                    attempts,
                    Some((doc_id, &sha)),
                    None,
                )?;
            }
            Outcome::Blocked(ch) => {
                tracing::warn!(host = %item.host, reason = ch.reason(), "host blocked");
                self.errors += 1;
                self.kill_host(&item.host);
                batch.host_verdict(&item.host, "blocked", ch.reason(), run)?;
                batch.finish(
                    item.id,
                    RowState::Failed,
                    run,
                    None,
                    Some(ch.reason()),
                    attempts,
                    None,
                    None,
                )?;
            }
            Outcome::Disallowed => {
                let h = self.hosts.entry(item.host.clone()).or_default();
                if !h.robots_noted {
                    h.robots_noted = true;
                    tracing::info!(host = %item.host, "robots.txt disallows gknb");
                    batch.host_verdict(&item.host, "robots", "robots.txt disallows gknb", run)?;
                }
                batch.finish(
                    item.id,
                    RowState::Skipped,
                    run,
                    None,
                    Some("disallowed by robots.txt"),
                    attempts,
                    None,
                    None,
                )?;
            }
            Outcome::Failed(e) => {
                self.errors += 1;
                let h = self.hosts.entry(item.host.clone()).or_default();
                h.consecutive_failures += 1;
                tracing::debug!(url = %item.url, error = %e, "request failed");
                if h.consecutive_failures >= UNREACHABLE_AFTER {
                    tracing::warn!(host = %item.host, error = %e, "host unreachable");
                    self.kill_host(&item.host);
                    batch.host_verdict(&item.host, "unreachable", &e, run)?;
                }
                batch.finish(
                    item.id,
                    RowState::Failed,
                    run,
                    None,
                    Some(&e),
                    attempts,
                    None,
                    None,
                )?;
            }
        }
        Ok(())
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

    fn scope_of(&self, item: &Item) -> Scope {
        self.scopes.get(&item.seed).cloned().unwrap_or_else(|| {
            let url = Url::parse(&item.seed).ok();
            match url {
                Some(u) => Scope::of(&u, Family::from_name(&item.family).unwrap_or_default()),
                None => Scope {
                    host: String::new(),
                    prefix: "/".into(),
                    family: Family::Auto,
                    name: String::new(),
                    region: String::new(),
                },
            }
        })
    }

    fn child(&self, parent: &Item, url: &Url, kind: Kind) -> NewItem {
        NewItem {
            url: url.to_string(),
            method: "GET",
            body: None,
            referer: Some(parent.url.clone()),
            host: fetch::host_key(url),
            kind,
            seed: parent.seed.clone(),
            family: parent.family.clone(),
            depth: parent.depth,
            page_no: 0,
            title: None,
            date: None,
        }
    }

    fn add(
        &self,
        batch: &state::Batch,
        item: NewItem,
        touched: &mut Vec<(String, i64)>,
    ) -> Result<bool, CrawlError> {
        let id = batch.add(&item, self.run_id)?;
        if let Some(id) = id {
            touched.push((item.host, id));
        }
        Ok(id.is_some())
    }

    fn enqueue_discovery(
        &mut self,
        batch: &state::Batch,
        item: &Item,
        d: &Discovery,
        touched: &mut Vec<(String, i64)>,
    ) -> Result<(), CrawlError> {
        let scope = self.scope_of(item);
        let in_host = |u: &Url| u.host_str() == Some(scope.host.as_str());
        let mut fresh = 0u32;
        for l in d.reports.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Report);
            n.title = Some(l.title.clone());
            n.date = l.date.clone();
            fresh += u32::from(self.add(batch, n, touched)?);
        }
        for l in d.attachments.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Attachment);
            n.title = Some(l.title.clone());
            fresh += u32::from(self.add(batch, n, touched)?);
        }
        let next_page = item.page_no + 1;
        let may_page = next_page < self.opts.max_listing_pages;
        for p in d.posts.iter().filter(|p| in_host(&p.url)) {
            if !may_page {
                break;
            }
            let mut n = self.child(item, &p.url, Kind::Listing);
            n.method = "POST";
            n.body = Some(p.body());
            n.referer = Some(p.referer.to_string());
            n.page_no = next_page;
            fresh += u32::from(self.add(batch, n, touched)?);
        }
        for l in d.listings.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Listing);
            match l.kind {
                ListingKind::SubColumn | ListingKind::Redirect => {
                    if item.depth + 1 > self.opts.max_depth {
                        continue;
                    }
                    if l.kind == ListingKind::SubColumn && !l.url.path().starts_with(&scope.prefix)
                    {
                        continue;
                    }
                    n.depth = item.depth + 1;
                    fresh += u32::from(self.add(batch, n, touched)?);
                }
                ListingKind::NextPage => {
                    // Pages are followed while they bring something new; a column's first page
                    // always proposes its next.
                    let follow = !d.stub && (item.page_no == 0 || fresh > 0);
                    if !follow || !may_page {
                        continue;
                    }
                    n.page_no = next_page;
                    self.add(batch, n, touched)?;
                }
            }
        }
        let _ = scope.family;
        Ok(())
    }

    fn enqueue_report_links(
        &mut self,
        batch: &state::Batch,
        item: &Item,
        links: &discover::ReportLinks,
        touched: &mut Vec<(String, i64)>,
    ) -> Result<(), CrawlError> {
        let scope = self.scope_of(item);
        for l in &links.attachments {
            if l.url.host_str() != Some(scope.host.as_str()) {
                continue;
            }
            let mut n = self.child(item, &l.url, Kind::Attachment);
            n.title = Some(l.title.clone());
            self.add(batch, n, touched)?;
        }
        for u in &links.continuations {
            let n = self.child(item, u, Kind::Part);
            self.add(batch, n, touched)?;
        }
        Ok(())
    }

    fn finish(mut self, started: Instant) -> Result<Summary, CrawlError> {
        let run = self.run_id;
        let mut store = self
            .store
            .take()
            .ok_or_else(|| CrawlError::Task("archive lent out".into()))?;
        // Pages whose report is an attachment fetched in this run get the attachment's facts.
        let adopted =
            crate::store::pipeline::adopt_attachments(store.archive()).map_err(StateError::from)?;
        self.summary.attachments_adopted = adopted.adopted as u64;
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
        if !self.page_cap_reached() {
            store.finish_run(run, &json)?;
        }
        Ok(self.summary)
    }
}

/// The archive's view of a response.
fn new_document<'a>(
    item: &'a Item,
    resp: &'a fetch::Response,
    parsed: Option<&'a ParsedReport>,
) -> NewDocument<'a> {
    let final_url = (resp.final_url.as_str() != item.url).then_some(resp.final_url.as_str());
    NewDocument {
        url: &item.url,
        final_url,
        fetched_at: None,
        http_status: Some(resp.status),
        headers: None,
        content_type: resp.content_type.as_deref(),
        declared_encoding: None,
        detected_encoding: parsed.map(|p| p.encoding.as_str()),
        bytes: &resp.body,
        kind: match item.kind {
            Kind::Listing => DocumentKind::Listing,
            Kind::Report => DocumentKind::Report,
            Kind::Attachment | Kind::Part => DocumentKind::Attachment,
        },
    }
}

fn is_html(resp: &fetch::Response) -> bool {
    if let Some(ct) = &resp.content_type {
        let ct = ct.to_ascii_lowercase();
        if ct.contains("html") || ct.contains("xml") {
            return true;
        }
        if ct.contains("pdf") || ct.contains("msword") || ct.contains("officedocument") {
            return false;
        }
    }
    let head = &resp.body[..resp.body.len().min(512)];
    let text = String::from_utf8_lossy(head);
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
}

async fn run_task(fetcher: Arc<Fetcher>, analysis: Arc<Semaphore>, item: Item) -> TaskResult {
    let req = fetch::Request {
        url: match Url::parse(&item.url) {
            Ok(u) => u,
            Err(e) => {
                return TaskResult {
                    fetched: Fetched {
                        outcome: Outcome::Failed(format!("bad URL: {e}")),
                        attempts: 0,
                    },
                    item,
                    found: Found::Nothing,
                };
            }
        },
        method: if item.method == "POST" {
            Method::Post
        } else {
            Method::Get
        },
        body: item.body.clone(),
        referer: item.referer.as_deref().and_then(|r| Url::parse(r).ok()),
        etag: item.etag.clone(),
        last_modified: item.last_modified.clone(),
    };
    let fetched = fetcher.fetch(&req).await;
    let analysable = item.kind == Kind::Listing || item.kind == Kind::Report;
    let (fetched, found) = match fetched.outcome {
        Outcome::Fetched(resp) if analysable => {
            let kind = item.kind;
            let family = Family::from_name(&item.family).unwrap_or_default();
            let source = item.url.clone();
            let attempts = fetched.attempts;
            // One parse per core at a time: a parse's DOM is many times the page's size, and
            // more parses than cores only add memory.
            let _permit = analysis.acquire_owned().await.ok();
            // The body moves to the blocking pool and back: report pages are large.
            let joined = tokio::task::spawn_blocking(move || {
                let found = analyse(kind, family, &source, &resp);
                (resp, found)
            })
            .await;
            match joined {
                Ok((resp, found)) => (
                    Fetched {
                        outcome: Outcome::Fetched(resp),
                        attempts,
                    },
                    found,
                ),
                Err(e) => (
                    Fetched {
                        outcome: Outcome::Failed(format!("analysis failed: {e}")),
                        attempts,
                    },
                    Found::Nothing,
                ),
            }
        }
        outcome => (
            Fetched {
                outcome,
                attempts: fetched.attempts,
            },
            Found::Nothing,
        ),
    };
    TaskResult {
        item,
        fetched,
        found,
    }
}

/// Discovery for listings; links and parsing for reports. CPU work, run off the async threads.
fn analyse(kind: Kind, family: Family, source: &str, resp: &fetch::Response) -> Found {
    let html = is_html(resp);
    let text = || crate::decode::decode(&resp.body, resp.content_type.as_deref()).text;
    match kind {
        Kind::Listing if html => {
            Found::Listing(discover::discover(&resp.final_url, &text(), family))
        }
        Kind::Report => {
            let links = if html {
                discover::report_links(&resp.final_url, &text())
            } else {
                discover::ReportLinks::default()
            };
            let parsed = report::parse(&report::Input {
                bytes: &resp.body,
                source,
                content_type: resp.content_type.as_deref(),
            });
            let prepared = PreparedReport::new(&resp.body, &parsed).ok().map(Box::new);
            Found::Report(links, Some(Box::new(parsed)), prepared)
        }
        _ => Found::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_directory_above_the_column() {
        let s = Scope::of(
            &Url::parse("http://a/zwgk/zfxxgk/zfxxgknb/").unwrap(),
            Family::Trs,
        );
        assert_eq!(s.prefix, "/zwgk/zfxxgk/");
        let s = Scope::of(
            &Url::parse("http://b/col/col78012/index.html").unwrap(),
            Family::Hanweb,
        );
        assert_eq!(s.prefix, "/col/");
        let s = Scope::of(&Url::parse("http://b/nb.html").unwrap(), Family::Auto);
        assert_eq!(s.prefix, "/");
        assert_eq!(s.host, "b");
    }
}
