//! Schema creation and in-place upgrades.
//!
//! The schema version lives in `PRAGMA user_version`. Each entry of [`MIGRATIONS`] upgrades
//! the file by one version inside one transaction, so an interrupted upgrade leaves the old
//! version intact. Never edit a shipped migration: append a new one.

use rusqlite::{Connection, params};

use super::Result;

/// Migration `i` takes the file from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE agencies (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    region        TEXT NOT NULL DEFAULT '',
    portal        TEXT,
    first_seen_at TEXT NOT NULL,
    UNIQUE (region, name)
);

CREATE TABLE bodies (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    compression TEXT NOT NULL DEFAULT 'zstd',
    data        BLOB NOT NULL
);

CREATE TABLE documents (
    id                INTEGER PRIMARY KEY,
    url               TEXT NOT NULL,
    final_url         TEXT,
    fetched_at        TEXT NOT NULL,
    last_seen_at      TEXT NOT NULL,
    http_status       INTEGER,
    headers           TEXT,
    content_type      TEXT,
    declared_encoding TEXT,
    detected_encoding TEXT,
    sha256            TEXT NOT NULL REFERENCES bodies (sha256),
    size              INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('listing', 'report', 'attachment', 'other')),
    UNIQUE (url, sha256)
);
CREATE INDEX documents_sha256 ON documents (sha256);
CREATE INDEX documents_kind ON documents (kind);

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    document_id     INTEGER NOT NULL UNIQUE REFERENCES documents (id),
    agency_id       INTEGER NOT NULL REFERENCES agencies (id),
    year            INTEGER,
    year_source     TEXT NOT NULL,
    title           TEXT,
    url             TEXT NOT NULL,
    published       TEXT,
    format          TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    encoding        TEXT,
    parser_version  INTEGER NOT NULL,
    document_sha256 TEXT NOT NULL,
    is_primary      INTEGER NOT NULL DEFAULT 0,
    duplicate_of    INTEGER REFERENCES reports (id),
    fact_count      INTEGER NOT NULL,
    check_count     INTEGER NOT NULL,
    failed_checks   INTEGER NOT NULL,
    warnings        TEXT NOT NULL DEFAULT '[]',
    attachments     TEXT NOT NULL DEFAULT '[]',
    facts_zst       BLOB,
    parse_sha256    TEXT NOT NULL,
    parsed_at       TEXT NOT NULL
);
CREATE INDEX reports_agency_year ON reports (agency_id, year);
CREATE INDEX reports_year ON reports (year);
CREATE INDEX reports_status ON reports (status);

CREATE TABLE facts (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    year         INTEGER NOT NULL,
    metric       TEXT NOT NULL,
    value        NUMERIC,
    state        TEXT NOT NULL,
    raw          TEXT NOT NULL,
    report_id    INTEGER NOT NULL REFERENCES reports (id),
    report_table TEXT NOT NULL,
    source_row   INTEGER NOT NULL,
    source_col   INTEGER NOT NULL,
    source_page  INTEGER,
    PRIMARY KEY (agency_id, year, metric)
) WITHOUT ROWID;
CREATE INDEX facts_metric_year ON facts (metric, year);

CREATE TABLE check_metrics (
    id      INTEGER PRIMARY KEY,
    metrics TEXT NOT NULL UNIQUE
);

CREATE TABLE checks (
    id         INTEGER PRIMARY KEY,
    report_id  INTEGER NOT NULL REFERENCES reports (id),
    rule       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'skipped')),
    severity   TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
    expected   NUMERIC,
    actual     NUMERIC,
    metrics_id INTEGER NOT NULL REFERENCES check_metrics (id)
);
CREATE INDEX checks_report ON checks (report_id);
CREATE INDEX checks_status_rule ON checks (status, rule);

CREATE TABLE metrics (
    key          TEXT PRIMARY KEY,
    ordinal      INTEGER NOT NULL,
    in_2019      INTEGER NOT NULL,
    in_2021      INTEGER NOT NULL,
    report_table TEXT NOT NULL,
    row_zh       TEXT NOT NULL,
    column_zh    TEXT NOT NULL,
    unit         TEXT NOT NULL,
    label_en     TEXT NOT NULL
);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    command      TEXT NOT NULL,
    summary_json TEXT
);

