//! Byte-level HTML tokenizer following the WHATWG tokenization rules that decide where tags,
//! text, comments and raw-text content begin and end (the same rules html5ever implements).
//!
//! It only materialises what the tree builder needs: tag names as [`Tag`]s, attributes as
//! lower-cased names with decoded values, and text with character references decoded. Text
//! without `&` or NUL is handed out as a slice of the input. The input must already have its
//! line breaks normalised (`\r\n` and `\r` to `\n`), as the HTML input stream does.

use std::collections::{HashMap, HashSet};

use markup5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

use super::tags::Tag;

/// What the tokenizer reads next, as decided by the tree builder after a start tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Data,
    /// Text with character references, up to the end tag of the given element.
    Rcdata(Tag),
    /// Text without character references, up to the end tag of the given element.
    Rawtext(Tag),
    /// `<script>` content, with the script-data escape states.
    Script,
    /// Everything to the end of the input is text.
    Plaintext,
}

/// A `<!DOCTYPE>`, as far as quirks-mode detection needs it.
#[derive(Debug, Default, Clone)]
pub(super) struct Doctype {
    pub name: Option<String>,
    pub public_id: Option<String>,
    pub system_id: Option<String>,
    pub force_quirks: bool,
}

/// One token. Text is read with [`Tokenizer::text`]; attributes of a start tag with
/// [`Attrs`].
#[derive(Debug)]
pub(super) enum Token {
    Text,
    /// A NUL in the data state (the tree builder drops it in most places).
    Null,
    Start {
        tag: Tag,
        self_closing: bool,
    },
    End(Tag),
    Comment,
    Doctype(Box<Doctype>),
    /// A parse error that produces no other token (`</>`). html5ever hands such errors to the
    /// tree builder too, which then no longer drops a newline right after `<pre>`.
    Error,
    Eof,
}

/// Attributes of the last start tag: lower-cased names and decoded values.
#[derive(Debug, Default)]
pub(super) struct Attrs {
    pub buf: String,
    /// (name start, name end, value end) into `buf`; the value starts where the name ends.
    pub spans: Vec<(u32, u32, u32)>,
    /// Names seen, once a tag has many attributes (keeps the duplicate check linear).
    seen: HashSet<String>,
}

/// Interned tag names kept in a list before switching to a map.
const FEW_NAMES: usize = 16;

/// Attribute count from which duplicates are found by hashing instead of scanning.
const MANY_ATTRS: usize = 32;

impl Attrs {
    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
        self.seen.clear();
    }

    /// The value of an attribute, by lower-case name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans.iter().map(|&(a, b, c)| {
            (
                &self.buf[a as usize..b as usize],
                &self.buf[b as usize..c as usize],
            )
        })
    }
}

pub(super) struct Tokenizer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    state: State,
    /// Decoded text of the last `Text` token when it is not a plain slice of the input.
    text_buf: String,
    text_span: Option<(usize, usize)>,
    name_buf: Vec<u8>,
    few_names: Vec<Vec<u8>>,
    names: HashMap<Vec<u8>, u32>,
    /// Set by the tree builder: the adjusted current node is not an HTML element, so
    /// `<![CDATA[` opens a CDATA section instead of a bogus comment.
    pub allow_cdata: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ' | b'\r')
}

impl<'a> Tokenizer<'a> {
    pub fn new(src: &'a str) -> Self {
        Tokenizer {
            src,
            b: src.as_bytes(),
            pos: 0,
            state: State::Data,
            text_buf: String::new(),
            text_span: None,
            name_buf: Vec::new(),
            few_names: Vec::new(),
            names: HashMap::new(),
            allow_cdata: false,
        }
    }

    pub fn set_state(&mut self, s: State) {
        self.state = s;
    }

    /// Text of the last `Text` token.
    pub fn text(&self) -> &str {
        match self.text_span {
            Some((a, b)) => &self.src[a..b],
            None => &self.text_buf,
        }
    }

