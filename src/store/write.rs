//! Writing: documents (deduplicated bodies), reports, checks, and the facts of the chosen
//! report of each agency-year.
//!
//! Every public method runs in one transaction. [`Archive::store_report`] puts a document and
//! its parsed report together, so an import killed at any moment leaves either both or neither.

use std::borrow::Cow;
use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use super::{Archive, Result, StoreError, crossyear, now_rfc3339};
use crate::model::{CellState, Check, Fact, ParsedReport};

/// zstd level for raw bodies and fact blobs: zstd's default. Level 9 took twice the CPU
/// (0.4 against 0.2 ms per 73 KB page) for an archive 0.5% smaller, since facts and checks, not
/// bodies, are most of the file; a crawl spends that CPU on every page it fetches.
const ZSTD_LEVEL: i32 = 3;

/// What a document was fetched as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A column or search listing page.
    Listing,
    /// A report page (HTML or text), or an imported report file.
    Report,
    /// A linked file (PDF, DOC, DOCX, WPS, XLS, OFD).
    Attachment,
    /// Anything else worth keeping.
    Other,
}

impl DocumentKind {
    /// The stable string stored in `documents.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Listing => "listing",
            DocumentKind::Report => "report",
            DocumentKind::Attachment => "attachment",
            DocumentKind::Other => "other",
        }
    }
}

/// A fetched or imported document to archive.
#[derive(Debug, Clone, Copy)]
pub struct NewDocument<'a> {
    /// The URL requested, or the absolute path of an imported file.
    pub url: &'a str,
    /// The URL after redirects, when different.
    pub final_url: Option<&'a str>,
    /// RFC 3339 UTC; `None` means now.
    pub fetched_at: Option<&'a str>,
    pub http_status: Option<u16>,
    /// Response headers as a JSON object.
    pub headers: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// The charset the server or page declared.
    pub declared_encoding: Option<&'a str>,
    /// The encoding actually used to decode it.
    pub detected_encoding: Option<&'a str>,
    /// The body exactly as received.
    pub bytes: &'a [u8],
    pub kind: DocumentKind,
}

/// An archived document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub id: i64,
    /// Hex sha256 of the body.
    pub sha256: String,
    /// Whether the body was not in the archive before.
    pub is_new_body: bool,
    /// Whether no document with the same url and body existed before.
    pub is_new_document: bool,
}

/// `reports.id`.
pub type ReportId = i64;

/// Who published a report, as known to the caller (the seed, or `gknb import --agency`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyHint {
    /// The agency's name; when `None`, the name the parser found in the page is used.
    pub name: Option<String>,
    /// Region code qualifying the name (names such as 民政局 repeat across the country).
    pub region: String,
    /// The portal the agency publishes on.
    pub portal: Option<String>,
}

impl Archive {
    /// Archives a document. Identical bodies are stored once; the same url with the same body
    /// is the same document (its `last_seen_at` is refreshed).
    pub fn put_document(&mut self, doc: &NewDocument) -> Result<DocumentRef> {
        self.ensure_writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = put_document_tx(&tx, doc, None)?;
        tx.commit()?;
        Ok(r)
    }

    /// Records (or replaces) the report parsed from an archived document: agency upsert,
    /// report row, checks, choice of the agency-year's primary report, its facts, and the
    /// agency's cross-year checks, all in one transaction.
    pub fn ingest_report(
        &mut self,
        doc: &DocumentRef,
        parsed: &ParsedReport,
        hint: &AgencyHint,
    ) -> Result<ReportId> {
        self.ensure_writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = ingest_now(&tx, doc.id, parsed, hint, &self.metric_ids)?;
        tx.commit()?;
        Ok(id)
    }

    /// [`Archive::put_document`] and [`Archive::ingest_report`] in one transaction.
    pub fn store_report(
        &mut self,
        doc: &NewDocument,
        parsed: &ParsedReport,
        hint: &AgencyHint,
    ) -> Result<(DocumentRef, ReportId)> {
        self.ensure_writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        agency_name(parsed, hint, doc.final_url.unwrap_or(doc.url))?;
        let d = put_document_tx(&tx, doc, None)?;
        let id = ingest_now(&tx, d.id, parsed, hint, &self.metric_ids)?;
        tx.commit()?;
        Ok((d, id))
    }

    /// Records a run of a command in `runs`; returns its id.
    pub fn start_run(&mut self, command: &str) -> Result<i64> {
        self.ensure_writable()?;
        Ok(self.conn.query_row(
            "INSERT INTO runs (started_at, command) VALUES (?1, ?2) RETURNING id",
            params![now_rfc3339(), command],
            |r| r.get(0),
        )?)
    }

    /// Closes a run with a JSON summary.
    pub fn finish_run(&mut self, run: i64, summary: &serde_json::Value) -> Result<()> {
        self.ensure_writable()?;
        self.conn.execute(
            "UPDATE runs SET finished_at = ?1, summary_json = ?2 WHERE id = ?3",
            params![now_rfc3339(), summary.to_string(), run],
        )?;
        Ok(())
    }
}

