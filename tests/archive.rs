//! The archive end to end through the `gknb` binary: import synthetic report pages, query
//! every table and view, re-parse, cross-year checks, failures, stats and every CSV variant.

mod archive_support;

use std::path::{Path, PathBuf};

use archive_support::{continue_from, format_for, gknb, gknb_ok, shift_carryover, write_page};
use gknb::synth::{self, HtmlStyle};
use rusqlite::Connection;

const AGENCY: &str = "示例市民政局";

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    db: String,
    a2019: PathBuf,
    a2020: PathBuf,
    a2020_copy: PathBuf,
    a2021: PathBuf,
}

/// Agency A publishes 2019, 2020 (twice: two pages with the same numbers) and 2021, whose
/// 上年结转 does not continue 2020's 结转下年度. Agency B's 2020 report holds a formula-like
/// text cell, a negative change, and a total that breaks its identities. A text file holds no report.
fn build() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let r2019 = synth::consistent(format_for(2019), 2019, AGENCY, 1);
    let mut r2020 = synth::consistent(format_for(2020), 2020, AGENCY, 2);
    continue_from(&r2019, &mut r2020);
    let mut r2021 = synth::consistent(format_for(2021), 2021, AGENCY, 3);
    continue_from(&r2020, &mut r2021);
    shift_carryover(&mut r2021, 3.0);
    let plain = HtmlStyle::default();
    let fancy = HtmlStyle {
        word_spans: true,
        metadata_table: true,
        layout_tables: true,
        ..HtmlStyle::default()
    };
    let a2019 = write_page(&dir, "a2019.html", &r2019, &plain);
    let a2020 = write_page(&dir, "a2020.html", &r2020, &plain);
    let a2020_copy = write_page(&dir, "a2020-copy.html", &r2020, &fancy);
    let a2021 = write_page(&dir, "a2021.html", &r2021, &fancy);

    let mut b = synth::consistent(format_for(2020), 2020, "@危险局", 4);
    assert!(b.set("active.fees.change", "=1+2"));
    assert!(b.set("active.licensing.change", "-18"));
    let granted = b.expected_value("requests.granted.total").expect("number");
    assert!(b.set("requests.granted.total", &format!("{}", granted + 1.0)));
    write_page(&dir, "b2020.html", &b, &plain);
    std::fs::write(dir.join("notes.txt"), "会议记录，没有表格。\n").expect("write");

    let db = "t.sqlite".to_string();
    let out = gknb_ok(
        &dir,
        &[
            "import",
            "a2019.html",
            "a2020.html",
            "a2020-copy.html",
            "a2021.html",
            "--agency",
            AGENCY,
            "--region",
            "350100",
            "--db",
            &db,
        ],
    );
    assert!(out.is_empty(), "import prints its summary on stderr only");
    gknb_ok(
        &dir,
        &[
            "import",
            "b2020.html",
            "--agency",
            "@危险局",
            "--region",
            "350200",
            "--db",
            &db,
        ],
    );
    gknb_ok(
        &dir,
        &[
            "import",
            "notes.txt",
            "--agency",
            "某单位",
            "--region",
            "350300",
            "--year",
            "2022",
            "--db",
            &db,
        ],
    );
    Fixture {
        _dir: tmp,
        dir,
        db,
        a2019,
        a2020,
        a2020_copy,
        a2021,
    }
}

fn open(f: &Fixture) -> Connection {
    Connection::open(f.dir.join(&f.db)).expect("open db")
}

