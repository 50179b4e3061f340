//! Unit tests of the archive with hand-built parse results (independent of the parser).

use super::*;
use crate::model::{CellState, Check, CheckStatus, Fact, Format, ParsedReport, Status, YearSource};

fn fact(metric: &str, value: Option<f64>) -> Fact {
    Fact {
        metric: metric.into(),
        value,
        state: if value.is_some() {
            CellState::Number
        } else {
            CellState::Empty
        },
        raw: value.map(crate::export::format_number).unwrap_or_default(),
        table: "三".into(),
        row: 1,
        col: 2,
        page: None,
    }
}

fn report(year: i32, status: Status, facts: Vec<Fact>) -> ParsedReport {
    let format = if year >= 2021 {
        Format::F2021
    } else {
        Format::F2019
    };
    ParsedReport {
        source: format!("https://example.gov.cn/{year}.html"),
        title: Some(format!("{year}年某局政府信息公开工作年度报告")),
        agency: Some("某局".into()),
        year: Some(year),
        year_source: YearSource::Title,
        published: None,
        format,
        status,
        reason: None,
        encoding: "utf-8 (meta)".into(),
        facts,
        checks: vec![Check {
            rule: "T4".into(),
            subject: "review".into(),
            status: if status == Status::Invalid {
                CheckStatus::Fail
            } else {
                CheckStatus::Pass
            },
            expected: Some(3.0),
            actual: Some(if status == Status::Invalid { 4.0 } else { 3.0 }),
            metrics: vec!["review.total".into(), "review.upheld".into()],
        }],
        warnings: Vec::new(),
        attachments: Vec::new(),
    }
}

fn carry(over: f64, forward: f64) -> Vec<Fact> {
    vec![
        fact("requests.carried_over.total", Some(over)),
        fact("requests.carried_forward.total", Some(forward)),
        fact("requests.new_received.total", Some(10.0)),
    ]
}

fn doc<'a>(url: &'a str, bytes: &'a [u8]) -> NewDocument<'a> {
    NewDocument {
        url,
        final_url: None,
        fetched_at: None,
        http_status: Some(200),
        headers: Some("{}"),
        content_type: Some("text/html"),
        declared_encoding: None,
        detected_encoding: Some("utf-8"),
        bytes,
        kind: DocumentKind::Report,
    }
}

fn hint() -> AgencyHint {
    AgencyHint {
        name: Some("某局".into()),
        region: "350100".into(),
        portal: None,
    }
}

fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.sqlite");
    (dir, path)
}

fn count(a: &Archive, sql: &str) -> i64 {
    a.conn().query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn bodies_are_stored_once_and_read_back() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let r1 = a.put_document(&doc("u1", b"same body")).expect("put");
    let r2 = a.put_document(&doc("u2", b"same body")).expect("put");
    let r3 = a.put_document(&doc("u1", b"same body")).expect("put");
    assert!(r1.is_new_body && r1.is_new_document);
    assert!(!r2.is_new_body && r2.is_new_document);
    assert!(!r3.is_new_document);
    assert_eq!(r1.id, r3.id);
    assert_eq!(count(&a, "SELECT count(*) FROM bodies"), 1);
    assert_eq!(count(&a, "SELECT count(*) FROM documents"), 2);
    assert_eq!(
        a.raw_bytes(&r1.sha256).expect("raw").as_deref(),
        Some(&b"same body"[..])
    );
    assert_eq!(a.raw_bytes("nope").expect("raw"), None);
}