/// Several reports written in one SQLite transaction.
///
/// The pages that every report touches (the `facts_metric_year` index has a leaf per metric)
/// are written to the WAL once per batch instead of once per report, which makes bulk imports
/// several times faster. Committed every `max_reports` reports or `max_age`, whichever comes
/// first, so readers see progress. Dropping a batch without [`Batch::commit`] rolls back its
/// uncommitted reports.
///
/// Reports are not wrapped in savepoints: a savepoint makes SQLite copy every page a report
/// touches that an earlier report of the batch already changed, which cost an eighth of a
/// crawl's writing time. Instead every write checks what can be refused (a report naming no
/// agency) before it changes anything, so a refused write leaves the batch as it was. A write
/// that fails *after* changing the archive (a damaged facts blob, a full disk) rolls the whole
/// batch back and says so with [`StoreError::BatchRolledBack`].
pub struct Batch<'a> {
    archive: &'a mut Archive,
    pending: usize,
    opened: std::time::Instant,
    max_reports: usize,
    max_age: std::time::Duration,
    open: bool,
    carry: Carry,
}

/// What the reports of one transaction share.
#[derive(Debug, Default)]
struct Carry {
    /// Agency-years whose cross-year checks are refreshed when the transaction commits.
    touched: Vec<(i64, i32)>,
    /// `check_metrics` ids already looked up in this transaction.
    metric_ids: MetricIds,
    /// `metric_keys` ids: the archive's committed ones, plus any added in this transaction.
    fact_keys: MetricKeys,
}

impl Carry {
    fn new(committed: &MetricKeys) -> Carry {
        Carry {
            fact_keys: committed.clone(),
            ..Carry::default()
        }
    }
}

/// `check_metrics.id` by metric list. Only valid within the transaction that found the ids:
/// a rollback may remove the rows they name.
pub(super) type MetricIds = rustc_hash::FxHashMap<Vec<String>, i64>;

/// `metric_keys.id` by metric key. Fx rather than the standard library's SipHash: the writer
/// looks up some 200 keys per report, and the keys are the parser's own.
pub(super) type MetricKeys = rustc_hash::FxHashMap<String, i64>;

impl Archive {
    /// Starts a [`Batch`] committing every `max_reports` reports or `max_age`.
    pub fn batch(&mut self, max_reports: usize, max_age: std::time::Duration) -> Result<Batch<'_>> {
        self.ensure_writable()?;
        let carry = Carry::new(&self.metric_ids);
        Ok(Batch {
            archive: self,
            pending: 0,
            opened: std::time::Instant::now(),
            max_reports: max_reports.max(1),
            max_age,
            open: false,
            carry,
        })
    }
}