fn n(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn s(c: &Connection, sql: &str) -> String {
    c.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn canon(p: &Path) -> String {
    std::fs::canonicalize(p)
        .expect("canonicalize")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn archive_tables_views_reparse_and_cross_year_checks() {
    let f = build();
    let c = open(&f);

    // Every table holds what was imported.
    assert_eq!(n(&c, "SELECT count(*) FROM agencies"), 3);
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM agencies WHERE name = '示例市民政局' AND region = '350100'"
        ),
        1
    );
    assert_eq!(
        n(&c, "SELECT count(*) FROM documents WHERE kind = 'report'"),
        6
    );
    assert_eq!(n(&c, "SELECT count(*) FROM bodies"), 6);
    assert_eq!(n(&c, "SELECT count(*) FROM reports"), 6);
    assert_eq!(
        n(&c, "SELECT count(*) FROM metrics"),
        gknb::metrics::all().len() as i64
    );
    assert_eq!(
        n(&c, "SELECT count(*) FROM runs WHERE command = 'import'"),
        3
    );
    assert_eq!(s(&c, "PRAGMA journal_mode"), "wal");

    // Statuses: agency A's four pages are ok, B's fails its identities, the text is unparsed
    // but still archived with the year given on the command line.
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports r JOIN agencies a ON a.id = r.agency_id \
               WHERE a.name = '示例市民政局' AND r.status = 'ok'"
        ),
        4
    );
    assert_eq!(
        s(
            &c,
            "SELECT r.status FROM reports r JOIN agencies a ON a.id = r.agency_id \
               WHERE a.name = '@危险局'"
        ),
        "invalid"
    );
    assert_eq!(
        s(
            &c,
            "SELECT status || ' ' || year || ' ' || year_source FROM reports \
               WHERE url LIKE '%notes.txt'"
        ),
        "unparsed 2022 given"
    );

    // One primary report per agency-year; the copy of 2020 is marked as a duplicate.
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports WHERE year = 2020 AND agency_id = \
               (SELECT id FROM agencies WHERE name = '示例市民政局')"
        ),
        2
    );
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports WHERE is_primary = 1 AND agency_id = \
               (SELECT id FROM agencies WHERE name = '示例市民政局')"
        ),
        3
    );
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports d JOIN reports p ON p.id = d.duplicate_of \
               WHERE p.is_primary = 1 AND d.is_primary = 0"
        ),
        1
    );
    let dup_urls: Vec<String> = c
        .prepare("SELECT url FROM reports WHERE year = 2020 AND agency_id = 1 ORDER BY url")
        .and_then(|mut st| {
            st.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()
        })
        .expect("urls");
    assert_eq!(dup_urls, vec![canon(&f.a2020_copy), canon(&f.a2020)]);

    // facts: one row per agency-year-metric from the primary reports, 198 for format 2019 and
    // 200 for format 2021, and never a half-written report.
    assert_eq!(
        n(&c, "SELECT count(*) FROM facts"),
        n(
            &c,
            "SELECT sum(fact_count) FROM reports WHERE is_primary = 1"
        )
    );
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports WHERE status = 'ok' AND \
               fact_count != CASE format WHEN '2019' THEN 198 ELSE 200 END"
        ),
        0
    );
    assert_eq!(n(&c, "SELECT count(*) FROM facts"), 198 + 198 + 200 + 198);
    let mut reader = gknb::store::Archive::open_read_only(f.dir.join(&f.db)).expect("reader");
    assert!(reader.incomplete_reports().expect("check").is_empty());
    assert_eq!(reader.integrity_check().expect("integrity"), vec!["ok"]);

    // facts_labeled leads from a number back to its labels and page.
    let (row_zh, col, label, unit, value, url): (String, String, String, String, i64, String) = c
        .query_row(
            "SELECT row_zh, column_zh, label_en, unit, value, source_url FROM facts_labeled \
             WHERE agency = '示例市民政局' AND year = 2019 AND metric = 'requests.new_received.total'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .expect("labeled fact");
    assert_eq!(row_zh, "一、本年新收政府信息公开申请数量");
    assert_eq!(col, "总计");
    assert!(label.starts_with("new requests received"));
    assert_eq!(unit, "count");
    assert!(value >= 0);
    assert_eq!(url, canon(&f.a2019));

    // checks: every parsed report has its identity checks; B's failures are listed.
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM reports r WHERE status IN ('ok', 'invalid') AND NOT EXISTS \
               (SELECT 1 FROM checks k WHERE k.report_id = r.id AND k.severity = 'error')"
        ),
        0
    );
    assert!(
        n(
            &c,
            "SELECT count(*) FROM validation_failures WHERE agency = '@危险局'"
        ) >= 1
    );
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM validation_failures WHERE agency = '示例市民政局' \
               AND severity = 'error'"
        ),
        0
    );

    // Cross-year: 2020 continues 2019 in every column; 2021 breaks it in two columns.
    let cross = |year: i32, status: &str| {
        n(
            &c,
            &format!(
                "SELECT count(*) FROM checks k JOIN reports r ON r.id = k.report_id \
                 WHERE r.year = {year} AND r.agency_id = 1 AND k.rule = 'carryover_continuity' \
                 AND k.status = '{status}'"
            ),
        )
    };
    assert_eq!(cross(2019, "pass") + cross(2019, "fail"), 0);
    assert_eq!((cross(2020, "pass"), cross(2020, "fail")), (7, 0));
    assert_eq!((cross(2021, "pass"), cross(2021, "fail")), (5, 2));
    let (expected, actual, severity): (f64, f64, String) = c
        .query_row(
            "SELECT expected, actual, severity FROM validation_failures \
             WHERE rule = 'carryover_continuity' AND subject = 'total'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("carry-over failure");
    assert_eq!(actual - expected, 3.0);
    assert_eq!(severity, "warning");
    // The 2019 → 2021 format change means no in-force continuity check yet.
    assert_eq!(
        n(
            &c,
            "SELECT count(*) FROM checks WHERE rule = 'in_force_continuity'"
        ),
        0
    );

    // Importing the same files again changes nothing.
    let before = n(&c, "SELECT count(*) FROM reports");
    gknb_ok(
        &f.dir,
        &[
            "import",
            "a2019.html",
            "a2021.html",
            "--agency",
            AGENCY,
            "--region",
            "350100",
            "--db",
            &f.db,
        ],
    );
    assert_eq!(n(&c, "SELECT count(*) FROM reports"), before);
    assert_eq!(n(&c, "SELECT count(*) FROM documents"), 6);

    // reparse: a stale report is rewritten (and its status change reported); the second
    // run finds nothing to change.
    drop(reader);
    c.execute(
        "UPDATE reports SET status = 'unparsed', parse_sha256 = 'stale' WHERE url = ?1",
        [canon(&f.a2021)],
    )
    .expect("tamper");
    let first: serde_json::Value = serde_json::from_str(&gknb_ok(
        &f.dir,
        &["reparse", "--db", &f.db, "--format", "json"],
    ))
    .expect("json");
    assert_eq!(first["documents"], 6);
    assert_eq!(first["changed_reports"], 1);
    assert_eq!(first["status_changes"][0]["to"], "ok");
    assert_eq!(first["facts_changed"], 0);
    let second: serde_json::Value = serde_json::from_str(&gknb_ok(
        &f.dir,
        &["reparse", "--db", &f.db, "--format", "json"],
    ))
    .expect("json");
    assert_eq!(second["changed_reports"], 0);
    assert_eq!(second["facts_changed"], 0);
    assert_eq!(second["status_changes"].as_array().map(Vec::len), Some(0));
    // A parser upgrade that changes nothing for a page only records the new version.
    c.execute("UPDATE reports SET parser_version = 0", [])
        .expect("age");
    let third: serde_json::Value = serde_json::from_str(&gknb_ok(
        &f.dir,
        &["reparse", "--db", &f.db, "--format", "json"],
    ))
    .expect("json");
    assert_eq!(third["changed_reports"], 0);
    assert_eq!(
        n(&c, "SELECT count(*) FROM reports WHERE parser_version = 0"),
        0
    );
    let text = gknb_ok(&f.dir, &["reparse", "--db", &f.db]);
    assert!(
        text.contains("0 reports changed, 0 facts changed, 0 status changes"),
        "{text}"
    );
    reader = gknb::store::Archive::open_read_only(f.dir.join(&f.db)).expect("reader");
    assert!(reader.incomplete_reports().expect("check").is_empty());
    assert_eq!(cross(2021, "fail"), 2);

    // failures: readable table, CSV and JSON; warnings on request.
    let table = gknb_ok(&f.dir, &["failures", "--db", &f.db]);
    assert!(
        table.contains("@危险局") && table.contains("b2020.html"),
        "{table}"
    );
    assert!(!table.contains("carryover_continuity"));
    let json: serde_json::Value = serde_json::from_str(&gknb_ok(
        &f.dir,
        &["failures", "--db", &f.db, "--format", "json", "--warnings"],
    ))
    .expect("json");
    let rows = json.as_array().expect("array");
    assert!(rows.iter().any(|r| r["rule"] == "carryover_continuity"));
    assert!(
        rows.iter()
            .any(|r| r["rule"].as_str().is_some_and(|x| x.starts_with("T3")))
    );
    let csv_out = gknb_ok(&f.dir, &["failures", "--db", &f.db, "--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(csv_out.as_bytes());
    let headers = rdr.headers().expect("headers").clone();
    assert_eq!(&headers[0], "agency");
    let first_row = rdr.records().next().expect("a row").expect("record");
    assert_eq!(&first_row[0], "'@危险局", "formula guard in failures CSV");

    // stats
    let stats: serde_json::Value = serde_json::from_str(&gknb_ok(
        &f.dir,
        &["stats", "--db", &f.db, "--format", "json"],
    ))
    .expect("json");
    assert_eq!(stats["reports"], 6);
    assert_eq!(stats["duplicate_reports"], 1);
    let human = gknb_ok(&f.dir, &["stats", "--db", &f.db]);
    assert!(human.starts_with("6 reports from 3 agencies (4 ok, 1 failing validation, 1 other)"));
    assert!(human.contains("350100"));
}

fn export(f: &Fixture, extra: &[&str]) -> Vec<u8> {
    let out = f.dir.join("out.csv");
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![
        "export",
        "csv",
        "--db",
        f.db.as_str(),
        "--out",
        out_s.as_str(),
    ];
    args.extend_from_slice(extra);
    gknb_ok(&f.dir, &args);
    std::fs::read(&out).expect("read export")
}

fn records(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut rdr = csv::Reader::from_reader(bytes);
    let headers = rdr.headers().expect("headers").clone();
    let rows = rdr
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("records");
    (headers, rows)
}

#[test]
fn csv_exports_long_wide_excel_and_filters() {
    let f = build();
    let total_facts = n(&open(&f), "SELECT count(*) FROM facts") as usize;

    // Long, default: no BOM, LF line ends, one row per fact.
    let long = export(&f, &[]);
    assert!(!long.starts_with("\u{feff}".as_bytes()));
    assert!(!long.windows(2).any(|w| w == b"\r\n"));
    let (h, rows) = records(&long);
    assert_eq!(h.iter().collect::<Vec<_>>(), gknb::export::LONG_COLUMNS);
    assert_eq!(rows.len(), total_facts);
    let col = |name: &str| h.iter().position(|x| x == name).expect(name);
    let find = |agency: &str, metric: &str| {
        rows.iter()
            .find(|r| &r[col("agency")] == agency && &r[col("metric")] == metric)
            .unwrap_or_else(|| panic!("{agency} {metric}"))
            .clone()
    };
    // Formula guard: text cells starting with = + - @ get a leading quote, numbers do not.
    let formula = find("'@危险局", "active.fees.change");
    assert_eq!(&formula[col("raw")], "'=1+2");
    assert_eq!(&formula[col("state")], "text");
    assert_eq!(&formula[col("value")], "");
    let negative = find("'@危险局", "active.licensing.change");
    assert_eq!(&negative[col("value")], "-18");
    assert_eq!(&negative[col("raw")], "-18");
    let a = find(AGENCY, "requests.new_received.total");
    assert_eq!(&a[col("row_zh")], "一、本年新收政府信息公开申请数量");
    assert_eq!(&a[col("source_url")], canon(&f.a2019));
    assert!(a[col("value")].parse::<u32>().is_ok());

    // Excel: BOM and CRLF, same content.
    let excel = export(&f, &["--excel"]);
    assert!(excel.starts_with("\u{feff}".as_bytes()));
    let body = &excel[3..];
    assert!(body.windows(2).any(|w| w == b"\r\n"));
    assert!(
        !body
            .iter()
            .enumerate()
            .any(|(i, b)| *b == b'\n' && (i == 0 || body[i - 1] != b'\r'))
    );
    let (_, excel_rows) = records(body);
    assert_eq!(excel_rows, rows);

    // Wide: one row per agency-year, one column per metric.
    let wide = export(&f, &["--wide"]);
    let (wh, wrows) = records(&wide);
    assert_eq!(wrows.len(), 4);
    assert_eq!(
        wh.len(),
        gknb::export::WIDE_KEY_COLUMNS.len() + gknb::metrics::all().len()
    );
    let wcol = |name: &str| wh.iter().position(|x| x == name).expect(name);
    let b = wrows.iter().find(|r| &r[0] == "'@危险局").expect("B row");
    assert_eq!(&b[wcol("active.licensing.change")], "-18");
    assert_eq!(&b[wcol("active.fees.change")], "");
    let a2021 = wrows
        .iter()
        .find(|r| &r[0] == AGENCY && &r[2] == "2021")
        .expect("A 2021");
    assert_eq!(
        &a2021[wcol("active.rules.total_published")],
        "",
        "2019-only metric"
    );
    assert!(!a2021[wcol("active.rules.in_force")].is_empty());

    // Filters: year, region, metric prefix (also combined with --wide).
    let (_, y) = records(&export(&f, &["--year", "2021"]));
    assert_eq!(y.len(), 200);
    let (_, r) = records(&export(&f, &["--region", "350200"]));
    assert_eq!(r.len(), 198);
    let (_, m) = records(&export(&f, &["--metric", "requests.new_received."]));
    assert_eq!(m.len(), 7 * 4);
    let (_, ym) = records(&export(
        &f,
        &["--year", "2019,2020", "--metric", "requests.granted.total"],
    ));
    assert_eq!(ym.len(), 2 + 1, "A 2019, A 2020, B 2020");
    let (wmh, wm) = records(&export(
        &f,
        &[
            "--wide",
            "--metric",
            "appeals.review.",
            "--region",
            "350100",
        ],
    ));
    assert_eq!(wm.len(), 3);
    assert!(wmh.iter().skip(5).all(|k| k.starts_with("appeals.review.")));
    assert_eq!(wmh.len(), 5 + 5);
}

#[test]
fn second_writer_gets_a_clear_error() {
    let f = build();
    let held = gknb::store::Archive::open(f.dir.join(&f.db)).expect("writer");
    let out = gknb(
        &f.dir,
        &["import", "a2019.html", "--agency", AGENCY, "--db", &f.db],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is in use by another gknb process"), "{err}");
    // Readers still work while the writer holds the lock.
    gknb_ok(&f.dir, &["stats", "--db", &f.db]);
    gknb_ok(&f.dir, &["export", "csv", "--db", &f.db, "--year", "2019"]);
    drop(held);
    gknb_ok(&f.dir, &["reparse", "--db", &f.db]);
}

#[test]
fn datasette_metadata_in_docs_is_current() {
    let shipped = include_str!("../docs/datasette-metadata.json");
    let generated = serde_json::to_string_pretty(&gknb::store::datasette::metadata("gknb"))
        .expect("json")
        + "\n";
    assert_eq!(
        shipped, generated,
        "regenerate with `gknb datasette --name gknb -o docs/datasette-metadata.json`"
    );
}
