//! `ci fetch`: the GitHub Actions exports of a repository, downloaded into the export
//! folder (`<exports>/OWNER/NAME/runs/*.json`, `jobs/RUN-ATTEMPT.json`).
//!
//! - The token comes from `GITHUB_TOKEN` and goes to curl as a header through its standard
//!   input (`util::http`): never into argv, a file, or output.
//! - Listing: `/actions/runs?per_page=100&created=SINCE..UNTIL`, page after page by the
//!   `Link: rel="next"` header (only links of the same API are followed). A range whose
//!   listing says more than GitHub's 1,000-result cap is split in two first.
//! - Rate limits: a 403/429 with `x-ratelimit-remaining: 0` waits until `x-ratelimit-reset`
//!   (or `retry-after`), and a success that leaves no requests waits before the next one;
//!   a wait beyond `ci.max_wait_secs` stops the fetch. Answers 5xx, and no answer, are
//!   retried three times (after 1, 2, 4 s).
//! - Resumable: each page is written atomically as it arrives and `.progress.json` records
//!   what is left, so a stopped fetch continues where it stopped. Jobs are fetched once per
//!   completed run attempt (a run's file is its cache). The next fetch starts at the end of
//!   this one, or at the oldest run that was still unfinished.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use super::model::{Secs, Status, rfc3339, utc};
use crate::context::Context;
use crate::util::files;
use crate::util::http::{self, Method, Reply, Request};

/// GitHub returns at most this many results of a filtered listing.
const LISTING_CAP: u64 = 1000;
/// Retries of a 5xx answer or of no answer, after 1, 2, 4 s.
const RETRIES: u32 = 3;
/// Rate-limit waits in a row for one request before giving up.
const MAX_WAITS: u32 = 5;

pub struct Options {
    pub repo: String,
    pub since: Option<String>,
    pub jobs: bool,
    pub now: Secs,
}

/// What a fetch did.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub repo: String,
    pub folder: String,
    pub since: String,
    pub until: String,
    pub resumed: bool,
    pub pages: u64,
    pub runs: u64,
    pub jobs_fetched: u64,
    pub jobs_cached: u64,
    pub requests: u64,
    pub waited_secs: u64,
    pub authenticated: bool,
    /// Where the next fetch starts.
    pub next_since: String,
}

/// `.progress.json`: what is left of the listing; once done, where the next fetch starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    repo: String,
    since: Secs,
    until: Secs,
    /// Ranges still to list, `[from, to]` (both included); the first is under way.
    queue: Vec<(Secs, Secs)>,
    /// The next page of the first range; none: its first page.
    next: Option<String>,
    /// Pages written of the first range.
    page: u32,
    /// The oldest creation time of a run that was not completed when listed.
    oldest_unfinished: Option<Secs>,
    done: bool,
}

impl Progress {
    fn next_since(&self) -> Secs {
        self.oldest_unfinished
            .map_or(self.until, |t| t.min(self.until))
    }
}

struct Client {
    api: String,
    headers: Vec<String>,
    max_wait: u64,
    requests: u64,
    waited: u64,
    quiet: bool,
}

pub fn fetch(cx: &Context, o: &Options) -> Result<Fetched> {
    crate::config::check_repo(&o.repo).context("--repo")?;
    let dir = super::load::exports_dir(cx).join(&o.repo);
    files::create_private_dir(&dir.join("runs"))?;
    files::create_private_dir(&dir.join("jobs"))?;
    let _lock = files::Lock::acquire(&dir.join(".lock"), "ci fetch")?;
    let mut client = Client::new(cx)?;
    let progress_path = dir.join(".progress.json");
    let (mut p, resumed) = start(cx, o, &dir, &progress_path)?;
    let mut f = Fetched {
        repo: o.repo.clone(),
        folder: cx.rel(&dir),
        since: rfc3339(p.since),
        until: rfc3339(p.until),
        resumed,
        pages: 0,
        runs: 0,
        jobs_fetched: 0,
        jobs_cached: 0,
        requests: 0,
        waited_secs: 0,
        authenticated: client
            .headers
            .iter()
            .any(|h| h.starts_with("Authorization")),
        next_since: String::new(),
    };
    let listed = list(&mut client, o, &dir, &progress_path, &mut p, &mut f);
    f.requests = client.requests;
    f.waited_secs = client.waited;
    listed?;
    if o.jobs {
        let r = jobs(cx, &mut client, o, &dir, &mut f);
        f.requests = client.requests;
        f.waited_secs = client.waited;
        r?;
    }
    f.next_since = rfc3339(p.next_since());
    Ok(f)
}

