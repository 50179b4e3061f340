//! The item pipeline (Scrapy's term): what happens to a response once the scheduler has judged
//! it. For a batch of results, in **one** SQLite transaction: archive every response, ingest the
//! reports parsed from them, queue the links they led to, record host verdicts and finish the
//! frontier rows.
//!
//! One transaction per batch is what makes a crawl both fast and resumable. Fast, because a
//! report touches a couple of hundred index leaves (one per metric in `facts_metric_year`), and
//! a commit writes every dirty page to the WAL: a batch of a hundred reports of the same years
//! writes them once instead of a hundred times. Resumable, because a frontier row is finished in the transaction
//! that archives its response: after a `kill -9` a row is pending exactly when its response is
//! not in the archive, so the rerun fetches what was lost and nothing else.
//!
//! The scheduler runs [`Writer::write`] on a thread of its own, at a higher priority than the
//! fetching and parsing threads (see [`super::runtime`]), while it keeps fetching and
//! collects the next batch; batches grow on their own when writing is the bottleneck.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::state::{self, CrawlDb, Item, Kind, NewItem, RowState};
use super::{CrawlError, Found, Scope};
use crate::discover::{self, Discovery, ListingKind};
use crate::fetch;
use crate::model::ParsedReport;
use crate::report;
use crate::store::{self, AgencyHint, DocumentKind, NewDocument, StoreError};

/// A result as the scheduler judged it, ready to be written.
pub(super) struct Job {
    pub item: Item,
    /// Requests this row cost in this attempt (retries included).
    pub attempts: u32,
    /// The response to archive (any HTTP status); `None` when nothing came back.
    pub response: Option<fetch::Response>,
    pub found: Found,
    /// Further pages of a multi-page report: archived with it, no frontier rows of their own.
    pub parts: Vec<super::task::PartPage>,
    pub row: RowState,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    /// A verdict on the row's host: (`blocked` | `unreachable` | `robots`, reason).
    pub verdict: Option<(&'static str, String)>,
}

/// What one committed batch changed, for the scheduler's in-memory queues.
#[derive(Debug, Default)]
pub(super) struct Committed {
    /// Rows finished: (host, id).
    pub finished: Vec<(String, i64)>,
    /// Rows queued (or queued again): (host, id).
    pub queued: Vec<(String, i64)>,
    /// Reports first recorded by a crawl.
    pub new_reports: u64,
}

/// What the archive made of a response.
struct Archived {
    doc_id: i64,
    sha: String,
    /// The report ingested from it, when it was parsed anew.
    report: Option<i64>,
}

/// Writes batches of judged results. Pure configuration: the database is passed in, so the
/// scheduler can lend it to a blocking thread and get it back.
pub(super) struct Writer {
    pub run_id: i64,
    /// Seeds by canonical URL.
    pub scopes: HashMap<String, Scope>,
    /// Pages followed per column.
    pub max_listing_pages: u32,
    /// Sub-column and redirect levels followed below a seed.
    pub max_depth: u32,
    /// Where written jobs go to be freed (see [`dropper`]).
    pub done: std::sync::mpsc::Sender<Job>,
}

/// A thread that frees written jobs. A report's parse is a few hundred small allocations, and
/// freeing them took the single writer 6% of its time; handed over one by one, they are still
/// freed as soon as they are written, so memory stays as low as when the writer freed them.
pub(super) fn dropper() -> std::sync::mpsc::Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    // If the thread cannot start, the receiver is dropped with it, sends fail and the writer
    // frees its jobs itself.
    let _ = std::thread::Builder::new()
        .name("gknb-free".into())
        .spawn(move || {
            super::yield_to_writer();
            rx.into_iter().for_each(drop);
        });
    tx
}

impl Writer {
    /// Writes `jobs` in one transaction and commits it.
    pub fn write(&self, db: &mut CrawlDb, jobs: Vec<Job>) -> Result<Committed, CrawlError> {
        let mut out = Committed::default();
        let mut batch = db
            .archive()
            .batch(usize::MAX, Duration::MAX)
            .map_err(state::StateError::from)?;
        for mut job in jobs {
            self.write_one(&mut batch, &mut job, &mut out)?;
            let _ = self.done.send(job);
        }
        batch.commit().map_err(state::StateError::from)?;
        Ok(out)
    }