#[test]
fn second_writer_gets_in_use_but_readers_work() {
    let (_d, path) = temp();
    let _a = Archive::open(&path).expect("open");
    match Archive::open(&path) {
        Err(StoreError::InUse { holder, .. }) => {
            assert!(holder.contains(&std::process::id().to_string()));
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    let r = Archive::open_read_only(&path).expect("reader");
    assert!(r.is_read_only());
    assert_eq!(r.stats().expect("stats").reports, 0);
}

#[test]
fn lock_is_released_on_drop() {
    let (_d, path) = temp();
    drop(Archive::open(&path).expect("open"));
    Archive::open(&path).expect("reopen");
}

#[test]
fn old_files_are_upgraded_and_new_ones_refused() {
    let (_d, path) = temp();
    // An empty SQLite file is schema version 0.
    rusqlite::Connection::open(&path)
        .and_then(|c| c.execute_batch("CREATE TABLE unrelated (x); PRAGMA user_version = 0;"))
        .expect("create");
    assert!(matches!(
        Archive::open_read_only(&path),
        Err(StoreError::NeedsUpgrade { .. })
    ));
    let a = Archive::open(&path).expect("upgrade");
    assert_eq!(schema::version(a.conn()).expect("version"), SCHEMA_VERSION);
    assert_eq!(
        count(&a, "SELECT count(*) FROM metrics") as usize,
        crate::metrics::all().len()
    );
    a.conn()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .expect("bump");
    drop(a);
    assert!(matches!(
        Archive::open(&path),
        Err(StoreError::TooNew { .. })
    ));
}

#[test]
fn a_version_1_file_keeps_its_checks_and_gets_the_failure_index() {
    let (_d, path) = temp();
    {
        let c = rusqlite::Connection::open(&path).expect("create");
        c.execute_batch(schema::MIGRATIONS[0]).expect("v1");
        c.pragma_update(None, "user_version", 1).expect("version");
    }
    let a = Archive::open(&path).expect("upgrade");
    assert_eq!(schema::version(a.conn()).expect("version"), SCHEMA_VERSION);
    let index = |name: &str| {
        count(
            &a,
            &format!("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '{name}'"),
        )
    };
    assert_eq!(index("checks_status_rule"), 0);
    assert_eq!(index("checks_failed"), 1);
    assert_eq!(index("documents_final_url"), 1);
    let plan: String = a
        .conn()
        .query_row(
            "EXPLAIN QUERY PLAN SELECT rule FROM checks WHERE status = 'fail'",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("checks_failed"), "{plan}");
}

#[test]
fn a_version_2_file_keeps_its_facts_under_metric_ids() {
    let (_d, path) = temp();
    {
        let c = rusqlite::Connection::open(&path).expect("create");
        c.execute_batch(schema::MIGRATIONS[0]).expect("v1");
        c.execute_batch(schema::MIGRATIONS[1]).expect("v2");
        c.execute_batch(
            "INSERT INTO agencies (id, name, region, first_seen_at) VALUES (1, '某局', '', 't');
             INSERT INTO bodies (sha256, size, data) VALUES ('s', 1, x'00');
             INSERT INTO documents (id, url, fetched_at, last_seen_at, sha256, size, kind)
                 VALUES (1, 'u', 't', 't', 's', 1, 'report');
             INSERT INTO reports (id, document_id, agency_id, year, year_source, url, format,
                 status, parser_version, document_sha256, is_primary, fact_count, check_count,
                 failed_checks, parse_sha256, parsed_at)
                 VALUES (1, 1, 1, 2021, 'title', 'u', '2021', 'ok', 1, 's', 1, 2, 0, 0, 'p', 't');
             INSERT INTO facts (agency_id, year, metric, value, state, raw, report_id,
                 report_table, source_row, source_col)
                 VALUES (1, 2021, 'requests.granted.total', 7, 'number', '7', 1, '三', 5, 8),
                        (1, 2021, 'an.old.key', NULL, 'empty', '', 1, '三', 6, 8);
             PRAGMA user_version = 2;",
        )
        .expect("v2 rows");
    }
    let mut a = Archive::open(&path).expect("upgrade");
    assert_eq!(schema::version(a.conn()).expect("version"), SCHEMA_VERSION);
    let rows: Vec<(String, Option<f64>, String)> = a
        .conn()
        .prepare("SELECT metric, value, raw FROM facts ORDER BY metric")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        vec![
            ("an.old.key".to_string(), None, String::new()),
            (
                "requests.granted.total".to_string(),
                Some(7.0),
                "7".to_string()
            ),
        ]
    );
    assert_eq!(count(&a, "SELECT count(*) FROM facts_labeled"), 2);
    // Every catalogue key has an id, the key outside it too, and new reports still write.
    assert_eq!(
        count(&a, "SELECT count(*) FROM metric_keys") as usize,
        crate::metrics::all().len() + 1
    );
    a.store_report(
        &doc("u2", b"page 2022"),
        &report(2022, Status::Ok, carry(1.0, 2.0)),
        &hint(),
    )
    .expect("store");
    assert_eq!(
        count(&a, "SELECT count(*) FROM facts WHERE year = 2022") as usize,
        carry(1.0, 2.0).len()
    );
    assert_eq!(a.integrity_check().expect("integrity"), vec!["ok"]);
}

#[test]
fn ingest_writes_report_facts_checks_and_replaces_on_reingest() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let parsed = report(2020, Status::Ok, carry(1.0, 2.0));
    let (d, id) = a
        .store_report(&doc("u2020", b"page 2020"), &parsed, &hint())
        .expect("store");
    assert_eq!(count(&a, "SELECT count(*) FROM facts"), 3);
    assert_eq!(count(&a, "SELECT count(*) FROM checks"), 1);
    let stored = a.report(id).expect("report").expect("exists");
    assert!(stored.is_primary);
    let mut in_order = parsed.facts.clone();
    in_order.sort_by_key(|f| crate::metrics::ordinal(&f.metric));
    assert_eq!(stored.facts, in_order);
    assert_eq!(stored.agency, "某局");

    // Re-ingesting the same document replaces, never duplicates.
    let mut better = parsed.clone();
    better.facts.push(fact("requests.granted.total", Some(5.0)));
    let id2 = a.ingest_report(&d, &better, &hint()).expect("reingest");
    assert_eq!(id, id2);
    assert_eq!(count(&a, "SELECT count(*) FROM reports"), 1);
    assert_eq!(count(&a, "SELECT count(*) FROM facts"), 4);
    assert_eq!(count(&a, "SELECT count(*) FROM checks"), 1);
    assert!(a.incomplete_reports().expect("check").is_empty());
    let value: f64 = a
        .conn()
        .query_row(
            "SELECT value FROM facts_labeled WHERE metric = 'requests.granted.total'",
            [],
            |r| r.get(0),
        )
        .expect("labeled");
    assert_eq!(value, 5.0);
}

