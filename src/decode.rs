//! Bytes to text: BOM, then the declared charset (HTTP header, else `<meta>` per the WHATWG
//! prescan, extended to 16 KiB when the first 1024 bytes declare nothing), then a detector
//! (chardetng) when nothing is declared or the declaration is contradicted by the bytes. GBK
//! and GB2312 are decoded as GB18030 (a superset).
//!
//! Real portals lie about their encoding: a server answers `charset=UTF-8` for pages whose bytes
//! and `<meta>` are GBK, or a CMS template says `ISO-8859-1` over Chinese text. A declaration is
//! therefore only used when it fits the bytes:
//!
//! * a multi-byte declaration (UTF-8, GB18030, Big5, Shift_JIS, …) fits when the bytes decode
//!   without a single error;
//! * a single-byte declaration (windows-1252, ISO-8859-x, …) decodes anything, so "fits" means:
//!   either the bytes are pure ASCII, or chardetng — run with the TLD hint `cn`, since this tool
//!   reads Chinese government portals — does not guess a multi-byte encoding (UTF-8, GBK, Big5,
//!   …) that decodes the bytes cleanly. Only this case pays for a detector run when a
//!   declaration exists;
//! * a UTF-16 declaration without a BOM fits only when the first bytes contain NULs (HTML in
//!   UTF-16 has a NUL in every ASCII character; a page served as "utf-16" without them is not).
//!
//! Declarations are tried in order header, then meta; when both exist, differ and the bytes are
//! valid non-ASCII UTF-8 while one of them says UTF-8, that one is used (valid UTF-8 is very
//! strong evidence). A multi-byte declaration with a stray bad byte (at most one replacement
//! character per 200 non-ASCII characters) still fits, with [`Decoded::had_errors`] set.
//!
//! When no declaration fits, valid UTF-8 is UTF-8; anything else goes to chardetng, fed a
//! sample of the page with the markup's long ASCII runs cut (see `sample`), and its guess is
//! checked against the whole input. With the `cn` hint chardetng picks GBK unless GBK is ruled
//! out, so a confident unhinted guess of Big5, Shift_JIS, EUC-JP or EUC-KR is taken first. When
//! even the guess does not decode cleanly, the attempt with the fewest replacement characters
//! wins (declarations first on ties). Every rejected declaration is kept in
//! [`Decoded::rejected`], so the archive can say why the page was not read as it claimed.
//!
//! Cost (release build, ~85 KB report pages, 2-core machine shared with other builds): a
//! fitting declaration 25–60 µs (one decode, one copy); the detector 0.6–1.8 ms, paid only by
//! undeclared pages, contradicted declarations and single-byte declarations over non-ASCII
//! bytes.

use std::borrow::Cow;

use chardetng::EncodingDetector;
use encoding_rs::Encoding;

/// How many bytes the `<meta>` prescan looks at (the WHATWG limit).
const PRESCAN_LIMIT: usize = 1024;

/// How far the prescan looks when the first [`PRESCAN_LIMIT`] bytes declare nothing. Browsers
/// also honour a `<meta>` met later in `<head>` (the parser's "change the encoding" step), and
/// portal templates put long scripts and comment banners before it; finding it here is far
/// cheaper than running the detector, and the declaration is still checked against the bytes.
const PRESCAN_EXTENDED: usize = 16 * 1024;

/// How many bytes of [`sample`] chardetng reads before guessing: well over a thousand CJK
/// characters on a report page, plenty for a confident guess. chardetng costs about 0.15 ms per
/// KiB of sample (release build), so this bounds the detector at roughly 0.6 ms per page. A
/// sample of the whole input is only read when the first guess does not decode cleanly.
const DETECT_SAMPLE: usize = 4 * 1024;

/// How many bytes of each end of a long ASCII run [`sample`] keeps.
const SAMPLE_KEEP: usize = 4;

/// The top-level-domain hint for chardetng: the portals are under `.gov.cn` (see [`guess`]).
const TLD_HINT: &[u8] = b"cn";

/// Why an encoding was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// A byte-order mark.
    Bom,
    /// The HTTP `Content-Type` charset.
    Header,
    /// `<meta charset>` or `<meta http-equiv="Content-Type">` in the first bytes.
    Meta,
    /// Nothing declared (or the declaration did not fit the bytes): guessed by chardetng.
    Detector,
}

impl EncodingSource {
    /// Stable name used in reports and the archive.
    pub fn as_str(self) -> &'static str {
        match self {
            EncodingSource::Bom => "bom",
            EncodingSource::Header => "header",
            EncodingSource::Meta => "meta",
            EncodingSource::Detector => "detector",
        }
    }
}

/// Why a declared charset was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The label names no encoding known to the WHATWG Encoding Standard.
    UnknownLabel,
    /// The label names the WHATWG `replacement` encoding (ISO-2022-KR, HZ-GB-2312, …), which
    /// would turn the whole page into one replacement character.
    Unsupported,
    /// Decoding with it produced errors (replacement characters).
    Malformed,
    /// It decodes, but the bytes clearly are something else (single-byte declaration over
    /// UTF-8 or CJK bytes, UTF-16 declaration over ASCII-compatible bytes, or a conflicting
    /// declaration lost to valid UTF-8).
    Contradicted,
}

impl RejectReason {
    /// Stable name used in reports and the archive.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownLabel => "unknown_label",
            RejectReason::Unsupported => "unsupported",
            RejectReason::Malformed => "malformed",
            RejectReason::Contradicted => "contradicted",
        }
    }
}