impl Batch<'_> {
    /// [`Archive::store_report`] inside the batch.
    pub fn store_report(
        &mut self,
        doc: &NewDocument,
        parsed: &ParsedReport,
        hint: &AgencyHint,
    ) -> Result<(DocumentRef, ReportId)> {
        self.write(|conn, carry| store_tx(conn, doc, None, parsed, hint, carry))
    }

    /// [`Batch::store_report`] with the expensive pure work (hashing and compressing the
    /// body, digesting the parse) done beforehand, typically on the parser threads, so the
    /// single writer only writes. The prepared body stands for `doc.bytes`, which may then be
    /// empty: a caller holding many results can drop the raw bytes once prepared.
    pub fn store_prepared(
        &mut self,
        doc: &NewDocument,
        prepared: &PreparedReport,
        parsed: &ParsedReport,
        hint: &AgencyHint,
    ) -> Result<(DocumentRef, ReportId)> {
        self.write(|conn, carry| store_tx(conn, doc, Some(prepared), parsed, hint, carry))
    }

    /// [`Archive::ingest_report`] inside the batch.
    pub fn ingest_report(
        &mut self,
        doc: &DocumentRef,
        parsed: &ParsedReport,
        hint: &AgencyHint,
    ) -> Result<ReportId> {
        self.write(|conn, carry| ingest_tx(conn, doc.id, parsed, hint, None, carry))
    }

    /// [`Batch::ingest_report`] with the [`parse_digest`] already computed.
    pub fn ingest_digested(
        &mut self,
        doc: &DocumentRef,
        parsed: &ParsedReport,
        digest: &str,
        hint: &AgencyHint,
    ) -> Result<ReportId> {
        self.write(|conn, carry| ingest_tx(conn, doc.id, parsed, hint, Some(digest), carry))
    }

    /// Records that the current parser gives the same result for a report as the one that
    /// wrote it (`reparse` after a parser upgrade that changed nothing for this page).
    pub fn confirm_parser_version(&mut self, report_id: ReportId) -> Result<()> {
        self.write(|conn, _| {
            conn.prepare_cached("UPDATE reports SET parser_version = ?1 WHERE id = ?2")?
                .execute(params![crate::report::PARSER_VERSION, report_id])?;
            Ok(())
        })
    }

    /// [`Archive::put_document`] inside the batch, with the body hashed and compressed
    /// beforehand when `prepared` is given (which then stands for `doc.bytes`, as in
    /// [`Batch::store_prepared`]).
    pub fn put_document(
        &mut self,
        doc: &NewDocument,
        prepared: Option<&PreparedBody>,
    ) -> Result<DocumentRef> {
        self.write(|conn, _| put_document_tx(conn, doc, prepared))
    }

    /// The batch's open transaction (begun if needed), for callers that keep their own tables
    /// in the archive and need them committed together with the documents: the crawler
    /// finishes a frontier row in the same transaction that archives its response.
    pub fn transaction(&mut self) -> Result<&Connection> {
        self.begin()?;
        Ok(&self.archive.conn)
    }

    /// Reports and documents written since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Read access to the archive, seeing the batch's uncommitted writes.
    pub fn archive(&self) -> &Archive {
        self.archive
    }

    /// Commits what the batch holds.
    pub fn commit(mut self) -> Result<()> {
        self.flush()
    }

    fn begin(&mut self) -> Result<()> {
        if !self.open {
            // No foreign-key enforcement and `OR FAIL` inserts spare SQLite a statement
            // journal for every multi-row statement, in which it copies each page the
            // statement touches that the transaction already changed (a tenth of a crawl's
            // writing time). Nothing is lost: a statement that fails half-way fails the
            // whole batch, and the tests check every archive they write with
            // `PRAGMA foreign_key_check`.
            self.archive
                .conn
                .execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")?;
            self.open = true;
            self.opened = std::time::Instant::now();
        }
        Ok(())
    }

    fn write<T>(&mut self, f: impl FnOnce(&Connection, &mut Carry) -> Result<T>) -> Result<T> {
        self.begin()?;
        let conn = &self.archive.conn;
        // SQLite rolls a failed statement back by itself; what a failed write may leave
        // behind is the statements before it, which show in the change counter.
        let before = conn.total_changes();
        match f(conn, &mut self.carry) {
            Ok(v) => {
                self.pending += 1;
                if self.pending >= self.max_reports || self.opened.elapsed() >= self.max_age {
                    self.flush()?;
                }
                Ok(v)
            }
            Err(e) if conn.total_changes() == before => Err(e),
            Err(e) => {
                let lost = self.pending + 1;
                self.rollback();
                Err(StoreError::BatchRolledBack {
                    lost,
                    source: Box::new(e),
                })
            }
        }
    }

    /// Abandons the open transaction and everything it holds.
    fn rollback(&mut self) {
        if self.open {
            // A failed rollback leaves nothing to undo: SQLite has ended the transaction.
            let _ = self.archive.conn.execute_batch("ROLLBACK");
            let _ = self.archive.conn.execute_batch("PRAGMA foreign_keys = ON");
        }
        self.open = false;
        self.pending = 0;
        self.carry = Carry::new(&self.archive.metric_ids);
    }

    fn flush(&mut self) -> Result<()> {
        if self.open {
            // Cross-year checks once per agency and batch: derived data, written in the same
            // transaction as the reports they are derived from.
            let touched = std::mem::take(&mut self.carry.touched);
            refresh_cross_year(
                &self.archive.conn,
                touched,
                &mut self.carry.metric_ids,
                &self.carry.fact_keys,
            )?;
            self.archive
                .conn
                .execute_batch("COMMIT; PRAGMA foreign_keys = ON")?;
            self.open = false;
            self.pending = 0;
        }
        Ok(())
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // Nothing to report to: the caller chose not to commit.
        self.rollback();
    }
}

/// A body hashed and compressed ahead of writing.
#[derive(Debug, Clone)]
pub struct PreparedBody {
    /// Hex sha256 of the uncompressed bytes.
    pub sha256: String,
    compressed: Vec<u8>,
    /// Length of the uncompressed bytes.
    pub size: usize,
}

impl PreparedBody {
    /// Hashes and compresses `bytes` as [`Archive::put_document`] would.
    pub fn new(bytes: &[u8]) -> Result<PreparedBody> {
        Ok(PreparedBody {
            sha256: sha256_hex(bytes),
            compressed: compress(bytes)?,
            size: bytes.len(),
        })
    }
}

/// The pure work of [`Batch::store_report`] done ahead: the body and the parse digest.
#[derive(Debug, Clone)]
pub struct PreparedReport {
    pub body: PreparedBody,
    /// [`parse_digest`] of the parse result.
    pub digest: String,
}

impl PreparedReport {
    /// Prepares a document body and the report parsed from it.
    pub fn new(bytes: &[u8], parsed: &ParsedReport) -> Result<PreparedReport> {
        Ok(PreparedReport {
            body: PreparedBody::new(bytes)?,
            digest: parse_digest(parsed)?,
        })
    }
}

