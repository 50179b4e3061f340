//! Bulk operations over the archive: importing local files and re-parsing archived reports.
//!
//! Both run the same three-stage pipeline: a feeder thread reads bytes (files, or bodies
//! through a second, read-only connection), worker threads parse, and the calling thread writes,
//! one transaction per report. Parsing is the expensive part and spreads over the cores; the
//! single writer is what SQLite wants anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::{AgencyHint, Archive, DocumentKind, NewDocument, PreparedReport, Result, StoreError};
use super::{facts_diff, parse_digest, sha256_hex};
use crate::model::{ParsedReport, YearSource};
use crate::report::{self, Input, PARSER_VERSION};

/// Reports per transaction in bulk operations (see [`super::Batch`]), and the longest a
/// transaction stays open, so readers see progress.
const BATCH_REPORTS: usize = 100;
const BATCH_AGE: Duration = Duration::from_secs(2);

/// Options of [`import_files`].
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Agency and region of every imported file.
    pub hint: AgencyHint,
    /// Report year to record when the caller knows it better than the page.
    pub year: Option<i32>,
    /// Parser threads; 0 means one per core.
    pub workers: usize,
}

/// What [`import_files`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Files read.
    pub files: usize,
    /// Reports written (new, or re-parsed by a newer parser).
    pub imported: usize,
    /// Files already in the archive with the same content and parser version.
    pub already_archived: usize,
    /// Facts extracted from the imported reports.
    pub facts: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Files that could not be imported, with the reason.
    pub errors: Vec<(String, String)>,
    /// `attachment_only` pages whose imported attachment gives the facts.
    pub attachments: AdoptSummary,
}

/// Options of [`reparse`].
#[derive(Debug, Clone, Default)]
pub struct ReparseOptions {
    /// Parser threads; 0 means one per core.
    pub workers: usize,
}

/// A report whose status changed on re-parsing.
#[derive(Debug, Clone, Serialize)]
pub struct StatusChange {
    pub report_id: Option<i64>,
    pub url: String,
    pub agency: Option<String>,
    pub year: Option<i32>,
    pub from: Option<String>,
    pub to: String,
}

/// What [`reparse`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReparseSummary {
    /// Report documents parsed.
    pub documents: usize,
    /// Reports whose parse result differs from the stored one (and were rewritten).
    pub changed_reports: usize,
    /// Facts that differ, over all changed reports.
    pub facts_changed: usize,
    pub status_changes: Vec<StatusChange>,
    /// Documents that could not be re-parsed or stored, with the reason.
    pub errors: Vec<(String, String)>,
    /// `attachment_only` pages whose archived attachment now gives the facts.
    pub attachments: AdoptSummary,
}

/// A body read from the archive (with the further pages of a multi-page report), or why it
/// could not be.
type SourceItem =
    std::result::Result<(super::ReportSource, Vec<u8>, Vec<ArchivedPart>), (String, String)>;

/// A further page of a multi-page report page (TRS `t…_1.html`), as the crawler archived it.
struct ArchivedPart {
    url: String,
    /// Body and `Content-Type`; `None` when the page is not in the archive.
    body: Option<(Vec<u8>, Option<String>)>,
}