/// A declaration that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where the declaration came from ([`EncodingSource::Header`] or [`EncodingSource::Meta`]).
    pub source: EncodingSource,
    /// The label as written.
    pub label: String,
    /// Why it was not used.
    pub reason: RejectReason,
}

/// A decoded document.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The document as text.
    pub text: String,
    /// WHATWG name of the encoding used, lower case (`utf-8`, `gb18030`).
    pub encoding: &'static str,
    /// Why that encoding: BOM, header, meta or detector.
    pub source: EncodingSource,
    /// The charset the document declared (header or meta), if any, as written: the declaration
    /// that was used, else the first one found (header before meta).
    pub declared: Option<String>,
    /// Whether the text contains replacement characters produced by decoding.
    pub had_errors: bool,
    /// Declarations that were found but not used, in the order they were tried.
    pub rejected: Vec<Rejected>,
}

impl Decoded {
    /// `gb18030 (meta)`: the encoding and why, as shown to people.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.encoding, self.source.as_str())
    }

    /// [`describe`](Self::describe) plus the rejected declarations and decoding errors, e.g.
    /// `gb18030 (meta); header "UTF-8" malformed`.
    pub fn explain(&self) -> String {
        let mut out = self.describe();
        for r in &self.rejected {
            out.push_str(&format!(
                "; {} {:?} {}",
                r.source.as_str(),
                r.label,
                r.reason.as_str()
            ));
        }
        if self.had_errors {
            out.push_str("; decoding errors");
        }
        out
    }
}

/// Decodes `bytes`; `content_type` is the HTTP header value when there is one.
///
/// Never panics, whatever the input; see the module documentation for the order of evidence.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let header = content_type
        .and_then(charset_param)
        .map(|label| Declaration {
            source: EncodingSource::Header,
            label: label.to_string(),
            encoding: label_to_encoding(label.as_bytes(), EncodingSource::Header),
        });
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let body = bytes.get(bom_len..).unwrap_or_default();
        let (text, had_errors) = encoding.decode_without_bom_handling(body);
        return Decoded {
            text: text.into_owned(),
            encoding: whatwg_name(encoding),
            source: EncodingSource::Bom,
            declared: header.map(|d| d.label),
            had_errors,
            rejected: Vec::new(),
        };
    }
    let meta = meta_label(bytes).map(|label| Declaration {
        source: EncodingSource::Meta,
        encoding: label_to_encoding(&label, EncodingSource::Meta),
        label: String::from_utf8_lossy(&label).into_owned(),
    });
    let declarations: Vec<Declaration> = header.into_iter().chain(meta).collect();
    choose(bytes, declarations)
}

/// The `<meta>` charset label: the WHATWG prescan of the first [`PRESCAN_LIMIT`] bytes, then of
/// the first [`PRESCAN_EXTENDED`] bytes.
fn meta_label(bytes: &[u8]) -> Option<Vec<u8>> {
    prescan(&bytes[..bytes.len().min(PRESCAN_LIMIT)]).or_else(|| {
        if bytes.len() <= PRESCAN_LIMIT {
            return None;
        }
        prescan(&bytes[..bytes.len().min(PRESCAN_EXTENDED)])
    })
}

/// A charset declaration found in the header or the `<meta>` prescan.
#[derive(Debug)]
struct Declaration {
    source: EncodingSource,
    label: String,
    /// `Err` when the label cannot be used.
    encoding: Result<&'static Encoding, RejectReason>,
}

/// What trying one encoding on the bytes gave.
enum Assessment<'a> {
    /// It fits: here is the text, and whether it has decoding errors.
    Fits(Cow<'a, str>, bool),
    /// It does not fit; if a detector ran and found a clean alternative, here it is.
    Misfit(RejectReason, Option<Detected<'a>>),
}

/// Picks among the declarations (in priority order), falling back to the detector.
fn choose(bytes: &[u8], mut declarations: Vec<Declaration>) -> Decoded {
    let first_label = declarations.first().map(|d| d.label.clone());
    let mut rejected = Vec::new();
    for beaten in declarations.drain(..beaten_by_valid_utf8(bytes, &declarations)) {
        let reason = beaten.encoding.err().unwrap_or(RejectReason::Contradicted);
        rejected.push(reject(&beaten, reason));
    }
    let mut detected: Option<Detected<'_>> = None;
    let mut malformed: Vec<(&'static Encoding, EncodingSource, String)> = Vec::new();
    for declaration in declarations {
        let encoding = match declaration.encoding {
            Ok(encoding) => encoding,
            Err(reason) => {
                rejected.push(reject(&declaration, reason));
                continue;
            }
        };
        match assess(encoding, bytes) {
            Assessment::Fits(text, had_errors) => {
                return Decoded {
                    text: text.into_owned(),
                    encoding: whatwg_name(encoding),
                    source: declaration.source,
                    declared: Some(declaration.label),
                    had_errors,
                    rejected,
                };
            }
            Assessment::Misfit(reason, alternative) => {
                rejected.push(reject(&declaration, reason));
                if reason == RejectReason::Malformed {
                    malformed.push((encoding, declaration.source, declaration.label));
                }
                detected = detected.or(alternative);
            }
        }
    }
    let detected = detected.unwrap_or_else(|| detect(bytes));
    if detected.had_errors && !malformed.is_empty() {
        return fewest_errors(bytes, malformed, detected, rejected);
    }
    Decoded {
        text: detected.text.into_owned(),
        encoding: whatwg_name(detected.encoding),
        source: EncodingSource::Detector,
        declared: first_label,
        had_errors: detected.had_errors,
        rejected,
    }
}

/// How many leading declarations lose to a later UTF-8 declaration because the bytes are
/// valid non-ASCII UTF-8: valid UTF-8 is far stronger evidence than declaration order.
fn beaten_by_valid_utf8(bytes: &[u8], declarations: &[Declaration]) -> usize {
    let says_utf8 = |d: &Declaration| d.encoding == Ok(encoding_rs::UTF_8);
    match declarations.iter().position(says_utf8) {
        Some(position)
            if position > 0 && !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() =>
        {
            position
        }
        _ => 0,
    }
}

/// Decides whether `encoding` fits `bytes` (see the module documentation).
fn assess<'a>(encoding: &'static Encoding, bytes: &'a [u8]) -> Assessment<'a> {
    if encoding == encoding_rs::UTF_8 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Assessment::Fits(Cow::Borrowed(text), false);
        }
        if utf8_nearly_clean(bytes) {
            return Assessment::Fits(String::from_utf8_lossy(bytes), true);
        }
        return Assessment::Misfit(RejectReason::Malformed, None);
    }
    if (encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE)
        && !bytes[..bytes.len().min(PRESCAN_LIMIT)].contains(&0)
    {
        return Assessment::Misfit(RejectReason::Contradicted, None);
    }
    if encoding.is_single_byte() {
        return assess_single_byte(encoding, bytes);
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if !had_errors || nearly_clean(&text) {
        return Assessment::Fits(text, had_errors);
    }
    Assessment::Misfit(RejectReason::Malformed, None)
}

/// A declared multi-byte encoding that leaves at most one replacement character per 200 other
/// non-ASCII characters (and at least one is allowed) still fits: a stray byte or a download
/// cut inside a character should not throw the declaration away. Bytes in the wrong encoding
/// give far more errors than that (GBK read as UTF-8 fails on most characters).
fn nearly_clean(text: &str) -> bool {
    let (mut errors, mut others) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        match c {
            '\u{FFFD}' => errors += 1,
            _ => others += 1,
        }
    }
    errors * 200 <= others.max(200)
}

