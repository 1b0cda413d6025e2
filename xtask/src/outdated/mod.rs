//! `outdated`: what is behind — crates (registry index), Python pins (PyPI), GitHub Actions
//! and Docker images (pinning, `latest`, end-of-life runtimes). Computes an [`Outdated`]
//! result, which [`Outdated::report`] presents; all network access goes through
//! `http::Client` (parallel, cached, revalidated).

pub(crate) mod actions;
pub(crate) mod crates;
pub(crate) mod docker;
mod eol;
mod image;
mod pypi;

// Shared with `workflows lint`: one end-of-life table and one image-reference parser.
pub use eol::EolTable;
pub use image::parse_image;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::context::Context;
use crate::deps as inputs;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::{files, http};

pub struct Options {
    pub paths: Vec<PathBuf>,
    pub all: bool,
    pub offline: bool,
    pub exit_code: Option<u8>,
}

/// Where a package comes from (JSON `ecosystem`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Ecosystem {
    #[serde(rename = "crates.io")]
    Crates,
    #[serde(rename = "PyPI")]
    PyPI,
    #[serde(rename = "github-actions")]
    Actions,
    #[serde(rename = "docker")]
    Docker,
}

impl Ecosystem {
    /// In the order the tables are presented.
    const ALL: [Ecosystem; 4] = [
        Ecosystem::Crates,
        Ecosystem::PyPI,
        Ecosystem::Actions,
        Ecosystem::Docker,
    ];

    /// Its JSON spelling (also the `ecosystem` label of metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Crates => "crates.io",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Actions => "github-actions",
            Ecosystem::Docker => "docker",
        }
    }

    /// The heading of its table.
    fn title(self) -> &'static str {
        match self {
            Ecosystem::Crates => "Rust crates (crates.io)",
            Ecosystem::PyPI => "Python packages (PyPI)",
            Ecosystem::Actions => "GitHub Actions",
            Ecosystem::Docker => "Docker images",
        }
    }
}

/// How a package is referenced (JSON `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// crates: a workspace member's dependency of that kind.
    Normal,
    Dev,
    Build,
    /// crates: locked but not a direct dependency (`--all`).
    Transitive,
    /// crates: from a Cargo.lock named as a PATH.
    Locked,
    /// Python: an exact `==` pin; a requirement that pins nothing (`~=`, `!=`, `>=`, none);
    /// a URL or path; an editable install (`-e`).
    Pinned,
    Unpinned,
    Url,
    Editable,
    /// Actions: a full commit SHA; the others a tag or branch, or no ref at all.
    Sha,
    TagOrBranch,
    None,
    /// Docker: by tag, or pinned by digest.
    Tag,
    Digest,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Dev => "dev",
            Kind::Build => "build",
            Kind::Transitive => "transitive",
            Kind::Locked => "locked",
            Kind::Pinned => "pinned",
            Kind::Unpinned => "unpinned",
            Kind::Url => "url",
            Kind::Editable => "editable",
            Kind::Sha => "sha",
            Kind::TagOrBranch => "tag-or-branch",
            Kind::None => "none",
            Kind::Tag => "tag",
            Kind::Digest => "digest",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Pkg {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub current: Option<String>,
    pub compatible: Option<String>,
    pub latest: Option<String>,
    pub kind: Kind,
    pub direct: bool,
    pub source: String,
    /// The line of `source` that names it, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub notes: Vec<String>,
}

/// How far behind a package is: a newer version its requirement allows (`compatible`), or
/// only newer versions outside it (`major`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Update {
    Major,
    Compatible,
}

impl Update {
    pub fn as_str(self) -> &'static str {
        match self {
            Update::Major => "major",
            Update::Compatible => "compatible",
        }
    }
}

/// Registry requests of a run.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: usize,
    pub cache_hits: usize,
}