/// The further pages a report page names (`createPageHTML(3, 0, "t…", "html")` in the
/// article), read from the archive. `url` is where the page was served from (its final URL),
/// which its relative links resolve against, as the crawler resolved them. Pages without the
/// pager, most of them, cost one scan.
fn archived_parts(
    reader: &Archive,
    url: &str,
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<Vec<ArchivedPart>> {
    if memchr::memmem::find(bytes, b"createPageHTML").is_none() {
        return Ok(Vec::new());
    }
    let Ok(page_url) = url::Url::parse(url) else {
        return Ok(Vec::new());
    };
    use rusqlite::OptionalExtension;
    let text = crate::decode::decode(bytes, content_type).text;
    let mut parts = Vec::new();
    for part in crate::discover::report_links(&page_url, &text).continuations {
        let doc: Option<(String, Option<String>)> = reader
            .conn()
            .prepare_cached(
                "SELECT sha256, content_type FROM documents WHERE url = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([part.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let body = match doc {
            Some((sha, ct)) => reader.raw_bytes(&sha)?.map(|b| (b, ct)),
            None => None,
        };
        parts.push(ArchivedPart {
            url: part.to_string(),
            body,
        });
    }
    Ok(parts)
}

/// Parses a report document (`source` and `content_type` as archived), with its further pages
/// when it has some.
fn parse_archived(
    source: &str,
    content_type: Option<&str>,
    bytes: &[u8],
    parts: &[ArchivedPart],
) -> ParsedReport {
    let first = Input {
        bytes,
        source,
        content_type,
    };
    if parts.is_empty() {
        return report::parse(&first);
    }
    let inputs: Vec<Input> = parts
        .iter()
        .filter_map(|p| {
            p.body.as_ref().map(|(b, ct)| Input {
                bytes: b,
                source: &p.url,
                content_type: ct.as_deref(),
            })
        })
        .collect();
    let missing: Vec<&str> = parts
        .iter()
        .filter(|p| p.body.is_none())
        .map(|p| p.url.as_str())
        .collect();
    let decoded = crate::decode::decode(bytes, first.content_type);
    report::parse_pages(&first, decoded, &inputs, &missing)
}

/// A file to parse, `None` when it is already archived, or why it could not be read.
type FileJob = std::result::Result<Option<FileItem>, (String, String)>;

/// A parsed file ready to write, `None` when already archived, or why it failed.
type ParsedJob =
    std::result::Result<Option<(FileItem, ParsedReport, PreparedReport)>, (String, String)>;

/// A re-parsed report with its digest, or why its body could not be read.
type ReparsedItem =
    std::result::Result<(super::ReportSource, ParsedReport, Result<String>), (String, String)>;

/// One file read by the feeder.
struct FileItem {
    url: String,
    bytes: Vec<u8>,
    sha256: String,
    content_type: Option<&'static str>,
}

/// Imports local report files (HTML or text) as if fetched: each becomes a `report` document
/// and a report. Directories are walked for `.html`, `.htm`, `.shtml` and `.txt` files.
/// Re-importing a file with the same path and content is a no-op.
pub fn import_files(
    archive: &mut Archive,
    paths: &[PathBuf],
    opts: &ImportOptions,
    tick: &mut dyn FnMut(),
) -> Result<ImportSummary> {
    let files = expand_paths(paths)?;
    let mut summary = ImportSummary {
        files: files.len(),
        ..Default::default()
    };
    let path = archive.path().to_path_buf();
    let mut batch = archive.batch(BATCH_REPORTS, BATCH_AGE)?;
    let feed = |tx: &SyncSender<FileJob>, stop: &AtomicBool| {
        // A second connection lets the feeder skip files already archived, so a resumed
        // import does not parse them again.
        let reader = Archive::open_read_only(&path)?;
        for file in &files {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let job = match read_file(file) {
                Ok(item) => match reader.report_for(&item.url, &item.sha256)? {
                    Some((_, v)) if v == PARSER_VERSION as i64 => Ok(None),
                    _ => Ok(Some(item)),
                },
                Err(e) => Err(e),
            };
            if tx.send(job).is_err() {
                break;
            }
        }
        Ok(())
    };
    let work = |job: FileJob| -> ParsedJob {
        let Some(f) = job? else {
            return Ok(None);
        };
        let mut parsed = report::parse(&Input {
            bytes: &f.bytes,
            source: &f.url,
            content_type: f.content_type,
        });
        if let Some(y) = opts.year {
            parsed.year = Some(y);
            parsed.year_source = YearSource::Given;
        }
        let prepared =
            PreparedReport::new(&f.bytes, &parsed).map_err(|e| (f.url.clone(), e.to_string()))?;
        Ok(Some((f, parsed, prepared)))
    };
    let sink = |out: ParsedJob| {
        tick();
        let (file, parsed, prepared) = match out {
            Ok(Some(x)) => x,
            Ok(None) => {
                summary.already_archived += 1;
                return Ok(());
            }
            Err(e) => {
                summary.errors.push(e);
                return Ok(());
            }
        };
        // The same file may be named twice in one run.
        if let Some((_, version)) = batch.archive().report_for(&file.url, &file.sha256)?
            && version == PARSER_VERSION as i64
        {
            summary.already_archived += 1;
            return Ok(());
        }
        let (declared, detected) = encodings(&parsed.encoding);
        let doc = NewDocument {
            url: &file.url,
            final_url: None,
            fetched_at: None,
            http_status: None,
            headers: None,
            content_type: file.content_type,
            declared_encoding: declared,
            detected_encoding: Some(detected),
            bytes: &file.bytes,
            kind: DocumentKind::Report,
        };
        match batch.store_prepared(&doc, &prepared, &parsed, &opts.hint) {
            Ok(_) => {
                summary.imported += 1;
                summary.facts += parsed.facts.len();
                *summary
                    .by_status
                    .entry(parsed.status.as_str().to_string())
                    .or_default() += 1;
                Ok(())
            }
            Err(StoreError::Invalid(msg)) => {
                summary.errors.push((file.url.clone(), msg));
                Ok(())
            }
            Err(e) => Err(e),
        }
    };
    run_pipeline(workers(opts.workers), feed, work, sink)?;
    batch.commit()?;
    summary.attachments = adopt_attachments(archive)?;
    Ok(summary)
}

/// Re-runs the current parser over every archived report document, offline. Reports whose
/// parse result is unchanged are left alone; changed ones are replaced atomically (report,
/// facts, checks, primary choice, cross-year checks).
pub fn reparse(
    archive: &mut Archive,
    opts: &ReparseOptions,
    tick: &mut dyn FnMut(),
) -> Result<ReparseSummary> {
    let sources = archive.report_sources()?;
    let mut summary = ReparseSummary {
        documents: sources.len(),
        ..Default::default()
    };
    let path = archive.path().to_path_buf();
    let mut batch = archive.batch(BATCH_REPORTS, BATCH_AGE)?;
    let feed = move |tx: &SyncSender<SourceItem>, stop: &AtomicBool| {
        let reader = Archive::open_read_only(&path)?;
        for src in sources {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let item = match reader.raw_bytes(&src.sha256) {
                Ok(Some(bytes)) => {
                    let base = src.final_url.as_deref().unwrap_or(&src.url);
                    match archived_parts(&reader, base, &bytes, src.content_type.as_deref()) {
                        Ok(parts) => Ok((src, bytes, parts)),
                        Err(e) => Err((src.url.clone(), e.to_string())),
                    }
                }
                Ok(None) => Err((src.url.clone(), format!("body {} is missing", src.sha256))),
                Err(e) => Err((src.url.clone(), e.to_string())),
            };
            if tx.send(item).is_err() {
                break;
            }
        }
        Ok(())
    };
    let work = |item: SourceItem| {
        item.map(|(src, bytes, parts)| {
            let mut parsed = parse_archived(&src.url, src.content_type.as_deref(), &bytes, &parts);
            if src.year_source.as_deref() == Some(YearSource::Given.as_str()) {
                parsed.year = src.year;
                parsed.year_source = YearSource::Given;
            }
            let digest = parse_digest(&parsed);
            (src, parsed, digest)
        })
    };
    let sink = |out: ReparsedItem| {
        tick();
        let (src, parsed, digest) = match out {
            Ok((src, parsed, Ok(digest))) => (src, parsed, digest),
            Ok((src, _, Err(e))) => {
                summary.errors.push((src.url.clone(), e.to_string()));
                return Ok(());
            }
            Err(e) => {
                summary.errors.push(e);
                return Ok(());
            }
        };
        if src.parse_sha256.as_deref() == Some(digest.as_str()) {
            // Same result: at most record that the current parser confirmed it.
            if let Some(id) = src.report_id
                && src.parser_version != Some(PARSER_VERSION as i64)
            {
                batch.confirm_parser_version(id)?;
            }
            return Ok(());
        }
        let old_facts = match src.report_id {
            Some(id) => batch
                .archive()
                .report(id)?
                .map(|r| r.facts)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let hint = AgencyHint {
            name: src.agency.clone(),
            region: src.region.clone().unwrap_or_default(),
            portal: src.portal.clone(),
        };
        let doc = super::DocumentRef {
            id: src.document_id,
            sha256: src.sha256.clone(),
            is_new_body: false,
            is_new_document: false,
        };
        match batch.ingest_digested(&doc, &parsed, &digest, &hint) {
            Ok(_) => {}
            Err(StoreError::Invalid(msg)) => {
                summary.errors.push((src.url.clone(), msg));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        summary.changed_reports += 1;
        summary.facts_changed += facts_diff(&old_facts, &parsed.facts);
        if src.status.as_deref() != Some(parsed.status.as_str()) {
            summary.status_changes.push(StatusChange {
                report_id: src.report_id,
                url: src.url.clone(),
                agency: src.agency.clone(),
                year: parsed.year,
                from: src.status.clone(),
                to: parsed.status.as_str().to_string(),
            });
        }
        Ok(())
    };
    run_pipeline(workers(opts.workers), feed, work, sink)?;
    batch.commit()?;
    summary.attachments = adopt_attachments(archive)?;
    Ok(summary)
}

fn workers(requested: usize) -> usize {
    if requested > 0 {
        return requested;
    }
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// feeder → `workers` parser threads → `sink` on the calling thread. Bounded channels keep
/// memory flat. A fatal sink error stops the feeder and is returned once the threads drained.
fn run_pipeline<I: Send, O: Send>(
    workers: usize,
    feed: impl FnOnce(&SyncSender<I>, &AtomicBool) -> Result<()> + Send,
    work: impl Fn(I) -> O + Sync,
    mut sink: impl FnMut(O) -> Result<()>,
) -> Result<()> {
    let (in_tx, in_rx) = sync_channel::<I>(workers * 4);
    let in_rx = Arc::new(Mutex::new(in_rx));
    let (out_tx, out_rx) = sync_channel::<O>(workers * 4);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let stop_ref = &stop;
        let feeder = s.spawn(move || feed(&in_tx, stop_ref));
        for _ in 0..workers {
            let in_rx = Arc::clone(&in_rx);
            let out_tx = out_tx.clone();
            let work = &work;
            s.spawn(move || {
                loop {
                    let next = match in_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(item) = next else { break };
                    if out_tx.send(work(item)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        let mut result = Ok(());
        for out in out_rx.iter() {
            if result.is_err() {
                continue; // drain so the workers and the feeder can finish
            }
            if let Err(e) = sink(out) {
                stop.store(true, Ordering::Relaxed);
                result = Err(e);
            }
        }
        let fed = feeder
            .join()
            .unwrap_or_else(|_| Err(StoreError::Invalid("the reader thread panicked".into())));
        result.and(fed)
    })
}

fn read_file(path: &Path) -> std::result::Result<FileItem, (String, String)> {
    let url = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned();
    let bytes = std::fs::read(path).map_err(|e| (url.clone(), format!("cannot read: {e}")))?;
    Ok(FileItem {
        sha256: sha256_hex(&bytes),
        content_type: content_type_for(path),
        url,
        bytes,
    })
}

fn content_type_for(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" | "shtml" | "xhtml" => Some("text/html"),
        "txt" | "text" => Some("text/plain"),
        "pdf" => Some("application/pdf"),
        "docx" => Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        "doc" => Some("application/msword"),
        _ => None,
    }
}

/// `gb18030 (meta)` → declared `gb18030` (the page or header named it), detected
/// `gb18030 (meta)`; a detector guess declares nothing.
fn encodings(description: &str) -> (Option<&str>, &str) {
    let name = description.split_whitespace().next().unwrap_or(description);
    let declared = ["(meta)", "(header)", "(bom)"]
        .iter()
        .any(|s| description.ends_with(s))
        .then_some(name);
    (declared, description)
}

/// Files as given, directories walked (sorted, so imports are reproducible).
fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if content_type_for(&p).is_some() {
            out.push(p);
        }
    }
    Ok(())
}

/// What [`adopt_attachments`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AdoptSummary {
    /// `attachment_only` reports looked at.
    pub stubs: usize,
    /// Attachments that now give a report with facts (stored on the attachment's document).
    pub adopted: usize,
    /// Attachment links with no archived document (not fetched, or outside the crawl).
    pub missing: usize,
}

/// Gives every `attachment_only` report page the facts of its archived attachments.
///
/// For each linked attachment that is in the archive and parses (PDF, DOCX), a report is stored
/// on the *attachment's* document, so its `url` and each fact's `source_page` point at the file
/// the numbers were read from; it takes the page's title, agency and year where the file states
/// none (see [`report::adopt_attachment`]). The page's own `attachment_only` report stays as it
/// is, and the primary-report rule prefers the one with facts. Attachment documents are not in
/// `reparse`'s own loop: this is the only place that reads them, so a run after a parser
/// upgrade (a new [`PARSER_VERSION`]) reads them again, and a run without one skips them.
pub fn adopt_attachments(archive: &mut Archive) -> Result<AdoptSummary> {
    let mut summary = AdoptSummary::default();
    let stubs = archive.attachment_stubs()?;
    // One transaction for many adoptions: each commit rewrites the index pages it touched.
    let mut batch = archive.batch(200, std::time::Duration::from_secs(2))?;
    for stub in stubs {
        summary.stubs += 1;
        let Some(page_bytes) = batch.archive().raw_bytes(&stub.sha256)? else {
            continue;
        };
        // A stub split over pages may link its attachment from a further one.
        let content_type = stub.content_type.as_deref();
        let parts = archived_parts(batch.archive(), &stub.url, &page_bytes, content_type)?;
        let page = parse_archived(&stub.url, content_type, &page_bytes, &parts);
        for link in &page.attachments {
            let Some(target) = resolve_link(&stub.url, link) else {
                continue;
            };
            let Some(doc) = batch.archive().document_by_url(&target)? else {
                summary.missing += 1;
                continue;
            };
            if let Some((_, version)) = batch.archive().report_for(&target, &doc.sha256)?
                && version == i64::from(PARSER_VERSION)
            {
                // Already read by this parser version (adopted before, or imported as a file).
                continue;
            }
            let Some(bytes) = batch.archive().raw_bytes(&doc.sha256)? else {
                continue;
            };
            let Some(parsed) = report::parse_attachment(&bytes, &target) else {
                continue;
            };
            if parsed.facts.is_empty() {
                continue;
            }
            let adopted = report::adopt_attachment(&page, parsed);
            batch.ingest_report(&doc, &adopted, &stub.hint)?;
            summary.adopted += 1;
        }
    }
    batch.commit()?;
    Ok(summary)
}

/// An attachment link resolved against its page: a URL join for fetched pages, a path relative
/// to the page's folder for imported files.
fn resolve_link(page: &str, link: &str) -> Option<String> {
    if let Ok(base) = url::Url::parse(page)
        && base.scheme() != "file"
        && base.has_host()
    {
        return base.join(link.trim()).ok().map(String::from);
    }
    let link = link.trim();
    if link.contains("://") {
        return Some(link.to_string());
    }
    let dir = Path::new(page).parent()?;
    let joined = dir.join(link.trim_start_matches("./"));
    Some(
        std::fs::canonicalize(&joined)
            .unwrap_or(joined)
            .display()
            .to_string(),
    )
}

#[cfg(test)]
mod adopt_tests {
    use super::resolve_link;

    #[test]
    fn links_resolve_against_urls_and_paths() {
        assert_eq!(
            resolve_link("http://a.gov.cn/col/x/t1.html", "../att/r.pdf").as_deref(),
            Some("http://a.gov.cn/col/att/r.pdf")
        );
        assert_eq!(
            resolve_link("/nonexistent/dir/page.html", "./r.pdf").as_deref(),
            Some("/nonexistent/dir/r.pdf")
        );
    }
}