/// [`nearly_clean`] for UTF-8 without decoding: counts invalid sequences and valid non-ASCII
/// characters, and stops as soon as the errors exceed what even the rest of the input could
/// excuse (bytes in another encoding fail within the first lines of text).
fn utf8_nearly_clean(bytes: &[u8]) -> bool {
    let (mut errors, mut others, mut seen) = (0usize, 0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        others += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        errors += usize::from(!chunk.invalid().is_empty());
        seen += chunk.valid().len() + chunk.invalid().len();
        if errors > 1 && errors * 200 > others + (bytes.len() - seen) {
            return false;
        }
    }
    errors * 200 <= others.max(200)
}

/// A single-byte declaration decodes anything; it is contradicted when the bytes are valid
/// non-ASCII UTF-8 or chardetng (TLD hint `cn`) finds a multi-byte encoding that decodes them
/// cleanly. The detector runs only when there are high-bit bytes.
fn assess_single_byte<'a>(encoding: &'static Encoding, bytes: &'a [u8]) -> Assessment<'a> {
    if !bytes.is_ascii() {
        let detected = detect(bytes);
        if !detected.had_errors && !detected.encoding.is_single_byte() {
            return Assessment::Misfit(RejectReason::Contradicted, Some(detected));
        }
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Assessment::Fits(text, had_errors)
}

/// Nothing fits cleanly: the attempt with the fewest replacement characters wins, declarations
/// (in priority order) before the detector's guess on ties. Rare, so decoding again is fine.
fn fewest_errors(
    bytes: &[u8],
    malformed: Vec<(&'static Encoding, EncodingSource, String)>,
    detected: Detected<'_>,
    rejected: Vec<Rejected>,
) -> Decoded {
    let guess_errors = count_replacements(&detected.text);
    let mut best: Option<(usize, &'static Encoding, EncodingSource, String, String)> = None;
    for (encoding, source, label) in malformed {
        let text = encoding.decode_without_bom_handling(bytes).0.into_owned();
        let errors = count_replacements(&text);
        if best.as_ref().is_none_or(|b| errors < b.0) {
            best = Some((errors, encoding, source, label, text));
        }
    }
    let first_label = rejected.first().map(|r| r.label.clone());
    match best {
        Some((errors, encoding, source, label, text)) if errors <= guess_errors => {
            let rejected = rejected
                .into_iter()
                .filter(|r| r.source != source)
                .collect();
            Decoded {
                text,
                encoding: whatwg_name(encoding),
                source,
                declared: Some(label),
                had_errors: true,
                rejected,
            }
        }
        _ => Decoded {
            text: detected.text.into_owned(),
            encoding: whatwg_name(detected.encoding),
            source: EncodingSource::Detector,
            declared: first_label,
            had_errors: true,
            rejected,
        },
    }
}

fn count_replacements(text: &str) -> usize {
    text.matches('\u{FFFD}').count()
}

fn reject(declaration: &Declaration, reason: RejectReason) -> Rejected {
    Rejected {
        source: declaration.source,
        label: declaration.label.clone(),
        reason,
    }
}

/// The detector's pick and the text it gives.
struct Detected<'a> {
    encoding: &'static Encoding,
    text: Cow<'a, str>,
    had_errors: bool,
}

/// Valid UTF-8 (pure ASCII included) is taken as UTF-8 without running chardetng; otherwise
/// chardetng's guess (GBK reported as GB18030). chardetng first reads a [`sample`] of at most
/// [`DETECT_SAMPLE`] bytes, and a sample of the whole input only when the first guess does not
/// decode the input cleanly.
fn detect(bytes: &[u8]) -> Detected<'_> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Detected {
            encoding: encoding_rs::UTF_8,
            text: Cow::Borrowed(text),
            had_errors: false,
        };
    }
    let (first, whole) = sample(bytes, DETECT_SAMPLE);
    let encoding = guess(&first, whole);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if !had_errors || whole {
        return Detected {
            encoding,
            text,
            had_errors,
        };
    }
    let (all, _) = sample(bytes, usize::MAX);
    let encoding = guess(&all, true);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    Detected {
        encoding,
        text,
        had_errors,
    }
}

