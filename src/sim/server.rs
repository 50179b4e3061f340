//! The HTTP side of the simulator: one hyper HTTP/1.1 accept loop per host, fault injection in
//! front of the resource lookup, conditional GETs, and the request log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future as _;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::world::{Host, Resource};
use super::{Challenge, Gzip, PathFault, RequestRecord, RetryAfter, SimError, Tls, pages};

/// State shared by every connection.
pub(crate) struct Shared {
    pub hosts: Vec<Host>,
    pub log: Mutex<Vec<RequestRecord>>,
    /// The self-signed server configuration, when a host speaks TLS.
    pub tls: Option<TlsAcceptor>,
}

/// The simulator's self-signed certificate (IP SANs 127.0.0.1–254, `localhost`) and key: a
/// test fixture, generated once with `openssl req -x509 -newkey ec` and committed.
const CERT_PEM: &[u8] = include_bytes!("tls/cert.pem");
const KEY_PEM: &[u8] = include_bytes!("tls/key.pem");

/// The TLS server side of [`Tls::SelfSigned`] hosts.
pub(crate) fn tls_acceptor() -> Result<TlsAcceptor, SimError> {
    let err = |e: &dyn std::fmt::Display| SimError::Tls(e.to_string());
    let cert = CertificateDer::from_pem_slice(CERT_PEM).map_err(|e| err(&e))?;
    let key = PrivateKeyDer::from_pem_slice(KEY_PEM).map_err(|e| err(&e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| err(&e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

impl Shared {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.spec.name == name)
    }
}

/// Accepts connections for host `idx` (its organ host when `organ`, see
/// [`super::OrganHost`]) until the task is aborted; aborting drops the `JoinSet`, which aborts
/// every open connection too.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    idx: usize,
    organ: bool,
    listener: TcpListener,
) {
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let shared = shared.clone();
        conns.spawn(connection(shared, idx, organ, stream));
    }
}

/// Serves one connection, over TLS when the host speaks it.
async fn connection(shared: Arc<Shared>, idx: usize, organ: bool, mut stream: TcpStream) {
    let tls = shared.hosts.get(idx).and_then(|h| h.spec.faults.tls);
    match (tls, shared.tls.clone()) {
        (None, _) => serve_io(shared, idx, organ, stream).await,
        (Some(Tls::HandshakeFailure), _) => {
            // Wait for the ClientHello, then hang up in the middle of the handshake.
            let mut hello = [0u8; 512];
            let _ = stream.read(&mut hello).await;
            log_handshake_failure(&shared, idx, organ);
        }
        (Some(Tls::SelfSigned), Some(acceptor)) => match acceptor.accept(stream).await {
            Ok(tls_stream) => serve_io(shared, idx, organ, tls_stream).await,
            // The client refused the certificate (or spoke no TLS).
            Err(_) => log_handshake_failure(&shared, idx, organ),
        },
        (Some(Tls::SelfSigned), None) => {}
    }
}

async fn serve_io<I>(shared: Arc<Shared>, idx: usize, organ: bool, io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&shared, idx, organ, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Logs a failed TLS handshake as a request: method `TLS`, path `*`, status 0.
fn log_handshake_failure(shared: &Shared, idx: usize, organ: bool) {
    let Some(host) = shared.hosts.get(idx) else {
        return;
    };
    let name = match (&host.organ, organ) {
        (Some((name, _)), true) => name.clone(),
        _ => host.spec.name.clone(),
    };
    if let Ok(mut l) = shared.log.lock() {
        l.push(RequestRecord {
            host: name,
            method: "TLS".into(),
            path: "*".into(),
            time: Instant::now(),
            status: 0,
            user_agent: None,
            conditional: false,
        });
    }
}

type Resp = Response<Full<Bytes>>;
/// What goes on the wire: usually the `Full` body, or a trickling one (F-SLOW).
type Out = Response<BoxBody<Bytes, Infallible>>;

/// Handles one request, then applies the slow-body fault to successful answers.
async fn respond(shared: &Shared, idx: usize, organ: bool, req: Request<Incoming>) -> Out {
    let r = handle(shared, idx, organ, req).await;
    let slow = shared.hosts.get(idx).and_then(|h| h.spec.faults.slow_body);
    match slow {
        Some(slow) if r.status() == StatusCode::OK => {
            let (parts, body) = r.into_parts();
            let Ok(collected) = body.collect().await;
            let trickle = Trickle {
                data: collected.to_bytes(),
                chunk: slow.chunk_bytes.max(1),
                every: slow.every,
                sleep: None,
            };
            Response::from_parts(parts, trickle.boxed())
        }
        _ => r.map(BodyExt::boxed),
    }
}

/// A body sent `chunk` bytes at a time, one chunk every `every`.
struct Trickle {
    data: Bytes,
    chunk: usize,
    every: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Trickle {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let every = self.every;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let n = self.chunk.min(self.data.len());
        let piece = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }
}

fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn set_header(r: &mut Resp, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(name, v);
    }
}

