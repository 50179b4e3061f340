//! The downloader: polite HTTP with per-host rate limits, robots.txt, retries and conditional GET.
//!
//! One [`Fetcher`] serves a whole crawl. Every request, robots.txt and retries included, first
//! waits for its host's rate limiter (a governor GCRA limiter per `host:port`, slowed down to a
//! robots.txt `Crawl-delay` when that is slower), then for a global concurrency permit. Retries
//! use exponential backoff with jitter, or the server's `Retry-After`. Anti-bot challenge pages
//! are recognised ([`detect_challenge`]) and reported as [`Outcome::Blocked`], never as
//! content. Bodies are read chunk by chunk and cut off at the configured cap.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use reqwest::header::{self, HeaderMap};
use tokio::sync::{OnceCell, Semaphore};
use url::Url;

use crate::config::{CrawlConfig, RobotsPolicy};

/// The product token matched against robots.txt `User-agent` lines.
pub const ROBOTS_AGENT: &str = "gknb";

/// Errors building the fetcher.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("invalid setting: {0}")]
    Setting(String),
}

/// Settings of the downloader (from [`CrawlConfig`], flags and seeds).
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub robots: RobotsPolicy,
    /// Requests in flight at once over all hosts.
    pub concurrency: usize,
    /// Default politeness for hosts without a [`HostPolicy`].
    pub default_policy: HostPolicy,
}

impl FetchConfig {
    /// Takes the crawler section of `config.toml`.
    pub fn from_config(c: &CrawlConfig) -> FetchConfig {
        FetchConfig {
            user_agent: c.user_agent.clone(),
            connect_timeout: secs(c.connect_timeout_secs),
            timeout: secs(c.timeout_secs),
            retries: c.retries,
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_max: secs(c.backoff_max_secs),
            max_body_bytes: c.max_body_bytes,
            max_redirects: c.max_redirects,
            robots: c.robots,
            concurrency: c.concurrency.max(1),
            default_policy: HostPolicy {
                rate: c.per_host_rate,
                burst: c.per_host_burst,
                accept_invalid_certs: c.accept_invalid_certs,
            },
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.max(0.0)).unwrap_or(Duration::from_secs(30))
}

/// Politeness and TLS settings of one host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostPolicy {
    /// Requests per second.
    pub rate: f64,
    /// Requests that may go back to back.
    pub burst: u32,
    pub accept_invalid_certs: bool,
}

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    /// A form POST (`application/x-www-form-urlencoded`), sent as an XMLHttpRequest.
    Post,
}

/// One request to make.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: Url,
    pub method: Method,
    /// Form body of a POST.
    pub body: Option<String>,
    pub referer: Option<Url>,
    /// Validators from the last visit, for a conditional GET.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Request {
    /// A plain GET.
    pub fn get(url: Url) -> Request {
        Request {
            url,
            method: Method::Get,
            body: None,
            referer: None,
            etag: None,
            last_modified: None,
        }
    }
}

/// A response with its body.
#[derive(Debug, Clone)]
pub struct Response {
    /// The URL after redirects; relative links resolve against it.
    pub final_url: Url,
    pub status: u16,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `Location` of a redirect.
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// An anti-bot challenge served instead of content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// 瑞数: 412 with a `$_ts` script.
    Ruishu,
    /// 加速乐: 521 with a `__jsl_clearance` cookie script.
    Jiasule,
    /// 网站卫士: 200 with a WZWS challenge script.
    Wzws,
}

impl Challenge {
    /// The reason recorded for the blocked host.
    pub fn reason(self) -> &'static str {
        match self {
            Challenge::Ruishu => "blocked_js_challenge: 412 $_ts (Ruishu)",
            Challenge::Jiasule => "blocked_js_challenge: 521 __jsl_clearance (Jiasule)",
            Challenge::Wzws => "blocked_js_challenge: WZWS challenge page",
        }
    }
}