CREATE VIEW facts_labeled AS
SELECT a.name         AS agency,
       a.region       AS region,
       f.year         AS year,
       f.metric       AS metric,
       m.report_table AS report_table,
       m.row_zh       AS row_zh,
       m.column_zh    AS column_zh,
       m.label_en     AS label_en,
       m.unit         AS unit,
       f.value        AS value,
       f.state        AS state,
       f.raw          AS raw,
       r.url          AS source_url,
       f.source_row   AS source_row,
       f.source_col   AS source_col,
       f.source_page  AS source_page,
       r.status       AS report_status,
       f.report_id    AS report_id,
       m.ordinal      AS metric_ordinal
FROM facts f
JOIN agencies a ON a.id = f.agency_id
JOIN reports r ON r.id = f.report_id
LEFT JOIN metrics m ON m.key = f.metric;

CREATE VIEW validation_failures AS
SELECT c.report_id  AS report_id,
       r.title      AS report,
       a.name       AS agency,
       a.region     AS region,
       r.year       AS year,
       c.rule       AS rule,
       c.subject    AS subject,
       c.expected   AS expected,
       c.actual     AS actual,
       c.severity   AS severity,
       m.metrics    AS metrics,
       r.url        AS url,
       r.is_primary AS is_primary
FROM checks c
JOIN reports r ON r.id = c.report_id
JOIN agencies a ON a.id = r.agency_id
JOIN check_metrics m ON m.id = c.metrics_id
WHERE c.status = 'fail';

CREATE VIEW checks_labeled AS
SELECT c.report_id AS report_id,
       a.name      AS agency,
       a.region    AS region,
       r.year      AS year,
       c.rule      AS rule,
       c.subject   AS subject,
       c.status    AS status,
       c.severity  AS severity,
       c.expected  AS expected,
       c.actual    AS actual,
       m.metrics   AS metrics,
       r.url       AS url
FROM checks c
JOIN reports r ON r.id = c.report_id
JOIN agencies a ON a.id = r.agency_id
JOIN check_metrics m ON m.id = c.metrics_id;
"#;

/// Version 2, for writing speed at scale:
///
/// - `facts_metric_year` ends with `report_id`. Without it the index's entries of one metric
///   and year were ordered by agency, so a new report's 200 facts went to 200 random places of
///   an index as large as the table, and a crawl's every commit rewrote most of it. Report ids
///   grow, so a new report's entries now go to the end of each (metric, year) run: a few
///   hundred hot pages however large the archive.
/// - Failing checks are indexed on their own. An index on (status, rule) grew by one entry per
///   check instance (about 45 per report) although queries only ever ask for the failures; a
///   partial index holds those alone and costs nothing for passing checks.
/// - Documents are found by the URL they were redirected to (an attachment behind a 302) with
///   an index, not a scan of every document.
const V2: &str = r#"
DROP INDEX facts_metric_year;
CREATE INDEX facts_metric_year ON facts (metric, year, report_id);
DROP INDEX checks_status_rule;
CREATE INDEX checks_failed ON checks (rule) WHERE status = 'fail';
CREATE INDEX documents_final_url ON documents (final_url) WHERE final_url IS NOT NULL;
"#;

/// Version 3, for writing speed and size at scale: facts name their metric by a small integer.
///
/// The facts table and its (metric, year) index held every metric key as text, 30-odd bytes
/// repeated in the row and in the index entry, for some 200 facts per report: most of the
/// archive, and most of what a crawl's single writer spent its time on (comparing long keys,
/// moving and splitting pages). `fact_cells` holds `metric_id`, a key of `metric_keys`, whose
/// ids are assigned once and never change (`metrics`, the catalogue, is rewritten when the
/// catalogue changes). `facts` is now a view with the same columns as the table it replaces,
/// so every query written against it still works.
const V3: &str = r#"
CREATE TABLE metric_keys (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE
);
INSERT INTO metric_keys (key) SELECT key FROM metrics ORDER BY ordinal;
INSERT OR IGNORE INTO metric_keys (key) SELECT DISTINCT metric FROM facts ORDER BY metric;

