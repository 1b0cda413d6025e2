//! The one place that does HTTP. Downloads go through curl, which uses the system CA store
//! and honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY like every other tool on the machine.
//!
//! Invariants:
//! - Every request has a connect timeout and an overall deadline, and retries are bounded in
//!   total time: nothing here can stall a cron job.
//! - curl's options come from one builder, [`CurlConfig`], which refuses control characters
//!   in any value (a newline would start a new curl option), and reaches curl through its
//!   standard input: request headers (tokens) are never written to disk or argv.
//! - A URL is always the last argument after `--`, never parsed as an option (or, with
//!   [`send`], given through standard input like everything else).
//! - The cache holds only complete answers (HTTP 200 with curl's exit status 0), published
//!   atomically (`.tmp-` name, fsync, rename, directory fsync); an unreadable entry is a miss.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use crate::util::files::{self, TMP_PREFIX};
use crate::util::sh;

/// Connect timeout of every request.
const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Deadline of one download (an advisory database export is ~100 MB).
const DOWNLOAD_MAX_SECS: u64 = 600;
/// Total time retries of one download may take.
const DOWNLOAD_RETRY_MAX_SECS: u64 = 900;

fn need_curl(what: &str) -> Result<()> {
    if !sh::has_program("curl") {
        bail!("curl is needed {what}: install it (apt-get install curl)");
    }
    Ok(())
}

/// Download `url` to `dest` (overwritten). Fails with the URL named on any HTTP error.
pub fn download(url: &str, dest: &Path) -> Result<()> {
    need_curl(&format!("to download {url}"))?;
    refuse_control(url, "URL")?;
    let sh = sh::shell(dest.parent().unwrap_or(Path::new(".")))?;
    let (connect, max, retry_max) = (
        CONNECT_TIMEOUT_SECS.to_string(),
        DOWNLOAD_MAX_SECS.to_string(),
        DOWNLOAD_RETRY_MAX_SECS.to_string(),
    );
    cmd!(sh, "curl --fail --silent --show-error --location --retry 3 --retry-max-time {retry_max} --connect-timeout {connect} --max-time {max} --output {dest} -- {url}")
        .quiet()
        .run()
        .with_context(|| format!("downloading {url} failed"))?;
    Ok(())
}

/// GET `url`: (status, body). A connection failure is an error naming the URL.
pub fn get(url: &str, timeout_secs: u64) -> Result<(u16, String)> {
    need_curl(&format!("to check {url}"))?;
    refuse_control(url, "URL")?;
    let sh = sh::shell(Path::new("."))?;
    let t = timeout_secs.max(1).to_string();
    let connect = CONNECT_TIMEOUT_SECS.min(timeout_secs.max(1)).to_string();
    let write_out = "\n%{http_code}";
    let out = cmd!(
        sh,
        "curl --silent --show-error --connect-timeout {connect} --max-time {t} --output - --write-out {write_out} -- {url}"
    )
    .quiet()
    .ignore_status()
    .output()
    .with_context(|| format!("running curl for {url}"))?;
    match status_and_body(&out) {
        Ok(answer) => Ok(answer),
        Err(why) => bail!("GET {url}: {why}"),
    }
}

/// curl's answer written with `--write-out "\n%{http_code}"`: (status, body), or, when
/// no status came back, what curl said on stderr.
fn status_and_body(out: &std::process::Output) -> std::result::Result<(u16, String), String> {
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status: u16 = code.trim().parse().unwrap_or(0);
    if status == 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.trim().trim_start_matches("curl: ").to_string());
    }
    Ok((status, body.to_string()))
}

