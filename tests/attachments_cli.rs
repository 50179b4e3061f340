//! `gknb parse` reads PDF and DOCX files like HTML ones.

use std::process::Command;

fn gknb_parse_json(rel: &str) -> (Option<i32>, serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    let out = Command::new(env!("CARGO_BIN_EXE_gknb"))
        .args(["parse", "--format", "json"])
        .arg(&path)
        .output()
        .expect("gknb runs");
    let line = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    (out.status.code(), v)
}

#[test]
fn parse_accepts_pdf_and_docx() {
    for rel in ["pdf/r2021-ruled.pdf", "docx/r2021.docx"] {
        let (code, v) = gknb_parse_json(rel);
        assert_eq!(code, Some(0), "{rel}");
        assert_eq!(v["status"], "ok", "{rel}");
        assert_eq!(v["format"], "2021", "{rel}");
        assert_eq!(v["year"], 2024, "{rel}");
        assert_eq!(v["facts"].as_array().map(Vec::len), Some(200), "{rel}");
    }
    let (code, v) = gknb_parse_json("pdf/scanned.pdf");
    assert_eq!(code, Some(0));
    assert_eq!(v["status"], "image_only");
}
