//! The parser against the fixtures in `tests/fixtures/reports/`, each reproducing one structure
//! real report pages have. `expected.json` holds, per fixture, the cell text printed for every
//! metric; the parser must find each cell, in the right state, with the right value.

use std::collections::BTreeMap;
use std::path::Path;

use gknb::model::{CellState, CheckStatus, Format, ParsedReport, Status, YearSource};
use gknb::report::{self, Input};
use serde_json::Value;

fn fixture_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports"
    ))
}

fn parse(name: &str) -> ParsedReport {
    let path = fixture_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    report::parse(&Input {
        bytes: &bytes,
        source: name,
        content_type: None,
    })
}

fn expected() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// The value a printed cell must give: sign and thousands separators handled, `元` dropped
/// (the only money cell with a unit in the fixtures is the procurement amount, in yuan).
fn printed_value(text: &str) -> Option<f64> {
    let t = text.trim().trim_end_matches('元').trim_start_matches('+');
    t.parse().ok()
}

/// Every metric of the fixture's format was found with the printed text, state and value.
fn assert_matches_expected(name: &str) {
    let all = expected();
    let exp = &all[name];
    let r = parse(name);
    let format = match exp["format"].as_str() {
        Some("2019") => Format::F2019,
        Some("2021") => Format::F2021,
        other => panic!("{name}: unexpected format {other:?}"),
    };
    assert_eq!(r.format, format, "{name}: format");
    assert_eq!(
        r.year,
        exp["year"].as_i64().map(|y| y as i32),
        "{name}: year"
    );
    assert_eq!(
        r.agency.as_deref(),
        exp["agency"].as_str(),
        "{name}: agency"
    );
    let values = exp["values"].as_object().expect("values");
    let expected_count = if format == Format::F2019 { 198 } else { 200 };
    assert_eq!(values.len(), expected_count, "{name}: fixture completeness");
    assert_eq!(r.facts.len(), expected_count, "{name}: fact count");
    for (metric, printed) in values {
        let printed = printed.as_str().expect("printed text");
        let fact = r
            .fact(metric)
            .unwrap_or_else(|| panic!("{name}: {metric} not found"));
        assert_eq!(fact.raw, printed, "{name}: {metric} raw");
        match printed {
            "" => assert_eq!(fact.state, CellState::Empty, "{name}: {metric}"),
            "/" => assert_eq!(fact.state, CellState::Na, "{name}: {metric}"),
            _ => {
                assert_eq!(fact.state, CellState::Number, "{name}: {metric}");
                assert_eq!(fact.value, printed_value(printed), "{name}: {metric} value");
            }
        }
    }
}

#[test]
fn format_2019_html() {
    assert_matches_expected("f2019-basic.html");
    assert_eq!(parse("f2019-basic.html").status, Status::Ok);
}

#[test]
fn format_2021_html() {
    assert_matches_expected("f2021-basic.html");
    let r = parse("f2021-basic.html");
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.checks.len(), 7 + 7 + 25 + 3);
    assert!(r.checks.iter().all(|c| c.status == CheckStatus::Pass));
}

#[test]
fn header_and_data_rows_disagree_on_colspans() {
    assert_matches_expected("f2019-colspan-disagree.html");
}

#[test]
fn labels_split_across_inline_runs_and_office_empty_paragraphs() {
    assert_matches_expected("f2021-split-labels.html");
}

#[test]
fn table_three_split_into_two_blocks() {
    assert_matches_expected("f2021-split-table-three.html");
}

#[test]
fn table_four_with_two_header_rows() {
    assert_matches_expected("f2019-table-four-two-rows.html");
}

#[test]
fn table_four_as_an_unlabeled_row_in_its_own_table() {
    assert_matches_expected("f2021-table-four-bare-row.html");
}

#[test]
fn report_among_layout_and_metadata_tables() {
    assert_matches_expected("f2021-layout-and-metadata.html");
    let r = parse("f2021-layout-and-metadata.html");
    assert_eq!(r.published.as_deref(), Some("2023-01-20"));
}

#[test]
fn blank_zero_and_na_are_three_states() {
    assert_matches_expected("f2021-blank-zero-na.html");
    let r = parse("f2021-blank-zero-na.html");
    let states: Vec<CellState> = r.facts.iter().map(|f| f.state).collect();
    assert!(states.contains(&CellState::Empty));
    assert!(states.contains(&CellState::Na));
    assert!(
        r.facts
            .iter()
            .all(|f| f.state != CellState::Empty || f.value.is_none())
    );
    assert_eq!(r.status, Status::Ok, "blank and / count as 0 inside sums");
}

#[test]
fn one_cell_per_line_text() {
    assert_matches_expected("f2021-cell-per-line.txt");
    assert_eq!(parse("f2021-cell-per-line.txt").status, Status::Ok);
}