/// What became of a request.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A 2xx answer with content.
    Fetched(Response),
    /// 304: unchanged since the validators sent.
    NotModified,
    /// A final non-2xx answer (404, 403, or 5xx/429 after the last retry).
    Status(Response),
    /// An anti-bot challenge: the host should be marked blocked.
    Blocked(Challenge),
    /// robots.txt forbids the URL.
    Disallowed,
    /// No answer: timeouts or connection errors after the last retry, or a body over the cap.
    Failed(String),
}

/// An outcome and how many requests it took.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub outcome: Outcome,
    /// HTTP requests sent (1 without retries; 0 when robots.txt forbade the URL).
    pub attempts: u32,
}

/// Recognises anti-bot challenge pages by status and body.
pub fn detect_challenge(status: u16, body: &[u8]) -> Option<Challenge> {
    // Challenge pages are small; content pages are not scanned beyond their head.
    let head = &body[..body.len().min(16 * 1024)];
    let has = |needle: &str| memfind(head, needle.as_bytes());
    if status == 412 && has("$_ts") {
        return Some(Challenge::Ruishu);
    }
    if status == 521 && (has("__jsl_clearance") || has("__jsluid")) {
        return Some(Challenge::Jiasule);
    }
    if (200..300).contains(&status)
        && (has("wzwschallenge") || has("WZWS_CONFIRM_PREFIX_LABEL") || has("/WZWSREL"))
    {
        return Some(Challenge::Wzws);
    }
    None
}

/// SIMD substring search: every page a crawl fetches is scanned for the WZWS markers, and
/// comparing every window of 16 KB byte by byte took 1% of a crawl's CPU.
fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(hay, needle).is_some()
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `attempt` (0 for the first retry): `base × 2^attempt`, scaled
/// by a random factor in [0.5, 1.0] so that hosts retried together spread out, capped at `max`.
pub fn backoff_delay(base: Duration, attempt: u32, max: Duration, rng: &mut impl Rng) -> Duration {
    let exp = base.saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
    exp.mul_f64(rng.random_range(0.5..=1.0)).min(max)
}

/// The rate-limiting key of a URL: `host:port`.
pub fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn limiter(rate: f64, burst: u32) -> Arc<DefaultDirectRateLimiter> {
    let rate = if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        1.0
    };
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_micros(1));
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    Arc::new(RateLimiter::direct(quota))
}

/// What robots.txt says about a host.
enum Robots {
    AllowAll,
    Rules(Box<texting_robots::Robot>),
}

struct HostState {
    policy: HostPolicy,
    limiter: Mutex<Arc<DefaultDirectRateLimiter>>,
    /// Requests per second now in force (the policy's, or slower after robots.txt or a 429).
    rate: Mutex<f64>,
    /// No request before this instant (a `Retry-After` pauses the whole host).
    paused_until: Mutex<Option<tokio::time::Instant>>,
    robots: OnceCell<Robots>,
}

impl HostState {
    fn new(policy: HostPolicy) -> HostState {
        HostState {
            policy,
            limiter: Mutex::new(limiter(policy.rate, policy.burst)),
            rate: Mutex::new(policy.rate),
            paused_until: Mutex::new(None),
            robots: OnceCell::new(),
        }
    }

    /// Lowers the host's rate to `rate` when that is slower than the current one.
    fn slow_down_to(&self, rate: f64) {
        let Ok(mut current) = self.rate.lock() else {
            return;
        };
        if rate >= *current {
            return;
        }
        *current = rate;
        if let Ok(mut l) = self.limiter.lock() {
            *l = limiter(rate, 1);
        }
    }

    /// Holds every request to the host for `d`.
    fn pause(&self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        if let Ok(mut p) = self.paused_until.lock() {
            *p = Some(p.map_or(until, |old| old.max(until)));
        }
    }

    async fn wait_turn(&self) {
        loop {
            let until = self.paused_until.lock().ok().and_then(|p| *p);
            match until {
                Some(t) if t > tokio::time::Instant::now() => tokio::time::sleep_until(t).await,
                _ => break,
            }
        }
        self.limiter().until_ready().await;
    }

