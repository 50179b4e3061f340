//! Decoding real-shaped GBK report pages, and a property test that no input makes `decode`
//! panic.

use gknb::decode::{EncodingSource, RejectReason, decode};
use gknb::model::Format;
use gknb::report::{self, Input};
use proptest::prelude::*;

const META_ONLY: &[u8] = include_bytes!("fixtures/gbk/gbk-meta-only.html");
const UNDECLARED: &[u8] = include_bytes!("fixtures/gbk/gbk-undeclared.html");

const META_ONLY_TITLE: &str = "2022年临溪县交通运输局政府信息公开工作年度报告";
const UNDECLARED_TITLE: &str = "2022年桐川县市场监督管理局政府信息公开工作年度报告";

#[test]
fn fixtures_are_gbk_not_utf8() {
    assert!(String::from_utf8(META_ONLY.to_vec()).is_err());
    assert!(String::from_utf8(UNDECLARED.to_vec()).is_err());
}

#[test]
fn meta_only_page_decodes_by_its_meta() {
    let d = decode(META_ONLY, None);
    assert_eq!(d.encoding, "gb18030");
    assert_eq!(d.source, EncodingSource::Meta);
    assert_eq!(d.declared.as_deref(), Some("gb2312"));
    assert!(!d.had_errors);
    assert!(d.rejected.is_empty());
    assert!(
        d.text
            .contains(&format!("<title>{META_ONLY_TITLE}</title>"))
    );
    assert!(d.text.contains("本年收费金额（单位：万元）"));
    assert!(d.text.contains("危及“三安全一稳定”"));
    assert_eq!(d.describe(), "gb18030 (meta)");
}

#[test]
fn meta_only_page_with_a_lying_utf8_header() {
    let d = decode(META_ONLY, Some("text/html; charset=UTF-8"));
    assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
    assert_eq!(d.rejected.len(), 1);
    assert_eq!(d.rejected[0].source, EncodingSource::Header);
    assert_eq!(d.rejected[0].reason, RejectReason::Malformed);
    assert!(d.text.contains(META_ONLY_TITLE));
}

#[test]
fn meta_only_page_with_a_latin1_header() {
    let d = decode(META_ONLY, Some("text/html; charset=ISO-8859-1"));
    assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
    assert_eq!(d.rejected[0].reason, RejectReason::Contradicted);
    assert!(d.text.contains(META_ONLY_TITLE));
}

#[test]
fn undeclared_page_is_detected() {
    let d = decode(UNDECLARED, Some("text/html"));
    assert_eq!(d.encoding, "gb18030");
    assert_eq!(d.source, EncodingSource::Detector);
    assert_eq!(d.declared, None);
    assert!(!d.had_errors);
    assert!(
        d.text
            .contains(&format!("<title>{UNDECLARED_TITLE}</title>"))
    );
    assert!(d.text.contains("结转下年度继续办理"));
}

#[test]
fn undeclared_page_with_a_lying_utf8_header() {
    let d = decode(UNDECLARED, Some("text/html; charset=utf-8"));
    assert_eq!(
        (d.encoding, d.source),
        ("gb18030", EncodingSource::Detector)
    );
    assert_eq!(d.declared.as_deref(), Some("utf-8"));
    assert!(d.text.contains(UNDECLARED_TITLE));
}

#[test]
fn declared_gbk_header_is_used_directly() {
    let d = decode(UNDECLARED, Some("text/html; charset=GBK"));
    assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Header));
    assert!(d.text.contains(UNDECLARED_TITLE));
}