    /// The next token; a start tag's attributes are left in `attrs`.
    pub fn next(&mut self, attrs: &mut Attrs) -> Token {
        loop {
            if self.pos >= self.b.len() {
                return Token::Eof;
            }
            let tok = match self.state {
                State::Data => self.data(attrs),
                State::Rcdata(t) => self.raw(t, true),
                State::Rawtext(t) => self.raw(t, false),
                State::Script => self.script(),
                State::Plaintext => {
                    let (a, b) = (self.pos, self.b.len());
                    self.pos = b;
                    Some(self.text_replacing_nul(a, b))
                }
            };
            if let Some(t) = tok {
                return t;
            }
        }
    }

    /// Data state: text up to the next markup, or the markup itself. `None` when the markup
    /// produced no token (`</>`, a tag cut off by the end of input).
    fn data(&mut self, attrs: &mut Attrs) -> Option<Token> {
        let start = self.pos;
        if self.b[start] == b'<'
            && let Some(t) = self.markup(attrs)
        {
            return t;
        }
        if self.b[start] == 0 {
            self.pos += 1;
            return Some(Token::Null);
        }
        // Text run: up to a `<` that opens markup, or a NUL.
        let mut owned = false;
        self.text_buf.clear();
        let mut run = start;
        let mut i = start;
        loop {
            let Some(off) = memchr::memchr3(b'<', b'&', 0, &self.b[i..]) else {
                i = self.b.len();
                break;
            };
            i += off;
            match self.b[i] {
                b'<' => {
                    if i > start && self.opens_markup(i) {
                        break;
                    }
                    i += 1;
                }
                0 => break,
                _ => match decode_char_ref(self.src, i, false) {
                    Some((chars, end)) => {
                        owned = true;
                        self.text_buf.push_str(&self.src[run..i]);
                        push_chars(&mut self.text_buf, chars);
                        i = end;
                        run = end;
                    }
                    None => i += 1,
                },
            }
        }
        self.pos = i;
        if owned {
            self.text_buf.push_str(&self.src[run..i]);
            self.text_span = None;
        } else {
            self.text_span = Some((start, i));
        }
        Some(Token::Text)
    }

    /// True when the `<` at `i` starts markup rather than being a literal `<`.
    fn opens_markup(&self, i: usize) -> bool {
        match self.b.get(i + 1) {
            Some(c) if c.is_ascii_alphabetic() => true,
            Some(b'!' | b'?') => true,
            Some(b'/') => i + 2 < self.b.len(),
            _ => false,
        }
    }

    /// Markup at `self.pos` (a `<`). Returns `None` when the `<` is literal text,
    /// `Some(None)` when markup was consumed without a token.
    fn markup(&mut self, attrs: &mut Attrs) -> Option<Option<Token>> {
        let i = self.pos;
        if !self.opens_markup(i) {
            return None;
        }
        let c = self.b[i + 1];
        if c.is_ascii_alphabetic() {
            return Some(self.tag(i + 1, false, attrs));
        }
        match c {
            b'!' => Some(Some(self.declaration(i + 2))),
            b'?' => {
                self.bogus_comment(i + 1);
                Some(Some(Token::Comment))
            }
            _ => {
                // `</`
                let j = i + 2;
                match self.b[j] {
                    c if c.is_ascii_alphabetic() => Some(self.tag(j, true, attrs)),
                    b'>' => {
                        self.pos = j + 1;
                        Some(Some(Token::Error))
                    }
                    _ => {
                        self.bogus_comment(j);
                        Some(Some(Token::Comment))
                    }
                }
            }
        }
    }

    fn bogus_comment(&mut self, from: usize) {
        self.pos = match memchr::memchr(b'>', &self.b[from..]) {
            Some(off) => from + off + 1,
            None => self.b.len(),
        };
    }

