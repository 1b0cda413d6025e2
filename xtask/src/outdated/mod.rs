//! `outdated`: what is behind — crates (registry index), Python pins (PyPI), GitHub Actions
//! and Docker images (pinning, `latest`, end-of-life runtimes). Computes a report; all
//! network access goes through `http::Client` (parallel, cached, revalidated).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use chrono::NaiveDate;
use serde::Serialize;

use crate::context::Context;
use crate::deps::{self as inputs, Ecosystem};
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::http;

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub all: bool,
    pub offline: bool,
    pub exit_code: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pkg {
    pub ecosystem: String,
    pub name: String,
    pub current: Option<String>,
    pub compatible: Option<String>,
    pub latest: Option<String>,
    pub kind: String,
    pub direct: bool,
    pub source: String,
    pub notes: Vec<String>,
}

fn client(cx: &Context, offline: bool) -> http::Client {
    http::Client {
        cache_dir: crate::context::http_cache(),
        offline,
        parallel: cx.config.outdated.parallel,
        timeout_secs: cx.config.outdated.timeout_secs,
        retries: 3,
        max_age_secs: cx.config.outdated.cache_max_age_secs,
        headers: Vec::new(),
    }
}

// --- registries ---------------------------------------------------------------------------

/// The sparse index to use: XTASK_CRATES_INDEX, cargo's `source.crates-io.replace-with`
/// pointing at a `sparse+` registry (root or CARGO_HOME config), or index.crates.io.
pub fn crates_index(root: &Path) -> String {
    if let Ok(u) = std::env::var("XTASK_CRATES_INDEX") {
        return u.trim_end_matches('/').to_string() + "/";
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut configs = vec![root.join(".cargo/config.toml"), root.join(".cargo/config")];
    if let Some(h) = cargo_home {
        configs.push(h.join("config.toml"));
        configs.push(h.join("config"));
    }
    for c in configs {
        let Ok(text) = fs::read_to_string(&c) else {
            continue;
        };
        let Ok(t) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        let src = t.get("source");
        let Some(name) = src
            .and_then(|s| s.get("crates-io"))
            .and_then(|c| c.get("replace-with"))
            .and_then(|v| v.as_str())
        else {
            continue;
        };
        // `replace-with` names a [source.NAME] with `registry = …` or a [registries.NAME]
        // whose index may also come from CARGO_REGISTRIES_<NAME>_INDEX.
        let env_key = format!(
            "CARGO_REGISTRIES_{}_INDEX",
            name.to_ascii_uppercase().replace('-', "_")
        );
        let reg = std::env::var(&env_key).ok().or_else(|| {
            src.and_then(|s| s.get(name))
                .and_then(|r| r.get("registry"))
                .or_else(|| {
                    t.get("registries")
                        .and_then(|r| r.get(name))
                        .and_then(|r| r.get("index"))
                })
                .and_then(|v| v.as_str())
                .map(str::to_string)
        });
        if let Some(url) = reg.as_deref().and_then(|r| r.strip_prefix("sparse+")) {
            return url.trim_end_matches('/').to_string() + "/";
        }
    }
    "https://index.crates.io/".to_string()
}

/// The sparse index path of a crate: 1/a, 2/ab, 3/a/abc, ab/cd/abcd….
pub fn index_path(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

#[derive(Debug, Clone)]
pub struct CrateVersion {
    pub version: semver::Version,
    pub yanked: bool,
    pub rust_version: Option<String>,
}

pub fn parse_index(body: &[u8]) -> Vec<CrateVersion> {
    #[derive(serde::Deserialize)]
    struct Line {
        vers: String,
        #[serde(default)]
        yanked: bool,
        #[serde(default)]
        rust_version: Option<String>,
    }
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter_map(|l| {
            Some(CrateVersion {
                version: semver::Version::parse(&l.vers).ok()?,
                yanked: l.yanked,
                rust_version: l.rust_version,
            })
        })
        .collect()
}

/// PyPI JSON API base from pip's index (`PIP_INDEX_URL`, `.../simple` → `.../pypi`).
pub fn pypi_base() -> String {
    if let Ok(u) = std::env::var("XTASK_PYPI_URL") {
        return u.trim_end_matches('/').to_string();
    }
    match std::env::var("PIP_INDEX_URL") {
        Ok(u) => {
            u.trim_end_matches('/')
                .trim_end_matches("/simple")
                .to_string()
                + "/pypi"
        }
        Err(_) => "https://pypi.org/pypi".to_string(),
    }
}

/// (latest stable non-yanked, highest of those inside `range`, is `current` yanked) from a
/// PyPI JSON document.
pub fn pypi_latest(
    body: &[u8],
    current: &str,
    range: Option<&pep440_rs::VersionSpecifiers>,
) -> (Option<String>, Option<String>, bool) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None, false);
    };
    let Some(releases) = v["releases"].as_object() else {
        return (None, None, false);
    };
    let mut compatible: Option<pep440_rs::Version> = None;
    let yanked = |files: &serde_json::Value| {
        files
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|f| f["yanked"].as_bool() == Some(true)))
    };
    let mut best: Option<pep440_rs::Version> = None;
    let mut current_yanked = false;
    let cur = pep440_rs::Version::from_str(current).ok();
    for (ver, files) in releases {
        let Ok(pv) = pep440_rs::Version::from_str(ver) else {
            continue;
        };
        if cur.as_ref() == Some(&pv) && yanked(files) {
            current_yanked = true;
        }
        if pv.any_prerelease() || yanked(files) || files.as_array().is_some_and(|a| a.is_empty()) {
            continue;
        }
        if range.is_some_and(|r| r.contains(&pv)) && compatible.as_ref().is_none_or(|c| &pv > c) {
            compatible = Some(pv.clone());
        }
        if best.as_ref().is_none_or(|b| &pv > b) {
            best = Some(pv);
        }
    }
    (
        best.map(|b| b.to_string()),
        compatible.map(|c| c.to_string()),
        current_yanked,
    )
}