CREATE TABLE fact_cells (
    agency_id    INTEGER NOT NULL REFERENCES agencies (id),
    year         INTEGER NOT NULL,
    metric_id    INTEGER NOT NULL REFERENCES metric_keys (id),
    value        NUMERIC,
    state        TEXT NOT NULL,
    raw          TEXT NOT NULL,
    report_id    INTEGER NOT NULL REFERENCES reports (id),
    report_table TEXT NOT NULL,
    source_row   INTEGER NOT NULL,
    source_col   INTEGER NOT NULL,
    source_page  INTEGER,
    PRIMARY KEY (agency_id, year, metric_id)
) WITHOUT ROWID;
INSERT INTO fact_cells
SELECT f.agency_id, f.year, k.id, f.value, f.state, f.raw, f.report_id, f.report_table,
       f.source_row, f.source_col, f.source_page
FROM facts f JOIN metric_keys k ON k.key = f.metric
ORDER BY f.agency_id, f.year, k.id;
DROP TABLE facts;
CREATE INDEX fact_cells_metric_year ON fact_cells (metric_id, year, report_id);

CREATE VIEW facts AS
SELECT f.agency_id    AS agency_id,
       f.year         AS year,
       k.key          AS metric,
       f.value        AS value,
       f.state        AS state,
       f.raw          AS raw,
       f.report_id    AS report_id,
       f.report_table AS report_table,
       f.source_row   AS source_row,
       f.source_col   AS source_col,
       f.source_page  AS source_page
FROM fact_cells f
JOIN metric_keys k ON k.id = f.metric_id;
"#;

/// The file's schema version (0 for a new, empty file).
pub fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Upgrades the file to [`SCHEMA_VERSION`], one transaction per step.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let found = version(conn)?;
        if found > SCHEMA_VERSION {
            return Err(super::StoreError::TooNew {
                path: conn.path().unwrap_or_default().into(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}

/// Writes the embedded catalogue into `metrics`, so the file explains itself even when the
/// binary that wrote it is gone. Runs on every writable open; it only writes when the
/// catalogue differs from what the file holds.
pub fn sync_metrics(conn: &mut Connection) -> Result<()> {
    let all = crate::metrics::all();
    let stored: i64 = conn.query_row("SELECT count(*) FROM metrics", [], |r| r.get(0))?;
    if stored as usize == all.len() && catalogue_matches(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM metrics", [])?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO metrics (key, ordinal, in_2019, in_2021, report_table, row_zh, \
             column_zh, unit, label_en) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (i, m) in all.iter().enumerate() {
            stmt.execute(params![
                m.key,
                i as i64,
                m.in_2019,
                m.in_2021,
                m.table,
                m.row_zh,
                m.column_zh,
                m.unit,
                m.label_en
            ])?;
        }
    }
    // Ids for new keys; existing keys keep theirs.
    tx.execute(
        "INSERT OR IGNORE INTO metric_keys (key) SELECT key FROM metrics ORDER BY ordinal",
        [],
    )?;
    tx.commit()?;
    Ok(())
}

/// `metric_keys`: the id of every metric key the archive knows.
pub fn metric_ids(conn: &Connection) -> Result<super::write::MetricKeys> {
    let mut stmt = conn.prepare("SELECT key, id FROM metric_keys")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn catalogue_matches(conn: &Connection) -> Result<bool> {
    let mut stmt = conn.prepare(
        "SELECT key, in_2019, in_2021, report_table, row_zh, column_zh, unit, label_en \
         FROM metrics ORDER BY ordinal",
    )?;
    let mut rows = stmt.query([])?;
    for m in crate::metrics::all() {
        let Some(row) = rows.next()? else {
            return Ok(false);
        };
        let same = row.get_ref(0)?.as_str().ok() == Some(m.key)
            && row.get::<_, bool>(1)? == m.in_2019
            && row.get::<_, bool>(2)? == m.in_2021
            && row.get_ref(3)?.as_str().ok() == Some(m.table)
            && row.get_ref(4)?.as_str().ok() == Some(m.row_zh)
            && row.get_ref(5)?.as_str().ok() == Some(m.column_zh)
            && row.get_ref(6)?.as_str().ok() == Some(m.unit)
            && row.get_ref(7)?.as_str().ok() == Some(m.label_en);
        if !same {
            return Ok(false);
        }
    }
    Ok(true)
}
