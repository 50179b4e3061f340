//! Damaged attachments: truncated and mutated PDFs and DOCX files must give a clear status
//! (never a panic, never made-up facts), and the grid builder must accept any geometry.

use gknb::model::Status;
use gknb::report::{docx, pdf};
use proptest::prelude::*;

fn fixture(rel: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A damaged file either parses to some report or says why not.
fn assert_clear(r: &gknb::model::ParsedReport) {
    match r.status {
        Status::Unparsed | Status::ImageOnly | Status::AttachmentOnly => {
            assert!(r.reason.is_some(), "status {:?} without a reason", r.status)
        }
        Status::Ok | Status::Invalid | Status::Legacy => {}
    }
}

fn mutate(mut bytes: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    let n = bytes.len();
    for &(at, b) in edits {
        bytes[at % n] = b;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn truncated_pdf(cut in 0usize..70_000) {
        let bytes = fixture("pdf/r2021-ruled.pdf");
        let cut = cut.min(bytes.len());
        let r = pdf::parse(&bytes[..cut], "t.pdf");
        assert_clear(&r);
        // The fixture has text and no images: a cut copy is damaged, never a scan.
        prop_assert_ne!(r.status, Status::ImageOnly, "{:?}", r.reason);
    }

    #[test]
    fn mutated_pdf(edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..40)) {
        let bytes = mutate(fixture("pdf/r2021-ruled.pdf"), &edits);
        assert_clear(&pdf::parse(&bytes, "m.pdf"));
    }

    #[test]
    fn truncated_or_mutated_docx(
        cut in 0usize..40_000,
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..20),
    ) {
        let bytes = fixture("docx/r2021.docx");
        let bytes = mutate(bytes[..cut.min(bytes.len())].to_vec(), &edits);
        assert_clear(&docx::parse(&bytes, "m.docx"));
    }

    #[test]
    fn any_geometry_builds(
        glyphs in prop::collection::vec(
            (any::<char>(), -1e4f32..1e4, 0f32..50.0, -1e4f32..1e4, 0.5f32..40.0), 0..200),
        segs in prop::collection::vec((any::<bool>(), -1e3f32..1e3, -1e3f32..1e3, 0f32..500.0), 0..120),
    ) {
        let page = pdf::PageContent {
            number: 1,
            height: Some(842.0),
            glyphs: glyphs
                .into_iter()
                .map(|(ch, x0, w, base, size)| pdf::Glyph { ch, x0, x1: x0 + w, base, size })
                .collect(),
            segments: segs
                .into_iter()
                .map(|(horizontal, pos, lo, len)| pdf::Segment { horizontal, pos, lo, hi: lo + len })
                .collect(),
        };
        let out = pdf::build(&[page.clone(), page]);
        for t in &out.tables {
            for r in &t.rows {
                prop_assert!(r.cells.iter().all(|c| out.page_of_row(c.row).is_some()));
            }
        }
    }
}
