//! `advisories update` and `advisories status`: the advisory cache.
//!
//! Each source lives in `<cache>/<name>/`: a shallow git checkout, or `all.zip` from an OSV
//! export, plus `.xtask-source.json` (fetch time, URL without password, commit, advisory
//! count and newest date). An update is built beside the old copy, checked (it must parse,
//! hold at least `audit.min_update_fraction` of the old copy's advisories and nothing older
//! than its newest, unless `--allow-shrink`) and swapped in by rename, so a failed, refused
//! or killed update leaves the old one.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use chrono::{DateTime, Utc};
use serde_json::json;
use walkdir::WalkDir;
use xshell::cmd;

use super::model::FETCH_META;
use crate::config::{AdvisorySource, SourceLocation};
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;
use crate::util::http;
use crate::util::redact::redact;
use crate::util::sh;

pub fn configured(cx: &Context) -> Vec<AdvisorySource> {
    if !cx.config.audit.sources.is_empty() {
        return cx.config.audit.sources.clone();
    }
    vec![
        AdvisorySource {
            name: "rustsec".into(),
            git: Some("https://github.com/rustsec/advisory-db".into()),
            branch: Some("osv".into()),
            url: None,
        },
        AdvisorySource {
            name: "pypa".into(),
            git: Some("https://github.com/pypa/advisory-database".into()),
            branch: Some("main".into()),
            url: None,
        },
    ]
}

/// Advisory sources in order of precedence: --db, XTASK_ADVISORY_DB, config, default cache.
pub fn paths(cx: &Context, cli: &[PathBuf]) -> Result<(Vec<PathBuf>, &'static str)> {
    if !cli.is_empty() {
        return Ok((cli.iter().map(|p| cx.cli_path(p)).collect(), "--db"));
    }
    if let Ok(env) = std::env::var("XTASK_ADVISORY_DB") {
        let v: Vec<PathBuf> = env
            .split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect();
        if !v.is_empty() {
            return Ok((v, "XTASK_ADVISORY_DB"));
        }
    }
    if !cx.config.audit.db.is_empty() {
        return Ok((
            cx.config.audit.db.iter().map(|p| cx.root.join(p)).collect(),
            "config",
        ));
    }
    let cache = crate::context::advisory_cache();
    let found: Vec<PathBuf> = configured(cx)
        .iter()
        .map(|s| cache.join(&s.name))
        .filter(|p| p.exists())
        .collect();
    if found.is_empty() {
        bail!(
            "no advisory database: run `cargo xtask advisories update`, pass --db PATH, or set XTASK_ADVISORY_DB (looked in {})",
            cache.display()
        );
    }
    Ok((found, "cache"))
}

/// What a fetched copy must hold to replace the current one.
struct Policy {
    /// At least this fraction of the current copy's advisories...
    min_fraction: f64,
    /// ...unless the user takes a smaller or older copy anyway.
    allow_shrink: bool,
}

/// How many advisories a copy holds, and the newest `modified` date among them.
#[derive(Debug, Clone, Copy)]
struct Stats {
    advisories: usize,
    newest: Option<DateTime<Utc>>,
}

/// A source fetched, checked and swapped in.
struct Fetched {
    commit: Option<String>,
}

pub fn update(cx: &Context, allow_shrink: bool) -> Result<Report> {
    let cache = crate::context::advisory_cache();
    files::create_private_dir(&cache)?;
    let _lock = files::Lock::acquire(&cache.join(".xtask.lock"), "advisories update")?;
    sweep_aborted(&cache);
    let policy = Policy {
        min_fraction: cx.config.audit.min_update_fraction,
        allow_shrink,
    };
    let mut report = Report::new("advisories update");
    let mut t = Table::new("Sources", &["source", "from", "result"]);
    let mut rows = Vec::new();
    for src in configured(cx) {
        let from = redact(
            src.git
                .as_deref()
                .or(src.url.as_deref())
                .unwrap_or_default(),
        );
        let kept = kept_copy(&cache.join(&src.name));
        match update_one(cx, &cache, &src, &policy, &mut report) {
            Ok(Fetched { commit }) => {
                // Index now, so the first audit after an update is already fast.
                let indexed = index_one(&cache, &src, &mut report);
                let result = format!(
                    "updated{}{}",
                    commit
                        .as_ref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default(),
                    indexed.map_or_else(
                        || ", not indexed".to_string(),
                        |n| format!(", {n} advisories indexed")
                    ),
                );
                rows.push(
                    json!({"source": src.name, "from": from, "commit": commit, "indexed": indexed}),
                );
                t.row(vec![src.name.clone(), from, result]);
            }
            Err(e) => {
                // A source not brought up to date is part of the work not done: exit 2.
                report.incomplete = true;
                let what = e.downcast_ref::<Stage>().map_or("failed", Stage::as_str);
                let (state, then) = match &kept {
                    Some(when) => (
                        "old copy kept",
                        format!("the copy fetched {when} is kept; audits go on using it"),
                    ),
                    None => (
                        "no copy",
                        format!(
                            "there is no copy of {} in the cache: audits cannot use it until an update succeeds",
                            src.name
                        ),
                    ),
                };
                t.row(vec![
                    src.name.clone(),
                    from,
                    format!("FAILED ({state}): {what}"),
                ]);
                report.push(Finding::new(
                    codes::ADVISORY_UPDATE_FAILED,
                    Severity::High,
                    redact(&format!(
                        "{}: {e:#}{}; {then}",
                        src.name,
                        offline_hint(&format!("{e:#}"))
                    )),
                ));
            }
        }
    }
    report.summary("cache", cache.display().to_string());
    report.tables.push(t);
    report.set("updated", rows);
    Ok(report)
}