/// End to end: the decoded pages parse into a full format-2021 report with the values listed in
/// `fixtures/gbk/README.md`, and every accounting identity holds.
#[test]
fn gbk_fixtures_parse_end_to_end() {
    type Case<'a> = (&'a [u8], &'a str, &'a str, [(&'a str, f64); 5]);
    let cases: [Case; 2] = [
        (
            META_ONLY,
            "临溪县交通运输局",
            "gb18030 (meta)",
            [
                ("requests.new_received.total", 47.0),
                ("requests.total_handled.total", 46.0),
                ("active.fees.amount_wan_yuan", 56.83),
                ("active.licensing.decisions", 1286.0),
                ("appeals.suit_direct.total", 2.0),
            ],
        ),
        (
            UNDECLARED,
            "桐川县市场监督管理局",
            "gb18030 (detector)",
            [
                ("requests.new_received.total", 128.0),
                ("requests.total_handled.total", 124.0),
                ("active.fees.amount_wan_yuan", 12.4),
                ("active.licensing.decisions", 4521.0),
                ("appeals.review.total", 4.0),
            ],
        ),
    ];
    for (bytes, agency, encoding, values) in cases {
        let r = report::parse(&Input {
            bytes,
            source: agency,
            content_type: None,
        });
        assert_eq!(r.encoding, encoding);
        assert_eq!(r.format, Format::F2021, "{agency}");
        assert_eq!(r.year, Some(2022), "{agency}");
        assert_eq!(r.agency.as_deref(), Some(agency));
        assert_eq!(r.facts.len(), 200, "{agency}");
        for (metric, value) in values {
            let fact = r
                .fact(metric)
                .unwrap_or_else(|| panic!("{agency}: {metric} missing"));
            assert_eq!(fact.value, Some(value), "{agency}: {metric}");
        }
        assert!(!r.checks.is_empty());
        let failed: Vec<_> = r.failed_checks().collect();
        assert!(failed.is_empty(), "{agency}: {failed:?}");
    }
}

/// Content types: absent, plain, with well-known, odd or random labels.
fn content_type() -> impl Strategy<Value = Option<String>> {
    let label = prop_oneof![
        Just("utf-8".to_string()),
        Just("gbk".to_string()),
        Just("GB2312".to_string()),
        Just("iso-8859-1".to_string()),
        Just("utf-16".to_string()),
        Just("utf-16be".to_string()),
        Just("iso-2022-kr".to_string()),
        Just("x-user-defined".to_string()),
        Just("big5".to_string()),
        Just("shift_jis".to_string()),
        ".{0,12}",
    ];
    prop_oneof![
        Just(None),
        Just(Some("text/html".to_string())),
        label.prop_map(|l| Some(format!("text/html; charset={l}"))),
        ".{0,40}".prop_map(Some),
    ]
}

/// Byte soups that reach the prescan's corners: meta tags, comments, quotes, cut-off input,
/// BOMs, GBK and UTF-8 fragments, random bytes.
fn html_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"<meta charset=".to_vec()),
        Just(b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\">".to_vec()),
        Just(b"<META content='charset=\"".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"-->".to_vec()),
        Just(b"<!".to_vec()),
        Just(b"</".to_vec()),
        Just(b"<?".to_vec()),
        Just(b"<a ".to_vec()),
        Just(b"=".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\"".to_vec()),
        Just(b">".to_vec()),
        Just(b"/".to_vec()),
        Just(vec![0xEF, 0xBB, 0xBF]),
        Just(vec![0xFF, 0xFE]),
        Just(vec![0xFE, 0xFF]),
        Just(vec![0x00]),
        Just(vec![0x1B, b'$', b'B']),
        Just("公开".as_bytes().to_vec()),
        Just(vec![0xB9, 0xAB, 0xBF, 0xAA]),
        Just(vec![0x81]),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_random_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        ct in content_type(),
    ) {
        let d = decode(&bytes, ct.as_deref());
        prop_assert!(!d.encoding.is_empty());
        prop_assert_eq!(d.encoding, d.encoding.to_ascii_lowercase());
    }

    #[test]
    fn never_panics_on_html_like_bytes(bytes in html_bytes(), ct in content_type()) {
        let d = decode(&bytes, ct.as_deref());
        prop_assert_eq!(d.encoding, d.encoding.to_ascii_lowercase());
        // Valid UTF-8 without a BOM is never read as anything else unless a declaration fits.
        if std::str::from_utf8(&bytes).is_ok() && d.source == EncodingSource::Detector {
            prop_assert_eq!(d.encoding, "utf-8");
            prop_assert_eq!(d.text.as_bytes(), &bytes[..]);
        }
    }
}
