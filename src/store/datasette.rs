//! Datasette metadata for the archive: table and column descriptions, units and labels, so
//! `datasette gknb.sqlite -m datasette-metadata.json` explains itself. The same descriptions
//! are the reference of `docs/schema.md`.

use serde_json::{Map, Value, json};

/// (table, description, [(column, description)]).
type TableDoc = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const TABLES: &[TableDoc] = &[
    (
        "facts_labeled",
        "Start here. One row per agency, year and metric (one cell of a report's tables), with the Chinese row and column labels of the official template, an English label, the unit and the page it came from.",
        &[
            (
                "agency",
                "Publishing agency, as given by the seed or `gknb import --agency`.",
            ),
            (
                "region",
                "Region code qualifying the agency name (names such as 民政局 repeat across China).",
            ),
            (
                "year",
                "Report year (the calendar year the report covers, not the publication year).",
            ),
            (
                "metric",
                "Stable metric key from the catalogue (table `metrics`).",
            ),
            (
                "report_table",
                "Table of the report: 二 (主动公开), 三 (依申请公开) or 四 (行政复议、行政诉讼).",
            ),
            ("row_zh", "Row label path in the official template."),
            ("column_zh", "Column label path in the official template."),
            ("label_en", "English label."),
            (
                "unit",
                "count, signed_count (may be negative), yuan, or wan_yuan (10,000 yuan).",
            ),
            (
                "value",
                "The number, in `unit`. Empty unless `state` is `number`: a blank cell is not zero.",
            ),
            (
                "state",
                "number; empty (blank cell); na (`/`, `—`, `无`: explicitly not applicable); text (anything else).",
            ),
            (
                "raw",
                "The cell text as printed (after width and whitespace normalisation), including annotations such as 22（其中修订 16 件）.",
            ),
            (
                "source_url",
                "The report page (or imported file) the number was read from.",
            ),
            (
                "source_row",
                "Row of the cell in the parsed table grid (0-based).",
            ),
            (
                "source_col",
                "Column of the cell in the parsed table grid (0-based).",
            ),
            (
                "source_page",
                "Page of the cell in a paged source (PDF, 1-based); empty for HTML and text.",
            ),
            (
                "report_status",
                "ok, or invalid when the report fails an accounting identity (see validation_failures).",
            ),
            ("report_id", "The report (table `reports`)."),
            (
                "metric_ordinal",
                "Position of the metric in the catalogue, for sorting in template order.",
            ),
        ],
    ),
    (
        "validation_failures",
        "Every failed check: accounting identities printed in or implied by the template (severity error: rules T3-A, T3-B, T3-C, T4) and cross-year continuity (severity warning).",
        &[
            ("report_id", "The report (table `reports`)."),
            ("report", "Report title."),
            ("agency", "Publishing agency."),
            ("region", "Region code."),
            ("year", "Report year."),
            (
                "rule",
                "T3-A: 一+二 = （七）总计+四 per column; T3-B: （七）总计 = sum of the handling results per column; T3-C: 总计 = sum of applicant columns per row; T4: 总计 = sum of outcomes per review/litigation group; carryover_continuity: this year's 上年结转 = last year's 结转下年度; in_force_continuity: 现行有效件数 = last year's + 制发 − 废止.",
            ),
            ("subject", "The column, row or group the instance is about."),
            (
                "expected",
                "What the identity predicts (the sum of the parts, or last year's figure).",
            ),
            ("actual", "What the report prints."),
            (
                "severity",
                "error (makes the report invalid) or warning (never does).",
            ),
            (
                "metrics",
                "JSON list of the metric keys involved, total first.",
            ),
            ("url", "The report page."),
            (
                "is_primary",
                "1 when the report is the one whose facts are in `facts` for its agency-year.",
            ),
        ],
    ),
    (
        "agencies",
        "Publishing agencies, unique by region and name.",
        &[
            ("id", "Agency id."),
            ("name", "Agency name."),
            ("region", "Region code qualifying the name."),
            ("portal", "Portal the agency publishes on."),
            (
                "first_seen_at",
                "When the agency first entered the archive (UTC).",
            ),
        ],
    ),
    (
        "documents",
        "Every fetched or imported document: listing pages, report pages, attachments. The bytes are in `bodies`, stored once per sha256.",
        &[
            ("id", "Document id."),
            (
                "url",
                "URL requested, or the absolute path of an imported file.",
            ),
            ("final_url", "URL after redirects, when different."),
            ("fetched_at", "When it was fetched or imported (UTC)."),
            (
                "last_seen_at",
                "When the same url last returned the same body (UTC).",
            ),
            ("http_status", "HTTP status code; empty for imported files."),
            ("headers", "Response headers as JSON."),
            (
                "content_type",
                "Content-Type header (or guessed from the file extension).",
            ),
            (
                "declared_encoding",
                "Charset declared by the server or the page.",
            ),
            (
                "detected_encoding",
                "Encoding used to decode it, and why: `gb18030 (meta)`.",
            ),
            ("sha256", "sha256 of the body (key of `bodies`)."),
            ("size", "Body size in bytes."),
            ("kind", "listing, report, attachment or other."),
        ],
    ),
    (
        "bodies",
        "Raw bytes of every document, zstd-compressed, one row per distinct body. Kept so that a better parser can re-read them (`gknb reparse`).",
        &[
            ("sha256", "sha256 of the uncompressed bytes."),
            ("size", "Uncompressed size in bytes."),
            ("compression", "zstd (or none)."),
            ("data", "The compressed bytes."),
        ],
    ),
    (
        "reports",
        "One row per report document. Several reports of the same agency-year are all kept; one is primary (its facts are in `facts`), the others point to it in `duplicate_of`.",
        &[
            ("id", "Report id."),
            ("document_id", "The document it was parsed from."),
            ("agency_id", "Publishing agency."),
            ("year", "Report year; empty when unknown."),
            (
                "year_source",
                "Where the year came from: title, meta, metadata_table, body, publication_date, given, none.",
            ),
            ("title", "Report title."),
            ("url", "Report page (final url) or imported file."),
            (
                "published",
                "Publication date stated by the page (YYYY-MM-DD).",
            ),
            (
                "format",
                "Template: 2019 (years 2019-2020, 198 facts), 2021 (2021 on, 200 facts), legacy (before 2019), unknown.",
            ),
            (
                "status",
                "ok; invalid (fails an accounting identity); legacy; attachment_only; image_only; unparsed.",
            ),
            ("reason", "Why the status is not ok or invalid."),
            ("encoding", "Encoding used, and why."),
            (
                "parser_version",
                "Version of the parser that produced this row.",
            ),
            ("document_sha256", "sha256 of the document body."),
            (
                "is_primary",
                "1 when this is the chosen report of its agency-year.",
            ),
            ("duplicate_of", "The primary report, when this one is not."),
            ("fact_count", "Cells extracted."),
            ("check_count", "Check instances run by the parser."),
            ("failed_checks", "Failed accounting identities."),
            ("warnings", "Soft findings as JSON."),
            (
                "attachments",
                "Attachment links found in the page, as JSON.",
            ),
            (
                "facts_zst",
                "This report's own facts (zstd-compressed JSON) while it is not primary; empty for a primary report, whose facts are its rows in `facts`.",
            ),
            (
                "parse_sha256",
                "Digest of the parse result, to detect changes on re-parse.",
            ),
            ("parsed_at", "When it was parsed (UTC)."),
        ],
    ),
    (
        "facts",
        "One row per agency, year and metric, from the primary report of that agency-year. Use the view facts_labeled for labels.",
        &[
            ("agency_id", "Agency."),
            ("year", "Report year."),
            ("metric", "Metric key."),
            ("value", "The number; empty unless state is number."),
            ("state", "number, empty, na or text."),
            ("raw", "Cell text as printed."),
            ("report_id", "The report it comes from."),
            ("report_table", "二, 三 or 四."),
            ("source_row", "Grid row of the cell (0-based)."),
            ("source_col", "Grid column of the cell (0-based)."),
            (
                "source_page",
                "Page of the cell in a PDF (1-based); empty otherwise.",
            ),
        ],
    ),
    (
        "fact_cells",
        "Storage of the view facts: the same rows, naming the metric by its id in metric_keys. Query facts or facts_labeled instead.",
        &[
            ("agency_id", "Agency."),
            ("year", "Report year."),
            ("metric_id", "The metric (metric_keys.id)."),
            ("value", "The number; empty unless state is number."),
            ("state", "number, empty, na or text."),
            ("raw", "Cell text as printed."),
            ("report_id", "The report it comes from."),
            ("report_table", "二, 三 or 四."),
            ("source_row", "Grid row of the cell (0-based)."),
            ("source_col", "Grid column of the cell (0-based)."),
            (
                "source_page",
                "Page of the cell in a PDF (1-based); empty otherwise.",
            ),
        ],
    ),
    (
        "metric_keys",
        "Every metric key the archive has stored facts under, with an id that never changes (metrics, the catalogue, is rewritten when the catalogue changes).",
        &[("id", "Permanent id."), ("key", "Metric key.")],
    ),
    (
        "checks",
        "Every check instance of every report: pass, fail or skipped (a total or all parts blank).",
        &[
            ("id", "Check id."),
            ("report_id", "The report."),
            ("rule", "Rule name (see validation_failures)."),
            ("subject", "Column, row or group."),
            ("status", "pass, fail or skipped."),
            ("severity", "error or warning."),
            ("expected", "Predicted value."),
            ("actual", "Printed value."),
            (
                "metrics_id",
                "The metric keys involved (table check_metrics; the view checks_labeled shows them).",
            ),
        ],
    ),
    (
        "checks_labeled",
        "Every check instance with its agency, year, page and the metric keys involved.",
        &[
            ("report_id", "The report."),
            ("agency", "Publishing agency."),
            ("region", "Region code."),
            ("year", "Report year."),
            ("rule", "Rule name (see validation_failures)."),
            ("subject", "Column, row or group."),
            ("status", "pass, fail or skipped."),
            ("severity", "error or warning."),
            ("expected", "Predicted value."),
            ("actual", "Printed value."),
            (
                "metrics",
                "JSON list of the metric keys involved, total first.",
            ),
            ("url", "The report page."),
        ],
    ),
    (
        "check_metrics",
        "The metric lists of check instances, stored once (the same rule and subject always involve the same cells).",
        &[
            ("id", "Id."),
            ("metrics", "JSON list of metric keys, total first."),
        ],
    ),
    (
        "metrics",
        "The metric catalogue (data/metrics.tsv of gknb).",
        &[
            ("key", "Metric key."),
            ("ordinal", "Catalogue order."),
            ("in_2019", "1 when the metric exists in the 2019 template."),
            ("in_2021", "1 when the metric exists in the 2021 template."),
            ("report_table", "二, 三 or 四."),
            ("row_zh", "Row label path."),
            ("column_zh", "Column label path."),
            ("unit", "count, signed_count, yuan, wan_yuan."),
            ("label_en", "English label."),
        ],
    ),
    (
        "crawl_frontier",
        "Crawler state (written by `gknb crawl`): every URL discovered, how to request it, and what became of it.",
        &[
            ("url", "URL."),
            ("kind", "listing, report, attachment or part."),
            ("seed", "The seed portal that led to it."),
            ("host", "Host and port."),
            ("state", "pending, done, failed or skipped."),
            ("etag", "ETag of the last response (for conditional GET)."),
            ("last_modified", "Last-Modified of the last response."),
            ("http_status", "Status of the last response."),
            ("error", "Last error."),
            ("doc_id", "The archived document (table `documents`)."),
        ],
    ),
    (
        "crawl_hosts",
        "Crawler verdicts per host: blocked (anti-bot challenge), unreachable, or excluded by robots.txt.",
        &[
            ("host", "Host and port."),
            ("state", "blocked, unreachable or robots."),
            ("reason", "Why."),
            ("run_id", "The crawl run that decided it."),
        ],
    ),
    (
        "runs",
        "Each crawl, import or reparse run.",
        &[
            ("id", "Run id."),
            ("started_at", "Start (UTC)."),
            ("finished_at", "End (UTC); empty when interrupted."),
            ("command", "crawl, import, reparse."),
            ("summary_json", "What the run did, as JSON."),
        ],
    ),
];

