//! The SQLite archive: documents (raw bytes), reports, facts, checks, metrics, crawl state.
//!
//! One file holds everything a journalist or a later parser needs: every fetched or imported
//! body (zstd-compressed, stored once per sha256), one `reports` row per report document, the
//! facts of the chosen report of each agency-year, and every check instance. `docs/schema.md`
//! documents the tables for people; this module is the only code that writes them.
//!
//! Concurrency model: one writer at a time, enforced by an OS advisory lock on `<db>.lock`
//! (released by the kernel when the process dies, even under `kill -9`), any number of readers
//! (WAL mode). Each report is written in one transaction (or inside the transaction of a
//! [`Batch`]), so a killed writer never leaves a half-written report behind.
//!
//! The library offers what the CLI does:
//!
//! ```no_run
//! use gknb::store::{AgencyHint, Archive, DocumentKind, NewDocument};
//!
//! # fn main() -> Result<(), gknb::store::StoreError> {
//! let mut archive = Archive::open("gknb.sqlite")?; // creates or upgrades; takes the lock
//! let bytes = std::fs::read("report.html")?;
//! let doc = NewDocument {
//!     url: "https://example.gov.cn/2023/report.html",
//!     final_url: None,
//!     fetched_at: None, // now
//!     http_status: Some(200),
//!     headers: Some(r#"{"content-type":"text/html; charset=utf-8"}"#),
//!     content_type: Some("text/html; charset=utf-8"),
//!     declared_encoding: Some("utf-8"),
//!     detected_encoding: Some("utf-8 (header)"),
//!     bytes: &bytes,
//!     kind: DocumentKind::Report,
//! };
//! let parsed = gknb::report::parse(&gknb::report::Input {
//!     bytes: &bytes,
//!     source: doc.url,
//!     content_type: doc.content_type,
//! });
//! let hint = AgencyHint { name: Some("南关区民政局".into()), region: "220102".into(), portal: None };
//! let (_doc, _report_id) = archive.store_report(&doc, &parsed, &hint)?;
//! // Listings and attachments: archive.put_document(&doc)?; crawl state: archive.conn().
//! # Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

mod crossyear;
pub mod datasette;
pub mod pipeline;
mod read;
mod schema;
mod write;

pub use read::{
    ExportFilter, FactRow, FailureCell, FailureRow, ReportSource, Stats, StoredCheck, StoredReport,
};
pub use schema::SCHEMA_VERSION;
pub use write::{
    AgencyHint, Batch, DocumentKind, DocumentRef, NewDocument, PreparedBody, PreparedReport,
    ReportId, facts_diff, parse_digest, sha256_hex,
};

/// Errors of the archive. Every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the writer lock.
    #[error(
        "archive {path} is in use by another gknb process{holder}; wait for it to finish (readers such as `stats`, `failures` and `export` still work)"
    )]
    InUse { path: PathBuf, holder: String },
    /// The file was written by a newer gknb.
    #[error(
        "archive {path} has schema version {found}, newer than this gknb understands ({known}); upgrade gknb"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A read-only open found an older schema that needs a (writing) upgrade first.
    #[error(
        "archive {path} has schema version {found} and needs an upgrade to {known}; run any writing command (for example `gknb reparse`) once to upgrade it in place"
    )]
    NeedsUpgrade {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// A read-only open of a file that does not exist.
    #[error("archive {0} does not exist (create it with `gknb import` or `gknb crawl`)")]
    NotFound(PathBuf),
    /// The lock file could not be created or read.
    #[error("cannot use lock file {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data could not be decoded (a damaged blob, an unknown enum string).
    #[error("damaged data in the archive: {0}")]
    Corrupt(String),
    /// The caller passed something the archive cannot store.
    #[error("{0}")]
    Invalid(String),
    /// A write of a [`Batch`] failed after changing the archive, so the whole batch (its
    /// uncommitted reports and documents) was rolled back; nothing of it is in the archive.
    #[error("{source} (the {lost} uncommitted writes of the batch were rolled back)")]
    BatchRolledBack {
        lost: usize,
        source: Box<StoreError>,
    },
}