/// PUT `body` to `url` (a Pushgateway replacing a group): (status, answer). The URL (it may
/// hold a password) and the headers reach curl through its standard input, never its argv;
/// the body through a private temporary file, removed afterwards.
pub fn put(url: &str, body: &[u8], content_type: &str, timeout_secs: u64) -> Result<(u16, String)> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    need_curl("to send metrics")?;
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp =
        std::env::temp_dir().join(format!("{TMP_PREFIX}xtask-put-{}-{n}", std::process::id()));
    let written = {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(body))
            .with_context(|| format!("writing {}", tmp.display()))
    };
    let answer = written.and_then(|()| {
        let t = timeout_secs.max(1);
        let mut cfg = CurlConfig::default();
        cfg.option("url", url)?
            .option("request", "PUT")?
            .option("header", &format!("Content-Type: {content_type}"))?
            .option("data-binary", &format!("@{}", tmp.display()))?
            .option("connect-timeout", &CONNECT_TIMEOUT_SECS.min(t).to_string())?
            .option("max-time", &t.to_string())?
            .option("output", "-")?;
        cfg.flag("silent").flag("show-error");
        cfg.line(r#"write-out = "\n%{http_code}""#);
        let out = cfg.run()?;
        match status_and_body(&out) {
            Ok(answer) => Ok(answer),
            Err(why) => bail!("{why}"),
        }
    });
    let _ = std::fs::remove_file(&tmp);
    answer.with_context(|| format!("PUT {}", without_credentials(url)))
}

use crate::util::redact::without_credentials;

fn refuse_control(value: &str, what: &str) -> Result<()> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        bail!(
            "refusing a {what} with the control character {:?}: `{}`",
            c,
            value.escape_debug()
        );
    }
    Ok(())
}

/// GET or POST, for [`send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request whose answer's status and headers matter (paged APIs with rate limits,
/// webhooks). The URL, the headers and the body reach curl through its standard input
/// (`--config -`), never its argv or a file: a token or a webhook URL stays secret.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a str,
    pub headers: &'a [String],
    /// The body of a POST, sent as it is (`data-raw`: a leading `@` is not a file name).
    pub body: Option<&'a str>,
    /// Deadline of the request (0 is taken as 1).
    pub timeout_secs: u64,
}

/// An answer of [`send`]: status, response headers (names in lowercase), body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A response header (`name` in lowercase); the last one when repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where the body ends and curl's `--write-out` starts: tabs cannot occur unescaped in the
/// header JSON that follows, so the last occurrence is curl's.
const REPLY_MARK: &str = "\n\t@@xtask-reply\t";

/// Send `req` once: no retries, the caller decides from the status and headers (GET
/// follows redirects, POST does not). An error (no complete answer) carries curl's
/// message, never the URL.
pub fn send(req: &Request) -> Result<Reply> {
    need_curl("for HTTP requests")?;
    let timeout = req.timeout_secs.max(1);
    let mut cfg = CurlConfig::default();
    cfg.option("url", req.url)?;
    for h in req.headers {
        cfg.option("header", h)?;
    }
    match (req.method, req.body) {
        (Method::Post, body) => {
            cfg.option("request", "POST")?
                .option("data-raw", body.unwrap_or_default())?;
        }
        (Method::Get, _) => {
            cfg.flag("location");
        }
    }
    cfg.option(
        "connect-timeout",
        &CONNECT_TIMEOUT_SECS.min(timeout).to_string(),
    )?
    .option("max-time", &timeout.to_string())?
    .option("output", "-")?
    .flag("silent")
    .flag("show-error")
    .flag("compressed");
    // A constant: curl turns `\t` and `\n` into tab and newline.
    cfg.line(r#"write-out = "\n\t@@xtask-reply\t%{http_code}\t%{exitcode}\t%{header_json}""#);
    let out = cfg.run()?;
    let scrub = |text: &str| text.replace(req.url, "<url>");
    let split = out
        .stdout
        .windows(REPLY_MARK.len())
        .rposition(|w| w == REPLY_MARK.as_bytes());
    let Some(at) = split else {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "no answer: {}",
            scrub(err.trim().trim_start_matches("curl: "))
        );
    };
    let meta = String::from_utf8_lossy(&out.stdout[at + REPLY_MARK.len()..]).into_owned();
    let mut it = meta.splitn(3, '\t');
    let status: u16 = it.next().unwrap_or("0").trim().parse().unwrap_or(0);
    let exit: i32 = it.next().unwrap_or("-1").trim().parse().unwrap_or(-1);
    if status == 0 || exit != 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        let why = err.trim().trim_start_matches("curl: ");
        let why = scrub(if why.is_empty() { "curl failed" } else { why });
        if status == 0 {
            bail!("no answer: {why}");
        }
        bail!("incomplete answer (HTTP {status}, curl exit {exit}): {why}");
    }
    let raw: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(it.next().unwrap_or("{}")).unwrap_or_default();
    let headers = raw
        .into_iter()
        .flat_map(|(k, vs)| {
            let k = k.to_ascii_lowercase();
            vs.into_iter().map(move |v| (k.clone(), v))
        })
        .collect();
    let mut body = out.stdout;
    body.truncate(at);
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A curl config (`--config -`), built only through methods that refuse control characters.
#[derive(Default)]
pub struct CurlConfig {
    text: String,
}

