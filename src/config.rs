//! `config.toml`: defaults for every command. Command-line flags override it.
//!
//! Every field has a default, so a missing file or a partial file both work; an unknown key is
//! an error (a typo in a cron job's config should not be silently ignored).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub archive: ArchiveConfig,
    pub crawl: CrawlConfig,
}

/// Where the archive lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// The SQLite archive file.
    pub db: PathBuf,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            db: PathBuf::from("gknb.sqlite"),
        }
    }
}

/// Whether to obey robots.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotsPolicy {
    /// Fetch and obey robots.txt, including Crawl-delay.
    Obey,
    /// Do not fetch robots.txt (only for hosts you operate).
    Ignore,
}

/// Crawler defaults; seeds may override rate and TLS per portal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrawlConfig {
    /// A seed file or a directory of `*.toml` seed files.
    pub seeds: PathBuf,
    /// Identifies gknb and a contact URL to site operators.
    pub user_agent: String,
    /// Requests in flight at once, over all hosts.
    pub concurrency: usize,
    /// Requests per second per host.
    pub per_host_rate: f64,
    /// Requests a host may receive back to back before the rate applies.
    pub per_host_burst: u32,
    /// Seconds to establish a connection.
    pub connect_timeout_secs: f64,
    /// Seconds for a whole request, body included.
    pub timeout_secs: f64,
    /// Retries after the first attempt on timeouts, connection errors, 5xx and 429.
    pub retries: u32,
    /// First backoff delay in milliseconds; doubles per retry, with jitter.
    pub backoff_base_ms: u64,
    /// Longest wait the crawler accepts (backoff or `Retry-After`), in seconds.
    pub backoff_max_secs: f64,
    /// Responses larger than this are cut off and recorded as an error.
    pub max_body_bytes: u64,
    /// Redirects followed per request.
    pub max_redirects: usize,
    /// Listing pages followed per column before pagination stops.
    pub max_listing_pages: usize,
    /// Sub-column and redirect levels followed below a seed's listing page.
    pub max_depth: u32,
    /// Requests to one host in flight at once (including those waiting for its rate limit).
    pub per_host_parallel: usize,
    /// Requests in flight over all hosts, including those waiting for a rate limit or for the
    /// archive; bounds memory.
    pub max_in_flight: usize,
    pub robots: RobotsPolicy,
    /// Accept self-signed or otherwise invalid TLS certificates (many government hosts need it).
    pub accept_invalid_certs: bool,
}

impl Default for CrawlConfig {
    fn default() -> Self {
        CrawlConfig {
            seeds: PathBuf::from("seeds"),
            // `Mozilla/5.0 (compatible; …)` as well-known crawlers do: many government hosts
            // answer 403 to agents without it; the product token `gknb` and the URL still say
            // who we are (robots.txt is matched on `gknb`).
            user_agent: concat!(
                "Mozilla/5.0 (compatible; gknb/",
                env!("CARGO_PKG_VERSION"),
                "; research crawler for government disclosure annual reports; +https://github.com/gknb-project/gknb)"
            )
            .to_string(),
            concurrency: 16,
            per_host_rate: 1.0,
            per_host_burst: 1,
            connect_timeout_secs: 10.0,
            timeout_secs: 30.0,
            retries: 3,
            backoff_base_ms: 1000,
            backoff_max_secs: 120.0,
            max_body_bytes: 64 * 1024 * 1024,
            max_redirects: 5,
            max_listing_pages: 100,
            max_depth: 4,
            per_host_parallel: 2,
            max_in_flight: 256,
            robots: RobotsPolicy::Obey,
            accept_invalid_certs: false,
        }
    }
}

impl Config {
    /// Reads `path`, or `./config.toml` when `path` is `None` and that file exists, or falls
    /// back to the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => {
                let default = PathBuf::from("config.toml");
                if !default.exists() {
                    return Ok(Config::default());
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::from_toml(&text).map_err(|source| ConfigError::Parse {
            path,
            source: Box::new(source),
        })
    }

    /// Parses a configuration from TOML text.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_parses() {
        let text = include_str!("../config.toml");
        let cfg = Config::from_toml(text).expect("config.toml must parse");
        assert_eq!(cfg.crawl.robots, RobotsPolicy::Obey);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(Config::from_toml("[crawl]\nrate = 3\n").is_err());
    }
}
