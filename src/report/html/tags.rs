//! Element names the tree builder and the page walk treat specially; every other name is
//! interned per page as [`Tag::Other`].

macro_rules! tags {
    ($($id:ident = $s:literal,)*) => {
        /// An element name (lower case).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Tag {
            $($id,)*
            /// A name without special meaning, interned per page.
            Other(u32),
        }

        #[allow(dead_code)]
        enum Known { $($id,)* Count }

        /// Number of known tags; [`Tag::index`] numbers `Other` tags from here on.
        pub(crate) const KNOWN_TAGS: usize = Known::Count as usize;

        impl Tag {
            /// A dense number for the tag (known tags first, then interned names).
            pub(crate) fn index(self) -> usize {
                match self {
                    $(Tag::$id => Known::$id as usize,)*
                    Tag::Other(id) => KNOWN_TAGS + id as usize,
                }
            }

            /// The tag for a lower-case name, when it is one of the known ones.
            pub(crate) fn known(name: &[u8]) -> Option<Tag> {
                match name {
                    $($s => Some(Tag::$id),)*
                    _ => None,
                }
            }

            /// The lower-case name of a known tag (empty for `Other`).
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Tag::$id => match std::str::from_utf8($s) { Ok(s) => s, Err(_) => "" },)*
                    Tag::Other(_) => "",
                }
            }
        }
    };
}

tags! {
    A = b"a", Address = b"address", AnnotationXml = b"annotation-xml", Applet = b"applet",
    Area = b"area", Article = b"article", Aside = b"aside", B = b"b", Base = b"base",
    Basefont = b"basefont", Bgsound = b"bgsound", Big = b"big", Blockquote = b"blockquote",
    Body = b"body", Br = b"br", Button = b"button", Caption = b"caption", Center = b"center",
    Code = b"code", Col = b"col", Colgroup = b"colgroup", Dd = b"dd", Desc = b"desc",
    Details = b"details", Dialog = b"dialog", Dir = b"dir", Div = b"div", Dl = b"dl", Dt = b"dt",
    Em = b"em", Embed = b"embed", Fieldset = b"fieldset", Figcaption = b"figcaption",
    Figure = b"figure", Font = b"font", Footer = b"footer", ForeignObject = b"foreignobject",
    Form = b"form", Frame = b"frame", Frameset = b"frameset", H1 = b"h1", H2 = b"h2", H3 = b"h3",
    H4 = b"h4", H5 = b"h5", H6 = b"h6", Head = b"head", Header = b"header", Hgroup = b"hgroup",
    Hr = b"hr", Html = b"html", I = b"i", Iframe = b"iframe", Image = b"image", Img = b"img",
    Input = b"input", Isindex = b"isindex", Keygen = b"keygen", Li = b"li", Link = b"link",
    Listing = b"listing", Main = b"main", Malignmark = b"malignmark", Marquee = b"marquee",
    Math = b"math", Menu = b"menu", Meta = b"meta", Mglyph = b"mglyph", Mi = b"mi", Mn = b"mn",
    Mo = b"mo", Ms = b"ms", Mtext = b"mtext", Nav = b"nav", Nobr = b"nobr", Noembed = b"noembed",
    Noframes = b"noframes", Noscript = b"noscript", Object = b"object", Ol = b"ol",
    Optgroup = b"optgroup", Option = b"option", P = b"p", Param = b"param",
    Plaintext = b"plaintext", Pre = b"pre", Rb = b"rb", Rp = b"rp", Rt = b"rt", Rtc = b"rtc",
    Ruby = b"ruby", S = b"s", Script = b"script", Search = b"search", Section = b"section",
    Select = b"select", Small = b"small", Source = b"source", Span = b"span", Strike = b"strike",
    Strong = b"strong", Style = b"style", Sub = b"sub", Summary = b"summary", Sup = b"sup",
    Svg = b"svg", Table = b"table", Tbody = b"tbody", Td = b"td", Template = b"template",
    Textarea = b"textarea", Tfoot = b"tfoot", Th = b"th", Thead = b"thead", Title = b"title",
    Tr = b"tr", Track = b"track", Tt = b"tt", U = b"u", Ul = b"ul", Var = b"var", Wbr = b"wbr",
    Xmp = b"xmp",
}

impl Tag {
    /// The formatting elements of the active-formatting list.
    pub(crate) fn is_formatting(self) -> bool {
        matches!(
            self,
            Tag::A
                | Tag::B
                | Tag::Big
                | Tag::Code
                | Tag::Em
                | Tag::Font
                | Tag::I
                | Tag::Nobr
                | Tag::S
                | Tag::Small
                | Tag::Strike
                | Tag::Strong
                | Tag::Tt
                | Tag::U
        )
    }

    /// Elements whose attributes are kept in the tree: the walk reads links, metas and cells;
    /// formatting elements are compared and cloned with theirs.
    pub(crate) fn keeps_attrs(self) -> bool {
        matches!(self, Tag::Meta | Tag::Td | Tag::Th) || self.is_formatting()
    }

    /// Elements whose start-tag attributes anyone reads: those kept, and `<input>` (whose
    /// `type=hidden` matters to tree construction). Others are parsed but not stored.
    pub(crate) fn reads_attrs(self) -> bool {
        self.keeps_attrs() || self == Tag::Input
    }
}