impl CurlConfig {
    /// `curl --config -` with this configuration on its standard input: what it printed,
    /// whatever its exit status.
    fn run(&self) -> Result<std::process::Output> {
        let sh = sh::shell(Path::new("."))?;
        cmd!(sh, "curl --config -")
            .stdin(self.as_bytes())
            .quiet()
            .ignore_status()
            .output()
            .context("running curl")
    }

    /// `name = "value"`, the value quoted; a control character in it is an error.
    pub fn option(&mut self, name: &str, value: &str) -> Result<&mut Self> {
        refuse_control(value, name)?;
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        self.text.push_str(&format!("{name} = \"{quoted}\"\n"));
        Ok(self)
    }

    /// A switch without a value (`silent`, `location`).
    pub fn flag(&mut self, name: &str) -> &mut Self {
        self.text.push_str(name);
        self.text.push('\n');
        self
    }

    /// A constant line of the toolkit's own (never built from input).
    pub fn line(&mut self, line: &'static str) -> &mut Self {
        self.text.push_str(line);
        self.text.push('\n');
        self
    }

    /// Start the options of the next transfer.
    pub fn next(&mut self) -> &mut Self {
        self.flag("next")
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }
}

/// One response of [`Client::fetch_all`].
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status (304 is turned into 200 with the cached body); 0 when no answer came.
    pub status: u16,
    pub body: Option<Vec<u8>>,
    pub from_cache: bool,
    pub error: Option<String>,
}

impl Response {
    fn cached(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            body: Some(body),
            from_cache: true,
            error: None,
        }
    }

    fn failed(status: u16, error: String) -> Response {
        Response {
            status,
            body: None,
            from_cache: false,
            error: Some(error),
        }
    }
}

/// Many GETs at once with an on-disk cache revalidated by ETag and Last-Modified.
///
/// All transfers run in one `curl --parallel` process (bounded by `parallel`, HTTP/2
/// multiplexed where the server allows), with retries (curl's exponential backoff from 1 s,
/// for timeouts and 408/429/5xx answers, bounded in total time) and timeouts per transfer.
/// A cached body is revalidated (`If-None-Match`, `If-Modified-Since`); a 304 answers from
/// the cache. `offline` answers from the cache only.
pub struct Client {
    pub cache_dir: PathBuf,
    pub offline: bool,
    pub parallel: usize,
    /// Deadline of one transfer, retries included (0 is taken as 1).
    pub timeout_secs: u64,
    pub retries: u32,
    /// A cached body younger than this is used without asking the server again.
    pub max_age_secs: u64,
    /// Extra request headers (e.g. `Authorization: Bearer …`): given to curl through its
    /// standard input, never written to a file.
    pub headers: Vec<String>,
}