    fn limiter(&self) -> Arc<DefaultDirectRateLimiter> {
        match self.limiter.lock() {
            Ok(l) => l.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The downloader shared by all crawl tasks.
pub struct Fetcher {
    cfg: FetchConfig,
    strict: reqwest::Client,
    lax: reqwest::Client,
    global: Semaphore,
    hosts: Mutex<HashMap<String, Arc<HostState>>>,
    overrides: Mutex<HashMap<String, HostPolicy>>,
}

/// Why one attempt failed before a response was complete.
enum AttemptError {
    /// Timeouts and connection errors: worth retrying.
    Transient(String),
    /// Body over the cap, bad request: retrying would not help.
    Fatal(String),
}

impl Fetcher {
    /// Builds the HTTP clients (one that checks certificates, one that does not).
    pub fn new(cfg: FetchConfig) -> Result<Fetcher, FetchError> {
        if cfg.user_agent.trim().is_empty() {
            return Err(FetchError::Setting("user agent is empty".into()));
        }
        let build = |lax: bool| {
            reqwest::Client::builder()
                .user_agent(cfg.user_agent.clone())
                .cookie_store(true)
                .gzip(true)
                .brotli(true)
                .deflate(true)
                // Redirects are followed by `fetch`, so that every hop waits for its host's
                // rate limit and robots.txt.
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(cfg.connect_timeout)
                .timeout(cfg.timeout)
                // An idle connection keeps its buffers; a crawl of hundreds of hosts needs few.
                .pool_max_idle_per_host(2)
                .pool_idle_timeout(Duration::from_secs(10))
                .danger_accept_invalid_certs(lax)
                .build()
        };
        Ok(Fetcher {
            strict: build(false)?,
            lax: build(true)?,
            global: Semaphore::new(cfg.concurrency.max(1)),
            hosts: Mutex::new(HashMap::new()),
            overrides: Mutex::new(HashMap::new()),
            cfg,
        })
    }

    /// Sets the politeness of a host (`host:port`, see [`host_key`]) before its first request.
    pub fn set_host_policy(&self, host: &str, policy: HostPolicy) {
        if let Ok(mut o) = self.overrides.lock() {
            o.insert(host.to_string(), policy);
        }
    }

    fn host(&self, key: &str) -> Arc<HostState> {
        let policy = self
            .overrides
            .lock()
            .ok()
            .and_then(|o| o.get(key).copied())
            .unwrap_or(self.cfg.default_policy);
        let mut hosts = match self.hosts.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(HostState::new(policy)))
            .clone()
    }

    /// The effective seconds between requests to a host (after any Crawl-delay).
    pub fn host_delay(&self, url: &Url) -> Option<Duration> {
        let hosts = self.hosts.lock().ok()?;
        let h = hosts.get(&host_key(url))?;
        let rate = *h.rate.lock().ok()?;
        Some(Duration::from_secs_f64(1.0 / rate.max(1e-6)))
    }

    /// Fetches `req`: robots.txt check, rate limit, retries, challenge detection, and redirects
    /// (each hop is a request of its own to its own host's limiter).
    pub async fn fetch(&self, req: &Request) -> Fetched {
        let mut current = req.clone();
        let mut attempts = 0;
        for _hop in 0..=self.cfg.max_redirects {
            let (outcome, n) = self.fetch_one(&current).await;
            attempts += n;
            let next = match &outcome {
                Outcome::Status(r) if (300..400).contains(&r.status) && r.status != 304 => {
                    r.location.as_deref().and_then(|l| r.final_url.join(l).ok())
                }
                _ => None,
            };
            let Some(next) = next else {
                return Fetched { outcome, attempts };
            };
            let keep_method =
                matches!(&outcome, Outcome::Status(r) if r.status == 307 || r.status == 308);
            let referer = Some(current.url.clone());
            current = if keep_method {
                Request {
                    url: next,
                    referer,
                    ..current
                }
            } else {
                Request {
                    referer,
                    ..Request::get(next)
                }
            };
        }
        Fetched {
            outcome: Outcome::Failed(format!("more than {} redirects", self.cfg.max_redirects)),
            attempts,
        }
    }

    async fn fetch_one(&self, req: &Request) -> (Outcome, u32) {
        let host = self.host(&host_key(&req.url));
        let mut attempts = 0;
        if self.cfg.robots == RobotsPolicy::Obey {
            let robots = host
                .robots
                .get_or_init(|| self.load_robots(&req.url, &host, &mut attempts))
                .await;
            if let Robots::Rules(r) = robots
                && !r.allowed(req.url.as_str())
            {
                return (Outcome::Disallowed, attempts);
            }
        }
        let (outcome, n) = self.fetch_with_retries(req, &host).await;
        (outcome, attempts + n)
    }

    async fn load_robots(&self, url: &Url, host: &HostState, attempts: &mut u32) -> Robots {
        let Ok(robots_url) = url.join("/robots.txt") else {
            return Robots::AllowAll;
        };
        let (outcome, n) = self
            .fetch_with_retries(&Request::get(robots_url), host)
            .await;
        *attempts += n;
        let body = match outcome {
            Outcome::Fetched(r) => r.body,
            // Missing, forbidden or broken robots.txt: no rules are published (RFC 9309 §2.3.1
            // treats 4xx as "allow all"; an unreachable one is logged and treated the same, so
            // a flaky server is not written off for a whole night).
            other => {
                tracing::debug!(host = %url.host_str().unwrap_or(""), ?other, "no robots.txt rules");
                return Robots::AllowAll;
            }
        };
        match texting_robots::Robot::new(ROBOTS_AGENT, &body) {
            Ok(robot) => {
                if let Some(delay) = robot.delay.filter(|d| d.is_finite() && *d > 0.0) {
                    host.slow_down_to(1.0 / f64::from(delay));
                }
                Robots::Rules(Box::new(robot))
            }
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "unparsable robots.txt ignored");
                Robots::AllowAll
            }
        }
    }

