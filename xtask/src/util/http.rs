//! The one place that does HTTP. Downloads go through curl, which uses the system CA store
//! and honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY like every other tool on the machine.

use std::path::Path;

use anyhow::{Result, bail};
use xshell::cmd;

use crate::util::sh;

/// Download `url` to `dest` (overwritten). Fails with the URL named on any HTTP error.
pub fn download(url: &str, dest: &Path) -> Result<()> {
    if !sh::has_program("curl") {
        bail!("curl is needed to download {url}: install it (apt-get install curl)");
    }
    let sh = sh::shell(dest.parent().unwrap_or(Path::new(".")))?;
    cmd!(sh, "curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 600 --output {dest} -- {url}")
        .quiet()
        .run()
        .map_err(|e| anyhow::anyhow!("downloading {url} failed: {e}"))?;
    Ok(())
}

/// GET `url`: (status, body). A connection failure is an error naming the URL.
pub fn get(url: &str, timeout_secs: u64) -> Result<(u16, String)> {
    if !sh::has_program("curl") {
        bail!("curl is needed to check {url}: install it (apt-get install curl)");
    }
    let sh = sh::shell(Path::new("."))?;
    let t = timeout_secs.max(1).to_string();
    let write_out = "\n%{http_code}";
    let out = cmd!(
        sh,
        "curl --silent --show-error --max-time {t} --output - --write-out {write_out} {url}"
    )
    .quiet()
    .ignore_status()
    .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
    let status: u16 = code.trim().parse().unwrap_or(0);
    if status == 0 {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("GET {url}: {}", err.trim().trim_start_matches("curl: "));
    }
    Ok((status, body.to_string()))
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

/// Many GETs at once with an on-disk cache revalidated by ETag and Last-Modified.
///
/// All transfers run in one `curl --parallel` process (bounded by `parallel`, HTTP/2
/// multiplexed where the server allows), with retries (curl's exponential backoff from 1 s,
/// for timeouts and 408/429/5xx answers) and timeouts per transfer. A cached
/// body is revalidated (`If-None-Match`, `If-Modified-Since`); a 304 answers from the cache.
/// `offline` answers from the cache only.
pub struct Client {
    pub cache_dir: std::path::PathBuf,
    pub offline: bool,
    pub parallel: usize,
    pub timeout_secs: u64,
    pub retries: u32,
    /// A cached body younger than this is used without asking the server again.
    pub max_age_secs: u64,
    /// Extra request headers (e.g. `Authorization: Bearer …`); the curl config file that
    /// carries them is private to this process and removed after the run.
    pub headers: Vec<String>,
}

impl Client {
    fn cached(&self, url: &str) -> Option<Vec<u8>> {
        std::fs::read(self.key(url)).ok()
    }

    fn key(&self, url: &str) -> std::path::PathBuf {
        use sha2::Digest;
        let h = sha2::Sha256::digest(url.as_bytes());
        self.cache_dir.join(crate::util::hash::hex(&h[..16]))
    }

    pub fn fetch_all(&self, urls: &[String]) -> Result<Vec<Response>> {
        std::fs::create_dir_all(&self.cache_dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", self.cache_dir.display()))?;
        if self.offline || urls.is_empty() {
            return Ok(urls
                .iter()
                .map(|u| match self.cached(u) {
                    Some(b) => Response {
                        status: 200,
                        body: Some(b),
                        from_cache: true,
                        error: None,
                    },
                    None => Response {
                        status: 0,
                        body: None,
                        from_cache: false,
                        error: Some(format!("{u}: not in the cache (--offline)")),
                    },
                })
                .collect());
        }
        // Fresh cache entries answer at once; only the others go to the network.
        let fresh = |u: &str| {
            std::fs::metadata(self.key(u))
                .and_then(|m| m.modified())
                .is_ok_and(|t| {
                    t.elapsed()
                        .is_ok_and(|age| age.as_secs() < self.max_age_secs)
                })
        };
        let stale: Vec<String> = urls.iter().filter(|u| !fresh(u)).cloned().collect();
        let mut fetched: std::collections::HashMap<String, Response> = stale
            .iter()
            .cloned()
            .zip(self.fetch_network(&stale)?)
            .collect();
        Ok(urls
            .iter()
            .map(|u| {
                fetched.remove(u).unwrap_or_else(|| Response {
                    status: 200,
                    body: self.cached(u),
                    from_cache: true,
                    error: None,
                })
            })
            .collect())
    }

    fn fetch_network(&self, urls: &[String]) -> Result<Vec<Response>> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        if !sh::has_program("curl") {
            bail!("curl is needed for HTTP requests: install it (apt-get install curl)");
        }
        let tag = std::process::id();
        let mut cfg = String::new();
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        for (i, u) in urls.iter().enumerate() {
            let key = self.key(u);
            let tmp = key.with_extension(format!("tmp{tag}"));
            let etag = key.with_extension("etag");
            if i > 0 {
                cfg.push_str("next\n");
            }
            cfg.push_str(&format!(
                "url = {}\noutput = {}\n",
                q(u),
                q(&tmp.display().to_string())
            ));
            for h in &self.headers {
                cfg.push_str(&format!("header = {}\n", q(h)));
            }
            if key.exists() {
                if etag.exists() {
                    cfg.push_str(&format!(
                        "etag-compare = {}\n",
                        q(&etag.display().to_string())
                    ));
                }
                cfg.push_str(&format!("time-cond = {}\n", q(&key.display().to_string())));
            }
            cfg.push_str(&format!(
                "etag-save = {}\nsilent\nlocation\ncompressed\nretry = {}\nconnect-timeout = 10\nmax-time = {}\nwrite-out = \"%{{url}}\\t%{{http_code}}\\t%{{errormsg}}\\n\"\n",
                q(&etag.with_extension(format!("etag{tag}")).display().to_string()),
                self.retries,
                self.timeout_secs
            ));
        }
        let cfg_path = self.cache_dir.join(format!(".curl-{tag}.cfg"));
        crate::util::files::write_atomic(&cfg_path, cfg.as_bytes(), 0o600)?;
        let sh = sh::shell(&self.cache_dir)?;
        let par = self.parallel.max(1).to_string();
        let out = cmd!(
            sh,
            "curl --parallel --parallel-immediate --parallel-max {par} --config {cfg_path}"
        )
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .output()?;
        let _ = std::fs::remove_file(&cfg_path);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut answers: std::collections::HashMap<&str, (u16, String)> =
            std::collections::HashMap::new();
        for line in stdout.lines() {
            let mut it = line.splitn(3, '\t');
            let (Some(u), Some(code)) = (it.next(), it.next()) else {
                continue;
            };
            answers.insert(
                u,
                (
                    code.parse().unwrap_or(0),
                    it.next().unwrap_or_default().to_string(),
                ),
            );
        }
        let mut res = Vec::with_capacity(urls.len());
        for u in urls {
            let key = self.key(u);
            let tmp = key.with_extension(format!("tmp{tag}"));
            let etag_new = key.with_extension(format!("etag{tag}"));
            let (status, err) = answers
                .get(u.as_str())
                .cloned()
                .unwrap_or((0, "no answer".into()));
            let r = match status {
                200 => {
                    let body = std::fs::read(&tmp).ok();
                    if body.is_some() {
                        let _ = std::fs::rename(&tmp, &key);
                        let _ = std::fs::rename(&etag_new, key.with_extension("etag"));
                    }
                    Response {
                        status,
                        body,
                        from_cache: false,
                        error: None,
                    }
                }
                304 => {
                    // Revalidated: fresh again for max_age_secs.
                    if let Ok(f) = std::fs::File::options().append(true).open(&key) {
                        let _ = f.set_modified(std::time::SystemTime::now());
                    }
                    Response {
                        status: 200,
                        body: self.cached(u),
                        from_cache: true,
                        error: None,
                    }
                }
                0 => Response {
                    status,
                    body: None,
                    from_cache: false,
                    error: Some(format!(
                        "GET {u}: {}",
                        if err.is_empty() {
                            "no answer".into()
                        } else {
                            err
                        }
                    )),
                },
                s => Response {
                    status: s,
                    body: None,
                    from_cache: false,
                    error: Some(format!("GET {u}: HTTP {s}")),
                },
            };
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&etag_new);
            res.push(r);
        }
        Ok(res)
    }
}
