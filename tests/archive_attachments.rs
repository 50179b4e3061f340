//! A report page whose tables live in an attachment: once the attachment is archived,
//! `reparse` (and `import`) give the agency-year the attachment's facts, stored on the
//! attachment's document with each fact's PDF page.

use gknb::model::Status;
use gknb::report::{self, Input};
use gknb::store::pipeline::{ReparseOptions, reparse};
use gknb::store::{AgencyHint, Archive, DocumentKind, NewDocument};

const STUB: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
<title>示例县人民政府2024年政府信息公开工作年度报告</title></head><body>\
<h2>示例县人民政府2024年政府信息公开工作年度报告</h2><p>发布日期：2025-01-20</p>\
<p>附件：<a href=\"../att/report2021.pdf\">年度报告.pdf</a></p></body></html>";

fn pdf() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pdf/r2021-ruled.pdf"
    ))
    .expect("pdf fixture")
}

fn hint() -> AgencyHint {
    AgencyHint {
        name: Some("示例县人民政府".into()),
        region: "320000".into(),
        portal: None,
    }
}

/// Archives the PDF the stubs link, as the crawler would have fetched it.
fn store_pdf(archive: &mut Archive) {
    let pdf = pdf();
    archive
        .put_document(&doc(
            "http://127.0.0.9/nb/att/report2021.pdf",
            &pdf,
            DocumentKind::Attachment,
            "application/pdf",
        ))
        .expect("store attachment");
}

/// The agency-year's primary report is the PDF's, with all its facts.
fn assert_the_pdf_is_primary(archive: &Archive) {
    let (url, status, facts): (String, String, i64) = archive
        .conn()
        .query_row(
            "SELECT url, status, fact_count FROM reports WHERE is_primary = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("primary report");
    assert_eq!(url, "http://127.0.0.9/nb/att/report2021.pdf");
    assert_eq!(status, "ok");
    assert_eq!(facts, 200);
}

fn doc<'a>(url: &'a str, bytes: &'a [u8], kind: DocumentKind, ct: &'a str) -> NewDocument<'a> {
    NewDocument {
        url,
        final_url: None,
        fetched_at: None,
        http_status: Some(200),
        headers: None,
        content_type: Some(ct),
        declared_encoding: None,
        detected_encoding: None,
        bytes,
        kind,
    }
}

#[test]
fn reparse_upgrades_an_attachment_only_page_once_its_attachment_is_archived() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("a.sqlite");
    let mut archive = Archive::open(&db).expect("open");
    let page_url = "http://127.0.0.9/nb/2022/t20220120_1.html";
    let hint = hint();
    let page = report::parse(&Input {
        bytes: STUB.as_bytes(),
        source: page_url,
        content_type: Some("text/html"),
    });
    assert_eq!(page.status, Status::AttachmentOnly);
    archive
        .store_report(
            &doc(page_url, STUB.as_bytes(), DocumentKind::Report, "text/html"),
            &page,
            &hint,
        )
        .expect("store page");
    store_pdf(&mut archive);

    let summary =
        reparse(&mut archive, &ReparseOptions { workers: 1 }, &mut || {}).expect("reparse");
    assert_eq!(summary.attachments.adopted, 1, "{summary:?}");
    assert_the_pdf_is_primary(&archive);
    let (paged, agency): (i64, String) = archive
        .conn()
        .query_row(
            "SELECT count(source_page), min(agency) FROM facts_labeled",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("facts");
    assert_eq!(paged, 200, "every fact names its PDF page");
    assert_eq!(agency, "示例县人民政府");

    // Idempotent: a second run adopts nothing new and changes nothing.
    let again = reparse(&mut archive, &ReparseOptions { workers: 1 }, &mut || {}).expect("reparse");
    assert_eq!(again.attachments.adopted, 0);
    assert_eq!(again.changed_reports, 0);
}

/// A stub split over two pages (TRS `createPageHTML(2, 0, …)`), its attachment linked only from
/// the second, and the first page reached through a redirect from an older address: the
/// further page and the attachment resolve against where the page was served from, as the
/// crawler resolved them.
#[test]
fn a_split_stub_behind_a_redirect_is_read_from_all_its_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("a.sqlite");
    let mut archive = Archive::open(&db).expect("open");
    let listed = "http://127.0.0.9/old/nb/2022/t20220120_7.html";
    let served = "http://127.0.0.9/nb/2022/t20220120_7.html";
    let pager = |k: u8| {
        format!(
            "<div id=\"pagenav\"><script>createPageHTML(2, {k}, \"t20220120_7\", \"html\");</script></div>"
        )
    };
    let head = "<!DOCTYPE html><html><head><meta charset=\"utf-8\">\
<title>示例县人民政府2024年政府信息公开工作年度报告</title></head><body>\
<h2>示例县人民政府2024年政府信息公开工作年度报告</h2><p>发布日期：2025-01-20</p>";
    let first = format!(
        "{head}<p>报告全文见下一页附件。</p>{}</body></html>",
        pager(0)
    );
    let second = format!(
        "{head}<p>附件：<a href=\"../att/report2021.pdf\">年度报告.pdf</a></p>{}</body></html>",
        pager(1)
    );
    let hint = hint();
    // Stored as a first look at the page alone would have it.
    let page = report::parse(&Input {
        bytes: first.as_bytes(),
        source: listed,
        content_type: Some("text/html"),
    });
    let mut page_doc = doc(listed, first.as_bytes(), DocumentKind::Report, "text/html");
    page_doc.final_url = Some(served);
    archive
        .store_report(&page_doc, &page, &hint)
        .expect("store page");
    archive
        .put_document(&doc(
            "http://127.0.0.9/nb/2022/t20220120_7_1.html",
            second.as_bytes(),
            DocumentKind::Attachment,
            "text/html",
        ))
        .expect("store the second page");
    store_pdf(&mut archive);

    let summary =
        reparse(&mut archive, &ReparseOptions { workers: 1 }, &mut || {}).expect("reparse");
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    assert_eq!(summary.attachments.adopted, 1, "{summary:?}");
    let (status, warnings): (String, String) = archive
        .conn()
        .query_row(
            "SELECT status, warnings FROM reports WHERE url = ?1",
            [served],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the page's report");
    assert_eq!(status, "attachment_only");
    assert!(!warnings.contains("page_missing"), "{warnings}");
    assert_the_pdf_is_primary(&archive);
}