/// Result type of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An open archive. Writable archives hold the single-writer lock for their whole lifetime.
pub struct Archive {
    conn: Connection,
    path: PathBuf,
    read_only: bool,
    /// `metric_keys` as committed when the archive was opened (ids never change).
    metric_ids: write::MetricKeys,
    /// Held only to keep the advisory lock; the kernel releases it when the file is closed or
    /// the process dies.
    _lock: Option<File>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("path", &self.path)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl Archive {
    /// Opens (creating if needed) the archive for writing, upgrading an older schema in place.
    /// Fails with [`StoreError::InUse`] when another process is writing to it.
    pub fn open(path: impl AsRef<Path>) -> Result<Archive> {
        let path = path.as_ref().to_path_buf();
        let lock = acquire_lock(&path)?;
        let conn = Connection::open(&path)?;
        configure(&conn)?;
        let mut archive = Archive {
            conn,
            path,
            read_only: false,
            metric_ids: Default::default(),
            _lock: Some(lock),
        };
        schema::migrate(&mut archive.conn)?;
        schema::sync_metrics(&mut archive.conn)?;
        archive.metric_ids = schema::metric_ids(&archive.conn)?;
        Ok(archive)
    }

    /// Opens an existing archive for reading only, without the writer lock, so `stats`,
    /// `failures` and `export` work while a crawl is writing.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Archive> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(StoreError::NotFound(path));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let found = schema::version(&conn)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path,
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            return Err(StoreError::NeedsUpgrade {
                path,
                found,
                known: SCHEMA_VERSION,
            });
        }
        Ok(Archive {
            conn,
            path,
            read_only: true,
            metric_ids: Default::default(),
            _lock: None,
        })
    }

    /// The archive's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle was opened with [`Archive::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The underlying connection, for ad-hoc queries (the crawler keeps its state in the
    /// `frontier`, `hosts` and `runs` tables through it).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mutable access to the connection, for callers that need their own transactions.
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Runs `PRAGMA integrity_check` and `PRAGMA foreign_key_check` and returns their
    /// messages (`["ok"]` when healthy). Batched writes do not enforce foreign keys as they
    /// go (see [`Batch`]), so this is where a row pointing nowhere would show.
    pub fn integrity_check(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = rows.collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let dangling = stmt.query_map([], |r| {
            Ok(format!(
                "{} row {} points to a missing row of {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?
                    .map_or_else(|| "?".to_string(), |id| id.to_string()),
                r.get::<_, String>(2)?
            ))
        })?;
        let dangling = dangling.collect::<Result<Vec<_>, _>>()?;
        if !dangling.is_empty() {
            out.retain(|m| m != "ok");
            out.extend(dangling);
        }
        Ok(out)
    }

    fn ensure_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(StoreError::Invalid(
                "this archive handle is read-only".into(),
            ));
        }
        Ok(())
    }
}

/// WAL lets readers work during a crawl. `synchronous=NORMAL` is safe in WAL mode against
/// process crashes (kill -9: every committed transaction is in the WAL file already); only a
/// power cut may roll back the last few commits, never corrupt the file, and everything lost
/// that way can be fetched or imported again. FULL would cost an fsync per report.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A multi-row INSERT inside a transaction keeps a statement journal, which SQLite otherwise
    // spills to a temporary file once it passes 64 KB: a write(2) per page touched.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Each report inserts one row per metric into `facts_metric_year`, i.e. into about a
    // thousand different index leaves; a 64 MB page cache keeps them in memory.
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// The lock file sits beside the database: `gknb.sqlite.lock`. It is an OS advisory lock
/// (`flock` on Unix, `LockFileEx` on Windows, through `std::fs::File::try_lock`), which the
/// kernel drops when the holder exits for any reason, so a killed crawl never leaves a stale
/// lock. SQLite's own locks only last for one transaction and would let two writers interleave;
/// the sidecar makes the second writer fail fast with a clear message instead.
fn acquire_lock(db: &Path) -> Result<File> {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|source| StoreError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" ({holder})")
            };
            return Err(StoreError::InUse {
                path: db.to_path_buf(),
                holder,
            });
        }
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(StoreError::Lock {
                path: lock_path,
                source,
            });
        }
    }
    // Who holds it, for the error message of the next writer. Best effort only.
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = write!(file, "pid {}", std::process::id());
    let _ = file.flush();
    Ok(file)
}

/// The current time as RFC 3339 UTC with whole seconds, the format of every `*_at` column.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