/// zstd at [`ZSTD_LEVEL`], with one compression context per thread: a fresh context per call
/// (`zstd::bulk::compress`) allocates and clears its tables every time, which cost about as
/// much as compressing a report page.
fn compress(bytes: &[u8]) -> Result<Vec<u8>> {
    thread_local! {
        static CONTEXT: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let context = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
        };
        Ok(context.compress(bytes)?)
    })
}

/// Hex sha256 of a body, the key of `bodies`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn put_document_tx(
    tx: &Connection,
    doc: &NewDocument,
    prepared: Option<&PreparedBody>,
) -> Result<DocumentRef> {
    let sha = match prepared {
        Some(p) => p.sha256.clone(),
        None => sha256_hex(doc.bytes),
    };
    let size = prepared.map_or(doc.bytes.len(), |p| p.size);
    let is_new_body = tx
        .prepare_cached("SELECT 1 FROM bodies WHERE sha256 = ?1")?
        .query_row([&sha], |_| Ok(()))
        .optional()?
        .is_none();
    if is_new_body {
        let compressed;
        let data = match prepared {
            Some(p) => p.compressed.as_slice(),
            None => {
                compressed = compress(doc.bytes)?;
                compressed.as_slice()
            }
        };
        tx.prepare_cached(
            "INSERT INTO bodies (sha256, size, compression, data) VALUES (?1, ?2, 'zstd', ?3)",
        )?
        .execute(params![sha, size as i64, data])?;
    }
    let now = now_rfc3339();
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM documents WHERE url = ?1 AND sha256 = ?2")?
        .query_row(params![doc.url, sha], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        tx.prepare_cached("UPDATE documents SET last_seen_at = ?1 WHERE id = ?2")?
            .execute(params![now, id])?;
        return Ok(DocumentRef {
            id,
            sha256: sha,
            is_new_body,
            is_new_document: false,
        });
    }
    let fetched_at = doc.fetched_at.map(str::to_string).unwrap_or(now.clone());
    let id = tx
        .prepare_cached(
            "INSERT INTO documents (url, final_url, fetched_at, last_seen_at, http_status, headers, \
             content_type, declared_encoding, detected_encoding, sha256, size, kind) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        )?
        .query_row(
            params![
                doc.url,
                doc.final_url,
                fetched_at,
                now,
                doc.http_status,
                doc.headers,
                doc.content_type,
                doc.declared_encoding,
                doc.detected_encoding,
                sha,
                size as i64,
                doc.kind.as_str()
            ],
            |r| r.get(0),
        )?;
    Ok(DocumentRef {
        id,
        sha256: sha,
        is_new_body,
        is_new_document: true,
    })
}

/// Severity of a check rule: the accounting identities are errors, cross-year and other
/// soft rules are warnings.
pub(super) fn severity(rule: &str) -> &'static str {
    if rule.starts_with("T3-") || rule == "T4" {
        "error"
    } else {
        "warning"
    }
}

/// [`ingest_tx`] followed by the cross-year refresh of the agencies it touched.
fn ingest_now(
    tx: &Connection,
    document_id: i64,
    parsed: &ParsedReport,
    hint: &AgencyHint,
    metric_ids: &MetricKeys,
) -> Result<ReportId> {
    let mut carry = Carry::new(metric_ids);
    let id = ingest_tx(tx, document_id, parsed, hint, None, &mut carry)?;
    refresh_cross_year(tx, carry.touched, &mut carry.metric_ids, &carry.fact_keys)?;
    Ok(id)
}

/// Refreshes the cross-year checks of the touched agency-years, once per agency.
fn refresh_cross_year(
    tx: &Connection,
    mut touched: Vec<(i64, i32)>,
    metric_ids: &mut MetricIds,
    fact_keys: &MetricKeys,
) -> Result<()> {
    touched.sort_unstable();
    touched.dedup();
    for group in touched.chunk_by(|a, b| a.0 == b.0) {
        let years: Vec<i32> = group.iter().map(|&(_, y)| y).collect();
        crossyear::refresh(tx, group[0].0, &years, metric_ids, fact_keys)?;
    }
    Ok(())
}