    fn write_one(
        &self,
        batch: &mut store::Batch<'_>,
        job: &mut Job,
        out: &mut Committed,
    ) -> Result<(), CrawlError> {
        let archived = match &job.response {
            Some(resp) => {
                let (archived, refused) = self.archive(batch, job, resp)?;
                if let Some(reason) = refused {
                    job.row = RowState::Failed;
                    job.error = Some(reason);
                }
                Some(archived)
            }
            None => None,
        };
        let mut parts = Vec::with_capacity(job.parts.len());
        for part in &job.parts {
            let d = batch
                .put_document(&part_document(part), part.body.as_ref())
                .map_err(state::StateError::from)?;
            parts.push((part, d));
        }
        let conn = batch.transaction().map_err(state::StateError::from)?;
        let st = state::Batch::on(conn);
        let item = &job.item;
        let run = self.run_id;
        // A further page's row is finished here, with its report's: never pending, so never
        // fetched on its own.
        for (part, d) in parts {
            let row = self.child(item, &part.url, Kind::Part);
            if let Some(id) = st.add(&row, run)? {
                let status = Some(part.response.status);
                let doc = Some((d.id, d.sha256.as_str()));
                st.finish(id, RowState::Done, run, status, None, 0, doc, None)?;
            }
        }
        let ok = job
            .response
            .as_ref()
            .is_some_and(|r| (200..300).contains(&r.status));
        if ok {
            match &job.found {
                Found::Listing(d) => self.enqueue_discovery(&st, item, d, &mut out.queued)?,
                Found::Report(links, parsed, _) => {
                    self.enqueue_report_links(&st, item, links, &mut out.queued)?;
                    if let (Some(p), Some(a)) = (parsed, &archived)
                        && let Some(report_id) = a.report
                        && !st.report_known(&a.sha)?
                    {
                        st.record_report(
                            &a.sha,
                            report_id,
                            &item.url,
                            p.status.as_str(),
                            p.title.as_deref().or(item.title.as_deref()),
                            p.failed_checks().count(),
                            run,
                        )?;
                        out.new_reports += 1;
                    }
                }
                Found::Nothing => {}
            }
        }
        if let Some((state, reason)) = &job.verdict {
            st.host_verdict(&item.host, state, reason, run)?;
        }
        // Validators are kept for listings only: they are what is revisited.
        let validators = match &job.response {
            Some(r) if ok && item.kind == Kind::Listing => {
                Some((r.etag.as_deref(), r.last_modified.as_deref()))
            }
            _ => None,
        };
        st.finish(
            item.id,
            job.row,
            run,
            job.http_status,
            job.error.as_deref(),
            job.attempts,
            archived.as_ref().map(|a| (a.doc_id, a.sha.as_str())),
            validators,
        )?;
        out.finished.push((item.host.clone(), item.id));
        Ok(())
    }