#[test]
fn tab_separated_text() {
    assert_matches_expected("f2019-tab-separated.txt");
}

#[test]
fn passes_t3a_but_fails_t3b() {
    assert_matches_expected("f2019-passes-t3a-fails-t3b.html");
    let r = parse("f2019-passes-t3a-fails-t3b.html");
    assert_eq!(r.status, Status::Invalid);
    let failed: Vec<(&str, &str)> = r
        .failed_checks()
        .map(|c| (c.rule.as_str(), c.subject.as_str()))
        .collect();
    assert_eq!(failed, vec![("T3-B", "natural_person"), ("T3-B", "total")]);
    let c = r.failed_checks().next().expect("a failed check");
    assert_eq!(c.metrics[0], "requests.total_handled.natural_person");
    assert_eq!(c.expected, c.actual.map(|a| a + 1.0));
    assert!(
        r.checks
            .iter()
            .filter(|c| c.rule == "T3-A")
            .all(|c| c.status == CheckStatus::Pass)
    );
}

#[test]
fn blank_total_cells_skip_t3c_instead_of_failing() {
    assert_matches_expected("f2019-blank-totals.html");
    let r = parse("f2019-blank-totals.html");
    assert_eq!(r.status, Status::Ok);
    let t3c: Vec<_> = r.checks.iter().filter(|c| c.rule == "T3-C").collect();
    let skipped = t3c
        .iter()
        .filter(|c| c.status == CheckStatus::Skipped)
        .count();
    assert_eq!(
        skipped, 19,
        "every result row of format 2019 has its total blank"
    );
    let t3b_total = r
        .checks
        .iter()
        .find(|c| c.rule == "T3-B" && c.subject == "total")
        .expect("T3-B total");
    assert_eq!(t3b_total.status, CheckStatus::Skipped);
}

#[test]
fn legacy_report_has_no_facts() {
    let r = parse("legacy-2015.html");
    assert_eq!((r.status, r.format), (Status::Legacy, Format::Legacy));
    assert_eq!(r.year, Some(2015));
    assert!(r.facts.is_empty());
}

#[test]
fn attachment_stub() {
    let r = parse("attachment-stub.html");
    assert_eq!(r.status, Status::AttachmentOnly);
    assert_eq!(r.attachments, vec!["/attach/2024/0125/report2023.pdf"]);
    assert_eq!(r.year, Some(2023));
    assert_eq!(r.agency.as_deref(), Some("示例市水务局"));
}

#[test]
fn image_only_page() {
    let r = parse("image-only.html");
    assert_eq!(r.status, Status::ImageOnly);
    assert_eq!(r.agency.as_deref(), Some("示例镇人民政府"));
}

#[test]
fn glued_digits_are_unparsed_never_guessed() {
    let r = parse("glued-digits.txt");
    assert_eq!(r.status, Status::Unparsed);
    assert!(r.facts.is_empty());
    assert!(r.reason.as_deref().is_some_and(|x| x.contains("glued")));
}

#[test]
fn year_sources() {
    assert_eq!(parse("f2019-basic.html").year_source, YearSource::Title);
}

#[test]
fn parsing_is_deterministic() {
    assert_eq!(
        parse("f2021-split-labels.html"),
        parse("f2021-split-labels.html")
    );
}

/// Pages from `gknb::synth` (written independently of the parser, from the same spec) parse to
/// exactly the numbers they were generated from, in every style.
#[test]
fn synthetic_pages_round_trip() {
    use gknb::synth::{self, HtmlStyle};
    for seed in 0..24u64 {
        let format = if seed % 2 == 0 {
            Format::F2019
        } else {
            Format::F2021
        };
        let year = if format == Format::F2019 { 2020 } else { 2023 };
        let r = synth::consistent(format, year, "示例县农业农村局", seed);
        let style = HtmlStyle::varied(seed);
        let html = synth::render_html(&r, &style);
        let parsed = report::parse(&Input {
            bytes: html.as_bytes(),
            source: "synth",
            content_type: None,
        });
        assert_eq!(parsed.format, format, "seed {seed} {style:?}");
        assert_eq!(parsed.status, Status::Ok, "seed {seed} {style:?}");
        assert_eq!(parsed.year, Some(year));
        assert_eq!(parsed.agency.as_deref(), Some("示例县农业农村局"));
        let expected = r.expected_values();
        assert_eq!(parsed.facts.len(), expected.len(), "seed {seed} {style:?}");
        for (metric, value) in expected {
            let fact = parsed
                .fact(&metric)
                .unwrap_or_else(|| panic!("seed {seed}: {metric} missing"));
            assert_eq!(fact.value, Some(value), "seed {seed}: {metric}");
        }
    }
}