#[test]
fn unknown_agency_is_a_clear_error_and_writes_nothing() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let mut parsed = report(2020, Status::Ok, carry(1.0, 2.0));
    parsed.agency = None;
    let err = a
        .store_report(&doc("u", b"x"), &parsed, &AgencyHint::default())
        .expect_err("must fail");
    assert!(err.to_string().contains("--agency"), "{err}");
    assert_eq!(count(&a, "SELECT count(*) FROM documents"), 0);
}

#[test]
fn primary_report_is_chosen_by_status_then_fact_count() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let invalid = report(2021, Status::Invalid, carry(1.0, 2.0));
    let (_, bad) = a
        .store_report(&doc("bad", b"bad page"), &invalid, &hint())
        .expect("store");
    let mut ok = report(2021, Status::Ok, carry(7.0, 8.0));
    ok.facts.truncate(2);
    let (_, good) = a
        .store_report(&doc("good", b"good page"), &ok, &hint())
        .expect("store");
    let bad_row = a.report(bad).expect("r").expect("exists");
    let good_row = a.report(good).expect("r").expect("exists");
    assert!(good_row.is_primary && !bad_row.is_primary);
    assert_eq!(bad_row.duplicate_of, Some(good));
    // facts come from the primary report only
    assert_eq!(count(&a, "SELECT count(*) FROM facts"), 2);
    assert_eq!(count(&a, "SELECT count(DISTINCT report_id) FROM facts"), 1);
    assert_eq!(
        count(
            &a,
            &format!("SELECT count(*) FROM facts WHERE report_id = {good}")
        ),
        2
    );
    // The ok report turns out unparsable on re-parse: the invalid one takes over, with its
    // own facts restored from its blob.
    let mut broken = ok.clone();
    broken.status = Status::Unparsed;
    broken.facts.clear();
    let good_doc = DocumentRef {
        id: good_row.document_id,
        sha256: good_row.document_sha256.clone(),
        is_new_body: false,
        is_new_document: false,
    };
    a.ingest_report(&good_doc, &broken, &hint())
        .expect("reingest");
    assert!(a.report(bad).expect("r").expect("e").is_primary);
    assert_eq!(
        count(
            &a,
            &format!("SELECT count(*) FROM facts WHERE report_id = {bad}")
        ),
        3
    );
    assert_eq!(count(&a, "SELECT count(*) FROM validation_failures"), 1);
    assert!(a.incomplete_reports().expect("check").is_empty());
}