impl HttpStats {
    fn add(&mut self, answers: &[http::Response]) {
        self.requests += answers.len();
        self.cache_hits += answers.iter().filter(|a| a.from_cache).count();
    }
}

/// What `outdated` found, before it is presented.
#[derive(Debug, Default)]
pub struct Outdated {
    pub packages: Vec<Pkg>,
    pub findings: Vec<Finding>,
    /// Packages with a newer version than the current one...
    pub behind: usize,
    /// ...by ecosystem and how far behind (for `metrics`).
    pub behind_by: std::collections::BTreeMap<(Ecosystem, Update), usize>,
    /// An input could not be read or parsed.
    pub input_failed: bool,
    /// Packages whose registry lookup failed: not checked, so the report is incomplete.
    pub unchecked: usize,
    /// End-of-life products in use, and how many of them endoflife.date refreshed.
    pub eol: Option<eol::Refreshed>,
    /// The sparse index asked for crates.
    pub index: String,
    pub http: HttpStats,
}

impl Outdated {
    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    /// One more package behind.
    fn count_behind(&mut self, ecosystem: Ecosystem, update: Update) {
        self.behind += 1;
        *self.behind_by.entry((ecosystem, update)).or_default() += 1;
    }

    /// A package row's note for a lookup that gave no versions; a failed one is counted as
    /// not checked.
    fn missing(&mut self, why: &Missing, registry: &str) -> String {
        match why {
            Missing::NotFound(_) => format!("not found on {registry}"),
            Missing::Failed(_) => {
                self.unchecked += 1;
                "not checked: registry lookup failed".to_string()
            }
        }
    }

    /// The one place the result becomes a report.
    pub fn report(self, exit_code: Option<u8>) -> Report {
        let mut report = Report::new("outdated");
        report.fail_on = Severity::High;
        report.incomplete = self.input_failed || self.unchecked > 0;
        if let Some(e) = &self.eol {
            report.summary("end-of-life data", e.to_string());
        }
        for eco in Ecosystem::ALL {
            report.tables.push(table(eco, &self.packages));
        }
        // Only when crates were looked up: a tree without Rust has no use for the line.
        if !self.index.is_empty() {
            report.summary("index", self.index.clone());
        }
        report.summary(
            "http",
            format!(
                "{} requests, {} answered from the cache",
                self.http.requests, self.http.cache_hits
            ),
        );
        let checked = self.packages.len() - self.unchecked;
        let mut packages = format!("{checked} checked, {} behind", self.behind);
        if self.unchecked > 0 {
            packages += &format!(", {} not checked (registry lookup failed)", self.unchecked);
        }
        report.summary("packages", packages);
        report.findings = self.findings;
        report.set("packages", &self.packages);
        report.set("behind", self.behind);
        report.set("unchecked", self.unchecked);
        if self.behind > 0 {
            report.exit_override = exit_code;
        }
        report
    }
}

/// Why a registry lookup gave no versions.
#[derive(Debug, Clone)]
enum Missing {
    /// The registry answered that it has no such package (404, 410).
    NotFound(String),
    /// No usable answer: unreachable, an error status, offline without a cached answer, or
    /// an answer that cannot be read. The package is not checked.
    Failed(String),
}

impl Missing {
    /// Why `a` (an answer without a body) is not a document.
    fn of(a: &http::Response) -> Missing {
        let why = a
            .error
            .clone()
            .unwrap_or_else(|| format!("HTTP {}", a.status));
        match a.status {
            404 | 410 => Missing::NotFound(why),
            _ => Missing::Failed(why),
        }
    }

    /// The finding for package `name` of `registry` ("crates.io", "PyPI").
    fn finding(&self, name: &str, registry: &str) -> Finding {
        match self {
            Missing::NotFound(why) => Finding::new(
                codes::PACKAGE_NOT_FOUND,
                Severity::Medium,
                format!("{name}: not found on {registry} ({why})"),
            ),
            Missing::Failed(why) => Finding::new(
                codes::REGISTRY_UNREACHABLE,
                Severity::Medium,
                format!("{name}: {why}"),
            ),
        }
    }
}