/// Where an update failed: fetching, or checking what it fetched (which was not taken).
#[derive(Debug, Clone, Copy)]
enum Stage {
    Fetch,
    Check,
}

impl Stage {
    fn as_str(&self) -> &'static str {
        match self {
            Stage::Fetch => "could not fetch",
            Stage::Check => "fetched copy not taken",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The current copy of a source, if there is one: when it was fetched (`date unknown` for
/// a copy without its fetch record).
fn kept_copy(dest: &Path) -> Option<String> {
    if !dest.exists() {
        return None;
    }
    Some(
        record_date(&fetch_record(dest), "updated").map_or("at an unknown date".to_string(), |d| {
            d.format("%Y-%m-%d %H:%M UTC").to_string()
        }),
    )
}

/// A copy's fetch record ([`FETCH_META`]): `Null` when there is none or it cannot be read.
fn fetch_record(dir: &Path) -> serde_json::Value {
    fs::read_to_string(dir.join(FETCH_META))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// A date (RFC 3339) of a fetch record, in UTC.
fn record_date(meta: &serde_json::Value, key: &str) -> Option<DateTime<Utc>> {
    meta[key]
        .as_str()
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// A hint when the error says the network is not there (curl's and git's words for it).
fn offline_hint(error: &str) -> &'static str {
    let offline = [
        "Could not resolve host",
        "Failed to connect",
        "Network is unreachable",
        "Couldn't resolve host",
    ];
    if offline.iter().any(|w| error.contains(w)) {
        " (no network: is this machine offline?)"
    } else {
        ""
    }
}

/// Remove the fetch folders (`.tmp-<source>-<pid>`) of updates that were killed: under the
/// update lock no other update is running, so every one of them is left over.
fn sweep_aborted(cache: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(files::TMP_PREFIX)
            && e.file_type().is_ok_and(|t| t.is_dir())
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Index a source just swapped in: the number of advisories, or `None` (and a finding) when
/// the index could not be written.
fn index_one(cache: &Path, src: &AdvisorySource, report: &mut Report) -> Option<usize> {
    match super::index::refresh(&cache.join("index"), &cache.join(&src.name)) {
        Ok(n) => Some(n),
        Err(e) => {
            report.push(Finding::new(
                codes::ADVISORY_INDEX_FAILED,
                Severity::Low,
                format!(
                    "{}: index not written ({e:#}); audits parse the source instead",
                    src.name
                ),
            ));
            None
        }
    }
}

/// Check where a source comes from (again: right before git or curl sees it), warn about
/// plain http, and fetch it.
fn update_one(
    cx: &Context,
    cache: &Path,
    src: &AdvisorySource,
    policy: &Policy,
    report: &mut Report,
) -> Result<Fetched> {
    src.check()?;
    let value = src
        .git
        .as_deref()
        .or(src.url.as_deref())
        .unwrap_or_default();
    let loc = SourceLocation::of(value)?;
    if loc == SourceLocation::Http {
        report.push(Finding::new(
            codes::ADVISORY_SOURCE_INSECURE,
            Severity::Low,
            format!(
                "{}: {} is fetched over plain http://: anyone on the network path can change the advisories; use https://",
                src.name,
                redact(value)
            ),
        ));
    }
    // A path is relative to the root (git runs in the cache).
    let target = match loc {
        SourceLocation::Path => cx.root.join(value).display().to_string(),
        _ => value.to_string(),
    };
    fetch(cache, src, &target, loc, policy)
}

/// Fetch beside the current copy, check it, and swap it in by rename: a failed, refused or
/// killed update leaves the current copy as it was.
fn fetch(
    cache: &Path,
    src: &AdvisorySource,
    target: &str,
    loc: SourceLocation,
    policy: &Policy,
) -> Result<Fetched> {
    let tmp = cache.join(format!(
        "{}{}-{}",
        files::TMP_PREFIX,
        src.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&tmp);
    let result = (|| -> Result<Fetched> {
        let commit = match &src.git {
            Some(_) => Some(
                git_clone(cache, &tmp, target, src.branch.as_deref().unwrap_or("main"))
                    .context(Stage::Fetch)?,
            ),
            None => {
                download_zip(&tmp, target, loc).context(Stage::Fetch)?;
                None
            }
        };
        let dest = cache.join(&src.name);
        let stats = check_replacement(&tmp, &dest, policy).context(Stage::Check)?;
        let meta = json!({
            "updated": Utc::now().to_rfc3339(),
            "from": redact(src.git.as_deref().or(src.url.as_deref()).unwrap_or_default()),
            "branch": src.branch,
            "commit": commit,
            "advisories": stats.advisories,
            "newest": stats.newest.map(|n| n.to_rfc3339()),
        });
        files::write_atomic(
            &tmp.join(FETCH_META),
            serde_json::to_string_pretty(&meta)?.as_bytes(),
            0o644,
        )?;
        // Swap: the old copy moves aside, the new one takes its name, the old one goes.
        let old = cache.join(format!(
            "{}{}-old-{}",
            files::TMP_PREFIX,
            src.name,
            std::process::id()
        ));
        if dest.exists() {
            fs::rename(&dest, &old)?;
        }
        fs::rename(&tmp, &dest)?;
        files::sync_dir(cache)?;
        let _ = fs::remove_dir_all(&old);
        Ok(Fetched { commit })
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// `git clone` one branch of `url` into `tmp`: the short commit. Options end before the
/// URL; git's own reason for a failure is part of the error (passwords redacted), and git
/// never waits for a password on the terminal.
fn git_clone(cache: &Path, tmp: &Path, url: &str, branch: &str) -> Result<String> {
    let sh = sh::shell(cache)?;
    let branch_arg = format!("--branch={branch}");
    let out = cmd!(
        sh,
        "git clone --quiet --depth 1 {branch_arg} -- {url} {tmp}"
    )
    .env("GIT_TERMINAL_PROMPT", "0")
    .quiet()
    .ignore_status()
    .output()
    .with_context(|| format!("running git clone {}", redact(url)))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let why: String = redact(&why.join("; "))
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        bail!("git clone {} (branch {branch}) failed: {why}", redact(url));
    }
    let sh = sh::shell(tmp)?;
    Ok(cmd!(sh, "git rev-parse --short HEAD")
        .quiet()
        .read()?
        .trim()
        .to_string())
}

/// An OSV zip export into `tmp/all.zip`: downloaded, or copied from a path.
fn download_zip(tmp: &Path, target: &str, loc: SourceLocation) -> Result<()> {
    fs::create_dir_all(tmp)?;
    let zip = tmp.join("all.zip");
    if loc == SourceLocation::Path {
        let meta = fs::metadata(target).with_context(|| format!("reading {target}"))?;
        ensure!(meta.is_file(), "{target} is not a regular file");
        fs::copy(target, &zip).with_context(|| format!("copying {target}"))?;
    } else {
        http::download(target, &zip)?;
    }
    let n = super::zip::entries(&zip)?.len();
    ensure!(n > 0, "{} holds no advisories", redact(target));
    Ok(())
}

/// Whether the copy fetched into `tmp` may replace the one at `dest`: it must hold
/// advisories, at least `policy.min_fraction` as many as the current copy, and none older
/// than the current copy's newest (unless `policy.allow_shrink`). Its stats when it may.
fn check_replacement(tmp: &Path, dest: &Path, policy: &Policy) -> Result<Stats> {
    let parsed =
        super::advisories::parse_source(tmp, None, false).context("reading the fetched copy")?;
    let new = Stats {
        advisories: parsed.advisories.len(),
        newest: parsed.newest,
    };
    if new.advisories == 0 {
        bail!(
            "the fetched copy holds no advisories ({} files could not be read): it was not taken",
            parsed.malformed.len()
        );
    }
    let Some(old) = stats_of_copy(dest).filter(|_| !policy.allow_shrink) else {
        return Ok(new);
    };
    if (new.advisories as f64) < old.advisories as f64 * policy.min_fraction {
        bail!(
            "the fetched copy holds {} advisories, fewer than {}% of the {} of the current copy: it was not taken (a broken mirror or the wrong branch?); pass --allow-shrink if it is expected",
            new.advisories,
            policy.min_fraction * 100.0,
            old.advisories
        );
    }
    if let Some(o) = old.newest
        && new.newest.is_none_or(|n| n < o)
    {
        bail!(
            "the fetched copy's newest advisory ({}) is older than the current copy's ({}): it was not taken (a stale mirror?); pass --allow-shrink if it is expected",
            new.newest
                .map_or_else(|| "none dated".into(), |n| n.to_rfc3339()),
            o.to_rfc3339()
        );
    }
    Ok(new)
}

/// The stats of the current copy: from its fetch record, else (a copy from an older
/// xtask) by parsing it. `None` when there is no copy or it cannot be read.
fn stats_of_copy(dest: &Path) -> Option<Stats> {
    if !dest.exists() {
        return None;
    }
    let meta = fetch_record(dest);
    if let Some(n) = meta["advisories"].as_u64() {
        return Some(Stats {
            advisories: usize::try_from(n).unwrap_or(usize::MAX),
            newest: record_date(&meta, "newest"),
        });
    }
    let parsed = super::advisories::parse_source(dest, None, false).ok()?;
    Some(Stats {
        advisories: parsed.advisories.len(),
        newest: parsed.newest,
    })
}

pub fn status(cx: &Context) -> Result<Report> {
    let cache = crate::context::advisory_cache();
    let mut report = Report::new("advisories status");
    let (paths, from) = match paths(cx, &[]) {
        Ok(v) => v,
        Err(e) => {
            report.push(Finding::new(
                codes::ADVISORY_DB_MISSING,
                Severity::High,
                format!("{e:#}"),
            ));
            return Ok(report);
        }
    };
    report.summary("sources from", from);
    report.summary("cache", cache.display().to_string());
    let mut t = Table::new(
        "Advisory databases",
        &[
            "path",
            "advisories",
            "newest modification",
            "fetched",
            "commit",
        ],
    );
    let mut rows = Vec::new();
    for p in paths {
        let (count, newest) = count_advisories(&p);
        let meta = fetch_record(&p);
        let fetched = meta["updated"].as_str().map(str::to_string);
        let commit = meta["commit"].as_str().map(str::to_string);
        t.row(vec![
            p.display().to_string(),
            count.to_string(),
            newest.clone().unwrap_or_else(|| "?".into()),
            fetched
                .clone()
                .unwrap_or_else(|| "never (not fetched by xtask)".into()),
            commit.clone().unwrap_or_else(|| "-".into()),
        ]);
        rows.push(json!({"path": p.display().to_string(), "advisories": count, "newest_modification": newest, "fetched": fetched, "commit": commit}));
    }
    report.tables.push(t);
    report.set("sources", rows);
    Ok(report)
}

/// Number of advisory files and the newest `modified` date seen in their names' files
/// (file modification time as a fallback).
fn count_advisories(p: &Path) -> (usize, Option<String>) {
    let mut n = 0;
    let mut newest: Option<std::time::SystemTime> = None;
    let walk = WalkDir::new(p)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.') || e.depth() == 0);
    for e in walk.flatten() {
        // Links are not followed (WalkDir's default), nor counted: audits do not read them.
        let kind = super::advisories::classify(&e.file_name().to_string_lossy());
        match kind {
            Some(_) if !e.file_type().is_file() => continue,
            Some(super::advisories::FileKind::OsvZip) => {
                n += super::zip::count(e.path()).unwrap_or(0);
            }
            Some(_) => n += 1,
            None => continue,
        }
        if let Ok(m) = e
            .metadata()
            .map_err(std::io::Error::other)
            .and_then(|m| m.modified())
        {
            newest = Some(newest.map_or(m, |x| x.max(m)));
        }
    }
    (
        n,
        newest.map(|t| {
            chrono::DateTime::<Utc>::from(t)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_without_network_gets_a_hint() {
        for offline in [
            "fatal: unable to access 'https://github.com/rustsec/advisory-db/': Could not resolve host: github.com",
            "curl: (7) Failed to connect to 10.0.0.1 port 443",
        ] {
            assert_eq!(
                offline_hint(offline),
                " (no network: is this machine offline?)"
            );
        }
        assert_eq!(offline_hint("fatal: repository not found"), "");
    }

    #[test]
    fn a_kept_copy_says_when_it_was_fetched() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(kept_copy(&t.path().join("none")), None);
        std::fs::write(
            t.path().join(FETCH_META),
            r#"{"updated": "2026-11-20T06:00:00+00:00"}"#,
        )
        .unwrap();
        assert_eq!(kept_copy(t.path()).as_deref(), Some("2026-11-20 06:00 UTC"));
    }
}
