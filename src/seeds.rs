//! Seed files: the portals' annual-report listing pages, as `[[portal]]` tables.
//!
//! A seed file is TOML with one `[[portal]]` table per listing page:
//!
//! ```toml
//! [[portal]]
//! name = "北京市人民政府"
//! region = "110000"            # 行政区划代码; optional, may be empty
//! url = "https://www.beijing.gov.cn/gongkai/zfxxgk/gknb/"
//! family = "trs"               # trs | hanweb | govcn | gkmlpt | jiyue | auto (default)
//! rate = 0.5                   # optional: requests per second for this host
//! burst = 1                    # optional
//! accept_invalid_certs = true  # optional: for hosts with broken certificate chains
//! hosts = ["*.ah.gov.cn"]      # optional: other hosts the crawl may follow links to
//! verified = false             # default false: nobody has fetched it to check
//! note = "listing URL derived from a report URL"
//! ```
//!
//! [`load`] takes one file or a directory of `*.toml` files (read in name order), rejects
//! unknown keys, and validates every entry: the URL must be absolute http(s) with a host, the
//! name non-empty, the region empty or six digits, rate and burst positive, every `hosts`
//! entry a host name or a `*.` suffix pattern, and no URL may appear twice across all files.
//! Errors name the file and the portal.
//!
//! A crawl stays on its seed's host unless `hosts` names more: a 集约化 platform serves many
//! agencies, each on a host of its own (`*.ah.gov.cn`), and its navigation page links their
//! columns there. An entry is an exact host name (`www.ah.gov.cn`, `127.0.0.5`) or `*.` and a
//! domain, meaning any subdomain of it at any depth (not the domain itself). Links to those
//! hosts are followed like links on the seed's host, with the seed's politeness overrides.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Which CMS family a portal runs, selecting the discovery strategy. `Auto` lets discovery
/// fingerprint the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// TRS WCM (拓尔思): static `YYYYMM/tYYYYMMDD_ID.html` pages, `createPageHTML` paging.
    Trs,
    /// Hanweb (大汉) JCMS: `/col/colN/index.html`, `/art/Y/M/D/art_N_M.html`.
    Hanweb,
    /// gov.cn-style templates: `home_N.htm`, `content_N.htm`.
    Govcn,
    /// Guangdong's 政府信息公开目录管理平台: `/gkmlpt/annualreport`, `post_N.html`.
    Gkmlpt,
    /// Provincial or municipal 集约化 (shared) platforms.
    Jiyue,
    /// Unknown: decided by fingerprinting the fetched page.
    #[default]
    Auto,
}

impl Family {
    /// The name used in seed files.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Trs => "trs",
            Family::Hanweb => "hanweb",
            Family::Govcn => "govcn",
            Family::Gkmlpt => "gkmlpt",
            Family::Jiyue => "jiyue",
            Family::Auto => "auto",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One listing page to crawl.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Portal {
    /// The agency (or column) name, as people say it.
    pub name: String,
    /// 行政区划代码 (six digits), empty when unknown.
    #[serde(default)]
    pub region: String,
    /// The listing page (absolute http or https URL).
    pub url: String,
    #[serde(default)]
    pub family: Family,
    /// Requests per second for this portal's host, overriding the configured default.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Requests that may go back to back on this host, overriding the configured default.
    #[serde(default)]
    pub burst: Option<u32>,
    /// Accept broken certificate chains for this host, overriding the configured default.
    #[serde(default)]
    pub accept_invalid_certs: Option<bool>,
    /// Other hosts the crawl may follow links to: exact host names, or `*.domain` for any
    /// subdomain of `domain` (see [`HostPattern`]).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Whether someone has fetched the listing and seen reports on it.
    #[serde(default)]
    pub verified: bool,
    /// Where the entry came from and anything odd about it.
    #[serde(default)]
    pub note: Option<String>,
}

impl Portal {
    /// The parsed URL (validated by [`load`], so this only fails on hand-built portals).
    pub fn parsed_url(&self) -> Result<url::Url, url::ParseError> {
        url::Url::parse(&self.url)
    }

    /// The `hosts` entries as patterns; the first malformed entry is an error (validated by
    /// [`load`], so this only fails on hand-built portals).
    pub fn host_patterns(&self) -> Result<Vec<HostPattern>, String> {
        self.hosts.iter().map(|h| HostPattern::parse(h)).collect()
    }
}

/// A host a seed's crawl may go to besides its own: one host name, or every subdomain of a
/// domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// This host exactly (lowercase; IDNs in punycode, as URLs carry them).
    Exact(String),
    /// Any host ending in `.` + this domain, at any depth; not the domain itself.
    Subdomains(String),
}