fn ingest_tx(
    tx: &Connection,
    document_id: i64,
    parsed: &ParsedReport,
    hint: &AgencyHint,
    digest: Option<&str>,
    carry: &mut Carry,
) -> Result<ReportId> {
    let (url, sha): (String, String) = tx
        .prepare_cached("SELECT coalesce(final_url, url), sha256 FROM documents WHERE id = ?1")?
        .query_row([document_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| StoreError::Invalid(format!("no document with id {document_id}")))?;
    // Everything that can refuse the report comes before the first write (see [`Batch`]).
    let name = agency_name(parsed, hint, &url)?;
    let facts = unique_facts(&parsed.facts);
    let parse_sha = match digest {
        Some(d) => d.to_string(),
        None => parse_digest(parsed)?,
    };
    let warnings = serde_json::to_string(&parsed.warnings).map_err(json_err)?;
    let attachments = serde_json::to_string(&parsed.attachments).map_err(json_err)?;
    let agency_id = upsert_agency(tx, name, &hint.region, hint.portal.as_deref())?;
    let old: Option<(ReportId, i64, Option<i32>)> = tx
        .prepare_cached("SELECT id, agency_id, year FROM reports WHERE document_id = ?1")?
        .query_row([document_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    // Written once the primary is known: a primary report's facts live in `facts` only.
    let facts_zst: Option<Vec<u8>> = None;
    let failed = parsed
        .failed_checks()
        .filter(|c| severity(&c.rule) == "error")
        .count() as i64;
    let now = now_rfc3339();
    let values = params![
        document_id,
        agency_id,
        parsed.year,
        parsed.year_source.as_str(),
        parsed.title,
        url,
        parsed.published,
        parsed.format.as_str(),
        parsed.status.as_str(),
        parsed.reason,
        parsed.encoding,
        crate::report::PARSER_VERSION,
        sha,
        facts.len() as i64,
        parsed.checks.len() as i64,
        failed,
        warnings,
        attachments,
        facts_zst,
        parse_sha,
        now
    ];
    let report_id = match old {
        Some((id, _, _)) => {
            tx.prepare_cached(
                "UPDATE reports SET agency_id = ?2, year = ?3, year_source = ?4, \
                 title = ?5, url = ?6, published = ?7, format = ?8, status = ?9, reason = ?10, \
                 encoding = ?11, parser_version = ?12, document_sha256 = ?13, fact_count = ?14, \
                 check_count = ?15, failed_checks = ?16, warnings = ?17, attachments = ?18, \
                 facts_zst = ?19, parse_sha256 = ?20, parsed_at = ?21 WHERE document_id = ?1",
            )?
            .execute(values)?;
            tx.prepare_cached("DELETE FROM checks WHERE report_id = ?1")?
                .execute([id])?;
            id
        }
        None => tx
            .prepare_cached(
                "INSERT INTO reports (document_id, agency_id, year, year_source, title, url, \
                 published, format, status, reason, encoding, parser_version, document_sha256, \
                 fact_count, check_count, failed_checks, warnings, attachments, facts_zst, \
                 parse_sha256, parsed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21) RETURNING id",
            )?
            .query_row(values, |r| r.get(0))?,
    };
    insert_checks(tx, report_id, &parsed.checks, &mut carry.metric_ids)?;
    refresh_group(
        tx,
        agency_id,
        parsed.year,
        report_id,
        Some(&facts),
        &mut carry.fact_keys,
    )?;
    let is_primary: bool = tx
        .prepare_cached("SELECT is_primary FROM reports WHERE id = ?1")?
        .query_row([report_id], |r| r.get(0))?;
    if !is_primary {
        tx.prepare_cached("UPDATE reports SET facts_zst = ?1 WHERE id = ?2")?
            .execute(params![encode_facts(&facts)?, report_id])?;
    }
    if let Some((_, old_agency, old_year)) = old
        && (old_agency, old_year) != (agency_id, parsed.year)
    {
        refresh_group(
            tx,
            old_agency,
            old_year,
            report_id,
            None,
            &mut carry.fact_keys,
        )?;
        carry.touched.extend(old_year.map(|y| (old_agency, y)));
    }
    carry.touched.extend(parsed.year.map(|y| (agency_id, y)));
    Ok(report_id)
}

/// The publishing agency's name: the caller's, else the one the page printed.
fn agency_name<'a>(parsed: &'a ParsedReport, hint: &'a AgencyHint, url: &str) -> Result<&'a str> {
    hint.name
        .as_deref()
        .or(parsed.agency.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "{url}: the publishing agency is unknown (not given and not found in the page); pass it with --agency"
            ))
        })
}

/// [`put_document_tx`] then [`ingest_tx`], refusing a report that names no agency before
/// anything is written.
fn store_tx(
    tx: &Connection,
    doc: &NewDocument,
    prepared: Option<&PreparedReport>,
    parsed: &ParsedReport,
    hint: &AgencyHint,
    carry: &mut Carry,
) -> Result<(DocumentRef, ReportId)> {
    agency_name(parsed, hint, doc.final_url.unwrap_or(doc.url))?;
    let d = put_document_tx(tx, doc, prepared.map(|p| &p.body))?;
    let digest = prepared.map(|p| p.digest.as_str());
    let id = ingest_tx(tx, d.id, parsed, hint, digest, carry)?;
    Ok((d, id))
}

fn upsert_agency(tx: &Connection, name: &str, region: &str, portal: Option<&str>) -> Result<i64> {
    Ok(tx
        .prepare_cached(
            "INSERT INTO agencies (name, region, portal, first_seen_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (region, name) DO UPDATE SET portal = coalesce(excluded.portal, portal) \
             RETURNING id",
        )?
        .query_row(params![name, region, portal, now_rfc3339()], |r| r.get(0))?)
}