/// Descriptions of every table and view, for `docs/schema.md` and tests.
pub fn table_docs() -> impl Iterator<
    Item = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    ),
> {
    TABLES.iter().copied()
}

/// Datasette metadata for an archive served under the database name `db_name` (Datasette
/// names a database after its file stem: `gknb.sqlite` → `gknb`).
pub fn metadata(db_name: &str) -> Value {
    let mut tables = Map::new();
    for (name, description, columns) in TABLES {
        let cols: Map<String, Value> = columns
            .iter()
            .map(|(c, d)| ((*c).to_string(), Value::String((*d).to_string())))
            .collect();
        let mut t = json!({ "description": description, "columns": cols });
        if let Some(extra) = table_extras(name)
            && let (Some(obj), Some(extra)) = (t.as_object_mut(), extra.as_object())
        {
            obj.extend(extra.clone());
        }
        tables.insert((*name).to_string(), t);
    }
    json!({
        "title": "gknb: government-information disclosure annual reports (政府信息公开工作年度报告)",
        "description": "Numbers from the three standard tables of Chinese agencies' annual reports on government-information disclosure. Every number leads back to its page and cell: see facts_labeled.source_url, source_row and source_col. Blank is not zero: check `state`.",
        "source": "Agencies' annual reports, archived by gknb",
        "databases": { db_name: { "tables": Value::Object(tables) } }
    })
}