/// The version ranges a pip-compile input (`X.in` beside `X.txt`) gives its packages.
pub fn input_ranges(txt: &Path) -> BTreeMap<String, pep440_rs::VersionSpecifiers> {
    let mut out = BTreeMap::new();
    let Ok(text) = fs::read_to_string(txt.with_extension("in")) else {
        return out;
    };
    for line in text.lines() {
        let l = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim();
        if l.is_empty() || l.starts_with('-') {
            continue;
        }
        let end = l
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(l.len());
        let mut rest = l[end..].trim();
        if rest.starts_with('[') {
            rest = rest.split_once(']').map_or("", |(_, r)| r.trim());
        }
        if !rest.is_empty()
            && let Ok(spec) = pep440_rs::VersionSpecifiers::from_str(rest)
        {
            out.insert(inputs::pep503(&l[..end]), spec);
        }
    }
    out
}

// --- Rust -----------------------------------------------------------------------------------

struct RustDep {
    name: String,
    req: Option<semver::VersionReq>,
    current: Option<semver::Version>,
    kind: String,
    direct: bool,
    members: BTreeSet<String>,
}

fn rust_deps(
    cx: &Context,
    all: bool,
    report: &mut Report,
) -> (Vec<RustDep>, Option<semver::Version>) {
    let manifest = cx.root.join("Cargo.toml");
    if !manifest.exists() {
        return (Vec::new(), None);
    }
    // `--no-deps`: members and their requirements only, no resolution and no downloads; the
    // locked versions come from Cargo.lock, read by the audit's fast reader.
    let meta = match cargo_metadata::MetadataCommand::new()
        .manifest_path(&manifest)
        .current_dir(&cx.root)
        .no_deps()
        .exec()
    {
        Ok(m) => m,
        Err(e) => {
            report.push(
                Finding::new(
                    codes::INPUT_ERROR,
                    Severity::High,
                    format!("cargo metadata failed: {e}"),
                )
                .at("Cargo.toml"),
            );
            report.incomplete = true;
            return (Vec::new(), None);
        }
    };
    let members: Vec<&cargo_metadata::Package> = meta.workspace_packages();
    let msrv = members.iter().filter_map(|p| p.rust_version.clone()).min();
    let mut out: BTreeMap<(String, String), RustDep> = BTreeMap::new();
    let lock = meta.workspace_root.as_std_path().join("Cargo.lock");
    let lock_inputs = inputs::load(std::slice::from_ref(&lock));
    if !lock.exists() {
        report.push(Finding::new(
            codes::INPUT_NOTE,
            Severity::Info,
            "no Cargo.lock: current versions unknown (run `cargo generate-lockfile`)",
        ));
    }
    for (f, err) in &lock_inputs.failed {
        if lock.exists() {
            report.incomplete = true;
            report.push(
                Finding::new(codes::INPUT_ERROR, Severity::High, err.clone())
                    .at(f.display().to_string()),
            );
        }
    }
    let locked: Vec<(String, semver::Version)> = lock_inputs
        .packages
        .iter()
        .filter_map(|p| Some((p.name.clone(), semver::Version::parse(&p.version).ok()?)))
        .collect();
    for m in &members {
        for d in &m.dependencies {
            if d.path.is_some()
                || !(d.source.is_none()
                    || d.source
                        .as_ref()
                        .is_some_and(|s| s.repr.contains("crates.io-index")))
            {
                continue;
            }
            let kind = match d.kind {
                cargo_metadata::DependencyKind::Development => "dev",
                cargo_metadata::DependencyKind::Build => "build",
                _ => "normal",
            };
            let current = locked
                .iter()
                .filter(|(n, v)| *n == d.name && d.req.matches(v))
                .map(|(_, v)| v.clone())
                .max();
            let e = out
                .entry((d.name.clone(), d.req.to_string()))
                .or_insert(RustDep {
                    name: d.name.clone(),
                    req: Some(d.req.clone()),
                    current,
                    kind: kind.into(),
                    direct: true,
                    members: BTreeSet::new(),
                });
            e.members.insert(m.name.to_string());
        }
    }
    if all {
        for (name, version) in &locked {
            let known = out
                .values()
                .any(|d| d.name == *name && d.current.as_ref() == Some(version));
            if !known {
                out.insert(
                    (name.clone(), version.to_string()),
                    RustDep {
                        name: name.clone(),
                        req: None,
                        current: Some(version.clone()),
                        kind: "transitive".into(),
                        direct: false,
                        members: BTreeSet::new(),
                    },
                );
            }
        }
    }
    (out.into_values().collect(), msrv)
}

