//! Reading: raw bodies, reports for `reparse`, failures, statistics and export rows.
//! Everything here works on a read-only handle.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params_from_iter, types::Value};
use serde::Serialize;

use super::write::{decode_facts, group_facts};
use super::{Archive, Result, StoreError};
use crate::model::Fact;

/// A report document to parse again, with what the archive knows about it.
#[derive(Debug, Clone)]
pub struct ReportSource {
    pub document_id: i64,
    /// The URL requested (the report's source, as the crawler parsed it).
    pub url: String,
    /// The URL after redirects, when different: the page's links resolve against it.
    pub final_url: Option<String>,
    pub content_type: Option<String>,
    pub sha256: String,
    /// The report previously parsed from this document, if any.
    pub report_id: Option<i64>,
    pub agency: Option<String>,
    pub region: Option<String>,
    pub portal: Option<String>,
    pub year: Option<i32>,
    pub year_source: Option<String>,
    pub status: Option<String>,
    pub parse_sha256: Option<String>,
    pub parser_version: Option<i64>,
}

/// A report page whose report lives in an attachment (see [`crate::store::pipeline::adopt_attachments`]).
#[derive(Debug, Clone)]
pub struct AttachmentStub {
    /// The page's final url (attachment links resolve against it).
    pub url: String,
    pub content_type: Option<String>,
    pub sha256: String,
    /// The agency the page was stored under.
    pub hint: super::AgencyHint,
}

/// A report row with its own facts (from `facts` when primary, else `reports.facts_zst`),
/// in catalogue order.
#[derive(Debug, Clone, Serialize)]
pub struct StoredReport {
    pub id: i64,
    pub document_id: i64,
    pub agency: String,
    pub region: String,
    pub year: Option<i32>,
    pub title: Option<String>,
    pub url: String,
    pub format: String,
    pub status: String,
    pub reason: Option<String>,
    pub parser_version: i64,
    pub document_sha256: String,
    pub is_primary: bool,
    pub duplicate_of: Option<i64>,
    pub fact_count: i64,
    pub check_count: i64,
    pub failed_checks: i64,
    pub parse_sha256: String,
    pub facts: Vec<Fact>,
}

/// One row of `checks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredCheck {
    pub rule: String,
    pub subject: String,
    pub status: String,
    pub severity: String,
    pub expected: Option<f64>,
    pub actual: Option<f64>,
    pub metrics: Vec<String>,
}

/// A failed check instance, with the cells involved.
#[derive(Debug, Clone, Serialize)]
pub struct FailureRow {
    pub report_id: i64,
    pub agency: String,
    pub region: String,
    pub year: Option<i32>,
    pub title: Option<String>,
    pub rule: String,
    pub subject: String,
    pub severity: String,
    pub expected: Option<f64>,
    pub actual: Option<f64>,
    pub metrics: Vec<String>,
    /// The cells behind `metrics`, as printed, where the report has them.
    pub cells: Vec<FailureCell>,
    pub url: String,
    pub is_primary: bool,
}

/// One cell involved in a failed check.
#[derive(Debug, Clone, Serialize)]
pub struct FailureCell {
    pub metric: String,
    pub raw: String,
    pub state: String,
    pub value: Option<f64>,
    /// `二`, `三` or `四`, then the grid position (0-based).
    pub table: String,
    pub row: u32,
    pub col: u32,
}

/// One fact with its labels, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct FactRow {
    pub agency: String,
    pub region: String,
    pub year: i32,
    pub metric: String,
    pub report_table: Option<String>,
    pub row_zh: Option<String>,
    pub column_zh: Option<String>,
    pub label_en: Option<String>,
    pub unit: Option<String>,
    pub value: Option<f64>,
    pub state: String,
    pub raw: String,
    pub source_url: String,
    pub report_status: String,
}

/// Which facts to export. Empty lists mean no restriction.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub years: Vec<i32>,
    pub regions: Vec<String>,
    /// Metric key prefixes (`requests.` or `requests.granted.total`).
    pub metric_prefixes: Vec<String>,
}