#[test]
fn changing_year_moves_facts_between_agency_years() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let parsed = report(2020, Status::Ok, carry(1.0, 2.0));
    let (d, _) = a
        .store_report(&doc("u", b"page"), &parsed, &hint())
        .expect("store");
    let mut moved = parsed.clone();
    moved.year = Some(2021);
    a.ingest_report(&d, &moved, &hint()).expect("reingest");
    assert_eq!(count(&a, "SELECT count(*) FROM facts WHERE year = 2020"), 0);
    assert_eq!(count(&a, "SELECT count(*) FROM facts WHERE year = 2021"), 3);
    let mut unknown = parsed;
    unknown.year = None;
    unknown.year_source = YearSource::None;
    a.ingest_report(&d, &unknown, &hint()).expect("reingest");
    assert_eq!(count(&a, "SELECT count(*) FROM facts"), 0);
    assert_eq!(
        count(&a, "SELECT count(*) FROM reports WHERE is_primary = 1"),
        0
    );
}

#[test]
fn carryover_continuity_is_checked_across_consecutive_years() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    // 2019 carries 2 forward; 2020 takes 2 over (good) and carries 5 forward; 2021 takes 4
    // over (broken).
    let years = [
        (2019, carry(0.0, 2.0)),
        (2020, carry(2.0, 5.0)),
        (2021, carry(4.0, 1.0)),
    ];
    let mut ids = Vec::new();
    for (y, facts) in years {
        let body = format!("page {y}");
        let (_, id) = a
            .store_report(
                &doc(&format!("u{y}"), body.as_bytes()),
                &report(y, Status::Ok, facts),
                &hint(),
            )
            .expect("store");
        ids.push(id);
    }
    let cross = |id: i64| -> Vec<StoredCheck> {
        a.checks(id)
            .expect("checks")
            .into_iter()
            .filter(|c| c.rule == "carryover_continuity" && c.subject == "total")
            .collect()
    };
    assert!(cross(ids[0]).is_empty(), "no previous year for 2019");
    let c2020 = cross(ids[1]);
    assert_eq!(c2020.len(), 1);
    assert_eq!(c2020[0].status, "pass");
    let c2021 = cross(ids[2]);
    assert_eq!(c2021[0].status, "fail");
    assert_eq!(c2021[0].severity, "warning");
    assert_eq!((c2021[0].expected, c2021[0].actual), (Some(5.0), Some(4.0)));
    // columns without cells are skipped, not failed
    let skipped = a
        .checks(ids[2])
        .expect("checks")
        .into_iter()
        .filter(|c| c.rule == "carryover_continuity" && c.status == "skipped")
        .count();
    assert_eq!(skipped, 6);
    // warnings do not make a report invalid, and stay out of the default failure list
    assert_eq!(a.report(ids[2]).expect("r").expect("e").status, "ok");
    assert!(
        a.failures(&ExportFilter::default(), false)
            .expect("f")
            .is_empty()
    );
    assert_eq!(
        a.failures(&ExportFilter::default(), true).expect("f").len(),
        1
    );
    assert!(a.incomplete_reports().expect("check").is_empty());
}

#[test]
fn facts_diff_counts_changed_added_and_removed() {
    let old = vec![fact("a", Some(1.0)), fact("b", Some(2.0)), fact("c", None)];
    let new = vec![fact("a", Some(1.0)), fact("b", Some(3.0)), fact("d", None)];
    assert_eq!(facts_diff(&old, &new), 3);
    assert_eq!(facts_diff(&old, &old), 0);
}

#[test]
fn in_force_continuity_compares_stock_with_issued_and_repealed() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    let stock = |in_force: f64, issued: Option<f64>, repealed: f64| {
        vec![
            fact("active.rules.in_force", Some(in_force)),
            fact("active.rules.issued", issued),
            fact("active.rules.repealed", Some(repealed)),
            fact("active.normative.in_force", Some(in_force)),
        ]
    };
    // 2021: 10 in force. 2022: 10 + 3 − 1 = 12 (rules pass). 2023: 12 + blank − 2 = 10, but
    // 11 printed (rules fail; a blank 制发 counts as 0).
    let years = [
        (2021, stock(10.0, Some(0.0), 0.0)),
        (2022, stock(12.0, Some(3.0), 1.0)),
        (2023, stock(11.0, None, 2.0)),
    ];
    let mut ids = Vec::new();
    for (y, facts) in years {
        let body = format!("page {y}");
        let (_, id) = a
            .store_report(
                &doc(&format!("u{y}"), body.as_bytes()),
                &report(y, Status::Ok, facts),
                &hint(),
            )
            .expect("store");
        ids.push(id);
    }
    let rules = |id: i64| -> StoredCheck {
        a.checks(id)
            .expect("checks")
            .into_iter()
            .find(|c| c.rule == "in_force_continuity" && c.subject == "rules")
            .expect("rules check")
    };
    let c2022 = rules(ids[1]);
    assert_eq!(
        (c2022.status.as_str(), c2022.expected),
        ("pass", Some(12.0))
    );
    let c2023 = rules(ids[2]);
    assert_eq!(
        (c2023.status.as_str(), c2023.expected, c2023.actual),
        ("fail", Some(10.0), Some(11.0))
    );
    assert_eq!(c2023.severity, "warning");
    assert_eq!(c2023.metrics[0], "active.rules.in_force");
}