pub(super) fn insert_checks(
    tx: &Connection,
    report_id: ReportId,
    checks: &[Check],
    metric_ids: &mut MetricIds,
) -> Result<()> {
    let mut rows = Vec::with_capacity(checks.len());
    for c in checks {
        let id = match metric_ids.get(&c.metrics) {
            Some(&id) => id,
            None => {
                let id = metrics_id(tx, &c.metrics)?;
                metric_ids.insert(c.metrics.clone(), id);
                id
            }
        };
        rows.push((c, id));
    }
    insert_rows(
        tx,
        "INSERT OR FAIL INTO checks (report_id, rule, subject, status, severity, expected, actual, \
         metrics_id) VALUES ",
        8,
        &rows,
        |stmt, at, (c, metrics_id)| {
            stmt.raw_bind_parameter(at, report_id)?;
            stmt.raw_bind_parameter(at + 1, &c.rule)?;
            stmt.raw_bind_parameter(at + 2, &c.subject)?;
            stmt.raw_bind_parameter(at + 3, c.status.as_str())?;
            stmt.raw_bind_parameter(at + 4, severity(&c.rule))?;
            stmt.raw_bind_parameter(at + 5, c.expected)?;
            stmt.raw_bind_parameter(at + 6, c.actual)?;
            stmt.raw_bind_parameter(at + 7, *metrics_id)?;
            Ok(())
        },
    )
}

/// The metric lists of check instances repeat from report to report (the same rule and
/// subject always involve the same cells), so they are stored once in `check_metrics`: this
/// halves the size of the archive. Callers remember the ids ([`MetricIds`]): the same few
/// hundred lists come back with every report.
fn metrics_id(tx: &Connection, metrics: &[String]) -> Result<i64> {
    let metrics = serde_json::to_string(metrics).map_err(json_err)?;
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM check_metrics WHERE metrics = ?1")?
        .query_row([&metrics], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    Ok(tx
        .prepare_cached("INSERT INTO check_metrics (metrics) VALUES (?1) RETURNING id")?
        .query_row([&metrics], |r| r.get(0))?)
}

/// The SQL ranking of reports within an agency-year, best first. Documented in
/// `docs/schema.md` ("Which report is primary"); keep the two in step.
const PRIMARY_ORDER: &str = "CASE r.status WHEN 'ok' THEN 0 WHEN 'invalid' THEN 1 ELSE 2 END, \
     CASE WHEN (r.format = '2019' AND r.year IN (2019, 2020)) \
            OR (r.format = '2021' AND r.year >= 2021) THEN 0 ELSE 1 END, \
     r.fact_count DESC, d.fetched_at DESC, r.id DESC";

/// Chooses the primary report of one agency-year, marks the others as its duplicates, and
/// makes `facts` hold the primary's facts. `written` is the report just written; `fresh` its
/// facts when it belongs to this agency-year. A primary report's facts live only in `facts`
/// (its `facts_zst` is NULL); a demoted primary gets them back in its blob.
fn refresh_group(
    tx: &Connection,
    agency_id: i64,
    year: Option<i32>,
    written: ReportId,
    fresh: Option<&[Fact]>,
    keys: &mut MetricKeys,
) -> Result<()> {
    let Some(year) = year else {
        // Without a year there is no agency-year to be primary for.
        if fresh.is_some() {
            tx.prepare_cached(
                "UPDATE reports SET is_primary = 0, duplicate_of = NULL WHERE id = ?1",
            )?
            .execute([written])?;
        }
        return Ok(());
    };
    let sql = format!(
        "SELECT r.id FROM reports r JOIN documents d ON d.id = r.document_id \
         WHERE r.agency_id = ?1 AND r.year = ?2 ORDER BY {PRIMARY_ORDER} LIMIT 1"
    );
    let primary: Option<ReportId> = tx
        .prepare_cached(&sql)?
        .query_row(params![agency_id, year], |r| r.get(0))
        .optional()?;
    let current: Option<ReportId> = tx
        .prepare_cached(
            "SELECT report_id FROM fact_cells WHERE agency_id = ?1 AND year = ?2 LIMIT 1",
        )?
        .query_row(params![agency_id, year], |r| r.get(0))
        .optional()?;
    let Some(primary) = primary else {
        // Only `written` can have left the group, and its blob is already current.
        tx.prepare_cached("DELETE FROM fact_cells WHERE agency_id = ?1 AND year = ?2")?
            .execute(params![agency_id, year])?;
        return Ok(());
    };
    tx.prepare_cached(
        "UPDATE reports SET is_primary = (id = ?1), \
         duplicate_of = CASE WHEN id = ?1 THEN NULL ELSE ?1 END \
         WHERE agency_id = ?2 AND year = ?3 \
           AND (is_primary != (id = ?1) OR duplicate_of IS NOT CASE WHEN id = ?1 THEN NULL ELSE ?1 END)",
    )?
    .execute(params![primary, agency_id, year])?;
    let fresh_is_primary = fresh.is_some() && primary == written;
    if current == Some(primary) && !fresh_is_primary {
        return Ok(());
    }
    if let Some(old) = current
        && old != primary
        && old != written
    {
        let kept = group_facts(tx, agency_id, year)?;
        tx.prepare_cached("UPDATE reports SET facts_zst = ?1 WHERE id = ?2")?
            .execute(params![encode_facts(&kept)?, old])?;
    }
    tx.prepare_cached("DELETE FROM fact_cells WHERE agency_id = ?1 AND year = ?2")?
        .execute(params![agency_id, year])?;
    match fresh {
        Some(facts) if fresh_is_primary => insert_facts(tx, agency_id, year, primary, facts, keys)?,
        _ => {
            let blob: Option<Vec<u8>> = tx
                .prepare_cached("SELECT facts_zst FROM reports WHERE id = ?1")?
                .query_row([primary], |r| r.get(0))?;
            let blob = blob.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "report {primary} has neither facts in `facts` nor a facts blob"
                ))
            })?;
            insert_facts(tx, agency_id, year, primary, &decode_facts(&blob)?, keys)?;
        }
    }
    tx.prepare_cached("UPDATE reports SET facts_zst = NULL WHERE id = ?1")?
        .execute([primary])?;
    Ok(())
}

