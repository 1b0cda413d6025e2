//! `advisories update` and `advisories status`: the advisory cache.
//!
//! Each source lives in `<cache>/<name>/`: a shallow git checkout, or `all.zip` from an OSV
//! export, plus `.xtask-source.json` (fetch time, URL, commit). An update is built beside
//! the old copy and swapped in by rename, so a failed or killed update leaves the old one.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};
use chrono::Utc;
use serde_json::json;
use walkdir::WalkDir;
use xshell::cmd;

use super::FETCH_META;
use crate::config::AdvisorySource;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;
use crate::util::http;
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

pub fn update(cx: &Context) -> Result<Report> {
    let cache = crate::context::advisory_cache();
    files::create_private_dir(&cache)?;
    let _lock = files::Lock::acquire(&cache.join(".xtask.lock"), "advisories update")?;
    let mut report = Report::new("advisories update");
    let mut t = Table::new("Sources", &["source", "from", "result"]);
    let mut rows = Vec::new();
    for src in configured(cx) {
        let from = src.git.clone().or(src.url.clone()).unwrap_or_default();
        match fetch(&cache, &src) {
            Ok(commit) => {
                // Index now, so the first audit after an update is already fast.
                let indexed = match super::index::refresh(
                    &cache.join("index"),
                    &cache.join(&src.name),
                ) {
                    Ok(n) => {
                        rows.push(json!({"source": src.name, "from": from, "commit": commit, "indexed": n}));
                        format!(", {n} advisories indexed")
                    }
                    Err(e) => {
                        report.push(Finding::new(
                            codes::ADVISORY_INDEX_FAILED,
                            Severity::Low,
                            format!(
                                "{}: index not written ({e:#}); audits parse the source instead",
                                src.name
                            ),
                        ));
                        rows.push(json!({"source": src.name, "from": from, "commit": commit, "indexed": null}));
                        ", not indexed".into()
                    }
                };
                t.row(vec![
                    src.name.clone(),
                    from,
                    format!(
                        "updated{}{indexed}",
                        commit.map(|c| format!(" ({c})")).unwrap_or_default()
                    ),
                ])
            }
            Err(e) => {
                t.row(vec![
                    src.name.clone(),
                    from,
                    "FAILED (old copy kept)".into(),
                ]);
                report.push(Finding::new(
                    codes::ADVISORY_UPDATE_FAILED,
                    Severity::High,
                    format!("{}: {e:#}", src.name),
                ));
            }
        }
    }
    report.summary("cache", cache.display().to_string());
    report.tables.push(t);
    report.set("updated", rows);
    Ok(report)
}

fn fetch(cache: &Path, src: &AdvisorySource) -> Result<Option<String>> {
    let tmp = cache.join(format!(
        "{}{}-{}",
        files::TMP_PREFIX,
        src.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&tmp);
    let result = (|| -> Result<Option<String>> {
        let sh = sh::shell(cache)?;
        let commit = if let Some(git) = &src.git {
            let branch = src.branch.clone().unwrap_or_else(|| "main".into());
            cmd!(
                sh,
                "git clone --quiet --depth 1 --branch {branch} {git} {tmp}"
            )
            .quiet()
            .run()
            .with_context(|| format!("git clone {git} (branch {branch})"))?;
            let sh = sh::shell(&tmp)?;
            Some(
                cmd!(sh, "git rev-parse --short HEAD")
                    .quiet()
                    .read()?
                    .trim()
                    .to_string(),
            )
        } else {
            let url = src.url.as_deref().unwrap_or_default();
            fs::create_dir_all(&tmp)?;
            let zip = tmp.join("all.zip");
            http::download(url, &zip)?;
            let n = super::zip::entries(&zip)?.len();
            anyhow::ensure!(n > 0, "{url} holds no advisories");
            None
        };
        let meta = json!({
            "updated": Utc::now().to_rfc3339(),
            "from": src.git.clone().or(src.url.clone()),
            "branch": src.branch,
            "commit": commit,
        });
        files::write_atomic(
            &tmp.join(FETCH_META),
            serde_json::to_string_pretty(&meta)?.as_bytes(),
            0o644,
        )?;
        // Swap: the old copy moves aside, the new one takes its name, the old one goes.
        let dest = cache.join(&src.name);
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
        Ok(commit)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

pub fn status(cx: &Context) -> Result<Report> {
    let cache = crate::context::advisory_cache();
    let mut report = Report::new("advisories status");
    let (paths, from) = match super::source_paths(cx, &[]) {
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
        let meta: serde_json::Value = fs::read_to_string(p.join(FETCH_META))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
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
