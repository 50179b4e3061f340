//! The downloader against a tiny scripted HTTP server on loopback: rate limits, robots.txt with
//! Crawl-delay, Retry-After, bounded retries, hung responses, challenges, cookie-on-302 loops,
//! conditional GET, body cap.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gknb::config::RobotsPolicy;
use gknb::fetch::{Challenge, FetchConfig, Fetcher, HostPolicy, Outcome, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// A scripted answer: status, extra headers, body; `None` holds the connection open.
type Answer = Option<(u16, Vec<(String, String)>, Vec<u8>)>;
type Script = Arc<dyn Fn(&Req, u32) -> Answer + Send + Sync>;

#[derive(Debug, Clone)]
struct Req {
    path: String,
    headers: HashMap<String, String>,
    at: Instant,
}

struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Server {
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{}", self.addr, path)).unwrap()
    }
    fn log(&self) -> Vec<Req> {
        self.log.lock().unwrap().clone()
    }
    fn hits(&self, path: &str) -> usize {
        self.log().iter().filter(|r| r.path == path).count()
    }
}

/// Serves `script(request, n)` where n counts earlier requests to the same path.
async fn serve(ip: &str, script: Script) -> Server {
    let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::<Req>::new()));
    let counts = Arc::new(Mutex::new(HashMap::<String, u32>::new()));
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (log, counts, script) = (log2.clone(), counts.clone(), script.clone());
            tokio::spawn(async move {
                loop {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.lines();
                    let first = lines.next().unwrap_or("");
                    let path = first.split(' ').nth(1).unwrap_or("/").to_string();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut have = buf.len() - head_end - 4;
                    while have < len {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        have += n;
                    }
                    let req = Req {
                        path: path.clone(),
                        headers,
                        at: Instant::now(),
                    };
                    log.lock().unwrap().push(req.clone());
                    let n = {
                        let mut c = counts.lock().unwrap();
                        let e = c.entry(path.clone()).or_insert(0);
                        *e += 1;
                        *e - 1
                    };
                    let Some((status, extra, body)) = script(&req, n) else {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    };
                    let mut out =
                        format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                    for (k, v) in extra {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&body);
                    if sock.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Server { addr, log }
}

fn ok(body: &str) -> Answer {
    Some((
        200,
        vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body.as_bytes().to_vec(),
    ))
}

fn cfg(rate: f64) -> FetchConfig {
    FetchConfig {
        user_agent: "gknb-test/0 (+http://example.invalid)".into(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_millis(800),
        retries: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_secs(5),
        max_body_bytes: 1 << 20,
        max_redirects: 5,
        robots: RobotsPolicy::Obey,
        concurrency: 16,
        default_policy: HostPolicy {
            rate,
            burst: 1,
            accept_invalid_certs: false,
        },
    }
}

fn min_gap(log: &[Req]) -> Duration {
    log.windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .min()
        .unwrap_or(Duration::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_a_host_respect_its_rate() {
    let s = serve("127.0.0.21", Arc::new(|_r: &Req, _n| ok("<p>x</p>"))).await;
    let f = Arc::new(Fetcher::new(cfg(20.0)).unwrap());
    let mut tasks = Vec::new();
    for i in 0..12 {
        let f = f.clone();
        let u = s.url(&format!("/p{i}.html"));
        tasks.push(tokio::spawn(async move { f.fetch(&Request::get(u)).await }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap().outcome, Outcome::Fetched(_)));
    }
    let log = s.log();
    assert_eq!(log.len(), 13, "12 pages and robots.txt");
    assert_eq!(log[0].path, "/robots.txt");
    // 20 req/s means 50 ms apart; allow a little scheduling noise on the receiving side.
    let gap = min_gap(&log);
    assert!(gap >= Duration::from_millis(40), "gap {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_disallow_and_crawl_delay() {
    let s = serve(
        "127.0.0.22",
        Arc::new(|r: &Req, _n| {
            if r.path == "/robots.txt" {
                ok("User-agent: *\nDisallow: /private/\nCrawl-delay: 0.2\n")
            } else {
                ok("<p>x</p>")
            }
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/private/a.html"))).await;
    assert!(matches!(out.outcome, Outcome::Disallowed));
    for i in 0..3 {
        let out = f
            .fetch(&Request::get(s.url(&format!("/pub/{i}.html"))))
            .await;
        assert!(matches!(out.outcome, Outcome::Fetched(_)));
    }
    assert_eq!(s.hits("/private/a.html"), 0);
    let pages: Vec<Req> = s
        .log()
        .into_iter()
        .filter(|r| r.path.starts_with("/pub/"))
        .collect();
    // Crawl-delay 0.2 s overrides the configured 100 req/s.
    assert!(
        min_gap(&pages) >= Duration::from_millis(180),
        "{:?}",
        min_gap(&pages)
    );
    // Robots.txt is fetched once per host.
    assert_eq!(s.hits("/robots.txt"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_retries_are_bounded() {
    let s = serve(
        "127.0.0.23",
        Arc::new(|r: &Req, n| match r.path.as_str() {
            "/robots.txt" => Some((404, vec![], vec![])),
            "/limited" if n == 0 => Some((429, vec![("retry-after".into(), "1".into())], vec![])),
            "/limited" => ok("<p>after the wait</p>"),
            "/down" => Some((503, vec![], b"busy".to_vec())),
            _ => ok("x"),
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/limited"))).await;
    assert!(matches!(out.outcome, Outcome::Fetched(_)));
    let log: Vec<Req> = s
        .log()
        .into_iter()
        .filter(|r| r.path == "/limited")
        .collect();
    assert_eq!(log.len(), 2);
    assert!(log[1].at.duration_since(log[0].at) >= Duration::from_millis(950));

    let out = f.fetch(&Request::get(s.url("/down"))).await;
    match out.outcome {
        Outcome::Status(r) => assert_eq!(r.status, 503),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.attempts, 3, "first try and two retries");
    assert_eq!(s.hits("/down"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_response_times_out_then_succeeds() {
    let s = serve(
        "127.0.0.24",
        Arc::new(|r: &Req, n| match r.path.as_str() {
            "/robots.txt" => Some((404, vec![], vec![])),
            "/slow" if n == 0 => None,
            _ => ok("<p>fine</p>"),
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/slow"))).await;
    assert!(
        matches!(out.outcome, Outcome::Fetched(_)),
        "{:?}",
        out.outcome
    );
    assert_eq!(s.hits("/slow"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_are_blocked_not_content() {
    let s = serve(
        "127.0.0.25",
        Arc::new(|r: &Req, _n| match r.path.as_str() {
            "/robots.txt" => Some((404, vec![], vec![])),
            "/rs" => Some((
                412,
                vec![("set-cookie".into(), "FSSBBIl1UgzbN7N80S=abc; path=/".into())],
                br#"<meta id="x" content="y" r="m"><script>$_ts=window['$_ts'];if(!$_ts)$_ts={};</script>"#.to_vec(),
            )),
            "/wz" => ok("<script>var dynamicurl='/WZWSRELx';var wzwschallenge='1';</script>"),
            _ => ok("x"),
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/rs"))).await;
    assert!(matches!(out.outcome, Outcome::Blocked(Challenge::Ruishu)));
    assert_eq!(s.hits("/rs"), 1, "a challenge is not retried");
    let out = f.fetch(&Request::get(s.url("/wz"))).await;
    assert!(matches!(out.outcome, Outcome::Blocked(Challenge::Wzws)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_on_302_loop_is_passed_with_the_jar() {
    let s = serve(
        "127.0.0.26",
        Arc::new(|r: &Req, _n| {
            if r.path == "/robots.txt" {
                return Some((404, vec![], vec![]));
            }
            let has = r.headers.get("cookie").is_some_and(|c| c.contains("CT6T="));
            if has {
                ok("<p>content</p>")
            } else {
                Some((
                    302,
                    vec![
                        ("location".into(), r.path.clone()),
                        ("set-cookie".into(), "CT6T=1; path=/".into()),
                    ],
                    vec![],
                ))
            }
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/loop.html"))).await;
    assert!(
        matches!(out.outcome, Outcome::Fetched(_)),
        "{:?}",
        out.outcome
    );
    assert_eq!(s.hits("/loop.html"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_and_body_cap() {
    let s = serve(
        "127.0.0.27",
        Arc::new(|r: &Req, _n| match r.path.as_str() {
            "/robots.txt" => Some((404, vec![], vec![])),
            "/big" => ok(&"x".repeat(2 << 20)),
            _ => {
                if r.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
                    Some((304, vec![], vec![]))
                } else {
                    Some((
                        200,
                        vec![("etag".into(), "\"v1\"".into())],
                        b"<p>list</p>".to_vec(),
                    ))
                }
            }
        }),
    )
    .await;
    let f = Fetcher::new(cfg(100.0)).unwrap();
    let out = f.fetch(&Request::get(s.url("/list.html"))).await;
    let Outcome::Fetched(r) = out.outcome else {
        panic!("not fetched")
    };
    assert_eq!(r.etag.as_deref(), Some("\"v1\""));
    let mut again = Request::get(s.url("/list.html"));
    again.etag = r.etag;
    let out = f.fetch(&again).await;
    assert!(matches!(out.outcome, Outcome::NotModified));
    let out = f.fetch(&Request::get(s.url("/big"))).await;
    assert!(matches!(out.outcome, Outcome::Failed(_)));
    assert_eq!(s.hits("/big"), 1, "an oversized body is not retried");
}