fn table_extras(name: &str) -> Option<Value> {
    Some(match name {
        "facts_labeled" => json!({
            "sort": "agency",
            "facets": ["year", "region", "report_table", "state", "report_status"]
        }),
        "validation_failures" => json!({ "facets": ["rule", "severity", "year", "region"] }),
        "reports" => json!({ "facets": ["status", "format", "year"], "label_column": "title" }),
        "agencies" => json!({ "label_column": "name", "facets": ["region"] }),
        "checks" => json!({ "facets": ["rule", "status", "severity"] }),
        "checks_labeled" => json!({ "facets": ["rule", "status", "severity", "year"] }),
        "check_metrics" => json!({ "hidden": true }),
        "metrics" => {
            json!({ "label_column": "label_en", "facets": ["report_table", "unit"], "sort": "ordinal" })
        }
        "bodies" => json!({ "hidden": true }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column of every table and view in a fresh archive is described, and nothing
    /// described is missing from the schema. The crawler's own tables (`crawl_*`) are described
    /// in part (their bookkeeping columns are left out); what is described must exist.
    #[test]
    fn every_column_is_described() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.sqlite");
        drop(crate::crawl::state::CrawlDb::open(&path).expect("crawl tables"));
        let archive = crate::store::Archive::open(&path).expect("open");
        for (table, _, columns) in table_docs() {
            let mut stmt = archive
                .conn()
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .expect("pragma");
            let actual: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let described: Vec<String> = columns.iter().map(|(c, _)| c.to_string()).collect();
            if table.starts_with("crawl_") {
                for c in &described {
                    assert!(
                        actual.contains(c),
                        "{table}.{c} is described but does not exist"
                    );
                }
            } else {
                assert_eq!(actual, described, "columns of {table}");
            }
        }
    }
}