    /// Puts a response into the archive and ingests the report parsed from it, unless this
    /// body was already parsed by this parser version. A report the archive refuses (say, it
    /// names no agency and the seed has no name) is kept as a raw document and its row marked
    /// failed with the reason: one bad page never stops a crawl. Only the database itself
    /// failing does. Returns the reason a report was refused, if it was.
    fn archive(
        &self,
        batch: &mut store::Batch<'_>,
        job: &Job,
        resp: &fetch::Response,
    ) -> Result<(Archived, Option<String>), CrawlError> {
        let item = &job.item;
        let (parsed, prepared) = match &job.found {
            Found::Report(_, p, pr) => (p.as_deref(), pr.as_deref()),
            _ => (None, None),
        };
        let doc = new_document(item, resp, parsed);
        let mut refused = None;
        if let Some(p) = parsed.filter(|_| (200..300).contains(&resp.status)) {
            let sha = match prepared {
                Some(pr) => pr.body.sha256.clone(),
                None => store::sha256_hex(&resp.body),
            };
            let known = batch
                .archive()
                .report_for(&item.url, &sha)
                .map_err(state::StateError::from)?
                .is_some_and(|(_, version)| version >= i64::from(report::PARSER_VERSION));
            if !known {
                let hint = self.hint(item, Some(p));
                let stored = match prepared {
                    Some(pr) => batch.store_prepared(&doc, pr, p, &hint),
                    None => batch.store_report(&doc, p, &hint),
                };
                match stored {
                    Ok((d, report)) => {
                        let archived = Archived {
                            doc_id: d.id,
                            sha: d.sha256,
                            report: Some(report),
                        };
                        return Ok((archived, None));
                    }
                    // Refused before anything was written: the batch goes on.
                    Err(StoreError::Invalid(e)) => {
                        tracing::warn!(url = %item.url, error = %e, "report not ingested; page archived as is");
                        refused = Some(format!("report not ingested: {e}"));
                    }
                    // The database failed, and with it the batch: its rows stay pending.
                    Err(e) => return Err(state::StateError::from(e).into()),
                }
            }
        }
        let d = batch
            .put_document(&doc, prepared.map(|p| &p.body))
            .map_err(state::StateError::from)?;
        let archived = Archived {
            doc_id: d.id,
            sha: d.sha256,
            report: None,
        };
        Ok((archived, refused))
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

    /// The seed's scope; rebuilt from the row only for a seed no longer in the seed files
    /// (a resumed run whose seeds changed).
    fn scope_of(&self, item: &Item) -> Cow<'_, Scope> {
        if let Some(scope) = self.scopes.get(&item.seed) {
            return Cow::Borrowed(scope);
        }
        Cow::Owned(match Url::parse(&item.seed) {
            Ok(u) => Scope::of(&u),
            Err(_) => Scope {
                host: String::new(),
                hosts: Vec::new(),
                prefix: "/".into(),
                name: String::new(),
                region: String::new(),
            },
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
        st: &state::Batch,
        item: NewItem,
        queued: &mut Vec<(String, i64)>,
    ) -> Result<bool, CrawlError> {
        let id = st.add(&item, self.run_id)?;
        if let Some(id) = id {
            queued.push((item.host, id));
        }
        Ok(id.is_some())
    }

    fn enqueue_discovery(
        &self,
        st: &state::Batch,
        item: &Item,
        d: &Discovery,
        queued: &mut Vec<(String, i64)>,
    ) -> Result<(), CrawlError> {
        let scope = self.scope_of(item);
        let in_host = |u: &Url| scope.allows(u);
        let mut fresh = 0u32;
        for l in d.reports.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Report);
            n.title = Some(l.title.clone());
            n.date = l.date.clone();
            fresh += u32::from(self.add(st, n, queued)?);
        }
        for l in d.attachments.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Attachment);
            n.title = Some(l.title.clone());
            fresh += u32::from(self.add(st, n, queued)?);
        }
        let next_page = item.page_no + 1;
        let may_page = next_page < self.max_listing_pages;
        for p in d.posts.iter().filter(|p| in_host(&p.url)) {
            if !may_page {
                break;
            }
            let mut n = self.child(item, &p.url, Kind::Listing);
            n.method = "POST";
            n.body = Some(p.body());
            n.referer = Some(p.referer.to_string());
            n.page_no = next_page;
            fresh += u32::from(self.add(st, n, queued)?);
        }
        for l in d.listings.iter().filter(|l| in_host(&l.url)) {
            let mut n = self.child(item, &l.url, Kind::Listing);
            match l.kind {
                ListingKind::SubColumn | ListingKind::Redirect => {
                    if item.depth + 1 > self.max_depth {
                        continue;
                    }
                    if l.kind == ListingKind::SubColumn && !l.url.path().starts_with(&scope.prefix)
                    {
                        continue;
                    }
                    n.depth = item.depth + 1;
                    fresh += u32::from(self.add(st, n, queued)?);
                }
                ListingKind::NextPage => {
                    // Pages are followed while they bring something new; a column's first page
                    // always proposes its next.
                    let follow = !d.stub && (item.page_no == 0 || fresh > 0);
                    if !follow || !may_page {
                        continue;
                    }
                    n.page_no = next_page;
                    self.add(st, n, queued)?;
                }
            }
        }
        Ok(())
    }

    fn enqueue_report_links(
        &self,
        st: &state::Batch,
        item: &Item,
        links: &discover::ReportLinks,
        queued: &mut Vec<(String, i64)>,
    ) -> Result<(), CrawlError> {
        let scope = self.scope_of(item);
        for l in &links.attachments {
            if !scope.allows(&l.url) {
                continue;
            }
            let mut n = self.child(item, &l.url, Kind::Attachment);
            n.title = Some(l.title.clone());
            self.add(st, n, queued)?;
        }
        // `links.continuations` is always empty here: a report's further pages are fetched by
        // its task and archived with it (see `write_one`).
        Ok(())
    }
}

/// The archive's view of a further page of a report: an attachment of the report page, not a
/// report of its own (`reparse` reads the documents of kind `report`).
fn part_document(part: &super::task::PartPage) -> NewDocument<'_> {
    let final_url =
        (part.response.final_url != part.url).then_some(part.response.final_url.as_str());
    NewDocument {
        url: part.url.as_str(),
        final_url,
        fetched_at: None,
        http_status: Some(part.response.status),
        headers: None,
        content_type: part.response.content_type.as_deref(),
        declared_encoding: None,
        detected_encoding: None,
        bytes: &part.response.body,
        kind: DocumentKind::Attachment,
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