/// What chardetng reads: the input with every long ASCII run (markup, scripts, styles) cut to
/// its first and last [`SAMPLE_KEEP`] bytes around a space, up to `budget` bytes; and whether
/// that covers the whole input. chardetng learns from non-ASCII bytes and their immediate
/// neighbours (a GBK trail byte may be ASCII, and Latin scoring looks at adjacent letters), so
/// this keeps its verdict while cutting its work on a typical portal page by an order of
/// magnitude. ISO-2022-JP is all ASCII (escape sequences), so input with an ESC byte is passed
/// unchanged.
fn sample(bytes: &[u8], budget: usize) -> (Vec<u8>, bool) {
    if bytes.contains(&0x1B) {
        let end = bytes.len().min(budget);
        return (bytes[..end].to_vec(), end == bytes.len());
    }
    let mut out = Vec::with_capacity(bytes.len().min(budget));
    let mut i = 0;
    while i < bytes.len() && out.len() < budget {
        let ascii_end = bytes[i..]
            .iter()
            .position(|&b| b >= 0x80)
            .map_or(bytes.len(), |n| i + n);
        let run = &bytes[i..ascii_end];
        if run.len() > 2 * SAMPLE_KEEP + 1 {
            out.extend_from_slice(&run[..SAMPLE_KEEP]);
            out.push(b' ');
            out.extend_from_slice(&run[run.len() - SAMPLE_KEEP..]);
        } else {
            out.extend_from_slice(run);
        }
        let high_end = bytes[ascii_end..]
            .iter()
            .position(|&b| b < 0x80)
            .map_or(bytes.len(), |n| ascii_end + n);
        let room = budget.saturating_sub(out.len());
        let take = (high_end - ascii_end).min(room);
        out.extend_from_slice(&bytes[ascii_end..ascii_end + take]);
        i = ascii_end + take;
    }
    (out, i >= bytes.len())
}

/// chardetng's guess. With the `cn` hint chardetng takes GBK whenever GBK is not ruled out,
/// which would read an undeclared Big5, Shift_JIS or EUC-KR page as GBK (they decode
/// "cleanly" as GBK, so the error check cannot catch it). So the guess without a hint comes
/// first when it is confident and names another CJK encoding; the `cn`-hinted guess decides
/// everything else, which is what keeps short GBK snippets from being read as something else.
fn guess(bytes: &[u8], last: bool) -> &'static Encoding {
    let mut detector = EncodingDetector::new();
    detector.feed(bytes, last);
    let (generic, confident) = detector.guess_assess(None, true);
    let other_cjk = [
        encoding_rs::BIG5,
        encoding_rs::SHIFT_JIS,
        encoding_rs::EUC_JP,
        encoding_rs::EUC_KR,
        encoding_rs::ISO_2022_JP,
    ];
    if confident && other_cjk.contains(&generic) {
        return generic;
    }
    normalize(detector.guess(Some(TLD_HINT), true))
}

/// GBK (and so the labels gb2312, gbk, x-gbk, …) is decoded as its superset GB18030.
fn normalize(encoding: &'static Encoding) -> &'static Encoding {
    match encoding == encoding_rs::GBK {
        true => encoding_rs::GB18030,
        false => encoding,
    }
}

/// The encoding a label names, with the WHATWG adjustments for `<meta>` (UTF-16 means UTF-8,
/// x-user-defined means windows-1252) and GBK read as GB18030.
fn label_to_encoding(
    label: &[u8],
    source: EncodingSource,
) -> Result<&'static Encoding, RejectReason> {
    let encoding = Encoding::for_label(label).ok_or(RejectReason::UnknownLabel)?;
    if encoding == encoding_rs::REPLACEMENT {
        return Err(RejectReason::Unsupported);
    }
    if source == EncodingSource::Meta {
        if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
            return Ok(encoding_rs::UTF_8);
        }
        if encoding == encoding_rs::X_USER_DEFINED {
            return Ok(encoding_rs::WINDOWS_1252);
        }
    }
    Ok(normalize(encoding))
}

/// The `charset` parameter of a `Content-Type` value, unquoted and trimmed; `None` when absent
/// or empty.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .map(|v| v.split('"').next().unwrap_or_default())
            .unwrap_or(value)
            .trim();
        (!value.is_empty()).then_some(value)
    })
}

/// Lower-case WHATWG names of every encoding encoding_rs knows, so [`Decoded::encoding`] can be
/// `&'static str` without allocating.
const WHATWG_NAMES: [&str; 40] = [
    "big5",
    "euc-jp",
    "euc-kr",
    "gb18030",
    "gbk",
    "ibm866",
    "iso-2022-jp",
    "iso-8859-10",
    "iso-8859-13",
    "iso-8859-14",
    "iso-8859-15",
    "iso-8859-16",
    "iso-8859-2",
    "iso-8859-3",
    "iso-8859-4",
    "iso-8859-5",
    "iso-8859-6",
    "iso-8859-7",
    "iso-8859-8",
    "iso-8859-8-i",
    "koi8-r",
    "koi8-u",
    "macintosh",
    "replacement",
    "shift_jis",
    "utf-16be",
    "utf-16le",
    "utf-8",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "windows-874",
    "x-mac-cyrillic",
    "x-user-defined",
];