/// One ecosystem's table: one row per package and version, with every place that names it
/// (`Dockerfile:1, Dockerfile:7`), so that an image used twice is listed once.
fn table(eco: Ecosystem, pkgs: &[Pkg]) -> Table {
    let mut t = Table::new(
        eco.title(),
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
    let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut rows: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for p in pkgs.iter().filter(|p| p.ecosystem == eco) {
        let at = match p.line {
            Some(l) => format!("{}:{l}", p.source),
            None => p.source.clone(),
        };
        let row = vec![
            p.name.clone(),
            o(&p.current),
            o(&p.compatible),
            o(&p.latest),
            p.kind.as_str().to_string(),
            p.notes.join("; "),
        ];
        match rows.iter_mut().find(|(r, _)| *r == row) {
            Some((_, places)) if !places.contains(&at) => places.push(at),
            Some(_) => {}
            None => rows.push((row, vec![at])),
        }
    }
    for (mut row, places) in rows {
        let notes = row.pop().unwrap_or_default();
        row.push(places.join(", "));
        row.push(notes);
        t.row(row);
    }
    t
}

/// What every phase needs: the context, the names not to report, and how to ask registries.
struct Scope<'a> {
    cx: &'a Context,
    ignore: BTreeSet<&'a str>,
    offline: bool,
    /// The HTTP cache, or a private scratch folder (removed at the end) when it cannot be
    /// written: the run goes on without a cache rather than losing its report.
    cache: HttpCache,
}

enum HttpCache {
    Shared(PathBuf),
    Scratch(PathBuf),
}

impl HttpCache {
    fn dir(&self) -> &Path {
        match self {
            HttpCache::Shared(p) | HttpCache::Scratch(p) => p,
        }
    }

    /// The configured cache when a file can be created in it, else a scratch folder (and a
    /// finding saying why).
    fn open(out: &mut Outdated) -> HttpCache {
        let dir = crate::context::http_cache();
        let probe = dir.join(format!("{}probe.{}", files::TMP_PREFIX, std::process::id()));
        let usable = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&probe, b""))
            .and_then(|()| std::fs::remove_file(&probe));
        match usable {
            Ok(()) => HttpCache::Shared(dir),
            Err(e) => {
                let scratch = std::env::temp_dir().join(format!(
                    "{}xtask-http.{}",
                    files::TMP_PREFIX,
                    std::process::id()
                ));
                out.push(Finding::new(
                    codes::HTTP_CACHE_UNUSABLE,
                    Severity::Medium,
                    format!(
                        "the HTTP cache {} cannot be written ({e}): answers are not cached this run; fix its permissions or set XTASK_HTTP_CACHE",
                        dir.display()
                    ),
                ));
                HttpCache::Scratch(scratch)
            }
        }
    }
}

