//! Crawl state in the SQLite archive, beside the archive's documents and reports: the frontier
//! (`crawl_frontier`: method, form body, page number, family, validators), host verdicts, runs,
//! and which reports each run added.
//!
//! The crawler's writer ([`super::pipeline`]) finishes a frontier row in the same transaction
//! that archives its response, so after a `kill -9` a row is pending exactly when its response
//! is not in the archive. The scheduler reads pending rows through a separate read-only
//! connection ([`Reader`]), which sees committed transactions only.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::store::{Archive, StoreError};

/// Errors of the crawl state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("archive database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode a report: {0}")]
    Json(#[from] serde_json::Error),
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS crawl_runs(
  id INTEGER PRIMARY KEY,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  summary TEXT
);
CREATE TABLE IF NOT EXISTS crawl_frontier(
  id INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  url TEXT NOT NULL,
  method TEXT NOT NULL,
  body TEXT,
  referer TEXT,
  host TEXT NOT NULL,
  kind TEXT NOT NULL,
  seed TEXT NOT NULL,
  family TEXT NOT NULL,
  depth INTEGER NOT NULL,
  page_no INTEGER NOT NULL,
  title TEXT,
  date TEXT,
  state TEXT NOT NULL,
  first_run INTEGER NOT NULL,
  last_run INTEGER,
  etag TEXT,
  last_modified TEXT,
  http_status INTEGER,
  error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  doc_id INTEGER,
  sha256 TEXT
);
CREATE INDEX IF NOT EXISTS crawl_frontier_host ON crawl_frontier(host, state, id);
CREATE TABLE IF NOT EXISTS crawl_hosts(
  host TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  reason TEXT,
  run_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS crawl_reports(
  sha256 TEXT PRIMARY KEY,
  report_id INTEGER NOT NULL,
  url TEXT NOT NULL,
  status TEXT NOT NULL,
  title TEXT,
  failed_checks INTEGER NOT NULL,
  run_id INTEGER NOT NULL
);
"#;

/// What a frontier row asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A listing page (column page, next page, sub-column, proxy answer).
    Listing,
    /// A report page (or a report served directly as a file).
    Report,
    /// An attachment linked from a report page.
    Attachment,
    /// A further part of a multi-page report.
    Part,
}

impl Kind {
    /// Stable name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Listing => "listing",
            Kind::Report => "report",
            Kind::Attachment => "attachment",
            Kind::Part => "part",
        }
    }

    fn parse(s: &str) -> Kind {
        match s {
            "listing" => Kind::Listing,
            "report" => Kind::Report,
            "attachment" => Kind::Attachment,
            _ => Kind::Part,
        }
    }
}

/// A frontier row to insert.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub url: String,
    /// `GET` or `POST`.
    pub method: &'static str,
    pub body: Option<String>,
    pub referer: Option<String>,
    pub host: String,
    pub kind: Kind,
    pub seed: String,
    pub family: String,
    pub depth: u32,
    pub page_no: u32,
    pub title: Option<String>,
    pub date: Option<String>,
}

impl NewItem {
    /// The de-duplication key: the URL, plus method and body for POSTs.
    pub fn key(&self) -> String {
        match (&self.method, &self.body) {
            (&"GET", _) => self.url.clone(),
            (m, b) => format!("{m} {}\n{}", self.url, b.as_deref().unwrap_or("")),
        }
    }
}

/// A frontier row to fetch.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: i64,
    pub url: String,
    pub method: String,
    pub body: Option<String>,
    pub referer: Option<String>,
    pub host: String,
    pub kind: Kind,
    pub seed: String,
    pub family: String,
    pub depth: u32,
    pub page_no: u32,
    pub title: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// How a fetched row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Done,
    Failed,
    /// Not fetched on purpose (robots.txt).
    Skipped,
}

impl RowState {
    fn as_str(self) -> &'static str {
        match self {
            RowState::Done => "done",
            RowState::Failed => "failed",
            RowState::Skipped => "skipped",
        }
    }
}

fn now() -> String {
    crate::store::now_rfc3339()
}

