//! Tree construction: the WHATWG insertion modes, transcribed from html5ever's tree builder
//! (the reference this front end is tested against), over a flat arena instead of
//! reference-counted nodes.
//!
//! Everything that decides *where* text and elements end up is kept: implied end tags,
//! scopes, table insertion modes, foster parenting, the list of active formatting elements
//! with reconstruction and the adoption agency algorithm, quirks mode (a `<table>` closes an
//! open `<p>` only in no-quirks documents), `<select>`, framesets and foreign (SVG/MathML)
//! content. What the page walk never looks at is not built: comments, doctype nodes, template
//! contents (skipped whole), and attributes other than those of links, metas, cells and
//! formatting elements.

use super::tags::Tag;
use super::tokenizer::{Attrs, Doctype, State, Token, Tokenizer};

/// Index of no node.
pub(crate) const NONE: u32 = u32::MAX;

/// Deepest stack of open elements; elements opened beyond it are inserted but not left open
/// (as browsers cap DOM depth). Keeps hostile nesting from making every scope check slow.
const MAX_DEPTH: usize = 1024;

/// Longest list of active formatting elements; further formatting elements are inserted as
/// plain elements. Keeps thousands of distinct unclosed `<font>`s from being re-created at
/// every text run.
const MAX_AFE: usize = 100;

/// Namespace of an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Html,
    Svg,
    MathMl,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Data {
    Document,
    Element {
        tag: Tag,
        ns: Ns,
        /// Range of this element's attributes in [`Dom::attrs`].
        attrs: (u32, u32),
    },
    /// Text at `start..end` of [`Dom::text`].
    Text {
        start: u32,
        end: u32,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub parent: u32,
    pub first: u32,
    pub last: u32,
    pub prev: u32,
    pub next: u32,
    pub data: Data,
}

/// The parsed document: node 0 is the document.
#[derive(Debug, Default)]
pub(crate) struct Dom {
    pub nodes: Vec<Node>,
    pub text: String,
    attr_buf: String,
    /// (name start, name end, value end) into `attr_buf`.
    attrs: Vec<(u32, u32, u32)>,
}

impl Dom {
    /// Children of a node, in order.
    pub fn children(&self, id: u32) -> Children<'_> {
        Children {
            dom: self,
            next: self.nodes[id as usize].first,
        }
    }

    pub fn data(&self, id: u32) -> Data {
        self.nodes[id as usize].data
    }

    /// An attribute of an element, by lower-case name.
    pub fn attr(&self, id: u32, name: &str) -> Option<&str> {
        let Data::Element { attrs: (a, b), .. } = self.data(id) else {
            return None;
        };
        self.attrs[a as usize..b as usize]
            .iter()
            .find(|&&(x, y, _)| &self.attr_buf[x as usize..y as usize] == name)
            .map(|&(_, y, z)| &self.attr_buf[y as usize..z as usize])
    }

    pub fn text_of(&self, start: u32, end: u32) -> &str {
        &self.text[start as usize..end as usize]
    }

    fn attr_pairs(&self, (a, b): (u32, u32)) -> impl Iterator<Item = (&str, &str)> {
        self.attrs[a as usize..b as usize].iter().map(|&(x, y, z)| {
            (
                &self.attr_buf[x as usize..y as usize],
                &self.attr_buf[y as usize..z as usize],
            )
        })
    }
}

pub(crate) struct Children<'a> {
    dom: &'a Dom,
    next: u32,
}

impl Iterator for Children<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.dom.nodes[id as usize].next;
        Some(id)
    }
}

/// Parses a document (line breaks already normalised).
pub(crate) fn parse(src: &str) -> Dom {
    let mut tz = Tokenizer::new(src);
    let mut b = Builder::new(src.len());
    let mut attrs = Attrs::default();
    loop {
        tz.allow_cdata = b.current_is_foreign();
        let tok = tz.next(&mut attrs);
        let ignore_lf = std::mem::take(&mut b.ignore_lf);
        match tok {
            Token::Eof => {
                b.eof();
                break;
            }
            Token::Text => {
                let mut s = tz.text();
                if ignore_lf {
                    s = s.strip_prefix('\n').unwrap_or(s);
                }
                if !s.is_empty() {
                    b.chars(s);
                }
            }
            Token::Null => b.null(),
            Token::Start { tag, self_closing } => b.start(St { tag, self_closing }, &attrs),
            Token::End(tag) => b.end(tag),
            Token::Comment => b.comment(),
            Token::Error => {}
            Token::Doctype(d) => b.doctype(&d),
        }
        if let Some(s) = b.next_state.take() {
            tz.set_state(s);
        }
    }
    b.dom
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Initial,
    BeforeHtml,
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
    Text,
    InTable,
    InTableText,
    InCaption,
    InColumnGroup,
    InTableBody,
    InRow,
    InCell,
    InSelect,
    InSelectInTable,
    AfterBody,
    InFrameset,
    AfterFrameset,
    AfterAfterBody,
    AfterAfterFrameset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Afe {
    Marker,
    El(u32),
}

/// A start tag (its attributes travel separately).
#[derive(Debug, Clone, Copy)]
struct St {
    tag: Tag,
    self_closing: bool,
}

/// What a rule asks for after it ran.
enum Flow {
    Done,
    /// Switch to the mode and process the same token again.
    Re(Mode),
}

enum Place {
    Append(u32),
    Before(u32),
}

enum Bookmark {
    Replace(u32),
    InsertAfter(u32),
}

/// The stack of open elements, counting open HTML elements per tag so that "is a `<p>` in
/// scope" and "close the open `<i>`" are answered at once when there is none: without that
/// every `<div>` under a thousand open `<div>`s would scan them all.
#[derive(Default)]
struct Stack {
    ids: Vec<u32>,
    /// Tag index of each entry (`NONE` for non-HTML elements).
    keys: Vec<u32>,
    counts: Vec<u32>,
}

impl std::ops::Deref for Stack {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.ids
    }
}

impl Stack {
    fn count_add(&mut self, key: u32, up: bool) {
        if key == NONE {
            return;
        }
        let k = key as usize;
        if self.counts.len() <= k {
            self.counts.resize(k + 1, 0);
        }
        if up {
            self.counts[k] += 1;
        } else {
            self.counts[k] = self.counts[k].saturating_sub(1);
        }
    }

    fn push(&mut self, id: u32, key: u32) {
        self.ids.push(id);
        self.keys.push(key);
        self.count_add(key, true);
    }

    fn pop(&mut self) -> Option<u32> {
        let id = self.ids.pop()?;
        if let Some(k) = self.keys.pop() {
            self.count_add(k, false);
        }
        Some(id)
    }

    fn truncate(&mut self, n: usize) {
        while self.ids.len() > n {
            self.pop();
        }
    }

    fn remove(&mut self, i: usize) {
        if i >= self.ids.len() {
            return;
        }
        self.ids.remove(i);
        let k = self.keys.remove(i);
        self.count_add(k, false);
    }

    fn insert(&mut self, i: usize, id: u32, key: u32) {
        self.ids.insert(i, id);
        self.keys.insert(i, key);
        self.count_add(key, true);
    }

    /// Replaces an entry by a clone of the same element (same tag).
    fn set(&mut self, i: usize, id: u32) {
        self.ids[i] = id;
    }

    /// Whether any HTML element with this tag is open.
    fn has(&self, tag: Tag) -> bool {
        self.counts.get(tag.index()).is_some_and(|&c| c > 0)
    }
}

struct Builder {
    dom: Dom,
    stack: Stack,
    afe: Vec<Afe>,
    mode: Mode,
    orig_mode: Mode,
    head: u32,
    form: u32,
    frameset_ok: bool,
    quirks: bool,
    foster: bool,
    ignore_lf: bool,
    pending: String,
    /// Nesting depth of `<template>` whose content is being skipped.
    template_depth: usize,
    next_state: Option<State>,
}

use Tag as T;

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ' | b'\r')
}

/// Splits off the leading run of ASCII whitespace.
fn split_ws(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(|&b| is_ws(b)).count();
    s.split_at(n)
}

fn is_heading(t: Tag) -> bool {
    matches!(t, T::H1 | T::H2 | T::H3 | T::H4 | T::H5 | T::H6)
}

fn keeps_attrs(t: Tag) -> bool {
    t.keeps_attrs()
}

fn is_special(t: Tag) -> bool {
    matches!(
        t,
        T::Address
            | T::Applet
            | T::Area
            | T::Article
            | T::Aside
            | T::Base
            | T::Basefont
            | T::Bgsound
            | T::Blockquote
            | T::Body
            | T::Br
            | T::Button
            | T::Caption
            | T::Center
            | T::Col
            | T::Colgroup
            | T::Dd
            | T::Details
            | T::Dir
            | T::Div
            | T::Dl
            | T::Dt
            | T::Embed
            | T::Fieldset
            | T::Figcaption
            | T::Figure
            | T::Footer
            | T::Form
            | T::Frame
            | T::Frameset
            | T::H1
            | T::H2
            | T::H3
            | T::H4
            | T::H5
            | T::H6
            | T::Head
            | T::Header
            | T::Hgroup
            | T::Hr
            | T::Html
            | T::Iframe
            | T::Img
            | T::Input
            | T::Isindex
            | T::Li
            | T::Link
            | T::Listing
            | T::Main
            | T::Marquee
            | T::Menu
            | T::Meta
            | T::Nav
            | T::Noembed
            | T::Noframes
            | T::Noscript
            | T::Object
            | T::Ol
            | T::P
            | T::Param
            | T::Plaintext
            | T::Pre
            | T::Script
            | T::Section
            | T::Select
            | T::Source
            | T::Style
            | T::Summary
            | T::Table
            | T::Tbody
            | T::Td
            | T::Template
            | T::Textarea
            | T::Tfoot
            | T::Th
            | T::Thead
            | T::Title
            | T::Tr
            | T::Track
            | T::Ul
            | T::Wbr
            | T::Xmp
    )
}