/// Counts for `gknb stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub documents: i64,
    pub bodies: i64,
    pub raw_bytes: i64,
    pub file_bytes: i64,
    pub agencies: i64,
    pub reports: i64,
    pub primary_reports: i64,
    pub duplicate_reports: i64,
    pub facts: i64,
    pub by_status: Vec<(String, i64)>,
    pub by_format: Vec<(String, i64)>,
    pub by_year: Vec<(String, i64)>,
    pub by_region: Vec<(String, i64)>,
    /// rule, severity, failing instances, reports concerned.
    pub failing_rules: Vec<(String, String, i64, i64)>,
}

impl Archive {
    /// The original bytes of a body, or `None` when no body has that sha256.
    pub fn raw_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let blob: Option<(Vec<u8>, String)> = self
            .conn
            .prepare_cached("SELECT data, compression FROM bodies WHERE sha256 = ?1")?
            .query_row([sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((data, compression)) = blob else {
            return Ok(None);
        };
        match compression.as_str() {
            "zstd" => Ok(Some(zstd::decode_all(data.as_slice())?)),
            "none" => Ok(Some(data)),
            other => Err(StoreError::Corrupt(format!(
                "body {sha256}: unknown compression {other:?}"
            ))),
        }
    }

    /// Every report document (`documents.kind = 'report'`), oldest first, with its current
    /// report if it has one. Small rows only: fetch the bytes with [`Archive::raw_bytes`].
    pub fn report_sources(&self) -> Result<Vec<ReportSource>> {
        let mut stmt = self.conn.prepare(
            "SELECT d.id, d.url, d.content_type, d.sha256, r.id, a.name, a.region, a.portal, \
             r.year, r.year_source, r.status, r.parse_sha256, r.parser_version, d.final_url \
             FROM documents d LEFT JOIN reports r ON r.document_id = d.id \
             LEFT JOIN agencies a ON a.id = r.agency_id \
             WHERE d.kind = 'report' OR (r.id IS NOT NULL AND d.kind != 'attachment') \
             ORDER BY d.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ReportSource {
                document_id: r.get(0)?,
                url: r.get(1)?,
                content_type: r.get(2)?,
                sha256: r.get(3)?,
                report_id: r.get(4)?,
                agency: r.get(5)?,
                region: r.get(6)?,
                portal: r.get(7)?,
                year: r.get(8)?,
                year_source: r.get(9)?,
                status: r.get(10)?,
                parse_sha256: r.get(11)?,
                parser_version: r.get(12)?,
                final_url: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Report pages whose status is `attachment_only`, with the agency they were stored under.
    pub fn attachment_stubs(&self) -> Result<Vec<AttachmentStub>> {
        let mut stmt = self.conn.prepare(
            "SELECT coalesce(d.final_url, d.url), d.content_type, d.sha256, a.name, a.region, \
             a.portal FROM reports r JOIN documents d ON d.id = r.document_id \
             JOIN agencies a ON a.id = r.agency_id WHERE r.status = 'attachment_only' \
             ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(AttachmentStub {
                url: r.get(0)?,
                content_type: r.get(1)?,
                sha256: r.get(2)?,
                hint: super::AgencyHint {
                    name: r.get(3)?,
                    region: r.get(4)?,
                    portal: r.get(5)?,
                },
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The newest document fetched from (or redirected to) `url`.
    pub fn document_by_url(&self, url: &str) -> Result<Option<super::DocumentRef>> {
        Ok(self
            .conn
            .prepare_cached(
                // Two indexed lookups: with `OR`, SQLite scanned the whole table, once per
                // attachment link at the end of every crawl.
                "SELECT id, sha256 FROM (SELECT id, sha256 FROM documents WHERE url = ?1 \
                 UNION ALL SELECT id, sha256 FROM documents WHERE final_url = ?1) \
                 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([url], |r| {
                Ok(super::DocumentRef {
                    id: r.get(0)?,
                    sha256: r.get(1)?,
                    is_new_body: false,
                    is_new_document: false,
                })
            })
            .optional()?)
    }

    /// The id of the report parsed from a given url and body, if it was already ingested by
    /// this parser version (what makes `gknb import` idempotent).
    pub fn report_for(&self, url: &str, sha256: &str) -> Result<Option<(i64, i64)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT r.id, r.parser_version FROM documents d JOIN reports r ON r.document_id = d.id \
                 WHERE d.url = ?1 AND d.sha256 = ?2",
            )?
            .query_row([url, sha256], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// One report with its own facts.
    pub fn report(&self, id: i64) -> Result<Option<StoredReport>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT r.id, r.document_id, a.name, a.region, r.year, r.title, r.url, r.format, \
                 r.status, r.reason, r.parser_version, r.document_sha256, r.is_primary, \
                 r.duplicate_of, r.fact_count, r.check_count, r.failed_checks, r.parse_sha256, \
                 r.facts_zst, r.agency_id FROM reports r JOIN agencies a ON a.id = r.agency_id \
                 WHERE r.id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    StoredReport {
                        id: r.get(0)?,
                        document_id: r.get(1)?,
                        agency: r.get(2)?,
                        region: r.get(3)?,
                        year: r.get(4)?,
                        title: r.get(5)?,
                        url: r.get(6)?,
                        format: r.get(7)?,
                        status: r.get(8)?,
                        reason: r.get(9)?,
                        parser_version: r.get(10)?,
                        document_sha256: r.get(11)?,
                        is_primary: r.get(12)?,
                        duplicate_of: r.get(13)?,
                        fact_count: r.get(14)?,
                        check_count: r.get(15)?,
                        failed_checks: r.get(16)?,
                        parse_sha256: r.get(17)?,
                        facts: Vec::new(),
                    },
                    r.get::<_, Option<Vec<u8>>>(18)?,
                    r.get::<_, i64>(19)?,
                ))
            })
            .optional()?;
        let Some((mut report, blob, agency_id)) = row else {
            return Ok(None);
        };
        report.facts = match (blob, report.year) {
            (Some(blob), _) => decode_facts(&blob)?,
            // A primary report's facts are the agency-year's rows in `facts`.
            (None, Some(year)) if report.is_primary => group_facts(&self.conn, agency_id, year)?,
            (None, _) => {
                return Err(StoreError::Corrupt(format!(
                    "report {id} has neither facts in `facts` nor a facts blob"
                )));
            }
        };
        report
            .facts
            .sort_by_key(|f| crate::metrics::ordinal(&f.metric));
        Ok(Some(report))
    }

    /// The check instances of one report, in insertion order.
    pub fn checks(&self, report_id: i64) -> Result<Vec<StoredCheck>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.rule, c.subject, c.status, c.severity, c.expected, c.actual, m.metrics \
             FROM checks c JOIN check_metrics m ON m.id = c.metrics_id \
             WHERE c.report_id = ?1 ORDER BY c.id",
        )?;
        let rows = stmt.query_map([report_id], |r| {
            Ok((
                StoredCheck {
                    rule: r.get(0)?,
                    subject: r.get(1)?,
                    status: r.get(2)?,
                    severity: r.get(3)?,
                    expected: r.get(4)?,
                    actual: r.get(5)?,
                    metrics: Vec::new(),
                },
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut check, metrics) = row?;
            check.metrics = parse_metrics(&metrics)?;
            out.push(check);
        }
        Ok(out)
    }

    /// Failed check instances, errors first, then by agency, year and rule. With
    /// `include_warnings` false only the accounting identities (severity `error`) are listed.
    pub fn failures(
        &self,
        filter: &ExportFilter,
        include_warnings: bool,
    ) -> Result<Vec<FailureRow>> {
        let mut sql = String::from(
            "SELECT report_id, agency, region, year, report, rule, subject, severity, expected, \
             actual, metrics, url, is_primary FROM validation_failures WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        if !include_warnings {
            sql.push_str(" AND severity = 'error'");
        }
        push_in(&mut sql, &mut args, "year", &filter.years_as_values());
        push_in(&mut sql, &mut args, "region", &filter.regions_as_values());
        sql.push_str(" ORDER BY severity, region, agency, year, report_id, rule, subject");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |r| {
            Ok((
                FailureRow {
                    report_id: r.get(0)?,
                    agency: r.get(1)?,
                    region: r.get(2)?,
                    year: r.get(3)?,
                    title: r.get(4)?,
                    rule: r.get(5)?,
                    subject: r.get(6)?,
                    severity: r.get(7)?,
                    expected: r.get(8)?,
                    actual: r.get(9)?,
                    metrics: Vec::new(),
                    cells: Vec::new(),
                    url: r.get(11)?,
                    is_primary: r.get(12)?,
                },
                r.get::<_, String>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut f, metrics) = row?;
            f.metrics = parse_metrics(&metrics)?;
            out.push(f);
        }
        drop(stmt);
        self.fill_cells(&mut out)?;
        Ok(out)
    }

    /// Looks up the printed cells of each failure's metrics in its report.
    fn fill_cells(&self, rows: &mut [FailureRow]) -> Result<()> {
        let mut facts: HashMap<i64, HashMap<String, Fact>> = HashMap::new();
        for row in rows.iter_mut() {
            let by_metric = match facts.entry(row.report_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    self.report(row.report_id)?
                        .map(|r| r.facts.into_iter().map(|f| (f.metric.clone(), f)).collect())
                        .unwrap_or_default(),
                ),
            };
            row.cells = row
                .metrics
                .iter()
                .filter_map(|m| by_metric.get(m))
                .map(|f| FailureCell {
                    metric: f.metric.clone(),
                    raw: f.raw.clone(),
                    state: f.state.as_str().to_string(),
                    value: f.value,
                    table: f.table.clone(),
                    row: f.row,
                    col: f.col,
                })
                .collect();
        }
        Ok(())
    }

    /// Calls `each` for every fact matching `filter`, ordered by region, agency, year and
    /// catalogue order, without holding them all in memory.
    pub fn for_each_fact(
        &self,
        filter: &ExportFilter,
        mut each: impl FnMut(FactRow) -> Result<()>,
    ) -> Result<()> {
        let mut sql = String::from(
            "SELECT agency, region, year, metric, report_table, row_zh, column_zh, label_en, \
             unit, value, state, raw, source_url, report_status FROM facts_labeled WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        push_in(&mut sql, &mut args, "year", &filter.years_as_values());
        push_in(&mut sql, &mut args, "region", &filter.regions_as_values());
        if !filter.metric_prefixes.is_empty() {
            let ors: Vec<String> = filter
                .metric_prefixes
                .iter()
                .map(|p| {
                    args.push(Value::Text(p.clone()));
                    format!("substr(metric, 1, length(?{0})) = ?{0}", args.len())
                })
                .collect();
            sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
        }
        sql.push_str(" ORDER BY region, agency, year, metric_ordinal, metric");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(args))?;
        while let Some(r) = rows.next()? {
            each(FactRow {
                agency: r.get(0)?,
                region: r.get(1)?,
                year: r.get(2)?,
                metric: r.get(3)?,
                report_table: r.get(4)?,
                row_zh: r.get(5)?,
                column_zh: r.get(6)?,
                label_en: r.get(7)?,
                unit: r.get(8)?,
                value: r.get(9)?,
                state: r.get(10)?,
                raw: r.get(11)?,
                source_url: r.get(12)?,
                report_status: r.get(13)?,
            })?;
        }
        Ok(())
    }

    /// Counts for `gknb stats`.
    pub fn stats(&self) -> Result<Stats> {
        let c = &self.conn;
        let one = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
        let pairs = |sql: &str| -> Result<Vec<(String, i64)>> {
            let mut stmt = c.prepare(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        };
        let page_size = one("PRAGMA page_size")?;
        let page_count = one("PRAGMA page_count")?;
        let mut stmt = c.prepare(
            "SELECT c.rule, c.severity, count(*), count(DISTINCT c.report_id) FROM checks c \
             WHERE c.status = 'fail' GROUP BY c.rule, c.severity ORDER BY c.severity, count(*) DESC",
        )?;
        let failing_rules = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Stats {
            documents: one("SELECT count(*) FROM documents")?,
            bodies: one("SELECT count(*) FROM bodies")?,
            raw_bytes: one("SELECT coalesce(sum(size), 0) FROM bodies")?,
            file_bytes: page_size * page_count,
            agencies: one("SELECT count(*) FROM agencies")?,
            reports: one("SELECT count(*) FROM reports")?,
            primary_reports: one("SELECT count(*) FROM reports WHERE is_primary = 1")?,
            duplicate_reports: one("SELECT count(*) FROM reports WHERE duplicate_of IS NOT NULL")?,
            facts: one("SELECT count(*) FROM facts")?,
            by_status: pairs(
                "SELECT status, count(*) FROM reports GROUP BY status ORDER BY count(*) DESC",
            )?,
            by_format: pairs(
                "SELECT format, count(*) FROM reports GROUP BY format ORDER BY format",
            )?,
            by_year: pairs(
                "SELECT coalesce(CAST(year AS TEXT), '(unknown)'), count(*) FROM reports \
                 GROUP BY year ORDER BY year",
            )?,
            by_region: pairs(
                "SELECT CASE a.region WHEN '' THEN '(none)' ELSE a.region END, count(*) \
                 FROM reports r JOIN agencies a ON a.id = r.agency_id GROUP BY a.region \
                 ORDER BY count(*) DESC, a.region",
            )?,
            failing_rules,
        })
    }

    /// Reports whose stored facts or checks do not match the counts recorded with them:
    /// evidence of a half-written report. Always empty unless the file was damaged.
    pub fn incomplete_reports(&self) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id FROM reports r WHERE \
             r.check_count != (SELECT count(*) FROM checks c WHERE c.report_id = r.id \
                 AND c.rule NOT IN ('carryover_continuity', 'in_force_continuity')) \
             OR (r.is_primary = 1 AND r.fact_count != (SELECT count(*) FROM facts f \
                 WHERE f.agency_id = r.agency_id AND f.year = r.year AND f.report_id = r.id)) \
             OR (r.is_primary = 1) = (r.facts_zst IS NOT NULL) \
             OR (r.year IS NOT NULL AND NOT EXISTS (SELECT 1 FROM reports p \
                 WHERE p.agency_id = r.agency_id AND p.year = r.year AND p.is_primary = 1)) \
             OR NOT EXISTS (SELECT 1 FROM documents d JOIN bodies b ON b.sha256 = d.sha256 \
                 WHERE d.id = r.document_id) \
             ORDER BY r.id",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

impl ExportFilter {
    fn years_as_values(&self) -> Vec<Value> {
        self.years
            .iter()
            .map(|y| Value::Integer(*y as i64))
            .collect()
    }

    fn regions_as_values(&self) -> Vec<Value> {
        self.regions
            .iter()
            .map(|r| Value::Text(r.clone()))
            .collect()
    }
}

fn push_in(sql: &mut String, args: &mut Vec<Value>, column: &str, values: &[Value]) {
    if values.is_empty() {
        return;
    }
    let marks: Vec<String> = values
        .iter()
        .map(|v| {
            args.push(v.clone());
            format!("?{}", args.len())
        })
        .collect();
    sql.push_str(&format!(" AND {column} IN ({})", marks.join(", ")));
}

fn parse_metrics(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("checks.metrics: {e}")))
}