/// The cache files of one URL.
struct Entry {
    body: PathBuf,
    etag: PathBuf,
    tmp_body: PathBuf,
    tmp_etag: PathBuf,
}

/// What curl said about one transfer.
struct Answer {
    status: u16,
    exit: i32,
    error: String,
}

impl Client {
    fn entry(&self, url: &str) -> Entry {
        use sha2::Digest;
        let h = sha2::Sha256::digest(url.as_bytes());
        let key = crate::util::hash::hex(&h[..16]);
        let pid = std::process::id();
        Entry {
            body: self.cache_dir.join(&key),
            etag: self.cache_dir.join(format!("{key}.etag")),
            tmp_body: self.cache_dir.join(format!("{TMP_PREFIX}{key}.{pid}")),
            tmp_etag: self.cache_dir.join(format!("{TMP_PREFIX}{key}.etag.{pid}")),
        }
    }

    /// The cached body of `url`; a missing or unreadable entry is a miss.
    fn cached(&self, url: &str) -> Option<Vec<u8>> {
        std::fs::read(self.entry(url).body).ok()
    }

    /// Drop the cache entry of `url` (its body did not parse): the next run asks again
    /// instead of revalidating a broken answer forever.
    pub fn forget(&self, url: &str) {
        let e = self.entry(url);
        let _ = std::fs::remove_file(e.body);
        let _ = std::fs::remove_file(e.etag);
    }

    fn fresh(&self, url: &str) -> bool {
        std::fs::metadata(self.entry(url).body)
            .and_then(|m| m.modified())
            .is_ok_and(|t| {
                t.elapsed()
                    .is_ok_and(|age| age.as_secs() < self.max_age_secs)
            })
    }

    pub fn fetch_all(&self, urls: &[String]) -> Result<Vec<Response>> {
        std::fs::create_dir_all(&self.cache_dir)
            .with_context(|| format!("creating the HTTP cache {}", self.cache_dir.display()))?;
        if self.offline {
            return Ok(urls.iter().map(|u| self.offline_answer(u)).collect());
        }
        // Fresh cache entries answer at once; only the others go to the network.
        let stale: Vec<String> = urls.iter().filter(|u| !self.fresh(u)).cloned().collect();
        let mut fetched: HashMap<String, Response> = stale
            .iter()
            .cloned()
            .zip(self.fetch_network(&stale)?)
            .collect();
        Ok(urls
            .iter()
            .map(|u| {
                fetched.remove(u).unwrap_or_else(|| match self.cached(u) {
                    Some(b) => Response::cached(b),
                    None => Response::failed(0, format!("{u}: cache entry unreadable")),
                })
            })
            .collect())
    }

    fn offline_answer(&self, url: &str) -> Response {
        match self.cached(url) {
            Some(b) => Response::cached(b),
            None => Response::failed(0, format!("{url}: not in the cache (--offline)")),
        }
    }

