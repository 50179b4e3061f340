//! Reports that live in attachments: the PDF and DOCX front ends must rebuild the same table
//! grids as the HTML form of the same report (fixtures made by
//! `tests/fixtures/pdf/make_fixtures.py`), and never panic on damaged files.

use std::path::PathBuf;

use gknb::model::{ParsedReport, Status};
use gknb::report::{self, Input, Table, docx, pdf};
use scraper::{Html, Selector};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Each HTML table row's non-empty cell texts, whitespace removed.
fn html_rows(html: &[u8]) -> Vec<Vec<String>> {
    let doc = Html::parse_document(&String::from_utf8_lossy(html));
    let (tr, td) = (
        Selector::parse("tr").expect("selector"),
        Selector::parse("td").expect("selector"),
    );
    doc.select(&tr)
        .map(|row| {
            row.select(&td)
                .map(|c| squash(&c.text().collect::<String>()))
                .filter(|t| !t.is_empty())
                .collect()
        })
        .collect()
}

/// Each grid row's non-empty texts of the cells that start in it (as HTML writes them).
fn grid_rows(tables: &[Table]) -> Vec<Vec<String>> {
    tables
        .iter()
        .flat_map(|t| &t.rows)
        .map(|r| {
            r.own_cells()
                .map(|c| squash(&c.text))
                .filter(|t| !t.is_empty())
                .collect()
        })
        .collect()
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn assert_same_rows(what: &str, got: Vec<Vec<String>>, want: Vec<Vec<String>>) {
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{what}: row {i} differs");
    }
    assert_eq!(got.len(), want.len(), "{what}: row count");
}

#[test]
fn ruled_pdf_grids_match_html() {
    for fmt in ["2021", "2019"] {
        let want = html_rows(&fixture(&format!("pdf/r{fmt}.html")));
        let doc = pdf::extract(&fixture(&format!("pdf/r{fmt}-ruled.pdf"))).expect("pdf reads");
        assert_eq!(
            doc.tables.len(),
            3,
            "{fmt}: tables 二, 三 (over two pages), 四"
        );
        assert_same_rows(&format!("ruled {fmt}"), grid_rows(&doc.tables), want);
    }
}

#[test]
fn borderless_pdf_grids_match_html() {
    for fmt in ["2021", "2019"] {
        let want = html_rows(&fixture(&format!("pdf/r{fmt}-flat.html")));
        let doc = pdf::extract(&fixture(&format!("pdf/r{fmt}-borderless.pdf"))).expect("pdf reads");
        assert_same_rows(&format!("borderless {fmt}"), grid_rows(&doc.tables), want);
    }
}

#[test]
fn docx_grids_match_html() {
    for fmt in ["2021", "2019"] {
        let want = html_rows(&fixture(&format!("pdf/r{fmt}.html")));
        let doc = docx::extract(&fixture(&format!("docx/r{fmt}.docx"))).expect("docx reads");
        assert_same_rows(&format!("docx {fmt}"), grid_rows(&doc.tables), want);
    }
}

#[test]
fn ruled_pdf_and_docx_place_cells_alike() {
    // Same columns and the same rowspan repeats, not only the same texts.
    let key = |tables: &[Table]| -> Vec<Vec<(u32, String, bool)>> {
        tables
            .iter()
            .flat_map(|t| &t.rows)
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| (c.col, squash(&c.text), c.spanned))
                    .collect()
            })
            .collect()
    };
    let p = pdf::extract(&fixture("pdf/r2021-ruled.pdf")).expect("pdf reads");
    let d = docx::extract(&fixture("docx/r2021.docx")).expect("docx reads");
    assert_eq!(key(&p.tables), key(&d.tables));
}

#[test]
fn table_over_a_page_break_is_one_table_with_pages() {
    let doc = pdf::extract(&fixture("pdf/r2021-ruled.pdf")).expect("pdf reads");
    let t3 = &doc.tables[1];
    assert!(t3.joined_text().contains("本年新收"));
    assert!(t3.joined_text().contains("结转下年度"));
    let first = t3.rows[0].cells[0].row;
    let last = t3.rows[t3.rows.len() - 1].cells[0].row;
    assert_eq!(t3.page, Some(2));
    assert_eq!(doc.page_of_row(first), Some(2));
    assert_eq!(doc.page_of_row(last), Some(3));
}

#[test]
fn page_numbers_and_running_headers_are_not_text() {
    let doc = pdf::extract(&fixture("pdf/r2021-ruled.pdf")).expect("pdf reads");
    assert!(
        doc.text
            .contains("示例县人民政府2024年政府信息公开工作年度报告")
    );
    assert!(!doc.text.contains("- 2 -") && !doc.text.contains("-2-"));
    assert!(!doc.text.contains("政务公开\n"), "running header dropped");
    assert!(
        !grid_rows(&doc.tables)
            .iter()
            .flatten()
            .any(|c| c.contains("政务公开") || c == "-2-")
    );
}

#[test]
fn scanned_pdf_is_image_only() {
    let doc = pdf::extract(&fixture("pdf/scanned.pdf")).expect("pdf reads");
    assert_eq!(doc.glyphs, 0);
    let r = pdf::parse(&fixture("pdf/scanned.pdf"), "scanned.pdf");
    assert_eq!(r.status, Status::ImageOnly);
    assert!(r.facts.is_empty());
    assert!(r.reason.is_some_and(|s| s.contains("no text layer")));
}