    /// `<!` at `from - 2`: comment, doctype, CDATA or bogus comment.
    fn declaration(&mut self, from: usize) -> Token {
        let rest = &self.b[from..];
        if rest.starts_with(b"--") {
            self.comment(from + 2);
            return Token::Comment;
        }
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"doctype") {
            return self.doctype(from + 7);
        }
        if self.allow_cdata && rest.starts_with(b"[CDATA[") {
            let start = from + 7;
            let end = find(&self.b[start..], b"]]>").map(|o| start + o);
            self.pos = end.map_or(self.b.len(), |e| e + 3);
            let stop = end.unwrap_or(self.b.len());
            self.text_span = Some((start, stop));
            return Token::Text;
        }
        self.bogus_comment(from);
        Token::Comment
    }

    /// Comment body starting at `from` (after `<!--`).
    fn comment(&mut self, from: usize) {
        let rest = &self.b[from..];
        if rest.starts_with(b">") {
            self.pos = from + 1;
            return;
        }
        if rest.starts_with(b"->") {
            self.pos = from + 2;
            return;
        }
        let mut i = from;
        while let Some(off) = memchr::memchr(b'-', &self.b[i..]) {
            let j = i + off;
            let r = &self.b[j..];
            if r.starts_with(b"-->") {
                self.pos = j + 3;
                return;
            }
            if r.starts_with(b"--!>") {
                self.pos = j + 4;
                return;
            }
            i = j + 1;
        }
        self.pos = self.b.len();
    }

    fn doctype(&mut self, from: usize) -> Token {
        let mut d = Doctype::default();
        let b = self.b;
        let mut i = from;
        let skip_ws = |i: &mut usize| {
            while *i < b.len() && is_ws(b[*i]) {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        if i >= b.len() || b[i] == b'>' {
            d.force_quirks = true;
            self.pos = (i + 1).min(b.len());
            return Token::Doctype(Box::new(d));
        }
        let start = i;
        while i < b.len() && !is_ws(b[i]) && b[i] != b'>' {
            i += 1;
        }
        let name = self.src[start..i].replace('\0', "\u{fffd}");
        d.name = Some(name.to_ascii_lowercase());
        skip_ws(&mut i);
        if i >= b.len() {
            d.force_quirks = true;
            self.pos = i;
            return Token::Doctype(Box::new(d));
        }
        if b[i] == b'>' {
            self.pos = i + 1;
            return Token::Doctype(Box::new(d));
        }
        let kw = &b[i..];
        let public = kw.len() >= 6 && kw[..6].eq_ignore_ascii_case(b"public");
        let system = kw.len() >= 6 && kw[..6].eq_ignore_ascii_case(b"system");
        if !public && !system {
            d.force_quirks = true;
            self.bogus_comment(i);
            return Token::Doctype(Box::new(d));
        }
        i += 6;
        skip_ws(&mut i);
        match self.doctype_id(&mut i) {
            Ok(Some(id)) => {
                if public {
                    d.public_id = Some(id);
                } else {
                    d.system_id = Some(id);
                }
            }
            Ok(None) => {
                d.force_quirks = true;
                self.pos = i;
                return Token::Doctype(Box::new(d));
            }
            Err(()) => {
                d.force_quirks = true;
                self.bogus_comment(i);
                return Token::Doctype(Box::new(d));
            }
        }
        skip_ws(&mut i);
        if i >= b.len() {
            d.force_quirks = true;
            self.pos = i;
            return Token::Doctype(Box::new(d));
        }
        if b[i] == b'>' {
            self.pos = i + 1;
            return Token::Doctype(Box::new(d));
        }
        if !public || !matches!(b[i], b'"' | b'\'') {
            // After a system identifier anything else is ignored up to `>`; after a public one
            // only a quoted system identifier may follow.
            d.force_quirks |= public;
            self.bogus_comment(i);
            return Token::Doctype(Box::new(d));
        }
        match self.doctype_id(&mut i) {
            Ok(Some(id)) => d.system_id = Some(id),
            Ok(None) => {
                d.force_quirks = true;
                self.pos = i;
                return Token::Doctype(Box::new(d));
            }
            Err(()) => {
                d.force_quirks = true;
                self.bogus_comment(i);
                return Token::Doctype(Box::new(d));
            }
        }
        skip_ws(&mut i);
        if i >= b.len() {
            d.force_quirks = true;
            self.pos = i;
            return Token::Doctype(Box::new(d));
        }
        self.bogus_comment(i);
        Token::Doctype(Box::new(d))
    }

    /// A quoted doctype identifier at `*i`. `Err` when there is no quote; `Ok(None)` when it
    /// ends abruptly (at `>` or the end of input), after which the doctype ends.
    fn doctype_id(&mut self, i: &mut usize) -> Result<Option<String>, ()> {
        let b = self.b;
        let Some(&q) = b.get(*i) else {
            return Ok(None);
        };
        if q != b'"' && q != b'\'' {
            return Err(());
        }
        let start = *i + 1;
        let mut j = start;
        while j < b.len() && b[j] != q && b[j] != b'>' {
            j += 1;
        }
        let id = self.src[start..j].replace('\0', "\u{fffd}");
        if j >= b.len() {
            *i = j;
            return Ok(None);
        }
        if b[j] == b'>' {
            *i = j + 1;
            return Ok(None);
        }
        *i = j + 1;
        Ok(Some(id))
    }

    /// A tag whose name starts at `from`. `None` when the input ends inside the tag (the tag is
    /// then dropped, as the spec says).
    fn tag(&mut self, from: usize, end: bool, attrs: &mut Attrs) -> Option<Token> {
        let b = self.b;
        let mut i = from;
        while i < b.len() && !is_ws(b[i]) && b[i] != b'/' && b[i] != b'>' {
            i += 1;
        }
        if i >= b.len() {
            self.pos = b.len();
            return None;
        }
        let tag = self.intern(from, i);
        if !end {
            attrs.clear();
        }
        let keep = !end && tag.reads_attrs();
        let mut self_closing = false;
        loop {
            while i < b.len() && is_ws(b[i]) {
                i += 1;
            }
            let Some(&c) = b.get(i) else {
                self.pos = i;
                return None;
            };
            if c == b'>' {
                i += 1;
                break;
            }
            if c == b'/' {
                i += 1;
                match b.get(i) {
                    None => {
                        self.pos = i;
                        return None;
                    }
                    Some(b'>') => {
                        self_closing = true;
                        i += 1;
                        break;
                    }
                    Some(_) => continue,
                }
            }
            // Attribute name: the first character may be anything (even `=`).
            let name_start = i;
            i += utf8_len(c);
            while i < b.len() && !is_ws(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
                i += 1;
            }
            let name_end = i;
            while i < b.len() && is_ws(b[i]) {
                i += 1;
            }
            if i >= b.len() {
                self.pos = i;
                return None;
            }
            let mut value: Option<(usize, usize)> = None;
            if b[i] == b'=' {
                i += 1;
                while i < b.len() && is_ws(b[i]) {
                    i += 1;
                }
                let Some(&q) = b.get(i) else {
                    self.pos = i;
                    return None;
                };
                match q {
                    b'"' | b'\'' => {
                        let Some(off) = memchr::memchr(q, &b[i + 1..]) else {
                            self.pos = b.len();
                            return None;
                        };
                        value = Some((i + 1, i + 1 + off));
                        i += off + 2;
                    }
                    b'>' => {}
                    _ => {
                        let s = i;
                        while i < b.len() && !is_ws(b[i]) && b[i] != b'>' {
                            i += 1;
                        }
                        if i >= b.len() {
                            self.pos = i;
                            return None;
                        }
                        value = Some((s, i));
                    }
                }
            }
            if keep {
                self.push_attr(attrs, name_start, name_end, value);
            }
        }
        self.pos = i;
        Some(if end {
            Token::End(tag)
        } else {
            Token::Start { tag, self_closing }
        })
    }

    fn push_attr(
        &mut self,
        attrs: &mut Attrs,
        name: usize,
        name_end: usize,
        value: Option<(usize, usize)>,
    ) {
        let a = attrs.buf.len();
        push_lower(&mut attrs.buf, &self.src[name..name_end]);
        let n = attrs.buf.len();
        let dup = if attrs.spans.len() < MANY_ATTRS {
            attrs
                .spans
                .iter()
                .any(|&(x, y, _)| attrs.buf[x as usize..y as usize] == attrs.buf[a..n])
        } else {
            if attrs.seen.is_empty() {
                let names: Vec<String> = attrs.iter().map(|(k, _)| k.to_string()).collect();
                attrs.seen.extend(names);
            }
            !attrs.seen.insert(attrs.buf[a..n].to_string())
        };
        if dup {
            attrs.buf.truncate(a);
            return;
        }
        if let Some((vs, ve)) = value {
            decode_into(&mut attrs.buf, self.src, vs, ve, true);
        }
        attrs
            .spans
            .push((a as u32, n as u32, attrs.buf.len() as u32));
    }

    /// Interns a tag name (lower-cased; NUL becomes U+FFFD).
    fn intern(&mut self, from: usize, to: usize) -> Tag {
        self.name_buf.clear();
        for &c in &self.b[from..to] {
            if c == 0 {
                self.name_buf.extend_from_slice("\u{fffd}".as_bytes());
            } else {
                self.name_buf.push(c.to_ascii_lowercase());
            }
        }
        if let Some(t) = Tag::known(&self.name_buf) {
            return t;
        }
        // Pages use a handful of unknown names (`o:p`, `st1:chsdate`) many times: a short
        // list beats hashing; the map takes over on pages with many.
        if self.names.is_empty() {
            if let Some(id) = self.few_names.iter().position(|n| *n == self.name_buf) {
                return Tag::Other(id as u32);
            }
            let id = self.few_names.len() as u32;
            self.few_names.push(self.name_buf.clone());
            if self.few_names.len() > FEW_NAMES {
                for (i, n) in self.few_names.iter().enumerate() {
                    self.names.insert(n.clone(), i as u32);
                }
            }
            return Tag::Other(id);
        }
        if let Some(&id) = self.names.get(&self.name_buf) {
            return Tag::Other(id);
        }
        let id = self.names.len() as u32;
        self.names.insert(self.name_buf.clone(), id);
        Tag::Other(id)
    }

    /// RCDATA / RAWTEXT content up to `</name`.
    fn raw(&mut self, tag: Tag, refs: bool) -> Option<Token> {
        let name = tag.name().as_bytes();
        let start = self.pos;
        let end = self.find_end_tag(start, name);
        self.pos = end;
        self.state = State::Data;
        if end == start {
            return None;
        }
        if refs {
            self.text_buf.clear();
            decode_into(&mut self.text_buf, self.src, start, end, false);
            self.text_span = None;
            return Some(Token::Text);
        }
        Some(self.text_replacing_nul(start, end))
    }

    fn text_replacing_nul(&mut self, a: usize, b: usize) -> Token {
        if memchr::memchr(0, &self.b[a..b]).is_some() {
            self.text_buf = self.src[a..b].replace('\0', "\u{fffd}");
            self.text_span = None;
        } else {
            self.text_span = Some((a, b));
        }
        Token::Text
    }

    /// Position of the appropriate end tag `</name` (followed by whitespace, `/` or `>`) at or
    /// after `from`, or the end of input.
    fn find_end_tag(&self, from: usize, name: &[u8]) -> usize {
        let b = self.b;
        let mut i = from;
        while let Some(off) = memchr::memchr(b'<', &b[i..]) {
            let j = i + off;
            if self.is_end_tag_at(j, name) {
                return j;
            }
            i = j + 1;
        }
        b.len()
    }

    fn is_end_tag_at(&self, j: usize, name: &[u8]) -> bool {
        let b = self.b;
        let n = j + 2 + name.len();
        b.get(j + 1) == Some(&b'/')
            && n < b.len()
            && b[j + 2..n].eq_ignore_ascii_case(name)
            && (is_ws(b[n]) || b[n] == b'/' || b[n] == b'>')
    }

    /// Script content: up to the `</script` that the script-data states end at.
    fn script(&mut self) -> Option<Token> {
        let start = self.pos;
        let end = script_end(self.b, start);
        self.pos = end;
        self.state = State::Data;
        if end == start {
            return None;
        }
        Some(self.text_replacing_nul(start, end))
    }
}

/// Where the script-data states of the tokenizer see the `</script` end tag.
fn script_end(b: &[u8], from: usize) -> usize {
    #[derive(Clone, Copy)]
    enum S {
        Data,
        Escaped,
        EscapedDash,
        EscapedDashDash,
        Double,
        DoubleDash,
        DoubleDashDash,
    }
    let is_script_end = |j: usize| -> bool {
        let n = j + 8;
        b.get(j + 1) == Some(&b'/')
            && n < b.len()
            && b[j + 2..n].eq_ignore_ascii_case(b"script")
            && (is_ws(b[n]) || b[n] == b'/' || b[n] == b'>')
    };
    // `<script` (any case) followed by whitespace, `/` or `>`: starts or ends double escaping.
    let script_word = |j: usize| -> bool {
        let n = j + 6;
        n < b.len()
            && b[j..n].eq_ignore_ascii_case(b"script")
            && (is_ws(b[n]) || b[n] == b'/' || b[n] == b'>')
    };
    let mut s = S::Data;
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        match s {
            S::Data => {
                let Some(off) = memchr::memchr(b'<', &b[i..]) else {
                    return b.len();
                };
                let j = i + off;
                if is_script_end(j) {
                    return j;
                }
                if b[j + 1..].starts_with(b"!--") {
                    // Script data escape start: `<!--`, then the first `-` of the pair may
                    // already be part of `-->`.
                    s = S::EscapedDashDash;
                    i = j + 4;
                    continue;
                }
                i = j + 1;
                continue;
            }
            S::Escaped | S::EscapedDash | S::EscapedDashDash => {
                if c == b'<' {
                    if is_script_end(i) {
                        return i;
                    }
                    if script_word(i + 1) {
                        s = S::Double;
                        i += 7;
                        continue;
                    }
                    s = S::Escaped;
                } else if c == b'-' {
                    s = match s {
                        S::Escaped => S::EscapedDash,
                        _ => S::EscapedDashDash,
                    };
                } else if c == b'>' && matches!(s, S::EscapedDashDash) {
                    s = S::Data;
                } else {
                    s = S::Escaped;
                }
            }
            S::Double | S::DoubleDash | S::DoubleDashDash => {
                if c == b'<' {
                    s = S::Double;
                    if b.get(i + 1) == Some(&b'/') && script_word(i + 2) {
                        s = S::Escaped;
                        i += 8;
                        continue;
                    }
                } else if c == b'-' {
                    s = match s {
                        S::Double => S::DoubleDash,
                        _ => S::DoubleDashDash,
                    };
                } else if c == b'>' && matches!(s, S::DoubleDashDash) {
                    s = S::Data;
                } else {
                    s = S::Double;
                }
            }
        }
        i += 1;
    }
    b.len()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn push_lower(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\0' => out.push('\u{fffd}'),
            c => out.push(c.to_ascii_lowercase()),
        }
    }
}