    fn fetch_network(&self, urls: &[String]) -> Result<Vec<Response>> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        need_curl("for HTTP requests")?;
        let config = self.config(urls)?;
        let stdout = self.run_curl(&config)?;
        let mut answers = parse_answers(&stdout);
        let mut complete = Vec::new();
        let responses = urls
            .iter()
            .map(|u| {
                let answer = answers.remove(u.as_str()).unwrap_or(Answer {
                    status: 0,
                    exit: -1,
                    error: "no answer".into(),
                });
                let (response, publish) = self.settle(u, answer);
                complete.extend(publish);
                response
            })
            .collect();
        if let Err(err) = self.publish(&complete) {
            eprintln!("warning: HTTP cache not updated: {err:#}");
        }
        for e in &complete {
            let _ = std::fs::remove_file(&e.tmp_body);
            let _ = std::fs::remove_file(&e.tmp_etag);
        }
        Ok(responses)
    }

    /// The curl config of every transfer.
    fn config(&self, urls: &[String]) -> Result<CurlConfig> {
        let mut cfg = CurlConfig::default();
        let timeout = self.timeout_secs.max(1);
        for (i, u) in urls.iter().enumerate() {
            let e = self.entry(u);
            if i > 0 {
                cfg.next();
            }
            cfg.option("url", u)?
                .option("output", &e.tmp_body.display().to_string())?;
            for h in &self.headers {
                cfg.option("header", h)?;
            }
            if e.body.exists() {
                if e.etag.exists() {
                    cfg.option("etag-compare", &e.etag.display().to_string())?;
                }
                cfg.option("time-cond", &e.body.display().to_string())?;
            }
            cfg.option("etag-save", &e.tmp_etag.display().to_string())?
                .option("retry", &self.retries.to_string())?
                .option("retry-max-time", &timeout.to_string())?
                .option(
                    "connect-timeout",
                    &CONNECT_TIMEOUT_SECS.min(timeout).to_string(),
                )?
                .option("max-time", &timeout.to_string())?;
            cfg.flag("silent").flag("location").flag("compressed");
            // A constant, not a value: curl turns `\t` and `\n` into tab and newline.
            cfg.line(r#"write-out = "%{url}\t%{http_code}\t%{exitcode}\t%{errormsg}\n""#);
        }
        Ok(cfg)
    }

    /// One `curl --parallel` process, its config on standard input.
    fn run_curl(&self, config: &CurlConfig) -> Result<String> {
        let sh = sh::shell(&self.cache_dir)?;
        let par = self.parallel.max(1).to_string();
        let out = cmd!(
            sh,
            "curl --parallel --parallel-immediate --parallel-max {par} --config -"
        )
        .stdin(config.as_bytes())
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .output()
        .context("running curl")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Turn curl's answer for `url` into a response, and the cache entry to publish when it
    /// is a complete 200 (its temporary files are left for [`Client::publish`]).
    fn settle(&self, url: &str, a: Answer) -> (Response, Option<Entry>) {
        let e = self.entry(url);
        let r = match (a.status, a.exit) {
            (200, 0) => match std::fs::read(&e.tmp_body) {
                Ok(body) => {
                    let r = Response {
                        status: 200,
                        body: Some(body),
                        from_cache: false,
                        error: None,
                    };
                    return (r, Some(e));
                }
                Err(err) => Response::failed(0, format!("GET {url}: reading the answer: {err}")),
            },
            (304, 0) => self.revalidated(url, &e),
            (0, _) | (200, _) | (304, _) => {
                let why = if a.error.is_empty() {
                    format!("curl exit {}", a.exit)
                } else {
                    a.error
                };
                Response::failed(0, format!("GET {url}: {why}"))
            }
            (s, _) => Response::failed(s, format!("GET {url}: HTTP {s}")),
        };
        let _ = std::fs::remove_file(&e.tmp_body);
        let _ = std::fs::remove_file(&e.tmp_etag);
        (r, None)
    }

    /// Revalidated: the cached body is fresh again for `max_age_secs`.
    fn revalidated(&self, url: &str, e: &Entry) -> Response {
        if let Ok(f) = std::fs::File::options().append(true).open(&e.body) {
            let _ = f.set_modified(SystemTime::now());
        }
        match self.cached(url) {
            Some(b) => Response::cached(b),
            None => Response::failed(0, format!("GET {url}: 304 but the cache entry is gone")),
        }
    }

    /// Publish complete answers: every body synced (on every core: hundreds of crates'
    /// index files), then each renamed into place with its ETag, then the folder synced
    /// once. A crash leaves the old entry or the whole new one, never part of one.
    fn publish(&self, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let chunk = entries.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = entries
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<()> {
                        for e in part {
                            std::fs::File::open(&e.tmp_body)
                                .and_then(|f| f.sync_all())
                                .with_context(|| format!("syncing {}", e.tmp_body.display()))?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a cache sync thread panicked")))
            })
        })?;
        for e in entries {
            std::fs::rename(&e.tmp_body, &e.body)
                .with_context(|| format!("publishing {}", e.body.display()))?;
            if e.tmp_etag.exists() {
                std::fs::rename(&e.tmp_etag, &e.etag)
                    .with_context(|| format!("publishing {}", e.etag.display()))?;
            } else {
                let _ = std::fs::remove_file(&e.etag);
            }
        }
        files::sync_dir(&self.cache_dir)
    }
}

