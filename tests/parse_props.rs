//! No input makes the parser panic: random bytes, random markup, and mutations of real-shaped
//! report pages (truncation, byte flips, deleted and duplicated tags, absurd spans).

use gknb::model::Status;
use gknb::report::{self, Input};
use proptest::prelude::*;

fn parse(bytes: &[u8]) -> gknb::model::ParsedReport {
    report::parse(&Input {
        bytes,
        source: "prop",
        content_type: None,
    })
}

fn seed_pages() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reports");
    [
        "f2019-basic.html",
        "f2021-split-labels.html",
        "f2021-cell-per-line.txt",
        "f2019-tab-separated.txt",
    ]
    .iter()
    .map(|n| std::fs::read(format!("{dir}/{n}")).expect("fixture"))
    .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippets = prop::sample::select(vec![
        "<td rowspan=99999 colspan=99999>".to_string(),
        "</table>".to_string(),
        "<table><tr>".to_string(),
        "\t15130000154\n".to_string(),
        "（七）总计".to_string(),
        "行政复议".to_string(),
        "第二十条第（九）项".to_string(),
        "\u{feff}".to_string(),
        "<meta charset=gbk>".to_string(),
        "-99999999999999999999999999".to_string(),
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 0usize..2000).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 0usize..2000).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), snippets).prop_map(|(i, s)| Mutation::Insert(i, s)),
    ]
}

fn apply(mut page: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let len = page.len().max(1);
    match m {
        Mutation::Truncate(i) => page.truncate(i % len),
        Mutation::Flip(i, b) => {
            if let Some(x) = page.get_mut(i % len) {
                *x ^= b;
            }
        }
        Mutation::Delete(i, n) => {
            let start = i % len;
            let end = (start + n).min(page.len());
            page.drain(start.min(end)..end);
        }
        Mutation::Duplicate(i, n) => {
            let start = i % len;
            let end = (start + n).min(page.len());
            let chunk = page[start.min(end)..end].to_vec();
            page.splice(end..end, chunk);
        }
        Mutation::Insert(i, s) => {
            let at = (i % len).min(page.len());
            page.splice(at..at, s.bytes());
        }
    }
    page
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let r = parse(&bytes);
        prop_assert!(r.facts.is_empty() || r.status != Status::Legacy);
    }

    #[test]
    fn random_markup_never_panics(s in "(<(table|tr|td|th|p|span|br)( (rowspan|colspan)=[0-9]{1,6})?>|[0-9一二三四（）、总计其他 \t\n/-]{0,8}){0,200}") {
        let _ = parse(s.as_bytes());
    }

    #[test]
    fn mutated_reports_never_panic(which in 0usize..4, ms in prop::collection::vec(mutation(), 1..6)) {
        let mut page = seed_pages().swap_remove(which);
        for m in &ms {
            page = apply(page, m);
        }
        let r = parse(&page);
        // Whatever came out is internally consistent: facts only with a known format or status.
        if r.status == gknb::model::Status::Ok {
            prop_assert!(!r.facts.is_empty());
        }
    }
}