/// A check row: (report, rule, subject, status, expected, actual).
type CheckRow = (i64, String, String, String, Option<f64>, Option<f64>);

/// Cross-year checks of an archive.
fn cross_year_checks(a: &Archive) -> Vec<CheckRow> {
    let mut stmt = a
        .conn()
        .prepare(
            "SELECT report_id, rule, subject, status, expected, actual FROM checks \
             WHERE rule IN ('carryover_continuity', 'in_force_continuity') \
             ORDER BY report_id, rule, subject",
        )
        .expect("prepare");
    stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .expect("query")
    .collect::<Result<_, _>>()
    .expect("rows")
}

#[test]
fn cross_year_refresh_of_touched_years_equals_a_full_recompute() {
    let (_d, path) = temp();
    let mut a = Archive::open(&path).expect("open");
    // Years out of order, a gap (2023), a better second report for 2020 that takes over as
    // primary, and a report re-ingested under another year (2022 → 2024), in one batch and in
    // single transactions.
    let steps: [(&str, i32, Status, f64, f64); 7] = [
        ("u1", 2021, Status::Ok, 4.0, 1.0),
        ("u2", 2019, Status::Ok, 0.0, 2.0),
        ("u3", 2022, Status::Ok, 1.0, 6.0),
        ("u4", 2020, Status::Invalid, 2.0, 9.0),
        ("u5", 2020, Status::Ok, 2.0, 4.0),
        ("u3", 2024, Status::Ok, 1.0, 6.0),
        ("u6", 2025, Status::Ok, 5.0, 0.0),
    ];
    {
        let mut batch = a
            .batch(usize::MAX, std::time::Duration::MAX)
            .expect("batch");
        for (url, year, status, over, forward) in &steps[..4] {
            let body = format!("page {url}");
            batch
                .store_report(
                    &doc(url, body.as_bytes()),
                    &report(*year, *status, carry(*over, *forward)),
                    &hint(),
                )
                .expect("store");
        }
        batch.commit().expect("commit");
    }
    for (url, year, status, over, forward) in &steps[4..] {
        let body = format!("page {url}");
        let d = a.put_document(&doc(url, body.as_bytes())).expect("doc");
        a.ingest_report(&d, &report(*year, *status, carry(*over, *forward)), &hint())
            .expect("ingest");
    }
    let incremental = cross_year_checks(&a);
    assert!(
        incremental.iter().any(|c| c.3 == "pass") && incremental.iter().any(|c| c.3 == "fail"),
        "the steps should produce passing and failing checks: {incremental:?}"
    );
    let agency: i64 = a
        .conn()
        .query_row("SELECT id FROM agencies", [], |r| r.get(0))
        .expect("agency");
    a.conn()
        .execute(
            "DELETE FROM checks WHERE rule IN ('carryover_continuity', 'in_force_continuity')",
            [],
        )
        .expect("delete");
    let all: Vec<i32> = (2018..=2026).collect();
    let keys = super::schema::metric_ids(a.conn()).expect("metric ids");
    crossyear::refresh(a.conn(), agency, &all, &mut Default::default(), &keys).expect("refresh");
    assert_eq!(cross_year_checks(&a), incremental);
}

#[test]
fn parse_digest_is_the_sha256_of_the_parse_as_json() {
    // Archives store this digest: hashing while serialising must give the same value as
    // hashing the serialised bytes.
    let facts = (0..200)
        .map(|i| {
            fact(
                &format!("requests.new.natural_person.{i}"),
                Some(f64::from(i)),
            )
        })
        .collect();
    let mut r = report(2023, Status::Ok, facts);
    r.title = Some("某县2023年政府信息公开工作年度报告 \"引号\"".into());
    let json = serde_json::to_vec(&r).expect("json");
    assert!(json.len() > 8192, "the test should cross the buffer size");
    assert_eq!(parse_digest(&r).expect("digest"), sha256_hex(&json));
}