/// The facts of one agency-year as stored in `facts`.
pub(super) fn group_facts(
    tx: &rusqlite::Connection,
    agency_id: i64,
    year: i32,
) -> Result<Vec<Fact>> {
    let mut stmt = tx.prepare_cached(
        "SELECT metric, value, state, raw, report_table, source_row, source_col, source_page FROM facts \
         WHERE agency_id = ?1 AND year = ?2",
    )?;
    let mut rows = stmt.query(params![agency_id, year])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let state: String = r.get(2)?;
        out.push(Fact {
            metric: r.get(0)?,
            value: r.get(1)?,
            state: CellState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("facts.state {state:?}")))?,
            raw: r.get(3)?,
            table: r.get(4)?,
            row: r.get(5)?,
            col: r.get(6)?,
            page: r.get(7)?,
        });
    }
    Ok(out)
}

/// The parser's facts with any repeated metric dropped (the first cell wins: the key is the
/// table's identity), so counts, blobs and `facts` rows always agree.
fn unique_facts(facts: &[Fact]) -> Cow<'_, [Fact]> {
    let mut seen = HashSet::with_capacity(facts.len());
    if facts.iter().all(|f| seen.insert(f.metric.as_str())) {
        return Cow::Borrowed(facts);
    }
    let mut seen = HashSet::with_capacity(facts.len());
    Cow::Owned(
        facts
            .iter()
            .filter(|f| seen.insert(f.metric.as_str()))
            .cloned()
            .collect(),
    )
}

fn insert_facts(
    tx: &Connection,
    agency_id: i64,
    year: i32,
    report_id: ReportId,
    facts: &[Fact],
    keys: &mut MetricKeys,
) -> Result<()> {
    let mut rows = Vec::with_capacity(facts.len());
    for f in facts {
        rows.push((metric_key_id(tx, keys, &f.metric)?, f));
    }
    // In key order: the agency-year is new more often than not, so every row then lands at the
    // end of the table's b-tree, where SQLite appends without a full seek.
    rows.sort_unstable_by_key(|&(id, _)| id);
    insert_rows(
        tx,
        "INSERT OR FAIL INTO fact_cells (agency_id, year, metric_id, value, state, raw, \
         report_id, report_table, source_row, source_col, source_page) VALUES ",
        11,
        &rows,
        |stmt, at, &(metric_id, f)| {
            stmt.raw_bind_parameter(at, agency_id)?;
            stmt.raw_bind_parameter(at + 1, year)?;
            stmt.raw_bind_parameter(at + 2, metric_id)?;
            stmt.raw_bind_parameter(at + 3, f.value.filter(|v| v.is_finite()))?;
            stmt.raw_bind_parameter(at + 4, f.state.as_str())?;
            stmt.raw_bind_parameter(at + 5, &f.raw)?;
            stmt.raw_bind_parameter(at + 6, report_id)?;
            stmt.raw_bind_parameter(at + 7, &f.table)?;
            stmt.raw_bind_parameter(at + 8, f.row)?;
            stmt.raw_bind_parameter(at + 9, f.col)?;
            stmt.raw_bind_parameter(at + 10, f.page)?;
            Ok(())
        },
    )
}

/// The `metric_keys` id of a metric key, given one if it has none (a key outside the
/// catalogue this build knows). `keys` must only hold ids visible to `tx`.
fn metric_key_id(tx: &Connection, keys: &mut MetricKeys, key: &str) -> Result<i64> {
    if let Some(&id) = keys.get(key) {
        return Ok(id);
    }
    tx.prepare_cached("INSERT OR IGNORE INTO metric_keys (key) VALUES (?1)")?
        .execute([key])?;
    let id: i64 = tx
        .prepare_cached("SELECT id FROM metric_keys WHERE key = ?1")?
        .query_row([key], |r| r.get(0))?;
    keys.insert(key.to_string(), id);
    Ok(id)
}