fn cookies(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

fn has_cookie(cookies: &[(String, String)], name: &str, value: Option<&str>) -> bool {
    cookies
        .iter()
        .any(|(k, v)| k == name && value.is_none_or(|want| v == want))
}

fn parse_query(q: &str, into: &mut HashMap<String, String>) {
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        into.insert(k.into_owned(), v.into_owned());
    }
}

async fn handle(shared: &Shared, idx: usize, organ: bool, req: Request<Incoming>) -> Resp {
    let Some(host) = shared.hosts.get(idx) else {
        return response(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", "no host");
    };
    let log_name = match (&host.organ, organ) {
        (Some((name, _)), true) => name.clone(),
        _ => host.spec.name.clone(),
    };
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let full_path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let arrived = Instant::now();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let conditional_request = req.headers().contains_key(header::IF_NONE_MATCH)
        || req.headers().contains_key(header::IF_MODIFIED_SINCE);
    let log = |status: u16| {
        if let Ok(mut l) = shared.log.lock() {
            l.push(RequestRecord {
                host: log_name.clone(),
                method: method.clone(),
                path: full_path.clone(),
                time: arrived,
                status,
                user_agent: user_agent.clone(),
                conditional: conditional_request,
            });
        }
    };
    if let Some(latency) = host.spec.faults.latency {
        tokio::time::sleep(latency).await;
    }
    match pre_checks(host, &req, &path) {
        Pre::Respond(r) => {
            log(r.status().as_u16());
            return r;
        }
        Pre::Hang => {
            log(0);
            tokio::time::sleep(host.spec.faults.hang_for).await;
            let r = response(StatusCode::GATEWAY_TIMEOUT, "text/plain", "held");
            return r;
        }
        Pre::Continue => {}
    }
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let if_modified_since = req
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let mut query = HashMap::new();
    if let Some(q) = req.uri().query() {
        parse_query(q, &mut query);
    }
    if req.method() == hyper::Method::POST
        && let Ok(body) = req.into_body().collect().await
    {
        parse_query(&String::from_utf8_lossy(&body.to_bytes()), &mut query);
    }
    let mut r = if host.serves(organ, &path, &query) {
        serve(host, &path, &query)
    } else {
        not_found()
    };
    conditional(&mut r, if_none_match.as_deref(), if_modified_since);
    if let Some(gzip) = host.spec.faults.forced_gzip {
        r = compress(r, gzip).await;
    }
    log(r.status().as_u16());
    r
}

/// Gzips an HTML body (F-GZIP), declaring it or not.
async fn compress(r: Resp, gzip: Gzip) -> Resp {
    let is_html = r
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if !is_html || r.status() != StatusCode::OK {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    // `Full` cannot fail: its error type is `Infallible`.
    let Ok(collected) = body.collect().await;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zipped = enc
        .write_all(&collected.to_bytes())
        .and_then(|_| enc.finish());
    let Ok(zipped) = zipped else {
        return Response::from_parts(parts, Full::new(Bytes::new()));
    };
    if gzip == Gzip::Declared {
        parts
            .headers
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Response::from_parts(parts, Full::new(Bytes::from(zipped)))
}

enum Pre {
    Respond(Resp),
    Hang,
    Continue,
}

fn path_fault_hits(host: &Host, fault: &Option<PathFault>, key: &str, path: &str) -> bool {
    let Some(f) = fault else {
        return false;
    };
    if f.path_contains
        .as_deref()
        .is_some_and(|p| !path.contains(p))
    {
        return false;
    }
    let Ok(mut st) = host.state.lock() else {
        return false;
    };
    let n = st.path_hits.entry(format!("{key}{path}")).or_insert(0);
    *n += 1;
    *n <= f.first_n
}

/// Faults that answer before any resource lookup, in the order a real stack applies them:
/// rate limiter, robots.txt, WAF challenge, flaky backend.
fn pre_checks(host: &Host, req: &Request<Incoming>, path: &str) -> Pre {
    let faults = &host.spec.faults;
    if let Some(rl) = faults.rate_limit
        && let Ok(mut st) = host.state.lock()
    {
        let now = Instant::now();
        while st
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= rl.per)
        {
            st.window.pop_front();
        }
        if st.window.len() as u32 >= rl.max_requests {
            let mut r = response(
                StatusCode::TOO_MANY_REQUESTS,
                "text/html; charset=utf-8",
                "<html><body>访问过于频繁，请稍后再试</body></html>",
            );
            let value = match rl.retry_after {
                RetryAfter::Seconds(s) => s.to_string(),
                RetryAfter::HttpDate(s) => {
                    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(s))
                }
            };
            set_header(&mut r, header::RETRY_AFTER, &value);
            return Pre::Respond(r);
        }
        st.window.push_back(now);
    }
    if faults.browser_ua_only {
        let ua = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ua.contains("Mozilla/") {
            return Pre::Respond(response(
                StatusCode::FORBIDDEN,
                "text/html",
                "<html><body><h1>403 Forbidden</h1></body></html>",
            ));
        }
    }
    if path == "/robots.txt" {
        return Pre::Respond(match pages::robots(faults.robots) {
            Some(body) => response(StatusCode::OK, "text/plain", body),
            None => response(StatusCode::NOT_FOUND, "text/html", "<h1>404</h1>"),
        });
    }
    if let Some(ch) = faults.challenge
        && let Some(r) = challenge(ch, req)
    {
        return Pre::Respond(r);
    }
    if path_fault_hits(host, &faults.unavailable, "503:", path) {
        return Pre::Respond(response(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/html; charset=iso-8859-1",
            "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        ));
    }
    if path_fault_hits(host, &faults.hang, "hang:", path) {
        return Pre::Hang;
    }
    Pre::Continue
}

fn challenge(ch: Challenge, req: &Request<Incoming>) -> Option<Resp> {
    let jar = cookies(req);
    match ch {
        Challenge::Rs412 => {
            if has_cookie(&jar, "FSSBBIl1UgzbN7N80T", None) {
                return None;
            }
            let mut r = response(
                StatusCode::PRECONDITION_FAILED,
                "text/html; charset=utf-8",
                pages::rs412(),
            );
            set_header(
                &mut r,
                header::SET_COOKIE,
                "FSSBBIl1UgzbN7N80S=Yl3mAhBqUKRzQ0v2Hc1aPcQUqkJ3oT4Lq; Path=/; HttpOnly",
            );
            Some(r)
        }
        Challenge::Jsl521 => {
            if has_cookie(&jar, "__jsl_clearance", Some(pages::JSL_CLEARANCE)) {
                return None;
            }
            let status = StatusCode::from_u16(521).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = response(status, "text/html", pages::jsl521());
            set_header(
                &mut r,
                header::SET_COOKIE,
                "__jsluid_h=4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99; max-age=31536000; path=/; HttpOnly",
            );
            Some(r)
        }
        Challenge::Wzws => {
            if has_cookie(&jar, "wzwsconfirm", None) {
                return None;
            }
            Some(response(
                StatusCode::OK,
                "text/html; charset=utf-8",
                pages::wzws(),
            ))
        }
        Challenge::CookieLoop => {
            if has_cookie(&jar, "CT6T", Some("312900")) {
                return None;
            }
            let location = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".to_string());
            let mut r = response(StatusCode::FOUND, "text/html", "");
            set_header(&mut r, header::LOCATION, &location);
            set_header(&mut r, header::SET_COOKIE, "CT6T=312900; Path=/");
            Some(r)
        }
    }
}

fn html(host: &Host, body: String) -> Resp {
    response(
        StatusCode::OK,
        pages::content_type(host),
        pages::encode(host, &body),
    )
}

fn not_found() -> Resp {
    response(
        StatusCode::NOT_FOUND,
        "text/html; charset=iso-8859-1",
        "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
    )
}

/// A 200 with `ETag` (a hash of the bytes) and `Last-Modified`.
fn with_validators(content_type: &str, body: Vec<u8>, last_modified: SystemTime) -> Resp {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    let mut r = response(StatusCode::OK, content_type, body);
    let etag = format!("\"{:016x}\"", h.finish());
    set_header(&mut r, header::ETAG, &etag);
    set_header(
        &mut r,
        header::LAST_MODIFIED,
        &httpdate::fmt_http_date(last_modified),
    );
    r
}

/// Midday UTC of a calendar date, as a `SystemTime`.
fn date_time(y: i32, m: u32, d: u32) -> SystemTime {
    // Days from civil (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + 9 * 3600 + 30 * 60;
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
}

fn serve(host: &Host, path: &str, query: &HashMap<String, String>) -> Resp {
    let listing_modified = host
        .state
        .lock()
        .map(|s| s.listing_modified)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match host.resolve(path, query) {
        Resource::Listing {
            column,
            page,
            pages: n,
            items,
            children,
        } => match page {
            Some(p) => with_validators(
                pages::content_type(host),
                pages::encode(
                    host,
                    &pages::listing(host, &column, p, n, &items, &children),
                ),
                listing_modified,
            ),
            None if host.spec.faults.deep_stubs => html(host, pages::deep_stub(host)),
            None => not_found(),
        },
        Resource::Hanweb {
            column,
            items,
            children,
            total,
        } => with_validators(
            pages::content_type(host),
            pages::encode(
                host,
                &pages::hanweb_column(host, &column, &items, &children, total),
            ),
            listing_modified,
        ),
        Resource::DataProxy {
            items,
            total,
            per_page,
            past_end,
        } => {
            let known = query.contains_key("columnid") && (total > 0 || !items.is_empty());
            let body = if past_end && host.spec.faults.deep_stubs {
                pages::HANWEB_STUB.to_string()
            } else {
                pages::dataproxy(host, &items, total, per_page, known)
            };
            response(StatusCode::OK, "text/xml; charset=utf-8", body)
        }
        Resource::Report(r, part) => {
            let (y, m, d) = r.date;
            with_validators(
                pages::content_type(host),
                pages::encode(host, &pages::report_part(host, &r, part)),
                date_time(y, m, d),
            )
        }
        Resource::Redirect(location) => {
            let mut r = response(StatusCode::FOUND, "text/html", "");
            set_header(&mut r, header::LOCATION, &location);
            r
        }
        Resource::Pdf(r) => {
            let (y, m, d) = r.date;
            let mut resp = with_validators("application/pdf", pages::pdf(&r), date_time(y, m, d));
            set_header(
                &mut resp,
                header::CONTENT_DISPOSITION,
                &format!("attachment; filename=\"{}.pdf\"", r.hex),
            );
            resp
        }
        Resource::Moved => {
            let mut r = response(StatusCode::MOVED_PERMANENTLY, "text/html", "");
            set_header(&mut r, header::LOCATION, "/");
            r
        }
        Resource::JiyueNav(orgs) => with_validators(
            pages::content_type(host),
            pages::encode(host, &pages::jiyue_nav(host, &orgs)),
            listing_modified,
        ),
        Resource::JiyueList {
            column,
            items,
            pages: n,
            fragment,
        } => with_validators(
            pages::content_type(host),
            pages::encode(host, &pages::jiyue_list(host, &column, &items, n, fragment)),
            listing_modified,
        ),
        Resource::Home(entry) => html(host, pages::home(host, &entry)),
        Resource::GkmlptShell(tree) => with_validators(
            pages::content_type(host),
            pages::encode(host, &pages::gkmlpt_shell(host, &tree)),
            listing_modified,
        ),
        Resource::GkmlptApi {
            column,
            items,
            total,
        } => with_validators(
            "application/json; charset=utf-8",
            pages::gkmlpt_api(host, column.as_ref(), &items, total).into_bytes(),
            listing_modified,
        ),
        Resource::Image => response(StatusCode::OK, "image/png", pages::PNG),
        Resource::Shell(kind, target) => html(host, pages::shell(kind, &target)),
        Resource::NotFound => not_found(),
    }
}

/// Turns a 200 carrying validators into a 304 when the request's conditions match
/// (`If-None-Match` wins over `If-Modified-Since`, RFC 9110 §13.2.2).
fn conditional(r: &mut Resp, inm: Option<&str>, ims: Option<SystemTime>) {
    if r.status() != StatusCode::OK {
        return;
    }
    let etag = r
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Some(etag) = etag else {
        return;
    };
    let not_modified = match (inm, ims) {
        (Some(inm), _) => inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*"),
        (None, Some(ims)) => r
            .headers()
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|lm| lm <= ims),
        (None, None) => false,
    };
    if not_modified {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        *r.body_mut() = Full::new(Bytes::new());
        r.headers_mut().remove(header::CONTENT_TYPE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(
            httpdate::fmt_http_date(date_time(2024, 1, 26)),
            "Fri, 26 Jan 2024 09:30:00 GMT"
        );
        assert_eq!(
            httpdate::fmt_http_date(date_time(2020, 3, 1)),
            "Sun, 01 Mar 2020 09:30:00 GMT"
        );
    }
}