impl HostPattern {
    /// Parses `host.example` or `*.example`; the message says what is wrong.
    pub fn parse(raw: &str) -> Result<HostPattern, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("hosts entry is empty".into());
        }
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "hosts entry {raw:?} is not a host name (write `www.example.gov.cn`, not a URL)"
            ));
        }
        let (wild, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if name.contains('*') {
            return Err(format!(
                "hosts entry {raw:?}: `*` is allowed only as a leading `*.` (any subdomain)"
            ));
        }
        let host = url::Host::parse(name)
            .map_err(|e| format!("hosts entry {raw:?} is not a host name: {e}"))?;
        match host {
            url::Host::Domain(d) if wild => {
                if !d.trim_end_matches('.').contains('.') {
                    return Err(format!(
                        "hosts entry {raw:?} would allow a whole top-level domain"
                    ));
                }
                Ok(HostPattern::Subdomains(d.trim_end_matches('.').to_string()))
            }
            _ if wild => Err(format!(
                "hosts entry {raw:?}: `*.` must be followed by a domain name, not an address"
            )),
            url::Host::Domain(d) => Ok(HostPattern::Exact(d.trim_end_matches('.').to_string())),
            other => Ok(HostPattern::Exact(other.to_string())),
        }
    }

    /// Whether `host` (as [`url::Url::host_str`] gives it: lowercase, punycode) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h),
            HostPattern::Subdomains(d) => host
                .to_ascii_lowercase()
                .strip_suffix(d.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(h) => f.write_str(h),
            HostPattern::Subdomains(d) => write!(f, "*.{d}"),
        }
    }
}

/// Why seeds could not be loaded. Every variant names the file; entry errors name the portal.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read seeds from {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no *.toml seed files in directory {}", path.display())]
    NoFiles { path: PathBuf },
    #[error("{}: not a valid seed file: {source}", path.display())]
    Syntax {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: portal #{index} ({name:?}): {problem}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based position of the portal in its file.
        index: usize,
        name: String,
        problem: String,
    },
    #[error(
        "duplicate url {url}: portal {name:?} in {} repeats portal {first_name:?} in {}",
        path.display(),
        first_path.display()
    )]
    DuplicateUrl {
        url: String,
        path: PathBuf,
        name: String,
        first_path: PathBuf,
        first_name: String,
    },
}

/// The top level of a seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    portal: Vec<Portal>,
}

/// Loads the portals from a seed file, or from every `*.toml` file in a directory (sorted by
/// file name), validating each entry and rejecting URLs that appear twice.
pub fn load(path: &Path) -> Result<Vec<Portal>, SeedError> {
    let files = seed_files(path)?;
    let mut portals = Vec::new();
    let mut seen: HashMap<String, (PathBuf, String)> = HashMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| SeedError::Io {
            path: file.clone(),
            source,
        })?;
        for portal in parse(&text, &file)? {
            let key = url_key(&portal.url);
            if let Some((first_path, first_name)) = seen.get(&key) {
                return Err(SeedError::DuplicateUrl {
                    url: portal.url,
                    path: file,
                    name: portal.name,
                    first_path: first_path.clone(),
                    first_name: first_name.clone(),
                });
            }
            seen.insert(key, (file.clone(), portal.name.clone()));
            portals.push(portal);
        }
    }
    Ok(portals)
}

/// Parses and validates one seed file's text; `path` is used in errors only. Duplicates
/// within the file are rejected here too.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Portal>, SeedError> {
    let file: SeedFile = toml::from_str(text).map_err(|source| SeedError::Syntax {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, portal) in file.portal.iter().enumerate() {
        let invalid = |problem: String| SeedError::Invalid {
            path: path.to_path_buf(),
            index: i + 1,
            name: portal.name.clone(),
            problem,
        };
        validate(portal).map_err(invalid)?;
        if let Some(first_name) = seen.insert(url_key(&portal.url), portal.name.clone()) {
            return Err(SeedError::DuplicateUrl {
                url: portal.url.clone(),
                path: path.to_path_buf(),
                name: portal.name.clone(),
                first_path: path.to_path_buf(),
                first_name,
            });
        }
    }
    Ok(file.portal)
}