fn push_chars(out: &mut String, chars: [char; 2]) {
    out.push(chars[0]);
    if chars[1] != '\0' {
        out.push(chars[1]);
    }
}

/// Appends `src[a..b]` with character references decoded and NUL replaced.
fn decode_into(out: &mut String, src: &str, a: usize, b: usize, in_attr: bool) {
    let bytes = src.as_bytes();
    let mut run = a;
    let mut i = a;
    while let Some(off) = memchr::memchr2(b'&', 0, &bytes[i..b]) {
        let j = i + off;
        if bytes[j] == 0 {
            out.push_str(&src[run..j]);
            out.push('\u{fffd}');
            i = j + 1;
            run = i;
            continue;
        }
        match decode_char_ref(&src[..b], j, in_attr) {
            Some((chars, end)) => {
                out.push_str(&src[run..j]);
                push_chars(out, chars);
                i = end;
                run = end;
            }
            None => i = j + 1,
        }
    }
    out.push_str(&src[run..b]);
}

/// Decodes the character reference whose `&` is at `amp`: the characters (second one NUL when
/// there is only one) and the position after it. `None` when the `&` is literal text.
pub(super) fn decode_char_ref(src: &str, amp: usize, in_attr: bool) -> Option<([char; 2], usize)> {
    let b = src.as_bytes();
    let first = *b.get(amp + 1)?;
    if first == b'#' {
        return numeric_ref(b, amp + 2);
    }
    if !first.is_ascii_alphanumeric() {
        return None;
    }
    // Longest entity name that prefixes the input; the table holds every prefix of every name.
    let mut best: Option<((u32, u32), usize)> = None;
    let mut j = amp + 1;
    while j < b.len() && b[j].is_ascii() {
        match NAMED_ENTITIES.get(&src[amp + 1..=j]) {
            Some(&m) => {
                if m.0 != 0 {
                    best = Some((m, j + 1));
                }
            }
            None => break,
        }
        j += 1;
    }
    let ((c1, c2), end) = best?;
    let last = b[end - 1];
    if in_attr
        && last != b';'
        && let Some(&next) = b.get(end)
        && (next == b'=' || next.is_ascii_alphanumeric())
    {
        return None;
    }
    let c1 = char::from_u32(c1)?;
    let c2 = char::from_u32(c2).unwrap_or('\0');
    Some(([c1, c2], end))
}