// --- Actions and Docker (static checks) ----------------------------------------------------

/// End-of-life dates of runtime release cycles (from endoflife.date, shipped with the tool).
pub const EOL: &[(&str, &str, &str)] = &[
    ("python", "2.7", "2020-01-01"),
    ("python", "3.6", "2021-12-23"),
    ("python", "3.7", "2023-06-27"),
    ("python", "3.8", "2024-10-07"),
    ("python", "3.9", "2025-10-31"),
    ("python", "3.10", "2026-10-31"),
    ("python", "3.11", "2027-10-31"),
    ("python", "3.12", "2028-10-31"),
    ("python", "3.13", "2029-10-31"),
    ("node", "14", "2023-04-30"),
    ("node", "16", "2023-09-11"),
    ("node", "18", "2025-04-30"),
    ("node", "20", "2026-04-30"),
    ("node", "22", "2027-04-30"),
    ("postgres", "11", "2023-11-09"),
    ("postgres", "12", "2024-11-21"),
    ("postgres", "13", "2025-11-13"),
    ("postgres", "14", "2026-11-12"),
    ("postgres", "15", "2027-11-11"),
    ("postgres", "16", "2028-11-09"),
    ("debian", "10", "2024-06-30"),
    ("debian", "buster", "2024-06-30"),
    ("debian", "11", "2026-08-31"),
    ("debian", "bullseye", "2026-08-31"),
    ("debian", "12", "2028-06-30"),
    ("debian", "bookworm", "2028-06-30"),
    ("alpine", "3.16", "2024-05-23"),
    ("alpine", "3.17", "2024-11-22"),
    ("alpine", "3.18", "2025-05-09"),
    ("alpine", "3.19", "2025-11-01"),
    ("alpine", "3.20", "2026-04-01"),
    ("alpine", "3.21", "2026-11-01"),
    ("ubuntu", "18.04", "2023-05-31"),
    ("ubuntu", "20.04", "2025-05-31"),
    ("ubuntu", "22.04", "2027-06-01"),
    ("ubuntu", "24.04", "2029-06-01"),
];

/// The end-of-life date of `product` at version/tag `tag`, from the shipped table.
#[cfg(test)]
pub fn eol(product: &str, tag: &str) -> Option<(String, NaiveDate)> {
    EolTable::shipped().lookup(product, tag)
}

/// End-of-life dates: the shipped table, refreshed from endoflife.date when reachable.
pub struct EolTable(Vec<(String, String, NaiveDate)>);

impl EolTable {
    pub fn shipped() -> EolTable {
        EolTable(
            EOL.iter()
                .map(|(p, c, d)| {
                    (
                        p.to_string(),
                        c.to_string(),
                        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
                    )
                })
                .collect(),
        )
    }

    /// Add what endoflife.date's API says (`[{"cycle", "eol", "codename"}]`); its answers win.
    pub fn refresh(&mut self, product: &str, body: &[u8]) -> bool {
        let Ok(serde_json::Value::Array(cycles)) = serde_json::from_slice(body) else {
            return false;
        };
        let mut added = false;
        for c in cycles {
            let Some(cycle) = c["cycle"]
                .as_str()
                .map(str::to_string)
                .or_else(|| c["cycle"].as_f64().map(|f| f.to_string()))
            else {
                continue;
            };
            let Some(date) = c["eol"]
                .as_str()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let mut names = vec![cycle];
            if let Some(code) = c["codename"].as_str() {
                names.push(code.to_ascii_lowercase());
            }
            for n in names {
                self.0.retain(|(p, cy, _)| !(p == product && *cy == n));
                self.0.push((product.to_string(), n, date));
                added = true;
            }
        }
        added
    }