/// The scheduler's read-only view of the frontier: committed rows only, never blocking the
/// writer (WAL readers and the writer do not wait for each other).
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens a read-only connection to the archive at `path` (the crawl tables must exist:
    /// open the [`CrawlDb`] first).
    pub fn open(path: &Path) -> Result<Reader, StateError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Reader { conn })
    }

    /// Up to `limit` pending rows of `host` with ids above `after`, in id order.
    pub fn pending(&self, host: &str, after: i64, limit: usize) -> Result<Vec<Item>, StateError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, url, method, body, referer, host, kind, seed, family, depth, page_no,
                    title, etag, last_modified
             FROM crawl_frontier WHERE host = ?1 AND state = 'pending' AND id > ?2
             ORDER BY id LIMIT ?3",
        )?;
        let rows = st.query_map(params![host, after, limit as i64], |r| {
            Ok(Item {
                id: r.get(0)?,
                url: r.get(1)?,
                method: r.get(2)?,
                body: r.get(3)?,
                referer: r.get(4)?,
                host: r.get(5)?,
                kind: Kind::parse(&r.get::<_, String>(6)?),
                seed: r.get(7)?,
                family: r.get(8)?,
                depth: r.get(9)?,
                page_no: r.get(10)?,
                title: r.get(11)?,
                etag: r.get(12)?,
                last_modified: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Hosts that have pending rows.
    pub fn pending_hosts(&self) -> Result<Vec<String>, StateError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT host FROM crawl_frontier WHERE state = 'pending'")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// The crawl's view of the archive database.
pub struct CrawlDb {
    archive: Archive,
}

/// Whether a run was started fresh or resumed after an interruption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunStart {
    pub run_id: i64,
    pub resumed: bool,
    /// The previous finished run, if any (for "new since last run").
    pub previous: Option<i64>,
}

impl CrawlDb {
    /// Opens (creating when needed) the crawl tables in the archive at `path`.
    /// Takes the archive's writer lock, so two crawls never share an archive.
    pub fn open(path: &Path) -> Result<CrawlDb, StateError> {
        let archive = Archive::open(path)?;
        archive.conn().execute_batch(SCHEMA)?;
        // Checkpointing the WAL every 32 MB instead of every 4 MB writes hot index pages back
        // to the database once per checkpoint rather than many times. The page cache stays
        // at 16 MB: 32 MB made the 100,000-page bench slower (535 against 557 requests/s)
        // and pushed its peak memory to 159 MB.
        archive
            .conn()
            .pragma_update(None, "wal_autocheckpoint", 8192)?;
        archive.conn().pragma_update(None, "cache_size", -16_000)?;
        Ok(CrawlDb { archive })
    }

    /// The archive, for documents and reports.
    pub fn archive(&mut self) -> &mut Archive {
        &mut self.archive
    }

    fn conn(&self) -> &Connection {
        self.archive.conn()
    }

    /// Resumes the last run when it did not finish; otherwise starts a new one, which puts
    /// every listing (for a conditional revisit) and every failed row back in the queue and
    /// forgets last run's host verdicts.
    pub fn start_run(&mut self) -> Result<RunStart, StateError> {
        let last: Option<(i64, Option<String>)> = self
            .conn()
            .query_row(
                "SELECT id, finished_at FROM crawl_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let previous_finished = |conn: &Connection,
                                 before: i64|
         -> Result<Option<i64>, StateError> {
            Ok(conn
                .query_row(
                    "SELECT id FROM crawl_runs WHERE finished_at IS NOT NULL AND id < ?1 ORDER BY id DESC LIMIT 1",
                    [before],
                    |r| r.get(0),
                )
                .optional()?)
        };
        if let Some((id, None)) = last {
            let previous = previous_finished(self.conn(), id)?;
            return Ok(RunStart {
                run_id: id,
                resumed: true,
                previous,
            });
        }
        let tx = self.archive.conn_mut().transaction()?;
        tx.execute("INSERT INTO crawl_runs(started_at) VALUES (?1)", [now()])?;
        let run_id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE crawl_frontier SET state = 'pending'
             WHERE (kind = 'listing' AND state = 'done' AND COALESCE(http_status, 200) < 400)
                OR state = 'failed'",
            [],
        )?;
        tx.execute("DELETE FROM crawl_hosts", [])?;
        tx.commit()?;
        Ok(RunStart {
            run_id,
            resumed: false,
            previous: last.map(|(id, _)| id),
        })
    }

    /// Marks the run finished with its summary (JSON).
    pub fn finish_run(&mut self, run_id: i64, summary: &str) -> Result<(), StateError> {
        self.conn().execute(
            "UPDATE crawl_runs SET finished_at = ?2, summary = ?3 WHERE id = ?1",
            params![run_id, now(), summary],
        )?;
        Ok(())
    }

    /// Reports first archived in `run_id`: (url, title, status).
    pub fn new_reports(
        &self,
        run_id: i64,
        limit: usize,
    ) -> Result<Vec<(String, Option<String>, String)>, StateError> {
        let mut st = self.conn().prepare(
            "SELECT url, title, status FROM crawl_reports WHERE run_id = ?1 ORDER BY url LIMIT ?2",
        )?;
        let rows = st.query_map(params![run_id, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// How many rows failed in `run_id`, and the first `limit`: (url, kind, error).
    #[allow(clippy::type_complexity)]
    pub fn failures(
        &self,
        run_id: i64,
        limit: usize,
    ) -> Result<(u64, Vec<(String, String, String)>), StateError> {
        let count: u64 = self.conn().query_row(
            "SELECT COUNT(*) FROM crawl_frontier WHERE state = 'failed' AND last_run = ?1",
            [run_id],
            |r| r.get(0),
        )?;
        let mut st = self.conn().prepare(
            "SELECT url, kind, COALESCE(error, '') FROM crawl_frontier
             WHERE state = 'failed' AND last_run = ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![run_id, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok((count, rows.collect::<Result<Vec<_>, _>>()?))
    }

    /// Host verdicts of this run: (host, state, reason).
    pub fn host_verdicts(&self) -> Result<Vec<(String, String, String)>, StateError> {
        let mut st = self
            .conn()
            .prepare("SELECT host, state, COALESCE(reason, '') FROM crawl_hosts ORDER BY host")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Counts for the summary: reports in the archive, and how many failed validation.
    pub fn report_counts(&self, run_id: i64) -> Result<(u64, u64, u64), StateError> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), COALESCE(SUM(run_id = ?1), 0),
                    COALESCE(SUM(run_id = ?1 AND failed_checks > 0), 0)
             FROM crawl_reports",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// The archive, read-only.
    pub fn connection_archive(&self) -> &Archive {
        &self.archive
    }

    /// The underlying connection, for read-only queries by callers and tests.
    pub fn connection(&self) -> &Connection {
        self.conn()
    }
}

/// Frontier updates inside the writer's open transaction (see [`crate::store::Batch::transaction`]).
pub struct Batch<'a> {
    tx: &'a Connection,
}

impl<'a> Batch<'a> {
    /// Frontier updates on `tx`, a connection with a transaction open.
    pub fn on(tx: &'a Connection) -> Batch<'a> {
        Batch { tx }
    }

    /// Inserts a frontier row unless its key is known. Returns the row id when it was queued.
    ///
    /// A listing that answered 404 in an earlier run (the guessed page after a column's end)
    /// is queued again when a page proposes it anew: the column may have grown.
    pub fn add(&self, item: &NewItem, run_id: i64) -> Result<Option<i64>, StateError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO crawl_frontier(key, url, method, body, referer, host, kind,
                 seed, family, depth, page_no, title, date, state, first_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'pending', ?14)
             ON CONFLICT(key) DO UPDATE SET state = 'pending'
             WHERE kind = 'listing' AND state = 'done' AND http_status = 404
                   AND last_run < excluded.first_run
             RETURNING id",
        )?;
        let id = st
            .query_row(
                params![
                    item.key(),
                    item.url,
                    item.method,
                    item.body,
                    item.referer,
                    item.host,
                    item.kind.as_str(),
                    item.seed,
                    item.family,
                    item.depth,
                    item.page_no,
                    item.title,
                    item.date,
                    run_id,
                ],
                |r| r.get(0),
            )
            .optional()?;
        Ok(id)
    }

    /// Whether a key is already in the frontier.
    pub fn known(&self, key: &str) -> Result<bool, StateError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT 1 FROM crawl_frontier WHERE key = ?1")?;
        Ok(st.exists([key])?)
    }

    /// Whether a report with this body was already recorded by a crawl.
    pub fn report_known(&self, sha: &str) -> Result<bool, StateError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT 1 FROM crawl_reports WHERE sha256 = ?1")?;
        Ok(st.exists([sha])?)
    }

    /// Notes that `run_id` added a report (for the run's "what is new").
    #[allow(clippy::too_many_arguments)]
    pub fn record_report(
        &self,
        sha: &str,
        report_id: i64,
        url: &str,
        status: &str,
        title: Option<&str>,
        failed_checks: usize,
        run_id: i64,
    ) -> Result<(), StateError> {
        self.tx.execute(
            "INSERT OR IGNORE INTO crawl_reports(sha256, report_id, url, status, title,
                 failed_checks, run_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                sha,
                report_id,
                url,
                status,
                title,
                failed_checks as i64,
                run_id
            ],
        )?;
        Ok(())
    }

    /// Sets a row's final state for this run.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        &self,
        id: i64,
        state: RowState,
        run_id: i64,
        http_status: Option<u16>,
        error: Option<&str>,
        attempts: u32,
        doc: Option<(i64, &str)>,
        validators: Option<(Option<&str>, Option<&str>)>,
    ) -> Result<(), StateError> {
        let mut st = self.tx.prepare_cached(
            "UPDATE crawl_frontier SET state = ?2, last_run = ?3, http_status = ?4, error = ?5,
                 attempts = attempts + ?6,
                 doc_id = COALESCE(?7, doc_id), sha256 = COALESCE(?8, sha256),
                 etag = CASE WHEN ?9 THEN ?10 ELSE etag END,
                 last_modified = CASE WHEN ?9 THEN ?11 ELSE last_modified END
             WHERE id = ?1",
        )?;
        let (etag, lm) = validators.unwrap_or((None, None));
        st.execute(params![
            id,
            state.as_str(),
            run_id,
            http_status,
            error,
            attempts,
            doc.map(|d| d.0),
            doc.map(|d| d.1),
            validators.is_some(),
            etag,
            lm,
        ])?;
        Ok(())
    }

    /// Records a host verdict (`blocked`, `unreachable`, `robots`).
    pub fn host_verdict(
        &self,
        host: &str,
        state: &str,
        reason: &str,
        run_id: i64,
    ) -> Result<(), StateError> {
        self.tx.execute(
            "INSERT INTO crawl_hosts(host, state, reason, run_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(host) DO UPDATE SET state = excluded.state, reason = excluded.reason",
            params![host, state, reason, run_id],
        )?;
        Ok(())
    }
}