#[test]
fn not_a_pdf_is_unparsed_with_a_reason() {
    let r = pdf::parse(b"<html>not a pdf</html>", "x.pdf");
    assert_eq!(r.status, Status::Unparsed);
    assert!(r.reason.is_some());
    let r = docx::parse(b"PK\x03\x04 word/document.xml but no zip", "x.docx");
    assert_eq!(r.status, Status::Unparsed);
    assert!(r.reason.is_some());
}

/// What a report means, without where its cells sat: the same facts (key, value, state, raw
/// text), the same check results, the same template and metadata.
fn meaning(r: &ParsedReport) -> impl PartialEq + std::fmt::Debug {
    let mut facts: Vec<(String, Option<String>, String, String)> = r
        .facts
        .iter()
        .map(|f| {
            (
                f.metric.clone(),
                f.value.map(|v| format!("{v}")),
                f.state.as_str().to_string(),
                squash(&f.raw),
            )
        })
        .collect();
    facts.sort();
    let mut checks: Vec<(String, String, String)> = r
        .checks
        .iter()
        .map(|c| {
            (
                c.rule.clone(),
                c.subject.clone(),
                c.status.as_str().to_string(),
            )
        })
        .collect();
    checks.sort();
    (
        (r.status, r.format, r.year, r.agency.clone()),
        facts,
        checks,
    )
}

fn parse(rel: &str) -> ParsedReport {
    let bytes = fixture(rel);
    report::parse(&Input {
        bytes: &bytes,
        source: rel,
        content_type: None,
    })
}

#[test]
fn attachments_give_the_same_facts_as_html() {
    for (fmt, n) in [("2021", 200), ("2019", 198)] {
        let html = parse(&format!("pdf/r{fmt}.html"));
        assert_eq!(html.status, Status::Ok, "{fmt}: {:?}", html.reason);
        assert_eq!(html.facts.len(), n);
        for other in [format!("pdf/r{fmt}-ruled.pdf"), format!("docx/r{fmt}.docx")] {
            assert_eq!(meaning(&parse(&other)), meaning(&html), "{other}");
        }
        let flat = parse(&format!("pdf/r{fmt}-flat.html"));
        let borderless = parse(&format!("pdf/r{fmt}-borderless.pdf"));
        assert_eq!(flat.status, Status::Ok, "{fmt} flat: {:?}", flat.reason);
        assert_eq!(meaning(&borderless), meaning(&flat), "{fmt} borderless");
    }
}

#[test]
fn pdf_facts_point_at_their_page() {
    let bytes = fixture("pdf/r2021-ruled.pdf");
    let doc = pdf::extract(&bytes).expect("pdf reads");
    let r = pdf::parse(&bytes, "r2021-ruled.pdf");
    assert_eq!(r.source, "r2021-ruled.pdf");
    let page = |metric: &str| {
        r.fact(metric)
            .and_then(|f| doc.page_of_row(f.row))
            .unwrap_or_else(|| panic!("{metric}"))
    };
    assert_eq!(page("active.rules.issued"), 2);
    assert_eq!(page("requests.new_received.total"), 2);
    assert_eq!(page("requests.carried_forward.total"), 3);
    assert_eq!(page("appeals.review.total"), 3);
}

#[test]
fn a_stub_page_takes_its_facts_from_the_attachment() {
    let stub = "<html><head><title>示例县人民政府2024年政府信息公开工作年度报告</title></head><body>\
        <p>示例县人民政府2024年政府信息公开工作年度报告</p><p>发布日期：2025-01-20</p>\
        <a href=\"/files/r2021.pdf\">附件：年度报告.pdf</a></body></html>";
    let page = report::parse(&Input {
        bytes: stub.as_bytes(),
        source: "http://127.0.0.1/stub.html",
        content_type: None,
    });
    assert_eq!(page.status, Status::AttachmentOnly, "{:?}", page.reason);
    let bytes = fixture("pdf/r2021-ruled.pdf");
    let attachment = report::parse_attachment(&bytes, "http://127.0.0.1/files/r2021.pdf")
        .expect("a PDF is an attachment");
    let r = report::adopt_attachment(&page, attachment);
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.facts.len(), 200);
    assert_eq!(r.source, "http://127.0.0.1/files/r2021.pdf");
    assert_eq!(r.attachments, page.attachments);
    assert_eq!(r.published, page.published);
    assert_eq!(r.year, Some(2024));
}

#[test]
fn scan_with_a_typed_title_is_image_only() {
    let r = pdf::parse(&fixture("pdf/scanned-titled.pdf"), "scanned-titled.pdf");
    assert_eq!(r.status, Status::ImageOnly, "{:?}", r.reason);
    assert!(r.facts.is_empty());
    assert_eq!(r.year, Some(2024));
}

#[test]
fn truncated_pdf_is_damaged_not_a_scan() {
    let bytes = fixture("pdf/r2021-ruled.pdf");
    let r = pdf::parse(&bytes[..3000], "cut.pdf");
    assert_eq!(r.status, Status::Unparsed);
    assert!(r.reason.is_some_and(|s| s.contains("truncated")));
}