fn numeric_ref(b: &[u8], from: usize) -> Option<([char; 2], usize)> {
    let (base, mut i) = match b.get(from) {
        Some(b'x' | b'X') => (16u32, from + 1),
        _ => (10u32, from),
    };
    let start = i;
    let mut num: u32 = 0;
    let mut too_big = false;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(base)) {
        num = num.wrapping_mul(base);
        if num > 0x10FFFF {
            too_big = true;
        }
        num = num.wrapping_add(d);
        i += 1;
    }
    if i == start {
        return None;
    }
    if b.get(i) == Some(&b';') {
        i += 1;
    }
    let c = match num {
        n if n > 0x10FFFF || too_big => '\u{fffd}',
        0x00 | 0xD800..=0xDFFF => '\u{fffd}',
        0x80..=0x9F => C1_REPLACEMENTS[(num - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(num).unwrap_or('\u{fffd}')),
        n => char::from_u32(n).unwrap_or('\u{fffd}'),
    };
    Some(([c, '\0'], i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(s: &str, attr: bool) -> String {
        let mut out = String::new();
        decode_into(&mut out, s, 0, s.len(), attr);
        out
    }

    #[test]
    fn character_references() {
        assert_eq!(
            refs("a&nbsp;b&amp;c&lt;&gt;&quot;", false),
            "a\u{a0}b&c<>\""
        );
        assert_eq!(refs("&#12288;&#x4e00;&#X4E00", false), "\u{3000}一一");
        assert_eq!(refs("&notit; &noti &not", false), "¬it; ¬i ¬");
        assert_eq!(refs("&amp=1&ampx &amp;x", true), "&amp=1&ampx &x");
        assert_eq!(
            refs("&#0;&#x110000;&#128;&#;&#x;&bogus;", false),
            "\u{fffd}\u{fffd}€&#;&#x;&bogus;"
        );
    }

    #[test]
    fn script_end_respects_escapes() {
        let s = b"a<!--<script>x</script>-->y</script>z";
        assert_eq!(script_end(s, 0), s.len() - 10);
        let s = b"if(a<b)</SCRIPT >";
        assert_eq!(script_end(s, 0), 7);
    }
}