/// The seed files named by `path`: itself, or the `*.toml` files directly inside it.
fn seed_files(path: &Path) -> Result<Vec<PathBuf>, SeedError> {
    let io = |source| SeedError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry_path = entry.map_err(io)?.path();
        if entry_path.extension().is_some_and(|e| e == "toml") && entry_path.is_file() {
            files.push(entry_path);
        }
    }
    if files.is_empty() {
        return Err(SeedError::NoFiles {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

/// Checks one entry; the message says what is wrong.
fn validate(portal: &Portal) -> Result<(), String> {
    if portal.name.trim().is_empty() {
        return Err("name is empty".into());
    }
    let url = url::Url::parse(&portal.url).map_err(|e| format!("url {:?}: {e}", portal.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("url {:?} is not http or https", portal.url));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("url {:?} has no host", portal.url));
    }
    let region_ok = portal.region.is_empty()
        || (portal.region.len() == 6 && portal.region.bytes().all(|b| b.is_ascii_digit()));
    if !region_ok {
        return Err(format!(
            "region {:?} is not a six-digit code",
            portal.region
        ));
    }
    if let Some(rate) = portal.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(format!("rate {rate} must be a positive number"));
    }
    if portal.burst == Some(0) {
        return Err("burst must be at least 1".into());
    }
    portal.host_patterns()?;
    Ok(())
}

/// Two URLs are the same seed when they parse to the same URL (scheme and host case, default
/// port, percent-encoding normalised).
fn url_key(raw: &str) -> String {
    url::Url::parse(raw).map_or_else(|_| raw.to_string(), String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Vec<Portal>, SeedError> {
        parse(text, Path::new("test.toml"))
    }

    #[test]
    fn parses_all_fields_and_defaults() {
        let portals = p(r#"
            [[portal]]
            name = "北京市人民政府"
            region = "110000"
            url = "https://www.beijing.gov.cn/gongkai/zfxxgk/gknb/"
            family = "trs"
            rate = 0.5
            burst = 2
            accept_invalid_certs = true
            verified = true
            note = "seen"

            [[portal]]
            name = "某县"
            url = "http://example.gov.cn/xxgknb/"
        "#)
        .unwrap();
        assert_eq!(portals.len(), 2);
        let a = &portals[0];
        assert_eq!(a.family, Family::Trs);
        assert_eq!(
            (a.rate, a.burst, a.accept_invalid_certs),
            (Some(0.5), Some(2), Some(true))
        );
        assert!(a.verified);
        assert_eq!(a.note.as_deref(), Some("seen"));
        let b = &portals[1];
        assert_eq!(b.family, Family::Auto);
        assert_eq!(b.region, "");
        assert_eq!(
            (b.rate, b.burst, b.accept_invalid_certs),
            (None, None, None)
        );
        assert!(!b.verified);
        assert_eq!(b.parsed_url().unwrap().host_str(), Some("example.gov.cn"));
    }

    #[test]
    fn every_family_name_round_trips() {
        for family in [
            Family::Trs,
            Family::Hanweb,
            Family::Govcn,
            Family::Gkmlpt,
            Family::Jiyue,
            Family::Auto,
        ] {
            let text = format!(
                "[[portal]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\nfamily = \"{family}\"\n"
            );
            assert_eq!(p(&text).unwrap()[0].family, family);
        }
    }

    #[test]
    fn rejects_unknown_keys_and_families() {
        let err =
            p("[[portal]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\nrat = 1.0\n").unwrap_err();
        assert!(matches!(err, SeedError::Syntax { .. }), "{err}");
        assert!(err.to_string().contains("test.toml"));
        let err =
            p("[[portal]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\nfamily = \"wordpress\"\n")
                .unwrap_err();
        assert!(matches!(err, SeedError::Syntax { .. }), "{err}");
        let err = p("[[portals]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\n").unwrap_err();
        assert!(matches!(err, SeedError::Syntax { .. }), "{err}");
    }

    #[test]
    fn rejects_bad_entries_naming_file_and_portal() {
        let cases = [
            ("name = \" \"\nurl = \"http://a.gov.cn/\"", "name is empty"),
            ("name = \"甲\"\nurl = \"a.gov.cn/x\"", "url"),
            (
                "name = \"甲\"\nurl = \"ftp://a.gov.cn/x\"",
                "not http or https",
            ),
            (
                "name = \"甲\"\nurl = \"http://a.gov.cn/\"\nregion = \"11\"",
                "six-digit",
            ),
            (
                "name = \"甲\"\nurl = \"http://a.gov.cn/\"\nrate = 0.0",
                "rate",
            ),
            (
                "name = \"甲\"\nurl = \"http://a.gov.cn/\"\nrate = nan",
                "rate",
            ),
            (
                "name = \"甲\"\nurl = \"http://a.gov.cn/\"\nburst = 0",
                "burst",
            ),
        ];
        for (body, expect) in cases {
            let text = format!(
                "[[portal]]\nname = \"ok\"\nurl = \"http://ok.gov.cn/\"\n\n[[portal]]\n{body}\n"
            );
            let err = p(&text).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, SeedError::Invalid { index: 2, .. }), "{msg}");
            assert!(msg.contains("test.toml") && msg.contains("#2"), "{msg}");
            assert!(msg.contains(expect), "{msg}");
        }
    }

    #[test]
    fn host_patterns_parse_and_match() {
        let exact = HostPattern::parse(" WWW.Ah.gov.cn ").unwrap();
        assert_eq!(exact, HostPattern::Exact("www.ah.gov.cn".into()));
        assert!(exact.matches("www.ah.gov.cn"));
        assert!(!exact.matches("jyt.ah.gov.cn"));
        let sub = HostPattern::parse("*.ah.gov.cn").unwrap();
        assert_eq!(sub.to_string(), "*.ah.gov.cn");
        for host in ["jyt.ah.gov.cn", "a.b.ah.gov.cn", "JYT.AH.GOV.CN"] {
            assert!(sub.matches(host), "{host}");
        }
        for host in [
            "ah.gov.cn",
            "xah.gov.cn",
            "jyt.ah.gov.cn.evil.com",
            ".ah.gov.cn",
        ] {
            assert!(!sub.matches(host), "{host}");
        }
        let ip = HostPattern::parse("127.0.0.5").unwrap();
        assert!(ip.matches("127.0.0.5") && !ip.matches("127.0.0.6"));
        // Internationalised names are kept the way URLs carry them.
        let idn = HostPattern::parse("*.政府.cn").unwrap();
        let url = url::Url::parse("http://www.政府.cn/").unwrap();
        assert!(idn.matches(url.host_str().unwrap()));
        for bad in [
            "",
            "  ",
            "*",
            "*.",
            "*.cn",
            "a.*.gov.cn",
            "*ah.gov.cn",
            "http://ah.gov.cn",
            "ah.gov.cn/x",
            "*.127.0.0.1",
            "a b.gov.cn",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hosts_are_validated_when_loading() {
        let ok = p("[[portal]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\n\
                    hosts = [\"*.a.gov.cn\", \"b.gov.cn\"]\n")
        .unwrap();
        assert_eq!(
            ok[0].host_patterns().unwrap(),
            [
                HostPattern::Subdomains("a.gov.cn".into()),
                HostPattern::Exact("b.gov.cn".into())
            ]
        );
        for (entry, expect) in [
            ("\"\"", "empty"),
            ("\"*.\"", "not a host name"),
            ("\"https://b.gov.cn/\"", "not a host name"),
            ("\"b.*.cn\"", "leading"),
        ] {
            let text = format!(
                "[[portal]]\nname = \"甲\"\nurl = \"http://a.gov.cn/\"\nhosts = [\"c.gov.cn\", {entry}]\n"
            );
            let err = p(&text).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, SeedError::Invalid { index: 1, .. }), "{msg}");
            assert!(msg.contains("甲") && msg.contains(expect), "{msg}");
        }
        let err = p("[[portal]]\nname = \"x\"\nurl = \"http://a.gov.cn/\"\nhosts = \"b.gov.cn\"\n")
            .unwrap_err();
        assert!(matches!(err, SeedError::Syntax { .. }), "{err}");
    }

    #[test]
    fn rejects_duplicates_within_a_file() {
        let text = "[[portal]]\nname = \"甲\"\nurl = \"http://A.gov.cn/x\"\n\n\
                    [[portal]]\nname = \"乙\"\nurl = \"http://a.gov.cn:80/x\"\n";
        let err = p(text).unwrap_err();
        assert!(matches!(err, SeedError::DuplicateUrl { .. }), "{err}");
        assert!(err.to_string().contains("甲") && err.to_string().contains("乙"));
    }

    #[test]
    fn loads_a_directory_in_name_order_and_rejects_cross_file_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "b.toml",
            "[[portal]]\nname = \"乙\"\nurl = \"http://b.gov.cn/\"\n",
        );
        write(
            "a.toml",
            "[[portal]]\nname = \"甲\"\nurl = \"http://a.gov.cn/\"\n",
        );
        write("notes.txt", "not a seed file");
        let names: Vec<String> = load(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["甲", "乙"]);
        // A single file works too.
        assert_eq!(load(&dir.path().join("b.toml")).unwrap().len(), 1);

        write(
            "c.toml",
            "[[portal]]\nname = \"丙\"\nurl = \"http://a.gov.cn/\"\n",
        );
        let err = load(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("a.toml") && msg.contains("c.toml"), "{msg}");
        assert!(msg.contains("甲") && msg.contains("丙"), "{msg}");
    }

    #[test]
    fn missing_and_empty_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path()), Err(SeedError::NoFiles { .. })));
        let missing = dir.path().join("missing.toml");
        let err = load(&missing).unwrap_err();
        assert!(matches!(err, SeedError::Io { .. }));
        assert!(err.to_string().contains("missing.toml"));
        // An empty file is a valid file with no portals.
        std::fs::write(dir.path().join("empty.toml"), "# nothing yet\n").unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn shipped_seeds_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        let portals = load(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(portals.len() >= 40, "only {} portals", portals.len());
        assert!(portals.iter().all(|p| !p.verified && p.note.is_some()));
    }
}
