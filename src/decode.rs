//! Bytes to text: BOM, then the declared charset (HTTP header, else `<meta>` per the WHATWG
//! prescan), then a detector (chardetng) when nothing is declared or the declaration is
//! contradicted by the bytes. GBK and GB2312 are decoded as GB18030 (a superset).

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

/// A decoded document.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    /// WHATWG name of the encoding used, lower case (`utf-8`, `gb18030`).
    pub encoding: &'static str,
    pub source: EncodingSource,
    /// The charset the document declared (header or meta), if any, as written.
    pub declared: Option<String>,
}

impl Decoded {
    /// `gb18030 (meta)`: the encoding and why, as shown to people.
    pub fn describe(&self) -> String {
        format!("{} ({})", self.encoding, self.source.as_str())
    }
}

/// Decodes `bytes`; `content_type` is the HTTP header value when there is one.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> Decoded {
    let _ = content_type;
    // Placeholder until the full implementation lands: UTF-8 with replacement.
    Decoded {
        text: String::from_utf8_lossy(bytes).into_owned(),
        encoding: "utf-8",
        source: EncodingSource::Detector,
        declared: None,
    }
}