    pub fn lookup(&self, product: &str, tag: &str) -> Option<(String, NaiveDate)> {
        let head = tag.split(['-', '_']).next().unwrap_or(tag);
        let mut best: Option<&(String, String, NaiveDate)> = None;
        for e in self.0.iter().filter(|(p, _, _)| p == product) {
            // "3.11.4" is in cycle "3.11"; "13.4" in "13"; "bullseye-slim" in "bullseye".
            let cycle = &e.1;
            let hit = head == cycle || head.starts_with(&format!("{cycle}."));
            if hit && best.is_none_or(|b| cycle.len() > b.1.len()) {
                best = Some(e);
            }
        }
        best.map(|(_, c, d)| (c.clone(), *d))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub fn parse_image(s: &str) -> ImageRef {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => ImageRef {
            image: rest[..slash + i].to_string(),
            tag: Some(rest[slash + i + 1..].to_string()),
            digest,
        },
        None => ImageRef {
            image: rest.to_string(),
            tag: None,
            digest,
        },
    }
}

/// Base images of a Dockerfile: `FROM` lines with `ARG` defaults substituted; stages that
/// name an earlier stage and `scratch` are skipped. (line, image reference)
pub fn dockerfile_images(text: &str) -> Vec<(usize, String)> {
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    let mut stages: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let l = raw.trim_end();
        if let Some(stripped) = l.strip_suffix('\\') {
            logical.push_str(stripped);
            logical.push(' ');
            continue;
        }
        logical.push_str(l);
        let line = std::mem::take(&mut logical);
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let mut words = t.split_whitespace();
        let Some(instr) = words.next() else { continue };
        match instr.to_ascii_uppercase().as_str() {
            "ARG" => {
                if let Some(a) = words.next() {
                    let (k, v) = a.split_once('=').unwrap_or((a, ""));
                    args.entry(k.to_string())
                        .or_insert_with(|| v.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                let rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
                let Some(img) = rest.first() else { continue };
                let mut img = img.to_string();
                for (k, v) in &args {
                    img = img
                        .replace(&format!("${{{k}}}"), v)
                        .replace(&format!("${k}"), v);
                }
                if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("as") {
                    stages.insert(rest[2].to_ascii_lowercase());
                }
                if img == "scratch"
                    || stages.contains(&img.to_ascii_lowercase())
                        && rest.get(2).map(|s| s.to_ascii_lowercase())
                            != Some(img.to_ascii_lowercase())
                {
                    continue;
                }
                out.push((start, img));
            }
            _ => {}
        }
    }
    out
}

/// `uses:` of workflow steps and jobs: (line, action, ref, comment version).
pub fn workflow_uses(text: &str) -> Vec<(usize, String, String, Option<String>)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        let Some(v) = t.strip_prefix("uses:") else {
            continue;
        };
        let (value, comment) = match v.split_once('#') {
            Some((a, c)) => (a.trim(), Some(c.trim().to_string())),
            None => (v.trim(), None),
        };
        let value = value.trim_matches(['"', '\'']);
        if value.starts_with("./") || value.starts_with("docker://") {
            continue;
        }
        let Some((action, r)) = value.split_once('@') else {
            out.push((i + 1, value.to_string(), String::new(), comment));
            continue;
        };
        let version = comment
            .and_then(|c| c.split_whitespace().next().map(str::to_string))
            .filter(|c| c.starts_with('v') || c.starts_with(|ch: char| ch.is_ascii_digit()));
        out.push((i + 1, action.to_string(), r.to_string(), version));
    }
    out
}

/// `python-version:` values of workflow matrices and setup steps: (line, version).
pub fn python_versions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((_, v)) = line.split_once("python-version:") else {
            continue;
        };
        let v = v.split('#').next().unwrap_or_default();
        for item in v
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
        {
            let item = item.trim().trim_matches(['"', '\'']);
            if !item.is_empty() && item.starts_with(|c: char| c.is_ascii_digit()) {
                out.push((i + 1, item.to_string()));
            }
        }
    }
    out
}