    async fn fetch_with_retries(&self, req: &Request, host: &HostState) -> (Outcome, u32) {
        let mut attempts = 0;
        loop {
            host.wait_turn().await;
            let result = {
                let Ok(_permit) = self.global.acquire().await else {
                    return (Outcome::Failed("fetcher closed".into()), attempts);
                };
                attempts += 1;
                self.attempt(req, host.policy.accept_invalid_certs).await
            };
            let last = attempts > self.cfg.retries;
            let wait = match result {
                Ok((resp, retry_after)) => {
                    if let Some(ch) = detect_challenge(resp.status, &resp.body) {
                        return (Outcome::Blocked(ch), attempts);
                    }
                    let retryable = resp.status == 429 || (500..600).contains(&resp.status);
                    match resp.status {
                        304 => return (Outcome::NotModified, attempts),
                        200..=299 => return (Outcome::Fetched(resp), attempts),
                        _ if !retryable || last => return (Outcome::Status(resp), attempts),
                        _ => {}
                    }
                    if resp.status == 429 {
                        // Too fast for this server: halve the host's rate for the rest of the run.
                        let rate = host.rate.lock().map_or(host.policy.rate, |r| *r);
                        host.slow_down_to(rate / 2.0);
                    }
                    match retry_after {
                        Some(d) if d > self.cfg.backoff_max => {
                            return (Outcome::Status(resp), attempts);
                        }
                        Some(d) => {
                            host.pause(d);
                            d
                        }
                        None => backoff_delay(
                            self.cfg.backoff_base,
                            attempts - 1,
                            self.cfg.backoff_max,
                            &mut rand::rng(),
                        ),
                    }
                }
                Err(AttemptError::Fatal(e)) => return (Outcome::Failed(e), attempts),
                Err(AttemptError::Transient(e)) => {
                    if last {
                        return (Outcome::Failed(e), attempts);
                    }
                    tracing::debug!(url = %req.url, error = %e, "retrying");
                    backoff_delay(
                        self.cfg.backoff_base,
                        attempts - 1,
                        self.cfg.backoff_max,
                        &mut rand::rng(),
                    )
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        req: &Request,
        lax: bool,
    ) -> Result<(Response, Option<Duration>), AttemptError> {
        let client = if lax { &self.lax } else { &self.strict };
        let mut rb = match req.method {
            Method::Get => client.get(req.url.clone()),
            Method::Post => client
                .post(req.url.clone())
                .header(
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=UTF-8",
                )
                .header("X-Requested-With", "XMLHttpRequest")
                .body(req.body.clone().unwrap_or_default()),
        };
        if let Some(r) = &req.referer {
            rb = rb.header(header::REFERER, r.as_str());
        }
        if let Some(e) = &req.etag {
            rb = rb.header(header::IF_NONE_MATCH, e);
        }
        if let Some(m) = &req.last_modified {
            rb = rb.header(header::IF_MODIFIED_SINCE, m);
        }
        let mut resp = rb.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let final_url = resp.url().clone();
        if let Some(len) = resp.content_length()
            && len > self.cfg.max_body_bytes
        {
            return Err(AttemptError::Fatal(format!(
                "body of {len} bytes is over the {} byte cap",
                self.cfg.max_body_bytes
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if (body.len() + chunk.len()) as u64 > self.cfg.max_body_bytes {
                return Err(AttemptError::Fatal(format!(
                    "body over the {} byte cap",
                    self.cfg.max_body_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let retry_after = header_str(&headers, header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(&v, SystemTime::now()));
        Ok((
            Response {
                final_url,
                status,
                content_type: header_str(&headers, header::CONTENT_TYPE),
                etag: header_str(&headers, header::ETAG),
                last_modified: header_str(&headers, header::LAST_MODIFIED),
                location: header_str(&headers, header::LOCATION),
                body,
            },
            retry_after,
        ))
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn classify(e: reqwest::Error) -> AttemptError {
    if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode() {
        AttemptError::Transient(describe(&e))
    } else {
        AttemptError::Fatal(describe(&e))
    }
}

/// The error with its causes, which reqwest keeps in the source chain.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let rs = br#"<meta id="x9k" content="abc" r="m"><script>$_ts=window['$_ts'];if(!$_ts)$_ts={};$_ts.cd="x";</script>"#;
        assert_eq!(detect_challenge(412, rs), Some(Challenge::Ruishu));
        assert_eq!(detect_challenge(200, rs), None);
        let jsl = b"<script>document.cookie='__jsl_clearance=1.2|0|abc';location.href=location.pathname</script>";
        assert_eq!(detect_challenge(521, jsl), Some(Challenge::Jiasule));
        let wz = b"<script>var dynamicurl=\"/WZWSREL3p1\";var wzwschallenge=\"x\";WZWS_CONFIRM_PREFIX_LABEL1</script>";
        assert_eq!(detect_challenge(200, wz), Some(Challenge::Wzws));
        assert_eq!(detect_challenge(200, "正常的页面".as_bytes()), None);
        assert_eq!(detect_challenge(412, b"Precondition Failed"), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for attempt in 0..10 {
            let d = backoff_delay(base, attempt, max, &mut rand::rng());
            let full = base.saturating_mul(1 << attempt).min(max);
            assert!(d <= full, "{attempt}: {d:?}");
            assert!(
                d >= (base.saturating_mul(1 << attempt) / 2).min(max),
                "{attempt}: {d:?}"
            );
        }
    }

    #[test]
    fn host_keys() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(host_key(&u("http://a.gov.cn/x")), "a.gov.cn:80");
        assert_eq!(host_key(&u("https://a.gov.cn/x")), "a.gov.cn:443");
        assert_eq!(host_key(&u("http://127.0.0.5:8080/")), "127.0.0.5:8080");
    }
}
