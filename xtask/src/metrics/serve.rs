//! `metrics serve --listen ADDR`: `GET /metrics` for a Prometheus that scrapes directly.
//! The metrics are computed on scrape and reused for `cache_secs` (one computation at a time;
//! scrapes meanwhile wait for it). OpenMetrics when the scraper asks for it (`Accept`), the
//! text format otherwise.
//!
//! A small HTTP/1.1 server on std::net, bounded: at most [`MAX_CONNECTIONS`] at once (more
//! get 503), a request head of at most [`MAX_HEAD`] bytes read within [`READ_TIMEOUT`], one
//! request per connection. A bad request gets a 4xx answer, never a panic.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use super::collect::{Collected, Memo, collect};
use super::exposition::Format;
use crate::context::Context;

const MAX_CONNECTIONS: usize = 16;
const MAX_HEAD: usize = 8192;
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The newest computation and when it was made.
struct Server<'a> {
    cx: &'a Context,
    max_age: Duration,
    cache: Mutex<Option<(Instant, Collected)>>,
    memo: Mutex<Memo>,
    active: AtomicUsize,
}

pub fn run(cx: &Context, listen: &str, cache_secs: u64) -> Result<()> {
    let listener = TcpListener::bind(listen).with_context(|| {
        format!(
            "--listen {listen}: cannot listen there (in use, or not an address of this machine?)"
        )
    })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    // The one line a supervisor (or a test) reads: where to scrape.
    eprintln!("cargo xtask metrics: serving http://{addr}/metrics");
    let server = Server {
        cx,
        max_age: Duration::from_secs(cache_secs),
        cache: Mutex::new(None),
        memo: Mutex::new(Memo::default()),
        active: AtomicUsize::new(0),
    };
    std::thread::scope(|s| {
        for stream in listener.incoming() {
            let Ok(stream) = stream else {
                // Out of file descriptors and the like: pause rather than spin.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            if server.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                server.active.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                let _ = respond(&stream, 503, "text/plain", b"too many connections\n", false);
                continue;
            }
            let server = &server;
            s.spawn(move || {
                server.handle(stream);
                server.active.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(())
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics {
        format: Format,
        head: bool,
    },
    Index {
        head: bool,
    },
    NotFound,
    /// Another method than GET or HEAD.
    Method,
    Bad,
}

/// The request head (up to the blank line), or `None` when it is too long, cut off or late
/// (the whole head within [`READ_TIMEOUT`], however slowly it trickles in).
fn read_head(stream: &mut TcpStream) -> Option<String> {
    let start = Instant::now();
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let left = READ_TIMEOUT.checked_sub(start.elapsed())?;
        if buf.len() >= MAX_HEAD || left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(buf).ok()
}

fn parse(head: &str) -> Request {
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Request::Bad;
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Request::Method,
    };
    let openmetrics = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("accept")
                && value.contains("application/openmetrics-text")
        })
    });
    match target.split('?').next().unwrap_or_default() {
        "/metrics" => Request::Metrics {
            format: if openmetrics {
                Format::OpenMetrics
            } else {
                Format::Text
            },
            head: head_only,
        },
        "/" => Request::Index { head: head_only },
        _ => Request::NotFound,
    }
}

fn respond(
    mut stream: &TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    // A lingering close: what the client still sends is read and dropped (a little, briefly),
    // so that closing with unread input does not reset the connection before the client
    // has read the answer.
    stream.shutdown(std::net::Shutdown::Write)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    let _ = std::io::copy(&mut stream.take(1 << 16), &mut std::io::sink());
    Ok(())
}

impl Server<'_> {
    fn handle(&self, mut stream: TcpStream) {
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let request = match read_head(&mut stream) {
            Some(head) => parse(&head),
            None => {
                let _ = respond(
                    &stream,
                    431,
                    "text/plain",
                    b"bad or too long request\n",
                    false,
                );
                return;
            }
        };
        let text = "text/plain; charset=utf-8";
        let _ = match request {
            Request::Metrics { format, head } => {
                let body = self.exposition(format);
                respond(&stream, 200, format.content_type(), body.as_bytes(), head)
            }
            Request::Index { head } => {
                let body = b"cargo xtask metrics: the metrics are at /metrics\n";
                respond(&stream, 200, text, body, head)
            }
            Request::NotFound => respond(&stream, 404, text, b"not found: try /metrics\n", false),
            Request::Method => respond(&stream, 405, text, b"GET or HEAD only\n", false),
            Request::Bad => respond(&stream, 400, text, b"bad request\n", false),
        };
    }

    /// The exposition from a computation younger than `max_age` (a new one otherwise).
    fn exposition(&self, format: Format) -> String {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= self.max_age)
        {
            let collected = collect(self.cx, &self.memo);
            for r in collected.failed() {
                eprintln!(
                    "warning: the {} metrics are missing: {} (`cargo xtask {}` shows more)",
                    r.collector,
                    r.error.as_deref().unwrap_or_default(),
                    r.command
                );
            }
            *cache = Some((Instant::now(), collected));
        }
        let (at, collected) = cache.as_ref().expect("computed above");
        collected.render(format, Some(at.elapsed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_parsed_without_trusting_them() {
        let metrics = |format, head| Request::Metrics { format, head };
        assert_eq!(
            parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            metrics(Format::Text, false)
        );
        assert_eq!(
            parse(
                "GET /metrics?x=1 HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n"
            ),
            metrics(Format::OpenMetrics, false)
        );
        assert_eq!(
            parse("HEAD /metrics HTTP/1.0\r\n\r\n"),
            metrics(Format::Text, true)
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\n\r\n"),
            Request::Index { head: false }
        );
        assert_eq!(parse("GET /etc/passwd HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(parse("POST /metrics HTTP/1.1\r\n\r\n"), Request::Method);
        for bad in [
            "",
            "GET",
            "GET /metrics",
            "GET /metrics SPDY/3\r\n\r\n",
            "\u{0}\u{1}",
        ] {
            assert_eq!(parse(bad), Request::Bad, "{bad:?}");
        }
    }
}