/// Scope boundaries, as html5ever's tag sets.
#[derive(Clone, Copy)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
    Select,
}

fn is_mathml_text_ip(t: Tag) -> bool {
    matches!(t, T::Mi | T::Mo | T::Mn | T::Ms | T::Mtext)
}

fn is_svg_html_ip(t: Tag) -> bool {
    matches!(t, T::ForeignObject | T::Desc | T::Title)
}

fn scope_boundary(scope: Scope, tag: Tag, ns: Ns) -> bool {
    let default = |tag: Tag, ns: Ns| match ns {
        Ns::Html => matches!(
            tag,
            T::Applet
                | T::Caption
                | T::Html
                | T::Table
                | T::Td
                | T::Th
                | T::Marquee
                | T::Object
                | T::Template
        ),
        Ns::MathMl => is_mathml_text_ip(tag),
        Ns::Svg => is_svg_html_ip(tag),
    };
    match scope {
        Scope::Default => default(tag, ns),
        Scope::ListItem => default(tag, ns) || (ns == Ns::Html && matches!(tag, T::Ol | T::Ul)),
        Scope::Button => default(tag, ns) || (ns == Ns::Html && tag == T::Button),
        Scope::Table => ns == Ns::Html && matches!(tag, T::Html | T::Table | T::Template),
        Scope::Select => !(ns == Ns::Html && matches!(tag, T::Optgroup | T::Option)),
    }
}

/// html5ever's quirks-mode rules for a doctype: true for full quirks mode.
fn doctype_quirks(d: &Doctype) -> bool {
    const PUBLIC_PREFIXES: &[&str] = &[
        "-//advasoft ltd//dtd html 3.0 aswedit + extensions//",
        "-//as//dtd html 3.0 aswedit + extensions//",
        "-//ietf//dtd html 2.0 level 1//",
        "-//ietf//dtd html 2.0 level 2//",
        "-//ietf//dtd html 2.0 strict level 1//",
        "-//ietf//dtd html 2.0 strict level 2//",
        "-//ietf//dtd html 2.0 strict//",
        "-//ietf//dtd html 2.0//",
        "-//ietf//dtd html 2.1e//",
        "-//ietf//dtd html 3.0//",
        "-//ietf//dtd html 3.2 final//",
        "-//ietf//dtd html 3.2//",
        "-//ietf//dtd html 3//",
        "-//ietf//dtd html level 0//",
        "-//ietf//dtd html level 1//",
        "-//ietf//dtd html level 2//",
        "-//ietf//dtd html level 3//",
        "-//ietf//dtd html strict level 0//",
        "-//ietf//dtd html strict level 1//",
        "-//ietf//dtd html strict level 2//",
        "-//ietf//dtd html strict level 3//",
        "-//ietf//dtd html strict//",
        "-//ietf//dtd html//",
        "-//metrius//dtd metrius presentational//",
        "-//microsoft//dtd internet explorer 2.0 html strict//",
        "-//microsoft//dtd internet explorer 2.0 html//",
        "-//microsoft//dtd internet explorer 2.0 tables//",
        "-//microsoft//dtd internet explorer 3.0 html strict//",
        "-//microsoft//dtd internet explorer 3.0 html//",
        "-//microsoft//dtd internet explorer 3.0 tables//",
        "-//netscape comm. corp.//dtd html//",
        "-//netscape comm. corp.//dtd strict html//",
        "-//o'reilly and associates//dtd html 2.0//",
        "-//o'reilly and associates//dtd html extended 1.0//",
        "-//o'reilly and associates//dtd html extended relaxed 1.0//",
        "-//softquad software//dtd hotmetal pro 6.0::19990601::extensions to html 4.0//",
        "-//softquad//dtd hotmetal pro 4.0::19971010::extensions to html 4.0//",
        "-//spyglass//dtd html 2.0 extended//",
        "-//sq//dtd html 2.0 hotmetal + extensions//",
        "-//sun microsystems corp.//dtd hotjava html//",
        "-//sun microsystems corp.//dtd hotjava strict html//",
        "-//w3c//dtd html 3 1995-03-24//",
        "-//w3c//dtd html 3.2 draft//",
        "-//w3c//dtd html 3.2 final//",
        "-//w3c//dtd html 3.2//",
        "-//w3c//dtd html 3.2s draft//",
        "-//w3c//dtd html 4.0 frameset//",
        "-//w3c//dtd html 4.0 transitional//",
        "-//w3c//dtd html experimental 19960712//",
        "-//w3c//dtd html experimental 970421//",
        "-//w3c//dtd w3 html//",
        "-//w3o//dtd w3 html 3.0//",
        "-//webtechs//dtd mozilla html 2.0//",
        "-//webtechs//dtd mozilla html//",
    ];
    const PUBLIC_MATCHES: &[&str] = &[
        "-//w3o//dtd w3 html strict 3.0//en//",
        "-/w3c/dtd html 4.0 transitional/en",
        "html",
    ];
    const SYSTEM_MATCHES: &[&str] = &["http://www.ibm.com/data/dtd/v11/ibmxhtml1-transitional.dtd"];
    const HTML4_PREFIXES: &[&str] = &[
        "-//w3c//dtd html 4.01 frameset//",
        "-//w3c//dtd html 4.01 transitional//",
    ];
    if d.force_quirks || d.name.as_deref() != Some("html") {
        return true;
    }
    let public = d.public_id.as_deref().map(str::to_ascii_lowercase);
    let system = d.system_id.as_deref().map(str::to_ascii_lowercase);
    if let Some(p) = public.as_deref()
        && PUBLIC_MATCHES.contains(&p)
    {
        return true;
    }
    if let Some(s) = system.as_deref()
        && SYSTEM_MATCHES.contains(&s)
    {
        return true;
    }
    let Some(p) = public.as_deref() else {
        return false;
    };
    if PUBLIC_PREFIXES.iter().any(|x| p.starts_with(x)) {
        return true;
    }
    // Limited-quirks public identifiers (XHTML 1.0 frameset/transitional) come next in
    // html5ever's order and are not full quirks.
    if [
        "-//w3c//dtd xhtml 1.0 frameset//",
        "-//w3c//dtd xhtml 1.0 transitional//",
    ]
    .iter()
    .any(|x| p.starts_with(x))
    {
        return false;
    }
    HTML4_PREFIXES.iter().any(|x| p.starts_with(x)) && system.is_none()
}

impl Builder {
    fn new(len: usize) -> Self {
        let mut dom = Dom {
            nodes: Vec::with_capacity(len / 40 + 16),
            text: String::with_capacity(len / 2),
            ..Dom::default()
        };
        dom.nodes.push(Node {
            parent: NONE,
            first: NONE,
            last: NONE,
            prev: NONE,
            next: NONE,
            data: Data::Document,
        });
        Builder {
            dom,
            stack: Stack::default(),
            afe: Vec::new(),
            mode: Mode::Initial,
            orig_mode: Mode::Initial,
            head: NONE,
            form: NONE,
            frameset_ok: true,
            quirks: false,
            foster: false,
            ignore_lf: false,
            pending: String::new(),
            template_depth: 0,
            next_state: None,
        }
    }

    // ---- arena ----

    fn new_node(&mut self, data: Data) -> u32 {
        let id = self.dom.nodes.len() as u32;
        self.dom.nodes.push(Node {
            parent: NONE,
            first: NONE,
            last: NONE,
            prev: NONE,
            next: NONE,
            data,
        });
        id
    }

    fn node(&self, id: u32) -> &Node {
        &self.dom.nodes[id as usize]
    }

    fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.dom.nodes[id as usize]
    }

    fn append_child(&mut self, parent: u32, child: u32) {
        let last = self.node(parent).last;
        {
            let c = self.node_mut(child);
            c.parent = parent;
            c.prev = last;
            c.next = NONE;
        }
        if last == NONE {
            self.node_mut(parent).first = child;
        } else {
            self.node_mut(last).next = child;
        }
        self.node_mut(parent).last = child;
    }

    fn insert_before(&mut self, sibling: u32, child: u32) {
        let parent = self.node(sibling).parent;
        let prev = self.node(sibling).prev;
        {
            let c = self.node_mut(child);
            c.parent = parent;
            c.prev = prev;
            c.next = sibling;
        }
        self.node_mut(sibling).prev = child;
        if prev == NONE {
            if parent != NONE {
                self.node_mut(parent).first = child;
            }
        } else {
            self.node_mut(prev).next = child;
        }
    }

    fn detach(&mut self, id: u32) {
        let Node {
            parent, prev, next, ..
        } = *self.node(id);
        if parent == NONE {
            return;
        }
        if prev == NONE {
            self.node_mut(parent).first = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NONE {
            self.node_mut(parent).last = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        let n = self.node_mut(id);
        n.parent = NONE;
        n.prev = NONE;
        n.next = NONE;
    }

    fn reparent_children(&mut self, from: u32, to: u32) {
        while let Some(c) = Some(self.node(from).first).filter(|&c| c != NONE) {
            self.detach(c);
            self.append_child(to, c);
        }
    }

    fn tag_ns(&self, id: u32) -> Option<(Tag, Ns)> {
        match self.node(id).data {
            Data::Element { tag, ns, .. } => Some((tag, ns)),
            _ => None,
        }
    }

    /// True for an HTML element with this tag.
    fn is(&self, id: u32, tag: Tag) -> bool {
        self.tag_ns(id) == Some((tag, Ns::Html))
    }

    fn html_tag(&self, id: u32) -> Option<Tag> {
        match self.tag_ns(id) {
            Some((t, Ns::Html)) => Some(t),
            _ => None,
        }
    }

    fn is_special_node(&self, id: u32) -> bool {
        self.html_tag(id).is_some_and(is_special)
    }

    fn key(&self, id: u32) -> u32 {
        match self.tag_ns(id) {
            Some((t, Ns::Html)) => t.index() as u32,
            _ => NONE,
        }
    }

    fn spush(&mut self, id: u32) {
        let key = self.key(id);
        self.stack.push(id, key);
    }

    fn cur(&self) -> u32 {
        self.stack.last().copied().unwrap_or(0)
    }

    fn cur_is(&self, tag: Tag) -> bool {
        self.is(self.cur(), tag)
    }

    fn current_is_foreign(&self) -> bool {
        self.stack
            .last()
            .and_then(|&n| self.tag_ns(n))
            .is_some_and(|(_, ns)| ns != Ns::Html)
    }

    // ---- attributes ----

    fn store_attrs(&mut self, tag: Tag, a: &Attrs) -> (u32, u32) {
        let start = self.dom.attrs.len() as u32;
        if keeps_attrs(tag) {
            for (n, v) in a.iter() {
                let x = self.dom.attr_buf.len() as u32;
                self.dom.attr_buf.push_str(n);
                let y = self.dom.attr_buf.len() as u32;
                self.dom.attr_buf.push_str(v);
                let z = self.dom.attr_buf.len() as u32;
                self.dom.attrs.push((x, y, z));
            }
        }
        (start, self.dom.attrs.len() as u32)
    }

    fn same_attrs(&self, a: (u32, u32), b: (u32, u32)) -> bool {
        a.1 - a.0 == b.1 - b.0
            && self
                .dom
                .attr_pairs(a)
                .all(|p| self.dom.attr_pairs(b).any(|q| p == q))
    }

    // ---- insertion ----

    fn place(&self, override_target: Option<u32>) -> Place {
        let target = override_target.unwrap_or_else(|| self.cur());
        let foster_target = matches!(
            self.html_tag(target),
            Some(T::Table | T::Tbody | T::Tfoot | T::Thead | T::Tr)
        );
        if !(self.foster && foster_target) {
            return Place::Append(target);
        }
        for i in (0..self.stack.len()).rev() {
            let n = self.stack[i];
            if self.is(n, T::Table) {
                if self.node(n).parent != NONE {
                    return Place::Before(n);
                }
                return Place::Append(self.stack[i.saturating_sub(1)]);
            }
        }
        Place::Append(self.stack.first().copied().unwrap_or(0))
    }

    fn insert_node_at(&mut self, place: Place, node: u32) {
        match place {
            Place::Append(p) => self.append_child(p, node),
            Place::Before(s) => self.insert_before(s, node),
        }
    }

    fn append_text(&mut self, s: &str) {
        let place = self.place(None);
        let neighbour = match place {
            Place::Append(p) => self.node(p).last,
            Place::Before(sib) => self.node(sib).prev,
        };
        let end = self.dom.text.len() as u32;
        if neighbour != NONE
            && let Data::Text { end: e, .. } = self.node(neighbour).data
            && e == end
        {
            self.dom.text.push_str(s);
            let new_end = self.dom.text.len() as u32;
            if let Data::Text { end, .. } = &mut self.node_mut(neighbour).data {
                *end = new_end;
            }
            return;
        }
        self.dom.text.push_str(s);
        let id = self.new_node(Data::Text {
            start: end,
            end: self.dom.text.len() as u32,
        });
        self.insert_node_at(place, id);
    }

    fn create(&mut self, tag: Tag, ns: Ns, attrs: (u32, u32)) -> u32 {
        self.new_node(Data::Element { tag, ns, attrs })
    }

    fn insert_with(&mut self, tag: Tag, ns: Ns, attrs: (u32, u32), push: bool) -> u32 {
        let e = self.create(tag, ns, attrs);
        let place = self.place(None);
        self.insert_node_at(place, e);
        if push && self.stack.len() < MAX_DEPTH {
            self.spush(e);
        }
        e
    }

    fn insert(&mut self, tag: Tag, a: &Attrs) -> u32 {
        let attrs = self.store_attrs(tag, a);
        self.insert_with(tag, Ns::Html, attrs, true)
    }

    fn insert_and_pop(&mut self, tag: Tag, a: &Attrs) -> u32 {
        let attrs = self.store_attrs(tag, a);
        self.insert_with(tag, Ns::Html, attrs, false)
    }

    fn phantom(&mut self, tag: Tag) -> u32 {
        let n = self.dom.attrs.len() as u32;
        self.insert_with(tag, Ns::Html, (n, n), true)
    }

    fn create_root(&mut self) {
        let n = self.dom.attrs.len() as u32;
        let e = self.create(T::Html, Ns::Html, (n, n));
        self.append_child(0, e);
        self.spush(e);
    }

    fn raw(&mut self, tag: Tag, a: &Attrs, state: State) -> Flow {
        // Always left open: the end tag of raw text pops it.
        let e = self.insert_and_pop(tag, a);
        self.spush(e);
        self.orig_mode = self.mode;
        self.mode = Mode::Text;
        self.next_state = Some(state);
        Flow::Done
    }

    // ---- stack ----

    fn pop(&mut self) {
        self.stack.pop();
    }

    fn in_scope(&self, scope: Scope, pred: impl Fn(u32) -> bool) -> bool {
        for &n in self.stack.iter().rev() {
            if pred(n) {
                return true;
            }
            if let Some((t, ns)) = self.tag_ns(n)
                && scope_boundary(scope, t, ns)
            {
                return false;
            }
        }
        false
    }

    fn in_scope_tag(&self, scope: Scope, tag: Tag) -> bool {
        self.stack.has(tag) && self.in_scope(scope, |n| self.is(n, tag))
    }

    /// Pops until an element matching `pred` has been popped; returns how many were popped.
    fn pop_until(&mut self, pred: impl Fn(&Self, u32) -> bool) -> usize {
        let mut n = 0;
        while let Some(e) = self.stack.pop() {
            n += 1;
            if pred(self, e) {
                break;
            }
        }
        n
    }

    fn pop_until_tag(&mut self, tag: Tag) -> usize {
        // The rules only call this with such an element open; beyond the depth cap it may not
        // be, and popping everything would be wrong.
        if !self.stack.has(tag) {
            return 0;
        }
        self.pop_until(|b, e| b.is(e, tag))
    }

    /// Pops until the current node is an HTML element in `set`.
    fn pop_until_current(&mut self, set: &[Tag]) {
        while let Some(&n) = self.stack.last() {
            if self.html_tag(n).is_some_and(|t| set.contains(&t)) {
                return;
            }
            self.stack.pop();
        }
    }

    fn generate_implied(&mut self, except: Option<Tag>) {
        while let Some(&n) = self.stack.last() {
            let Some(t) = self.html_tag(n) else {
                return;
            };
            let implied = matches!(
                t,
                T::Dd
                    | T::Dt
                    | T::Li
                    | T::Option
                    | T::Optgroup
                    | T::P
                    | T::Rb
                    | T::Rp
                    | T::Rt
                    | T::Rtc
            );
            if !implied || Some(t) == except {
                return;
            }
            self.stack.pop();
        }
    }

    fn close_p(&mut self) {
        self.generate_implied(Some(T::P));
        self.pop_until_tag(T::P);
    }

    fn close_p_in_button_scope(&mut self) {
        if self.in_scope_tag(Scope::Button, T::P) {
            self.close_p();
        }
    }

    fn remove_from_stack(&mut self, e: u32) {
        if let Some(i) = self.stack.iter().rposition(|&x| x == e) {
            self.stack.remove(i);
        }
    }

    fn close_cell(&mut self) {
        self.generate_implied(None);
        self.pop_until(|b, e| b.is(e, T::Td) || b.is(e, T::Th));
        self.clear_afe_to_marker();
    }

    fn reset_mode(&self) -> Mode {
        for i in (0..self.stack.len()).rev() {
            let last = i == 0;
            let Some(t) = self.html_tag(self.stack[i]) else {
                continue;
            };
            match t {
                T::Select => {
                    for &a in self.stack[..i].iter().rev() {
                        if self.is(a, T::Template) {
                            return Mode::InSelect;
                        }
                        if self.is(a, T::Table) {
                            return Mode::InSelectInTable;
                        }
                    }
                    return Mode::InSelect;
                }
                T::Td | T::Th if !last => return Mode::InCell,
                T::Tr => return Mode::InRow,
                T::Tbody | T::Thead | T::Tfoot => return Mode::InTableBody,
                T::Caption => return Mode::InCaption,
                T::Colgroup => return Mode::InColumnGroup,
                T::Table => return Mode::InTable,
                T::Template => return Mode::InBody,
                T::Head if !last => return Mode::InHead,
                T::Body => return Mode::InBody,
                T::Frameset => return Mode::InFrameset,
                T::Html => {
                    return if self.head == NONE {
                        Mode::BeforeHead
                    } else {
                        Mode::AfterHead
                    };
                }
                _ => {}
            }
        }
        Mode::InBody
    }

    // ---- active formatting elements ----

    fn afe_pos(&self, e: u32) -> Option<usize> {
        self.afe.iter().position(|&x| x == Afe::El(e))
    }

    fn clear_afe_to_marker(&mut self) {
        while let Some(x) = self.afe.pop() {
            if x == Afe::Marker {
                break;
            }
        }
    }

    fn is_open(&self, e: u32) -> bool {
        self.stack.iter().rev().any(|&x| x == e)
    }

    fn clone_element(&mut self, e: u32) -> u32 {
        let data = self.node(e).data;
        self.new_node(data)
    }

    fn reconstruct_afe(&mut self) {
        // At the depth cap nothing more can be left open, so re-creating would only repeat.
        if self.stack.len() >= MAX_DEPTH {
            return;
        }
        let Some(&last) = self.afe.last() else {
            return;
        };
        let open = |b: &Self, x: Afe| match x {
            Afe::Marker => true,
            Afe::El(e) => b.is_open(e),
        };
        if open(self, last) {
            return;
        }
        let mut i = self.afe.len() - 1;
        loop {
            if i == 0 {
                break;
            }
            i -= 1;
            if open(self, self.afe[i]) {
                i += 1;
                break;
            }
        }
        loop {
            let Afe::El(old) = self.afe[i] else {
                return;
            };
            let Data::Element { tag, attrs, .. } = self.node(old).data else {
                return;
            };
            let e = self.insert_with(tag, Ns::Html, attrs, true);
            self.afe[i] = Afe::El(e);
            if i == self.afe.len() - 1 {
                break;
            }
            i += 1;
        }
    }

    fn formatting(&mut self, tag: Tag, a: &Attrs) {
        let attrs = self.store_attrs(tag, a);
        let mut first = None;
        let mut matches = 0;
        for i in (0..self.afe.len()).rev() {
            let Afe::El(e) = self.afe[i] else {
                break;
            };
            if let Data::Element {
                tag: t, attrs: ea, ..
            } = self.node(e).data
                && t == tag
                && self.same_attrs(ea, attrs)
            {
                first = Some(i);
                matches += 1;
            }
        }
        if matches >= 3
            && let Some(i) = first
        {
            self.afe.remove(i);
        }
        let e = self.insert_with(tag, Ns::Html, attrs, true);
        if self.afe.len() < MAX_AFE && self.stack.last() == Some(&e) {
            self.afe.push(Afe::El(e));
        }
    }

    /// The adoption agency algorithm, as html5ever runs it.
    fn adoption_agency(&mut self, subject: Tag) {
        let cur = self.cur();
        if self.is(cur, subject) && self.afe_pos(cur).is_none() {
            self.pop();
            return;
        }
        for _ in 0..8 {
            let mut found = None;
            for i in (0..self.afe.len()).rev() {
                match self.afe[i] {
                    Afe::Marker => break,
                    Afe::El(e) if self.tag_ns(e).map(|x| x.0) == Some(subject) => {
                        found = Some((i, e));
                        break;
                    }
                    Afe::El(_) => {}
                }
            }
            let Some((fi, fmt)) = found else {
                self.end_tag_generic(subject);
                return;
            };
            let Some(fsi) = self.stack.iter().rposition(|&n| n == fmt) else {
                self.afe.remove(fi);
                return;
            };
            if !self.in_scope(Scope::Default, |n| n == fmt) {
                return;
            }
            let Some(fbi) = (fsi..self.stack.len()).find(|&i| self.is_special_node(self.stack[i]))
            else {
                self.stack.truncate(fsi);
                self.afe.remove(fi);
                return;
            };
            let fb = self.stack[fbi];
            let Some(&common) = fsi.checked_sub(1).and_then(|i| self.stack.get(i)) else {
                return;
            };
            let mut bookmark = Bookmark::Replace(fmt);
            let mut node_index = fbi;
            let mut last = fb;
            let mut inner = 0;
            loop {
                inner += 1;
                if node_index == 0 {
                    return;
                }
                node_index -= 1;
                let node = self.stack[node_index];
                if node == fmt {
                    break;
                }
                if inner > 3 {
                    if let Some(p) = self.afe_pos(node) {
                        self.afe.remove(p);
                    }
                    self.stack.remove(node_index);
                    continue;
                }
                let Some(nfi) = self.afe_pos(node) else {
                    self.stack.remove(node_index);
                    continue;
                };
                let new = self.clone_element(node);
                self.stack.set(node_index, new);
                self.afe[nfi] = Afe::El(new);
                if last == fb {
                    bookmark = Bookmark::InsertAfter(new);
                }
                self.detach(last);
                self.append_child(new, last);
                last = new;
            }
            self.detach(last);
            let place = self.place(Some(common));
            self.insert_node_at(place, last);
            let new = self.clone_element(fmt);
            self.reparent_children(fb, new);
            self.append_child(fb, new);
            match bookmark {
                Bookmark::Replace(x) => {
                    if let Some(i) = self.afe_pos(x) {
                        self.afe[i] = Afe::El(new);
                    }
                }
                Bookmark::InsertAfter(prev) => {
                    if let Some(i) = self.afe_pos(prev) {
                        self.afe.insert(i + 1, Afe::El(new));
                    }
                    if let Some(old) = self.afe_pos(fmt) {
                        self.afe.remove(old);
                    }
                }
            }
            self.remove_from_stack(fmt);
            if let Some(i) = self.stack.iter().position(|&n| n == fb) {
                let key = self.key(new);
                self.stack.insert(i + 1, new, key);
            }
        }
    }

    /// "Any other end tag" in body.
    fn end_tag_generic(&mut self, tag: Tag) {
        if !self.stack.has(tag) {
            return;
        }
        let mut idx = None;
        for i in (0..self.stack.len()).rev() {
            let n = self.stack[i];
            if self.is(n, tag) {
                idx = Some(i);
                break;
            }
            if self.is_special_node(n) {
                return;
            }
        }
        let Some(i) = idx else {
            return;
        };
        self.generate_implied(Some(tag));
        self.stack.truncate(i);
    }

    // ---- tokens ----

    fn doctype(&mut self, d: &Doctype) {
        if self.template_depth == 0 && self.mode == Mode::Initial {
            self.quirks = doctype_quirks(d);
            self.mode = Mode::BeforeHtml;
        }
    }

    fn eof(&mut self) {
        if self.template_depth == 0 && self.mode == Mode::InTableText {
            self.flush_table_text();
        }
    }

    fn comment(&mut self) {
        if self.template_depth == 0 && self.mode == Mode::InTableText {
            self.flush_table_text();
        }
    }

    fn flush_table_text(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        if pending.bytes().any(|b| !is_ws(b)) {
            self.foster = true;
            self.body_chars(&pending);
            self.foster = false;
        } else {
            self.append_text(&pending);
        }
        self.pending = pending;
        self.pending.clear();
        self.mode = self.orig_mode;
    }

    /// Whether the token goes to the foreign-content rules (html5ever's `is_foreign`).
    fn foreign_for(&self, chars: bool, start: Option<Tag>) -> bool {
        let Some(&cur) = self.stack.last() else {
            return false;
        };
        let Some((tag, ns)) = self.tag_ns(cur) else {
            return false;
        };
        if ns == Ns::Html {
            return false;
        }
        if ns == Ns::MathMl && is_mathml_text_ip(tag) {
            if chars {
                return false;
            }
            if let Some(t) = start
                && !matches!(t, T::Mglyph | T::Malignmark)
            {
                return false;
            }
        }
        if ns == Ns::Svg && is_svg_html_ip(tag) && (chars || start.is_some()) {
            return false;
        }
        if ns == Ns::MathMl && tag == T::AnnotationXml && start == Some(T::Svg) {
            return false;
        }
        true
    }

    fn chars(&mut self, s: &str) {
        if self.template_depth > 0 {
            return;
        }
        let mut s = s;
        while !s.is_empty() {
            if self.mode != Mode::InTableText && self.foreign_for(true, None) {
                if s.bytes().any(|b| !is_ws(b)) {
                    self.frameset_ok = false;
                }
                self.append_text(s);
                return;
            }
            match self.mode {
                Mode::Initial | Mode::BeforeHtml | Mode::BeforeHead => {
                    s = split_ws(s).1;
                    if s.is_empty() {
                        return;
                    }
                    self.implicit_step();
                }
                Mode::InHead | Mode::AfterHead => {
                    let (ws, rest) = split_ws(s);
                    if !ws.is_empty() {
                        self.append_text(ws);
                    }
                    s = rest;
                    if s.is_empty() {
                        return;
                    }
                    self.implicit_step();
                }
                Mode::InBody | Mode::InCell | Mode::InCaption => {
                    self.body_chars(s);
                    return;
                }
                Mode::InTable | Mode::InTableBody | Mode::InRow => {
                    if self.cur_in_table_outer() {
                        self.orig_mode = self.mode;
                        self.mode = Mode::InTableText;
                        self.pending.push_str(s);
                    } else {
                        self.foster = true;
                        self.body_chars(s);
                        self.foster = false;
                    }
                    return;
                }
                Mode::InTableText => {
                    self.pending.push_str(s);
                    return;
                }
                Mode::Text | Mode::InSelect | Mode::InSelectInTable => {
                    self.append_text(s);
                    return;
                }
                Mode::InColumnGroup => {
                    let (ws, rest) = split_ws(s);
                    if !ws.is_empty() {
                        self.append_text(ws);
                    }
                    s = rest;
                    if s.is_empty() {
                        return;
                    }
                    if self.cur_is(T::Colgroup) {
                        self.pop();
                        self.mode = Mode::InTable;
                    } else {
                        let n = s.bytes().take_while(|&b| !is_ws(b)).count();
                        s = &s[n..];
                    }
                }
                Mode::InFrameset | Mode::AfterFrameset | Mode::AfterAfterFrameset => {
                    let (ws, rest) = split_ws(s);
                    if !ws.is_empty() {
                        if self.mode == Mode::AfterAfterFrameset {
                            self.body_chars(ws);
                        } else {
                            self.append_text(ws);
                        }
                    }
                    let n = rest.bytes().take_while(|&b| !is_ws(b)).count();
                    s = &rest[n..];
                }
                Mode::AfterBody | Mode::AfterAfterBody => {
                    let (ws, rest) = split_ws(s);
                    if !ws.is_empty() {
                        self.body_chars(ws);
                    }
                    s = rest;
                    if s.is_empty() {
                        return;
                    }
                    self.mode = Mode::InBody;
                }
            }
        }
    }

    /// The "anything else" transition of the modes before the body, for a character that is
    /// not whitespace.
    fn implicit_step(&mut self) {
        match self.mode {
            Mode::Initial => {
                self.quirks = true;
                self.mode = Mode::BeforeHtml;
            }
            Mode::BeforeHtml => {
                self.create_root();
                self.mode = Mode::BeforeHead;
            }
            Mode::BeforeHead => {
                self.head = self.phantom(T::Head);
                self.mode = Mode::InHead;
            }
            Mode::InHead => {
                self.pop();
                self.mode = Mode::AfterHead;
            }
            Mode::AfterHead => {
                self.phantom(T::Body);
                self.mode = Mode::InBody;
            }
            _ => {}
        }
    }

    fn cur_in_table_outer(&self) -> bool {
        matches!(
            self.html_tag(self.cur()),
            Some(T::Table | T::Tbody | T::Tfoot | T::Thead | T::Tr)
        )
    }

    fn body_chars(&mut self, s: &str) {
        self.reconstruct_afe();
        if s.bytes().any(|b| !is_ws(b)) {
            self.frameset_ok = false;
        }
        self.append_text(s);
    }

    fn null(&mut self) {
        if self.template_depth > 0 {
            return;
        }
        loop {
            if self.mode != Mode::InTableText && self.foreign_for(true, None) {
                self.frameset_ok = false;
                self.append_text("\u{fffd}");
                return;
            }
            match self.mode {
                Mode::Initial
                | Mode::BeforeHtml
                | Mode::BeforeHead
                | Mode::InHead
                | Mode::AfterHead => self.implicit_step(),
                Mode::InTable | Mode::InTableBody | Mode::InRow => {
                    if self.cur_in_table_outer() {
                        self.orig_mode = self.mode;
                        self.mode = Mode::InTableText;
                    }
                    return;
                }
                Mode::InColumnGroup => {
                    if !self.cur_is(T::Colgroup) {
                        return;
                    }
                    self.pop();
                    self.mode = Mode::InTable;
                }
                Mode::AfterBody | Mode::AfterAfterBody => {
                    self.mode = Mode::InBody;
                    return;
                }
                _ => return,
            }
        }
    }

    fn start(&mut self, t: St, a: &Attrs) {
        if self.template_depth > 0 {
            self.skip_start(t.tag);
            return;
        }
        if self.mode == Mode::InTableText {
            self.flush_table_text();
        }
        loop {
            let flow = if self.foreign_for(false, Some(t.tag)) {
                self.foreign_start(t, a)
            } else {
                self.start_in(self.mode, t, a)
            };
            match flow {
                Flow::Done => return,
                Flow::Re(m) => self.mode = m,
            }
        }
    }

    /// Inside a skipped `<template>`: only nesting and raw-text content matter.
    fn skip_start(&mut self, tag: Tag) {
        self.next_state = match tag {
            T::Template => {
                self.template_depth += 1;
                None
            }
            T::Script => Some(State::Script),
            T::Style | T::Xmp | T::Iframe | T::Noembed | T::Noframes | T::Noscript => {
                Some(State::Rawtext(tag))
            }
            T::Title | T::Textarea => Some(State::Rcdata(tag)),
            T::Plaintext => Some(State::Plaintext),
            _ => None,
        };
    }

    fn end(&mut self, tag: Tag) {
        if self.template_depth > 0 {
            if tag == T::Template {
                self.template_depth -= 1;
            }
            return;
        }
        if self.mode == Mode::InTableText {
            self.flush_table_text();
        }
        loop {
            let flow = if self.foreign_for(false, None) {
                self.foreign_end(tag)
            } else {
                self.end_in(self.mode, tag)
            };
            match flow {
                Flow::Done => return,
                Flow::Re(m) => self.mode = m,
            }
        }
    }

    fn start_in(&mut self, mode: Mode, t: St, a: &Attrs) -> Flow {
        match mode {
            Mode::Initial => {
                self.quirks = true;
                Flow::Re(Mode::BeforeHtml)
            }
            Mode::BeforeHtml => {
                self.create_root();
                if t.tag == T::Html {
                    self.mode = Mode::BeforeHead;
                    return Flow::Done;
                }
                Flow::Re(Mode::BeforeHead)
            }
            Mode::BeforeHead => match t.tag {
                T::Html => self.body_start(t, a),
                T::Head => {
                    self.head = self.insert(T::Head, a);
                    self.mode = Mode::InHead;
                    Flow::Done
                }
                _ => {
                    self.head = self.phantom(T::Head);
                    Flow::Re(Mode::InHead)
                }
            },
            Mode::InHead => self.head_start(t, a),
            Mode::AfterHead => match t.tag {
                T::Html => self.body_start(t, a),
                T::Body => {
                    self.insert(T::Body, a);
                    self.frameset_ok = false;
                    self.mode = Mode::InBody;
                    Flow::Done
                }
                T::Frameset => {
                    self.insert(T::Frameset, a);
                    self.mode = Mode::InFrameset;
                    Flow::Done
                }
                T::Base
                | T::Basefont
                | T::Bgsound
                | T::Link
                | T::Meta
                | T::Noframes
                | T::Script
                | T::Style
                | T::Template
                | T::Title => {
                    let head = self.head;
                    if head == NONE {
                        return Flow::Done;
                    }
                    self.spush(head);
                    let flow = self.head_start(t, a);
                    self.remove_from_stack(head);
                    flow
                }
                T::Head => Flow::Done,
                _ => {
                    self.phantom(T::Body);
                    Flow::Re(Mode::InBody)
                }
            },
            Mode::InBody => self.body_start(t, a),
            Mode::Text => Flow::Done,
            Mode::InTable => self.table_start(t, a),
            Mode::InTableText => Flow::Re(self.orig_mode),
            Mode::InCaption => match t.tag {
                T::Caption
                | T::Col
                | T::Colgroup
                | T::Tbody
                | T::Td
                | T::Tfoot
                | T::Th
                | T::Thead
                | T::Tr => {
                    if !self.in_scope_tag(Scope::Table, T::Caption) {
                        return Flow::Done;
                    }
                    self.generate_implied(None);
                    self.pop_until_tag(T::Caption);
                    self.clear_afe_to_marker();
                    Flow::Re(Mode::InTable)
                }
                _ => self.body_start(t, a),
            },
            Mode::InColumnGroup => match t.tag {
                T::Html => self.body_start(t, a),
                T::Col => {
                    self.insert_and_pop(T::Col, a);
                    Flow::Done
                }
                T::Template => self.head_start(t, a),
                _ => {
                    if self.cur_is(T::Colgroup) {
                        self.pop();
                        Flow::Re(Mode::InTable)
                    } else {
                        Flow::Done
                    }
                }
            },
            Mode::InTableBody => match t.tag {
                T::Tr => {
                    self.pop_until_current(&[T::Tbody, T::Tfoot, T::Thead, T::Template, T::Html]);
                    self.insert(T::Tr, a);
                    self.mode = Mode::InRow;
                    Flow::Done
                }
                T::Th | T::Td => {
                    self.pop_until_current(&[T::Tbody, T::Tfoot, T::Thead, T::Template, T::Html]);
                    self.phantom(T::Tr);
                    Flow::Re(Mode::InRow)
                }
                T::Caption | T::Col | T::Colgroup | T::Tbody | T::Tfoot | T::Thead => {
                    self.leave_table_body()
                }
                _ => self.table_start(t, a),
            },
            Mode::InRow => match t.tag {
                T::Th | T::Td => {
                    self.pop_until_current(&[T::Tr, T::Template, T::Html]);
                    self.insert(t.tag, a);
                    self.mode = Mode::InCell;
                    self.afe.push(Afe::Marker);
                    Flow::Done
                }
                T::Caption | T::Col | T::Colgroup | T::Tbody | T::Tfoot | T::Thead | T::Tr => {
                    self.leave_row()
                }
                _ => self.table_start(t, a),
            },
            Mode::InCell => match t.tag {
                T::Caption
                | T::Col
                | T::Colgroup
                | T::Tbody
                | T::Td
                | T::Tfoot
                | T::Th
                | T::Thead
                | T::Tr => {
                    if self.in_scope(Scope::Table, |n| self.is(n, T::Td) || self.is(n, T::Th)) {
                        self.close_cell();
                        Flow::Re(Mode::InRow)
                    } else {
                        Flow::Done
                    }
                }
                _ => self.body_start(t, a),
            },
            Mode::InSelect => self.select_start(t, a),
            Mode::InSelectInTable => match t.tag {
                T::Caption | T::Table | T::Tbody | T::Tfoot | T::Thead | T::Tr | T::Td | T::Th => {
                    self.pop_until_tag(T::Select);
                    Flow::Re(self.reset_mode())
                }
                _ => self.select_start(t, a),
            },
            Mode::AfterBody | Mode::AfterAfterBody => match t.tag {
                T::Html => self.body_start(t, a),
                _ => Flow::Re(Mode::InBody),
            },
            Mode::InFrameset => match t.tag {
                T::Html => self.body_start(t, a),
                T::Frameset => {
                    self.insert(T::Frameset, a);
                    Flow::Done
                }
                T::Frame => {
                    self.insert_and_pop(T::Frame, a);
                    Flow::Done
                }
                T::Noframes => self.head_start(t, a),
                _ => Flow::Done,
            },
            Mode::AfterFrameset | Mode::AfterAfterFrameset => match t.tag {
                T::Html => self.body_start(t, a),
                T::Noframes => self.head_start(t, a),
                _ => Flow::Done,
            },
        }
    }

    fn leave_table_body(&mut self) -> Flow {
        if self.in_scope(Scope::Table, |n| {
            self.is(n, T::Table) || self.is(n, T::Tbody) || self.is(n, T::Tfoot)
        }) {
            self.pop_until_current(&[T::Tbody, T::Tfoot, T::Thead, T::Template, T::Html]);
            self.pop();
            Flow::Re(Mode::InTable)
        } else {
            Flow::Done
        }
    }

    fn leave_row(&mut self) -> Flow {
        if self.in_scope_tag(Scope::Table, T::Tr) {
            self.pop_until_current(&[T::Tr, T::Template, T::Html]);
            self.pop();
            Flow::Re(Mode::InTableBody)
        } else {
            Flow::Done
        }
    }

    fn head_start(&mut self, t: St, a: &Attrs) -> Flow {
        match t.tag {
            T::Html => self.body_start(t, a),
            T::Base | T::Basefont | T::Bgsound | T::Link | T::Meta => {
                self.insert_and_pop(t.tag, a);
                Flow::Done
            }
            T::Title => self.raw(T::Title, a, State::Rcdata(T::Title)),
            T::Noframes | T::Style | T::Noscript => self.raw(t.tag, a, State::Rawtext(t.tag)),
            T::Script => self.raw(T::Script, a, State::Script),
            T::Template => {
                // Template contents are never part of the page's text or tables: skip them
                // whole, keeping only their nesting.
                self.frameset_ok = false;
                self.template_depth = 1;
                Flow::Done
            }
            T::Head => Flow::Done,
            _ => {
                self.pop();
                Flow::Re(Mode::AfterHead)
            }
        }
    }

    fn body_start(&mut self, t: St, a: &Attrs) -> Flow {
        match t.tag {
            T::Html => {}
            T::Base
            | T::Basefont
            | T::Bgsound
            | T::Link
            | T::Meta
            | T::Noframes
            | T::Script
            | T::Style
            | T::Template
            | T::Title => return self.head_start(t, a),
            T::Body => {
                if self.stack.len() > 1 && self.is(self.stack[1], T::Body) {
                    self.frameset_ok = false;
                }
            }
            T::Frameset => {
                if !self.frameset_ok || self.stack.len() < 2 || !self.is(self.stack[1], T::Body) {
                    return Flow::Done;
                }
                let body = self.stack[1];
                self.detach(body);
                self.stack.truncate(1);
                self.insert(T::Frameset, a);
                self.mode = Mode::InFrameset;
            }
            T::Address
            | T::Article
            | T::Aside
            | T::Blockquote
            | T::Center
            | T::Details
            | T::Dialog
            | T::Dir
            | T::Div
            | T::Dl
            | T::Fieldset
            | T::Figcaption
            | T::Figure
            | T::Footer
            | T::Header
            | T::Hgroup
            | T::Main
            | T::Nav
            | T::Ol
            | T::P
            | T::Search
            | T::Section
            | T::Summary
            | T::Ul
            | T::Menu => {
                self.close_p_in_button_scope();
                self.insert(t.tag, a);
            }
            T::H1 | T::H2 | T::H3 | T::H4 | T::H5 | T::H6 => {
                self.close_p_in_button_scope();
                if self.html_tag(self.cur()).is_some_and(is_heading) {
                    self.pop();
                }
                self.insert(t.tag, a);
            }
            T::Pre | T::Listing => {
                self.close_p_in_button_scope();
                self.insert(t.tag, a);
                self.ignore_lf = true;
                self.frameset_ok = false;
            }
            T::Form => {
                if self.form == NONE {
                    self.close_p_in_button_scope();
                    self.form = self.insert(T::Form, a);
                }
            }
            T::Li | T::Dd | T::Dt => {
                self.frameset_ok = false;
                let mut to_close = None;
                for &n in self.stack.iter().rev() {
                    let nt = self.html_tag(n);
                    let can_close = match t.tag {
                        T::Li => nt == Some(T::Li),
                        _ => matches!(nt, Some(T::Dd | T::Dt)),
                    };
                    if can_close {
                        to_close = nt;
                        break;
                    }
                    if nt.is_some_and(|x| is_special(x) && !matches!(x, T::Address | T::Div | T::P))
                    {
                        break;
                    }
                }
                if let Some(c) = to_close {
                    self.generate_implied(Some(c));
                    self.pop_until_tag(c);
                }
                self.close_p_in_button_scope();
                self.insert(t.tag, a);
            }
            T::Plaintext => {
                self.close_p_in_button_scope();
                self.insert(T::Plaintext, a);
                self.next_state = Some(State::Plaintext);
            }
            T::Button => {
                if self.in_scope_tag(Scope::Default, T::Button) {
                    self.generate_implied(None);
                    self.pop_until_tag(T::Button);
                }
                self.reconstruct_afe();
                self.insert(T::Button, a);
                self.frameset_ok = false;
            }
            T::A => {
                let mut open_a = None;
                for x in self.afe.iter().rev() {
                    match *x {
                        Afe::Marker => break,
                        Afe::El(e) if self.is(e, T::A) => {
                            open_a = Some(e);
                            break;
                        }
                        Afe::El(_) => {}
                    }
                }
                if let Some(e) = open_a {
                    self.adoption_agency(T::A);
                    if let Some(p) = self.afe_pos(e) {
                        self.afe.remove(p);
                    }
                    self.remove_from_stack(e);
                }
                self.reconstruct_afe();
                self.formatting(T::A, a);
            }
            T::B
            | T::Big
            | T::Code
            | T::Em
            | T::Font
            | T::I
            | T::S
            | T::Small
            | T::Strike
            | T::Strong
            | T::Tt
            | T::U => {
                self.reconstruct_afe();
                self.formatting(t.tag, a);
            }
            T::Nobr => {
                self.reconstruct_afe();
                if self.in_scope_tag(Scope::Default, T::Nobr) {
                    self.adoption_agency(T::Nobr);
                    self.reconstruct_afe();
                }
                self.formatting(T::Nobr, a);
            }
            T::Applet | T::Marquee | T::Object => {
                self.reconstruct_afe();
                self.insert(t.tag, a);
                self.afe.push(Afe::Marker);
                self.frameset_ok = false;
            }
            T::Table => {
                if !self.quirks {
                    self.close_p_in_button_scope();
                }
                self.insert(T::Table, a);
                self.frameset_ok = false;
                self.mode = Mode::InTable;
            }
            T::Area | T::Br | T::Embed | T::Img | T::Keygen | T::Wbr | T::Input => {
                let keep = t.tag == T::Input
                    && a.get("type")
                        .is_some_and(|v| v.eq_ignore_ascii_case("hidden"));
                self.reconstruct_afe();
                self.insert_and_pop(t.tag, a);
                if !keep {
                    self.frameset_ok = false;
                }
            }
            T::Param | T::Source | T::Track => {
                self.insert_and_pop(t.tag, a);
            }
            T::Hr => {
                self.close_p_in_button_scope();
                self.insert_and_pop(T::Hr, a);
                self.frameset_ok = false;
            }
            T::Image => return self.body_start(St { tag: T::Img, ..t }, a),
            T::Textarea => {
                self.ignore_lf = true;
                self.frameset_ok = false;
                return self.raw(T::Textarea, a, State::Rcdata(T::Textarea));
            }
            T::Xmp => {
                self.close_p_in_button_scope();
                self.reconstruct_afe();
                self.frameset_ok = false;
                return self.raw(T::Xmp, a, State::Rawtext(T::Xmp));
            }
            T::Iframe => {
                self.frameset_ok = false;
                return self.raw(T::Iframe, a, State::Rawtext(T::Iframe));
            }
            T::Noembed | T::Noscript => return self.raw(t.tag, a, State::Rawtext(t.tag)),
            T::Select => {
                self.reconstruct_afe();
                self.insert(T::Select, a);
                self.frameset_ok = false;
                self.mode = match self.mode {
                    Mode::InTable
                    | Mode::InCaption
                    | Mode::InTableBody
                    | Mode::InRow
                    | Mode::InCell => Mode::InSelectInTable,
                    _ => Mode::InSelect,
                };
            }
            T::Optgroup | T::Option => {
                if self.cur_is(T::Option) {
                    self.pop();
                }
                self.reconstruct_afe();
                self.insert(t.tag, a);
            }
            T::Rb | T::Rtc => {
                if self.in_scope_tag(Scope::Default, T::Ruby) {
                    self.generate_implied(None);
                }
                self.insert(t.tag, a);
            }
            T::Rp | T::Rt => {
                if self.in_scope_tag(Scope::Default, T::Ruby) {
                    self.generate_implied(Some(T::Rtc));
                }
                self.insert(t.tag, a);
            }
            T::Math => self.enter_foreign(t, a, Ns::MathMl),
            T::Svg => self.enter_foreign(t, a, Ns::Svg),
            T::Caption
            | T::Col
            | T::Colgroup
            | T::Frame
            | T::Head
            | T::Tbody
            | T::Td
            | T::Tfoot
            | T::Th
            | T::Thead
            | T::Tr => {}
            _ => {
                self.reconstruct_afe();
                self.insert(t.tag, a);
            }
        }
        Flow::Done
    }

    fn enter_foreign(&mut self, t: St, a: &Attrs, ns: Ns) {
        let attrs = self.store_attrs(t.tag, a);
        self.insert_with(t.tag, ns, attrs, !t.self_closing);
    }

    fn table_start(&mut self, t: St, a: &Attrs) -> Flow {
        const TABLE_CTX: &[Tag] = &[T::Html, T::Table, T::Template];
        match t.tag {
            T::Caption => {
                self.pop_until_current(TABLE_CTX);
                self.afe.push(Afe::Marker);
                self.insert(T::Caption, a);
                self.mode = Mode::InCaption;
                Flow::Done
            }
            T::Colgroup => {
                self.pop_until_current(TABLE_CTX);
                self.insert(T::Colgroup, a);
                self.mode = Mode::InColumnGroup;
                Flow::Done
            }
            T::Col => {
                self.pop_until_current(TABLE_CTX);
                self.phantom(T::Colgroup);
                Flow::Re(Mode::InColumnGroup)
            }
            T::Tbody | T::Tfoot | T::Thead => {
                self.pop_until_current(TABLE_CTX);
                self.insert(t.tag, a);
                self.mode = Mode::InTableBody;
                Flow::Done
            }
            T::Td | T::Th | T::Tr => {
                self.pop_until_current(TABLE_CTX);
                self.phantom(T::Tbody);
                Flow::Re(Mode::InTableBody)
            }
            T::Table => {
                if self.in_scope_tag(Scope::Table, T::Table) {
                    self.pop_until_tag(T::Table);
                    Flow::Re(self.reset_mode())
                } else {
                    Flow::Done
                }
            }
            T::Style | T::Script | T::Template => self.head_start(t, a),
            T::Input
                if a.get("type")
                    .is_some_and(|v| v.eq_ignore_ascii_case("hidden")) =>
            {
                self.insert_and_pop(T::Input, a);
                Flow::Done
            }
            T::Form => {
                if self.form == NONE {
                    self.form = self.insert_and_pop(T::Form, a);
                }
                Flow::Done
            }
            _ => {
                self.foster = true;
                let flow = self.body_start(t, a);
                self.foster = false;
                flow
            }
        }
    }

    fn select_start(&mut self, t: St, a: &Attrs) -> Flow {
        match t.tag {
            T::Html => self.body_start(t, a),
            T::Option => {
                if self.cur_is(T::Option) {
                    self.pop();
                }
                self.insert(T::Option, a);
                Flow::Done
            }
            T::Optgroup | T::Hr => {
                if self.cur_is(T::Option) {
                    self.pop();
                }
                if self.cur_is(T::Optgroup) {
                    self.pop();
                }
                if t.tag == T::Hr {
                    self.insert_and_pop(T::Hr, a);
                } else {
                    self.insert(T::Optgroup, a);
                }
                Flow::Done
            }
            T::Select => {
                if self.in_scope_tag(Scope::Select, T::Select) {
                    self.pop_until_tag(T::Select);
                    self.mode = self.reset_mode();
                }
                Flow::Done
            }
            T::Input | T::Keygen | T::Textarea => {
                if self.in_scope_tag(Scope::Select, T::Select) {
                    self.pop_until_tag(T::Select);
                    Flow::Re(self.reset_mode())
                } else {
                    Flow::Done
                }
            }
            T::Script | T::Template => self.head_start(t, a),
            _ => Flow::Done,
        }
    }

    fn foreign_start(&mut self, t: St, a: &Attrs) -> Flow {
        let breakout = matches!(
            t.tag,
            T::B | T::Big
                | T::Blockquote
                | T::Body
                | T::Br
                | T::Center
                | T::Code
                | T::Dd
                | T::Div
                | T::Dl
                | T::Dt
                | T::Em
                | T::Embed
                | T::H1
                | T::H2
                | T::H3
                | T::H4
                | T::H5
                | T::H6
                | T::Head
                | T::Hr
                | T::I
                | T::Img
                | T::Li
                | T::Listing
                | T::Menu
                | T::Meta
                | T::Nobr
                | T::Ol
                | T::P
                | T::Pre
                | T::Ruby
                | T::S
                | T::Small
                | T::Span
                | T::Strong
                | T::Strike
                | T::Sub
                | T::Sup
                | T::Table
                | T::Tt
                | T::U
                | T::Ul
                | T::Var
        ) || (t.tag == T::Font
            && a.iter()
                .any(|(n, _)| matches!(n, "color" | "face" | "size")));
        if breakout {
            self.pop_to_html_or_integration_point();
            return self.start_in(self.mode, t, a);
        }
        let ns = self.tag_ns(self.cur()).map_or(Ns::Html, |(_, ns)| ns);
        let attrs = self.store_attrs(t.tag, a);
        self.insert_with(t.tag, ns, attrs, !t.self_closing);
        Flow::Done
    }

    fn pop_to_html_or_integration_point(&mut self) {
        while let Some(&n) = self.stack.last() {
            match self.tag_ns(n) {
                Some((_, Ns::Html)) | None => return,
                Some((t, Ns::MathMl)) if is_mathml_text_ip(t) => return,
                Some((t, Ns::Svg)) if is_svg_html_ip(t) => return,
                _ => {
                    self.stack.pop();
                }
            }
        }
    }

    fn foreign_end(&mut self, tag: Tag) -> Flow {
        if matches!(tag, T::Br | T::P) {
            self.pop_to_html_or_integration_point();
            return self.end_in(self.mode, tag);
        }
        let mut first = true;
        let mut i = self.stack.len().saturating_sub(1);
        loop {
            if i == 0 {
                return Flow::Done;
            }
            let Some((t, ns)) = self.tag_ns(self.stack[i]) else {
                return Flow::Done;
            };
            if !first && ns == Ns::Html {
                return self.end_in(self.mode, tag);
            }
            if t == tag {
                self.stack.truncate(i);
                return Flow::Done;
            }
            first = false;
            i -= 1;
        }
    }

    fn end_in(&mut self, mode: Mode, tag: Tag) -> Flow {
        match mode {
            Mode::Initial => {
                self.quirks = true;
                Flow::Re(Mode::BeforeHtml)
            }
            Mode::BeforeHtml => {
                if matches!(tag, T::Head | T::Body | T::Html | T::Br) {
                    self.create_root();
                    Flow::Re(Mode::BeforeHead)
                } else {
                    Flow::Done
                }
            }
            Mode::BeforeHead => {
                if matches!(tag, T::Head | T::Body | T::Html | T::Br) {
                    self.head = self.phantom(T::Head);
                    Flow::Re(Mode::InHead)
                } else {
                    Flow::Done
                }
            }
            Mode::InHead => match tag {
                T::Head => {
                    self.pop();
                    self.mode = Mode::AfterHead;
                    Flow::Done
                }
                T::Body | T::Html | T::Br => {
                    self.pop();
                    Flow::Re(Mode::AfterHead)
                }
                _ => Flow::Done,
            },
            Mode::AfterHead => match tag {
                T::Body | T::Html | T::Br => {
                    self.phantom(T::Body);
                    Flow::Re(Mode::InBody)
                }
                _ => Flow::Done,
            },
            Mode::InBody => self.body_end(tag),
            Mode::Text => {
                self.pop();
                self.mode = self.orig_mode;
                Flow::Done
            }
            Mode::InTable => self.table_end(tag),
            Mode::InTableText => Flow::Re(self.orig_mode),
            Mode::InCaption => match tag {
                T::Caption | T::Table => {
                    if !self.in_scope_tag(Scope::Table, T::Caption) {
                        return Flow::Done;
                    }
                    self.generate_implied(None);
                    self.pop_until_tag(T::Caption);
                    self.clear_afe_to_marker();
                    if tag == T::Caption {
                        self.mode = Mode::InTable;
                        Flow::Done
                    } else {
                        Flow::Re(Mode::InTable)
                    }
                }
                T::Body
                | T::Col
                | T::Colgroup
                | T::Html
                | T::Tbody
                | T::Td
                | T::Tfoot
                | T::Th
                | T::Thead
                | T::Tr => Flow::Done,
                _ => self.body_end(tag),
            },
            Mode::InColumnGroup => match tag {
                T::Colgroup => {
                    if self.cur_is(T::Colgroup) {
                        self.pop();
                        self.mode = Mode::InTable;
                    }
                    Flow::Done
                }
                T::Col | T::Template => Flow::Done,
                _ => {
                    if self.cur_is(T::Colgroup) {
                        self.pop();
                        Flow::Re(Mode::InTable)
                    } else {
                        Flow::Done
                    }
                }
            },
            Mode::InTableBody => match tag {
                T::Tbody | T::Tfoot | T::Thead => {
                    if self.in_scope_tag(Scope::Table, tag) {
                        self.pop_until_current(&[
                            T::Tbody,
                            T::Tfoot,
                            T::Thead,
                            T::Template,
                            T::Html,
                        ]);
                        self.pop();
                        self.mode = Mode::InTable;
                    }
                    Flow::Done
                }
                T::Table => self.leave_table_body(),
                T::Body | T::Caption | T::Col | T::Colgroup | T::Html | T::Td | T::Th | T::Tr => {
                    Flow::Done
                }
                _ => self.table_end(tag),
            },
            Mode::InRow => match tag {
                T::Tr => {
                    if self.in_scope_tag(Scope::Table, T::Tr) {
                        self.pop_until_current(&[T::Tr, T::Template, T::Html]);
                        self.pop();
                        self.mode = Mode::InTableBody;
                    }
                    Flow::Done
                }
                T::Table => self.leave_row(),
                T::Tbody | T::Tfoot | T::Thead => {
                    if !self.in_scope_tag(Scope::Table, tag) {
                        return Flow::Done;
                    }
                    self.leave_row()
                }
                T::Body | T::Caption | T::Col | T::Colgroup | T::Html | T::Td | T::Th => Flow::Done,
                _ => self.table_end(tag),
            },
            Mode::InCell => match tag {
                T::Td | T::Th => {
                    if self.in_scope_tag(Scope::Table, tag) {
                        self.generate_implied(None);
                        self.pop_until_tag(tag);
                        self.clear_afe_to_marker();
                        self.mode = Mode::InRow;
                    }
                    Flow::Done
                }
                T::Body | T::Caption | T::Col | T::Colgroup | T::Html => Flow::Done,
                T::Table | T::Tbody | T::Tfoot | T::Thead | T::Tr => {
                    if self.in_scope_tag(Scope::Table, tag) {
                        self.close_cell();
                        Flow::Re(Mode::InRow)
                    } else {
                        Flow::Done
                    }
                }
                _ => self.body_end(tag),
            },
            Mode::InSelect => self.select_end(tag),
            Mode::InSelectInTable => match tag {
                T::Caption | T::Table | T::Tbody | T::Tfoot | T::Thead | T::Tr | T::Td | T::Th => {
                    if self.in_scope_tag(Scope::Table, tag) {
                        self.pop_until_tag(T::Select);
                        Flow::Re(self.reset_mode())
                    } else {
                        Flow::Done
                    }
                }
                _ => self.select_end(tag),
            },
            Mode::AfterBody => {
                if tag == T::Html {
                    self.mode = Mode::AfterAfterBody;
                    Flow::Done
                } else {
                    Flow::Re(Mode::InBody)
                }
            }
            Mode::AfterAfterBody => Flow::Re(Mode::InBody),
            Mode::InFrameset => {
                if tag == T::Frameset && self.stack.len() > 1 {
                    self.pop();
                    if !self.cur_is(T::Frameset) {
                        self.mode = Mode::AfterFrameset;
                    }
                }
                Flow::Done
            }
            Mode::AfterFrameset => {
                if tag == T::Html {
                    self.mode = Mode::AfterAfterFrameset;
                }
                Flow::Done
            }
            Mode::AfterAfterFrameset => Flow::Done,
        }
    }

    fn body_end(&mut self, tag: Tag) -> Flow {
        match tag {
            T::Template => {}
            T::Body => {
                if self.in_scope_tag(Scope::Default, T::Body) {
                    self.mode = Mode::AfterBody;
                }
            }
            T::Html => {
                if self.in_scope_tag(Scope::Default, T::Body) {
                    return Flow::Re(Mode::AfterBody);
                }
            }
            T::Address
            | T::Article
            | T::Aside
            | T::Blockquote
            | T::Button
            | T::Center
            | T::Details
            | T::Dialog
            | T::Dir
            | T::Div
            | T::Dl
            | T::Fieldset
            | T::Figcaption
            | T::Figure
            | T::Footer
            | T::Header
            | T::Hgroup
            | T::Listing
            | T::Main
            | T::Menu
            | T::Nav
            | T::Ol
            | T::Pre
            | T::Search
            | T::Section
            | T::Summary
            | T::Ul => {
                if self.in_scope_tag(Scope::Default, tag) {
                    self.generate_implied(None);
                    self.pop_until_tag(tag);
                }
            }
            T::Form => {
                let node = std::mem::replace(&mut self.form, NONE);
                if node == NONE || !self.in_scope(Scope::Default, |n| n == node) {
                    return Flow::Done;
                }
                self.generate_implied(None);
                self.remove_from_stack(node);
            }
            T::P => {
                if !self.in_scope_tag(Scope::Button, T::P) {
                    self.phantom(T::P);
                }
                self.close_p();
            }
            T::Li | T::Dd | T::Dt => {
                let scope = if tag == T::Li {
                    Scope::ListItem
                } else {
                    Scope::Default
                };
                if self.in_scope_tag(scope, tag) {
                    self.generate_implied(Some(tag));
                    self.pop_until_tag(tag);
                }
            }
            T::H1 | T::H2 | T::H3 | T::H4 | T::H5 | T::H6 => {
                if self.in_scope(Scope::Default, |n| self.html_tag(n).is_some_and(is_heading)) {
                    self.generate_implied(None);
                    self.pop_until(|b, e| b.html_tag(e).is_some_and(is_heading));
                }
            }
            T::A
            | T::B
            | T::Big
            | T::Code
            | T::Em
            | T::Font
            | T::I
            | T::Nobr
            | T::S
            | T::Small
            | T::Strike
            | T::Strong
            | T::Tt
            | T::U => self.adoption_agency(tag),
            T::Applet | T::Marquee | T::Object => {
                if self.in_scope_tag(Scope::Default, tag) {
                    self.generate_implied(None);
                    self.pop_until_tag(tag);
                    self.clear_afe_to_marker();
                }
            }
            T::Br => {
                return self.body_start(
                    St {
                        tag: T::Br,
                        self_closing: false,
                    },
                    &Attrs::default(),
                );
            }
            _ => self.end_tag_generic(tag),
        }
        Flow::Done
    }

    fn table_end(&mut self, tag: Tag) -> Flow {
        match tag {
            T::Table => {
                if self.in_scope_tag(Scope::Table, T::Table) {
                    self.pop_until_tag(T::Table);
                    self.mode = self.reset_mode();
                }
                Flow::Done
            }
            T::Body
            | T::Caption
            | T::Col
            | T::Colgroup
            | T::Html
            | T::Tbody
            | T::Td
            | T::Tfoot
            | T::Th
            | T::Thead
            | T::Tr
            | T::Template => Flow::Done,
            _ => {
                self.foster = true;
                let flow = self.body_end(tag);
                self.foster = false;
                flow
            }
        }
    }

    fn select_end(&mut self, tag: Tag) -> Flow {
        match tag {
            T::Optgroup => {
                let n = self.stack.len();
                if n >= 2 && self.cur_is(T::Option) && self.is(self.stack[n - 2], T::Optgroup) {
                    self.pop();
                }
                if self.cur_is(T::Optgroup) {
                    self.pop();
                }
            }
            T::Option if self.cur_is(T::Option) => self.pop(),
            T::Select if self.in_scope_tag(Scope::Select, T::Select) => {
                self.pop_until_tag(T::Select);
                self.mode = self.reset_mode();
            }
            _ => {}
        }
        Flow::Done
    }
}