fn is_sha(r: &str) -> bool {
    r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every file under `root` (sorted), skipping build output, dependencies and `skip` (the
/// backup store). One walk serves Dockerfiles, compose files and workflows.
fn files_under(root: &Path, skip: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| {
            let n = e.file_name().to_string_lossy();
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (inputs::SKIP_DIRS.contains(&n.as_ref()) || e.path() == skip))
        })
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where an action is used: (workflow, line, ref, version from the pin comment).
type ActionUse = (PathBuf, usize, String, Option<String>);

// --- the command ---------------------------------------------------------------------------

pub fn run(cx: &Context, opts: Options) -> Result<Report> {
    let mut report = Report::new("outdated");
    report.fail_on = Severity::High;
    let ignore: BTreeSet<&str> = cx
        .config
        .outdated
        .ignore
        .iter()
        .map(String::as_str)
        .collect();
    let http = client(cx, opts.offline);
    let mut pkgs: Vec<Pkg> = Vec::new();
    let mut behind = 0usize;

    // Inputs: the root (or PATHs); Cargo.lock files named explicitly add their locked crates.
    let paths = if opts.paths.is_empty() {
        vec![cx.root.clone()]
    } else {
        opts.paths.iter().map(|p| cx.cli_path(p)).collect()
    };
    let (locks, files): (Vec<PathBuf>, Vec<PathBuf>) = inputs::discover(&paths, &[cx.store().dir])?
        .into_iter()
        .partition(|f| f.file_name().is_some_and(|n| n == "Cargo.lock"));

    // Rust: the workspace's dependencies from cargo metadata, versions from the index.
    let (mut deps, msrv) = rust_deps(cx, opts.all, &mut report);
    if !opts.paths.is_empty() {
        let locked = inputs::load(&locks);
        for (f, err) in &locked.failed {
            report.incomplete = true;
            report
                .push(Finding::new(codes::INPUT_ERROR, Severity::High, err.clone()).at(cx.rel(f)));
        }
        for p in locked
            .packages
            .iter()
            .filter(|p| p.ecosystem == Ecosystem::Crates)
        {
            deps.push(RustDep {
                name: p.name.clone(),
                req: None,
                current: semver::Version::parse(&p.version).ok(),
                kind: "locked".into(),
                direct: false,
                members: BTreeSet::from([cx.rel(&p.file)]),
            });
        }
    }
    let index = crates_index(&cx.root);
    let deps: Vec<RustDep> = deps
        .into_iter()
        .filter(|d| !ignore.contains(d.name.as_str()))
        .collect();
    let names: BTreeSet<&str> = deps.iter().map(|d| d.name.as_str()).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("{index}{}", index_path(n)))
        .collect();
    let answers = http.fetch_all(&urls)?;
    let mut requests = answers.len();
    let mut cache_hits = answers.iter().filter(|a| a.from_cache).count();
    let mut versions: BTreeMap<&str, Vec<CrateVersion>> = BTreeMap::new();
    for (n, a) in names.iter().zip(&answers) {
        match (&a.body, &a.error) {
            (Some(b), _) => {
                versions.insert(n, parse_index(b));
            }
            (None, err) => report.push(Finding::new(
                codes::REGISTRY_UNREACHABLE,
                Severity::Medium,
                format!(
                    "{n}: {}",
                    err.clone().unwrap_or_else(|| format!("HTTP {}", a.status))
                ),
            )),
        }
    }
    for d in &deps {
        let vs = versions.get(d.name.as_str());
        let cur = d.current.clone();
        let allow_pre = cur.as_ref().is_some_and(|c| !c.pre.is_empty());
        let good = |v: &&CrateVersion| !v.yanked && (allow_pre || v.version.pre.is_empty());
        let latest = vs.and_then(|vs| {
            vs.iter()
                .filter(good)
                .max_by(|a, b| a.version.cmp(&b.version))
        });
        let compatible = vs.and_then(|vs| {
            vs.iter()
                .filter(|v| !v.yanked && d.req.as_ref().is_none_or(|r| r.matches(&v.version)))
                .max_by(|a, b| a.version.cmp(&b.version))
        });
        let mut notes = Vec::new();
        if let (Some(l), Some(m)) = (latest, &msrv)
            && let Some(rv) = &l.rust_version
            && semver::Version::parse(&pad(rv)).is_ok_and(|r| &r > m)
        {
            notes.push(format!(
                "{} needs Rust {rv} (workspace declares {m})",
                l.version
            ));
        }
        let yanked = cur
            .as_ref()
            .is_some_and(|c| vs.is_some_and(|vs| vs.iter().any(|v| &v.version == c && v.yanked)));
        let at = "Cargo.toml".to_string();
        if yanked {
            report.push(
                Finding::new(
                    codes::YANKED_VERSION,
                    Severity::Medium,
                    format!("{} {} is yanked", d.name, cur.as_ref().unwrap()),
                )
                .at(at.clone()),
            );
        }
        if let (Some(c), Some(l)) = (&cur, latest)
            && l.version > *c
        {
            {
                behind += 1;
                let major = d.req.as_ref().is_some_and(|r| !r.matches(&l.version));
                if major && d.direct {
                    report.push(
                        Finding::new(
                            codes::OUTDATED_MAJOR,
                            Severity::Low,
                            format!(
                                "{} {c} → {} is outside the requirement `{}`",
                                d.name,
                                l.version,
                                d.req.as_ref().unwrap()
                            ),
                        )
                        .at(at.clone()),
                    );
                } else if compatible.is_some_and(|cv| cv.version > *c) {
                    report.push(
                        Finding::new(
                            codes::OUTDATED_COMPATIBLE,
                            Severity::Info,
                            format!(
                                "{} {c} → {}: `cargo update -p {}`",
                                d.name,
                                compatible.unwrap().version,
                                d.name
                            ),
                        )
                        .at(at.clone()),
                    );
                }
            }
        }
        pkgs.push(Pkg {
            ecosystem: "crates.io".into(),
            name: d.name.clone(),
            current: cur.map(|c| c.to_string()),
            compatible: compatible.map(|v| v.version.to_string()),
            latest: latest.map(|v| v.version.to_string()),
            kind: d.kind.clone(),
            direct: d.direct,
            source: if d.members.is_empty() {
                "Cargo.lock".into()
            } else {
                d.members.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            notes,
        });
    }

    // Python: every pinned requirement (the audit's parsers), latest from PyPI.
    let py = inputs::load(&files);
    for (f, err) in &py.failed {
        report.incomplete = true;
        report.push(Finding::new(codes::INPUT_ERROR, Severity::High, err.clone()).at(cx.rel(f)));
    }
    let mut seen = BTreeSet::new();
    let py_pkgs: Vec<&inputs::Package> = py
        .packages
        .iter()
        .filter(|p| {
            p.ecosystem == Ecosystem::PyPI
                && !ignore.contains(p.name.as_str())
                && seen.insert((inputs::pep503(&p.name), p.version.clone()))
        })
        .collect();
    let base = pypi_base();
    let urls: Vec<String> = py_pkgs
        .iter()
        .map(|p| format!("{base}/{}/json", inputs::pep503(&p.name)))
        .collect();
    let answers = http.fetch_all(&urls)?;
    requests += answers.len();
    cache_hits += answers.iter().filter(|a| a.from_cache).count();
    let mut ranges: BTreeMap<PathBuf, BTreeMap<String, pep440_rs::VersionSpecifiers>> =
        BTreeMap::new();
    for (p, a) in py_pkgs.iter().zip(&answers) {
        let range = ranges
            .entry(p.file.to_path_buf())
            .or_insert_with(|| input_ranges(&p.file))
            .get(&inputs::pep503(&p.name))
            .cloned();
        let (latest, compatible, yanked) = match &a.body {
            Some(b) => pypi_latest(b, &p.version, range.as_ref()),
            None => {
                report.push(Finding::new(
                    codes::REGISTRY_UNREACHABLE,
                    Severity::Medium,
                    format!("{}: {}", p.name, a.error.clone().unwrap_or_default()),
                ));
                (None, None, false)
            }
        };
        let at = cx.rel(&p.file);
        if yanked {
            let f = Finding::new(
                codes::YANKED_VERSION,
                Severity::Medium,
                format!("{} {} is yanked on PyPI", p.name, p.version),
            )
            .at_line(at.clone(), p.line);
            report.push(f);
        }
        if let Some(l) = &latest {
            let newer = match (
                pep440_rs::Version::from_str(l),
                pep440_rs::Version::from_str(&p.version),
            ) {
                (Ok(a), Ok(b)) => a > b,
                _ => false,
            };
            if newer {
                behind += 1;
                let f = Finding::new(
                    codes::OUTDATED_MAJOR,
                    Severity::Low,
                    format!("{} {} → {l}", p.name, p.version),
                )
                .at_line(at.clone(), p.line);
                report.push(f);
            }
        }
        pkgs.push(Pkg {
            ecosystem: "PyPI".into(),
            name: p.name.clone(),
            current: Some(p.version.clone()),
            compatible,
            latest,
            kind: "pinned".into(),
            direct: true,
            source: at,
            notes: p.markers.iter().map(|m| format!("markers: {m}")).collect(),
        });
    }

    // Docker: FROM lines and compose images.
    let all_files = files_under(&cx.root, &cx.store().dir);
    let yaml = |n: &str| n.ends_with(".yml") || n.ends_with(".yaml");
    let dockerfiles = all_files.iter().filter(|f| {
        let n = name_of(f);
        n.starts_with("Dockerfile") || n.ends_with(".Dockerfile")
    });
    let composes = all_files.iter().filter(|f| {
        let n = name_of(f);
        (n.starts_with("docker-compose") || n.starts_with("compose")) && yaml(&n)
    });
    let mut images: Vec<(PathBuf, usize, String)> = Vec::new();
    for f in dockerfiles {
        if let Ok(text) = fs::read_to_string(f) {
            images.extend(
                dockerfile_images(&text)
                    .into_iter()
                    .map(|(l, i)| (f.clone(), l, i)),
            );
        }
    }
    for f in composes {
        if let Ok(text) = fs::read_to_string(f) {
            for (i, line) in text.lines().enumerate() {
                if let Some(v) = line.trim().strip_prefix("image:") {
                    images.push((
                        f.clone(),
                        i + 1,
                        v.trim().trim_matches(['"', '\'']).to_string(),
                    ));
                }
            }
        }
    }
    // End-of-life data: the shipped table, refreshed from endoflife.date for the products
    // in use (none in use: no request).
    // Workflows and composite actions, read once.
    let github = cx.root.join(".github");
    let workflows: Vec<(&PathBuf, String)> = all_files
        .iter()
        .filter(|f| f.starts_with(&github) && yaml(&name_of(f)))
        .filter_map(|f| Some((f, fs::read_to_string(f).ok()?)))
        .collect();
    let mut eols = EolTable::shipped();
    let mut products: BTreeSet<String> = images
        .iter()
        .map(|(_, _, img)| {
            parse_image(img)
                .image
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|b| EOL.iter().any(|(p, _, _)| p == b))
        .collect();
    if workflows
        .iter()
        .any(|(_, text)| text.contains("python-version"))
    {
        products.insert("python".into());
    }
    let eol_api =
        std::env::var("XTASK_EOL_API").unwrap_or_else(|_| "https://endoflife.date/api".into());
    let eol_urls: Vec<String> = products
        .iter()
        .map(|p| format!("{eol_api}/{p}.json"))
        .collect();
    let mut refreshed = 0;
    // Optional enrichment: no retries, so an unreachable service costs one attempt.
    let enrich = http::Client {
        retries: 0,
        ..client(cx, opts.offline)
    };
    for (p, a) in products.iter().zip(enrich.fetch_all(&eol_urls)?) {
        if a.body.as_deref().is_some_and(|b| eols.refresh(p, b)) {
            refreshed += 1;
        }
    }
    if !products.is_empty() {
        report.summary(
            "end-of-life data",
            if refreshed == products.len() {
                "endoflife.date".to_string()
            } else {
                format!(
                    "table shipped with the tool ({refreshed} of {} products refreshed from endoflife.date)",
                    products.len()
                )
            },
        );
    }

    // GitHub Actions.
    let today = chrono::Utc::now().date_naive();
    let mut actions: BTreeMap<String, Vec<ActionUse>> = BTreeMap::new();
    for (wf, text) in &workflows {
        let wf = *wf;
        for (line, action, r, version) in workflow_uses(text) {
            if ignore.contains(action.as_str()) {
                continue;
            }
            let at = cx.rel(wf);
            let mk =
                |code, sev, msg: String| Finding::new(code, sev, msg).at_line(at.clone(), line);
            if r.is_empty() {
                report.push(mk(
                    codes::MUTABLE_ACTION_REF,
                    Severity::Medium,
                    format!("{action} has no ref: it follows the default branch"),
                ));
            } else if !is_sha(&r) {
                report.push(mk(
                    codes::UNPINNED_ACTION,
                    Severity::Low,
                    format!("{action}@{r} is not pinned to a full commit SHA"),
                ));
                let tagish = r
                    .trim_start_matches('v')
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                if !tagish {
                    report.push(mk(
                        codes::MUTABLE_ACTION_REF,
                        Severity::Medium,
                        format!("{action}@{r} follows a branch: every run may get different code"),
                    ));
                }
            }
            actions
                .entry(action)
                .or_default()
                .push((wf.clone(), line, r, version));
        }
        for (line, v) in python_versions(text) {
            if let Some((cycle, date)) = eols.lookup("python", &v)
                && date < today
            {
                let msg =
                    format!("python {cycle} in a workflow matrix reached end of life on {date}");
                let f = Finding::new(codes::EOL_RUNTIME, Severity::Medium, msg)
                    .at_line(cx.rel(wf), line);
                report.push(f);
            }
        }
    }
    let gh_urls: Vec<String> = actions
        .keys()
        .filter_map(|a| {
            let mut parts = a.split('/');
            Some(format!(
                "{}/repos/{}/{}/releases/latest",
                github_api(),
                parts.next()?,
                parts.next()?
            ))
        })
        .collect();
    let gh = http::Client {
        headers: github_headers(),
        retries: 0,
        ..client(cx, opts.offline)
    };
    let gh_answers = gh.fetch_all(&gh_urls)?;
    for ((action, uses), a) in actions.iter().zip(&gh_answers) {
        let latest = a
            .body
            .as_ref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v["tag_name"].as_str().map(str::to_string));
        for (wf, _, r, version) in uses {
            let current = if is_sha(r) {
                version.clone().or_else(|| Some(r[..12].to_string()))
            } else {
                Some(r.clone())
            };
            pkgs.push(Pkg {
                ecosystem: "github-actions".into(),
                name: action.clone(),
                current,
                compatible: None,
                latest: latest.clone(),
                kind: if is_sha(r) {
                    "sha".into()
                } else if r.is_empty() {
                    "none".into()
                } else {
                    "tag-or-branch".into()
                },
                direct: true,
                source: cx.rel(wf),
                notes: if latest.is_none() {
                    vec!["latest unknown: GitHub API not reachable".into()]
                } else {
                    vec![]
                },
            });
        }
    }

    for (f, line, img) in images {
        if img.contains('$') {
            continue; // set at deploy time (e.g. ${APP_TAG})
        }
        let r = parse_image(&img);
        let base = r.image.rsplit('/').next().unwrap_or(&r.image).to_string();
        if ignore.contains(base.as_str()) || ignore.contains(r.image.as_str()) {
            continue;
        }
        let at = cx.rel(&f);
        let mk = |code, sev, msg: String| Finding::new(code, sev, msg).at_line(at.clone(), line);
        if r.tag.as_deref().is_none_or(|t| t == "latest") {
            report.push(mk(
                codes::LATEST_TAG,
                Severity::Medium,
                format!("{img} uses `latest`: builds are not reproducible"),
            ));
        }
        if r.digest.is_none() {
            report.push(mk(
                codes::UNPINNED_IMAGE,
                Severity::Low,
                format!("{img} is not pinned by digest (@sha256:…)"),
            ));
        }
        let mut notes = Vec::new();
        if let Some((cycle, date)) = r.tag.as_deref().and_then(|t| eols.lookup(&base, t)) {
            if date < today {
                report.push(mk(
                    codes::EOL_RUNTIME,
                    Severity::Medium,
                    format!("{base} {cycle} reached end of life on {date}"),
                ));
            }
            notes.push(format!("{base} {cycle}: end of life {date}"));
        }
        pkgs.push(Pkg {
            ecosystem: "docker".into(),
            name: r.image.clone(),
            current: r.tag.clone(),
            compatible: None,
            latest: None,
            kind: if r.digest.is_some() {
                "digest".into()
            } else {
                "tag".into()
            },
            direct: true,
            source: at,
            notes,
        });
    }

    // Present.
    for eco in ["crates.io", "PyPI", "github-actions", "docker"] {
        let mut t = Table::new(
            eco,
            &[
                "name",
                "current",
                "compatible",
                "latest",
                "kind",
                "source",
                "notes",
            ],
        );
        for p in pkgs.iter().filter(|p| p.ecosystem == eco) {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            t.row(vec![
                p.name.clone(),
                o(&p.current),
                o(&p.compatible),
                o(&p.latest),
                p.kind.clone(),
                p.source.clone(),
                p.notes.join("; "),
            ]);
        }
        report.tables.push(t);
    }
    report.summary("index", index.clone());
    report.summary(
        "http",
        format!(
            "{} requests, {cache_hits} answered from the cache",
            requests
        ),
    );
    report.summary(
        "packages",
        format!("{} checked, {behind} behind", pkgs.len()),
    );
    report.set("packages", &pkgs);
    report.set("behind", behind);
    if behind > 0 {
        report.exit_override = opts.exit_code;
    }
    Ok(report)
}

fn pad(v: &str) -> String {
    match v.split('.').count() {
        1 => format!("{v}.0.0"),
        2 => format!("{v}.0"),
        _ => v.to_string(),
    }
}

fn github_api() -> String {
    std::env::var("XTASK_GITHUB_API").unwrap_or_else(|_| "https://api.github.com".into())
}

fn github_headers() -> Vec<String> {
    let mut h = vec!["Accept: application/vnd.github+json".to_string()];
    if let Ok(t) = std::env::var("GITHUB_TOKEN") {
        h.push(format!("Authorization: Bearer {t}"));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_index_paths() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("abc"), "3/a/abc");
        assert_eq!(index_path("Serde"), "se/rd/serde");
    }

    #[test]
    fn images_and_eol() {
        assert_eq!(
            parse_image("python:3.11-slim"),
            ImageRef {
                image: "python".into(),
                tag: Some("3.11-slim".into()),
                digest: None
            }
        );
        assert_eq!(parse_image("localhost:5000/app").tag, None);
        assert_eq!(
            parse_image("postgres@sha256:ab").digest.as_deref(),
            Some("sha256:ab")
        );
        assert_eq!(eol("python", "3.11-slim").unwrap().0, "3.11");
        assert_eq!(
            eol("python", "3.1").map(|e| e.0),
            None,
            "3.1 is not 3.10 or 3.11"
        );
        assert_eq!(eol("node", "18-alpine").unwrap().0, "18");
        assert_eq!(eol("postgres", "13.4").unwrap().0, "13");
        assert_eq!(eol("debian", "bullseye-slim").unwrap().0, "bullseye");
    }

    #[test]
    fn dockerfile_from_lines() {
        let df = "ARG PY=3.9\nFROM --platform=$BUILDPLATFORM python:${PY}-slim AS builder\nRUN x \\\n  y\nFROM builder AS test\nFROM scratch\nFROM node:18 as web\n";
        let imgs = dockerfile_images(df);
        assert_eq!(
            imgs,
            vec![
                (2, "python:3.9-slim".to_string()),
                (7, "node:18".to_string())
            ]
        );
    }

    #[test]
    fn workflow_refs() {
        let wf = "jobs:\n  t:\n    uses: org/repo/.github/workflows/x.yml@main\n    steps:\n      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n      - uses: actions/setup-python@v5\n      - uses: ./local\n        with:\n          python-version: ['3.8', \"3.12\"]\n";
        let u = workflow_uses(wf);
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].2, "main");
        assert_eq!(u[1].3.as_deref(), Some("v4.2.2"));
        assert_eq!(
            python_versions(wf),
            vec![(9, "3.8".to_string()), (9, "3.12".to_string())]
        );
    }

    #[test]
    fn pypi_documents() {
        let doc = br#"{"releases": {"1.0": [{"yanked": false}], "2.0": [{"yanked": true}], "1.5rc1": [{"yanked": false}], "1.4": []}}"#;
        assert_eq!(
            pypi_latest(doc, "2.0", None),
            (Some("1.0".into()), None, true)
        );
        let range = pep440_rs::VersionSpecifiers::from_str("<1.2").unwrap();
        let doc = br#"{"releases": {"1.0": [{}], "1.1": [{}], "1.3": [{}]}}"#;
        assert_eq!(
            pypi_latest(doc, "1.0", Some(&range)),
            (Some("1.3".into()), Some("1.1".into()), false)
        );
    }
}