impl Drop for HttpCache {
    fn drop(&mut self) {
        if let HttpCache::Scratch(p) = self {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

impl<'a> Scope<'a> {
    fn new(cx: &'a Context, offline: bool, out: &mut Outdated) -> Scope<'a> {
        let ignore = cx.config.outdated.ignore.iter().map(String::as_str);
        Scope {
            cx,
            ignore: ignore.collect(),
            offline,
            cache: HttpCache::open(out),
        }
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignore.contains(name)
    }

    /// The registry client: parallel, cached, with retries.
    fn client(&self) -> http::Client {
        let c = &self.cx.config.outdated;
        http::Client {
            cache_dir: self.cache.dir().to_path_buf(),
            offline: self.offline,
            parallel: c.parallel,
            timeout_secs: c.timeout_secs,
            retries: 3,
            max_age_secs: c.cache_max_age_secs,
            headers: Vec::new(),
        }
    }

    /// For optional enrichment (latest releases, end-of-life dates): no retries, so an
    /// unreachable service costs one attempt.
    fn enrich_client(&self) -> http::Client {
        http::Client {
            retries: 0,
            ..self.client()
        }
    }
}

/// The files of the tree that are not dependency inputs: Dockerfiles, compose files and
/// workflows (read once).
struct Tree {
    dockerfiles: Vec<PathBuf>,
    composes: Vec<PathBuf>,
    /// Workflows and composite actions under `.github/`, with their text.
    workflows: Vec<(PathBuf, String)>,
}

impl Tree {
    fn read(cx: &Context) -> Tree {
        let all_files = files_under(&cx.root, &cx.store().dir);
        let yaml = |n: &str| n.ends_with(".yml") || n.ends_with(".yaml");
        let github = cx.root.join(".github");
        let mut tree = Tree {
            dockerfiles: Vec::new(),
            composes: Vec::new(),
            workflows: Vec::new(),
        };
        for f in all_files {
            let n = name_of(&f);
            if n.starts_with("Dockerfile") || n.ends_with(".Dockerfile") {
                tree.dockerfiles.push(f.clone());
            }
            if (n.starts_with("docker-compose") || n.starts_with("compose")) && yaml(&n) {
                tree.composes.push(f.clone());
            }
            if f.starts_with(&github)
                && yaml(&n)
                && let Ok(text) = std::fs::read_to_string(&f)
            {
                tree.workflows.push((f, text));
            }
        }
        tree
    }
}

// --- the command ---------------------------------------------------------------------------

pub fn run(cx: &Context, opts: Options) -> Result<Report> {
    let exit_code = opts.exit_code;
    Ok(compute(cx, opts)?.report(exit_code))
}

/// What `outdated` finds, typed (for `metrics`, which presents it otherwise).
pub fn compute(cx: &Context, opts: Options) -> Result<Outdated> {
    let mut out = Outdated::default();
    let scope = Scope::new(cx, opts.offline, &mut out);
    let (locks, files) = inputs_under(cx, &opts.paths)?;
    let named_locks = if opts.paths.is_empty() {
        None
    } else {
        Some(locks.as_slice())
    };
    crates::check(&scope, opts.all, named_locks, &mut out)?;
    pypi::check(&scope, &files, &mut out)?;
    let tree = Tree::read(cx);
    let images = docker::images(&tree);
    let eols = eol::table(&scope, &images, &tree, &mut out)?;
    actions::check(&scope, &tree, &eols, &mut out)?;
    docker::check(&scope, images, &eols, &mut out);
    Ok(out)
}

/// Dependency inputs under the root (or the PATHs given): Cargo.lock files, and the others.
fn inputs_under(cx: &Context, paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let paths = if paths.is_empty() {
        vec![cx.root.clone()]
    } else {
        paths.iter().map(|p| cx.cli_path(p)).collect()
    };
    Ok(inputs::discover(&paths, &[cx.store().dir])?
        .into_iter()
        .partition(|f| f.file_name().is_some_and(|n| n == "Cargo.lock")))
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

/// Characters left as they are in a URL path segment: RFC 3986's unreserved ones.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` as one URL path segment: percent-encoded, so a name read from the tree can never add
/// a segment, a query or a fragment to a URL (`.` and `..` are encoded too: curl would
/// resolve them).
fn segment(s: &str) -> String {
    match s {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => percent_encoding::utf8_percent_encode(s, SEGMENT).to_string(),
    }
}

/// A YAML scalar written on one line: without its comment and quotes.
fn yaml_scalar(v: &str) -> &str {
    let v = v.find(" #").map_or(v, |i| &v[..i]);
    v.trim().trim_matches(['"', '\''])
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_are_encoded() {
        assert_eq!(segment("zope-interface_2.x~"), "zope-interface_2.x~");
        assert_eq!(segment("a/b?c#d e"), "a%2Fb%3Fc%23d%20e");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("ñ"), "%C3%B1");
    }
}