/// Rows per multi-row `INSERT` (at most 11 parameters a row here, far below SQLite's limit).
const ROWS_PER_INSERT: usize = 40;

/// Inserts `rows` with multi-row `INSERT … VALUES (…), (…)` statements. A report writes ~200
/// facts and ~45 checks, and one statement per row spent more time binding, stepping and
/// resetting than SQLite spent inserting. `head` is the statement up to `VALUES `; `bind`
/// binds one row's `columns` parameters from the 1-based index it is given.
fn insert_rows<T>(
    tx: &Connection,
    head: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut rusqlite::Statement<'_>, usize, &T) -> rusqlite::Result<()>,
) -> Result<()> {
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if rows.len() >= ROWS_PER_INSERT {
        let mut stmt = tx.prepare_cached(&values_sql(head, columns, ROWS_PER_INSERT))?;
        for chunk in chunks.by_ref() {
            for (i, row) in chunk.iter().enumerate() {
                bind(&mut stmt, i * columns + 1, row)?;
            }
            stmt.raw_execute()?;
        }
    }
    // The rest in power-of-two groups: a few statements, and only six shapes of statement in
    // the cache, where one statement per row cost a step and a reset per row (a 2019-format
    // report has 198 facts: 38 left over).
    let mut rest = chunks.remainder();
    while !rest.is_empty() {
        // The largest power of two not above what is left.
        let (group, tail) = rest.split_at(1 << rest.len().ilog2());
        let mut stmt = tx.prepare_cached(&values_sql(head, columns, group.len()))?;
        for (i, row) in group.iter().enumerate() {
            bind(&mut stmt, i * columns + 1, row)?;
        }
        stmt.raw_execute()?;
        rest = tail;
    }
    Ok(())
}

/// `head` followed by `rows` groups of `columns` parameters. Anonymous `?`s are numbered in
/// order, as the binders expect; the text is built on every call (it is the statement cache's
/// key), so it is built by copying, not formatting: numbered `?N`s made this cost more than
/// binding the values.
fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let mut group = String::with_capacity(2 * columns + 1);
    group.push('(');
    for c in 0..columns {
        if c > 0 {
            group.push(',');
        }
        group.push('?');
    }
    group.push(')');
    let mut sql = String::with_capacity(head.len() + rows * (group.len() + 1));
    sql.push_str(head);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&group);
    }
    sql
}

/// Every report's own facts, compressed: the source `facts` is refilled from when the primary
/// report of an agency-year changes, and what `reparse` compares against.
pub(super) fn encode_facts(facts: &[Fact]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(facts).map_err(json_err)?;
    compress(&json)
}

/// Inverse of [`encode_facts`].
pub(super) fn decode_facts(blob: &[u8]) -> Result<Vec<Fact>> {
    let json = zstd::decode_all(blob)?;
    serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt(format!("facts blob: {e}")))
}

/// Digest of everything the parser said about a document, to tell changed parses apart: the
/// sha256 of its JSON, which is hashed as it is written rather than collected first (a
/// report's JSON is larger than its page).
pub fn parse_digest(parsed: &ParsedReport) -> Result<String> {
    // Buffered: the serialiser writes token by token.
    let mut out = std::io::BufWriter::with_capacity(8192, HashWriter(Sha256::new()));
    serde_json::to_writer(&mut out, parsed).map_err(json_err)?;
    let hasher = out
        .into_inner()
        .map_err(|e| StoreError::Invalid(format!("cannot hash a parse: {e}")))?;
    Ok(hex::encode(hasher.0.finalize()))
}

/// An `io::Write` that feeds a hasher.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Invalid(format!("cannot serialise: {e}"))
}

/// Number of metrics whose cell differs between two parses of the same report (value, state,
/// raw text or position), counting metrics present in only one of them.
pub fn facts_diff(old: &[Fact], new: &[Fact]) -> usize {
    use std::collections::HashMap;
    let old_by: HashMap<&str, &Fact> = old.iter().map(|f| (f.metric.as_str(), f)).collect();
    let new_by: HashMap<&str, &Fact> = new.iter().map(|f| (f.metric.as_str(), f)).collect();
    let changed = new_by
        .iter()
        .filter(|(k, f)| old_by.get(*k).is_none_or(|o| !same_fact(o, f)))
        .count();
    let removed = old_by.keys().filter(|k| !new_by.contains_key(*k)).count();
    changed + removed
}

fn same_fact(a: &Fact, b: &Fact) -> bool {
    let same_value = match (a.value, b.value) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        (None, None) => true,
        _ => false,
    };
    same_value
        && a.state == b.state
        && a.raw == b.raw
        && a.table == b.table
        && a.row == b.row
        && a.col == b.col
}