/// The progress to continue, or a new one: from `--since`, else where the last fetch
/// ended, else `ci.fetch_since` before now.
fn start(cx: &Context, o: &Options, dir: &Path, path: &Path) -> Result<(Progress, bool)> {
    let old: Option<Progress> = match std::fs::read(path) {
        Ok(b) => Some(serde_json::from_slice(&b).with_context(|| {
            format!(
                "{}: unreadable fetch progress: remove it to start over",
                cx.rel(path)
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", cx.rel(path))),
    };
    let since = o
        .since
        .as_deref()
        .map(|s| super::model::parse_when(s, o.now))
        .transpose()?;
    if let Some(p) = &old
        && !p.done
        && p.repo == o.repo
        && since.is_none_or(|s| s == p.since)
    {
        return Ok((p.clone(), true));
    }
    if let Some(p) = old.as_ref().filter(|p| !p.done) {
        abandon(dir, p)?;
    }
    let since = since
        .or(old.as_ref().filter(|p| p.done).map(Progress::next_since))
        .unwrap_or(o.now - cx.config.ci.fetch_since.secs());
    if since >= o.now {
        bail!("--since {} is not in the past", rfc3339(since));
    }
    Ok((
        Progress {
            repo: o.repo.clone(),
            since,
            until: o.now,
            queue: vec![(since, o.now)],
            next: None,
            page: 0,
            oldest_unfinished: None,
            done: false,
        },
        false,
    ))
}

/// A listing left unfinished and not continued: the pages of its range under way would be
/// a partial export forever, so they go (the other ranges were not started).
fn abandon(dir: &Path, p: &Progress) -> Result<()> {
    let Some(&(from, to)) = p.queue.first() else {
        return Ok(());
    };
    let prefix = format!("{}_{}-p", compact(from), compact(to));
    for e in std::fs::read_dir(dir.join("runs"))? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    Ok(())
}

fn save(path: &Path, p: &Progress) -> Result<()> {
    files::write_atomic(path, &serde_json::to_vec_pretty(p)?, 0o600)
}

/// A page of `/actions/runs`: what the fetch needs of it.
#[derive(Deserialize)]
struct RunsPage {
    total_count: u64,
    workflow_runs: Vec<ListedRun>,
}

#[derive(Deserialize)]
struct ListedRun {
    created_at: String,
    status: Option<String>,
}

fn compact(t: Secs) -> String {
    utc(t).format("%Y%m%dT%H%M%SZ").to_string()
}

/// List every range of the queue, page by page, saving progress after each page.
fn list(
    client: &mut Client,
    o: &Options,
    dir: &Path,
    progress_path: &Path,
    p: &mut Progress,
    f: &mut Fetched,
) -> Result<()> {
    while let Some(&(from, to)) = p.queue.first() {
        let url = match &p.next {
            Some(u) => u.clone(),
            None => format!(
                "{}/repos/{}/actions/runs?per_page=100&exclude_pull_requests=true&created={}..{}",
                client.api,
                o.repo,
                rfc3339(from),
                rfc3339(to)
            ),
        };
        let reply = client.get(&url)?;
        let page: RunsPage = serde_json::from_slice(&reply.body)
            .with_context(|| format!("GET {url}: not a page of workflow runs"))?;
        if p.next.is_none() && page.total_count > LISTING_CAP && to > from {
            // GitHub lists at most 1,000 runs of a filtered query: halve the range.
            let mid = from + (to - from) / 2;
            p.queue.splice(0..1, [(from, mid), (mid + 1, to)]);
            save(progress_path, p)?;
            continue;
        }
        p.page += 1;
        let name = format!("{}_{}-p{:03}.json", compact(from), compact(to), p.page);
        files::write_atomic(&dir.join("runs").join(name), &reply.body, 0o600)?;
        f.pages += 1;
        f.runs += page.workflow_runs.len() as u64;
        for r in &page.workflow_runs {
            let unfinished = r.status.as_deref().and_then(Status::parse) != Some(Status::Completed);
            if unfinished && let Some(t) = super::model::parse_time(&r.created_at) {
                p.oldest_unfinished = Some(p.oldest_unfinished.map_or(t, |o| o.min(t)));
            }
        }
        p.next = next_link(&reply, &client.api)?;
        if p.next.is_none() {
            p.queue.remove(0);
            p.page = 0;
        }
        p.done = p.queue.is_empty();
        save(progress_path, p)?;
    }
    Ok(())
}

/// The `rel="next"` URL of a `Link` header; a link to another host is refused (the token
/// would go with it).
fn next_link(reply: &Reply, api: &str) -> Result<Option<String>> {
    let Some(link) = reply.header("link") else {
        return Ok(None);
    };
    for part in link.split(',') {
        let mut pieces = part.split(';');
        let target = pieces.next().unwrap_or_default().trim();
        if !pieces.any(|a| a.trim() == "rel=\"next\"") {
            continue;
        }
        let Some(url) = target.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
            bail!("a Link header's next page `{target}` is not `<URL>`");
        };
        if !url.starts_with(&format!("{api}/")) {
            bail!(
                "the next page `{url}` is not under {api}: not followed (the token would go with it)"
            );
        }
        return Ok(Some(url.to_string()));
    }
    Ok(None)
}

/// Jobs of every completed run attempt of the folder that has no jobs file yet.
fn jobs(cx: &Context, client: &mut Client, o: &Options, dir: &Path, f: &mut Fetched) -> Result<()> {
    let runs_dir = dir.join("runs");
    let x = super::load::load(cx, &[runs_dir], &[])?;
    for r in x.runs.iter().filter(|r| r.status == Status::Completed) {
        let path: PathBuf = dir
            .join("jobs")
            .join(format!("{}-{}.json", r.id, r.attempt));
        if path.exists() {
            f.jobs_cached += 1;
            continue;
        }
        let mut url = Some(format!(
            "{}/repos/{}/actions/runs/{}/attempts/{}/jobs?per_page=100",
            client.api, o.repo, r.id, r.attempt
        ));
        // Every page of the run's jobs, back to back in one file, written once complete.
        let mut body = Vec::new();
        while let Some(u) = url {
            let reply = client.get(&u)?;
            serde_json::from_slice::<serde::de::IgnoredAny>(&reply.body)
                .with_context(|| format!("GET {u}: not JSON"))?;
            body.extend_from_slice(&reply.body);
            body.push(b'\n');
            url = next_link(&reply, &client.api)?;
        }
        files::write_atomic(&path, &body, 0o600)?;
        f.jobs_fetched += 1;
    }
    Ok(())
}

impl Client {
    fn new(cx: &Context) -> Result<Client> {
        let api = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "https://api.github.com".into());
        let api = api.trim_end_matches('/').to_string();
        if !(api.starts_with("https://") || api.starts_with("http://")) {
            bail!("GITHUB_API_URL `{api}` is not an http(s) URL");
        }
        let mut headers = vec![
            "Accept: application/vnd.github+json".to_string(),
            "X-GitHub-Api-Version: 2022-11-28".to_string(),
            "User-Agent: cargo-xtask-ci-fetch".to_string(),
        ];
        if let Ok(token) = std::env::var("GITHUB_TOKEN")
            && !token.trim().is_empty()
        {
            if token.chars().any(|c| c.is_control() || c.is_whitespace()) {
                bail!("GITHUB_TOKEN holds a space or control character: set it to the token alone");
            }
            headers.push(format!("Authorization: Bearer {}", token.trim()));
        }
        Ok(Client {
            api,
            headers,
            max_wait: cx.config.ci.max_wait_secs,
            requests: 0,
            waited: 0,
            quiet: cx.style.quiet,
        })
    }

    /// GET with the rate-limit waits and the retries of the module docs; anything but a
    /// 200 in the end is an error naming the URL and GitHub's message.
    fn get(&mut self, url: &str) -> Result<Reply> {
        let (mut retries, mut waits) = (0u32, 0u32);
        loop {
            self.requests += 1;
            let req = Request {
                method: Method::Get,
                url,
                headers: &self.headers,
                body: None,
                timeout_secs: 60,
            };
            let reply = match http::send(&req) {
                Ok(r) => r,
                Err(e) if retries < RETRIES => {
                    self.backoff(&mut retries, &format!("{e:#}"));
                    continue;
                }
                Err(e) => return Err(e.context(format!("GET {url}"))),
            };
            if let Some(secs) = rate_limited(&reply) {
                waits += 1;
                if waits > MAX_WAITS {
                    bail!("GET {url}: still rate limited after {MAX_WAITS} waits");
                }
                self.wait(secs, &reply)?;
                continue;
            }
            match reply.status {
                200 => {
                    if reply.header("x-ratelimit-remaining") == Some("0") {
                        let secs = reset_in(&reply).unwrap_or(60);
                        self.wait(secs, &reply)?;
                    }
                    return Ok(reply);
                }
                s if s >= 500 && retries < RETRIES => {
                    self.backoff(&mut retries, &format!("HTTP {s}"));
                }
                s => bail!("GET {url}: HTTP {s}: {}", github_message(&reply)),
            }
        }
    }

    fn backoff(&mut self, retries: &mut u32, why: &str) {
        let secs = 1u64 << *retries;
        *retries += 1;
        if !self.quiet {
            eprintln!("ci fetch: {why}; retrying in {secs} s");
        }
        std::thread::sleep(Duration::from_secs(secs));
        self.waited += secs;
    }

    fn wait(&mut self, secs: u64, reply: &Reply) -> Result<()> {
        if secs > self.max_wait {
            let at = reset_at(reply)
                .map_or_else(|| format!("in {secs} s"), |t| format!("at {}", rfc3339(t)));
            bail!(
                "GitHub's rate limit resets {at}, later than ci.max_wait_secs ({} s) allows: run `cargo xtask ci fetch` again then (the pages fetched so far are kept, and it continues where it stopped){}",
                self.max_wait,
                if self.headers.iter().any(|h| h.starts_with("Authorization")) {
                    ""
                } else {
                    "; set GITHUB_TOKEN for 5,000 requests an hour instead of 60"
                }
            );
        }
        if !self.quiet {
            eprintln!("ci fetch: rate limited; waiting {secs} s for GitHub's limit to reset");
        }
        std::thread::sleep(Duration::from_secs(secs));
        self.waited += secs;
        Ok(())
    }
}

fn reset_at(reply: &Reply) -> Option<Secs> {
    reply.header("x-ratelimit-reset")?.trim().parse().ok()
}

/// Seconds until the limit resets (at least 1).
fn reset_in(reply: &Reply) -> Option<u64> {
    let at = reset_at(reply)?;
    Some((at - chrono::Utc::now().timestamp()).max(0) as u64 + 1)
}

/// How long a rate-limited answer asks to wait; none when the answer is not one.
fn rate_limited(reply: &Reply) -> Option<u64> {
    if !matches!(reply.status, 403 | 429) {
        return None;
    }
    if let Some(secs) = reply
        .header("retry-after")
        .and_then(|v| v.trim().parse().ok())
    {
        return Some(secs);
    }
    if reply.header("x-ratelimit-remaining") == Some("0") {
        return Some(reset_in(reply).unwrap_or(60));
    }
    None
}

/// GitHub's `{"message": ...}`, and what to do about the usual ones.
fn github_message(reply: &Reply) -> String {
    #[derive(Deserialize)]
    struct Msg {
        message: String,
    }
    let msg = serde_json::from_slice::<Msg>(&reply.body)
        .map(|m| m.message)
        .unwrap_or_default();
    let hint = match reply.status {
        401 => ": GITHUB_TOKEN is missing, expired or wrong",
        403 => ": the token lacks the `actions: read` permission (or `repo` scope)",
        404 => ": no such repository, or the token cannot see it",
        _ => "",
    };
    format!("{}{hint}", msg.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(headers: &[(&str, &str)]) -> Reply {
        Reply {
            status: 200,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn next_links_are_followed_only_within_the_api() {
        let api = "http://127.0.0.1:9";
        let r = reply(&[(
            "link",
            "<http://127.0.0.1:9/repos/o/r/actions/runs?page=2>; rel=\"next\", <http://127.0.0.1:9/repos/o/r/actions/runs?page=5>; rel=\"last\"",
        )]);
        assert_eq!(
            next_link(&r, api).unwrap().as_deref(),
            Some("http://127.0.0.1:9/repos/o/r/actions/runs?page=2")
        );
        let last_only = reply(&[("link", "<http://127.0.0.1:9/x?page=1>; rel=\"first\"")]);
        assert_eq!(next_link(&last_only, api).unwrap(), None);
        let elsewhere = reply(&[("link", "<https://evil.example/x>; rel=\"next\"")]);
        assert!(next_link(&elsewhere, api).is_err());
        let sibling = reply(&[("link", "<http://127.0.0.1:99/x>; rel=\"next\"")]);
        assert!(
            next_link(&sibling, api).is_err(),
            "a longer port is another host"
        );
    }

    #[test]
    fn rate_limited_answers_are_told_from_forbidden_ones() {
        let mut r = reply(&[("retry-after", "7")]);
        r.status = 403;
        assert_eq!(rate_limited(&r), Some(7));
        let mut r = reply(&[("x-ratelimit-remaining", "12")]);
        r.status = 403;
        assert_eq!(
            rate_limited(&r),
            None,
            "a permission error is not waited out"
        );
        let mut r = reply(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")]);
        r.status = 429;
        assert_eq!(
            rate_limited(&r),
            Some(1),
            "a reset in the past: retry at once"
        );
    }
}