fn whatwg_name(encoding: &'static Encoding) -> &'static str {
    let name = encoding.name();
    WHATWG_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("utf-8")
}

// ---------------------------------------------------------------------------------------------
// The WHATWG "prescan a byte stream to determine its encoding" algorithm
// (https://html.spec.whatwg.org/#prescan-a-byte-stream-to-determine-its-encoding), returning the
// raw label rather than the encoding so the label can be recorded as written. Running out of
// bytes anywhere ends the prescan with no result, as the spec says.
// ---------------------------------------------------------------------------------------------

/// The charset label declared by the first effective `<meta>` in `bytes`.
fn prescan(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if rest.starts_with(b"<!--") {
            // The "-->" may share its hyphens with "<!--" ("<!-->" is a complete comment).
            let end = find(&bytes[pos + 2..], b"-->")?;
            pos += 2 + end + 3;
        } else if starts_with_ignore_case(rest, b"<meta")
            && rest.get(5).is_some_and(|&b| is_space(b) || b == b'/')
        {
            pos += 6;
            if let Some(label) = meta_charset(bytes, &mut pos)? {
                return Some(label);
            }
        } else if rest.len() >= 2
            && rest[0] == b'<'
            && (rest[1].is_ascii_alphabetic()
                || (rest[1] == b'/' && rest.get(2).is_some_and(u8::is_ascii_alphabetic)))
        {
            pos += 1;
            while pos < bytes.len() && !is_space(bytes[pos]) && bytes[pos] != b'>' {
                pos += 1;
            }
            while attribute(bytes, &mut pos)?.is_some() {}
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") || rest.starts_with(b"<?") {
            pos += find(rest, b">")? + 1;
        } else {
            pos += 1;
        }
    }
    None
}

/// Reads the attributes of one `<meta>`: `None` when the bytes ran out, `Some(None)` when this
/// element declares no usable charset.
fn meta_charset(bytes: &[u8], pos: &mut usize) -> Option<Option<Vec<u8>>> {
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<Vec<u8>> = None;
    while let Some((name, value)) = attribute(bytes, pos)? {
        if seen.contains(&name) {
            continue;
        }
        match name.as_slice() {
            b"http-equiv" => got_pragma |= value.eq_ignore_ascii_case(b"content-type"),
            b"content" => {
                if charset.is_none()
                    && let Some(label) = charset_from_content(&value)
                {
                    charset = Some(label);
                    need_pragma = Some(true);
                }
            }
            b"charset" if charset.is_none() => {
                charset = Some(value.clone());
                need_pragma = Some(false);
            }
            _ => {}
        }
        seen.push(name);
    }
    let usable = match need_pragma {
        None => false,
        Some(true) => got_pragma,
        Some(false) => true,
    };
    let charset = charset.filter(|label| usable && Encoding::for_label(label).is_some());
    Some(charset)
}

/// An attribute's name and value, lower-cased, as the prescan reads them.
type Attribute = (Vec<u8>, Vec<u8>);

/// The spec's "get an attribute": `None` when the bytes ran out, `Some(None)` at the end of
/// the tag, else the attribute.
fn attribute(bytes: &[u8], pos: &mut usize) -> Option<Option<Attribute>> {
    while is_space(*bytes.get(*pos)?) || bytes[*pos] == b'/' {
        *pos += 1;
    }
    if bytes[*pos] == b'>' {
        return Some(None);
    }
    let mut name = Vec::new();
    let mut value = Vec::new();
    // The name.
    loop {
        let b = *bytes.get(*pos)?;
        if b == b'=' && !name.is_empty() {
            *pos += 1;
            break;
        }
        if is_space(b) {
            while is_space(*bytes.get(*pos)?) {
                *pos += 1;
            }
            if bytes[*pos] != b'=' {
                return Some(Some((name, value)));
            }
            *pos += 1;
            break;
        }
        if b == b'/' || b == b'>' {
            return Some(Some((name, value)));
        }
        name.push(b.to_ascii_lowercase());
        *pos += 1;
    }
    // The value.
    while is_space(*bytes.get(*pos)?) {
        *pos += 1;
    }
    let b = bytes[*pos];
    if b == b'"' || b == b'\'' {
        loop {
            *pos += 1;
            let c = *bytes.get(*pos)?;
            if c == b {
                *pos += 1;
                return Some(Some((name, value)));
            }
            value.push(c.to_ascii_lowercase());
        }
    }
    if b == b'>' {
        return Some(Some((name, value)));
    }
    loop {
        let c = *bytes.get(*pos)?;
        if is_space(c) || c == b'>' {
            return Some(Some((name, value)));
        }
        value.push(c.to_ascii_lowercase());
        *pos += 1;
    }
}