/// curl's `--write-out` lines: URL, HTTP status, exit code, error message.
fn parse_answers(stdout: &str) -> HashMap<&str, Answer> {
    let mut answers = HashMap::new();
    for line in stdout.lines() {
        let mut it = line.splitn(4, '\t');
        let (Some(u), Some(code), Some(exit)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        answers.insert(
            u,
            Answer {
                status: code.parse().unwrap_or(0),
                exit: exit.parse().unwrap_or(-1),
                error: it.next().unwrap_or_default().to_string(),
            },
        );
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_config_refuses_control_characters() {
        let mut c = CurlConfig::default();
        c.option("url", "https://example.org/a \"b\" \\c").unwrap();
        assert_eq!(
            std::str::from_utf8(c.as_bytes()).unwrap(),
            "url = \"https://example.org/a \\\"b\\\" \\\\c\"\n"
        );
        for bad in [
            "requests\noutput = /tmp/x",
            "a\rb",
            "a\0b",
            "a\x1bb",
            "a\u{85}b",
        ] {
            let e = c.option("url", bad).err().expect(bad).to_string();
            assert!(e.contains("control character"), "{e}");
        }
        // Nothing of a refused value reached the config.
        assert_eq!(c.as_bytes().iter().filter(|&&b| b == b'\n').count(), 1);
    }

    /// A one-shot-per-connection HTTP server on 127.0.0.1 whose answers are raw bytes
    /// (so that a test can lie about Content-Length): `first` to the first connection,
    /// `then` to every later one; the request heads are recorded.
    fn raw_server(
        first: &'static [u8],
        then: &'static [u8],
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let got = stream.read(&mut buf).unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..got]).into_owned());
                let _ = stream.write_all(if n == 0 { first } else { then });
            }
        });
        (url, seen)
    }

    fn client(cache: &Path) -> Client {
        Client {
            cache_dir: cache.to_path_buf(),
            offline: false,
            parallel: 4,
            timeout_secs: 5,
            retries: 0,
            max_age_secs: 0,
            headers: vec!["Authorization: Bearer s3cr3t-token".into()],
        }
    }

    fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let body = std::fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().into_owned(), body)
            })
            .collect()
    }

    #[test]
    fn a_cut_off_answer_is_not_cached_and_tokens_never_reach_the_disk() {
        // First answer: 200 with a Content-Length the body never reaches (curl exit 18);
        // then complete answers with an ETag (a poisoned cache would get a 304 forever).
        let (url, seen) = raw_server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n{\"trunc",
            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nETag: \"v2\"\r\nConnection: close\r\n\r\n{\"a\":1}",
        );
        let cache = tempfile::tempdir().unwrap();
        let c = client(cache.path());
        let u = format!("{url}/pkg");
        let r = &c.fetch_all(std::slice::from_ref(&u)).unwrap()[0];
        assert!(r.body.is_none(), "a cut-off body is not an answer: {r:?}");
        assert!(r.error.as_deref().unwrap_or("").contains("GET"), "{r:?}");
        assert!(
            files_in(cache.path()).is_empty(),
            "nothing cached, no temp file left"
        );

        let r = &c.fetch_all(std::slice::from_ref(&u)).unwrap()[0];
        assert_eq!(r.body.as_deref(), Some(&b"{\"a\":1}"[..]), "{r:?}");
        assert!(!r.from_cache);
        let requests = seen.lock().unwrap().clone();
        assert_eq!(requests.len(), 2);
        assert!(
            !requests[1].contains("If-None-Match"),
            "the cut-off answer's ETag was not kept: {}",
            requests[1]
        );
        assert!(requests.iter().all(|r| r.contains("Bearer s3cr3t-token")));
        for (name, body) in files_in(cache.path()) {
            assert!(!name.starts_with(TMP_PREFIX), "temp file left: {name}");
            assert!(
                !String::from_utf8_lossy(&body).contains("s3cr3t"),
                "{name} holds the token"
            );
        }
    }

    #[test]
    fn a_silent_server_ends_in_an_error_not_a_stall() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/x",
            listener.local_addr().unwrap().port()
        );
        // Accepts, reads nothing, answers nothing, until the test ends.
        std::thread::spawn(move || {
            let _held: Vec<_> = listener.incoming().take(4).collect();
        });
        let cache = tempfile::tempdir().unwrap();
        let mut c = client(cache.path());
        c.timeout_secs = 0; // taken as 1 s, never as "no deadline"
        let r = &c.fetch_all(std::slice::from_ref(&url)).unwrap()[0];
        assert!(r.body.is_none());
        assert!(r.error.is_some(), "{r:?}");
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        assert_eq!(
            without_credentials(
                "https://u:s3cr3t@pg.example:9091/metrics/job/x/instance@base64/YQ=="
            ),
            "https://pg.example:9091/metrics/job/x/instance@base64/YQ=="
        );
        assert_eq!(
            without_credentials("http://TOKEN@127.0.0.1:1/a"),
            "http://127.0.0.1:1/a"
        );
        assert!(!without_credentials("http://u:s3cr3t@").contains("s3cr3t"));
    }

    #[test]
    fn send_returns_status_headers_and_body_and_posts_without_argv() {
        let (url, seen) = raw_server(
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nX-RateLimit-Reset: 1767873600\r\nLink: <http://h/p?page=2>; rel=\"next\"\r\nConnection: close\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        );
        let headers = vec!["Authorization: Bearer s3cr3t".to_string()];
        let get = Request {
            method: Method::Get,
            url: &format!("{url}/runs"),
            headers: &headers,
            body: None,
            timeout_secs: 5,
        };
        let r = send(&get).unwrap();
        assert_eq!(r.status, 403);
        assert_eq!(r.header("x-ratelimit-reset"), Some("1767873600"));
        assert_eq!(r.header("link"), Some("<http://h/p?page=2>; rel=\"next\""));
        assert_eq!(r.body, b"{}");
        let post = Request {
            method: Method::Post,
            url: &format!("{url}/hook"),
            headers: &headers,
            body: Some("@/etc/passwd"),
            timeout_secs: 5,
        };
        let r = send(&post).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let requests = seen.lock().unwrap().clone();
        assert!(requests[1].starts_with("POST /hook"), "{}", requests[1]);
        assert!(
            requests[1].ends_with("@/etc/passwd"),
            "the body is sent as it is, never read from a file: {}",
            requests[1]
        );
    }

    #[test]
    fn send_without_an_answer_is_an_error_without_the_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/T0KEN/secret-path");
        let r = send(&Request {
            method: Method::Post,
            url: &url,
            headers: &[],
            body: Some("{}"),
            timeout_secs: 2,
        });
        let e = format!("{:#}", r.unwrap_err());
        assert!(e.contains("no answer"), "{e}");
        assert!(!e.contains("secret-path"), "{e}");
    }

    #[test]
    fn a_url_with_a_newline_is_refused_before_curl_runs() {
        let cache = tempfile::tempdir().unwrap();
        let c = client(cache.path());
        let evil = "http://127.0.0.1:9/x\noutput = /tmp/pwned".to_string();
        let e = c.fetch_all(&[evil]).unwrap_err().to_string();
        assert!(e.contains("control character"), "{e}");
    }
}
