//! `gknb parse` as a user runs it: JSON Lines shape, readable summary, stdin, exit codes.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_gknb");

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/reports/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn json_lines_have_exactly_the_documented_keys() {
    let out = Command::new(BIN)
        .args(["parse", "--format", "json"])
        .arg(fixture("f2019-basic.html"))
        .arg(fixture("f2021-cell-per-line.txt"))
        .output()
        .expect("run gknb");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for line in lines {
        let v: Value = serde_json::from_str(line).expect("one JSON object per line");
        let mut keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "agency",
                "checks",
                "encoding",
                "facts",
                "format",
                "source",
                "status",
                "title",
                "warnings",
                "year",
                "year_source"
            ]
        );
        let fact = &v["facts"][0];
        let mut fk: Vec<&str> = fact
            .as_object()
            .expect("fact")
            .keys()
            .map(String::as_str)
            .collect();
        fk.sort();
        assert_eq!(
            fk,
            ["col", "metric", "raw", "row", "state", "table", "value"]
        );
        assert!(fact["value"].is_i64(), "whole numbers print without .0");
        let check = &v["checks"][0];
        let mut ck: Vec<&str> = check
            .as_object()
            .expect("check")
            .keys()
            .map(String::as_str)
            .collect();
        ck.sort();
        assert_eq!(
            ck,
            ["actual", "expected", "metrics", "rule", "status", "subject"]
        );
    }
}

#[test]
fn stdin_and_exit_code_for_an_invalid_report() {
    let mut child = Command::new(BIN)
        .args(["parse", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let bytes = std::fs::read(fixture("f2019-passes-t3a-fails-t3b.html")).expect("fixture");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "invalid report exits 1");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["status"], "invalid");
    assert_eq!(v["source"], "-");
}

#[test]
fn readable_summary_shows_tables_and_failed_checks() {
    let out = Command::new(BIN)
        .arg("parse")
        .arg(fixture("f2019-passes-t3a-fails-t3b.html"))
        .output()
        .expect("run gknb");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("table 三"));
    assert!(text.contains("FAIL T3-B [natural_person]"));
    assert!(text.contains("format   2019"));
}

#[test]
fn unreadable_file_exits_2_and_goes_on() {
    let out = Command::new(BIN)
        .args(["parse", "--format", "json", "/nonexistent/report.html"])
        .arg(fixture("f2021-basic.html"))
        .output()
        .expect("run gknb");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/report.html"));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}