/// The spec's "extract a character encoding from a meta element" on a `content` value.
fn charset_from_content(content: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 0;
    loop {
        pos += find_ignore_case(&content[pos..], b"charset")? + b"charset".len();
        while content.get(pos).copied().is_some_and(is_space) {
            pos += 1;
        }
        if content.get(pos) != Some(&b'=') {
            continue;
        }
        pos += 1;
        while content.get(pos).copied().is_some_and(is_space) {
            pos += 1;
        }
        let rest = content.get(pos..)?;
        let quote = *rest.first()?;
        if quote == b'"' || quote == b'\'' {
            let end = rest[1..].iter().position(|&c| c == quote)?;
            return Some(rest[1..1 + end].to_vec());
        }
        let end = rest
            .iter()
            .position(|&c| is_space(c) || c == b';')
            .unwrap_or(rest.len());
        return (end > 0).then(|| rest[..end].to_vec());
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, 0x09 | 0x0A | 0x0C | 0x0D | 0x20)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack
        .get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    const CHINESE: &str = "2022年某某县交通运输局政府信息公开工作年度报告。本年新收政府信息公开申请数量，\
        予以公开，部分公开，不予公开，属于国家秘密，其他法律行政法规禁止公开。";

    fn page(meta: &str, body: &str) -> String {
        format!("<html><head>{meta}<title>标题</title></head><body><p>{body}</p></body></html>")
    }

    #[test]
    fn names_cover_every_encoding() {
        for label in [
            "big5",
            "euc-jp",
            "euc-kr",
            "gb18030",
            "gbk",
            "ibm866",
            "iso-2022-jp",
            "latin2",
            "iso-8859-3",
            "iso-8859-4",
            "iso-8859-5",
            "iso-8859-6",
            "iso-8859-7",
            "iso-8859-8",
            "iso-8859-8-i",
            "iso-8859-10",
            "iso-8859-13",
            "iso-8859-14",
            "iso-8859-15",
            "iso-8859-16",
            "koi8-r",
            "koi8-u",
            "macintosh",
            "iso-2022-kr",
            "shift_jis",
            "utf-16be",
            "utf-16le",
            "utf-8",
            "windows-1250",
            "windows-1251",
            "latin1",
            "windows-1253",
            "windows-1254",
            "windows-1255",
            "windows-1256",
            "windows-1257",
            "windows-1258",
            "windows-874",
            "x-mac-cyrillic",
            "x-user-defined",
        ] {
            let encoding = Encoding::for_label(label.as_bytes()).unwrap();
            assert_eq!(whatwg_name(encoding), encoding.name().to_ascii_lowercase());
        }
    }

    #[test]
    fn bom_wins_over_everything() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(page(r#"<meta charset="gbk">"#, CHINESE).as_bytes());
        let d = decode(&bytes, Some("text/html; charset=iso-8859-1"));
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Bom));
        assert!(d.text.starts_with("<html>"));
        assert_eq!(d.declared.as_deref(), Some("iso-8859-1"));

        let mut le = vec![0xFF, 0xFE];
        le.extend("<p>公开</p>".encode_utf16().flat_map(u16::to_le_bytes));
        let d = decode(&le, None);
        assert_eq!((d.encoding, d.text.as_str()), ("utf-16le", "<p>公开</p>"));

        let mut be = vec![0xFE, 0xFF];
        be.extend("<p>公开</p>".encode_utf16().flat_map(u16::to_be_bytes));
        let d = decode(&be, None);
        assert_eq!((d.encoding, d.text.as_str()), ("utf-16be", "<p>公开</p>"));
    }

    #[test]
    fn header_charset_is_used_when_it_fits() {
        let bytes = gbk(&page("", CHINESE));
        let d = decode(&bytes, Some("text/html; charset=GBK"));
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Header));
        assert_eq!(d.declared.as_deref(), Some("GBK"));
        assert!(d.text.contains("交通运输局"));
        assert!(!d.had_errors && d.rejected.is_empty());
    }

    #[test]
    fn meta_forms_are_found() {
        for meta in [
            r#"<meta charset="gb2312">"#,
            r#"<META CHARSET=gb2312>"#,
            r#"<meta http-equiv="Content-Type" content="text/html; charset=gb2312">"#,
            r#"<meta content='text/html;charset="gb2312"' http-equiv=content-type />"#,
            r#"<!-- <meta charset="utf-8"> --><meta charset='x-gbk'>"#,
        ] {
            let bytes = gbk(&page(meta, CHINESE));
            let d = decode(&bytes, None);
            assert_eq!(
                (d.encoding, d.source),
                ("gb18030", EncodingSource::Meta),
                "{meta}"
            );
            assert!(d.text.contains("交通运输局"), "{meta}");
        }
    }

    #[test]
    fn a_meta_after_a_long_head_is_still_found() {
        let banner = format!("<!-- {} -->", "template banner ".repeat(200));
        let meta = format!(r#"{banner}<script>var a = "x";</script><meta charset="gbk">"#);
        let bytes = gbk(&page(&meta, CHINESE));
        let d = decode(&bytes, None);
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert!(d.text.contains("交通运输局"));
    }

    #[test]
    fn prescan_follows_the_spec_corners() {
        // A content charset without http-equiv does not count.
        assert_eq!(prescan(br#"<meta content="text/html; charset=gbk">"#), None);
        // The first usable meta wins; later ones are ignored.
        assert_eq!(
            prescan(br#"<meta name=x><meta charset=utf-8><meta charset=gbk>"#),
            Some(b"utf-8".to_vec())
        );
        // Attributes of other tags are skipped, even if they look like metas.
        assert_eq!(
            prescan(br#"<div title="<meta charset=gbk>"><meta charset=big5>"#),
            Some(b"big5".to_vec())
        );
        // A content charset seen first wins over a later charset attribute.
        assert_eq!(
            prescan(br#"<meta http-equiv=content-type content="charset=gbk" charset=big5>"#),
            Some(b"gbk".to_vec())
        );
        // An unknown label is no declaration.
        assert_eq!(prescan(br#"<meta charset="nonsense">"#), None);
        // Running out of bytes mid-tag gives nothing.
        assert_eq!(prescan(br#"<meta charset="gb"#), None);
        assert_eq!(
            charset_from_content(b"text/html; charset = 'gbk'"),
            Some(b"gbk".to_vec())
        );
        assert_eq!(
            charset_from_content(b"charset;charset=big5"),
            Some(b"big5".to_vec())
        );
        assert_eq!(charset_from_content(b"charset=\"gbk"), None);
    }

    #[test]
    fn header_utf8_over_gbk_bytes_with_gbk_meta() {
        let meta = r#"<meta http-equiv="Content-Type" content="text/html; charset=gb2312">"#;
        let bytes = gbk(&page(meta, CHINESE));
        let d = decode(&bytes, Some("text/html; charset=UTF-8"));
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert_eq!(d.declared.as_deref(), Some("gb2312"));
        assert_eq!(
            d.rejected,
            vec![Rejected {
                source: EncodingSource::Header,
                label: "UTF-8".into(),
                reason: RejectReason::Malformed,
            }]
        );
        assert!(d.text.contains("交通运输局") && !d.had_errors);
        assert_eq!(d.explain(), r#"gb18030 (meta); header "UTF-8" malformed"#);
    }

    #[test]
    fn header_gbk_over_utf8_bytes_with_utf8_meta() {
        let bytes = page(r#"<meta charset="utf-8">"#, CHINESE).into_bytes();
        let d = decode(&bytes, Some("text/html; charset=gbk"));
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Meta));
        assert!(d.text.contains("交通运输局"));
        assert_eq!(d.rejected.len(), 1);
    }

    #[test]
    fn declared_utf8_but_gbk_bytes_goes_to_the_detector() {
        let bytes = gbk(&page(r#"<meta charset="utf-8">"#, CHINESE));
        let d = decode(&bytes, None);
        assert_eq!(
            (d.encoding, d.source),
            ("gb18030", EncodingSource::Detector)
        );
        assert_eq!(d.declared.as_deref(), Some("utf-8"));
        assert_eq!(d.rejected[0].reason, RejectReason::Malformed);
        assert!(d.text.contains("交通运输局"));
    }

    #[test]
    fn latin1_declared_over_cjk_is_contradicted() {
        let bytes = gbk(&page(r#"<meta charset="iso-8859-1">"#, CHINESE));
        let d = decode(&bytes, None);
        assert_eq!(
            (d.encoding, d.source),
            ("gb18030", EncodingSource::Detector)
        );
        assert_eq!(d.rejected[0].reason, RejectReason::Contradicted);
        assert!(d.text.contains("交通运输局"));

        let bytes = page("", CHINESE).into_bytes();
        let d = decode(&bytes, Some("text/html; charset=ISO-8859-1"));
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Detector));
        assert!(d.text.contains("交通运输局"));

        // Header latin1, meta gb2312, GBK bytes: the meta is what fits.
        let bytes = gbk(&page(r#"<meta charset="gb2312">"#, CHINESE));
        let d = decode(&bytes, Some("text/html; charset=iso-8859-1"));
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
    }

    #[test]
    fn latin1_declared_over_latin1_text_is_kept() {
        let text = "<p>Le r\u{e9}sum\u{e9} de l'ann\u{e9}e, d\u{e9}j\u{e0} publi\u{e9}: caf\u{e9}, \
                    na\u{ef}ve, fa\u{e7}ade, \u{e9}t\u{e9}.</p>";
        let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
        let d = decode(&bytes, Some("text/html; charset=iso-8859-1"));
        assert_eq!(
            (d.encoding, d.source),
            ("windows-1252", EncodingSource::Header)
        );
        assert_eq!(d.text, text);
    }

    #[test]
    fn undeclared_gbk_and_utf8_are_detected() {
        let d = decode(&gbk(&page("", CHINESE)), Some("text/html"));
        assert_eq!(
            (d.encoding, d.source),
            ("gb18030", EncodingSource::Detector)
        );
        assert_eq!(d.declared, None);
        assert!(d.text.contains("交通运输局"));

        let d = decode(page("", CHINESE).as_bytes(), None);
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Detector));

        let d = decode(b"<p>plain ascii</p>", None);
        assert_eq!(
            (d.encoding, d.text.as_str()),
            ("utf-8", "<p>plain ascii</p>")
        );
    }

    #[test]
    fn undeclared_other_cjk_encodings_are_not_taken_for_gbk() {
        let traditional = "<p>香港特別行政區政府資訊公開年度報告。本年度收到申請共計一百二十件，\
                           已經處理完畢。民眾對於資訊的需求日益增加，政府將繼續努力。</p>";
        let japanese = "<p>政府情報公開の年次報告書です。本年度は多くの申請を受け付けました。\
                        今後とも情報公開に努めてまいります。</p>";
        let korean = "<p>한국어 텍스트입니다. 연례 보고서.</p>";
        for (encoding, text, name) in [
            (encoding_rs::BIG5, traditional, "big5"),
            (encoding_rs::GBK, traditional, "gb18030"),
            (encoding_rs::SHIFT_JIS, japanese, "shift_jis"),
            (encoding_rs::EUC_JP, japanese, "euc-jp"),
            (encoding_rs::EUC_KR, korean, "euc-kr"),
        ] {
            let bytes = encoding.encode(text).0;
            let d = decode(&bytes, None);
            assert_eq!((d.encoding, d.text.as_str()), (name, text));
        }
    }

    #[test]
    fn short_gbk_snippets_are_gbk() {
        for text in [
            "<a>首页</a>",
            "<title>政府信息公开</title>",
            "<li>关于我们</li><li>联系我们</li><li>网站地图</li>",
        ] {
            let d = decode(&gbk(text), None);
            assert_eq!((d.encoding, d.text.as_str()), ("gb18030", text));
        }
    }

    #[test]
    fn detector_reads_past_a_long_ascii_head() {
        let head = format!("<script>{}</script>", "var x = 1;\n".repeat(20_000));
        let bytes = gbk(&page(&head, &CHINESE.repeat(10)));
        let d = decode(&bytes, None);
        assert_eq!(d.encoding, "gb18030");
        assert!(d.text.contains("交通运输局"));
    }

    #[test]
    fn sample_cuts_ascii_runs_only() {
        let bytes = b"<html><head><title>\xb9\xab\xbf\xaa</title></head>";
        let (got, whole) = sample(bytes, usize::MAX);
        assert!(whole);
        assert_eq!(got, b"<htm tle>\xb9\xab\xbf\xaa</ti ead>".to_vec());
        // A GBK trail byte in the ASCII range stays with its lead byte.
        let (got, _) = sample(b"\x81\x40abcdefghijklmnop", usize::MAX);
        assert_eq!(got, b"\x81\x40abc mnop".to_vec());
        let (got, whole) = sample(&[0xB9; 100], 10);
        assert_eq!((got.len(), whole), (10, false));
        let (got, whole) = sample(b"\x1b$B012345678901234567890", usize::MAX);
        assert_eq!((got.len(), whole), (24, true));
    }

    #[test]
    fn unusable_labels_are_rejected() {
        let bytes = gbk(&page(r#"<meta charset="gb2312">"#, CHINESE));
        let d = decode(&bytes, Some("text/html; charset=\"bogus\""));
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert_eq!(d.rejected[0].reason, RejectReason::UnknownLabel);
        assert_eq!(d.rejected[0].label, "bogus");

        let d = decode(b"<p>x</p>", Some("text/html; charset=iso-2022-kr"));
        assert_eq!(d.rejected[0].reason, RejectReason::Unsupported);
        assert_eq!(d.text, "<p>x</p>");

        let d = decode(b"<p>x</p>", Some("text/html; charset=utf-16"));
        assert_eq!(d.rejected[0].reason, RejectReason::Contradicted);
        assert_eq!(d.text, "<p>x</p>");
    }

    #[test]
    fn meta_utf16_means_utf8() {
        let bytes = page(r#"<meta charset="utf-16">"#, CHINESE).into_bytes();
        let d = decode(&bytes, None);
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Meta));
    }

    #[test]
    fn a_stray_bad_byte_keeps_the_declaration() {
        let mut bytes = gbk(&page(r#"<meta charset="gbk">"#, CHINESE));
        bytes.push(0x81); // a truncated lead byte at the very end
        let d = decode(&bytes, None);
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert!(d.had_errors);
        assert!(d.rejected.is_empty());
        assert!(d.text.contains("交通运输局"));

        let mut bytes = page(r#"<meta charset="utf-8">"#, CHINESE).into_bytes();
        let at = bytes.windows(7).position(|w| w == b"<title>").unwrap();
        bytes.insert(at, 0xFF);
        let d = decode(&bytes, None);
        assert_eq!((d.encoding, d.source), ("utf-8", EncodingSource::Meta));
        assert!(d.had_errors);
    }

    #[test]
    fn gb2312_label_reads_gbk_only_characters() {
        // 堃 and 镕 are in GBK but not in GB2312; pages labelled gb2312 use them anyway.
        let bytes = gbk(&page(r#"<meta charset="gb2312">"#, "王堃、朱镕基"));
        let d = decode(&bytes, None);
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert!(!d.had_errors);
        assert!(d.text.contains("王堃、朱镕基"));
    }

    #[test]
    fn fewest_errors_prefers_the_declaration_on_ties_and_the_guess_when_cleaner() {
        let mut bytes = gbk(&page("", CHINESE));
        for at in [100, 120, 140] {
            bytes.insert(at, 0xFF);
        }
        let rejected = vec![Rejected {
            source: EncodingSource::Meta,
            label: "gbk".into(),
            reason: RejectReason::Malformed,
        }];
        let malformed = || {
            vec![(
                encoding_rs::GB18030,
                EncodingSource::Meta,
                "gbk".to_string(),
            )]
        };
        let same = Detected {
            encoding: encoding_rs::GB18030,
            text: encoding_rs::GB18030.decode_without_bom_handling(&bytes).0,
            had_errors: true,
        };
        let d = fewest_errors(&bytes, malformed(), same, rejected.clone());
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));
        assert!(d.rejected.is_empty() && d.had_errors);

        let worse = Detected {
            encoding: encoding_rs::UTF_8,
            text: String::from_utf8_lossy(&bytes),
            had_errors: true,
        };
        let d = fewest_errors(&bytes, malformed(), worse, rejected.clone());
        assert_eq!((d.encoding, d.source), ("gb18030", EncodingSource::Meta));

        let cleaner = Detected {
            encoding: encoding_rs::GB18030,
            text: Cow::Borrowed("\u{FFFD}"),
            had_errors: true,
        };
        let d = fewest_errors(&bytes, malformed(), cleaner, rejected);
        assert_eq!(
            (d.encoding, d.source),
            ("gb18030", EncodingSource::Detector)
        );
        assert_eq!(d.rejected.len(), 1);
        assert_eq!(d.declared.as_deref(), Some("gbk"));
    }

    #[test]
    fn charset_param_parsing() {
        assert_eq!(charset_param("text/html; charset=GBK"), Some("GBK"));
        assert_eq!(
            charset_param("text/html;CharSet = \"utf-8\" ; x=y"),
            Some("utf-8")
        );
        assert_eq!(charset_param("text/html; charset="), None);
        assert_eq!(charset_param("text/html"), None);
        assert_eq!(charset_param("charset=gbk"), None);
    }
}
